"""Trade reconciliation, a gate check: the BTS files must add up to each other to the dollar.

* ``annual_vs_monthly``: for every year a year-grain set has (``bts_dot1_annual``: 2021, 2022),
  the twelve months of the month-grain set summed per port x partner x flow x mode equal it
  (dot1 and dot3 alike). A year the monthly set covers in part is not compared (reported).
* ``dot3_vs_dot1``: for every month both tables have, dot3 summed over HS chapters equals dot1
  per port x partner x flow x mode x month. Measured on the 2020-2024 mirror: they agree at this,
  the finest common grain, in every one of the 53 common months (478,224 cells; the 2024-03 dot3
  file is missing upstream, so that month is reported, not compared).

A mismatch is an error naming port, partner, flow, mode, period and both figures: it stops the
release. Vectorised: one groupby per side, one outer merge.
"""
from __future__ import annotations

import pandas as pd

from etl.quality.results import ERROR, WARNING, CheckResult

FLOWS, COMMODITY = "trade_flows", "trade_by_commodity"
KEYS = ["geography_code", "partner_country_iso3", "flow", "mode"]
PAIRS_ANNUAL = [(FLOWS, "bts_dot1_monthly", "bts_dot1_annual"), (COMMODITY, "bts_dot3_monthly", "bts_dot3_annual")]
PAIR_TABLES = ("bts_dot1_monthly", "bts_dot3_monthly")
SUITE = "reconciliation"
MAX_EXAMPLES = 10
COLUMNS = ["source_id", *KEYS, "period_start", "period_end", "value_usd"]


def _frame(table, sources) -> pd.DataFrame:
    """The columns the checks read, rows of ``sources`` only (an Arrow table or a frame)."""
    if table is None:
        return pd.DataFrame(columns=COLUMNS)
    frame = table if isinstance(table, pd.DataFrame) else table.select(COLUMNS).to_pandas()
    frame = frame[frame["source_id"].isin(list(sources))].copy()
    for c in ("period_start", "period_end"):
        frame[c] = pd.to_datetime(frame[c])
    frame["value_usd"] = frame["value_usd"].astype("Int64")
    return frame


def _compare(left: pd.Series, right: pd.Series, names: tuple[str, str]) -> pd.DataFrame:
    """Cells where the two sums differ (a cell on one side only counts as 0 on the other)."""
    both = pd.concat({names[0]: left, names[1]: right}, axis=1).fillna(0).astype("int64")
    return both[both[names[0]] != both[names[1]]].reset_index()


def _result(check: str, target: str, bad: pd.DataFrame, compared: int, names: tuple[str, str], why: str,
            period: str) -> CheckResult:
    examples = [{**{k: str(r[k]) for k in [*KEYS, period]}, names[0]: int(r[names[0]]), names[1]: int(r[names[1]])}
                for _, r in bad.head(MAX_EXAMPLES).iterrows()]
    msg = (f"{len(bad):,} of {compared:,} cells differ; first: port {examples[0]['geography_code']}, "
           f"{examples[0]['partner_country_iso3']} {examples[0]['flow']} {examples[0]['mode']}, "
           f"{period} {examples[0][period]}: {names[0]} {examples[0][names[0]]:,} vs {names[1]} "
           f"{examples[0][names[1]]:,}" if len(bad) else f"{compared:,} cells agree to the dollar")
    return CheckResult(suite=SUITE, resource=FLOWS if "dot1" in target else COMMODITY, check=check, target=target,
                       ok=bad.empty, severity=ERROR, rows=int(len(bad)), message=msg, why=why, examples=examples,
                       unit="cells")


def annual_vs_monthly(frame: pd.DataFrame, monthly: str, annual: str, resource: str) -> list[CheckResult]:
    target = f"{monthly} vs {annual}"
    m, a = frame[frame["source_id"] == monthly], frame[frame["source_id"] == annual]
    if m.empty or a.empty:
        return [CheckResult(suite=SUITE, resource=resource, check="annual_vs_monthly", target=target,
                            skipped="a source is not in this build")]
    m = m.assign(year=m["period_start"].dt.year, month=m["period_start"].dt.month)
    months = m.groupby("year")["month"].nunique()
    years = sorted(set(a["period_start"].dt.year) & set(months[months == 12].index))
    out = []
    for year in years:
        left = m[m["year"] == year].groupby(KEYS, observed=True)["value_usd"].sum()
        right = a[a["period_start"].dt.year == year].groupby(KEYS, observed=True)["value_usd"].sum()
        bad = _compare(left, right, ("months_summed", "annual")).assign(year=year)
        out.append(_result("annual_vs_monthly", f"{target} {year}", bad, len(left.index.union(right.index)),
                           ("months_summed", "annual"), "the twelve month files must add up to the year's file "
                           "per port, partner, flow and mode", "year"))
    partial = sorted(set(a["period_start"].dt.year) - set(years))
    if partial:
        out.append(CheckResult(suite=SUITE, resource=resource, check="annual_vs_monthly", target=target,
                               ok=False, severity=WARNING, rows=len(partial), unit="years",
                               message=f"years with an annual file but not 12 monthly files: {partial}"))
    return out


def dot3_vs_dot1(flows: pd.DataFrame, commodity: pd.DataFrame) -> list[CheckResult]:
    d1, d3 = flows[flows["source_id"] == PAIR_TABLES[0]], commodity[commodity["source_id"] == PAIR_TABLES[1]]
    target = f"{PAIR_TABLES[1]} vs {PAIR_TABLES[0]}"
    if d1.empty or d3.empty:
        return [CheckResult(suite=SUITE, resource=COMMODITY, check="dot3_vs_dot1", target=target,
                            skipped="a source is not in this build")]
    common = sorted(set(d1["period_start"]) & set(d3["period_start"]))
    keys = [*KEYS, "period_start"]
    left = d3[d3["period_start"].isin(common)].groupby(keys, observed=True)["value_usd"].sum()
    right = d1[d1["period_start"].isin(common)].groupby(keys, observed=True)["value_usd"].sum()
    bad = _compare(left, right, ("dot3", "dot1")).rename(columns={"period_start": "month"})
    bad["month"] = bad["month"].dt.strftime("%Y-%m")
    out = [_result("dot3_vs_dot1", target, bad, len(left.index.union(right.index)), ("dot3", "dot1"),
                   "dot3 summed over HS chapters must equal dot1 per port, partner, flow, mode and month", "month")]
    only = sorted({p.strftime("%Y-%m") for p in set(d1["period_start"]) ^ set(d3["period_start"])})
    if only:
        out.append(CheckResult(suite=SUITE, resource=COMMODITY, check="dot3_vs_dot1_months", target=target,
                               ok=False, severity=WARNING, rows=len(only), unit="months",
                               message=f"months in one table only (not compared): {only}"))
    return out


def check(tables: dict) -> list[CheckResult]:
    """Every reconciliation check over the built trade resources (Arrow tables or frames by name)."""
    flows = _frame(tables.get(FLOWS), {"bts_dot1_monthly", "bts_dot1_annual"})
    commodity = _frame(tables.get(COMMODITY), {"bts_dot3_monthly", "bts_dot3_annual"})
    results = []
    for resource, monthly, annual in PAIRS_ANNUAL:
        results += annual_vs_monthly(flows if resource == FLOWS else commodity, monthly, annual, resource)
    results += dot3_vs_dot1(flows, commodity)
    return results


def ita_agreement(build_report: dict | None) -> list[CheckResult]:
    """The two ITA series on 2012-2021 per metro-year (computed by the trade step), as a reported
    check: values that differ beyond the old file's 6-significant-figure rounding are a warning."""
    cmp = ((build_report or {}).get("steps", {}).get("trade_flows", {}) or {}).get("ita_series_comparison")
    if not cmp or not cmp.get("compared"):
        return [CheckResult(suite=SUITE, resource=FLOWS, check="ita_series_agreement",
                            target="ita_metro_exports vs ita_metro_exports_2005_2023",
                            skipped="a series is not in this build")]
    ex = cmp["rounded_examples"][0] if cmp["rounded_examples"] else None
    msg = (f"{cmp['metro_years']:,} metro-years: {cmp['exact']:,} exact, {cmp['old_rounded_new_exact']:,} where the "
           f"2012-2021 file is rounded to 6 significant figures and the 2005-2023 file exact"
           + (f" (e.g. {ex['new_name']} {ex['year']}: {ex['old']:,} vs {ex['new']:,}; use the exact one)" if ex else "")
           + f", {cmp['suppressed_in_one']:,} suppressed in one, {cmp['differ']:,} differ")
    return [CheckResult(suite=SUITE, resource=FLOWS, check="ita_series_agreement",
                        target="ita_metro_exports vs ita_metro_exports_2005_2023", ok=cmp["differ"] == 0,
                        severity=WARNING, rows=int(cmp["differ"]), unit="metro-years", message=msg,
                        examples=cmp.get("largest_differences", [])[:MAX_EXAMPLES])]
