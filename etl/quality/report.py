"""quality.json / quality.md (one page: what was checked, results, exclusions, place resolution)
and the console summary with failing rows."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from etl.quality.results import CheckResult

SUITE_TITLES = {
    "descriptor": "Descriptor metadata (frictionless)",
    "table-schema": "Table Schema (types, constraints, keys; vectorised)",
    "expectations": "Great Expectations suites (validations/*.json)",
    "reconciliation": "Trade reconciliation (BTS monthly vs annual, dot3 vs dot1; ITA series agreement)",
}


def exclusions_by_source(exclusions: pd.DataFrame | None) -> dict:
    """{source_id: {reason: rows}} from the exclusions resource."""
    if exclusions is None or exclusions.empty:
        return {}
    counts = exclusions.groupby([exclusions["source_id"].astype(str), exclusions["reason"].astype(str)]).size()
    out: dict = defaultdict(dict)
    for (sid, reason), n in counts.sort_index().items():
        out[sid][reason] = int(n)
    return dict(out)


NOT_A_CITY = "not_a_city"   # resolver method of mentions declared not to be places (district buckets, ...)


def place_resolution(build_report: dict | None, identifiers: pd.DataFrame | None) -> dict:
    """Per source: how its place mentions resolved (in %), from ``place_identifiers``.

    Each source spelling counts once per source row that uses it (``mentions``), as the
    place_identifiers suite counts them; ``not_a_city`` = mentions declared not to be places
    (district buckets, pseudo-metros), ``resolved_of_places_pct`` = resolved among the others
    (what the suite holds to the thresholds). The build report's own figures are kept beside.
    """
    out: dict = {}
    if identifiers is not None and not identifiers.empty:
        spellings = identifiers[identifiers["id_type"].astype(str) == "source_spelling"]
        method = spellings["method"].astype("string").fillna("")
        status = spellings["status"].astype(str).where(method != NOT_A_CITY, NOT_A_CITY)
        frame = pd.DataFrame({"source_id": spellings["source_id"].astype(str), "status": status,
                              "weight": spellings["mentions"].fillna(1).astype("int64")})
        for sid, g in frame.groupby("source_id", sort=True):
            total = int(g["weight"].sum())
            by_status = g.groupby("status")["weight"].sum()
            places = total - int(by_status.get(NOT_A_CITY, 0))
            out[sid] = {"spellings": int(len(g)), "mentions": total,
                        **{f"{s}_pct": round(100 * float(by_status.get(s, 0)) / total, 2) if total else None
                           for s in ("resolved", "ambiguous", "unresolved", NOT_A_CITY)},
                        "resolved_of_places_pct": round(100 * float(by_status.get("resolved", 0)) / places, 2)
                        if places else None}
    places_report = (build_report or {}).get("places") or {}
    per_source = places_report.get("per_source", places_report) if isinstance(places_report, dict) else {}
    for sid, v in per_source.items():
        if isinstance(v, dict) and "mentions" in v and not sid.startswith("_"):
            out.setdefault(sid, {})["build_report"] = v
    return dict(sorted(out.items()))


def build_report_dict(*, target: str, path: Path, version: str | None, results: list[CheckResult],
                      rows: dict[str, int], exclusions: dict, places: dict, timings: dict,
                      partnership_agreement: dict | None = None) -> dict:
    errors = [r for r in results if r.is_error]
    warnings = [r for r in results if r.is_warning]
    return {
        "target": target,
        "path": str(path),
        "version": version,
        "ok": not errors,
        "summary": {"checks": len(results), "passed": sum(r.ok and not r.skipped for r in results),
                    "errors": len(errors), "warnings": len(warnings),
                    "skipped": sum(bool(r.skipped) for r in results)},
        "rows": rows,
        "exclusions": exclusions,
        "place_resolution": places,
        "partnership_agreement": partnership_agreement or {},
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "checks": [r.to_dict() for r in results],
    }


def _status(r: CheckResult) -> str:
    if r.skipped:
        return "skipped"
    if r.ok:
        return "pass"
    return "FAIL" if r.is_error else "warn"


def _cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def to_markdown(report: dict, results: list[CheckResult]) -> str:
    s = report["summary"]
    lines = [f"# Data-quality report: {report['target']}", "",
             f"**Result: {'PASS' if report['ok'] else 'FAIL'}** — {s['checks']} checks: {s['passed']} passed, "
             f"{s['errors']} errors, {s['warnings']} warnings, {s['skipped']} skipped."
             + (f" Package version {report['version']}." if report.get("version") else ""), ""]
    problems = [r for r in results if r.failed]
    if problems:
        lines += ["## Problems", "", "| severity | resource | check | on | rows | message |", "|---|---|---|---|---:|---|"]
        for r in problems:
            lines.append(f"| {r.severity} | {r.resource or ''} | {r.check} | {_cell(r.target)} | {r.count} | "
                         f"{_cell(r.message)} |")
        lines.append("")
        for r in problems:
            if r.examples:
                lines += [f"Examples for {r.resource} / {r.check} ({_cell(r.target)}):", "", "```"]
                lines += [json.dumps(e, ensure_ascii=False, default=str) for e in r.examples]
                lines += ["```", ""]

    lines += ["## Rows per resource", "", "| resource | rows | schema checks | expectations |", "|---|---:|---|---|"]
    for name, n in report["rows"].items():
        mine = [r for r in results if r.resource == name]
        lines.append(f"| {name} | {n:,} | {_tally([r for r in mine if r.suite == 'table-schema'])} | "
                     f"{_tally([r for r in mine if r.suite == 'expectations'])} |")
    lines.append("")

    desc = [r for r in results if r.suite == "descriptor"]
    if desc:
        lines += ["## Descriptor", ""] + [f"- {_status(r)}: {r.message}" for r in desc] + [""]

    ts = [r for r in results if r.suite == "table-schema"]
    if ts:
        lines += ["## Table Schema checks", "",
                  "Types, required fields, patterns, enums, bounds, unique primary keys and foreign keys as declared "
                  "in datapackage.json, Parquet physical types, declared bytes and hashes (count of checks per kind).", "",
                  "| resource | passed | failed | checks |", "|---|---:|---:|---|"]
        per_resource: dict = defaultdict(list)
        for r in ts:
            per_resource[r.resource].append(r)
        for res, rs in per_resource.items():
            kinds: dict = defaultdict(int)
            for r in rs:
                kinds[r.check] += 1
            what = ", ".join(f"{k} x{n}" if n > 1 else k for k, n in kinds.items())
            lines.append(f"| {res} | {sum(r.ok for r in rs)} | {sum(not r.ok for r in rs)} | {what} |")
        lines.append("")

    gx = [r for r in results if r.suite == "expectations"]
    if gx:
        lines += ["## Expectations", "", "| resource | expectation | on | severity | result | detail | why |",
                  "|---|---|---|---|---|---|---|"]
        for r in gx:
            detail = r.skipped or r.message
            lines.append(f"| {r.resource} | {r.check} | {_cell(r.target)} | {r.severity} | {_status(r)} | "
                         f"{_cell(detail)} | {_cell(r.why)} |")
        lines.append("")

    from etl.quality import agreement
    lines += agreement.to_markdown(report.get("partnership_agreement") or {})
    agree = [r for r in results if r.suite == agreement.SUITE]
    if agree:
        lines += ["Gate against the committed baseline (`validations/baselines/partnership_agreement.json`):", "",
                  "| check | on | severity | result | detail |", "|---|---|---|---|---|"]
        lines += [f"| {r.check} | {_cell(r.target)} | {r.severity} | {_status(r)} | {_cell(r.skipped or r.message)} |"
                  for r in agree] + [""]

    rec = [r for r in results if r.suite == "reconciliation"]
    if rec:
        lines += ["## Trade reconciliation", "", "| resource | check | on | severity | result | detail |",
                  "|---|---|---|---|---|---|"]
        for r in rec:
            lines.append(f"| {r.resource} | {r.check} | {_cell(r.target)} | {r.severity} | {_status(r)} | "
                         f"{_cell(r.skipped or r.message)} |")
        lines.append("")

    if report["exclusions"]:
        lines += ["## Exclusions (source rows no resource takes)", "", "| source | reason | rows |", "|---|---|---:|"]
        for sid, reasons in report["exclusions"].items():
            for reason, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
                lines.append(f"| {sid} | {_cell(reason)} | {n:,} |")
        lines.append("")

    if report["place_resolution"]:
        lines += ["## Place resolution", "",
                  "Place mentions per source, from `place_identifiers` (each source spelling counted once per source "
                  "row that uses it). 'Not a city' = declared non-places (district buckets, pseudo-metros); "
                  "'resolved of places' = resolved among the rest, which the place_identifiers suite checks against "
                  "the thresholds.", "",
                  "| source | spellings | mentions | resolved % | ambiguous % | unresolved % | not a city % "
                  "| resolved of places % |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for sid, v in report["place_resolution"].items():
            if "spellings" not in v:
                continue
            lines.append(f"| {sid} | {v['spellings']:,} | {v['mentions']:,} | {_pct(v['resolved_pct'])} | "
                         f"{_pct(v['ambiguous_pct'])} | {_pct(v['unresolved_pct'])} | {_pct(v['not_a_city_pct'])} | "
                         f"{_pct(v['resolved_of_places_pct'])} |")
        lines.append("")

    lines += ["## Run time", ""] + [f"- {k}: {v:.2f} s" for k, v in report["timings_s"].items()] + [""]
    return "\n".join(lines)


def _pct(v) -> str:
    return "" if v is None else f"{v:.2f}"


def _tally(rs: list[CheckResult]) -> str:
    if not rs:
        return ""
    ok = sum(r.ok and not r.skipped for r in rs)
    errors, warnings = sum(r.is_error for r in rs), sum(r.is_warning for r in rs)
    skipped = sum(bool(r.skipped) for r in rs)
    parts = [f"{ok} pass"] + [f"{errors} FAIL"] * bool(errors) + [f"{warnings} warn"] * bool(warnings) \
        + [f"{skipped} skipped"] * bool(skipped)
    return ", ".join(parts)


def write(report: dict, results: list[CheckResult], directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    js, md = directory / "quality.json", directory / "quality.md"
    js.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    md.write_text(to_markdown(report, results), encoding="utf-8")
    return js, md


def print_console(results: list[CheckResult], report: dict, console: Console) -> None:
    """Failing checks with a few example rows; a one-line verdict."""
    problems = [r for r in results if r.failed]
    for r in problems:
        colour = "red" if r.is_error else "yellow"
        console.print(f"[bold {colour}]{r.severity.upper()}[/] {r.resource or 'package'}: {r.check}"
                      f"{' (' + r.target + ')' if r.target else ''} — {r.count}: {r.message}")
        if r.why:
            console.print(f"  [dim]why: {r.why}[/]")
        if r.examples:
            cols = list(dict.fromkeys(k for e in r.examples for k in e))
            t = Table(show_header=True, header_style="bold", box=None, padding=(0, 1))
            for c in cols:
                t.add_column(c)
            for e in r.examples:
                t.add_row(*[_cell(e.get(c, "")) for c in cols])
            console.print(t)
    s = report["summary"]
    verdict = "[bold green]quality gate passed[/]" if report["ok"] else "[bold red]quality gate FAILED[/]"
    console.print(f"{verdict}: {s['checks']} checks, {s['errors']} errors, {s['warnings']} warnings, "
                  f"{s['skipped']} skipped ({report['timings_s'].get('total', 0):.1f}s) — {report['path']}")
