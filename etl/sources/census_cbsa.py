"""Reader for the Census/OMB CBSA delineation file of February 2013 (``msa_crosswalk.csv``).

One row per county: CBSA code and title, metro division, CSA, county and FIPS codes. Gives
CBSA codes for the ITA metro names (titles can differ slightly across delineation years).

Quirks handled, and why:

* UTF-8 with a BOM (``utf-8-sig``).
* Title lines before the header (two in the 2013 file): the header is found as the first line
  whose first cell is "CBSA Code" (within the first 10 lines); lines above it are counted in
  ``notes["preamble_lines"]`` and are not data.
* After the data, a blank line (",,,,,,,,,,,") and source-note lines ("Source: U.S. Census
  Bureau...", "Internet Release Date: March 2013"): the trailing run of lines whose cells
  other than the first are all empty, and whose first cell is not a CBSA code, is a footnote
  block. Those lines are counted in ``notes["footnote_lines"]`` (their text in
  ``notes["footnotes"]``) and are not data rows: ``rows_read`` counts only the data rows.
* Every cell is read as a string: codes keep their leading zeros (FIPS county "013",
  FIPS state "01"); blank codes (no metro division / no CSA) -> <NA>.

``source_row`` is the 1-based row after the header. Exclusions: a data row whose CBSA code
is not 5 digits, whose FIPS state / county code is not 2 / 3 digits, or that has more cells
than the header.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from .base import SourceError, SourceTable, empty_exclusions, make_exclusions

COLUMNS = {
    "CBSA Code": "cbsa_code",
    "Metro Division Code": "metro_division_code",
    "CSA Code": "csa_code",
    "CBSA Title": "cbsa_title",
    "Metropolitan/Micropolitan Statistical Area": "area_type",
    "Metropolitan Division Title": "metro_division_title",
    "CSA Title": "csa_title",
    "County/County Equivalent": "county",
    "State Name": "state_name",
    "FIPS State Code": "fips_state",
    "FIPS County Code": "fips_county",
    "Central/Outlying County": "central_outlying",
}
OUTPUT_DTYPES = {"source_row": "Int64", **{v: "string" for v in COLUMNS.values()}}
MAX_PREAMBLE = 10


def _reason(mask: pd.Series, text: pd.Series | str) -> pd.Series:
    return pd.Series(pd.NA, index=mask.index, dtype="string").mask(mask, text)


def read(path: Path, source_id: str) -> SourceTable:
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(source_id, f"{path.name} is not UTF-8: {exc}") from exc
    lines = list(csv.reader(io.StringIO(text)))
    if not lines:
        raise SourceError(source_id, f"{path.name} is empty")
    width = max(len(r) for r in lines)
    # csv, not pandas: the preamble/footnote lines may have fewer cells than the header.
    grid = pd.DataFrame([r + [""] * (width - len(r)) for r in lines], dtype="string")
    grid.columns = range(width)

    first = grid[0].str.strip()
    header_at = np.flatnonzero((first == "CBSA Code").to_numpy()[:MAX_PREAMBLE])
    if not len(header_at):
        raise SourceError(source_id, f"{path.name}: no header line starting 'CBSA Code' in the first "
                                     f"{MAX_PREAMBLE} lines")
    h = int(header_at[0])
    header = [c.strip() for c in lines[h]]
    if header != list(COLUMNS):
        raise SourceError(source_id, f"{path.name}: expected header {list(COLUMNS)}, found {header}")

    body = grid.iloc[h + 1:].reset_index(drop=True)
    overflow = (body.iloc[:, len(COLUMNS):].apply(lambda c: c.str.strip()) != "").any(axis=1)
    body = body.iloc[:, :len(COLUMNS)]
    body.columns = list(COLUMNS)
    note_like = ((body.iloc[:, 1:].apply(lambda c: c.str.strip()) == "").all(axis=1)
                 & ~body["CBSA Code"].str.strip().str.fullmatch(r"\d{5}")).to_numpy()
    # length of the trailing run of note-like lines
    n_foot = len(note_like) - int(np.flatnonzero(~note_like)[-1]) - 1 if (~note_like).any() else len(note_like)
    footnotes = body["CBSA Code"].iloc[len(body) - n_foot:].str.strip()
    raw = body.iloc[:len(body) - n_foot].copy()
    overflow = overflow.iloc[:len(raw)].astype(bool)

    n = len(raw)
    raw.insert(0, "source_row", pd.array(np.arange(1, n + 1), dtype="Int64"))
    s = {c: raw[c].astype("string").str.strip() for c in COLUMNS}
    out = pd.DataFrame({"source_row": raw["source_row"]})
    for src, dst in COLUMNS.items():
        out[dst] = s[src].mask(s[src] == "")
    out = out.astype(OUTPUT_DTYPES)[list(OUTPUT_DTYPES)]

    reason = (_reason(overflow, f"more than {len(COLUMNS)} cells")
              .fillna(_reason(~s["CBSA Code"].str.fullmatch(r"\d{5}"),
                              "CBSA Code is not 5 digits: " + s["CBSA Code"].map(repr)))
              .fillna(_reason(~s["FIPS State Code"].str.fullmatch(r"\d{2}"),
                              "FIPS State Code is not 2 digits: " + s["FIPS State Code"].map(repr)))
              .fillna(_reason(~s["FIPS County Code"].str.fullmatch(r"\d{3}"),
                              "FIPS County Code is not 3 digits: " + s["FIPS County Code"].map(repr))))
    bad = reason.notna()
    exclusions = make_exclusions(source_id, raw[bad], reason[bad]) if bad.any() else empty_exclusions()
    data = out[~bad].reset_index(drop=True)
    notes = {
        "preamble_lines": h,
        "footnote_lines": int(n_foot),
        "footnotes": [f for f in footnotes.tolist() if f],
        "cbsas": int(data["cbsa_code"].nunique()),
    }
    return SourceTable(source_id=source_id, rows_read=n, data=data, exclusions=exclusions, notes=notes)
