"""``make serve``: browse the latest release in datasette, read-only, on 127.0.0.1 only.

The release's Parquet files are loaded into one SQLite file (one table per resource,
with the schema's primary and foreign keys so datasette links rows to ``cities``),
which datasette opens in immutable mode (``-i``): nobody can change the data through it.
"""
from __future__ import annotations

import html
import json
import os
import sqlite3
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pandas as pd

from etl.paths import BUILD

DB_NAME = "city_commitments"  # the datasette database name: URLs are /city_commitments/<table>
HOST = "127.0.0.1"
SQL_TYPES = {"string": "TEXT", "integer": "INTEGER", "number": "REAL", "boolean": "INTEGER",
             "date": "TEXT", "year": "INTEGER"}


class ServeError(RuntimeError):
    """Nothing to serve (no release yet, or a broken ``latest`` pointer)."""


def latest_release(published: Path) -> Path:
    """The release ``published/latest`` points at (a symlink, or a file holding the version)."""
    link = published / "latest"
    if link.is_symlink() or link.is_dir():
        target = link.resolve()
    elif link.is_file():
        target = published / link.read_text(encoding="utf-8").strip()
    else:
        raise ServeError(f"no release in {published}: run `make publish` first")
    if not (target / "datapackage.json").is_file():
        raise ServeError(f"{link} points at {target}, which is not a release")
    return target


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table_ddl(resource: dict) -> tuple[list[str], list[str]]:
    """CREATE TABLE with the schema's keys, and indexes on foreign keys (for datasette's links)."""
    s = resource["schema"]
    cols = [f"{_quote(f['name'])} {SQL_TYPES[f['type']]}"
            + (" NOT NULL" if f.get("constraints", {}).get("required") else "") for f in s["fields"]]
    pk = s.get("primaryKey", [])
    pk = [pk] if isinstance(pk, str) else pk
    if pk:
        cols.append(f"PRIMARY KEY ({', '.join(map(_quote, pk))})")
    indexes = []
    for fk in s.get("foreignKeys", []):
        fields = [fk["fields"]] if isinstance(fk["fields"], str) else fk["fields"]
        ref = fk["reference"]
        ref_fields = [ref["fields"]] if isinstance(ref["fields"], str) else ref["fields"]
        cols.append(f"FOREIGN KEY ({', '.join(map(_quote, fields))}) "
                    f"REFERENCES {_quote(ref['resource'] or resource['name'])} ({', '.join(map(_quote, ref_fields))})")
        indexes.append(f"CREATE INDEX {_quote('idx_' + resource['name'] + '_' + '_'.join(fields))} "
                       f"ON {_quote(resource['name'])} ({', '.join(map(_quote, fields))})")
    return [f"CREATE TABLE {_quote(resource['name'])} (\n  " + ",\n  ".join(cols) + "\n)"], indexes


def _sqlite_columns(table: pa.Table) -> list[list]:
    """Columns as Python lists SQLite takes: enums as text, dates as ISO text, booleans as 0/1, null as None."""
    out = []
    for col in table.columns:
        if pa.types.is_dictionary(col.type):
            col = col.cast(pa.string())
        elif pa.types.is_date(col.type):
            col = pc.strftime(col, format="%Y-%m-%d")
        elif pa.types.is_boolean(col.type):
            col = col.cast(pa.int64())
        values = col.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)  # ints with nulls stay ints
        out.append(values.astype(object).where(values.notna(), None).tolist())
    return out


def table_resources(descriptor: dict) -> list[dict]:
    """The Parquet twin of each table (a release lists each table as Parquet and CSV)."""
    from etl.release.files import file_twins
    return [r for r in file_twins(descriptor)["resources"] if r.get("format") == "parquet" and "schema" in r]


def build_database(release: Path, db_path: Path) -> Path:
    """Load every Parquet table of ``release`` into a fresh SQLite file at ``db_path``, in
    descriptor order, rows in primary-key order (as published): same release, same database."""
    descriptor = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name(f".{db_path.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        con = sqlite3.connect(tmp)
        try:
            con.execute("PRAGMA journal_mode = OFF")  # a scratch file until renamed: no journal needed
            con.execute("PRAGMA synchronous = OFF")
            for res in table_resources(descriptor):
                create, indexes = _table_ddl(res)
                for stmt in create:
                    con.execute(stmt)
                table = pq.read_table(release / res["path"])
                placeholders = ", ".join("?" * table.num_columns)
                con.executemany(f"INSERT INTO {_quote(res['name'])} VALUES ({placeholders})",
                                zip(*_sqlite_columns(table)))
                for stmt in indexes:  # after the rows: faster than maintaining them row by row
                    con.execute(stmt)
            con.commit()
        finally:
            con.close()
        os.replace(tmp, db_path)
    finally:
        tmp.unlink(missing_ok=True)
    return db_path


def metadata(release: Path) -> dict:
    """Datasette metadata from the release descriptor: title, licence, source, table and column docs."""
    d = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    lic = (d.get("licenses") or [{}])[0]
    sources = d.get("sources", [])
    tables = {}
    for res in table_resources(d):
        fields = res["schema"]["fields"]
        entry = {"title": res.get("title", res["name"]), "description": res.get("description", ""),
                 "columns": {f["name"]: f.get("description", "") for f in fields}}
        if any(f["name"] == "name" for f in fields):
            entry["label_column"] = "name"
        tables[res["name"]] = entry
    return {
        "title": f"{d.get('title', d['name'])} {d.get('version', '')}".strip(),
        "description": d.get("description", ""),
        **({"description_html": f"{html.escape(d.get('description', ''))} <p><a href=\"/release/overview.html\">"
            "Charts and a map of this release (overview.html)</a></p>"} if (release / "overview.html").exists() else {}),
        "license": lic.get("title") or lic.get("name", ""),
        "license_url": lic.get("path", ""),
        "source": f"{len(sources)} public sources: " + "; ".join(s.get("publisher", s["id"]) for s in sources),
        "source_url": d.get("homepage", ""),
        "databases": {DB_NAME: {"tables": tables}},
    }


def prepare(published: Path, work_dir: Path | None = None) -> tuple[Path, Path]:
    """Build the SQLite file and metadata for the latest release; return (db, metadata) paths."""
    release = latest_release(published)
    work = (work_dir or BUILD / "serve") / release.name
    db, stamp = work / f"{DB_NAME}.db", work / "built-from-SHA256SUMS"
    # Releases are immutable: the database of the same release (same SHA256SUMS) is reused.
    sums = (release / "SHA256SUMS").read_text(encoding="utf-8") if (release / "SHA256SUMS").is_file() else None
    if not (sums and db.is_file() and stamp.is_file() and stamp.read_text(encoding="utf-8") == sums):
        stamp.unlink(missing_ok=True)
        build_database(release, db)
        if sums:
            stamp.write_text(sums, encoding="utf-8")
    meta = work / "metadata.json"
    meta.write_text(json.dumps(metadata(release), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return db, meta


def command(db: Path, meta: Path, port: int, release: Path | None = None) -> list[str]:
    """The datasette command line: immutable database, loopback only; the release's files
    (overview.html among them) as static files under /release/."""
    static = ["--static", f"release:{release}"] if release is not None else []
    return [sys.executable, "-m", "datasette", "serve", "-i", str(db), "--metadata", str(meta),
            "--host", HOST, "--port", str(port), *static]


def serve(published: Path, port: int = 8001, work_dir: Path | None = None) -> None:
    """Serve the latest release until interrupted (this process becomes datasette)."""
    db, meta = prepare(published, work_dir)
    release = latest_release(published)
    argv = command(db, meta, port, release)
    print(f"serving {db.parent.name} on http://{HOST}:{port}/{DB_NAME} (Ctrl-C to stop); "
          f"charts: http://{HOST}:{port}/release/overview.html", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os.execv(argv[0], argv)
