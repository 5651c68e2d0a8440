"""GeoNames postal code files (``geonames_postal``: one <CC>.txt per country): the ladder's last authority.

Twelve tab-separated columns, no header: country, postal code, place name, admin name/code
1..3, latitude, longitude, accuracy. One row per postal code x place name: a village appears
once per postal code it has, a city once per code of its districts. No GeoNames id. Read with
pyarrow (511k rows); quoting is off, as place names contain stray double quotes.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from .base import SourceTable

COLUMNS = ["country", "postcode", "name", "admin1_name", "admin1", "admin2_name", "admin2", "admin3_name", "admin3",
           "latitude", "longitude", "accuracy"]
TEXT = [c for c in COLUMNS if c not in ("latitude", "longitude", "accuracy")]


def read(path, source_id: str) -> SourceTable:
    frames = []
    for p in ([path] if isinstance(path, (str, Path)) else path):
        t = pacsv.read_csv(p, read_options=pacsv.ReadOptions(column_names=COLUMNS),
                           parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
                           convert_options=pacsv.ConvertOptions(
                               column_types={**{c: pa.string() for c in TEXT}, "latitude": pa.float64(),
                                             "longitude": pa.float64(), "accuracy": pa.float64()}))
        f = t.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
        f.insert(0, "source_row", pd.array(range(1, len(f) + 1), dtype="Int64"))
        f.insert(0, "source_file", pd.array([Path(p).name] * len(f), dtype="string"))
        frames.append(f)
    data = pd.concat(frames, ignore_index=True)
    return SourceTable(source_id=source_id, rows_read=len(data), data=data)
