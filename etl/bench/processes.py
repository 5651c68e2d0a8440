"""Running a child process measured: rc, wall time and peak RSS of its tree, with a memory guard.

Shared by every measurement that starts a process (cold publish, scale runs, gate), with the
helpers they all need: a clean environment for nested makes, a log's tail, the virtualenv.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from etl.paths import ROOT


def run_measured(cmd: list[str], cwd: Path, log: Path, env: dict | None = None,
                 rss_limit_mb: float | None = None) -> dict:
    """Run ``cmd``; return rc, wall seconds and peak RSS (MB) of its process tree (see module doc).

    With ``rss_limit_mb`` the child (one process) is killed once its RSS passes the limit or the
    machine has less than MIN_AVAILABLE_MB left, so a 100x run cannot take a shared machine's
    memory; the result then says ``killed_over_rss_mb``.
    """
    with open(log, "ab") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, env=env)
        killed = threading.Event()
        if rss_limit_mb:
            threading.Thread(target=_rss_guard, args=(proc.pid, rss_limit_mb, killed), daemon=True).start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = {"rc": proc.returncode, "wall_s": round(wall, 3), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}
    if killed.is_set():
        out["killed_over_rss_mb"] = rss_limit_mb
    return out


MIN_AVAILABLE_MB = 2048  # the guard also stops a run when the machine itself gets this short


def _rss_guard(pid: int, limit_mb: float, killed: threading.Event) -> None:
    status = Path(f"/proc/{pid}/status")
    while True:
        try:
            rss = next(int(ln.split()[1]) for ln in status.read_text().splitlines() if ln.startswith("VmRSS:"))
            available = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                             if ln.startswith("MemAvailable:"))
        except (OSError, StopIteration):
            return  # gone (or not Linux: no guard)
        if rss / 1024 > limit_mb or available / 1024 < MIN_AVAILABLE_MB:
            killed.set()
            os.kill(pid, 9)
            return
        time.sleep(0.2)


def _clean_env(**extra: str) -> dict:
    """The environment without the calling make's flags (a nested make must act like a top-level one)."""
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}}
    env.update(extra)
    return env


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _venv() -> Path:
    return Path(sys.prefix) if sys.prefix != sys.base_prefix else ROOT / ".venv"
