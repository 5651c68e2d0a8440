"""Reader for the ClimActor subnational contextuals database (Dec 2022 and Sep 2022 vintages).

Quirks handled, and why:

* Encoding: UTF-8 except one line (the "Fujikawa" row) carrying stray Mac-Roman bytes 0xCA
  (= U+00A0, no-break space): "Shizuoka\\xcaPrefecture" in ``state`` and ``admin_1``, and
  "East\\xcaAsia\\xcaand\\xcathe\\xcaPacific" in ``region`` (6 bytes in all, in both vintages).
  The file is decoded with a registered codecs error handler (``climactor_mac_roman``) that
  decodes only the bytes invalid as UTF-8 as Mac-Roman, so the row is kept; no-break spaces are
  then normalised to plain spaces ("Shizuoka Prefecture"). ``notes["non_utf8_bytes_decoded"]``.
* Mojibake (Sep 2022 only, not in SOURCES.md): some ``state``/``admin_1``/``name`` values were
  UTF-8 decoded as Windows-1252 and re-encoded ("CÃ¡ceres", "Alt EmpordÃ\\xa0",
  "San JosÃ©, CA"). A value is repaired only when it round-trips exactly
  (``value.encode("cp1252").decode("utf-8")`` succeeds strictly), which correct text
  essentially never does ("Empordà" or "CÂMPINA" are left alone); up to three layers
  ("Ã„Â°zmir" -> "İzmir"). R's escapes of unencodable characters ("Arge<U+0219>", 125 lines
  of the Sep file) are decoded too. Counts per column in ``notes["mojibake_repaired"]``.
  Repair happens before the no-break-space normalisation (the NBSP is part of the
  mis-decoded "à").
* Transliterated mojibake (Dec 2022 only, not in SOURCES.md): ~120 rows carry mojibake that
  was already folded to ASCII upstream ("San JosA(c), CA", "FejA(c)r"). That is not
  reversible; the rows are kept as they are and counted in
  ``notes["transliterated_mojibake_rows"]`` (later matching across vintages must allow for it).
* Text values are stripped (some names end in spaces or no-break spaces: "Hidaka ").
* Missing values: the literal ``NA`` (quoted or not) and empty cells. The Sep file quotes every
  value, numbers included; the Dec file quotes text and ``area`` only. Both read the same way.
* ``area``: also the literal ``NaN`` (missing) and thousands separators ("1,765.00").
* ``population``: some values in scientific notation ("2e+05", "1.10E+07") and some with a
  real fraction ("196.7"), so the column is float64 in both vintages (a stable schema; it is
  not integral in either file).
* ``population_year``: ``0`` is a placeholder, read as missing (``notes`` counts them).
* ``entity_type``: "City", "Region", once "city", once "NA" -> "City"/"Region"/<NA>; the raw
  value is kept in ``entity_type_raw``. Any other value -> exclusion.
* Names keep their state suffix ("Los Angeles, CA") exactly: later steps parse it.

Exclusions: a row without a name, an unknown ``entity_type`` or a value that does not parse
as a number in a numeric column (the reason names the column and the value).
"""
from __future__ import annotations

import codecs
import re
import threading
from pathlib import Path

import pandas as pd

from .base import SourceTable, empty_exclusions, make_exclusions, number_rows, read_csv_text, require_columns

COLUMNS = ["name", "iso", "entity_type", "country", "area", "num_commit", "lat", "lng", "population",
           "population_year", "state", "admin_1", "initiatives_committed", "region"]
TEXT_COLUMNS = ["name", "iso", "country", "state", "admin_1", "initiatives_committed", "region"]
OUTPUT_DTYPES = {
    "source_row": "Int64", "name": "string", "iso": "string", "entity_type": "string",
    "entity_type_raw": "string", "country": "string", "area": "float64", "num_commit": "Int64",
    "lat": "float64", "lng": "float64", "population": "float64", "population_year": "Int64",
    "state": "string", "admin_1": "string", "initiatives_committed": "string", "region": "string",
}
MISSING = {"", "NA"}
ENTITY_TYPES = {"city": "City", "region": "Region"}

ERROR_HANDLER = "climactor_mac_roman"
_state = threading.local()


def _mac_roman_fallback(exc: UnicodeError):
    """Decode the bytes that are not valid UTF-8 as Mac-Roman (0xCA -> U+00A0)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    _state.count = getattr(_state, "count", 0) + len(bad)
    return bytes(bad).decode("mac_roman"), exc.end


codecs.register_error(ERROR_HANDLER, _mac_roman_fallback)


def decode(raw: bytes) -> tuple[str, int]:
    """Decode ``raw`` as UTF-8 (BOM tolerated), invalid bytes as Mac-Roman; return text and count."""
    _state.count = 0
    text = raw.decode("utf-8-sig", errors=ERROR_HANDLER)
    return text, _state.count


R_ESCAPE = re.compile(r"<U\+([0-9A-Fa-f]{4,6})>")


def _byte_of(ch: str) -> int:
    """The byte a character came from when UTF-8 was read as cp1252 (latin-1 for cp1252's gaps)."""
    try:
        return ch.encode("cp1252")[0]
    except UnicodeEncodeError:
        return ord(ch)


def _chars_of(b: int) -> str:
    """The characters a UTF-8 continuation byte may have become: its cp1252 and latin-1 readings."""
    try:
        return bytes([b]).decode("cp1252") + chr(b)
    except UnicodeDecodeError:  # a cp1252 gap (0x81, 0x8D, 0x8F, 0x90, 0x9D)
        return chr(b)


_CONT = "".join(_chars_of(b) for b in range(0x80, 0xC0))
# A UTF-8 lead byte (0xC2-0xF4, read as a cp1252 letter) followed by 1-3 continuation bytes.
MOJIBAKE = re.compile("[\u00c2-\u00f4][" + re.escape(_CONT) + "]{1,3}")


def _undo(match: re.Match) -> str:
    text = match.group(0)
    lead = _byte_of(text[0])
    size = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4  # bytes in the UTF-8 sequence
    if len(text) < size:
        return text
    try:
        return bytes(_byte_of(ch) for ch in text[:size]).decode("utf-8") + text[size:]
    except UnicodeDecodeError:
        return text


def _fix_mojibake(value: str) -> str:
    """Undo UTF-8-read-as-cp1252 (up to 3 layers: "Ã„Â°zmir" -> "İzmir") and R's <U+XXXX> escapes.

    Works on each suspicious run of characters, so mixed strings ("RÃ®<U+0219>cani") repair too;
    a run is replaced only when its bytes are strictly valid UTF-8.
    """
    value = R_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
    for _ in range(3):
        fixed = MOJIBAKE.sub(_undo, value)
        if fixed == value:
            break
        value = fixed
    return value


def _clean_text(col: pd.Series) -> tuple[pd.Series, int]:
    """Repair mojibake, NBSP -> space, strip; ``NA``/empty -> <NA>. Python only over unique values."""
    col = col.astype("string")
    suspect = col.str.contains(r"[^\x00-\x7f]|<U\+[0-9A-Fa-f]{4,6}>", regex=True, na=False)
    non_ascii = col[suspect].unique()
    mapping = {v: fixed for v in non_ascii if (fixed := _fix_mojibake(v)) != v}
    hit = col.isin(list(mapping))
    repaired = int(hit.sum())
    if repaired:
        col = col.where(~hit, col.map(mapping))
    col = col.str.replace("\xa0", " ", regex=False).str.strip()
    return col.mask(col.isin(MISSING)), repaired


def join_reasons(reasons: list[pd.Series], index: pd.Index) -> pd.Series:
    """Join per-column reasons (<NA> = fine) into one "; "-separated string per row ("" = keep)."""
    out = pd.Series("", index=index, dtype="string")
    for r in reasons:
        r = r.astype("string").fillna("")
        sep = out.where(out == "", out + "; ")
        out = out.where(r == "", sep + r)
    return out


def _parse_number(raw: pd.Series, column: str, extra_missing: tuple[str, ...] = ()) -> tuple[pd.Series, pd.Series]:
    """Float values and a reason series (<NA> where fine) for a numeric column."""
    s = raw.astype("string").str.strip()
    missing = s.isin(MISSING | set(extra_missing))
    cleaned = s.where(~s.str.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", na=False), s.str.replace(",", "", regex=False))
    num = pd.to_numeric(cleaned.mask(missing), errors="coerce").astype("float64")
    bad = num.isna() & ~missing
    reason = pd.Series(pd.NA, index=s.index, dtype="string")
    reason[bad] = f"{column} is not a number: " + s[bad].map(repr)
    return num, reason


def _to_int(num: pd.Series, column: str, raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    frac = num.notna() & (num % 1 != 0)
    reason = pd.Series(pd.NA, index=num.index, dtype="string")
    reason[frac] = f"{column} is not a whole number: " + raw[frac].map(repr)
    return num.mask(frac).round().astype("Int64"), reason


def read(path: Path, source_id: str) -> SourceTable:
    path = Path(path)
    text, non_utf8 = decode(path.read_bytes())
    raw = read_csv_text(path, source_id, text=text)
    require_columns(raw, COLUMNS, source_id, path.name)

    n = len(number_rows(raw))
    out = pd.DataFrame({"source_row": raw["source_row"]})
    reasons: list[pd.Series] = []
    notes: dict = {"non_utf8_bytes_decoded": non_utf8, "mojibake_repaired": {}}

    cleaned = {}
    for col in TEXT_COLUMNS:
        cleaned[col], repaired = _clean_text(raw[col])
        if repaired:
            notes["mojibake_repaired"][col] = repaired
    no_name = cleaned["name"].isna()
    reasons.append(pd.Series(pd.NA, index=raw.index, dtype="string").mask(no_name, "name is missing"))

    et_raw = raw["entity_type"].astype("string").str.replace("\xa0", " ", regex=False).str.strip()
    et_key = et_raw.mask(et_raw.isin(MISSING)).str.lower()
    et = et_key.map(ENTITY_TYPES, na_action="ignore").astype("string")
    unknown = et_key.notna() & et.isna()
    reasons.append(pd.Series(pd.NA, index=raw.index, dtype="string")
                   .mask(unknown, "unknown entity_type: " + et_raw.map(repr, na_action="ignore")))

    area, r = _parse_number(raw["area"], "area", extra_missing=("NaN",))
    reasons.append(r)
    num_commit, r = _parse_number(raw["num_commit"], "num_commit")
    reasons.append(r)
    num_commit, r = _to_int(num_commit, "num_commit", raw["num_commit"])
    reasons.append(r)
    lat, r = _parse_number(raw["lat"], "lat")
    reasons.append(r)
    lng, r = _parse_number(raw["lng"], "lng")
    reasons.append(r)
    population, r = _parse_number(raw["population"], "population")
    reasons.append(r)
    year, r = _parse_number(raw["population_year"], "population_year")
    reasons.append(r)
    year, r = _to_int(year, "population_year", raw["population_year"])
    reasons.append(r)
    zero_year = year.eq(0).fillna(False)
    year = year.mask(zero_year)

    out["name"] = cleaned["name"]
    out["iso"] = cleaned["iso"]
    out["entity_type"] = et
    out["entity_type_raw"] = raw["entity_type"].astype("string")
    out["country"] = cleaned["country"]
    out["area"] = area
    out["num_commit"] = num_commit
    out["lat"] = lat
    out["lng"] = lng
    out["population"] = population
    out["population_year"] = year
    for col in ["state", "admin_1", "initiatives_committed", "region"]:
        out[col] = cleaned[col]
    out = out.astype(OUTPUT_DTYPES)[list(OUTPUT_DTYPES)]

    reason = join_reasons(reasons, raw.index)
    bad = reason.ne("")
    exclusions = make_exclusions(source_id, raw[bad], reason[bad]) if bad.any() else empty_exclusions()

    pop_raw = raw["population"].str.strip()
    notes.update({
        "entity_type_normalised": int((et_raw.notna() & et.notna() & (et_raw != et)).sum()),
        "area_nan_literal": int((raw["area"].str.strip() == "NaN").sum()),
        "area_thousands_separator": int(raw["area"].str.contains(",", regex=False).sum()),
        "population_scientific_notation": int(pop_raw.str.contains(r"[eE]", regex=True).sum()),
        "population_non_integral": int((population.notna() & (population % 1 != 0)).sum()),
        "population_year_zero_as_missing": int(zero_year.sum()),
        # Dec 2022: mojibake already transliterated to ASCII upstream ("San JosA(c), CA" for
        # "San José, CA"); not reversible, only counted so the build report shows it.
        "transliterated_mojibake_rows": int(pd.concat(
            [out[c].str.contains(r"A\((?:c|r|R)\)", regex=True, na=False) for c in TEXT_COLUMNS], axis=1
        ).any(axis=1).sum()),
    })
    return SourceTable(source_id=source_id, rows_read=n, data=out[~bad].reset_index(drop=True),
                       exclusions=exclusions, notes=notes)
