"""The resolver's fuzzy last step (rules 6 and 7 of ``etl.places.resolver``).

Mentions the exact rules left without a match (``Out.needs_fuzzy``) are compared, in one batch
after every mention went through ``_resolve_one``, with places near their coordinates
(rapidfuzz ratio, every word agreeing; abbreviations; code tokens, adjectival endings and
region / river additions) or, without coordinates, with every name form of the country. The
step has its own tunables and name-comparison helpers, hence its own module.
"""
from __future__ import annotations

import math
import re

import numpy as np

from etl.places.candidates import Out, Pick, _Ctx, _fill

# ---- tunables (documented in the etl.places.resolver docstring) -------------------------------
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
