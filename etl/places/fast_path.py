"""The resolver's vectorised fast path (rule 0 of ``etl.places.resolver``).

Most mentions are a plain name that is the primary name of exactly one place in the country;
``_fast`` resolves those in one vectorised pass before the per-mention rules. It is an
optimisation only: it must give what ``_resolve_one`` gives for the same mentions (tested with
``resolve(..., fast=False)``), and every other mention takes the full path.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from etl.places.admin1 import US_TERRITORIES, admin1_code
from etl.places.candidates import BIG_POP, COARSE_KM, RADIUS_BIG_KM, RADIUS_KM, TIER_SCORE, Out, _Ctx
from etl.places.gazetteer import _SEP, designator_key_many, haversine_km

_NOT_SIMPLE = re.compile(r"[,()\[\]–—/]|\s-\s|\s-|-\s|^\s|\s$|\s\s|[\u00a0\ufffd\"]")
_FAST_TYPES = {None, "", "city", "port", "metro"}


def _fast(ctx: _Ctx, names: list, iso3_l: list, a1_l: list, cad_l: list, creg_l: list, types: list,
          lats: np.ndarray, lons: np.ndarray) -> list:
    """The common case without the per-mention machinery: a plain name (no qualifier, no
    designator) whose normalised form is the primary name of exactly one place in the country
    (in the hinted admin1; within reach of the coordinates). Gives exactly what ``_resolve_one``
    gives for such mentions (tested); every other mention returns None and takes the full path.
    Vectorised: names are normalised and looked up in one go; only the admin1 hints (per distinct
    hint) and the candidate counts of hinted mentions are computed per item."""
    import pyarrow.compute as pc

    from etl.places.gazetteer import normalise_arrow
    from etl.places.parse import _ANY_DESIGNATOR

    g = ctx.g
    n = len(names)
    out: list = [None] * n
    nm = pd.Series(names, dtype=object)
    ty = pd.Series(types, dtype=object).fillna("")
    i2 = pd.Series(iso3_l, dtype=object).map(ctx.i2)
    nm_s = nm.fillna("")
    elig = nm_s.ne("") & i2.notna() & ty.isin([t or "" for t in _FAST_TYPES])
    elig &= ~nm_s.str.contains(_NOT_SIMPLE)
    idx = np.flatnonzero(elig.to_numpy())
    if not len(idx):
        return out
    norm_a = normalise_arrow([names[i] for i in idx])
    ok = pc.and_(pc.not_equal(norm_a, ""),
                 pc.invert(pc.match_substring_regex(norm_a, _ANY_DESIGNATOR.pattern))).to_numpy(zero_copy_only=False)
    idx, norms = idx[ok], norm_a.to_numpy(zero_copy_only=False).astype(object)[ok]
    cc = i2.to_numpy(dtype=object)[idx]
    # admin1 hint: the admin1 column (soft: coordinates may overrule it), else the country field's
    hint = np.empty(len(idx), dtype=object)
    soft = np.zeros(len(idx), dtype=bool)
    cache: dict = {}
    for j, i in enumerate(idx.tolist()):
        key = (cc[j], a1_l[i] or None, cad_l[i] if isinstance(cad_l[i], str) else None,
               creg_l[i] if isinstance(creg_l[i], str) else None)
        if key not in cache:
            c_, a1, cad, creg = key
            h = admin1_code(c_, a1) if a1 else None
            sft = h is not None
            if h is None and cad:
                h = cad
            if h is None and creg:
                h = admin1_code(c_, creg)
            cache[key] = (h, sft)
        hint[j], soft[j] = cache[key]
    has_hint = pd.notna(hint) & (hint != "")
    terr = (cc == "US") & np.isin(hint, list(US_TERRITORIES))
    km = g.key_map
    k = np.fromiter((km.get(x, -1) for x in (cc + _SEP + norms).tolist()), dtype=np.int64, count=len(idx))
    p_ = np.where(k >= 0, g.unique_primary[np.maximum(k, 0)], -1)
    keep = (p_ >= 0) & ~terr
    keep &= ~has_hint | (g.admin1[np.maximum(p_, 0)] == hint)
    la, lo = lats[idx], lons[idx]
    xy = ~(np.isnan(la) | np.isnan(lo))
    pp = np.maximum(p_, 0)
    dist = np.where(xy, haversine_km(np.where(xy, la, 0), np.where(xy, lo, 0), g.lat[pp], g.lon[pp]), np.nan)
    reach = np.where(g.pop[pp] >= BIG_POP, RADIUS_BIG_KM, RADIUS_KM)
    coarse = xy & (np.mod(np.where(xy, la, 0.5), 1) == 0) & (np.mod(np.where(xy, lo, 0.5), 1) == 0)
    reach = np.where(coarse, np.maximum(reach, COARSE_KM), reach)
    keep &= ~xy | (dist <= reach)
    sel = np.flatnonzero(keep)
    if not len(sel):
        return out
    k2 = [km.get(x, -1) for x in (cc[sel] + _SEP + designator_key_many(norms[sel])).tolist()]
    ksel = k[sel]
    for j, kk, kk2 in zip(sel.tolist(), ksel.tolist(), k2):
        i = int(idx[j])
        h = hint[j] if has_hint[j] else None
        if kk2 >= 0 and kk2 != kk:
            cpos, _ = g.candidates(kk, kk2)
            ncand = int(np.count_nonzero(g.admin1[cpos] == h)) if h else len(cpos)
        elif h:
            ncand = int(np.count_nonzero(g.admin1[g.pos[g.starts[kk]:g.ends[kk]]] == h))
        else:
            ncand = int(g.ends[kk] - g.starts[kk])
        pos_ = int(p_[j])
        t_ = types[i] or None
        method = "exact_primary" + ("_admin1" if h else "") + ("_coords" if xy[j] else "")
        out[i] = Out(status="resolved", pos=pos_, method=method, score=TIER_SCORE[0], iso3=iso3_l[i],
                     admin1=g.admin1[pos_] or h, qualifier=None, base=names[i], place_type="city",
                     distance=float(dist[j]), n=ncand, cands=(),
                     id_admin1=h if (not soft[j] or not xy[j]) else None,
                     prov_type=t_ if t_ in ("port", "metro") else "city", id_base=norms[j])
    return out
