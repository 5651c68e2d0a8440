"""Table schemas come from the top-level datapackage.json and nowhere else.

This module derives from them what the build needs: the Arrow/Parquet types,
the column order, the primary-key sort order, and deterministic file writers.
"""
from __future__ import annotations

import json
import os
import tempfile
from functools import cache
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from etl.paths import DESCRIPTOR

# Small enums become Arrow dictionaries, so pandas loads them as categoricals.
CATEGORICAL_MAX_VALUES = 32

# Fixed writer settings: same data -> byte-identical files.
PARQUET_OPTIONS = dict(compression="zstd", compression_level=9, use_dictionary=True,
                       write_statistics=True, data_page_version="2.0", version="2.6")


@cache
def descriptor(path: Path = DESCRIPTOR) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def resource_names() -> list[str]:
    return [r["name"] for r in descriptor()["resources"]]


def resource(name: str) -> dict:
    for r in descriptor()["resources"]:
        if r["name"] == name:
            return r
    raise KeyError(f"resource {name!r} is not in datapackage.json")


def fields(name: str) -> list[dict]:
    return resource(name)["schema"]["fields"]


def primary_key(name: str) -> list[str]:
    pk = resource(name)["schema"].get("primaryKey", [])
    return [pk] if isinstance(pk, str) else list(pk)


def is_categorical(field: dict) -> bool:
    enum = field.get("constraints", {}).get("enum")
    return field["type"] == "string" and enum is not None and len(enum) <= CATEGORICAL_MAX_VALUES


def arrow_type(field: dict) -> pa.DataType:
    t = field["type"]
    if t == "string":
        return pa.dictionary(pa.int32(), pa.string()) if is_categorical(field) else pa.string()
    return {"integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_(),
            "date": pa.date32(), "year": pa.int64()}[t]


def arrow_schema(name: str) -> pa.Schema:
    return pa.schema([pa.field(f["name"], arrow_type(f), nullable=not f.get("constraints", {}).get("required", False))
                      for f in fields(name)])


# What plain ``pd.read_parquet`` gives per Table Schema type (pandas 2.3 and 3.x alike): the
# files carry pandas metadata generated from these, so no reader needs options. Dates load as
# pandas' Arrow-backed date dtype (a real date dtype with ``.dt``, no time part to misread),
# integers as nullable Int64, booleans as bool (required) or nullable boolean.
PANDAS_DTYPES = {"string": "string", "integer": "Int64", "year": "Int64", "number": "float64",
                 "date": "date32[day][pyarrow]"}


def pandas_dtype(field: dict) -> str:
    if is_categorical(field):
        return "category"
    if field["type"] == "boolean":
        return "bool" if field.get("constraints", {}).get("required") else "boolean"
    return PANDAS_DTYPES[field["type"]]


def pandas_dtypes(name: str) -> dict[str, str]:
    """The pandas dtypes a user gets from a plain ``pd.read_parquet`` (used by tests and docs)."""
    return {f["name"]: pandas_dtype(f) for f in fields(name)}


def pandas_metadata(name: str) -> bytes:
    """The ``pandas`` schema metadata that makes ``pd.read_parquet`` restore ``pandas_dtypes``.

    Written from the descriptor, not by pandas: no library versions in it, so the bytes do not
    change with the environment (the files stay reproducible)."""
    columns = []
    for f in fields(name):
        dtype = pandas_dtype(f)
        if dtype == "category":
            meta = {"name": f["name"], "field_name": f["name"], "pandas_type": "categorical", "numpy_type": "int32",
                    "metadata": {"num_categories": len(f["constraints"]["enum"]), "ordered": False}}
        else:
            pandas_type = {"string": "unicode", "Int64": "int64", "float64": "float64", "bool": "bool",
                           "boolean": "bool", "date32[day][pyarrow]": "date"}[dtype]
            meta = {"name": f["name"], "field_name": f["name"], "pandas_type": pandas_type, "numpy_type": dtype,
                    "metadata": None}
        columns.append(meta)
    doc = {"index_columns": [], "column_indexes": [], "columns": columns, "attributes": {},
           "creator": {"library": "city-commitments", "version": "schema"}, "pandas_version": "2.3.3"}
    return json.dumps(doc, sort_keys=True).encode()


def to_arrow(name: str, frame: pd.DataFrame) -> pa.Table:
    """Cast ``frame`` to the resource's schema, sorted by primary key; refuse missing or extra columns."""
    want = [f["name"] for f in fields(name)]
    missing, extra = set(want) - set(frame.columns), set(frame.columns) - set(want)
    if missing or extra:
        raise ValueError(f"resource {name!r}: columns do not match datapackage.json "
                         f"(missing {sorted(missing)}, unexpected {sorted(extra)})")
    frame = frame[want]
    pk = primary_key(name)
    if pk:
        frame = frame.sort_values(pk, kind="stable", ignore_index=True)
    arrays = []
    for f in fields(name):
        col = frame[f["name"]]
        typ = arrow_type(f)
        if pa.types.is_dictionary(typ):
            enum = f["constraints"]["enum"]
            values = col.astype("string")
            bad = values.dropna()[~values.dropna().isin(enum)]
            if len(bad):
                raise ValueError(f"resource {name!r}, field {f['name']!r}: values outside the enum: {sorted(set(bad))[:5]}")
            # Dictionary order = enum order, so the files do not depend on which values occur first.
            indices = pa.array(pd.Categorical(values, categories=enum).codes, type=pa.int32())
            mask = pa.array(values.isna().to_numpy())
            arr = pa.DictionaryArray.from_arrays(pa.compute.if_else(mask, pa.scalar(None, pa.int32()), indices), pa.array(enum, pa.string()))
        else:
            arr = _column_array(col, typ)
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=arrow_schema(name))


def _column_array(col: pd.Series, typ: pa.DataType) -> pa.Array:
    """``col`` as one Arrow array of ``typ``, missing values (NA, NaN, NaT, None) as nulls; vectorised
    (one Python object per cell cost seconds on the trade resources). Dates: any datetime-like or
    ``datetime.date`` column, cut to the day."""
    if pa.types.is_date32(typ):
        col = pd.to_datetime(col)
        return pa.array((col.dt.tz_localize(None) if col.dt.tz else col).dt.floor("D"), from_pandas=True).cast(pa.date32())
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype(col.cat.categories.dtype)
    try:
        arr = pa.array(col, from_pandas=True)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        return arr if arr.type == typ else arr.cast(typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # mixed objects (e.g. ints and strs in one object column): value by value, as Arrow decides
        return pa.array(col.astype(object).where(col.notna(), None).tolist(), type=typ)


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; published files are for everyone to read
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_parquet(table: pa.Table, path: Path, name: str | None = None) -> None:
    """Deterministic Parquet; with the resource ``name`` (or a table whose columns are one
    resource's), pandas metadata from the descriptor replaces whatever the table carried."""
    name = name or _resource_of(table)
    meta = {b"pandas": pandas_metadata(name)} if name else None
    table = table.replace_schema_metadata(meta)
    _atomic_write(path, lambda tmp: pq.write_table(table, tmp, **PARQUET_OPTIONS))


def _resource_of(table: pa.Table) -> str | None:
    """The resource whose fields are exactly the table's columns, in order (else None)."""
    names = table.column_names
    for res in descriptor()["resources"]:
        if [f["name"] for f in res["schema"]["fields"]] == names:
            return res["name"]
    return None


def write_csv(table: pa.Table, path: Path) -> None:
    """RFC 4180 CSV, UTF-8, '\\n' line ends, quotes only where needed, empty = null."""
    plain = table.cast(pa.schema([pa.field(f.name, pa.string() if pa.types.is_dictionary(f.type) else f.type)
                                  for f in table.schema]))
    options = pacsv.WriteOptions(include_header=True, quoting_style="needed")
    _atomic_write(path, lambda tmp: pacsv.write_csv(plain, tmp, write_options=options))


def read_parquet(path: Path) -> pd.DataFrame:
    """Read a published Parquet file with nullable pandas dtypes (Int64, string, category)."""
    table = pq.read_table(path)
    mapping = {pa.int64(): pd.Int64Dtype(), pa.string(): pd.StringDtype(), pa.bool_(): pd.BooleanDtype()}
    # The release tools work on datetime.date values: the files' own pandas metadata is not used here.
    return table.to_pandas(types_mapper=mapping.get, ignore_metadata=True)
