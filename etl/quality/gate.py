"""The data-quality gate: ``make validate`` runs check_build, ``make publish`` runs check_release.

check_build(build/): descriptor metadata (frictionless) + Table Schema checks of every
build/data/*.parquet (vectorised, see tableschema.py) + the Great Expectations suites of
validations/ (see expectations.py); writes build/quality.json and build/quality.md, which
publish copies into the release.

check_release(staged release): descriptor metadata + Table Schema checks of every Parquet AND
CSV file against the release's own datapackage.json (paths, bytes, hashes included). Raises
GateFailure before the release is moved into place.

An "error" stops the gate; a "warning" (declared per expectation in the suite) is reported only.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from etl import schema as etl_schema
from etl.paths import BUILD, DESCRIPTOR, VALIDATIONS
from etl.quality import agreement, climate, expectations, reconcile, report, tableschema
from etl.quality.results import CheckResult


class GateFailure(RuntimeError):
    """The data failed the quality gate; the message says which checks, on what, how many rows."""

    def __init__(self, where: str, errors: list[CheckResult]):
        self.errors = errors
        lines = [f"{r.resource or 'package'}: {r.check}{' (' + r.target + ')' if r.target else ''}: "
                 f"{r.count} — {r.message}" for r in errors[:10]]
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        super().__init__(f"quality gate failed on {where}: {len(errors)} error(s)\n  " + "\n  ".join(lines) + more)


@dataclass
class GateResult:
    ok: bool
    results: list[CheckResult]
    report: dict
    timings_s: dict = field(default_factory=dict)
    paths: tuple[Path, ...] = ()

    @property
    def errors(self) -> list[CheckResult]:
        return [r for r in self.results if r.is_error]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if r.is_warning]


def _console(console: Console | None) -> Console:
    return console or Console(stderr=True)


def check_build(build_dir: Path = BUILD, *, suites_dir: Path = VALIDATIONS, descriptor_path: Path = DESCRIPTOR,
                console: Console | None = None, write: bool = True) -> GateResult:
    """Run every check on the build; write quality.json/quality.md into ``build_dir``.

    Great Expectations results computed early by the build's child process are used when they
    are for exactly these files (see ``expectations.start_early``)."""
    build_dir = Path(build_dir)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    descriptor = etl_schema.descriptor(descriptor_path)
    pks = tableschema.primary_keys(descriptor)
    names = list(pks)
    results = tableschema.check_descriptor(descriptor)
    timings["descriptor"] = time.perf_counter() - t0

    t = time.perf_counter()
    if results[0].ok:   # an invalid descriptor says nothing reliable about the files
        ts_results, tables = tableschema.check_package(descriptor, build_dir)
        results += ts_results
    else:
        tables = {}
    timings["table_schema"] = time.perf_counter() - t

    t = time.perf_counter()
    build_report = expectations.load_build_report(build_dir)
    frames = {n: expectations.frame_for_gx(tb.arrow) for n, tb in tables.items() if tb.arrow is not None}
    gx_results = expectations.early_results(build_dir, suites_dir, names, list(frames))
    if gx_results is None:
        gx_results = expectations.run_all(frames, build_report, suites_dir, names, pks,
                                          str(build_dir / "build_report.json"))
    results += gx_results
    timings["expectations"] = time.perf_counter() - t

    t = time.perf_counter()  # the BTS files must add up to each other (etl/quality/reconcile.py)
    results += reconcile.check({n: tables[n].arrow for n in (reconcile.FLOWS, reconcile.COMMODITY)
                                if n in tables and tables[n].arrow is not None})
    results += reconcile.ita_agreement(build_report)
    results += agreement.check(build_report)  # the two partnership sources vs the committed baseline
    results += climate.check({n: tables[n].arrow for n in (climate.EMISSIONS, climate.TARGETS)
                              if n in tables and tables[n].arrow is not None})  # etl/quality/climate.py
    timings["reconciliation"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0

    data = report.build_report_dict(
        target="build", path=build_dir, version=descriptor.get("version"), results=results,
        rows={n: tables[n].num_rows for n in names if n in tables},
        exclusions=report.exclusions_by_source(frames.get("exclusions")),
        places=report.place_resolution(build_report, frames.get("place_identifiers")), timings=timings,
        partnership_agreement=agreement.figures(build_report))
    paths = report.write(data, results, build_dir) if write else ()
    report.print_console(results, data, _console(console))
    return GateResult(ok=data["ok"], results=results, report=data, timings_s=data["timings_s"], paths=paths)


def check_release(stage_dir: Path, *, console: Console | None = None) -> GateResult:
    """Table Schema checks of the staged release's Parquet and CSV files; raise GateFailure on any error."""
    stage_dir = Path(stage_dir)
    t0 = time.perf_counter()
    descriptor_path = stage_dir / "datapackage.json"
    from etl.release.files import file_twins
    descriptor = file_twins(json.loads(descriptor_path.read_text(encoding="utf-8")))
    results = tableschema.check_descriptor(descriptor_path)
    tables = {}
    if results[0].ok:
        ts_results, tables = tableschema.check_package(descriptor, stage_dir, keep_data=False)  # row counts only
        results += ts_results
    timings = {"total": time.perf_counter() - t0}
    data = report.build_report_dict(
        target="release", path=stage_dir, version=descriptor.get("version"), results=results,
        rows={n: t.num_rows for n, t in tables.items()}, exclusions={}, places={}, timings=timings)
    errors = [r for r in results if r.is_error]
    if errors:
        report.print_console(results, data, _console(console))
        raise GateFailure(f"release {stage_dir.name}", errors)
    return GateResult(ok=True, results=results, report=data, timings_s=data["timings_s"])
