"""The authority ladder: mentions cities500 left unresolved -> the next authority that has them.

``extend(keys, resolved)`` runs after ``etl.places.resolver.resolve`` (and the source distance
limits) and only on its **unresolved** place mentions (not ambiguous ones, not "not a city"):
one vectorised merge on (ISO2, name key) against the authority table of
``etl.places.authorities``, with the name key of the mention's base name (qualifier removed),
also without its designator ("Gladsaxe Kommune" -> "gladsaxe"; score 97 instead of 100). Keys
are compared with spaces removed ("Sweetgrass" is the Census' "Sweet Grass").

Filters, then the best authority (GeoNames dump > GeoNames admin2 > admin1 > Census place >
postal locality) and within it the best score:

* the mention's coordinates (or, for a district of a resolved parent, the parent's): a candidate
  with coordinates must lie within ``LADDER_KM`` (``PARENT_KM`` of the parent; never beyond the
  source's own limit, ``etl.places.distance``); the nearest wins (method suffix "_coords");
* an admin1 hint (a code: "MT" for a BTS port in Montana) is hard when the mention has no
  coordinates, and for divisions (which have none): "Sweet Grass, MT" is never Alberta's;
* no coordinates and several candidates left: one place when all lie within ``CLUSTER_KM``
  (the largest, then the first id, wins), else **ambiguous** (reason "authority_ambiguous"),
  never a guess.

A match sets ``city_id`` to the authority's id (``gn<id>`` for GeoNames, ``cb<GEOID>`` for a
Census place, ``pc-<cc>-<postcode>-<slug>`` for a postal locality), status "resolved", method
``authority_<name>[_coords]``; the provisional id stays in ``provisional_id`` (the redirect).
Every row also gets ``authority``, ``authority_id``, ``census_geoid`` and the coordinates of the
match (``match_latitude``/``match_longitude``; GeoNames' for cities500 matches).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from etl.places.countries import iso3_to_iso2
from etl.places.distance import haversine_km, limits

LADDER_KM = 30.0     # mention coordinates vs an authority place
PARENT_KM = 50.0     # a district vs its parent city's point (as the resolver's PARENT_RADIUS_KM)
CLUSTER_KM = 10.0    # same-name candidates this close, without coordinates to choose: one place
PLACE_TYPES = ("city", "district", "port")
EXTRA = ["authority", "authority_id", "census_geoid", "match_latitude", "match_longitude"]


def squash(keys) -> np.ndarray:
    return pd.Series(keys, dtype="string").str.replace(" ", "", regex=False).to_numpy(dtype=object)


def _rows_for(table, keys) -> pd.DataFrame:
    """The table's rows with these keys: filtered in Arrow, so only they become pandas objects."""
    import pyarrow as pa
    import pyarrow.compute as pc
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    sub = table.filter(pc.is_in(table["key"], value_set=pa.array(list(keys), type=pa.string())))
    return sub.to_pandas(types_mapper={pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype()}.get)


def _base(resolved: pd.DataFrame, gazetteer) -> pd.DataFrame:
    """The extra columns for what the resolver decided: cities500 matches are GeoNames'."""
    out = resolved.copy()
    gid = out["geonames_id"].astype("Int64")
    hit = gid.notna().to_numpy()
    out["authority"] = pd.array(np.where(hit, "geonames_cities500", None), dtype="string")
    out["authority_id"] = gid.astype("string")
    out["census_geoid"] = pd.array([None] * len(out), dtype="string")
    lat, lon = np.full(len(out), np.nan), np.full(len(out), np.nan)
    if gazetteer is not None and len(gazetteer.gid) and hit.any():
        want = gid.fillna(-1).to_numpy(dtype=np.int64)
        at = np.clip(np.searchsorted(gazetteer.gid, want), 0, len(gazetteer.gid) - 1)
        found = gazetteer.gid[at] == want
        lat[found], lon[found] = gazetteer.lat[at[found]], gazetteer.lon[at[found]]
    out["match_latitude"], out["match_longitude"] = lat, lon
    return out


def _parent_point(resolved: pd.DataFrame, gazetteer) -> tuple[np.ndarray, np.ndarray]:
    pg = resolved["parent_geonames_id"].astype("Int64").fillna(-1).to_numpy(dtype=np.int64)
    lat, lon = np.full(len(pg), np.nan), np.full(len(pg), np.nan)
    if gazetteer is not None and len(gazetteer.gid):
        at = np.clip(np.searchsorted(gazetteer.gid, pg), 0, len(gazetteer.gid) - 1)
        found = (gazetteer.gid[at] == pg) & (pg >= 0)
        lat[found], lon[found] = gazetteer.lat[at[found]], gazetteer.lon[at[found]]
    return lat, lon


def extend(keys: pd.DataFrame, resolved: pd.DataFrame, gazetteer=None, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """``resolved`` (the resolver's frame on ``keys``' index) with the ladder applied (see module doc)."""
    from etl.places.gazetteer import designator_key_many, normalise_many
    out = _base(resolved, gazetteer)
    if table is None:
        from etl.places.authorities import load_authorities
        table = load_authorities()
    todo = (out["status"].eq("unresolved") & out["method"].ne("not_a_city")
            & out["place_type"].isin(PLACE_TYPES)).to_numpy(dtype=bool, na_value=False)
    if table is None or not todo.any():
        return out
    idx = np.flatnonzero(todo)
    sub = out.iloc[idx]
    i2 = iso3_to_iso2()
    cc = sub["country_iso3"].astype(object).map(lambda c: i2.get(c) if isinstance(c, str) else None)
    k1 = np.asarray(normalise_many(sub["base_name"].fillna("").astype(str).to_numpy(dtype=object)), dtype=object)
    k2 = np.asarray(designator_key_many(k1), dtype=object)
    lat = keys["latitude"].to_numpy(dtype=float, na_value=np.nan)[idx] if "latitude" in keys else np.full(len(idx), np.nan)
    lon = keys["longitude"].to_numpy(dtype=float, na_value=np.nan)[idx] if "longitude" in keys else np.full(len(idx), np.nan)
    radius = np.full(len(idx), LADDER_KM)
    if "source_id" in keys:
        lim = limits(keys["source_id"].iloc[idx])
        radius = np.where(np.isnan(lim), radius, np.minimum(radius, lim))
    plat, plon = _parent_point(sub, gazetteer)
    use_parent = np.isnan(lat) & ~np.isnan(plat)
    lat, lon = np.where(use_parent, plat, lat), np.where(use_parent, plon, lon)
    radius = np.where(use_parent, PARENT_KM, radius)
    m = pd.DataFrame({"i": np.r_[np.arange(len(idx)), np.arange(len(idx))], "cc": np.r_[cc, cc],
                      "key": np.r_[squash(k1), squash(k2)], "own": np.r_[np.ones(len(idx), bool), k1 == k2]})
    m = m[m["cc"].notna() & m["key"].ne("")].drop_duplicates(["i", "key"])
    c = m.merge(_rows_for(table, m["key"].unique()), on=["cc", "key"], how="inner")
    if c.empty:
        return out
    i = c["i"].to_numpy()
    c["score"] = np.where(c["own"].to_numpy() & ~c["stripped"].to_numpy(dtype=bool), 100.0, 97.0)
    c["km"] = haversine_km(lat[i], lon[i], c["latitude"].to_numpy(dtype=float), c["longitude"].to_numpy(dtype=float))
    has_xy = ~np.isnan(lat[i])
    hint = sub["admin1"].fillna("").to_numpy(dtype=object)[i]
    ca1 = c["admin1"].fillna("").to_numpy(dtype=object)
    hint_ok = (hint == "") | (ca1 == "") | (ca1 == hint)
    near = np.isnan(c["km"].to_numpy()) | (c["km"].to_numpy() <= radius[i])
    keep = np.where(has_xy & c["latitude"].notna().to_numpy(), near, hint_ok)
    c = c[keep]
    # best rank, then best score, per mention; one row per place
    c = c.sort_values(["i", "rank", "score", "km", "population", "authority_id"],
                      ascending=[True, True, False, True, False, True], na_position="last")
    best = c.groupby("i")[["rank", "score"]].transform("first")
    c = c[(c["rank"] == best["rank"]) & (c["score"] == best["score"])].drop_duplicates(["i", "city_id"])
    first = c.drop_duplicates("i")
    n = c.groupby("i").size().reindex(first["i"]).to_numpy()
    # several places and no coordinates to choose by: one place only when all lie close together
    lat0 = first.set_index("i")["latitude"].reindex(c["i"]).to_numpy(dtype=float)
    lon0 = first.set_index("i")["longitude"].reindex(c["i"]).to_numpy(dtype=float)
    d = haversine_km(c["latitude"].to_numpy(dtype=float), c["longitude"].to_numpy(dtype=float), lat0, lon0)
    far_row = np.isnan(d) | (d > CLUSTER_KM)
    far = pd.Series(far_row).groupby(c["i"].to_numpy()).any().reindex(first["i"]).to_numpy()
    fi = first["i"].to_numpy()
    by_xy = ~np.isnan(lat[fi]) & first["latitude"].notna().to_numpy()
    ok = (n == 1) | by_xy | ~far
    rows = idx[fi]
    col = out.columns.get_loc
    auth = first["authority"].to_numpy(dtype=object)
    sfx = np.where(by_xy & ~use_parent[fi], "_coords", np.where(by_xy, "_parent", ""))
    r_ok, f_ok = rows[ok], first[ok]
    out.iloc[r_ok, col("status")] = "resolved"
    out.iloc[r_ok, col("city_id")] = f_ok["city_id"].to_numpy(dtype=object)
    out.iloc[r_ok, col("geonames_id")] = f_ok["geonames_id"].to_numpy(dtype=object)
    out.iloc[r_ok, col("matched_name")] = f_ok["name"].to_numpy(dtype=object)
    out.iloc[r_ok, col("method")] = ("authority_" + pd.Series(auth[ok]) + pd.Series(sfx[ok])).to_numpy(dtype=object)
    out.iloc[r_ok, col("score")] = f_ok["score"].to_numpy(dtype=float)
    out.iloc[r_ok, col("distance_km")] = f_ok["km"].round(2).to_numpy(dtype=float)
    out.iloc[r_ok, col("n_candidates")] = n[ok]
    out.iloc[r_ok, col("reason")] = None
    a1 = f_ok["admin1"].to_numpy(dtype=object)
    keep_a1 = out["admin1"].to_numpy(dtype=object)[r_ok]
    out.iloc[r_ok, col("admin1")] = np.where(pd.isna(a1), keep_a1, a1)
    for name, src in (("authority", "authority"), ("authority_id", "authority_id"), ("census_geoid", "census_geoid"),
                      ("match_latitude", "latitude"), ("match_longitude", "longitude")):
        out.iloc[r_ok, col(name)] = f_ok[src].to_numpy(dtype=object if name not in ("match_latitude", "match_longitude") else float)
    amb = rows[~ok]
    if len(amb):
        top = c[c["i"].isin(fi[~ok])].groupby("i").head(5)
        cands = top.groupby("i")["city_id"].agg(";".join)
        out.iloc[amb, col("status")] = "ambiguous"
        out.iloc[amb, col("method")] = "ambiguous"
        out.iloc[amb, col("reason")] = "authority_ambiguous"
        out.iloc[amb, col("n_candidates")] = n[~ok]
        out.iloc[amb, col("candidates")] = cands.reindex(fi[~ok]).to_numpy(dtype=object)
    return out
