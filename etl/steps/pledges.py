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

from etl.build import StepOutput
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
MENTION_DTYPES = {
    "source_id": "string", "source_row": "Int64", "role": "string", "raw_name": "string",
    "name": "string", "country": "string", "admin1": "string", "latitude": "Float64",
    "longitude": "Float64", "population": "Int64", "population_year": "Int64",
    "area_km2": "Float64", "place_type": "string", "code": "string", "code_type": "string",
}

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


def row_tokens(data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per source row: its tokens (source_row, item_no, item, raw_token) and its parse stats."""
    values = data[["source_row", "initiatives_committed"]].dropna(subset=["initiatives_committed"])
    values = values.assign(value=values["initiatives_committed"].astype(object))[["source_row", "value"]]
    tokens, stats = parse_values(values["value"])
    per_row = values.merge(tokens, on="value", how="inner", validate="many_to_many")
    per_row = per_row.sort_values(["source_row", "item_no"], kind="stable", ignore_index=True)
    row_stats = values.merge(stats, on="value", how="left", validate="many_to_one").drop(columns="value")
    return per_row.drop(columns="value"), row_stats


def map_tokens(tokens: pd.DataFrame, vocab: Vocabulary, source_id: str) -> pd.DataFrame:
    """Attach initiative_id, list_year, excluded_reason; a token not in the vocabulary is a SourceError."""
    out = tokens.merge(vocab.tokens[["raw_token", "initiative_id", "list_year", "excluded_reason"]],
                       on="raw_token", how="left", indicator=True, validate="many_to_one")
    unknown = out[out["_merge"] == "left_only"]
    if len(unknown):
        first = unknown.groupby("raw_token", sort=True)["source_row"].agg(["min", "size"])
        listed = "; ".join(f"{tok!r} (row {int(r['min'])}, {int(r['size'])} occurrence(s))"
                           for tok, r in first.head(10).iterrows())
        more = f" and {len(first) - 10} more" if len(first) > 10 else ""
        raise SourceError(source_id, f"initiative token(s) not in etl/vocab/initiative_tokens.csv: {listed}{more}; "
                                     "review them and add them to the vocabulary",
                          row=int(unknown["source_row"].min()))
    return out.drop(columns="_merge")


# --- one vintage ----------------------------------------------------------------------------

@dataclass
class VintagePledges:
    """A vintage's pledges per source row (before places), its exclusions and check figures."""

    source_id: str
    row_tokens: pd.DataFrame  # source_row, raw_token, initiative_id, list_year, list_key, entity_type (one per distinct token)
    pledge_rows: pd.DataFrame  # data rows with >= 1 pledge (the reader's columns)
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
    parsed, row_stats = row_tokens(data)
    tokens = map_tokens(parsed, vocab, table.source_id)

    usable = tokens[tokens["initiative_id"].notna()]
    distinct = usable.drop_duplicates(["source_row", "raw_token"])
    distinct = distinct.assign(list_key=distinct["list_year"].astype("string").fillna(UNDATED))
    distinct = distinct.merge(data[["source_row", "entity_type"]], on="source_row", how="left", validate="many_to_one")
    row_pledge_count = len(distinct.drop_duplicates(["source_row", "initiative_id", "list_key"]))

    has_pledge = data["source_row"].isin(distinct["source_row"])
    no_tokens = ~data["source_row"].isin(tokens["source_row"])
    reason = pd.Series(np.where(no_tokens, NO_TOKENS_MISSING, NO_TOKENS_EXCLUDED), index=data.index)
    excluded_rows = data[~has_pledge]
    exclusions = (make_exclusions(table.source_id, excluded_rows, reason[~has_pledge])
                  if len(excluded_rows) else empty_exclusions())

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
        "tokens": len(tokens),
        "tokens_excluded": _counts(excluded_tokens["excluded_reason"]),
        "empty_items_dropped": int(row_stats["empty_items"].sum()),
        "comma_joined_items_split": int(row_stats["comma_items"].sum()),
        "duplicate_tokens_collapsed": len(usable) - len(distinct),
        "spellings_merged": len(distinct) - row_pledge_count,
        "pledges_in_source_rows": row_pledge_count,
        "num_commit": num_commit_check(data, row_stats),
    }
    return VintagePledges(table.source_id, distinct[["source_row", "raw_token", "initiative_id", "list_year",
                                                     "list_key", "entity_type"]],
                          data[has_pledge], exclusions, report)


def _counts(values: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in values.value_counts().sort_index().items()}


def num_commit_check(data: pd.DataFrame, row_stats: pd.DataFrame) -> dict:
    """Compare the source's num_commit with its own distinct ';'-items (warnings, not failures)."""
    frame = data[["source_row", "num_commit"]].merge(row_stats, on="source_row", how="inner", validate="one_to_one")
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

def place_mentions(source_id: str, rows: pd.DataFrame) -> pd.DataFrame:
    """One "pledger" mention per source row; the place's attributes travel with it into cities."""
    name = rows["name"].astype("string")
    suffix = name.str.extract(NAME_SUFFIX)[0]
    iso = rows["iso"].astype("string")
    valid_suffix = pd.Series(False, index=rows.index)
    for country, codes in SUFFIX_ADMIN1_CODES.items():
        valid_suffix |= (iso.eq(country) & suffix.isin(codes)).fillna(False)
    entity = rows["entity_type"].astype("string")
    place_type = np.select([entity.eq("Region").fillna(False).to_numpy(),
                            name.str.contains(COUNTY_FORM).fillna(False).to_numpy()], ["region", "county"], "city")
    out = pd.DataFrame({
        "source_id": source_id,
        "source_row": rows["source_row"].to_numpy(),
        "role": ROLE,
        "raw_name": name.to_numpy(),
        "name": name.to_numpy(),
        "country": rows["iso"].to_numpy(),
        "admin1": suffix.where(valid_suffix, rows["state"]).to_numpy(),
        "latitude": rows["lat"].to_numpy(),
        "longitude": rows["lng"].to_numpy(),
        "population": rows["population"].round().to_numpy(),
        "population_year": rows["population_year"].to_numpy(),
        "area_km2": rows["area"].to_numpy(),
        "place_type": place_type,
        "code": pd.NA,
        "code_type": pd.NA,
    }, index=pd.RangeIndex(len(rows)))
    return out.astype(MENTION_DTYPES)


def _empty_mentions() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in MENTION_DTYPES.items()})


def _vintages(tables: dict[str, SourceTable]) -> list[SourceTable]:
    return [tables[sid] for sid in sorted(VINTAGES) if sid in tables]


def mentions(tables: dict[str, SourceTable], vocab: Vocabulary | None = None) -> pd.DataFrame:
    """Pledging places of every vintage present (only rows with >= 1 pledge)."""
    vocab = vocab or load_vocabulary()
    frames = [place_mentions(t.source_id, vintage_pledges(t, vocab).pledge_rows) for t in _vintages(tables)]
    frames = [f for f in frames if len(f)]
    if not frames:
        return _empty_mentions()
    return pd.concat(frames, ignore_index=True).sort_values(["source_id", "source_row"], ignore_index=True)


# --- build ----------------------------------------------------------------------------------

def empty_pledges() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="Int64" if c == "list_year" else "object" if c == "as_of" else "string")
                         for c in PLEDGE_COLUMNS})


def build(tables: dict[str, SourceTable], resolved: pd.DataFrame, vocab: Vocabulary | None = None) -> StepOutput:
    vocab = vocab or load_vocabulary()
    frames, exclusions, report = [], [], {"vintages": {}}
    seen_tokens: set[str] = set()
    for table in _vintages(tables):
        vp = vintage_pledges(table, vocab)
        pledges, merge_report = place_pledges(vp, resolved)
        frames.append(pledges)
        exclusions.append(vp.exclusions)
        seen_tokens |= set(vp.row_tokens["raw_token"])
        report["vintages"][table.source_id] = {**vp.report, **merge_report}

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


def place_pledges(vp: VintagePledges, resolved: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Attach city_id and merge the rows of one vintage that name the same place and list."""
    places = resolved.loc[(resolved["source_id"] == vp.source_id) & (resolved["role"] == ROLE),
                          ["source_row", "city_id", "status"]]
    if places["source_row"].duplicated().any():
        row = int(places.loc[places["source_row"].duplicated(), "source_row"].iloc[0])
        raise RuntimeError(f"{vp.source_id}: place resolution gave row {row} more than one city_id")
    tok = vp.row_tokens.merge(places, on="source_row", how="left", validate="many_to_one")
    if tok["city_id"].isna().any():
        row = int(tok.loc[tok["city_id"].isna(), "source_row"].iloc[0])
        raise RuntimeError(f"{vp.source_id}: no city_id from place resolution for pledging row {row}")

    key = ["city_id", "initiative_id", "list_key"]
    tok = tok.assign(group=tok.groupby(key, sort=True, observed=True).ngroup())
    grouped = tok.groupby("group", sort=True)
    out = grouped.agg(**{c: (c, "first") for c in key}, list_year=("list_year", "first"),
                      n_entity_types=("entity_type", "nunique"), entity_type=("entity_type", "first"))
    out["raw_token"] = join_unique(tok, "group", "raw_token")
    out["source_row"] = join_unique(tok, "group", "source_row")
    conflicting = out["n_entity_types"] > 1
    out["entity_type"] = out["entity_type"].mask(conflicting)
    out["as_of"] = VINTAGES[vp.source_id]
    out["source_id"] = vp.source_id
    out = out[PLEDGE_COLUMNS].astype({"city_id": "string", "initiative_id": "string", "list_key": "string",
                                      "list_year": "Int64", "raw_token": "string", "entity_type": "string",
                                      "source_id": "string", "source_row": "string"})

    row_status = places[places["source_row"].isin(vp.row_tokens["source_row"])]
    pledges_from_rows = len(vp.row_tokens.drop_duplicates(["source_row", "initiative_id", "list_key"]))
    report = {
        "pledges": len(out),
        "pledges_merged_across_source_rows": pledges_from_rows - len(out),
        "pledges_with_entity_type_conflict": int(conflicting.sum()),
        "places": int(out["city_id"].nunique()),
        "pledging_rows_by_place_status": _counts(row_status["status"]),
        "pledges_by_initiative": _counts(out["initiative_id"]),
    }
    return out, report


def join_unique(frame: pd.DataFrame, group: str, column: str) -> pd.Series:
    """Per value of the integer ``group`` column: the distinct values of ``column``, sorted, ';'-joined.

    Most groups hold one value, so only the few merged groups are joined in Python.
    """
    values = frame[[group, column]].drop_duplicates().sort_values([group, column], kind="stable")
    text = pd.Series(values[column].astype(str).to_numpy(), index=values[group].to_numpy())
    multi = text.index.duplicated(keep=False)
    joined = pd.concat([text[~multi], text[multi].groupby(level=0).agg(";".join)])
    return joined.sort_index()
