"""Reader for the ITA Metropolitan Export Series (``exports_ita.csv``): merchandise exports by metro, 2012-2021.

The file is wide (one line per metro, one column per year); the output is long, one row per
metro x year, every row of a metro line carrying that line's ``source_row``.

Quirks handled, and why:

* UTF-8 with a BOM (decoded with ``utf-8-sig``); the unit column header has a trailing space
  ("Unit (Valid for crosstab only) "), matched after stripping.
* Every cell is read as a string: no float round trip can touch an exact dollar value.
* The unit column says "Millions of USD" on every line, but the values are whole dollars
  (Akron 2012 = 3,821,459,065 USD): values are stored as dollars, not multiplied. Any other
  unit text means the file is not what this reader understands -> ``SourceError`` (row named).
* Values of $100 bn or more were written in 6-significant-figure scientific notation
  ("1.10298E+11", 21 cells): parsed exactly with ``decimal.Decimal`` to an integer
  (110298000000) and flagged ``rounded=True``; the original text is kept in ``value_raw``.
* Blank cells are suppressed values (150 cells): ``value_usd`` <NA>, ``suppressed=True``,
  ``value_raw`` <NA>. One metro ("Pascagoula, MS") is suppressed in every year.
* Pseudo-metros "Z-Non Metropolitan Areas" and "Z-Other Metropolitan Areas" (names starting
  "Z-") are kept with ``is_pseudo_metro=True``: they complete the national total but are
  not places.
* All partner countries together (no partner breakdown).

Exclusions (whole metro line): an empty metro name, or a cell that is neither blank, an
integer (of at most 18 digits, within Int64), nor an integral number in scientific notation
(the reason names year and value).

Text is Arrow-backed ("string[pyarrow]") and integers are parsed by Arrow; Python runs only
per scientific-notation cell and per excluded line.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd

from .base import (SourceError, SourceTable, digits_to_int64, empty_exclusions, make_exclusions, number_rows,
                   read_csv_text)

NAME_COLUMN = "MSA Full Name"
UNIT_COLUMN = "Unit (Valid for crosstab only)"  # trailing space in the file
EXPECTED_UNIT = "Millions of USD"
TEXT = "string[pyarrow]"
OUTPUT_DTYPES = {
    "source_row": "Int64", "msa_name": TEXT, "is_pseudo_metro": "bool", "year": "Int64",
    "value_usd": "Int64", "suppressed": "bool", "rounded": "bool", "value_raw": TEXT,
}
SCI = re.compile(r"\d+(\.\d+)?[eE][+]?\d+")


def _sci_to_int(text: str) -> int | None:
    try:
        d = Decimal(text)
    except InvalidOperation:
        return None
    return int(d) if d == d.to_integral_value() else None





def read(path: Path, source_id: str) -> SourceTable:
    path = Path(path)
    return read_text_frame(read_csv_text(path, source_id), source_id, path.name)


def read_text_frame(raw: pd.DataFrame, source_id: str, file_name: str) -> SourceTable:
    """The checks and the wide-to-long reshape on a frame of text cells (the CSV's, or an xlsx
    sheet's written as text by ``ita_metro_exports_xlsx``)."""
    header = [c.strip() for c in raw.columns]
    if header[:2] != [NAME_COLUMN, UNIT_COLUMN]:
        raise SourceError(source_id, f"{file_name}: expected first columns {[NAME_COLUMN, UNIT_COLUMN + ' ']}, "
                                     f"found {list(raw.columns)[:2]}")
    years = header[2:]
    if not years or not all(re.fullmatch(r"\d{4}", y) for y in years):
        raise SourceError(source_id, f"{file_name}: columns after the unit must be years, found {years}")
    original_columns = list(raw.columns)
    raw.columns = header

    n = len(number_rows(raw))
    unit = raw[UNIT_COLUMN].str.strip()
    wrong_unit = unit != EXPECTED_UNIT
    if wrong_unit.any():
        i = int(np.flatnonzero(wrong_unit.to_numpy())[0])
        raise SourceError(source_id, f"unit is {raw[UNIT_COLUMN].iloc[i]!r}, expected {EXPECTED_UNIT!r} "
                                     f"(values are read as whole USD only under that label)", row=i + 1)

    name = raw[NAME_COLUMN].str.strip()
    long = raw[["source_row", *years]].melt(id_vars="source_row", var_name="year", value_name="value_raw")
    long["value_raw"] = long["value_raw"].str.strip()
    v = long["value_raw"]
    suppressed = v == ""
    sci = v.str.fullmatch(SCI.pattern)
    value = digits_to_int64(v)
    sci_values = pd.Series([_sci_to_int(x) for x in v[sci]], index=v[sci].index, dtype="object")
    value[sci_values.dropna().index] = sci_values.dropna().astype("int64")
    unparsed = ~suppressed & value.isna()

    long["value_usd"] = value
    long["suppressed"] = suppressed
    long["rounded"] = sci & value.notna()
    long["year"] = long["year"].astype("int64")
    long["msa_name"] = pd.Series(name.array.take(long["source_row"].to_numpy("int64") - 1), index=long.index)
    long["is_pseudo_metro"] = long["msa_name"].str.startswith("Z-").fillna(False)

    reason = pd.Series("", index=raw.index, dtype=TEXT).mask(name.isna() | (name == ""), "MSA Full Name is empty")
    if unparsed.any():
        cells = long.loc[unparsed]
        text = cells["year"].astype(str) + " value is not a whole number: " + cells["value_raw"].map(repr)
        per_row = text.groupby(cells["source_row"].astype(int).to_numpy() - 1).agg("; ".join).astype(TEXT)
        idx = per_row.index
        reason.loc[idx] = reason.loc[idx].where(reason.loc[idx] == "", reason.loc[idx] + "; ") + per_row
    bad = reason != ""
    long["value_raw"] = long["value_raw"].mask(suppressed)
    raw_rows = raw.copy()
    raw_rows.columns = ["source_row", *original_columns]
    exclusions = make_exclusions(source_id, raw_rows[bad], reason[bad]) if bad.any() else empty_exclusions()

    bad_rows = set(raw.loc[bad, "source_row"].astype(int))
    data = long[~long["source_row"].isin(bad_rows)]
    data = data.sort_values(["source_row", "year"]).astype(OUTPUT_DTYPES)[list(OUTPUT_DTYPES)].reset_index(drop=True)
    all_suppressed = data.groupby("msa_name")["suppressed"].all()
    notes = {
        "metros": int(data["source_row"].nunique()),
        "suppressed": int(data["suppressed"].sum()),
        "rounded": int(data["rounded"].sum()),
        "pseudo_metros": sorted(data.loc[data["is_pseudo_metro"], "msa_name"].unique().tolist()),
        "metros_suppressed_every_year": sorted(all_suppressed[all_suppressed].index.tolist()),
        "unit_label": EXPECTED_UNIT + " (values are whole USD)",
    }
    return SourceTable(source_id=source_id, rows_read=n, data=data, exclusions=exclusions, notes=notes)
