"""Per-stage timings of a make run: which ``python -m etl <stage>`` ran and for how long.

``make``'s ``PY`` is pointed at ``WRAPPER``, which logs each call's start, end, rc and arguments;
``_stage_log`` reads that log back. ``DATA_STAGES`` names the build's own split (``timings_s`` of
``build.run`` and ``build_report.json``), used by the scale runs and the report.
"""
from __future__ import annotations

from pathlib import Path

DATA_STAGES = ("read", "resolve", "build", "write")  # build.run's timings_s


WRAPPER = """#!/usr/bin/env bash
# Bench wrapper for make's PY: run the real interpreter, log start, end, rc and arguments.
t0=$(date +%s.%N)
"{python}" "$@"
rc=$?
t1=$(date +%s.%N)
printf '%s\\t%s\\t%s\\t%s\\n' "$t0" "$t1" "$rc" "$*" >> "{log}"
exit $rc
"""


def _stage_log(log: Path) -> list[dict]:
    stages = []
    if log.exists():
        for line in log.read_text().splitlines():
            t0, t1, rc, args = line.split("\t", 3)
            parts = args.split()
            name = parts[2] if parts[:2] == ["-m", "etl"] and len(parts) > 2 else args
            stages.append({"stage": name, "wall_s": round(float(t1) - float(t0), 3), "rc": int(rc)})
    return stages
