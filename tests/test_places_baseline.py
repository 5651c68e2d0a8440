"""Regression guard for place resolution over the real sources (skipped unless RAW_MIRROR is set).

``tests/places/resolution_baseline.json`` holds each source's resolved-to-GeoNames share
measured on the real build; a source whose share in a fresh build's report
(``build_report.json`` -> ``places``) drops more than ``MARGIN_PCT`` points below it fails.
A deliberate change rewrites the baseline (``python -m etl.places.measure --write-baseline``)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import requires_mirror

pytestmark = requires_mirror

BASELINE = Path(__file__).parent / "places" / "resolution_baseline.json"
MARGIN_PCT = 1.0
FIELDS = {"mentions", "distinct_mentions", "resolved_pct", "ambiguous_pct", "unresolved_pct", "not_a_city_pct",
          "resolved_pct_of_places"}


@pytest.fixture(scope="module")
def places_report(real_build) -> dict:
    _, report = real_build
    return {sid: v for sid, v in report["places"].items() if not sid.startswith("_")}


def test_report_fields(places_report):
    assert places_report
    for sid, v in places_report.items():
        assert FIELDS <= set(v), (sid, sorted(FIELDS - set(v)))
        parts = v["resolved_pct"] + v["ambiguous_pct"] + v["unresolved_pct"] + v["not_a_city_pct"]
        assert parts == pytest.approx(100.0, abs=0.05), sid
        assert v["resolved_pct_of_places"] >= v["resolved_pct"]


def test_resolved_shares_do_not_regress(places_report):
    base = json.loads(BASELINE.read_text())["sources"]
    missing = sorted(set(places_report) - set(base))
    assert not missing, f"sources without a baseline (add them to {BASELINE.name}): {missing}"
    drops = {sid: (places_report[sid]["resolved_pct"], b["resolved_pct"]) for sid, b in base.items()
             if sid in places_report and places_report[sid]["resolved_pct"] < b["resolved_pct"] - MARGIN_PCT}
    assert not drops, f"resolved share fell more than {MARGIN_PCT} point below the baseline (now, baseline): {drops}"
    assert set(base) <= set(places_report), sorted(set(base) - set(places_report))
