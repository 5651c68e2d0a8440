"""The BTS TransBorder codebook PDF (``bts_codebook``): fetched and checksum-verified as the cited
source of the reviewed vocabulary ``etl/vocab/hs_chapters.csv``, not parsed by the build (the PDF
table was read once with pdftotext; see ``etl/vocab/make_hs_chapters.py``)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import SourceTable, empty_exclusions

OUTPUT_DTYPES = {"source_row": "Int64"}  # no data rows: the build reads no figure from the PDF


def read(path, source_id: str) -> SourceTable:
    paths = [Path(path)] if isinstance(path, (str, Path)) else [Path(p) for p in path]
    return SourceTable(source_id=source_id, rows_read=0, data=pd.DataFrame({"source_row": pd.Series(dtype="Int64")}), exclusions=empty_exclusions(),
                       notes={"files": [p.name for p in paths], "use": "provenance of etl/vocab/hs_chapters.csv"})
