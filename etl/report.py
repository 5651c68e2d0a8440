"""Readable build summary on the console (the full figures are in build/build_report.json)."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table


def print_build_summary(report: dict, console: Console) -> None:
    t = Table(title="Sources", show_lines=False)
    for col in ("source", "rows read", "excluded"):
        t.add_column(col, justify="right" if col != "source" else "left")
    for sid, s in report["sources"].items():
        t.add_row(sid, f"{s['rows_read']:,}", f"{s['rows_excluded']:,}")
    console.print(t)

    places = report.get("places", {})
    per_source = places.get("per_source", places) if isinstance(places, dict) else {}
    rows = [(sid, v) for sid, v in per_source.items() if isinstance(v, dict) and "mentions" in v]
    if rows:
        t = Table(title="Place resolution")
        for col in ("source", "mentions", "resolved %", "ambiguous %", "unresolved %"):
            t.add_column(col, justify="right" if col != "source" else "left")
        for sid, v in rows:
            t.add_row(sid, f"{v['mentions']:,}", _pct(v.get("resolved_pct")), _pct(v.get("ambiguous_pct")),
                      _pct(v.get("unresolved_pct")))
        console.print(t)

    t = Table(title="Resources")
    t.add_column("resource")
    t.add_column("rows", justify="right")
    for name, n in report["rows"].items():
        t.add_row(name, f"{n:,}")
    console.print(t)
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in report["timings_s"].items())
    console.print(f"timings: {timings}")


def _pct(v) -> str:
    return "" if v is None else f"{v:.1f}"
