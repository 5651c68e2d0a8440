"""Reader for the 2017 Wikidata "twinned administrative body" (P190) extract, one TSV per EU
country (``rogorido/sistercities``, ``sparql/data/<country>.tsv``): one row per (origin city,
partner) with both sides' coordinates.

Quirks handled, and why:

* Tab-separated, no quoting: read by pyarrow with ``quote_char=False``; every cell as text.
* English labels with a qualifier ("Porcia, Friuli-Venezia Giulia"): the name is the text before
  the FIRST comma, the rest is kept as ``*_admin`` (a hint for the resolver, never the name).
* A label that is a bare QID ("Q12875763": Wikidata had no English label) names nothing we can
  resolve: the row goes to exclusions with that reason (the coordinates alone are not a name).
* Population blank where Wikidata had none -> <NA>.
* Country labels -> ISO3 with ``etl.places.countries.to_iso3``; the origin country is the
  file's country (its ``origincountry`` label). A partner country that does not map is an
  exclusion (no country to resolve in).
* A pair listed from both sides (both origins in the EU) is NOT deduplicated here: the step
  pairs rows on the resolved places.

Rows keep ``source_file`` (the TSV's base name) and ``source_row`` (1-based, per file).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from etl.places.countries import to_iso3

from .base import SourceError, SourceTable, empty_exclusions, make_exclusions, text_to_float

COLUMNS = ["origincityLabel", "origincountry", "originlat", "originlong", "originpopulation",
           "sistercityLabel", "destinationlat", "destinationlong", "destinationpopulation",
           "destination_countryLabel", "dist", "eu"]
TEXT = "string[pyarrow]"
SIDES = {"origin": ("origincityLabel", "origincountry", "originlat", "originlong", "originpopulation"),
         "partner": ("sistercityLabel", "destination_countryLabel", "destinationlat", "destinationlong",
                     "destinationpopulation")}
QID = r"Q[0-9]+"
OUTPUT_DTYPES = {"source_file": TEXT, "source_row": "Int64",
                 **{f"{side}_{c}": t for side in SIDES for c, t in
                    [("label", TEXT), ("name", TEXT), ("admin", TEXT), ("country", TEXT), ("iso3", TEXT),
                     ("lat", "float64"), ("lon", "float64"), ("population", "Int64")]},
                 "dist_km": "float64", "eu": TEXT}


def _read_file(path: Path, source_id: str) -> pd.DataFrame:
    try:
        table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
                               convert_options=pacsv.ConvertOptions(column_types={c: pa.large_string() for c in COLUMNS},
                                                                    strings_can_be_null=False))
    except pa.ArrowInvalid as exc:
        raise SourceError(source_id, f"{path.name}: {exc}") from exc
    if table.column_names != COLUMNS:
        raise SourceError(source_id, f"{path.name}: expected columns {COLUMNS}, found {table.column_names}")
    raw = table.to_pandas(types_mapper=pd.ArrowDtype).astype(TEXT)
    raw.insert(0, "source_row", pd.array(range(1, len(raw) + 1), dtype="Int64"))
    raw.insert(0, "source_file", pd.Series(path.name, index=raw.index, dtype=TEXT))
    return raw


def _side(raw: pd.DataFrame, side: str, iso: dict) -> tuple[pd.DataFrame, pd.Series]:
    label_c, country_c, lat_c, lon_c, pop_c = SIDES[side]
    label = raw[label_c].str.strip()
    parts = label.str.extract(r"^(?P<name>[^,]*)(?:,(?P<admin>.*))?$").astype(TEXT)
    name, admin = parts["name"].str.strip(), parts["admin"].str.strip()
    admin = admin.where(admin.ne("") & admin.notna())
    country = raw[country_c].str.strip()
    iso3 = country.map(iso).astype(TEXT)
    pop = text_to_float(raw[pop_c])
    frame = pd.DataFrame({
        f"{side}_label": label, f"{side}_name": name.where(name.ne("")), f"{side}_admin": admin,
        f"{side}_country": country, f"{side}_iso3": iso3,
        f"{side}_lat": text_to_float(raw[lat_c]), f"{side}_lon": text_to_float(raw[lon_c]),
        f"{side}_population": pd.array(pop.where(pop >= 0).round(), dtype="Int64"),
    })
    reason = pd.Series(pd.NA, index=raw.index, dtype=TEXT)
    reason = reason.mask(iso3.isna(), f"{side} country " + country.fillna("").map(repr) + " maps to no ISO3 code")
    reason = reason.mask(label.str.fullmatch(QID).fillna(False),
                         f"{side} label " + label + " is a bare Wikidata QID (no English label): nothing to resolve")
    reason = reason.mask(label.eq("").fillna(True), f"{side} label is empty")
    return frame, reason


def read(paths, source_id: str) -> SourceTable:
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    raw = pd.concat([_read_file(p, source_id) for p in sorted(paths, key=lambda p: p.name)], ignore_index=True)
    iso = to_iso3(pd.unique(pd.concat([raw["origincountry"], raw["destination_countryLabel"]]).str.strip()))
    origin, r_origin = _side(raw, "origin", iso)
    partner, r_partner = _side(raw, "partner", iso)
    out = pd.concat([raw[["source_file", "source_row"]], origin, partner,
                     pd.DataFrame({"dist_km": text_to_float(raw["dist"]), "eu": raw["eu"].str.strip()})],
                    axis=1)[list(OUTPUT_DTYPES)].astype(OUTPUT_DTYPES)
    same = (out["origin_label"].str.casefold() == out["partner_label"].str.casefold()) & (out["origin_iso3"] == out["partner_iso3"])
    reason = r_origin.fillna(r_partner)
    reason = reason.mask(reason.isna() & same.fillna(False), "self-pair")
    bad = reason.notna().to_numpy(dtype=bool)
    exclusions = make_exclusions(source_id, raw[bad], reason[bad]) if bad.any() else empty_exclusions()
    notes = {
        "files": len(paths),
        "labels_with_qualifier": int((out["origin_admin"].notna() | out["partner_admin"].notna())[~bad].sum()),
        "blank_partner_population": int(out["partner_population"].isna()[~bad].sum()),
    }
    return SourceTable(source_id=source_id, rows_read=len(raw), data=out[~bad].reset_index(drop=True),
                       exclusions=exclusions, notes=notes)
