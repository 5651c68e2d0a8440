"""One reader per raw source: ``read(path, source_id) -> SourceTable``.

``READERS`` maps each source id (as used in the source manifest) to its reader.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from . import (census_places, geonames_divisions, geonames_dump, geonames_postal)
from . import (bts_codebook, bts_dot1, bts_dot3, cdp_emissions, cdp_targets, ita_metro_exports_xlsx, bts_schedule_d, bts_texas_ports, census_cbsa, climactor_contextuals,
               climactor_country_dict, ita_metro_exports, twin_cities, wikidata_twins)
from .base import SourceError, SourceTable

Reader = Callable[[Path, str], SourceTable]

READERS: dict[str, Reader] = {
    "climactor_dec2022": climactor_contextuals.read,
    "climactor_sep2022": climactor_contextuals.read,
    "climactor_country_dict": climactor_country_dict.read,
    "twin_cities": twin_cities.read,
    "wikidata_twins_2017": wikidata_twins.read,
    "bts_dot1_201501": bts_dot1.read,
    "bts_dot1_monthly": bts_dot1.read,
    "bts_dot1_annual": bts_dot1.read,
    "bts_dot3_monthly": bts_dot3.read,
    "bts_dot3_annual": bts_dot3.read,
    "bts_codebook": bts_codebook.read,
    "ita_metro_exports_2005_2023": ita_metro_exports_xlsx.read,
    "bts_schedule_d": bts_schedule_d.read,
    "bts_texas_ports": bts_texas_ports.read,
    "ita_metro_exports": ita_metro_exports.read,
    "census_cbsa_2013": census_cbsa.read,
    "cdp_city_emissions": cdp_emissions.read,
    "cdp_city_targets": cdp_targets.read,
}

# place authorities: read by ``etl.places.authorities`` into one cached table, not by the fact steps
AUTHORITY_READERS: dict[str, Reader] = {
    "census_places_2010": census_places.read,
    "geonames_admin1": geonames_divisions.read,
    "geonames_admin2": geonames_divisions.read,
    "geonames_country_dumps": geonames_dump.read,
    "geonames_postal": geonames_postal.read,
}

__all__ = ["AUTHORITY_READERS", "READERS", "Reader", "SourceError", "SourceTable"]
