"""Candidate selection for the place resolver (rule 4 of ``etl.places.resolver``).

``_Ctx`` holds the gazetteer and its look-up caches; ``_Ctx.select`` applies the admin1,
coordinates, population and cluster rules to a name's candidates and returns a ``Pick``;
``_fill`` writes a resolved pick into the per-mention record ``Out``. They are apart from the
orchestration in ``etl.places.resolver`` because every stage (the rules, the fast path in
``etl.places.fast_path``, the fuzzy step in ``etl.places.fuzzy``, the frame in
``etl.places.output``) shares them, and none of those may import the resolver (no cycle).
The rules and their tunables are documented in the ``etl.places.resolver`` docstring.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etl.places.countries import country_name_index, iso3_to_iso2
from etl.places.gazetteer import Gazetteer, designator_key, haversine_km, haversine_scalar, normalise

# ---- tunables (documented in the etl.places.resolver docstring) -------------------------------
RADIUS_KM = 30.0             # mention coordinates vs candidate
RADIUS_BIG_KM = 60.0         # ... for candidates with population >= BIG_POP
BIG_POP = 500_000
DOMINANCE = 10.0             # population factor for the population rule
CLUSTER_KM = 10.0            # same-name candidates this close together are one place
COARSE_KM = 90.0             # reach for whole-degree coordinates
POP_MATCH = 2.5              # population factor for "coordinates are off" acceptance
SOFT_ADMIN1_KM = 60.0        # a stated (free-text) region + unique name: accepted this far
GUARD_POP = 100_000          # unknown qualifier: refuse a unique candidate this large

TIER = {0: "exact_primary", 1: "normalised_primary", 2: "exact_alternate", 3: "normalised_alternate"}
TIER_SCORE = {0: 100.0, 1: 97.0, 2: 95.0, 3: 92.0}



def typing_fixes(lat: float, lon: float) -> list[tuple[float, float]]:
    """What a hand-made list's point may be once its typing error is undone: a sign flipped,
    the axes swapped (tried when the point as given reaches no candidate)."""
    return [(lat, -lon), (-lat, lon), (lon, lat)]

@dataclass
class Pick:
    status: str                      # resolved | ambiguous | none
    pos: int = -1
    method: str = ""
    score: float = 0.0
    distance: float = float("nan")
    n: int = 0
    cands: tuple = ()
    reason: str = ""


@dataclass
class Out:
    status: str = "unresolved"
    pos: int = -1
    method: str = "unresolved"
    score: float = 0.0
    iso3: str | None = None
    admin1: str | None = None
    qualifier: str | None = None
    base: str = ""
    place_type: str = "city"
    parent_pos: int = -1
    fips: str | None = None
    distance: float = float("nan")
    n: int = 0
    cands: tuple = ()
    id_admin1: str | None = None
    id_parent: str | None = None
    prov_type: str = "city"          # the type the provisional id carries
    id_base: str | None = None       # the base name the provisional id carries (designator removed)
    id_qualifier: str | None = None  # an unread qualifier, kept in the provisional id ("stolberg-rhineland")
    qkind: str | None = None         # how the qualifier was used: admin1 | parent | ignored | ...
    needs_fuzzy: bool = False
    norm_for_fuzzy: str = ""
    extra: dict = field(default_factory=dict)


class _Ctx:
    def __init__(self, g: Gazetteer):
        self.g = g
        self.countries = country_name_index()
        self.parent_cache: dict = {}
        self.i2 = iso3_to_iso2()
        self.gazetteer_ccs = set(pd.unique(g.cc).tolist())  # ISO2 codes the gazetteer has places of

    # --- name -> candidate arrays --------------------------------------------------------
    def cands(self, cc: str | None, name: str) -> tuple[np.ndarray, np.ndarray]:
        if not cc:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int8)
        n = normalise(name)
        if not n:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int8)
        return self.g.lookup(cc, n, designator_key(n))

    # --- the selection rules ---------------------------------------------------------------
    def select(self, pos, rank, *, admin1=None, admin1_soft=False, lat=None, lon=None, radius=None,
               allow_dominance=True, exclude=(), guard=False, keep_far_admin1=True, mpop=None,
               qnorm: str | None = None) -> Pick:
        g = self.g
        if len(exclude) and len(pos):
            m = ~np.isin(pos, np.asarray(exclude, dtype=np.int64))
            pos, rank = pos[m], rank[m]
        if not len(pos):
            return Pick("none", reason="no_candidate")
        has_xy = lat is not None and lon is not None and not (math.isnan(lat) or math.isnan(lon))
        if admin1 and admin1_soft and has_xy:
            # a free-text state column is often wrong: with coordinates it only breaks ties
            pk = self.select(pos, rank, admin1=admin1, lat=lat, lon=lon, radius=radius, exclude=(),
                             keep_far_admin1=False, mpop=None)
            if pk.status == "resolved":
                return pk
            pk = self.select(pos, rank, lat=lat, lon=lon, radius=radius, mpop=mpop)
            if pk.status == "resolved" or radius is not None:
                return pk
            # the only primary match in the stated region, a little beyond reach: name and state agree
            m = g.admin1[pos] == admin1
            if m.sum() == 1 and rank[m][0] <= 1:
                p0 = int(pos[m][0])
                d = haversine_scalar(lat, lon, float(g.lat[p0]), float(g.lon[p0]))
                if d <= SOFT_ADMIN1_KM:
                    return Pick("resolved", p0, TIER[int(rank[m][0])] + "_admin1", TIER_SCORE[int(rank[m][0])], d,
                                int(m.sum()), pos[m], reason="coords_far")
            return pk
        suffix = ""
        if admin1:
            m = g.admin1[pos] == admin1
            if not m.any():
                return Pick("none", n=len(pos), cands=self._top(pos), reason="admin1_mismatch")
            pos, rank = pos[m], rank[m]
            suffix += "_admin1"
        n = len(pos)
        if has_xy:
            if radius is None:
                coarse = float(lat).is_integer() and float(lon).is_integer()
                reach = np.where(g.pop[pos] >= BIG_POP, RADIUS_BIG_KM, RADIUS_KM)
                if coarse:  # "37.0, -3.0": whole-degree coordinates are only good to ~70 km
                    reach = np.maximum(reach, COARSE_KM)
            else:
                reach = np.full(len(pos), radius)
            tries = [("", lat, lon)]
            if radius is None:  # sign errors and swapped axes, common in hand-made lists
                tries += [("_fixed", a, b) for a, b in typing_fixes(lat, lon)]
            d0 = None
            for tag, la, lo in tries:
                if abs(la) > 90:
                    continue
                d = haversine_km(la, lo, g.lat[pos], g.lon[pos])
                if d0 is None:
                    d0 = d
                w = d <= reach
                if w.any():
                    p2, r2, d2 = pos[w], rank[w], d[w]
                    o = np.lexsort((g.gid[p2], d2, r2))
                    i = o[0]
                    return Pick("resolved", int(p2[i]), TIER[int(r2[i])] + suffix + "_coords" + tag,
                                TIER_SCORE[int(r2[i])], float(d0[w][i]), n, self._top(pos))
            d = d0
            best = int(rank.min())
            b = rank == best
            if admin1 and keep_far_admin1 and radius is None and b.sum() == 1 and best <= 1:
                # the name and an explicit state agree: keep it, report the distance
                i = int(np.flatnonzero(b)[0])
                return Pick("resolved", int(pos[i]), TIER[best] + suffix, TIER_SCORE[best], float(d[i]),
                            n, self._top(pos), reason="coords_far")
            if radius is None and n == 1 and best <= 1 and mpop and g.pop[pos[0]] > 0:
                ratio = g.pop[pos[0]] / mpop
                if 1 / POP_MATCH <= ratio <= POP_MATCH:
                    # the only place of that name, of the size the source gives: the coordinates are off
                    return Pick("resolved", int(pos[0]), TIER[best] + suffix + "_population_match", TIER_SCORE[best],
                                float(d[0]), n, self._top(pos), reason="coords_far")
            return Pick("none", n=n, cands=self._top(pos), distance=float(d.min()), reason="coords_mismatch")
        best = int(rank.min())
        b = rank == best
        p2 = pos[b]
        if len(p2) == 1:
            if guard and g.pop[p2[0]] >= GUARD_POP:
                return Pick("ambiguous", method="ambiguous", score=TIER_SCORE[best], n=n, cands=self._top(pos),
                            reason="unknown_qualifier_big_city")
            prim = g.norm[p2[0]]
            if (best >= 2 and qnorm and len(prim) > len(qnorm) and prim.startswith(qnorm)
                    and prim[len(qnorm)].isalnum()):
                # an alternate name that is a truncated word of the primary ("Lund" for Lundamo):
                # usually another, missing, place of that name
                return Pick("ambiguous", method="ambiguous", score=TIER_SCORE[best], n=n, cands=self._top(pos),
                            reason="truncated_alternate")
            return Pick("resolved", int(p2[0]), TIER[best] + suffix, TIER_SCORE[best], n=n, cands=self._top(pos))
        pops = g.pop[p2]
        o = np.lexsort((g.gid[p2], -pops))
        if allow_dominance and best <= 1:
            top, second = pops[o[0]], pops[o[1]]
            if top > DOMINANCE * max(second, 1) and top >= 1000:
                return Pick("resolved", int(p2[o[0]]), TIER[best] + suffix + "_population", TIER_SCORE[best], n=n,
                            cands=self._top(pos))
        if not guard and best <= 1 and mpop:
            # of the namesakes, only one has the population the source gives (CDP's "Junín", 93,274
            # inhabitants: Junín, Buenos Aires, 87,509, not Junín, Mendoza, 10,442)
            ratio = pops / mpop
            fits = (pops > 0) & (ratio >= 1 / POP_MATCH) & (ratio <= POP_MATCH)
            if fits.sum() == 1:
                return Pick("resolved", int(p2[fits][0]), TIER[best] + suffix + "_population_namesake", TIER_SCORE[best],
                            n=n, cands=self._top(pos))
        # one place entered twice (a town and its village centre): all within CLUSTER_KM
        lead = p2[o[0]]
        if (not guard and (g.admin1[p2] == g.admin1[lead]).all()
                and haversine_km(g.lat[lead], g.lon[lead], g.lat[p2], g.lon[p2]).max() <= CLUSTER_KM):
            return Pick("resolved", int(lead), TIER[best] + suffix + "_cluster", TIER_SCORE[best], n=n,
                        cands=self._top(pos))
        return Pick("ambiguous", method="ambiguous", score=TIER_SCORE[best], n=n, cands=self._top(pos))

    def _top(self, pos):
        return pos  # candidate positions; turned into ids only for unresolved output rows

    def parent(self, cc: str, q: str) -> int:
        """Position of the city a qualifier names, or -1."""
        key = (cc, q)
        if key not in self.parent_cache:
            pos, rank = self.cands(cc, q)
            pk = self.select(pos, rank)
            self.parent_cache[key] = pk.pos if pk.status == "resolved" else -1
        return self.parent_cache[key]


def _fill(o: Out, g: Gazetteer, pk: Pick, base: str, qualifier=..., keep_type: bool = False) -> Out:
    o.status = "resolved"
    o.pos = pk.pos
    o.method = pk.method
    o.score = pk.score
    o.distance = pk.distance
    o.n, o.cands = pk.n, pk.cands
    o.base = base
    if qualifier is not ...:
        o.qualifier = qualifier
    o.admin1 = g.admin1[pk.pos] or o.admin1
    if not keep_type:
        o.place_type = "city"
    return o
