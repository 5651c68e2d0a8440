"""The places step: every place mention of every source -> ``city_id``; the cities table, the
identifier crosswalk and the id redirects.

``build_places(mentions)`` resolves all mentions in ONE call of ``etl.places.resolver.resolve``
(each distinct mention once) and assigns ids by the policy in ``etl.places.ids``:
``gn<geonames_id>`` for GeoNames matches, a provisional ``x-...`` id otherwise. No mention is
dropped: an unresolved, ambiguous or not-a-city mention keeps its provisional id, so every fact
still has a ``city_id``.

Outputs (all deterministic: the same mentions give identical, sorted frames):

* ``mention_city_ids``: aligned with the mentions index: source_id, source_row, role, city_id,
  status, method, score, geonames_id, provisional_id, place_type, fips (US county FIPS code).
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
* ``report``: per source_id: mentions, distinct_mentions, resolved_pct (to GeoNames),
  ambiguous_pct, unresolved_pct, not_a_city_pct; plus timing and the redirect / collision counts.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from etl.places.countries import iso2_to_iso3
from etl.places.gazetteer import load_gazetteer
from etl.places.resolver import resolve

MENTION_COLUMNS = ["source_id", "source_row", "role", "raw_name", "name", "country", "admin1", "latitude",
                   "longitude", "population", "population_year", "area_km2", "place_type", "code", "code_type"]
REQUIRED = ["source_id", "source_row", "role", "name", "country"]

# column sets of the resources in datapackage.json (cities, place_identifiers, city_redirects)
CITY_COLUMNS = ["city_id", "name", "country_iso3", "admin1", "latitude", "longitude", "population",
                "population_year", "population_source", "area_km2", "geonames_id", "place_type", "part_of_city_id",
                "resolution_method"]
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


def _prepare(mentions: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REQUIRED if c not in mentions.columns]
    if missing:
        raise ValueError(f"place mentions lack column(s) {missing}")
    m = mentions.copy()
    for c in MENTION_COLUMNS:
        if c not in m.columns:
            m[c] = pd.NA
    if m["raw_name"].isna().all():
        m["raw_name"] = m["name"]
    for c in ("source_id", "role", "raw_name", "name", "country", "admin1", "place_type", "code", "code_type"):
        m[c] = m[c].astype("string")
    for c in ("latitude", "longitude", "area_km2"):
        m[c] = pd.to_numeric(m[c], errors="coerce").astype(float)
    for c in ("source_row", "population", "population_year"):
        m[c] = pd.to_numeric(m[c], errors="coerce").round().astype("Int64")
    return m


def build_places(mentions: pd.DataFrame, country_dict_path: str | Path | None = None) -> PlacesResult:
    t0 = time.perf_counter()
    g = load_gazetteer()
    t1 = time.perf_counter()
    m = _prepare(mentions)
    r = resolve(m, country_dict_path=country_dict_path, gazetteer=g)
    t2 = time.perf_counter()

    mc = pd.DataFrame({
        "source_id": m["source_id"], "source_row": m["source_row"], "role": m["role"],
        "city_id": r["city_id"].astype("string"), "status": r["status"], "method": r["method"],
        "score": r["score"].astype(float), "geonames_id": r["geonames_id"], "provisional_id": r["provisional_id"],
        "place_type": r["place_type"], "fips": r["fips"],
    }, index=m.index)
    if mc["city_id"].isna().any():  # cannot happen by construction; never let a fact lose its place
        raise RuntimeError("place resolution left a mention without city_id")

    full = pd.concat([m, r.drop(columns=["admin1"]).rename(columns={"place_type": "r_place_type"}),
                      r[["admin1"]].rename(columns={"admin1": "r_admin1"})], axis=1)
    full = full.assign(_order=np.arange(len(full)))
    full = full.sort_values(["source_id", "source_row", "role", "_order"], kind="stable", na_position="last")

    cities = _cities(full, g)
    crosswalk = _crosswalk(full)
    redirects = _redirects(full, set(cities["city_id"]))
    report = _report(full)
    report["_timing"] = {"gazetteer_load_s": round(t1 - t0, 3), "resolve_s": round(t2 - t1, 3),
                         "tables_s": round(time.perf_counter() - t2, 3), **r.attrs.get("timing", {})}
    report["_ids"] = {"cities": int(len(cities)), "geonames_cities": int(cities["geonames_id"].notna().sum()),
                      "redirects": int(len(redirects)),
                      "hash_suffixed_provisional_ids": int(r["provisional_id"].str.contains(r"-h[0-9a-f]{6}$").sum())}
    return PlacesResult(mention_city_ids=mc, cities=cities, crosswalk=crosswalk, redirects=redirects, report=report)


# ---- cities -----------------------------------------------------------------------------------
def _first(frame: pd.DataFrame, col: str) -> pd.Series:
    """First non-null ``col`` per city_id, in the frame's order."""
    return frame.groupby("city_id", sort=True)[col].first()


def _cities(full: pd.DataFrame, g) -> pd.DataFrame:
    """One row per city_id, vectorised (the frame is sorted by source_id, source_row)."""
    i3 = iso2_to_iso3()
    grp = full.groupby("city_id", sort=True)
    out = pd.DataFrame({"n_mentions": grp.size()})
    out["geonames_id"] = _first(full, "geonames_id")
    out["parent"] = _first(full, "parent_geonames_id")
    ranked = full.sort_values(["city_id", "score", "method"], ascending=[True, False, True], kind="stable")
    best = ranked.groupby("city_id", sort=True).first()
    out["resolution_method"] = best["method"]
    out["src_name"] = best["base_name"].where(best["base_name"].notna() & best["base_name"].ne(""), best["name"])
    out["src_lat"] = _first(full, "latitude")
    out["src_lon"] = _first(full, "longitude")
    out["src_iso3"] = _first(full, "country_iso3")
    out["src_admin1"] = _first(full, "r_admin1")
    out["src_type"] = _first(full, "r_place_type")
    out["area_km2"] = _first(full, "area_km2")

    # population: a dated source value (latest year, then source_id) > GeoNames > an undated source value.
    # Implausible source values are not used: a year outside YEAR_RANGE makes the value undated;
    # for a GeoNames place, a value more than POP_FACTOR times off GeoNames' figure is not used;
    # a "city" of more than MAX_CITY_POP inhabitants is a region's figure and is not used.
    gpop = g.places.set_index("geonames_id")["population"]
    gn_of = full["geonames_id"].astype("Int64").map(gpop).astype(float)
    ratio = full["population"].astype(float) / gn_of.where(gn_of > 0)
    plausible = ratio.isna() | ratio.between(1 / POP_FACTOR, POP_FACTOR)
    city_like = ~full["r_place_type"].isin(["region", "county"])
    plausible &= ~(city_like & (full["population"].astype(float) > MAX_CITY_POP))
    pos = full[full["population"].notna() & (full["population"] > 0) & plausible.fillna(True)].copy()
    yr = pos["population_year"]
    pos["population_year"] = yr.where(yr.between(*YEAR_RANGE))
    dated = pos[pos["population_year"].notna()].sort_values(
        ["city_id", "population_year", "source_id"], ascending=[True, False, True], kind="stable")
    d1 = dated.groupby("city_id", sort=True)[["population", "population_year", "source_id"]].first()
    u1 = pos.groupby("city_id", sort=True)[["population", "source_id"]].first()

    gp = g.places.set_index("geonames_id")[["name", "country", "admin1", "latitude", "longitude", "population"]]
    out = out.reset_index()
    # parent cities of districts that no source names alone
    parent_ids = out["parent"].dropna().astype("int64")
    extra = sorted({f"gn{p}" for p in parent_ids} - set(out["city_id"]))
    if extra:
        add = pd.DataFrame({"city_id": extra, "n_mentions": 0, "geonames_id": [int(x[2:]) for x in extra],
                            "resolution_method": "parent"})
        out = pd.concat([out, add], ignore_index=True)
    gidx = out["geonames_id"].astype("Int64")
    gn = gp.reindex(gidx.fillna(-1).astype("int64").to_numpy())
    is_gn = gidx.notna().to_numpy()
    out["name"] = np.where(is_gn, gn["name"].to_numpy(dtype=object), out["src_name"].to_numpy(dtype=object))
    out["country_iso3"] = np.where(is_gn, gn["country"].map(i3).to_numpy(dtype=object), out["src_iso3"].to_numpy(dtype=object))
    gadm = gn["admin1"].replace("", None).to_numpy(dtype=object)
    out["admin1"] = np.where(is_gn, gadm, out["src_admin1"].to_numpy(dtype=object))
    out["latitude"] = np.where(is_gn, gn["latitude"].to_numpy(dtype=float), pd.to_numeric(out["src_lat"]).to_numpy(dtype=float))
    out["longitude"] = np.where(is_gn, gn["longitude"].to_numpy(dtype=float), pd.to_numeric(out["src_lon"]).to_numpy(dtype=float))
    pid = out["parent"].astype("Int64")
    out["part_of_city_id"] = ("gn" + pid.astype("string")).where(pid.notna())
    out.loc[out["part_of_city_id"] == out["city_id"], "part_of_city_id"] = pd.NA
    out["place_type"] = np.where(is_gn, np.where(out["part_of_city_id"].notna(), "district", "city"),
                                 out["src_type"].fillna("city").to_numpy(dtype=object))

    d1 = d1.reindex(out["city_id"])
    u1 = u1.reindex(out["city_id"])
    gnpop = pd.Series(gn["population"].to_numpy(), index=out.index).where(lambda x: x > 0)
    has_d = d1["population"].notna().to_numpy()
    has_g = is_gn & gnpop.notna().to_numpy()
    has_u = u1["population"].notna().to_numpy()
    out["population"] = np.select([has_d, has_g, has_u],
                                  [d1["population"].to_numpy(dtype=float), gnpop.to_numpy(dtype=float),
                                   u1["population"].to_numpy(dtype=float)], np.nan)
    out["population_year"] = np.where(has_d, d1["population_year"].to_numpy(dtype=float), np.nan)
    out["population_source"] = np.select([has_d, has_g, has_u],
                                         [d1["source_id"].to_numpy(dtype=object), "geonames",
                                          u1["source_id"].to_numpy(dtype=object)], None)
    empty = pd.Series(out["name"]).isna() | pd.Series(out["name"]).eq("")
    out.loc[empty, "name"] = out.loc[empty, "city_id"]  # name is required; never happens with real sources
    out = out[CITY_COLUMNS].sort_values("city_id", ignore_index=True)
    return out.astype({
        "city_id": "string", "name": "string", "country_iso3": "string", "admin1": "string",
        "latitude": float, "longitude": float, "population": "Int64", "population_year": "Int64",
        "population_source": "string", "area_km2": float, "geonames_id": "Int64", "place_type": "string",
        "part_of_city_id": "string", "resolution_method": "string",
    })


# ---- crosswalk / redirects / report ------------------------------------------------------------
def _crosswalk(full: pd.DataFrame) -> pd.DataFrame:
    """One row per (source_id, id_type, identifier, country) -> city_id (the resource's key).

    ``country`` is the country as the source gave it ("" when it gave none). A source spelling
    that the same source uses for two different places (two pledgers "San Juan" told apart by
    their coordinates) gets its distinguishing context appended, "San Juan [37.12,-3.56]", so
    the key stays unique and every row names exactly one place."""
    country = full["country"].fillna("").astype("string")
    base = pd.DataFrame({"source_id": full["source_id"], "country": country, "city_id": full["city_id"],
                         "status": full["status"], "method": full["method"], "score": full["score"]})
    spelling = full["raw_name"].fillna(full["name"]).fillna("").astype("string")
    # spellings one source uses for several places: add admin1 / coordinates as context
    n_ids = full.assign(_s=spelling, _c=country).groupby(["source_id", "_s", "_c"], dropna=False)["city_id"].transform("nunique")
    ctx = full["admin1"].fillna("").astype("string")
    xy = (full["latitude"].round(2).astype("string") + "," + full["longitude"].round(2).astype("string")).fillna("")
    context = (ctx + pd.Series(np.where(ctx.ne("") & xy.ne(""), "; ", ""), index=full.index) + xy)
    spelling = spelling.where(n_ids.le(1) | context.eq(""), spelling + " [" + context + "]")
    parts = [
        base.assign(id_type="source_spelling", identifier=spelling),
        base.assign(id_type=full["code_type"], identifier=full["code"])[full["code"].notna() & full["code_type"].notna()],
        base.assign(id_type="geonames_id", identifier=full["geonames_id"].astype("string"))[full["geonames_id"].notna()],
    ]
    cw = pd.concat(parts, ignore_index=True)
    cw = cw[cw["identifier"].notna() & cw["identifier"].ne("")]
    key = ["source_id", "id_type", "identifier", "country"]
    cw = cw.astype({c: "string" for c in key + ["city_id", "status", "method"]})
    # rows sharing a key name the same place by construction; if not (identical text, different
    # population...), the most frequent city_id wins, ties by city_id
    counts = cw.groupby(key + ["city_id"], sort=False).agg(
        status=("status", "first"), method=("method", "first"), score=("score", "max"),
        mentions=("city_id", "size")).reset_index()
    counts = counts.sort_values(key + ["mentions", "city_id"], ascending=[True] * 4 + [False, True], kind="stable")
    agg = counts.drop_duplicates(key, keep="first")
    total = counts.groupby(key, sort=False)["mentions"].sum()
    agg = agg.set_index(key).assign(mentions=total).reset_index()
    agg = agg.sort_values(key, ignore_index=True)
    agg["mentions"] = agg["mentions"].astype("Int64")
    return agg[CROSSWALK_COLUMNS]


def _redirects(full: pd.DataFrame, live: set) -> pd.DataFrame:
    res = full.loc[full["status"].eq("resolved"), ["provisional_id", "city_id"]].drop_duplicates()
    n = res.groupby("provisional_id")["city_id"].transform("nunique")
    res = res[(n == 1) & ~res["provisional_id"].isin(live)]
    out = res.rename(columns={"provisional_id": "old_city_id"})[["old_city_id", "city_id"]].drop_duplicates()
    out = out.assign(reason="matched_to_geonames")
    return out.sort_values(["old_city_id", "city_id"], ignore_index=True)[REDIRECT_COLUMNS].astype("string")


def _report(full: pd.DataFrame) -> dict:
    rep = {}
    key = ["name", "country", "admin1", "latitude", "longitude", "place_type"]
    for sid, grp in full.groupby("source_id", sort=True):
        n = len(grp)
        nac = grp["method"].eq("not_a_city")
        pct = lambda x: round(100.0 * float(x.sum()) / n, 2) if n else 0.0
        rep[str(sid)] = {
            "mentions": int(n),
            "distinct_mentions": int(len(grp.drop_duplicates(key))),
            "resolved_pct": pct(grp["status"].eq("resolved")),
            "ambiguous_pct": pct(grp["status"].eq("ambiguous")),
            "unresolved_pct": pct(grp["status"].eq("unresolved") & ~nac),
            "not_a_city_pct": pct(nac),
        }
    return rep
