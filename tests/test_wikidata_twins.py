"""The Wikidata P190 (2017) reader on a hand-written fixture of its quirks."""
from __future__ import annotations

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
    assert table.rows_read == 7
    assert len(table.data) + len(table.exclusions) == 7
    keys = set(zip(table.data["source_file"], table.data["source_row"])) | \
        set(zip(table.exclusions["source_file"], table.exclusions["source_row"]))
    assert keys == {("austria.tsv", r) for r in range(1, 6)} | {("italy.tsv", 1), ("italy.tsv", 2)}


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
