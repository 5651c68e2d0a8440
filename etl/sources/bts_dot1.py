"""Reader for BTS TransBorder Freight Data table 1 (``dot1_0115.csv``, January 2015).

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
non-integer VALUE, a non-integer SHIPWT/FREIGHT_CHARGES, a bad MONTH/YEAR.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import SourceTable, empty_exclusions, make_exclusions, number_rows, read_csv_text, require_columns

COLUMNS = ["TRDTYPE", "USASTATE", "DEPE", "DISAGMOT", "MEXSTATE", "CANPROV", "COUNTRY", "VALUE", "SHIPWT",
           "FREIGHT_CHARGES", "DF", "CONTCODE", "MONTH", "YEAR"]
FLOWS = {"1": "export", "2": "import"}
PARTNERS = {"1220": "CAN", "2010": "MEX"}
MODES = {"1": "vessel", "3": "air", "4": "mail", "5": "truck", "6": "rail", "7": "pipeline", "8": "other",
         "9": "foreign_trade_zone"}
# Export modes for which BTS does not collect shipping weight (reported as 0).
SURFACE_MODES = ["4", "5", "6", "7", "8"]
OUTPUT_DTYPES = {
    "source_row": "Int64", "trade_type": "string", "flow": "string", "us_state": "string",
    "port_code": "string", "port_level": "string", "district_code": "string", "mode_code": "string",
    "mode": "string", "mex_state": "string", "mex_state_raw": "string", "can_prov": "string",
    "can_prov_raw": "string", "country_code": "string", "partner_country_iso3": "string",
    "value_usd": "Int64", "shipping_weight_kg": "Int64", "freight_charges_usd": "Int64", "df": "string",
    "cont_code": "string", "year": "Int64", "month": "Int64", "period_start": "datetime64[ns]",
}


def _join_reasons(reasons: list[pd.Series], index: pd.Index) -> pd.Series:
    out = pd.Series("", index=index, dtype="string")
    for r in reasons:
        r = r.astype("string").fillna("")
        out = out.where(r == "", out.where(out == "", out + "; ") + r)
    return out


def _reason(mask: pd.Series, text: pd.Series | str) -> pd.Series:
    return pd.Series(pd.NA, index=mask.index, dtype="string").mask(mask, text)


def read(path: Path, source_id: str) -> SourceTable:
    path = Path(path)
    raw = read_csv_text(path, source_id)
    raw.columns = [c.strip() for c in raw.columns]
    require_columns(raw, COLUMNS, source_id, path.name)

    raw = raw[COLUMNS]
    n = len(number_rows(raw))
    # pyarrow-backed strings for the work (fast on 26k rows); the output is cast to "string".
    s = {c: raw[c].astype("string[pyarrow]").str.strip() for c in COLUMNS}

    reasons = [
        _reason(~s["TRDTYPE"].isin(list(FLOWS)), "TRDTYPE is not 1 (export) or 2 (import): " + s["TRDTYPE"].map(repr)),
        _reason(~s["COUNTRY"].isin(list(PARTNERS)), "COUNTRY is not 1220 (Canada) or 2010 (Mexico): "
                + s["COUNTRY"].map(repr)),
        _reason(~s["DISAGMOT"].isin(list(MODES)), "unknown DISAGMOT (mode) code: " + s["DISAGMOT"].map(repr)),
        _reason(~s["DEPE"].str.fullmatch(r"\d{4}|\d{2}XX"), "DEPE is not a Schedule D port code: "
                + s["DEPE"].map(repr)),
        _reason(~s["VALUE"].str.fullmatch(r"\d+"), "VALUE is not a non-negative integer: " + s["VALUE"].map(repr)),
        _reason(~s["SHIPWT"].str.fullmatch(r"\d*"), "SHIPWT is not an integer: " + s["SHIPWT"].map(repr)),
        _reason(~s["FREIGHT_CHARGES"].str.fullmatch(r"\d*"), "FREIGHT_CHARGES is not an integer: "
                + s["FREIGHT_CHARGES"].map(repr)),
        _reason(~s["MONTH"].str.fullmatch(r"0?[1-9]|1[0-2]"), "MONTH is not 1-12: " + s["MONTH"].map(repr)),
        _reason(~s["YEAR"].str.fullmatch(r"\d{4}"), "YEAR is not a 4-digit year: " + s["YEAR"].map(repr)),
    ]
    reason = _join_reasons(reasons, raw.index)
    bad = reason != ""

    def to_int(col: str) -> pd.Series:
        v = s[col].where(s[col].str.fullmatch(r"\d+"))
        return pd.to_numeric(v, errors="coerce").astype("Int64")

    port = s["DEPE"]
    port_level = pd.Series("port", index=raw.index, dtype="string")
    port_level = port_level.mask(port.str.endswith("XX"), "district").mask(port == "70XX", "low_value")
    year, month = to_int("YEAR"), to_int("MONTH")
    ok_date = year.notna() & month.notna()
    period = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    period[ok_date] = pd.to_datetime(pd.DataFrame({"year": year[ok_date].astype("int64"),
                                                   "month": month[ok_date].astype("int64"), "day": 1}))

    weight_not_collected = (s["TRDTYPE"] == "1") & s["DISAGMOT"].isin(SURFACE_MODES) & (s["SHIPWT"] == "0")

    def blank_or_xx(col: str) -> pd.Series:
        return s[col].mask(s[col].isin(["", "XX"]))

    out = pd.DataFrame({
        "source_row": raw["source_row"],
        "trade_type": s["TRDTYPE"],
        "flow": s["TRDTYPE"].map(FLOWS, na_action="ignore"),
        "us_state": s["USASTATE"].mask(s["USASTATE"] == ""),
        "port_code": port,
        "port_level": port_level,
        "district_code": port.str[:2],
        "mode_code": s["DISAGMOT"],
        "mode": s["DISAGMOT"].map(MODES, na_action="ignore"),
        "mex_state": blank_or_xx("MEXSTATE"),
        "mex_state_raw": raw["MEXSTATE"],
        "can_prov": blank_or_xx("CANPROV"),
        "can_prov_raw": raw["CANPROV"],
        "country_code": s["COUNTRY"],
        "partner_country_iso3": s["COUNTRY"].map(PARTNERS, na_action="ignore"),
        "value_usd": to_int("VALUE"),
        "shipping_weight_kg": to_int("SHIPWT").mask(weight_not_collected),
        "freight_charges_usd": to_int("FREIGHT_CHARGES"),
        "df": s["DF"].mask(s["DF"] == ""),
        "cont_code": s["CONTCODE"].mask(s["CONTCODE"] == ""),
        "year": year,
        "month": month,
        "period_start": period,
    }).astype(OUTPUT_DTYPES)[list(OUTPUT_DTYPES)]

    exclusions = make_exclusions(source_id, raw[bad], reason[bad]) if bad.any() else empty_exclusions()
    data = out[~bad].reset_index(drop=True)
    notes = {
        "port_level_counts": {k: int(v) for k, v in data["port_level"].value_counts().items()},
        "xx_port_rows": int(data["port_code"].str.endswith("XX").sum()),
        "mex_state_blank_or_xx": int(data["mex_state"].isna().sum() - (data["partner_country_iso3"] == "CAN").sum()),
        "can_prov_blank_or_xx": int(data["can_prov"].isna().sum() - (data["partner_country_iso3"] == "MEX").sum()),
        "mex_state_na_nayarit": int((data["mex_state"] == "NA").sum()),
        "export_weight_zero_as_not_collected": int(weight_not_collected[~bad].sum()),
    }
    return SourceTable(source_id=source_id, rows_read=n, data=data, exclusions=exclusions, notes=notes)
