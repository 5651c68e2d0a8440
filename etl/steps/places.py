"""The places step: every place mention of every source -> ``city_id``; the cities table, the
identifier crosswalk and the id redirects.

``build_places(mentions)`` resolves all mentions in ONE call of ``etl.places.resolver.resolve``
(each distinct mention once) and assigns ids by the policy in ``etl.places.ids``:
``gn<geonames_id>`` for GeoNames matches, a provisional ``x-...`` id otherwise; then the distance
rule of ``etl.places.distance`` (a match or a provisional place farther than a source's limit from
the source's point is not that place). No mention is
dropped: an unresolved, ambiguous or not-a-city mention keeps its provisional id, so every fact
still has a ``city_id``.

Outputs (all deterministic: the same mentions give identical, sorted frames):

* ``mention_city_ids``: aligned with the mentions index: source_id, source_row, role, city_id,
  status, method, score, geonames_id, provisional_id, place_type, fips (US county FIPS code).
  The only per-mention output, so it is compact: the text columns are categoricals with sorted
  categories (``status`` is a string column, as fact steps count it with ``value_counts``).
  Everything else is built on the distinct mentions (see ``_mention_keys``): places repeat, and
  memory must not grow with every fact row that names one.
* ``cities``: one row per city_id (also the parent cities of districts, even when no source
  names them alone): city_id, name, country_iso3, admin1, latitude, longitude, population,
  population_year, population_source, area_km2, geonames_id, place_type, part_of_city_id,
  resolution_method (the columns of the ``cities`` resource in datapackage.json).
  - name: the GeoNames primary name when matched, else the source's name cleaned of its
    qualifier ("Los Angeles County", "Encino").
  - latitude/longitude: GeoNames when matched, else the first source coordinates (by source_id,
    source_row).
  - population: a source value that states its year wins (latest year; ties by source_id), as
    the better-documented figure; else GeoNames' figure (no year); else a source value without
    year. ``population_source`` says which ("geonames" or the source_id). Implausible source
    values are skipped: years outside 1950-2025 count as no year; a value more than 10x off
    GeoNames' figure for the same place, or over 40 million for a city, is not used.
  - part_of_city_id: for districts ("Encino (Los Angeles)"), the parent city's id.
  - resolution_method: the method of the best-scored mention (ties: method name), or "parent"
    for a parent city only known as a parent.
* ``crosswalk`` (resource ``place_identifiers``): one row per (source_id, id_type, identifier,
  country): id_type "source_spelling" (raw_name; country as given, "" when none),
  "schedule_d_port" / "cbsa" (the mention's ``code``), "geonames_id". Columns: source_id, id_type,
  identifier, country, city_id, status, method, score, mentions. A spelling one source uses
  for two places gets its context appended (see ``_crosswalk``). Provisional ids are not
  identifiers here: ``redirects`` maps them.
* ``redirects`` (resource ``city_redirects``): old_city_id -> city_id, reason
  "matched_to_geonames" (see ``etl.places.ids``), sorted, unique.
* ``report`` (``build_report.json`` -> ``places``): per source_id, over its mentions (one per fact
  row's place, so a place named on many rows counts many times):

  - ``mentions``, ``distinct_mentions`` (distinct name, country, admin1, coordinates, place_type);
  - ``resolved_pct``: matched to an authority: a GeoNames place (``city_id`` "gn..."), a Census
    place ("cb...") or a postal locality ("pc...") (see ``etl.places.ladder``);
  - ``ambiguous_pct``: several GeoNames candidates and nothing to choose by (provisional id);
  - ``unresolved_pct``: a place name with no acceptable candidate (provisional id);
  - ``not_a_city_pct``: mentions that are not cities by construction and are never matched: regions,
    counties, districts and associations named as such, port districts ("..XX" Schedule D
    codes), non-places (low-value bucket, pseudo-metros); the four shares add up to 100;
  - ``resolved_pct_of_places``: resolved among the mentions that are places the gazetteer
    could hold (all but ``not_a_city``): the resolver's own hit rate; split, over the same
    mentions, into ``geonames_pct_of_places`` (a GeoNames id), ``authority_pct_of_places`` (any
    authority, = ``resolved_pct_of_places``), ``ambiguous_pct_of_places`` and
    ``unresolved_pct_of_places``; ``by_authority_pct`` splits the resolved share by authority.

  Plus ``_timing`` (seconds: gazetteer load, distinct mention keys (with making the mentions when
  they come from a generator), resolve, tables) and ``_ids`` (redirect and
  collision counts). ``tests/places/resolution_baseline.json`` holds the measured
  ``resolved_pct`` per source; a mirror test fails when one drops more than a point below it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from etl.places.countries import iso2_to_iso3
from etl.places.distance import apply_limits, split_provisional
from etl.places.gazetteer import load_gazetteer
from etl.places.ladder import extend as extend_ladder
from etl.places.resolver import resolve

MENTION_COLUMNS = ["source_id", "source_row", "role", "raw_name", "name", "country", "admin1", "latitude",
                   "longitude", "population", "population_year", "area_km2", "place_type", "code", "code_type"]
REQUIRED = ["source_id", "source_row", "role", "name", "country"]

# column sets of the resources in datapackage.json (cities, place_identifiers, city_redirects)
CITY_COLUMNS = ["city_id", "name", "country_iso3", "admin1", "admin1_code", "admin1_name", "latitude", "longitude",
                "coordinates_source", "population", "population_year", "population_source", "area_km2", "geonames_id",
                "census_geoid", "authority", "authority_id", "place_type", "part_of_city_id", "resolution_method"]
CROSSWALK_COLUMNS = ["source_id", "id_type", "identifier", "country", "city_id", "status", "method", "score",
                     "mentions"]
REDIRECT_COLUMNS = ["old_city_id", "city_id", "reason"]
YEAR_RANGE = (1950, 2025)      # population years outside are typos ("0", "2030", "1537")
POP_FACTOR = 10.0              # source vs GeoNames population: further apart -> GeoNames
MAX_CITY_POP = 40_000_000      # no city proper is larger


@dataclass
class PlacesResult:
    mention_city_ids: pd.DataFrame
    cities: pd.DataFrame
    crosswalk: pd.DataFrame
    redirects: pd.DataFrame
    report: dict = field(default_factory=dict)


# a mention's key: every column the tables read (source_row and role only link it to its fact)
KEY_COLUMNS = [c for c in MENTION_COLUMNS if c not in ("source_row", "role")]


def _typed(keys: pd.DataFrame) -> pd.DataFrame:
    """The key columns in the dtypes the tables expect (a new frame; a missing column is all NA)."""
    m = keys.copy()
    for c in KEY_COLUMNS:
        if c not in m.columns:
            m[c] = pd.NA
    for c in ("source_id", "raw_name", "name", "country", "admin1", "place_type", "code", "code_type"):
        m[c] = m[c].astype("string")
    for c in ("latitude", "longitude", "area_km2"):
        m[c] = pd.to_numeric(m[c], errors="coerce").astype(float)
    for c in ("population", "population_year"):
        m[c] = _int64(m[c])
    return m[KEY_COLUMNS]


def _int64(values: pd.Series) -> pd.Series:
    """Whole numbers as Int64 (a column that already is Int64 is kept, not copied)."""
    if values.dtype == "Int64":
        return values
    return pd.to_numeric(values, errors="coerce").round().astype("Int64")


def _spread(values: pd.Series, key: np.ndarray) -> pd.Categorical:
    """A per-key text column as a per-mention categorical: a small code per mention."""
    codes, cats = pd.factorize(values, sort=True)
    return pd.Categorical.from_codes(codes[key], categories=cats)


def _distinct(frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's key and the distinct keys (the ``KEY_COLUMNS`` it has), in order of first appearance.
    Raw values are compared: equal values of different types may give two keys for one place,
    which changes nothing, as the tables count mentions."""
    cols = [c for c in KEY_COLUMNS if c in frame.columns]
    key = pd.factorize(frame.groupby(cols, dropna=False, observed=True, sort=False).ngroup().to_numpy())[0]
    first_row = pd.Series(key).drop_duplicates().index.to_numpy()  # key k first appears at first_row[k]
    return key, frame.iloc[first_row][cols].reset_index(drop=True)


def _mention_keys(frames) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The link of every mention (source_id, source_row, role, key) and the distinct mention keys.

    Places repeat (a city pledges on many rows, a port appears in every month), so the tables are
    built on the keys and memory does not grow with the mentions. Frames are reduced one at a time,
    so a step's mentions can be freed before the next step makes its own. Per key: ``n_mentions``,
    and ``first``, the rank of its first mention in (source_id, source_row, role, position) order:
    the tables read the keys in that order, so "the first value in mention order" stays the same."""
    sids, rows, roles, keys_of, parts = [], [], [], [], []
    n_keys = 0
    for frame in frames:
        missing = [c for c in REQUIRED if c not in frame.columns]
        if missing:
            raise ValueError(f"place mentions lack column(s) {missing}")
        key, keys = _distinct(frame)
        sids.append(pd.Categorical(frame["source_id"].astype("string")))
        roles.append(pd.Categorical(frame["role"].astype("string")))
        rows.append(pd.Series(_int64(frame["source_row"]).array))
        keys_of.append(key + n_keys)
        parts.append(_typed(keys))
        n_keys += len(keys)
        del frame  # before the next step makes its mentions
    to_key, keys = _distinct(pd.concat(parts, ignore_index=True))  # a key in two frames is one key
    if keys["raw_name"].isna().all():
        keys["raw_name"] = keys["name"]
    key = to_key[np.concatenate(keys_of)]
    link = pd.DataFrame({"source_id": union_categoricals(sids, sort_categories=True),
                         "source_row": pd.concat(rows, ignore_index=True).array,
                         "role": union_categoricals(roles, sort_categories=True), "key": key})
    del sids, rows, roles, keys_of
    keys["n_mentions"] = np.bincount(key, minlength=len(keys))
    last = lambda c: np.where(c.codes < 0, len(c.categories), c.codes)  # missing values sort last
    order = np.lexsort((last(link["role"].array), link["source_row"].to_numpy(dtype=float, na_value=np.inf),
                        last(link["source_id"].array)))  # stable: ties keep their position
    first = np.empty(len(keys), dtype=np.int64)
    first[pd.unique(key[order])] = np.arange(len(keys))
    keys["first"] = first
    return link, keys


def build_places(mentions: pd.DataFrame | Iterable[pd.DataFrame],
                 country_dict_path: str | Path | None = None, raw_paths: dict | None = None) -> PlacesResult:
    """Places of ``mentions``: one frame, or several (the build passes each fact step's as it is made)."""
    t0 = time.perf_counter()
    g = load_gazetteer()
    t1 = time.perf_counter()
    one = isinstance(mentions, pd.DataFrame)
    link, keys = _mention_keys([mentions] if one else mentions)  # also runs a generator of frames
    t_keys = time.perf_counter()
    r = resolve(keys, country_dict_path=country_dict_path, gazetteer=g)
    # a match farther than its source's stated limit from the source's own point is no match
    r, n_too_far = apply_limits(keys, r, g)
    # a point the resolver found in another country is not the place's (etl.places.abroad)
    keys.loc[r["coords_abroad"].to_numpy(dtype=bool), ["latitude", "longitude"]] = np.nan
    r = r.drop(columns="coords_abroad")
    t_ladder = time.perf_counter()
    r = extend_ladder(keys, r, g, raw_paths=raw_paths)  # the authorities beyond cities500, for what is still unresolved
    t_ladder = time.perf_counter() - t_ladder
    # ... and a provisional id (name + country) must not merge namesakes its sources place apart
    r, n_split = split_provisional(keys, r)
    r.attrs.setdefault("timing", {})["mentions"] = len(link)
    t2 = time.perf_counter()
    if r["city_id"].isna().any():  # cannot happen by construction; never let a fact lose its place
        raise RuntimeError("place resolution left a mention without city_id")

    # the link the fact steps join on, per mention: a few bytes each
    key = link["key"].to_numpy()
    mc = pd.DataFrame({
        "source_id": link["source_id"], "source_row": link["source_row"], "role": link["role"],
        "city_id": _spread(r["city_id"], key), "status": r["status"].array.take(key),
        "method": _spread(r["method"], key), "score": r["score"].to_numpy(dtype=float)[key],
        "geonames_id": r["geonames_id"].array.take(key), "provisional_id": _spread(r["provisional_id"], key),
        "place_type": _spread(r["place_type"], key), "fips": _spread(r["fips"], key),
    })
    if one:
        mc.index = mentions.index

    full = pd.concat([keys, r.drop(columns=["admin1"]).rename(columns={"place_type": "r_place_type"}),
                      r[["admin1"]].rename(columns={"admin1": "r_admin1"})], axis=1)
    full = full.sort_values("first", ignore_index=True)  # in the order the mentions first name them

    cities = _cities(full, g, (raw_paths or {}).get("geonames_admin1"))
    crosswalk = _crosswalk(full)
    redirects = _redirects(full, set(cities["city_id"]))
    report = _report(full)
    report["_timing"] = {"gazetteer_load_s": round(t1 - t0, 3), "mention_keys_s": round(t_keys - t1, 3),
                         "resolve_s": round(t2 - t_keys, 3),
                         "tables_s": round(time.perf_counter() - t2, 3), "ladder_s": round(t_ladder, 3),
                         **r.attrs.get("timing", {})}
    hashed = full["provisional_id"].str.contains(r"-h[0-9a-f]{6}$").to_numpy(dtype=bool)
    report["_ids"] = {"cities": int(len(cities)), "geonames_cities": int(cities["geonames_id"].notna().sum()),
                      "redirects": int(len(redirects)),
                      "hash_suffixed_provisional_ids": int(full["n_mentions"].to_numpy()[hashed].sum()),
                      "too_far_distinct_mentions": n_too_far, "split_provisional_distinct_mentions": n_split}
    return PlacesResult(mention_city_ids=mc, cities=cities, crosswalk=crosswalk, redirects=redirects, report=report)


# ---- cities ---------------------------------------------------------------------------------------
def _obj(series: pd.Series) -> np.ndarray:
    """A column as a numpy object array with None for missing (fast to hash and compare)."""
    return series.astype(object).where(series.notna(), None).to_numpy(dtype=object)


class _Groups:
    """Rows grouped by one integer code per row (``codes``, 0..k-1): the group-wise "first
    non-null value in a given row order" without pandas groupby on string columns (which
    re-hashes and re-sorts the strings on every call and dominated this step's time)."""

    def __init__(self, codes: np.ndarray, k: int):
        self.codes, self.k = codes, k

    def first(self, values: np.ndarray, valid: np.ndarray, order: np.ndarray | None = None, fill=None) -> np.ndarray:
        rows = np.flatnonzero(valid) if order is None else order[valid[order]]
        grp, at = np.unique(self.codes[rows], return_index=True)
        out = np.full(self.k, fill, dtype=values.dtype if values.dtype != object else object)
        out[grp] = values[rows[at]]
        return out


def _cities(full: pd.DataFrame, g, admin1_path=None) -> pd.DataFrame:
    """One row per city_id, vectorised (the frame is sorted by source_id, source_row)."""
    i3 = iso2_to_iso3()
    cid, cities = pd.factorize(_obj(full["city_id"]), sort=True)
    G = _Groups(cid, len(cities))
    gid = full["geonames_id"].astype("Int64")
    gid_f = gid.astype(float).to_numpy(dtype=float, na_value=np.nan)
    par_f = full["parent_geonames_id"].astype("Int64").astype(float).to_numpy(dtype=float, na_value=np.nan)
    lat = full["latitude"].to_numpy(dtype=float, na_value=np.nan)
    lon = full["longitude"].to_numpy(dtype=float, na_value=np.nan)
    area = full["area_km2"].to_numpy(dtype=float, na_value=np.nan)
    method, base_name, name = _obj(full["method"]), _obj(full["base_name"]), _obj(full["name"])
    iso3, r_admin1, r_type = _obj(full["country_iso3"]), _obj(full["r_admin1"]), _obj(full["r_place_type"])
    notna = lambda a: ~pd.isna(a)
    out = pd.DataFrame({"city_id": cities.astype(object)})
    out["geonames_id"] = G.first(gid_f, notna(gid_f), fill=np.nan)
    out["parent"] = G.first(par_f, notna(par_f), fill=np.nan)
    # the best-scored mention (ties: method name) names the resolution method and the source name
    score = full["score"].to_numpy(dtype=float, na_value=np.nan)
    m_code = pd.factorize(method, sort=True)[0]
    ranked = np.lexsort((m_code, np.where(np.isnan(score), np.inf, -score), cid))
    out["resolution_method"] = G.first(method, notna(method), ranked)
    best_base = G.first(base_name, notna(base_name), ranked)
    best_name = G.first(name, notna(name), ranked)
    use_base = notna(best_base) & (best_base != "")
    out["src_name"] = np.where(use_base, best_base, best_name)
    out["src_lat"] = G.first(lat, notna(lat), fill=np.nan)
    out["src_lon"] = G.first(lon, notna(lon), fill=np.nan)
    out["src_iso3"] = G.first(iso3, notna(iso3))
    out["src_admin1"] = G.first(r_admin1, notna(r_admin1))
    out["src_type"] = G.first(r_type, notna(r_type))
    out["area_km2"] = G.first(area, notna(area), fill=np.nan)
    # the authority that matched (the ladder's, or cities500's) and the point of its match
    auth = _obj(full["authority"])
    out["auth"] = G.first(auth, notna(auth))
    for c in ("authority_id", "census_geoid", "matched_name"):
        v = _obj(full[c])
        out["a_" + c] = G.first(v, notna(auth) & notna(v))
    for c in ("match_latitude", "match_longitude"):
        v = full[c].to_numpy(dtype=float, na_value=np.nan)
        out["a_" + c] = G.first(v, notna(auth) & notna(v), fill=np.nan)

    # population: a dated source value (latest year, then source_id) > GeoNames > an undated source value.
    # Implausible source values are not used: a year outside YEAR_RANGE makes the value undated;
    # for a GeoNames place, a value more than POP_FACTOR times off GeoNames' figure is not used;
    # a "city" of more than MAX_CITY_POP inhabitants is a region's figure and is not used.
    gpop = g.places.set_index("geonames_id")["population"]
    gn_of = gid.map(gpop).astype(float).to_numpy(dtype=float, na_value=np.nan)
    mpop = full["population"].astype(float).to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = mpop / np.where(gn_of > 0, gn_of, np.nan)
    plausible = np.isnan(ratio) | ((ratio >= 1 / POP_FACTOR) & (ratio <= POP_FACTOR))
    city_like = ~np.isin(r_type, ["region", "county"])
    plausible &= ~(city_like & (mpop > MAX_CITY_POP))
    usable = ~np.isnan(mpop) & (mpop > 0) & plausible
    year = full["population_year"].astype(float).to_numpy(dtype=float, na_value=np.nan)
    year = np.where((year >= YEAR_RANGE[0]) & (year <= YEAR_RANGE[1]), year, np.nan)
    src = _obj(full["source_id"])
    s_code = pd.factorize(src, sort=True)[0]
    dated_order = np.lexsort((s_code, np.where(np.isnan(year), np.inf, -year), cid))
    dated = usable & ~np.isnan(year)
    d_pop = G.first(mpop, dated, dated_order, fill=np.nan)
    d_year = G.first(year, dated, dated_order, fill=np.nan)
    d_src = G.first(src, dated, dated_order)
    u_pop = G.first(mpop, usable, fill=np.nan)
    u_src = G.first(src, usable)

    gp = g.places.set_index("geonames_id")[["name", "country", "admin1", "latitude", "longitude", "population"]]
    # parent cities of districts that no source names alone
    parent_ids = out["parent"].dropna().astype("int64")
    extra = sorted({f"gn{p}" for p in parent_ids} - set(out["city_id"]))
    pop_cols = pd.DataFrame({"d_pop": d_pop, "d_year": d_year, "d_src": d_src, "u_pop": u_pop, "u_src": u_src})
    if extra:
        add = pd.DataFrame({"city_id": extra, "geonames_id": [float(x[2:]) for x in extra],
                            "resolution_method": "parent", "auth": "geonames_cities500",
                            "a_authority_id": [x[2:] for x in extra]})
        out = pd.concat([out, add], ignore_index=True)
        pop_cols = pop_cols.reindex(range(len(out)))
    gidx = out["geonames_id"].astype("Int64")
    gn = gp.reindex(gidx.fillna(-1).astype("int64").to_numpy())
    is_gn = gn["name"].notna().to_numpy()   # in cities500 (a GeoNames id of a dump or division is not)
    is_auth = out["auth"].notna().to_numpy() & ~is_gn
    src_or = lambda auth_col, src_col: np.where(is_auth & notna(out[auth_col].to_numpy(dtype=object)),
                                                out[auth_col].to_numpy(dtype=object), out[src_col].to_numpy(dtype=object))
    out["name"] = np.where(is_gn, gn["name"].to_numpy(dtype=object), src_or("a_matched_name", "src_name"))
    out["country_iso3"] = np.where(is_gn, gn["country"].map(i3).to_numpy(dtype=object), out["src_iso3"].to_numpy(dtype=object))
    gadm = gn["admin1"].replace("", None).to_numpy(dtype=object)
    out["admin1"] = np.where(is_gn, gadm, out["src_admin1"].to_numpy(dtype=object))
    a_lat, a_lon = out["a_match_latitude"].to_numpy(dtype=float), out["a_match_longitude"].to_numpy(dtype=float)
    a_xy = is_auth & ~np.isnan(a_lat)
    src_lat, src_lon = pd.to_numeric(out["src_lat"]).to_numpy(dtype=float), pd.to_numeric(out["src_lon"]).to_numpy(dtype=float)
    out["latitude"] = np.where(is_gn, gn["latitude"].to_numpy(dtype=float), np.where(a_xy, a_lat, src_lat))
    out["longitude"] = np.where(is_gn, gn["longitude"].to_numpy(dtype=float), np.where(a_xy, a_lon, src_lon))
    out["coordinates_source"] = np.select([is_gn, a_xy, ~np.isnan(src_lat)],
                                          ["geonames_cities500", out["auth"].to_numpy(dtype=object), "source"], None)
    out["authority"] = np.where(is_gn, "geonames_cities500", out["auth"].to_numpy(dtype=object))
    out["authority_id"] = np.where(is_gn, gidx.astype("string").to_numpy(dtype=object), out["a_authority_id"].to_numpy(dtype=object))
    out["census_geoid"] = out["a_census_geoid"]
    _admin1_names(out, admin1_path)
    pid = out["parent"].astype("Int64")
    out["part_of_city_id"] = ("gn" + pid.astype("string")).where(pid.notna())
    out.loc[out["part_of_city_id"] == out["city_id"], "part_of_city_id"] = pd.NA
    out["place_type"] = np.where(is_gn | is_auth, np.where(out["part_of_city_id"].notna(), "district", "city"),
                                 out["src_type"].fillna("city").to_numpy(dtype=object))

    gnpop = pd.Series(gn["population"].to_numpy(), index=out.index).where(lambda x: x > 0)
    has_d = pop_cols["d_pop"].notna().to_numpy()
    has_g = is_gn & gnpop.notna().to_numpy()
    has_u = pop_cols["u_pop"].notna().to_numpy()
    out["population"] = np.select([has_d, has_g, has_u],
                                  [pop_cols["d_pop"].to_numpy(dtype=float), gnpop.to_numpy(dtype=float),
                                   pop_cols["u_pop"].to_numpy(dtype=float)], np.nan)
    out["population_year"] = np.where(has_d, pop_cols["d_year"].to_numpy(dtype=float), np.nan)
    out["population_source"] = np.select([has_d, has_g, has_u],
                                         [pop_cols["d_src"].to_numpy(dtype=object), "geonames",
                                          pop_cols["u_src"].to_numpy(dtype=object)], None)
    empty = pd.Series(out["name"]).isna() | pd.Series(out["name"]).eq("")
    out.loc[empty, "name"] = out.loc[empty, "city_id"]  # name is required; never happens with real sources
    out = out[CITY_COLUMNS].sort_values("city_id", ignore_index=True)
    return out.astype({
        "city_id": "string", "name": "string", "country_iso3": "string", "admin1": "string",
        "admin1_code": "string", "admin1_name": "string", "coordinates_source": "string", "census_geoid": "string",
        "authority": "string", "authority_id": "string",
        "latitude": float, "longitude": float, "population": "Int64", "population_year": "Int64",
        "population_source": "string", "area_km2": float, "geonames_id": "Int64", "place_type": "string",
        "part_of_city_id": "string", "resolution_method": "string",
    })


def _admin1_names(out: pd.DataFrame, path=None) -> None:
    """``admin1_name`` (GeoNames') and ``admin1_code`` (ISO 3166-2 where it agrees, see
    ``etl.places.subdivisions``) from the country and the GeoNames admin1 code."""
    from etl.places.countries import iso3_to_iso2
    from etl.places.subdivisions import admin1_lookup
    look = admin1_lookup(path)
    if look is None:
        out["admin1_name"], out["admin1_code"] = None, None
        return
    i2 = iso3_to_iso2()
    cc = pd.Series(out["country_iso3"]).map(lambda c: i2.get(c) if isinstance(c, str) else None)
    q = pd.DataFrame({"cc": cc.to_numpy(dtype=object), "admin1": pd.Series(out["admin1"]).to_numpy(dtype=object)})
    m = q.merge(look.astype(object), on=["cc", "admin1"], how="left")
    out["admin1_name"] = m["admin1_name"].to_numpy(dtype=object)
    out["admin1_code"] = m["admin1_code"].to_numpy(dtype=object)


# ---- crosswalk / redirects / report ------------------------------------------------------------
def _crosswalk(full: pd.DataFrame) -> pd.DataFrame:
    """One row per (source_id, id_type, identifier, country) -> city_id (the resource's key).

    ``country`` is the country as the source gave it ("" when it gave none). A source spelling
    that the same source uses for two different places (two pledgers "San Juan" told apart by
    their coordinates) gets its distinguishing context appended, "San Juan [37.12,-3.56]", so
    the key stays unique and every row names exactly one place.

    Grouping works on integer codes (``pd.factorize(sort=True)`` keeps the strings' order). A row of
    ``full`` is a mention key; ``n_mentions`` says how many mentions it stands for."""
    n = len(full)
    weight = full["n_mentions"].to_numpy()
    sid, country, city = _obj(full["source_id"]), _obj(full["country"].fillna("")), _obj(full["city_id"])
    status, method = _obj(full["status"]), _obj(full["method"])
    score = full["score"].to_numpy(dtype=float, na_value=np.nan)
    raw, name = _obj(full["raw_name"]), _obj(full["name"])
    spelling = np.where(pd.isna(raw), np.where(pd.isna(name), "", name), raw).astype(object)
    # spellings one source uses for several places: add admin1 / coordinates as context
    sc = pd.factorize(sid)[0].astype(np.int64)
    spc = pd.factorize(spelling)[0].astype(np.int64)
    coc = pd.factorize(country)[0].astype(np.int64)
    cic = pd.factorize(city)[0].astype(np.int64)
    grp = pd.factorize((sc * (spc.max() + 1) + spc) * (coc.max() + 1) + coc)[0]
    pairs = np.unique(np.stack([grp, cic], axis=1), axis=0)
    n_ids = np.bincount(pairs[:, 0], minlength=grp.max() + 1)[grp]
    many = np.flatnonzero(n_ids > 1)
    if len(many):
        sub = full.iloc[many]
        ctx = sub["admin1"].fillna("").astype("string")
        xy = (sub["latitude"].round(2).astype("string") + "," + sub["longitude"].round(2).astype("string")).fillna("")
        context = (ctx + pd.Series(np.where(ctx.ne("") & xy.ne(""), "; ", ""), index=sub.index) + xy)
        has = context.ne("").to_numpy()
        spelling[many[has]] = (pd.Series(spelling[many[has]]) + " [" + context[has].to_numpy(dtype=object) + "]").to_numpy(dtype=object)

    code, code_type = _obj(full["code"]), _obj(full["code_type"])
    gid = full["geonames_id"].astype("Int64")
    gid_s = gid.astype("string").astype(object).where(gid.notna(), None).to_numpy(dtype=object)
    has_code = ~pd.isna(code) & ~pd.isna(code_type)
    has_gid = gid.notna().to_numpy()
    rows = np.concatenate([np.arange(n), np.flatnonzero(has_code), np.flatnonzero(has_gid)])
    id_type = np.concatenate([np.full(n, "source_spelling", dtype=object), code_type[has_code],
                              np.full(int(has_gid.sum()), "geonames_id", dtype=object)])
    ident = np.concatenate([spelling, code[has_code], gid_s[has_gid]])
    keep = ~pd.isna(ident) & (ident != "")
    rows, id_type, ident = rows[keep], id_type[keep], ident[keep]
    cols = {"source_id": sid[rows], "id_type": id_type, "identifier": ident, "country": country[rows],
            "city_id": city[rows]}
    codes = {c: pd.factorize(v, sort=True) for c, v in cols.items()}
    key_code = np.zeros(len(rows), dtype=np.int64)
    for c in ("source_id", "id_type", "identifier", "country"):
        key_code = key_code * len(codes[c][1]) + codes[c][0]
    key_id, key_uniq = pd.factorize(key_code, sort=True)
    city_code = codes["city_id"][0]
    kc_id, kc_uniq = pd.factorize(key_id.astype(np.int64) * len(codes["city_id"][1]) + city_code, sort=True)
    # per (key, city): first status / method in row order, max score, mentions
    _, first_at = np.unique(kc_id, return_index=True)
    mentions = np.bincount(kc_id, weights=weight[rows]).astype(np.int64)
    best_score = pd.Series(score[rows]).groupby(kc_id).max().to_numpy()
    kc_key = kc_uniq // len(codes["city_id"][1])
    kc_city = kc_uniq % len(codes["city_id"][1])
    # per key: the most frequent city_id, ties by city_id
    order = np.lexsort((kc_city, -mentions, kc_key))
    lead = order[np.r_[True, kc_key[order][1:] != kc_key[order][:-1]]]
    total = np.bincount(kc_key, weights=mentions).astype(np.int64)
    first_rows = first_at[lead]
    agg = pd.DataFrame({c: cols[c][first_rows] for c in ("source_id", "id_type", "identifier", "country", "city_id")})
    agg["status"] = status[rows][first_rows]
    agg["method"] = method[rows][first_rows]
    agg["score"] = best_score[lead]
    agg["mentions"] = pd.array(total[kc_key[lead]], dtype="Int64")
    agg = agg.astype({c: "string" for c in ["source_id", "id_type", "identifier", "country", "city_id", "status",
                                             "method"]})
    return agg[CROSSWALK_COLUMNS].reset_index(drop=True)


def _redirects(full: pd.DataFrame, live: set) -> pd.DataFrame:
    res = full.loc[full["status"].eq("resolved"), ["provisional_id", "city_id"]].drop_duplicates()
    n = res.groupby("provisional_id")["city_id"].transform("nunique")
    res = res[(n == 1) & ~res["provisional_id"].isin(live)]
    out = res.rename(columns={"provisional_id": "old_city_id"})[["old_city_id", "city_id"]].drop_duplicates()
    # why: the kind of id it now has (GeoNames, a Census place, a postal locality)
    kind = out["city_id"].str.extract(r"^(gn|cb|pc)", expand=False).map(
        {"gn": "matched_to_geonames", "cb": "matched_to_census_place", "pc": "matched_to_postal_locality"})
    out = out.assign(reason=kind.fillna("matched_to_geonames"))
    return out.sort_values(["old_city_id", "city_id"], ignore_index=True)[REDIRECT_COLUMNS].astype("string")


def _report(full: pd.DataFrame) -> dict:
    """Per source_id, shares of its mentions (see the module docstring); a row of ``full`` is a
    mention key standing for ``n_mentions`` mentions."""
    rep = {}
    key = ["name", "country", "admin1", "latitude", "longitude", "place_type"]
    for sid, grp in full.groupby("source_id", sort=True):
        w = grp["n_mentions"]
        n = int(w.sum())
        count = lambda mask: int(w[mask.fillna(False).to_numpy(dtype=bool)].sum())
        nac = grp["method"].eq("not_a_city")
        resolved = grp["status"].eq("resolved")
        pct = lambda mask, d=n: round(100.0 * float(count(mask)) / d, 2) if d else 0.0
        rep[str(sid)] = {
            "mentions": n,
            "distinct_mentions": int(len(grp.drop_duplicates(key))),
            "resolved_pct": pct(resolved),
            "ambiguous_pct": pct(grp["status"].eq("ambiguous")),
            "unresolved_pct": pct(grp["status"].eq("unresolved") & ~nac),
            "not_a_city_pct": pct(nac),
            "resolved_pct_of_places": pct(resolved, n - count(nac)),
            # of the mentions that are places: GeoNames id, any authority, ambiguous, unresolved
            "geonames_pct_of_places": pct(resolved & grp["geonames_id"].notna(), n - count(nac)),
            "authority_pct_of_places": pct(resolved, n - count(nac)),
            "ambiguous_pct_of_places": pct(grp["status"].eq("ambiguous"), n - count(nac)),
            "unresolved_pct_of_places": pct(grp["status"].eq("unresolved") & ~nac, n - count(nac)),
            "by_authority_pct": {str(a): round(100.0 * float(v) / max(n - count(nac), 1), 2) for a, v in
                                 w[resolved.to_numpy(dtype=bool)].groupby(
                                     grp["authority"][resolved.to_numpy(dtype=bool)].to_numpy()).sum().items()},
        }
    return rep
