"""``DATA_DICTIONARY.md`` in each release: every resource and field, from the descriptor and the data.

Generated, never hand-kept, so it cannot drift from the schema: type, unit, description,
allowed values (required, key, enum, pattern, minimum/maximum), example values (the first
few distinct non-null values in primary-key order) and the share of nulls.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from etl import schema

EXAMPLES = 3
EXAMPLE_CHARS = 40


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _example(value) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        text = value.isoformat()
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = str(value)
    if len(text) > EXAMPLE_CHARS:
        text = text[:EXAMPLE_CHARS - 1] + "…"
    return "`" + _cell(text).replace("`", "'") + "`"


def examples(column: pd.Series) -> str:
    values = column.dropna().drop_duplicates().head(EXAMPLES).tolist()
    return ", ".join(_example(v) for v in values) if values else "—"


def _share(share: float) -> str:
    if share == 0:
        return "0%"
    if share == 1:
        return "100%"
    return "<0.1%" if share < 0.001 else (">99.9%" if share > 0.999 else f"{share:.1%}")


def null_share(column: pd.Series) -> str:
    if len(column) == 0:
        return "—"
    return _share(column.isna().mean())


# Arrow versions of the two above for the data of a release (no pandas frame of every table):
# the same values and text as pandas gives for the dtypes schema.read_parquet reads.

def _float_values(col: pa.ChunkedArray) -> pd.Series:
    """A float column as pandas float64 (cheap: no objects), so NaN is missing and -0.0 equals 0.0
    exactly as pandas has them."""
    return pd.Series(col.to_numpy(zero_copy_only=False), dtype="float64")


def arrow_examples(col: pa.ChunkedArray) -> str:
    """``examples`` of the column schema.read_parquet gives: the first distinct non-null values."""
    if pa.types.is_floating(col.type):
        return examples(_float_values(col))
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    values = pc.unique(col.drop_null())[:EXAMPLES].to_pylist()  # in order of first occurrence
    return ", ".join(_example(v) for v in values) if values else "—"


def arrow_null_share(col: pa.ChunkedArray) -> str:
    if len(col) == 0:
        return "—"
    if pa.types.is_floating(col.type):
        return null_share(_float_values(col))
    return _share(col.null_count / len(col))


def _number(v) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def allowed(field: dict, primary_key: list[str], foreign: dict[str, str]) -> str:
    c = field.get("constraints", {})
    parts = []
    if field["name"] in primary_key:
        parts.append("primary key" if len(primary_key) == 1 else "part of primary key")
    if c.get("required"):
        parts.append("required")
    if field["name"] in foreign:
        parts.append(f"→ {foreign[field['name']]}")
    if "enum" in c:
        parts.append("one of " + ", ".join(f"`{v}`" for v in c["enum"]))
    if "pattern" in c:
        parts.append(f"pattern `{c['pattern']}`")
    if "minimum" in c and "maximum" in c:
        parts.append(f"{_number(c['minimum'])} to {_number(c['maximum'])}")
    elif "minimum" in c:
        parts.append(f"≥ {_number(c['minimum'])}")
    elif "maximum" in c:
        parts.append(f"≤ {_number(c['maximum'])}")
    if "format" in field and field["format"] != "default":
        parts.append(f"format {field['format']}")
    return _cell("; ".join(parts)) or "—"


def _foreign_keys(resource: dict) -> dict[str, str]:
    out = {}
    for fk in resource["schema"].get("foreignKeys", []):
        fields = [fk["fields"]] if isinstance(fk["fields"], str) else fk["fields"]
        ref = fk["reference"]
        ref_fields = [ref["fields"]] if isinstance(ref["fields"], str) else ref["fields"]
        target = ref["resource"] or resource["name"]
        for f, rf in zip(fields, ref_fields):
            out[f] = f"`{target}.{rf}`"
    return out


def resource_section(resource: dict, table: pa.Table) -> list[str]:
    name = resource["name"]
    pk = schema.primary_key(name)
    fks = _foreign_keys(resource)
    dtypes = schema.pandas_dtypes(name)
    lines = [f"## `{name}` — {resource.get('title', name)}", ""]
    if resource.get("description"):
        lines += [resource["description"], ""]
    lines += [f"Files: `data/{name}.parquet`, `data/{name}.csv`. Rows: {table.num_rows:,}. "
              f"Primary key: {', '.join(f'`{k}`' for k in pk) or 'none'}.", "",
              "| field | type | pandas dtype | unit | description | allowed values | examples | null share |",
              "|---|---|---|---|---|---|---|---:|"]
    for f in resource["schema"]["fields"]:
        col = table.column(f["name"])
        lines.append("| " + " | ".join([
            f"`{f['name']}`", f["type"], dtypes[f["name"]], _cell(f.get("unit", "")) or "—",
            _cell(f.get("description", "")) or "—", allowed(f, pk, fks), arrow_examples(col), arrow_null_share(col),
        ]) + " |")
    return lines + [""]


def render(descriptor: dict, data_dir: Path) -> str:
    lines = [f"# Data dictionary: {descriptor.get('title', descriptor['name'])}", "",
             "Generated from `datapackage.json` and the data of this release by `etl/release/dictionary.py`; "
             "do not edit by hand. Examples are the first distinct non-null values in primary-key order; "
             "the null share counts empty cells (null in Parquet, empty in CSV).", "",
             "A plain `pd.read_parquet(path)` gives every column the pandas dtype listed here (nullable "
             "integers as `Int64`, strings as `string`, small enums as `category`, dates as "
             "`date32[day][pyarrow]`): the files carry that metadata. Every table is also in "
             "`data/city_commitments.sqlite`.", ""]
    lines += ["Resources: " + ", ".join(f"`{r['name']}`" for r in descriptor["resources"]) + ".", ""]
    for res in descriptor["resources"]:
        lines += resource_section(res, pq.read_table(data_dir / f"{res['name']}.parquet"))
    sources = descriptor.get("sources", [])
    if sources:
        lines += ["## Sources (`source_id`)", "", "| source_id | title | publisher | licence |", "|---|---|---|---|"]
        for s in sources:
            lic = ", ".join(l.get("name", "") for l in s.get("licenses", []))
            lines.append(f"| `{s['id']}` | {_cell(s.get('title', ''))} | {_cell(s.get('publisher', ''))} | {lic} |")
        lines.append("")
    return "\n".join(lines)


def write(stage: Path) -> None:
    """Write ``DATA_DICTIONARY.md`` into ``stage`` from its ``data/*.parquet`` and the schema."""
    (stage / "DATA_DICTIONARY.md").write_text(render(schema.descriptor(), stage / "data"), encoding="utf-8")
