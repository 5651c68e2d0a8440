"""The bench's input inflation: shape-preserving (readers see exactly F times the rows), deterministic.

No timings are asserted here: the bench measures, it does not pass or fail on speed.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd
import pytest

from etl.bench.inflate import INFLATION, REPEAT, SHIFT_MONTHS, inflate_file, inflate_sources, split_header
from etl.sources import READERS

DOT1_HEADER = (b"TRDTYPE,USASTATE,DEPE,DISAGMOT,MEXSTATE,CANPROV,COUNTRY,VALUE,SHIPWT,FREIGHT_CHARGES,DF,CONTCODE,"
               b"MONTH,YEAR\r\n")
DOT1_ROWS = (
    b"1,AK,0712,5,,XC,1220,48324,0,4658,1,X,01,2015\r\n"
    b"2,TX,2304,5,TM,,2010,1000,12,0,,X,11,2015\r\n"
    b"2,TX,23XX,6,OT,,2010,50,3,0,,X,12,2015\r\n"
    b"2,TX,2304,5,TM,,9999,7,1,0,,X,12,2015\r\n"  # unknown COUNTRY: an exclusion in every copy
)
TWIN = ("city1,country1,city2,country2\n"
        "Berat,Albania,Bağcılar,Turkey\n"
        "Coventry,England,Varna, Bulgaria\n"
        "Varna,Bulgaria,\"Varna, Bulgaria\",\n"  # self-pair once the country is taken from city2
        "Encino (Los Angeles),\"California, United States\",Setagaya (Tokyo),Japan\n").encode()
ITA = ("\ufeffMSA Full Name,Unit (Valid for crosstab only) ,2012,2013\n"
       "\"Akron, OH\",Millions of USD,3821459065,1.10298E+11\n"
       "\"Pascagoula, MS\",Millions of USD,,\n").encode()
TEXAS = (b"Year,PortCode,Port,Mode,TradeType,TradeValue,Weight,FreightCharges,Region,Lat,Lon,WeightLb\n"
         b"2015,2304,Laredo,Truck,Import,10389.0,197170.29,12.0,Laredo,27.5,-99.5,434682.12\n"
         b"1993,2402,El Paso,Rail,Export,55.0,,0.0,El Paso,31.4,-106.1,\n")
CLIMACTOR = (b'"name","iso","entity_type","country","area","num_commit","lat","lng","population",'
             b'"population_year","state","admin_1","initiatives_committed","region"\n'
             b'"Fujikawa","JPN","City","Japan","NA",1,35.1,138.6,15000,2015,"Shizuoka\xcaPrefecture",'
             b'"Shizuoka\xcaPrefecture","GCoM2022","East Asia"\n'
             b'"Los Angeles, CA","USA","city","United States of America","1,302.00",2,34.05,-118.24,'
             b'"2e+05",0,"California","California","ClimateMayors2019;;RacetoZero2020","North America"\n')

FIXTURES = {  # source id -> (file name, bytes): tiny files carrying each reader's quirks
    "bts_dot1_201501": ("dot1_0115.csv", DOT1_HEADER + DOT1_ROWS),
    "twin_cities": ("twin_cities_raw.csv", TWIN),
    "ita_metro_exports": ("exports_ita.csv", ITA),
    "bts_texas_ports": ("texas_mexico_ports.csv", TEXAS),
    "climactor_dec2022": ("subnational_contextuals_database_Dec2022.csv", CLIMACTOR),
}


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "src" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_inflated_source_has_a_reader_and_a_rule():
    assert set(INFLATION) <= set(READERS)
    assert set(INFLATION.values()) <= {REPEAT, SHIFT_MONTHS}


@pytest.mark.parametrize("rule", [REPEAT, SHIFT_MONTHS])
def test_factor_one_is_the_file_unchanged(tmp_path, rule):
    src = _write(tmp_path, "dot1_0115.csv", DOT1_HEADER + DOT1_ROWS)
    dst = tmp_path / "out.csv"
    assert inflate_file(src, dst, 1, rule) == 4
    assert dst.read_bytes() == src.read_bytes()


def test_repeat_keeps_header_once_and_body_bytes_exactly(tmp_path):
    src = _write(tmp_path, "c.csv", CLIMACTOR)
    dst = tmp_path / "out.csv"
    assert inflate_file(src, dst, 3, REPEAT) == 6
    header, body = split_header(CLIMACTOR)
    assert dst.read_bytes() == header + body * 3
    assert dst.read_bytes().count(b"\xca") == 3 * CLIMACTOR.count(b"\xca")  # the stray byte survives


def test_a_missing_final_line_ending_is_added_in_the_file_style():
    header, body = split_header(b"a,b\r\n1,2\r\n3,4")
    assert body == b"1,2\r\n3,4\r\n"
    with pytest.raises(ValueError):
        split_header(b"no line ending")


def test_shift_months_moves_each_copy_one_month_and_keeps_other_fields(tmp_path):
    src = _write(tmp_path, "dot1_0115.csv", DOT1_HEADER + DOT1_ROWS)
    dst = tmp_path / "out.csv"
    assert inflate_file(src, dst, 3, SHIFT_MONTHS) == 12
    lines = dst.read_bytes().split(b"\r\n")[1:-1]
    assert all(b"\n" not in line for line in lines)  # CRLF kept, no bare LF
    rows = [line.split(b",") for line in lines]
    months_years = [(r[12], r[13]) for r in rows]
    assert months_years[:4] == [(b"01", b"2015"), (b"11", b"2015"), (b"12", b"2015"), (b"12", b"2015")]
    assert months_years[4:8] == [(b"02", b"2015"), (b"12", b"2015"), (b"01", b"2016"), (b"01", b"2016")]
    assert months_years[8:] == [(b"03", b"2015"), (b"01", b"2016"), (b"02", b"2016"), (b"02", b"2016")]
    assert [r[:12] for r in rows[4:8]] == [r[:12] for r in rows[:4]]


def test_shift_months_leaves_unparseable_months_alone(tmp_path):
    src = _write(tmp_path, "d.csv", DOT1_HEADER + b"1,AK,0712,5,,XC,1220,1,0,0,1,X,13,2015\r\n")
    dst = tmp_path / "out.csv"
    inflate_file(src, dst, 2, SHIFT_MONTHS)
    assert dst.read_bytes().count(b",13,2015\r\n") == 2


def test_inflation_is_deterministic(tmp_path):
    paths = {sid: _write(tmp_path, name, data) for sid, (name, data) in FIXTURES.items()}
    a = inflate_sources(paths, 4, tmp_path / "a")
    b = inflate_sources(paths, 4, tmp_path / "b")
    assert {sid: _sha(p) for sid, p in a.items()} == {sid: _sha(p) for sid, p in b.items()}


def _assert_scaled(sid: str, base, big, factor: int) -> None:
    assert big.rows_read == factor * base.rows_read, sid
    assert len(big.data) == factor * len(base.data), sid
    assert len(big.exclusions) == factor * len(base.exclusions), sid
    # Same reasons, each F times as often: the quirks are preserved, not smoothed away.
    if len(base.exclusions):
        assert (big.exclusions["reason"].value_counts().sort_index()
                == factor * base.exclusions["reason"].value_counts().sort_index()).all(), sid


@pytest.mark.parametrize("sid", sorted(FIXTURES))
def test_readers_see_exactly_factor_times_the_rows(tmp_path, sid):
    name, data = FIXTURES[sid]
    src = _write(tmp_path, name, data)
    base = READERS[sid](src, sid)
    assert len(base.data) > 0
    big_path = inflate_sources({sid: src}, 5, tmp_path / "x5")[sid]
    big = READERS[sid](big_path, sid)
    _assert_scaled(sid, base, big, 5)
    if INFLATION[sid] == SHIFT_MONTHS:
        expected = {p + pd.DateOffset(months=k) for p in base.data["period_start"] for k in range(5)}
        assert set(big.data["period_start"]) == expected
        first = big.data[big.data["source_row"] <= base.rows_read].drop(columns="source_row").reset_index(drop=True)
        pd.testing.assert_frame_equal(first, base.data.drop(columns="source_row").reset_index(drop=True))


def test_lookups_are_not_inflated(tmp_path):
    src = _write(tmp_path, "schedule_d_port_codes.json", b'{"2704": {"port": "Los Angeles"}}')
    out = inflate_sources({"bts_schedule_d": src}, 10, tmp_path / "x10")
    assert out == {"bts_schedule_d": src}


@pytest.mark.skipif(not os.environ.get("RAW_MIRROR"), reason="RAW_MIRROR not set: no real files to inflate")
def test_mirror_files_inflate_exactly(tmp_path):
    from etl.bench.inflate import mirror_paths
    sources = mirror_paths(Path(os.environ["RAW_MIRROR"]))
    inflated = inflate_sources(sources, 2, tmp_path)
    from etl.sources import AUTHORITY_READERS
    readers = {**READERS, **AUTHORITY_READERS}  # place authorities are read by the ladder, not by the steps
    for sid, path in inflated.items():
        base = readers[sid](sources[sid], sid)
        big = readers[sid](path, sid)
        _assert_scaled(sid, base, big, 2 if sid in INFLATION else 1)
    dot1 = READERS["bts_dot1_201501"](inflated["bts_dot1_201501"], "bts_dot1_201501").data
    assert sorted(dot1["period_start"].dt.strftime("%Y-%m").unique()) == ["2015-01", "2015-02"]


def test_worker_spec_keeps_file_sets_as_lists():
    """A source that is a set of files (a month each) must reach the worker's build as a list:
    written as one string it named no file at all and every scale run failed."""
    import json
    from pathlib import Path
    from etl.bench.scale import paths_from_json, paths_to_json
    paths = {"twin_cities": Path("/m/twin_cities_raw.csv"),
             "wikidata_twins_2017": [Path("/m/uk.tsv"), Path("/m/italy.tsv")]}
    back = paths_from_json(json.loads(json.dumps(paths_to_json(paths))))
    assert back == paths and isinstance(back["wikidata_twins_2017"], list)
