"""What every source reader returns, and the shared way to record rows it cannot use.

A reader never drops a row silently: a row it cannot use goes to ``exclusions``
with the source, the 1-based data row number and a reason, plus its raw values.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

EXCLUSION_COLUMNS = ["source_id", "source_file", "source_row", "reason", "raw_values"]


class SourceError(ValueError):
    """Input the build must not continue with; the message names source, row and problem."""

    def __init__(self, source_id: str, problem: str, row: int | None = None):
        where = f"{source_id}" + (f", row {row}" if row is not None else "")
        super().__init__(f"[{where}] {problem}")
        self.source_id, self.row, self.problem = source_id, row, problem


@dataclass
class SourceTable:
    """A typed, tidy frame read from one raw file, with its excluded rows."""

    source_id: str
    rows_read: int
    data: pd.DataFrame
    exclusions: pd.DataFrame = field(default_factory=lambda: empty_exclusions())
    notes: dict = field(default_factory=dict)  # counts a reader wants in the build report
    released: bool = False  # its rows were handed back once its step had planned them (``data`` is empty)


def empty_exclusions() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string" if c != "source_row" else "Int64") for c in EXCLUSION_COLUMNS})


def make_exclusions(source_id: str, raw_rows: pd.DataFrame, reason: str | pd.Series,
                    source_file: str | None = None) -> pd.DataFrame:
    """Exclusion rows for ``raw_rows`` (which must carry ``source_row``), raw values kept as JSON.

    ``source_file`` names the raw file the row numbers count in: a ``source_file`` column of
    ``raw_rows`` (rows of a file set), else the argument, else the source's one file."""
    if raw_rows.empty:
        return empty_exclusions()
    if "source_file" in raw_rows.columns:
        files = raw_rows["source_file"].astype("string").to_numpy()
        raw_rows = raw_rows.drop(columns=["source_file"])
    else:
        files = source_file or default_source_file(source_id)
    out = pd.DataFrame({
        "source_id": source_id,
        "source_file": files,
        "source_row": raw_rows["source_row"].astype("Int64").to_numpy(),
        "reason": reason if isinstance(reason, str) else reason.to_numpy(),
        "raw_values": raw_values_json(raw_rows.drop(columns=["source_row"])),
    })
    return out.astype({"source_id": "string", "source_file": "string", "reason": "string", "raw_values": "string"})


def default_source_file(source_id: str) -> str:
    """The base name of a single-file source (a source id the manifest lacks, in tests: itself)."""
    from etl.fetch import file_name, is_file_set, source_entry
    try:
        entry = source_entry(source_id)
    except KeyError:
        return source_id
    if is_file_set(entry):
        raise ValueError(f"[{source_id}] is a set of files: its excluded rows must carry source_file")
    return file_name(entry)


def raw_values_json(values: pd.DataFrame) -> list[str]:
    """Each row as ``json.dumps({column: None if missing else str(value)}, ensure_ascii=False,
    sort_keys=True)`` of its ``to_dict("records")`` values, byte for byte.

    Built column by column, each distinct value encoded once: a json.dumps per row took seconds
    per 100,000 excluded rows, and exclusions grow with the inputs. Column names must be str.
    """
    members = []
    for name in sorted(values.columns):
        codes, texts = _text_codes(values[name])
        key = json.dumps(name, ensure_ascii=False) + ": "
        encoded = np.array([key + json.dumps(t, ensure_ascii=False) for t in texts] + [key + "null"], dtype=object)
        members.append(encoded[codes].tolist())  # code -1 (missing) takes the last: null
    if not members:
        return ["{}"] * len(values)
    return ["{" + ", ".join(row) + "}" for row in zip(*members)]


def _text_codes(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Per value a code into distinct texts (``str(value)``), -1 where missing (``pd.isna``)."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        category_codes, texts = _text_codes(pd.Series(dtype.categories))
        codes = column.cat.codes.to_numpy()
        return np.where(codes >= 0, category_codes[codes], -1), texts
    if dtype.kind == "f":  # compared by their bits: 0.0 == -0.0, yet they print differently
        values = column.to_numpy(dtype=getattr(dtype, "numpy_dtype", dtype), na_value=np.nan)
        codes, bits = pd.factorize(values.view(f"i{values.itemsize}"))
        codes[np.isnan(values)] = -1
        return codes, [str(v) for v in bits.view(values.dtype).tolist()]
    # Equal values print alike for these; mixed objects (1 == 1.0 == True) are printed value by
    # value before they are compared.
    if not (dtype.kind in "iubmM" or isinstance(dtype, pd.StringDtype)
            or (dtype == object and pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"))):
        column = pd.Series([None if pd.isna(v) else str(v) for v in column], dtype=object)
    codes, uniques = pd.factorize(column)
    return codes, [str(u) for u in uniques]


def read_csv_text(path: Path, source_id: str, data: bytes | bytearray | None = None) -> pd.DataFrame:
    """``read_csv_table`` as a frame of ``string[pyarrow]`` columns (see there)."""
    return read_csv_table(path, source_id, data).to_pandas(types_mapper={pa.large_string(): pd.StringDtype("pyarrow")}.get)


def read_csv_table(path: Path, source_id: str, data: bytes | bytearray | None = None) -> pa.Table:
    """Every cell as text (``large_string``), nothing turned into NA: the literal "NA" is Namibia in one file and
    Nayarit in another, so each reader decides what is missing. A BOM is dropped.

    Parsed by pyarrow into Arrow-backed strings ("string[pyarrow]"): about the file's own size in
    memory and vectorised ``.str`` methods, where one Python str per cell costs ~50 bytes and a
    Python call per operation (the 100x benchmark, issue #10). ``data``: the file's bytes, when the
    reader has repaired them (they must be valid UTF-8). A row with too few or too many fields is a
    SourceError (pandas padded short rows with NaN).
    """
    path = Path(path)
    if data is None:
        data = path.read_bytes()
    header = re.match(rb"(?:\xef\xbb\xbf)?[\r\n]*[^\n]*\n?", data).group()
    if len(header) == len(data) and not header.endswith(b"\n"):
        data = header = header + b"\n"  # header only, no line end: pyarrow sees no columns
    try:
        # Column names first (BOM and blank lines before them skipped), to read every column as text.
        names = pacsv.read_csv(pa.py_buffer(header)).column_names
        table = pacsv.read_csv(
            pa.py_buffer(data), parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.large_string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            raise SourceError(source_id, f"{path.name} is empty") from exc
        raise SourceError(source_id, f"{path.name} cannot be read as a UTF-8 CSV: {exc}") from exc
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise SourceError(source_id, f"{path.name}: duplicate column name(s) {duplicated}")
    return table


def require_columns(raw: pd.DataFrame, columns: list[str], source_id: str, file_name: str) -> None:
    """Refuse a file whose header lacks an expected column or has one we do not know (``raw``: a
    frame, or its column names)."""
    names = list(raw.columns) if isinstance(raw, pd.DataFrame) else list(raw)
    missing = [c for c in columns if c not in names]
    if missing:
        raise SourceError(source_id, f"{file_name}: missing column(s) {missing}; header is {names}")
    extra = [c for c in names if c not in columns]
    if extra:
        raise SourceError(source_id, f"{file_name}: unexpected column(s) {extra}")


def number_rows(raw: pd.DataFrame) -> pd.DataFrame:
    """Add ``source_row``: the 1-based data row number in the raw file (header not counted)."""
    raw.insert(0, "source_row", pd.array(np.arange(1, len(raw) + 1), dtype="Int64"))
    return raw


def reason_on(bad, text: str, values: pd.Series | None = None) -> pd.Series:
    """``text`` (then the repr of the value) on the ``bad`` rows only, indexed by row: Python
    touches the excluded rows alone."""
    rows = np.asarray(bad, dtype=bool)
    if values is None:
        return pd.Series(text, index=bad.index[rows], dtype=object)
    return text + values[rows].astype(object).map(repr)


def join_reasons(reasons: list[pd.Series]) -> pd.Series:
    """One "; "-separated reason per excluded row (index: the rows), in the order of ``reasons``."""
    reasons = [r for r in reasons if len(r)]
    return pd.concat(reasons).groupby(level=0, sort=True).agg("; ".join) if reasons else pd.Series(dtype=object)


def digits_to_int64(s: pd.Series) -> pd.Series:
    """Int64 from digit strings (at most 18 digits, so no overflow), <NA> otherwise; parsed by Arrow."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ints = pc.cast(pa.array(s.where(s.str.fullmatch(r"\d{1,18}", na=False))), pa.int64())
    return pd.Series(ints.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get).array, index=s.index)


def text_to_float(s: pd.Series) -> pd.Series:
    """``pd.to_numeric(s, errors="coerce")`` as float64, each distinct text parsed once."""
    codes, uniques = pd.factorize(s)
    values = pd.to_numeric(pd.Series(uniques), errors="coerce").astype("float64").to_numpy()
    return pd.Series(np.append(values, np.nan)[codes], index=s.index)  # code -1 (missing) takes the NaN


def release_memory() -> None:
    """After a reader: pandas' ``.str`` accessor leaves each Series it touched in a reference cycle,
    so raw columns and temporaries outlive the reader until a full GC, and Arrow's allocator keeps
    the pages it freed; so does glibc's malloc for NumPy buffers and Python objects (a frame freed
    leaves RSS where it was: measured, 220 MB after the BTS rows are released). Hand all back, so
    later stages start from the live data only."""
    import gc

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()
    _malloc_trim()


def _malloc_trim() -> None:
    """glibc's ``malloc_trim(0)``: return the freed heap pages to the system (no-op elsewhere)."""
    global _LIBC
    if _LIBC is None:
        import ctypes
        import ctypes.util
        try:
            _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _LIBC.malloc_trim  # noqa: B018 -- musl, macOS: no such function
        except (OSError, AttributeError):
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


_LIBC = None
