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
import pyarrow as pa
import pyarrow.compute as pc

from etl.paths import VOCAB

from .base import (SourceError, SourceTable, digits_to_int64, empty_exclusions, join_reasons, make_exclusions,
                   reason_on)
from .bts_dot1 import _strip, code_reasons, figures, flag_codes
from .bts_files import (FLOWS, MODES, MONTH_PATTERN, PARTNERS, SURFACE_MODES, TEXT, YEARS, check_file_periods, digits,
                        equals, excluded_rows, integers, is_file_set, isin, map_values, month_starts, months,
                        read_raw_files, stripped, text, to_int)

COLUMNS = ["TRDTYPE", "DEPE", "COMMODITY2", "DISAGMOT", "COUNTRY", "VALUE", "SHIPWT", "FREIGHT_CHARGES", "DF",
           "CONTCODE", "MONTH", "YEAR"]
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


def _reasons(raw: pd.DataFrame) -> pd.Series:
    """The reason of each excluded row among ``raw`` (flagged rows' raw text), indexed by position."""
    s = {c: _strip(raw[c]) for c in COLUMNS}
    year = digits_to_int64(s["YEAR"])
    annual = (s["MONTH"] == "").to_numpy(dtype=bool)
    month_ok = s["MONTH"].str.fullmatch(MONTH_PATTERN).fillna(False).to_numpy(dtype=bool) | annual
    year_ok = s["YEAR"].str.fullmatch(r"\d{4}").fillna(False) & year.between(*YEARS).fillna(False)
    return join_reasons([
        *code_reasons(s),
        reason_on(~s["VALUE"].str.fullmatch(r"\d{1,18}"), "VALUE is not a non-negative integer: ", s["VALUE"]),
        reason_on(~s["SHIPWT"].str.fullmatch(r"\d{0,18}"), "SHIPWT is not an integer: ", s["SHIPWT"]),
        reason_on(~s["FREIGHT_CHARGES"].str.fullmatch(r"\d{0,18}"), "FREIGHT_CHARGES is not an integer: ",
                  s["FREIGHT_CHARGES"]),
        reason_on(pd.Series(~month_ok, index=raw.index), "MONTH is not 1-12: ", s["MONTH"]),
        reason_on(~year_ok, "YEAR is not a 4-digit year in range: ", s["YEAR"]),
    ])


def read(path, source_id: str) -> SourceTable:
    raw = read_raw_files(path, source_id, COLUMNS)
    n = raw.num_rows
    s = stripped(raw, COLUMNS)
    unknown = ~isin(s["COMMODITY2"], hs_chapters()["hs_chapter"])
    if unknown.any():
        r = raw.frame(np.array([int(unknown.argmax())])).iloc[0]
        raise SourceError(source_id, f"{r['source_file']} row {int(r['source_row'])}: COMMODITY2 "
                          f"{r['COMMODITY2']!r} is not an HS chapter of {HS_CHAPTERS.name}", int(r["source_row"]))
    year = to_int(s["YEAR"], digits(s["YEAR"], 4, 4))
    year_in = pc.fill_null(pc.and_(pc.greater_equal(year, YEARS[0]), pc.less_equal(year, YEARS[1])), False)
    month_ok = months(s["MONTH"]) | equals(s["MONTH"], "")
    flagged = flag_codes(s) | ~(month_ok & year_in.to_numpy())
    bad, reason, bad_raw = excluded_rows(raw, flagged, _reasons)
    keep = ~bad
    ints = figures(s, keep)
    if is_file_set(path):
        check_file_periods(raw, keep, ints["YEAR"], ints["MONTH"], source_id)

    k = {c: v.filter(pa.array(keep)) for c, v in s.items()}
    not_collected = (equals(k["TRDTYPE"], "1") & isin(k["DISAGMOT"], SURFACE_MODES) & equals(k["SHIPWT"], "0"))
    rows = np.flatnonzero(keep)
    data = pd.DataFrame({
        "source_file": raw.source_files(rows), "source_row": pd.array(raw.source_row[rows], dtype="Int64"),
        "flow": text(map_values(k["TRDTYPE"], FLOWS)), "port_code": text(k["DEPE"]),
        "hs_chapter": text(k["COMMODITY2"]), "mode": text(map_values(k["DISAGMOT"], MODES)),
        "partner_country_iso3": text(map_values(k["COUNTRY"], PARTNERS)),
        "value_usd": integers(ints["VALUE"]),
        "shipping_weight_kg": integers(pc.if_else(pa.array(not_collected), pa.scalar(None, pa.int64()),
                                                  ints["SHIPWT"])),
        "freight_charges_usd": integers(ints["FREIGHT_CHARGES"]), "year": integers(ints["YEAR"]),
        "month": integers(ints["MONTH"]),
        "period_start": pd.Series(month_starts(ints["YEAR"], ints["MONTH"])),
    }, copy=False)
    exclusions = make_exclusions(source_id, bad_raw, reason) if bad.any() else empty_exclusions()
    notes = {"files": len(raw.file_names), "chapters_used": sorted(pd.unique(data["hs_chapter"]).tolist()),
             "export_weight_zero_as_not_collected": int(not_collected.sum())}
    return SourceTable(source_id=source_id, rows_read=n, data=data, exclusions=exclusions, notes=notes)
