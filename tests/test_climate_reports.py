"""The climate_reports step (CDP emissions + targets -> places -> resources) and its gate checks,
on the reader fixtures through the real resolver; then the issue's figures on the mirror."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from etl.quality import climate
from etl.sources import READERS, cdp_emissions, cdp_targets
from etl.steps import climate_reports as step
from etl.steps.places import build_places
from tests.conftest import requires_mirror

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_tables():
    return {step.EMISSIONS: cdp_emissions.read(sorted((FIXTURES / "cdp_city_emissions").glob("*.csv")), step.EMISSIONS),
            step.TARGETS: cdp_targets.read(sorted((FIXTURES / "cdp_city_targets").glob("*.csv")), step.TARGETS)}


def run(tables):
    places = build_places(step.mentions(tables))
    return step.build(tables, places.mention_city_ids), places


@pytest.fixture(scope="module")
def built():
    return run(fixture_tables())


def test_registered_and_in_the_build():
    from etl.build import fact_steps
    assert READERS[step.EMISSIONS] is cdp_emissions.read and READERS[step.TARGETS] is cdp_targets.read
    assert step in fact_steps()


def test_one_city_id_per_account_across_years_and_resources(built):
    out, places = built
    rows = pd.concat([out.resources["emissions"], out.resources["targets"]])
    assert (rows.groupby("cdp_account")["city_id"].nunique() == 1).all()
    la = rows.loc[rows["cdp_account"] == "10894", "city_id"].unique().tolist()
    assert la == ["gn5368361"]  # "City of Los Angeles" (2017) and "City of Los Angeles, CA" (2021)
    palmas = places.cities.set_index("city_id").loc[rows.loc[rows["cdp_account"] == "100", "city_id"].iloc[0]]
    assert (palmas["name"], palmas["country_iso3"]) == ("Palmas", "BRA")


def test_accounts_and_spellings_in_the_crosswalk(built):
    _, places = built
    xw = places.crosswalk
    acc = xw[xw["id_type"] == "cdp_account"]
    assert set(zip(acc["source_id"], acc["identifier"])) >= {(step.TARGETS, "10894"), (step.EMISSIONS, "100")}
    assert (acc.loc[acc["identifier"] == "10894", "city_id"] == "gn5368361").all()
    spellings = set(xw.loc[(xw["id_type"] == "source_spelling") & (xw["source_id"] == step.TARGETS), "identifier"])
    assert {"City of Los Angeles", "City of Los Angeles, CA"} <= spellings


def test_resources_keep_what_is_reported(built):
    out, _ = built
    e = out.resources["emissions"]
    palmas16 = e[(e["cdp_account"] == "100") & (e["reporting_year"] == 2016)].set_index("scope")
    assert palmas16.loc["total", "emissions_tco2e"] == 625391.59  # as reported, not scope 1 + 2
    assert set(palmas16["scope_variant"]) == {"not_split"}
    assert (palmas16["accounting_year"] == 2013).all()
    assert list(e.columns) == step.EMISSION_COLUMNS and list(out.resources["targets"].columns) == step.TARGET_COLUMNS
    t = out.resources["targets"]
    assert t.groupby(["cdp_account", "reporting_year"])["target_no"].apply(list).to_dict()[("10894", 2021)] == [1, 2]


def test_rows_accounted_per_file(built):
    out, _ = built
    files = out.report["emissions"]["source_rows_by_file"]
    assert files["2016_-_Citywide_GHG_Emissions.csv"] == {"kept": 1, "excluded": {"no emissions figure reported (inventory: not stated)": 1}}
    t = out.report["targets"]["source_rows_by_file"]
    assert sum(f["kept"] + sum(f["excluded"].values()) for f in t.values()) == 9


def test_a_reviewed_metro_area_is_its_own_place_not_the_city(monkeypatch, tmp_path):
    places = tmp_path / "cdp_places.csv"
    places.write_text("cdp_account,place_type,name,coordinates,reason\n"
                      "54408,metro,,,test: a metropolitan council\n"
                      "10894,,,ignore,test: wrong point\n", encoding="utf-8")
    monkeypatch.setattr(step, "PLACES", places)
    out, result = run(fixture_tables())
    t = out.resources["targets"]
    aarhus = t.loc[t["cdp_account"] == "54408", "city_id"].unique().tolist()
    assert len(aarhus) == 1 and aarhus[0].startswith("x-dnk-") and aarhus[0].endswith("-metro")
    assert result.cities.set_index("city_id").loc[aarhus[0], "place_type"] == "metro"
    assert out.report["reporters"]["accounts_by_place_type"]["metro"] == 1
    assert t.loc[t["cdp_account"] == "10894", "city_id"].unique().tolist() == ["gn5368361"]  # name + state suffice


def test_council_forms_are_read_as_the_place():
    names = pd.Series(["Semarang City Government", "Municipalidad  de Rosario", "Rajkot Municipal Corporation", "Government"])
    assert step.clean_name(names).tolist() == ["Semarang", "Rosario", "Rajkot", "Government"]


# --- gate checks --------------------------------------------------------------------------------

def test_gate_fails_an_account_with_two_places():
    rows = pd.DataFrame({"cdp_account": ["1", "1", "2"], "city_id": ["gn1", "gn2", "gn3"],
                         "source_file": "f", "source_row": ["1", "2", "3"]})
    r = climate.one_city_per_account(rows)
    assert r.is_error and r.rows == 1
    assert climate.one_city_per_account(rows[rows["city_id"] != "gn2"]).ok


def test_gate_reduction_limit_comes_from_the_type_vocabulary():
    t = pd.DataFrame({"cdp_account": ["1", "2"], "city_id": "gn1", "source_file": "f", "source_row": ["1", "2"],
                      "reporting_year": 2021, "target_type": ["absolute", "fixed_level"], "reduction_pct": [100.0, 101.0]})
    r = climate.reduction_within_type(t)
    assert r.is_error and r.rows == 1 and r.examples[0]["cdp_account"] == "2"


def _emissions(rows):
    return pd.DataFrame(rows, columns=["cdp_account", "reporting_year", "scope", "scope_variant", "emissions_tco2e", "population"]).assign(
        city_id="gn1", source_file="f", source_row="1")


def test_gate_reports_totals_that_disagree_with_their_scopes():
    em = _emissions([["1", 2016, "total", "not_split", 100.0, 10], ["1", 2016, "scope_1", "not_split", 60.0, 10],
                     ["1", 2016, "scope_2", "not_split", 40.0, 10],
                     ["2", 2016, "total", "not_split", 100.0, 10], ["2", 2016, "scope_1", "not_split", 50.0, 10],
                     ["2", 2016, "scope_2", "not_split", 20.0, 10]])
    r = climate.total_vs_scopes(em)
    assert r.is_warning and r.rows == 1 and r.examples[0]["cdp_account"] == "2"
    assert "1 agree" in r.message


def test_gate_warns_on_implausible_per_capita_rows():
    em = _emissions([["1", 2016, "total", "not_split", 5_000_000.0, 1_000_000], ["2", 2018, "basic_gpc", "not_split", 9e6, 3000]])
    r = climate.per_capita(em)
    assert r.is_warning and r.rows == 1 and r.examples[0]["tco2e_per_capita"] == 3000.0


# --- the mirror ---------------------------------------------------------------------------------

@requires_mirror
def test_mirror_done_when_figures(real_build):
    build_dir, report = real_build
    e = pd.read_parquet(build_dir / "data" / "emissions.parquet")
    t = pd.read_parquet(build_dir / "data" / "targets.parquet")
    nyc = e[e["cdp_account"] == "3417"]
    pick = lambda y, s: nyc[(nyc["reporting_year"] == y) & (nyc["scope"] == s)]["emissions_tco2e"].tolist()
    assert pick(2016, "total") == [49385508.0]
    assert nyc.loc[(nyc["reporting_year"] == 2021) & (nyc["scope"] == "scope_1") & (nyc["scope_variant"] == "excl_grid_generation"),
                   "emissions_tco2e"].tolist() == [38275608.0]
    assert nyc.loc[(nyc["reporting_year"] == 2021) & (nyc["scope"] == "scope_2") & (nyc["scope_variant"] == "grid_generation"),
                   "emissions_tco2e"].tolist() == [12417317.0]
    la = e[(e["cdp_account"] == "10894") & (e["reporting_year"] == 2017) & (e["scope"] == "total")]
    assert la["emissions_tco2e"].tolist() == [28922796.0] and la["city_id"].tolist() == ["gn5368361"]
    la21 = t[(t["cdp_account"] == "10894") & (t["reporting_year"] == 2021) & (t["target_year"] == 2035)]
    assert la21[["target_type", "base_year", "reduction_pct"]].values.tolist() == [["absolute", 1990, 73.0]]
    rows = pd.concat([e[["cdp_account", "city_id"]], t[["cdp_account", "city_id"]]])
    assert (rows.groupby("cdp_account")["city_id"].nunique() == 1).all()
    assert set(nyc["city_id"]) == {"gn5128581"}


@requires_mirror
def test_mirror_every_cdp_row_in_a_resource_or_excluded(real_build):
    build_dir, report = real_build
    steps = report["steps"]["climate_reports"]
    exclusions = pd.read_parquet(build_dir / "data" / "exclusions.parquet")
    for name, sid in (("emissions", step.EMISSIONS), ("targets", step.TARGETS)):
        files = steps[name]["source_rows_by_file"]
        kept = sum(f["kept"] for f in files.values())
        excluded = int((exclusions["source_id"] == sid).sum())
        assert kept + excluded == report["sources"][sid]["rows_read"]
        assert excluded == sum(sum(f["excluded"].values()) for f in files.values())


@requires_mirror
def test_mirror_reporters_resolution_share(real_build):
    baseline = json.loads((Path(__file__).parent / "places" / "cdp_reporters_baseline.json").read_text())
    got = real_build[1]["steps"]["climate_reports"]["reporters"]
    assert got["cities_resolved_pct"] >= baseline["cities_resolved_pct"] - 1.0
    assert set(got["accounts_by_place_type"]) <= {"city", "county", "district", "metro", "region", "not_a_city"}


@requires_mirror
def test_mirror_dictionary_carries_the_citation_and_the_warning(real_build):
    from etl import schema
    from etl.release import dictionary
    text = dictionary.render(schema.descriptor(), real_build[0] / "data")
    for name in ("emissions", "targets"):
        section = text.split(f"## `{name}`")[1].split("\n## ")[0]
        assert "This data was collected in partnership by CDP and ICLEI - Local Governments for Sustainability" in section
        assert "self-reported" in section and "boundaries differ" in section
