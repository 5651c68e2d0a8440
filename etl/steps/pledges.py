"""Climate pledges from the ClimActor contextuals database (both vintages), and its initiatives.

Resources: ``pledges`` (one row per place x initiative x membership list x vintage),
``initiatives`` and ``initiative_tokens`` (the committed, reviewed vocabulary in
``etl/vocab/initiatives.csv`` and ``etl/vocab/initiative_tokens.csv``, published as they are).

Why it works the way it does:

* ``initiatives_committed`` packs a place's initiatives into one string. Items are separated by
  ";" or ";;" (any run of ";" is one separator; empty items are no tokens), and a few Swedish
  items join several networks with "," ("Sveriges Ekokommuner,Klimatkommunerna"), so "," separates
  too. Tokens are whitespace-trimmed ("Cool Coalition " = "Cool Coalition").
* One initiative has several spellings ("RacetoZero2020", "Race to Zero"), and most tokens carry
  the year their membership list was taken. Only the reviewed vocabulary says which initiative
  and list a token names: a token it lacks fails the build (SourceError naming token, source and
  row) instead of being guessed; tokens that are no initiative ("NA", URLs) are excluded there
  with a reason.
* A pledge's list is its list year, or "undated". Repeats of a token in a row, spellings of one
  initiative and list in a row, and several source rows of one vintage that resolve to the same
  place each collapse to one pledge; ``raw_token`` and ``source_row`` keep everything merged.
* ``as_of`` is the last day of the month a vintage is named for (Sep 2022 -> 2022-09-30,
  Dec 2022 -> 2022-12-31): upstream names only the month, and its last day is the earliest date
  by which the list is known to have been taken.
* Place attributes (population, area, coordinates) travel on the place MENTIONS, so they end up
  in ``cities``, not repeated on every pledge.
* Every source row is accounted for: it yields >= 1 pledge, or it is excluded (by the reader, or
  here with "no initiative tokens ..."). ``num_commit`` is only checked, never trusted: the
  source counts inconsistently (older rows count ";;"-separated groups), so disagreements are
  report warnings.
"""
from __future__ import annotations

import functools

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import union_categoricals

from etl.steps.base import StepOutput
from etl.paths import VOCAB
from etl.sources.base import SourceError, SourceTable, empty_exclusions, make_exclusions

# Vintage source id -> as_of (last day of the month the vintage is named for).
VINTAGES: dict[str, dt.date] = {
    "climactor_sep2022": dt.date(2022, 9, 30),
    "climactor_dec2022": dt.date(2022, 12, 31),
}
ROLE = "pledger"
UNDATED = "undated"
ITEM_SEPARATOR = ";"  # runs of ";" (";;", ";;;;") give empty items, which are dropped
MULTI_SEPARATOR = ","  # joins several networks inside one Swedish item

NO_TOKENS_MISSING = "no initiative tokens (initiatives_committed missing or empty)"
NO_TOKENS_EXCLUDED = "no initiative tokens (only excluded tokens)"

INITIATIVE_COLUMNS = ["initiative_id", "name", "kind", "description", "organiser", "website"]
TOKEN_COLUMNS = ["raw_token", "initiative_id", "list_year", "excluded_reason", "note"]
PLEDGE_COLUMNS = ["as_of", "city_id", "initiative_id", "list_key", "list_year", "raw_token",
                  "entity_type", "source_id", "source_row"]
# Text columns are categoricals: places recur in many rows, and a str per row and column was
# most of the mentions' memory at scale.
MENTION_DTYPES = {
    "source_id": "category", "source_row": "Int64", "role": "category", "raw_name": "category",
    "name": "category", "country": "category", "admin1": "category", "latitude": "Float64",
    "longitude": "Float64", "population": "Int64", "population_year": "Int64",
    "area_km2": "Float64", "place_type": "category", "code": "category", "code_type": "category",
}
PLACE_KEY = ["name", "iso", "state", "entity_type"]  # what the text fields of a mention are made of
PLACE_COLUMNS = ["source_row", *PLACE_KEY, "lat", "lng", "population", "population_year", "area"]

# A trailing ", XX" on a name is an admin1 code only where XX is one for that country
# ("Los Angeles, CA", "Ajax, ON"); "Camden, UK" and "Camuy, PR" (Puerto Rico itself) are not.
US_CODES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI AS MP".split())
CA_CODES = frozenset("AB BC MB NB NL NS NT NU ON PE QC SK YT".split())
SUFFIX_ADMIN1_CODES = {"USA": US_CODES, "CAN": CA_CODES}
NAME_SUFFIX = re.compile(r",\s*([A-Z]{2})$")
COUNTY_FORM = re.compile(r"\bCounty\b")
INITIATIVE_ID = re.compile(r"[a-z0-9_]+")


class VocabularyError(ValueError):
    """The committed vocabulary files are inconsistent (a review mistake, not a source problem)."""


@dataclass(frozen=True)
class Vocabulary:
    initiatives: pd.DataFrame  # INITIATIVE_COLUMNS, all string
    tokens: pd.DataFrame  # TOKEN_COLUMNS; list_year Int64


@functools.cache  # committed files, read once per process (and one object, so parsing is cached too)
def load_vocabulary(vocab_dir: Path = VOCAB) -> Vocabulary:
    """Read and check the two vocabulary CSVs; any inconsistency raises VocabularyError."""
    ini_path, tok_path = Path(vocab_dir) / "initiatives.csv", Path(vocab_dir) / "initiative_tokens.csv"
    initiatives = _read_vocab_csv(ini_path, INITIATIVE_COLUMNS)
    tokens = _read_vocab_csv(tok_path, TOKEN_COLUMNS)

    def fail(path: Path, frame: pd.DataFrame, bad: pd.Series, problem: str):
        if bad.any():
            line = int(frame.index[bad.to_numpy()][0]) + 2  # 1-based, after the header line
            raise VocabularyError(f"{path.name}, line {line}: {problem}")

    ids = initiatives["initiative_id"]
    fail(ini_path, initiatives, ids.isna() | ~ids.fillna("").str.fullmatch(INITIATIVE_ID.pattern),
         "initiative_id must be [a-z0-9_]+")
    fail(ini_path, initiatives, ids.duplicated(), "duplicate initiative_id")
    fail(ini_path, initiatives, initiatives["name"].isna(), "name is missing")

    tok = tokens["raw_token"]
    fail(tok_path, tokens, tok.isna(), "raw_token is missing")
    fail(tok_path, tokens, tok.duplicated(), "duplicate raw_token")
    fail(tok_path, tokens, tok.str.strip() != tok, "raw_token has surrounding spaces (tokens are trimmed)")
    fail(tok_path, tokens, tok.str.contains(f"[{ITEM_SEPARATOR}{MULTI_SEPARATOR}]", regex=True),
         f"raw_token contains a separator ({ITEM_SEPARATOR!r} or {MULTI_SEPARATOR!r}), so it can never occur")
    mapped, excluded = tokens["initiative_id"].notna(), tokens["excluded_reason"].notna()
    fail(tok_path, tokens, mapped == excluded, "give exactly one of initiative_id and excluded_reason")
    fail(tok_path, tokens, mapped & ~tokens["initiative_id"].isin(ids), "initiative_id not in initiatives.csv")
    year = tokens["list_year"]
    fail(tok_path, tokens, year.notna() & ~year.fillna("").str.fullmatch(r"(19|20)\d\d"), "list_year must be a year")
    fail(tok_path, tokens, year.notna() & excluded, "an excluded token has no list_year")
    tokens["list_year"] = pd.to_numeric(year).astype("Int64")
    return Vocabulary(initiatives=initiatives, tokens=tokens)


def _read_vocab_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8")
    if list(frame.columns) != columns:
        raise VocabularyError(f"{path.name}: columns must be {columns}, not {list(frame.columns)}")
    return frame.replace("", pd.NA).astype("string")


# --- tokens ---------------------------------------------------------------------------------

def parse_values(values: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse each distinct ``initiatives_committed`` string once (the same strings recur thousands of times).

    Returns ``tokens`` (value, item_no, item, raw_token: one row per token occurrence, in order)
    and ``stats`` (value, distinct_items, groups, empty_items, comma_items) per distinct value.
    """
    token_rows, stat_rows = [], []
    for value in values.dropna().unique():
        pieces = [p.strip() for p in value.split(ITEM_SEPARATOR)]
        items = [p for p in pieces if p]
        # ";;" is the usual separator; an empty piece beyond that ("x;;;;y", "x;;") is an empty item.
        empty_items = sum(1 for p in re.split(r";{1,2}", value) if not p.strip())
        groups = sum(1 for p in re.split(r";;+", value) if p.strip())
        stat_rows.append((value, len(set(items)), groups, empty_items, sum(MULTI_SEPARATOR in i for i in items)))
        for item_no, item in enumerate(items):
            token_rows.extend((value, item_no, item, t.strip()) for t in item.split(MULTI_SEPARATOR) if t.strip())
    tokens = pd.DataFrame(token_rows, columns=["value", "item_no", "item", "raw_token"], dtype=object)
    stats = pd.DataFrame(stat_rows, columns=["value", "distinct_items", "groups", "empty_items", "comma_items"])
    return tokens.astype({"item_no": "int64"}), stats


def _unknown_tokens(unknown: pd.DataFrame, rows: pd.DataFrame, source_id: str) -> SourceError:
    """The error for tokens the vocabulary lacks: each with its first source row and occurrences."""
    found = unknown[["value", "raw_token"]].merge(rows[["value", "source_row"]], on="value")  # one per occurrence
    first = found.groupby("raw_token", sort=True)["source_row"].agg(["min", "size"])
    listed = "; ".join(f"{tok!r} (row {int(r['min'])}, {int(r['size'])} occurrence(s))"
                       for tok, r in first.head(10).iterrows())
    more = f" and {len(first) - 10} more" if len(first) > 10 else ""
    return SourceError(source_id, f"initiative token(s) not in etl/vocab/initiative_tokens.csv: {listed}{more}; "
                                  "review them and add them to the vocabulary", row=int(found["source_row"].min()))


# --- one vintage ----------------------------------------------------------------------------

@dataclass
class VintagePledges:
    """A vintage's pledges before places, its exclusions and check figures.

    Kept per distinct ``initiatives_committed`` value, with small per-row codes: the build keeps
    this from mentions() to build(), and rows (and their values) repeat.
    """

    source_id: str
    pledging: np.ndarray  # per data row: has >= 1 pledge
    rows: pd.DataFrame  # the pledging rows: source_row, value (code of their value), entity_type (categorical)
    tokens: pd.DataFrame  # value, raw_token, initiative_id, list_year, list_key: each value's distinct usable tokens
    exclusions: pd.DataFrame
    report: dict = field(default_factory=dict)


# mentions() and build() of one build see the same table and vocabulary objects: parse each
# vintage once. Entries keep their inputs referenced, so an id cannot be reused while cached.
_parsed: dict[tuple[int, int], tuple[SourceTable, Vocabulary, "VintagePledges"]] = {}


def vintage_pledges(table: SourceTable, vocab: Vocabulary) -> VintagePledges:
    """Tokens -> one pledge per source row x initiative x list; rows without one -> exclusions."""
    key = (id(table), id(vocab))
    if key not in _parsed:
        if len(_parsed) >= 4:  # two vintages of the current build, at most two of a previous one
            _parsed.clear()
        _parsed[key] = (table, vocab, _parse_vintage(table, vocab))
    return _parsed[key][2]


def _parse_vintage(table: SourceTable, vocab: Vocabulary) -> VintagePledges:
    data = table.data
    value_of_row, values = pd.factorize(data["initiatives_committed"])  # -1: missing
    tokens, stats = parse_values(pd.Series(values, dtype=object))  # stats: one row per value code
    tokens["value"] = pd.Index(stats["value"]).get_indexer(tokens["value"])
    rows = pd.DataFrame({"source_row": data["source_row"].to_numpy(dtype="int64"), "value": value_of_row})
    tokens = tokens.merge(vocab.tokens[["raw_token", "initiative_id", "list_year", "excluded_reason"]],
                          on="raw_token", how="left", indicator=True, validate="many_to_one")
    if (tokens["_merge"] == "left_only").any():
        raise _unknown_tokens(tokens[tokens["_merge"] == "left_only"], rows, table.source_id)

    # Figures over source rows: a value's figures count once per row that has it.
    per_value = np.bincount(value_of_row[value_of_row >= 0], minlength=len(values))
    tokens["rows"] = per_value[tokens["value"].to_numpy()]
    usable = tokens[tokens["initiative_id"].notna()]
    distinct = usable.drop_duplicates(["value", "raw_token"])
    distinct = distinct.assign(list_key=distinct["list_year"].astype("string").fillna(UNDATED))
    row_pledge_count = int(distinct.drop_duplicates(["value", "initiative_id", "list_key"])["rows"].sum())

    has_pledge = np.isin(value_of_row, distinct["value"].unique())
    excluded_rows = data[~has_pledge]
    no_tokens = ~np.isin(value_of_row[~has_pledge], tokens["value"].unique())
    reason = pd.Series(np.where(no_tokens, NO_TOKENS_MISSING, NO_TOKENS_EXCLUDED), dtype=object)
    exclusions = make_exclusions(table.source_id, excluded_rows, reason) if len(excluded_rows) else empty_exclusions()

    reader_excluded = int(table.exclusions["source_row"].nunique()) if len(table.exclusions) else 0
    rows_with_pledges = int(has_pledge.sum())
    if table.rows_read != reader_excluded + rows_with_pledges + len(excluded_rows):
        raise RuntimeError(f"{table.source_id}: rows do not add up: read {table.rows_read}, reader excluded "
                           f"{reader_excluded}, with pledges {rows_with_pledges}, excluded here {len(excluded_rows)}")

    excluded_tokens = tokens[tokens["excluded_reason"].notna()]
    report = {
        "as_of": VINTAGES[table.source_id].isoformat(),
        "rows_read": table.rows_read,
        "rows_excluded_by_reader": reader_excluded,
        "rows_with_pledges": rows_with_pledges,
        "rows_excluded": _counts(exclusions["reason"]),
        # read == excluded by the reader + with >= 1 pledge + excluded here (checked above)
        "rows_accounted": True,
        "tokens": int(tokens["rows"].sum()),
        "tokens_excluded": _counts(excluded_tokens["excluded_reason"], excluded_tokens["rows"]),
        "empty_items_dropped": int((stats["empty_items"] * per_value).sum()),
        "comma_joined_items_split": int((stats["comma_items"] * per_value).sum()),
        "duplicate_tokens_collapsed": int(usable["rows"].sum() - distinct["rows"].sum()),
        "spellings_merged": int(distinct["rows"].sum()) - row_pledge_count,
        "pledges_in_source_rows": row_pledge_count,
        "num_commit": num_commit_check(data, value_of_row, stats),
    }
    rows = rows[has_pledge].assign(entity_type=pd.Categorical(data["entity_type"].array[has_pledge]))
    return VintagePledges(table.source_id, has_pledge, rows.reset_index(drop=True),
                          distinct[["value", "raw_token", "initiative_id", "list_year", "list_key"]]
                          .reset_index(drop=True), exclusions, report)


def _counts(values: pd.Series, weights: pd.Series | None = None) -> dict[str, int]:
    """Occurrences (or summed weights) per value, sorted by value."""
    counts = values.value_counts() if weights is None else weights.groupby(values.to_numpy()).sum()
    return {str(k): int(v) for k, v in sorted(counts.items()) if v}


def num_commit_check(data: pd.DataFrame, value_of_row: np.ndarray, stats: pd.DataFrame) -> dict:
    """Compare the source's num_commit with its own distinct ';'-items (warnings, not failures)."""
    has_value = value_of_row >= 0
    frame = pd.DataFrame({"source_row": data["source_row"].array[has_value],
                          "num_commit": data["num_commit"].array[has_value]})
    for column in ("distinct_items", "groups"):
        frame[column] = stats[column].to_numpy()[value_of_row[has_value]]
    frame = frame[frame["distinct_items"] > 0]
    checked = frame[frame["num_commit"].notna()]
    disagree = checked[checked["num_commit"] != checked["distinct_items"]]
    return {
        "rows_checked": len(checked),
        "rows_without_num_commit": int(frame["num_commit"].isna().sum()),
        "rows_disagreeing": len(disagree),
        # older rows count ";;"-separated groups, not initiatives: "a;;b;c;d" -> 2
        "disagreeing_rows_matching_double_semicolon_groups": int((disagree["num_commit"] == disagree["groups"]).sum()),
        "disagreeing_source_rows": [int(r) for r in disagree["source_row"]],
    }


# --- places ---------------------------------------------------------------------------------

def _categorical(values, codes: np.ndarray) -> pd.Categorical:
    """``values`` taken by ``codes`` (-1: missing), as a categorical: a small code per row, where
    a column of text costs a pointer and often a str object per row."""
    value_codes, categories = pd.factorize(np.asarray(values, dtype=object))
    return pd.Categorical.from_codes(np.append(value_codes, -1)[codes],  # -1 takes the appended -1
                                     categories=pd.Index(categories, dtype=object))


def place_mentions(source_id: str, rows: pd.DataFrame) -> pd.DataFrame:
    """One "pledger" mention per source row; the place's attributes travel with it into cities.

    The text fields are worked out once per distinct (name, iso, state, entity_type), which the
    rows point at: a place recurs in many rows (and vintages).
    """
    n = len(rows)
    place = rows.groupby(PLACE_KEY, sort=False, dropna=False, observed=True).ngroup().to_numpy()
    d = rows[PLACE_KEY].iloc[np.unique(place, return_index=True)[1]]  # place k is row k of d
    name = d["name"].astype("string")
    suffix = name.str.extract(NAME_SUFFIX)[0]
    iso = d["iso"].astype("string")
    valid_suffix = pd.Series(False, index=d.index)
    for country, codes in SUFFIX_ADMIN1_CODES.items():
        valid_suffix |= (iso.eq(country) & suffix.isin(codes)).fillna(False)
    entity = d["entity_type"].astype("string")
    place_type = np.select([entity.eq("Region").fillna(False).to_numpy(),
                            name.str.contains(COUNTY_FORM).fillna(False).to_numpy()], ["region", "county"], "city")
    name = _categorical(name, place)
    return pd.DataFrame({
        "source_id": _categorical([source_id], np.zeros(n, dtype=np.int8)),
        "source_row": rows["source_row"].astype("Int64").array,
        "role": _categorical([ROLE], np.zeros(n, dtype=np.int8)),
        "raw_name": name.copy(),
        "name": name,
        "country": _categorical(iso, place),
        "admin1": _categorical(suffix.where(valid_suffix, d["state"].astype("string")), place),
        "latitude": rows["lat"].astype("Float64").array,
        "longitude": rows["lng"].astype("Float64").array,
        "population": rows["population"].round().astype("Int64").array,
        "population_year": rows["population_year"].astype("Int64").array,
        "area_km2": rows["area"].astype("Float64").array,
        "place_type": _categorical(place_type, place),
        "code": _categorical([], np.full(n, -1, dtype=np.int8)),
        "code_type": _categorical([], np.full(n, -1, dtype=np.int8)),
    }, copy=False)


def _empty_mentions() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in MENTION_DTYPES.items()})


def _vintages(tables: dict[str, SourceTable]) -> list[SourceTable]:
    return [tables[sid] for sid in sorted(VINTAGES) if sid in tables]


def mentions(tables: dict[str, SourceTable], vocab: Vocabulary | None = None) -> pd.DataFrame:
    """Pledging places of every vintage present (only rows with >= 1 pledge), by source_id and source_row."""
    vocab = vocab or load_vocabulary()
    frames = [place_mentions(t.source_id, _pledging_rows(t, vocab)) for t in _vintages(tables)]
    frames = [f for f in frames if len(f)]
    if not frames:
        return _empty_mentions()
    # pd.concat would turn categoricals whose categories differ into object columns.
    return pd.DataFrame({c: union_categoricals([f[c].array for f in frames]) if t == "category"
                         else pd.concat([f[c] for f in frames], ignore_index=True).array
                         for c, t in MENTION_DTYPES.items()}, copy=False)


def _pledging_rows(table: SourceTable, vocab: Vocabulary) -> pd.DataFrame:
    rows = table.data.loc[vintage_pledges(table, vocab).pledging, PLACE_COLUMNS]
    return rows if rows["source_row"].is_monotonic_increasing else rows.sort_values("source_row", kind="stable")


# --- build ----------------------------------------------------------------------------------

def empty_pledges() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="Int64" if c == "list_year" else "object" if c == "as_of" else "string")
                         for c in PLEDGE_COLUMNS})


def build(tables: dict[str, SourceTable], resolved: pd.DataFrame, vocab: Vocabulary | None = None) -> StepOutput:
    vocab = vocab or load_vocabulary()
    frames, exclusions, report = [], [], {"vintages": {}}
    seen_tokens: set[str] = set()
    pledgers = resolved.loc[resolved["role"] == ROLE, ["source_id", "source_row", "city_id", "status"]]
    for table in _vintages(tables):
        vp = vintage_pledges(table, vocab)
        pledges, merge_report = place_pledges(vp, pledgers[pledgers["source_id"] == vp.source_id])
        frames.append(pledges)
        exclusions.append(vp.exclusions)
        seen_tokens |= set(vp.tokens["raw_token"])
        report["vintages"][table.source_id] = {**vp.report, **merge_report}
        _parsed.pop((id(table), id(vocab)))  # the build is done with it: not held while the resources are written

    pledges = pd.concat(frames, ignore_index=True) if frames else empty_pledges()
    pledges = pledges.sort_values(["as_of", "city_id", "initiative_id", "list_key"], ignore_index=True)
    excluded_vocab = vocab.tokens["excluded_reason"].notna()
    report["vocabulary"] = {
        "initiatives": len(vocab.initiatives),
        "tokens": len(vocab.tokens),
        "tokens_mapped": int((~excluded_vocab).sum()),
        "tokens_excluded": int(excluded_vocab.sum()),
        # Mapped tokens no vintage read here uses: stale entries, or a vintage left out of the build.
        "mapped_tokens_unused": sorted(set(vocab.tokens.loc[~excluded_vocab, "raw_token"]) - seen_tokens),
        "initiatives_without_pledges": sorted(set(vocab.initiatives["initiative_id"]) - set(pledges["initiative_id"])),
    }
    exclusions = [e for e in exclusions if len(e)]
    return StepOutput(
        resources={"pledges": pledges[PLEDGE_COLUMNS],
                   "initiatives": vocab.initiatives.sort_values("initiative_id", ignore_index=True),
                   "initiative_tokens": vocab.tokens.sort_values("raw_token", ignore_index=True)},
        exclusions=pd.concat(exclusions, ignore_index=True) if exclusions else empty_exclusions(),
        report=report,
    )


def place_pledges(vp: VintagePledges, places: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Attach city_id and merge the rows of one vintage that name the same place and list.

    ``places``: the vintage's resolved mentions (source_row, city_id, status). Works on integer
    codes (rows x their value's tokens), as a pledge list grows with every repeat of a place.
    """
    if places["source_row"].duplicated().any():
        row = int(places.loc[places["source_row"].duplicated(), "source_row"].iloc[0])
        raise RuntimeError(f"{vp.source_id}: place resolution gave row {row} more than one city_id")
    source_row = vp.rows["source_row"].to_numpy()
    at = pd.Index(places["source_row"]).get_indexer(source_row)  # -1: the row has no place
    city_codes, city_ids = pd.factorize(places["city_id"])
    city = np.where(at >= 0, city_codes[at], -1)
    if (city < 0).any():
        raise RuntimeError(f"{vp.source_id}: no city_id from place resolution for pledging row "
                           f"{int(source_row[city < 0].min())}")

    # One element per pledging row x distinct token of its value.
    tokens = vp.tokens
    tok = pd.DataFrame({"row": np.arange(len(source_row)), "value": vp.rows["value"].to_numpy()}).merge(
        pd.DataFrame({"value": tokens["value"], "token": np.arange(len(tokens))}), on="value")
    row, token = tok["row"].to_numpy(), tok["token"].to_numpy()
    initiative = pd.factorize(tokens["initiative_id"])[0]
    list_key = pd.factorize(tokens["list_key"])[0]
    raw_token, raw_tokens = pd.factorize(tokens["raw_token"], sort=True)  # code order = text order
    group, first = _groups(city[row], initiative[token], list_key[token])

    # A pledge's entity type: the one its rows give, or none when they disagree.
    entity = vp.rows["entity_type"].array
    known = entity.codes[row] >= 0
    pairs = pd.DataFrame({"group": group[known], "entity": entity.codes[row][known]}).drop_duplicates()
    conflicting = np.bincount(pairs["group"], minlength=len(first)) > 1
    entity_type = np.full(len(first), -1)
    entity_type[pairs["group"]] = pairs["entity"]
    entity_type[conflicting] = -1
    lead = token[first]
    out = pd.DataFrame({
        "as_of": VINTAGES[vp.source_id],
        "city_id": pd.array(np.asarray(city_ids, dtype=object)[city[row[first]]], dtype="string"),
        "initiative_id": pd.array(tokens["initiative_id"].array[lead], dtype="string"),
        "list_key": pd.array(tokens["list_key"].array[lead], dtype="string"),
        "list_year": pd.array(tokens["list_year"].array[lead], dtype="Int64"),
        "raw_token": join_unique(group, raw_token[token], np.asarray(raw_tokens, dtype=object)),
        "entity_type": pd.Categorical.from_codes(entity_type, dtype=entity.dtype).astype("string"),
        "source_id": vp.source_id,
        "source_row": join_unique(group, source_row[row]),
    }).astype({"source_id": "string"})

    report = {
        "pledges": len(out),
        "pledges_merged_across_source_rows": vp.report["pledges_in_source_rows"] - len(out),
        "pledges_with_entity_type_conflict": int(conflicting.sum()),
        "places": int(out["city_id"].nunique()),
        "pledging_rows_by_place_status": _counts(places["status"].iloc[at]),
        "pledges_by_initiative": _counts(out["initiative_id"]),
    }
    return out, report


def _groups(*codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group number of each element by its tuple of non-negative codes, and each group's first element."""
    key = np.zeros(len(codes[0]), dtype=np.int64)
    for c in codes:  # key < len(key) after each factorize: the product cannot overflow
        key = pd.factorize(key * (int(c.max(initial=0)) + 1) + c)[0]
    return key, np.unique(key, return_index=True)[1]


def join_unique(group: np.ndarray, values: np.ndarray, texts: np.ndarray | None = None) -> pd.arrays.StringArray:
    """Per group 0..n-1: its distinct ``values`` (integers) in ascending order, written as
    ``texts[value]`` or as numbers, ';'-joined (by Arrow: no Python str per value)."""
    order = np.lexsort((values, group))
    g, v = group[order], values[order]
    keep = np.ones(len(g), dtype=bool)
    keep[1:] = (g[1:] != g[:-1]) | (v[1:] != v[:-1])
    g, v = g[keep], v[keep]
    words = pc.cast(pa.array(v), pa.string()) if texts is None else pa.array(texts, pa.string()).take(pa.array(v))
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else np.array([], dtype=np.int64)
    lists = pa.LargeListArray.from_arrays(pa.array(np.r_[starts, len(g)], pa.int64()), words)
    return pd.array(pc.binary_join(lists, ";").to_numpy(zero_copy_only=False), dtype="string")
