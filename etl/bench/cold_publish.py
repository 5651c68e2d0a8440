"""Cold and no-op ``make publish`` from the mirror, timed in an isolated copy of the repository.

The copy keeps the user's raw/, build/ and published/ untouched; its ``.venv`` symlinks the existing
virtualenv so the install (network) is not timed. The stage split comes from :mod:`etl.bench.stages`.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from etl.bench.processes import _clean_env, _tail, _venv, run_measured
from etl.bench.stages import WRAPPER, _stage_log
from etl.paths import ROOT


NOT_COPIED = {".git", ".venv", "build", "raw", "published", ".bench", "__pycache__", ".pytest_cache"}


def repo_files(root: Path = ROOT) -> list[str]:
    """Files a clean clone would have: tracked plus untracked-not-ignored (the work in progress).

    Outside a git checkout (an unpacked archive): every file but the venv, downloads and outputs.
    """
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                             check=True, capture_output=True).stdout
        files = out.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        files = [p.relative_to(root).as_posix() for p in root.rglob("*")
                 if not NOT_COPIED & set(p.relative_to(root).parts[:-1] or [""]) and p.name not in NOT_COPIED]
    return sorted({p for p in files if p and (root / p).is_file()})


def isolated_copy(dest: Path, root: Path = ROOT) -> None:
    """Copy the repository's files into ``dest`` with a symlinked, already-"installed" .venv."""
    for rel in repo_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target, follow_symlinks=False)
    venv = dest / ".venv"
    venv.mkdir()
    for entry in _venv().iterdir():
        if entry.name != ".installed":
            (venv / entry.name).symlink_to(entry)
    (venv / ".installed").touch()  # newer than the copied pyproject.toml: make skips the install


def cold_and_noop(work: Path, mirror: Path, say) -> dict:
    copy = work / "repo"
    copy.mkdir()
    isolated_copy(copy)
    wrapper, stage_log, make_log = work / "py-wrapper.sh", work / "stages.tsv", work / "make.log"
    wrapper.write_text(WRAPPER.format(python=copy / ".venv" / "bin" / "python", log=stage_log))
    wrapper.chmod(0o755)
    make = shutil.which("make") or "make"
    cmd = [make, "publish", f"RAW_MIRROR={mirror}", f"PY={wrapper}"]
    env = _clean_env(RAW_MIRROR=str(mirror))
    env.pop("CITY_COMMITMENTS_CACHE", None)  # cold: the copy builds its own gazetteer cache under its build/

    say(f"cold make publish in an isolated copy ({copy}) ...")
    cold = run_measured(cmd, copy, make_log, env)
    cold["stages"] = _stage_log(stage_log)
    report_path = copy / "build" / "build_report.json"
    cold["build_timings_s"] = json.loads(report_path.read_text()).get("timings_s", {}) if report_path.exists() else {}
    if cold["rc"]:
        cold["error"] = _tail(make_log)
    say(f"  cold: rc={cold['rc']} {cold['wall_s']:.1f} s, peak RSS {cold['peak_rss_mb']:.0f} MB")

    if stage_log.exists():
        stage_log.rename(work / "stages-cold.tsv")
    say("no-op make publish (same command again) ...")
    noop = run_measured(cmd, copy, work / "make-noop.log", env)
    noop["stages_run"] = [s["stage"] for s in _stage_log(stage_log)]
    noop["make_output"] = _tail(work / "make-noop.log", 5)
    if noop["rc"]:
        noop["error"] = _tail(work / "make-noop.log")
    say(f"  no-op: rc={noop['rc']} {noop['wall_s']:.2f} s, stages run: {noop['stages_run'] or 'none'}")

    version = json.loads((copy / "datapackage.json").read_text())["version"]
    release = copy / "published" / version
    return {"cold": cold, "noop": noop, "release": str(release) if (release / "SHA256SUMS").exists() else None,
            "venv_install": "excluded: the copy's .venv symlinks the existing virtualenv (install needs the "
                            "network; not timed)"}
