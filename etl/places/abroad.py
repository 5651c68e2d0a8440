"""Coordinates that lie in another country: a source geocoded the place's namesake abroad.

Hand-made lists often geocode a name without its country: "Perth" (Australia) placed in
Scotland, "Santa Barbara" (Spain) in California, "Zufre" (Spain) in Ukraine, "Mendiolaza"
(Argentina) in the Philippines. Such a point says nothing about the place, and with it the
resolver finds no candidate in reach and leaves the mention unresolved although its name and
country are enough. A point is **abroad** when a gazetteer place lies within ``ABROAD_KM`` of
it and no place of the stated country within ``OWN_KM``, neither of the point as given nor of
the sign flips and swapped axes the resolver also tries (those are typing errors it corrects,
not namesakes). A point in the sea or far from any place says nothing either way and is kept.
Only mentions the resolver left unresolved with their coordinates are tested, and never those of a
source whose points a distance limit checks (``etl.places.distance``: Wikidata's are the place's); for them the
resolver and the authority ladder go on without the point (method suffix ``_coords_abroad``),
and ``cities`` takes the coordinates of the match.
"""
from __future__ import annotations

import math

from etl.places.candidates import typing_fixes

ABROAD_KM = 25.0   # the nearest place this close is of another country ...
OWN_KM = 60.0      # ... and no place of the stated country is this close
SUFFIX = "_coords_abroad"


def variants(lat: float, lon: float) -> list[tuple[float, float]]:
    """The point and the typing errors the resolver corrects (``candidates.typing_fixes``)."""
    return [(a, b) for a, b in [(lat, lon), *typing_fixes(lat, lon)] if abs(a) <= 90 and abs(b) <= 180]


def is_abroad(gazetteer, lat: float, lon: float, iso2: str | None, countries: set[str]) -> bool:
    """True when the point lies in another country than ``iso2`` and none of its typing-error
    variants lies in ``iso2`` (see the module docstring); ``countries``: the gazetteer's ISO2 codes."""
    if not iso2 or iso2 not in countries or lat is None or lon is None or math.isnan(lat) or math.isnan(lon):
        return False
    if not len(gazetteer.near(lat, lon, ABROAD_KM)[0]):  # the sea, a desert: no evidence where the point is
        return False
    return not any(len(gazetteer.near(a, b, OWN_KM, cc=iso2)[0]) for a, b in variants(lat, lon))
