"""Reader for BTS TransBorder annual trade at Texas border ports with Mexico (``texas_mexico_ports.csv``).

One row per year x port x mode x trade type, 1993-2025. Columns: Year, PortCode, Port, Mode,
TradeType, TradeValue, Weight, FreightCharges, Region, Lat, Lon, WeightLb.

Quirks handled, and why:

* The partner country is implicit (Mexico): ``partner_country_iso3 = "MEX"`` is added.
* Money is written as floats with ".0" ("10389.0"): TradeValue and FreightCharges are
  converted to Int64 exactly from the text (no float round trip); a value with a real
  fraction -> exclusion with the column and value.
* Weights: ``Weight`` is metric TONNES and ``WeightLb`` THOUSANDS of pounds (WeightLb / Weight
  = 2.2046 on every row with both; Laredo's truck imports weigh 1.26e9 kg in dot1 for January
  2015 alone against Weight = 17,485,860 for the year, so Weight cannot be kg). Unlike the money
  columns they carry real 2-decimal fractions on ~1,180 rows ("197170.29"), so they are read as
  float64 (``weight_tonnes``, ``weight_klb``), not Int64: rounding would lose data and excluding
  those rows would be wrong. Both are blank together: for surface-mode exports, and for every row
  of 1993-1994.
* ``Mode`` is kept as written ("Truck", "Foreign Trade Zones (FTZs)",
  "Mail (U.S. Postal Service)", ...). ``TradeType`` Export/Import -> ``flow`` export/import.
* 1993 covers 9 months only (the series starts in April 1993): its annual totals are not
  comparable with later years; later steps flag it. The upstream advises 2007+ for port detail.
* This overlaps ``dot1_0115.csv`` for January 2015 at a different (annual) granularity:
  never add the two together.

Exclusions: a bad Year, PortCode that is not 4 digits, TradeType not Export/Import, a blank or
non-integral TradeValue, a non-integral FreightCharges, a whole number of 19+ digits (beyond
Int64), a non-numeric Weight/WeightLb/Lat/Lon.

Text is Arrow-backed ("string[pyarrow]") and the checks are vectorised: Python runs only per
distinct float text and per excluded row (its reason).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import (SourceTable, digits_to_int64, empty_exclusions, join_reasons, make_exclusions, number_rows,
                   read_csv_text, reason_on, require_columns, text_to_float)

COLUMNS = ["Year", "PortCode", "Port", "Mode", "TradeType", "TradeValue", "Weight", "FreightCharges", "Region",
           "Lat", "Lon", "WeightLb"]
FLOWS = {"Export": "export", "Import": "import"}
TEXT = "string[pyarrow]"
OUTPUT_DTYPES = {
    "source_row": "Int64", "year": "Int64", "port_code": TEXT, "port_name": TEXT, "mode": TEXT,
    "flow": TEXT, "partner_country_iso3": TEXT, "value_usd": "Int64", "weight_tonnes": "float64",
    "freight_charges_usd": "Int64", "region": TEXT, "latitude": "float64", "longitude": "float64",
    "weight_klb": "float64",
}
PARTIAL_YEARS = {1993: "April-December only (9 months)"}
WHOLE = r"\d+(\.0*)?"






def _whole(s: pd.Series) -> pd.Series:
    """Exact Int64 from text like "1018926908.0" (parsed by Arrow); <NA> where blank, not whole or 19+ digits."""
    return digits_to_int64(s.str.replace(r"\.0*$", "", regex=True))




def read(path: Path, source_id: str) -> SourceTable:
    path = Path(path)
    raw = read_csv_text(path, source_id)
    require_columns(raw, COLUMNS, source_id, path.name)

    raw = raw[COLUMNS]
    n = len(number_rows(raw))
    s = {c: raw[c].str.strip() for c in COLUMNS}
    floats = {c: text_to_float(s[c].mask(s[c] == "")) for c in ["Weight", "WeightLb", "Lat", "Lon"]}

    reasons = [
        reason_on(~s["Year"].str.fullmatch(r"\d{4}(\.0*)?"), "Year is not a year: ", s["Year"]),
        reason_on(~s["PortCode"].str.fullmatch(r"\d{4}"), "PortCode is not 4 digits: ", s["PortCode"]),
        reason_on(~s["TradeType"].isin(list(FLOWS)), "TradeType is not Export/Import: ", s["TradeType"]),
        reason_on(s["TradeValue"] == "", "TradeValue is blank"),
        reason_on((s["TradeValue"] != "") & ~s["TradeValue"].str.fullmatch(WHOLE),
                "TradeValue is not a whole number of USD: ", s["TradeValue"]),
        reason_on((s["FreightCharges"] != "") & ~s["FreightCharges"].str.fullmatch(WHOLE),
                "FreightCharges is not a whole number of USD: ", s["FreightCharges"]),
        *[reason_on(s[c].str.fullmatch(r"\d{19,}(\.0*)?"), f"{c} has more than 18 digits: ", s[c])
          for c in ["TradeValue", "FreightCharges"]],
    ]
    for c, v in floats.items():
        reasons.append(reason_on(v.isna() & (s[c] != ""), f"{c} is not a number: ", s[c]))
    reason = join_reasons(reasons)
    bad = raw.index.isin(reason.index)

    out = pd.DataFrame({
        "source_row": raw["source_row"],
        "year": _whole(s["Year"]),
        "port_code": s["PortCode"],
        "port_name": s["Port"].mask(s["Port"] == ""),
        "mode": s["Mode"].mask(s["Mode"] == ""),
        "flow": s["TradeType"].map(FLOWS, na_action="ignore"),
        "partner_country_iso3": "MEX",
        "value_usd": _whole(s["TradeValue"]),
        "weight_tonnes": floats["Weight"],
        "freight_charges_usd": _whole(s["FreightCharges"]),
        "region": s["Region"].mask(s["Region"] == ""),
        "latitude": floats["Lat"],
        "longitude": floats["Lon"],
        "weight_klb": floats["WeightLb"],
    }).astype(OUTPUT_DTYPES)

    exclusions = make_exclusions(source_id, raw[bad], reason) if bad.any() else empty_exclusions()
    data = out[~bad].reset_index(drop=True)
    both = data["weight_tonnes"].notna() & data["weight_klb"].notna() & (data["weight_tonnes"] > 1)
    ratio = (data.loc[both, "weight_klb"] / data.loc[both, "weight_tonnes"])
    notes = {
        "partial_years": {str(y): v for y, v in PARTIAL_YEARS.items() if (data["year"] == y).any()},
        "weight_blank": int(data["weight_tonnes"].isna().sum()),
        "weight_fractional": int((data["weight_tonnes"] % 1 > 0).sum()),
        "weight_klb_per_tonne_median": round(float(ratio.median()), 4) if len(ratio) else None,
        "years": [int(data["year"].min()), int(data["year"].max())] if len(data) else [],
    }
    return SourceTable(source_id=source_id, rows_read=n, data=data, exclusions=exclusions, notes=notes)
