"""Source readers: every quirk on small hand-written fixtures, plus (with RAW_MIRROR set) the real files.

Fixtures live in tests/fixtures/<source_id>/<upstream file name>; they were written byte by
byte (0xCA byte, CRLF, BOM, preamble/footnotes) and are not copies of the mirror files.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from etl.sources import READERS, SourceError
from etl.sources import (bts_codebook, bts_dot1, bts_dot3, ita_metro_exports_xlsx, bts_schedule_d, bts_texas_ports, census_cbsa, climactor_contextuals,
                         climactor_country_dict, ita_metro_exports, twin_cities, wikidata_twins)
from etl.sources.base import EXCLUSION_COLUMNS, SourceTable, read_csv_text

FIXTURES = Path(__file__).parent / "fixtures"

FILES = {
    "climactor_dec2022": "subnational_contextuals_database_Dec2022.csv",
    "climactor_sep2022": "subnational_contextuals_database_Sep2022.csv",
    "climactor_country_dict": "country_dict_Oct2023.csv",
    "twin_cities": "twin_cities_raw.csv",
    "bts_dot1_201501": "dot1_0115.csv",
    "bts_dot1_monthly": [f"dot1_{m:02d}23.csv" for m in range(1, 13)],
    "bts_dot1_annual": ["dot1_2023.csv"],
    "bts_dot3_monthly": ["dot3_0123.csv", "dot3_0223.csv"],
    "bts_codebook": "codes-north-american-transborder-freight-raw-data.pdf",
    "ita_metro_exports_2005_2023": "ITA_MSA_Export_Series.xlsx",
    "bts_schedule_d": "schedule_d_port_codes.json",
    "bts_texas_ports": "texas_mexico_ports.csv",
    "ita_metro_exports": "exports_ita.csv",
    "census_cbsa_2013": "msa_crosswalk.csv",
}
MODULES = {
    "climactor_dec2022": climactor_contextuals, "climactor_sep2022": climactor_contextuals,
    "climactor_country_dict": climactor_country_dict, "twin_cities": twin_cities, "bts_dot1_201501": bts_dot1,
    "bts_dot1_monthly": bts_dot1, "bts_dot1_annual": bts_dot1, "bts_dot3_monthly": bts_dot3,
    "bts_codebook": bts_codebook, "ita_metro_exports_2005_2023": ita_metro_exports_xlsx,
    "bts_schedule_d": bts_schedule_d, "bts_texas_ports": bts_texas_ports, "ita_metro_exports": ita_metro_exports,
    "census_cbsa_2013": census_cbsa, "wikidata_twins_2017": wikidata_twins,
}


def fixture(source_id: str) -> SourceTable:
    names = FILES[source_id]
    if isinstance(names, list):  # a file set: the reader gets the list of paths
        return READERS[source_id]([FIXTURES / source_id / n for n in names], source_id)
    return READERS[source_id](FIXTURES / source_id / names, source_id)


def row(table: SourceTable, source_row: int) -> pd.Series:
    hit = table.data[table.data["source_row"] == source_row]
    assert len(hit) == 1, f"source_row {source_row} not kept exactly once"
    return hit.iloc[0]


def excluded(table: SourceTable) -> dict[int, str]:
    return dict(zip(table.exclusions["source_row"].astype(int), table.exclusions["reason"]))


def check_contract(t: SourceTable, source_id: str) -> None:
    """Every data row is kept or excluded, exactly once (per file of a set); dtypes are explicit."""
    if "source_file" in t.data.columns:  # a row is (file, row) when the reader reads a set
        kept = set(zip(t.data["source_file"].astype(str), t.data["source_row"].astype(int)))
        dropped = set(zip(t.exclusions["source_file"].astype(str), t.exclusions["source_row"].astype(int)))
        assert len(kept) == len(t.data)
    else:
        kept = set(t.data["source_row"].astype(int))
        dropped = set(t.exclusions["source_row"].astype(int))
        assert len(t.data["source_row"].unique()) + len(t.exclusions) == t.rows_read
        assert kept | dropped == set(range(1, t.rows_read + 1))
    assert t.source_id == source_id
    assert len(kept) + len(dropped) == t.rows_read
    assert kept.isdisjoint(dropped)
    assert list(t.exclusions.columns) == EXCLUSION_COLUMNS
    assert (t.exclusions["source_id"] == source_id).all()
    assert t.exclusions["reason"].str.len().gt(0).all()
    for raw in t.exclusions["raw_values"]:
        assert isinstance(json.loads(raw), dict)
    expected = {c: pd.api.types.pandas_dtype(d) for c, d in MODULES[source_id].OUTPUT_DTYPES.items()}
    # A categorical's dtype carries its categories; the contract only says "category".
    assert {c: "category" if isinstance(d, pd.CategoricalDtype) else d for c, d in t.data.dtypes.items()} == expected
    assert list(t.data.columns) == list(expected)
    assert t.data["source_row"].notna().all()


# ---------------------------------------------------------------------------------------------
# Registry and contract
# ---------------------------------------------------------------------------------------------

def test_readers_registry():
    # dot3 annual: the dot3 reader, tested with monthly; Wikidata P190: tests/test_wikidata_twins.py
    # CDP emissions and targets: tests/test_cdp_*.py
    assert set(READERS) == set(FILES) | {"bts_dot3_annual", "wikidata_twins_2017", "cdp_city_emissions",
                                         "cdp_city_targets"}
    assert READERS["bts_dot3_annual"] is READERS["bts_dot3_monthly"] is bts_dot3.read
    assert READERS["climactor_dec2022"] is READERS["climactor_sep2022"] is climactor_contextuals.read


@pytest.mark.parametrize("source_id", sorted(FILES))
def test_contract_on_fixture(source_id):
    check_contract(fixture(source_id), source_id)


@pytest.mark.parametrize("source_id", ["climactor_dec2022", "climactor_sep2022", "twin_cities", "bts_dot1_201501",
                                       "bts_texas_ports", "ita_metro_exports"])
def test_header_only_file_is_an_empty_table(tmp_path, source_id):
    src = (FIXTURES / source_id / FILES[source_id]).read_bytes()
    p = tmp_path / FILES[source_id]
    p.write_bytes(src[: src.index(b"\n") + 1])
    t = READERS[source_id](p, source_id)
    check_contract(t, source_id)
    assert t.rows_read == 0 and t.data.empty


# ---------------------------------------------------------------------------------------------
# read_csv_text: every cell as Arrow-backed text
# ---------------------------------------------------------------------------------------------

class TestReadCsvText:
    def read(self, data: bytes):
        return read_csv_text(Path("f.csv"), "src", data=data)

    def test_all_text_no_na_inference(self):
        raw = self.read(b'\xef\xbb\xbf"iso","code","n"\r\n"NA",007,\r\nNaN,None,1.50\r\n')
        assert list(raw.columns) == ["iso", "code", "n"]  # BOM dropped
        assert (raw.dtypes == "string[pyarrow]").all()
        assert raw.to_dict("list") == {"iso": ["NA", "NaN"], "code": ["007", "None"], "n": ["", "1.50"]}

    def test_quoted_newline_and_blank_lines(self):
        raw = self.read(b'a,b\n\n1,"x\ny"\n\n2,z\n')
        assert raw.to_dict("list") == {"a": ["1", "2"], "b": ["x\ny", "z"]}

    def test_header_only(self):
        for data in (b"a,b\n", b"a,b"):
            raw = self.read(data)
            assert list(raw.columns) == ["a", "b"] and raw.empty

    @pytest.mark.parametrize("data, problem", [
        (b"", "is empty"), (b"\xef\xbb\xbf\r\n", "is empty"),
        (b"a,b\n1,2\n3\n", "Expected 2 columns, got 1"),
        (b"a,b\n1,2,3\n", "Expected 2 columns, got 3"),
        (b"a,b\n1,\xff\n", "invalid UTF8"),
        (b"a,b,a\n1,2,3\n", r"duplicate column name\(s\) \['a'\]"),
    ])
    def test_unreadable_is_source_error(self, data, problem):
        with pytest.raises(SourceError, match=problem):
            self.read(data)


# ---------------------------------------------------------------------------------------------
# ClimActor contextuals
# ---------------------------------------------------------------------------------------------

class TestClimactor:
    def test_fixture_really_has_the_quirks(self):
        dec = (FIXTURES / "climactor_dec2022" / FILES["climactor_dec2022"]).read_bytes()
        assert b"Shizuoka\xcaPrefecture" in dec
        with pytest.raises(UnicodeDecodeError):
            dec.decode("utf-8")

    @pytest.mark.parametrize("source_id", ["climactor_dec2022", "climactor_sep2022"])
    def test_mac_roman_byte_decodes_to_plain_space(self, source_id):
        t = fixture(source_id)
        fuji = t.data[t.data["name"] == "Fujikawa"].iloc[0]
        assert fuji["state"] == "Shizuoka Prefecture"
        assert fuji["admin_1"] == "Shizuoka Prefecture"
        assert fuji["region"] == "East Asia and the Pacific"
        assert t.notes["non_utf8_bytes_decoded"] == 6

    def test_decode_in_chunks_is_one_decode(self):
        raw = (FIXTURES / "climactor_dec2022" / FILES["climactor_dec2022"]).read_bytes()
        whole = raw.decode("utf-8-sig", errors=climactor_contextuals.ERROR_HANDLER).encode("utf-8")
        for chunk in (1, 2, 3, 7, 1 << 22):  # a chunk may end inside a multi-byte character
            assert climactor_contextuals.decode(io.BytesIO(raw), chunk=chunk) == (whole, 6)

    def test_error_handler_is_registered(self):
        import codecs
        assert codecs.lookup_error(climactor_contextuals.ERROR_HANDLER)
        assert b"a\xcab".decode("utf-8", errors=climactor_contextuals.ERROR_HANDLER) == "a\xa0b"

    def test_na_literal_is_missing(self):
        t = fixture("climactor_dec2022")
        kheis = row(t, 1)
        assert pd.isna(kheis["admin_1"])
        r = t.data[t.data["name"] == "Ringkobing-Skjern"].iloc[0]
        assert pd.isna(r["country"]) and pd.isna(r["num_commit"]) and pd.isna(r["population_year"])
        assert pd.isna(r["initiatives_committed"]) and pd.isna(r["state"])
        # an "NA" token inside the initiatives string is not touched (later steps parse it)
        assert row(t, 2)["initiatives_committed"].endswith(";NA")

    def test_entity_type_normalised_raw_kept(self):
        t = fixture("climactor_dec2022")
        by_name = t.data.set_index("name")
        assert by_name.loc["Aldea Apeleg", "entity_type"] == "City"
        assert by_name.loc["Aldea Apeleg", "entity_type_raw"] == "city"
        assert pd.isna(by_name.loc["Ringkobing-Skjern", "entity_type"])
        assert by_name.loc["Ringkobing-Skjern", "entity_type_raw"] == "NA"
        assert by_name.loc["California", "entity_type"] == "Region"
        assert set(t.data["entity_type"].dropna()) <= {"City", "Region"}

    def test_unknown_entity_type_is_excluded(self):
        t = fixture("climactor_sep2022")
        assert "unknown entity_type: 'Province'" in excluded(t)[8]

    def test_row_without_name_is_excluded(self):
        t = fixture("climactor_dec2022")
        assert excluded(t) == {10: "name is missing", 11: "name is missing"}  # "" and "NA"

    def test_state_suffix_kept(self):
        t = fixture("climactor_dec2022")
        assert "Los Angeles, CA" in set(t.data["name"])

    def test_numbers(self):
        t = fixture("climactor_dec2022")
        h = t.data[t.data["name"] == "Hidaka"].iloc[0]  # "Hidaka " stripped
        assert h["area"] == 1765.0  # "1,765.00"
        assert h["population"] == 200000.0  # "2e+05"
        assert pd.isna(h["population_year"])  # 0 placeholder
        s = t.data[t.data["name"] == "Sample Town"].iloc[0]
        assert pd.isna(s["area"])  # "NaN"
        assert s["population"] == pytest.approx(196.7)
        assert pd.isna(s["lat"]) and pd.isna(s["lng"])
        assert t.notes["population_year_zero_as_missing"] == 1
        assert t.notes["area_thousands_separator"] == 1

    def test_sep_all_quoted_reads_like_dec(self):
        dec, sep = fixture("climactor_dec2022"), fixture("climactor_sep2022")
        a = dec.data[dec.data["name"] == "!Kheis"].drop(columns="source_row").reset_index(drop=True)
        b = sep.data[sep.data["name"] == "!Kheis"].drop(columns="source_row").reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_categorical=False)  # each file has its own categories

    def test_mojibake_and_r_escapes_repaired(self):
        t = fixture("climactor_sep2022")
        by_name = t.data.set_index("name")
        assert by_name.loc["El Far d'Empordà", "admin_1"] == "Alt Empordà"  # "EmpordÃ\xa0"
        assert by_name.loc["San José, CA", "state"] == "San José"
        assert by_name.loc["San José, CA", "admin_1"] == "Ávila"  # 0x81 is a cp1252 gap
        assert by_name.loc["Mioveni", "state"] == "Argeș"  # "Arge<U+0219>"
        assert "CÂMPINA" in by_name.index  # correct text is left alone
        assert "Itacoatiara" in by_name.index  # trailing NBSP stripped
        assert t.notes["mojibake_repaired"] == {"name": 1, "state": 2, "admin_1": 3}

    def test_transliterated_mojibake_kept_and_counted(self):
        t = fixture("climactor_dec2022")
        assert "San JosA(c), CA" in set(t.data["name"])
        assert t.notes["transliterated_mojibake_rows"] == 1

    def test_missing_column_is_source_error(self, tmp_path):
        p = tmp_path / FILES["climactor_dec2022"]
        p.write_text('"name","iso"\n"A","B"\n')
        with pytest.raises(SourceError, match=r"climactor_dec2022.*missing column"):
            climactor_contextuals.read(p, "climactor_dec2022")

    def test_bad_number_is_excluded_not_a_crash(self, tmp_path):
        src = (FIXTURES / "climactor_dec2022" / FILES["climactor_dec2022"]).read_bytes()
        p = tmp_path / FILES["climactor_dec2022"]
        p.write_bytes(src.replace(b"-30.4620482", b"south"))
        t = climactor_contextuals.read(p, "climactor_dec2022")
        assert excluded(t)[1] == "lat is not a number: 'south'"
        check_contract(t, "climactor_dec2022")


# ---------------------------------------------------------------------------------------------
# ClimActor country dictionary
# ---------------------------------------------------------------------------------------------

class TestCountryDict:
    def test_namibia_iso2_kept(self):
        t = fixture("climactor_country_dict")
        nam = row(t, 2)
        assert nam["iso"] == "NAM" and nam["iso2"] == "NA"

    def test_namibia_iso2_restored_when_lost(self):
        t = fixture("climactor_country_dict")
        assert row(t, 3)["iso2"] == "NA"
        assert t.notes["iso2_restored"] == {"NAM": "NA"}

    def test_only_empty_is_missing_in_codes_but_na_is_missing_in_numbers(self):
        t = fixture("climactor_country_dict")
        eu, jersey = row(t, 4), row(t, 5)
        assert pd.isna(eu["iso"]) and pd.isna(eu["iso2"]) and pd.isna(eu["land_area"])
        assert eu["population"] == 447512041
        assert pd.isna(jersey["population"]) and pd.isna(jersey["iso2"])

    def test_values(self):
        t = fixture("climactor_country_dict")
        assert row(t, 1)[["wrong", "right", "iso"]].tolist() == ["Guinea Bissau", "Guinea-Bissau", "GNB"]
        assert row(t, 8)["wrong"] == "Korea, Republic of"
        assert row(t, 9)["wrong"] == "Türkiye"
        assert row(t, 10)["land_area"] == pytest.approx(29.9)
        assert t.notes["exact_duplicate_rows"] == 1
        assert excluded(t) == {11: "wrong is empty"}


# ---------------------------------------------------------------------------------------------
# Twin cities
# ---------------------------------------------------------------------------------------------

class TestTwinCities:
    def test_raw_kept_and_non_ascii(self):
        t = fixture("twin_cities")
        assert row(t, 1)["city2"] == "Bağcılar"
        assert row(t, 2)["city2_raw"] == "Bérat"

    def test_varna_split_from_city_field(self):
        t = fixture("twin_cities")
        r = row(t, 3)
        assert (r["city2"], r["country2"]) == ("Varna", "Bulgaria")
        assert pd.isna(r["region2"])
        assert r["city2_raw"] == "Varna, Bulgaria" and r["country2_raw"] == ""
        assert t.notes["country_from_city_field"] == 1

    def test_region_in_country_field_split_on_last_comma(self):
        t = fixture("twin_cities")
        assert row(t, 5)[["city2", "region2", "country2"]].tolist() == ["Albany", "New York", "United States"]
        assert row(t, 6)[["city2", "region2", "country2"]].tolist() == ["Lagoa", "Azores", "Portugal"]
        assert row(t, 7)[["region2", "country2"]].tolist() == ["England", "United Kingdom"]

    def test_country_strings_and_qualifiers_untouched(self):
        t = fixture("twin_cities")
        assert row(t, 7)["country1"] == "Republic of Ireland"
        assert row(t, 8)["country1"] == "Georgia (country)"
        assert row(t, 9)["city2"] == "Encino (Los Angeles)"
        assert row(t, 10)[["city1", "country1", "city2"]].tolist() == ["Coventry", "England", "Coventry, New York"]
        assert row(t, 6)["city1"] == "Lagoa, Azores"  # country1 present: the city is not split

    def test_no_na_trap(self):
        t = fixture("twin_cities")
        assert row(t, 14)[["city1", "city2"]].tolist() == ["Nan", "NA"]

    def test_exclusions(self):
        t = fixture("twin_cities")
        ex = excluded(t)
        assert ex[11] == "self-pair" and ex[12] == "self-pair"  # second one differs by case/space
        assert ex[13] == "city1 is empty"
        assert "Falkland Islands" in ex[4] and "names no country" in ex[4]
        assert len(ex) == 4

    def test_wrong_header_is_source_error(self, tmp_path):
        p = tmp_path / FILES["twin_cities"]
        p.write_text("city_a,country_a,city_b,country_b\nA,B,C,D\n")
        with pytest.raises(SourceError, match="twin_cities"):
            twin_cities.read(p, "twin_cities")


# ---------------------------------------------------------------------------------------------
# BTS dot1
# ---------------------------------------------------------------------------------------------

class TestDot1:
    def test_fixture_is_crlf(self):
        assert b"\r\n" in (FIXTURES / "bts_dot1_201501" / FILES["bts_dot1_201501"]).read_bytes()

    def test_codes_stay_strings_and_no_stray_cr(self):
        t = fixture("bts_dot1_201501")
        r = row(t, 1)
        assert r["port_code"] == "0712" and r["district_code"] == "07"
        assert r["trade_type"] == "1" and r["flow"] == "export"
        assert r["mode_code"] == "5" and r["mode"] == "truck"
        assert r["country_code"] == "1220" and r["partner_country_iso3"] == "CAN"
        assert r["year"] == 2015 and r["month"] == 1
        assert r["period_start"] == pd.Timestamp("2015-01-01")
        assert not t.data.select_dtypes("string").apply(lambda c: c.str.contains("\r", na=False)).any().any()

    def test_port_levels(self):
        t = fixture("bts_dot1_201501")
        assert row(t, 1)["port_level"] == "port"
        assert row(t, 2)["port_level"] == "district"  # 09XX
        assert row(t, 6)["port_level"] == "low_value"  # 70XX
        assert t.notes["xx_port_rows"] == 2

    def test_mex_state_can_prov(self):
        t = fixture("bts_dot1_201501")
        assert row(t, 3)["mex_state"] == "NA"  # Nayarit, not missing
        assert pd.isna(row(t, 4)["mex_state"]) and row(t, 4)["mex_state_raw"] == "XX"
        assert pd.isna(row(t, 5)["mex_state"]) and row(t, 5)["mex_state_raw"] == ""
        assert pd.isna(row(t, 8)["can_prov"]) and row(t, 8)["can_prov_raw"] == "XX"
        assert row(t, 1)["can_prov"] == "XC"

    def test_values_df_and_weights(self):
        t = fixture("bts_dot1_201501")
        imp = row(t, 5)
        assert (imp["value_usd"], imp["shipping_weight_kg"], imp["freight_charges_usd"]) == (555555, 12345, 300)
        assert pd.isna(imp["df"]) and imp["flow"] == "import" and imp["partner_country_iso3"] == "MEX"
        assert pd.isna(row(t, 1)["shipping_weight_kg"])  # surface export: 0 = not collected
        assert row(t, 7)["shipping_weight_kg"] == 0  # vessel export: a real 0
        assert row(t, 8)["mode"] == "foreign_trade_zone"

    def test_unknown_codes_are_excluded_with_column_and_value(self):
        ex = excluded(fixture("bts_dot1_201501"))
        assert ex[9] == "TRDTYPE is not 1 (export) or 2 (import): '3'"
        assert ex[10] == "unknown DISAGMOT (mode) code: '2'"
        assert ex[11] == "COUNTRY is not 1220 (Canada) or 2010 (Mexico): '4000'"
        assert ex[12] == "VALUE is not a non-negative integer: '12.5'"

    def test_out_of_range_values_are_excluded_not_wrapped_or_a_crash(self, tmp_path):
        src = (FIXTURES / "bts_dot1_201501" / FILES["bts_dot1_201501"]).read_bytes()
        p = tmp_path / FILES["bts_dot1_201501"]
        p.write_bytes(src.replace(b",1220,4647,0,", b",1220,12345678901234567890,0,")  # row 1: VALUE
                      .replace(b",4879,10,82,2,X,01,", b",4879,10,82,2,X,13,")  # row 2: MONTH
                      .replace(b",123456,0,500,1,X,01,2015", b",123456,0,500,1,X,01,3000"))  # row 3: YEAR
        t = bts_dot1.read(p, "bts_dot1_201501")
        check_contract(t, "bts_dot1_201501")
        ex = excluded(t)
        assert len(ex) == 4 + 3
        assert ex[1] == "VALUE has more than 18 digits: '12345678901234567890'"
        assert ex[2] == "MONTH is not 1-12: '13'"
        assert ex[3] == "YEAR is outside 1678-2261: '3000'"

    def test_codes_no_step_groups_by_are_categorical(self):
        t = fixture("bts_dot1_201501")
        assert {c for c in t.data.columns if isinstance(t.data[c].dtype, pd.CategoricalDtype)} == set(
            bts_dot1.CATEGORICAL)
        # the trade step groups by these: categoricals would group by every category
        assert (t.data[["port_code", "partner_country_iso3", "flow", "mode"]].dtypes == "string[pyarrow]").all()

    def test_missing_column_is_source_error(self, tmp_path):
        p = tmp_path / FILES["bts_dot1_201501"]
        p.write_bytes(b"TRDTYPE,USASTATE\r\n1,AK\r\n")
        with pytest.raises(SourceError, match="missing column"):
            bts_dot1.read(p, "bts_dot1_201501")


# ---------------------------------------------------------------------------------------------
# Schedule D
# ---------------------------------------------------------------------------------------------

class TestScheduleD:
    def test_codes_and_order(self):
        t = fixture("bts_schedule_d")
        assert t.data["port_code"].tolist() == ["0101", "0712", "09XX", "2304", "2704", "70XX"]
        assert t.data["source_row"].tolist() == [1, 2, 3, 4, 5, 6]
        la = row(t, 5)
        assert (la["port_name"], la["district_name"], la["state"]) == ("Los Angeles", "Los Angeles, CA", "CA")
        assert pd.isna(row(t, 6)["state"])

    def test_duplicate_and_bad_entries_excluded(self, tmp_path):
        p = tmp_path / FILES["bts_schedule_d"]
        p.write_text('{"0101": {"port": "A", "district": "D", "state": "ME"},'
                     ' "0101": {"port": "B", "district": "D", "state": "ME"},'
                     ' "12": {"port": "C", "district": "D", "state": "ME"},'
                     ' "0102": "oops"}')
        t = bts_schedule_d.read(p, "bts_schedule_d")
        check_contract(t, "bts_schedule_d")
        assert row(t, 1)["port_name"] == "A"
        ex = excluded(t)
        assert "duplicate port code '0101'" in ex[2]
        assert "not 4 digits" in ex[3]
        assert "not an object" in ex[4]

    def test_not_an_object_is_source_error(self, tmp_path):
        p = tmp_path / FILES["bts_schedule_d"]
        p.write_text('[1, 2]')
        with pytest.raises(SourceError, match="expected a JSON object"):
            bts_schedule_d.read(p, "bts_schedule_d")


# ---------------------------------------------------------------------------------------------
# Texas ports
# ---------------------------------------------------------------------------------------------

class TestTexasPorts:
    def test_floats_with_dot_zero_become_exact_ints(self):
        t = fixture("bts_texas_ports")
        r = row(t, 3)
        assert r["value_usd"] == 91234567890 and r["freight_charges_usd"] == 9037428
        assert row(t, 2)["value_usd"] == 2925570076
        assert pd.isna(row(t, 2)["freight_charges_usd"])
        assert row(t, 4)["freight_charges_usd"] == 0

    def test_weights_kg_and_lb(self):
        t = fixture("bts_texas_ports")
        r = row(t, 3)
        assert r["weight_tonnes"] == pytest.approx(225323.77) and r["weight_klb"] == pytest.approx(496753.29)
        assert r["weight_klb"] / r["weight_tonnes"] == pytest.approx(2.2046, rel=1e-3)
        assert pd.isna(row(t, 4)["weight_tonnes"]) and pd.isna(row(t, 4)["weight_klb"])  # surface export

    def test_partner_flow_and_codes(self):
        t = fixture("bts_texas_ports")
        assert (t.data["partner_country_iso3"] == "MEX").all()
        r = row(t, 1)
        assert (r["year"], r["port_code"], r["port_name"], r["mode"], r["flow"]) == (
            1993, "2301", "Brownsville", "Mail (U.S. Postal Service)", "import")
        assert r["latitude"] == pytest.approx(25.95155) and r["longitude"] == pytest.approx(-97.40067)
        assert "1993" in t.notes["partial_years"]

    def test_fraction_and_unknown_trade_type_excluded(self):
        ex = excluded(fixture("bts_texas_ports"))
        assert ex == {6: "TradeValue is not a whole number of USD: '1234.5'",
                      7: "TradeType is not Export/Import: 'Transit'"}

    def test_whole_number_beyond_int64_is_excluded(self, tmp_path):
        p = tmp_path / FILES["bts_texas_ports"]
        p.write_text("Year,PortCode,Port,Mode,TradeType,TradeValue,Weight,FreightCharges,Region,Lat,Lon,WeightLb\n"
                     "2015,2304,Laredo,Truck,Export,99999999999999999999.0,,,South,27.5,-99.5,\n"
                     "2015,2304,Laredo,Truck,Import,999999999999999999.0,,,South,27.5,-99.5,\n")
        t = bts_texas_ports.read(p, "bts_texas_ports")
        check_contract(t, "bts_texas_ports")
        assert excluded(t) == {1: "TradeValue has more than 18 digits: '99999999999999999999.0'"}
        assert row(t, 2)["value_usd"] == 999999999999999999


# ---------------------------------------------------------------------------------------------
# ITA metro exports
# ---------------------------------------------------------------------------------------------

class TestItaExports:
    def test_fixture_has_bom_and_trailing_space(self):
        raw = (FIXTURES / "ita_metro_exports" / FILES["ita_metro_exports"]).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf") and b"crosstab only) ," in raw

    def test_wide_to_long(self):
        t = fixture("ita_metro_exports")
        assert len(t.data) == 7 * 10
        assert t.data.groupby("source_row").size().eq(10).all()
        assert sorted(t.data["year"].unique()) == list(range(2012, 2022))
        assert t.data["source_row"].nunique() == t.rows_read == 7

    def test_whole_dollars_not_millions(self):
        t = fixture("ita_metro_exports")
        akron = t.data[(t.data["msa_name"] == "Akron, OH") & (t.data["year"] == 2012)].iloc[0]
        assert akron["value_usd"] == 3821459065 and not akron["rounded"] and not akron["suppressed"]

    def test_scientific_notation_flagged_rounded_exact(self):
        t = fixture("ita_metro_exports")
        h = t.data[t.data["msa_name"].str.startswith("Houston")].set_index("year")
        assert h.loc[2012, "value_usd"] == 110298000000 and h.loc[2012, "rounded"]
        assert h.loc[2012, "value_raw"] == "1.10298E+11"
        assert h.loc[2015, "value_usd"] == 140750000000
        assert h.loc[2018, "value_usd"] == 120000000000
        assert h.loc[2014, "value_usd"] == 97692369176 and not h.loc[2014, "rounded"]
        assert t.notes["rounded"] == 15 == int(t.data["rounded"].sum())

    def test_blank_is_suppressed(self):
        t = fixture("ita_metro_exports")
        a = t.data[t.data["msa_name"] == "Albany-Lebanon, OR"].set_index("year")
        assert a.loc[2012, "suppressed"] and pd.isna(a.loc[2012, "value_usd"]) and pd.isna(a.loc[2012, "value_raw"])
        assert not a.loc[2013, "suppressed"] and a.loc[2013, "value_usd"] == 460274194
        assert t.notes["suppressed"] == 14
        assert t.notes["metros_suppressed_every_year"] == ["Pascagoula, MS"]

    def test_pseudo_metros_kept_and_flagged(self):
        t = fixture("ita_metro_exports")
        pseudo = set(t.data.loc[t.data["is_pseudo_metro"], "msa_name"])
        assert pseudo == {"Z-Non Metropolitan Areas", "Z-Other Metropolitan Areas"}

    def test_wrong_unit_is_source_error_naming_row(self, tmp_path):
        src = (FIXTURES / "ita_metro_exports" / FILES["ita_metro_exports"]).read_bytes()
        p = tmp_path / FILES["ita_metro_exports"]
        p.write_bytes(src.replace(b'"Akron, OH",Millions of USD', b'"Akron, OH",Thousands of USD'))
        with pytest.raises(SourceError, match=r"ita_metro_exports, row 2\].*Thousands of USD") as err:
            ita_metro_exports.read(p, "ita_metro_exports")
        assert err.value.row == 2

    def test_unparseable_cell_excludes_the_metro_line(self, tmp_path):
        src = (FIXTURES / "ita_metro_exports" / FILES["ita_metro_exports"]).read_bytes()
        p = tmp_path / FILES["ita_metro_exports"]
        p.write_bytes(src.replace(b"66958002", b"n/a"))
        t = ita_metro_exports.read(p, "ita_metro_exports")
        check_contract(t, "ita_metro_exports")
        assert excluded(t) == {1: "2013 value is not a whole number: 'n/a'"}
        assert 1 not in set(t.data["source_row"])


# ---------------------------------------------------------------------------------------------
# Census CBSA
# ---------------------------------------------------------------------------------------------

class TestCensusCbsa:
    def test_preamble_and_footnotes_are_not_data(self):
        t = fixture("census_cbsa_2013")
        assert t.rows_read == 6
        assert t.notes["preamble_lines"] == 2
        assert t.notes["footnote_lines"] == 3
        assert t.notes["footnotes"][1] == "Internet Release Date: March 2013"
        assert not t.data["cbsa_code"].str.contains("Source|Internet", na=False).any()

    def test_codes_keep_leading_zeros(self):
        t = fixture("census_cbsa_2013")
        r = row(t, 3)
        assert (r["cbsa_code"], r["fips_state"], r["fips_county"]) == ("11500", "01", "015")
        assert row(t, 1)["fips_county"] == "013"
        assert pd.isna(r["metro_division_code"]) and pd.isna(r["csa_code"])
        la = row(t, 4)
        assert (la["metro_division_code"], la["csa_code"], la["area_type"]) == (
            "31084", "348", "Metropolitan Statistical Area")

    def test_bad_cbsa_code_excluded(self):
        assert excluded(fixture("census_cbsa_2013")) == {5: "CBSA Code is not 5 digits: '1010'"}

    def test_no_header_is_source_error(self, tmp_path):
        p = tmp_path / FILES["census_cbsa_2013"]
        p.write_text("a title\nCode,Title\n10100,Aberdeen\n")
        with pytest.raises(SourceError, match="no header line"):
            census_cbsa.read(p, "census_cbsa_2013")


# ---------------------------------------------------------------------------------------------
# Integration over the real mirror (only when RAW_MIRROR is set)
# ---------------------------------------------------------------------------------------------

RAW_MIRROR = os.environ.get("RAW_MIRROR")
SHA256 = {  # from SOURCES.md
    "climactor_dec2022": "d5ad88d76226e093d721bdb7e229f34cefa438366e2bf023eb2f786e91e26e97",
    "climactor_sep2022": "173abf86ceee11fd7ab0a9b1f58d1abb8fff42bcf64dc16d61644dc4e725e6c4",
    "climactor_country_dict": "c3b46cd4580ae5064c86e7a94065e207af0da9364a08950d84a70d4358d5bb52",
    "twin_cities": "e2d2e542f319fe45ddaf588b9cf6308c7fc17dbceb3c9b16c64fabfbbe7923c1",
    "bts_dot1_201501": "98581ad2509433caa85202c1776cb77120179d2571bcfae7315f2c4fb6f1b197",
    "bts_schedule_d": "12f1d9da3c2a134d9fa5759f1c6cf7974b792cff472454c4786b17b6fde0aba8",
    "bts_texas_ports": "24032939049f3b0bebd60f871030fc081075abd9100bd379fbf73080d1a146b3",
    "ita_metro_exports": "2d6b9a6f74275f992aa57e9e619b47f467944379c310280653bb7cd3ec75397a",
    "census_cbsa_2013": "17620e1f8951bd27130336295aba6d1e939755b02f9ec4c57723df18436b83b6",
}


@pytest.mark.skipif(not RAW_MIRROR, reason="RAW_MIRROR not set: integration over the real mirror skipped")
class TestRawMirror:
    _cache: dict[str, SourceTable] = {}

    def real(self, source_id: str) -> SourceTable:
        if source_id not in self._cache:
            path = Path(RAW_MIRROR) / FILES[source_id]
            self._cache[source_id] = READERS[source_id](path, source_id)
        return self._cache[source_id]

    @pytest.mark.parametrize("source_id", sorted(s for s in FILES if s in SHA256))  # single files; sets: fetch tests
    def test_sha256_and_contract(self, source_id):
        path = Path(RAW_MIRROR) / FILES[source_id]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == SHA256[source_id]
        check_contract(self.real(source_id), source_id)

    @pytest.mark.parametrize("source_id, rows", [
        ("climactor_dec2022", 14_706), ("climactor_sep2022", 14_833), ("climactor_country_dict", 559),
        ("twin_cities", 26_114), ("bts_dot1_201501", 26_171), ("bts_texas_ports", 2_335),
        ("ita_metro_exports", 402), ("census_cbsa_2013", 1_882),
    ])
    def test_rows_read(self, source_id, rows):
        assert self.real(source_id).rows_read == rows

    @pytest.mark.parametrize("source_id", ["climactor_dec2022", "climactor_sep2022"])
    def test_fujikawa(self, source_id):
        t = self.real(source_id)
        fuji = t.data[t.data["name"] == "Fujikawa"]
        assert len(fuji) == 1
        assert fuji.iloc[0]["state"] == "Shizuoka Prefecture"
        assert fuji.iloc[0]["admin_1"] == "Shizuoka Prefecture"
        assert t.notes["non_utf8_bytes_decoded"] == 6
        assert len(t.exclusions) == 0

    def test_climactor_entity_types(self):
        t = self.real("climactor_dec2022")
        assert t.data["entity_type_raw"].value_counts().to_dict() == {"City": 14380, "Region": 324, "city": 1, "NA": 1}
        assert t.data["entity_type"].value_counts().to_dict() == {"City": 14381, "Region": 324}
        assert t.data["entity_type"].isna().sum() == 1

    def test_country_dict_namibia(self):
        t = self.real("climactor_country_dict")
        assert t.data.loc[t.data["iso"] == "NAM", "iso2"].tolist() == ["NA"]

    def test_twin_cities(self):
        t = self.real("twin_cities")
        reasons = t.exclusions["reason"]
        assert (reasons == "self-pair").sum() == 3
        assert t.notes["country_from_city_field"] == 3
        varna = t.data[t.data["city2_raw"] == "Varna, Bulgaria"]
        assert len(varna) == 3 and (varna["country2"] == "Bulgaria").all() and (varna["city2"] == "Varna").all()
        # the two other empty-country2 rows name a territory, not "City, Country"
        assert len(t.exclusions) == 5

    def test_dot1(self):
        t = self.real("bts_dot1_201501")
        assert len(t.exclusions) == 0
        assert t.data["port_code"].str.endswith("XX").sum() == 4_853
        assert (t.data["port_code"] == "0712").any()
        assert set(t.data["partner_country_iso3"]) == {"CAN", "MEX"}
        assert (t.data["mex_state"] == "NA").sum() == 27  # Nayarit

    def test_schedule_d(self):
        t = self.real("bts_schedule_d")
        la = t.data[t.data["port_code"] == "2704"].iloc[0]
        assert (la["port_name"], la["state"]) == ("Los Angeles", "CA")

    def test_texas(self):
        t = self.real("bts_texas_ports")
        assert len(t.exclusions) == 0
        assert t.data["year"].min() == 1993
        assert t.notes["weight_klb_per_tonne_median"] == pytest.approx(2.2046, abs=1e-4)

    def test_ita(self):
        t = self.real("ita_metro_exports")
        assert t.data["source_row"].nunique() == 402 and len(t.exclusions) == 0
        assert int(t.data["rounded"].sum()) == 21
        assert int(t.data["suppressed"].sum()) == 150
        akron = t.data[(t.data["msa_name"] == "Akron, OH") & (t.data["year"] == 2012)]
        assert akron["value_usd"].tolist() == [3821459065]
        hou = t.data[(t.data["value_raw"] == "1.10298E+11")]
        assert hou["value_usd"].tolist() == [110298000000]
        assert t.data["is_pseudo_metro"].sum() == 20

    def test_census(self):
        t = self.real("census_cbsa_2013")
        assert t.notes["footnote_lines"] == 3 and t.notes["preamble_lines"] == 2
        assert len(t.exclusions) == 0
        assert t.data["cbsa_code"].str.fullmatch(r"\d{5}").all()
        assert t.data["fips_county"].str.fullmatch(r"\d{3}").all()
