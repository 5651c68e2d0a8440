"""Reader for the ITA Metropolitan Export Series 2005-2023 (``ITA_MSA_Export_Series.xlsx``).

Same layout as the 2012-2021 CSV (``ita_metro_exports``: metro name, unit, one column per
year), read with python-calamine (a real xlsx reader, no Excel). Cells are turned into the text
the CSV reader checks: a number cell that is a whole number -> its digits (xlsx stores numbers as
IEEE doubles; every value here is below 2**53, so the digits are exact), an empty cell -> ""
(suppressed), anything else -> its text (a fraction such as "12.5" is then excluded with its
reason). Unlike the CSV, values of $100 bn or more are exact here (Houston 2012: 110,297,753,116
where the CSV wrote "1.10298E+11"). Metro names follow the 2023 OMB delineation
("Houston-Pasadena-The Woodlands, TX"); the trade step matches them to the same first-named
principal city as the older file.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import SourceError, SourceTable
from .ita_metro_exports import OUTPUT_DTYPES, read_text_frame  # noqa: F401 (same output contract)

TEXT = "string[pyarrow]"
MAX_EXACT = 2 ** 53


def _cell_text(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        if float(value).is_integer() and abs(value) < MAX_EXACT:
            return str(int(value))
        return repr(value)
    return str(value)


def read(path: Path, source_id: str) -> SourceTable:
    from python_calamine import CalamineWorkbook

    path = Path(path)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        rows = workbook.get_sheet_by_index(0).to_python()
    except Exception as exc:  # calamine raises its own error types for a corrupt or non-xlsx file
        raise SourceError(source_id, f"{path.name} cannot be read as an xlsx workbook: {exc}") from exc
    if not rows:
        raise SourceError(source_id, f"{path.name}: the first sheet is empty")
    header = [_cell_text(c) for c in rows[0]]
    while rows and all(_cell_text(c) == "" for c in rows[-1]):
        rows = rows[:-1]  # trailing empty rows of the sheet's used range
    body = [[_cell_text(c) for c in r] + [""] * (len(header) - len(r)) for r in rows[1:]]
    raw = pd.DataFrame(body, columns=header).astype(TEXT)
    return read_text_frame(raw, source_id, path.name)
