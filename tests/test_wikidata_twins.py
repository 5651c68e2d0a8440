"""The Wikidata P190 (2017) reader on a hand-written fixture of its quirks."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from etl.sources import READERS, wikidata_twins
from tests.conftest import FIXTURES

SID = "wikidata_twins_2017"
FILES = sorted((FIXTURES / "wikidata_twins").glob("*.tsv"))


@pytest.fixture(scope="module")
def table():
    return wikidata_twins.read(FILES, SID)


def test_registered():
    assert READERS[SID] is wikidata_twins.read


def test_every_row_kept_or_excluded(table):
    assert table.rows_read == 10
    assert len(table.data) + len(table.exclusions) == 10
    keys = set(zip(table.data["source_file"], table.data["source_row"])) | \
        set(zip(table.exclusions["source_file"], table.exclusions["source_row"]))
    assert keys == ({("austria.tsv", r) for r in range(1, 6)} | {("italy.tsv", 1), ("italy.tsv", 2)}
                    | {("germany.tsv", 1), ("germany.tsv", 2), ("denmark.tsv", 1)})


def test_origin_country_comes_from_the_vocabulary_not_the_label(table):
    row = table.data[table.data["source_file"] == "denmark.tsv"].iloc[0]
    assert row["origin_country"] == "Denmark"  # the raw label, kept as given
    assert (row["origin_iso3"], row["partner_iso3"]) == ("SWE", "DNK")
    assert table.notes["origin_country_label_overridden"] == {"denmark.tsv": 1}


def test_vocabulary_names_every_file_of_the_source():
    from etl.fetch import source_entry
    assert set(wikidata_twins.file_countries()) == {f["name"] for f in source_entry(SID)["files"]}


def test_a_file_of_another_country_fails_naming_the_file(tmp_path):
    from etl.sources.base import SourceError
    swapped = tmp_path / "italy.tsv"  # Austrian origins under Italy's file name
    swapped.write_bytes((FIXTURES / "wikidata_twins" / "austria.tsv").read_bytes())
    with pytest.raises(SourceError, match=r"italy\.tsv: only 0\.0% of its origins lie in IT, .*most others in AT"):
        wikidata_twins.read([swapped], SID)


def test_namesakes_far_apart_are_pairs_not_self_pairs(table):
    felsberg = table.data[table.data["source_file"] == "germany.tsv"]
    assert list(felsberg["partner_name"]) == ["Felsberg", "Felsberg"]
    assert table.notes["namesake_pairs_kept"] == 2


def test_qualifier_is_admin_hint_not_name(table):
    row = table.data[(table.data["source_file"] == "austria.tsv") & (table.data["source_row"] == 1)].iloc[0]
    assert row["partner_name"] == "Porcia" and row["partner_admin"] == "Friuli-Venezia Giulia"
    assert row["partner_iso3"] == "ITA" and row["origin_iso3"] == "AUT"
    assert row["partner_lat"] == pytest.approx(45.966667)


def test_blank_population_is_missing(table):
    row = table.data[(table.data["source_file"] == "austria.tsv") & (table.data["source_row"] == 1)].iloc[0]
    assert row["origin_population"] == 15505
    assert row["partner_population"] is None or str(row["partner_population"]) == "<NA>"


def test_exclusion_reasons(table):
    reasons = dict(zip(table.exclusions["source_row"].astype(int), table.exclusions["reason"]))
    assert set(table.exclusions["source_file"]) == {"austria.tsv"}
    assert "bare Wikidata QID" in reasons[2] and "Q12875763" in reasons[2]
    assert reasons[3] == "self-pair"
    assert "maps to no ISO3" in reasons[4] and "Nowhereland" in reasons[4]


def test_pairs_from_both_sides_not_deduplicated(table):
    both = table.data[table.data["partner_name"].isin(["Porcia", "Spittal an der Drau"])]
    assert len(both) == 2


def test_reader_contract(table):
    from tests.test_sources import check_contract
    check_contract(table, SID)


# --- the real mirror: both partnership sources through the real resolver -----------------------

@pytest.fixture(scope="module")
def real(mirror):
    from etl.fetch import file_name, source_entry
    from etl.steps import partnerships as step
    from etl.steps.places import build_places

    tables = {sid: READERS[sid](_paths(sid, mirror), sid)
              for sid in ("twin_cities", SID)}
    places = build_places(step.mentions(tables),
                          country_dict_path=mirror / file_name(source_entry("climactor_country_dict")))
    return tables, step.build(tables, places.mention_city_ids), places


def _paths(sid, mirror):
    from etl.fetch import file_name, is_file_set, source_entry
    entry = source_entry(sid)
    return [mirror / f["name"] for f in entry["files"]] if is_file_set(entry) else mirror / file_name(entry)


@pytest.mark.usefixtures("mirror")
def test_real_every_wikidata_row_attested_or_excluded(real):
    tables, out, _ = real
    t = tables[SID]
    assert t.rows_read == 24926  # SOURCES.md: 24,926 rows over the 25 files
    rows = out.resources["partnerships"]["attestation_rows"].str.split(";").explode()
    wiki = rows[rows.str.startswith(SID + ":")].str.removeprefix(SID + ":")
    excluded = pd.concat([t.exclusions, out.exclusions[out.exclusions["source_id"] == SID]])
    ex = excluded["source_file"] + ":" + excluded["source_row"].astype(str)
    assert len(wiki) + len(ex) == t.rows_read
    assert len(t.exclusions) == 18  # 11 partner countries that map to none, 7 bare-QID labels; no self-pair
    assert set(wiki).isdisjoint(set(ex)) and not wiki.duplicated().any()
    n_sources = out.resources["partnerships"]["n_sources"]
    assert (n_sources == out.resources["partnerships"]["attested_by"].str.count(";") + 1).all()
    assert (n_sources == 2).sum() > 1000  # the two sources agree on thousands of pairs


@pytest.mark.usefixtures("mirror")
def test_real_no_wikidata_pair_joins_a_place_too_far_from_its_row(real):
    import numpy as np
    from etl.places.distance import LIMIT_KM, haversine_km
    from etl.steps import partnerships as step

    tables, out, places = real
    data = step.wikidata_rows(tables[SID].data)
    ids = places.mention_city_ids
    ids = ids[ids["source_id"] == SID].set_index(["source_row", "role"])["city_id"].astype(str)
    cities = places.cities.set_index("city_id")
    pairs = out.resources["partnerships"]
    keys = set(zip(pairs["city_a_id"], pairs["city_b_id"]))
    checked = split = 0
    for side in ("origin", "partner"):  # GeoNames cities and provisional ones (their first point) alike
        cid = ids.reindex(list(zip(data["seq"], [side] * len(data)))).to_numpy()
        lat, lon = cities["latitude"].reindex(cid).to_numpy(), cities["longitude"].reindex(cid).to_numpy()
        km = haversine_km(data[f"{side}_lat"], data[f"{side}_lon"], lat, lon)
        km[np.isin(cities["place_type"].reindex(cid).to_numpy(), ["county", "region"])] = np.nan  # no limit
        assert not (km > LIMIT_KM[SID]).any(), data[km > LIMIT_KM[SID]].head()
        checked += int((km <= LIMIT_KM[SID]).sum())
        split += int(pd.Series(cid, dtype="string").str.fullmatch(r"x-.+-[0-9]+p[0-9][ns]-[0-9]+p[0-9][ew]").sum())
    assert checked > 49000
    assert split > 0  # namesakes the gazetteer lacks were told apart by their points
    assert keys  # pairs exist
    exclusions = tables[SID].exclusions
    assert not (exclusions["reason"] == "self-pair").any()  # no row of the mirror is one place twice


# --- the step on the fixture, beside a two-row Wikipedia list ---------------------------------

FAKE = {"Spittal an der Drau": "gn2", "Porcia": "gn1", "Graz": "gn3", "Pula": "gn4", "Paris": "gn5",
        "Sigtuna Municipality": "gn8", "Sønderborg": "gn9"}


def _fake_resolved(m: pd.DataFrame, empoli: dict) -> pd.DataFrame:
    name = m["name"].astype(str)
    # the two Felsbergs, told apart by their points: Hesse's in GeoNames, Saarland's provisional
    felsberg = np.where(m["latitude"].astype(float) > 50, "gn7", "x-deu-felsberg")
    city_id = name.map(FAKE).mask(name == "Felsberg", pd.Series(felsberg, index=m.index))
    for sid, cid in empoli.items():  # each source's "Empoli" resolves as the test says
        city_id = city_id.mask((name == "Empoli") & (m["source_id"].astype(str) == sid), cid)
    return pd.DataFrame({"source_id": m["source_id"], "source_row": m["source_row"], "role": m["role"],
                         "city_id": city_id.astype("string")})


@pytest.fixture
def both(tmp_path, table):
    from etl.sources import twin_cities
    csv = tmp_path / "twin_cities_raw.csv"
    csv.write_text("city1,country1,city2,country2\nPorcia,Italy,Spittal an der Drau,Austria\n"
                   "Empoli,Italy,Paris,France\n", encoding="utf-8")
    return {"twin_cities": twin_cities.read(csv, "twin_cities"), SID: table}


def test_pairs_merge_across_sources_with_every_row(both):
    from etl.steps import partnerships as step
    m = step.mentions(both)
    assert set(m["role"].astype(str)) == {"city1", "city2", "origin", "partner"}
    wiki = m[m["source_id"] == SID]
    assert wiki["latitude"].notna().all() and wiki["longitude"].notna().all()
    out = step.build(both, _fake_resolved(m, {"twin_cities": "gn6", SID: "gn6"})).resources["partnerships"]
    row = out[(out["city_a_id"] == "gn1") & (out["city_b_id"] == "gn2")].iloc[0]
    assert row["attested_by"] == "twin_cities;wikidata_twins_2017" and row["n_sources"] == 2
    assert row["attestations"] == 3 and bool(row["both_sides"])
    assert row["source_id"] == "twin_cities" and row["source_row"] == "1"
    assert row["attestation_rows"] == "twin_cities:1;wikidata_twins_2017:austria.tsv:1;wikidata_twins_2017:italy.tsv:1"
    only = out[(out["city_a_id"] == "gn3") & (out["city_b_id"] == "gn4")].iloc[0]
    assert (only["attested_by"], only["n_sources"], only["source_row"]) == (SID, 1, "austria.tsv:5")
    assert out.loc[(out["city_a_id"] == "gn5") & (out["city_b_id"] == "gn6"), "n_sources"].tolist() == [2]
    felsberg = out[(out["city_a_id"] == "gn7") & (out["city_b_id"] == "x-deu-felsberg")].iloc[0]
    assert felsberg["attestations"] == 2 and bool(felsberg["both_sides"])


def test_pairs_do_not_merge_when_a_side_resolves_differently(both):
    from etl.steps import partnerships as step
    m = step.mentions(both)
    out = step.build(both, _fake_resolved(m, {"twin_cities": "gn6", SID: "x-ita-empoli"})).resources["partnerships"]
    empoli = out[out["city_b_id"].isin(["gn6"]) | out["city_a_id"].isin(["x-ita-empoli"]) |
                 out["city_b_id"].isin(["x-ita-empoli"])]
    assert sorted(empoli["attested_by"]) == ["twin_cities", SID]
    assert (empoli["n_sources"] == 1).all()
