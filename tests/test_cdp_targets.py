"""CDP targets reader: the fixtures reproduce each year's wording and quirks (2016 has no type
question, 2017 a zero-width space in a header and "Other: 2017" years, 2021 is OpenClimate's R
copy with literal NA and three added columns)."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
import pytest

from etl.sources import cdp_targets
from etl.sources.base import SourceError
from etl.sources.cdp_emissions import parse_location, parse_period
from tests.conftest import requires_mirror

FIXTURES = Path(__file__).parent / "fixtures" / "cdp_city_targets"
SOURCE = "cdp_city_targets"
F16, F17, F21 = sorted(p.name for p in FIXTURES.glob("*.csv"))


def table():
    return cdp_targets.read(sorted(FIXTURES.glob("*.csv")), SOURCE)


def test_every_row_is_kept_or_excluded_with_its_reason():
    t = table()
    assert t.rows_read == 9 == len(t.data) + len(t.exclusions)
    reasons = {(f, r): why for f, r, why in zip(t.exclusions["source_file"], t.exclusions["source_row"], t.exclusions["reason"])}
    assert reasons == {
        (F16, 2): "base year not before target year: '2020 >= 2020'",
        (F17, 3): "no reduction %, target year or target-year emissions",
        (F21, 3): "the reporter states it has no target",
        (F21, 4): "no target reported (type of target empty, written NA)",
    }


def test_types_are_normalised_per_year_and_the_raw_wording_kept():
    d = table().data.set_index(["source_file", "source_row"])
    assert d.loc[(F16, 1), "target_type"] == "absolute" and pd.isna(d.loc[(F16, 1), "raw_target_type"])
    assert d.loc[(F17, 1), "target_type"] == "absolute"
    assert d.loc[(F17, 2), "target_type"] == "base_year_intensity"
    assert d.loc[(F17, 2), "intensity_unit"] == "Metric tonnes of CO2e per capita"  # header behind a zero-width space
    assert d.loc[(F21, 2), "target_type"] == "fixed_level"
    assert d.loc[(F21, 1), "raw_target_type"] == "Base year emissions (absolute) target"


def test_values_typed_other_years_and_literal_na():
    d = table().data.set_index(["source_file", "source_row"])
    assert (d.loc[(F17, 2), "base_year"], d.loc[(F17, 2), "target_year"]) == (2010, 2025)  # "Other: 2010"
    assert d.loc[(F16, 1), "base_year_emissions_tco2e"] == 1_200_000  # thousands separators
    la = d.loc[(F21, 1)]
    assert (la["base_year"], la["reduction_pct"], la["target_year"], la["target_year_emissions_tco2e"]) == (1990, 73, 2035, 8977151.97)
    assert pd.isna(d.loc[(F21, 2), "sector"]) and pd.isna(d.loc[(F21, 2), "reduction_pct"])  # "NA" is missing in 2021
    assert (la["latitude"], la["longitude"]) == (34.0522, -118.2437)  # POINT (lon lat)
    assert (d.loc[(F16, 1), "latitude"], d.loc[(F16, 1), "longitude"]) == (56.1567, 10.2108)  # (lat, lon)


def test_openclimate_columns_are_mapped_as_not_cdps():
    mapping = cdp_targets.load_mapping()[F21]
    for added in ("name", "entity_type", "iso"):
        assert mapping[added]["field"] == "ignored" and "OpenClimate" in mapping[added]["reason"]


def _copy_with(tmp_path: Path, name: str, edit) -> Path:
    src = FIXTURES / name
    rows = list(csv.reader(open(src, newline="", encoding="utf-8")))
    edit(rows)
    out = tmp_path / name
    with open(out, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return out


def test_unknown_target_type_fails_naming_file_and_value(tmp_path):
    def edit(rows):
        rows[1][8] = "Net zero pledge"
    path = _copy_with(tmp_path, F17, edit)
    with pytest.raises(SourceError, match=r"2017_.*'Net zero pledge'.*cdp_target_types.csv"):
        cdp_targets.read([path], SOURCE)


def test_unmapped_column_with_figures_fails_naming_it(tmp_path):
    def edit(rows):
        rows[0].append("Target.year.emissions.per.capita")
        for r in rows[1:]:
            r.append("4.5")
    path = _copy_with(tmp_path, F21, edit)
    with pytest.raises(SourceError, match=r"Target.year.emissions.per.capita"):
        cdp_targets.read([path], SOURCE)


def test_a_file_without_mapping_entries_fails(tmp_path):
    shutil.copy(FIXTURES / F21, tmp_path / "2022_Cities_Emissions_Reduction_Targets.csv")
    with pytest.raises(SourceError, match="2022_Cities_Emissions_Reduction_Targets.csv has no entry"):
        cdp_targets.read([tmp_path / "2022_Cities_Emissions_Reduction_Targets.csv"], SOURCE)


def test_location_forms_and_accounting_periods():
    loc = parse_location(pd.Series(["(-10.25, -48.32)", "POINT (-48.32 -10.25)", "", "POINT (200 95)"], dtype="string"))
    assert loc.iloc[0].tolist() == loc.iloc[1].tolist() == [-10.25, -48.32]
    assert loc.iloc[2:].isna().all().all()  # empty, and out of range
    p = parse_period(pd.Series(["2015-07-01 - 2016-06-30", "12/31/2013 12:00:00 AM", "- 2018-12-31", "-"], dtype="string"))
    assert p["accounting_year"].tolist()[:3] == [2016, 2013, 2018] and pd.isna(p["accounting_year"].iloc[3])
    assert str(p["period_start"].iloc[0]) == "2015-07-01" and p["period_start"].iloc[1] is None


@requires_mirror
def test_mirror_targets_accounted_and_los_angeles_2021(mirror):
    files = sorted(mirror.glob("20*Emissions_Reduction_Targets*.csv"))
    assert len(files) == 3
    t = cdp_targets.read(files, SOURCE)
    lines = sum(len(list(csv.reader(open(f, newline="", encoding="utf-8-sig")))) - 1 for f in files)
    assert t.rows_read == lines == len(t.data) + len(t.exclusions)
    la = t.data[(t.data["cdp_account"] == "10894") & (t.data["reporting_year"] == 2021)]
    got = la[(la["target_year"] == 2035)][["target_type", "base_year", "reduction_pct"]].values.tolist()
    assert got == [["absolute", 1990, 73.0]]
    assert t.data["target_type"].notna().all()
    assert ((t.data["base_year"] < t.data["target_year"]) | t.data["base_year"].isna() | t.data["target_year"].isna()).all()
