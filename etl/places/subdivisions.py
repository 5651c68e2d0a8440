"""GeoNames admin1 codes -> the subdivision's name and its ISO 3166-2 code.

``cities.admin1`` keeps GeoNames' admin1 code ("CA", "37", "05"); ``admin1_name`` is GeoNames'
name of that division (admin1CodesASCII.txt) and ``admin1_code`` the ISO 3166-2 code of the same
division from pycountry, **only where the two agree by name**: GeoNames' codes are not ISO's
(GeoNames JP.37 is Shizuoka, ISO JP-37 is Kagawa; Shizuoka is JP-22), so a code is never
carried across on its digits alone. A GeoNames division and a top-level ISO subdivision of the
same country are the same division when their names, designators dropped ("Shizuoka" /
"Shizuoka Prefecture"), are each other's best match at ``NAME_MIN`` or more (rapidfuzz
``ratio``: "Hesse" / "Hessen", "Andalusia" / "Andalucía"), or when the codes agree and the names
still score ``SAME_CODE_MIN`` ("US.CA" California / "US-CA" California). Names are compared in every spelling the reviewed
table of ``etl.places.admin1`` knows ("Bavaria" / "Bayern"). No agreement -> no ISO
code (null), never a guess.
"""
from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd

from etl.places.admin1 import _TABLE  # the reviewed local and English spellings of admin1 names

NAME_MIN = 85.0
SAME_CODE_MIN = 60.0
_DESIGNATOR = re.compile(r"\b(prefecture|province|provincia|region|state|land|oblast|county|governorate|department|"
                         r"autonomous community|autonomous region|city state|state of|municipality|shi|sheng|"
                         r"zizhiqu|to|fu|ken|do|voivodeship|krai|republic of|republic)\b")


def _clean(name: str) -> str:
    from etl.places.gazetteer import normalise
    return re.sub(r"\s+", " ", _DESIGNATOR.sub(" ", normalise(name))).strip() or normalise(name)


def iso_codes(admin1: pd.DataFrame) -> pd.DataFrame:
    """``admin1`` (cc, admin1, admin1_name) -> the same rows with ``admin1_code`` (ISO or NA)."""
    import pycountry
    from rapidfuzz import fuzz, process
    iso: dict[str, list] = {}
    for s in pycountry.subdivisions:
        if getattr(s, "parent_code", None) is None:
            iso.setdefault(s.country_code, []).append(s)
    out = admin1.copy()
    codes = [None] * len(out)
    for cc, grp in out.groupby("cc", sort=False):
        subs = iso.get(cc, [])
        if not subs:
            continue
        iso_names = [_clean(re.split(r"[,;\[(]", s.name)[0]) for s in subs]  # "Madrid, Comunidad de", "Galicia [Galiza]"
        table = _TABLE.get(cc, {})
        sim = None
        for k in range(1 + max((len(v) for v in table.values()), default=0)):  # GeoNames' name, then the known spellings
            names = [_clean(n if k == 0 else (table.get(c, [])[k - 1:k] or [n])[0])
                     for n, c in zip(grp["admin1_name"], grp["admin1"])]
            part = process.cdist(names, iso_names, scorer=fuzz.ratio)
            sim = part if sim is None else np.maximum(sim, part)
        best_iso, best_gn = sim.argmax(axis=1), sim.argmax(axis=0)
        for r, (pos, code) in enumerate(zip(grp.index, grp["admin1"])):
            j = int(best_iso[r])
            mutual = best_gn[j] == r and sim[r, j] >= NAME_MIN
            same = [k for k, s in enumerate(subs) if s.code.split("-", 1)[1] == code]
            if mutual:
                codes[out.index.get_loc(pos)] = subs[j].code
            elif same and sim[r, same[0]] >= SAME_CODE_MIN:
                codes[out.index.get_loc(pos)] = subs[same[0]].code
    out["admin1_code"] = pd.array(codes, dtype="string")
    return out


def admin1_lookup(path=None) -> pd.DataFrame | None:
    """cc, admin1 -> admin1_name, admin1_code, from the fetched GeoNames admin1 file (``path``, else
    the one under raw/; None when absent)."""
    from etl.fetch import local_paths
    if path is None:
        path = local_paths().get("geonames_admin1")
    return _lookup(str(path[0] if isinstance(path, list) else path)) if path is not None else None


@functools.cache
def _lookup(path: str) -> pd.DataFrame | None:
    from etl.places.authorities import admin1_table
    from etl.sources.geonames_divisions import read
    try:
        data = read(path, "geonames_admin1").data
    except (FileNotFoundError, OSError):
        return None
    return iso_codes(admin1_table(data).drop(columns="key"))
