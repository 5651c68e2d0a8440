"""Which HS chapters does Laredo (port 2304) export most to Mexico, in the latest complete year?

    python docs/examples/laredo_hs_chapters.py [RELEASE_DIR] [PORT_CODE]

From ``trade_by_commodity`` (BTS TransBorder table 3, monthly files, source ``bts_dot3_monthly``),
chapter titles from ``hs_chapters``; the year is complete when its twelve months are present
(``trade_coverage``). Tested by tests/test_downstream_example.py.
"""
import sys
from pathlib import Path

import pandas as pd

SOURCE = "bts_dot3_monthly"


def top_chapters(release, port_code="2304", top=10, source_id=SOURCE):
    def read(name):
        return pd.read_parquet(Path(release) / "data" / f"{name}.parquet", dtype_backend="numpy_nullable")

    coverage, chapters, trade = read("trade_coverage"), read("hs_chapters"), read("trade_by_commodity")
    year = int(coverage.loc[(coverage["source_id"] == source_id) & coverage["complete_year"], "year"].max())
    exports = trade[(trade["source_id"] == source_id) & (trade["geography_code"] == port_code)
                    & (trade["partner_country_iso3"] == "MEX") & (trade["flow"] == "export") & (trade["year"] == year)]
    per_chapter = exports.groupby("hs_chapter", as_index=False)["value_usd"].sum()
    per_chapter["share"] = (per_chapter["value_usd"] / per_chapter["value_usd"].sum()).round(4)
    per_chapter = per_chapter.merge(chapters, on="hs_chapter", how="left").assign(year=year, port_code=port_code)
    return per_chapter.sort_values(["value_usd", "hs_chapter"], ascending=[False, True], ignore_index=True).head(top)


if __name__ == "__main__":
    release = sys.argv[1] if len(sys.argv) > 1 else "published/latest"
    port = sys.argv[2] if len(sys.argv) > 2 else "2304"
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(top_chapters(release, port).to_string(index=False))
