"""Places: the gazetteer, name parsing, resolution of mentions to GeoNames, and the city_id policy.

Public API:

* ``etl.places.countries.to_iso3(values, country_dict_path=None) -> dict[str, str | None]``
* ``etl.places.gazetteer.normalise(name) -> str``, ``load_gazetteer() -> Gazetteer``
* ``etl.places.resolver.resolve(mentions) -> DataFrame``
* ``etl.places.ids``: ``provisional_id``, ``geonames_city_id`` (module docstring = the policy)
* ``etl.steps.places.build_places(mentions) -> PlacesResult``

Measuring: ``python -m etl.places.measure --mirror <dir>`` (shares per source, precision and
recall on the labelled sample via ``etl.places.precision``, timings).
"""
