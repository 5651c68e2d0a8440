"""The partnership-agreement gate (etl.quality.agreement) on hand-made build reports."""
from __future__ import annotations

import json

from etl.quality import agreement


def report(w_in_p, p_in_w):
    return {"steps": {"partnerships": {"agreement": {
        "eu_origin_cities": 3, "wikidata_pairs": 4, "wikipedia_pairs_with_an_eu_origin_side": 5, "pairs_in_both": 2,
        "wikidata_pairs_in_wikipedia_pct": w_in_p, "wikipedia_pairs_in_wikidata_pct": p_in_w,
        "wikidata_pairs_in_wikipedia_resolved_pct": 60.0, "wikipedia_pairs_in_wikidata_resolved_pct": 50.0,
        "examples_only_in_wikidata": ["gn1 – gn2: A (AUT) – B (ITA)"], "examples_only_in_wikipedia": []}}}}


def baseline(tmp_path):
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"wikidata_pairs_in_wikipedia_pct": 50.0, "wikipedia_pairs_in_wikidata_pct": 40.0}))
    return path


def test_within_tolerance_passes(tmp_path):
    results = agreement.check(report(49.5, 45.0), baseline(tmp_path))
    assert [r.ok for r in results] == [True, True]


def test_drop_below_baseline_warns(tmp_path):
    results = agreement.check(report(48.5, 40.0), baseline(tmp_path))
    assert [r.is_warning for r in results] == [True, False]
    assert not any(r.is_error for r in results)


def test_skipped_without_figures(tmp_path):
    assert all(r.skipped for r in agreement.check({}, baseline(tmp_path)))


def test_markdown_has_both_shares_and_examples():
    text = "\n".join(agreement.to_markdown(report(50.0, 40.0)["steps"]["partnerships"]["agreement"]))
    assert "| Wikidata pairs also in the Wikipedia lists | 50.0 | 60.0 |" in text
    assert "A (AUT) – B (ITA)" in text


def test_committed_baseline_has_both_shares():
    b = json.loads(agreement.BASELINE.read_text())
    assert all(0 < b[s] <= 100 for s in agreement.SHARES)
