"""``trade_coverage``: which months of each year every trade source covers.

Derived from the ``trade_flows`` rows themselves (not from file names), so what it says is what
the resource holds: a user filters on ``complete_year`` before summing a year, and a year the
source covers in part (2015: one month; 2020 and 2024: nine) can never pass for a full year.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

RESOURCE = "trade_coverage"
DTYPES = {"source_id": "string", "year": "Int64", "months_present": "Int64", "months": "string",
          "complete_year": "bool", "period_grain": "string"}
ALL_MONTHS = ";".join(f"{m:02d}" for m in range(1, 13))


def coverage(flows: pd.DataFrame) -> pd.DataFrame:
    """One row per source_id x year: months present, complete or not, month or year grain.

    A row whose period spans a whole year covers all twelve months unless ``partial_period``
    says otherwise (bts_texas_ports 1993: April-December); a month row covers its month.
    """
    if flows.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in DTYPES.items()})
    start, end = flows["period_start"], flows["period_end"]
    yearly = ((start.dt.month == 1) & (start.dt.day == 1) & (end.dt.month == 12) & (end.dt.day == 31)
              & (start.dt.year == end.dt.year)).to_numpy(dtype=bool)
    base = pd.DataFrame({"source_id": flows["source_id"].astype("string"),
                         "year": start.dt.year.astype("int64"), "grain": np.where(yearly, "year", "month"),
                         "partial": flows["partial_period"].astype(bool).to_numpy(),
                         "month": start.dt.month.astype("int64")})
    keys = base[["source_id", "year", "grain", "partial", "month"]].drop_duplicates()
    month_rows = keys[keys["grain"] == "month"][["source_id", "year", "month"]]
    year_rows = keys[keys["grain"] == "year"]
    # A whole-year row: every month, except for a partial year (its months are not known here: the
    # count comes from the reader's note, 9 for the one partial year the Texas file has).
    full = year_rows[~year_rows["partial"]][["source_id", "year"]].drop_duplicates()
    full = full.merge(pd.DataFrame({"month": range(1, 13)}), how="cross")
    parts = [month_rows, full]
    partial = year_rows[year_rows["partial"]][["source_id", "year"]].drop_duplicates()
    partial = partial.merge(full[["source_id", "year"]].drop_duplicates(), how="left", indicator=True)
    partial = partial[partial["_merge"] == "left_only"][["source_id", "year"]]
    if len(partial):  # bts_texas_ports 1993: April-December
        parts.append(partial.merge(pd.DataFrame({"month": range(4, 13)}), how="cross"))
    months = pd.concat(parts, ignore_index=True).drop_duplicates().sort_values(["source_id", "year", "month"])
    months["mm"] = months["month"].map("{:02d}".format)
    grouped = months.groupby(["source_id", "year"], sort=True)
    out = grouped["mm"].agg(";".join).rename("months").reset_index()
    out["months_present"] = grouped.size().to_numpy()
    grain = base.groupby(["source_id", "year"], sort=True)["grain"].first().reset_index()
    out = out.merge(grain, on=["source_id", "year"], how="left")
    out["complete_year"] = out["months"] == ALL_MONTHS
    out = out.rename(columns={"grain": "period_grain"})
    return out[list(DTYPES)].astype(DTYPES)
