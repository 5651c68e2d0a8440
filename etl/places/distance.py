"""A distance rule for sources that give coordinates with each place: a GeoNames match farther
than the source's limit from the source's own point is not that place.

Why a limit per source: names repeat (there are many "Frankfurt", "Newport", "San Juan"), and
the resolver may pick a namesake when the source's country or qualifier does not tell them apart.
A source that states where its place is (Wikidata's coordinates, 2017) settles it.

``wikidata_twins_2017``: 25 km. Wikidata and GeoNames both place a city at its centre; the two
points differ by the size of the municipality (Rome, the largest EU municipality by area, spans
about 1,300 km², some 20 km from centre to edge) and by a few km of editing noise, while a
namesake in another region of the same country is almost always farther (and often hundreds of
km). A tighter limit would reject large municipalities placed at their town hall in one source
and their centroid in the other; a looser one would accept neighbouring namesakes.

Applied by ``etl.steps.places`` right after resolution (``too_far`` / ``apply_limits``), outside
the resolver so that it holds whatever picks the candidate; and to provisional places too
(``split_provisional``): an id made from name and country merges namesakes the gazetteer lacks
(two Wikidata "Trougoumbé" in Mali, 97 km apart, were both ``x-mli-trougoumbe``), so a mention
farther than its limit from the place's point gets an id of its own.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
LIMIT_KM = {"wikidata_twins_2017": 25.0}
METHOD = "too_far"


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km, element-wise (NaN where a coordinate is missing)."""
    p1, p2 = np.radians(np.asarray(lat1, dtype=float)), np.radians(np.asarray(lat2, dtype=float))
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def nearest_country(lat, lon, gazetteer, radius_km: float = 25.0) -> np.ndarray:
    """Per point, the ISO2 country of the nearest gazetteer place within ``radius_km`` ("" when
    none or no coordinates): where a point is, told by the places around it (no borders needed)."""
    out = np.full(len(lat), "", dtype=object)
    for i, (a, b) in enumerate(zip(np.asarray(lat, dtype=float), np.asarray(lon, dtype=float))):
        if not (np.isnan(a) or np.isnan(b)):
            pos, _ = gazetteer.near(a, b, radius_km)
            out[i] = gazetteer.cc[pos[0]] if len(pos) else ""
    return out


def limits(source_ids: pd.Series) -> np.ndarray:
    """Per mention, its source's limit in km (NaN: the source has none)."""
    return pd.Series(source_ids).astype(object).map(LIMIT_KM).to_numpy(dtype=float, na_value=np.nan)


def too_far(keys: pd.DataFrame, resolved: pd.DataFrame, match_lat: np.ndarray, match_lon: np.ndarray) -> np.ndarray:
    """Mentions resolved to a GeoNames place farther than their source's limit from the mention's
    own coordinates (``keys``: source_id, latitude, longitude; ``match_*``: the match's point)."""
    limit = limits(keys["source_id"])
    km = haversine_km(keys["latitude"].to_numpy(dtype=float, na_value=np.nan),
                      keys["longitude"].to_numpy(dtype=float, na_value=np.nan), match_lat, match_lon)
    resolved_now = resolved["status"].eq("resolved").to_numpy(dtype=bool, na_value=False)
    return resolved_now & ~np.isnan(limit) & ~np.isnan(km) & (km > limit)


def apply_limits(keys: pd.DataFrame, resolved: pd.DataFrame, gazetteer) -> tuple[pd.DataFrame, int]:
    """``resolved`` with the too-far matches downgraded: status "unresolved", method "too_far",
    no GeoNames id, the provisional id as city_id. Returns (frame, how many keys were downgraded)."""
    gid = resolved["geonames_id"].astype("Int64").to_numpy(dtype=float, na_value=np.nan)
    lat, lon = np.full(len(gid), np.nan), np.full(len(gid), np.nan)
    if len(gazetteer.gid):  # positions are ordered by geonames id
        want = np.nan_to_num(gid, nan=-1).astype(np.int64)
        at = np.clip(np.searchsorted(gazetteer.gid, want), 0, len(gazetteer.gid) - 1)
        found = gazetteer.gid[at] == want
        lat[found], lon[found] = gazetteer.lat[at[found]], gazetteer.lon[at[found]]
    far = too_far(keys, resolved, lat, lon)
    if not far.any():
        return resolved, 0
    out = resolved.copy()
    out.loc[far, "status"] = "unresolved"
    out.loc[far, "method"] = METHOD
    out.loc[far, "geonames_id"] = pd.NA
    for c in ("parent_geonames_id", "parent_name", "matched_name"):
        if c in out.columns:
            out.loc[far, c] = pd.NA
    out.loc[far, "city_id"] = out.loc[far, "provisional_id"]
    return out, int(far.sum())


def _point_tag(lat: float, lon: float) -> str:
    """An id suffix from a point, to 0.1 degree ("14p6n-61p0w"): points more than 25 km apart never
    share one, and the same point gives the same id in every build."""
    return (f"{abs(lat):.1f}{'n' if lat >= 0 else 's'}-{abs(lon):.1f}{'e' if lon >= 0 else 'w'}").replace(".", "p")


def split_provisional(keys: pd.DataFrame, resolved: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``resolved`` with provisional places split where their mentions' points disagree.

    A provisional place's point is its first mention's (in mention order, ``keys["first"]``; the
    point ``cities`` publishes). A mention of a source with a limit that lies farther than the
    limit from it is another place: it joins the first split-off place within its limit, or
    starts one, with the id ``<provisional id>-<point tag>`` (``_point_tag`` of that place's
    first point). Mentions without a point or a limit stay on the place, and so do counties and
    regions (``place_type``), whose sources may place them anywhere in their extent. Returns
    (frame, how many keys moved)."""
    prov = ~resolved["status"].eq("resolved").to_numpy(dtype=bool, na_value=False)
    if "place_type" in resolved.columns:  # a county or region spans more than a city's limit
        prov &= resolved["place_type"].fillna("city").eq("city").to_numpy(dtype=bool)
    lat = keys["latitude"].to_numpy(dtype=float, na_value=np.nan)
    lon = keys["longitude"].to_numpy(dtype=float, na_value=np.nan)
    rows = np.flatnonzero(prov & ~np.isnan(lat) & ~np.isnan(lon))
    if not len(rows):
        return resolved, 0
    cid = resolved["city_id"].astype(object).to_numpy(dtype=object)
    first = keys["first"].to_numpy() if "first" in keys.columns else np.arange(len(keys))
    rows = rows[np.lexsort((first[rows], pd.factorize(cid[rows])[0]))]  # by place, then mention order
    start = np.r_[True, cid[rows][1:] != cid[rows][:-1]]
    rep = rows[start][np.cumsum(start) - 1]
    limit = limits(keys["source_id"])
    far = haversine_km(lat[rows], lon[rows], lat[rep], lon[rep]) > limit[rows]  # NaN limit: never far
    if not far.any():
        return resolved, 0
    new_id = {}
    for place in pd.unique(cid[rows[far]]):
        group = rows[cid[rows] == place]
        points = [(lat[group[0]], lon[group[0]], place)]
        for r in group[1:]:
            if np.isnan(limit[r]):
                continue
            near = [p for la, lo, p in points if haversine_km(lat[r], lon[r], la, lo) <= limit[r]]
            if not near:
                points.append((lat[r], lon[r], f"{place}-{_point_tag(lat[r], lon[r])}"))
                near = [points[-1][2]]
            if near[0] != place:
                new_id[r] = near[0]
    out = resolved.copy()
    at, ids = np.fromiter(new_id, dtype=np.int64), list(new_id.values())
    for c in ("city_id", "provisional_id"):
        out[c] = out[c].astype("string")
        out.iloc[at, out.columns.get_loc(c)] = ids
    return out, len(new_id)
