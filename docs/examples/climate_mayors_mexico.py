"""Which US cities that pledged with Climate Mayors export most to Mexico,
and which of them have a Mexican sister city?

    python docs/examples/climate_mayors_mexico.py [RELEASE_DIR] [SOURCE_ID]

RELEASE_DIR defaults to published/latest; SOURCE_ID is bts_dot1_201501 (all US ports,
January 2015; the default) or bts_texas_ports (Texas ports, by year). The trade sources
overlap, so the figures come from one source only: never sum across sources.
Plain pandas on the published Parquet files. tests/test_downstream_example.py runs this file.
"""
import sys
from pathlib import Path

import pandas as pd


def climate_mayors_exports_to_mexico(release, source_id="bts_dot1_201501"):
    def read(name):  # nullable dtypes: integer columns with gaps stay integers (Int64)
        return pd.read_parquet(Path(release) / "data" / f"{name}.parquet")

    cities, initiatives, pledges = read("cities"), read("initiatives"), read("pledges")
    flows, partnerships = read("trade_flows"), read("partnerships")

    # 1. Places that pledged with Climate Mayors (in any vintage of the pledge database).
    climate_mayors = initiatives.loc[initiatives["name"] == "Climate Mayors", "initiative_id"]
    pledged = pledges.loc[pledges["initiative_id"].isin(climate_mayors), "city_id"].unique()

    # 2. Their exports to Mexico, from ONE source, in its latest complete period:
    #    a city's ports and transport modes add up within that source and period.
    exports = flows[(flows["source_id"] == source_id) & (flows["partner_country_iso3"] == "MEX")
                    & (flows["flow"] == "export") & ~flows["partial_period"]]
    exports = exports[exports["period_start"] == exports["period_start"].max()]
    exports = exports[exports["city_id"].isin(pledged)]
    per_city = (exports.groupby("city_id", as_index=False)
                .agg(exports_to_mexico_usd=("value_usd", "sum"), period_start=("period_start", "first"),
                     period_end=("period_end", "first"), ports=("geography_name", lambda s: "; ".join(sorted(set(s))))))

    # 3. Sister cities in Mexico: a pair is stored once, so look at both sides.
    pairs = pd.concat([
        partnerships[["city_a_id", "city_b_id"]].set_axis(["city_id", "partner_id"], axis=1),
        partnerships[["city_b_id", "city_a_id"]].set_axis(["city_id", "partner_id"], axis=1),
    ])
    mexican = cities.loc[cities["country_iso3"] == "MEX", ["city_id", "name"]]
    mexican = mexican.set_axis(["partner_id", "sister_city"], axis=1)
    sisters = (pairs.merge(mexican, on="partner_id")
               .groupby("city_id")["sister_city"].agg(lambda s: "; ".join(sorted(s))).rename("mexican_sister_cities"))

    result = (per_city.merge(cities[["city_id", "name", "admin1"]], on="city_id")
              .merge(sisters, on="city_id", how="left")
              .assign(has_mexican_sister_city=lambda d: d["mexican_sister_cities"].notna(), source_id=source_id))
    columns = ["city_id", "name", "admin1", "exports_to_mexico_usd", "has_mexican_sister_city",
               "mexican_sister_cities", "ports", "period_start", "period_end", "source_id"]
    return result[columns].sort_values(["exports_to_mexico_usd", "city_id"], ascending=[False, True], ignore_index=True)


if __name__ == "__main__":
    release = sys.argv[1] if len(sys.argv) > 1 else "published/latest"
    source = sys.argv[2] if len(sys.argv) > 2 else "bts_dot1_201501"
    table = climate_mayors_exports_to_mexico(release, source)
    with pd.option_context("display.width", 200, "display.max_colwidth", 40):
        print(table.drop(columns=["city_id", "ports"]).head(15).to_string(index=False))
