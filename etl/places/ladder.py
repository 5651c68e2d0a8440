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
* still nothing, and the mention has its own coordinates: a place within ``NEAR_KM`` whose name
  is close (``NEAR_MIN``) or extends / shortens the mention's by whole words (``_near``);
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

import re

import numpy as np
import pandas as pd

from etl.places.countries import iso3_to_iso2
from etl.places.distance import haversine_km, limits

LADDER_KM = 30.0     # mention coordinates vs an authority place
PARENT_KM = 50.0     # a district vs its parent city's point (as the resolver's PARENT_RADIUS_KM)
CLUSTER_KM = 10.0    # same-name candidates this close, without coordinates to choose: one place
NEAR_KM = 8.0        # a close name (no exact one) accepted this near the mention's own coordinates
NEAR_MIN = 90.0      # ... at this rapidfuzz ratio (or as a whole-word extension, see _near)
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


def _parent_point(resolved: pd.DataFrame, gazetteer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The point and admin1 code of each row's parent city (NaN / "" without one)."""
    pg = resolved["parent_geonames_id"].astype("Int64").fillna(-1).to_numpy(dtype=np.int64)
    lat, lon = np.full(len(pg), np.nan), np.full(len(pg), np.nan)
    a1 = np.full(len(pg), "", dtype=object)
    if gazetteer is not None and len(gazetteer.gid):
        at = np.clip(np.searchsorted(gazetteer.gid, pg), 0, len(gazetteer.gid) - 1)
        found = (gazetteer.gid[at] == pg) & (pg >= 0)
        lat[found], lon[found] = gazetteer.lat[at[found]], gazetteer.lon[at[found]]
        a1[found] = gazetteer.admin1[at[found]]
    return lat, lon, a1


def extend(keys: pd.DataFrame, resolved: pd.DataFrame, gazetteer=None, table=None, raw_paths: dict | None = None
           ) -> pd.DataFrame:
    """``resolved`` (the resolver's frame on ``keys``' index) with the ladder applied (see module doc).
    ``table``: the authority table (default: ``load_authorities(raw_paths)``)."""
    from etl.places.gazetteer import designator_key_many, load_gazetteer, normalise_many
    gazetteer = load_gazetteer() if gazetteer is None else gazetteer
    out = _base(resolved, gazetteer)
    if table is None:
        from etl.places.authorities import load_authorities
        table = load_authorities(raw_paths)
    todo = (out["status"].eq("unresolved") & out["method"].ne("not_a_city")
            & out["place_type"].isin(PLACE_TYPES)).to_numpy(dtype=bool, na_value=False)
    if table is None or not todo.any():
        return out
    idx = np.flatnonzero(todo)
    sub = out.iloc[idx]
    i2 = iso3_to_iso2()
    cc = sub["country_iso3"].astype(object).map(lambda c: i2.get(c) if isinstance(c, str) else None).to_numpy(dtype=object)
    k1 = np.asarray(normalise_many(sub["base_name"].fillna("").astype(str).to_numpy(dtype=object)), dtype=object)
    k2 = np.asarray(designator_key_many(k1), dtype=object)
    lat = keys["latitude"].to_numpy(dtype=float, na_value=np.nan)[idx] if "latitude" in keys else np.full(len(idx), np.nan)
    lon = keys["longitude"].to_numpy(dtype=float, na_value=np.nan)[idx] if "longitude" in keys else np.full(len(idx), np.nan)
    radius = np.full(len(idx), LADDER_KM)
    if "source_id" in keys:
        lim = limits(keys["source_id"].iloc[idx])
        radius = np.where(np.isnan(lim), radius, np.minimum(radius, lim))
    plat, plon, pa1 = _parent_point(sub, gazetteer)
    has_parent = ~np.isnan(plat)
    # a district named like its city ("Bonn – Bonn") is not a place of its own to look up
    pkey = squash(normalise_many(sub["parent_name"].fillna("").astype(str).to_numpy(dtype=object)))
    k1 = np.where(has_parent & (squash(k1) == pkey), "", k1)
    k2 = np.where(k1 == "", "", k2)
    use_parent = np.isnan(lat) & has_parent
    lat, lon = np.where(use_parent, plat, lat), np.where(use_parent, plon, lon)
    radius = np.where(use_parent, PARENT_KM, radius)
    m = pd.DataFrame({"i": np.r_[np.arange(len(idx)), np.arange(len(idx))], "cc": np.r_[cc, cc],
                      "key": np.r_[squash(k1), squash(k2)], "own": np.r_[np.ones(len(idx), bool), k1 == k2]})
    m = m[m["cc"].notna() & m["key"].ne("")].drop_duplicates(["i", "key"])
    c = m.merge(_rows_for(table, m["key"].unique()), on=["cc", "key"], how="inner")
    done = np.zeros(len(idx), dtype=bool)
    if not c.empty:
        xa1 = _region_at(gazetteer, lat, lon, cc)
        done = _exact(out, idx, c, sub, lat, lon, radius, use_parent, pa1, xa1)
    # with the mention's own coordinates: a near place of a close name (see NEAR_KM)
    own = ~np.isnan(lat) & ~use_parent & ~done & np.array([isinstance(x, str) for x in cc])
    if own.any():
        _near(out, idx[own], table, cc[own], squash(k1[own]), lat[own], lon[own])
    if gazetteer is not None:
        _prefer_gazetteer(out, idx, cc, k1, gazetteer)
    return out


def _region_at(g, lat, lon, cc) -> np.ndarray:
    """The admin1 code of the nearest cities500 place within ``LADDER_KM`` of each point ("" if
    none): the region a mention's coordinates lie in, checked against a division's (which has no
    coordinates of its own: "Bellavista" at Callao is not the Bellavista province of San Martín)."""
    out = np.full(len(lat), "", dtype=object)
    for j in np.flatnonzero(~np.isnan(lat)):
        pos, d = g.near(float(lat[j]), float(lon[j]), LADDER_KM, cc[j] if isinstance(cc[j], str) else None)
        if len(pos):
            out[j] = g.admin1[pos[int(np.argmin(d))]] or ""
    return out


def _prefer_gazetteer(out, idx, cc, k1, g) -> None:
    """A Census place or postal locality with a cities500 namesake within ``CLUSTER_KM`` of its
    point IS that GeoNames place (the resolver missed it because the source's coordinates or
    region were off): the place keeps its GeoNames id, not a second id (method suffix "_gazetteer")."""
    col = out.columns.get_loc
    auth = out["authority"].iloc[idx].isin(["postal", "census_place"]).to_numpy(dtype=bool, na_value=False)
    for j in np.flatnonzero(auth):
        r = idx[j]
        if not isinstance(cc[j], str) or not k1[j]:
            continue
        pos, rank = g.lookup(cc[j], k1[j])
        pos = np.asarray(pos)
        if not len(pos):
            continue
        mlat, mlon = out.iat[r, col("match_latitude")], out.iat[r, col("match_longitude")]
        d = haversine_km(np.full(len(pos), mlat), np.full(len(pos), mlon), g.lat[pos], g.lon[pos])
        if not (d <= CLUSTER_KM).any():
            continue
        p = pos[int(np.nanargmin(d))]
        out.iat[r, col("city_id")] = f"gn{int(g.gid[p])}"
        out.iat[r, col("geonames_id")] = int(g.gid[p])
        out.iat[r, col("matched_name")] = g.name[p]
        out.iat[r, col("method")] = out.iat[r, col("method")] + "_gazetteer"
        out.iat[r, col("authority")], out.iat[r, col("authority_id")] = "geonames_cities500", str(int(g.gid[p]))
        out.iat[r, col("census_geoid")] = None
        out.iat[r, col("admin1")] = g.admin1[p] or out.iat[r, col("admin1")]
        out.iat[r, col("match_latitude")], out.iat[r, col("match_longitude")] = float(g.lat[p]), float(g.lon[p])


def _exact(out, idx, c, sub, lat, lon, radius, use_parent, pa1, xa1) -> np.ndarray:
    """The exact-key candidates ``c`` -> resolved or ambiguous rows of ``out``; which of ``idx`` were decided."""
    i = c["i"].to_numpy()
    c["score"] = np.where(c["own"].to_numpy() & ~c["stripped"].to_numpy(dtype=bool), 100.0, 97.0)
    c["km"] = haversine_km(lat[i], lon[i], c["latitude"].to_numpy(dtype=float), c["longitude"].to_numpy(dtype=float))
    has_xy = ~np.isnan(lat[i])
    hint = sub["admin1"].fillna("").to_numpy(dtype=object)
    hint = np.where(pa1 != "", pa1, np.where(xa1 != "", xa1, hint))[i]  # a district lies in its parent's region
    # a division (no coordinates) for a mention that has a city namesake it was too far from
    # ("Ciudad de Santa Fe" with Rosario's coordinates) is not the mention's place: it is a city
    city_namesake = sub["reason"].isin(["coords_mismatch", "admin1_mismatch"]).to_numpy(dtype=bool, na_value=False)[i]
    division = c["authority"].isin(["geonames_admin1", "geonames_admin2"]).to_numpy(dtype=bool, na_value=False)

    ca1 = c["admin1"].fillna("").to_numpy(dtype=object)
    hint_ok = (hint == "") | (ca1 == "") | (ca1 == hint)
    hint_ok &= ~(division & city_namesake)
    near = np.isnan(c["km"].to_numpy()) | (c["km"].to_numpy() <= radius[i])
    keep = np.where(has_xy & c["latitude"].notna().to_numpy(), near, hint_ok)
    c = c[keep]
    decided = np.zeros(len(idx), dtype=bool)
    if c.empty:
        return decided
    # best rank, then best score, per mention; one row per place. A mention that names its kind
    # ("Gladsaxe Kommune") is the division that carries it too, before the town of that name.
    named = ~c["own"].to_numpy(dtype=bool) & c["stripped"].to_numpy(dtype=bool) & c["authority"].isin(
        ["geonames_admin2", "geonames_admin1", "geonames_dump"]).to_numpy(dtype=bool, na_value=False)
    c = c.assign(rank=np.where(named, -1, c["rank"].to_numpy()))
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
    decided[fi] = True
    by_xy = ~np.isnan(lat[fi]) & first["latitude"].notna().to_numpy()
    ok = (n == 1) | by_xy | ~far
    sfx = np.where(by_xy & ~use_parent[fi], "_coords", np.where(by_xy, "_parent", ""))
    _set(out, idx[fi][ok], first[ok], sfx[ok], n[ok])
    amb = idx[fi][~ok]
    if len(amb):
        col = out.columns.get_loc
        top = c[c["i"].isin(fi[~ok])].groupby("i").head(5)
        cands = top.groupby("i")["city_id"].agg(";".join)
        out.iloc[amb, col("status")] = "ambiguous"
        out.iloc[amb, col("method")] = "ambiguous"
        out.iloc[amb, col("reason")] = "authority_ambiguous"
        out.iloc[amb, col("n_candidates")] = n[~ok]
        out.iloc[amb, col("candidates")] = cands.reindex(fi[~ok]).to_numpy(dtype=object)
    return decided


def _near(out, rows, table, cc, keys, lat, lon) -> None:
    """Mentions with coordinates and no exact match: the authority places within ``NEAR_KM`` whose
    key is within ``NEAR_MIN`` (rapidfuzz ratio, spaces removed: "Herrara" / "Herrera") or that
    extend or shorten the mention's key by whole words at either end, the shorter key of 5+
    letters ("Pinell de Brai" / "El Pinell de Brai", "Puegnago" / "Puegnago del Garda"); the best
    score, then the nearest, wins (method suffix "_near")."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from rapidfuzz import fuzz
    from etl.places.authorities import cell
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    c0 = cell(lat, lon)
    offsets = np.array([dy * 4000 + dx for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    m = pd.DataFrame({"j": np.repeat(np.arange(len(rows)), 9), "cc": np.repeat(cc, 9),
                      "cell": (c0[:, None] + offsets[None, :]).ravel()})
    sub = table.filter(pc.is_in(table["cell"], value_set=pa.array(np.unique(m["cell"]))))
    cand = sub.to_pandas(types_mapper={pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype()}.get)
    c = m.merge(cand, on=["cc", "cell"], how="inner")
    if c.empty:
        return
    j = c["j"].to_numpy()
    c["km"] = haversine_km(lat[j], lon[j], c["latitude"].to_numpy(dtype=float), c["longitude"].to_numpy(dtype=float))
    c = c[c["km"] <= NEAR_KM]
    mk, ck = keys[c["j"].to_numpy()], c["key"].to_numpy(dtype=object)
    ratio = np.array([fuzz.ratio(a, b) for a, b in zip(mk, ck)], dtype=float)
    raw = np.asarray(out["base_name"].iloc[rows].fillna("").to_numpy(dtype=object))[c["j"].to_numpy()]
    words = np.array([_word_extension(a, b) for a, b in zip(raw, c["name"].fillna("").to_numpy(dtype=object))])
    c = c.assign(score=np.where(ratio >= NEAR_MIN, ratio, np.where(words, 90.0, 0.0)))
    c = c[c["score"] > 0].sort_values(["j", "score", "rank", "km"], ascending=[True, False, True, True])
    first = c.drop_duplicates("j")
    n = c.groupby("j").size().reindex(first["j"]).to_numpy()
    _set(out, rows[first["j"].to_numpy()], first, np.full(len(first), "_near"), n)


_FILLER = frozenset({"el", "la", "l", "les", "los", "las", "lo", "il", "o", "a", "de", "del", "d", "villa", "lb"})


def _word_extension(mention: str, name: str) -> bool:
    """The same place written with or without an article or a filler word at either end
    ("Albages" / "Albages, L'", "La Villa de Garafia" / "Garafia", "LB Waltham Forest"), or one
    of the names a mention gives as alternatives ("Villava/Atarrabia", "Belascoain <> Beraskoain").
    Any other extra word is another place ("Pont-à-Celles" is not Celles)."""
    from etl.places.gazetteer import normalise
    b = normalise(name).split()
    for part in re.split(r"/|<>", mention):
        a = normalise(part).split()
        if not a or not b:
            continue
        if a == b and part != mention:
            return True
        short, long_ = (a, b) if len(a) < len(b) else (b, a)
        if len("".join(short)) < 4 or len(short) == len(long_):
            continue
        k = len(short)
        extra = long_[k:] if long_[:k] == short else long_[:-k] if long_[-k:] == short else None
        if extra is not None and set(extra) <= _FILLER:
            return True
    return False


def _set(out, rows, f, sfx, n) -> None:
    """Write the chosen authority place ``f`` (one row per mention) into ``out`` at ``rows``."""
    col = out.columns.get_loc
    out.iloc[rows, col("status")] = "resolved"
    out.iloc[rows, col("city_id")] = f["city_id"].to_numpy(dtype=object)
    out.iloc[rows, col("geonames_id")] = f["geonames_id"].to_numpy(dtype=object)
    out.iloc[rows, col("matched_name")] = f["name"].to_numpy(dtype=object)
    out.iloc[rows, col("method")] = ("authority_" + pd.Series(f["authority"].to_numpy(dtype=object))
                                     + pd.Series(np.asarray(sfx, dtype=object))).to_numpy(dtype=object)
    out.iloc[rows, col("score")] = f["score"].to_numpy(dtype=float)
    out.iloc[rows, col("distance_km")] = f["km"].round(2).to_numpy(dtype=float)
    out.iloc[rows, col("n_candidates")] = n
    out.iloc[rows, col("reason")] = None
    a1 = f["admin1"].to_numpy(dtype=object)
    out.iloc[rows, col("admin1")] = np.where(pd.isna(a1), out["admin1"].to_numpy(dtype=object)[rows], a1)
    for name, src in (("authority", "authority"), ("authority_id", "authority_id"), ("census_geoid", "census_geoid")):
        out.iloc[rows, col(name)] = f[src].to_numpy(dtype=object)
    out.iloc[rows, col("match_latitude")] = f["latitude"].to_numpy(dtype=float)
    out.iloc[rows, col("match_longitude")] = f["longitude"].to_numpy(dtype=float)
