"""The city_id policy.

Every fact in the package joins on ``city_id``. Ids are made so that they never depend on
row order, on which sources happen to be in a build, or on the spelling a source uses.

1. **A place matched to GeoNames** gets ``city_id = f"gn{geonames_id}"`` (e.g. Los Angeles
   is ``gn5368361``). GeoNames ids are stable, so this id is stable forever, whatever
   spelling ("Los Angeles, CA", "Los Angeles-Long Beach-Anaheim, CA", port 2704) led to it.

2. **A place the gazetteer lacks** (a county, an urban district, a village under 500
   inhabitants, an unresolved or ambiguous name) gets a *provisional* id built only from the
   mention itself::

       "x-" + iso3 + "-" + [admin1 + "-"] + [parent + "-"] + slug(base name) + ["-" + place_type]

   * ``iso3``: lower-case ISO3 of the country ("usa"; "unk" when the country is unknown);
   * ``admin1``: the GeoNames admin1 code of the region hint, lower-cased ("ca", "eng", "05",
     "mt" -- a code is never expanded like a name, so Montana stays "mt", not "mount"), only
     when the hint maps to a code (free-text state columns are left out so that spelling
     variants of a state do not split a place);
   * ``parent``: for a district whose parent city resolved, ``gn<parent geonames id>``
     ("Encino (Los Angeles)" -> parent ``gn5368361``), so the district id does not depend on
     how the parent is spelled;
   * ``slug(base name)``: ``normalise()`` of the name with its qualifier and designator
     removed (accents stripped, case folded, punctuation -> "-"). A qualifier the resolver
     could not read as a region, parent city, country or type word stays in the slug
     ("Stolberg (Rhineland)" -> ``x-deu-stolberg-rhineland``, "Stolberg (Südharz)" ->
     ``x-deu-stolberg-sudharz``): it is what tells namesakes apart. "A Bakonyért" (Sep 2022
     vintage) and "A Bakonyert" (Dec 2022) get the SAME id ``x-hun-a-bakonyert``; a name with
     no Latin letters gets ``u`` + 10 hex digits of the SHA-1 of its NFC form;
   * ``place_type``: appended unless the place is a city ("-county", "-district", "-region",
     "-port", "-port-district", "-metro", "-non-place"), so every id matches
     ``(gn[0-9]+|cb[0-9]{7}|pc-[a-z]{2}-[a-z0-9-]+|x-[a-z0-9-]+)``.

   Example: "Los Angeles County, CA" -> ``x-usa-ca-los-angeles-county``.

   **Collisions.** The id is a function of (iso3, admin1, parent, normalised base name,
   type): two mentions with the same tuple ARE the same provisional place (that is the
   definition of one). Different tuples can only print to the same string when a base name
   begins with a token that equals an admin1 code or a ``gn<digits>`` parent token (e.g.
   admin1 "ca" + "x" vs no admin1 + "ca x"). ``disambiguate`` detects this within a build and
   gives every member of such a group the suffix ``-h`` + 6 hex digits of the SHA-1 of its
   tuple: deterministic, independent of row order, and unique.

   **Namesakes apart.** Where a source gives points (Wikidata P190), mentions with one tuple
   may still be places far apart (two "Trougoumbé" in Mali, 97 km apart: both
   ``x-mli-trougoumbe``). ``etl.places.distance.split_provisional`` keeps the id for the place of
   its first point and gives a mention farther than its source's limit the id plus a tag of its
   point to 0.1 degree (``x-mli-trougoumbe-14p8n-10p0w``): deterministic, and stable while the
   source's point is.

3. **Redirects.** Every mention that resolves to GeoNames also carries the provisional id
   it would have had without the gazetteer match. The ``city_redirects`` table maps each
   such ``old_city_id`` to its ``city_id``, so that when a place that used to be provisional
   is matched to GeoNames in a later release (a better gazetteer, a fixed spelling), links to
   its old id still work. A provisional id is only redirected when (a) every resolved
   mention carrying it went to the same GeoNames place (an ambiguous old id such as
   ``x-usa-springfield`` is not redirected anywhere) and (b) it is not itself a live city_id
   in the same release.
"""
from __future__ import annotations

import functools
import hashlib
import re
import unicodedata

import pandas as pd

from etl.places.gazetteer import normalise

CITY = "city"


def geonames_city_id(geonames_id) -> str:
    return f"gn{int(geonames_id)}"


_CODE_CHARS = re.compile(r"[^a-z0-9]+")


def code_slug(code) -> str:
    """Slug of an admin1 code: lower case, punctuation -> '-', never the name expansions of
    ``normalise`` ("MT" -> "mt", not "mount"; "ST" -> "st")."""
    return _CODE_CHARS.sub("-", str(code).casefold()).strip("-")


@functools.lru_cache(maxsize=None)
def slug(text) -> str:
    """URL-safe slug of a place name: normalise(), spaces -> '-'; a hash for non-Latin names."""
    n = normalise(text) if isinstance(text, str) else ""
    if n:
        return n.replace(" ", "-")
    raw = unicodedata.normalize("NFC", text if isinstance(text, str) else "")
    return "u" + hashlib.sha1(raw.encode("utf-8")).hexdigest()[:10]


def provisional_id(iso3: str | None, base_name: str, admin1: str | None = None, parent: str | None = None,
                   place_type: str | None = CITY) -> str:
    parts = ["x", (iso3 or "unk").lower()]
    if admin1:
        parts.append(code_slug(admin1))
    if parent:
        parts.append(str(parent).lower())
    parts.append(slug(base_name))
    if place_type and place_type != CITY:
        parts.append(place_type.replace("_", "-"))  # ids match (gn[0-9]+|cb[0-9]{7}|pc-[a-z]{2}-[a-z0-9-]+|x-[a-z0-9-]+)
    return "-".join(parts)


def id_tuple(iso3, base_name, admin1=None, parent=None, place_type=CITY) -> tuple:
    return ((iso3 or "unk").lower(), code_slug(admin1) if admin1 else "", str(parent or "").lower(),
            slug(base_name), place_type or CITY)


def disambiguate(frame: pd.DataFrame, id_col: str = "provisional_id", tuple_col: str = "id_tuple") -> pd.Series:
    """Ids with string collisions between different tuples made unique (see module docstring)."""
    ids = frame[id_col]
    tuples = frame[tuple_col].map(lambda t: "\x1f".join(t))
    n_tuples = tuples.groupby(ids).transform("nunique")
    clash = n_tuples > 1
    if not clash.any():
        return ids.copy()
    out = ids.copy()
    out[clash] = [f"{i}-h{hashlib.sha1(t.encode('utf-8')).hexdigest()[:6]}" for i, t in zip(ids[clash], tuples[clash])]
    return out
