"""What the BTS TransBorder readers (table 1 ``bts_dot1``, table 3 ``bts_dot3``) share: their codes,
reading a file or a set of files as one Arrow table, checking each file against the period its
name promises, and the Arrow column helpers.

Why Arrow and not pandas here: the 2020-2024 sets are 2.4 M rows. Every check and conversion is one
Arrow kernel over a column; pandas runs only on the rows that some check flags (a superset of the
excluded rows, a handful in the real files), where each reader's own pandas code words the reasons.
So the reasons stay in one place, and the hot path costs about the bytes of the files.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .base import SourceError, read_csv_table, require_columns

FLOWS = {"1": "export", "2": "import"}
PARTNERS = {"1220": "CAN", "2010": "MEX"}
MODES = {"1": "vessel", "3": "air", "4": "mail", "5": "truck", "6": "rail", "7": "pipeline", "8": "other",
         "9": "foreign_trade_zone"}
# Export modes for which BTS does not collect shipping weight (reported as 0).
SURFACE_MODES = ["4", "5", "6", "7", "8"]
YEARS = (1678, 2261)  # whole years datetime64[ns] can hold
TEXT = "string[pyarrow]"
MONTH_PATTERN = r"0?[1-9]|1[0-2]"
PORT_PATTERN = r"\d{4}|\d{2}XX"

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


@dataclass
class RawFiles:
    """The cells of every file of a source as text, stacked: ``table`` holds ``columns`` (raw,
    unstripped); ``file_index`` (per row) points into ``file_names``; ``source_row`` is 1-based per file."""

    table: pa.Table
    file_names: list[str]
    file_index: np.ndarray
    source_row: np.ndarray

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def per_file(self, values: list) -> np.ndarray:
        """A value per file, spread to its rows."""
        return np.asarray(values)[self.file_index]

    def annual_file(self) -> np.ndarray:
        """Rows of files whose name promises a whole year (no MONTH column)."""
        return self.per_file([(expected_period(f) or (0, 0))[1] is None for f in self.file_names]).astype(bool)

    def source_files(self, rows: np.ndarray | None = None) -> pd.Series:
        idx = self.file_index if rows is None else self.file_index[rows]
        return pd.Series(np.asarray(self.file_names, dtype=object)[idx], dtype=TEXT)

    def frame(self, rows: np.ndarray) -> pd.DataFrame:
        """The raw text of ``rows`` (positions), indexed by position, with source_file and source_row
        first: what a reader words its exclusion reasons on and keeps as raw values."""
        sub = self.table.take(pa.array(rows, pa.int64())).to_pandas(
            types_mapper={pa.large_string(): pd.StringDtype("pyarrow")}.get)
        sub.index = rows
        sub.insert(0, "source_row", pd.array(self.source_row[rows], dtype="Int64"))
        sub.insert(0, "source_file", self.source_files(rows).to_numpy())
        sub["source_file"] = sub["source_file"].astype(TEXT)
        return sub


def read_raw_files(paths, source_id: str, columns: list[str]) -> RawFiles:
    """Every file's cells as text, by header name, stacked; a file without MONTH (annual) gets
    MONTH "" on every row. A missing or unknown column is a SourceError naming the file."""
    tables, names, lengths = [], [], []
    for path in ([Path(paths)] if not is_file_set(paths) else [Path(p) for p in paths]):
        table = read_csv_table(path, source_id)
        table = table.rename_columns([c.strip() for c in table.column_names])
        annual = "MONTH" not in table.column_names
        require_columns(table.column_names, [c for c in columns if not (annual and c == "MONTH")], source_id, path.name)
        if annual:
            table = table.append_column("MONTH", pa.array(np.full(table.num_rows, ""), pa.large_string()))
        tables.append(table.select(columns))
        names.append(path.name)
        lengths.append(table.num_rows)
    if not tables:
        raise SourceError(source_id, "the source has no files")
    lengths = np.asarray(lengths, dtype=np.int64)
    file_index = np.repeat(np.arange(len(names), dtype=np.int32), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    source_row = np.arange(1, int(lengths.sum()) + 1, dtype=np.int64) - starts
    return RawFiles(pa.concat_tables(tables), names, file_index, source_row)


def stripped(raw: RawFiles, columns: list[str]) -> dict[str, pa.ChunkedArray]:
    return {c: pc.utf8_trim_whitespace(raw.table[c]) for c in columns}


def digits(values: pa.ChunkedArray, low: int = 1, high: int = 18) -> np.ndarray:
    """Texts of ``low``..``high`` ASCII digits (regex ``\\d{low,high}``), without the regex engine: a tenth of its time."""
    length = pc.utf8_length(values).to_numpy()
    decimal = pc.fill_null(pc.ascii_is_decimal(values), False).to_numpy()
    return (length >= low) & (length <= high) & (decimal | (length == 0))


def months(values: pa.ChunkedArray) -> np.ndarray:
    """Texts matching ``MONTH_PATTERN``: 1-12, with or without a leading zero."""
    return isin(values, [f"{m}" for m in range(1, 13)] + [f"0{m}" for m in range(1, 10)])


def port_codes(values: pa.ChunkedArray) -> np.ndarray:
    """Texts matching ``PORT_PATTERN``: four digits, or two digits and "XX"."""
    four = pc.utf8_length(values).to_numpy() == 4
    head = pc.utf8_slice_codeunits(values, 0, 2)
    tail = pc.utf8_slice_codeunits(values, 2, 4)
    head_ok = pc.fill_null(pc.ascii_is_decimal(head), False).to_numpy()
    tail_ok = pc.fill_null(pc.ascii_is_decimal(tail), False).to_numpy() | equals(tail, "XX")
    return four & head_ok & tail_ok


def isin(values: pa.ChunkedArray, allowed) -> np.ndarray:
    return pc.is_in(values, value_set=pa.array(list(allowed), values.type)).to_numpy()


def equals(values: pa.ChunkedArray, text: str) -> np.ndarray:
    return pc.equal(values, text).to_numpy()


def to_int(values: pa.ChunkedArray, ok: np.ndarray) -> pa.ChunkedArray:
    """int64 where ``ok`` (the text is 1-18 digits), null elsewhere."""
    mask = pa.array(ok)
    return pc.cast(pc.if_else(mask, values, pa.scalar(None, values.type)), pa.int64())


def map_values(values: pa.ChunkedArray, mapping: dict[str, str]) -> pa.ChunkedArray:
    """Each code's label from ``mapping`` (null where it has none)."""
    index = pc.index_in(values, value_set=pa.array(list(mapping), values.type))
    return pa.array(list(mapping.values()), pa.string()).take(index.combine_chunks())


def text(values, index: pd.Index | None = None) -> pd.Series:
    """An Arrow string column as a ``string[pyarrow]`` Series."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return pd.Series(pd.arrays.ArrowStringArray(pc.cast(values, pa.large_string())), index=index)


def category(values) -> pd.Series:
    """An Arrow string column as a categorical Series, categories sorted (as ``astype("category")``)."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    encoded = pc.dictionary_encode(values)
    names = encoded.dictionary.to_pylist()
    order = np.argsort(np.asarray(names, dtype=object), kind="stable") if names else np.array([], dtype=np.int64)
    rank = np.empty(len(names), dtype=np.int32)
    rank[order] = np.arange(len(names), dtype=np.int32)
    codes = encoded.indices.fill_null(-1).to_numpy().astype(np.int32)
    codes = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1) if len(names) else codes
    categories = pd.Index(np.asarray(names, dtype=object)[order], dtype="string")
    return pd.Series(pd.Categorical.from_codes(codes, categories=categories))


def integers(values) -> pd.Series:
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return pd.Series(values.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get).array)


def blank_to_null(values: pa.ChunkedArray, *blanks: str) -> pa.ChunkedArray:
    blank = pc.is_in(values, value_set=pa.array(list(blanks) or [""], values.type))
    return pc.if_else(blank, pa.scalar(None, values.type), values)


def excluded_rows(raw: RawFiles, flagged: np.ndarray, reasons_of: Callable[[pd.DataFrame], pd.Series]
                  ) -> tuple[np.ndarray, pd.Series, pd.DataFrame]:
    """(bad mask, reason per bad position, raw frame of the bad rows). ``flagged``: rows some fast
    check failed on (a superset); ``reasons_of`` words the reasons on their raw text, and only the
    rows it gives a reason are excluded."""
    positions = np.flatnonzero(flagged)
    bad = np.zeros(raw.num_rows, dtype=bool)
    if not len(positions):
        return bad, pd.Series(dtype=object), raw.frame(positions)
    sub = raw.frame(positions)
    reason = reasons_of(sub)
    bad[reason.index.to_numpy(dtype=np.int64)] = True
    return bad, reason, sub.loc[reason.index]


def check_file_periods(raw: RawFiles, keep: np.ndarray, year: pa.ChunkedArray, month: pa.ChunkedArray,
                       source_id: str) -> None:
    """A kept row whose MONTH/YEAR disagree with its file's name stops the read (file and row named):
    a mislabelled month would be counted twice. ``year``, ``month``: of the kept rows only."""
    promises = [expected_period(f) for f in raw.file_names]
    rows = np.flatnonzero(keep)
    want_year = raw.per_file([p[0] if p else -1 for p in promises])[rows]
    want_month = raw.per_file([p[1] if p and p[1] else -1 for p in promises])[rows]
    y = year.to_numpy(zero_copy_only=False)
    m = month.to_numpy(zero_copy_only=False)
    y = np.where(np.isnan(y), -1, y).astype(np.int64) if y.dtype.kind == "f" else y
    m = np.where(np.isnan(m), -1, m).astype(np.int64) if m.dtype.kind == "f" else m
    wrong = ((want_year >= 0) & (y != want_year)) | ((want_month >= 0) & (m != want_month))
    if wrong.any():
        at = int(rows[int(wrong.argmax())])
        r = raw.frame(np.array([at])).iloc[0]
        p = promises[raw.file_index[at]]
        want = f"{p[0]}-{p[1]:02d}" if p[1] else str(p[0])
        raise SourceError(source_id, f"{r['source_file']} row {int(r['source_row'])}: MONTH/YEAR "
                          f"{r['MONTH']!r}/{r['YEAR']!r} disagree with the file name ({want})", int(r["source_row"]))


def month_starts(year: pa.ChunkedArray, month: pa.ChunkedArray) -> np.ndarray:
    """The first day of each row's month (January for an annual row) as datetime64[ns]; every year
    must be present and within ``YEARS``."""
    y = year.to_numpy(zero_copy_only=False).astype(np.int64)
    m = pc.fill_null(month, 1).to_numpy(zero_copy_only=False).astype(np.int64)
    return ((y - 1970) * 12 + m - 1).astype("datetime64[M]").astype("datetime64[ns]")
