"""The ``python -m etl.bench`` command: its options, and the order the measurements run in."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
from pathlib import Path

import etl.bench
from etl.bench.cold_publish import cold_and_noop
from etl.bench.gate import gate_vs_frictionless, publish_for_gate
from etl.bench.imports import import_times
from etl.bench.inflate import mirror_paths
from etl.bench.record import RESULTS_DIR, machine, write_results
from etl.bench.report import print_profile, print_tables
from etl.bench.scale import growth, run_scale, warm_gazetteer_cache
from etl.bench.targets import GB, targets
from etl.paths import ROOT

DEFAULT_MIRROR = ROOT.parent / "shared" / "raw-mirror"
DEFAULT_FACTORS = (1, 10, 100)


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    parser = argparse.ArgumentParser(prog="python -m etl.bench", description=etl.bench.__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", type=Path, default=None,
                        help=f"raw mirror folder (default: $RAW_MIRROR, else {DEFAULT_MIRROR})")
    parser.add_argument("--factors", default=",".join(map(str, DEFAULT_FACTORS)),
                        help="scale factors, comma-separated (default 1,10,100; empty = no scale runs)")
    parser.add_argument("--skip-cold", action="store_true", help="skip the cold and no-op make publish")
    parser.add_argument("--skip-gate", action="store_true",
                        help="skip the quality gate vs frictionless comparison (frictionless takes minutes)")
    parser.add_argument("--profile", action="store_true", help="run each scale factor under cProfile "
                        "(slower; profiles kept in .bench/)")
    parser.add_argument("--max-rss-gb", type=float, default=8.0,
                        help="kill a scale run whose RSS passes this (default 8, twice the 100x target)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the run's JSON goes")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (isolated copy, logs)")
    args = parser.parse_args(argv)

    wide = None if sys.stdout.isatty() else 120  # rich's 80 columns wrap the tables in logs
    console, err = Console(width=wide), Console(stderr=True)

    def say(msg: str) -> None:
        err.print(f"[dim]{dt.datetime.now().strftime('%H:%M:%S')}[/] {msg}", highlight=False)

    mirror = (args.mirror or (Path(os.environ["RAW_MIRROR"]) if os.environ.get("RAW_MIRROR") else DEFAULT_MIRROR))
    mirror = mirror.expanduser().resolve()
    factors = sorted({int(f) for f in args.factors.split(",") if f.strip()})
    sources = mirror_paths(mirror)
    started = dt.datetime.now(dt.timezone.utc)
    results: dict = {"timestamp": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
                     "machine": machine(), "mirror": str(mirror),
                     "options": {"factors": factors, "skip_cold": args.skip_cold, "skip_gate": args.skip_gate,
                                 "profile": args.profile, "max_rss_gb": args.max_rss_gb}}
    work = Path(tempfile.mkdtemp(prefix="city-bench-"))
    profile_dir = ROOT / ".bench" if args.profile else None
    if profile_dir:
        profile_dir.mkdir(exist_ok=True)
    say(f"scratch folder {work}; mirror {mirror}")
    try:
        release = None
        if not args.skip_cold:
            cn = cold_and_noop(work, mirror, say)
            results["cold_publish"], results["noop_publish"] = cn["cold"], cn["noop"]
            results["cold_publish"]["venv_install"] = cn["venv_install"]
            release = Path(cn["release"]) if cn["release"] else None
            if release and not args.skip_gate:
                results["gate_vs_frictionless"] = {**gate_vs_frictionless(release, work, say),
                                                   "release_from": "cold publish"}

        imports = import_times(say)
        results["import_s"] = imports
        measured = {k: v for k, v in imports.items() if v is not None}
        results["heaviest_import"] = max(measured, key=measured.get) if measured else None

        scale = []
        if factors:
            results["gazetteer_cache_s"] = warm_gazetteer_cache(work, say)
        for f in factors:
            # No release from the cold run: publish the first factor's build to compare gate and frictionless.
            keep_build = not args.skip_gate and release is None and f == factors[0]
            s = run_scale(f, sources, work, say, profile_dir, keep_build, args.max_rss_gb * GB)
            scale.append(s)
            if keep_build and s.get("rc") == 0:
                rel = publish_for_gate(work / f"scale-{f}x" / "build", work)
                if rel:
                    results["gate_vs_frictionless"] = {**gate_vs_frictionless(rel, work, say),
                                                       "release_from": f"{f}x scale build, published to scratch"}
                shutil.rmtree(work / f"scale-{f}x" / "build", ignore_errors=True)
        if scale:
            results["scale"] = scale
            results["growth"] = growth(scale)
        results["targets"] = targets(results)
        results["total_bench_s"] = round((dt.datetime.now(dt.timezone.utc) - started).total_seconds(), 1)
    finally:
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print_tables(results, console)
    if profile_dir:
        for f in factors:
            p = profile_dir / f"scale-{f}x.prof"
            if p.exists():
                print_profile(p, console)
    out = write_results(results, args.results_dir, started)
    say(f"figures written to {out}")
    # A run that crashed leaves figures missing: fail. One stopped by the RSS guard is a measured
    # result (its target is reported as not met).
    failed = [s for s in results.get("scale", []) if s.get("rc") and not s.get("killed_over_rss_mb")] + \
             [r for r in (results.get("cold_publish"), results.get("noop_publish")) if r and r.get("rc")]
    return 1 if failed else 0
