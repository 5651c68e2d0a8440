"""US Climate Mayors cities: their latest emissions total reported to CDP-ICLEI and their latest target.

Usage: python docs/examples/climate_mayors_reports.py [release_dir]   (default: published/latest)

"Latest total": the most recent reporting year with a city-wide total: the reported `total`
(2016-2017) or, from 2018, the GPC BASIC total (`basic_gpc`); `scope` says which. It is what
the city reported, never a sum of scopes. "Latest target": of the most recent reporting year
with targets, the one with the farthest target year (the long-term goal), first in source order.
Figures are self-reported and boundaries differ: compare cities with care.
"""
from __future__ import annotations

import sys

import pandas as pd


def climate_mayors_reports(release: str) -> pd.DataFrame:
    d = f"{release}/data/"
    pledges = pd.read_parquet(d + "pledges.parquet", columns=["as_of", "city_id", "initiative_id"])
    cities = pd.read_parquet(d + "cities.parquet", columns=["city_id", "name", "admin1", "country_iso3"])
    emissions = pd.read_parquet(d + "emissions.parquet")
    targets = pd.read_parquet(d + "targets.parquet")

    # US Climate Mayors in the latest pledge vintage
    mayors = pledges[(pledges["initiative_id"] == "climate_mayors") & (pledges["as_of"] == pledges["as_of"].max())]
    us = cities[cities["country_iso3"] == "USA"].merge(mayors[["city_id"]].drop_duplicates(), on="city_id")

    totals = emissions[emissions["scope"].astype(str).isin(["total", "basic_gpc"])].assign(
        total_first=lambda e: e["scope"].astype(str).eq("total"))
    latest_total = (totals.sort_values(["city_id", "reporting_year", "total_first"], ascending=[True, False, False])
                    .drop_duplicates("city_id")[["city_id", "reporting_year", "scope", "emissions_tco2e"]]
                    .rename(columns={"reporting_year": "emissions_reported", "scope": "total_kind"}))
    latest_target = (targets.sort_values(["city_id", "reporting_year", "target_year", "target_no"],
                                         ascending=[True, False, False, True], na_position="last")
                     .drop_duplicates("city_id")[["city_id", "reporting_year", "target_type", "reduction_pct",
                                                  "base_year", "target_year"]]
                     .rename(columns={"reporting_year": "target_reported"}))
    out = (us.merge(latest_total, on="city_id", how="left").merge(latest_target, on="city_id", how="left"))
    out = out[out["emissions_reported"].notna() | out["target_reported"].notna()]
    return out.sort_values("emissions_tco2e", ascending=False, na_position="last", ignore_index=True)


if __name__ == "__main__":
    table = climate_mayors_reports(sys.argv[1] if len(sys.argv) > 1 else "published/latest")
    with pd.option_context("display.max_rows", 40, "display.width", 180):
        print(table.drop(columns=["country_iso3"]).head(40).to_string(index=False))
    print(f"\n{len(table)} US Climate Mayors cities report emissions or a target to CDP-ICLEI")
