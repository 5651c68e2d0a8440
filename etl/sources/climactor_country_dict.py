"""Reader for ClimActor's country name dictionary (``country_dict_Oct2023.csv``).

Maps country name variants (``wrong``) to a standard name (``right``) and ISO3 code.

Quirks handled, and why:

* ``iso2`` "NA" is Namibia, not a missing value: the file is read with
  ``keep_default_na=False`` and only an empty ``iso2`` is missing.
* In the real file Namibia's ``iso2`` is in fact empty (the "NA" was lost upstream when R
  wrote it with ``na=""``; not in SOURCES.md). The code is restored to "NA" for ISO3 "NAM"
  when it is empty, and ``notes["iso2_restored"]`` records it.
* ``Landarea`` and ``Population`` use the literal ``NA`` for missing (no number can be "NA"),
  so there "NA" and empty both mean missing. ``Landarea`` has fractions ("29.9") -> float64.
* The file repeats rows (94 exact duplicates in Oct 2023, not in SOURCES.md): they are kept
  (harmless for a lookup) and counted in ``notes["exact_duplicate_rows"]``; variants mapped to
  two different standard names or codes are counted in ``notes["conflicting_variants"]``.
* Text values are stripped; the European Union row has no ISO codes (kept, iso <NA>).

Exclusions: a row with an empty ``wrong`` or ``right`` (unusable as a lookup), or a
``Population`` that is not a whole number / ``Landarea`` that is not a number.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import SourceTable, empty_exclusions, make_exclusions, number_rows, read_csv_text, require_columns

COLUMNS = ["wrong", "right", "iso", "region", "Landarea", "iso2", "Population"]
OUTPUT_DTYPES = {
    "source_row": "Int64", "wrong": "string", "right": "string", "iso": "string", "region": "string",
    "land_area": "float64", "iso2": "string", "population": "Int64",
}
# iso2 codes that a CSV round trip through R loses (written as empty): ISO3 -> ISO2.
LOST_ISO2 = {"NAM": "NA"}


def _join_reasons(reasons: list[pd.Series], index: pd.Index) -> pd.Series:
    out = pd.Series("", index=index, dtype="string")
    for r in reasons:
        r = r.astype("string").fillna("")
        out = out.where(r == "", out.where(out == "", out + "; ") + r)
    return out


def read(path: Path, source_id: str) -> SourceTable:
    path = Path(path)
    raw = read_csv_text(path, source_id)
    require_columns(raw, COLUMNS, source_id, path.name)

    n = len(number_rows(raw))
    text = {c: raw[c].astype("string").str.strip() for c in COLUMNS}
    out = pd.DataFrame({"source_row": raw["source_row"]})
    for col in ["wrong", "right", "iso", "region", "iso2"]:
        out[col] = text[col].mask(text[col] == "")  # only empty is missing: "NA" is Namibia

    restore = out["iso2"].isna() & out["iso"].isin(list(LOST_ISO2))
    out.loc[restore, "iso2"] = out.loc[restore, "iso"].map(LOST_ISO2)

    reasons = []
    for col in ["wrong", "right"]:
        reasons.append(pd.Series(pd.NA, index=raw.index, dtype="string").mask(out[col].isna(), f"{col} is empty"))

    land_missing = text["Landarea"].isin(["", "NA"])
    land = pd.to_numeric(text["Landarea"].mask(land_missing), errors="coerce").astype("float64")
    bad_land = land.isna() & ~land_missing
    reasons.append(pd.Series(pd.NA, index=raw.index, dtype="string")
                   .mask(bad_land, "Landarea is not a number: " + text["Landarea"].map(repr)))

    pop_missing = text["Population"].isin(["", "NA"])
    pop_ok = text["Population"].str.fullmatch(r"\d+(\.0+)?", na=False)
    bad_pop = ~pop_missing & ~pop_ok
    reasons.append(pd.Series(pd.NA, index=raw.index, dtype="string")
                   .mask(bad_pop, "Population is not a whole number: " + text["Population"].map(repr)))
    pop = text["Population"].where(pop_ok).str.replace(r"\.0+$", "", regex=True)

    out["land_area"] = land
    out["population"] = pd.to_numeric(pop, errors="coerce").astype("Int64")
    out = out.astype(OUTPUT_DTYPES)[list(OUTPUT_DTYPES)]

    reason = _join_reasons(reasons, raw.index)
    bad = reason != ""
    exclusions = make_exclusions(source_id, raw[bad], reason[bad]) if bad.any() else empty_exclusions()
    data = out[~bad].reset_index(drop=True)

    keyed = data.drop(columns="source_row")
    notes = {
        "iso2_restored": {iso: LOST_ISO2[iso] for iso in out.loc[restore, "iso"]},
        "exact_duplicate_rows": int(keyed.duplicated().sum()),
        "conflicting_variants": int((data.groupby("wrong")[["right", "iso"]].nunique(dropna=False) > 1)
                                    .any(axis=1).sum()),
        "na_literal_as_missing": {"Landarea": int((text["Landarea"] == "NA").sum()),
                                  "Population": int((text["Population"] == "NA").sum())},
    }
    return SourceTable(source_id=source_id, rows_read=n, data=data, exclusions=exclusions, notes=notes)
