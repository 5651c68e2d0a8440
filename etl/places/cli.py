"""``city-commitments resolve``: attach city_id to your own list of places.

CSV in with at least ``name`` and ``country`` (optional ``admin1``, ``latitude``, ``longitude``,
``place_type``); CSV out with the input columns plus ``city_id``, ``geonames_id``,
``matched_name``, ``method``, ``score``, ``status``.
"""
from __future__ import annotations

import csv
from typing import TextIO

import pandas as pd

OUT_COLUMNS = ["city_id", "geonames_id", "matched_name", "method", "score", "status"]


def resolve_csv(source: TextIO, target: TextIO) -> None:
    from etl.places.resolver import resolve

    df = pd.read_csv(source, dtype=str, keep_default_na=False)
    missing = {"name", "country"} - set(df.columns)
    if missing:
        raise ValueError(f"input CSV lacks column(s) {sorted(missing)} (needs name,country)")
    df = df.replace("", pd.NA)
    r = resolve(df)
    out = pd.concat([df, r[OUT_COLUMNS]], axis=1)
    out.to_csv(target, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
