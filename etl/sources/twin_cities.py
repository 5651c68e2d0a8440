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

Strings are Arrow-backed ("string[pyarrow]") and every step is vectorised; Python runs only
per DISTINCT name (the self-pair key) and per excluded row (its reason).
"""
from __future__ import annotations

import unicodedata
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .base import SourceError, SourceTable, empty_exclusions, make_exclusions, number_rows, read_csv_text

COLUMNS = ["city1", "country1", "city2", "country2"]
TEXT = "string[pyarrow]"
OUTPUT_DTYPES = {
    "source_row": "Int64",
    "city1_raw": TEXT, "country1_raw": TEXT, "city2_raw": TEXT, "country2_raw": TEXT,
    "city1": TEXT, "region1": TEXT, "country1": TEXT,
    "city2": TEXT, "region2": TEXT, "country2": TEXT,
}
LAST_COMMA = r"(?s)^(?P<left>.*),(?P<right>.*)$"  # greedy: splits on the last comma


def _clean(s: pd.Series) -> pd.Series:
    """NBSP -> space, strip (Unicode whitespace, as ``str.strip``), "" -> <NA>.

    In Arrow rather than chained ``.str`` calls: pandas' accessor leaves each Series it is used on
    in a reference cycle, so every intermediate column would stay in memory until a full GC.
    """
    text = pc.utf8_trim_whitespace(pc.replace_substring(pa.array(s.astype(TEXT)), "\xa0", " "))
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text)
    return pd.Series(pd.arrays.ArrowStringArray(text), index=s.index)


def _split_last_comma(s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(left, right, has_comma): "England, United Kingdom" -> "England", "United Kingdom".

    Only the values with a comma (a few percent) go through the regex, which is slow per row.
    """
    values = pa.array(s.astype(TEXT))
    has = pc.fill_null(pc.match_substring(values, ","), False).to_numpy(zero_copy_only=False)
    parts = pc.extract_regex(pc.filter(values, pa.array(has)), LAST_COMMA)
    left, right = (_clean(pd.Series(pd.arrays.ArrowStringArray(pc.struct_field(parts, [i])), index=s.index[has]))
                   .reindex(s.index) for i in (0, 1))
    return left, right, pd.Series(has, index=s.index) & left.notna() & right.notna()


def _norm(s: pd.Series) -> pd.Series:
    """Key for comparing names: NFKC, casefold, collapsed whitespace (Python once per distinct value)."""
    codes, uniques = pd.factorize(s)
    keys = pd.array([" ".join(unicodedata.normalize("NFKC", v).casefold().split()) for v in uniques], dtype=TEXT)
    return pd.Series(keys.take(codes, allow_fill=True), index=s.index)


def _parse_side(raw: pd.DataFrame, k: str) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    city, country = _clean(raw[f"city{k}"]), _clean(raw[f"country{k}"])

    reg, ctry, split_country = _split_last_comma(country)
    region = reg.where(split_country)
    country = country.mask(split_country, ctry)

    c_city, c_ctry, city_has_comma = _split_last_comma(city)
    from_city = country.isna() & city.notna() & city_has_comma
    city = city.mask(from_city, c_city)
    country = country.mask(from_city, c_ctry)

    no_country = (country.isna() & city.notna()).to_numpy(dtype=bool)
    names = raw.loc[no_country, f"city{k}"].astype(object).map(repr)  # Python on the excluded rows only
    reason = pd.Series(pd.NA, index=raw.index, dtype=TEXT)
    reason = reason.mask(no_country, f"country{k} is empty and city{k} " + names + " names no country")
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

    out = pd.concat([raw.rename(columns={c: f"{c}_raw" for c in COLUMNS}), side1, side2], axis=1)[list(OUTPUT_DTYPES)]

    self_pair = ((_norm(out["city1"]) == _norm(out["city2"])) &
                 (_norm(out["country1"]) == _norm(out["country2"]))).fillna(False)
    reason = reason1.fillna(reason2)
    reason = reason.mask(reason.isna() & self_pair, "self-pair")
    bad = reason.notna().to_numpy(dtype=bool)
    exclusions = (make_exclusions(source_id, raw[bad], reason[bad]) if bad.any() else empty_exclusions())

    kept = ~bad
    notes = {
        "country_from_city_field": int((from_city1 | from_city2)[kept].sum()),
        "region_split_from_country": int((out["region1"].notna() | out["region2"].notna())[kept].sum()),
        "self_pairs": int(self_pair.sum()),
    }
    return SourceTable(source_id=source_id, rows_read=n, data=out[kept].reset_index(drop=True),
                       exclusions=exclusions, notes=notes)
