"""The README's CDP example (docs/examples/climate_mayors_reports.py) on the real build, checked
against the tables read another way. Skipped without RAW_MIRROR (needs a real build)."""
from __future__ import annotations

import runpy
import subprocess
import sys

import pandas as pd

from tests.conftest import ROOT, requires_mirror

pytestmark = requires_mirror
EXAMPLE = ROOT / "docs" / "examples" / "climate_mayors_reports.py"


def test_rows_are_us_climate_mayors_with_their_latest_figures(real_build):
    build_dir, _ = real_build
    table = runpy.run_path(str(EXAMPLE))["climate_mayors_reports"](str(build_dir))
    d = build_dir / "data"
    pledges = pd.read_parquet(d / "pledges.parquet")
    mayors = set(pledges.loc[(pledges["initiative_id"] == "climate_mayors") & (pledges["as_of"] == pledges["as_of"].max()), "city_id"])
    assert set(table["city_id"]) <= mayors and (table["country_iso3"] == "USA").all()
    assert table["city_id"].is_unique and len(table) > 20
    e = pd.read_parquet(d / "emissions.parquet")
    la = table.set_index("city_id").loc["gn5368361"]
    la_totals = e[(e["city_id"] == "gn5368361") & e["scope"].astype(str).isin(["total", "basic_gpc"])]
    assert la["emissions_reported"] == la_totals["reporting_year"].max()
    assert la["emissions_tco2e"] in set(la_totals.loc[la_totals["reporting_year"] == la["emissions_reported"], "emissions_tco2e"])
    t = pd.read_parquet(d / "targets.parquet")
    la_t = t[(t["city_id"] == "gn5368361") & (t["reporting_year"] == t.loc[t["city_id"] == "gn5368361", "reporting_year"].max())]
    assert (la["target_reported"], la["target_year"]) == (la_t["reporting_year"].max(), la_t["target_year"].max())


def test_example_runs_as_a_script(real_build):
    out = subprocess.run([sys.executable, str(EXAMPLE), str(real_build[0])], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:3] == ["city_id", "name", "admin1"]
    assert "US Climate Mayors cities report emissions or a target" in out.stdout
