"""Resolve place mentions to GeoNames places.

``resolve(mentions)`` takes a frame with ``name`` and ``country`` (ISO2, ISO3 or any name,
also "Region, Country"), optional ``admin1``, ``latitude``, ``longitude`` and ``place_type``,
and returns, on the same index:

=====================  ========================================================================
status                 "resolved" (to a GeoNames place) | "ambiguous" | "unresolved"
geonames_id            Int64, <NA> unless resolved
matched_name           GeoNames primary name of the match (or of the parent for a district)
method                 how it was decided (see below)
score                  0..100 name-match score (100 exact, 97 designator-stripped, 95 alternate,
                       92 alternate designator-stripped, rapidfuzz ratio for fuzzy)
country_iso3           ISO3 of the country
admin1                 GeoNames admin1 code of the match; else the code of the hint; else <NA>
qualifier              text removed from the name ("Los Angeles" in "Encino (Los Angeles)")
base_name              name with the qualifier removed
place_type             city | district | county | region | port | port_district | metro | non_place
                       (associations of municipalities and country names are "region", with the
                       kind in ``reason``)
reason                 why a mention is not resolved (no_candidate, coords_mismatch,
                       admin1_mismatch, association, country, ...), <NA> when resolved
parent_geonames_id     Int64: for districts, the parent city ("Encino (Los Angeles)" -> 5368361)
parent_name            the parent's GeoNames name
fips                   US county FIPS code for "X County, ST" mentions (<NA> otherwise)
distance_km            distance from the mention's coordinates to the match (when both exist)
n_candidates           places the name matched (after country / admin1 filters)
candidates             up to 5 candidate ids "gn..;gn.." (for ambiguous mentions)
provisional_id         the id the place has without GeoNames (see ``etl.places.ids``)
city_id                "gn<id>" when resolved, else ``provisional_id``
=====================  ========================================================================

Rules, in order (each distinct (name, country, admin1, coordinates rounded to 4 decimals,
place_type, population) is resolved once; gazetteer look-ups are hash look-ups, never scans):

0. Fast path: a plain name (no qualifier, no designator word) that is the primary name of
   exactly one place in the country (in the hinted admin1, within reach of the coordinates)
   is resolved without the machinery below; it gives the same answer (tested).
1. ``place_type`` "region", "non_place" (or "pseudo"), "port_district", or a county /
   district / region / association designator in the name ("Los Angeles County, CA",
   "Kreis Kleve", "Gunma Prefecture", "Celle (district)", "Leżajsk (rural gmina)",
   "Unione dei Comuni ..."), or a list of municipalities pledging together (three or more
   names separated by commas, or names separated by semicolons: "Mogoro, Masullas, Pompu";
   reason "joint_pledge") -> **not a city**: status "unresolved", method "not_a_city",
   never matched to the city of the same name (nor to a list's first member). US counties get
   their FIPS code (and state). Buckets and port districts keep their whole name in the
   provisional id ("x-usa-tx-laredo-customs-district-n-e-c-port-district").
   An ``admin1`` hint that names a territory GeoNames files as a country ("Réunion" beside
   "France") makes the territory the country.
2. A qualified name is first tried whole ("Frankfurt (Oder)", "Washington, D.C.").
3. Qualifiers. ", XX" state suffix -> hard admin1. "(Q)" -> a type word ("(city)",
   "(district)"); a country (ignored, or adopted when the country field is empty: "Varna,
   Bulgaria"); else a parent city ("Encino (Los Angeles)", "Setagaya (Tokyo)"): the base must
   match a place within 50 km of the parent (the parent itself excluded) -> that place, as a
   district with ``parent_geonames_id``; if not, Q as an admin1 region when it is one
   ("Langen (Hessen)"); else a provisional district of the parent (method
   "district_of_parent"). ", Q" -> an admin1 region first ("Coventry, New York", "Lagoa,
   Azores", "Suzhou, Jiangsu"), else a parent city. "Parent – Part" (en dash, "Berlin –
   Steglitz-Zehlendorf", "Budapest XI – Újbuda") -> like "(Parent)". "A - B" / "A / B"
   (alternative or joint names, "Sexten - Sesto") -> each part, only when the mention's
   coordinates confirm it. A region qualifier is hard: "Lengnau, Aargau" is never the Lengnau
   of canton Bern (admin1 names: ``etl.places.admin1``). An unknown qualifier ("Wellington,
   Shropshire", "Stolberg (Rhineland)") disables the population rule and refuses a unique
   candidate of 100,000+ inhabitants (a big city needs no qualifier): such mentions end
   ambiguous rather than guessed. It stays in the provisional id ("x-deu-stolberg-rhineland"),
   so namesakes told apart only by it keep apart; and when mentions with different qualifiers
   reach one GeoNames place ("Behringen (Stadtilm)" read as the Behringen near Stadtilm,
   "Behringen (Hörselberg-Hainich)" with its qualifier ignored), the ones that ignored theirs
   without coordinates to confirm become ambiguous ("qualifier_conflict").
4. Candidates = places of the same country whose primary or alternate names match the
   normalised name, ranked: primary < primary designator-stripped < alternate < alternate
   designator-stripped. Filters, in order:
   - admin1: hard for name suffixes, qualifiers and the country field ("England"); an
     ``admin1`` *column* (often a wrong free-text state in the pledge lists) only narrows the
     choice when coordinates exist and a candidate of that admin1 lies within reach, and is
     hard without coordinates; the only primary match in that admin1 is also accepted up to
     60 km from the coordinates (name and state agree);
   - coordinates: the best-ranked, then nearest, candidate within 30 km (60 km for places of
     500,000+, 90 km when the coordinates are whole degrees); a sign flip or swapped axes is
     tried too (method suffix "_fixed"). None within reach -> unresolved, except (a) a
     primary-name candidate that is the only one in a hard admin1 (name and state agree; its
     distance is reported) and (b) the only place of that name in the country whose GeoNames
     population is within 2.5x of the population the source gives ("_population_match":
     the source's coordinates are off);
   - no coordinates: the best rank; several left -> the largest wins when it is a primary
     match with more than 10x the population of the next ("_population"), or the only one whose
     population is within 2.5x of the one the source gives ("_population_namesake"), or all are within
     10 km of each other in the same admin1 (one place entered twice, "_cluster"); otherwise
     "ambiguous", never a guess; so is a unique alternate-name match that is a truncated word of
     the place's primary name ("Lund" -> Lundamo).
5. With coordinates only: "Town am River" -> "Town" (unique primary match, coordinates
   confirm: "normalised_head_coords").
6. Fuzzy (rapidfuzz ratio, names of 5+ letters, same country): with coordinates, the best
   match >= 90 among places within 10 km sharing the first letter, also compared without a
   leading article ("Masnou" / "El Masnou", "A Cañiza" / "La Cañiza"), and only when every
   word agrees (``_tokens_agree``: "Pacs del Penedès" is not "el Pla del Penedès")
   ("fuzzy_coords"); else the nearest such place whose name the mention abbreviates or
   writes without its linking words ("Montebello Sul S.", "Cenate Sotto" / "Cenate di
   Sotto": "abbreviation_coords"); without coordinates only names equal once spaces and
   hyphens are removed, or names of 12+ letters at >= 95, unique in the country and with no
   other form within 2 points ("fuzzy").
7. Coordinates only: the nearest place within 5 km whose name is the mention's name plus
   code tokens / articles ("Mioveni AG", "El Palomar" -> "Palomar") or with an adjectival
   ending ("Perechynska" -> "Perechyn"), or which the mention extends by a region or river
   ("Mediana de Aragón" -> Mediana, "Caravaca de la Cruz" -> Caravaca; never the reverse:
   coordinates geocoded from "El Burgo" sit on El Burgo de Ebro) ("coordinates").
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etl.places import ids as idmod
from etl.places.admin1 import US_TERRITORIES, admin1_code, us_state_codes
from etl.places.abroad import SUFFIX as ABROAD_SUFFIX, is_abroad
from etl.places.countries import (country_name_index, iso2_to_iso3, iso3_to_iso2, resolve_country_field,
                                  territory_names)
from etl.places.gazetteer import (_SEP, Gazetteer, designator_key, designator_key_many, haversine_km,
                                  haversine_scalar, load_gazetteer, normalise)
from etl.places.parse import (QUALIFIER_TYPES, ParsedName, alternatives, clean_text, designator_type, parse_name,
                               strip_district_number)

# ---- tunables (documented in the module docstring) ---------------------------------------
RADIUS_KM = 30.0             # mention coordinates vs candidate
RADIUS_BIG_KM = 60.0         # ... for candidates with population >= BIG_POP
BIG_POP = 500_000
PARENT_RADIUS_KM = 50.0      # district (or village of a merged municipality) vs its parent city
DOMINANCE = 10.0             # population factor for the population rule
CLUSTER_KM = 10.0            # same-name candidates this close together are one place
COARSE_KM = 90.0             # reach for whole-degree coordinates
POP_MATCH = 2.5              # population factor for "coordinates are off" acceptance
SOFT_ADMIN1_KM = 60.0        # a stated (free-text) region + unique name: accepted this far
GUARD_POP = 100_000          # unknown qualifier: refuse a unique candidate this large
FUZZY_MIN = 92.0             # fuzzy without coordinates
FUZZY_MARGIN = 2.0
FUZZY_COORD_MIN = 90.0       # fuzzy among places within FUZZY_COORD_KM
FUZZY_COORD_KM = 10.0
TOKEN_MIN = 75.0             # ... and each word of a multi-word name this close (see _tokens_agree)
FUZZY_SQUASH_MIN = 92.0      # ... or, when the word counts differ, the words run together this close
FUZZY_LONG = 12              # without coordinates: only names this long ...
FUZZY_LONG_MIN = 95.0        # ... at this score, or names equal once spaces / hyphens are removed
FUZZY_MIN_LEN = 5
NEAREST_KM = 5.0             # coordinates-only fallback (see _junk_variant)

# "Rottenburg am Neckar" -> "rottenburg": river / region additions to a town name
_HEAD = re.compile(r" (?:am|an der|an den|im|in der|ob der|bei|upon|on|sur|sous|sul|sulla|nad|pod|na) ")

TIER = {0: "exact_primary", 1: "normalised_primary", 2: "exact_alternate", 3: "normalised_alternate"}
TIER_SCORE = {0: 100.0, 1: 97.0, 2: 95.0, 3: 92.0}
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
                tries += [("_fixed", lat, -lon), ("_fixed", -lat, lon), ("_fixed", lon, lat)]
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


def _isnan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _us_county(g: Gazetteer, base_norm: str, admin1: str | None) -> tuple[str | None, str | None]:
    c = g.us_counties
    names = {f"{base_norm} county", f"{base_norm} parish", f"{base_norm} borough", base_norm}
    m = c["norm"].isin(names)
    if admin1:
        m &= c["state"] == admin1
    hit = c[m]
    if len(hit) == 1:
        return str(hit["fips"].iloc[0]), str(hit["state"].iloc[0])
    return None, None


def _resolve_one(ctx: _Ctx, name: str, iso3: str | None, admin1_text, country_admin1: str | None,
                 region_hint: str | None, lat, lon, type_hint: str | None, mpop: float | None = None) -> Out:
    g = ctx.g
    o = Out(iso3=iso3)
    raw = clean_text(name)
    o.base = raw
    th = (type_hint or "").strip().casefold() or None
    cc = ctx.i2.get(iso3) if iso3 else None

    # admin1 hint: explicit column, else from the country field ("England", "Azores, Portugal")
    # (an admin1 column is soft when coordinates exist: see select(); the others are hard)
    hint = admin1_code(cc, admin1_text) if isinstance(admin1_text, str) else None
    soft = hint is not None
    if hint is None and country_admin1:
        hint = country_admin1
    if hint is None and region_hint:
        hint = admin1_code(cc, region_hint)
    p = parse_name(raw)
    q = p.qualifier
    o.qualifier = q
    base = p.base
    unknown_qualifier = False
    parent_pos = -1
    qtype = None

    # ", XX" suffix
    if p.style == "state":
        code = admin1_code(cc or "US", p.state)
        if cc is None and code and code in us_state_codes():
            cc, iso3 = "US", "USA"
            o.iso3 = iso3
        if code:
            hint, soft = code, False
        else:  # not a state of this country ("Breda, NL"): an ordinary comma qualifier
            p = ParsedName(base=p.base, qualifier=p.qualifier, style="comma")
    if cc == "US" and hint in US_TERRITORIES:
        cc, hint = US_TERRITORIES[hint], None
        iso3 = iso2_to_iso3().get(cc)
        o.iso3 = iso3
    o.admin1 = hint
    # the admin1 enters the provisional id only when it constrains the match (a hard hint, or an
    # admin1 column without coordinates): a free-text state beside coordinates does not, so its
    # spelling ("Auvergne-RhÃ´ne-Alpes" vs "Auvergne-Rhone-Alpes") cannot split a place's id
    o.id_admin1 = hint if (not soft or lat is None or lon is None) else None

    if th in ("region", "pseudo", "non_place", "port_district", "association", "country", "metro_area"):
        o.place_type = o.prov_type = th
        o.base = base
        # regions lose their designator ("Gunma Prefecture" -> gunma); buckets and districts keep
        # their whole name ("Unknown customs district", "Laredo Customs District n.e.c.")
        o.id_base = designator_type(normalise(base))[1] if th == "region" else normalise(raw)
        o.method = "not_a_city"
        return o

    if _is_joint_list(raw, ctx):
        # several municipalities pledging together ("Mogoro, Masullas, Gonnostramatza, Pompu,
        # Siris", "Beveren; Lokeren; ..."): not one city, never its first-named member
        o.place_type = o.prov_type = "association"
        o.extra["reason"] = "joint_pledge"
        o.id_base = normalise(raw)
        o.method = "not_a_city"
        return o

    # whole qualified name first ("Frankfurt (Oder)", "Washington, D.C.")
    if q and p.style in ("paren", "comma", "dash", "alt") and cc:
        pos, rank = ctx.cands(cc, raw)
        if len(pos):
            m = rank != 1
            m &= rank != 3
            pk = ctx.select(pos[m], rank[m], admin1=hint, admin1_soft=soft, lat=lat, lon=lon, allow_dominance=True,
                            mpop=mpop)
            if pk.status == "resolved":
                return _fill(o, g, pk, base=raw, qualifier=None)

    # qualifier classification
    if q and p.style in ("paren", "comma", "dash"):
        qn = normalise(q)
        code = admin1_code(cc, q) if cc else None
        q_iso = ctx.countries.get(qn)
        if qn in QUALIFIER_TYPES:
            qtype = QUALIFIER_TYPES[qn]
            o.qkind = "type"
        elif q_iso and (iso3 is None or q_iso == iso3 or code is None):
            # a country: adopt it when the country field is empty, else ignore it
            # ("Breda, Spain" filed under NLD keeps NLD; its coordinates decide)
            o.qkind = "country"
            if iso3 is None:
                iso3, cc = q_iso, ctx.i2.get(q_iso)
                o.iso3 = iso3
        elif p.style == "dash":
            parent_pos = ctx.parent(cc, strip_district_number(q)) if cc else -1
            if parent_pos < 0:
                unknown_qualifier = True
        elif p.style == "paren":
            # a parent city first ("Encino (Los Angeles)"); a region when the base is not near the
            # city but is in the region ("Langen (Hessen)"); else a district of the parent
            parent_pos = ctx.parent(cc, q) if cc else -1
            if parent_pos >= 0 and code is not None:
                pos, rank = ctx.cands(cc, base)
                pk = ctx.select(pos, rank, lat=g.lat[parent_pos], lon=g.lon[parent_pos],
                                radius=PARENT_RADIUS_KM, exclude=(parent_pos,))
                if pk.status != "resolved":
                    pk = ctx.select(pos, rank, admin1=code, lat=lat, lon=lon, allow_dominance=True)
                    if pk.status == "resolved":
                        parent_pos = -1
            if parent_pos < 0:
                if code is not None:
                    hint, soft = code, False
                    o.admin1 = o.id_admin1 = hint
                    o.qkind = "admin1"
                else:
                    unknown_qualifier = True
        else:  # comma: a region first ("Coventry, New York"), else a parent city
            if code is not None:
                hint, soft = code, False
                o.admin1 = o.id_admin1 = hint
                o.qkind = "admin1"
            elif cc:
                parent_pos = ctx.parent(cc, q)
                if parent_pos < 0:
                    unknown_qualifier = True
        if parent_pos >= 0:
            o.qkind = "parent"
        if unknown_qualifier:
            # neither a region, a city, a country nor a type word ("Stolberg (Rhineland)"): it
            # still tells namesakes apart, so the provisional id keeps it
            o.qkind = "ignored"
            o.id_qualifier = q
    o.base = base

    if cc is None:
        c_iso = ctx.countries.get(normalise(raw))
        if c_iso:  # a country named where a city belongs ("Falkland Islands" with no country)
            o.iso3, o.place_type, o.prov_type, o.method = c_iso, "country", "country", "not_a_city"
            return o
        o.method = "unresolved"
        o.extra["reason"] = "unknown_country"
        return o

    bn = normalise(base)
    ptype, bstripped = designator_type(bn)
    if ptype == "city" and designator_type(normalise(raw))[0] == "association":
        ptype = "association"
    if qtype and qtype != "city":
        ptype = qtype
    if th in ("county", "district") and ptype == "city":
        ptype = th  # the source says so ("Maui County" read as a county by its reader)
    if th in ("port", "metro") and ptype == "city":
        o.place_type = th  # provisional type when unresolved; becomes "city" once resolved
    else:
        o.place_type = ptype
    o.prov_type = o.place_type
    o.id_base = bstripped

    # districts of a parent city (also "Tây Hồ District (Hanoi)")
    if parent_pos >= 0:
        o.prov_type = "district"
        o.parent_pos = parent_pos
        o.id_parent = idmod.geonames_city_id(g.gid[parent_pos])
        names = [base] if ptype == "city" else [bstripped, base]
        names.append(f"{g.name[parent_pos]} {base}")  # GeoNames' own form: "Hamburg-Mitte"
        for nm in names:
            pos, rank = ctx.cands(cc, nm)
            pk = ctx.select(pos, rank, lat=g.lat[parent_pos], lon=g.lon[parent_pos],
                            radius=PARENT_RADIUS_KM, exclude=(parent_pos,))
            if pk.status == "resolved":
                pk.method = "qualifier_parent"
                o.place_type = "district"
                return _fill(o, g, pk, base=base, keep_type=True)
        o.place_type = "district"
        o.method = "district_of_parent"
        return o

    if ptype == "county" and cc == "US" and "-" in base and hint:
        # a consolidated city-county ("Augusta-Richmond County, GA", "Athens-Clarke County"):
        # the city, when GeoNames knows the whole name as one of the city's names in that state
        pos, rank = ctx.cands(cc, base)
        m = (rank == 0) | (rank == 2)
        pk = ctx.select(pos[m], rank[m], admin1=hint, lat=lat, lon=lon, allow_dominance=False, guard=True)
        if pk.status == "resolved":
            pk.method = "consolidated_city_county" + ("_coords" if "_coords" in pk.method else "")
            return _fill(o, g, pk, base=base)
    if ptype != "city":
        o.method = "not_a_city"
        if ptype == "county" and cc == "US":
            fips, st = _us_county(g, bstripped, hint)
            if fips:
                o.fips = fips
                if not hint:
                    o.admin1 = o.id_admin1 = st
        return o

    if p.style == "alt":
        # alternative / joint names: only with coordinates to confirm which place is meant
        if lat is None or lon is None:
            o.extra["reason"] = "joint_name_without_coordinates"
            return o
        for alt in alternatives(p):
            pos, rank = ctx.cands(cc, alt)
            m = rank != 3
            pk = ctx.select(pos[m], rank[m], admin1=hint, admin1_soft=soft, lat=lat, lon=lon, keep_far_admin1=False)
            if pk.status == "resolved" and "_coords" in pk.method:
                pk.method = "alternative_name" + pk.method[pk.method.index("_coords"):]
                return _fill(o, g, pk, base=base)
        o.needs_fuzzy = True
        o.norm_for_fuzzy = designator_key(bn)
        o.extra["reason"] = "no_candidate"
        return o
    pos, rank = ctx.cands(cc, base)
    pk = ctx.select(pos, rank, admin1=hint, admin1_soft=soft, lat=lat, lon=lon, allow_dominance=not unknown_qualifier,
                    guard=unknown_qualifier, mpop=mpop, qnorm=bn)
    if pk.status == "resolved":
        if unknown_qualifier:
            pk.method += "_qualifier_ignored"
        return _fill(o, g, pk, base=base)
    if pk.status == "ambiguous":
        o.status, o.method, o.score, o.n, o.cands = "ambiguous", "ambiguous", pk.score, pk.n, pk.cands
        return o
    if pk.reason == "no_candidate" and lat is not None and lon is not None:
        # only with coordinates: "Teplice nad Bečvou" is not Teplice
        head = _HEAD.split(bn, maxsplit=1)[0].strip()
        if head != bn and len(head) >= 4:
            hp, hr = ctx.g.lookup(cc, head, None)
            m = hr == 0
            hk = ctx.select(hp[m], hr[m], admin1=hint, admin1_soft=soft, lat=lat, lon=lon, allow_dominance=False,
                            guard=True)
            if hk.status == "resolved" and hk.n == 1:
                hk.method, hk.score = "normalised_head_coords", 90.0
                return _fill(o, g, hk, base=base)
    if pk.reason == "no_candidate" and not q and admin1_code(cc, base) is not None:
        # "New South Wales", "Minas Gerais": a first-level region named where a city belongs
        o.place_type = o.prov_type = "region"
        o.method = "not_a_city"
        return o
    o.n, o.cands = pk.n, pk.cands
    o.extra["reason"] = pk.reason
    if pk.reason == "coords_mismatch":
        o.distance = pk.distance
    o.extra["soft"] = soft
    if pk.reason in ("no_candidate", "coords_mismatch", "admin1_mismatch"):
        o.needs_fuzzy = True
        o.norm_for_fuzzy = designator_key(bn)
    return o


def _is_joint_list(raw: str, ctx: _Ctx) -> bool:
    """Three or more names separated by commas, or two or more by semicolons, where the last
    part is no country ("Zugló, Budapest, Hungary" is one place)."""
    if raw.count(";") >= 1 and len([x for x in raw.split(";") if x.strip()]) >= 2:
        return True
    parts = [x.strip() for x in raw.split(",") if x.strip()]
    return len(parts) >= 3 and normalise(parts[-1]) not in ctx.countries


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


# ---- batch stages ----------------------------------------------------------------------------
_ROMAN = re.compile(r"[ivxlc]+")
_NOT_JUNK = {"new", "old", "nea", "neo", "nou", "nov", "san", "sta", "sto", "sur", "ost", "west", "est", "sud",
             "nord", "big", "up", "low", "mid", "bad", "alt", "ober", "gro", "kl", "gr", "nad", "pod"}


# leading articles (Galician, Portuguese, Spanish, Catalan, Italian, French, Occitan): "A Cañiza" and
# "La Cañiza", "O Porriño" and "Porriño", "L'Hospitalet" (normalised "lhospitalet": not split)
_ARTICLES = frozenset({"a", "o", "as", "os", "la", "el", "las", "los", "els", "les", "il", "lo", "le", "li", "gli",
                       "l"})


def _strip_article(norm: str) -> str:
    """``norm`` without a leading article token (the same object when there is none)."""
    head, sep, rest = norm.partition(" ")
    return rest if sep and rest and head in _ARTICLES else norm


# short linking words that spellings of one name add or drop ("Campos de/dos Goytacazes",
# "Cavenago (di) Brianza", "Sant'Ilario sullo/dello Ionio", "Bollullos (Par) del Condado")
_LINK_WORDS = frozenset({"a", "al", "alla", "am", "an", "d", "da", "das", "de", "del", "della", "dello", "dels",
                         "der", "des", "di", "do", "dos", "du", "e", "el", "en", "i", "im", "in", "la", "las",
                         "le", "les", "lo", "los", "o", "os", "par", "sul", "sulla", "sullo", "sur", "y"})


def _abbreviates(mention: str, form: str) -> bool:
    """The mention is the place's name with words abbreviated to at most three letters and / or
    linking words dropped or changed: two or more content words, each equal or a prefix
    ("san martino sulla m" / "san martino sulla marrucina", "cenate sotto" / "cenate di sotto")."""
    if mention == form:
        return False
    ta = [t for t in mention.split() if t not in _LINK_WORDS]
    tb = [t for t in form.split() if t not in _LINK_WORDS]
    if len(ta) != len(tb) or len(ta) < 2 or ta[0] != tb[0]:
        return False
    return all(x == y or len(x) <= 3 and y.startswith(x) for x, y in zip(ta, tb))


def _tokens_agree(a: str, b: str) -> bool:
    """A spelling variant, not another name sharing words: equal once spaces are removed
    ("kleinmachnow" / "klein machnow"); else, linking words aside, as many words, each equal,
    close (ratio >= TOKEN_MIN) or an initial ("mercato s severino" / "mercato san severino");
    else the words run together are close (>= FUZZY_SQUASH_MIN). "pacs del penedes" is not
    "pla del penedes"."""
    if a.replace(" ", "") == b.replace(" ", ""):
        return True
    from rapidfuzz import fuzz

    ta = [t for t in a.split() if t not in _LINK_WORDS] or a.split()
    tb = [t for t in b.split() if t not in _LINK_WORDS] or b.split()
    if len(ta) == len(tb):
        return all(x == y or (len(x) == 1 or len(y) == 1) and x[0] == y[0] or fuzz.ratio(x, y) >= TOKEN_MIN
                   for x, y in zip(ta, tb))
    return fuzz.ratio("".join(ta), "".join(tb)) >= FUZZY_SQUASH_MIN


# words that begin an addition to a town's name: a river, a region, a lower / upper part
_ADDITION = frozenset({"nad", "pod", "an", "am", "im", "in", "bei", "ob", "sur", "sous", "sul", "sulla", "sullo",
                       "de", "del", "della", "di", "d", "en", "na", "upon", "on"})


def _extension(mention: str, form: str) -> bool:
    """The mention is the place's name plus an addition of two or three words that starts with
    a linking word ("mediana de aragon" / "mediana", "caravaca de la cruz" / "caravaca").
    Never the reverse: source coordinates geocoded from a short name often sit on a longer
    namesake ("El Burgo", Málaga, placed on El Burgo de Ebro; "Vila Real" on Vila Real de
    Santo António)."""
    if not mention.startswith(form + " ") or len(form) < 4:
        return False
    tail = mention[len(form) + 1:].split()
    return 1 < len(tail) <= 3 and tail[0] in _ADDITION


def _junk_variant(mention: str, form: str) -> bool:
    """True when ``mention`` is ``form`` plus short code tokens ("mioveni ag", "granze pd") or a
    token of ``form`` with an adjectival ending of at most 3 letters ("perechynska")."""
    tm, tf = mention.split(), form.split()
    if not tm or not tf:
        return False
    sf = set(tf)
    if sf <= set(tm):
        rest = [t for t in tm if t not in sf]
        # codes and articles only: never numbers or numerals ("Yaounde 6", "Bamenda I" are districts)
        # and never words that make another place ("New Kolkata")
        return bool(rest) and all(len(t) <= 3 and t.isalpha() and not _ROMAN.fullmatch(t) and t not in _NOT_JUNK
                                  for t in rest)
    if len(tm) == len(tf):
        diff = [(a, b) for a, b in zip(tm, tf) if a != b]
        return (len(diff) == 1 and len(diff[0][1]) >= 5 and diff[0][0].startswith(diff[0][1])
                and len(diff[0][0]) - len(diff[0][1]) <= 3)
    return False



def _fuzzy(ctx: _Ctx, outs: list[Out], lats: np.ndarray, lons: np.ndarray) -> None:
    from rapidfuzz import fuzz, process

    g = ctx.g
    todo = [i for i, o in enumerate(outs) if o.needs_fuzzy and len(o.norm_for_fuzzy.replace(" ", "")) >= FUZZY_MIN_LEN]
    with_xy = [i for i in todo if not (math.isnan(lats[i]) or math.isnan(lons[i]))]
    without = [i for i in todo if math.isnan(lats[i]) or math.isnan(lons[i])]
    cc_of = lambda o: ctx.i2.get(o.iso3) if o.iso3 else None

    # with coordinates: fuzzy among nearby places, then the very-near fallback
    for i in with_xy:
        o = outs[i]
        cc = cc_of(o)
        pos, d = g.near(lats[i], lons[i], FUZZY_COORD_KM, cc)
        if o.admin1 and o.id_admin1 and not o.extra.get("soft"):
            m = g.admin1[pos] == o.admin1
            pos, d = pos[m], d[m]
        if not len(pos):
            continue
        q = o.norm_for_fuzzy
        qa = _strip_article(q)
        # a spelling variant keeps its first letter ("Kropia"/"Koropí"); "Corvara"/"Corbara" are two
        # villages. Leading articles are compared without ("A Cañiza" / "La Cañiza" -> "caniza").
        pforms = [(g.key2[p_], g.norm[p_]) + g.alternates(p_) for p_ in pos.tolist()]
        forms, owner = [], []
        for k, fs in enumerate(pforms):
            for f in fs:
                if f[:1] == q[:1]:
                    forms.append((q, f))
                    owner.append(k)
                fa = _strip_article(f)
                if (fa is not f or qa is not q) and fa[:1] == qa[:1]:
                    forms.append((qa, fa))
                    owner.append(k)
        top = 0.0
        if forms:
            scores = np.array([fuzz.ratio(a, b) if _tokens_agree(a, b) else 0.0 for a, b in forms], dtype=np.float32)
            best_per = np.zeros(len(pos), dtype=np.float32)
            np.maximum.at(best_per, np.asarray(owner), scores)
            top = float(best_per.max())
        if top >= FUZZY_COORD_MIN:
            k = int(np.flatnonzero(best_per == top)[0])  # pos is sorted by distance: nearest first
            _fill(o, g, Pick("resolved", int(pos[k]), "fuzzy_coords", round(float(top), 1), float(d[k])), base=o.base)
            continue
        # abbreviated or without its linking words ("Montebello Sul S." / "Montebello sul Sangro",
        # "Cenate Sotto" / "Cenate di Sotto"): the nearest such place
        q_head = next((t for t in q.split() if t not in _LINK_WORDS), q)
        abbr = [k for k, fs in enumerate(pforms) if any(q_head in f and _abbreviates(q, f) for f in fs)]
        if abbr:
            k = abbr[0]
            _fill(o, g, Pick("resolved", int(pos[k]), "abbreviation_coords", 90.0, float(d[k])), base=o.base)
            continue
        # coordinates only: the nearest place within NEAREST_KM whose name is the mention's name
        # plus codes or an adjective ending ("Mioveni AG", "Prylisne AC", "Perechynska")
        # or whose name the mention extends with a region / river addition ("Mediana de Aragon")
        for k in np.flatnonzero(d <= NEAREST_KM).tolist():
            if any(_junk_variant(q, f) or _extension(q, f) for f in pforms[k]):
                _fill(o, g, Pick("resolved", int(pos[k]), "coordinates", 80.0, float(d[k])), base=o.base)
                break

    # without coordinates: batch per country
    by_cc: dict[str, list[int]] = {}
    for i in without:
        cc = cc_of(outs[i])
        if cc:
            by_cc.setdefault(cc, []).append(i)
    for cc, idx in sorted(by_cc.items()):
        choices = g.forms(cc)
        if not len(choices):
            continue
        queries = [outs[i].norm_for_fuzzy for i in idx]
        mat = process.cdist(queries, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_MIN - FUZZY_MARGIN,
                            dtype=np.uint8, workers=1)
        for row, i in enumerate(idx):
            o = outs[i]
            r = mat[row]
            top = int(r.max()) if len(r) else 0
            if top < FUZZY_MIN:
                continue
            # a 100 here would have matched exactly; forms within the margin make it ambiguous
            close = np.flatnonzero(r >= top - FUZZY_MARGIN)
            if len(close) != 1:
                continue
            form = choices[close[0]]
            q_ = o.norm_for_fuzzy
            squash_eq = q_.replace(" ", "") == form.replace(" ", "")
            if not squash_eq and not (len(q_) >= FUZZY_LONG and top >= FUZZY_LONG_MIN):
                continue  # short names one letter apart are usually different places
            pos, rank = ctx.g.lookup(cc, form, None)
            pk = ctx.select(pos, rank, admin1=o.admin1 if o.id_admin1 else None, allow_dominance=False, guard=True)
            if pk.status == "resolved":
                pk.method, pk.score = "fuzzy" + ("_admin1" if o.id_admin1 else ""), float(top)
                _fill(o, g, pk, base=o.base)


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


def resolve(mentions: pd.DataFrame, country_dict_path=None, gazetteer: Gazetteer | None = None,
            fast: bool = True) -> pd.DataFrame:
    """Resolve place mentions (see module docstring). Returns a frame on ``mentions.index``.
    ``fast=False`` sends every mention through the full rule path (for testing the fast path)."""
    t0 = time.perf_counter()
    g = gazetteer or load_gazetteer()
    ctx = _Ctx(g)
    n = len(mentions)
    col = lambda c: mentions[c] if c in mentions.columns else pd.Series(pd.NA, index=mentions.index)
    name = col("name").astype("string").fillna("")
    country = col("country").astype("string")
    admin1 = col("admin1").astype("string")
    lat = pd.to_numeric(col("latitude"), errors="coerce").astype(float).round(4)
    lon = pd.to_numeric(col("longitude"), errors="coerce").astype(float).round(4)
    ptype = col("place_type").astype("string")
    mpop = pd.to_numeric(col("population"), errors="coerce").astype(float)
    key = pd.DataFrame({"name": name.to_numpy(), "country": country.fillna("").to_numpy(),
                        "admin1": admin1.fillna("").to_numpy(), "lat": lat.to_numpy(), "lon": lon.to_numpy(),
                        "ptype": ptype.fillna("").to_numpy(), "pop": mpop.to_numpy()})
    codes, uniq = pd.factorize(pd.MultiIndex.from_frame(key.fillna({"lat": 999.0, "lon": 999.0, "pop": -1.0})))
    dk = pd.DataFrame(list(uniq), columns=["name", "country", "admin1", "lat", "lon", "ptype", "pop"])
    for c_ in ("lat", "lon"):
        dk.loc[dk[c_] == 999.0, c_] = np.nan
    dk.loc[dk["pop"] < 0, "pop"] = np.nan

    cinfo = resolve_country_field([c for c in dk["country"].unique() if c], country_dict_path)
    iso3 = dk["country"].map(cinfo["iso3"]).astype(object).where(lambda s: s.notna(), None)
    # an admin1 hint naming a territory GeoNames files as a country ("Réunion" beside "France"):
    # the territory is the country, and the hint is spent
    a1_distinct = pd.Series(dk["admin1"].unique())
    terr = dict(zip(a1_distinct, a1_distinct.map(lambda a: territory_names().get(normalise(a)) if a else None)))
    t_iso = dk["admin1"].map(terr)
    is_terr = t_iso.notna() & t_iso.ne(iso3)
    if is_terr.any():
        iso3 = iso3.where(~is_terr, t_iso)
        dk.loc[is_terr, "admin1"] = ""
    c_admin1 = dk["country"].map(cinfo["admin1_hint"]).astype(object)
    c_region = dk["country"].map(cinfo["region_hint"]).astype(object)
    lats = dk["lat"].to_numpy(dtype=float)
    lons = dk["lon"].to_numpy(dtype=float)
    pops = dk["pop"].to_numpy(dtype=float)

    outs: list[Out] = []
    iso3_l, cad_l, creg_l = iso3.tolist(), c_admin1.tolist(), c_region.tolist()
    names_l, a1_l, ty_l = dk["name"].tolist(), dk["admin1"].tolist(), dk["ptype"].tolist()
    pre = _fast(ctx, names_l, iso3_l, a1_l, cad_l, creg_l, ty_l, lats, lons) if fast else [None] * len(dk)
    n_fast = sum(o is not None for o in pre)
    for i, (nm, a1, ty) in enumerate(zip(names_l, a1_l, ty_l)):
        if pre[i] is not None:
            outs.append(pre[i])
            continue
        la, lo = lats[i], lons[i]
        outs.append(_resolve_one(
            ctx, nm, iso3_l[i], a1 or None,
            cad_l[i] if isinstance(cad_l[i], str) else None,
            creg_l[i] if isinstance(creg_l[i], str) else None,
            None if math.isnan(la) else la, None if math.isnan(lo) else lo, ty or None,
            None if math.isnan(pops[i]) or pops[i] <= 0 else float(pops[i])))
    abroad = _retry_abroad(ctx, outs, names_l, iso3_l, a1_l, cad_l, creg_l, ty_l, lats, lons, pops)
    lats, lons = np.where(abroad, np.nan, lats), np.where(abroad, np.nan, lons)
    t1 = time.perf_counter()
    _fuzzy(ctx, outs, lats, lons)
    _qualifier_conflicts(outs)
    t2 = time.perf_counter()

    res = _to_frame(ctx, outs, dk)
    res["coords_abroad"] = abroad
    out = res.iloc[codes].set_axis(mentions.index)
    out.attrs["timing"] = {"distinct": len(dk), "fast_path": n_fast, "mentions": n, "rules_s": round(t1 - t0, 3),
                           "fuzzy_s": round(t2 - t1, 3), "total_s": round(time.perf_counter() - t0, 3)}
    return out


def _retry_abroad(ctx: _Ctx, outs: list[Out], names_l, iso3_l, a1_l, cad_l, creg_l, ty_l, lats, lons, pops) -> np.ndarray:
    """Mentions left unresolved whose coordinates lie in another country (``etl.places.abroad``):
    resolved again without them. Returns the mask of those points (the ladder drops them too)."""
    abroad = np.zeros(len(outs), dtype=bool)
    for i, o in enumerate(outs):
        if o.method != "unresolved" or math.isnan(lats[i]) or math.isnan(lons[i]) or not iso3_l[i]:
            continue
        if not is_abroad(ctx.g, float(lats[i]), float(lons[i]), ctx.i2.get(iso3_l[i]), ctx.gazetteer_ccs):
            continue
        abroad[i] = True
        again = _resolve_one(
            ctx, names_l[i], iso3_l[i], a1_l[i] or None,
            cad_l[i] if isinstance(cad_l[i], str) else None, creg_l[i] if isinstance(creg_l[i], str) else None,
            None, None, ty_l[i] or None, None if math.isnan(pops[i]) or pops[i] <= 0 else float(pops[i]))
        if again.status == "resolved":
            again.method += ABROAD_SUFFIX
        outs[i] = again
    return abroad


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
