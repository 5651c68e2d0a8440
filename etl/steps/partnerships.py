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
WIKIDATA_ID = "wikidata_twins_2017"
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
PARTNERSHIP_DTYPES = {
    "city_a_id": "string", "city_b_id": "string", "kind": "string", "attestations": "Int64",
    "both_sides": "bool", "resolved_sides": "Int64", "source_id": "string", "source_row": "string",
    "attested_by": "string", "n_sources": "Int64", "attestation_rows": "string",
}
PARTNERSHIP_COLUMNS = list(PARTNERSHIP_DTYPES)
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
    """The place mentions of both sources: the Wikipedia list's, then Wikidata's (with coordinates).
    A list pair that Wikidata states too takes Wikidata's points for its sides (``wikidata_points``)."""
    frames = [wikidata_points(_twin_mentions(tables), tables), _wikidata_mentions(tables)]
    frames = [f for f in frames if len(f)] or frames[:1]
    if len(frames) == 1:
        return frames[0]
    cats = [c for c, t in MENTION_DTYPES.items() if t == "category"]
    out = pd.concat([f.astype({c: object for c in cats}) for f in frames], ignore_index=True)
    return out.astype({c: "category" for c in cats})


def wikidata_rows(data: pd.DataFrame) -> pd.DataFrame:
    """The Wikidata rows in (source_file, source_row) order with ``seq``: 1..n over the set, the
    row number their place mentions carry (a mention is keyed by one row number, and the
    per-file numbers repeat across the 25 files)."""
    data = data.sort_values(["source_file", "source_row"], kind="stable", ignore_index=True)
    return data.assign(seq=np.arange(1, len(data) + 1, dtype=np.int64))


def _wikidata_mentions(tables: dict[str, SourceTable]) -> pd.DataFrame:
    """Two mentions per Wikidata row (roles "origin", "partner"), with the row's coordinates and
    population: the resolver uses them, and the distance rule (etl.places.distance) checks the match."""
    table = tables.get(WIKIDATA_ID)
    if table is None or table.data.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in MENTION_DTYPES.items()})
    data = wikidata_rows(table.data)
    n = len(data)
    inter = lambda a, b: np.column_stack([np.asarray(a, dtype=object), np.asarray(b, dtype=object)]).ravel()
    num = lambda a, b: np.column_stack([a.to_numpy(dtype=float, na_value=np.nan),
                                        b.to_numpy(dtype=float, na_value=np.nan)]).ravel()
    col = lambda c: inter(data[f"origin_{c}"].astype(object).where(data[f"origin_{c}"].notna(), None),
                          data[f"partner_{c}"].astype(object).where(data[f"partner_{c}"].notna(), None))
    frame = pd.DataFrame({
        "source_id": pd.Categorical([table.source_id] * (2 * n)),
        "source_row": pd.array(np.repeat(data["seq"].to_numpy(), 2), dtype="Int64"),
        "role": pd.Categorical(np.tile(np.array(["origin", "partner"], dtype=object), n)),
        "raw_name": pd.Categorical(col("label")), "name": pd.Categorical(col("name")),
        "country": pd.Categorical(col("iso3")), "admin1": pd.Categorical(col("admin")),
        "latitude": pd.array(num(data["origin_lat"], data["partner_lat"]), dtype="Float64"),
        "longitude": pd.array(num(data["origin_lon"], data["partner_lon"]), dtype="Float64"),
        "population": pd.array(num(data["origin_population"], data["partner_population"]), dtype="Float64").round().astype("Int64"),
        "population_year": _missing("Int64", 2 * n), "area_km2": _missing("Float64", 2 * n),
        "place_type": pd.Categorical(["city"] * (2 * n)),
        "code": pd.Categorical([None] * (2 * n)), "code_type": pd.Categorical([None] * (2 * n)),
    })
    return frame[list(MENTION_DTYPES)]


def _twin_mentions(tables: dict[str, SourceTable]) -> pd.DataFrame:
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


def wikidata_points(twin: pd.DataFrame, tables: dict[str, SourceTable]) -> pd.DataFrame:
    """The list names places without coordinates, so "Columbus, United States" (twinned with
    Dresden) is one of a dozen namesakes. When Wikidata states the same pair -- both sides'
    names and countries equal once normalised, either way round -- its items' points are those
    places' points: the resolver then reads "Columbus" with the coordinates of Columbus, Ohio.
    A pair Wikidata states with different points (namesakes twinned with one city) lends none."""
    wd = tables.get(WIKIDATA_ID)
    if wd is None or wd.data.empty or twin.empty:
        return twin
    from etl.places.countries import resolve_country_field
    from etl.places.gazetteer import normalise_many
    d = wd.data
    norm = lambda v: normalise_many(pd.Series(v, dtype=object).astype(object).to_numpy(dtype=object))
    a, b = norm(d["origin_name"]), norm(d["partner_name"])
    ai, bi = d["origin_iso3"].astype(object).to_numpy(), d["partner_iso3"].astype(object).to_numpy()
    alat, alon, blat, blon = (d[c].to_numpy(dtype=float, na_value=np.nan)
                              for c in ("origin_lat", "origin_lon", "partner_lat", "partner_lon"))
    # each stated pair both ways round: (name, country) of one side, of the other, and their points
    pairs = pd.DataFrame({"n1": np.r_[a, b], "c1": np.r_[ai, bi], "n2": np.r_[b, a], "c2": np.r_[bi, ai],
                          "lat1": np.r_[alat, blat], "lon1": np.r_[alon, blon],
                          "lat2": np.r_[blat, alat], "lon2": np.r_[blon, alon]}).dropna()
    pairs = pairs.round({"lat1": 2, "lon1": 2, "lat2": 2, "lon2": 2}).drop_duplicates()
    key = ["n1", "c1", "n2", "c2"]
    pairs = pairs[~pairs.duplicated(key, keep=False)]  # one pair, two different points: lend none
    countries = twin["country"].astype(object)
    iso3 = countries.map(resolve_country_field(countries.dropna().unique())["iso3"]).to_numpy(dtype=object)
    names = norm(twin["name"].astype(object))
    rows = pd.DataFrame({"n1": names[0::2], "c1": iso3[0::2], "n2": names[1::2], "c2": iso3[1::2]})
    hit = rows.merge(pairs, on=key, how="left", validate="many_to_one")
    lat = np.column_stack([hit["lat1"].to_numpy(dtype=float), hit["lat2"].to_numpy(dtype=float)]).ravel()
    lon = np.column_stack([hit["lon1"].to_numpy(dtype=float), hit["lon2"].to_numpy(dtype=float)]).ravel()
    return twin.assign(latitude=pd.array(lat, dtype="Float64").fillna(twin["latitude"]),
                       longitude=pd.array(lon, dtype="Float64").fillna(twin["longitude"]))


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
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in PARTNERSHIP_DTYPES.items()})


def _row_city_ids(source_id: str, rows: np.ndarray, roles: tuple[str, str],
                  resolved: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per pair row (``rows``: the mentions' source_row), the resolved city_id of each side."""
    ours = resolved.loc[resolved["source_id"] == source_id, ["source_row", "role", "city_id"]]
    sides = []
    for role in roles:
        side = ours[(ours["role"] == role).to_numpy(dtype=bool)]
        if side["source_row"].duplicated().any():
            row = int(side["source_row"][side["source_row"].duplicated()].iloc[0])
            raise SourceError(source_id, f"resolved places list role {role} twice", row)
        at = pd.Index(side["source_row"].astype("int64")).get_indexer(rows)  # -1: no such mention
        ids = np.append(side["city_id"].astype(object).to_numpy(dtype=object), None)[at]
        missing = (at < 0) | pd.isna(ids)
        if missing.any():
            raise SourceError(source_id, f"no resolved city_id for role {role}", int(rows[missing][0]))
        sides.append(ids.astype(object))
    return sides[0], sides[1]


def _joined(values: np.ndarray, starts: np.ndarray) -> pd.arrays.StringArray:
    """``values`` (text) ';'-joined per run beginning at ``starts`` (by Arrow: no Python str per row)."""
    lists = pa.LargeListArray.from_arrays(pa.array(np.r_[starts, len(values)], pa.int64()),
                                          pa.array(values, pa.string()))
    return pd.array(pc.binary_join(lists, ";").to_numpy(zero_copy_only=False), dtype="string")


def _joined_rows(rows: np.ndarray, starts: np.ndarray) -> pd.arrays.StringArray:
    return _joined(rows.astype(str).astype(object), starts)


def _attesting_rows(tables: dict[str, SourceTable], resolved: pd.DataFrame):
    """Every usable pair row of both sources, as parallel arrays, and the same-place exclusions.

    Per row: source (0 twin_cities, 1 Wikidata), its order in its source, the city_id of the side
    that lists it (twin_cities' city1, Wikidata's origin) and of the other side, its row label
    ("12" in twin_cities, "france.tsv:40" in Wikidata) and a readable description."""
    parts, exclusions, read = [], [], {}
    twin = tables.get(SOURCE_ID)
    if twin is not None:
        d = twin.data
        rows = d["source_row"].to_numpy(dtype="int64")
        id1, id2 = _row_city_ids(SOURCE_ID, rows, ("city1", "city2"), resolved)
        label = rows.astype(str).astype(object)
        desc = (d["city1_raw"].astype(str) + " (" + d["country1_raw"].astype(str) + ") – "
                + d["city2_raw"].astype(str) + " (" + d["country2_raw"].astype(str) + ")").to_numpy(dtype=object)
        same = id1 == id2
        raw = d.loc[same, ["source_row", *RAW_COLUMNS]].rename(columns=RAW_COLUMNS)
        exclusions += [twin.exclusions, make_exclusions(SOURCE_ID, raw, SAME_PLACE_REASON) if same.any()
                       else empty_exclusions()]
        parts.append((0, rows, id1, id2, label, desc, same))
        read[SOURCE_ID] = twin
    wiki = tables.get(WIKIDATA_ID)
    if wiki is not None:
        d = wikidata_rows(wiki.data)
        seq = d["seq"].to_numpy(dtype="int64")
        id1, id2 = _row_city_ids(WIKIDATA_ID, seq, ("origin", "partner"), resolved)
        label = (d["source_file"].astype(str) + ":" + d["source_row"].astype(str)).to_numpy(dtype=object)
        desc = (d["origin_label"].astype(str) + " (" + d["origin_iso3"].astype(str) + ") – "
                + d["partner_label"].astype(str) + " (" + d["partner_iso3"].astype(str) + ")").to_numpy(dtype=object)
        same = id1 == id2
        raw = d.loc[same, ["source_file", "source_row", "origin_label", "origin_country",
                           "partner_label", "partner_country"]]
        exclusions += [wiki.exclusions, make_exclusions(WIKIDATA_ID, raw, SAME_PLACE_REASON) if same.any()
                       else empty_exclusions()]
        parts.append((1, seq, id1, id2, label, desc, same))
        read[WIKIDATA_ID] = wiki
    return parts, exclusions, read


def build(tables: dict[str, SourceTable], resolved: pd.DataFrame) -> StepOutput:
    """One row per unordered pair of places, over both sources; same-place rows -> exclusions.

    Rows of the two sources merge into one pair exactly when both their sides resolved to the
    same city_ids (GeoNames ids, or the same provisional id): pairs are keyed on city_ids only."""
    parts, exclusion_parts, read = _attesting_rows(tables, resolved)
    if not parts:
        return StepOutput(resources={RESOURCE: empty_partnerships()}, report={"skipped": True})
    keep = [~p[6] for p in parts]
    src = np.concatenate([np.full(int(k.sum()), p[0], dtype=np.int8) for p, k in zip(parts, keep)])
    order_in_src = np.concatenate([p[1][k] for p, k in zip(parts, keep)])
    id1 = np.concatenate([p[2][k] for p, k in zip(parts, keep)])
    id2 = np.concatenate([p[3][k] for p, k in zip(parts, keep)])
    label = np.concatenate([p[4][k] for p, k in zip(parts, keep)])
    desc = np.concatenate([p[5][k] for p, k in zip(parts, keep)])
    codes, city_ids = pd.factorize(np.concatenate([id1, id2]), sort=True)
    city_ids = np.asarray(city_ids, dtype=object)
    c1, c2 = codes[:len(id1)], codes[len(id1):]
    a, b, first_is_a = np.minimum(c1, c2), np.maximum(c1, c2), c1 < c2
    order = np.lexsort((order_in_src, src, b, a))
    a, b, first_is_a, src, label, desc = (x[order] for x in (a, b, first_is_a, src, label, desc))
    starts = np.flatnonzero(np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])]) if len(a) else np.array([], int)
    exclusions = pd.concat(exclusion_parts[1::2], ignore_index=True)
    all_exclusions = pd.concat(exclusion_parts, ignore_index=True)
    if not len(starts):
        partnerships = empty_partnerships()
        agreement = {}
    else:
        group = np.cumsum(np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])]) - 1
        has = [np.logical_or.reduceat(src == k, starts) for k in (0, 1)]
        primary = np.where(has[0], 0, 1).astype(np.int8)  # the first source id in sorted order
        names = np.array([SOURCE_ID, WIKIDATA_ID], dtype=object)
        attested_by = np.where(has[0] & has[1], f"{SOURCE_ID};{WIKIDATA_ID}", names[primary])
        mine = src == primary[group]  # the rows of the pair's source_id, still grouped and in order
        mine_starts = np.flatnonzero(np.r_[True, group[mine][1:] != group[mine][:-1]])
        a_s, b_s = a[starts], b[starts]
        gn = pd.Series(city_ids, dtype="string").str.startswith("gn").to_numpy(dtype=int)
        partnerships = pd.DataFrame({
            "city_a_id": pd.array(city_ids[a_s], dtype="string"),
            "city_b_id": pd.array(city_ids[b_s], dtype="string"),
            "kind": pd.array([KIND] * len(starts), dtype="string"),
            "attestations": pd.array(np.diff(np.r_[starts, len(a)]), dtype="Int64"),
            "both_sides": np.logical_or.reduceat(first_is_a, starts) & np.logical_or.reduceat(~first_is_a, starts),
            "resolved_sides": pd.array(gn[a_s] + gn[b_s], dtype="Int64"),
            "source_id": pd.array(names[primary], dtype="string"),
            "source_row": _joined(label[mine], mine_starts),
            "attested_by": pd.array(attested_by, dtype="string"),
            "n_sources": pd.array(has[0].astype(int) + has[1].astype(int), dtype="Int64"),
            "attestation_rows": _joined((names[src] + ":" + label).astype(object), starts),
        })[PARTNERSHIP_COLUMNS]
        agreement = agreement_report(partnerships, city_ids, a, b, src, first_is_a, desc, starts, group, c1, c2)

    in_pairs = {sid: int((src == k).sum()) for k, sid in enumerate([SOURCE_ID, WIKIDATA_ID]) if sid in read}
    by_source = {sid: {"rows_read": int(t.rows_read), "rows_in_partnerships": in_pairs[sid],
                       "exclusions_by_reason": {str(k): int(v) for k, v in all_exclusions[
                           all_exclusions["source_id"] == sid].groupby("reason").size().sort_index().items()}}
                 for sid, t in read.items()}
    report = {
        "rows_read": sum(v["rows_read"] for v in by_source.values()),
        "rows_in_partnerships": sum(in_pairs.values()),
        "by_source": by_source,
        "pairs": int(len(partnerships)),
        "pairs_by_attested_by": {str(k): int(v) for k, v in
                                 partnerships["attested_by"].value_counts().sort_index().items()},
        "pairs_listed_from_both_sides": int(partnerships["both_sides"].sum()),
        "pairs_listed_more_than_once": int((partnerships["attestations"] > 1).sum()),
        "pairs_with_an_unresolved_side": int((partnerships["resolved_sides"] < 2).sum()),
        "pairs_with_no_resolved_side": int((partnerships["resolved_sides"] == 0).sum()),
        "exclusions_by_reason": {str(k): int(v) for k, v in
                                 all_exclusions.groupby("reason").size().sort_index().items()},
        "agreement": agreement,
    }
    return StepOutput(resources={RESOURCE: partnerships}, exclusions=exclusions, report=report)


EXAMPLES = 5


def agreement_report(partnerships, city_ids, a, b, src, first_is_a, desc, starts, group, c1, c2) -> dict:
    """For EU-origin cities (the places Wikidata lists as an origin: the cities of its 25 EU
    countries that had a P190 statement in 2017), how far the two sources agree.

    * ``wikidata_pairs_in_wikipedia_pct``: of the pairs Wikidata attests, the share the Wikipedia
      lists attest too;
    * ``wikipedia_pairs_in_wikidata_pct``: of the Wikipedia pairs with a side among those
      origins, the share Wikidata attests too.
    Both also over the pairs whose two sides resolved to GeoNames (``*_resolved_pct``): a
    provisional id on one side is often a spelling the other source writes differently, not a
    disagreement about the partnership. Examples: the first pairs (by city ids) of each kind,
    described by their first source row."""
    n_pairs = len(starts)
    has_w = np.logical_or.reduceat(src == 1, starts)
    has_p = np.logical_or.reduceat(src == 0, starts)
    # origins: the listing side of Wikidata rows (c1 is the listing side, in the rows' input order)
    wiki_rows = np.flatnonzero(src == 1)
    origins = np.zeros(len(city_ids), dtype=bool)
    listing = np.where(first_is_a, a, b)
    origins[listing[wiki_rows]] = True
    a_s, b_s = a[starts], b[starts]
    eu = origins[a_s] | origins[b_s]
    both_resolved = (partnerships["resolved_sides"] == 2).to_numpy(dtype=bool)
    pct = lambda num, den: round(100.0 * int(num.sum()) / int(den.sum()), 2) if den.sum() else None
    first_desc = desc[starts]
    examples = lambda mask: [f"{partnerships['city_a_id'].iat[i]} – {partnerships['city_b_id'].iat[i]}: {first_desc[i]}"
                             for i in np.flatnonzero(mask)[:EXAMPLES]]
    w, p = has_w, has_p & eu
    return {
        "eu_origin_cities": int(origins.sum()),
        "wikidata_pairs": int(w.sum()),
        "wikipedia_pairs_with_an_eu_origin_side": int(p.sum()),
        "pairs_in_both": int((w & p).sum()),
        "wikidata_pairs_in_wikipedia_pct": pct(w & p, w),
        "wikipedia_pairs_in_wikidata_pct": pct(w & p, p),
        "wikidata_pairs_in_wikipedia_resolved_pct": pct(w & p & both_resolved, w & both_resolved),
        "wikipedia_pairs_in_wikidata_resolved_pct": pct(w & p & both_resolved, p & both_resolved),
        "examples_only_in_wikidata": examples(w & ~p & both_resolved),
        "examples_only_in_wikipedia": examples(p & ~w & both_resolved),
    }


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
