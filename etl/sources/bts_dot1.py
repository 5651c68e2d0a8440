"""Reader for BTS TransBorder Freight Data table 1: one file (``dot1_0115.csv``, January 2015) or a
set of files (``dot1_MMYY.csv`` one a month; ``dot1_YYYY.csv`` one a year).

Files of a set are read one by one and stacked: each row keeps ``source_file`` (its file's base
name) and ``source_row`` (1-based in that file). Columns are taken by header name: the annual
files have another column order and no MONTH (their rows get ``month`` <NA> and the year as the
period). A file whose valid MONTH/YEAR disagree with its name (``dot1_0323.csv`` must hold March
2023 only; checked for the files of a set, where the name is the partition) is a SourceError
naming the file and row: a mislabelled month would be counted twice.
A truncated file (a last row cut short) is a SourceError naming the file (read_csv_text).

One row per trade type x US state x Schedule D port x mode x Mexican state/Canadian province;
port totals are sums over rows.

Quirks handled, and why:

* CRLF line endings (the CSV parser handles them; no value keeps a stray "\\r").
* Every column is read as a string first, with ``keep_default_na=False``: codes keep their
  leading zeros (DEPE "0712", MONTH "01"), and MEXSTATE "NA" (Nayarit, 27 rows in the real
  file, not in SOURCES.md) is not read as missing.
* Port codes ending "XX" are district-level "not elsewhere classified" rows
  (``port_level="district"``), except "70XX", the low-value aggregate, which is not a place
  (``port_level="low_value"``); 4-digit codes are ``port_level="port"``.
* Blank or "XX" Mexican state / Canadian province codes -> <NA> (raw kept in
  ``mex_state_raw`` / ``can_prov_raw``). "OT" (other) is kept as a code.
* DF (domestic/foreign) is blank for imports -> <NA>.
* SHIPWT is 0 on every export by a surface mode (truck, rail, pipeline, mail, other: 13,195
  rows in the real file, not in SOURCES.md): BTS does not collect shipping weight for those
  exports, so the 0 means "not collected" and is read as <NA> (``notes`` counts it). A 0 on
  any other row (vessel/air exports, imports) is kept as 0.
* ``period_start`` is the first day of the data month as ``datetime64[ns]`` (midnight), so
  it writes as a date and compares as a timestamp.

Exclusions (the reason names the column and value; several reasons are joined with "; "):
TRDTYPE not 1/2, COUNTRY not 1220/2010, unknown DISAGMOT, a malformed DEPE, a blank or
non-integer VALUE, a non-integer SHIPWT/FREIGHT_CHARGES, an integer of 19+ digits (beyond
Int64), a bad MONTH/YEAR (also a year outside 1678-2261, which datetime64[ns] cannot hold).

Codes are Arrow-backed strings ("string[pyarrow]"), integers are parsed by Arrow and every
check is vectorised: Python runs only per excluded row (its reason), so memory and time grow
with the file's bytes (the 100x benchmark, issue #10). Code columns no later step reads are
categoricals (``CATEGORICAL``: a byte a row where a short string costs ~10); the columns the
trade step groups by stay strings (a categorical key would group by every category).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .base import SourceTable, digits_to_int64, empty_exclusions, join_reasons, make_exclusions, reason_on
from .bts_files import (FLOWS, MODES, MONTH_PATTERN, PARTNERS, PORT_PATTERN, SURFACE_MODES, TEXT, YEARS,  # noqa: F401
                        RawFiles, blank_to_null, category, check_file_periods, digits, equals, excluded_rows,
                        expected_period, integers, is_file_set, isin, map_values, month_starts, months, port_codes,
                        read_raw_files, stripped, text, to_int)

COLUMNS = ["TRDTYPE", "USASTATE", "DEPE", "DISAGMOT", "MEXSTATE", "CANPROV", "COUNTRY", "VALUE", "SHIPWT",
           "FREIGHT_CHARGES", "DF", "CONTCODE", "MONTH", "YEAR"]
CATEGORICAL = ["trade_type", "us_state", "port_level", "district_code", "mode_code", "mex_state", "mex_state_raw",
               "can_prov", "can_prov_raw", "country_code", "df", "cont_code"]
OUTPUT_DTYPES = {
    "source_file": TEXT, "source_row": "Int64", "trade_type": "category", "flow": TEXT, "us_state": "category",
    "port_code": TEXT, "port_level": "category", "district_code": "category", "mode_code": "category",
    "mode": TEXT, "mex_state": "category", "mex_state_raw": "category", "can_prov": "category",
    "can_prov_raw": "category", "country_code": "category", "partner_country_iso3": TEXT,
    "value_usd": "Int64", "shipping_weight_kg": "Int64", "freight_charges_usd": "Int64", "df": "category",
    "cont_code": "category", "year": "Int64", "month": "Int64", "period_start": "datetime64[ns]",
}
FIGURES = ["VALUE", "SHIPWT", "FREIGHT_CHARGES"]


def _strip(col: pd.Series) -> pd.Series:
    """``col.str.strip()``, or ``col`` itself when no value changes (no second copy of the column)."""
    values = pa.array(col)
    trimmed = pc.utf8_trim_whitespace(values)
    return col if trimmed.equals(values) else pd.Series(pd.arrays.ArrowStringArray(trimmed), index=col.index)


def code_reasons(s: dict[str, pd.Series]) -> list[pd.Series]:
    """Exclusion reasons for the code columns dot1 and dot3 share: trade type, partner, mode, port."""
    return [
        reason_on(~s["TRDTYPE"].isin(list(FLOWS)), "TRDTYPE is not 1 (export) or 2 (import): ", s["TRDTYPE"]),
        reason_on(~s["COUNTRY"].isin(list(PARTNERS)), "COUNTRY is not 1220 (Canada) or 2010 (Mexico): ", s["COUNTRY"]),
        reason_on(~s["DISAGMOT"].isin(list(MODES)), "unknown DISAGMOT (mode) code: ", s["DISAGMOT"]),
        reason_on(~s["DEPE"].str.fullmatch(PORT_PATTERN), "DEPE is not a Schedule D port code: ", s["DEPE"]),
    ]


def flag_codes(s: dict[str, pa.ChunkedArray]) -> np.ndarray:
    """Rows whose shared codes or figures fail a check (the fast superset of ``code_reasons`` and the
    figure reasons)."""
    ok = (isin(s["TRDTYPE"], FLOWS) & isin(s["COUNTRY"], PARTNERS) & isin(s["DISAGMOT"], MODES)
          & port_codes(s["DEPE"]) & digits(s["VALUE"]) & digits(s["SHIPWT"], 0) & digits(s["FREIGHT_CHARGES"], 0)
          & digits(s["YEAR"], 4, 4))
    return ~ok


def figures(s: dict[str, pa.ChunkedArray], keep: np.ndarray) -> dict[str, pa.ChunkedArray]:
    """VALUE, SHIPWT, FREIGHT_CHARGES, MONTH and YEAR as int64 (null where blank) on the kept rows."""
    out = {}
    for c in [*FIGURES, "MONTH", "YEAR"]:
        values = s[c].filter(pa.array(keep))
        out[c] = to_int(values, digits(values))
    return out


def _reasons(raw: pd.DataFrame, annual_files: list[str]) -> pd.Series:
    """The reason of each excluded row among ``raw`` (flagged rows' raw text), indexed by position."""
    s = {c: _strip(raw[c]) for c in COLUMNS}
    year = digits_to_int64(s["YEAR"])
    year_ok = s["YEAR"].str.fullmatch(r"\d{4}")
    annual = (s["MONTH"] == "").to_numpy(dtype=bool) & raw["source_file"].isin(annual_files).to_numpy(dtype=bool)
    month_ok = s["MONTH"].str.fullmatch(MONTH_PATTERN) | annual
    return join_reasons([
        *code_reasons(s),
        reason_on(~s["VALUE"].str.fullmatch(r"\d+"), "VALUE is not a non-negative integer: ", s["VALUE"]),
        reason_on(~s["SHIPWT"].str.fullmatch(r"\d*"), "SHIPWT is not an integer: ", s["SHIPWT"]),
        reason_on(~s["FREIGHT_CHARGES"].str.fullmatch(r"\d*"), "FREIGHT_CHARGES is not an integer: ",
                  s["FREIGHT_CHARGES"]),
        *[reason_on(s[c].str.fullmatch(r"\d{19,}"), f"{c} has more than 18 digits: ", s[c]) for c in FIGURES],
        reason_on(~month_ok, "MONTH is not 1-12: ", s["MONTH"]),
        reason_on(~year_ok, "YEAR is not a 4-digit year: ", s["YEAR"]),
        reason_on(year_ok & ~year.between(*YEARS).fillna(False), f"YEAR is outside {YEARS[0]}-{YEARS[1]}: ",
                  s["YEAR"]),
    ])


def flag_period(s: dict[str, pa.ChunkedArray], annual_file: np.ndarray) -> np.ndarray:
    """Rows whose MONTH is not 1-12 (blank is fine in an annual file) or whose YEAR is out of range."""
    month_ok = months(s["MONTH"]) | (equals(s["MONTH"], "") & annual_file)
    year = to_int(s["YEAR"], digits(s["YEAR"], 4, 4))
    year_in = pc.fill_null(pc.and_(pc.greater_equal(year, YEARS[0]), pc.less_equal(year, YEARS[1])), False)
    return ~(month_ok & year_in.to_numpy())


def read(path, source_id: str) -> SourceTable:
    raw = read_raw_files(path, source_id, COLUMNS)
    n = raw.num_rows
    s = stripped(raw, COLUMNS)
    annual_files = [f for f in raw.file_names if (expected_period(f) or (0, 0))[1] is None]
    flagged = flag_codes(s) | flag_period(s, raw.annual_file())
    bad, reason, bad_raw = excluded_rows(raw, flagged, lambda sub: _reasons(sub, annual_files))
    keep = ~bad
    ints = figures(s, keep)
    # In a set (a list of files: the name is the partition) every kept row must match its file's name.
    # A single file is not held to its name (the bench's 10x/100x copies of dot1_0115.csv shift months
    # inside it on purpose).
    if is_file_set(path):
        check_file_periods(raw, keep, ints["YEAR"], ints["MONTH"], source_id)

    k = {c: v.filter(pa.array(keep)) for c, v in s.items()}
    raw_kept = {c: raw.table[c].filter(pa.array(keep)) for c in ["MEXSTATE", "CANPROV"]}
    port = k["DEPE"]
    port_level = pd.Categorical.from_codes(  # categories sorted, as astype("category") gives
        np.where(equals(port, "70XX"), 1, np.where(pc.ends_with(port, "XX").to_numpy(), 0, 2)),
        categories=pd.Index(["district", "low_value", "port"], dtype="string"))
    not_collected = (equals(k["TRDTYPE"], "1") & isin(k["DISAGMOT"], SURFACE_MODES) & equals(k["SHIPWT"], "0"))
    weight = pc.if_else(pa.array(not_collected), pa.scalar(None, pa.int64()), ints["SHIPWT"])
    rows = np.flatnonzero(keep)
    data = pd.DataFrame({
        "source_file": raw.source_files(rows),
        "source_row": pd.array(raw.source_row[rows], dtype="Int64"),
        "trade_type": category(k["TRDTYPE"]),
        "flow": text(map_values(k["TRDTYPE"], FLOWS)),
        "us_state": category(blank_to_null(k["USASTATE"])),
        "port_code": text(port),
        "port_level": pd.Series(port_level),
        "district_code": category(pc.utf8_slice_codeunits(port, 0, 2)),
        "mode_code": category(k["DISAGMOT"]),
        "mode": text(map_values(k["DISAGMOT"], MODES)),
        "mex_state": category(blank_to_null(k["MEXSTATE"], "", "XX")),
        "mex_state_raw": category(raw_kept["MEXSTATE"]),
        "can_prov": category(blank_to_null(k["CANPROV"], "", "XX")),
        "can_prov_raw": category(raw_kept["CANPROV"]),
        "country_code": category(k["COUNTRY"]),
        "partner_country_iso3": text(map_values(k["COUNTRY"], PARTNERS)),
        "value_usd": integers(ints["VALUE"]),
        "shipping_weight_kg": integers(weight),
        "freight_charges_usd": integers(ints["FREIGHT_CHARGES"]),
        "df": category(blank_to_null(k["DF"])),
        "cont_code": category(blank_to_null(k["CONTCODE"])),
        "year": integers(ints["YEAR"]),
        "month": integers(ints["MONTH"]),
        "period_start": pd.Series(month_starts(ints["YEAR"], ints["MONTH"])),
    }, copy=False)
    exclusions = make_exclusions(source_id, bad_raw, reason) if bad.any() else empty_exclusions()
    notes = {
        "port_level_counts": {k_: int(v) for k_, v in data["port_level"].value_counts().items()},
        "xx_port_rows": int(data["port_code"].str.endswith("XX").sum()),
        "mex_state_blank_or_xx": int(data["mex_state"].isna().sum() - (data["partner_country_iso3"] == "CAN").sum()),
        "can_prov_blank_or_xx": int(data["can_prov"].isna().sum() - (data["partner_country_iso3"] == "MEX").sum()),
        "mex_state_na_nayarit": int((data["mex_state"] == "NA").sum()),
        "export_weight_zero_as_not_collected": int(not_collected.sum()),
    }
    return SourceTable(source_id=source_id, rows_read=n, data=data, exclusions=exclusions, notes=notes)
