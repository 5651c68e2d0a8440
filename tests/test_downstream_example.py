"""The README's downstream example (docs/examples/climate_mayors_mexico.py), run on a real release.

The example's answer is checked against the same tables queried another way (set
arithmetic and a pivot) so a wrong join, a double count across sources or a missed
side of a partnership fails here. Skipped without RAW_MIRROR (needs a real build).
"""
from __future__ import annotations

import runpy
import subprocess
import sys

import pandas as pd
import pytest

from etl import publish, schema
from tests.conftest import ROOT, requires_mirror

pytestmark = requires_mirror

EXAMPLE = ROOT / "docs" / "examples" / "climate_mayors_mexico.py"
SOURCES = ("bts_dot1_201501", "bts_texas_ports")


@pytest.fixture(scope="module")
def release(real_build, tmp_path_factory):
    build_dir, _ = real_build
    return publish.publish(build_dir, tmp_path_factory.mktemp("published"))


@pytest.fixture(scope="module")
def example():
    return runpy.run_path(str(EXAMPLE))["climate_mayors_exports_to_mexico"]


def _tables(release):
    return {n: schema.read_parquet(release / "data" / f"{n}.parquet")
            for n in ("cities", "initiatives", "pledges", "trade_flows", "partnerships")}


@pytest.mark.parametrize("source_id", SOURCES)
def test_example_answer_agrees_with_the_tables(release, example, source_id):
    t = _tables(release)
    table = example(release, source_id)
    if source_id == "bts_dot1_201501":  # all US ports: Climate Mayors cities such as Houston export to Mexico
        assert len(table) > 0

    members = set(t["pledges"].merge(t["initiatives"], on="initiative_id")
                  .query("name == 'Climate Mayors'")["city_id"])
    assert set(table["city_id"]) <= members
    country = t["cities"].set_index("city_id")["country_iso3"]
    assert set(country[table["city_id"]]) <= {"USA"}

    flows = t["trade_flows"]
    mex = flows[(flows["source_id"] == source_id) & (flows["partner_country_iso3"] == "MEX")
                & (flows["flow"] == "export") & ~flows["partial_period"].astype(bool)]
    latest = mex["period_start"].max()
    assert set(table["period_start"]) <= {latest} and set(table["source_id"]) <= {source_id}
    by_city = mex[mex["period_start"] == latest].pivot_table(index="city_id", values="value_usd", aggfunc="sum")
    expected = by_city.loc[by_city.index.isin(members), "value_usd"].astype("float64")
    assert set(table["city_id"]) == set(expected.index)
    got = table.set_index("city_id")["exports_to_mexico_usd"].astype("float64")
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)
    assert table["exports_to_mexico_usd"].is_monotonic_decreasing

    cities_in_mexico = set(t["cities"].loc[t["cities"]["country_iso3"] == "MEX", "city_id"])
    pairs = set(zip(t["partnerships"]["city_a_id"], t["partnerships"]["city_b_id"]))
    for row in table.itertuples():
        has = any((a == row.city_id and b in cities_in_mexico) or (b == row.city_id and a in cities_in_mexico)
                  for a, b in pairs)
        assert row.has_mexican_sister_city == has, row.name
        assert pd.isna(row.mexican_sister_cities) != has, row.name


def test_example_runs_as_a_script(release):
    out = subprocess.run([sys.executable, str(EXAMPLE), str(release)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    header = out.stdout.splitlines()[0].split()
    assert header[:4] == ["name", "admin1", "exports_to_mexico_usd", "has_mexican_sister_city"]
