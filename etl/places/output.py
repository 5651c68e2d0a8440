"""The resolver's output stage: from per-mention records (``Out``) to the result frame.

``_qualifier_conflicts`` is the last pass over the records (namesakes told apart only by a
qualifier must not collapse into one place); ``_to_frame`` folds internal kinds into the
package's ``place_type`` vocabulary, assigns provisional ids (``etl.places.ids``) and builds
the columns documented in the ``etl.places.resolver`` docstring.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from etl.places import ids as idmod
from etl.places.candidates import Out, _Ctx
from etl.places.gazetteer import Gazetteer, normalise
from etl.places.parse import designator_type

# internal kinds -> the package's place_type enum (city, district, county, region, port,
# port_district, metro, non_place)
# "metro_area": a metropolitan government that reports as itself (CDP), never its core city,
# unlike a "metro" hint (an ITA metro, read as its first-named principal city)
OUTPUT_TYPE = {"pseudo": "non_place", "association": "region", "country": "region", "metro_area": "metro"}

OUTPUT_COLUMNS = [
    "status", "geonames_id", "matched_name", "method", "score", "country_iso3", "admin1", "qualifier",
    "base_name", "place_type", "parent_geonames_id", "parent_name", "fips", "distance_km", "n_candidates",
    "candidates", "provisional_id", "city_id", "reason",
]


def _qualifier_conflicts(outs: list[Out]) -> None:
    """Namesakes told apart only by a qualifier must not collapse into one place. When mentions
    with different qualifiers reach the same GeoNames place ("Behringen (Stadtilm)", read as the
    Behringen near Stadtilm, and "Behringen (Hörselberg-Hainich)", whose qualifier the resolver
    could not read and ignored), those that ignored their qualifier become ambiguous
    ("qualifier_conflict"): the gazetteer holds one of the namesakes, and it is not theirs.
    A match its mention's coordinates confirmed is kept."""
    by_pos: dict[int, list[int]] = {}
    for i, o in enumerate(outs):
        if o.qkind == "ignored" and "_coords" in o.method:
            continue  # the mention's own coordinates confirmed the place
        if o.status == "resolved" and o.qualifier and o.qkind in ("ignored", "parent", "admin1"):
            by_pos.setdefault(o.pos, []).append(i)
    for pos, idx in by_pos.items():
        if len(idx) < 2 or not any(outs[i].qkind == "ignored" for i in idx):
            continue
        if len({designator_type(normalise(outs[i].qualifier))[1] for i in idx}) < 2:
            continue
        for i in idx:
            o = outs[i]
            if o.qkind == "ignored":
                o.status, o.method, o.pos, o.n, o.cands = "ambiguous", "ambiguous", -1, 1, np.array([pos])
                o.place_type, o.distance = "city", float("nan")
                o.extra["reason"] = "qualifier_conflict"


def _cand_str(g: Gazetteer, pos) -> str | None:
    if pos is None or not len(pos):
        return None
    pos = np.asarray(pos, dtype=np.int64)
    o = np.lexsort((g.gid[pos], -g.pop[pos]))[:5]
    return ";".join(f"gn{int(g.gid[pos[i]])}" for i in o)


def _to_frame(ctx: _Ctx, outs: list[Out], dk: pd.DataFrame) -> pd.DataFrame:
    g = ctx.g
    pos = np.array([o.pos for o in outs], dtype=np.int64)
    ppos = np.array([o.parent_pos for o in outs], dtype=np.int64)
    ok = pos >= 0
    pok = ppos >= 0
    gid = pd.array(np.where(ok, g.gid[np.where(ok, pos, 0)], 0), dtype="Int64")
    gid[~ok] = pd.NA
    pgid = pd.array(np.where(pok, g.gid[np.where(pok, ppos, 0)], 0), dtype="Int64")
    pgid[~pok] = pd.NA
    matched = np.where(ok, g.name[np.where(ok, pos, 0)], None)
    pname = np.where(pok, g.name[np.where(pok, ppos, 0)], None)

    # the package's place_type vocabulary (datapackage.json): internal kinds folded into it, the
    # kind kept in ``reason``
    for o in outs:
        for attr in ("place_type", "prov_type"):
            v = getattr(o, attr)
            if v in OUTPUT_TYPE:
                if attr == "place_type" and not o.extra.get("reason"):
                    o.extra["reason"] = v
                setattr(o, attr, OUTPUT_TYPE[v])
    id_names = [(o.id_base or o.base) + (f" {o.id_qualifier}" if o.id_qualifier else "") for o in outs]
    tuples = [idmod.id_tuple(o.iso3, nm, o.id_admin1, o.id_parent, o.prov_type) for o, nm in zip(outs, id_names)]
    prov = pd.Series([idmod.provisional_id(o.iso3, nm, o.id_admin1, o.id_parent, o.prov_type)
                      for o, nm in zip(outs, id_names)])
    res = pd.DataFrame({
        "status": pd.array([o.status for o in outs], dtype="string"),
        "geonames_id": gid,
        "matched_name": pd.array(matched, dtype="string"),
        "method": pd.array([o.method for o in outs], dtype="string"),
        "score": np.array([o.score for o in outs], dtype=float),
        "country_iso3": pd.array([o.iso3 for o in outs], dtype="string"),
        "admin1": pd.array([o.admin1 or None for o in outs], dtype="string"),
        "qualifier": pd.array([o.qualifier for o in outs], dtype="string"),
        "base_name": pd.array([o.base for o in outs], dtype="string"),
        "place_type": pd.array([o.place_type for o in outs], dtype="string"),
        "parent_geonames_id": pgid,
        "parent_name": pd.array(pname, dtype="string"),
        "fips": pd.array([o.fips for o in outs], dtype="string"),
        "distance_km": np.array([o.distance for o in outs], dtype=float).round(2),
        "n_candidates": np.array([o.n for o in outs], dtype=np.int64),
        "candidates": pd.array([_cand_str(g, o.cands) if o.status != "resolved" else None for o in outs],
                               dtype="string"),
        "provisional_id": prov,
        "id_tuple": tuples,
    })
    res["provisional_id"] = idmod.disambiguate(res).astype("string")
    res = res.drop(columns="id_tuple")
    res["city_id"] = pd.array(
        [f"gn{x}" if s == "resolved" else p for x, s, p in zip(gid.to_numpy(dtype=object, na_value=None), res["status"], res["provisional_id"])],
        dtype="string")
    res["reason"] = pd.array([o.extra.get("reason") if o.status != "resolved" else None for o in outs],
                             dtype="string")
    return res[OUTPUT_COLUMNS]
