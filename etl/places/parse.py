"""Parsing of place-name strings before look-up: qualifiers, designators, source-specific forms.

``parse_name(name)`` splits a mention into a base name and a qualifier:

* US/Canada-style state suffix: "Los Angeles, CA" -> base "Los Angeles", state "CA"
  (any two capital letters after the last comma; the resolver checks them against the
  country's admin1 table);
* parentheses: "Encino (Los Angeles)" -> base "Encino", qualifier "Los Angeles",
  style "paren";
* comma: "Coventry, New York" -> base "Coventry", qualifier "New York", style "comma";
* spaced en/em dash: "Berlin – Charlottenburg-Wilmersdorf" -> base "Charlottenburg-Wilmersdorf",
  qualifier (the parent) "Berlin", style "dash";
* spaced hyphen or slash: "Sexten - Sesto", "Guesalaz / Gesalatz", "Andravida - Killini"
  (alternative names, or a joint municipality named after its places) -> base "Sexten",
  qualifier "Sesto", style "alt".

What a qualifier *is* (admin1 region, parent city, country, designator word such as
"(district)") is decided by the resolver, which has the gazetteer.

``designator_type(norm)`` tells from the (normalised) base name whether it names a
county, district, region or an association of municipalities rather than a city ("Los Angeles County", "Kreis Kleve",
"Rhein-Sieg-Kreis", "Gunma Prefecture", "Province of Rovigo") and returns the name with
the designator word removed ("los angeles", "kleve").

``port_name`` / ``metro_principal_city`` turn Schedule D port names and ITA metro names into
the name of the place to resolve.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from etl.places.gazetteer import normalise

_STATE_SUFFIX = re.compile(r"^(?P<base>.+?),\s*(?P<state>[A-Z]{2})\.?$")
_PAREN = re.compile(r"^(?P<base>.+?)\s*\((?P<q>[^()]+)\)\s*(?P<rest>.*)$")
_COMMA = re.compile(r"^(?P<base>[^,]+?)\s*,\s*(?P<q>.+?)\s*$")
# "Berlin – Charlottenburg-Wilmersdorf", "Budapest XI – Újbuda": parent city, dash, part
_DASH = re.compile(r"^(?P<q>[^–—]+?)\s+[–—]\s+(?P<base>.+?)\s*$")
# "Sexten - Sesto", "Guesalaz / Gesalatz", "Andravida - Killini": alternative or joint names
_ALT = re.compile(r"\s+(?:-|/)\s+")
_DISTRICT_NUMBER = re.compile(r"\s+(?:\d{1,2}|[IVXL]{1,6})\.?$")


@dataclass(frozen=True)
class ParsedName:
    base: str                 # name with the qualifier removed
    qualifier: str | None     # text removed ("Los Angeles", "New York", "district")
    style: str | None         # "state" | "paren" | "comma" | "dash" | "alt" | None
    state: str | None = None  # two-letter code from a ", XX" suffix


def clean_text(name) -> str:
    """Collapse whitespace (incl. NBSP), strip quotes and trailing punctuation."""
    if name is None or not isinstance(name, str):
        return ""
    s = name.replace("\u00a0", " ").replace("\ufffd", " ")
    s = re.sub(r"\s+", " ", s).strip().strip('"').strip()
    s = re.sub(r"[\s;:]+$", "", s)
    return s


def parse_name(name: str) -> ParsedName:
    s = clean_text(name)
    m = _STATE_SUFFIX.match(s)
    if m:
        base = m.group("base").strip()
        # "Washington, D.C." is not a state suffix ("D.C." has dots) -> handled below
        return ParsedName(base=base, qualifier=m.group("state"), style="state", state=m.group("state"))
    m = _PAREN.match(s)
    if m and not m.group("rest"):
        return ParsedName(base=m.group("base").strip(), qualifier=m.group("q").strip(), style="paren")
    m = _COMMA.match(s)
    if m:
        return ParsedName(base=m.group("base").strip(), qualifier=m.group("q").strip(), style="comma")
    m = _DASH.match(s)
    if m:
        return ParsedName(base=m.group("base").strip(), qualifier=m.group("q").strip(), style="dash")
    parts = [x.strip() for x in _ALT.split(s) if x.strip()]
    if len(parts) > 1:
        return ParsedName(base=parts[0], qualifier=" / ".join(parts[1:]), style="alt")
    return ParsedName(base=s, qualifier=None, style=None)


def alternatives(parsed: ParsedName) -> list[str]:
    """The names of an "alt"-style mention, in order ("Sexten - Sesto" -> ["Sexten", "Sesto"])."""
    if parsed.style != "alt" or not parsed.qualifier:
        return [parsed.base]
    return [parsed.base] + parsed.qualifier.split(" / ")


def strip_district_number(name: str) -> str:
    """'Budapest XI' -> 'Budapest', 'Prague 16' -> 'Prague', 'Vienna 17' -> 'Vienna'."""
    return _DISTRICT_NUMBER.sub("", name).strip()


# ---- designators -------------------------------------------------------------------
# qualifier words in parentheses / after a comma that say what kind of place it is
QUALIFIER_TYPES = {
    "district": "district", "kreis": "district", "landkreis": "district", "raion": "district",
    "rayon": "district", "county": "county", "region": "region", "province": "region",
    "prefecture": "region", "state": "region", "oblast": "region", "department": "region",
    "voivodeship": "region", "canton": "region",
    "city": "city", "town": "city", "village": "city", "municipality": "city", "commune": "city",
    "borough": "city", "community": "city", "urban gmina": "city", "town gmina": "city",
    "rural gmina": "district", "gmina": "district", "amt": "association", "verbandsgemeinde": "association",
    "samtgemeinde": "association", "arrondissement": "region", "parish": "district",
    "intercommunality": "association", "communaute de communes": "association",
}

_TYPE_PATTERNS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"^london borough of (?P<b>.+)$"), "district"),
    (re.compile(r"^(?:royal )?borough of (?P<b>.+)$"), "district"),
    (re.compile(r"^(?P<b>.+) (?:borough|district) council$"), "district"),
    (re.compile(r"^(?P<b>.+) county council$"), "county"),
    (re.compile(r"^arrondissement (?:de |d |of )?(?P<b>.+)$"), "region"),
    (re.compile(r"^(?P<b>.+) arrondissement$"), "region"),
    (re.compile(r"^(?P<b>.+) (?:county|parish)$"), "county"),
    (re.compile(r"^county (?P<b>.+)$"), "county"),
    (re.compile(r"^(?:land)?kreis (?P<b>.+)$"), "district"),
    (re.compile(r"^(?P<b>.+) (?:land)?kreis$"), "district"),
    (re.compile(r"^(?P<b>.+) (?:district|raion|rayon|okrug|ao)(?: municipality)?$"), "district"),
    (re.compile(r"^(?:district|raion) of (?P<b>.+)$"), "district"),
    (re.compile(r"^(?P<b>.+) (?:prefecture|province|provincia|oblast|governorate|department|"
                r"departement|voivodeship|region|canton|state|krai|kray)$"), "region"),
    (re.compile(r"^(?:province|provincia|provincie|prefecture|region|regione|departement|department|"
                r"canton) (?:of |di |de |del |du |de la |della )?(?P<b>.+)$"), "region"),
    # "State of Mexico", but never "State College" / "State Line": a leading "state" needs "of"
    (re.compile(r"^state of (?P<b>.+)$"), "region"),
    (re.compile(r"^(?P<b>.+) (?:metropolitan (?:area|region|council|borough)|regional council|"
                r"council of governments|metro area|urban area)$"), "region"),
]


_ASSOCIATION = re.compile(
    r"\b(?:unione|union of|comunita montana|comunidad de|mancomunidad|consorcio|consorzio|communaute|"
    r"communautes|aggregazione|associazione|association|asociacion|egyesulet|kozosseg|svazek obci|"
    r"mikroregion|agencia|agence|agenzia|agency|council of governments|regional council|utility district|"
    r"comarca|federation|federacion|comuni)\b")


# cheap pre-check: every word any of the patterns above needs
_ANY_DESIGNATOR = re.compile(
    r"\b(?:county|parish|kreis|landkreis|district|raion|rayon|okrug|ao|prefecture|province|provincia|"
    r"provincie|oblast|governorate|department|departement|voivodeship|region|regione|canton|state|krai|kray|"
    r"metropolitan|regional|council|metro|urban|borough|arrondissement|unione|union|comunita|comunidad|"
    r"mancomunidad|consorcio|consorzio|communaute|communautes|aggregazione|associazione|association|"
    r"asociacion|egyesulet|kozosseg|svazek|mikroregion|agencia|agence|agenzia|agency|utility|comarca|"
    r"federation|federacion|comuni)\b|kreis\b")


def designator_type(norm: str) -> tuple[str, str]:
    """(place_type, base) for a normalised name: ("county", "los angeles") for
    "los angeles county"; ("city", norm) when no designator is found."""
    if not _ANY_DESIGNATOR.search(norm):
        return "city", norm
    if _ASSOCIATION.search(norm):
        return "association", norm
    for pat, typ in _TYPE_PATTERNS:
        m = pat.match(norm)
        if m and m.group("b").strip():
            return typ, m.group("b").strip()
    return "city", norm


# ---- source-specific name forms -----------------------------------------------------------
_AIRPORT = re.compile(
    r"\b(?:international|intl\.?|int'l|regional|reg|municipal|metro(?:politan)?|county|"
    r"airport|airprt|airp|arpt|apt|field|ufa|ui|ups|fedex|dhl|tnt)\b\.?",
    re.I)
_AIRPORT_KEY = re.compile(r"(?i)\b(?:airport|airprt|airp|arpt|apt|intl|international airport)\b\.?")
_AIRPORT_ALIASES = {  # airports named after people: the city they serve
    "john f kennedy": "New York City", "jfk": "New York City", "la guardia": "New York City",
    "laguardia": "New York City", "logan": "Boston", "o hare": "Chicago", "ohare": "Chicago",
    "dulles": "Washington", "hartsfield": "Atlanta", "lambert": "St. Louis", "willard": "Champaign",
    "phila": "Philadelphia",
}
_ABBREV = {"phila.": "Philadelphia", "ft.": "Fort", "ft": "Fort", "pt.": "Port", "st.": "St.",
           "spartanbrg": "Spartanburg"}


def _known(name: str, cc: str, admin1: str | None) -> bool:
    """Does the gazetteer hold a place of this (primary or alternate) name in cc/admin1?"""
    from etl.places.gazetteer import designator_key, load_gazetteer

    g = load_gazetteer()
    n = normalise(name)
    if not n:
        return False
    pos, _ = g.lookup(cc, n, designator_key(n))
    if admin1:
        pos = pos[g.admin1[pos] == admin1]
    return len(pos) > 0


def _first_place(text: str, cc: str, admin1: str | None, pattern: str) -> str:
    """First place of a multi-place title ("Dallas/Ft. Worth", "Buffalo-Niagara Falls"), keeping
    hyphenated names the gazetteer knows ("Winston-Salem", "Wilkes-Barre")."""
    parts = [p.strip() for p in re.split(pattern, text) if p.strip()]
    if not parts:
        return text.strip()
    if len(parts) >= 2:
        joined = parts[0] + "-" + parts[1]
        if joined in text and _known(joined, cc, admin1):
            return joined
    return parts[0]


def port_name(port: str | None, state: str | None = None) -> tuple[str, str]:
    """(name to resolve, place_type) for a Schedule D port name (``state``: the port's state).

    "Los Angeles" -> ("Los Angeles", "city"); "Dallas/Ft. Worth" -> ("Dallas", "city");
    "Champlain-Rouses Point" -> ("Champlain", "city"); "Los Angeles Intl Airport" ->
    ("Los Angeles", "city"); "John F Kennedy Intl Airport" -> ("New York City", "city");
    "Anchorage Customs District n.e.c." -> ("Anchorage", "port_district"); "Low Value" ->
    ("", "pseudo")."""
    s = clean_text(port)
    if not s:
        return "", "pseudo"
    low = s.casefold()
    if re.search(r"(?i)low value|unknown|not specified|mail shipments", s):
        return "", "pseudo"
    if "n.e.c" in low or "customs district" in low:
        base = re.sub(r"(?i)\s*customs district.*$|\s*n\.e\.c\.?.*$", "", s).strip()
        return base, "port_district"
    s = re.sub(r"(?i)^(?:ups|fedex|dhl|tnt|ufa ui)\s+", "", s)  # courier facilities: "UPS Anchorage"
    words = [_ABBREV.get(w.casefold(), w) for w in s.split()]
    s = " ".join(words)
    cc, a1 = ("US", state) if state and state not in {"PR", "VI", "GU"} else ((state or "US"), None)
    first = _first_place(s, cc, a1, r"\s*/\s*|-")
    stripped = first
    ms = list(_AIRPORT_KEY.finditer(first))
    m = ms[-1] if ms else None
    if m:
        after = first[m.end():].strip(" .-")
        # "Valley Intl Airport Harlingen": the served city follows the airport words
        stripped = after if after and _known(after, cc, a1) else re.sub(r"\s+", " ", _AIRPORT.sub(" ", first[:m.end()] if after else first)).strip(" .-")
    key = normalise(stripped)
    for alias, city in _AIRPORT_ALIASES.items():
        if key == alias or key.startswith(alias + " ") or key.endswith(" " + alias):
            return city, "city"
    return (stripped or first), "city"


def metro_principal_city(msa_full_name: str | None) -> tuple[str, str | None, str]:
    """(first principal city, first state, place_type) of an ITA / Census metro title.

    "Los Angeles-Long Beach-Anaheim, CA" -> ("Los Angeles", "CA", "city");
    "Chicago-Naperville-Elgin, IL-IN-WI" -> ("Chicago", "IL", "city");
    "Winston-Salem, NC" -> ("Winston-Salem", "NC", "city");
    "Z-Non Metropolitan Areas" -> ("Z-Non Metropolitan Areas", None, "pseudo")."""
    s = clean_text(msa_full_name)
    if not s or s.startswith("Z-") or re.search(r"(?i)\b(non ?metropolitan|other metropolitan)\b", s):
        return s, None, "pseudo"
    name, _, states = s.rpartition(",")
    if not name:
        name, states = s, ""
    state = states.strip().split("-")[0].strip() or None
    cc, a1 = ("US", state) if state not in {"PR", "VI", "GU"} else (state, None)
    city = _first_place(name.strip(), cc, a1, r"--|-|/")
    city = re.sub(r"^Urban ", "", city)  # "Urban Honolulu" (a Census CDP name)
    return city, state, "city"
