"""One SQLite database of every resource, in every release (``data/city_commitments.sqlite``).

For users of SQL, datasette and any tool without a Parquet reader: one table per resource,
column types from the schema, primary keys (each with its index), foreign keys, and an index on
every foreign-key and join column. Written deterministically (tables in descriptor order, rows in primary-key order as
published, indexes after the rows, no journal): the same release gives the same bytes.
"""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

DB_FILE = "data/city_commitments.sqlite"
SQL_TYPES = {"string": "TEXT", "integer": "INTEGER", "number": "REAL", "boolean": "INTEGER",
             "date": "TEXT", "year": "INTEGER"}
# Columns users join or filter on besides the declared keys (indexed wherever a table has them).
# Columns of a handful of values (source_id, partner_country_iso3, flow) are left out: an index on
# them would not be used, and each costs megabytes on the million-row trade tables.
JOIN_COLUMNS = ("city_id", "city_a_id", "city_b_id", "initiative_id", "geography_code", "hs_chapter",
                "cdp_account", "year")
BATCH_ROWS = 100_000


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
    indexes, indexed = [], set()

    def index(columns: list[str]) -> None:
        if tuple(columns) in indexed or tuple(columns) == tuple(pk[: len(columns)]):
            return  # the primary key's own index serves its leading columns
        indexed.add(tuple(columns))
        indexes.append(f"CREATE INDEX {_quote('idx_' + resource['name'] + '_' + '_'.join(columns))} "
                       f"ON {_quote(resource['name'])} ({', '.join(map(_quote, columns))})")

    for fk in s.get("foreignKeys", []):
        fields = [fk["fields"]] if isinstance(fk["fields"], str) else fk["fields"]
        ref = fk["reference"]
        ref_fields = [ref["fields"]] if isinstance(ref["fields"], str) else ref["fields"]
        cols.append(f"FOREIGN KEY ({', '.join(map(_quote, fields))}) "
                    f"REFERENCES {_quote(ref['resource'] or resource['name'])} ({', '.join(map(_quote, ref_fields))})")
        index(fields)
    names = [f["name"] for f in s["fields"]]
    for column in JOIN_COLUMNS:
        if column in names:
            index([column])
    return [f"CREATE TABLE {_quote(resource['name'])} (\n  " + ",\n  ".join(cols) + "\n)"], indexes


# date32 days of 0001-01-01 and 9999-12-31: between them Arrow's cast to text writes exactly what
# strftime("%Y-%m-%d") writes, many times faster.
_ISO_DAYS = (-719162, 2932896)


def _iso_dates(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dates as ISO text (YYYY-MM-DD)."""
    if pa.types.is_date32(col.type):
        bounds = pc.min_max(col.cast(pa.int32()))
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        if low is None or (low >= _ISO_DAYS[0] and high <= _ISO_DAYS[1]):
            return col.cast(pa.string())
    return pc.strftime(col, format="%Y-%m-%d")


def _python_values(col: pa.ChunkedArray) -> list:
    """One column as a list of Python values (None for null) through NumPy, many times faster than
    ``to_pylist``: text as str, integers as int (nulls do not turn them into floats), floats as float."""
    if pa.types.is_string(col.type):
        return col.to_numpy(zero_copy_only=False).tolist()  # nulls come out as None
    if pa.types.is_integer(col.type):
        if col.null_count == 0:
            return col.to_numpy().tolist()
        values = col.fill_null(0).to_numpy().astype(object)
        values[col.is_null().to_numpy(zero_copy_only=False)] = None
        return values.tolist()
    if pa.types.is_floating(col.type):
        values = col.to_numpy(zero_copy_only=False)  # nulls come out as NaN
        nan = np.isnan(values)
        if not nan.any():
            return values.tolist()
        values = values.astype(object)
        values[nan] = None  # SQLite stores NaN as NULL anyway
        return values.tolist()
    return col.to_pylist()


def _sqlite_columns(table: pa.Table) -> list[list]:
    """Columns as Python lists SQLite takes: enums as text, dates as ISO text, booleans as 0/1,
    null (and NaN) as None. Straight from Arrow: no pandas."""
    out = []
    for col in table.columns:
        if pa.types.is_dictionary(col.type):
            col = col.cast(pa.string())
        elif pa.types.is_date(col.type):
            col = _iso_dates(col)
        elif pa.types.is_boolean(col.type):
            col = col.cast(pa.int64())
        out.append(_python_values(col))
    return out


def table_resources(descriptor: dict) -> list[dict]:
    """The Parquet twin of each table (a release lists each table as Parquet and CSV)."""
    from etl.release.files import file_twins
    return [r for r in file_twins(descriptor)["resources"] if r.get("format") == "parquet" and "schema" in r]


def build_database(release: Path, db_path: Path, descriptor: dict | None = None) -> Path:
    """Load every Parquet table of ``release`` into a fresh SQLite file at ``db_path``, in
    descriptor order, rows in primary-key order (as published): same release, same database.
    ``descriptor``: the release descriptor (default: the release's datapackage.json)."""
    if descriptor is None:
        descriptor = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name(f".{db_path.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        con = sqlite3.connect(tmp)
        try:
            con.execute("PRAGMA journal_mode = OFF")  # a scratch file until renamed: no journal needed
            con.execute("PRAGMA synchronous = OFF")
            con.execute("PRAGMA page_size = 4096")
            for res in table_resources(descriptor):
                create, indexes = _table_ddl(res)
                for stmt in create:
                    con.execute(stmt)
                parquet = pq.ParquetFile(release / res["path"])  # streamed: one batch in memory at a time
                placeholders = ", ".join("?" * len(parquet.schema_arrow))
                for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
                    con.executemany(f"INSERT INTO {_quote(res['name'])} VALUES ({placeholders})",
                                    zip(*_sqlite_columns(pa.Table.from_batches([batch]))))
                parquet.close()
                for stmt in indexes:  # after the rows: faster than maintaining them row by row
                    con.execute(stmt)
            con.commit()
            con.execute("ANALYZE")  # query-planner statistics: deterministic for the same rows
            con.commit()
        finally:
            con.close()
        os.replace(tmp, db_path)
    finally:
        tmp.unlink(missing_ok=True)
    return db_path


