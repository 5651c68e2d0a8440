"""GeoNames complete country dumps (``geonames_country_dumps``: NL.txt, DK.txt): a place authority.

The 19-column dump format, tab-separated, no header, every feature class. Only populated
places (feature class P) and administrative areas (A) are kept: the ladder matches place
names, and a farm or a lake of the same name is not the place a source means. Not the
postal files of the same two-letter names.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import SourceTable

COLUMNS = ["geonameid", "name", "asciiname", "alternatenames", "latitude", "longitude", "feature_class",
           "feature_code", "country", "cc2", "admin1", "admin2", "admin3", "admin4", "population", "elevation",
           "dem", "timezone", "modified"]


def read(path, source_id: str) -> SourceTable:
    frames = []
    for p in ([path] if isinstance(path, (str, Path)) else path):
        raw = pd.read_csv(p, sep="\t", header=None, names=COLUMNS, dtype=str, keep_default_na=False, quoting=3)
        raw.insert(0, "source_row", pd.array(range(1, len(raw) + 1), dtype="Int64"))
        raw.insert(0, "source_file", Path(p).name)
        frames.append(raw[raw["feature_class"].isin(["P", "A"])])
    raw = pd.concat(frames, ignore_index=True)
    data = pd.DataFrame({
        "source_file": raw["source_file"].astype("string"), "source_row": raw["source_row"],
        "geonames_id": pd.to_numeric(raw["geonameid"]).astype("Int64"),
        "name": raw["name"].astype("string"), "alternatenames": raw["alternatenames"].astype("string"),
        "latitude": pd.to_numeric(raw["latitude"]), "longitude": pd.to_numeric(raw["longitude"]),
        "feature_class": raw["feature_class"].astype("string"), "feature_code": raw["feature_code"].astype("string"),
        "country": raw["country"].astype("string"), "admin1": raw["admin1"].astype("string"),
        "population": pd.to_numeric(raw["population"], errors="coerce").astype("Int64"),
    })
    return SourceTable(source_id=source_id, rows_read=sum(len(f) for f in frames), data=data)
