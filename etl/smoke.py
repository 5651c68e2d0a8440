"""Publish-and-load smoke run (CI's Python 3.13 / pandas 3 leg): fetch from a mirror, build,
validate and publish into a scratch folder, then load every resource with a plain
``pd.read_parquet`` and the release's SQLite database, checking dtypes and row counts.

    python -m etl.smoke --mirror ../shared/raw-mirror --work /tmp/smoke
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m etl.smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", type=Path, required=True, help="folder with the source files")
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (raw/, build/, published/)")
    args = parser.parse_args(argv)

    import pandas as pd
    import pyarrow.parquet as pq

    from etl import build, publish, schema
    from etl.fetch import fetch_all
    from etl.quality import gate
    from etl.release.sqlite import DB_FILE

    t0 = time.perf_counter()
    print(f"python {sys.version.split()[0]}, pandas {pd.__version__}", flush=True)
    paths = fetch_all(args.mirror, args.work / "raw")
    build.run(args.work / "build", raw_paths=paths)
    if not gate.check_build(args.work / "build").ok:
        print("smoke: quality gate failed", file=sys.stderr)
        return 1
    target = publish.publish(args.work / "build", args.work / "published")
    problems = []
    con = sqlite3.connect(f"file:{target / DB_FILE}?mode=ro", uri=True)
    for name in schema.resource_names():
        path = target / "data" / f"{name}.parquet"
        frame = pd.read_parquet(path)
        got = {c: str(t) for c, t in frame.dtypes.items()}
        if got != schema.pandas_dtypes(name):
            problems.append(f"{name}: dtypes {got} != {schema.pandas_dtypes(name)}")
        n = pq.read_metadata(path).num_rows
        if not (len(frame) == n == con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]):
            problems.append(f"{name}: row counts differ between Parquet and SQLite")
        print(f"  {name}: {len(frame):,} rows, dtypes as promised" if not problems else f"  {name}: checked", flush=True)
    con.close()
    for p in problems:
        print(f"smoke: {p}", file=sys.stderr)
    print(f"smoke: {'FAILED' if problems else 'ok'} in {time.perf_counter() - t0:.1f} s ({target})")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
