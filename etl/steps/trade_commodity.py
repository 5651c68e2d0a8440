"""``trade_by_commodity`` (BTS table 3: port x HS chapter) and ``hs_chapters`` (the vocabulary).

Planned by the trade step's port planner (``trade_flows._plan_dot1`` with ``hs_chapter`` as an
extra key: the same Schedule D naming, the same place mentions, DF and CONTCODE summed away),
and built inside the trade step so ``trade_coverage`` covers both families at once.
"""
from __future__ import annotations

import pandas as pd

from etl.sources.bts_dot3 import hs_chapters

RESOURCE = "trade_by_commodity"
CHAPTERS = "hs_chapters"
DOT3_MONTHLY, DOT3_ANNUAL = "bts_dot3_monthly", "bts_dot3_annual"
COMMODITY_SOURCES = (DOT3_MONTHLY, DOT3_ANNUAL)
EXTRA_KEYS = ("hs_chapter",)
STRING = "string[pyarrow]"  # Arrow-backed: 700k rows of Python str objects were ~150 MB a column set
OUTPUT_DTYPES = {
    "source_id": STRING, "source_file": STRING, "source_row": STRING, "city_id": STRING,
    "geography_type": STRING, "geography_code": STRING, "geography_name": STRING, "hs_chapter": STRING,
    "partner_country_iso3": STRING, "flow": STRING, "mode": STRING, "period_start": "datetime64[ns]",
    "period_end": "datetime64[ns]", "year": "Int64", "value_usd": "Int64", "shipping_weight_kg": "Int64",
    "freight_charges_usd": "Int64", "suppressed": "bool", "rounded": "bool",
}
SORT = ["source_id", "geography_code", "hs_chapter", "partner_country_iso3", "flow", "mode", "period_start"]


def finish(rows: pd.DataFrame | None) -> pd.DataFrame:
    """Rows with city_id attached -> the resource: its columns, types and order."""
    if rows is None or rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in OUTPUT_DTYPES.items()})
    # column by column and in place: 700k rows, and each whole-frame copy of Python strings was ~150 MB
    rows.drop(columns=[c for c in rows.columns if c not in OUTPUT_DTYPES], inplace=True)
    rows["year"] = rows["period_start"].dt.year
    for column, dtype in OUTPUT_DTYPES.items():
        rows[column] = rows[column].astype(dtype)
    rows = rows[list(OUTPUT_DTYPES)]
    rows.sort_values(SORT, ignore_index=True, inplace=True)
    return rows


def chapters_resource() -> pd.DataFrame:
    return hs_chapters().astype("string")


def report(commodity: pd.DataFrame) -> dict:
    used = sorted(pd.unique(commodity["hs_chapter"].dropna()).tolist()) if len(commodity) else []
    known = set(hs_chapters()["hs_chapter"])
    return {"chapters_used": len(used), "chapters_in_vocabulary": len(known),
            "chapters_used_not_in_vocabulary": sorted(set(used) - known),
            "vocabulary_chapters_unused": sorted(known - set(used))}
