"""The README's best-attested partnerships example (docs/examples/best_attested_partnerships.py)
on a real release: checked against the partnerships table read another way (set arithmetic).
Skipped without RAW_MIRROR (needs a real build)."""
from __future__ import annotations

import runpy
import subprocess
import sys

import pytest

from etl import publish, schema
from tests.conftest import ROOT, requires_mirror

pytestmark = requires_mirror
EXAMPLE = ROOT / "docs" / "examples" / "best_attested_partnerships.py"


@pytest.fixture(scope="module")
def release(real_build, tmp_path_factory):
    build_dir, _ = real_build
    return publish.publish(build_dir, tmp_path_factory.mktemp("published"))


def test_paris_partners_best_attested_first(release):
    table = runpy.run_path(str(EXAMPLE))["best_attested"](str(release), "Paris", "FRA")
    p = schema.read_parquet(release / "data" / "partnerships.parquet")
    cities = schema.read_parquet(release / "data" / "cities.parquet")
    paris = cities[(cities["name"] == "Paris") & (cities["country_iso3"] == "FRA")]
    paris_id = paris.sort_values("population", ascending=False)["city_id"].iloc[0]
    assert paris_id == "gn2988507"  # GeoNames' Paris (the capital)
    pairs = {(a, b): n for a, b, n in zip(p["city_a_id"], p["city_b_id"], p["n_sources"])}
    expected = {b if a == paris_id else a: n for (a, b), n in pairs.items() if paris_id in (a, b)}
    assert dict(zip(table["city_id"], table["n_sources"])) == expected
    assert table["n_sources"].is_monotonic_decreasing
    assert (table["n_sources"] == 2).any()  # some of Paris' partners both sources attest
    both = table[table["n_sources"] == 2]
    assert (both["attested_by"] == "twin_cities;wikidata_twins_2017").all()


def test_example_runs_as_a_script(release):
    out = subprocess.run([sys.executable, str(EXAMPLE), str(release)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:5] == ["name", "country_iso3", "n_sources", "attested_by", "attestations"]
