"""``city-commitments resolve``: attach city_id to your own list of places.

CSV in with at least ``name`` and ``country`` (optional ``admin1``, ``latitude``, ``longitude``,
``place_type``); CSV out with the input columns plus ``city_id``, ``geonames_id``,
``matched_name``, ``method``, ``score``, ``status``, ``authority`` and ``authority_id``: the same
resolver and authority ladder as the build (``etl.places.ladder``), so a hamlet cities500 lacks
gets its Census place ("cb<GEOID>") or postal locality ("pc-...") and ``authority`` says which
matched.
"""
from __future__ import annotations

import csv
from typing import TextIO

import pandas as pd

OUT_COLUMNS = ["city_id", "geonames_id", "matched_name", "method", "score", "status", "authority", "authority_id"]


def resolve_csv(source: TextIO, target: TextIO) -> list[int]:
    from etl.places.ladder import extend
    from etl.places.resolver import resolve

    df = pd.read_csv(source, dtype=str, keep_default_na=False)
    missing = {"name", "country"} - set(df.columns)
    if missing:
        raise ValueError(f"input CSV lacks column(s) {sorted(missing)} (needs name,country)")
    df = df.replace("", pd.NA)
    # A row without a name is no place: reported, and given no id (an id made from nothing
    # would look like a real provisional id).
    empty = df["name"].fillna("").str.strip().eq("")
    r = pd.DataFrame({c: pd.Series(pd.NA, index=df.index, dtype="object") for c in OUT_COLUMNS})
    if (~empty).any():
        keys = df[~empty].reset_index(drop=True)
        named = extend(keys, resolve(keys))
        named.index = df.index[~empty]
        r.loc[~empty, OUT_COLUMNS] = named[OUT_COLUMNS].astype(object)
    r.loc[empty, ["method", "status"]] = "empty_name"
    out = pd.concat([df, r[OUT_COLUMNS]], axis=1)
    out.to_csv(target, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    # CSV line numbers (the header is line 1), for the caller to report.
    return [int(i) + 2 for i in df.index[empty]]


def decode_input(data: bytes, where: str = "input") -> str:
    """The CSV's text, or a ValueError naming the line with bytes that are not UTF-8 and what to do."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValueError(
            f"{where}, line {line}: byte 0x{data[exc.start]:02x} is not UTF-8 ({exc.reason}). "
            f"Save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 in.csv > in-utf8.csv`) and run again.") from exc
