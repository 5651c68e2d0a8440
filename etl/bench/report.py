"""The printed report: rich tables of every measurement and the cProfile summaries of ``--profile``."""
from __future__ import annotations

import io
import pstats
from pathlib import Path

from etl.bench.stages import DATA_STAGES
from etl.paths import ROOT


def print_tables(results: dict, console) -> None:
    from rich.table import Table

    cold, noop = results.get("cold_publish"), results.get("noop_publish")
    if cold:
        t = Table(title="make publish in an isolated copy (venv install excluded)")
        for c in ("run", "rc", "wall s", "peak RSS MB", "note"):
            t.add_column(c, justify="left" if c in ("run", "note") else "right")
        t.add_row("cold, from the mirror", str(cold["rc"]), f"{cold['wall_s']:.2f}", f"{cold['peak_rss_mb']:.0f}",
                  "max RSS of any process in the tree")
        if noop:
            t.add_row("no-op (second run)", str(noop["rc"]), f"{noop['wall_s']:.3f}", f"{noop['peak_rss_mb']:.0f}",
                      "stages run: " + (", ".join(noop["stages_run"]) or "none"))
        console.print(t)
        if cold.get("rc"):
            console.print(f"[red]cold make publish failed[/] (rc {cold['rc']}); end of its output:")
            console.print(cold.get("error", ""), markup=False, highlight=False)

        t = Table(title="Stages of the cold publish")
        t.add_column("stage")
        t.add_column("s", justify="right")
        t.add_column("how measured")
        stages = {s["stage"]: s for s in cold.get("stages", [])}
        bt = cold.get("build_timings_s", {})
        for name in ("fetch", "build", "validate", "publish"):
            if name in stages:
                t.add_row(f"{name}{' / verify' if name == 'fetch' else ''}", f"{stages[name]['wall_s']:.2f}",
                          "process wall (interpreter start and imports included)")
            if name == "build":
                for k in DATA_STAGES:
                    if k in bt:
                        t.add_row(f"  build: {k}", f"{bt[k]:.2f}", "build_report.json timings_s")
        overhead = cold["wall_s"] - sum(s["wall_s"] for s in cold.get("stages", []))
        t.add_row("make and shell", f"{overhead:.2f}", "cold wall minus the stages")
        console.print(t)

    gate = results.get("gate_vs_frictionless")
    if gate:
        t = Table(title=f"Quality gate vs frictionless validate, same release ({gate.get('release_from', '')})")
        for c in ("check", "rc", "wall s", "note"):
            t.add_column(c, justify="left" if c in ("check", "note") else "right")
        g, f = gate["gate"], gate["frictionless"]
        t.add_row("etl.quality.gate.check_release", str(g["rc"]), f"{g['wall_s']:.2f}",
                  f"fresh interpreter; imports {g.get('import_s', '?')} s, check {g.get('check_s', '?')} s")
        t.add_row("frictionless validate datapackage.json", str(f["rc"]), f"{f['wall_s']:.2f}",
                  f"fresh interpreter; peak RSS {f['peak_rss_mb']:.0f} MB; valid: {f.get('valid')}")
        for fmt, x in sorted(f.get("by_format", {}).items()):
            errors = ", ".join(f"{k} {v:,}" for k, v in sorted(x["errors"].items())) or "none"
            t.add_row(f"  of which {fmt} files", "", f"{x['seconds']:.2f}",
                      f"{x['invalid']}/{x['tasks']} invalid; errors: {errors}")
        t.add_row("ratio frictionless / gate", "", f"{gate['ratio_frictionless_over_gate']}x", "")
        console.print(t)

    imports = results.get("import_s")
    if imports:
        t = Table(title="Import time in a fresh interpreter (best of 2)")
        t.add_column("library")
        t.add_column("s", justify="right")
        for lib, s in sorted(imports.items(), key=lambda kv: -(kv[1] or 0)):
            t.add_row(lib + ("  <- heaviest" if lib == results.get("heaviest_import") else ""),
                      "failed" if s is None else f"{s:.2f}")
        console.print(t)

    scale = results.get("scale")
    if scale:
        t = Table(title="Scale: data stages over inflated inputs (fresh process per factor)")
        for c in ("factor", "fact MB", "rows read", *DATA_STAGES, "data stages", "process wall", "peak RSS MB"):
            t.add_column(c, justify="right")
        for s in scale:
            if s.get("rc"):
                t.add_row(f"{s['factor']}x", f"{s['fact_input_mb']:,.0f}",
                          "killed" if s.get("killed_over_rss_mb") else "failed", *[""] * 5,
                          f"{s['wall_s']:.1f}", f"> {s['peak_rss_mb']:.0f}" if s.get("killed_over_rss_mb") else "")
                continue
            ts = s["timings_s"]
            t.add_row(f"{s['factor']}x", f"{s['fact_input_mb']:,.0f}", f"{sum(s['rows_read'].values()):,}",
                      *[f"{ts.get(k, 0):.2f}" for k in DATA_STAGES], f"{s['data_stages_s']:.2f}",
                      f"{s['wall_s']:.1f}", f"{s['peak_rss_mb']:.0f}")
        console.print(t)
        ok = [s for s in scale if not s.get("rc")]
        if ok:
            t = Table(title="Scale: peak RSS per stage, MB (sampled every 0.25 s)")
            for c in ("factor", *DATA_STAGES, "process peak"):
                t.add_column(c, justify="right")
            for s in ok:
                peaks = s.get("stage_peak_rss_mb", {})
                t.add_row(f"{s['factor']}x", *["?" if peaks.get(k) is None else f"{peaks[k]:.0f}" for k in DATA_STAGES],
                          f"{s['peak_rss_mb']:.0f}")
            console.print(t)
        for s in scale:
            if s.get("error"):
                console.print(f"[red]scale {s['factor']}x:[/] {s['error']}", highlight=False)
            for t_, rss, where in s.get("rss_timeline", [])[-15:]:
                console.print(f"    {t_:7.1f} s {rss:8.0f} MB  {where}", highlight=False)
        g = results.get("growth")
        if g:
            t = Table(title="Growth: time per unit of factor vs the smallest factor (1.00 = linear) and marginal "
                            "seconds per 1x between factors (rising = superlinear)")
            t.add_column("stage")
            first = next(iter(g.values()))
            for f in first["vs_smallest"]:
                t.add_column(f"{f}x vs {results['scale'][0]['factor']}x", justify="right")
            for span in first["marginal_s_per_1x"]:
                t.add_column(f"s per 1x, {span}x", justify="right")
            for stage, by in g.items():
                t.add_row(stage + (" (MB)" if stage == "peak_rss_mb" else ""),
                          *["?" if v is None else f"{v:.2f}" for v in by["vs_smallest"].values()],
                          *[f"{v:.3f}" for v in by["marginal_s_per_1x"].values()])
            console.print(t)
            rss = g["peak_rss_mb"]["marginal_s_per_1x"]
            big = max(s["factor"] for s in scale)
            last_ok = [s for s in scale if not s.get("rc")][-1]
            if big > last_ok["factor"] and rss:
                slope = list(rss.values())[-1]
                console.print(f"Linear projection of peak RSS to {big}x from the last interval: "
                              f"{last_ok['peak_rss_mb'] + slope * (big - last_ok['factor']):,.0f} MB", highlight=False)

    tg = results.get("targets")
    if tg:
        t = Table(title="Targets")
        for c in ("target", "value", "limit", "met"):
            t.add_column(c, justify="left" if c == "target" else "right")
        for x in tg:
            t.add_row(x["target"], f"{x['value']:,.2f} {x['unit']}", f"{x['limit']:,.2f} {x['unit']}",
                      "n/a" if x["met"] is None else "[green]yes[/]" if x["met"] else "[red]NO[/]")
        console.print(t)


def print_profile(path: Path, console, top: int = 20) -> None:
    """The etl functions by cumulative time (which step), then everything by own time (which call)."""
    for title, sort, restrict in (("etl functions by cumulative time", "cumulative", r"/etl/"),
                                  ("all functions by own time", "tottime", "")):
        buf = io.StringIO()
        stats = pstats.Stats(str(path), stream=buf)
        stats.sort_stats(sort).print_stats(*([restrict] if restrict else []), top)
        text = buf.getvalue()
        body = text[text.find("   ncalls"):] if "   ncalls" in text else text
        console.print(f"[bold]cProfile of {path.name}: {title}[/] (top {top})")
        console.print(body.replace(str(ROOT) + "/", "").rstrip(), markup=False, highlight=False, soft_wrap=True)
