"""Place resolution over the real raw files (skipped unless RAW_MIRROR is set): the mentions
are the fact steps' own (``etl.places.measure.build_mentions``), resolved in one call as the
build does. Spot checks guard the known traps; the resolved shares are guarded against the
committed baseline by ``test_places_baseline.py``."""
from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import requires_mirror

pytestmark = requires_mirror


@pytest.fixture(scope="module")
def measured(mirror):
    from etl.places.measure import build_mentions
    from etl.places.resolver import resolve

    m, country_dict = build_mentions(mirror)
    r = resolve(m, country_dict_path=country_dict)
    return m, r, None


def test_los_angeles_everywhere(measured):
    m, r, _ = measured
    d = pd.concat([m, r[["geonames_id", "status"]]], axis=1)
    la = 5368361
    assert (d.loc[(d["source_id"] == "climactor_dec2022") & (d["name"] == "Los Angeles, CA"), "geonames_id"] == la).all()
    assert (d.loc[d["code"] == "2704", "geonames_id"] == la).all()
    assert (d.loc[d["raw_name"] == "Los Angeles-Long Beach-Anaheim, CA", "geonames_id"] == la).all()
    twin = d[(d["source_id"] == "twin_cities") & (d["name"] == "Los Angeles") & (d["country"] == "United States")]
    assert len(twin) and (twin["geonames_id"] == la).all()
    county = d[d["name"].isin(["Los Angeles County", "Los Angeles County, CA"])]
    assert len(county) and county["geonames_id"].isna().all()
    encino = d[d["name"] == "Encino (Los Angeles)"]
    assert len(encino) and (encino["geonames_id"] != la).all()


def test_known_traps(measured):
    m, r, _ = measured
    d = pd.concat([m, r[["geonames_id", "status", "method"]]], axis=1)
    burgas = d[(d["name"] == "Burgas") & (d["country"].isin(["Bulgaria", "BGR"]))]
    assert len(burgas) and (burgas["geonames_id"] == 732770).all()
    lagos_bg = d[(d["name"] == "Lagos") & (d["country"] == "BGR")]
    assert (lagos_bg["status"] != "resolved").all()
    bag = d[d["name"].isin(["Bağcılar", "Bagcilar"]) & d["country"].eq("Turkey")]
    assert len(bag) and (bag["geonames_id"] == 751324).all()
    # the alternate-name trap: no mention named El Paso resolves to Colorado Springs
    assert not ((d["name"].str.startswith("El Paso")) & (d["geonames_id"] == 5417598)).any()


def test_vintages_keep_their_ids(measured):
    """The same pledger in the Sep and Dec 2022 vintages gets the same city_id (accents differ)."""
    m, r, _ = measured
    d = pd.concat([m, r[["city_id"]]], axis=1)
    from etl.places.gazetteer import normalise
    d["key"] = d["name"].map(normalise) + "|" + d["country"].fillna("") + "|" + d["latitude"].round(3).astype(str)
    sep = d[d["source_id"] == "climactor_sep2022"].drop_duplicates("key").set_index("key")["city_id"]
    dec = d[d["source_id"] == "climactor_dec2022"].drop_duplicates("key").set_index("key")["city_id"]
    common = sep.index.intersection(dec.index)
    same = (sep[common] == dec[common]).mean()
    assert len(common) > 10_000 and same > 0.99, same
