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


def test_provisional_namesakes_far_apart_get_their_own_ids():
    # one provisional tuple, x-fra-lamentin, for points in Guadeloupe (16.27,-61.63), Martinique
    # (14.61,-61.00) twice, Guadeloupe again 3 km off; a Wikipedia-list mention without a point;
    # and a mention of a source without a limit, far away: it stays on the place
    sid = ["wikidata_twins_2017"] * 4 + ["twin_cities", "climactor_dec2022"]
    keys = pd.DataFrame({"source_id": sid, "first": [3, 0, 1, 2, 4, 5],
                         "latitude": [16.27, 14.61, 14.62, 16.29, np.nan, 40.0],
                         "longitude": [-61.63, -61.00, -61.01, -61.62, np.nan, 0.0]})
    resolved = pd.DataFrame({"status": pd.array(["unresolved"] * 6, dtype="string"),
                             "city_id": pd.array(["x-fra-lamentin"] * 6, dtype="string"),
                             "provisional_id": pd.array(["x-fra-lamentin"] * 6, dtype="string")})
    out, n = distance.split_provisional(keys, resolved)
    # Martinique's point comes first in mention order: it keeps the id
    assert list(out["city_id"]) == ["x-fra-lamentin-16p3n-61p6w", "x-fra-lamentin", "x-fra-lamentin",
                                    "x-fra-lamentin-16p3n-61p6w", "x-fra-lamentin", "x-fra-lamentin"]
    assert (out["provisional_id"] == out["city_id"]).all() and n == 2
    assert list(resolved["city_id"]) == ["x-fra-lamentin"] * 6  # input untouched


def test_resolved_and_close_mentions_are_not_split():
    keys = pd.DataFrame({"source_id": ["wikidata_twins_2017"] * 3, "latitude": [45.0, 45.1, 50.0],
                         "longitude": [12.0, 12.1, 12.0]})
    resolved = pd.DataFrame({"status": pd.array(["unresolved", "unresolved", "resolved"], dtype="string"),
                             "city_id": pd.array(["x-ita-a", "x-ita-a", "gn1"], dtype="string"),
                             "provisional_id": pd.array(["x-ita-a", "x-ita-a", "x-ita-a"], dtype="string")})
    out, n = distance.split_provisional(keys, resolved)
    assert n == 0 and out is resolved


def test_counties_and_regions_are_not_split():
    keys = pd.DataFrame({"source_id": ["climactor_dec2022", "wikidata_twins_2017"], "latitude": [25.6, 25.8],
                         "longitude": [-80.5, -80.2]})
    resolved = pd.DataFrame({"status": pd.array(["unresolved"] * 2, dtype="string"),
                             "place_type": pd.array(["county", "county"], dtype="string"),
                             "city_id": pd.array(["x-usa-fl-miami-dade-county"] * 2, dtype="string"),
                             "provisional_id": pd.array(["x-usa-fl-miami-dade-county"] * 2, dtype="string")})
    out, n = distance.split_provisional(keys, resolved)
    assert n == 0 and out is resolved
    _, n = distance.split_provisional(keys, resolved.assign(place_type="city"))
    assert n == 1
