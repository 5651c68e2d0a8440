"""CDP-ICLEI city emission reduction targets, reporting years 2016, 2017 and 2021.

Each year words its columns differently (2021 is OpenClimate's copy, headers rewritten by R's
``make.names`` and three columns of its own added), so what each header means lives in the
reviewed ``etl/vocab/cdp_targets_columns.csv``, and how each year words a target's type in
``etl/vocab/cdp_target_types.csv``: a new year is mapping rows, not code. As for the emissions
files, a header the mapping lacks fails the build when its values are figures.

One output row per raw row that states a target. Excluded with a reason: rows whose type says
there is no target, rows without a reduction, a target year or a target-year level, and rows
whose base year is not before their target year. A raw type the vocabulary lacks is a
SourceError naming file and value (never guessed).
"""
from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from .base import SourceError, SourceTable, join_reasons, make_exclusions, read_csv_text, reason_on
from .cdp_emissions import carries_figures, normalise_header, parse_location

VOCAB = Path(__file__).resolve().parent.parent / "vocab"
COLUMNS, TYPES = VOCAB / "cdp_targets_columns.csv", VOCAB / "cdp_target_types.csv"
TEXT = ["cdp_account", "organization", "city", "country", "raw_target_type", "sector", "target_boundary",
        "intensity_unit", "location"]
YEARS = ["reporting_year", "base_year", "target_year", "year_set"]
FIGURES = ["base_year_emissions_tco2e", "reduction_pct", "target_year_emissions_tco2e", "bau_emissions_tco2e",
           "base_year_intensity", "population"]
# OpenClimate's R copy writes a missing value as the literal "NA"; the portal files leave it empty
MISSING = {"2021_Cities_Emissions_Reduction_Targets_clean_names.csv": ("", "NA")}


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def load_mapping() -> dict[str, dict[str, dict]]:
    mapping: dict[str, dict[str, dict]] = {}
    for row in _rows(COLUMNS):
        mapping.setdefault(row["source_file"], {})[row["raw_header"]] = row
    return mapping


def load_types() -> pd.DataFrame:
    types = pd.DataFrame(_rows(TYPES)).replace("", pd.NA).astype("string")
    types["max_reduction_pct"] = pd.to_numeric(types["max_reduction_pct"]).astype("Float64")
    return types


def _year(text: pd.Series) -> pd.Series:
    """The four-digit year of "2030" or "Other: 2017"; <NA> for "Other" or empty."""
    return pd.to_numeric(text.str.extract(r"((?:19|20)\d\d)")[0], errors="coerce").astype("Int64")


def read_file(path: Path, source_id: str, mapping: dict[str, dict], types: pd.DataFrame):
    """(targets, exclusions) of one file: typed columns, raw type mapped, rows without a target excluded."""
    raw = read_csv_text(path, source_id)
    raw.columns = [normalise_header(c) for c in raw.columns]
    name = Path(path).name
    figures = [c for c in raw.columns if c not in mapping and carries_figures(raw[c])]
    if figures:
        raise SourceError(source_id, f"{name}: column(s) {figures} carry figures but are not in {COLUMNS.name}")
    raw["source_row"] = pd.array(range(1, len(raw) + 1), dtype="Int64")
    raw["source_file"] = name
    missing = MISSING.get(name, ("",))
    d = pd.DataFrame({"source_file": name, "source_row": raw["source_row"]})
    fields = {m["field"]: h for h, m in mapping.items() if m["field"] != "ignored" and h in raw.columns}
    for field in TEXT + YEARS + FIGURES:
        text = raw[fields[field]].str.strip() if field in fields else pd.Series(pd.NA, index=raw.index, dtype="string")
        d[field] = text.mask(text.isin(missing))
    for field in YEARS:
        d[field] = _year(d[field])
    for field in FIGURES:
        d[field] = pd.to_numeric(d[field].str.replace(",", "", regex=False), errors="coerce").astype("Float64")
    d[["latitude", "longitude"]] = parse_location(d["location"])

    known = types[types["source_file"] == name].drop(columns="source_file")
    d = d.merge(known, on="raw_target_type", how="left", indicator=True)
    unknown = d.loc[d["_merge"] == "left_only", "raw_target_type"]
    if len(unknown):
        raise SourceError(source_id, f"{name}: target type(s) {sorted(unknown.astype(str).unique())} not in "
                                     f"{TYPES.name}; review them and add them", int(d.loc[unknown.index[0], "source_row"]))
    no_figure = d[["reduction_pct", "target_year", "target_year_emissions_tco2e"]].isna().all(axis=1)
    not_before = (d["base_year"] >= d["target_year"]).fillna(False)
    reason = join_reasons([
        d.loc[d["excluded_reason"].notna(), "excluded_reason"].astype(object),
        reason_on(d["excluded_reason"].isna() & no_figure, "no reduction %, target year or target-year emissions"),
        reason_on(not_before, "base year not before target year: ", d["base_year"].astype(str) + " >= " + d["target_year"].astype(str)),
    ])
    bad = d.index.isin(reason.index)
    exclusions = make_exclusions(source_id, raw[bad], pd.Series(reason.sort_index().to_numpy()))
    return d[~bad].drop(columns=["_merge", "excluded_reason", "note"]).reset_index(drop=True), exclusions


def read(paths: list[Path], source_id: str) -> SourceTable:
    mapping, types = load_mapping(), load_types()
    frames, excluded = [], []
    for path in sorted(Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)):
        if path.name not in mapping:
            raise SourceError(source_id, f"{path.name} has no entry in {COLUMNS.name}")
        data, exclusions = read_file(path, source_id, mapping[path.name], types)
        frames.append(data)
        excluded.append(exclusions)
    data = pd.concat(frames, ignore_index=True)
    exclusions = pd.concat(excluded, ignore_index=True)
    notes = {"rows_kept": len(data), "rows_by_file": {f: {"kept": int((data["source_file"] == f).sum()),
                                                          "excluded": int((exclusions["source_file"] == f).sum())}
                                                      for f in sorted(set(data["source_file"]) | set(exclusions["source_file"]))}}
    return SourceTable(source_id, len(data) + len(exclusions), data, exclusions, notes)
