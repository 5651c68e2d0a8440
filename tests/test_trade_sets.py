"""Trade over five years: file-set readers, dot3, coverage and the reconciliation gate check, on
small hand-written fixtures (twelve 2023 month files of dot1 and their annual file; two dot3 months
that split the dot1 months over chapters 84 and 02)."""
from __future__ import annotations

import shutil

import pandas as pd
import pytest

from etl.quality import reconcile
from etl.sources import READERS, SourceError, bts_dot1, bts_dot3
from etl.steps import trade_coverage
from etl.steps import trade_flows as step
from tests.conftest import FIXTURES
from tests.test_trade_flows import SAMPLES, run

MONTHS = [FIXTURES / "bts_dot1_monthly" / f"dot1_{m:02d}23.csv" for m in range(1, 13)]
ANNUAL = [FIXTURES / "bts_dot1_annual" / "dot1_2023.csv"]
DOT3 = [FIXTURES / "bts_dot3_monthly" / f"dot3_{m:02d}23.csv" for m in (1, 2)]


def tables(months=MONTHS, annual=ANNUAL, dot3=DOT3) -> dict:
    out = {step.SCHEDULE_D: READERS[step.SCHEDULE_D](SAMPLES[step.SCHEDULE_D], step.SCHEDULE_D)}
    out["bts_dot1_monthly"] = bts_dot1.read(months, "bts_dot1_monthly")
    if annual:
        out["bts_dot1_annual"] = bts_dot1.read(annual, "bts_dot1_annual")
    if dot3:
        out["bts_dot3_monthly"] = bts_dot3.read(dot3, "bts_dot3_monthly")
    return out


def raw_total(paths, **match) -> int:
    frame = pd.concat([pd.read_csv(p, dtype=str) for p in paths])
    for col, value in match.items():
        frame = frame[frame[col] == value]
    return int(frame["VALUE"].astype("int64").sum())


# --------------------------------------------------------------------------- readers

def test_set_rows_keep_their_file_and_row_in_that_file():
    t = bts_dot1.read(MONTHS, "bts_dot1_monthly")
    assert t.rows_read == len(t.data) == 12 * 5
    assert set(t.data["source_file"]) == {p.name for p in MONTHS}
    rows = t.data.groupby("source_file", observed=True)["source_row"].apply(list)
    assert rows.to_dict() == {p.name: [1, 2, 3, 4, 5] for p in MONTHS}
    assert t.data.loc[t.data["source_file"] == "dot1_0323.csv", "period_start"].eq(pd.Timestamp(2023, 3, 1)).all()


def test_annual_file_other_column_order_no_month_read_by_name():
    t = bts_dot1.read(ANNUAL, "bts_dot1_annual")
    assert t.data["month"].isna().all() and (t.data["period_start"] == pd.Timestamp(2023, 1, 1)).all()
    laredo_exports = t.data[(t.data["port_code"] == "2304") & (t.data["flow"] == "export")]["value_usd"].sum()
    assert laredo_exports == raw_total(MONTHS, DEPE="2304", TRDTYPE="1")


def test_header_in_another_order_reads_the_same(tmp_path):
    frame = pd.read_csv(MONTHS[0], dtype=str, keep_default_na=False)
    shuffled = tmp_path / MONTHS[0].name
    frame[list(reversed(frame.columns))].to_csv(shuffled, index=False)
    a, b = bts_dot1.read(MONTHS[0], "bts_dot1_monthly").data, bts_dot1.read(shuffled, "bts_dot1_monthly").data
    pd.testing.assert_frame_equal(a, b)


def test_month_disagreeing_with_file_name_names_file_and_row(tmp_path):
    bad = tmp_path / "dot1_0423.csv"
    bad.write_bytes(MONTHS[3].read_bytes().replace(b",40,,0,04,2023", b",40,,0,05,2023"))  # row 3: May in April
    with pytest.raises(SourceError, match=r"dot1_0423\.csv row 3: MONTH/YEAR '05'/'2023' disagree .*2023-04"):
        bts_dot1.read([MONTHS[0], bad], "bts_dot1_monthly")


def test_truncated_month_file_is_a_clear_error(tmp_path):
    cut = tmp_path / "dot1_0123.csv"
    data = MONTHS[0].read_bytes()
    cut.write_bytes(data[: len(data) - 20])  # the last row cut mid-way
    with pytest.raises(SourceError, match=r"dot1_0123\.csv cannot be read"):
        bts_dot1.read([cut], "bts_dot1_monthly")


def test_negative_value_is_excluded_with_its_reason(tmp_path):
    neg = tmp_path / "dot1_0123.csv"
    neg.write_bytes(MONTHS[0].read_bytes().replace(b",2010,1000001,", b",2010,-1000001,"))
    t = bts_dot1.read([neg], "bts_dot1_monthly")
    assert len(t.exclusions) == 1 and t.exclusions["source_row"].iloc[0] == 1
    assert t.exclusions["reason"].iloc[0] == "VALUE is not a non-negative integer: '-1000001'"
    assert t.exclusions["source_file"].iloc[0] == "dot1_0123.csv"


def test_unknown_port_code_is_excluded_by_the_step(tmp_path):
    odd = tmp_path / "dot1_0123.csv"
    odd.write_bytes(MONTHS[0].read_bytes().replace(b",0712,", b",9999,"))  # not in the Schedule D sample
    months = [odd, *MONTHS[1:]]
    _, out = run(tables(months, annual=None, dot3=None))
    ex = out.exclusions
    assert list(ex["reason"]) == ["port code not in Schedule D: '9999'"]
    assert list(ex["source_file"]) == ["dot1_0123.csv"] and list(ex["source_row"]) == [5]


def test_dot3_keeps_chapter_as_two_characters_and_refuses_unknown_chapter(tmp_path):
    t = bts_dot3.read(DOT3, "bts_dot3_monthly")
    assert set(t.data["hs_chapter"]) == {"02", "84"}
    bad = tmp_path / "dot3_0123.csv"
    bad.write_bytes(DOT3[0].read_bytes().replace(b",2304,02,", b",2304,2,", 1))  # row 2
    with pytest.raises(SourceError, match=r"dot3_0123\.csv row 2: COMMODITY2 '2' is not an HS chapter"):
        bts_dot3.read([bad], "bts_dot3_monthly")


# --------------------------------------------------------------------------- step, coverage

@pytest.fixture(scope="module")
def built():
    return run(tables())[1]


def test_monthly_rows_carry_file_and_year_annual_rows_span_the_year(built):
    flows = built.resources[step.RESOURCE]
    monthly = flows[flows["source_id"] == "bts_dot1_monthly"]
    assert (monthly["source_file"].str.fullmatch(r"dot1_\d{4}\.csv")).all() and (monthly["year"] == 2023).all()
    # Laredo exports to Mexico: two US states summed into one row a month
    laredo = monthly[(monthly["geography_code"] == "2304") & (monthly["flow"] == "export")]
    assert len(laredo) == 12 and laredo["source_row"].eq("1;2").all()
    assert int(laredo["value_usd"].sum()) == raw_total(MONTHS, DEPE="2304", TRDTYPE="1")
    annual = flows[flows["source_id"] == "bts_dot1_annual"]
    assert (annual["period_end"] == pd.Timestamp(2023, 12, 31)).all()


def test_coverage_complete_year_and_partial_year(built):
    cov = built.resources[trade_coverage.RESOURCE].set_index("source_id")
    assert cov.loc["bts_dot1_monthly", "months_present"] == 12 and cov.loc["bts_dot1_monthly", "complete_year"]
    assert cov.loc["bts_dot1_annual", "period_grain"] == "year" and cov.loc["bts_dot1_annual", "complete_year"]
    assert cov.loc["bts_dot3_monthly", "months"] == "01;02" and not cov.loc["bts_dot3_monthly", "complete_year"]


def test_commodity_rows_and_chapters(built):
    c = built.resources["trade_by_commodity"]
    assert set(c["hs_chapter"]) <= set(built.resources["hs_chapters"]["hs_chapter"])
    jan = c[(c["geography_code"] == "2304") & (c["flow"] == "export") & (c["hs_chapter"] == "84")
            & (c["period_start"] == pd.Timestamp(2023, 1, 1))]
    assert int(jan["value_usd"].sum()) == raw_total(DOT3[:1], DEPE="2304", TRDTYPE="1", COMMODITY2="84")


# --------------------------------------------------------------------------- reconciliation

def results_for(out) -> dict:
    res = reconcile.check(out.resources)
    return {(r.check, r.target): r for r in res}


def test_reconciliation_passes_on_consistent_files(built):
    res = results_for(built)
    assert res[("annual_vs_monthly", "bts_dot1_monthly vs bts_dot1_annual 2023")].ok
    assert res[("dot3_vs_dot1", "bts_dot3_monthly vs bts_dot1_monthly")].ok


def test_reconciliation_fails_on_an_altered_month_naming_port_month_and_figures(tmp_path):
    months = [tmp_path / p.name for p in MONTHS]
    for src, dst in zip(MONTHS, months):
        shutil.copyfile(src, dst)
    feb = months[1]
    feb.write_bytes(feb.read_bytes().replace(b",2010,1000002,", b",2010,1000102,"))  # Laredo truck export, +100
    out = run(tables(months))[1]
    res = results_for(out)
    annual = res[("annual_vs_monthly", "bts_dot1_monthly vs bts_dot1_annual 2023")]
    assert annual.is_error and annual.rows == 1
    assert annual.examples[0]["geography_code"] == "2304"
    assert annual.examples[0]["months_summed"] - annual.examples[0]["annual"] == 100
    d3 = res[("dot3_vs_dot1", "bts_dot3_monthly vs bts_dot1_monthly")]
    assert d3.is_error and "port 2304" in d3.message and "2023-02" in d3.message
    truck = dict(DEPE="2304", TRDTYPE="1", DISAGMOT="5")
    assert (d3.examples[0]["dot3"], d3.examples[0]["dot1"]) == (raw_total(DOT3[1:], **truck),
                                                                raw_total([feb], **truck))
