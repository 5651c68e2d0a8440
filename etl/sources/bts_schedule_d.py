"""Reader for the Schedule D port code lookup (``schedule_d_port_codes.json``).

The file is one JSON object ``{code: {"port": ..., "district": ..., "state": ...}}``;
"2704" is Los Angeles, CA.

Quirks handled, and why:

* Codes are object keys, so they stay strings with their leading zeros ("0101"); the
  district "n.e.c." codes end in "XX" ("20XX"); "70XX" and a few other codes are
  low-value / unknown aggregates with ``state`` null (6 in the real file) -> <NA>.
* ``source_row`` is the 1-based position of the code in the JSON object's order (kept by
  parsing with ``object_pairs_hook``), which also lets a duplicate key be seen instead of
  silently overwritten by ``json.loads``.

Exclusions: a code that is not 4 characters of digits/"XX", an entry that is not an object
or has no port name, a repeated code (the first occurrence is kept).
A file that is not a JSON object raises ``SourceError``.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .base import SourceError, SourceTable, empty_exclusions, make_exclusions

OUTPUT_DTYPES = {"source_row": "Int64", "port_code": "string", "port_name": "string", "district_name": "string",
                 "state": "string"}


def _text(v) -> str | None:
    if v is None:
        return None
    v = str(v).strip()
    return v or None


def read(path: Path, source_id: str) -> SourceTable:
    path = Path(path)
    try:
        pairs = json.loads(path.read_text(encoding="utf-8-sig"), object_pairs_hook=lambda p: p)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(source_id, f"{path.name} is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(pairs, list) or (pairs and not isinstance(pairs[0], tuple)):
        raise SourceError(source_id, f"{path.name}: expected a JSON object {{code: {{port, district, state}}}}")

    records, reasons = [], []
    for i, (code, entry) in enumerate(pairs, start=1):
        is_obj = isinstance(entry, list) and all(isinstance(p, tuple) for p in entry)
        fields = dict(entry) if is_obj else {}
        records.append({"source_row": i, "port_code": code, "port_name": _text(fields.get("port")),
                        "district_name": _text(fields.get("district")), "state": _text(fields.get("state")),
                        "entry": json.dumps(fields if is_obj else entry, ensure_ascii=False)})
        if not is_obj:
            reasons.append(f"entry for code {code!r} is not an object")
        elif records[-1]["port_name"] is None:
            reasons.append(f"entry for code {code!r} has no port name")
        else:
            reasons.append("")
    frame = pd.DataFrame(records, columns=["source_row", *list(OUTPUT_DTYPES)[1:], "entry"])
    reason = pd.Series(reasons, index=frame.index, dtype="string")

    bad_code = ~frame["port_code"].astype("string").str.fullmatch(r"\d{4}|\d{2}XX")
    reason = reason.mask((reason == "") & bad_code,
                         "port code is not 4 digits or NNXX: " + frame["port_code"].map(repr))
    first = frame.groupby("port_code")["source_row"].transform("min")
    dup = frame["port_code"].duplicated()
    reason = reason.mask((reason == "") & dup, "duplicate port code " + frame["port_code"].map(repr)
                         + " (first at source_row " + first.astype(str) + ")")
    bad = reason != ""

    data = frame.drop(columns="entry").astype(OUTPUT_DTYPES)
    raw_rows = frame[["source_row", "port_code", "entry"]]
    exclusions = make_exclusions(source_id, raw_rows[bad], reason[bad]) if bad.any() else empty_exclusions()
    data = data[~bad].reset_index(drop=True)
    notes = {
        "state_missing": int(data["state"].isna().sum()),
        "district_nec_codes": int(data["port_code"].str.endswith("XX").sum()),
    }
    return SourceTable(source_id=source_id, rows_read=len(frame), data=data, exclusions=exclusions, notes=notes)
