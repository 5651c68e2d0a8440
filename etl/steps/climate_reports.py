"""What cities report to CDP-ICLEI: ``emissions`` (city-wide inventories, 2016-2021) and
``targets`` (emission reduction targets, 2016, 2017, 2021), joined on ``city_id``.

Why it works the way it does:

* **One place per CDP account.** ``Account Number`` is CDP's stable id of a reporting
  government, but its spelling changes between years ("City of Los Angeles" /
  "City of Los Angeles, CA", a short name given one year and "NA" the next). Each account is
  therefore resolved from ONE canonical description (its latest row with a short name, then
  the latest name, country and coordinates any of its rows give), and every row of the account,
  in both sources, is a mention of that description: an account cannot get two city_ids.
  Each row's own organisation name is its ``raw_name`` (the crosswalk keeps every spelling),
  and the account is its ``code`` (id_type ``cdp_account`` in ``place_identifiers``).
* **Regions and metro areas stay themselves.** A reporting government that is a metro area,
  a region, a county or a district of a larger city is named in the reviewed
  ``etl/vocab/cdp_places.csv`` with its place type and why; it gets a place of that type and
  is never matched to the city of the same name. The same file corrects, per account and with
  a reason, a short name CDP garbled ("Bern 8") and coordinates CDP put elsewhere (Ravenna's
  point is in Rome): those are not passed to the resolver. Council forms the resolver does not
  read ("Semarang City Government") are in ``etl/vocab/cdp_name_forms.csv``, CDP's country
  spellings it misreads ("Taiwan, Greater China") in ``etl/vocab/cdp_countries.csv``.
* **Kept as reported.** Each figure is one row per account x reporting year x scope x grid
  variant; a total is never recomputed from scopes (the gate compares them where both exist).
  Targets are one row per raw target row, numbered per account and year (``target_no``).
"""
from __future__ import annotations

import re

import pandas as pd

from etl.paths import VOCAB
from etl.sources.base import SourceTable, empty_exclusions
from etl.steps.base import StepOutput

EMISSIONS, TARGETS = "cdp_city_emissions", "cdp_city_targets"
PLACES, NAME_FORMS, COUNTRIES = VOCAB / "cdp_places.csv", VOCAB / "cdp_name_forms.csv", VOCAB / "cdp_countries.csv"
STATE_SUFFIX = r",\s*([A-Z]{2})$"  # "City of Newark, NJ": the state the short name "Newark" lacks
CODE_TYPE = "cdp_account"
NOT_SPLIT = "not_split"  # a scope column not split by CDP's grid-supplied-energy distinction
PLACE_FIELDS = ["organization", "city", "country", "latitude", "longitude"]
EMISSION_COLUMNS = ["city_id", "cdp_account", "reporting_year", "accounting_year", "period_start", "period_end",
                    "scope", "scope_variant", "emissions_tco2e", "protocol", "gases", "boundary", "population",
                    "organization", "source_id", "source_file", "source_row"]
TARGET_COLUMNS = ["city_id", "cdp_account", "reporting_year", "target_no", "target_type", "raw_target_type", "sector",
                  "target_boundary", "base_year", "base_year_emissions_tco2e", "reduction_pct", "target_year",
                  "target_year_emissions_tco2e", "bau_emissions_tco2e", "intensity_unit", "base_year_intensity",
                  "year_set", "organization", "source_id", "source_file", "source_row"]


def _vocab(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype="string", keep_default_na=False, encoding="utf-8")


def clean_name(name: pd.Series) -> pd.Series:
    """The name without the council forms CDP uses that the resolver does not read
    (``etl/vocab/cdp_name_forms.csv``: "Semarang City Government" -> "Semarang"). Kept as is
    when nothing would be left."""
    forms = _vocab(NAME_FORMS)
    out = name.astype("string").str.replace(r"\s+", " ", regex=True).str.strip()
    for position, form in zip(forms["position"], forms["form"]):
        rx = ("^" + re.escape(form) + "(?P<rest>.+)$") if position == "prefix" else ("^(?P<rest>.+)" + re.escape(form) + "$")
        out = out.str.replace(re.compile(rx, re.IGNORECASE), lambda m: m["rest"], regex=True)
    return out


def _reporter_rows(tables: dict[str, SourceTable]) -> pd.DataFrame:
    """One row per raw row of either source that a resource keeps: its account and place fields."""
    frames = []
    for rank, sid in enumerate((EMISSIONS, TARGETS)):
        if sid in tables:
            d = tables[sid].data.drop_duplicates(["source_file", "source_row"])
            frames.append(d[["cdp_account", "reporting_year", "source_file", "source_row", *PLACE_FIELDS, "population"]]
                          .assign(source_id=sid, rank=rank))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def canonical_places(rows: pd.DataFrame) -> pd.DataFrame:
    """Per account: the place description every one of its rows is resolved from (see the
    module docstring). The name is the latest short name (``city``), else the latest
    organisation name; other fields the latest value given (emissions before targets in a year)."""
    latest = rows.sort_values(["reporting_year", "rank", "source_row"], ascending=[False, True, True])
    latest[["city", "organization"]] = latest[["city", "organization"]].replace({"": pd.NA, "NA": pd.NA})
    first = latest.groupby("cdp_account", sort=True)[PLACE_FIELDS].first()
    first["name"] = clean_name(first["city"].fillna(first["organization"]))
    first["admin1"] = first["organization"].str.extract(STATE_SUFFIX)[0].where(first["name"].str.extract(STATE_SUFFIX)[0].isna())
    countries = _vocab(COUNTRIES).set_index("raw_country")["country"]
    first["country"] = first["country"].replace(countries.to_dict())
    reviewed = _vocab(PLACES).set_index("cdp_account").reindex(first.index)
    first["name"] = reviewed["name"].replace("", pd.NA).fillna(first["name"])
    first["place_type"] = reviewed["place_type"].replace("", pd.NA).fillna("city").to_numpy()
    wrong_point = reviewed["coordinates"].eq("ignore").fillna(False).to_numpy()
    first.loc[wrong_point, ["latitude", "longitude"]] = pd.NA
    return first


def mentions(tables: dict[str, SourceTable]) -> pd.DataFrame:
    """One mention per kept raw row (role: the raw file, as source_row counts within it)."""
    rows = _reporter_rows(tables)
    if rows.empty:
        return pd.DataFrame(columns=["source_id", "source_row", "role", "name", "country"])
    place = canonical_places(rows).reindex(rows["cdp_account"]).set_axis(rows.index)
    population = pd.to_numeric(rows["population"].astype("string").str.replace(",", "", regex=False), errors="coerce")
    return pd.DataFrame({
        "source_id": rows["source_id"], "source_row": rows["source_row"].astype("Int64"),
        "role": rows["source_file"], "raw_name": rows["organization"].fillna(place["name"]),
        "name": place["name"], "country": place["country"], "admin1": place["admin1"],
        "latitude": place["latitude"], "longitude": place["longitude"],
        "population": population.round().astype("Int64"),
        # a metro area is resolved as itself, never as its core city (see etl.places.resolver)
        "place_type": place["place_type"].replace("metro", "metro_area"),
        "code": rows["cdp_account"], "code_type": CODE_TYPE,
    })


def _with_city_ids(frame: pd.DataFrame, source_id: str, resolved: pd.DataFrame) -> pd.DataFrame:
    ids = resolved.loc[resolved["source_id"].astype("string").eq(source_id).to_numpy(dtype=bool),
                       ["source_row", "role", "city_id"]].astype({"source_row": "Int64", "role": "string", "city_id": "string"})
    ids = ids.rename(columns={"role": "source_file"})
    out = frame.astype({"source_file": "string"}).merge(ids, on=["source_file", "source_row"], how="left",
                                                         validate="many_to_one")
    if out["city_id"].isna().any():
        bad = out[out["city_id"].isna()].iloc[0]
        raise RuntimeError(f"{source_id}: no city_id for {bad['source_file']} row {bad['source_row']}")
    return out


def emissions_frame(table: SourceTable, resolved: pd.DataFrame) -> pd.DataFrame:
    d = _with_city_ids(table.data, EMISSIONS, resolved)
    d["scope_variant"] = d["scope_variant"].fillna(NOT_SPLIT)
    d["population"] = pd.to_numeric(d["population"].str.replace(",", "", regex=False), errors="coerce").round().astype("Int64")
    d["source_id"], d["source_row"] = EMISSIONS, d["source_row"].astype("string")
    return d[EMISSION_COLUMNS].sort_values(["cdp_account", "reporting_year", "scope", "scope_variant"], ignore_index=True)


def targets_frame(table: SourceTable, resolved: pd.DataFrame) -> pd.DataFrame:
    d = _with_city_ids(table.data, TARGETS, resolved).sort_values(["cdp_account", "reporting_year", "source_row"])
    d["target_no"] = d.groupby(["cdp_account", "reporting_year"]).cumcount().add(1).astype("Int64")
    d["source_id"], d["source_row"] = TARGETS, d["source_row"].astype("string")
    return d[TARGET_COLUMNS].reset_index(drop=True)


def build(tables: dict[str, SourceTable], resolved: pd.DataFrame) -> StepOutput:
    # load: the two readers' frames and the place of every kept row
    resources, report = {}, {}
    if EMISSIONS in tables:
        resources["emissions"] = emissions_frame(tables[EMISSIONS], resolved)
    if TARGETS in tables:
        resources["targets"] = targets_frame(tables[TARGETS], resolved)
    # process: row accounting per file (kept rows + reader exclusions = rows read) and the
    # one-account-one-place figure the gate checks
    for name, sid in (("emissions", EMISSIONS), ("targets", TARGETS)):
        if name not in resources:
            continue
        frame, excluded = resources[name], tables[sid].exclusions
        kept = frame.drop_duplicates(["source_file", "source_row"]).groupby("source_file").size()
        report[name] = {
            "rows": len(frame),
            "source_rows_by_file": {f: {"kept": int(kept.get(f, 0)),
                                        "excluded": _counts(excluded.loc[excluded["source_file"] == f, "reason"])}
                                    for f in sorted(set(kept.index) | set(excluded["source_file"]))},
            "accounts": int(frame["cdp_account"].nunique()),
            "accounts_with_several_city_ids": sorted(
                frame.groupby("cdp_account")["city_id"].nunique().loc[lambda n: n > 1].index.astype(str)),
        }
        accounted = int(kept.sum()) + len(excluded)
        if accounted != tables[sid].rows_read:
            raise RuntimeError(f"{sid}: {tables[sid].rows_read} rows read, {accounted} kept or excluded")
    accounts = pd.concat([f[["cdp_account", "city_id"]] for f in resources.values()], ignore_index=True)
    report["reporters"] = reporter_resolution(accounts, resolved)
    # save
    return StepOutput(resources=resources, exclusions=empty_exclusions(), report=report)


def reporter_resolution(accounts: pd.DataFrame, resolved: pd.DataFrame) -> dict:
    """Per reporting government (``accounts``: cdp_account, city_id), not per row: how many are
    cities, and the share of those resolved to a GeoNames place (the issue's figure; metro areas,
    regions, counties and districts are places of their own type and do not count as cities)."""
    if accounts.empty:
        return {}
    ours = resolved[resolved["source_id"].astype("string").isin([EMISSIONS, TARGETS]).to_numpy(dtype=bool)]
    places = ours[["city_id", "status", "method", "place_type"]].astype("string").drop_duplicates("city_id")
    one = accounts.drop_duplicates("cdp_account").merge(places, on="city_id", how="left", validate="many_to_one")
    kind = one["place_type"].fillna("city").where(one["method"].ne("not_a_city") | one["place_type"].ne("city"), "not_a_city")
    city = kind.eq("city")
    hit = city & one["status"].eq("resolved")
    return {"accounts": len(one), "accounts_by_place_type": _counts(kind), "cities": int(city.sum()),
            "cities_resolved_to_geonames": int(hit.sum()),
            "cities_resolved_pct": round(100 * float(hit.sum()) / max(int(city.sum()), 1), 2),
            "cities_not_resolved": sorted(one.loc[city & ~hit, "city_id"].astype(str))}


def _counts(values: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in sorted(values.value_counts().items())}
