"""Run the Great Expectations suites in ``validations/`` (one JSON file per resource).

The suites are data: each expectation is a GX expectation type with its kwargs, plus our
``severity`` ("error" stops the release, "warning" is only reported) and a short ``why``.
A kwarg value may be taken from the build report, for bounds relative to the raw files:
``{"$build_report": "sources.twin_cities.rows_read", "times": 0.4}`` is 0.4 x the rows read
from that source. When the build report lacks the value (the source was skipped in this
build) the expectation is reported as skipped, not failed. ``row_condition`` uses GX's own
serialised condition (``{"type": "comparison", "column": {"name": "source_id"},
"operator": "==", "parameter": "twin_cities"}``). An expectation may say ``"weight": "<column>"``
(outside ``kwargs``): each row then counts that many times (e.g. a crosswalk identifier once
per source row that mentions it), so ``mostly`` is a share of mentions, not of distinct rows.

One ephemeral GX context is built once per process, with analytics and progress bars off.
"""
from __future__ import annotations

import json
import logging
import math
import os
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from etl.paths import VALIDATIONS
from etl.quality.results import ERROR, WARNING, CheckResult

SUITE = "expectations"
EXAMPLES = 5
SEVERITIES = (ERROR, WARNING)
# Columns shown with each example row, when the resource has them.
CONTEXT_COLUMNS = ("source_id", "source_row")


class SuiteError(ValueError):
    """A suite file is malformed (unknown resource, expectation type or severity, no ``why``)."""


def load_suites(directory: Path = VALIDATIONS, resources: list[str] | None = None) -> dict[str, dict]:
    """Suites keyed by resource name, checked for shape (not yet against GX)."""
    suites = {}
    for path in sorted(Path(directory).glob("*.json")):
        suite = json.loads(path.read_text(encoding="utf-8"))
        name = suite.get("resource")
        if not name or (resources is not None and name not in resources):
            raise SuiteError(f"{path.name}: 'resource' {name!r} is not a resource of datapackage.json")
        if name in suites:
            raise SuiteError(f"{path.name}: a second suite for resource {name!r}")
        for i, exp in enumerate(suite.get("expectations", [])):
            where = f"{path.name}, expectation {i + 1} ({exp.get('type')})"
            if exp.get("severity") not in SEVERITIES:
                raise SuiteError(f"{where}: severity must be one of {SEVERITIES}")
            if not exp.get("why"):
                raise SuiteError(f"{where}: say why (a short 'why')")
            if not isinstance(exp.get("kwargs"), dict) or not exp.get("type", "").startswith("expect_"):
                raise SuiteError(f"{where}: needs 'type' (expect_...) and 'kwargs'")
        suite["file"] = path.name
        suites[name] = suite
    return suites


def load_build_report(build_dir: Path) -> dict | None:
    path = Path(build_dir) / "build_report.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def run_all(frames: dict[str, pd.DataFrame], build_report: dict | None, suites_dir: Path, names: list[str],
            primary_keys: dict[str, list[str]], report_path: str = "build_report.json") -> list[CheckResult]:
    """The gate's expectations part: the suites of ``suites_dir`` on ``frames``, plus a warning
    when the build report (bounds relative to the raw files) is missing."""
    results = []
    if build_report is None:
        results.append(CheckResult(SUITE, None, "build-report", report_path, ok=False,
                                   severity=WARNING, message="build_report.json is missing: bounds relative "
                                   "to the raw files cannot be checked"))
    try:
        suites = load_suites(suites_dir, names)
    except (SuiteError, ValueError) as exc:   # ValueError: a file that is not JSON
        suites = {}
        results.append(CheckResult(SUITE, None, "suites", str(suites_dir), ok=False, message=str(exc)))
    return results + run_suites(frames, build_report, suites, primary_keys)


# ---- suites started early, by the build -------------------------------------------------------
# Importing GX takes ~4.5 s and the suites ~2 s, while the build runs on one core. So the build
# starts a child that imports GX while the build works and runs the suites once the build has
# written its files; the gate then takes those results if they were computed on exactly the
# bytes it checks (a fingerprint of the files, the suites and this module), and otherwise runs
# the suites itself. The child works in ``<build>/.gx``.
EARLY_DIR = ".gx"


def fingerprint(build_dir: Path, suites_dir: Path, names: list[str]) -> str:
    """sha256 over everything the suites' results depend on."""
    import hashlib

    h = hashlib.sha256(Path(__file__).read_bytes())
    paths = [Path(build_dir) / "data" / f"{n}.parquet" for n in names] + [Path(build_dir) / "build_report.json"]
    paths += sorted(Path(suites_dir).glob("*.json"))
    for path in paths:
        h.update(path.name.encode() + b"\0")
        h.update(path.read_bytes() if path.exists() else b"<missing>")
    return h.hexdigest()


class EarlyRun:
    """Handle of the child started by ``start_early``: the build calls ``ready()`` once its files
    are written, or ``abort()``; if the build dies, the child notices and exits."""

    def __init__(self, workdir: Path):
        self.workdir = workdir

    def ready(self) -> None:
        (self.workdir / "ready").write_text("ok\n")

    def abort(self) -> None:
        (self.workdir / "abort").write_text("abort\n")


def start_early(build_dir: Path, suites_dir: Path, primary_keys: dict[str, list[str]]) -> EarlyRun:
    """The child for the resources of ``primary_keys`` (name -> key, as ``tableschema.primary_keys``)."""
    import shutil

    from etl.background import start_python

    workdir = Path(build_dir) / EARLY_DIR
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    spec = {"build_dir": str(build_dir), "suites_dir": str(suites_dir), "pks": primary_keys,
            "parent": os.getpid()}
    (workdir / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    proc = start_python("import sys; from etl.quality.expectations import early_main; early_main(sys.argv[1])",
                        str(workdir), detach=True)
    (workdir / "pid").write_text(str(proc.pid))
    return EarlyRun(workdir)


def early_main(workdir: str) -> None:
    """The child: import GX, wait for the build, run the suites, write ``out.pickle``."""
    import pickle
    import time

    import pyarrow.parquet as pq

    wd = Path(workdir)
    spec = json.loads((wd / "spec.json").read_text(encoding="utf-8"))
    _context()
    while not (wd / "ready").exists():
        if (wd / "abort").exists() or os.getppid() != spec["parent"]:   # the build failed or died
            return
        time.sleep(0.05)
    build_dir, suites_dir, names = Path(spec["build_dir"]), Path(spec["suites_dir"]), list(spec["pks"])
    frames = {}
    for name in names:
        try:
            frames[name] = frame_for_gx(pq.read_table(build_dir / "data" / f"{name}.parquet"))
        except Exception:  # noqa: BLE001 - unreadable here means unreadable for the gate too
            continue
    stamp = fingerprint(build_dir, suites_dir, names)
    results = run_all(frames, load_build_report(build_dir), suites_dir, names, spec["pks"],
                      str(build_dir / "build_report.json"))
    tmp = wd / "out.pickle.tmp"
    tmp.write_bytes(pickle.dumps({"fingerprint": stamp, "frames": sorted(frames), "results": results}))
    tmp.replace(wd / "out.pickle")


def early_results(build_dir: Path, suites_dir: Path, names: list[str], frames: list[str],
                  timeout_s: float = 300.0) -> list[CheckResult] | None:
    """The child's results if it ran on exactly these files (waiting while it runs); else None."""
    import pickle

    from etl.background import wait_for

    wd = Path(build_dir) / EARLY_DIR
    out = wd / "out.pickle"
    try:
        pid = int((wd / "pid").read_text())
    except (OSError, ValueError):
        return None
    wait_for(out, pid, timeout_s)
    try:
        data = pickle.loads(out.read_bytes())
    except (OSError, EOFError, pickle.UnpicklingError):
        return None
    if data["fingerprint"] != fingerprint(build_dir, suites_dir, names) or data["frames"] != sorted(frames):
        return None
    return data["results"]


def _lookup(report: dict | None, dotted: str) -> Any:
    node: Any = report
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def resolve_kwargs(kwargs: dict, build_report: dict | None) -> tuple[dict, str | None]:
    """Replace ``{"$build_report": path, "times": k}`` values; say why if one is unavailable."""
    out = {}
    for key, value in kwargs.items():
        if isinstance(value, dict) and "$build_report" in value:
            found = _lookup(build_report, value["$build_report"])
            if not isinstance(found, (int, float)):
                return kwargs, f"build report has no {value['$build_report']} (source not in this build?)"
            scaled = found * value.get("times", 1)
            # Round outward so a bound of 0.4 x 5 rows does not demand 2.000001 rows.
            out[key] = math.floor(scaled) if key.startswith("min") else math.ceil(scaled)
        else:
            out[key] = value
    return out, None


# Quiet and offline before GX is first imported: no usage statistics, no INFO chatter on import.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
logging.getLogger("great_expectations").setLevel(logging.WARNING)


@cache
def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import (DataContextConfig, InMemoryStoreBackendDefaults,
                                                            ProgressBarsConfig)
    config = DataContextConfig(analytics_enabled=False,
                               progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
                               store_backend_defaults=InMemoryStoreBackendDefaults())
    context = gx.get_context(mode="ephemeral", project_config=config)
    return context, context.data_sources.add_pandas("quality")


def _batch(name: str, frame: pd.DataFrame):
    _, source = _context()
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name)
    try:
        definition = asset.get_batch_definition("whole")
    except (KeyError, LookupError):
        definition = asset.add_batch_definition_whole_dataframe("whole")
    return definition.get_batch(batch_parameters={"dataframe": frame})


def _columns_of(kwargs: dict) -> list[str]:
    cols = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
    return cols + list(kwargs.get("column_list", []))


def _jsonable(v: Any) -> Any:
    if v is None or (not isinstance(v, (list, tuple, dict, str)) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat() if v == v.normalize() else v.isoformat()
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return int(v)
    if hasattr(v, "item"):
        return v.item()
    if isinstance(v, (int, float, str, bool)):
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return str(v)


def _examples(frame: pd.DataFrame, index: list, columns: list[str], key: list[str]) -> list[dict]:
    show = [c for c in dict.fromkeys([*key, *columns, *CONTEXT_COLUMNS]) if c in frame.columns]
    out = []
    for i in index[:EXAMPLES]:
        row = {"row": int(i) + 2}
        row.update({c: _jsonable(frame.at[i, c]) for c in show})
        out.append(row)
    return out


def _describe(exp: dict, kwargs: dict, result: dict, unit: str = "rows") -> tuple[int, str]:
    """Offending row count and a one-line message from a GX result."""
    if "unexpected_count" in result:
        n, total = int(result["unexpected_count"] or 0), int(result.get("element_count") or 0)
        pct = 100 * n / total if total else 0
        mostly = f" (allowed: up to {100 * (1 - kwargs['mostly']):.1f}%)" if "mostly" in kwargs else ""
        return n, f"{n:,} of {total:,} {unit} unexpected ({pct:.2f}%){mostly}"
    observed = result.get("observed_value")
    bounds = {k: kwargs[k] for k in ("min_value", "max_value", "value") if k in kwargs}
    return 0, f"observed {observed!r}; expected {bounds}" if bounds else f"observed {observed!r}"


def run_suites(frames: dict[str, pd.DataFrame], build_report: dict | None, suites: dict[str, dict],
               primary_keys: dict[str, list[str]] | None = None) -> list[CheckResult]:
    """Validate each resource frame against its suite; one CheckResult per expectation.

    Expectations that share a ``row_condition`` (and weight) run together on that subset of rows,
    filtered once with GX's own condition-to-query translation (GX would otherwise filter the
    frame again for every metric of every expectation, most of its run time). They run with
    GX's BASIC result format (counts); only the failed ones run again with SUMMARY, for the
    labels of a few offending rows. Row labels are kept, so those point into the full table.
    """
    _context()  # GX objects need the (one, ephemeral) context to exist first
    results: dict[tuple[str, int], CheckResult] = {}
    for name, suite in suites.items():
        key = (primary_keys or {}).get(name, [])
        groups: dict[str, list[tuple[int, dict, dict]]] = {}
        for i, exp in enumerate(suite.get("expectations", [])):
            kwargs, skipped = resolve_kwargs(exp["kwargs"], build_report)
            if name not in frames:
                skipped = f"{name} could not be read"
            if skipped:
                results[(name, i)] = CheckResult(SUITE, name, exp["type"], _target(kwargs, exp.get("weight")),
                                                 ok=True, severity=exp["severity"], why=exp["why"], skipped=skipped)
                continue
            group = json.dumps([kwargs.get("row_condition"), exp.get("weight")], sort_keys=True)
            groups.setdefault(group, []).append((i, exp, kwargs))
        for group, pending in groups.items():
            condition, weight = json.loads(group)
            try:
                frame = _subset(frames[name], condition, weight, pending)
                outcome = _validate(name, frame, pending, "BASIC")
                failed = [p for p in pending if not outcome[p[0]].success]
                if failed:
                    outcome.update(_validate(name, frame, failed, "SUMMARY"))
            except Exception as exc:  # noqa: BLE001 - a broken suite entry fails the gate, it does not crash it
                for i, exp, kwargs in pending:
                    results[(name, i)] = CheckResult(SUITE, name, exp["type"], _target(kwargs, exp.get("weight")),
                                                     ok=False, severity=ERROR, why=exp["why"],
                                                     message=f"expectation could not run: {exc}")
                continue
            for i, exp, kwargs in pending:
                results[(name, i)] = _to_result(name, exp, kwargs, outcome[i], frames[name], key)
    return [results[k] for k in sorted(results, key=lambda k: (list(suites).index(k[0]), k[1]))]


def _validate(name: str, frame: pd.DataFrame, pending: list, result_format: str) -> dict:
    """GX results of ``pending`` expectations on ``frame``, keyed by their index in the suite."""
    from great_expectations import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    gx_suite = ExpectationSuite(name=f"{name}-{pending[0][0]}-{result_format}", expectations=[
        ExpectationConfiguration(type=exp["type"], meta={"index": i},
                                 kwargs={k: v for k, v in kwargs.items() if k != "row_condition"}).to_domain_obj()
        for i, exp, kwargs in pending])
    with warnings.catch_warnings():   # GX's pandas metrics warn about things the suites mean
        warnings.simplefilter("ignore")
        validation = _batch(name, frame).validate(
            gx_suite, result_format={"result_format": result_format, "partial_unexpected_count": EXAMPLES})
    return {r.expectation_config.meta["index"]: r for r in validation.results}


def _exception(info: dict | None) -> str | None:
    """The error message if GX caught one (at the top level or per metric, depending on where)."""
    if not info:
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message"))
    return None


def _subset(frame: pd.DataFrame, condition: dict | None, weight: str | None, pending: list) -> pd.DataFrame:
    """The rows a condition selects (repeated by ``weight``), only the columns the expectations read.

    GX fingerprints (hashes) every batch it is given, so handing it the one or two columns an
    expectation reads instead of the whole table saves most of its time on large tables.
    Row labels are kept (repeated rows share theirs), so reported rows point into the table.
    """
    if condition is not None:
        from great_expectations.execution_engine import PandasExecutionEngine
        from great_expectations.expectations.row_conditions import deserialize_row_condition
        clause = PandasExecutionEngine().condition_to_filter_clause(deserialize_row_condition(condition))
        frame = frame.query(clause)
    if weight is not None:
        frame = frame.loc[frame.index.repeat(frame[weight].fillna(1).astype("int64").clip(lower=0))]
    columns = list(dict.fromkeys(c for _, _, kwargs in pending for c in _columns_of(kwargs)))
    return frame[columns or list(frame.columns[:1])]


def _to_result(name: str, exp: dict, kwargs: dict, r, frame: pd.DataFrame, key: list[str]) -> CheckResult:
    target = _target(kwargs, exp.get("weight"))
    raised = _exception(r.exception_info)
    if raised:
        return CheckResult(SUITE, name, exp["type"], target, ok=False, severity=ERROR, why=exp["why"],
                           message=f"expectation could not run: {raised}")
    result = r.result or {}
    rows, message = _describe(exp, kwargs, result, unit=exp.get("weight") or "rows")
    index = list(dict.fromkeys(result.get("partial_unexpected_index_list") or []))
    return CheckResult(SUITE, name, exp["type"], target, ok=bool(r.success), severity=exp["severity"], why=exp["why"],
                       rows=rows if not r.success else 0, message=message, unit=exp.get("weight") or "rows",
                       examples=_examples(frame, index, _columns_of(kwargs), key) if not r.success else [])


def _target(kwargs: dict, weight: str | None = None) -> str:
    """The expectation's kwargs in short, for reports (conditions in GX's own notation)."""
    parts = []
    for k, v in kwargs.items():
        if k in ("result_format", "catch_exceptions", "meta"):
            continue
        if k == "row_condition":
            parts.append(f"where {_condition(v)}")
        else:
            parts.append(f"{k}={v}" if not isinstance(v, str) or k not in ("column",) else v)
    if weight:
        parts.append(f"weighted by {weight}")
    return ", ".join(parts)


def _condition(c: Any) -> str:
    if isinstance(c, dict):
        t = c.get("type")
        if t == "comparison":
            return f"{c['column']['name']} {c['operator']} {c['parameter']!r}"
        if t == "nullity":
            return f"{c['column']['name']} is {'' if c.get('is_null', True) else 'not '}null"
        if t in ("and", "or"):
            return f" {t} ".join(_condition(x) for x in c.get("conditions", []))
    return str(c)


def frame_for_gx(table) -> pd.DataFrame:
    """A Parquet table as pandas in the dtypes GX computes on column-wise.

    GX's pandas metrics are vectorised only for numpy int/float columns (a nullable Int64 column
    is checked value by value, in Python), so integers with nulls become float64 (exact below
    2**53: every count and dollar value here). Dates stay ``datetime.date`` objects: GX turns
    the suites' ISO date bounds into dates, which a datetime64 column refuses to compare with.
    Strings stay objects, small enums categoricals.
    """
    return table.to_pandas()
