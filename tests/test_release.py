"""Releases users can trust: immutable versions, reproducible bytes, a release diff, a data
dictionary, typed loading, and a read-only datasette over the latest release.

Most tests run on two tiny synthetic builds (tests/fixtures/release/v1, v2); the
integration tests at the end use the real mirror and skip without RAW_MIRROR.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import types
import urllib.request
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from etl import publish, schema
from etl.publish import SUMS, ReleaseError
from etl.release import changelog, dictionary, serve
from tests.conftest import FIXTURES, ROOT, requires_mirror

RELEASE_FIXTURES = FIXTURES / "release"


# --------------------------------------------------------------------------- helpers

def load_frames(folder: Path) -> dict[str, pd.DataFrame]:
    """The fixture CSVs typed per datapackage.json (missing optional fields become null)."""
    frames = {}
    for name in schema.resource_names():
        raw = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
        out = {}
        for f in schema.fields(name):
            required = f.get("constraints", {}).get("required", False)
            if f["name"] not in raw:  # a field added to the schema since the fixture was written
                enum = f.get("constraints", {}).get("enum")
                assert not required or enum, f"fixture {folder.name}/{name}.csv lacks required field {f['name']!r}"
                out[f["name"]] = pd.Series([enum[0] if required else None] * len(raw), dtype=object)
                continue
            col = raw[f["name"]]
            if f["type"] != "string" or not required:
                col = col.where(col != "", None)
            if f["type"] in ("integer", "year"):
                col = pd.to_numeric(col).astype("Int64")
            elif f["type"] == "number":
                col = pd.to_numeric(col).astype("float64")
            elif f["type"] == "boolean":
                col = col.map({"true": True, "false": False})
            elif f["type"] == "date":
                col = pd.to_datetime(col)
            out[f["name"]] = col
        frames[name] = pd.DataFrame(out)
    return frames


def make_build(folder: Path, fixture: str, run_note: str = "run 1") -> Path:
    """A build dir as etl.build.run writes it, from a fixture folder; quality.md records the run."""
    for name, frame in load_frames(RELEASE_FIXTURES / fixture).items():
        schema.write_parquet(schema.to_arrow(name, frame), folder / "data" / f"{name}.parquet")
    (folder / "quality.md").write_text(f"# Quality\n\n{run_note}\n", encoding="utf-8")
    return folder


def tree(published: Path) -> dict:
    """Everything under published/: file bytes and symlink targets."""
    out = {}
    for p in sorted(published.rglob("*")):
        rel = p.relative_to(published).as_posix()
        if p.is_symlink():
            out[rel] = "->" + os.readlink(p)
        elif p.is_file():
            out[rel] = p.read_bytes()
    return out


@pytest.fixture
def gate(monkeypatch):
    """Stand-in for etl.quality.gate (tested elsewhere); records the stages it was shown."""
    calls: list[Path] = []
    fake = types.ModuleType("etl.quality.gate")

    class GateFailure(RuntimeError):
        pass

    fake.GateFailure = GateFailure
    fake.check_release = calls.append
    fake.calls = calls
    monkeypatch.setitem(sys.modules, "etl.quality.gate", fake)
    import etl.quality
    monkeypatch.setattr(etl.quality, "gate", fake, raising=False)
    return fake


@pytest.fixture
def builds(tmp_path):
    return make_build(tmp_path / "build1", "v1"), make_build(tmp_path / "build2", "v2")


# --------------------------------------------------------------------------- immutable versions

def test_first_release_has_everything_and_an_initial_changelog(tmp_path, builds, gate):
    published = tmp_path / "published"
    target = publish.publish(builds[0], published, "0.9.0")
    assert target == published / "0.9.0"
    for name in schema.resource_names():
        assert (target / "data" / f"{name}.parquet").is_file() and (target / "data" / f"{name}.csv").is_file()
    for report in ("CHANGELOG.md", "changes.json", "DATA_DICTIONARY.md", "quality.md"):
        assert (target / report).is_file(), report
    listed = [line.split("  ", 1)[1] for line in (target / SUMS).read_text().splitlines()]
    assert "quality.md" not in listed and "CHANGELOG.md" in listed and "datapackage.json" in listed
    changes = json.loads((target / "changes.json").read_text())
    assert changes["initial_release"] and changes["previous_version"] is None
    frames = load_frames(RELEASE_FIXTURES / "v1")
    assert {n: r["rows"] for n, r in changes["resources"].items()} == {n: len(f) for n, f in frames.items()}
    text = (target / "CHANGELOG.md").read_text()
    assert "Initial release" in text and f"| `pledges` | {len(frames['pledges'])} |" in text
    assert os.readlink(published / "latest") == "0.9.0"
    assert [p.name for p in published.iterdir() if p.name.startswith(".")] == []


def test_republishing_identical_content_changes_nothing(tmp_path, builds, gate):
    published = tmp_path / "published"
    publish.publish(builds[0], published, "0.9.0")
    before = tree(published)
    mtimes = {p: p.stat().st_mtime_ns for p in (published / "0.9.0").rglob("*")}
    # A rebuild of the same data with a different run report is still the same release.
    rebuilt = make_build(tmp_path / "rebuild", "v1", run_note="run 2, other timings")
    assert publish.publish(rebuilt, published, "0.9.0") == published / "0.9.0"
    assert tree(published) == before
    assert mtimes == {p: p.stat().st_mtime_ns for p in (published / "0.9.0").rglob("*")}


def test_publishing_different_content_under_an_existing_version_is_refused(tmp_path, builds, gate):
    published = tmp_path / "published"
    publish.publish(builds[0], published, "0.9.0")
    before = tree(published)
    with pytest.raises(ReleaseError) as err:
        publish.publish(builds[1], published, "0.9.0")
    message = str(err.value)
    assert "0.9.0" in message and "version" in message and "datapackage.json" in message and "0.9.1" in message
    assert tree(published) == before  # nothing under published/ changed, no staging left behind


def test_latest_moves_only_after_the_release_is_complete_and_validated(tmp_path, builds, gate):
    published = tmp_path / "published"
    publish.publish(builds[0], published, "0.9.0")
    seen = {}

    def check(stage: Path):
        seen["stage_complete"] = (stage / "datapackage.json").is_file() and all(
            (stage / "data" / f"{n}.{ext}").is_file() for n in schema.resource_names() for ext in ("parquet", "csv"))
        seen["sums_before_gate"] = (stage / SUMS).is_file()  # written last, after the gate and the database
        seen["target_exists"] = (published / "1.0.0").exists()
        seen["latest"] = os.readlink(published / "latest")

    gate.check_release = check
    publish.publish(builds[1], published, "1.0.0")
    assert seen == {"stage_complete": True, "sums_before_gate": False, "target_exists": False, "latest": "0.9.0"}
    assert os.readlink(published / "latest") == "1.0.0" and (published / "1.0.0" / SUMS).is_file()


def test_a_release_the_gate_rejects_is_not_published(tmp_path, builds, gate):
    published = tmp_path / "published"
    publish.publish(builds[0], published, "0.9.0")
    before = tree(published)

    def reject(stage):
        raise gate.GateFailure("quality gate failed")

    gate.check_release = reject
    with pytest.raises(gate.GateFailure):
        publish.publish(builds[1], published, "1.0.0")
    assert tree(published) == before
    assert not (published / "1.0.0").exists() and os.readlink(published / "latest") == "0.9.0"


def test_publish_command_takes_an_explicit_version(tmp_path, builds, gate):
    from typer.testing import CliRunner

    from etl.cli import app
    published = tmp_path / "published"
    result = CliRunner().invoke(app, ["publish", "--build-dir", str(builds[0]), "--published", str(published),
                                      "--version", "0.9.0"])
    assert result.exit_code == 0, result.output
    assert json.loads((published / "0.9.0" / "datapackage.json").read_text())["version"] == "0.9.0"
    result = CliRunner().invoke(app, ["publish", "--build-dir", str(builds[1]), "--published", str(published),
                                      "--version", "0.9.0"])
    assert result.exit_code == 1 and "immutable" in result.output


def test_a_release_with_changelog_and_dictionary_passes_the_real_gate(tmp_path, builds):
    gate = pytest.importorskip("etl.quality.gate")
    published = tmp_path / "published"
    publish.publish(builds[0], published, "0.9.0")
    target = publish.publish(builds[1], published, "1.0.0")
    desc = json.loads((target / "datapackage.json").read_text())
    assert [r["path"] for r in desc["reports"]][:3] == ["CHANGELOG.md", "changes.json", "DATA_DICTIONARY.md"]
    assert gate.check_release(target).ok


# --------------------------------------------------------------------------- reproducible bytes

def test_same_build_gives_identical_bytes_in_two_published_dirs(tmp_path, gate):
    a = make_build(tmp_path / "a", "v1", "run a")
    b = make_build(tmp_path / "b", "v1", "run b")
    for name in schema.resource_names():
        assert (a / "data" / f"{name}.parquet").read_bytes() == (b / "data" / f"{name}.parquet").read_bytes(), name
    releases = []
    for build, out in ((a, tmp_path / "pub-a"), (b, tmp_path / "pub-b")):
        publish.publish(build, out, "0.9.0")
        releases.append(publish.publish(make_build(tmp_path / f"{out.name}-v2", "v2"), out, "1.0.0"))
    for rel in ("0.9.0", "1.0.0"):
        sums = [(tmp_path / d / rel / SUMS).read_text() for d in ("pub-a", "pub-b")]
        assert sums[0] == sums[1], rel
    for name in ("datapackage.json", "CHANGELOG.md", "changes.json", "DATA_DICTIONARY.md",
                 "data/pledges.csv", "data/pledges.parquet"):
        assert (releases[0] / name).read_bytes() == (releases[1] / name).read_bytes(), name
    desc = json.loads((releases[0] / "datapackage.json").read_text())
    assert desc["created"] == schema.descriptor()["created"]


# --------------------------------------------------------------------------- release diff

def _keys(frame: pd.DataFrame, name: str) -> set[tuple]:
    pk = schema.primary_key(name)
    return set(frame[pk].astype(str).itertuples(index=False, name=None))


def test_changelog_counts_rows_added_removed_changed_by_primary_key(tmp_path, builds, gate):
    published = tmp_path / "published"
    publish.publish(builds[0], published, "0.9.0")
    target = publish.publish(builds[1], published, "1.0.0")
    changes = json.loads((target / "changes.json").read_text())
    assert changes["previous_version"] == "0.9.0" and not changes["initial_release"]
    old, new = load_frames(RELEASE_FIXTURES / "v1"), load_frames(RELEASE_FIXTURES / "v2")
    for name in schema.resource_names():  # added/removed agree with plain set arithmetic on the keys
        r = changes["resources"][name]
        k_old, k_new = _keys(old[name], name), _keys(new[name], name)
        assert (r["added"], r["removed"]) == (len(k_new - k_old), len(k_old - k_new)), name
        assert (r["rows_before"], r["rows"]) == (len(old[name]), len(new[name])), name

    pledges = changes["resources"]["pledges"]
    assert pledges["changed"] == 0
    assert pledges["added_by"]["as_of"] == {"2022-09-01": 1, "2022-12-01": 4}  # Houston's new id + the Dec list
    assert pledges["removed_by"]["as_of"] == {"2022-09-01": 1}
    assert pledges["examples"]["removed"][0]["city_id"] == "x-usa-houston-city"
    assert all(e["as_of"].startswith("2022-") for e in pledges["examples"]["added"])

    cities = changes["resources"]["cities"]
    assert cities["changed"] == 1
    assert set(cities["changed_fields"]) == {"population", "population_year", "population_source", "area_km2"}
    example = cities["examples"]["changed"][0]
    assert example["key"] == {"city_id": "gn5391811"}
    assert example["changes"]["population"] == {"old": 1394928, "new": 1419516}

    flows = changes["resources"]["trade_flows"]  # Laredo's port row now points at the GeoNames id
    assert flows["changed"] == 1 and flows["changed_fields"] == {"city_id": 1}
    assert changes["resources"]["partnerships"]["changed_fields"] == {"attestations": 1, "both_sides": 1, "source_row": 1,
                                                                  "attestation_rows": 1}
    assert changes["resources"]["exclusions"]["status"] == "changed"

    places = changes["places"]
    assert places["ids_merged"] == [{"old_city_id": "x-usa-houston-city", "city_id": "gn4699066",
                                     "reason": "duplicate of a GeoNames place"}]
    assert places["ids_redirected"] == [{"old_city_id": "x-usa-laredo", "city_id": "gn4705349",
                                         "reason": "matched to GeoNames"}]
    assert places["ids_dropped_without_redirect"] == [] and places["redirects_added"] == 2

    text = (target / "CHANGELOG.md").read_text()
    assert text.startswith(f"# {schema.descriptor()['title']} 1.0.0\n")
    assert f"Released {schema.descriptor()['created'][:10]}. Changes since 0.9.0" in text
    assert "| `pledges` | 5 | 9 | 5 | 1 | 0 | — |" in text
    assert "- added by `as_of`: 2022-09-01: 1, 2022-12-01: 4" in text
    assert "`x-usa-houston-city` (Houston City) → `gn4699066` (Houston)" in text
    assert "`x-usa-laredo` (Laredo) → `gn4705349` (Laredo)" in text
    # The new vintage against the earlier one (both in this release, so the same place ids):
    # Los Angeles joined Race to Zero; Los Angeles' GCoM and El Paso's Climate Mayors rows are gone.
    vintage = pledges["vintages"][0]
    assert (vintage["value"], vintage["previous_value"], vintage["previous_from"]) == ("2022-12-01", "2022-09-01", "this release")
    assert (vintage["continued"], vintage["new"], vintage["gone"]) == (3, 1, 2)
    assert vintage["examples"]["new"] == [{"city_id": "gn5368361", "initiative_id": "race_to_zero", "list_key": "2020"}]
    assert vintage["new_by"]["initiative_id"] == {"race_to_zero": 1}
    assert vintage["gone_by"]["initiative_id"] == {"climate_mayors": 1, "gcom": 1}
    assert ("- new `as_of` 2022-12-01 (4 rows) against 2022-09-01 (5 rows, from this release), matched on the rest "
            "of the key: 3 continue, 1 new, 2 gone.") in text
    assert "examples new: city_id=`gn5368361` (Los Angeles), initiative_id=`race_to_zero`" in text
    assert "`population` 1394928 → 1419516" in text and "`both_sides` false → true" in text
    assert "  - city_id=`gn4705349` (Laredo)" in text
    assert "## initiative_tokens" in text and "## city_redirects" in text


def test_unchanged_release_says_so(tmp_path):
    v1 = make_build(tmp_path / "v1", "v1")
    desc = copy.deepcopy(schema.descriptor())
    changes = changelog.diff_releases(v1, desc, v1, desc)
    assert {r["status"] for r in changes["resources"].values()} == {"unchanged"}
    assert changes["places"]["ids_merged"] == [] and changes["places"]["ids_redirected"] == []
    assert "No data or schema changes." in changelog.render_markdown(changes)


def test_schema_changes_are_reported_and_rows_compared_on_common_fields(tmp_path):
    v1 = make_build(tmp_path / "v1", "v1")
    new_desc = copy.deepcopy(schema.descriptor())
    old_desc = copy.deepcopy(schema.descriptor())
    old_cities = next(r for r in old_desc["resources"] if r["name"] == "cities")
    # The "old" release had an extra field, typed area_km2 as integer and lacked resolution_method.
    old_cities["schema"]["fields"].append({"name": "timezone", "type": "string"})
    next(f for f in old_cities["schema"]["fields"] if f["name"] == "area_km2")["type"] = "integer"
    old_cities["schema"]["fields"] = [f for f in old_cities["schema"]["fields"] if f["name"] != "resolution_method"]
    old_desc["resources"] = [r for r in old_desc["resources"] if r["name"] != "initiatives"]
    changes = changelog.diff_releases(v1, old_desc, v1, new_desc)
    sc = changes["resources"]["cities"]["schema"]
    assert sc["fields_added"] == [{"name": "resolution_method", "type": "string"}]
    assert sc["fields_removed"] == [{"name": "timezone", "type": "string"}]
    assert sc["fields_retyped"] == [{"name": "area_km2", "old_type": "integer", "new_type": "number"}]
    assert changes["resources"]["cities"]["changed"] == 0  # same data, only the schema moved
    assert changes["resources"]["initiatives"]["status"] == "added"
    text = changelog.render_markdown(changes)
    assert "field `area_km2` retyped integer → number" in text and "field `timezone` removed" in text


def test_diff_rows_is_null_safe_and_detects_retyped_values():
    old = pd.DataFrame({"k": ["a", "b", "c", "d"], "x": pd.array([1, None, 3, 4], "Int64"),
                        "d": [dt.date(2022, 9, 1), None, dt.date(2022, 9, 1), dt.date(2022, 9, 1)]})
    new = pd.DataFrame({"k": ["b", "c", "d", "e"], "x": pd.array([None, 3, 5, 1], "Int64"),
                        "d": [None, dt.date(2022, 12, 1), dt.date(2022, 9, 1), None]})
    r = changelog.diff_rows(old, new, ["k"])
    assert (r["added"], r["removed"], r["changed"]) == (1, 1, 2)
    assert r["changed_fields"] == {"x": 1, "d": 1}
    assert [e["key"]["k"] for e in r["examples"]["changed"]] == ["c", "d"]
    assert r["examples"]["changed"][0]["changes"] == {"d": {"old": "2022-09-01", "new": "2022-12-01"}}


@pytest.mark.parametrize("key", [["k"], ["x"], []])  # a usable key, a duplicated one (whole rows), none
def test_byte_identical_tables_skip_the_merge_with_the_same_answer(key):
    t = pd.DataFrame({"k": ["a", "b", "c"], "x": pd.array([1, 1, None], "Int64"),
                      "d": [dt.date(2022, 9, 1), None, dt.date(2022, 12, 1)]})
    fast, slow = changelog.unchanged_rows(t, key), changelog.diff_rows(t.copy(), t.copy(), key, ["d"])
    assert list(fast.items()) == list(slow.items())  # same keys in the same order: changes.json bytes


def test_a_new_vintage_is_compared_with_the_previous_release_through_redirects():
    res = {"name": "pledges", "schema": {"fields": [{"name": "as_of", "type": "date"}, {"name": "city_id", "type": "string"},
                                                    {"name": "initiative_id", "type": "string"}],
                                         "primaryKey": ["as_of", "city_id", "initiative_id"]}}
    sep, dec = dt.date(2022, 9, 30), dt.date(2022, 12, 31)
    old = pd.DataFrame({"as_of": [sep, sep], "city_id": ["x-usa-a", "gn2"], "initiative_id": ["c", "c"]})
    new = pd.DataFrame({"as_of": [dec, dec], "city_id": ["gn1", "gn3"], "initiative_id": ["c", "c"]})
    redirects = pd.DataFrame({"old_city_id": ["x-usa-a"], "city_id": ["gn1"], "reason": ["matched"]})
    [v] = changelog.vintage_changes(old, new, res, redirects)
    assert v["previous_from"].startswith("previous release")
    assert (v["continued"], v["new"], v["gone"]) == (1, 1, 1)  # x-usa-a is gn1 now: it continues
    assert v["examples"]["new"] == [{"city_id": "gn3", "initiative_id": "c"}]
    assert v["examples"]["gone"] == [{"city_id": "gn2", "initiative_id": "c"}]
    assert changelog.vintage_changes(new, new, res, redirects) == []  # no new vintage, nothing to say


def test_an_id_dropped_without_redirect_is_flagged():
    ids = lambda *v: pd.DataFrame({"city_id": pd.array(v, "string")})  # noqa: E731
    redirects = pd.DataFrame({"old_city_id": pd.array(["x-a"], "string"), "city_id": pd.array(["gn1"], "string"),
                              "reason": pd.array(["matched"], "string")})
    places = changelog.place_id_changes(ids("gn2", "x-a", "x-gone"), ids("gn1", "gn2"), None, redirects)
    assert places["ids_dropped_without_redirect"] == ["x-gone"]
    assert places["ids_redirected"][0]["old_city_id"] == "x-a" and places["ids_merged"] == []
    text = changelog.render_markdown({"name": "p", "version": "1.0.1", "created": "2026-01-01", "previous_version": "1.0.0",
                                      "initial_release": False, "resources": {}, "places": places})
    assert "1 id removed without a redirect" in text and "`x-gone`" in text


# --------------------------------------------------------------------------- data dictionary

def test_data_dictionary_is_generated_from_the_descriptor_and_the_data(tmp_path, builds, gate):
    target = publish.publish(builds[1], tmp_path / "published", "1.0.0")
    text = (target / "DATA_DICTIONARY.md").read_text()
    frames = load_frames(RELEASE_FIXTURES / "v2")
    for res in schema.descriptor()["resources"]:
        assert f"## `{res['name']}` — {res['title']}" in text
        assert f"Rows: {len(frames[res['name']]):,}." in text
        for f in res["schema"]["fields"]:
            assert f"| `{f['name']}` | {f['type']} |" in text, (res["name"], f["name"])
    rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| `")}
    cities = frames["cities"]
    # population_year is known for 1 of 8 places; examples are the first distinct values in key order.
    pop_year = next(line for line in text.splitlines() if line.startswith("| `population_year` "))
    assert pop_year.endswith(f"| `2021` | {cities['population_year'].isna().mean():.1%} |")
    place_type = next(line for line in text.splitlines() if line.startswith("| `place_type` "))
    assert "one of `city`, `district`" in place_type and "| `city`, `port_district` | 0% |" in place_type
    assert "| `latitude` | number | float64 | degree |" in text
    assert "→ `cities.city_id`" in rows["| `part_of_city_id`"]
    assert "-90 to 90" in text and "pattern `[A-Z]{3}`" in text


def test_data_dictionary_follows_the_descriptor(tmp_path, builds, monkeypatch):
    desc = copy.deepcopy(schema.descriptor())
    next(f for f in desc["resources"][0]["schema"]["fields"] if f["name"] == "name")["description"] = "A NEW TEXT"
    monkeypatch.setattr(schema, "descriptor", lambda *a: desc)
    stage = builds[1]
    dictionary.write(stage)
    assert "| `name` | string | string | — | A NEW TEXT |" in (stage / "DATA_DICTIONARY.md").read_text()


# --------------------------------------------------------------------------- loading

def test_parquet_files_load_with_the_promised_dtypes(tmp_path, builds, gate):
    """A plain ``pd.read_parquet`` (no options) gives every column the dtype the schema promises."""
    target = publish.publish(builds[1], tmp_path / "published", "1.0.0")
    for name in schema.resource_names():
        path = target / "data" / f"{name}.parquet"
        plain, typed = pd.read_parquet(path), schema.read_parquet(path)
        assert list(plain.columns) == [f["name"] for f in schema.fields(name)], name
        for f in schema.fields(name):
            promised = schema.pandas_dtypes(name)[f["name"]]
            col, tcol = plain[f["name"]], typed[f["name"]]
            where = (name, f["name"], str(col.dtype), promised)
            assert str(col.dtype) == promised, where
            if promised == "category":
                assert list(col.cat.categories) == f["constraints"]["enum"], where
            elif promised == "string":
                assert col.dropna().map(type).eq(str).all(), where
                assert str(tcol.dtype) == "string", where
            elif promised.startswith("date32"):
                assert col.dropna().map(type).eq(dt.date).all(), where  # the values are dates
                assert tcol.dropna().map(type).eq(dt.date).all(), where
    flows = schema.read_parquet(target / "data" / "trade_flows.parquet")
    assert flows["value_usd"].isna().sum() == 1 and flows["value_usd"].dropna().gt(0).all()


# --------------------------------------------------------------------------- datasette

def test_sqlite_database_has_one_table_per_resource_with_keys(tmp_path, builds, gate):
    published = tmp_path / "published"
    target = publish.publish(builds[1], published, "1.0.0")
    db, meta = serve.prepare(published, tmp_path / "serve")
    again = serve.build_database(target, tmp_path / "again.db")
    assert db.read_bytes() == again.read_bytes()  # created deterministically
    built = db.stat().st_mtime_ns
    assert serve.prepare(published, tmp_path / "serve")[0].stat().st_mtime_ns == built  # same release: reused
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table' "
                                            "and name not like 'sqlite_%' order by rowid")]
        assert tables == schema.resource_names()
        for name in tables:
            assert con.execute(f'select count(*) from "{name}"').fetchone()[0] == pq.read_metadata(
                target / "data" / f"{name}.parquet").num_rows
        fks = con.execute("select * from pragma_foreign_key_list('pledges')").fetchall()
        assert {(r[2], r[3]) for r in fks} == {("cities", "city_id"), ("initiatives", "initiative_id")}
        assert con.execute("select as_of, typeof(as_of) from pledges order by as_of desc limit 1").fetchone() == (
            "2022-12-01", "text")
        assert con.execute("select suppressed from trade_flows where value_usd is null").fetchone() == (1,)
    finally:
        con.close()
    m = json.loads(meta.read_text())
    desc = json.loads((target / "datapackage.json").read_text())
    assert m["title"] == f"{desc['title']} 1.0.0" and m["license"] and m["source"]
    assert m["databases"][serve.DB_NAME]["tables"]["cities"]["label_column"] == "name"


def test_no_release_to_serve_is_a_clear_error(tmp_path):
    with pytest.raises(serve.ServeError, match="make publish"):
        serve.latest_release(tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_on_loopback_read_only(tmp_path, builds, gate):
    published = tmp_path / "published"
    publish.publish(builds[1], published, "1.0.0")
    port = _free_port()
    log = open(tmp_path / "serve.log", "wb")
    code = ("import sys; from pathlib import Path; from etl.release.serve import serve; "
            "serve(Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(published), str(port), str(tmp_path / "serve")],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/{serve.DB_NAME}"
    try:
        deadline, body = time.monotonic() + 60, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{base}/cities.json?_size=1&_shape=objects", timeout=5) as resp:
                    body = json.loads(resp.read())
                break
            except OSError:
                time.sleep(0.3)
        assert body is not None, (tmp_path / "serve.log").read_text(errors="replace")
        assert body["rows"][0]["city_id"] == load_frames(RELEASE_FIXTURES / "v2")["cities"]["city_id"].min()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/databases.json", timeout=5) as resp:
            dbs = json.loads(resp.read())
        assert [d["is_mutable"] for d in dbs if d["name"] == serve.DB_NAME] == [False]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/metadata.json", timeout=5) as resp:
            assert json.loads(resp.read())["title"].endswith("1.0.0")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()


# --------------------------------------------------------------------------- real mirror

def _raw_paths(mirror: Path) -> dict:
    from etl.fetch import mirror_paths
    return mirror_paths(mirror)


def _real_gate_or_stand_in(monkeypatch):
    """The real release gate when it exists, else a stand-in (the gate has its own tests)."""
    try:
        from etl.quality import gate  # noqa: F401
    except ImportError:
        fake = types.ModuleType("etl.quality.gate")
        fake.check_release = lambda stage: None
        monkeypatch.setitem(sys.modules, "etl.quality.gate", fake)


@requires_mirror
def test_two_clean_builds_give_identical_parquet_bytes(tmp_path, mirror):
    from etl import build
    paths = _raw_paths(mirror)
    build.run(tmp_path / "a", raw_paths=paths)
    build.run(tmp_path / "b", raw_paths=paths)
    for name in schema.resource_names():
        a, b = (tmp_path / d / "data" / f"{name}.parquet" for d in ("a", "b"))
        assert a.read_bytes() == b.read_bytes(), name


@requires_mirror
def test_sep_vintage_then_full_sources_changelog_shows_the_december_pledges(tmp_path, mirror, real_build, monkeypatch):
    from etl import build
    _real_gate_or_stand_in(monkeypatch)
    sep_only = tmp_path / "sep"
    build.run(sep_only, {"climactor_dec2022"}, raw_paths=_raw_paths(mirror))
    published = tmp_path / "published"
    publish.publish(sep_only, published, "0.9.0")
    version = schema.descriptor()["version"]
    target = publish.publish(real_build[0], published, version)
    assert os.readlink(published / "latest") == version

    changes = json.loads((target / "changes.json").read_text())
    pledges = changes["resources"]["pledges"]
    full = schema.read_parquet(target / "data" / "pledges.parquet")
    before = schema.read_parquet(published / "0.9.0" / "data" / "pledges.parquet")
    assert {d.strftime("%Y-%m") for d in before["as_of"]} == {"2022-09"}
    dec = full[full["as_of"].map(lambda d: d.strftime("%Y-%m")) == "2022-12"]
    assert len(dec) > 0
    added_dec = {k: n for k, n in pledges["added_by"]["as_of"].items() if k.startswith("2022-12")}
    assert sum(added_dec.values()) == len(dec)  # every December pledge is new in this release
    assert pledges["added"] >= len(dec)
    text = (target / "CHANGELOG.md").read_text()
    assert "## pledges" in text and "- added by `as_of`: " in text and "2022-12-" in text
    assert "Changes since 0.9.0" in text
    # The real Sep -> Dec 2022 membership change, both vintages in this release (same place ids).
    [vintage] = pledges["vintages"]
    sep = full[full["as_of"].map(lambda d: d.strftime("%Y-%m")) == "2022-09"]
    rest = ["city_id", "initiative_id", "list_key"]
    dec_keys, sep_keys = set(dec[rest].itertuples(index=False)), set(sep[rest].itertuples(index=False))
    assert vintage["previous_from"] == "this release"
    assert (vintage["continued"], vintage["new"], vintage["gone"]) == (
        len(dec_keys & sep_keys), len(dec_keys - sep_keys), len(sep_keys - dec_keys))
    assert f"{vintage['new']:,} new, {vintage['gone']:,} gone." in text
    assert (target / "DATA_DICTIONARY.md").read_text().count("## `") == len(schema.resource_names())
