"""GeoNames administrative divisions (``geonames_admin1``: admin1CodesASCII.txt, ``geonames_admin2``:
admin2Codes.txt): a place authority for the ladder and the admin1 names of ``cities``.

Four tab-separated columns, no header: code ("US.CA", "NO.01.3222"), name, ASCII name,
geonameid. No coordinates. The code is split into ``country``, ``admin1`` and ``admin2``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import SourceError, SourceTable


def read(path, source_id: str) -> SourceTable:
    path = Path(path[0] if isinstance(path, list) else path)
    raw = pd.read_csv(path, sep="\t", header=None, dtype=str, keep_default_na=False, quoting=3,
                      names=["code", "name", "asciiname", "geonameid"])
    parts = raw["code"].str.split(".", expand=True).reindex(columns=[0, 1, 2])
    if parts[1].isna().any():
        bad = int(parts[1].isna().idxmax()) + 1
        raise SourceError(source_id, f"{path.name}: code {raw['code'][bad - 1]!r} is not CC.ADMIN1[.ADMIN2]", bad)
    data = pd.DataFrame({
        "source_row": pd.array(range(1, len(raw) + 1), dtype="Int64"),
        "country": parts[0].astype("string"), "admin1": parts[1].astype("string"),
        "admin2": parts[2].astype("string"),
        "name": raw["name"].astype("string"), "asciiname": raw["asciiname"].astype("string"),
        "geonames_id": pd.to_numeric(raw["geonameid"], errors="coerce").astype("Int64"),
    })
    return SourceTable(source_id=source_id, rows_read=len(raw), data=data)
