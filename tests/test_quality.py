"""The data-quality gate: each test breaks one thing in a small valid build and checks the gate
stops with the right message; frictionless itself is run on the CSV twins as a cross-check."""
from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from etl import schema
from etl.release.files import sha256
from etl.quality import expectations, gate, tableschema
from tests.conftest import FIXTURES, requires_mirror

FIX = FIXTURES / "quality"
SUITES = Path(__file__).resolve().parent.parent / "validations"


# --------------------------------------------------------------------------- helpers

def fixture_frames() -> dict[str, pd.DataFrame]:
    """The small valid build of tests/fixtures/quality/resources.json, one frame per resource."""
    data = json.loads((FIX / "resources.json").read_text(encoding="utf-8"))
    frames = {}
    for name in schema.resource_names():
        dtypes = {c: "object" if t.startswith("date32") else {"category": "string", "bool": "boolean"}.get(t, t)
                  for c, t in schema.pandas_dtypes(name).items()}
        frames[name] = pd.DataFrame.from_records(data[name], columns=list(dtypes)).astype(dtypes)
    return frames


def write_build(build: Path, frames: dict[str, pd.DataFrame], report: dict | None = None) -> Path:
    for name, frame in frames.items():
        schema.write_parquet(schema.to_arrow(name, frame), build / "data" / f"{name}.parquet")
    report = report or json.loads((FIX / "build_report.json").read_text(encoding="utf-8"))
    (build / "build_report.json").write_text(json.dumps(report), encoding="utf-8")
    return build


def table_schema(build: Path, names: list[str] | None = None):
    results, _ = tableschema.check_package(schema.descriptor(), build, names)
    return results


def failures(results, **match):
    return [r for r in results if r.failed and all(getattr(r, k) == v for k, v in match.items())]


def run_gate(build: Path):
    out = io.StringIO()
    result = gate.check_build(build, console=Console(file=out, width=200))
    return result, out.getvalue()


@pytest.fixture
def frames():
    return fixture_frames()


@pytest.fixture(scope="module")
def clean_build(tmp_path_factory):
    return write_build(tmp_path_factory.mktemp("clean") / "build", fixture_frames())


@pytest.fixture
def build(tmp_path, clean_build):
    """A fresh copy of the valid build for a test to break."""
    shutil.copytree(clean_build, tmp_path / "build")
    return tmp_path / "build"


# --------------------------------------------------------------------------- the valid build

def test_valid_build_passes_and_writes_reports(build):
    result, console = run_gate(build)
    assert result.ok, [r for r in result.results if r.failed]
    assert "quality gate passed" in console
    report = json.loads((build / "quality.json").read_text())
    assert report["ok"] and report["summary"]["errors"] == 0
    assert report["rows"]["trade_flows"] == len(fixture_frames()["trade_flows"])
    # exclusions per source and reason come from the exclusions resource
    assert report["exclusions"]["twin_cities"] == {"self-pair: both sides name the same place": 1}
    # resolution per source: source spellings weighted by mentions; declared non-places set apart
    assert report["place_resolution"]["twin_cities"]["mentions"] == 4
    assert report["place_resolution"]["twin_cities"]["resolved_pct"] == 100.0
    dot1 = report["place_resolution"]["bts_dot1_201501"]
    assert (dot1["mentions"], dot1["not_a_city_pct"], dot1["resolved_of_places_pct"]) == (8, 12.5, 100.0)
    md = (build / "quality.md").read_text()
    for heading in ("Rows per resource", "Table Schema checks", "Expectations", "Exclusions", "Place resolution",
                    "Run time"):
        assert f"## {heading}" in md
    suites = {r.resource for r in result.results if r.suite == "expectations"}
    assert suites == set(schema.resource_names())


# --------------------------------------------------------------------------- deliberate breakages (Parquet)

def test_negative_trade_value_stops_the_gate(build, frames):
    tf = frames["trade_flows"]
    tf.loc[tf["geography_code"] == "2304", "value_usd"] = -5
    write_build(build, frames)
    result, console = run_gate(build)
    assert not result.ok
    schema_fail = failures(result.results, suite="table-schema", resource="trade_flows", check="minimum",
                           target="value_usd")
    gx_fail = failures(result.results, suite="expectations", resource="trade_flows",
                       check="expect_column_values_to_be_between")
    assert schema_fail and schema_fail[0].rows == (tf["geography_code"] == "2304").sum()
    assert schema_fail[0].examples[0]["value_usd"] == -5
    assert any(r.rows == schema_fail[0].rows and "value_usd" in r.target for r in gx_fail)
    assert "trade_flows: minimum (value_usd)" in console and "-5" in console


def test_duplicate_primary_key(build, frames):
    cities = frames["cities"]
    frames["cities"] = pd.concat([cities, cities.iloc[[0]]], ignore_index=True)
    write_build(build, frames)
    fail = failures(table_schema(build, ["cities"]), check="primary-key")
    assert len(fail) == 1 and fail[0].rows == 1 and fail[0].examples[0]["city_id"] == cities.iloc[0]["city_id"]


def test_dangling_foreign_keys(build, frames):
    frames["pledges"].loc[0, "city_id"] = "gn999999999"
    frames["cities"].loc[frames["cities"]["city_id"] == "x-usa-encino", "part_of_city_id"] = "x-usa-nowhere"
    write_build(build, frames)
    results = table_schema(build)
    pledges = failures(results, resource="pledges", check="foreign-key")
    assert [(r.target, r.rows) for r in pledges] == [("city_id", 1)]
    assert pledges[0].examples[0]["city_id"] == "gn999999999"
    cities = failures(results, resource="cities", check="foreign-key")   # the self reference
    assert [(r.target, r.rows) for r in cities] == [("part_of_city_id", 1)]


def test_null_foreign_key_is_not_checked(build, frames):
    assert frames["initiative_tokens"]["initiative_id"].isna().any()    # the fixture's 'NA' token
    assert not failures(table_schema(build, ["initiative_tokens"]), check="foreign-key")


def _rewrite_column(path: Path, column: str, array: pa.Array) -> None:
    table = pq.read_table(path)
    i = table.column_names.index(column)
    pq.write_table(table.set_column(i, pa.field(column, array.type), array), path)


def test_port_code_written_as_int64(build):
    path = build / "data" / "trade_flows.parquet"
    codes = pq.read_table(path).column("geography_code").to_pylist()
    as_int = pa.array([int(c) if c.isdigit() else None for c in codes], pa.int64())
    _rewrite_column(path, "geography_code", as_int)
    fail = failures(table_schema(build, ["trade_flows"]), check="physical-type")
    assert [(r.target, r.rows) for r in fail] == [("geography_code", len(codes))]
    assert "int64" in fail[0].message and "string" in fail[0].message


def test_value_usd_written_as_float(build):
    path = build / "data" / "trade_flows.parquet"
    values = pq.read_table(path).column("value_usd").cast(pa.float64()).combine_chunks()
    _rewrite_column(path, "value_usd", values)
    results = table_schema(build, ["trade_flows"])
    fail = failures(results, check="physical-type")
    assert [r.target for r in fail] == ["value_usd"] and "double" in fail[0].message
    # the values themselves still convert losslessly, so nothing else is reported
    assert len(failures(results)) == 1


def test_enum_stored_as_plain_string_and_dates_as_text(build):
    path = build / "data" / "trade_flows.parquet"
    table = pq.read_table(path)
    _rewrite_column(path, "flow", table.column("flow").cast(pa.string()).combine_chunks())
    _rewrite_column(path, "period_start", table.column("period_start").cast(pa.string()).combine_chunks())
    fail = failures(table_schema(build, ["trade_flows"]), check="physical-type")
    assert sorted(r.target for r in fail) == ["flow", "period_start"]


def test_missing_column_is_reported(build):
    path = build / "data" / "initiatives.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["website"]), path)
    fail = failures(table_schema(build, ["initiatives"]), check="columns")
    assert len(fail) == 1 and "website" in fail[0].message


def test_pattern_enum_required_and_bounds(build, frames):
    frames["cities"].loc[0, "city_id"] = "Los Angeles"            # pattern (and dangling FKs follow)
    frames["cities"].loc[1, "latitude"] = 91.0                    # maximum
    frames["place_identifiers"].loc[0, "score"] = 101.0           # maximum
    frames["pledges"].loc[0, "list_key"] = "2019a"                # pattern
    frames["exclusions"].loc[0, "reason"] = ""                    # "" is a missing value: required
    write_build(build, frames)
    results = table_schema(build)
    got = {(r.resource, r.check, r.target, r.rows) for r in results if r.failed}
    assert {("cities", "pattern", "city_id", 1), ("cities", "maximum", "latitude", 1),
            ("place_identifiers", "maximum", "score", 1), ("pledges", "pattern", "list_key", 1),
            ("exclusions", "required", "reason", 1)} <= got


def test_row_count_collapse(build, frames):
    tf = frames["trade_flows"]
    frames["trade_flows"] = tf[~((tf["source_id"] == "ita_metro_exports") & (tf["period_start"] > "2012-12-31"))]
    write_build(build, frames)
    result, console = run_gate(build)
    assert not result.ok
    fail = failures(result.results, check="expect_table_row_count_to_be_between", resource="trade_flows")
    assert len(fail) == 1 and "ita_metro_exports" in fail[0].target
    assert "observed 2" in fail[0].message
    assert "Row-count collapse" in console


def test_partnership_listed_in_both_orders(build, frames):
    p = frames["partnerships"]
    flipped = p.iloc[[0]].rename(columns={"city_a_id": "city_b_id", "city_b_id": "city_a_id"})
    frames["partnerships"] = pd.concat([p, flipped], ignore_index=True)
    write_build(build, frames)
    assert not failures(table_schema(build, ["partnerships"]))      # (a, b) and (b, a) are distinct keys
    results = _expectations(build, "partnerships")
    fail = failures(results, check="expect_column_pair_values_a_to_be_greater_than_b")
    assert len(fail) == 1 and fail[0].rows == 1


def test_resolution_share_below_threshold_counts_mentions(build, frames):
    ids = frames["place_identifiers"]
    # one of three twin-city spellings unresolved, but it is used by 2 of the 4 source rows
    ids.loc[(ids["source_id"] == "twin_cities") & (ids["identifier"] == "Los Angeles")
            & (ids["id_type"] == "source_spelling"), ["status", "method"]] = ["unresolved", "unresolved"]
    write_build(build, frames)
    fail = failures(_expectations(build, "place_identifiers"), check="expect_column_values_to_be_in_set",
                    severity="error")  # the issue's own target is also there, as a warning
    assert len(fail) == 1 and "twin_cities" in fail[0].target
    assert (fail[0].rows, fail[0].unit) == (2, "mentions") and "2 of 4 mentions" in fail[0].message
    assert [e["identifier"] for e in fail[0].examples] == ["Los Angeles"]


def test_declared_non_places_do_not_count_against_resolution(build, frames):
    ids = frames["place_identifiers"]
    dot1 = ids["source_id"] == "bts_dot1_201501"
    assert (ids.loc[dot1, "method"] == "not_a_city").any()        # the fixture's district bucket
    assert not failures(_expectations(build, "place_identifiers"))


def test_periods_and_as_of_outside_the_source_coverage(build, frames):
    tf = frames["trade_flows"]
    dot1 = tf.index[tf["source_id"] == "bts_dot1_201501"][0]
    tf.loc[dot1, ["period_start", "period_end"]] = ["2015-02-01", "2015-02-28"]
    frames["pledges"].loc[frames["pledges"]["source_id"] == "climactor_sep2022", "as_of"] = "2022-12-31"
    write_build(build, frames)
    tf_fail = failures(_expectations(build, "trade_flows"), check="expect_column_values_to_be_between")
    assert sorted(r.target.split(",")[0] for r in tf_fail) == ["period_end", "period_start"]
    assert all("bts_dot1_201501" in r.target and r.rows == 1 for r in tf_fail)
    pl_fail = failures(_expectations(build, "pledges"))
    assert [(r.check, r.rows) for r in pl_fail] == [("expect_column_values_to_be_between", 1)]
    assert "climactor_sep2022" in pl_fail[0].target and pl_fail[0].examples[0]["as_of"] == "2022-12-31"


def test_cli_validate_exits_1_on_failure(build, frames):
    from typer.testing import CliRunner

    from etl.cli import app
    frames["partnerships"].loc[0, "resolved_sides"] = 3
    write_build(build, frames)
    result = CliRunner().invoke(app, ["validate", "--build-dir", str(build)])
    assert result.exit_code == 1
    assert (build / "quality.md").read_text().startswith("# Data-quality report: build\n\n**Result: FAIL**")


def test_warning_is_reported_not_fatal(build, frames):
    frames["cities"].loc[frames["cities"]["city_id"] == "gn4705349", "population"] = 0
    write_build(build, frames)
    result, console = run_gate(build)
    assert result.ok
    assert [(r.resource, r.check) for r in result.warnings] == [("cities", "expect_column_values_to_be_between")]
    assert "WARNING" in console
    assert json.loads((build / "quality.json").read_text())["summary"]["warnings"] == 1


def test_source_not_in_build_skips_its_bounds(build):
    report = json.loads((FIX / "build_report.json").read_text())
    del report["sources"]["climactor_sep2022"]
    (build / "build_report.json").write_text(json.dumps(report))
    results = _expectations(build, "pledges")
    skipped = [r for r in results if r.skipped]
    assert len(skipped) == 1 and "climactor_sep2022" in skipped[0].skipped
    assert not failures(results)


def _expectations(build: Path, name: str):
    _, tables = tableschema.check_package(schema.descriptor(), build, [name])
    frames = {n: expectations.frame_for_gx(t.arrow) for n, t in tables.items()}
    report = json.loads((build / "build_report.json").read_text())
    suites = {name: expectations.load_suites(SUITES, schema.resource_names())[name]}
    return expectations.run_suites(frames, report, suites, {name: schema.primary_key(name)})


# --------------------------------------------------------------------------- the suites are data

def test_every_resource_has_a_well_formed_suite():
    suites = expectations.load_suites(SUITES, schema.resource_names())
    assert set(suites) == set(schema.resource_names())
    for name, suite in suites.items():
        fields = {f["name"] for f in schema.fields(name)}
        for exp in suite["expectations"]:
            kw = exp["kwargs"]
            used = {kw[k] for k in ("column", "column_A", "column_B") if k in kw} | set(kw.get("column_list", []))
            cond = json.dumps(kw.get("row_condition", {}))
            used |= {c["name"] for c in _condition_columns(kw.get("row_condition"))}
            assert used <= fields, (name, exp["type"], used - fields, cond)


def _condition_columns(c):
    if not isinstance(c, dict):
        return []
    if "column" in c:
        return [c["column"]]
    return [x for sub in c.get("conditions", []) for x in _condition_columns(sub)]


def test_malformed_suite_is_refused(build, tmp_path):
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "x.json").write_text(json.dumps({"resource": "cities", "expectations": [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "population"}, "severity": "fatal",
         "why": "x"}]}))
    with pytest.raises(expectations.SuiteError, match="severity"):
        expectations.load_suites(suites, schema.resource_names())
    result = gate.check_build(build, suites_dir=suites, console=Console(file=io.StringIO()))
    assert not result.ok and [r.check for r in result.errors] == ["suites"]


def test_expectation_that_cannot_run_fails_the_gate(build, tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "cities.json").write_text(json.dumps({"resource": "cities", "expectations": [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "no_such_column", "min_value": 0},
         "severity": "warning", "why": "a suite out of step with the schema"}]}))
    result = gate.check_build(build, suites_dir=tmp_path / "s", console=Console(file=io.StringIO()))
    fail = failures(result.results, suite="expectations")
    assert not result.ok and len(fail) == 1
    assert fail[0].severity == "error" and "could not run" in fail[0].message


def test_build_report_references():
    kwargs = {"min_value": {"$build_report": "sources.a.rows_read", "times": 0.3},
              "max_value": {"$build_report": "sources.a.rows_read", "times": 0.3}}
    resolved, skipped = expectations.resolve_kwargs(kwargs, {"sources": {"a": {"rows_read": 10}}})
    assert skipped is None and resolved == {"min_value": 3, "max_value": 3}
    resolved, skipped = expectations.resolve_kwargs({"min_value": {"$build_report": "sources.a.rows_read", "times": 0.25}},
                                                    {"sources": {"a": {"rows_read": 10}}})
    assert resolved["min_value"] == 2                               # rounded outward
    _, skipped = expectations.resolve_kwargs(kwargs, {"sources": {}})
    assert "sources.a.rows_read" in skipped


# --------------------------------------------------------------------------- the release check (Parquet + CSV)

@pytest.fixture(scope="module")
def release(clean_build, tmp_path_factory):
    """The valid build published once (publish runs check_release itself)."""
    from etl.publish import publish
    return publish(clean_build, tmp_path_factory.mktemp("published"))


def _stage(release: Path, tmp_path: Path) -> Path:
    stage = tmp_path / "stage"
    shutil.copytree(release, stage)
    return stage


def _redeclare(stage: Path, name: str) -> None:
    """Update bytes/hash of a changed file in the staged descriptor (so only its content is wrong)."""
    desc = json.loads((stage / "datapackage.json").read_text())
    for r in desc["resources"]:
        if r["name"] == name:
            f = stage / r["path"]
            r["bytes"], r["hash"] = f.stat().st_size, f"sha256:{sha256(f)}"
    (stage / "datapackage.json").write_text(json.dumps(desc, indent=2))


def _edit_csv(path: Path, edit) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(frame)
    frame.to_csv(path, index=False, lineterminator="\n")


def test_release_check_passes_on_the_published_release(release):
    result = gate.check_release(release)
    assert result.ok
    checked = {r.resource for r in result.results if r.suite == "table-schema"}
    assert {"trade_flows", "trade_flows-csv"} <= checked


def test_release_check_catches_a_csv_that_disagrees_with_the_schema(release, tmp_path):
    stage = _stage(release, tmp_path)

    def edit(frame):
        frame.loc[0, "value_usd"] = "12.5"           # not an integer
        frame.loc[1, "geography_code"] = "712"        # fine for the schema (a string) ...
        frame.loc[2, "flow"] = "re-export"            # ... not in the enum
    _edit_csv(stage / "data" / "trade_flows.csv", edit)
    _redeclare(stage, "trade_flows")  # the CSV file is the resource; its Parquet copy is a property
    with pytest.raises(gate.GateFailure) as exc:
        gate.check_release(stage, console=Console(file=io.StringIO()))
    got = {(r.resource, r.check, r.target) for r in exc.value.errors}
    assert got == {("trade_flows-csv", "type", "value_usd"), ("trade_flows-csv", "enum", "flow")}
    assert "trade_flows-csv: type (value_usd): 1 rows" in str(exc.value)


def test_release_check_catches_a_changed_file(release, tmp_path):
    stage = _stage(release, tmp_path)
    cities_csv = stage / "data" / "cities.csv"
    header = cities_csv.open(encoding="utf-8").readline().rstrip("\n").split(",")
    extra = {"city_id": "gn1", "name": "Extra", "place_type": "city"}
    with open(cities_csv, "a", encoding="utf-8") as fh:
        fh.write(",".join(extra.get(column, "") for column in header) + "\n")
    with pytest.raises(gate.GateFailure) as exc:
        gate.check_release(stage, console=Console(file=io.StringIO()))
    assert {r.check for r in exc.value.errors if r.resource == "cities-csv"} >= {"bytes", "hash"}


def test_release_check_catches_a_bad_descriptor(release, tmp_path):
    stage = _stage(release, tmp_path)
    desc = json.loads((stage / "datapackage.json").read_text())
    desc["resources"][0]["schema"]["fields"][0]["type"] = "text"
    (stage / "datapackage.json").write_text(json.dumps(desc))
    with pytest.raises(gate.GateFailure, match="descriptor"):
        gate.check_release(stage, console=Console(file=io.StringIO()))


def test_publish_refuses_a_build_that_fails_the_schema(build, frames, tmp_path):
    from etl.publish import publish
    frames["trade_flows"].loc[0, "value_usd"] = -1
    write_build(build, frames)
    published = tmp_path / "published"
    with pytest.raises(gate.GateFailure, match="value_usd"):
        publish(build, published)
    assert not [p for p in published.iterdir() if not p.name.startswith(".")]


# --------------------------------------------------------------------------- cross-check with frictionless

def set_cell(column: str, row: int, value):
    def edit(frame: pd.DataFrame) -> None:
        frame.loc[row, column] = frame.loc[0, column] if value is SAME_AS_FIRST else value
    return edit


SAME_AS_FIRST = object()
# case -> (CSV twin to break, edit). One broken row each.
BREAKAGES = {
    "negative value": ("trade_flows", set_cell("value_usd", 0, "-3")),
    "not an integer": ("trade_flows", set_cell("value_usd", 1, "12.5")),
    "bad date": ("trade_flows", set_cell("period_end", 2, "2015-02-30")),
    "enum": ("trade_flows", set_cell("mode", 3, "camel")),
    "pattern": ("pledges", set_cell("source_row", 0, "1;;2")),
    "required": ("partnerships", set_cell("kind", 0, "")),
    "boolean": ("partnerships", set_cell("both_sides", 1, "yes")),
    "duplicate key": ("cities", set_cell("city_id", 1, SAME_AS_FIRST)),
    "dangling key": ("pledges", set_cell("initiative_id", 0, "nope")),
    "self reference": ("cities", set_cell("part_of_city_id", 0, "x-nowhere")),
    "latitude": ("cities", set_cell("latitude", 0, "-90.5")),
    "uri": ("initiatives", set_cell("website", 0, "not a uri")),
}


def _frictionless_errors(stage: Path) -> set[tuple]:
    """(resource, error type, field, row) from `frictionless` on the CSV twins of the release."""
    from frictionless import Package
    desc = json.loads((stage / "datapackage.json").read_text())
    desc["resources"] = [r for r in desc["resources"] if r["format"] == "csv"]
    for r in desc["resources"]:
        r.pop("bytes", None), r.pop("hash", None)
    report = Package(desc, basepath=str(stage)).validate()
    out = set()
    for task in report.tasks:
        for row_number, field_name, code in task.flatten(["rowNumber", "fieldName", "type"]):
            out.add((task.name, code, field_name, row_number))
    return out


def _gate_errors(stage: Path) -> set[tuple]:
    desc = json.loads((stage / "datapackage.json").read_text())
    desc["resources"] = [r for r in desc["resources"] if r["format"] == "csv"]
    for r in desc["resources"]:
        r.pop("bytes", None), r.pop("hash", None)
    results, _ = tableschema.check_package(desc, stage)
    out = set()
    for r in results:
        if r.failed:
            fields = r.target if r.code in ("type-error", "constraint-error", "unique-error") else None
            for e in r.examples:
                out.add((r.resource, r.code, fields, e["row"]))
            assert r.rows == len(r.examples)          # one broken row per case: every row is an example
    return out


@pytest.mark.parametrize("case", sorted(BREAKAGES))
def test_gate_agrees_with_frictionless_on_csv(release, tmp_path, case):
    name, edit = BREAKAGES[case]
    stage = _stage(release, tmp_path)
    _edit_csv(stage / "data" / f"{name}.csv", edit)
    theirs = {(res, code, fld if code in ("type-error", "constraint-error", "unique-error") else None, row)
              for res, code, fld, row in _frictionless_errors(stage)}
    ours = _gate_errors(stage)
    assert theirs, f"{case}: frictionless found nothing, the breakage is not one"
    assert ours == theirs


def test_gate_agrees_with_frictionless_on_other_schema_features(tmp_path):
    """Constraints and options our descriptor does not use yet: float bounds, custom booleans,
    lengths, unique, a composite foreign key to the table itself."""
    resource = {"name": "t", "path": "t.csv", "format": "csv", "schema": {
        "fields": [
            {"name": "id", "type": "integer", "constraints": {"required": True}},
            {"name": "score", "type": "number", "constraints": {"minimum": 0.5, "maximum": 9.5}},
            {"name": "flag", "type": "boolean", "trueValues": ["yes"], "falseValues": ["no"]},
            {"name": "day", "type": "date", "constraints": {"minimum": "2020-01-01"}},
            {"name": "label", "type": "string", "constraints": {"minLength": 2, "maxLength": 5, "unique": True}},
            {"name": "parent", "type": "integer"},
            {"name": "parent_label", "type": "string"}],
        "primaryKey": ["id"],
        "missingValues": ["", "NA"],
        "foreignKeys": [{"fields": ["parent", "parent_label"],
                         "reference": {"resource": "", "fields": ["id", "label"]}}]}}
    (tmp_path / "t.csv").write_text(
        "id,score,flag,day,label,parent,parent_label\n"
        "1,0.5,yes,2020-01-01,ab,,\n"
        "2,0.4,no,2019-12-31,abcdef,1,ab\n"        # below minimum, before minimum date, too long
        "3,9.5,true,2020-02-30,a,1,zz\n"           # not a boolean, bad date, too short, bad FK
        "3,NA,NA,NA,ab,NA,NA\n"                    # duplicate id, duplicate label
        "x,1e1,yes,2020-01-02,cd,7,cd\n", encoding="utf-8")  # not an integer, above max, FK to nothing
    from frictionless import Package
    report = Package({"resources": [resource]}, basepath=str(tmp_path)).validate()
    theirs = {(code, fld if code in ("type-error", "constraint-error", "unique-error") else None, row)
              for code, fld, row in report.flatten(["type", "fieldName", "rowNumber"])}
    results, _ = tableschema.check_package({"resources": [resource]}, tmp_path)
    ours = set()
    for r in results:
        if r.failed:
            for e in r.examples:
                ours.add((r.code, r.target if r.code in ("type-error", "constraint-error", "unique-error") else None,
                          e["row"]))
    assert len(theirs) == 13 and {code for code, _, _ in theirs} == {
        "type-error", "constraint-error", "unique-error", "primary-key", "foreign-key"}
    assert ours == theirs


def test_clean_csv_release_is_valid_for_frictionless_too(release):
    assert _frictionless_errors(release) == set()


# --------------------------------------------------------------------------- the real build

@requires_mirror
def test_gate_on_the_real_build(real_build):
    """The real build meets every Table Schema check, every expectation runs, the report adds up.

    (Whether it passes the expectations' thresholds is asserted by test_pipeline.)"""
    build_dir, report = real_build
    result, console = run_gate(build_dir)
    assert not [r for r in result.results if r.suite in ("descriptor", "table-schema") and r.failed], console
    assert not [r for r in result.results if "could not run" in r.message]
    assert not [r for r in result.results if r.skipped]
    q = json.loads((build_dir / "quality.json").read_text())
    assert q["rows"] == report["rows"]
    assert q["exclusions"] == report["exclusions_by_reason"]
    for sid, v in q["place_resolution"].items():   # the crosswalk and the build report count the same mentions
        if "build_report" in v and "mentions" in v:
            assert v["mentions"] == v["build_report"]["mentions"], sid


# --------------------------------------------------------------------------- suites started early by the build

def _start_early(build: Path):
    return expectations.start_early(build, expectations.VALIDATIONS, tableschema.primary_keys(schema.descriptor()))


def _early_results(build: Path):
    names = schema.resource_names()
    return expectations.early_results(build, expectations.VALIDATIONS, names, names, timeout_s=120)


def test_early_suite_results_are_the_gates_own(build):
    """The child started before the build's files exist gives the results the gate computes itself."""
    data = build / "data"
    shutil.move(data, build / "later")            # the build has not written its files yet
    early = _start_early(build)
    shutil.move(build / "later", data)
    early.ready()
    got = _early_results(build)
    assert got is not None
    expected = expectations.run_all(
        {n: expectations.frame_for_gx(pq.read_table(data / f"{n}.parquet")) for n in schema.resource_names()},
        expectations.load_build_report(build), expectations.VALIDATIONS, schema.resource_names(),
        tableschema.primary_keys(schema.descriptor()),
        str(build / "build_report.json"))
    assert [(r.resource, r.check, r.target, r.ok, r.rows) for r in got] == \
        [(r.resource, r.check, r.target, r.ok, r.rows) for r in expected]


def test_early_results_for_other_bytes_are_not_used(build, frames):
    """A file changed after the child ran: the gate runs the suites itself and catches the break."""
    early = _start_early(build)
    early.ready()
    assert _early_results(build) is not None      # the child has finished on the valid files
    tf = frames["trade_flows"]
    tf.loc[tf["geography_code"] == "2304", "value_usd"] = -5
    write_build(build, frames)
    assert _early_results(build) is None
    result, _ = run_gate(build)
    assert not result.ok
    assert failures(result.results, suite="expectations", resource="trade_flows",
                    check="expect_column_values_to_be_between")


def test_aborted_early_run_leaves_no_results(build):
    early = _start_early(build)
    early.abort()
    assert _early_results(build) is None
