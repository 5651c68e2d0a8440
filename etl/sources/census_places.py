"""US Census 2010 Gazetteer, places (``census_places_2010``): a place authority for the ladder.

Quirks: the file is **tab-separated despite its .csv name**, **Latin-1** ("La Cañada
Flintridge"), CRLF; ``NAME`` carries the legal kind ("Portal city", "Sweet Grass CDP",
"Nashville-Davidson metropolitan government (balance)"), which mentions never write, so it is
stripped into ``kind``. GEOID keeps its leading zero ("0100100"): it is the place's id.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .base import SourceError, SourceTable

# the legal kinds the file uses (lower case, after the name: "Carson City" keeps its "City")
KIND = re.compile(r"\s+((?:city and borough|consolidated government|metropolitan government|metro government|"
                  r"unified government|urban county|municipality|corporation|comunidad|zona urbana|borough|city|"
                  r"town|village|CDP)(?: \(balance\))?)$")
COLUMNS = ["STUSPS", "GEOID", "NAME", "INTPTLAT", "INTPTLONG"]


def read(path, source_id: str) -> SourceTable:
    path = Path(path[0] if isinstance(path, list) else path)
    raw = pd.read_csv(path, sep="\t", encoding="latin-1", dtype=str, keep_default_na=False)
    raw.columns = [c.strip() for c in raw.columns]  # the last header cell carries trailing blanks upstream
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise SourceError(source_id, f"{path.name}: missing column(s) {missing} (is it tab-separated?)")
    kind = raw["NAME"].str.extract(KIND, expand=False)
    data = pd.DataFrame({
        "source_row": pd.array(range(1, len(raw) + 1), dtype="Int64"),
        "state": raw["STUSPS"].str.strip().astype("string"),
        "geoid": raw["GEOID"].str.strip().astype("string"),
        "name": raw["NAME"].str.replace(KIND, "", regex=True).str.strip().astype("string"),
        "kind": kind.astype("string"),
        "latitude": pd.to_numeric(raw["INTPTLAT"].str.strip(), errors="coerce"),
        "longitude": pd.to_numeric(raw["INTPTLONG"].str.strip(), errors="coerce"),
    })
    return SourceTable(source_id=source_id, rows_read=len(raw), data=data)
