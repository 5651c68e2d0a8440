"""The whole pipeline over the real mirror: build -> gate -> publish -> a valid, immutable release."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from etl import publish, schema
from etl.publish import SUMS
from etl.release.files import sha256
from tests.conftest import requires_mirror

pytestmark = requires_mirror


@pytest.fixture(scope="module")
def release(real_build, tmp_path_factory):
    build_dir, report = real_build
    from etl.quality import gate
    result = gate.check_build(build_dir)
    assert result.ok, "quality gate failed on the real build"
    published = tmp_path_factory.mktemp("published")
    target = publish.publish(build_dir, published)
    return build_dir, report, published, target


def test_every_source_row_is_published_or_excluded(real_build):
    _, report = real_build
    for sid, s in report["sources"].items():
        assert s["rows_read"] > 0 or s.get("use"), sid  # bts_codebook: provenance only, no data rows
    expected = {s["id"]: s["rows_expected"] for s in schema.descriptor()["sources"] if "rows_expected" in s}
    for sid, n in expected.items():
        assert report["sources"][sid]["rows_read"] == n, sid


def test_release_layout_and_checksums(release):
    _, _, published, target = release
    desc = json.loads((target / "datapackage.json").read_text())
    assert desc["version"] == schema.descriptor()["version"]
    for name in schema.resource_names():
        for ext in ("parquet", "csv"):
            assert (target / "data" / f"{name}.{ext}").is_file()
    for res in desc["resources"]:
        for entry in (res, res["parquet"]):
            f = target / entry["path"]
            assert entry["bytes"] == f.stat().st_size and entry["hash"] == f"sha256:{sha256(f)}"
    sums = dict(reversed(line.split("  ")) for line in (target / SUMS).read_text().splitlines())
    assert sums["datapackage.json"] == sha256(target / "datapackage.json")
    assert (published / "latest").resolve() == target.resolve()


def test_parquet_and_csv_hold_the_same_rows(release):
    _, _, _, target = release
    for name in schema.resource_names():
        pq_rows = len(schema.read_parquet(target / "data" / f"{name}.parquet"))
        csv_rows = len(pd.read_csv(target / "data" / f"{name}.csv", dtype=str, keep_default_na=False))
        assert pq_rows == csv_rows, name


def test_republishing_identical_content_is_a_noop(release):
    build_dir, _, published, target = release
    before = {p: p.stat().st_mtime_ns for p in target.rglob("*")}
    assert publish.publish(build_dir, published) == target
    assert before == {p: p.stat().st_mtime_ns for p in target.rglob("*")}


def test_frictionless_reports_the_release_valid(release):
    """What users run: `frictionless validate published/<version>/datapackage.json`."""
    from frictionless import Package
    _, _, _, target = release
    report = Package(str(target / "datapackage.json")).validate()
    errors = [(task.name, *err) for task in report.tasks for err in task.flatten(["rowNumber", "fieldName", "type", "note"])]
    assert report.valid, errors[:10]
