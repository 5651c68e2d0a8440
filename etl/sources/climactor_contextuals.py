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

Text columns are Arrow-backed strings ("string[pyarrow]"), those with a small vocabulary
(``CATEGORICAL``: codes, countries, regions, entity types) categoricals, and the work is
vectorised: Python runs only per DISTINCT suspicious text (mojibake), per distinct number text
and per excluded row (its reason), so memory and time grow with the file's bytes, not with a
Python object per cell (the 100x benchmark, issue #10).
"""
from __future__ import annotations

import codecs
import re
import threading
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .base import (SourceTable, empty_exclusions, join_reasons, make_exclusions, number_rows, read_csv_text,
                   reason_on, require_columns, text_to_float)

COLUMNS = ["name", "iso", "entity_type", "country", "area", "num_commit", "lat", "lng", "population",
           "population_year", "state", "admin_1", "initiatives_committed", "region"]
TEXT_COLUMNS = ["name", "iso", "country", "state", "admin_1", "initiatives_committed", "region"]
TEXT = "string[pyarrow]"
# Columns with a small, fixed vocabulary (countries, regions, entity types): a byte a row as categoricals.
CATEGORICAL = ["iso", "entity_type", "entity_type_raw", "country", "region"]
OUTPUT_DTYPES = {
    "source_row": "Int64", "name": TEXT, "iso": "category", "entity_type": "category",
    "entity_type_raw": "category", "country": "category", "area": "float64", "num_commit": "Int64",
    "lat": "float64", "lng": "float64", "population": "float64", "population_year": "Int64",
    "state": TEXT, "admin_1": TEXT, "initiatives_committed": TEXT, "region": "category",
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


def decode(stream: BinaryIO, chunk: int = 1 << 22) -> tuple[bytearray, int]:
    """The stream's bytes as UTF-8 (BOM dropped), the bytes invalid as UTF-8 decoded as Mac-Roman;
    and how many those were. Chunk by chunk: neither the raw file nor its text is held whole."""
    _state.count = 0
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors=ERROR_HANDLER)
    out = bytearray()
    while block := stream.read(chunk):
        out += decoder.decode(block).encode("utf-8")
    out += decoder.decode(b"", final=True).encode("utf-8")
    return out, _state.count


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


def _text(values: pa.ChunkedArray, index: pd.Index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(values), index=index)


def _tidy(values: pa.ChunkedArray, index: pd.Index) -> pd.Series:
    """NBSP -> space, strip (Unicode whitespace, as ``str.strip``), ``NA``/empty -> <NA>.

    In Arrow rather than chained ``.str`` calls: pandas' accessor leaves each Series it is used on
    in a reference cycle, so every intermediate column would stay in memory until a full GC.
    """
    text = pc.utf8_trim_whitespace(pc.replace_substring(values, "\xa0", " "))
    missing = pc.is_in(text, value_set=pa.array(sorted(MISSING), text.type))
    return _text(pc.if_else(missing, pa.scalar(None, text.type), text), index)


def _clean_text(col: pd.Series) -> tuple[pd.Series, int]:
    """Repair mojibake, then ``_tidy``. Python only over the distinct suspect values (non-ASCII or "<U+")."""
    values, repaired = pa.array(col), 0
    suspect = pc.or_(pc.invert(pc.string_is_ascii(values)), pc.match_substring(values, "<U+"))
    mapping = {v: fixed for v in pc.unique(pc.filter(values, suspect)).to_pylist()
               if (fixed := _fix_mojibake(v)) != v}
    if mapping:
        found = pc.index_in(values, value_set=pa.array(list(mapping), values.type))
        repaired = len(found) - found.null_count
        values = pc.coalesce(pc.take(pa.array(list(mapping.values()), values.type), found), values)
    return _tidy(values, col.index), repaired




def _parse_number(raw: pd.Series, column: str, extra_missing: tuple[str, ...] = ()) -> tuple[pd.Series, pd.Series]:
    """Float values and the reasons (on the rows that do not parse) for a numeric column."""
    text = pc.utf8_trim_whitespace(pa.array(raw))
    missing = pc.is_in(text, value_set=pa.array(sorted(MISSING | set(extra_missing)), text.type))
    missing = missing.to_numpy(zero_copy_only=False)
    thousands = pc.match_substring_regex(text, r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")  # "1,765.00"
    plain = pc.if_else(thousands, pc.replace_substring(text, ",", ""), text)
    num = text_to_float(_text(plain, raw.index).mask(missing))
    return num, reason_on(num.isna().to_numpy() & ~missing, f"{column} is not a number: ", _text(text, raw.index))


def digits_to_int64(num: pd.Series, column: str, raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    frac = num.notna() & (num % 1 != 0)
    return num.mask(frac).round().astype("Int64"), reason_on(frac, f"{column} is not a whole number: ", raw)



def read(path: Path, source_id: str) -> SourceTable:
    path = Path(path)
    with open(path, "rb") as stream:
        data, non_utf8 = decode(stream)
    raw = read_csv_text(path, source_id, data=data)
    del data
    require_columns(raw, COLUMNS, source_id, path.name)

    n = len(number_rows(raw))
    reasons: list[pd.Series] = []
    notes: dict = {"non_utf8_bytes_decoded": non_utf8, "mojibake_repaired": {}}

    cleaned = {}
    for col in TEXT_COLUMNS:
        cleaned[col], repaired = _clean_text(raw[col])
        if repaired:
            notes["mojibake_repaired"][col] = repaired
    reasons.append(reason_on(cleaned["name"].isna(), "name is missing"))

    et_raw = _tidy(pa.array(raw["entity_type"]), raw.index)
    et = et_raw.map({v: ENTITY_TYPES.get(v.lower()) for v in et_raw.dropna().unique()}).astype(TEXT)
    reasons.append(reason_on(et_raw.notna() & et.isna(), "unknown entity_type: ", et_raw))

    area, r = _parse_number(raw["area"], "area", extra_missing=("NaN",))
    reasons.append(r)
    num_commit, r = _parse_number(raw["num_commit"], "num_commit")
    reasons.append(r)
    num_commit, r = digits_to_int64(num_commit, "num_commit", raw["num_commit"])
    reasons.append(r)
    lat, r = _parse_number(raw["lat"], "lat")
    reasons.append(r)
    lng, r = _parse_number(raw["lng"], "lng")
    reasons.append(r)
    population, r = _parse_number(raw["population"], "population")
    reasons.append(r)
    year, r = _parse_number(raw["population_year"], "population_year")
    reasons.append(r)
    year, r = digits_to_int64(year, "population_year", raw["population_year"])
    reasons.append(r)
    zero_year = year.eq(0).fillna(False)
    year = year.mask(zero_year)

    out = pd.DataFrame({
        "source_row": raw["source_row"], "name": cleaned["name"], "iso": cleaned["iso"], "entity_type": et,
        "entity_type_raw": raw["entity_type"], "country": cleaned["country"], "area": area, "num_commit": num_commit,
        "lat": lat, "lng": lng, "population": population, "population_year": year,
        **{col: cleaned[col] for col in ["state", "admin_1", "initiatives_committed", "region"]},
    }, copy=False)

    reason = join_reasons(reasons)
    bad = raw.index.isin(reason.index)
    exclusions = make_exclusions(source_id, raw[bad], reason) if bad.any() else empty_exclusions()

    notes.update({
        "entity_type_normalised": int((et.notna() & (et_raw != et)).sum()),
        "area_nan_literal": int((raw["area"].str.strip() == "NaN").sum()),
        "area_thousands_separator": int(raw["area"].str.contains(",", regex=False).sum()),
        "population_scientific_notation": int(raw["population"].str.contains(r"[eE]", regex=True).sum()),
        "population_non_integral": int((population.notna() & (population % 1 != 0)).sum()),
        "population_year_zero_as_missing": int(zero_year.sum()),
        # Dec 2022: mojibake already transliterated to ASCII upstream ("San JosA(c), CA" for
        # "San José, CA"); not reversible, only counted so the build report shows it.
        "transliterated_mojibake_rows": int(np.logical_or.reduce(
            [out[c].str.contains(r"A\((?:c|r|R)\)", regex=True, na=False).to_numpy(dtype=bool) for c in TEXT_COLUMNS]
        ).sum()),
    })
    data = out[~bad].reset_index(drop=True) if bad.any() else out
    data = data.astype(dict.fromkeys(CATEGORICAL, "category"), copy=False)
    return SourceTable(source_id=source_id, rows_read=n, data=data, exclusions=exclusions, notes=notes)
