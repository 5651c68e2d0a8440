"""The distance rule (etl.places.distance) on hand-made points and a fake gazetteer."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from etl.places import distance


def test_haversine_known_distances():
    # Paris (Notre-Dame) - London (Charing Cross): about 344 km; one degree of latitude ~111.2 km
    km = distance.haversine_km([48.8530, 0.0, 10.0], [2.3499, 0.0, 20.0], [51.5074, 1.0, 10.0], [-0.1278, 0.0, 20.0])
    assert km[0] == pytest.approx(344, abs=2)
    assert km[1] == pytest.approx(111.19, abs=0.05)
    assert km[2] == 0.0


def test_haversine_missing_is_nan():
    assert np.isnan(distance.haversine_km([np.nan], [0.0], [1.0], [1.0])[0])


def frames():
    keys = pd.DataFrame({"source_id": ["wikidata_twins_2017", "wikidata_twins_2017", "twin_cities", "wikidata_twins_2017"],
                         "latitude": [45.97, 45.97, 45.97, np.nan], "longitude": [12.62, 12.62, 12.62, np.nan]})
    resolved = pd.DataFrame({
        "status": pd.array(["resolved"] * 4, dtype="string"),
        "method": pd.array(["exact_primary"] * 4, dtype="string"),
        "geonames_id": pd.array([1, 2, 2, 2], dtype="Int64"),
        "provisional_id": pd.array([f"x-ita-p{i}" for i in range(4)], dtype="string"),
        "city_id": pd.array(["gn1", "gn2", "gn2", "gn2"], dtype="string"),
    })
    # gn1 is 1 km from the point; gn2 (a namesake) is about 300 km away
    gaz = SimpleNamespace(gid=np.array([1, 2]), lat=np.array([45.98, 43.3]), lon=np.array([12.62, 12.62]))
    return keys, resolved, gaz


def test_far_match_downgraded_only_for_a_source_with_a_limit_and_coordinates():
    keys, resolved, gaz = frames()
    out, n = distance.apply_limits(keys, resolved, gaz)
    assert n == 1
    assert list(out["city_id"]) == ["gn1", "x-ita-p1", "gn2", "gn2"]
    assert out.loc[1, "status"] == "unresolved" and out.loc[1, "method"] == distance.METHOD
    assert pd.isna(out.loc[1, "geonames_id"])
    assert list(resolved["city_id"]) == ["gn1", "gn2", "gn2", "gn2"]  # input untouched


def test_limit_is_a_strict_bound():
    keys, resolved, gaz = frames()
    gaz.lat = np.array([45.97 + 24.9 / 111.19, 45.97 + 25.1 / 111.19])
    far = distance.too_far(keys.iloc[:2], resolved.iloc[:2], gaz.lat, gaz.lon)
    assert list(far) == [False, True]
