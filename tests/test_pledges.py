"""The pledges step: token parsing, the reviewed vocabulary, pledges, place mentions, row accounting.

Unit tests run on the small fixtures in tests/fixtures/pledges/ (they reproduce the source's quirks);
integration tests over the real mirror run only when RAW_MIRROR is set.
"""
from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

from etl import schema
from etl.sources.base import SourceError, SourceTable
from etl.sources.climactor_contextuals import read
from etl.steps import pledges as P
from tests.conftest import FIXTURES, requires_mirror

FIX = FIXTURES / "pledges"
DEC, SEP = "climactor_dec2022", "climactor_sep2022"


def fake_resolved(mentions: pd.DataFrame) -> pd.DataFrame:
    """Stand-in for place resolution: the name without a ', XX' suffix ("Camden, UK" = "Camden")."""
    slug = (mentions["name"].str.replace(r",\s*[A-Z]{2}$", "", regex=True).str.lower()
            .str.replace(r"[^a-z0-9]+", "-", regex=True).str.strip("-"))
    return mentions[["source_id", "source_row", "role"]].assign(
        city_id="x-" + slug, status="resolved", method="test", score=1.0)


@pytest.fixture(scope="module")
def vocab():
    return P.load_vocabulary()


@pytest.fixture(scope="module")
def tables():
    return {DEC: read(FIX / "contextuals_dec.csv", DEC), SEP: read(FIX / "contextuals_sep.csv", SEP)}


@pytest.fixture(scope="module")
def built(tables, vocab):
    mentions = P.mentions(tables, vocab)
    return mentions, P.build(tables, fake_resolved(mentions), vocab)


def pledges_of(out, source_id, city_id) -> set[tuple[str, str]]:
    p = out.resources["pledges"]
    p = p[(p["source_id"] == source_id) & (p["city_id"] == city_id)]
    return set(zip(p["initiative_id"], p["list_key"]))


# --- parsing ---------------------------------------------------------------------------------

def test_parse_splits_on_semicolon_runs_and_commas_and_trims():
    values = pd.Series(["A2019;B;;C", "X;;;;Y;;", "Sveriges Ekokommuner,Klimatkommunerna, NAZCA", "Cool Coalition ;;A2019;A2019"])
    tokens, stats = P.parse_values(values)
    got = tokens.groupby("value", sort=False)["raw_token"].agg(list).to_dict()
    assert got == {
        "A2019;B;;C": ["A2019", "B", "C"],
        "X;;;;Y;;": ["X", "Y"],
        "Sveriges Ekokommuner,Klimatkommunerna, NAZCA": ["Sveriges Ekokommuner", "Klimatkommunerna", "NAZCA"],
        "Cool Coalition ;;A2019;A2019": ["Cool Coalition", "A2019", "A2019"],  # repeats kept for counting
    }
    s = stats.set_index("value")
    assert s.loc["X;;;;Y;;", "empty_items"] == 2 and s.loc["A2019;B;;C", "empty_items"] == 0
    assert s.loc["A2019;B;;C", "groups"] == 2 and s.loc["A2019;B;;C", "distinct_items"] == 3
    assert s.loc["Sveriges Ekokommuner,Klimatkommunerna, NAZCA", "comma_items"] == 1
    assert s.loc["Cool Coalition ;;A2019;A2019", "distinct_items"] == 2


# --- the committed vocabulary ----------------------------------------------------------------

def test_vocabulary_maps_spellings_to_one_initiative_and_reads_list_years(vocab):
    t = vocab.tokens.set_index("raw_token")
    same = [("RacetoZero2020", "Race to Zero", "RacetoZero"), ("Under2Coalition2019", "Under2 Coalition", "Under2Coalition"),
            ("GCoM2022", "GlobalCovenantofMayors2019", "GCoMHarmonized2021"), ("ICLEI", "ICLEI - Local Governments for Sustainability"),
            ("ClimateMayors2019", "ClimateMayors"), ("CDPCities2022", "CDP Cities", "CDPJRC2022")]
    for group in same:
        assert t.loc[list(group), "initiative_id"].nunique() == 1, group
    # distinct initiatives that look alike
    for a, b in [("WeAreStillIn2019", "ClimateMayors2019"), ("EUCovenantofMayors2022", "GCoM2022"),
                 ("Carbonn2019", "ICLEI"), ("c40_s_deadline_2020", "C40Cities2022"), ("NAZCA", "DDLNetZeroDB2020")]:
        assert t.loc[a, "initiative_id"] != t.loc[b, "initiative_id"], (a, b)
    assert t.loc["GCoM2022", "list_year"] == 2022 and pd.isna(t.loc["Race to Zero", "list_year"])
    assert t.loc["CDPCities2018-2019", "list_year"] == 2019  # a range's last year
    assert pd.isna(t.loc["c40_s_deadline_2020", "list_year"])  # a year that is part of a name
    assert t.loc["DDLNetZeroDB2020ZCA2020", "initiative_id"] == "ddl_net_zero"
    assert pd.isna(t.loc["NA", "initiative_id"]) and t.loc["NA", "excluded_reason"] == "missing-value marker"
    names = vocab.initiatives.set_index("initiative_id")["name"]
    assert names[t.loc["ClimateMayors2019", "initiative_id"]] == "Climate Mayors"
    assert names[t.loc["Race to Zero", "initiative_id"]] == "Race to Zero"
    assert names[t.loc["GCoM2022", "initiative_id"]] == "Global Covenant of Mayors for Climate & Energy"
    # every initiative is named by at least one token
    assert set(vocab.initiatives["initiative_id"]) == set(vocab.tokens["initiative_id"].dropna())


@pytest.mark.parametrize("edit, message", [
    (lambda t: pd.concat([t, t.tail(1)]), "duplicate raw_token"),
    (lambda t: t.assign(excluded_reason=t["excluded_reason"].where(t["raw_token"] != "GCoM2022", "why")), "exactly one"),
    (lambda t: t.assign(initiative_id=t["initiative_id"].where(t["raw_token"] != "GCoM2022", "no_such")), "not in initiatives"),
    (lambda t: t.assign(list_year=t["list_year"].where(t["raw_token"] != "GCoM2022", "22")), "list_year"),
    (lambda t: t.assign(raw_token=t["raw_token"].where(t["raw_token"] != "GCoM2022", "GCoM2022;x")), "separator"),
])
def test_inconsistent_vocabulary_is_refused(tmp_path, edit, message):
    shutil.copy(P.VOCAB / "initiatives.csv", tmp_path / "initiatives.csv")
    tokens = pd.read_csv(P.VOCAB / "initiative_tokens.csv", dtype=str, keep_default_na=False)
    edit(tokens).to_csv(tmp_path / "initiative_tokens.csv", index=False)
    with pytest.raises(P.VocabularyError, match=message):
        P.load_vocabulary(tmp_path)


def test_unknown_token_fails_naming_token_source_and_row(vocab):
    table = read(FIX / "contextuals_unknown_token.csv", DEC)
    with pytest.raises(SourceError) as err:
        P.mentions({DEC: table}, vocab)
    text = str(err.value)
    assert "FooBar2023" in text and DEC in text and "row 2" in text and "2 occurrence" in text


# --- pledges from the fixtures ---------------------------------------------------------------

def test_pledges_per_place_initiative_and_list(built):
    _, out = built
    assert pledges_of(out, DEC, "x-los-angeles") == {
        ("cdp_cities", "2022"), ("c40", "2022"), ("climate_mayors", "2022"), ("race_to_zero", "undated")}
    # repeated NAZCA2020 -> one pledge
    assert pledges_of(out, DEC, "x-springfield") == {("nazca", "2020"), ("ddl_net_zero", "2020"), ("race_to_zero", "2020")}
    # "Under2 Coalition" and "Under2Coalition" (both undated) -> one; the 2019 list is another
    assert pledges_of(out, DEC, "x-new-york-state") == {("under2_coalition", "2019"), ("under2_coalition", "undated")}
    # ',' inside an item separates networks
    assert pledges_of(out, DEC, "x-uppsala-county") == {
        ("act_sweden", "undated"), ("klimatkommunerna", "undated"), ("eu_covenant_of_mayors", "undated"), ("nazca", "undated")}
    # ";;;;" and a trailing ";;" leave no empty tokens
    assert pledges_of(out, DEC, "x-tianjin") == {("igdp", "2020"), ("igdp", "2019")}
    assert pledges_of(out, DEC, "x-camden") == {("race_to_zero", "undated"), ("cool_coalition", "undated")}
    p = out.resources["pledges"].set_index(["source_id", "city_id", "initiative_id", "list_key"])
    assert p.loc[(DEC, "x-evanston", "cdp_cities", "2019"), "raw_token"] == "CDPCities2018-2019;CDPCities2019"
    assert p.loc[(DEC, "x-ringkobing-skjern", "gcom", "2021"), "raw_token"] == "GCoM2021;GCoMHarmonized2021"
    assert pd.isna(p.loc[(DEC, "x-ringkobing-skjern", "gcom", "2021"), "entity_type"])
    assert p.loc[(DEC, "x-new-york-state", "under2_coalition", "undated"), "entity_type"] == "Region"
    # two source rows resolving to one place: one pledge, rows sorted as numbers (9 before 12)
    assert p.loc[(DEC, "x-camden", "race_to_zero", "undated"), "source_row"] == "9;12"
    assert p.loc[(DEC, "x-camden", "cool_coalition", "undated"), "source_row"] == "12"
    assert set(out.resources["pledges"]["as_of"].astype(str)) == {"2022-12-31", "2022-09-30"}
    assert not out.resources["pledges"].duplicated(["as_of", "city_id", "initiative_id", "list_key"]).any()


def test_every_row_is_accounted_for_and_counts_are_reported(built, tables):
    _, out = built
    r = out.report["vintages"][DEC]
    assert r["rows_read"] == tables[DEC].rows_read == 13
    assert r["rows_with_pledges"] + sum(r["rows_excluded"].values()) + r["rows_excluded_by_reader"] == r["rows_read"]
    assert r["rows_excluded"] == {P.NO_TOKENS_MISSING: 1, P.NO_TOKENS_EXCLUDED: 1}
    excl = out.exclusions[out.exclusions["source_id"] == DEC].set_index("source_row")["reason"]
    assert excl.to_dict() == {4: P.NO_TOKENS_MISSING, 7: P.NO_TOKENS_EXCLUDED}  # Nowhere (NA), Innlandet ("NA;;Region")
    assert r["tokens_excluded"] == {"missing-value marker": 1, "entity type in the initiatives field": 1}
    assert r["duplicate_tokens_collapsed"] == 2  # NAZCA2020 twice, GCoM2021 twice
    assert r["spellings_merged"] == 3  # Under2 Coalition/Under2Coalition, CDPCities2018-2019/2019, GCoM2021/GCoMHarmonized2021
    assert r["pledges_merged_across_source_rows"] == 1  # Camden + Camden, UK
    assert r["pledges"] == (out.resources["pledges"]["source_id"] == DEC).sum()
    assert r["empty_items_dropped"] == 2 and r["comma_joined_items_split"] == 1
    nc = r["num_commit"]
    assert nc["disagreeing_source_rows"] == [10, 11, 13] and nc["disagreeing_rows_matching_double_semicolon_groups"] == 1
    assert nc["rows_without_num_commit"] == 1  # Camden


def test_mentions_carry_place_attributes_and_hints(built):
    mentions, _ = built
    m = mentions[mentions["source_id"] == DEC].set_index("source_row")
    assert list(mentions.columns) == list(P.MENTION_DTYPES)
    assert set(m["role"]) == {"pledger"}
    assert 4 not in m.index and 7 not in m.index  # rows without pledges are no places to resolve
    la = m.loc[1]
    assert (la["name"], la["raw_name"], la["country"], la["admin1"], la["place_type"]) == (
        "Los Angeles, CA", "Los Angeles, CA", "USA", "CA", "city")
    assert (la["population"], la["population_year"], la["area_km2"], la["latitude"]) == (3898747, 2020, 1302.0, 34.05)
    assert (m.loc[8, "place_type"], m.loc[8, "admin1"]) == ("county", "CA")
    assert (m.loc[3, "place_type"], m.loc[3, "admin1"]) == ("region", "New York State")
    assert m.loc[5, "admin1"] == "Shizuoka Prefecture"  # Fujikawa, despite the stray 0xCA byte
    assert m.loc[12, "admin1"] == "Greater London"  # ", UK" is no admin1 code
    assert m.loc[13, "place_type"] == "city" and pd.isna(m.loc[9, "population"])
    assert mentions.duplicated(["source_id", "source_row", "role"]).sum() == 0


def test_resources_match_the_schema(built):
    _, out = built
    for name in ("pledges", "initiatives", "initiative_tokens"):
        table = schema.to_arrow(name, out.resources[name])
        assert table.num_rows == len(out.resources[name])
    pk = re.compile(r"[0-9]+(;[0-9]+)*")
    assert out.resources["pledges"]["source_row"].map(lambda s: bool(pk.fullmatch(s))).all()


def test_a_missing_vintage_is_skipped(tables, vocab):
    only_sep = {SEP: tables[SEP]}
    out = P.build(only_sep, fake_resolved(P.mentions(only_sep, vocab)), vocab)
    assert set(out.resources["pledges"]["source_id"]) == {SEP}
    assert list(out.report["vintages"]) == [SEP]
    none = P.build({}, fake_resolved(P.mentions({}, vocab)), vocab)
    assert none.resources["pledges"].empty and len(none.resources["initiatives"]) == len(vocab.initiatives)
    schema.to_arrow("pledges", none.resources["pledges"])


def test_a_pledging_row_without_a_place_is_an_error(tables, vocab):
    mentions = P.mentions(tables, vocab)
    with pytest.raises(RuntimeError, match="no city_id"):
        P.build(tables, fake_resolved(mentions).iloc[1:], vocab)



def repeated(table: SourceTable) -> SourceTable:
    """The table twice, the copy numbered after the original (as the scale benchmark repeats rows)."""
    def shift(frame):
        return pd.concat([frame, frame.assign(source_row=frame["source_row"] + table.rows_read)], ignore_index=True)
    return SourceTable(table.source_id, 2 * table.rows_read, shift(table.data), shift(table.exclusions))


def test_repeated_rows_give_the_same_pledges_listing_both_copies(tables, vocab, built):
    mentions, out = built
    twice = {sid: repeated(t) for sid, t in tables.items()}
    mentions2 = P.mentions(twice, vocab)
    out2 = P.build(twice, fake_resolved(mentions2), vocab)
    assert len(mentions2) == 2 * len(mentions)
    # text fields are categoricals of the distinct places, however often the rows repeat
    assert isinstance(mentions2["name"].dtype, pd.CategoricalDtype)
    assert len(mentions2["name"].cat.categories) == mentions["name"].nunique()
    p, p2 = out.resources["pledges"], out2.resources["pledges"]
    pd.testing.assert_frame_equal(p.drop(columns="source_row"), p2.drop(columns="source_row"))
    n = {sid: t.rows_read for sid, t in tables.items()}
    want = [";".join(str(r) for r in sorted(rows + [r + n[sid] for r in rows]))
            for sid, rows in zip(p["source_id"], p["source_row"].map(lambda s: [int(r) for r in s.split(";")]))]
    assert p2["source_row"].tolist() == want
    r, r2 = out.report["vintages"][DEC], out2.report["vintages"][DEC]
    for figure in ("tokens", "duplicate_tokens_collapsed", "spellings_merged", "pledges_in_source_rows",
                   "empty_items_dropped", "rows_with_pledges"):
        assert r2[figure] == 2 * r[figure], figure
    assert r2["pledges"] == r["pledges"] and r2["pledges_with_entity_type_conflict"] == r["pledges_with_entity_type_conflict"]
    assert len(out2.exclusions) == 2 * len(out.exclusions)

# The README's example: who joined or left an initiative between the two vintages.
README_SNIPPET = '''
import pandas as pd

release = "published/1.0.0"  # a release folder
pledges = pd.read_parquet(f"{release}/data/pledges.parquet", columns=["as_of", "city_id", "initiative_id"])
initiatives = pd.read_parquet(f"{release}/data/initiatives.parquet", columns=["initiative_id", "name"])
cities = pd.read_parquet(f"{release}/data/cities.parquet", columns=["city_id", "name", "country_iso3"])

# membership = on any of an initiative's lists in that vintage. A change can also be an artefact of
# the upstream files (a row dropped or respelled between vintages), not a real join or exit.
pledges["as_of"] = pd.to_datetime(pledges["as_of"])
members = pledges.drop_duplicates()
sep = members[members["as_of"] == "2022-09-30"].drop(columns="as_of")
dec = members[members["as_of"] == "2022-12-31"].drop(columns="as_of")
change = sep.merge(dec, how="outer", indicator=True)
change = change[change["_merge"] != "both"]
change["change"] = change["_merge"].eq("right_only").map({True: "joined", False: "left"})
change = (change.drop(columns="_merge")
          .merge(initiatives, on="initiative_id")
          .merge(cities, on="city_id", suffixes=("_initiative", "_place")))
print(change.groupby(["name_initiative", "change"]).size().unstack(fill_value=0))
'''


def test_readme_change_query(built, tmp_path):
    _, out = built
    data = tmp_path / "data"
    data.mkdir()
    for name in ("pledges", "initiatives"):
        schema.write_parquet(schema.to_arrow(name, out.resources[name]), data / f"{name}.parquet")
    ids = sorted(set(out.resources["pledges"]["city_id"]))
    pd.DataFrame({"city_id": ids, "name": ids, "country_iso3": "XXX"}).to_parquet(data / "cities.parquet")
    scope: dict = {}
    exec(README_SNIPPET.replace("published/1.0.0", str(tmp_path)), scope)
    change = scope["change"]
    got = set(zip(change["city_id"], change["initiative_id"], change["change"]))
    assert ("x-springfield", "climate_mayors", "left") in got
    assert ("x-gone-town", "gcom", "left") in got
    assert ("x-springfield", "race_to_zero", "joined") in got
    assert ("x-new-york-state", "under2_coalition", "joined") in got
    # Los Angeles moved from the 2019 to the 2022 Climate Mayors list: no change of membership
    assert not any(c == "x-los-angeles" for c, _, _ in got)
    assert not any(c == "x-fujikawa" for c, _, _ in got)


# --- the real mirror -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_tables(mirror):
    return {DEC: read(mirror / "subnational_contextuals_database_Dec2022.csv", DEC),
            SEP: read(mirror / "subnational_contextuals_database_Sep2022.csv", SEP)}


@requires_mirror
def test_every_real_token_is_in_the_vocabulary_and_every_row_accounted(real_tables, vocab):
    known = set(vocab.tokens["raw_token"])
    for sid, table in real_tables.items():
        parsed, _ = P.parse_values(table.data["initiatives_committed"])
        assert set(parsed["raw_token"]) <= known, sorted(set(parsed["raw_token"]) - known)
        vp = P.vintage_pledges(table, vocab)
        r = vp.report
        excluded_rows = set(vp.exclusions["source_row"]) | set(table.exclusions["source_row"])
        pledging_rows = set(vp.rows["source_row"])
        assert not excluded_rows & pledging_rows
        assert len(excluded_rows) + len(pledging_rows) == table.rows_read == r["rows_read"], sid
        assert r["rows_excluded"].get(P.NO_TOKENS_MISSING, 0) == table.data["initiatives_committed"].isna().sum()


@requires_mirror
def test_fujikawa_survives_with_its_prefecture(real_tables, vocab):
    for sid, table in real_tables.items():
        m = P.mentions({sid: table}, vocab)
        fujikawa = m[m["name"] == "Fujikawa"]
        assert len(fujikawa) == 1 and fujikawa["admin1"].iloc[0] == "Shizuoka Prefecture", sid


@requires_mirror
def test_los_angeles_pledges_with_real_places(real_tables, vocab):
    places = pytest.importorskip("etl.steps.places", reason="places step not available yet")
    mentions = P.mentions(real_tables, vocab)
    result = places.build_places(mentions)
    resolved = result.mention_city_ids
    if "source_id" not in resolved.columns:  # aligned with mentions but without their keys
        resolved = pd.concat([mentions[["source_id", "source_row", "role"]].reset_index(drop=True),
                              resolved.reset_index(drop=True)], axis=1)
    out = P.build(real_tables, resolved, vocab)
    for sid in (DEC, SEP):
        initiatives = {i for i, _ in pledges_of(out, sid, "gn5368361")}
        assert {"climate_mayors", "c40", "race_to_zero"} <= initiatives, sid
