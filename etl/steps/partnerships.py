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

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.steps.base import StepOutput
from etl.sources.base import SourceError, SourceTable, empty_exclusions, make_exclusions

SOURCE_ID = "twin_cities"
RESOURCE = "partnerships"
SIDES = ("1", "2")
SAME_PLACE_REASON = "both sides resolve to the same place"
# The list does not say whether an agreement is a "sister city" or "twin town" one.
KIND = "unknown"

# Text columns are categoricals: places recur in many rows, and a str per row and column was
# most of the mentions' memory at scale.
MENTION_DTYPES = {
    "source_id": "category", "source_row": "Int64", "role": "category", "raw_name": "category",
    "name": "category", "country": "category", "admin1": "category", "latitude": "Float64",
    "longitude": "Float64", "population": "Int64", "population_year": "Int64",
    "area_km2": "Float64", "place_type": "category", "code": "category", "code_type": "category",
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
    """Two place mentions per pair row (roles "city1", "city2"); the resolver parses qualifiers.

    By source_row, then role. The text fields are worked out once per distinct side (its raw name,
    name, region, country) and are categoricals: places recur in many rows.
    """
    table = tables.get(SOURCE_ID)
    if table is None or table.data.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in MENTION_DTYPES.items()})
    data = table.data
    if not data["source_row"].is_monotonic_increasing:
        data = data.sort_values("source_row", kind="stable")
    n = len(data)
    places, fields = [], []  # per side: each row's place number, and the places' fields
    for k in SIDES:
        describe = [f"city{k}_raw", f"city{k}", f"region{k}", f"country{k}"]
        place = data.groupby(describe, sort=False, dropna=False, observed=True).ngroup().to_numpy()
        d = data.iloc[np.unique(place, return_index=True)[1]]  # place p is row p of d
        places.append(place + sum(len(f) for f in fields))  # numbered after the other side's places
        fields.append(pd.DataFrame({"raw_name": d[f"city{k}_raw"].array, "name": d[f"city{k}"].array,
                                    "country": _country_field(d, k).array, "admin1": d[f"region{k}"].array}))
    place = np.column_stack(places).ravel()  # row 1 city1, row 1 city2, row 2 city1, ...
    fields = pd.concat(fields, ignore_index=True)
    columns = {
        "source_id": _categorical([table.source_id], np.zeros(2 * n, dtype=np.int8)),
        "source_row": pd.array(np.repeat(data["source_row"].to_numpy(dtype="int64"), 2), dtype="Int64"),
        "role": _categorical([f"city{k}" for k in SIDES], np.tile(np.arange(len(SIDES), dtype=np.int8), n)),
        **{c: _categorical(fields[c], place) for c in fields.columns},
        "place_type": _categorical(["city"], np.zeros(2 * n, dtype=np.int8)),
        "code": _categorical([], np.full(2 * n, -1, dtype=np.int8)),
        "code_type": _categorical([], np.full(2 * n, -1, dtype=np.int8)),
    }
    return pd.DataFrame({c: columns[c] if c in columns else _missing(t, 2 * n) for c, t in MENTION_DTYPES.items()},
                        copy=False)


def _missing(dtype: str, n: int) -> pd.api.extensions.ExtensionArray:
    """An all-missing Int64 or Float64 column, made directly (pd.array of NaNs takes seconds)."""
    mask = np.ones(n, dtype=bool)
    return (pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), mask) if dtype == "Int64"
            else pd.arrays.FloatingArray(np.zeros(n), mask))


def _categorical(values, codes: np.ndarray) -> pd.Categorical:
    """``values`` taken by ``codes`` (-1: missing), as a categorical: a small code per row, where
    a column of text costs a pointer and often a str object per row."""
    value_codes, categories = pd.factorize(np.asarray(values, dtype=object))
    return pd.Categorical.from_codes(np.append(value_codes, -1)[codes],  # -1 takes the appended -1
                                     categories=pd.Index(categories, dtype=object))


def empty_partnerships() -> pd.DataFrame:
    return pd.DataFrame({
        "city_a_id": pd.Series(dtype="string"), "city_b_id": pd.Series(dtype="string"),
        "kind": pd.Series(dtype="string"), "attestations": pd.Series(dtype="Int64"),
        "both_sides": pd.Series(dtype="bool"), "resolved_sides": pd.Series(dtype="Int64"),
        "source_id": pd.Series(dtype="string"), "source_row": pd.Series(dtype="string"),
    })


def _side_ids(table: SourceTable, resolved: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair row, a code for the resolved city_id of each side, and the city_ids by code.

    Codes follow the city_ids' order, so sides compare as their ids do.
    """
    ours = resolved.loc[resolved["source_id"] == table.source_id, ["source_row", "role", "city_id"]]
    codes, ids = pd.factorize(ours["city_id"])
    ids = np.asarray(ids, dtype=object)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[np.argsort(ids)] = np.arange(len(ids))
    codes = np.append(rank, -1)[codes]  # -1 (no city_id) stays -1
    rows = table.data["source_row"].to_numpy(dtype="int64")
    sides = []
    for k in SIDES:
        side = (ours["role"] == f"city{k}").to_numpy(dtype=bool)
        side_rows = ours["source_row"][side]
        if side_rows.duplicated().any():
            row = int(side_rows[side_rows.duplicated()].iloc[0])
            raise SourceError(table.source_id, f"resolved places list role city{k} twice", row)
        at = pd.Index(side_rows).get_indexer(rows)  # -1: the row has no such mention
        code = np.where(at >= 0, codes[side][at], -1)
        if (code < 0).any():
            raise SourceError(table.source_id, f"no resolved city_id for role city{k}", int(rows[code < 0][0]))
        sides.append(code)
    return sides[0], sides[1], np.sort(ids)


def _joined_rows(rows: np.ndarray, starts: np.ndarray) -> pd.arrays.StringArray:
    """``rows`` ';'-joined per run beginning at ``starts`` (by Arrow: no Python str per row)."""
    lists = pa.LargeListArray.from_arrays(pa.array(np.r_[starts, len(rows)], pa.int64()),
                                          pc.cast(pa.array(rows), pa.string()))
    return pd.array(pc.binary_join(lists, ";").to_numpy(zero_copy_only=False), dtype="string")


def build(tables: dict[str, SourceTable], resolved: pd.DataFrame) -> StepOutput:
    """One row per unordered pair of resolved places; same-place rows -> exclusions."""
    table = tables.get(SOURCE_ID)
    if table is None:
        return StepOutput(resources={RESOURCE: empty_partnerships()}, report={"skipped": True})

    id1, id2, city_ids = _side_ids(table, resolved)
    same_place = id1 == id2
    raw = table.data.loc[same_place, ["source_row", *RAW_COLUMNS]].rename(columns=RAW_COLUMNS)
    exclusions = make_exclusions(table.source_id, raw, SAME_PLACE_REASON) if same_place.any() else empty_exclusions()

    # Each pair (a < b) with its rows in order; city1 is the side whose country page lists the row.
    id1, id2 = id1[~same_place], id2[~same_place]
    rows = table.data["source_row"].to_numpy(dtype="int64")[~same_place]
    a, b, first_is_a = np.minimum(id1, id2), np.maximum(id1, id2), id1 < id2
    order = np.lexsort((rows, b, a))
    a, b, rows, first_is_a = a[order], b[order], rows[order], first_is_a[order]
    starts = np.flatnonzero(np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])]) if len(a) else np.array([], int)
    if not len(starts):
        partnerships = empty_partnerships()
    else:
        from_a = np.logical_or.reduceat(first_is_a, starts)
        from_b = np.logical_or.reduceat(~first_is_a, starts)
        a, b = a[starts], b[starts]
        gn = pd.Series(city_ids, dtype="string").str.startswith("gn").to_numpy(dtype=int)  # a GeoNames place
        partnerships = pd.DataFrame({
            "city_a_id": pd.array(city_ids[a], dtype="string"),
            "city_b_id": pd.array(city_ids[b], dtype="string"),
            "kind": pd.array([KIND] * len(starts), dtype="string"),
            "attestations": pd.array(np.diff(np.r_[starts, len(rows)]), dtype="Int64"),
            "both_sides": from_a & from_b,
            "resolved_sides": pd.array(gn[a] + gn[b], dtype="Int64"),
            "source_id": pd.array([table.source_id] * len(starts), dtype="string"),
            "source_row": _joined_rows(rows, starts),
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
