"""CDP city-wide emissions reader: fixtures reproduce the header and value quirks; the mirror
test reads its expected figures from the raw files themselves."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from etl.sources import cdp_emissions
from etl.sources.base import SourceError
from tests.conftest import requires_mirror

FIXTURES = Path(__file__).parent / "fixtures" / "cdp_city_emissions"
SOURCE = "cdp_city_emissions"


def fixture_table():
    return cdp_emissions.read(sorted(FIXTURES.glob("*.csv")), SOURCE)


def test_headers_with_zero_width_and_nbsp_match_the_mapping():
    assert cdp_emissions.normalise_header("\u200bLand area (in square km)") == "Land area (in square km)"
    assert cdp_emissions.normalise_header("Gases Included\xa0") == "Gases Included"
    table = fixture_table()  # would raise if a normalised header missed the mapping and held figures
    assert set(table.data["gases"].dropna()) == {"CO2; CH4", "CO2"}


def test_every_row_is_in_data_or_exclusions():
    table = fixture_table()
    assert table.rows_read == 4
    kept = table.data.groupby("source_file")["source_row"].nunique().to_dict()
    assert kept == {"2016_-_Citywide_GHG_Emissions.csv": 1, "2021_City-wide_Emissions.csv": 1}
    reasons = dict(zip(table.exclusions["source_file"], table.exclusions["reason"]))
    assert reasons["2016_-_Citywide_GHG_Emissions.csv"] == "no emissions figure reported (inventory: not stated)"
    assert reasons["2021_City-wide_Emissions.csv"] == "no emissions figure reported (inventory: In progress)"


def test_reported_total_and_scopes_kept_as_reported():
    d = fixture_table().data
    y16 = d[d["reporting_year"] == 2016].set_index("scope")["emissions_tco2e"]
    assert y16.to_dict() == {"total": 625391.59, "scope_1": 589055.31, "scope_2": 36336.28}
    y21 = d[d["reporting_year"] == 2021]
    got = {(r.scope, r.scope_variant): r.emissions_tco2e for r in y21.itertuples()}
    assert got == {("scope_1", "excl_grid_generation"): 1000.0, ("scope_2", "grid_generation"): 250.5}
    assert "total" not in set(y21["scope"])  # never recomputed from the scopes
    assert y21["location"].iloc[0] == "POINT (-48.32 -10.25)"
    assert d.loc[d["reporting_year"] == 2016, "organization"].iloc[0] == "Prefeitura de Palmas"


def test_unmapped_column_with_figures_fails_naming_file_and_column():
    path = FIXTURES / "2016_-_Citywide_GHG_Emissions.csv"
    mapping = dict(cdp_emissions.load_mapping()[path.name])
    del mapping["Total Scope 1 Emissions (metric tonnes CO2e)"]
    with pytest.raises(SourceError, match=r"2016_-_Citywide_GHG_Emissions.csv.*Total Scope 1 Emissions"):
        cdp_emissions.read_file(path, SOURCE, mapping)


def test_unmapped_text_column_is_listed_not_fatal():
    path = FIXTURES / "2016_-_Citywide_GHG_Emissions.csv"
    mapping = dict(cdp_emissions.load_mapping()[path.name])
    del mapping["Methodology Details"]
    _, _, unmapped = cdp_emissions.read_file(path, SOURCE, mapping)
    assert unmapped == ["Methodology Details"]


def raw_value(path: Path, account: str, header_start: str) -> float:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    header = [cdp_emissions.normalise_header(h) for h in rows[0]]
    account_col = next(i for i, h in enumerate(header) if h.lower() == "account number")
    col = next(i for i, h in enumerate(header) if h.startswith(header_start))
    return float(next(r[col] for r in rows[1:] if r[account_col] == account))


@requires_mirror
def test_mirror_new_york_figures(mirror):
    files = sorted(mirror.glob("20*Emissions.csv"))
    assert len(files) == 6
    table = cdp_emissions.read(files, SOURCE)
    d = table.data
    nyc = d[d["cdp_account"] == "3417"]
    f16 = mirror / "2016_-_Citywide_GHG_Emissions.csv"
    total16 = nyc[(nyc["reporting_year"] == 2016) & (nyc["scope"] == "total")]["emissions_tco2e"]
    assert total16.tolist() == [raw_value(f16, "3417", "Total City-wide Emissions")] == [49385508.0]
    f21 = mirror / "2021_City-wide_Emissions.csv"
    y21 = nyc[nyc["reporting_year"] == 2021]
    s1 = y21[y21["scope"] == "scope_1"]["emissions_tco2e"].tolist()
    s2 = y21[y21["scope"] == "scope_2"]["emissions_tco2e"].tolist()
    assert s1 == [raw_value(f21, "3417", "Direct emissions (metric tonnes CO2e) for Total emissions")] == [38275608.0]
    assert s2 == [raw_value(f21, "3417", "Indirect emissions from use of grid supplied energy (metric tonnes CO2e) for Total generation")] == [12417317.0]
    la17 = d[(d["cdp_account"] == "10894") & (d["reporting_year"] == 2017) & (d["scope"] == "total")]
    assert la17["emissions_tco2e"].tolist() == [raw_value(mirror / "2017_-_Cities_Community_Wide_Emissions.csv", "10894", "Total emissions")]
    # every raw row is in the data or in exclusions
    lines = sum(len(list(csv.reader(open(f, newline="", encoding="utf-8-sig")))) - 1 for f in files)
    assert table.rows_read == lines == d["source_file"].str.cat(d["source_row"].astype(str)).nunique() + len(table.exclusions)
    key = ["cdp_account", "reporting_year", "source_file", "scope", "scope_variant"]
    assert not d.duplicated(key).any()
    assert (d["emissions_tco2e"] >= 0).all()
