"""Reader for the Wikipedia-scraped twin/sister city pairs (``twin_cities_raw.csv``).

One row per pair as listed on city1's country page (columns city1, country1, city2, country2).
The raw strings are kept (``*_raw``), and parsed ``city``/``region``/``country`` per side.

Quirks handled, and why:

* Read with ``keep_default_na=False``: no place name ("NA", "None", "Nan") becomes missing.
* A region or state in the country field ("New York, United States", "England, United Kingdom",
  "Azores, Portugal"; also a municipality: "Rauma, Norway") -> split on the LAST comma into
  ``region`` + ``country``.
* An empty country where the country sits in the city field ("Varna, Bulgaria") -> the city
  is split on its last comma; counted in ``notes["country_from_city_field"]``. In the real
  file 3 of the 5 empty country2 rows are "Varna, Bulgaria"; the other 2 name a territory
  with no comma ("Falkland Islands", "American Samoa") and are excluded (no country).
* Constituent countries and Wikipedia titles ("England", "Georgia (country)",
  "Republic of Ireland") stay as the country string: a later step maps names to ISO codes.
* Disambiguation in city names ("Encino (Los Angeles)", "Coventry, New York",
  "Washington, D.C.") is left untouched: the place resolver parses it.
* Whitespace (including no-break spaces) is stripped from parsed values.
* The same partnership listed from both sides is NOT deduplicated here (the spellings can
  differ: "Los Angeles" vs "Los Angeles County"); a later step does that.

Exclusions: self-pairs (same city and country on both sides after case/space
normalisation, reason "self-pair"), an empty city, or no country recoverable.
"""
from __future__ import annotations

import unicodedata
from pathlib import Path

import pandas as pd

from .base import SourceError, SourceTable, empty_exclusions, make_exclusions, number_rows, read_csv_text

COLUMNS = ["city1", "country1", "city2", "country2"]
OUTPUT_DTYPES = {
    "source_row": "Int64",
    "city1_raw": "string", "country1_raw": "string", "city2_raw": "string", "country2_raw": "string",
    "city1": "string", "region1": "string", "country1": "string",
    "city2": "string", "region2": "string", "country2": "string",
}


def _clean(s: pd.Series) -> pd.Series:
    s = s.astype("string").str.replace("\xa0", " ", regex=False).str.strip()
    return s.mask(s == "")


def _split_last_comma(s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(left, right, has_comma): "England, United Kingdom" -> "England", "United Kingdom"."""
    parts = s.str.rsplit(",", n=1, expand=True)
    if parts.shape[1] == 1:
        parts[1] = pd.NA
    has = parts[1].notna()
    left = _clean(parts[0].where(has))
    right = _clean(parts[1].where(has))
    return left, right, has & left.notna() & right.notna()


def _norm(s: pd.Series) -> pd.Series:
    """Key for comparing names: NFKC, casefold, collapsed whitespace."""
    return s.map(lambda v: " ".join(unicodedata.normalize("NFKC", v).casefold().split()),
                 na_action="ignore").astype("string")


def _parse_side(raw: pd.DataFrame, k: str) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    city, country = _clean(raw[f"city{k}"]), _clean(raw[f"country{k}"])
    region = pd.Series(pd.NA, index=raw.index, dtype="string")

    reg, ctry, split_country = _split_last_comma(country)
    region = region.mask(split_country, reg)
    country = country.mask(split_country, ctry)

    c_city, c_ctry, city_has_comma = _split_last_comma(city)
    from_city = country.isna() & city.notna() & city_has_comma
    city = city.mask(from_city, c_city)
    country = country.mask(from_city, c_ctry)

    reason = pd.Series(pd.NA, index=raw.index, dtype="string")
    reason = reason.mask(country.isna() & city.notna(),
                         f"country{k} is empty and city{k} " + raw[f"city{k}"].map(repr) + " names no country")
    reason = reason.mask(city.isna(), f"city{k} is empty")
    side = pd.DataFrame({f"city{k}": city, f"region{k}": region, f"country{k}": country})
    return side, reason, from_city


def read(path: Path, source_id: str) -> SourceTable:
    path = Path(path)
    raw = read_csv_text(path, source_id)
    if list(raw.columns) != COLUMNS:
        raise SourceError(source_id, f"{path.name}: expected columns {COLUMNS}, found {list(raw.columns)}")

    n = len(number_rows(raw))
    side1, reason1, from_city1 = _parse_side(raw, "1")
    side2, reason2, from_city2 = _parse_side(raw, "2")

    out = pd.DataFrame({"source_row": raw["source_row"]})
    for c in COLUMNS:
        out[f"{c}_raw"] = raw[c]
    out = pd.concat([out, side1, side2], axis=1).astype(OUTPUT_DTYPES)[list(OUTPUT_DTYPES)]

    self_pair = ((_norm(out["city1"]) == _norm(out["city2"])) &
                 (_norm(out["country1"]) == _norm(out["country2"]))).fillna(False)
    reason = reason1.fillna(reason2)
    reason = reason.where(reason.notna(), pd.Series("self-pair", index=raw.index, dtype="string").where(self_pair))
    bad = reason.notna()
    exclusions = (make_exclusions(source_id, raw[bad], reason[bad]) if bad.any() else empty_exclusions())

    kept = ~bad
    notes = {
        "country_from_city_field": int((from_city1 | from_city2)[kept].sum()),
        "region_split_from_country": int((out["region1"].notna() | out["region2"].notna())[kept].sum()),
        "self_pairs": int(self_pair.sum()),
    }
    return SourceTable(source_id=source_id, rows_read=n, data=out[kept].reset_index(drop=True),
                       exclusions=exclusions, notes=notes)
