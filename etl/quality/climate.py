"""Gate checks of the CDP resources that a column-wise suite cannot say.

* ``one_city_per_account`` (error): a CDP account is one reporting government, so all its rows,
  in every year and in both resources, carry one ``city_id``.
* ``reduction_within_type`` (error): ``reduction_pct`` is at most its type's ``max_reduction_pct``
  in ``etl/vocab/cdp_target_types.csv`` (100 for every type there: none allows a net-negative
  target; a type that does is a reviewed vocabulary change, not a code change).
* ``total_vs_scopes`` (warning): where a government reported both a total and scope 1 and 2
  (2016-2017), whether the total equals scope 1 + 2, or 1 + 2 + 3, within 1 %. Reported, never
  fixed: the total is kept as reported (it may include other sectors or scope 3).
* ``per_capita`` (warning): a total (or GPC BASIC total) per reported inhabitant outside
  ``PER_CAPITA_T`` names the rows: a unit slip (kt for t) or a population of the wrong boundary.
"""
from __future__ import annotations

import pandas as pd

from etl.quality.results import ERROR, WARNING, CheckResult
from etl.sources.cdp_targets import load_types

SUITE = "climate"
EMISSIONS, TARGETS = "emissions", "targets"
AGREE = 0.01                   # |total - sum of scopes| <= 1 % of the total
PER_CAPITA_T = (0.1, 50.0)     # tCO2e per inhabitant a city-wide inventory plausibly gives
EXAMPLES = 10


def _frame(table, columns) -> pd.DataFrame:
    if table is None:
        return pd.DataFrame(columns=columns)
    return table if isinstance(table, pd.DataFrame) else table.select(columns).to_pandas()


def _examples(frame: pd.DataFrame) -> list[dict]:
    return [{k: (None if pd.isna(v) else v if isinstance(v, (int, float, str)) else str(v)) for k, v in r.items()}
            for r in frame.head(EXAMPLES).to_dict("records")]


def check(tables: dict) -> list[CheckResult]:
    if tables.get(EMISSIONS) is None and tables.get(TARGETS) is None:
        return [CheckResult(SUITE, EMISSIONS, "climate", skipped="no CDP resource in this build")]
    key = ["cdp_account", "city_id", "source_file", "source_row"]
    em = _frame(tables.get(EMISSIONS), key + ["reporting_year", "scope", "scope_variant", "emissions_tco2e", "population"])
    tg = _frame(tables.get(TARGETS), key + ["reporting_year", "target_type", "reduction_pct"])
    return [one_city_per_account(pd.concat([em[key], tg[key]], ignore_index=True)),
            reduction_within_type(tg), total_vs_scopes(em), per_capita(em)]


def one_city_per_account(rows: pd.DataFrame) -> CheckResult:
    ids = rows.groupby("cdp_account")["city_id"].nunique()
    bad = rows[rows["cdp_account"].isin(ids[ids > 1].index)].drop_duplicates(["cdp_account", "city_id"])
    return CheckResult(SUITE, EMISSIONS, "one_city_per_account", "cdp_account -> city_id", ok=bad.empty,
                       rows=int((ids > 1).sum()), unit="accounts",
                       message=f"{len(ids):,} accounts; {int((ids > 1).sum())} with more than one city_id",
                       why="A CDP account is one reporting government: it keeps one place in every year and both resources.",
                       examples=_examples(bad))


def reduction_within_type(targets: pd.DataFrame) -> CheckResult:
    limit = load_types().dropna(subset=["target_type"]).groupby("target_type")["max_reduction_pct"].max()
    over = targets["reduction_pct"].astype("Float64") > targets["target_type"].astype(str).map(limit).astype("Float64")
    bad = targets[over.fillna(False).to_numpy(dtype=bool)]
    return CheckResult(SUITE, TARGETS, "reduction_within_type", "reduction_pct <= max_reduction_pct of target_type",
                       ok=bad.empty, rows=len(bad), message=f"limits per type: {limit.to_dict()}",
                       why="A reduction beyond what its type allows is a misread column or a unit slip.",
                       examples=_examples(bad))


def _wide(em: pd.DataFrame, scopes: list[str]) -> pd.DataFrame:
    plain = em[em["scope"].astype(str).isin(scopes) & em["scope_variant"].astype(str).eq("not_split")]
    return plain.pivot_table(index=["cdp_account", "reporting_year"], columns=plain["scope"].astype(str),
                             values="emissions_tco2e", aggfunc="first", observed=True)


def total_vs_scopes(em: pd.DataFrame) -> CheckResult:
    wide = _wide(em, ["total", "scope_1", "scope_2", "scope_3"]).reindex(columns=["total", "scope_1", "scope_2", "scope_3"])
    both = wide.dropna(subset=["total", "scope_1", "scope_2"])
    s12 = both["scope_1"] + both["scope_2"]
    near = lambda x: (both["total"] - x).abs() <= AGREE * both["total"].abs()
    agree = near(s12) | near(s12 + both["scope_3"].fillna(0))
    bad = both[~agree].assign(scope_1_plus_2=s12[~agree]).reset_index()
    return CheckResult(SUITE, EMISSIONS, "total_vs_scopes", f"total = scope 1 + 2 (+ 3) within {AGREE:.0%}",
                       ok=bad.empty, severity=WARNING, rows=len(bad), unit="account-years",
                       message=f"{len(both):,} account-years report a total and scopes 1 and 2: "
                               f"{int(agree.sum()):,} agree, {len(bad):,} do not (the total is kept as reported)",
                       why="A reported total is never recomputed; users should know where it and its scopes differ.",
                       examples=_examples(bad))


def per_capita(em: pd.DataFrame) -> CheckResult:
    rows = em[em["scope"].astype(str).isin(["total", "basic_gpc"]) & em["population"].astype("Float64").gt(0).fillna(False)]
    rate = rows["emissions_tco2e"].astype(float) / rows["population"].astype(float)
    out = ~rate.between(*PER_CAPITA_T)
    bad = rows[out.to_numpy()].assign(tco2e_per_capita=rate[out].round(3))
    return CheckResult(SUITE, EMISSIONS, "per_capita", f"total or GPC BASIC per inhabitant in {PER_CAPITA_T} t",
                       ok=bad.empty, severity=WARNING, rows=len(bad),
                       message=f"{len(bad):,} of {len(rows):,} totals per reported inhabitant outside {PER_CAPITA_T} tCO2e",
                       why="Implausible per-capita emissions point at a unit slip or a population of another boundary.",
                       examples=_examples(bad.drop(columns=["city_id"])))
