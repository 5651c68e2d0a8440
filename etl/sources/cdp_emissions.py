"""CDP-ICLEI city-wide emissions, one file per reporting year (2016-2021).

The columns change every year, so what each header means lives in a reviewed mapping
(``etl/vocab/cdp_emissions_columns.csv``): a new year is new mapping rows, not code. Headers are
normalised (non-breaking and zero-width spaces) before they are matched. A header the mapping
lacks is a SourceError when its values are figures, else it is listed in the reader's notes.

Output is long: one row per reporting government x file x scope (or total) x scope variant that
has a figure. From 2018 CDP splits each scope into "total generation of grid-supplied energy" and
"total emissions (excluding generation of grid-supplied energy)": ``scope_variant`` says which
(``grid_generation`` / ``excl_grid_generation``, empty for the plain scope totals).
A reported total is kept as reported, never recomputed from the scopes. A file row without any
figure ("In progress", "-", empty) goes to exclusions with its inventory status as the reason.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from .base import SourceError, SourceTable, make_exclusions, read_csv_text

MAPPING = Path(__file__).resolve().parent.parent / "vocab" / "cdp_emissions_columns.csv"
TEXT_FIELDS = ["cdp_account", "organization", "city", "country", "reporting_year", "accounting_period",
               "boundary", "protocol", "gases", "population", "location", "inventory_status"]
FIGURE = re.compile(r"^-?[\d,]+(\.\d+)?$")
# "(lat, lon)" in 2016-2017, "POINT (lon lat)" later: note the order
LAT_LON = r"^\(\s*(?P<lat>-?[\d.]+),\s*(?P<lon>-?[\d.]+)\s*\)$"
POINT = r"^POINT \((?P<lon>-?[\d.]+) (?P<lat>-?[\d.]+)\)$"


def normalise_header(header: str) -> str:
    """Header as the mapping spells it: BOM and zero-width spaces dropped, NBSP and runs of
    whitespace made one space."""
    header = header.replace("\u200b", "").replace("\ufeff", "").replace("\xa0", " ")
    return re.sub(r"\s+", " ", header).strip()


def parse_location(location: pd.Series) -> pd.DataFrame:
    """latitude, longitude (Float64) from either location form; <NA> where neither matches."""
    text = location.astype("string").str.strip()
    out = pd.DataFrame(index=location.index, columns=["latitude", "longitude"], dtype="Float64")
    for form in (LAT_LON, POINT):
        got = text.str.extract(form)
        for axis, col in (("lat", "latitude"), ("lon", "longitude")):
            out[col] = out[col].fillna(pd.to_numeric(got[axis], errors="coerce").astype("Float64"))
    bad = out["latitude"].abs().gt(90) | out["longitude"].abs().gt(180)
    return out.mask(bad.fillna(False))


def parse_period(period: pd.Series) -> pd.DataFrame:
    """period_start, period_end (dates) and accounting_year (the year the period ends, else the
    year it starts) from "2015-01-01 - 2015-12-31" (either side may be missing) or 2016's
    "Measurement Year" "12/31/2013 12:00:00 AM" (the day the measured year ended)."""
    text = period.astype("string").str.strip()
    parts = text.str.extract(r"^(?P<start>\d{4}-\d\d-\d\d)?\s*-\s*(?P<end>\d{4}-\d\d-\d\d)?$")
    single = pd.to_datetime(text.where(text.str.fullmatch(r"\d\d?/\d\d?/\d{4}.*", na=False)),
                            format="%m/%d/%Y %I:%M:%S %p", errors="coerce")
    start = pd.to_datetime(parts["start"], format="%Y-%m-%d", errors="coerce")
    end = pd.to_datetime(parts["end"], format="%Y-%m-%d", errors="coerce").fillna(single)
    year = end.dt.year.fillna(start.dt.year).astype("Int64")
    return pd.DataFrame({"period_start": start.dt.date.astype(object).where(start.notna(), None),
                         "period_end": end.dt.date.astype(object).where(end.notna(), None),
                         "accounting_year": year}, index=period.index)


def load_mapping(path: Path = MAPPING) -> dict[str, dict[str, dict]]:
    """{source_file: {normalised raw header: mapping row}}."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    mapping: dict[str, dict[str, dict]] = {}
    for row in rows:
        mapping.setdefault(row["source_file"], {})[row["raw_header"]] = row
    return mapping


def carries_figures(values: pd.Series) -> bool:
    text = values.astype("string").str.strip()
    text = text[text.ne("") & text.ne("-") & text.ne("NA")]
    return len(text) > 0 and bool(text.str.fullmatch(FIGURE.pattern).mean() > 0.5)


def read_file(path: Path, source_id: str, mapping: dict[str, dict]) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Long emissions rows, excluded rows and the unmapped non-figure headers of one file."""
    raw = read_csv_text(path, source_id)
    raw.columns = [normalise_header(c) for c in raw.columns]
    name = Path(path).name
    unmapped = [c for c in raw.columns if c not in mapping]
    figures = [c for c in unmapped if carries_figures(raw[c])]
    if figures:
        raise SourceError(source_id, f"{name}: column(s) {figures} carry figures but are not in {MAPPING.name}")
    raw["source_row"] = pd.array(range(1, len(raw) + 1), dtype="Int64")
    raw["source_file"] = name
    base = pd.DataFrame({"source_file": name, "source_row": raw["source_row"]})
    for header, row in mapping.items():
        if row["field"] in TEXT_FIELDS and header in raw.columns:
            base[row["field"]] = raw[header].str.strip()
    for col in TEXT_FIELDS:
        if col not in base:
            base[col] = pd.array([pd.NA] * len(raw), dtype="string")
    long = []
    for header, row in mapping.items():
        if row["field"] != "emissions_tco2e" or header not in raw.columns:
            continue
        text = raw[header].str.strip().str.replace(",", "", regex=False)
        value = pd.to_numeric(text.where(text.ne("")), errors="coerce")
        keep = value.notna()
        part = base[keep].copy()
        part["scope"] = row["scope"]
        part["scope_variant"] = row["scope_variant"] or pd.NA
        part["raw_header"] = header
        part["emissions_tco2e"] = value[keep].astype("float64")
        long.append(part)
    data = pd.concat(long, ignore_index=True) if long else base.iloc[:0].assign(scope="", scope_variant="", raw_header="", emissions_tco2e=0.0)
    without = ~raw["source_row"].isin(data["source_row"])
    status = base.loc[without, "inventory_status"].fillna("").replace("", "not stated")
    reason = "no emissions figure reported (inventory: " + status.astype(str) + ")"
    exclusions = make_exclusions(source_id, raw[without].copy(), reason.reset_index(drop=True))
    return data, exclusions, unmapped


def read(paths: list[Path], source_id: str) -> SourceTable:
    mapping = load_mapping()
    frames, excluded, notes, rows_read = [], [], {}, 0
    for path in sorted(Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)):
        if path.name not in mapping:
            raise SourceError(source_id, f"{path.name} has no entry in {MAPPING.name}")
        data, exclusions, unmapped = read_file(path, source_id, mapping[path.name])
        frames.append(data)
        excluded.append(exclusions)
        rows_read += int(data["source_row"].nunique()) + len(exclusions)
        notes[f"{path.name}: unmapped non-figure columns"] = len(unmapped)  # names: read_file()
    data = pd.concat(frames, ignore_index=True)
    data["reporting_year"] = pd.to_numeric(data["reporting_year"], errors="coerce").astype("Int64")
    data["cdp_account"] = data["cdp_account"].astype("string")
    data[["latitude", "longitude"]] = parse_location(data["location"])
    data[["period_start", "period_end", "accounting_year"]] = parse_period(data["accounting_period"])
    return SourceTable(source_id, rows_read, data, pd.concat(excluded, ignore_index=True), notes)
