"""What every source reader returns, and the shared way to record rows it cannot use.

A reader never drops a row silently: a row it cannot use goes to ``exclusions``
with the source, the 1-based data row number and a reason, plus its raw values.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

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
