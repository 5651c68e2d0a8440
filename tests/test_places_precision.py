"""Resolver precision on the hand-labelled sample (``tests/places/labelled_mentions.csv``).

The gate (``test_precision_on_the_labelled_sample``) needs the raw mirror: only the real source
rows carry what the build gives the resolver (ClimActor ``entity_type``, ``state`` and population,
the twin-city reader's self-pair exclusion, Schedule D districts); the sample holds names only.
``pytest -s`` prints the table (also printed by ``python -m etl.places.measure``).
The scoring and the sample-to-mention handling are tested here without the mirror."""
from __future__ import annotations

import pandas as pd
import pytest

from etl.places import precision
from tests.conftest import requires_mirror

TARGET_PCT = 99.0


@pytest.fixture(scope="module")
def measured(mirror):
    return precision.run(mirror)


@requires_mirror
def test_precision_on_the_labelled_sample(measured):
    figures, detail = measured
    with pd.option_context("display.width", 200, "display.max_colwidth", 40):
        print("\n" + figures.to_string(index=False))
        off = detail[detail["verdict"].isin(["wrong", "override_conflict"])]
        print(off[["source_id", "source_row", "name", "expected", "got", "method", "verdict"]].to_string(index=False))
    total = figures.set_index("source_id").loc["ALL"]
    assert total["rows"] == len(precision.load_labels())
    assert set(figures["source_id"]) == set(precision.SOURCES) | {"ALL"}
    assert total["precision_pct"] >= TARGET_PCT, figures.to_string()


@requires_mirror
def test_every_labelled_row_reaches_the_resolver_as_built(measured):
    """Rows the build does not resolve are only the reader's twin self-pairs (no name)."""
    _, detail = measured
    labels = precision.load_labels()
    m = precision.sample_mentions(labels, mirror=None)
    lost = detail[m["name"].isna()]
    assert (lost["source_id"] == "twin_cities").all() and (lost["expected"].isna()).all()


# ---- without the mirror: scoring and the sample's mentions --------------------------------------
def test_scoring():
    labels = pd.DataFrame({"source_id": ["a", "a", "a", "a", "b"], "source_row": [1, 2, 3, 4, 1], "side": pd.NA,
                           "name": list("vwxyz"),
                           "expected_geonames_id": pd.array([10, 20, None, 40, None], dtype="Int64")})
    resolved = pd.DataFrame({"geonames_id": pd.array([10, 99, 30, None, 50], dtype="Int64"),
                             "status": "resolved", "method": "m"})
    overridden = pd.Series([False, False, False, False, True])
    figures, detail = precision.evaluate(labels, resolved, overridden)
    f = figures.set_index("source_id")
    # source a: matched 3 (10 ok, 99 wrong, 30 where none expected: wrong); labelled 3, correct 1
    assert (f.loc["a", "matched"], f.loc["a", "correct"], f.loc["a", "wrong"]) == (3, 1, 2)
    assert f.loc["a", "precision_pct"] == pytest.approx(33.33) and f.loc["a", "recall_pct"] == pytest.approx(33.33)
    # source b: an overridden port matched where the label says "no city" is a conflict, apart
    assert f.loc["b", "override_conflicts"] == 1 and f.loc["b", "precision_pct"] == 100.0
    assert f.loc["b", "precision_as_built_pct"] == 0.0
    assert f.loc["ALL", "matched"] == 4 and f.loc["ALL", "precision_pct"] == pytest.approx(33.33)
    assert detail["verdict"].tolist() == ["ok", "wrong", "wrong", "missed", "override_conflict"]


def test_sample_mentions_follow_the_steps():
    labels = precision.load_labels()
    m = precision.sample_mentions(labels)
    row = lambda sid, r, side=None: m[(labels["source_id"] == sid) & (labels["source_row"] == r)
                                      & (labels["side"].eq(side) if side else True)].iloc[0]
    # ClimActor keeps its ", XX" suffix; the state goes to admin1
    athens = row("climactor_dec2022", 894)
    assert athens["name"] == "Athens, OH" and athens["admin1"] == "OH"
    # ports: the reviewed override names the city (Logan Airport -> Boston); "..XX" is a district
    logan, laredo_nec = row("bts_schedule_d", 45), row("bts_schedule_d", 184)
    assert (logan["name"], logan["place_type"], bool(logan["overridden"])) == ("Boston", "port", True)
    assert laredo_nec["place_type"] == "port_district"
    # metros: first principal city, first state; Puerto Rico is its own country; pseudo-metros
    assert row("ita_metro_exports", 370)["name"] == "Honolulu"
    ponce = row("ita_metro_exports", 287)
    assert (ponce["name"], ponce["country"]) == ("Ponce", "PRI")
    assert row("ita_metro_exports", 401)["place_type"] == "non_place"
    # twin cities: the reader's self-pairs never reach the resolver
    assert pd.isna(row("twin_cities", 12170, "city1")["name"])
    assert row("twin_cities", 111, "city2")["name"] == "Córdoba, Bolívar"
