"""The place authorities beyond cities500, as ONE table the ladder merges on (ISO2, name key).

Rows, by ``rank`` (the ladder's order; a lower rank wins):

====  ========================  =====================================================================
rank  authority                 rows
====  ========================  =====================================================================
0     ``geonames_dump``         populated places and admin areas of the NL and DK dumps (GeoNames id)
1     ``geonames_admin2``       second-level divisions: NO/DK/SE/NL municipalities, TR districts, ...
2     ``geonames_admin1``       first-level divisions (a region named as a place in a pledge list)
3     ``census_place``          US Census 2010 places, legal kind stripped ("Portal city" -> Portal)
4     ``postal``                GeoNames postal localities: one row per (country, name, admin1,
                                admin2), the postal rows of one village (one per postal code) merged
====  ========================  =====================================================================

Each row has ``key`` (``normalise`` of the name, spaces removed) and, as a second row where it differs, the key
with its designator removed ("gladsaxe kommune" -> "gladsaxe", ``designator_key``), flagged
``stripped``. ``admin1`` is the GeoNames admin1 code ("MT", "18"): postal admin names are mapped
to it by name (their own codes differ: ES "AN" is GeoNames "51"); US Census and US postal state
abbreviations are GeoNames' codes already. Divisions have no coordinates. Spanish postal names
put the article last ("Omellons, Els", "Albiol, L'", "Cabanyes, Les (Pallars)"): such a row
gets a third key in reading order ("Els Omellons", "L'Albiol"), the way pledge lists write them.

Building it reads ~560k raw rows (about 4 s); the table is cached in ``build/cache`` as one
Arrow file keyed by the sha256 of the authority files in the manifest and this module's source,
so it is rebuilt exactly when an input changes. The build starts that in a child process
(``build_in_background``) while it reads the fact sources, like the gazetteer index.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from etl.paths import BUILD

AUTHORITY_SOURCES = frozenset({"census_places_2010", "geonames_admin1", "geonames_admin2", "geonames_country_dumps",
                               "geonames_postal"})
RANKS = {"geonames_dump": 0, "geonames_admin2": 1, "geonames_admin1": 2, "census_place": 3, "postal": 4}
COLUMNS = ["cc", "key", "cell", "stripped", "rank", "authority", "authority_id", "city_id", "name", "admin1", "latitude",
           "longitude", "population", "geonames_id", "census_geoid", "postcode"]
POSTAL_MERGE_KM = 10.0   # postal rows of one name, admin1 and admin2 closer than this are one locality


# what a division's name says of its kind, which a pledge by that municipality never writes
# ("Partido de Villarino", "Sol Plaatje Local Municipality"); never " county" (a US city is not its county)
# "Omellons, Els" / "Albiol, L'" / "Merca, A (Ourense)": a trailing article (and the parish or
# municipality in brackets), as GeoNames' Spanish postal file writes Catalan/Galician/Spanish names
_ARTICLE_LAST = r"^(?P<rest>[^,()]+), (?P<article>a|o|as|os|l'|la|el|les|els|los|las|lo)(?: \([^()]*\))?$"
_DIVISION = r"^(?:departamento de |partido de |provincia de |comuna de |nomos )|(?: local municipality| metropolitan municipality| kommune| kommun| belediyesi)$"


def cell(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """A 0.1-degree grid cell id (-1 without coordinates), for the ladder's look-up of near places."""
    ok = ~(np.isnan(lat) | np.isnan(lon))
    return np.where(ok, (np.floor(np.nan_to_num(lat) * 10) + 900) * 4000 + np.floor(np.nan_to_num(lon) * 10) + 1800,
                    -1).astype(np.int64)


def _normalise(values: pd.Series) -> np.ndarray:
    from etl.places.gazetteer import normalise_many
    return np.asarray(normalise_many(values.fillna("").astype(str).to_numpy(dtype=object)), dtype=object)


def _slug(text: str) -> str:
    from etl.places.ids import slug
    return slug(text)


def admin1_table(admin1: pd.DataFrame) -> pd.DataFrame:
    """GeoNames admin1 rows (reader frame) -> cc, admin1, admin1_name, key (normalised name)."""
    out = admin1[["country", "admin1", "name"]].rename(columns={"country": "cc", "name": "admin1_name"})
    return out.assign(key=_normalise(out["admin1_name"]))


def _postal_admin1(postal: pd.DataFrame, a1: pd.DataFrame) -> pd.Series:
    """Postal admin names -> GeoNames admin1 codes by name within the country (NA when none agrees)."""
    names = pd.concat([a1[["cc", "key", "admin1"]],
                       a1.assign(key=_normalise(a1["admin1_name"].str.replace(r"^(Region|Provincia|Province) (of |de |di )?", "", regex=True)))
                       [["cc", "key", "admin1"]]]).drop_duplicates(["cc", "key"])
    look = pd.DataFrame({"cc": postal["country"].to_numpy(), "key": _normalise(postal["admin1_name"])})
    code = look.merge(names, on=["cc", "key"], how="left")["admin1"]
    us = postal["country"].isin(["US", "CA", "AU"]).to_numpy()  # their postal codes are GeoNames' (state letters)
    return pd.Series(np.where(code.isna() & us, postal["admin1"].to_numpy(dtype=object), code.to_numpy(dtype=object)),
                     dtype="string")


def build_table(tables: dict) -> pd.DataFrame:
    """The authority table from the readers' frames (``tables[source_id]`` = reader ``data``)."""
    a1 = admin1_table(tables["geonames_admin1"])
    parts = []

    d = tables["geonames_country_dumps"]
    d = d[d["feature_class"].eq("P") | d["feature_code"].isin(["ADM2", "ADM3"])]
    parts.append(pd.DataFrame({
        "cc": d["country"], "name": d["name"], "authority": "geonames_dump", "authority_id": d["geonames_id"].astype("string"),
        "city_id": "gn" + d["geonames_id"].astype("string"), "admin1": d["admin1"], "latitude": d["latitude"],
        "longitude": d["longitude"], "population": d["population"], "geonames_id": d["geonames_id"]}))

    for sid, auth in (("geonames_admin2", "geonames_admin2"), ("geonames_admin1", "geonames_admin1")):
        v = tables[sid]
        parts.append(pd.DataFrame({
            "cc": v["country"], "name": v["name"], "authority": auth, "authority_id": v["geonames_id"].astype("string"),
            "city_id": "gn" + v["geonames_id"].astype("string"), "admin1": v["admin1"], "latitude": np.nan,
            "longitude": np.nan, "geonames_id": v["geonames_id"]}))

    c = tables["census_places_2010"]
    parts.append(pd.DataFrame({
        "cc": c["state"].where(c["state"].eq("PR"), "US"), "name": c["name"], "authority": "census_place",
        "authority_id": c["geoid"], "city_id": "cb" + c["geoid"], "admin1": c["state"].where(c["state"].ne("PR"), "01"),
        "latitude": c["latitude"], "longitude": c["longitude"], "census_geoid": c["geoid"]}))

    parts.append(_postal_localities(tables["geonames_postal"], a1))
    parts.append(_article_first(parts[-1]))
    t = pd.concat(parts, ignore_index=True)
    t = t[t["name"].notna() & t["geonames_id"].notna() | t["authority"].isin(["census_place", "postal"])]
    t["rank"] = t["authority"].map(RANKS).astype("int8")
    t["key"] = _normalise(t["name"])
    from etl.places.gazetteer import designator_key_many
    stripped = np.asarray(designator_key_many(t["key"].to_numpy(dtype=object)), dtype=object)
    extra = t[stripped != t["key"].to_numpy(dtype=object)].assign(key=stripped[stripped != t["key"].to_numpy(dtype=object)])
    t = pd.concat([t.assign(stripped=False), extra.assign(stripped=True)], ignore_index=True)
    t["stripped"] = t["stripped"].astype(bool)
    div = t["authority"].isin(["geonames_admin2", "geonames_admin1"]).to_numpy()
    plain = t["key"].to_numpy(dtype=object).copy()
    plain[div] = pd.Series(plain[div], dtype="string").str.replace(_DIVISION, "", regex=True).to_numpy(dtype=object)
    more = t[plain != t["key"].to_numpy(dtype=object)].assign(key=plain[plain != t["key"].to_numpy(dtype=object)],
                                                              stripped=True)
    t = pd.concat([t, more], ignore_index=True)
    t["cell"] = cell(t["latitude"].to_numpy(dtype=float), t["longitude"].to_numpy(dtype=float))
    t["key"] = t["key"].str.replace(" ", "", regex=False)  # "Sweetgrass" is "Sweet Grass": compared without spaces
    t = t[t["key"].ne("")]
    for col in COLUMNS:
        if col not in t.columns:
            t[col] = pd.NA
    t = t[COLUMNS].astype({"cell": "int64", "stripped": bool, "cc": "string", "key": "string", "authority": "string", "authority_id": "string",
                           "city_id": "string", "name": "string", "admin1": "string", "latitude": float,
                           "longitude": float, "population": "Int64", "geonames_id": "Int64",
                           "census_geoid": "string", "postcode": "string"})
    return t.reset_index(drop=True)


def _article_first(postal: pd.DataFrame) -> pd.DataFrame:
    """The postal rows whose name puts the article last, named again in reading order
    ("Omellons, Els" -> "Els Omellons", "Albiol, L'" -> "L'Albiol"): same place, same id."""
    parts = postal["name"].astype("string").str.extract(_ARTICLE_LAST, flags=re.IGNORECASE)
    hit = parts["rest"].notna().to_numpy()
    article = parts.loc[hit, "article"]
    joiner = np.where(article.str.endswith("'").to_numpy(dtype=bool), "", " ")
    return postal[hit].assign(name=(article + joiner + parts.loc[hit, "rest"].str.strip()).to_numpy(dtype=object))


def _postal_localities(p: pd.DataFrame, a1: pd.DataFrame) -> pd.DataFrame:
    """One row per postal locality: rows of one (country, name, admin1, admin2) within
    ``POSTAL_MERGE_KM`` of the first (a village listed once per postal code) are one place, named
    by its lowest postal code: ``pc-<cc>-<postcode>-<slug>``. Farther rows stay separate places, so
    a name that is several localities far apart is ambiguous to the ladder. Grouped on integer
    codes (string sorts of 511k rows cost seconds)."""
    from etl.places.distance import haversine_km
    key = _normalise(p["name"])
    codes = [pd.factorize(v)[0].astype(np.int64) for v in (p["country"], key, p["admin1_name"], p["admin2_name"])]
    grp = np.zeros(len(p), dtype=np.int64)
    for c in codes:
        grp = grp * (c.max() + 2) + c + 1
    grp = pd.factorize(grp)[0]
    order = np.lexsort((p["postcode"].to_numpy(dtype=object).astype(str), grp))
    first = np.empty(grp.max() + 1, dtype=np.int64)
    first[grp[order][::-1]] = order[::-1]  # the lowest postal code of each group
    lat, lon = p["latitude"].to_numpy(dtype=float), p["longitude"].to_numpy(dtype=float)
    far = haversine_km(lat, lon, lat[first[grp]], lon[first[grp]]) > POSTAL_MERGE_KM
    place = pd.factorize(grp * 2 + far)[0]
    head = np.empty(place.max() + 1, dtype=np.int64)
    head[place[order][::-1]] = order[::-1]
    n = np.bincount(place)
    g = p.iloc[head].reset_index(drop=True)
    a1c = _postal_admin1(g, a1)
    slugs = pd.Series(key[head]).str.replace(" ", "-")
    empty = slugs.eq("").to_numpy()
    slugs[empty] = g["name"][empty].map(_slug).to_numpy()  # non-Latin names: a hash
    pc = g["postcode"].str.lower().str.replace(r"[^a-z0-9]+", "-", regex=True).str.strip("-")
    cid = "pc-" + g["country"].str.lower() + "-" + pc + "-" + slugs.to_numpy()
    return pd.DataFrame({"cc": g["country"], "name": g["name"], "authority": "postal", "authority_id": cid.str[3:],
                         "city_id": cid, "admin1": a1c, "latitude": (np.bincount(place, lat) / n).round(4),
                         "longitude": (np.bincount(place, lon) / n).round(4), "postcode": g["postcode"]})


# ---- cache ------------------------------------------------------------------------------------
def _cache_path() -> Path:
    from etl.fetch import source_entry, source_files
    h = hashlib.sha256(Path(__file__).read_bytes())
    for sid in sorted(AUTHORITY_SOURCES):
        h.update(json.dumps([f.get("hash") for f in source_files(source_entry(sid))]).encode())
    return BUILD / "cache" / f"authorities-{h.hexdigest()[:16]}.arrow"


def _read_sources(paths: dict | None = None) -> dict:
    from etl.fetch import local_paths
    from etl.sources import AUTHORITY_READERS
    paths = paths or local_paths()
    return {sid: AUTHORITY_READERS[sid](paths[sid], sid).data for sid in AUTHORITY_SOURCES}


_MEMO: dict = {}


def load_authorities(paths: dict | None = None):
    """The authority table as a pyarrow Table (from the cache, else built and cached; the
    ladder filters it in Arrow before converting the few rows it needs); None when the
    authority files are not fetched (a build without them resolves with cities500 alone)."""
    import pyarrow as pa
    import pyarrow.feather as feather
    try:
        path = _cache_path()
    except KeyError:
        return None
    if path in _MEMO:
        return _MEMO[path]
    _MEMO[path] = t = _load(path, paths)
    return t


def _load(path: Path, paths: dict | None):
    import pyarrow as pa
    import pyarrow.feather as feather
    marker = path.with_suffix(".building")
    try:
        pid = int(marker.read_text())
    except (OSError, ValueError):
        pid = os.getpid()
    if pid != os.getpid() and not path.exists():  # the build's child is writing it: wait, do not read twice
        from etl.background import wait_for
        wait_for(path, pid, 120.0)
    if path.exists():
        try:
            return feather.read_table(path)
        except Exception:  # a broken cache is rebuilt, never trusted
            path.unlink(missing_ok=True)
    try:
        t = build_table(_read_sources(paths))
    except (FileNotFoundError, OSError):
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    t = pa.Table.from_pandas(t, preserve_index=False)
    feather.write_feather(t, tmp, compression="lz4")
    os.replace(tmp, path)
    marker.unlink(missing_ok=True)
    for old in path.parent.glob("authorities-*.arrow"):
        if old != path:
            old.unlink(missing_ok=True)
    return t


def build_in_background() -> None:
    """Start building the cache in a child process when it is missing (the build's second core)."""
    from etl.background import start_python
    if os.environ.get("CITY_COMMITMENTS_CACHE", "") == "off":
        return
    try:
        path = _cache_path()
    except KeyError:
        return
    if path.exists():
        return
    child = start_python("from etl.places.authorities import load_authorities; load_authorities()")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".building").write_text(str(child.pid))
