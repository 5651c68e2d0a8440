"""Reader for BTS TransBorder Freight Data table 3 (port x 2-digit HS chapter): ``dot3_MMYY.csv``
one a month, ``dot3_YYYY.csv`` one a year (other column order, no MONTH).

Same codes and quirks as table 1 (``bts_dot1``, whose file-set helpers this reuses: columns by
header name, ``source_file`` + per-file ``source_row``, MONTH/YEAR checked against the file
name, a truncated file is a SourceError). Table 3 has no US state and no Mexican state /
Canadian province. COMMODITY2 is kept as the two-character string it is ("01".."99"); a code
that is not a chapter of the reviewed vocabulary ``etl/vocab/hs_chapters.csv`` (written from the
BTS codebook) stops the read, naming file and row: an unknown chapter would break the foreign key.
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from etl.paths import VOCAB

from .base import (SourceError, SourceTable, digits_to_int64, empty_exclusions, join_reasons, make_exclusions,
                   reason_on)
from .bts_dot1 import (FLOWS, MODES, PARTNERS, TEXT, YEARS, _strip, check_file_periods, code_reasons, is_file_set,
                       read_raw_files)

COLUMNS = ["TRDTYPE", "DEPE", "COMMODITY2", "DISAGMOT", "COUNTRY", "VALUE", "SHIPWT", "FREIGHT_CHARGES", "DF",
           "CONTCODE", "MONTH", "YEAR"]
SURFACE_MODES = ["4", "5", "6", "7", "8"]
HS_CHAPTERS = VOCAB / "hs_chapters.csv"
OUTPUT_DTYPES = {
    "source_file": TEXT, "source_row": "Int64", "flow": TEXT, "port_code": TEXT, "hs_chapter": TEXT, "mode": TEXT,
    "partner_country_iso3": TEXT, "value_usd": "Int64", "shipping_weight_kg": "Int64",
    "freight_charges_usd": "Int64", "year": "Int64", "month": "Int64", "period_start": "datetime64[ns]",
}


@functools.cache
def hs_chapters() -> pd.DataFrame:
    """The reviewed chapter vocabulary: hs_chapter ("01".."99"), name."""
    frame = pd.read_csv(HS_CHAPTERS, dtype="string", keep_default_na=False)
    if list(frame.columns) != ["hs_chapter", "name"] or not frame["hs_chapter"].str.fullmatch(r"\d\d").all():
        raise ValueError(f"{HS_CHAPTERS}: expected columns hs_chapter (two digits), name")
    return frame


def read(path, source_id: str) -> SourceTable:
    raw = read_raw_files(path, source_id, COLUMNS)
    n = len(raw)
    s = {c: _strip(raw[c]) for c in COLUMNS}
    ints = {c: digits_to_int64(s[c]) for c in ["VALUE", "SHIPWT", "FREIGHT_CHARGES", "MONTH", "YEAR"]}
    year, month = ints["YEAR"], ints["MONTH"]
    annual = (s["MONTH"] == "").to_numpy(dtype=bool)
    month_ok = s["MONTH"].str.fullmatch(r"0?[1-9]|1[0-2]").fillna(False).to_numpy(dtype=bool) | annual
    year_ok = s["YEAR"].str.fullmatch(r"\d{4}").fillna(False) & year.between(*YEARS).fillna(False)

    unknown = ~s["COMMODITY2"].isin(hs_chapters()["hs_chapter"]).to_numpy(dtype=bool)
    if unknown.any():
        r = raw.iloc[int(unknown.argmax())]
        raise SourceError(source_id, f"{r['source_file']} row {int(r['source_row'])}: COMMODITY2 "
                          f"{r['COMMODITY2']!r} is not an HS chapter of {HS_CHAPTERS.name}", int(r["source_row"]))
    reasons = [
        *code_reasons(s),
        reason_on(~s["VALUE"].str.fullmatch(r"\d{1,18}"), "VALUE is not a non-negative integer: ", s["VALUE"]),
        reason_on(~s["SHIPWT"].str.fullmatch(r"\d{0,18}"), "SHIPWT is not an integer: ", s["SHIPWT"]),
        reason_on(~s["FREIGHT_CHARGES"].str.fullmatch(r"\d{0,18}"), "FREIGHT_CHARGES is not an integer: ",
                  s["FREIGHT_CHARGES"]),
        reason_on(pd.Series(~month_ok, index=raw.index), "MONTH is not 1-12: ", s["MONTH"]),
        reason_on(~year_ok, "YEAR is not a 4-digit year in range: ", s["YEAR"]),
    ]
    reason = join_reasons(reasons)
    bad = raw.index.isin(reason.index)
    if is_file_set(path):
        check_file_periods(raw, year.mask(bad), month.mask(bad), source_id)

    ok_date = (~bad) & month_ok
    period = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    months = (year[ok_date].to_numpy("int64") - 1970) * 12 + month[ok_date].fillna(1).to_numpy("int64") - 1
    period[ok_date] = months.astype("datetime64[M]")
    weight_not_collected = (s["TRDTYPE"] == "1") & s["DISAGMOT"].isin(SURFACE_MODES) & (s["SHIPWT"] == "0")
    out = pd.DataFrame({
        "source_file": raw["source_file"], "source_row": raw["source_row"],
        "flow": s["TRDTYPE"].map(FLOWS, na_action="ignore").astype(TEXT), "port_code": s["DEPE"],
        "hs_chapter": s["COMMODITY2"], "mode": s["DISAGMOT"].map(MODES, na_action="ignore").astype(TEXT),
        "partner_country_iso3": s["COUNTRY"].map(PARTNERS, na_action="ignore").astype(TEXT),
        "value_usd": ints["VALUE"], "shipping_weight_kg": ints["SHIPWT"].mask(weight_not_collected),
        "freight_charges_usd": ints["FREIGHT_CHARGES"], "year": year, "month": month,
        "period_start": pd.Series(period, index=raw.index),
    }, copy=False)
    exclusions = make_exclusions(source_id, raw[bad], reason) if bad.any() else empty_exclusions()
    data = out[~bad].reset_index(drop=True) if bad.any() else out
    notes = {"files": int(raw["source_file"].nunique()), "chapters_used": sorted(pd.unique(data["hs_chapter"]).tolist()),
             "export_weight_zero_as_not_collected": int(weight_not_collected[~bad].sum())}
    return SourceTable(source_id=source_id, rows_read=n, data=data, exclusions=exclusions, notes=notes)
