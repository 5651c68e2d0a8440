"""Scale: the data stages over inputs inflated 1x/10x/100x, one fresh, RSS-guarded process per factor.

``run_scale`` starts ``scale_worker`` in a new interpreter (so each factor's peak RSS is its own),
which samples RSS per stage; ``growth`` turns the factors' figures into time per unit of factor.
"""
from __future__ import annotations

import cProfile
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from etl.bench.inflate import INFLATION, inflate_sources
from etl.bench.processes import MIN_AVAILABLE_MB, _clean_env, _tail, _venv, run_measured
from etl.bench.stages import DATA_STAGES
from etl.paths import ROOT


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
        if "/etl/" in path and "/etl/bench/" not in path and not path.endswith("etl/build.py"):
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


def paths_to_json(paths: dict) -> dict:
    """Source paths for the worker's spec: a source that is a set of files stays a list."""
    return {k: [str(p) for p in v] if isinstance(v, (list, tuple)) else str(v) for k, v in paths.items()}


def paths_from_json(spec: dict) -> dict:
    """The inverse of ``paths_to_json``: what ``build.run(raw_paths=...)`` takes."""
    return {k: [Path(p) for p in v] if isinstance(v, list) else Path(v) for k, v in spec.items()}


def scale_worker(spec_path: str) -> None:
    """Run in a fresh interpreter: the data stages over the inflated files; write timings as JSON."""
    spec = json.loads(Path(spec_path).read_text())
    t0 = time.perf_counter()
    from etl import build
    imported = time.perf_counter() - t0
    paths = paths_from_json(spec["raw_paths"])
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
    spec = {"raw_paths": paths_to_json(inflated), "out_dir": str(fdir / "build"),
            "result": str(fdir / "result.json"), "rss_log": str(fdir / "rss.tsv"),
            "profile": str(profile_dir / f"scale-{factor}x.prof") if profile_dir else None}
    (fdir / "spec.json").write_text(json.dumps(spec))
    say(f"scale {factor}x: {input_mb:,.0f} MB of fact files (generated in {generate:.1f} s); running the data "
        f"stages ...")
    cmd = [str(_venv() / "bin" / "python"), "-c",
           "import sys; from etl.bench.scale import scale_worker; scale_worker(sys.argv[1])", str(fdir / "spec.json")]
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
