"""What every source reader returns, and the shared way to record rows it cannot use.

A reader never drops a row silently: a row it cannot use goes to ``exclusions``
with the source, the 1-based data row number and a reason, plus its raw values.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

EXCLUSION_COLUMNS = ["source_id", "source_row", "reason", "raw_values"]


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


def empty_exclusions() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string" if c != "source_row" else "Int64") for c in EXCLUSION_COLUMNS})


def make_exclusions(source_id: str, raw_rows: pd.DataFrame, reason: str | pd.Series) -> pd.DataFrame:
    """Exclusion rows for ``raw_rows`` (which must carry ``source_row``), raw values kept as JSON."""
    if raw_rows.empty:
        return empty_exclusions()
    values = raw_rows.drop(columns=["source_row"])
    raw_json = [json.dumps({k: (None if pd.isna(v) else str(v)) for k, v in rec.items()}, ensure_ascii=False, sort_keys=True)
                for rec in values.to_dict("records")]
    out = pd.DataFrame({
        "source_id": source_id,
        "source_row": raw_rows["source_row"].astype("Int64").to_numpy(),
        "reason": reason if isinstance(reason, str) else reason.to_numpy(),
        "raw_values": raw_json,
    })
    return out.astype({"source_id": "string", "reason": "string", "raw_values": "string"})


def read_csv_text(path: Path, source_id: str, text: str | None = None) -> pd.DataFrame:
    """Every cell as text, nothing turned into NaN: the literal "NA" is Namibia in one file and
    Nayarit in another, so each reader decides what is missing. A BOM is dropped."""
    path = Path(path)
    try:
        return pd.read_csv(io.StringIO(text) if text is not None else path, dtype=str, keep_default_na=False,
                           na_filter=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError as exc:
        raise SourceError(source_id, f"{path.name} is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SourceError(source_id, f"{path.name} cannot be read as a UTF-8 CSV: {exc}") from exc


def require_columns(raw: pd.DataFrame, columns: list[str], source_id: str, file_name: str) -> None:
    """Refuse a file whose header lacks an expected column or has one we do not know."""
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise SourceError(source_id, f"{file_name}: missing column(s) {missing}; header is {list(raw.columns)}")
    extra = [c for c in raw.columns if c not in columns]
    if extra:
        raise SourceError(source_id, f"{file_name}: unexpected column(s) {extra}")


def number_rows(raw: pd.DataFrame) -> pd.DataFrame:
    """Add ``source_row``: the 1-based data row number in the raw file (header not counted)."""
    raw.insert(0, "source_row", pd.array(np.arange(1, len(raw) + 1), dtype="Int64"))
    return raw
