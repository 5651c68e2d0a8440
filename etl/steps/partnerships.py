"""Sister/twin city partnerships from the Wikipedia-scraped twin-city list (``twin_cities``).

The source lists a pair once per country page that mentions it, so the same partnership can
appear twice (once from each side, possibly spelled differently: "Washington D.C." vs
"Washington, D.C.", "London" in "England" vs in "England, United Kingdom"). Pairs are therefore formed on the *resolved* ``city_id`` of each side, never on the
source spelling: one ``partnerships`` row per unordered pair of places, with the number of
source rows behind it and whether both sides' pages list it.

Rows whose sides could not be matched to the gazetteer stay in with their provisional place
ids (``resolved_sides`` says how many sides are GeoNames places). A row whose two sides
resolve to the same place is a self-pair the reader could not see by spelling: it goes to
exclusions.
"""
from __future__ import annotations

import pandas as pd

from etl.build import StepOutput
from etl.sources.base import SourceError, SourceTable, empty_exclusions, make_exclusions

SOURCE_ID = "twin_cities"
RESOURCE = "partnerships"
SIDES = ("1", "2")
SAME_PLACE_REASON = "both sides resolve to the same place"
# The list does not say whether an agreement is a "sister city" or "twin town" one.
KIND = "unknown"

MENTION_DTYPES = {
    "source_id": "string", "source_row": "Int64", "role": "string", "raw_name": "string",
    "name": "string", "country": "string", "admin1": "string", "latitude": "Float64",
    "longitude": "Float64", "population": "Int64", "population_year": "Int64",
    "area_km2": "Float64", "place_type": "string", "code": "string", "code_type": "string",
}
PARTNERSHIP_COLUMNS = ["city_a_id", "city_b_id", "kind", "attestations", "both_sides",
                       "resolved_sides", "source_id", "source_row"]
RAW_COLUMNS = {"city1_raw": "city1", "country1_raw": "country1", "city2_raw": "city2", "country2_raw": "country2"}


def _country_field(data: pd.DataFrame, k: str) -> pd.Series:
    """The country as "Region, Country" when the source put a region in the country field.

    The resolver reads that form: "Réunion, France" or "Åland Islands, Finland" are
    territories GeoNames files under their own country code, which the bare "France" /
    "Finland" (with the region only as admin1) would lose, and then mismatch ("Saint-Denis,
    Réunion" -> Saint-Denis near Paris). The region also goes to ``admin1`` as a hint.
    """
    country, region = data[f"country{k}"], data[f"region{k}"]
    return (region + ", " + country).fillna(country).astype("string")


def mentions(tables: dict[str, SourceTable]) -> pd.DataFrame:
    """Two place mentions per pair row (roles "city1", "city2"); the resolver parses qualifiers."""
    table = tables.get(SOURCE_ID)
    if table is None or table.data.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in MENTION_DTYPES.items()})
    data = table.data
    frames = []
    for k in SIDES:
        n = len(data)
        frames.append(pd.DataFrame({
            "source_id": table.source_id,
            "source_row": data["source_row"].to_numpy(),
            "role": f"city{k}",
            "raw_name": data[f"city{k}_raw"].to_numpy(),
            "name": data[f"city{k}"].to_numpy(),
            "country": _country_field(data, k).to_numpy(),
            "admin1": data[f"region{k}"].to_numpy(),
            "latitude": pd.NA, "longitude": pd.NA, "population": pd.NA, "population_year": pd.NA,
            "area_km2": pd.NA, "place_type": "city", "code": pd.NA, "code_type": pd.NA,
        }, index=pd.RangeIndex(n)))
    out = pd.concat(frames, ignore_index=True).astype(MENTION_DTYPES)
    return out.sort_values(["source_row", "role"], ignore_index=True)


def empty_partnerships() -> pd.DataFrame:
    return pd.DataFrame({
        "city_a_id": pd.Series(dtype="string"), "city_b_id": pd.Series(dtype="string"),
        "kind": pd.Series(dtype="string"), "attestations": pd.Series(dtype="Int64"),
        "both_sides": pd.Series(dtype="bool"), "resolved_sides": pd.Series(dtype="Int64"),
        "source_id": pd.Series(dtype="string"), "source_row": pd.Series(dtype="string"),
    })


def _side_ids(table: SourceTable, resolved: pd.DataFrame) -> pd.DataFrame:
    """source_row, id1, id2: the resolved city_id of each side of every pair row."""
    ours = resolved[resolved["source_id"] == table.source_id]
    out = table.data[["source_row"]].copy()
    for k in SIDES:
        side = ours.loc[ours["role"] == f"city{k}", ["source_row", "city_id"]]
        if side["source_row"].duplicated().any():
            row = int(side.loc[side["source_row"].duplicated(), "source_row"].iloc[0])
            raise SourceError(table.source_id, f"resolved places list role city{k} twice", row)
        out = out.merge(side.rename(columns={"city_id": f"id{k}"}), on="source_row", how="left",
                        validate="one_to_one")
        missing = out[f"id{k}"].isna()
        if missing.any():
            raise SourceError(table.source_id, f"no resolved city_id for role city{k}",
                              int(out.loc[missing, "source_row"].iloc[0]))
        out[f"id{k}"] = out[f"id{k}"].astype("string")
    return out


def _joined_rows(listed: pd.DataFrame) -> pd.Series:
    """';'-joined source rows per pair of ``listed`` (sorted by pair, then row), in pair order."""
    rows = listed["source_row"].astype(str)
    group = listed.groupby(["city_a_id", "city_b_id"], sort=True).ngroup()
    repeated = group.duplicated(keep=False)
    # Almost every pair has one row; only the few repeated ones need a join.
    joined = rows[~repeated].set_axis(group[~repeated].to_numpy())
    if repeated.any():
        joined = pd.concat([joined, rows[repeated].groupby(group[repeated].to_numpy()).agg(";".join)])
    return joined.sort_index().reset_index(drop=True)


def build(tables: dict[str, SourceTable], resolved: pd.DataFrame) -> StepOutput:
    """One row per unordered pair of resolved places; same-place rows -> exclusions."""
    table = tables.get(SOURCE_ID)
    if table is None:
        return StepOutput(resources={RESOURCE: empty_partnerships()}, report={"skipped": True})

    rows = _side_ids(table, resolved)
    same_place = (rows["id1"] == rows["id2"]).to_numpy()
    raw = table.data.loc[same_place, ["source_row", *RAW_COLUMNS]].rename(columns=RAW_COLUMNS)
    exclusions = make_exclusions(table.source_id, raw, SAME_PLACE_REASON) if same_place.any() else empty_exclusions()

    pairs = rows[~same_place]
    first_is_a = (pairs["id1"] < pairs["id2"]).to_numpy(dtype=bool)
    listed = pd.DataFrame({
        "city_a_id": pairs["id1"].where(first_is_a, pairs["id2"]),
        "city_b_id": pairs["id2"].where(first_is_a, pairs["id1"]),
        "source_row": pairs["source_row"].astype("int64"),
        # city1 is the side whose country page lists the row.
        "from_a": first_is_a, "from_b": ~first_is_a,
    }).sort_values(["city_a_id", "city_b_id", "source_row"], kind="stable", ignore_index=True)
    out = (listed.groupby(["city_a_id", "city_b_id"], sort=True)
           .agg(attestations=("source_row", "size"), from_a=("from_a", "any"), from_b=("from_b", "any"))
           .reset_index())
    out["source_row"] = _joined_rows(listed)
    if out.empty:
        partnerships = empty_partnerships()
    else:
        partnerships = pd.DataFrame({
            "city_a_id": out["city_a_id"].astype("string"),
            "city_b_id": out["city_b_id"].astype("string"),
            "kind": pd.Series(KIND, index=out.index, dtype="string"),
            "attestations": out["attestations"].astype("Int64"),
            "both_sides": (out["from_a"] & out["from_b"]).astype(bool),
            "resolved_sides": (out["city_a_id"].str.startswith("gn").astype(int)
                               + out["city_b_id"].str.startswith("gn").astype(int)).astype("Int64"),
            "source_id": pd.Series(table.source_id, index=out.index, dtype="string"),
            "source_row": out["source_row"].astype("string"),
        })[PARTNERSHIP_COLUMNS]

    all_exclusions = pd.concat([table.exclusions, exclusions], ignore_index=True)
    report = {
        "rows_read": int(table.rows_read),
        "rows_in_partnerships": int(partnerships["attestations"].sum()),
        "pairs": int(len(partnerships)),
        "pairs_listed_from_both_sides": int(partnerships["both_sides"].sum()),
        "pairs_listed_more_than_once": int((partnerships["attestations"] > 1).sum()),
        "pairs_with_an_unresolved_side": int((partnerships["resolved_sides"] < 2).sum()),
        "pairs_with_no_resolved_side": int((partnerships["resolved_sides"] == 0).sum()),
        "exclusions_by_reason": {str(k): int(v) for k, v in
                                 all_exclusions.groupby("reason").size().sort_index().items()},
    }
    return StepOutput(resources={RESOURCE: partnerships}, exclusions=exclusions, report=report)


def degree_tables(partnerships: pd.DataFrame, cities: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(partnerships per city, partnerships per unordered country pair), most connected first.

    Works on the published frames (``pd.read_parquet`` of partnerships and cities). A pair of
    cities in the same country counts once for that country with itself (e.g. DEU-DEU).
    """
    pairs = partnerships[["city_a_id", "city_b_id", "both_sides"]].astype(
        {"city_a_id": "string", "city_b_id": "string", "both_sides": bool})
    places = cities[["city_id", "name", "country_iso3"]].astype("string")

    ends = pd.concat([pairs.rename(columns={"city_a_id": "city_id"})[["city_id", "both_sides"]],
                      pairs.rename(columns={"city_b_id": "city_id"})[["city_id", "both_sides"]]],
                     ignore_index=True)
    per_city = (ends.groupby("city_id", sort=True)
                .agg(partnerships=("city_id", "size"), listed_from_both_sides=("both_sides", "sum"))
                .reset_index()
                .merge(places, on="city_id", how="left", validate="one_to_one"))
    per_city = per_city[["city_id", "name", "country_iso3", "partnerships", "listed_from_both_sides"]]
    per_city = per_city.sort_values(["partnerships", "city_id"], ascending=[False, True], ignore_index=True)

    country = places.set_index("city_id")["country_iso3"]
    ca = pairs["city_a_id"].map(country).astype("string")
    cb = pairs["city_b_id"].map(country).astype("string")
    # Order the two countries alphabetically (missing last) so USA-MEX and MEX-USA are one row.
    swap = (ca > cb).fillna(ca.isna() & cb.notna())
    by_country = pd.DataFrame({"country_a_iso3": ca.mask(swap, cb), "country_b_iso3": cb.mask(swap, ca)})
    per_country_pair = (by_country.groupby(["country_a_iso3", "country_b_iso3"], dropna=False, sort=True)
                        .size().rename("partnerships").reset_index()
                        .sort_values(["partnerships", "country_a_iso3", "country_b_iso3"],
                                     ascending=[False, True, True], ignore_index=True))
    per_country_pair["partnerships"] = per_country_pair["partnerships"].astype("Int64")
    per_city["partnerships"] = per_city["partnerships"].astype("Int64")
    per_city["listed_from_both_sides"] = per_city["listed_from_both_sides"].astype("Int64")
    return per_city, per_country_pair
