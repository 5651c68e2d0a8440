"""Table Schema checks over whole columns (pyarrow/pandas), derived from the descriptor.

``frictionless validate`` checks rows one at a time (about 15k rows/s here), too slow for a
gate that runs on every publish. These checks do the same work column-wise and follow
frictionless v5's rules, so both report the same problems:

* missing values (schema ``missingValues``, default ``[""]``) are nulls, in Parquet too;
* a cell that fails its type is reported once as a type error and not checked further;
* ``pattern`` must match the whole value; ``minimum``/``maximum``/``enum`` are compared in the
  field's type; NaN fails a bound;
* a primary key may be neither all-null nor repeated (the first occurrence passes);
* a foreign key whose cells are all null is not checked; ``"resource": ""`` is the table itself.

What frictionless does not check is added: Parquet physical types (it reads Parquet through
pandas, where 3.0 passes as an integer and a port code "0712" read as 712 passes nothing),
and file bytes/hash are checked as frictionless does. Everything comes from the descriptor
given, never from a copy of it: the same code checks build/ against datapackage.json and a
release against its own datapackage.json (Parquet and CSV twins).
"""
from __future__ import annotations

import csv
import hashlib
from decimal import Decimal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from etl import schema as etl_schema
from etl.quality.results import ERROR, CheckResult

SUITE = "table-schema"
EXAMPLES = 5
DEFAULT_MISSING = [""]
DEFAULT_TRUE = ["true", "True", "TRUE", "1"]
DEFAULT_FALSE = ["false", "False", "FALSE", "0"]
INTEGER_TEXT = r"^[+-]?[0-9]+$"
NUMBER_TEXT = r"(?i)^[+-]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(e[+-]?[0-9]+)?|inf|infinity|nan)$"
BOUNDS = {"minimum": pc.greater_equal, "maximum": pc.less_equal,
          "exclusiveMinimum": pc.greater, "exclusiveMaximum": pc.less}
# Field properties that change how text is read; such fields are parsed by frictionless itself.
READ_OPTIONS = {"bareNumber", "groupChar", "decimalChar", "floatNumber"}


# --------------------------------------------------------------------------- descriptor

def check_descriptor(descriptor: dict | Path, resource: str | None = None) -> list[CheckResult]:
    """Validate the descriptor's metadata with frictionless itself (cheap: no data is read)."""
    from frictionless import Package

    source = descriptor if isinstance(descriptor, dict) else str(descriptor)
    report = Package.validate_descriptor(source)
    errors = [f"{row[0]}: {row[1]}" for row in report.flatten(["type", "note"])]
    return [CheckResult(suite="descriptor", resource=resource, check="descriptor", target="datapackage.json",
                        ok=not errors, rows=len(errors), code=None if not errors else "package-error",
                        message="; ".join(errors[:5]) or "valid Data Package descriptor (frictionless)",
                        why="The descriptor must be a valid Data Package for any tool to read the files.")]


# --------------------------------------------------------------------------- loaded tables

@dataclass
class Column:
    """One field of one loaded table: values in the schema's type, and which cells are missing."""

    values: pa.Array | None          # None when the column is absent or cannot be read in its type
    missing: np.ndarray              # bool: the cell is null / a missing value
    type_error: np.ndarray           # bool: the cell is not a valid value of the field's type


@dataclass
class LoadedTable:
    name: str
    fmt: str
    path: Path
    num_rows: int = 0
    columns: dict[str, Column] = field(default_factory=dict)
    arrow: pa.Table | None = None    # the Parquet table as read (reused by the expectations)
    readable: bool = True

    def keys(self, names: list[str]) -> pd.DataFrame:
        """Key columns as pandas, missing cells as None (the values frictionless compares)."""
        out = {}
        for n in names:
            col = self.columns.get(n)
            if col is None or col.values is None:
                out[n] = pd.Series([None] * self.num_rows, dtype=object)
                continue
            values = pc.if_else(pa.array(col.missing | col.type_error), pa.nulls(self.num_rows, col.values.type), col.values)
            out[n] = pd.Series(values.to_pandas(), dtype=object if pa.types.is_string(col.values.type) else None)
        return pd.DataFrame(out)

    def key_arrays(self, names: list[str]) -> list[pa.Array | None]:
        """Key columns as Arrow, missing cells as null (None: the column is absent or unreadable)."""
        out = []
        for n in names:
            col = self.columns.get(n)
            if col is None or col.values is None:
                out.append(None)
                continue
            bad = col.missing | col.type_error
            out.append(pc.if_else(pa.array(bad), pa.nulls(self.num_rows, col.values.type), col.values)
                       if bad.any() else col.values)
        return out


# Types whose equality Arrow's hashing and pandas' comparison agree on (floats are left to pandas:
# it reads NaN as a missing value, Arrow as a value). Keys of other types take the pandas path.
_CODED_TYPES = (pa.types.is_string, pa.types.is_large_string, pa.types.is_integer, pa.types.is_date,
                pa.types.is_boolean)


def _row_codes(columns: list[pa.Array | None], n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """One int64 per row, equal exactly when the rows' key values are equal (null equals null, as
    in pandas' ``duplicated``), and which rows are null in every column; None if a column's type is
    not in ``_CODED_TYPES``."""
    codes = np.zeros(n, np.int64)
    all_null = np.ones(n, bool)
    for arr in columns:
        if arr is None:  # absent: null in every row, the same value everywhere
            continue
        if not any(is_type(arr.type) for is_type in _CODED_TYPES):
            return None
        encoded = pc.dictionary_encode(arr)
        k = len(encoded.dictionary)
        idx = encoded.indices.fill_null(k).to_numpy(zero_copy_only=False).astype(np.int64)
        all_null &= idx == k
        if n and int(codes.max()) >= (2 ** 62) // (k + 1):  # the next step could overflow: renumber
            codes = np.unique(codes, return_inverse=True)[1].astype(np.int64)
        codes = codes * (k + 1) + idx
    return codes, all_null


def _repeated(codes: np.ndarray) -> np.ndarray:
    """True where a row's code occurred on an earlier row (pandas' ``duplicated(keep="first")``)."""
    repeated = np.ones(len(codes), bool)
    repeated[np.unique(codes, return_index=True)[1]] = False
    return repeated


def _joint_codes(mine: list[pa.Array | None], theirs: list[pa.Array | None], n_mine: int, n_theirs: int):
    """``_row_codes`` over both tables' key columns at once (so codes compare across them), split
    back per table; None if the columns' types differ or are not coded (the pandas path decides)."""
    joint = []
    for a, b in zip(mine, theirs):
        if a is None and b is None:
            joint.append(None)
            continue
        typ = (a if a is not None else b).type
        a = a if a is not None else pa.nulls(n_mine, typ)
        b = b if b is not None else pa.nulls(n_theirs, typ)
        if a.type != b.type:
            return None
        joint.append(pa.concat_arrays([a, b]))
    coded = _row_codes(joint, n_mine + n_theirs)
    if coded is None:
        return None
    codes, all_null = coded
    return codes[:n_mine], all_null[:n_mine], codes[n_mine:], all_null[n_mine:]


def _fields(resource: dict) -> list[dict]:
    return resource["schema"]["fields"]


def _missing_values(resource: dict, f: dict) -> list[str]:
    return f.get("missingValues", resource["schema"].get("missingValues", DEFAULT_MISSING))


def _value_reader(f: dict):
    """frictionless' own reader for one field: exact semantics for the rare types and formats.

    Numbers come back as float (frictionless reads them as Decimal, which Arrow will not
    put in a float64 column).
    """
    from frictionless import Field
    read = Field.from_descriptor({k: v for k, v in f.items() if k not in ("description", "unit", "constraints")}) \
        .create_value_reader()
    return lambda cell: (lambda v: float(v) if isinstance(v, Decimal) else v)(read(cell))


def _arrow_base_type(f: dict) -> pa.DataType:
    typ = etl_schema.arrow_type(f)
    return typ.value_type if pa.types.is_dictionary(typ) else typ


def _parse_unique(f: dict, text: pa.Array, usable: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """Parse each distinct text once with frictionless' reader (dates, formats, odd options)."""
    reader = _value_reader(f)
    uniques = pc.unique(text.filter(pa.array(usable)))
    parsed = [reader(v) for v in uniques.to_pylist()]
    typ = _arrow_base_type(f)
    idx = pc.index_in(text, value_set=uniques)
    values = pa.array(parsed, type=typ).take(idx)
    bad = usable & values.is_null().to_numpy(zero_copy_only=False)
    return values, bad


def _parse_text(f: dict, text: pa.Array, missing: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """Typed values and type errors for one CSV column (all text)."""
    usable = ~missing
    t = f["type"]
    if set(f) & READ_OPTIONS or t not in ("string", "integer", "number", "boolean"):
        return _parse_unique(f, text, usable)
    if t == "string":
        if f.get("format", "default") != "default":
            return _parse_unique(f, text, usable)
        return text, np.zeros(len(text), bool)
    if t == "boolean":
        true = pc.is_in(text, value_set=pa.array(f.get("trueValues", DEFAULT_TRUE), pa.string()))
        false = pc.is_in(text, value_set=pa.array(f.get("falseValues", DEFAULT_FALSE), pa.string()))
        ok = pc.or_(true, false).to_numpy(zero_copy_only=False)
        values = pc.if_else(pa.array(usable & ok), true, pa.nulls(len(text), pa.bool_()))
        return values, usable & ~ok
    trimmed = pc.utf8_trim_whitespace(text)
    pattern = INTEGER_TEXT if t == "integer" else NUMBER_TEXT
    ok = usable & pc.match_substring_regex(trimmed, pattern).to_numpy(zero_copy_only=False)
    clean = pc.if_else(pa.array(ok), pc.replace_substring_regex(trimmed, r"^\+", ""), pa.nulls(len(text), pa.string()))
    try:
        values = pc.cast(clean, pa.int64() if t == "integer" else pa.float64())
    except pa.ArrowInvalid:      # e.g. an integer beyond int64: let frictionless decide
        return _parse_unique(f, text, usable)
    return values, usable & ~ok


def load_table(resource: dict, basepath: Path) -> tuple[LoadedTable, list[CheckResult]]:
    """Read one resource file into typed columns; report file-level and type problems."""
    path = basepath / resource["path"]
    fmt = resource.get("format") or path.suffix.lstrip(".")
    name = resource["name"]
    table = LoadedTable(name=name, fmt=fmt, path=path)
    results: list[CheckResult] = []
    if not path.exists():
        table.readable = False
        results.append(CheckResult(SUITE, name, "file", resource["path"], ok=False, code="scheme-error",
                                   message=f"{path} does not exist"))
        return table, results
    if fmt == "parquet":
        results += _load_parquet(resource, table)
    elif fmt == "csv":
        results += _load_csv(resource, table)
    else:
        table.readable = False
        results.append(CheckResult(SUITE, name, "file", resource["path"], ok=False, code="format-error",
                                   message=f"format {fmt!r} is not checked by the gate (parquet, csv)"))
    return table, results


def _load_parquet(resource: dict, table: LoadedTable) -> list[CheckResult]:
    name, results = resource["name"], []
    try:
        arrow = pq.read_table(table.path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a gate failure, not a crash
        table.readable = False
        return [CheckResult(SUITE, name, "file", str(table.path.name), ok=False, code="source-error",
                            message=f"cannot read Parquet: {exc}")]
    table.arrow, table.num_rows = arrow, arrow.num_rows
    want = [f["name"] for f in _fields(resource)]
    got = arrow.column_names
    results.append(CheckResult(
        SUITE, name, "columns", ", ".join(want), ok=got == want, rows=0 if got == want else arrow.num_rows,
        code=None if got == want else "incorrect-label",
        message="" if got == want else f"columns are {got}, the schema wants {want}",
        why="Files have exactly the schema's fields, in order."))
    for f in _fields(resource):
        n = f["name"]
        expected = etl_schema.arrow_type(f)
        if n not in got:
            table.columns[n] = Column(None, np.ones(arrow.num_rows, bool), np.zeros(arrow.num_rows, bool))
            continue
        arr = arrow.column(n).combine_chunks()
        ok = arr.type == expected
        results.append(CheckResult(
            SUITE, name, "physical-type", n, ok=ok, rows=0 if ok else arrow.num_rows,
            message=f"stored as {arr.type}, the schema ({f['type']}) wants {expected}" if not ok else str(expected),
            why="Parquet keeps the schema's types: integers stay int64, dates date32, codes strings "
                "(leading zeros), small enums dictionary<string>."))
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        base = _arrow_base_type(f)
        if arr.type != base:
            try:
                arr = arr.cast(base)          # keep checking the values if they convert losslessly
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                table.columns[n] = Column(None, arr.is_null().to_numpy(zero_copy_only=False),
                                          np.zeros(len(arr), bool))
                continue
        missing = arr.is_null().to_numpy(zero_copy_only=False)
        if pa.types.is_string(base):
            missing |= pc.is_in(arr, value_set=pa.array(_missing_values(resource, f), pa.string())) \
                .to_numpy(zero_copy_only=False)
        type_error = np.zeros(len(arr), bool)
        if f["type"] == "string" and f.get("format", "default") != "default":
            arr, type_error = _parse_unique(f, arr, ~missing)
        table.columns[n] = Column(arr, missing, type_error)
    return results


def _load_csv(resource: dict, table: LoadedTable) -> list[CheckResult]:
    name, results = resource["name"], []
    encoding = resource.get("encoding", "utf-8")
    with open(table.path, newline="", encoding=encoding) as fh:
        header = next(csv.reader(fh), [])
    want = [f["name"] for f in _fields(resource)]
    ok = header == want
    try:
        arrow = pacsv.read_csv(
            table.path,
            read_options=pacsv.ReadOptions(encoding=encoding),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        table.readable = False
        return [CheckResult(SUITE, name, "file", table.path.name, ok=False, code="source-error",
                            message=f"cannot parse CSV: {exc}")]
    table.num_rows = arrow.num_rows
    results.append(CheckResult(
        SUITE, name, "columns", ", ".join(want), ok=ok, rows=0 if ok else arrow.num_rows,
        code=None if ok else "incorrect-label",
        message="" if ok else f"header is {header}, the schema wants {want}",
        why="Files have exactly the schema's fields, in order."))
    for f in _fields(resource):
        n = f["name"]
        if n not in header:
            table.columns[n] = Column(None, np.ones(arrow.num_rows, bool), np.zeros(arrow.num_rows, bool))
            continue
        text = arrow.column(n).combine_chunks()
        missing = pc.is_in(text, value_set=pa.array(_missing_values(resource, f), pa.string())) \
            .to_numpy(zero_copy_only=False)
        values, type_error = _parse_text(f, text, missing)
        table.columns[n] = Column(values, missing, type_error)
    return results


# --------------------------------------------------------------------------- checks

def _examples(table: LoadedTable, mask: np.ndarray, fields: list[str], key: list[str]) -> list[dict]:
    idx = np.flatnonzero(mask)[:EXAMPLES]
    out = []
    for i in idx:
        row: dict[str, Any] = {"row": int(i) + 2}
        for n in dict.fromkeys([*key, *fields]):
            col = table.columns.get(n)
            if col is None or col.values is None:
                continue
            value = col.values[int(i)].as_py()
            row[n] = value if isinstance(value, (int, float, str, bool, type(None))) else str(value)
        out.append(row)
    return out


def _result(table: LoadedTable, check: str, target: str, mask: np.ndarray, message: str, code: str,
            key: list[str], why: str = "") -> CheckResult:
    rows = int(mask.sum())
    return CheckResult(SUITE, table.name, check, target, ok=rows == 0, rows=rows, severity=ERROR,
                       message=message if rows else "", why=why, code=code if rows else None,
                       examples=_examples(table, mask, target.split(", "), key) if rows else [])


def check_fields(resource: dict, table: LoadedTable) -> list[CheckResult]:
    """Type and constraint checks of every field (what frictionless reports per cell)."""
    results = []
    key = primary_key(resource)
    for f in _fields(resource):
        n = f["name"]
        col = table.columns.get(n)
        if col is None or col.values is None:
            continue
        cons = f.get("constraints", {})
        if col.type_error.any() or table.fmt == "csv" or f.get("format", "default") != "default":
            results.append(_result(table, "type", n, col.type_error,
                                   f"not a valid {f['type']}" + (f" ({f['format']})" if "format" in f else ""),
                                   "type-error", key))
        present = ~(col.missing | col.type_error)
        if cons.get("required"):
            results.append(_result(table, "required", n, col.missing & ~col.type_error,
                                   "required value is missing", "constraint-error", key))
        reader = None
        for c, value in cons.items():
            if c == "required":
                continue
            if c == "pattern":
                try:
                    match = pc.match_substring_regex(col.values, f"^(?:{value})$")
                    bad = ~match.fill_null(True).to_numpy(zero_copy_only=False)
                except pa.ArrowInvalid:       # a pattern RE2 cannot compile: Python's re, per distinct value
                    import re
                    rx = re.compile(f"^{value}$")
                    uniques = pc.unique(col.values.filter(pa.array(present)))
                    failing = [u for u in uniques.to_pylist() if not rx.match(u)]
                    bad = pc.is_in(col.values, value_set=pa.array(failing, pa.string())).to_numpy(zero_copy_only=False)
            elif c == "enum":
                reader = reader or _value_reader(f)
                allowed = pa.array([reader(v) for v in value], type=col.values.type)
                bad = ~pc.is_in(col.values, value_set=allowed).to_numpy(zero_copy_only=False)
            elif c in BOUNDS:
                reader = reader or _value_reader(f)
                bound = pa.scalar(reader(value), type=col.values.type)
                bad = ~BOUNDS[c](col.values, bound).fill_null(True).to_numpy(zero_copy_only=False)
            elif c in ("minLength", "maxLength"):
                lengths = pc.utf8_length(col.values) if pa.types.is_string(col.values.type) else pc.list_value_length(col.values)
                op = pc.greater_equal if c == "minLength" else pc.less_equal
                bad = ~op(lengths, value).fill_null(True).to_numpy(zero_copy_only=False)
            elif c == "unique":
                if not value:
                    continue
                coded = _row_codes(table.key_arrays([n]), table.num_rows)
                repeated = _repeated(coded[0]) if coded is not None else \
                    table.keys([n])[n].duplicated(keep="first").to_numpy()
                bad = repeated & present
                results.append(_result(table, "unique", n, bad, "value is not unique", "unique-error", key))
                continue
            else:
                results.append(CheckResult(SUITE, table.name, c, n, ok=False, code="field-error",
                                           message=f"constraint {c!r} is not checked by the gate"))
                continue
            results.append(_result(table, c, n, bad & present, f'constraint "{c}" is "{value}"',
                                   "constraint-error", key))
    return results


def primary_key(resource: dict) -> list[str]:
    pk = resource["schema"].get("primaryKey", [])
    return [pk] if isinstance(pk, str) else list(pk)


def primary_keys(descriptor: dict) -> dict[str, list[str]]:
    """Every resource's primary key, by resource name (in the descriptor's order)."""
    return {r["name"]: primary_key(r) for r in descriptor["resources"]}


def check_rows(resource: dict, table: LoadedTable) -> list[CheckResult]:
    """Blank rows and the primary key."""
    results = []
    names = [f["name"] for f in _fields(resource)]
    cols = [table.columns[n] for n in names if n in table.columns]
    if cols and table.num_rows:
        blank = np.logical_and.reduce([c.missing for c in cols])
        results.append(_result(table, "blank-row", "", blank, "every cell is missing", "blank-row", []))
    pk = primary_key(resource)
    if pk:
        coded = _row_codes(table.key_arrays(pk), table.num_rows)
        if coded is not None:
            all_null = coded[1]
            repeated = _repeated(coded[0]) & ~all_null
        else:
            keys = table.keys(pk)
            all_null = keys.isna().all(axis=1).to_numpy()
            repeated = keys.duplicated(keep="first").to_numpy() & ~all_null
        results.append(_result(table, "primary-key", ", ".join(pk), all_null | repeated,
                               f"primary key ({', '.join(pk)}) is repeated or all null", "primary-key", pk,
                               why="One row per key."))
    return results


def check_foreign_keys(resource: dict, table: LoadedTable, tables: dict[str, LoadedTable]) -> list[CheckResult]:
    results = []
    pk = primary_key(resource)
    for fk in resource["schema"].get("foreignKeys", []):
        fields = [fk["fields"]] if isinstance(fk["fields"], str) else list(fk["fields"])
        ref = fk["reference"]
        ref_name = ref["resource"] or table.name
        ref_fields = [ref["fields"]] if isinstance(ref["fields"], str) else list(ref["fields"])
        target = ", ".join(fields)
        other = tables.get(ref_name)
        if other is None or not other.readable:
            results.append(CheckResult(SUITE, table.name, "foreign-key", target, ok=False, code="resource-error",
                                       message=f"referenced resource {ref_name!r} is missing or unreadable"))
            continue
        joint = _joint_codes(table.key_arrays(fields), other.key_arrays(ref_fields), table.num_rows, other.num_rows)
        if joint is not None:
            mine_codes, mine_null, their_codes, their_null = joint
            checked = ~mine_null
            found = np.isin(mine_codes, their_codes[~their_null])
        else:
            mine = table.keys(fields)
            theirs = other.keys(ref_fields)
            theirs = theirs[~theirs.isna().all(axis=1)]
            checked = ~mine.isna().all(axis=1).to_numpy()
            if len(fields) == 1:
                found = mine[fields[0]].isin(set(theirs[ref_fields[0]])).to_numpy()
            else:
                found = np.asarray(pd.MultiIndex.from_frame(mine).isin(pd.MultiIndex.from_frame(theirs)))
        results.append(_result(table, "foreign-key", target, checked & ~found,
                               f"({target}) not found in {ref_name} ({', '.join(ref_fields)})", "foreign-key", pk,
                               why=f"Every {target} refers to a row of {ref_name}."))
    return results


def check_file_integrity(resource: dict, table: LoadedTable) -> list[CheckResult]:
    """Declared bytes and hash, as frictionless' baseline check does."""
    results = []
    if "bytes" in resource:
        size = table.path.stat().st_size
        ok = size == resource["bytes"]
        results.append(CheckResult(SUITE, table.name, "bytes", resource["path"], ok=ok, rows=0 if ok else table.num_rows,
                                   code=None if ok else "byte-count",
                                   message="" if ok else f"declared {resource['bytes']} bytes, file has {size}"))
    if "hash" in resource:
        algorithm, _, expected = resource["hash"].rpartition(":")
        h = hashlib.new(algorithm or "md5")
        with open(table.path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        ok = h.hexdigest() == expected
        results.append(CheckResult(SUITE, table.name, "hash", resource["path"], ok=ok, rows=0 if ok else table.num_rows,
                                   code=None if ok else "hash-count",
                                   message="" if ok else f"declared {resource['hash']}, file has {h.hexdigest()}"))
    return results


def _last_uses(resources: dict[str, dict], wanted: list[str]) -> dict[int, list[str]]:
    """For each position in ``wanted``, the tables not needed after it (their own checks and
    every foreign key that refers to them are done)."""
    last: dict[str, int] = {}
    for i, name in enumerate(wanted):
        last[name] = i
        for fk in resources[name]["schema"].get("foreignKeys", []):
            ref = fk["reference"]["resource"]
            if ref and ref in resources:
                last[ref] = i
    out: dict[int, list[str]] = {}
    for name, i in last.items():
        out.setdefault(i, []).append(name)
    return out


def check_package(descriptor: dict, basepath: Path, names: list[str] | None = None, keep_data: bool = True
                  ) -> tuple[list[CheckResult], dict[str, LoadedTable]]:
    """Every Table Schema check of every resource (or of ``names``) of ``descriptor``.

    Returns the results and the loaded tables (the Parquet ones carry their Arrow table, which
    the expectations reuse instead of reading the files again). ``keep_data=False`` (the release
    check, which needs only row counts) drops each table's data once no check needs it any more,
    so only a few tables are in memory at a time.
    """
    resources = {r["name"]: r for r in descriptor["resources"]}
    wanted = names or list(resources)
    results: list[CheckResult] = []
    tables: dict[str, LoadedTable] = {}
    done_after = {} if keep_data else _last_uses(resources, wanted)

    def load(name: str) -> LoadedTable:
        if name not in tables:
            tables[name], load_results = load_table(resources[name], basepath)
            results.extend(load_results)
        return tables[name]

    for i, name in enumerate(wanted):
        res = resources[name]
        table = load(name)
        if table.readable:
            for fk in res["schema"].get("foreignKeys", []):
                ref = fk["reference"]["resource"]
                if ref and ref in resources:
                    load(ref)
            results += check_file_integrity(res, table)
            results += check_fields(res, table)
            results += check_rows(res, table)
            results += check_foreign_keys(res, table, tables)
        for done in done_after.get(i, ()):
            if done in tables:
                tables[done].columns, tables[done].arrow = {}, None
    order = {n: i for i, n in enumerate(resources)}
    results.sort(key=lambda r: order.get(r.resource, -1))
    return results, tables
