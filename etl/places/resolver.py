"""Resolve place mentions to GeoNames places.

``resolve(mentions)`` takes a frame with ``name`` and ``country`` (ISO2, ISO3 or any name,
also "Region, Country"), optional ``admin1``, ``latitude``, ``longitude`` and ``place_type``,
and returns, on the same index (the frame is built by ``etl.places.output``):

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
   is resolved without the machinery below; it gives the same answer (tested;
   ``etl.places.fast_path``).
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
   without coordinates to confirm become ambiguous ("qualifier_conflict", a last pass in
   ``etl.places.output``).
4. Candidates = places of the same country whose primary or alternate names match the
   normalised name, ranked: primary < primary designator-stripped < alternate < alternate
   designator-stripped. Filters, in order (``_Ctx.select`` in ``etl.places.candidates``):
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
6. Fuzzy (``etl.places.fuzzy``; rapidfuzz ratio, names of 5+ letters, same country): with
   coordinates, the best match >= 90 among places within 10 km sharing the first letter, also
   compared without a leading article ("Masnou" / "El Masnou", "A Cañiza" / "La Cañiza"), and
   only when every word agrees (``_tokens_agree``: "Pacs del Penedès" is not "el Pla del Penedès")
   ("fuzzy_coords"); else the nearest such place whose name the mention abbreviates or
   writes without its linking words ("Montebello Sul S.", "Cenate Sotto" / "Cenate di
   Sotto": "abbreviation_coords"); without coordinates only names equal once spaces and
   hyphens are removed, or names of 12+ letters at >= 95, unique in the country and with no
   other form within 2 points ("fuzzy").
7. Coordinates only: the nearest place within 5 km whose name is the mention's name plus
   code tokens / articles ("Mioveni AG", "El Palomar" -> "Palomar") or with an adjectival
   ending ("Perechynska" -> "Perechyn"), or which the mention extends by a region or river
   ("Mediana de Aragón" -> Mediana, "Caravaca de la Cruz" -> Caravaca; never the reverse:
   coordinates geocoded from "El Burgo" sit on El Burgo de Ebro) ("coordinates"; also in
   ``etl.places.fuzzy``).

Code: this module is the orchestration, ``resolve`` (distinct keys, country field, fast path,
the rules per mention, the retry without coordinates abroad, fuzzy step, output) and
``_resolve_one`` (rules 1-5 for one mention). Candidate selection, its tunables and the
per-mention record are in ``etl.places.candidates``, rule 0 in ``etl.places.fast_path``, rules
6-7 in ``etl.places.fuzzy``, the qualifier-conflict pass and the output frame in
``etl.places.output``.
"""
from __future__ import annotations

import math
import re
import time

import numpy as np
import pandas as pd

from etl.places import ids as idmod
from etl.places.admin1 import US_TERRITORIES, admin1_code, us_state_codes
from etl.places.abroad import SUFFIX as ABROAD_SUFFIX, is_abroad
from etl.places.candidates import Out, _Ctx, _fill
from etl.places.countries import iso2_to_iso3, resolve_country_field, territory_names
from etl.places.distance import limits
from etl.places.fast_path import _fast
from etl.places.fuzzy import _fuzzy
from etl.places.fuzzy import _strip_article, _tokens_agree  # noqa: F401  (re-exported for the tests)
from etl.places.gazetteer import Gazetteer, designator_key, load_gazetteer, normalise
from etl.places.output import _qualifier_conflicts, _to_frame
from etl.places.parse import (QUALIFIER_TYPES, ParsedName, alternatives, clean_text, designator_type, parse_name,
                               strip_district_number)

# ---- tunables (documented in the module docstring; the selection and fuzzy ones live in
# etl.places.candidates and etl.places.fuzzy) ------------------------------------------------
PARENT_RADIUS_KM = 50.0      # district (or village of a merged municipality) vs its parent city

# "Rottenburg am Neckar" -> "rottenburg": river / region additions to a town name
_HEAD = re.compile(r" (?:am|an der|an den|im|in der|ob der|bei|upon|on|sur|sous|sul|sulla|nad|pod|na) ")


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
    # a source whose points a distance limit checks (Wikidata) states where its place is: never dropped
    trusted = np.zeros(len(dk), dtype=bool)
    np.logical_or.at(trusted, codes, ~np.isnan(limits(col("source_id"))))
    abroad = _retry_abroad(ctx, outs, names_l, iso3_l, a1_l, cad_l, creg_l, ty_l, np.where(trusted, np.nan, lats),
                           lons, pops)
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
