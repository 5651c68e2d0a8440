"""The quality gate vs ``frictionless validate`` on the same release, each in a fresh interpreter.

Releases are checked by the project's own gate, not by frictionless: this records what that
saves (ratio frictionless / gate) and what frictionless reports per file format.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from etl.bench.processes import _venv
from etl.paths import ROOT


GATE_SNIPPET = """
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from etl.quality import gate
t1 = time.perf_counter()
result = gate.check_release(Path(sys.argv[1]))
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "check_s": t2 - t1, "ok": result.ok}))
"""


def gate_vs_frictionless(release: Path, work: Path, say) -> dict:
    say(f"quality gate vs frictionless validate on {release} ...")
    py = _venv() / "bin" / "python"
    out_file = work / "gate.json"
    with open(out_file, "wb") as fh:
        t0 = time.perf_counter()
        gate_rc = subprocess.run([str(py), "-c", GATE_SNIPPET, str(release)], cwd=ROOT, stdout=fh,
                                 stderr=subprocess.DEVNULL).returncode
        gate_wall = time.perf_counter() - t0
    inner = {}
    try:
        inner = json.loads(out_file.read_text().strip().splitlines()[-1])
    except (ValueError, IndexError):
        pass
    fl_log, fl_json = work / "frictionless.log", work / "frictionless.json"
    with open(fl_json, "wb") as fh, open(fl_log, "wb") as err_fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(_venv() / "bin" / "frictionless"), "validate", "--json",
                                 str(release / "datapackage.json")], cwd=ROOT, stdout=fh, stderr=err_fh)
        _, status, usage = os.wait4(proc.pid, 0)
        fl_wall = time.perf_counter() - t0
    fl = {"rc": os.waitstatus_to_exitcode(status), "wall_s": round(fl_wall, 3),
          "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), **_frictionless_summary(fl_json)}
    result = {
        "gate": {"rc": gate_rc, "wall_s": round(gate_wall, 3),
                 **{k: round(v, 3) if isinstance(v, float) else v for k, v in inner.items()}},
        "frictionless": fl,
    }
    result["ratio_frictionless_over_gate"] = round(fl_wall / gate_wall, 2) if gate_wall else None
    say(f"  gate {gate_wall:.1f} s (rc {gate_rc}), frictionless {fl_wall:.1f} s (rc {fl['rc']})")
    return result


def _frictionless_summary(path: Path) -> dict:
    """Per file format: tasks, invalid tasks, seconds, error types (frictionless stops at 1,000 errors a task)."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"report": "unreadable"}
    by_format: dict = {}
    for task in report.get("tasks", []):
        fmt = Path(str(task.get("place", ""))).suffix.lstrip(".") or "other"
        f = by_format.setdefault(fmt, {"tasks": 0, "invalid": 0, "seconds": 0.0, "errors": {}})
        f["tasks"] += 1
        f["invalid"] += not task.get("valid", False)
        f["seconds"] = round(f["seconds"] + task.get("stats", {}).get("seconds", 0.0), 2)
        for e in task.get("errors", []):
            f["errors"][e["type"]] = f["errors"].get(e["type"], 0) + 1
    return {"valid": report.get("valid"), "by_format": by_format}


def publish_for_gate(build_dir: Path, work: Path) -> Path | None:
    """With --skip-cold: publish the 1x scale build into a scratch folder for the gate comparison."""
    published = work / "published-1x"
    code = ("import sys; from pathlib import Path; from etl.publish import publish; "
            "print(publish(Path(sys.argv[1]), Path(sys.argv[2])))")
    rc = subprocess.run([str(_venv() / "bin" / "python"), "-c", code, str(build_dir), str(published)], cwd=ROOT,
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return Path(rc.stdout.strip().splitlines()[-1]) if rc.returncode == 0 and rc.stdout.strip() else None
