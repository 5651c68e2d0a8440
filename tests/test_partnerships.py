"""Partnerships step: pairs formed on resolved places, provenance kept, nothing dropped silently."""
from __future__ import annotations

import re

import pandas as pd
import pytest

from etl import schema
from etl.fetch import file_name, source_entry
from etl.sources import twin_cities
from etl.sources.base import SourceTable
from etl.steps import partnerships as step
from tests.conftest import FIXTURES, requires_mirror

SAMPLE = FIXTURES / "partnerships" / "twin_cities_sample.csv"

# A fake gazetteer for the sample: names that must end up as one place share an id.
FAKE_IDS = {
    "Los Angeles": "gn5368361", "Guangzhou": "gn1809858", "Mexico City": "gn3530597",
    "Beijing": "gn1816670", "Washington D.C.": "gn4140963", "Washington, D.C.": "gn4140963",
    "Puerto Vallarta": "gn3991328", "Frýdlant": "gn3077539", "Friedland": "gn2924856",
    "Aachen": "gn3247449", "Halifax": "gn2647632", "Rostock": "gn2844588", "Varna": "gn726050",
    "Naumburg": "gn2866758", "Naumburg (Saale)": "gn2866758", "Berat": "gn3344947",
}
ROW_PATTERN = re.compile(next(f for f in schema.resource(step.RESOURCE)["schema"]["fields"]
                              if f["name"] == "source_row")["constraints"]["pattern"])


def fake_resolved(mentions: pd.DataFrame) -> pd.DataFrame:
    """The RESOLVED frame the build would pass: names not in FAKE_IDS get a provisional id."""
    slug = mentions["name"].str.lower().str.replace(r"[^a-z0-9]+", "-", regex=True).str.strip("-")
    city_id = mentions["name"].map(FAKE_IDS).fillna("x-test-" + slug).astype("string")
    return pd.DataFrame({
        "source_id": mentions["source_id"], "source_row": mentions["source_row"], "role": mentions["role"],
        "city_id": city_id, "status": city_id.str.startswith("gn").map({True: "resolved", False: "unresolved"}),
        "method": "fake", "score": 1.0,
    })


@pytest.fixture(scope="module")
def sample_table():
    return twin_cities.read(SAMPLE, "twin_cities")


@pytest.fixture(scope="module")
def sample_output(sample_table):
    tables = {"twin_cities": sample_table}
    return step.build(tables, fake_resolved(step.mentions(tables)))


def pair(frame: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    a, b = sorted([x, y])
    return frame[(frame["city_a_id"] == a) & (frame["city_b_id"] == b)]


def listed_rows(frame: pd.DataFrame) -> list[int]:
    return [int(r) for s in frame["source_row"] for r in s.split(";")]


def test_mentions_two_per_row_with_region_as_admin1(sample_table):
    m = step.mentions({"twin_cities": sample_table})
    assert len(m) == 2 * len(sample_table.data)
    assert not m.duplicated(["source_id", "source_row", "role"]).any()
    assert set(m["role"]) == {"city1", "city2"}
    assert (m["place_type"] == "city").all()
    halifax = m[(m["source_row"] == 9) & (m["role"] == "city2")].iloc[0]
    # The region stays in the country field too: the resolver needs "French Guiana, France" whole.
    assert (halifax["name"], halifax["country"], halifax["admin1"]) == ("Halifax", "England, United Kingdom", "England")
    kourou = m[(m["source_row"] == 18) & (m["role"] == "city2")].iloc[0]
    assert (kourou["country"], kourou["admin1"]) == ("French Guiana, France", "French Guiana")
    england = m[(m["source_row"] == 10) & (m["role"] == "city1")].iloc[0]
    assert england["country"] == "England" and pd.isna(england["admin1"])
    encino = m[(m["source_row"] == 6) & (m["role"] == "city2")].iloc[0]
    assert encino["name"] == encino["raw_name"] == "Encino (Los Angeles)"
    varna = m[(m["source_row"] == 11) & (m["role"] == "city2")].iloc[0]
    assert (varna["raw_name"], varna["name"], varna["country"]) == ("Varna, Bulgaria", "Varna", "Bulgaria")


def test_pair_listed_from_both_sides_is_one_row(sample_output):
    p = sample_output.resources["partnerships"]
    la_gz = pair(p, "gn5368361", "gn1809858")
    assert len(la_gz) == 1
    row = la_gz.iloc[0]
    assert (row["attestations"], bool(row["both_sides"]), row["source_row"]) == (2, True, "1;4")
    # Differently spelled sides merge once resolved to the same place.
    beijing_dc = pair(p, "gn1816670", "gn4140963").iloc[0]
    assert (beijing_dc["attestations"], bool(beijing_dc["both_sides"]), beijing_dc["source_row"]) == (2, True, "3;5")


def test_repeat_from_one_side_is_not_both_sides(sample_output):
    p = sample_output.resources["partnerships"]
    row = pair(p, "gn3077539", "gn2924856").iloc[0]
    assert (row["attestations"], bool(row["both_sides"]), row["source_row"]) == (2, False, "7;8")
    single = pair(p, "gn5368361", "gn3530597").iloc[0]
    assert (single["attestations"], bool(single["both_sides"])) == (1, False)


def test_unresolved_side_kept_with_provisional_id(sample_output):
    p = sample_output.resources["partnerships"]
    row = pair(p, "gn3991328", "x-test-encino-los-angeles")
    assert len(row) == 1 and row.iloc[0]["resolved_sides"] == 1
    assert set(p["resolved_sides"]) <= {0, 1, 2}
    assert (p["resolved_sides"] == p["city_a_id"].str.startswith("gn").astype(int)
            + p["city_b_id"].str.startswith("gn").astype(int)).all()


def test_same_place_after_resolution_is_excluded(sample_output):
    ex = sample_output.exclusions
    assert list(ex["source_row"]) == [16] and list(ex["reason"]) == [step.SAME_PLACE_REASON]
    assert '"city2": "Naumburg (Saale)"' in ex["raw_values"].iloc[0]
    assert 16 not in listed_rows(sample_output.resources["partnerships"])


def test_every_sample_row_once_and_schema_fits(sample_table, sample_output):
    p = sample_output.resources["partnerships"]
    rows = listed_rows(p) + list(sample_output.exclusions["source_row"]) + list(sample_table.exclusions["source_row"])
    assert sorted(rows) == list(range(1, sample_table.rows_read + 1))
    assert p["attestations"].sum() == len(listed_rows(p))
    assert (p["city_a_id"] < p["city_b_id"]).all()
    assert not p.duplicated(["city_a_id", "city_b_id"]).any()
    assert (p["kind"] == "unknown").all() and (p["source_id"] == "twin_cities").all()
    assert p["source_row"].map(lambda s: bool(ROW_PATTERN.fullmatch(s))).all()
    for s in p["source_row"]:
        nums = [int(x) for x in s.split(";")]
        assert nums == sorted(nums)
    schema.to_arrow("partnerships", p)  # exact columns and types of datapackage.json


def test_report_counts(sample_table, sample_output):
    r = sample_output.report
    assert r["rows_read"] == sample_table.rows_read == 18
    assert r["pairs"] == len(sample_output.resources["partnerships"])
    assert r["pairs_listed_from_both_sides"] == 4  # LA-Guangzhou, Beijing-Washington, Aachen-Halifax, Aachen-Naumburg
    assert r["rows_in_partnerships"] + sum(r["exclusions_by_reason"].values()) == r["rows_read"]
    assert r["exclusions_by_reason"][step.SAME_PLACE_REASON] == 1


def test_missing_source_gives_empty_resource():
    assert step.mentions({}).empty
    out = step.build({}, fake_resolved(step.mentions({})))
    assert out.resources["partnerships"].empty and out.exclusions.empty
    schema.to_arrow("partnerships", out.resources["partnerships"])


def test_build_refuses_a_row_without_resolution(sample_table):
    tables = {"twin_cities": sample_table}
    resolved = fake_resolved(step.mentions(tables))
    resolved = resolved[~((resolved["source_row"] == 2) & (resolved["role"] == "city2"))]
    with pytest.raises(step.SourceError, match="row 2"):
        step.build(tables, resolved)


def test_repeated_rows_give_the_same_pairs_listing_both_copies(sample_table, sample_output):
    """The list twice (as the scale benchmark repeats rows): same pairs, twice the attestations."""
    n = sample_table.rows_read
    data = pd.concat([sample_table.data, sample_table.data.assign(source_row=sample_table.data["source_row"] + n)],
                     ignore_index=True)
    tables = {"twin_cities": SourceTable("twin_cities", 2 * n, data, sample_table.exclusions)}
    m = step.mentions(tables)
    assert isinstance(m["name"].dtype, pd.CategoricalDtype)
    assert len(m["name"].cat.categories) == step.mentions({"twin_cities": sample_table})["name"].nunique()
    p, p2 = sample_output.resources["partnerships"], step.build(tables, fake_resolved(m)).resources["partnerships"]
    pd.testing.assert_frame_equal(p[["city_a_id", "city_b_id", "both_sides", "resolved_sides"]],
                                  p2[["city_a_id", "city_b_id", "both_sides", "resolved_sides"]])
    assert (p2["attestations"] == 2 * p["attestations"]).all()
    assert [listed_rows(p2.iloc[[i]]) for i in range(len(p2))] == [
        sorted(rows + [r + n for r in rows]) for rows in (listed_rows(p.iloc[[i]]) for i in range(len(p)))]


def test_degree_tables():
    p = pd.DataFrame({"city_a_id": ["gn1", "gn1", "gn2", "gn3"], "city_b_id": ["gn2", "gn3", "gn3", "x-deu-y"],
                      "both_sides": [True, False, False, False]})
    cities = pd.DataFrame({"city_id": ["gn1", "gn2", "gn3", "x-deu-y"], "name": ["LA", "Mexico City", "Berlin", "Y"],
                           "country_iso3": ["USA", "MEX", "DEU", "DEU"]})
    per_city, per_country = step.degree_tables(p, cities)
    assert per_city.set_index("city_id")["partnerships"].to_dict() == {"gn1": 2, "gn2": 2, "gn3": 3, "x-deu-y": 1}
    assert per_city.iloc[0]["city_id"] == "gn3"
    assert per_city.set_index("city_id").loc["gn1", "listed_from_both_sides"] == 1
    got = {(a, b): n for a, b, n in per_country.itertuples(index=False)}
    assert got == {("MEX", "USA"): 1, ("DEU", "USA"): 1, ("DEU", "MEX"): 1, ("DEU", "DEU"): 1}
    assert per_country["partnerships"].sum() == len(p)


# --- the real mirror -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real(mirror):
    """The real twin-city list through the real place resolver."""
    from etl.sources import READERS
    from etl.steps.places import build_places

    path = mirror / file_name(source_entry("twin_cities"))
    tables = {"twin_cities": READERS["twin_cities"](path, "twin_cities")}
    m = step.mentions(tables)
    places = build_places(m, country_dict_path=mirror / file_name(source_entry("climactor_country_dict")))
    resolved = places.mention_city_ids  # aligned with the mentions: source_id, source_row, role, city_id, ...
    return tables, step.build(tables, resolved), places


@requires_mirror
def test_real_every_row_in_one_pair_or_excluded(real):
    tables, out, _ = real
    p = out.resources["partnerships"]
    ex = pd.concat([tables["twin_cities"].exclusions, out.exclusions])
    assert tables["twin_cities"].rows_read == 26_114
    assert p["attestations"].sum() + len(ex) == 26_114
    rows = listed_rows(p) + list(ex["source_row"])
    assert sorted(rows) == list(range(1, 26_115))
    assert not p.duplicated(["city_a_id", "city_b_id"]).any() and (p["city_a_id"] < p["city_b_id"]).all()
    schema.to_arrow("partnerships", p)


@requires_mirror
@pytest.mark.parametrize("other", ["gn3530597", "gn1809858", "gn1838524"])  # Mexico City, Guangzhou, Busan
def test_real_los_angeles_pairs_once(real, other):
    _, out, _ = real
    assert len(pair(out.resources["partnerships"], "gn5368361", other)) == 1


@requires_mirror
def test_real_both_sided_pairs_have_rows_from_both_pages(real):
    tables, out, _ = real
    p = out.resources["partnerships"]
    both = p[p["both_sides"]]
    assert len(both) > 0 and (both["attestations"] >= 2).all()
    assert p.loc[p["attestations"] == 1, "both_sides"].eq(False).all()


@requires_mirror
def test_real_sides_are_cities_and_degrees_add_up(real):
    _, out, places = real
    p = out.resources["partnerships"]
    assert set(p["city_a_id"]).union(p["city_b_id"]) <= set(places.cities["city_id"])
    per_city, per_country = step.degree_tables(p, places.cities)
    assert per_city["partnerships"].sum() == 2 * len(p) and per_country["partnerships"].sum() == len(p)
    assert per_city.set_index("city_id").loc["gn5368361", "partnerships"] >= 3
    mex_usa = per_country[(per_country["country_a_iso3"] == "MEX") & (per_country["country_b_iso3"] == "USA")]
    assert len(mex_usa) == 1 and mex_usa["partnerships"].iloc[0] > 0


# ---- a list pair that Wikidata states too takes Wikidata's points ------------------------------------
def test_list_pair_stated_by_wikidata_takes_its_points_and_resolves_the_namesake(tmp_path):
    from etl.places.resolver import resolve
    from etl.sources import wikidata_twins
    (tmp_path / "twins.csv").write_text(
        "city1,country1,city2,country2\n"
        "Dresden,Germany,Columbus,United States\n"      # Wikidata: Columbus, Ohio
        "Dresden,Germany,Springfield,United States\n"   # Wikidata: two different Springfields -> no point
        "Columbus,United States,Hamburg,Germany\n",     # not in Wikidata: stays without a point
        encoding="utf-8")
    head = ("origincityLabel\torigincountry\toriginlat\toriginlong\toriginpopulation\tsistercityLabel\t"
            "destinationlat\tdestinationlong\tdestinationpopulation\tdestination_countryLabel\tdist\teu\n")
    (tmp_path / "germany.tsv").write_text(
        head + "Dresden\tGermany\t51.05\t13.74\t543825\tColumbus\t39.9612\t-82.9988\t879170\tUnited States of America\t6900\tEU\n"
        "Dresden\tGermany\t51.05\t13.74\t543825\tSpringfield\t39.80\t-89.64\t116250\tUnited States of America\t7500\tEU\n"
        "Dresden\tGermany\t51.05\t13.74\t543825\tSpringfield\t42.10\t-72.59\t153606\tUnited States of America\t6200\tEU\n",
        encoding="utf-8")
    tables = {"twin_cities": twin_cities.read(tmp_path / "twins.csv", "twin_cities"),
              "wikidata_twins_2017": wikidata_twins.read([tmp_path / "germany.tsv"], "wikidata_twins_2017")}
    m = step.mentions(tables)
    twin = m[m["source_id"] == "twin_cities"].reset_index(drop=True)
    pts = twin[["latitude", "longitude"]].astype(float)
    assert pts.iloc[1].tolist() == pytest.approx([39.96, -83.0])   # Columbus, as Wikidata places it
    assert pts.iloc[0].tolist() == pytest.approx([51.05, 13.74])   # Dresden too
    assert pts.iloc[2:].isna().all().all()                         # the Springfields disagree: no point
    assert pts.iloc[4:].isna().all().all()                         # a pair Wikidata does not state
    r = resolve(twin)
    assert r["geonames_id"].iat[1] == 4509177 and r["method"].iat[1].endswith("_coords")  # Columbus, Ohio
    assert r["status"].iat[4] == "ambiguous"                       # the bare "Columbus, United States"
