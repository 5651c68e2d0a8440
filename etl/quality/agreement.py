"""How far the two partnership sources agree (Wikipedia lists vs Wikidata P190, for the EU-origin
cities), held against a committed baseline: a drop of more than ``TOLERANCE_PTS`` points in
either direction's share is a gate warning (a resolver or reader change that splits pairs which
used to merge), not an error (the sources are independent and may rightly differ).

The figures are the partnerships step's ``agreement`` (``build_report.json`` -> steps ->
partnerships); the baseline is ``validations/baselines/partnership_agreement.json`` (beside, not among, the suites), measured on
the mirror and updated by hand when a change is reviewed.
"""
from __future__ import annotations

import json
from pathlib import Path

from etl.paths import VALIDATIONS
from etl.quality.results import WARNING, CheckResult

SUITE = "agreement"
RESOURCE = "partnerships"
BASELINE = VALIDATIONS / "baselines" / "partnership_agreement.json"
TOLERANCE_PTS = 1.0
SHARES = ("wikidata_pairs_in_wikipedia_pct", "wikipedia_pairs_in_wikidata_pct")


def figures(build_report: dict | None) -> dict:
    return (((build_report or {}).get("steps") or {}).get("partnerships") or {}).get("agreement") or {}


def check(build_report: dict | None, baseline_path: Path = BASELINE) -> list[CheckResult]:
    got = figures(build_report)
    baseline = json.loads(Path(baseline_path).read_text(encoding="utf-8"))
    out = []
    for share in SHARES:
        target = f"{share} vs baseline {baseline.get(share)}"
        if got.get(share) is None:
            out.append(CheckResult(suite=SUITE, resource=RESOURCE, check="partnership_agreement", target=target,
                                   skipped="both partnership sources are not in this build"))
            continue
        drop = float(baseline[share]) - float(got[share])
        out.append(CheckResult(
            suite=SUITE, resource=RESOURCE, check="partnership_agreement", target=target,
            ok=drop <= TOLERANCE_PTS, severity=WARNING, rows=int(got.get("pairs_in_both", 0)), unit="pairs in both",
            message=f"{got[share]:.2f} % (baseline {baseline[share]:.2f} %, warn below {baseline[share] - TOLERANCE_PTS:.2f} %)",
            why="Pairs the two sources both attest should not become fewer unnoticed."))
    return out


def to_markdown(got: dict) -> list[str]:
    """The quality.md section: both shares, counts, and examples of each kind of disagreement."""
    if not got:
        return []
    lines = ["## Partnership sources' agreement", "",
             f"For the {got['eu_origin_cities']:,} EU-origin cities (places Wikidata P190, 2017, lists as an origin): "
             f"{got['wikidata_pairs']:,} Wikidata pairs, {got['wikipedia_pairs_with_an_eu_origin_side']:,} Wikipedia-list "
             f"pairs with such a side, {got['pairs_in_both']:,} in both.", "",
             "| share | all pairs % | pairs with both sides in GeoNames % |", "|---|---:|---:|",
             f"| Wikidata pairs also in the Wikipedia lists | {got['wikidata_pairs_in_wikipedia_pct']} | "
             f"{got['wikidata_pairs_in_wikipedia_resolved_pct']} |",
             f"| Wikipedia pairs also in Wikidata | {got['wikipedia_pairs_in_wikidata_pct']} | "
             f"{got['wikipedia_pairs_in_wikidata_resolved_pct']} |", ""]
    for key, title in (("examples_only_in_wikidata", "Only in Wikidata"), ("examples_only_in_wikipedia", "Only in the Wikipedia lists")):
        lines += [f"{title} (examples, both sides in GeoNames):", ""] + [f"- {e}" for e in got.get(key, [])] + [""]
    return lines
