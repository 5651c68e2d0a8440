"""Which US cities that pledged with Climate Mayors trade most with Mexico in the latest complete
year, and which of them have a Mexican sister city? And how did the top ports' trade move 2020-2024?

    python docs/examples/trade_with_mexico.py [RELEASE_DIR]

Port trade from the monthly BTS TransBorder files (source ``bts_dot1_monthly``, all US ports).
A year is summed only if ``trade_coverage`` says it is complete (2020 and 2024 have nine months
each): the trend shows partial years with their months and a per-month average, never as years.
One source only: the trade sources overlap, never sum across ``source_id``.
Plain pandas on the published Parquet files; tests/test_downstream_example.py runs this file.
"""
import sys
from pathlib import Path

import pandas as pd

SOURCE = "bts_dot1_monthly"


def read(release, name):  # nullable dtypes: integer columns with gaps stay integers (Int64)
    return pd.read_parquet(Path(release) / "data" / f"{name}.parquet", dtype_backend="numpy_nullable")


def latest_complete_year(release, source_id=SOURCE) -> int:
    coverage = read(release, "trade_coverage")
    complete = coverage[(coverage["source_id"] == source_id) & coverage["complete_year"]]
    return int(complete["year"].max())


def climate_mayors_trade_with_mexico(release, year=None, source_id=SOURCE):
    """Exports to and imports from Mexico in ``year`` (default: the latest complete one) of every
    Climate Mayors place with a port, and its Mexican sister cities."""
    year = year or latest_complete_year(release, source_id)
    cities, initiatives, pledges = read(release, "cities"), read(release, "initiatives"), read(release, "pledges")
    flows, partnerships = read(release, "trade_flows"), read(release, "partnerships")

    # 1. Places that pledged with Climate Mayors (in any vintage of the pledge database).
    climate_mayors = initiatives.loc[initiatives["name"] == "Climate Mayors", "initiative_id"]
    pledged = pledges.loc[pledges["initiative_id"].isin(climate_mayors), "city_id"].unique()

    # 2. Their trade with Mexico in that year: one groupby over the year column (a city's ports,
    #    modes and months add up within one source).
    mex = flows[(flows["source_id"] == source_id) & (flows["partner_country_iso3"] == "MEX")
                & (flows["year"] == year) & flows["city_id"].isin(pledged)]
    per_city = mex.pivot_table(index="city_id", columns="flow", values="value_usd", aggfunc="sum", fill_value=0,
                              observed=True)
    per_city = per_city.reindex(columns=["export", "import"], fill_value=0).astype("int64")
    per_city.columns = ["exports_to_mexico_usd", "imports_from_mexico_usd"]
    per_city = per_city.reset_index()
    per_city["trade_with_mexico_usd"] = per_city["exports_to_mexico_usd"] + per_city["imports_from_mexico_usd"]

    # 3. Sister cities in Mexico: a pair is stored once, so look at both sides.
    pairs = pd.concat([
        partnerships[["city_a_id", "city_b_id"]].set_axis(["city_id", "partner_id"], axis=1),
        partnerships[["city_b_id", "city_a_id"]].set_axis(["city_id", "partner_id"], axis=1),
    ])
    mexican = cities.loc[cities["country_iso3"] == "MEX", ["city_id", "name"]].set_axis(["partner_id", "sister_city"],
                                                                                         axis=1)
    sisters = (pairs.merge(mexican, on="partner_id")
               .groupby("city_id")["sister_city"].agg(lambda s: "; ".join(sorted(s))).rename("mexican_sister_cities"))
    result = (per_city.merge(cities[["city_id", "name", "admin1"]], on="city_id")
              .merge(sisters, on="city_id", how="left")
              .assign(has_mexican_sister_city=lambda d: d["mexican_sister_cities"].notna(), year=year,
                      source_id=source_id))
    columns = ["city_id", "name", "admin1", "trade_with_mexico_usd", "exports_to_mexico_usd", "imports_from_mexico_usd",
               "has_mexican_sister_city", "mexican_sister_cities", "year", "source_id"]
    return result[columns].sort_values(["trade_with_mexico_usd", "city_id"], ascending=[False, True],
                                       ignore_index=True)


def top_ports_trend(release, top=5, source_id=SOURCE):
    """Trade with Mexico of the ``top`` ports of the latest complete year, every year the source
    has, with the months each year covers and a per-month average (comparable across partial years)."""
    flows, coverage = read(release, "trade_flows"), read(release, "trade_coverage")
    mex = flows[(flows["source_id"] == source_id) & (flows["partner_country_iso3"] == "MEX")
                & (flows["geography_type"] == "port")]
    year = latest_complete_year(release, source_id)
    top_ports = (mex[mex["year"] == year].groupby("geography_code")["value_usd"].sum()
                 .sort_values(ascending=False).head(top).index)
    trend = (mex[mex["geography_code"].isin(top_ports)]
             .groupby(["geography_code", "geography_name", "year"], as_index=False)["value_usd"].sum())
    cov = coverage.loc[coverage["source_id"] == source_id, ["year", "months_present", "complete_year"]]
    trend = trend.merge(cov, on="year", how="left")
    trend["usd_per_month"] = (trend["value_usd"] / trend["months_present"]).round().astype("int64")
    return trend.sort_values(["geography_code", "year"], ignore_index=True)


if __name__ == "__main__":
    release = sys.argv[1] if len(sys.argv) > 1 else "published/latest"
    table = climate_mayors_trade_with_mexico(release)
    with pd.option_context("display.width", 200, "display.max_colwidth", 40):
        print(table.drop(columns=["city_id", "source_id"]).head(15).to_string(index=False))
        print()
        print(top_ports_trend(release).to_string(index=False))
