"""Trade flows of US ports and metro areas from three sources, kept side by side (never summed).

* ``bts_dot1_201501`` (BTS TransBorder, January 2015): one source row per state x port x mode x
  Mexican state/Canadian province, so rows are summed to port x partner x flow x mode x month
  (value, weight, freight; the merged source rows listed in ``source_row``).
* ``bts_texas_ports`` (annual 1993-2025, Texas ports with Mexico): one row per source row.
* ``ita_metro_exports`` (metro x year, exports to all partners "WLD", 2012-2021).

Overlaps (why users must filter on ``source_id`` before summing): Texas ports in 2015 are in
both BTS files (monthly vs annual grain); ITA metro exports include the same goods as the
port figures. The reconciliation in the step report compares the two BTS files.

Places: ports are named from Schedule D (``bts_schedule_d``), with a reviewed override for
names that are not city names (``etl/vocab/port_cities.csv``: airports, two-city names,
neighbourhoods). District "n.e.c." buckets ("23XX"), the low-value bucket ("70XX") and the
ITA pseudo-metros ("Z-...") are declared as non-city places so no city is credited with them.
Metros are matched to 2013 CBSA codes by title (``census_cbsa_2013``) and resolved to their
first-named principal city.

Weights: the Texas file's ``Weight`` is metric tonnes, not kg (the reader calls it
``weight_kg``): ``WeightLb`` = ``Weight`` x 2.2046 (so thousands of pounds), and Laredo's truck
imports weigh 1.26e9 kg in January 2015 in dot1 against "17,485,860.66" for all of 2015.
Stored here as ``round(Weight * 1000)`` kg.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.steps import trade_commodity, trade_coverage
from etl.steps.base import StepOutput
from etl.paths import VOCAB
from etl.sources.base import (SourceError, SourceTable, default_source_file, empty_exclusions, make_exclusions,
                              release_memory)

RESOURCE = "trade_flows"
DOT1, SCHEDULE_D, TEXAS, ITA, CBSA = ("bts_dot1_201501", "bts_schedule_d", "bts_texas_ports",
                                      "ita_metro_exports", "census_cbsa_2013")
DOT1_MONTHLY, DOT1_ANNUAL = "bts_dot1_monthly", "bts_dot1_annual"
DOT1_SOURCES = (DOT1, DOT1_MONTHLY, DOT1_ANNUAL)
ANNUAL_DOT1 = frozenset({DOT1_ANNUAL, "bts_dot3_annual"})  # year-grain BTS sets
ITA_2005 = "ita_metro_exports_2005_2023"
ITA_SOURCES = (ITA, ITA_2005)
TRADE_SOURCES = (*DOT1_SOURCES, TEXAS, *ITA_SOURCES)
PORT_CITIES = VOCAB / "port_cities.csv"
COUNTRY = "USA"
# US territories are their own countries in GeoNames (San Juan is in PR, not US).
TERRITORIES = {"PR": "PRI", "VI": "VIR", "GU": "GUM", "AS": "ASM", "MP": "MNP"}
TEXAS_STATE = "TX"  # the Texas file has no state column: every port in it is in Texas
TEXAS_TONNES_TO_KG = 1000
TEXAS_MODES = {
    "Air": "air", "Foreign Trade Zones (FTZs)": "foreign_trade_zone", "Mail (U.S. Postal Service)": "mail",
    "Other/Unknown": "other", "Pipeline": "pipeline", "Rail": "rail", "Truck": "truck", "Vessel": "vessel",
}
LOW_VALUE_NAME = "Low value shipments"
UNKNOWN_DISTRICT_NAME = "Unknown customs district"
# Reconciliation: the Texas ports and year both BTS files cover.
OVERLAP_YEAR = 2015

OUTPUT_DTYPES = {
    "source_id": "string", "source_row": "string", "source_file": "string", "city_id": "string", "geography_type": "string",
    "geography_code": "string", "geography_name": "string", "partner_country_iso3": "string", "flow": "string",
    "mode": "string", "period_start": "datetime64[ns]", "period_end": "datetime64[ns]", "year": "Int64", "value_usd": "Int64",
    "suppressed": "bool", "rounded": "bool", "partial_period": "bool", "shipping_weight_kg": "Int64",
    "freight_charges_usd": "Int64",
}
MENTION_DTYPES = {
    "source_id": "string", "source_row": "Int64", "role": "string", "raw_name": "string",
    "name": "string", "country": "string", "admin1": "string", "latitude": "Float64",
    "longitude": "Float64", "population": "Int64", "population_year": "Int64",
    "area_km2": "Float64", "place_type": "string", "code": "string", "code_type": "string",
}
# Internal columns of a planned fact row, besides OUTPUT_DTYPES: the mention it points to.
MENTION_KEY = ["mention_source_row", "role"]


def _empty(dtypes: dict) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes.items()})


# --------------------------------------------------------------------------- vocabularies

@functools.cache
def port_city_overrides() -> pd.DataFrame:
    """The reviewed port -> city overrides (port_code, city_name, state, reason, and the port's
    latitude/longitude where the name alone is ambiguous: two places of that name in the state)."""
    frame = pd.read_csv(PORT_CITIES, dtype="string", keep_default_na=False)
    if list(frame.columns) != ["port_code", "city_name", "state", "reason", "latitude", "longitude"]:
        raise ValueError(f"{PORT_CITIES}: unexpected header {list(frame.columns)}")
    for c in ("latitude", "longitude"):
        frame[c] = pd.to_numeric(frame[c].replace("", pd.NA)).astype("Float64")
    if frame["port_code"].duplicated().any():
        raise ValueError(f"{PORT_CITIES}: duplicate port codes {sorted(frame.loc[frame['port_code'].duplicated(), 'port_code'])}")
    return frame


# US principal cities whose own name has a hyphen. In 2013 CBSA titles such names are set off
# by "--" ("Scranton--Wilkes-Barre--Hazleton, PA"); single-city titles and the ITA's titles use
# plain hyphens, so these are needed to read "Winston-Salem, NC" as one city (a mirror test checks
# the list against the gazetteer's hyphenated US city names that occur in the titles).
HYPHENATED_CITIES = frozenset({"Winston-Salem", "Wilkes-Barre", "Arden-Arcade"})
# GeoNames also has these hyphenated names, but the city other sources mean is the first part
# ("Lexington-Fayette, KY" is Lexington, gn4297983, as the pledge and twin-city lists say).
SPLIT_DESPITE_GEONAMES = frozenset({"Lexington-Fayette"})


def split_metro_title(title: str) -> tuple[list[str], list[str]]:
    """Cities and states of a metro title: "Scranton--Wilkes-Barre--Hazleton, PA" -> 3 cities, ["PA"]."""
    city_part, _, state_part = title.rpartition(", ")
    if not city_part:
        return [title.strip()], []
    states = [s.strip() for s in state_part.split("-") if s.strip()]
    if "--" in city_part:
        return [c.strip() for c in city_part.split("--")], states
    parts = [p.strip() for p in city_part.split("-")]
    cities, i = [], 0
    while i < len(parts):
        for j in range(len(parts), i + 1, -1):  # longest hyphen-joined run that is one city
            if "-".join(parts[i:j]) in HYPHENATED_CITIES:
                cities.append("-".join(parts[i:j]))
                i = j
                break
        else:
            cities.append(parts[i])
            i += 1
    return cities, states


def principal_city_name(city: str) -> str:
    """The resolvable name of a title's city: "Louisville/Jefferson County" -> "Louisville" (a
    consolidated city written with its county), "Urban Honolulu" -> "Honolulu" (the Census CDP name)."""
    city = city.split("/")[0].strip()
    return re.sub(r"^Urban\s+", "", city)


@functools.lru_cache(maxsize=None)
def normalise_title(text: str) -> str:
    """Accents stripped, case folded, punctuation to spaces ("Mayagüez, PR" == "Mayaguez, PR")."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", " ", text.casefold()).strip()


# --------------------------------------------------------------------------- CBSA matching

MATCH_METHODS = ("title", "first_city_state", "shared_city_state")


def match_cbsa(metro_names: pd.Series, cbsa: pd.DataFrame | None) -> pd.DataFrame:
    """CBSA code per ITA metro name: exact normalised title, else same first city and first state,
    else one shared city in the first state. A code goes to one metro only: a stronger match wins,
    and metros tied at one level for one code all stay unmatched (reported, not guessed).

    Returns metro_name, cbsa_code (<NA> when none), cbsa_title, method.
    """
    names = list(pd.unique(metro_names.dropna()))
    found: dict[str, tuple[str, str, str]] = {}
    if cbsa is not None and not cbsa.empty:
        titles = (cbsa[["cbsa_code", "cbsa_title", "area_type"]].dropna(subset=["cbsa_code", "cbsa_title"])
                  .drop_duplicates(["cbsa_code"]).sort_values("cbsa_code"))
        title_of = dict(zip(titles["cbsa_code"], titles["cbsa_title"]))
        metro = set(titles.loc[titles["area_type"].fillna("").str.startswith("Metropolitan"), "cbsa_code"])
        index: list[dict] = [{}, {}, {}]
        for code, title in title_of.items():
            cities, states = split_metro_title(title)
            first_state = states[0] if states else ""
            index[0].setdefault(normalise_title(title), []).append(code)
            index[1].setdefault((normalise_title(cities[0]), first_state), []).append(code)
            for c in cities:
                for s in states:
                    index[2].setdefault((normalise_title(c), s), []).append(code)

        def keys(name: str, level: int) -> list:
            cities, states = split_metro_title(name)
            first_state = states[0] if states else ""
            if level == 0:
                return [normalise_title(name)]
            if level == 1:
                return [(normalise_title(cities[0]), first_state)]
            return [(normalise_title(c), first_state) for c in cities]

        claimed: set[str] = set()
        for level, method in enumerate(MATCH_METHODS):
            proposals = {}
            for name in names:
                if name in found or name.startswith("Z-"):
                    continue
                hit = sorted({c for k in keys(name, level) for c in index[level].get(k, [])} - claimed)
                if len(hit) > 1 and sum(c in metro for c in hit) == 1:  # ITA metros are metropolitan areas
                    hit = [c for c in hit if c in metro]
                if len(hit) == 1:
                    proposals[name] = hit[0]
            counts = pd.Series(list(proposals.values()), dtype="string").value_counts()
            for name, code in proposals.items():
                if counts[code] == 1:
                    found[name] = (code, title_of[code], method)
            claimed |= set(proposals.values())
    return pd.DataFrame({
        "metro_name": pd.Series(names, dtype="string"),
        "cbsa_code": pd.Series([found.get(n, (pd.NA,))[0] for n in names], dtype="string"),
        "cbsa_title": pd.Series([found[n][1] if n in found else pd.NA for n in names], dtype="string"),
        "method": pd.Series([found[n][2] if n in found else "unmatched" for n in names], dtype="string"),
    })


# --------------------------------------------------------------------------- planning

@dataclass
class Plan:
    """Fact rows (with the mention each points to), mentions, exclusions and figures for one build."""

    rows: pd.DataFrame
    mentions: pd.DataFrame
    exclusions: list[pd.DataFrame] = field(default_factory=list)
    report: dict = field(default_factory=dict)


def _month_end(start: pd.Series) -> pd.Series:
    return (start + pd.offsets.MonthEnd(0)).astype("datetime64[ns]")


def _year_bounds(year: pd.Series) -> tuple[pd.Series, pd.Series]:
    y = year.astype("int64").to_numpy()
    start = pd.to_datetime(pd.DataFrame({"year": y, "month": 1, "day": 1}))
    end = pd.to_datetime(pd.DataFrame({"year": y, "month": 12, "day": 31}))
    return start.set_axis(year.index).astype("datetime64[ns]"), end.set_axis(year.index).astype("datetime64[ns]")


def _country(state: pd.Series) -> pd.Series:
    return state.map(TERRITORIES).fillna(COUNTRY).astype("string")


def _admin1(state: pd.Series) -> pd.Series:
    return state.mask(state.isin(list(TERRITORIES))).astype("string")


def _schedule_d(tables: dict[str, SourceTable]) -> pd.DataFrame | None:
    table = tables.get(SCHEDULE_D)
    return None if table is None else table.data


def classify_ports(codes: pd.Series, schedule_d: pd.DataFrame) -> pd.DataFrame:
    """One row per port code: geography type, names and the place mention fields.

    Schedule D decides what a code is: district "Low Value" -> low-value bucket (not a place);
    district "Unknown" -> a district bucket of no known district (not a place); a code ending
    "XX" -> district "n.e.c." bucket; anything else a port, named by the override file where its
    Schedule D name is not a city name.
    """
    codes = pd.Series(pd.unique(codes.dropna()), dtype="string", name="port_code")
    sd = schedule_d.drop_duplicates("port_code")
    ports = pd.DataFrame({"port_code": codes}).merge(sd[["port_code", "port_name", "district_name", "state"]],
                                                     on="port_code", how="left")
    low_value = ports["district_name"].eq("Low Value").fillna(False)
    unknown = ports["district_name"].eq("Unknown").fillna(False) & ~low_value
    district = ports["port_code"].str.endswith("XX") & ~low_value & ~unknown
    ports["geography_type"] = np.select([low_value, unknown | district], ["low_value_bucket", "port_district"], "port")
    ports["place_type"] = np.select([low_value | unknown, district], ["non_place", "port_district"], "port")

    over = port_city_overrides().rename(columns={"city_name": "override_city", "state": "override_state"})
    ports = ports.merge(over[["port_code", "override_city", "override_state", "latitude", "longitude"]]
                        .rename(columns={"latitude": "port_latitude", "longitude": "port_longitude"}),
                        on="port_code", how="left")
    is_port = ports["geography_type"] == "port"
    ports["mention_name"] = (ports["port_name"].where(~(is_port & ports["override_city"].notna()), ports["override_city"])
                             .mask(low_value, LOW_VALUE_NAME).mask(unknown, UNKNOWN_DISTRICT_NAME))
    state = ports["state"].where(~(is_port & ports["override_city"].notna()), ports["override_state"])
    ports["admin1"] = _admin1(state).mask(low_value | unknown)
    ports["country"] = _country(state)
    ports["overridden"] = is_port & ports["override_city"].notna()
    return ports.astype({c: "string" for c in ["port_code", "port_name", "district_name", "state", "geography_type",
                                               "place_type", "mention_name", "admin1", "country"]})


def _coordinate(m: pd.DataFrame, axis: str) -> pd.Series:
    """The source's own coordinate of a port (Texas file), else the reviewed override's."""
    own = m[axis].astype("Float64") if axis in m else pd.Series(pd.NA, index=m.index, dtype="Float64")
    return own.fillna(m[f"port_{axis}"].astype("Float64"))


def _port_mentions(source_id: str, first_rows: pd.DataFrame, ports: pd.DataFrame) -> pd.DataFrame:
    """One mention per port code, at the first source row naming it."""
    m = first_rows.merge(ports, on="port_code", how="left", validate="one_to_one")
    return pd.DataFrame({
        "source_id": source_id, "source_row": m["source_row"].astype("Int64"), "role": "port",
        "raw_name": m["raw_name"], "name": m["mention_name"], "country": m["country"], "admin1": m["admin1"],
        "latitude": _coordinate(m, "latitude"), "longitude": _coordinate(m, "longitude"), "population": pd.NA,
        "population_year": pd.NA, "area_km2": pd.NA, "place_type": m["place_type"], "code": m["port_code"],
        "code_type": "schedule_d_port",
    }).astype(MENTION_DTYPES)


def _joined_rows(rows: np.ndarray, group: np.ndarray) -> pd.arrays.StringArray:
    """Per group 0..n-1 (each present): its ``rows`` in ascending order, ';'-joined (by Arrow: no
    Python str per row)."""
    order = np.lexsort((rows, group))
    starts = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0]) if len(rows) else np.array([], dtype=np.int64)
    lists = pa.LargeListArray.from_arrays(pa.array(np.r_[starts, len(rows)], pa.int64()),
                                          pc.cast(pa.array(rows[order]), pa.string()))
    return pd.array(pc.binary_join(lists, ";").to_numpy(zero_copy_only=False), dtype="string")


def _plan_dot1(tables: dict[str, SourceTable], source_id: str = DOT1, extra_keys: tuple = ()) -> Plan | None:
    """One dot1 source (a file or a set) summed to port x partner x flow x mode x period per file.

    Summed away: US state (USASTATE: where the goods came from or go to), Mexican state /
    Canadian province (MEXSTATE/CANPROV), DF (domestic or foreign goods, exports only) and
    CONTCODE (containerised or not): dimensions no other trade source has, which only split a
    port's trade. The port mention's ``source_row`` is the row's position in the stacked files
    (unique in a set; an internal link to the place, never published).
    """
    table = tables.get(source_id)
    if table is None:
        return None
    data = table.data
    sd = _schedule_d(tables)
    exclusions = []
    if sd is None:
        reason = f"{SCHEDULE_D} not loaded: the port cannot be named or placed"
        exclusions.append(make_exclusions(source_id, data, reason))
        return Plan(rows=pd.DataFrame(), mentions=_empty(MENTION_DTYPES), exclusions=exclusions,
                    report={"skipped": reason})
    keys = ["source_file", "port_code", *extra_keys, "partner_country_iso3", "flow", "mode", "period_start"]
    figures = ["value_usd", "shipping_weight_kg", "freight_charges_usd"]
    position = pd.Series(np.arange(1, len(data) + 1), index=data.index, dtype="Int64")
    known = data["port_code"].isin(sd["port_code"]).to_numpy(dtype=bool)
    data = data[["source_file", "source_row", *keys[1:], *figures]].assign(position=position)
    if not known.all():
        exclusions.append(make_exclusions(source_id, data.loc[~known, ["source_file", "source_row", "port_code"]],
                                          "port code not in Schedule D: "
                                          + data.loc[~known, "port_code"].astype(str).map(repr)))
        data = data.loc[known]
    ports = classify_ports(data["port_code"], sd)

    # Groups numbered in key order; every figure is summed per group number (one grouping by keys).
    group = data.groupby(keys, sort=True, dropna=False, observed=True).ngroup().to_numpy()
    agg = data[keys].iloc[np.unique(group, return_index=True)[1]].reset_index(drop=True)
    sums = data[figures].groupby(group).sum()
    # A sum over rows of which some lack the figure would understate it: null instead.
    missing = data[figures].isna().groupby(group).any()
    for col in figures:
        agg[col] = sums[col].astype("Int64").mask(missing[col]).to_numpy()
    agg["n_rows"] = np.bincount(group)
    agg["source_row"] = _joined_rows(data["source_row"].to_numpy(dtype="int64"), group)
    agg = agg.merge(ports, on="port_code", how="left", validate="many_to_one")
    first_at = data.groupby("port_code", sort=True, observed=True)["position"].idxmin()
    first = pd.DataFrame({"port_code": first_at.index.astype("string"),
                          "mention_source_row": data.loc[first_at.to_numpy(), "position"].to_numpy()})
    agg = agg.merge(first, on="port_code", how="left", validate="many_to_one")
    annual = source_id in ANNUAL_DOT1
    period_end = (_year_bounds(agg["period_start"].dt.year)[1] if annual else _month_end(agg["period_start"]))

    rows = pd.DataFrame({
        "source_id": source_id, "source_row": agg["source_row"], "source_file": agg["source_file"],
        **{k: agg[k] for k in extra_keys}, "geography_type": agg["geography_type"],
        "geography_code": agg["port_code"], "geography_name": agg["port_name"],
        "partner_country_iso3": agg["partner_country_iso3"], "flow": agg["flow"], "mode": agg["mode"],
        "period_start": agg["period_start"], "period_end": period_end,
        "value_usd": agg["value_usd"], "suppressed": False, "rounded": False, "partial_period": False,
        "shipping_weight_kg": agg["shipping_weight_kg"], "freight_charges_usd": agg["freight_charges_usd"],
        "mention_source_row": agg["mention_source_row"], "role": "port",
    })
    mention_rows = first.rename(columns={"mention_source_row": "source_row"}).merge(
        ports[["port_code", "port_name"]].rename(columns={"port_name": "raw_name"}), on="port_code")
    published = int(agg["n_rows"].sum())
    report = {
        "source_rows_published": published,
        "source_rows_aggregated": int(agg.loc[agg["n_rows"] > 1, "n_rows"].sum()),
        "output_rows": int(len(rows)),
        "files": int(agg["source_file"].nunique()),
        "rows_by_geography_type": {k: int(v) for k, v in rows["geography_type"].value_counts().sort_index().items()},
        "ports_named_by_override": sorted(ports.loc[ports["overridden"], "port_code"].tolist()),
    }
    return Plan(rows=rows, mentions=_port_mentions(source_id, mention_rows, ports), exclusions=exclusions,
                report=report)


def _texas_weight_kg(data: pd.DataFrame) -> pd.Series:
    """Whole kg from the Texas file's Weight, which is metric tonnes (see the reader)."""
    return (data["weight_tonnes"] * TEXAS_TONNES_TO_KG).round().astype("Int64")


def _plan_texas(tables: dict[str, SourceTable]) -> Plan | None:
    table = tables.get(TEXAS)
    if table is None:
        return None
    from etl.sources.bts_texas_ports import PARTIAL_YEARS
    data = table.data
    exclusions = []
    mode = data["mode"].map(TEXAS_MODES).astype("string")
    bad_mode = mode.isna()
    key = ["port_code", "flow", "mode", "year"]
    keyed = data[["source_row", "port_code", "flow", "year"]].assign(mode=mode)
    dup = keyed.duplicated(key) & ~bad_mode
    if bad_mode.any():
        exclusions.append(make_exclusions(TEXAS, data[bad_mode], "unknown Mode label: "
                                          + data.loc[bad_mode, "mode"].astype(str).map(repr)))
    if dup.any():
        first = keyed[~bad_mode].groupby(key, observed=True)["source_row"].transform("min")
        exclusions.append(make_exclusions(TEXAS, data[dup], "repeats the year, port, mode and trade type of source_row "
                                          + first[dup].astype(str)))
    keep = ~bad_mode & ~dup
    data, mode = data[keep], mode[keep]

    sd = _schedule_d(tables)
    own = (data.sort_values("source_row").drop_duplicates("port_code")
           [["port_code", "port_name", "latitude", "longitude"]].rename(columns={"port_name": "texas_name"}))
    # Ports missing from Schedule D (or all of them, without it) keep the Texas file's own name.
    unnamed = own if sd is None else own[~own["port_code"].isin(sd["port_code"])]
    fallback = pd.DataFrame({"port_code": unnamed["port_code"], "port_name": unnamed["texas_name"],
                             "district_name": pd.NA, "state": TEXAS_STATE})
    sd_cols = {"port_code": "string", "port_name": "string", "district_name": "string", "state": "string"}
    parts = [f.astype(sd_cols) for f in ([] if sd is None else [sd[list(sd_cols)]]) + [fallback] if len(f)]
    sd = pd.concat(parts, ignore_index=True) if parts else _empty(sd_cols)
    ports = classify_ports(data["port_code"], sd)

    start, end = _year_bounds(data["year"])
    first = (data.groupby("port_code", sort=True, observed=True)["source_row"].min()
             .rename("mention_source_row").reset_index())
    d = data.merge(first, on="port_code", how="left", validate="many_to_one").set_index(data.index)
    d = d.merge(ports[["port_code", "geography_type"]], on="port_code", how="left").set_index(data.index)
    weight_kg = _texas_weight_kg(data)
    rows = pd.DataFrame({
        "source_id": TEXAS, "source_row": data["source_row"].astype(str),
        "source_file": default_source_file(TEXAS), "geography_type": d["geography_type"],
        "geography_code": data["port_code"], "geography_name": data["port_name"],
        "partner_country_iso3": data["partner_country_iso3"], "flow": data["flow"], "mode": mode,
        "period_start": start, "period_end": end, "value_usd": data["value_usd"], "suppressed": False,
        "rounded": False, "partial_period": data["year"].isin(list(PARTIAL_YEARS)).astype(bool),
        "shipping_weight_kg": weight_kg, "freight_charges_usd": data["freight_charges_usd"],
        "mention_source_row": d["mention_source_row"], "role": "port",
    })
    mention_rows = first.rename(columns={"mention_source_row": "source_row"}).merge(
        own.rename(columns={"texas_name": "raw_name"}), on="port_code")
    report = {
        "source_rows_published": int(len(rows)),
        "source_rows_aggregated": 0,
        "output_rows": int(len(rows)),
        "partial_period_rows": int(rows["partial_period"].sum()),
        "weight_unit_in_source": "metric tonnes (Weight; WeightLb = thousands of lb); stored x1000 as kg",
        "ports_named_by_override": sorted(ports.loc[ports["overridden"], "port_code"].tolist()),
    }
    return Plan(rows=rows, mentions=_port_mentions(TEXAS, mention_rows, ports), exclusions=exclusions, report=report)


def _plan_ita(tables: dict[str, SourceTable], source_id: str = ITA) -> Plan | None:
    """One ITA series: metro x year exports to the world. Both series (2012-2021 CSV, 2005-2023
    xlsx with 2023 OMB names) go through the same CBSA match and first-named-principal-city rule,
    so "Houston-Pasadena-The Woodlands, TX" and "Houston-The Woodlands-Sugar Land, TX" are one city."""
    table = tables.get(source_id)
    if table is None:
        return None
    data = table.data
    cbsa_table = tables.get(CBSA)
    matches = match_cbsa(data["msa_name"], cbsa_table.data if cbsa_table is not None else None)
    d = data.merge(matches, left_on="msa_name", right_on="metro_name", how="left", validate="many_to_one")
    d.index = data.index
    pseudo = data["is_pseudo_metro"].astype(bool)
    start, end = _year_bounds(data["year"])
    rows = pd.DataFrame({
        "source_id": source_id, "source_row": data["source_row"].astype(str),
        "source_file": default_source_file(source_id),
        "geography_type": pd.Series(np.where(pseudo, "metro_pseudo", "metro"), index=data.index),
        # No CBSA code (pseudo-metros, metros not delineated in 2013): the source's name is the code.
        "geography_code": d["cbsa_code"].fillna(data["msa_name"]), "geography_name": data["msa_name"],
        "partner_country_iso3": "WLD", "flow": "export", "mode": "all", "period_start": start, "period_end": end,
        "value_usd": data["value_usd"], "suppressed": data["suppressed"].astype(bool),
        "rounded": data["rounded"].astype(bool), "partial_period": False,
        "shipping_weight_kg": pd.NA, "freight_charges_usd": pd.NA,
        "mention_source_row": data["source_row"], "role": "metro",
    })

    lines = d.drop_duplicates("source_row").sort_values("source_row")
    split = {n: split_metro_title(n) for n in pd.unique(lines["msa_name"])}  # lines repeat metros
    first_city = lines["msa_name"].map({n: principal_city_name(c[0]) for n, (c, _) in split.items()}).astype("string")
    first_state = lines["msa_name"].map({n: s[0] if s else pd.NA for n, (_, s) in split.items()}).astype("string")
    is_pseudo = lines["is_pseudo_metro"].astype(bool)
    mentions = pd.DataFrame({
        "source_id": source_id, "source_row": lines["source_row"], "role": "metro", "raw_name": lines["msa_name"],
        "name": first_city.mask(is_pseudo, lines["msa_name"]),
        "country": _country(first_state).mask(is_pseudo, COUNTRY),
        "admin1": _admin1(first_state).mask(is_pseudo),
        "latitude": pd.NA, "longitude": pd.NA, "population": pd.NA, "population_year": pd.NA, "area_km2": pd.NA,
        "place_type": pd.Series(np.where(is_pseudo, "non_place", "city"), index=lines.index),
        "code": lines["cbsa_code"], "code_type": lines["cbsa_code"].notna().map({True: "cbsa", False: pd.NA}),
    }).astype(MENTION_DTYPES)

    real = matches[~matches["metro_name"].str.startswith("Z-")]
    report = {
        "source_rows_published": int(data["source_row"].nunique()),
        "source_rows_aggregated": 0,
        "output_rows": int(len(rows)),
        "suppressed_values": int(rows["suppressed"].sum()),
        "rounded_values": int(rows["rounded"].sum()),
        "cbsa_loaded": cbsa_table is not None,
        "cbsa_match_methods": {k: int(v) for k, v in real["method"].value_counts().sort_index().items()},
        "metros_without_cbsa_code": sorted(real.loc[real["cbsa_code"].isna(), "metro_name"].tolist()),
        "metros_matched_by_fallback": {r.metro_name: r.cbsa_title for r in real.itertuples()
                                       if r.method not in ("title", "unmatched")},
    }
    return Plan(rows=rows, mentions=mentions, report=report)


_last_plans: list = []  # [(tables, key, plans)]: the build calls mentions() then build() on one dict


def _tables_key(tables: dict[str, SourceTable]) -> tuple:
    """The cache key of a set of tables: the same objects give the same key."""
    return tuple(sorted((k, id(v)) for k, v in tables.items()))


def _plans(tables: dict[str, SourceTable]) -> dict[str, Plan]:
    """Plan every trade source once per set of tables (the same objects -> the cached plan)."""
    key = _tables_key(tables)
    if _last_plans and _last_plans[0][1] == key:
        return _last_plans[0][2]
    released = sorted(k for k, v in tables.items() if v.released)
    if released:  # their rows are gone: a new plan would be of nothing
        raise RuntimeError(f"trade sources {released} were released after planning; plan them before release_inputs")
    plans = {TEXAS: _plan_texas(tables), **{sid: _plan_dot1(tables, sid) for sid in DOT1_SOURCES},
             **{sid: _plan_ita(tables, sid) for sid in ITA_SOURCES},
             **{sid: _plan_dot1(tables, sid, trade_commodity.EXTRA_KEYS) for sid in trade_commodity.COMMODITY_SOURCES}}
    plans = {k: v for k, v in plans.items() if v is not None}
    # The tables are kept referenced with the key, so their ids cannot be reused while cached.
    _last_plans[:] = [(dict(tables), key, plans)]
    return plans


# --------------------------------------------------------------------------- step interface

def release_inputs(tables: dict[str, SourceTable]) -> None:
    """Once places are resolved, the plans hold all ``build`` needs of the BTS files (2.7 M raw
    rows, ~380 MB as frames): hand those rows back before the resources are built and written."""
    if not (_last_plans and _last_plans[0][1] == _tables_key(tables)):
        return  # not planned from these tables: nothing to hand back
    for sid in (*DOT1_SOURCES, *trade_commodity.COMMODITY_SOURCES):
        if sid in tables and not tables[sid].released:
            tables[sid].data = tables[sid].data.iloc[:0]
            tables[sid].released = True
    release_memory()


def mentions(tables: dict[str, SourceTable]) -> pd.DataFrame:
    """Port mentions (one per port code per BTS file) and metro mentions (one per ITA metro line)."""
    frames = [p.mentions for p in _plans(tables).values() if len(p.mentions)]
    if not frames:
        return _empty(MENTION_DTYPES)
    out = pd.concat(frames, ignore_index=True).astype(MENTION_DTYPES)
    return out.sort_values(["source_id", "source_row", "role"], ignore_index=True)


def empty_trade_flows() -> pd.DataFrame:
    return _empty(OUTPUT_DTYPES)


def _with_city_ids(rows: pd.DataFrame, resolved: pd.DataFrame, source_ids: list[str]) -> pd.DataFrame:
    """``rows`` with the city_id of the mention each points to (every row must have one)."""
    # Tolerate a frame that repeats the key columns (mention keys + the places output side by side).
    if resolved.columns.duplicated().any():
        resolved = resolved.loc[:, ~resolved.columns.duplicated()]
    # Only these sources' mentions: the frame has every fact step's, one row per mention.
    ids = resolved.loc[resolved["source_id"].isin(source_ids).to_numpy(dtype=bool),
                       ["source_id", "source_row", "role", "city_id"]]
    ids = ids.rename(columns={"source_row": "mention_source_row"}).astype(
        {"source_id": "string", "mention_source_row": "Int64", "role": "string", "city_id": "string"})
    rows = rows.merge(ids, on=["source_id", *MENTION_KEY], how="left", validate="many_to_one")
    missing = rows["city_id"].isna()
    if missing.any():
        bad = rows[missing].iloc[0]
        raise SourceError(str(bad["source_id"]), f"no resolved city_id for role {bad['role']}",
                          int(bad["mention_source_row"]))
    return rows


def build(tables: dict[str, SourceTable], resolved: pd.DataFrame) -> StepOutput:
    """trade_flows, trade_by_commodity, hs_chapters and trade_coverage; step exclusions; the row
    accounting / reconciliation report."""
    plans = _plans(tables)
    flow_plans = {k: p for k, p in plans.items() if k in TRADE_SOURCES}
    commodity_plans = {k: p for k, p in plans.items() if k in trade_commodity.COMMODITY_SOURCES}
    row_dtypes = {**{c: t for c, t in OUTPUT_DTYPES.items() if c not in ("city_id", "year")},
                  "mention_source_row": "Int64", "role": "string"}
    frames = [p.rows.astype(row_dtypes) for p in flow_plans.values() if len(p.rows)]
    if frames:
        rows = _with_city_ids(pd.concat(frames, ignore_index=True), resolved, list(flow_plans))
        rows["year"] = rows["period_start"].dt.year
        flows = rows[list(OUTPUT_DTYPES)].astype(OUTPUT_DTYPES)
        flows = flows.sort_values(["source_id", "geography_code", "partner_country_iso3", "flow", "mode",
                                   "period_start"], ignore_index=True)
    else:
        flows = empty_trade_flows()
    del frames
    frames = [p.rows for p in commodity_plans.values() if len(p.rows)]
    commodity = trade_commodity.finish(_with_city_ids(pd.concat(frames, ignore_index=True), resolved,
                                                      list(commodity_plans)) if frames else None)
    del frames
    for p in plans.values():  # their rows are in the resources now; the report needs only p.report
        p.rows, p.mentions = p.rows.iloc[:0], p.mentions.iloc[:0]
    release_memory()
    exclusions = [e for p in plans.values() for e in p.exclusions if len(e)]
    exclusions = pd.concat(exclusions, ignore_index=True) if exclusions else empty_exclusions()
    report = _report(tables, plans, flows, exclusions)
    report["commodity"] = trade_commodity.report(commodity)
    report["ita_series_comparison"] = compare_ita(flows)
    _last_plans.clear()  # the build is done with the plans: not held while the resources are written
    coverage = trade_coverage.coverage(pd.concat([flows[["source_id", "period_start", "period_end", "partial_period"]],
                                                  commodity[["source_id", "period_start", "period_end"]]
                                                  .assign(partial_period=False)], ignore_index=True))
    return StepOutput(resources={RESOURCE: flows, trade_coverage.RESOURCE: coverage,
                                 trade_commodity.RESOURCE: commodity,
                                 trade_commodity.CHAPTERS: trade_commodity.chapters_resource()},
                      exclusions=exclusions, report=report)


def compare_ita(flows: pd.DataFrame) -> dict:
    """The two ITA series on their common years, per metro (city_id) and year.

    Exact where the 2012-2021 file has the whole number; where it wrote 6 significant figures
    ("1.10298E+11", ``rounded``) agreement means the 2005-2023 exact value rounds to it.
    """
    f = flows[flows["source_id"].isin(ITA_SOURCES) & (flows["geography_type"] == "metro")]
    old = f[f["source_id"] == ITA][["city_id", "year", "value_usd", "rounded", "geography_name"]]
    new = f[f["source_id"] == ITA_2005][["city_id", "year", "value_usd", "geography_name"]]
    if old.empty or new.empty:
        return {"compared": False}
    both = old.merge(new, on=["city_id", "year"], suffixes=("_old", "_new"))
    v_old, v_new = both["value_usd_old"].astype("Float64"), both["value_usd_new"].astype("Float64")
    exact = v_old.eq(v_new).fillna(False)
    magnitude = np.floor(np.log10(v_new.where(v_new > 0).astype(float)))
    rounded_new = (np.round(v_new.astype(float) / 10 ** (magnitude - 5)) * 10 ** (magnitude - 5))
    rounding_only = (~exact & both["rounded"] & v_old.eq(pd.array(rounded_new, dtype="Float64")).fillna(False))
    suppressed = v_old.isna() | v_new.isna()
    differ = ~exact & ~rounding_only & ~suppressed
    examples = both[differ].assign(diff=(v_new - v_old)[differ]).sort_values("diff", key=abs, ascending=False)
    old_cities, new_cities = set(old["city_id"]), set(new["city_id"])
    return {
        "compared": True, "metro_years": int(len(both)), "exact": int(exact.sum()),
        "old_rounded_new_exact": int(rounding_only.sum()), "suppressed_in_one": int(suppressed.sum()),
        "differ": int(differ.sum()),
        "rounded_examples": [{"city_id": r.city_id, "year": int(r.year), "old": int(r.value_usd_old),
                              "new": int(r.value_usd_new), "old_name": r.geography_name_old,
                              "new_name": r.geography_name_new}
                             for r in both[rounding_only].head(5).itertuples()],
        "largest_differences": [{"city_id": r.city_id, "year": int(r.year), "old": int(r.value_usd_old),
                                 "new": int(r.value_usd_new)} for r in examples.head(10).itertuples()],
        "metros_only_in_old": len(old_cities - new_cities), "metros_only_in_new": len(new_cities - old_cities),
    }


# --------------------------------------------------------------------------- report

def _report(tables, plans: dict[str, Plan], flows: pd.DataFrame, exclusions: pd.DataFrame) -> dict:
    report: dict = {"sources": {}, "skipped_sources": sorted(s for s in TRADE_SOURCES if s not in tables)}
    for sid, plan in sorted(plans.items()):
        t = tables[sid]
        excluded_step = int((exclusions["source_id"] == sid).sum()) if len(exclusions) else 0
        entry = {"rows_read": int(t.rows_read), "rows_excluded_by_reader": int(len(t.exclusions)),
                 "rows_excluded_by_step": excluded_step, **plan.report}
        entry["accounted"] = (entry["rows_read"] == entry.get("source_rows_published", 0)
                              + entry["rows_excluded_by_reader"] + excluded_step)
        report["sources"][sid] = entry
    if len(flows):
        year = flows["period_start"].dt.year
        totals = flows.groupby(["source_id", year, "flow"], observed=True)["value_usd"].sum()
        out: dict = {}
        for (sid, y, flow), v in totals.items():
            out.setdefault(sid, {}).setdefault(str(y), {})[flow] = int(v)
        report["totals_usd_by_source_year_flow"] = out
    report["reconciliation_texas_ports_2015"] = reconcile(flows)
    return report


def reconcile(flows: pd.DataFrame) -> dict:
    """dot1 January 2015 vs the Texas file's 2015 annual value, per Texas port and flow (trade with Mexico).

    Different grain, so the expected ratio is near 1/12; reported, never enforced.
    """
    if flows.empty:
        return {}
    f = flows[(flows["partner_country_iso3"] == "MEX") & (flows["period_start"].dt.year == OVERLAP_YEAR)]
    monthly = f[f["source_id"] == DOT1].groupby(["geography_code", "flow"])["value_usd"].sum()
    annual = f[f["source_id"] == TEXAS].groupby(["geography_code", "flow"])["value_usd"].sum()
    if monthly.empty or annual.empty:
        return {"compared": False}
    both = pd.concat({"dot1_jan": monthly, "texas_year": annual}, axis=1, join="inner")
    per_port = {}
    for (code, flow), r in both.iterrows():
        per_port.setdefault(code, {})[flow] = {
            "dot1_january": int(r["dot1_jan"]), "texas_annual": int(r["texas_year"]),
            "ratio": round(float(r["dot1_jan"] / r["texas_year"]), 4) if r["texas_year"] else None}
    tot = both.groupby(level="flow").sum()
    texas_codes = set(annual.index.get_level_values(0))
    dot1_tx = set(f.loc[(f["source_id"] == DOT1) & f["geography_code"].str.match(r"2[34]\d\d$"), "geography_code"])
    return {
        "compared": True,
        "per_port": per_port,
        "total": {flow: {"dot1_january": int(r["dot1_jan"]), "texas_annual": int(r["texas_year"]),
                         "ratio": round(float(r["dot1_jan"] / r["texas_year"]), 4)} for flow, r in tot.iterrows()},
        "texas_ports_not_in_dot1": sorted(texas_codes - set(monthly.index.get_level_values(0))),
        "dot1_laredo_el_paso_district_ports_not_in_texas_file": sorted(dot1_tx - texas_codes),
    }
