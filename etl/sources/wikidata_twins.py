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
* The origin country is NOT read from the file name or its ``origincountry`` label: upstream,
  ``denmark.tsv`` holds the Swedish cities and ``sweden.tsv`` the Danish ones (each query selects
  the other country), labels included. The reviewed vocabulary ``etl/vocab/wikidata_twins_files.csv``
  gives each file's origin country (a file not in it is an error), and ``check_origins`` holds it
  against the origins' coordinates: at least ``MIN_IN_COUNTRY`` of a file's rows must lie nearest
  to a gazetteer place of that country, or the read fails naming the file, so a future swap
  cannot pass unseen. Partner country labels -> ISO3 with ``etl.places.countries.to_iso3``; one
  that does not map is an exclusion (no country to resolve in).
* A "self-pair" is a row whose two sides are the same place: same label and country AND points
  within ``SELF_PAIR_KM`` (or no points to tell them apart). Namesakes far apart ("Felsberg" in
  Saarland and in Hesse, 281 km) are real twinnings and are kept: the resolver and the distance
  rule tell them apart by their coordinates.
* A pair listed from both sides (both origins in the EU) is NOT deduplicated here: the step
  pairs rows on the resolved places.

Rows keep ``source_file`` (the TSV's base name) and ``source_row`` (1-based, per file).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from etl.paths import VOCAB
from etl.places.countries import iso2_to_iso3, to_iso3
from etl.places.distance import haversine_km, nearest_country

from .base import SourceError, SourceTable, empty_exclusions, make_exclusions, text_to_float

COLUMNS = ["origincityLabel", "origincountry", "originlat", "originlong", "originpopulation",
           "sistercityLabel", "destinationlat", "destinationlong", "destinationpopulation",
           "destination_countryLabel", "dist", "eu"]
TEXT = "string[pyarrow]"
SIDES = {"origin": ("origincityLabel", "origincountry", "originlat", "originlong", "originpopulation"),
         "partner": ("sistercityLabel", "destination_countryLabel", "destinationlat", "destinationlong",
                     "destinationpopulation")}
QID = r"Q[0-9]+"
FILES_VOCAB = VOCAB / "wikidata_twins_files.csv"
MIN_IN_COUNTRY = 0.9  # the measured share is 98-100 % per file (a few border towns and overseas places)
SELF_PAIR_KM = 5.0    # two points of one place differ by editing noise; namesakes are tens of km apart or more
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


def file_countries(path: Path = FILES_VOCAB) -> dict[str, str]:
    """The reviewed origin country (ISO2) of each file name."""
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["file"]: row["origin_iso2"] for row in csv.DictReader(fh)}


def check_origins(data: pd.DataFrame, source_id: str, countries: dict[str, str]) -> dict[str, float]:
    """Per file, the share of rows whose origin point lies nearest to a gazetteer place of the
    file's origin country (``countries``: file -> ISO2); raises SourceError naming a file below
    ``MIN_IN_COUNTRY`` (a file holding another country's cities, as denmark.tsv and sweden.tsv
    do upstream)."""
    from etl.places.gazetteer import load_gazetteer

    points = data[["origin_lat", "origin_lon"]].astype(float)
    distinct = points.drop_duplicates()
    cc = nearest_country(distinct["origin_lat"], distinct["origin_lon"], load_gazetteer())
    found = points.merge(distinct.assign(cc=cc), how="left", on=["origin_lat", "origin_lon"])["cc"].to_numpy()
    files = data["source_file"].astype(str).to_numpy()
    shares = {}
    for name in sorted(set(files)):
        got = pd.Series(found[files == name])
        shares[name] = round(float((got == countries[name]).mean()), 4)
        if shares[name] < MIN_IN_COUNTRY:
            elsewhere = got[got != countries[name]].value_counts().index[0] or "no known country"
            raise SourceError(source_id, f"{name}: only {shares[name]:.1%} of its origins lie in {countries[name]}, "
                                         f"its country in {FILES_VOCAB.name} (most others in {elsewhere}): is it "
                                         f"another country's file? Correct {FILES_VOCAB.name} after review")
    return shares


def _side(raw: pd.DataFrame, side: str, iso: dict) -> tuple[pd.DataFrame, pd.Series]:
    """One side's typed columns and its exclusion reasons (``iso``: country label -> ISO3; for
    the origin, source_file -> ISO3)."""
    label_c, country_c, lat_c, lon_c, pop_c = SIDES[side]
    label = raw[label_c].str.strip()
    parts = label.str.extract(r"^(?P<name>[^,]*)(?:,(?P<admin>.*))?$").astype(TEXT)
    name, admin = parts["name"].str.strip(), parts["admin"].str.strip()
    admin = admin.where(admin.ne("") & admin.notna())
    country = raw[country_c].str.strip()
    iso3 = (raw["source_file"] if side == "origin" else country).map(iso).astype(TEXT)
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
    countries = file_countries()
    i3 = iso2_to_iso3()
    unknown = sorted(p.name for p in paths if countries.get(p.name) not in i3)
    if unknown:
        raise SourceError(source_id, f"{unknown}: no known origin country (ISO2) in {FILES_VOCAB.name}")
    raw = pd.concat([_read_file(p, source_id) for p in sorted(paths, key=lambda p: p.name)], ignore_index=True)
    iso = to_iso3(pd.unique(raw["destination_countryLabel"].str.strip()))
    origin, r_origin = _side(raw, "origin", {f: i3[c] for f, c in countries.items()})
    partner, r_partner = _side(raw, "partner", iso)
    out = pd.concat([raw[["source_file", "source_row"]], origin, partner,
                     pd.DataFrame({"dist_km": text_to_float(raw["dist"]), "eu": raw["eu"].str.strip()})],
                    axis=1)[list(OUTPUT_DTYPES)].astype(OUTPUT_DTYPES)
    in_country = check_origins(out, source_id, countries)
    km = haversine_km(*(out[c].to_numpy(dtype=float, na_value=np.nan)
                        for c in ("origin_lat", "origin_lon", "partner_lat", "partner_lon")))
    namesakes = ((out["origin_label"].str.casefold() == out["partner_label"].str.casefold())
                 & (out["origin_iso3"] == out["partner_iso3"])).fillna(False).to_numpy(dtype=bool)
    same = namesakes & ~(km > SELF_PAIR_KM)  # NaN (a side without a point): the labels alone decide
    reason = r_origin.fillna(r_partner)
    reason = reason.mask(reason.isna() & same, "self-pair")
    bad = reason.notna().to_numpy(dtype=bool)
    exclusions = make_exclusions(source_id, raw[bad], reason[bad]) if bad.any() else empty_exclusions()
    label_iso = raw["origincountry"].str.strip().map(to_iso3(pd.unique(raw["origincountry"].str.strip())))
    notes = {
        "files": len(paths),
        "origin_share_in_country": in_country,
        "origin_country_label_overridden": {str(k): int(v) for k, v in raw["source_file"][
            (label_iso != out["origin_iso3"]).fillna(True).to_numpy(dtype=bool)].value_counts().sort_index().items()},
        "namesake_pairs_kept": int((namesakes & ~same & ~bad).sum()),
        "labels_with_qualifier": int((out["origin_admin"].notna() | out["partner_admin"].notna())[~bad].sum()),
        "blank_partner_population": int(out["partner_population"].isna()[~bad].sum()),
    }
    return SourceTable(source_id=source_id, rows_read=len(raw), data=out[~bad].reset_index(drop=True),
                       exclusions=exclusions, notes=notes)
