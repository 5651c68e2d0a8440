"""The build step: read every source, resolve places, assemble resources, write build/.

Order matters only here: readers -> place mentions from every fact step -> one
place resolution over all of them -> fact resources joined on city_id.
Each fact step is a small module in etl/steps/ with two functions:
``mentions(tables)`` (the places it refers to) and ``build(tables, places)``
(its resources, its own exclusions and report figures).
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pandas as pd
from rich.progress import Progress

from etl import schema
from etl.fetch import SourcePaths, local_paths, manifest
from etl.paths import BUILD
from etl.sources import READERS
from etl.sources.base import SourceTable, empty_exclusions, release_memory
from etl.steps.base import StepOutput

log = logging.getLogger(__name__)


def fact_steps():
    from etl.steps import climate_reports, partnerships, pledges, trade_flows
    return [pledges, partnerships, trade_flows, climate_reports]


def read_sources(paths: dict[str, SourcePaths], skip: set[str] = frozenset()) -> dict[str, SourceTable]:
    from etl.places.authorities import AUTHORITY_SOURCES  # read by the place ladder, not as fact tables
    tables = {}
    with Progress(transient=True) as progress:
        task = progress.add_task("reading sources", total=len(paths))
        for source_id, path in paths.items():
            if source_id not in skip and source_id not in AUTHORITY_SOURCES:
                tables[source_id] = READERS[source_id](path, source_id)
                release_memory()  # before the next reader: see its docstring
            progress.advance(task)
    return tables


def run(out_dir: Path = BUILD, skip_sources: set[str] = frozenset(), raw_paths: dict[str, SourcePaths] | None = None) -> dict:
    """Build every resource into ``out_dir/data`` and write ``out_dir/build_report.json``."""
    from etl.steps.places import build_places

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    raw_paths = raw_paths or local_paths()
    tables = read_sources(raw_paths, set(skip_sources))
    timings["read"] = time.perf_counter() - t0

    t = time.perf_counter()
    steps = fact_steps()
    # each step's mentions are reduced to distinct places as they come, never all held at once
    places = build_places((step.mentions(tables) for step in steps),
                          country_dict_path=raw_paths.get("climactor_country_dict"), raw_paths=raw_paths)
    timings["resolve"] = time.perf_counter() - t
    for step in steps:  # raw rows a step has already reduced are handed back (see etl.steps.base)
        release = getattr(step, "release_inputs", None)
        if release is not None:
            release(tables)
    from etl.places.gazetteer import load_gazetteer
    load_gazetteer.cache_clear()  # resolution is done: the gazetteer (~200 MB) is not held while building
    release_memory()

    t = time.perf_counter()
    resolved = places.mention_city_ids  # one row per mention, in step order; index 0..n-1
    resources: dict[str, pd.DataFrame] = {
        "cities": places.cities, "city_redirects": places.redirects, "place_identifiers": places.crosswalk}
    exclusions = [t_.exclusions for t_ in tables.values()]
    step_reports = {}
    for step in steps:
        out: StepOutput = step.build(tables, resolved)
        resources.update(out.resources)
        exclusions.append(out.exclusions)
        step_reports[step.__name__.rsplit(".", 1)[-1]] = out.report
    resources["exclusions"] = pd.concat([e for e in exclusions if len(e)], ignore_index=True) if any(
        len(e) for e in exclusions) else empty_exclusions()
    timings["build"] = time.perf_counter() - t

    exclusion_counts = _exclusion_counts(resources["exclusions"])
    t = time.perf_counter()
    data_dir = out_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name in schema.resource_names():
        table = schema.to_arrow(name, resources.pop(name))  # the frame is not needed once it is Arrow
        schema.write_parquet(table, data_dir / f"{name}.parquet", name)
        rows[name] = table.num_rows
        del table
    timings["write"] = time.perf_counter() - t

    report = {
        "sources": {sid: {"rows_read": tb.rows_read, "rows_excluded": int(len(tb.exclusions)), **tb.notes}
                    for sid, tb in sorted(tables.items())},
        "skipped_sources": sorted(skip_sources),
        "places": places.report,
        "steps": step_reports,
        "rows": rows,
        "exclusions_by_reason": exclusion_counts,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }
    (out_dir / "build_report.json").write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
    return report


def _exclusion_counts(exclusions: pd.DataFrame) -> dict:
    if exclusions.empty:
        return {}
    counts = exclusions.groupby(["source_id", "reason"], observed=True).size()
    out: dict = {}
    for (sid, reason), n in counts.items():
        out.setdefault(sid, {})[reason] = int(n)
    return out


def source_ids() -> list[str]:
    return [s["id"] for s in manifest()]
