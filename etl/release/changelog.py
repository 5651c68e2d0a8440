"""What changed since the previous release: ``CHANGELOG.md`` and ``changes.json`` in each release.

Users pin a version and upgrade on purpose, so each release says, per resource, which
rows were added, removed or changed (matched on the primary key), which fields were
added, removed or retyped, and which place ids were merged or redirected (from the
``city_redirects`` resource of both releases). For a resource keyed by a vintage date
(pledges' ``as_of``) it also compares a new vintage with the one before on the rest of the
key, which is the real membership change. Everything is computed from the two releases'
Parquet files and descriptors (one outer merge per resource), so the text is reproducible.
"""
from __future__ import annotations

import copy
import datetime as dt
import filecmp
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from etl import schema

EXAMPLES = 3            # example rows per kind of change
BREAKDOWN_MAX_VALUES = 12  # break added/removed counts down by a key column with at most this many values
PLACES = "cities"
REDIRECTS = "city_redirects"


# --------------------------------------------------------------------------- reading

def _release_resources(descriptor: dict) -> dict[str, dict]:
    """Table resources of a descriptor by name (a release lists each table twice: Parquet and CSV)."""
    from etl.release.files import file_twins
    return {r["name"]: r for r in file_twins(descriptor).get("resources", [])
            if r.get("format", "parquet") == "parquet" and "schema" in r}


def _fields(resource: dict) -> dict[str, dict]:
    return {f["name"]: f for f in resource["schema"]["fields"]}


def _primary_key(resource: dict) -> list[str]:
    pk = resource["schema"].get("primaryKey", [])
    return [pk] if isinstance(pk, str) else list(pk)


def _read(path: Path) -> pd.DataFrame:
    """A release table with plain comparable dtypes (categoricals as strings)."""
    frame = schema.read_parquet(path)
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = frame[col].astype("string")
    return frame


def _jsonable(value):
    if value is None or (not isinstance(value, (list, dict, str)) and pd.isna(value)):
        return None
    if isinstance(value, (dt.date, dt.datetime, pd.Timestamp)):
        return value.isoformat()
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    return [{c: _jsonable(v) for c, v in zip(columns, row)} for row in frame[columns].itertuples(index=False)]


# --------------------------------------------------------------------------- diffing

def schema_changes(old: dict, new: dict) -> dict:
    """Fields added, removed, retyped (and constraint or primary-key changes) between two resource schemas."""
    old_f, new_f = _fields(old), _fields(new)
    out = {
        "fields_added": [{"name": n, "type": new_f[n]["type"]} for n in new_f if n not in old_f],
        "fields_removed": [{"name": n, "type": old_f[n]["type"]} for n in old_f if n not in new_f],
        "fields_retyped": [{"name": n, "old_type": old_f[n]["type"], "new_type": new_f[n]["type"]}
                           for n in new_f if n in old_f and old_f[n]["type"] != new_f[n]["type"]],
        "constraints_changed": [{"name": n, "old": old_f[n].get("constraints", {}), "new": new_f[n].get("constraints", {})}
                                for n in new_f if n in old_f
                                and old_f[n].get("constraints", {}) != new_f[n].get("constraints", {})],
    }
    if _primary_key(old) != _primary_key(new):
        out["primary_key_changed"] = {"old": _primary_key(old), "new": _primary_key(new)}
    return {k: v for k, v in out.items() if v}


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    """Null-safe element-wise equality (both null = same); different dtypes compare as text."""
    if a.dtype != b.dtype:
        a, b = a.astype("string"), b.astype("string")
    # Nulls become None first: None == None holds, None == value does not, and no NA ambiguity.
    same = a.to_numpy(dtype=object, na_value=None) == b.to_numpy(dtype=object, na_value=None)
    return pd.Series(np.asarray(same, dtype=bool), index=a.index)


def _breakdown(rows: pd.DataFrame, columns: list[str]) -> dict:
    """Counts of added/removed rows per value of each low-cardinality key column (e.g. pledges by as_of)."""
    out = {}
    for col in columns:
        values = rows[col].map(_jsonable)
        counts = values.value_counts(dropna=False)
        if 1 <= len(counts) <= BREAKDOWN_MAX_VALUES:
            out[col] = {str(k): int(n) for k, n in sorted(counts.items(), key=lambda kv: str(kv[0]))}
    return out


def unchanged_rows(table: pd.DataFrame, key: list[str]) -> dict:
    """What ``diff_rows`` gives for two byte-identical files of ``table``, without the row merge
    (trade_by_commodity's took 1.8 GB)."""
    common = list(table.columns)
    key = [k for k in key if k in common] or common
    if table[key].duplicated().any():
        key = common
    n = int(len(table))
    return {"key": key, "rows_before": n, "rows": n, "added": 0, "removed": 0, "changed": 0,
            "changed_fields": {}, "added_by": {}, "removed_by": {},
            "examples": {"added": [], "removed": [], "changed": []}}


def diff_rows(old: pd.DataFrame, new: pd.DataFrame, key: list[str], breakdown_columns: list[str] = ()) -> dict:
    """Rows added, removed and changed, matching ``old`` and ``new`` on ``key`` (one vectorised merge)."""
    common = [c for c in new.columns if c in old.columns]
    key = [k for k in key if k in common] or common
    if old[key].duplicated().any() or new[key].duplicated().any():
        key = common  # not a usable key: fall back to comparing whole rows
    old, new = old[common].copy(), new[common].copy()
    for k in key:  # keys must share a dtype to be matched
        if old[k].dtype != new[k].dtype:
            old[k], new[k] = old[k].astype("string"), new[k].astype("string")
    merged = old.merge(new, on=key, how="outer", suffixes=("__old", "__new"), indicator=True, sort=False)
    merged = merged.sort_values(key, kind="stable", ignore_index=True, na_position="last")
    added = merged[merged["_merge"] == "right_only"]
    removed = merged[merged["_merge"] == "left_only"]
    both = merged[merged["_merge"] == "both"]
    values = [c for c in common if c not in key]
    differs = pd.DataFrame({c: ~_same(both[f"{c}__old"], both[f"{c}__new"]) for c in values}, index=both.index)
    changed_mask = differs.any(axis=1) if values else pd.Series(False, index=both.index)
    changed = both[changed_mask]

    def side(rows, suffix):
        return rows[key + [f"{c}{suffix}" for c in values]].set_axis(key + values, axis=1)

    changed_examples = []
    for idx in changed.index[:EXAMPLES]:
        cols = [c for c in values if differs.at[idx, c]]
        changed_examples.append({
            "key": {k: _jsonable(changed.at[idx, k]) for k in key},
            "changes": {c: {"old": _jsonable(changed.at[idx, f"{c}__old"]),
                            "new": _jsonable(changed.at[idx, f"{c}__new"])} for c in cols},
        })
    bd = [c for c in breakdown_columns if c in key]
    return {
        "key": key,
        "rows_before": int(len(old)),
        "rows": int(len(new)),
        "added": int(len(added)),
        "removed": int(len(removed)),
        "changed": int(len(changed)),
        "changed_fields": {c: int(n) for c, n in differs[changed_mask].sum().items() if n} if values else {},
        "added_by": _breakdown(added, bd) if len(added) else {},
        "removed_by": _breakdown(removed, bd) if len(removed) else {},
        "examples": {
            "added": _records(side(added.head(EXAMPLES), "__new"), key + values),
            "removed": _records(side(removed.head(EXAMPLES), "__old"), key + values),
            "changed": changed_examples,
        },
    }


def _breakdown_columns(resource: dict) -> list[str]:
    """Key columns worth a count per value: dates (vintages, periods) and small enums."""
    f = _fields(resource)
    return [k for k in _primary_key(resource)
            if k in f and (f[k]["type"] == "date" or "enum" in f[k].get("constraints", {}))]


def vintage_changes(old: pd.DataFrame, new: pd.DataFrame, resource: dict,
                    redirects: pd.DataFrame | None = None) -> list[dict]:
    """For a resource keyed by a date (a vintage such as pledges' ``as_of``): what each new
    vintage holds compared with the latest earlier one, on the rest of the key — rows that
    continue, rows new in this vintage, rows gone since the earlier vintage.

    The earlier vintage is taken from this release when it still holds it (same place ids),
    else from the previous release with its place ids mapped through ``redirects``."""
    f, pk = _fields(resource), _primary_key(resource)
    dates = [k for k in pk if k in f and f[k]["type"] == "date" and k in old and k in new]
    rest = [k for k in pk if k not in dates and k in old and k in new]
    if not dates or not rest:
        return []
    col = dates[0]
    old_values = set(old[col].dropna())
    out = []
    for value in sorted(set(new[col].dropna()) - old_values):
        earlier = [v for v in old_values if v < value]
        if not earlier:
            continue
        previous = max(earlier)
        cur = new.loc[new[col] == value, rest].drop_duplicates()
        in_new = (new[col] == previous).any()
        before = (new if in_new else old).loc[lambda d: d[col] == previous, rest]
        if not in_new and redirects is not None and len(redirects):
            moved = dict(zip(redirects["old_city_id"], redirects["city_id"]))
            before = before.assign(**{k: before[k].map(lambda v: moved.get(v, v)).astype(before[k].dtype)
                                      for k in rest if k.endswith("city_id")})
        before = before.drop_duplicates()
        for k in rest:
            if cur[k].dtype != before[k].dtype:
                cur[k], before[k] = cur[k].astype("string"), before[k].astype("string")
        m = cur.merge(before, on=rest, how="outer", indicator=True).sort_values(rest, kind="stable", ignore_index=True)
        fresh, gone = m[m["_merge"] == "left_only"], m[m["_merge"] == "right_only"]
        out.append({
            "column": col, "value": _jsonable(value), "previous_value": _jsonable(previous),
            "rows": int((new[col] == value).sum()), "previous_rows": int(len(before)),
            "previous_from": "this release" if in_new else "previous release, ids mapped through city_redirects",
            "continued": int((m["_merge"] == "both").sum()), "new": int(len(fresh)), "gone": int(len(gone)),
            "new_by": _top_counts(fresh, rest), "gone_by": _top_counts(gone, rest),
            "examples": {"new": _records(fresh.head(EXAMPLES), rest), "gone": _records(gone.head(EXAMPLES), rest)},
        })
    return out


def _top_counts(rows: pd.DataFrame, columns: list[str], top: int = 10) -> dict:
    """The most frequent values of each non-place key column (place ids have too many values)."""
    out = {}
    for col in columns:
        if col.endswith("city_id") or rows.empty:
            continue
        counts = rows[col].map(_jsonable).astype(str).value_counts()
        counts = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        out[col] = {k: int(n) for k, n in counts[:top]}
    return out


def place_id_changes(old_cities: pd.DataFrame, new_cities: pd.DataFrame,
                     old_redirects: pd.DataFrame | None, new_redirects: pd.DataFrame) -> dict:
    """Place ids that stopped being rows of ``cities``: merged into an existing place, redirected
    to a new id, or (a stability problem) dropped without a redirect; plus redirect-table changes."""
    empty = pd.DataFrame({"old_city_id": pd.Series(dtype="string"), "city_id": pd.Series(dtype="string"),
                          "reason": pd.Series(dtype="string")})
    old_r = old_redirects if old_redirects is not None else empty
    new_r = new_redirects[["old_city_id", "city_id", "reason"]]
    gone = pd.DataFrame({"old_city_id": old_cities.loc[~old_cities["city_id"].isin(new_cities["city_id"]), "city_id"]})
    gone = gone.merge(new_r, on="old_city_id", how="left").sort_values("old_city_id", ignore_index=True)
    redirected = gone[gone["city_id"].notna()]
    merged_mask = redirected["city_id"].isin(old_cities["city_id"])
    cols = ["old_city_id", "city_id", "reason"]
    r = new_r.merge(old_r[["old_city_id", "city_id"]], on="old_city_id", how="left", suffixes=("", "__old"))
    redirects_added = r[r["city_id__old"].isna()].sort_values("old_city_id")
    redirects_changed = r[r["city_id__old"].notna() & (r["city_id"] != r["city_id__old"])].sort_values("old_city_id")
    redirects_removed = old_r[~old_r["old_city_id"].isin(new_r["old_city_id"])].sort_values("old_city_id")
    redirects_removed = redirects_removed.assign(now_a_place=redirects_removed["old_city_id"].isin(new_cities["city_id"]))
    return {
        "ids_merged": _records(redirected[merged_mask.to_numpy()], cols),
        "ids_redirected": _records(redirected[~merged_mask.to_numpy()], cols),
        "ids_dropped_without_redirect": sorted(gone.loc[gone["city_id"].isna(), "old_city_id"].tolist()),
        "redirects_added": int(len(redirects_added)),
        "redirects_changed": _records(redirects_changed.rename(columns={"city_id__old": "previous_city_id"}),
                                      ["old_city_id", "previous_city_id", "city_id", "reason"]),
        "redirects_removed": _records(redirects_removed, ["old_city_id", "city_id", "now_a_place"]),
    }


def diff_releases(old_dir: Path | None, old_descriptor: dict | None, new_dir: Path, new_descriptor: dict) -> dict:
    """The whole release diff as a JSON-ready dict (``old_dir`` None = initial release)."""
    new_res = _release_resources(new_descriptor)
    out: dict = {
        "name": new_descriptor.get("name"),
        "title": new_descriptor.get("title"),
        "version": new_descriptor.get("version"),
        "created": new_descriptor.get("created"),
        "previous_version": old_descriptor.get("version") if old_descriptor else None,
        "initial_release": old_dir is None,
        "resources": {},
    }
    if old_dir is None:  # nothing to compare: the row counts are in the Parquet footers
        out["resources"] = {n: {"status": "new", "rows": int(pq.read_metadata(new_dir / "data" / f"{n}.parquet").num_rows),
                                "fields": len(new_res[n]["schema"]["fields"])} for n in new_res}
        return out
    # one resource at a time (two releases of every table at once took 2.25 GB); cities and
    # redirects are kept for the place changes at the end
    old_res = _release_resources(old_descriptor)
    new_path = lambda n: new_dir / "data" / f"{n}.parquet"
    old_path = lambda n: old_dir / "data" / f"{n}.parquet"
    kept = {"new": {}, "old": {}}
    redirects = _read(new_path(REDIRECTS)) if REDIRECTS in new_res else None
    if redirects is not None:
        kept["new"][REDIRECTS] = redirects
    for name, res in new_res.items():
        new_table = kept["new"].get(name)
        new_table = _read(new_path(name)) if new_table is None else new_table
        if name not in old_res or not old_path(name).exists():
            out["resources"][name] = {"status": "added", "rows": int(len(new_table)),
                                      "fields": len(res["schema"]["fields"])}
            continue
        entry = {"status": "changed"}
        sc = schema_changes(old_res[name], res)
        if sc:
            entry["schema"] = sc
        identical = not sc and filecmp.cmp(old_path(name), new_path(name), shallow=False)
        old_table = new_table if identical else _read(old_path(name))
        if identical:  # the same bytes: nothing to match row by row
            entry.update(unchanged_rows(new_table, _primary_key(res)))
        else:
            entry.update(diff_rows(old_table, new_table, _primary_key(res), _breakdown_columns(res)))
        vintages = vintage_changes(old_table, new_table, res, redirects)
        if vintages:
            entry["vintages"] = vintages
        if not sc and not (entry["added"] or entry["removed"] or entry["changed"]):
            entry["status"] = "unchanged"
        out["resources"][name] = entry
        if name in (PLACES, REDIRECTS):
            kept["new"][name], kept["old"][name] = new_table, old_table
        del new_table, old_table
    for name in old_res:
        if name not in new_res:
            rows_before = pq.read_metadata(old_path(name)).num_rows if old_path(name).exists() else 0
            out["resources"][name] = {"status": "removed", "rows_before": int(rows_before)}
    new_tables, old_tables = kept["new"], kept["old"]
    if PLACES in old_tables and PLACES in new_tables and REDIRECTS in new_tables:
        out["places"] = place_id_changes(old_tables[PLACES], new_tables[PLACES],
                                         old_tables.get(REDIRECTS), new_tables[REDIRECTS])
    out["city_names"] = _city_names(out, [new_tables.get(PLACES), old_tables.get(PLACES)])
    return out


def _city_names(changes: dict, cities: list[pd.DataFrame | None]) -> dict[str, str]:
    """Names of the place ids the changelog shows, so examples read "gn5368361 (Los Angeles)"."""
    shown: set[str] = set()

    def walk(node, key=""):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and key.endswith("city_id"):
            shown.add(node)

    walk({k: v for k, v in changes.items() if k != "city_names"})
    names: dict[str, str] = {}
    for frame in cities:
        if frame is not None:
            hit = frame[frame["city_id"].isin(shown)]
            for cid, name in zip(hit["city_id"], hit["name"]):
                names.setdefault(cid, name)
    return dict(sorted(names.items()))


# --------------------------------------------------------------------------- writing

def _md(value) -> str:
    text = "null" if value is None else json.dumps(value) if isinstance(value, bool) else str(value)
    text = text.replace("|", "\\|").replace("\n", " ").replace("`", "'")
    return text if len(text) <= 60 else text[:59] + "…"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


class _Renderer:
    """Markdown for one ``changes`` dict; place ids are shown with their names."""

    def __init__(self, changes: dict):
        self.c = changes
        self.names = changes.get("city_names", {})

    def value(self, column: str, value) -> str:
        text = f"`{_md(value)}`"
        if column.endswith("city_id") and value in self.names:
            text += f" ({_md(self.names[value])})"
        return text

    def key(self, key: dict) -> str:
        return ", ".join(f"{k}={self.value(k, v)}" for k, v in key.items())

    def render(self) -> str:
        c = self.c
        lines = [f"# {c.get('title') or c['name']} {c['version']}", ""]
        created = (c.get("created") or "")[:10]
        if c["initial_release"]:
            lines += [f"Released {created}. Initial release.", "",
                      "| resource | rows | fields |", "|---|---:|---:|"]
            lines += [f"| `{n}` | {r['rows']:,} | {r['fields']} |" for n, r in c["resources"].items()]
            return "\n".join(lines) + "\n"
        lines += [f"Released {created}. Changes since {c['previous_version']}: rows matched on each "
                  "resource's primary key; `changed` = same key, other values differ. "
                  "Full lists of counts in `changes.json`.", ""]
        lines += self.summary() + self.places()
        for name, r in c["resources"].items():
            if r["status"] != "unchanged":
                lines += self.resource(name, r)
        if all(r["status"] == "unchanged" for r in c["resources"].values()):
            lines += ["No data or schema changes.", ""]
        return "\n".join(lines).rstrip("\n") + "\n"

    def summary(self) -> list[str]:
        lines = ["| resource | rows before | rows now | added | removed | changed | schema |",
                 "|---|---:|---:|---:|---:|---:|---|"]
        for name, r in self.c["resources"].items():
            if r["status"] in ("added", "removed"):
                lines.append(f"| `{name}` | {r.get('rows_before', 0):,} | {r.get('rows', 0):,} | | | | resource {r['status']} |")
                continue
            sc = r.get("schema", {})
            note = ", ".join(f"{len(v) if isinstance(v, list) else 1} {k.replace('_', ' ')}" for k, v in sc.items()) or "—"
            lines.append(f"| `{name}` | {r['rows_before']:,} | {r['rows']:,} | {r['added']:,} | {r['removed']:,} "
                         f"| {r['changed']:,} | {note} |")
        return lines + [""]

    def places(self) -> list[str]:
        p = self.c.get("places")
        if not p:
            return []
        lines = ["## Place ids", ""]
        for label, k in (("merged into a place that already existed", "ids_merged"),
                         ("redirected to a new id", "ids_redirected")):
            rows = p[k]
            lines.append(f"- {_plural(len(rows), 'id')} {label}" + (":" if rows else "."))
            lines += [f"  - {self.value('old_city_id', r['old_city_id'])} → {self.value('city_id', r['city_id'])} "
                      f"({_md(r['reason'])})" for r in rows[:10]]
            if len(rows) > 10:
                lines.append(f"  - … {len(rows) - 10:,} more in changes.json")
        dropped = p["ids_dropped_without_redirect"]
        lines.append(f"- {_plural(len(dropped), 'id')} removed without a redirect"
                     + (" (ids users may hold no longer resolve): " + ", ".join(f"`{i}`" for i in dropped[:10])
                        + (" …" if len(dropped) > 10 else "") if dropped else "."))
        removed = p["redirects_removed"]
        lines.append(f"- `city_redirects`: {p['redirects_added']:,} added, {len(p['redirects_changed']):,} "
                     f"retargeted, {len(removed):,} removed" + (":" if removed else "."))
        for r in p["redirects_changed"][:10]:
            lines.append(f"  - retargeted: `{r['old_city_id']}` → {self.value('city_id', r['city_id'])}, "
                         f"was {self.value('city_id', r['previous_city_id'])}")
        for r in removed[:10]:
            status = "is a place of its own again" if r["now_a_place"] else "NO LONGER RESOLVES"
            lines.append(f"  - removed: `{r['old_city_id']}` (was → {self.value('city_id', r['city_id'])}) {status}")
        return lines + [""]

    def resource(self, name: str, r: dict) -> list[str]:
        lines = [f"## {name}", ""]
        if r["status"] in ("added", "removed"):
            return lines + [f"Resource {r['status']} ({_plural(r.get('rows', r.get('rows_before', 0)), 'row')}).", ""]
        for k, items in r.get("schema", {}).items():
            if k == "fields_added":
                lines += [f"- field `{f['name']}` added ({f['type']})" for f in items]
            elif k == "fields_removed":
                lines += [f"- field `{f['name']}` removed (was {f['type']})" for f in items]
            elif k == "fields_retyped":
                lines += [f"- field `{f['name']}` retyped {f['old_type']} → {f['new_type']}" for f in items]
            elif k == "constraints_changed":
                lines += [f"- constraints of `{f['name']}` changed" for f in items]
            elif k == "primary_key_changed":
                lines.append(f"- primary key changed from {items['old']} to {items['new']}")
        summary = f"{_plural(r['added'], 'row')} added, {r['removed']:,} removed, {r['changed']:,} changed"
        if r["changed_fields"]:
            summary += " (" + ", ".join(f"`{c}` {n:,}" for c, n in r["changed_fields"].items()) + ")"
        lines.append(f"- {summary}.")
        for kind in ("added", "removed"):
            for col, counts in r[f"{kind}_by"].items():
                lines.append(f"- {kind} by `{col}`: " + ", ".join(f"{_md(v)}: {n:,}" for v, n in counts.items()))
        for v in r.get("vintages", []):
            lines.append(f"- new `{v['column']}` {v['value']} ({v['rows']:,} rows) against {v['previous_value']} "
                         f"({v['previous_rows']:,} rows, from {v['previous_from']}), matched on the rest of the key: "
                         f"{v['continued']:,} continue, {v['new']:,} new, {v['gone']:,} gone.")
            for kind in ("new", "gone"):
                for col, counts in v[f"{kind}_by"].items():
                    lines.append(f"  - {kind} by `{col}` (top {len(counts)}): "
                                 + ", ".join(f"{_md(k)}: {n:,}" for k, n in counts.items()))
                if v["examples"][kind]:
                    lines.append(f"  - examples {kind}: " + "; ".join(self.key(e) for e in v["examples"][kind]))
        ex = r["examples"]
        for kind in ("added", "removed"):
            if ex[kind]:
                lines.append(f"- examples {kind}:")
                for row in ex[kind]:
                    text = self.key({k: row[k] for k in r["key"]})
                    if row.get("name") and "name" not in r["key"] and "(" not in text:
                        text += f" ({_md(row['name'])})"
                    lines.append(f"  - {text}")
        if ex["changed"]:
            lines.append("- examples changed:")
            for c in ex["changed"]:
                diffs = "; ".join(f"`{f}` {_md(v['old'])} → {_md(v['new'])}" for f, v in c["changes"].items())
                lines.append(f"  - {self.key(c['key'])}: {diffs}")
        return lines + [""]


def render_markdown(changes: dict) -> str:
    return _Renderer(changes).render()


def write(stage: Path, previous: Path | None, version: str) -> dict:
    """Write ``CHANGELOG.md`` and ``changes.json`` into ``stage`` (the release being assembled)."""
    new_descriptor = copy.deepcopy(schema.descriptor())
    new_descriptor["version"] = version
    old_descriptor = None
    if previous is not None:
        old_descriptor = json.loads((previous / "datapackage.json").read_text(encoding="utf-8"))
        old_descriptor.setdefault("version", previous.name)
    changes = diff_releases(previous, old_descriptor, stage, new_descriptor)
    (stage / "changes.json").write_text(json.dumps(changes, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (stage / "CHANGELOG.md").write_text(_with_overview_link(render_markdown(changes)), encoding="utf-8")
    return changes


def _with_overview_link(markdown: str) -> str:
    """Point readers of the changelog at the release's charts (overview.html, written by publish)."""
    title, _, rest = markdown.partition("\n")
    return (f"{title}\n\nCharts and a map of this release: [overview.html](overview.html) "
            f"(self-contained, opens from disk).\n{rest}")
