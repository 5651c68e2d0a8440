"""Measure place resolution on the real raw files.

    python -m etl.places.measure --mirror /work/shared/raw-mirror [--details out.csv]

Reads every source with the build's readers, takes the place mentions the fact steps declare
(exactly what ``python -m etl build`` resolves), resolves them in one ``build_places`` call and
prints:

* per source: mentions, distinct mentions, resolved % (to a GeoNames place), ambiguous %,
  unresolved %, not-a-city %, resolved % of places (the build report's ``places`` section, see
  ``etl.steps.places``);
* precision and recall on the hand-labelled sample (``tests/places/labelled_mentions.csv``, see
  ``etl.places.precision``), and the labelled rows it gets wrong or misses;
* the timings.

Nothing is written unless ``--details`` is given (a CSV of the distinct mentions and their
resolution, for review; keep it out of the repository) or ``--write-baseline`` (rewrites
``tests/places/resolution_baseline.json`` with the measured shares: do it deliberately, when a
change of resolution is understood and accepted, and say so in the commit).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd


def source_paths(mirror: Path) -> dict:
    """source_id -> file(s) in the mirror (found by upstream base name, like ``make publish``)."""
    from etl.fetch import mirror_paths

    return mirror_paths(Path(mirror))


def build_mentions(mirror: Path) -> tuple[pd.DataFrame, Path | None]:
    """The place mentions of every fact step over the real sources, and the country dictionary."""
    from etl.build import fact_steps
    from etl.sources import READERS

    paths = source_paths(mirror)
    tables = {sid: READERS[sid](p, sid) for sid, p in paths.items()
              if sid in READERS and all(x.exists() for x in (p if isinstance(p, list) else [p]))}
    # steps keep some mention columns as categoricals; as text they concatenate cleanly
    frames = [m.astype({c: "string" for c in m.columns if isinstance(m[c].dtype, pd.CategoricalDtype)})
              for m in (step.mentions(tables) for step in fact_steps())]
    mentions = pd.concat(frames, ignore_index=True)
    return mentions, paths.get("climactor_country_dict")


def report_frame(report: dict) -> pd.DataFrame:
    """The per-source part of a places report as a table."""
    rows = [{"source_id": sid, **v} for sid, v in sorted(report.items()) if not sid.startswith("_")]
    return pd.DataFrame(rows)


BASELINE = Path(__file__).resolve().parents[2] / "tests" / "places" / "resolution_baseline.json"


def baseline(report: dict) -> dict:
    """The committed regression baseline: per source, its mentions and resolved share."""
    return {
        "about": "Resolved-to-GeoNames share of each source's place mentions, from the build report "
                 "(build_report.json -> places). tests/test_places_baseline.py fails when a source drops more "
                 "than one point below. Rewrite with: python -m etl.places.measure --mirror <dir> --write-baseline",
        "sources": {sid: {"mentions": v["mentions"], "resolved_pct": v["resolved_pct"],
                          "resolved_pct_of_places": v["resolved_pct_of_places"]}
                    for sid, v in sorted(report.items()) if not sid.startswith("_")},
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirror", type=Path, required=True)
    ap.add_argument("--details", type=Path, default=None)
    ap.add_argument("--no-disk-cache", action="store_true")
    ap.add_argument("--write-baseline", action="store_true", help=f"rewrite {BASELINE.name}")
    a = ap.parse_args(argv)
    from etl.places import precision
    from etl.places.gazetteer import load_gazetteer
    from etl.steps.places import build_places

    t0 = time.perf_counter()
    g = load_gazetteer(use_disk_cache=not a.no_disk_cache)
    t1 = time.perf_counter()
    m, country_dict = build_mentions(a.mirror)
    t2 = time.perf_counter()
    res = build_places(m, country_dict_path=country_dict)
    t3 = time.perf_counter()
    pd.set_option("display.width", 200)
    pd.set_option("display.max_colwidth", 40)
    print(report_frame(res.report).to_string(index=False))

    figures, detail = precision.run(a.mirror, gazetteer=g, country_dict_path=country_dict)
    print("\nlabelled sample (tests/places/labelled_mentions.csv): precision / recall")
    print(figures.to_string(index=False))
    off = detail[detail["verdict"].isin(["wrong", "missed", "override_conflict"])]
    if len(off):
        print("\nlabelled rows not matched as labelled:")
        print(off[["source_id", "source_row", "side", "name", "expected", "got", "method", "verdict"]]
              .to_string(index=False))
    print(f"\ngazetteer load {t1 - t0:.2f}s {g.timings}; reading sources and mentions {t2 - t1:.2f}s; "
          f"build_places {t3 - t2:.2f}s for {len(m)} mentions ({res.report.get('_timing')})")
    if a.write_baseline:
        BASELINE.write_text(json.dumps(baseline(res.report), indent=2, sort_keys=True) + "\n")
        print(f"baseline written: {BASELINE}")
    if a.details:
        det = pd.concat([m, res.mention_city_ids.drop(columns=["source_id", "source_row", "role"]).add_prefix("r_")],
                        axis=1)
        det = det.drop_duplicates(["source_id", "name", "country", "admin1", "latitude", "longitude", "place_type"])
        det.to_csv(a.details, index=False)
        print(f"details: {a.details}")


if __name__ == "__main__":
    main()
