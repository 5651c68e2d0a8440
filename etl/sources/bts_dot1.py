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

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .base import (SourceError, SourceTable, digits_to_int64, empty_exclusions, join_reasons, make_exclusions, number_rows,
                   read_csv_text, reason_on, require_columns)

COLUMNS = ["TRDTYPE", "USASTATE", "DEPE", "DISAGMOT", "MEXSTATE", "CANPROV", "COUNTRY", "VALUE", "SHIPWT",
           "FREIGHT_CHARGES", "DF", "CONTCODE", "MONTH", "YEAR"]
FLOWS = {"1": "export", "2": "import"}
PARTNERS = {"1220": "CAN", "2010": "MEX"}
MODES = {"1": "vessel", "3": "air", "4": "mail", "5": "truck", "6": "rail", "7": "pipeline", "8": "other",
         "9": "foreign_trade_zone"}
# Export modes for which BTS does not collect shipping weight (reported as 0).
SURFACE_MODES = ["4", "5", "6", "7", "8"]
YEARS = (1678, 2261)  # whole years datetime64[ns] can hold
TEXT = "string[pyarrow]"
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






def _strip(col: pd.Series) -> pd.Series:
    """``col.str.strip()``, or ``col`` itself when no value changes (no second copy of the column)."""
    values = pa.array(col)
    stripped = pc.utf8_trim_whitespace(values)
    return col if stripped.equals(values) else pd.Series(pd.arrays.ArrowStringArray(stripped), index=col.index)





MONTHLY_NAME = re.compile(r"[a-z]+\d?_(0[1-9]|1[0-2])(\d\d)\.csv")  # dot1_0323.csv: March 2023
ANNUAL_NAME = re.compile(r"[a-z]+\d?_(\d{4})\.csv")  # dot1_2021.csv


def expected_period(file_name: str) -> tuple[int, int | None] | None:
    """(year, month) a file's name promises (month None for an annual file), or None (no promise)."""
    if m := MONTHLY_NAME.fullmatch(file_name):
        return 2000 + int(m.group(2)), int(m.group(1))
    if m := ANNUAL_NAME.fullmatch(file_name):
        return int(m.group(1)), None
    return None


def is_file_set(paths) -> bool:
    return not isinstance(paths, (str, Path))


def read_raw_files(paths, source_id: str, columns: list[str]) -> pd.DataFrame:
    """Every file's cells as text, by header name, stacked: ``source_file``, ``source_row`` (per file)
    and ``columns``; a file without MONTH (annual) gets MONTH "" on every row."""
    frames = []
    for path in ([Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]):
        raw = read_csv_text(path, source_id)
        raw.columns = [c.strip() for c in raw.columns]
        annual = "MONTH" not in raw.columns
        require_columns(raw, [c for c in columns if not (annual and c == "MONTH")], source_id, path.name)
        if annual:
            raw["MONTH"] = pd.Series("", index=raw.index, dtype=TEXT)
        raw = number_rows(raw[columns])
        raw.insert(0, "source_file", pd.Series(path.name, index=raw.index, dtype=TEXT))
        frames.append(raw)
    if not frames:
        raise SourceError(source_id, "the source has no files")
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def check_file_periods(raw: pd.DataFrame, year: pd.Series, month: pd.Series, source_id: str) -> None:
    """A row whose MONTH/YEAR disagree with its file's name stops the read (file and row named)."""
    promises = {str(f): expected_period(str(f)) for f in pd.unique(raw["source_file"])}
    want_year = raw["source_file"].map({f: p[0] for f, p in promises.items() if p}).astype("Int64")
    want_month = raw["source_file"].map({f: p[1] for f, p in promises.items() if p and p[1]}).astype("Int64")
    wrong = (year.ne(want_year).fillna(False) | month.ne(want_month).fillna(False)).to_numpy(dtype=bool)
    if wrong.any():
        r = raw.iloc[int(wrong.argmax())]
        p = promises[str(r["source_file"])]
        want = f"{p[0]}-{p[1]:02d}" if p[1] else str(p[0])
        raise SourceError(source_id, f"{r['source_file']} row {int(r['source_row'])}: MONTH/YEAR "
                          f"{r['MONTH']!r}/{r['YEAR']!r} disagree with the file name ({want})", int(r["source_row"]))


def code_reasons(s: dict[str, pd.Series]) -> list[pd.Series]:
    """Exclusion reasons for the code columns dot1 and dot3 share: trade type, partner, mode, port."""
    return [
        reason_on(~s["TRDTYPE"].isin(list(FLOWS)), "TRDTYPE is not 1 (export) or 2 (import): ", s["TRDTYPE"]),
        reason_on(~s["COUNTRY"].isin(list(PARTNERS)), "COUNTRY is not 1220 (Canada) or 2010 (Mexico): ", s["COUNTRY"]),
        reason_on(~s["DISAGMOT"].isin(list(MODES)), "unknown DISAGMOT (mode) code: ", s["DISAGMOT"]),
        reason_on(~s["DEPE"].str.fullmatch(r"\d{4}|\d{2}XX"), "DEPE is not a Schedule D port code: ", s["DEPE"]),
    ]


def read(path, source_id: str) -> SourceTable:
    raw = read_raw_files(path, source_id, COLUMNS)
    n = len(raw)
    s = {c: _strip(raw[c]) for c in COLUMNS}
    ints = {c: digits_to_int64(s[c]) for c in ["VALUE", "SHIPWT", "FREIGHT_CHARGES", "MONTH", "YEAR"]}
    year, month = ints["YEAR"], ints["MONTH"]
    year_ok = s["YEAR"].str.fullmatch(r"\d{4}")
    annual_files = [f for f in pd.unique(raw["source_file"]) if (expected_period(str(f)) or (0, 0))[1] is None]
    annual = (s["MONTH"] == "").to_numpy(dtype=bool) & raw["source_file"].isin(annual_files).to_numpy(dtype=bool)
    month_ok = s["MONTH"].str.fullmatch(r"0?[1-9]|1[0-2]") | annual

    reasons = [
        *code_reasons(s),
        reason_on(~s["VALUE"].str.fullmatch(r"\d+"), "VALUE is not a non-negative integer: ", s["VALUE"]),
        reason_on(~s["SHIPWT"].str.fullmatch(r"\d*"), "SHIPWT is not an integer: ", s["SHIPWT"]),
        reason_on(~s["FREIGHT_CHARGES"].str.fullmatch(r"\d*"), "FREIGHT_CHARGES is not an integer: ",
                s["FREIGHT_CHARGES"]),
        *[reason_on(s[c].str.fullmatch(r"\d{19,}"), f"{c} has more than 18 digits: ", s[c])
          for c in ["VALUE", "SHIPWT", "FREIGHT_CHARGES"]],
        reason_on(~month_ok, "MONTH is not 1-12: ", s["MONTH"]),
        reason_on(~year_ok, "YEAR is not a 4-digit year: ", s["YEAR"]),
        reason_on(year_ok & ~year.between(*YEARS).fillna(False), f"YEAR is outside {YEARS[0]}-{YEARS[1]}: ", s["YEAR"]),
    ]
    reason = join_reasons(reasons)
    bad = raw.index.isin(reason.index)
    # In a set (a list of files: the name is the partition) every row not excluded for a bad MONTH/YEAR
    # must match its file's name. A single file is not held to its name (the bench's 10x/100x copies of
    # dot1_0115.csv shift months inside it on purpose).
    if is_file_set(path):
        check_file_periods(raw, year.mask(bad), month.mask(bad), source_id)

    # The first day of the month, on rows with a valid month and year (the others are excluded).
    ok_date = (month_ok & year.between(*YEARS).fillna(False)).to_numpy(dtype=bool)
    period = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    months = (year[ok_date].to_numpy("int64") - 1970) * 12 + month[ok_date].fillna(1).to_numpy("int64") - 1
    period[ok_date] = months.astype("datetime64[M]")

    port = s["DEPE"]
    port_level = pd.Series("port", index=raw.index, dtype=TEXT)
    port_level = port_level.mask(port.str.endswith("XX"), "district").mask(port == "70XX", "low_value")
    weight_not_collected = (s["TRDTYPE"] == "1") & s["DISAGMOT"].isin(SURFACE_MODES) & (s["SHIPWT"] == "0")

    def blank_or_xx(col: str) -> pd.Series:
        return s[col].mask(s[col].isin(["", "XX"]))

    out = pd.DataFrame({
        "source_file": raw["source_file"],
        "source_row": raw["source_row"],
        "trade_type": s["TRDTYPE"],
        "flow": s["TRDTYPE"].map(FLOWS, na_action="ignore").astype(TEXT),
        "us_state": s["USASTATE"].mask(s["USASTATE"] == ""),
        "port_code": port,
        "port_level": port_level,
        "district_code": port.str[:2],
        "mode_code": s["DISAGMOT"],
        "mode": s["DISAGMOT"].map(MODES, na_action="ignore").astype(TEXT),
        "mex_state": blank_or_xx("MEXSTATE"),
        "mex_state_raw": raw["MEXSTATE"],
        "can_prov": blank_or_xx("CANPROV"),
        "can_prov_raw": raw["CANPROV"],
        "country_code": s["COUNTRY"],
        "partner_country_iso3": s["COUNTRY"].map(PARTNERS, na_action="ignore").astype(TEXT),
        "value_usd": ints["VALUE"],
        "shipping_weight_kg": ints["SHIPWT"].mask(weight_not_collected),
        "freight_charges_usd": ints["FREIGHT_CHARGES"],
        "df": s["DF"].mask(s["DF"] == ""),
        "cont_code": s["CONTCODE"].mask(s["CONTCODE"] == ""),
        "year": year,
        "month": month,
        "period_start": pd.Series(period, index=raw.index),
    }, copy=False)

    exclusions = make_exclusions(source_id, raw[bad], reason) if bad.any() else empty_exclusions()
    data = out[~bad].reset_index(drop=True) if bad.any() else out
    notes = {
        "port_level_counts": {k: int(v) for k, v in data["port_level"].value_counts().items()},
        "xx_port_rows": int(data["port_code"].str.endswith("XX").sum()),
        "mex_state_blank_or_xx": int(data["mex_state"].isna().sum() - (data["partner_country_iso3"] == "CAN").sum()),
        "can_prov_blank_or_xx": int(data["can_prov"].isna().sum() - (data["partner_country_iso3"] == "MEX").sum()),
        "mex_state_na_nayarit": int((data["mex_state"] == "NA").sum()),
        "export_weight_zero_as_not_collected": int(weight_not_collected[~bad].sum()),
    }
    data = data.astype(dict.fromkeys(CATEGORICAL, "category"), copy=False)
    return SourceTable(source_id=source_id, rows_read=n, data=data, exclusions=exclusions, notes=notes)
