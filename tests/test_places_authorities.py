"""The place authorities beyond cities500 (readers, the authority table, the ladder, admin1 names).

Fixtures in ``tests/fixtures/authorities`` reproduce each quirk of the raw files (Latin-1,
tab-separated Census file with legal kinds in NAME; headerless GeoNames files) and the traps of
issue 17: Sweet Grass is in Alberta in cities500 but a port in Montana; Portal is in GA and ND; a
postal locality that is a district of Los Angeles has a namesake in Texas; GeoNames JP.37 is ISO
JP-22. The mirror tests check the real files on the port hamlets."""
from __future__ import annotations

import pandas as pd
import pytest

from etl.places import ladder
from etl.places.authorities import build_table
from etl.places.resolver import resolve
from etl.places.subdivisions import iso_codes
from etl.sources import AUTHORITY_READERS
from tests.conftest import FIXTURES, requires_mirror

F = FIXTURES / "authorities"
FILES = {"census_places_2010": "Gaz_places_national.csv", "geonames_admin1": "admin1CodesASCII.txt",
         "geonames_admin2": "admin2Codes.txt", "geonames_country_dumps": ["NL.txt", "DK.txt"],
         "geonames_postal": ["US.txt", "ES.txt"]}


def _read(sid):
    names = FILES[sid]
    path = [F / n for n in names] if isinstance(names, list) else F / names
    return AUTHORITY_READERS[sid](path, sid)


@pytest.fixture(scope="module")
def table():
    return build_table({sid: _read(sid).data for sid in FILES})


def _resolve(table, rows):
    keys = pd.DataFrame(rows)
    return ladder.extend(keys, resolve(keys), table=table)


def test_census_reader_latin1_tabs_and_legal_kinds():
    t = _read("census_places_2010").data
    assert t["name"].tolist()[:5] == ["La Cañada Flintridge", "Portal", "Sweet Grass", "Antler", "Portal"]
    assert t["kind"].tolist() == ["city", "town", "CDP", "city", "city", "metropolitan government (balance)"]
    assert t["name"].iloc[5] == "Nashville-Davidson"
    assert t["geoid"].iloc[0] == "0639003"  # leading zero kept
    assert t["source_row"].tolist() == [1, 2, 3, 4, 5, 6]


def test_division_reader_splits_codes():
    t = _read("geonames_admin2").data
    row = t[t["name"] == "Lørenskog"].iloc[0]
    assert (row["country"], row["admin1"], row["admin2"], row["geonames_id"]) == ("NO", "01", "0230", 3146936)


def test_dump_reader_keeps_places_not_localities():
    t = _read("geonames_country_dumps").data
    assert set(t["name"]) == {"Linden", "Gladsaxe"}  # "Drijberse Veld" (class L) is no place
    assert set(t["source_file"]) == {"NL.txt", "DK.txt"}


def test_postal_rows_of_one_village_are_one_locality_and_namesakes_far_apart_stay_two(table):
    pc = table[table["authority"].eq("postal")]
    assert pc[pc["key"] == "twinforks"]["city_id"].tolist() == ["pc-us-58001-twin-forks"]
    assert len(pc[pc["key"] == "panoramaheights"]) == 2


def test_spanish_postal_names_with_the_article_last_match_in_reading_order(table):
    """ES postal writes "Omellons, Els" and "Albiol, L'"; pledge lists write "Els Omellons", "L'Albiol"."""
    pc = table[table["authority"].eq("postal") & table["cc"].eq("ES")]
    assert set(pc.groupby("city_id")["key"].nunique()) == {1, 2}       # "Nulles" has one key, the others two
    r = _resolve(table, [{"name": "Els Omellons", "country": "Spain", "latitude": 41.5, "longitude": 0.97},
                         {"name": "L'Albiol", "country": "Spain"}, {"name": "Omellons", "country": "Spain"}])
    assert r["city_id"].tolist()[:2] == ["pc-es-25412-omellons-els", "pc-es-43479-albiol-l"]
    assert r["method"].tolist()[:2] == ["authority_postal_coords", "authority_postal"]
    assert r["status"].iat[2] == "unresolved"  # the article is part of the name: "Omellons" alone is not listed


def test_sweet_grass_port_in_montana_is_the_census_place_not_alberta(table):
    r = _resolve(table, [{"name": "Sweetgrass", "country": "USA", "admin1": "MT", "place_type": "port"}])
    assert r["city_id"].iloc[0] == "cb3073075"
    assert r["authority"].iloc[0] == "census_place" and r["census_geoid"].iloc[0] == "3073075"


def test_portal_nd_is_not_portal_ga_and_far_namesakes_stay_ambiguous(table):
    r = _resolve(table, [{"name": "Portal", "country": "USA", "admin1": "ND", "place_type": "port"},
                         {"name": "Panorama Heights", "country": "USA"},
                         {"name": "Panorama Heights", "country": "USA", "admin1": "TX"}])
    assert r["city_id"].iloc[0] == "cb3863740"
    assert r["status"].iloc[1] == "ambiguous" and r["reason"].iloc[1] == "authority_ambiguous"
    assert r["city_id"].iloc[1].startswith("x-usa-")  # keeps its provisional id
    assert r["city_id"].iloc[2] == "pc-us-79001-panorama-heights"


def test_hamlets_without_census_place_get_their_postal_locality(table):
    r = _resolve(table, [{"name": "Sasabe", "country": "USA", "admin1": "AZ", "place_type": "port"},
                         {"name": "Lukeville", "country": "USA", "admin1": "AZ", "place_type": "port"}])
    assert r["city_id"].tolist() == ["pc-us-85633-sasabe", "pc-us-85341-lukeville"]
    assert r["method"].tolist() == ["authority_postal", "authority_postal"]


def test_divisions_and_dumps(table):
    r = _resolve(table, [{"name": "Lørenskog", "country": "Norway"}, {"name": "Keçiören", "country": "Turkey"},
                         {"name": "Gladsaxe Kommune", "country": "Denmark"}])
    assert r["city_id"].tolist() == ["gn3146936", "gn7733221", "gn2621394"]
    assert r["geonames_id"].tolist() == [3146936, 7733221, 2621394]


def test_a_district_resolves_near_its_parent_not_to_a_namesake(table):
    r = _resolve(table, [{"name": "Panorama Heights (Los Angeles)", "country": "USA"}])
    assert r["city_id"].iloc[0] == "pc-us-91402-panorama-heights"
    assert r["parent_geonames_id"].iloc[0] == 5368361
    assert r["method"].iloc[0] == "authority_postal_parent"


def test_a_division_of_another_region_is_not_the_district_of_a_parent(table):
    r = _resolve(table, [{"name": "Chaoyang (Beijing)", "country": "China"}])
    assert r["city_id"].iloc[0] != "gn2038101"  # Chaoyang Shi is in Liaoning, not Beijing


def test_coordinates_decide_and_limit(table):
    r = _resolve(table, [{"name": "Panorama Heights", "country": "USA", "latitude": 35.21, "longitude": -101.81},
                         {"name": "Panorama Heights", "country": "USA", "latitude": 40.0, "longitude": -90.0}])
    assert r["city_id"].iloc[0] == "pc-us-79001-panorama-heights"
    assert r["method"].iloc[0] == "authority_postal_coords"
    assert r["status"].iloc[1] == "unresolved"


def test_iso_codes_only_where_names_agree():
    a1 = pd.DataFrame({"cc": ["JP", "JP", "US", "DK"], "admin1": ["37", "17", "CA", "17"],
                       "admin1_name": ["Shizuoka", "Kagawa", "California", "Capital Region"]})
    got = iso_codes(a1)["admin1_code"].tolist()
    assert got[:3] == ["JP-22", "JP-37", "US-CA"]  # never JP-37 for Shizuoka by its GeoNames digits
    assert pd.isna(got[3])  # "Capital Region" vs ISO "Hovedstaden": no agreement, no code


def test_word_extension_accepts_articles_only():
    assert ladder._word_extension("La Villa de Garafia", "Garafia")
    assert ladder._word_extension("Villava/Atarrabia", "Villava")
    assert not ladder._word_extension("Celles", "Pont-À-Celles")


@requires_mirror
def test_port_hamlets_resolve_to_us_places_on_the_mirror(mirror):
    from etl.fetch import mirror_paths
    paths = mirror_paths(mirror)
    real = build_table({sid: AUTHORITY_READERS[sid](paths[sid], sid).data for sid in FILES})
    r = _resolve(real, [{"name": n, "country": "USA", "admin1": s, "place_type": "port"} for n, s in
                        [("Sweetgrass", "MT"), ("Portal", "ND"), ("Antler", "ND"), ("Sasabe", "AZ"), ("Lukeville", "AZ")]])
    assert r["city_id"].tolist() == ["cb3073075", "cb3863740", "cb3802660", "pc-us-85633-sasabe",
                                     "pc-us-85341-lukeville"]
    assert set(real["authority"]) == {"geonames_dump", "geonames_admin2", "geonames_admin1", "census_place", "postal"}
