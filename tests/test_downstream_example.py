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


# --------------------------------------------------------------------------- trade over five years

TRADE_EXAMPLE = ROOT / "docs" / "examples" / "trade_with_mexico.py"
LAREDO_EXAMPLE = ROOT / "docs" / "examples" / "laredo_hs_chapters.py"


def test_trade_example_uses_the_latest_complete_year_and_agrees_with_the_tables(release):
    ex = runpy.run_path(str(TRADE_EXAMPLE))
    coverage = schema.read_parquet(release / "data" / "trade_coverage.parquet")
    monthly = coverage[coverage["source_id"] == "bts_dot1_monthly"].set_index("year")
    table = ex["climate_mayors_trade_with_mexico"](release)
    year = int(table["year"].iloc[0])
    assert monthly.loc[year, "complete_year"] and monthly.loc[year, "months_present"] == 12
    assert year == max(y for y, ok in monthly["complete_year"].items() if ok)  # 2023 on the mirror: 2024 is partial
    flows = schema.read_parquet(release / "data" / "trade_flows.parquet")
    mex = flows[(flows["source_id"] == "bts_dot1_monthly") & (flows["partner_country_iso3"] == "MEX")
                & (flows["year"] == year)]
    for row in table.head(5).itertuples():
        city = mex[mex["city_id"] == row.city_id]
        assert row.exports_to_mexico_usd == int(city.loc[city["flow"] == "export", "value_usd"].sum())
        assert row.trade_with_mexico_usd == int(city["value_usd"].sum())
    assert table["trade_with_mexico_usd"].is_monotonic_decreasing

    trend = ex["top_ports_trend"](release)
    partial = trend[~trend["complete_year"].astype(bool)]
    assert set(partial["year"]) <= set(monthly.index[~monthly["complete_year"].astype(bool)])
    assert set(trend.loc[trend["year"].isin([2020, 2024]), "months_present"]) <= {9}


def test_laredo_example_lists_chapters_from_the_complete_year(release):
    top = runpy.run_path(str(LAREDO_EXAMPLE))["top_chapters"](release)
    c = schema.read_parquet(release / "data" / "trade_by_commodity.parquet")
    year = int(top["year"].iloc[0])
    exp = c[(c["source_id"] == "bts_dot3_monthly") & (c["geography_code"] == "2304") & (c["flow"] == "export")
            & (c["partner_country_iso3"] == "MEX") & (c["year"] == year)]
    want = exp.pivot_table(index="hs_chapter", values="value_usd", aggfunc="sum")["value_usd"].nlargest(len(top))
    assert list(top["hs_chapter"]) == list(want.index) and list(top["value_usd"]) == [int(v) for v in want]
    assert top["name"].notna().all()


@pytest.mark.parametrize("script", [TRADE_EXAMPLE, LAREDO_EXAMPLE])
def test_trade_examples_run_as_scripts(release, script):
    out = subprocess.run([sys.executable, str(script), str(release)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
