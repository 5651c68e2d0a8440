"""Child processes that use the second core while the build runs on one (see ``etl.cli.build``)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_python(code: str, *args: str, detach: bool = False) -> subprocess.Popen:
    """Run ``python -c code args`` from the project root (so it imports this same ``etl``), silent.
    ``detach``: its own session, so it outlives a build process that exits before it."""
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=detach)


def pid_alive(pid: int) -> bool:
    """Is process ``pid`` still running? A finished child of ours is reaped (not left a zombie)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:   # not our child
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def wait_for(path: Path, pid: int, timeout_s: float) -> bool:
    """Wait until ``path`` exists, while process ``pid`` (which writes it) runs; did it appear?"""
    deadline = time.monotonic() + timeout_s
    while not path.exists() and time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
    return path.exists()
