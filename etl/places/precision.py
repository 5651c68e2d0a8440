"""Resolver precision and recall on the hand-labelled sample (``tests/places/labelled_mentions.csv``).

The sample's rows are turned into place mentions the way the build makes them, by the fact
steps' own functions, then resolved in one ``resolve`` call like the build does:

* ClimActor: ``pledges.place_mentions`` on the source row (name with its ", XX" suffix; the
  ``state`` column as admin1 hint; ``entity_type`` Region -> place_type "region"). Without the
  raw mirror only the sample's fields exist: no ``state``, no ``entity_type``, no population.
* twin cities: ``partnerships.mentions`` over the real reader's rows; without the mirror, the
  reader's side parser (``twin_cities._parse_side``), the partnerships step's country field
  ("Region, Country") and the reader's self-pair rule (the partner is in the row's ``note``):
  a self-pair never reaches the resolver, so it is never matched.
* ports: ``trade_flows.classify_ports`` (Schedule D name, or the reviewed override of
  ``etl/vocab/port_cities.csv``; "..XX" codes -> "port_district"), place_type from it. The
  Schedule D code is the first word after "Schedule D code" in the row's ``note``.
* metros: ``trade_flows.split_metro_title`` / ``principal_city_name`` (first principal city, first
  state; Puerto Rico -> PRI), "Z-" pseudo-metros -> "non_place".

Scoring (per source and overall): a mention is *matched* when the resolver or the authority
ladder (``etl.places.ladder``) gives it an authority id (``city_id`` gn.../cb.../pc...), compared
with ``expected_city_id`` (a Census place or postal locality; else ``gn<expected_geonames_id>``);
precision = matched with the labelled id / matched (a match where the label is empty counts as
wrong); recall = matched with the labelled id / rows with a labelled id.

Port codes decided by a reviewed override (``port_cities.csv``) are not the resolver's choice:
where such an override names one city of a two-city port that the label calls ambiguous (the
two are different editorial policies, not a resolver error), the row is counted apart as
``override_conflicts`` and left out of the resolver's precision (``precision_pct``);
``precision_as_built_pct`` counts it as wrong.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

LABELS = Path(__file__).resolve().parents[2] / "tests" / "places" / "labelled_mentions.csv"
SOURCES = ["climactor_dec2022", "twin_cities", "bts_schedule_d", "ita_metro_exports"]
_CODE = re.compile(r"Schedule D code (\w{4})")


def load_labels(path: Path = LABELS) -> pd.DataFrame:
    lab = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
    lab["source_row"] = pd.to_numeric(lab["source_row"]).astype("Int64")
    lab["expected_geonames_id"] = pd.to_numeric(lab["expected_geonames_id"]).astype("Int64")
    if "expected_city_id" not in lab.columns:
        lab["expected_city_id"] = pd.NA
    # the expected place as an id of any authority: "gn<id>" unless the row names a Census place
    # or postal locality ("cb<GEOID>", "pc-...") itself
    gn = ("gn" + lab["expected_geonames_id"].astype("string")).where(lab["expected_geonames_id"].notna())
    lab["expected_city_id"] = lab["expected_city_id"].astype("string").fillna(gn)
    for c in ("latitude", "longitude"):
        lab[c] = pd.to_numeric(lab[c]).astype(float)
    lab["port_code"] = lab["note"].str.extract(_CODE)[0].astype("string")
    return lab.reset_index(drop=True)


def _mirror_tables(mirror: Path | None, ids: list[str]) -> dict:
    if mirror is None:
        return {}
    from etl.fetch import mirror_paths
    from etl.sources import READERS

    paths = mirror_paths(Path(mirror))
    return {sid: READERS[sid](paths[sid], sid) for sid in ids
            if paths.get(sid) and all(p.exists() for p in (paths[sid] if isinstance(paths[sid], list) else [paths[sid]]))}


def _climactor(lab: pd.DataFrame, tables: dict) -> pd.DataFrame:
    from etl.steps.pledges import place_mentions

    t = tables.get("climactor_dec2022")
    if t is not None:
        rows = t.data[t.data["source_row"].isin(lab["source_row"].dropna().tolist())]
        out = place_mentions("climactor_dec2022", rows)
        if len(out) == len(lab):
            return out.set_index(out["source_row"].astype("int64")).loc[lab["source_row"].astype("int64")]
    rows = pd.DataFrame({
        "source_row": lab["source_row"], "name": lab["raw_name"], "iso": lab["country"],
        "entity_type": pd.NA, "state": pd.NA, "lat": lab["latitude"], "lng": lab["longitude"],
        "population": np.nan, "population_year": pd.NA, "area": np.nan})
    return place_mentions("climactor_dec2022", rows)


_PARTNER = re.compile(r"partner: (?P<city>.+?) / (?P<country>[^;]+)")


def _twins(lab: pd.DataFrame, tables: dict) -> pd.DataFrame:
    """The partnerships step's mentions. The reader drops self-pairs ("Nienburg" twinned with
    "Nienburg"): such rows never reach the resolver, so they get no mention here either (no
    name: unmatched). Without the mirror the partner is read from the row's ``note``."""
    from etl.sources.twin_cities import _norm, _parse_side

    t = tables.get("twin_cities")
    if t is not None:
        from etl.steps.partnerships import mentions

        real = mentions({"twin_cities": t}).set_index(["source_row", "role"])
        keys = pd.MultiIndex.from_arrays([lab["source_row"].astype("int64"), lab["side"].fillna("city1")])
        out = real.reindex(keys).reset_index()
        out["source_id"] = "twin_cities"
        return out.set_axis(lab.index)
    raw = pd.DataFrame({"city1": lab["raw_name"].fillna(""), "country1": lab["country"].fillna("")}, index=lab.index)
    side, _, _ = _parse_side(raw, "1")
    partner = lab["note"].fillna("").str.extract(_PARTNER)
    other, _, _ = _parse_side(pd.DataFrame({"city1": partner["city"].fillna(""),
                                            "country1": partner["country"].fillna("")}, index=lab.index), "1")
    self_pair = ((_norm(side["city1"]) == _norm(other["city1"]))
                 & (_norm(side["country1"]) == _norm(other["country1"]))).fillna(False)
    country = (side["region1"] + ", " + side["country1"]).fillna(side["country1"])
    return pd.DataFrame({
        "source_id": "twin_cities", "source_row": lab["source_row"], "role": lab["side"].fillna("city1"),
        "raw_name": lab["raw_name"], "name": side["city1"].mask(self_pair), "country": country,
        "admin1": side["region1"], "place_type": "city"})


def _ports(lab: pd.DataFrame, tables: dict) -> pd.DataFrame:
    from etl.steps.trade_flows import classify_ports

    t = tables.get("bts_schedule_d")
    if t is not None:
        sd = t.data
    else:  # the sample's own fields: name and state (no district: "70XX" becomes a district bucket)
        sd = pd.DataFrame({"port_code": lab["port_code"], "port_name": lab["raw_name"], "district_name": pd.NA,
                           "state": lab["admin1"]}).astype("string")
    ports = classify_ports(lab["port_code"], sd).set_index("port_code").loc[lab["port_code"]]
    return pd.DataFrame({
        "source_id": "bts_schedule_d", "source_row": lab["source_row"].to_numpy(), "role": "port",
        "raw_name": lab["raw_name"].to_numpy(), "name": ports["mention_name"].to_numpy(),
        "country": ports["country"].to_numpy(), "admin1": ports["admin1"].to_numpy(),
        "place_type": ports["place_type"].to_numpy(), "code": lab["port_code"].to_numpy(),
        "code_type": "schedule_d_port", "overridden": ports["overridden"].to_numpy(dtype=bool)}, index=lab.index)


def _metros(lab: pd.DataFrame) -> pd.DataFrame:
    from etl.steps.trade_flows import _admin1, _country, principal_city_name, split_metro_title

    split = [split_metro_title(n) for n in lab["raw_name"]]
    first_state = pd.Series([s[0] if s else pd.NA for _, s in split], index=lab.index, dtype="string")
    pseudo = lab["raw_name"].str.startswith("Z-").fillna(False)
    return pd.DataFrame({
        "source_id": "ita_metro_exports", "source_row": lab["source_row"], "role": "metro",
        "raw_name": lab["raw_name"],
        "name": pd.Series([principal_city_name(c[0]) for c, _ in split], index=lab.index).mask(pseudo, lab["raw_name"]),
        "country": _country(first_state).mask(pseudo, "USA"), "admin1": _admin1(first_state).mask(pseudo),
        "place_type": pd.Series(np.where(pseudo, "non_place", "city"), index=lab.index)})


def sample_mentions(labels: pd.DataFrame, mirror: Path | None = None) -> pd.DataFrame:
    """The build's mention of every labelled row, on the labels' index (see module docstring).
    With ``mirror`` (the raw mirror folder) ClimActor rows and Schedule D names come from the
    real source files; without it from the sample's own fields."""
    tables = _mirror_tables(mirror, ["climactor_dec2022", "bts_schedule_d", "twin_cities"])
    parts = []
    for sid, fn in (("climactor_dec2022", lambda x: _climactor(x, tables)), ("twin_cities", lambda x: _twins(x, tables)),
                    ("bts_schedule_d", lambda x: _ports(x, tables)), ("ita_metro_exports", _metros)):
        lab = labels[labels["source_id"] == sid]
        if len(lab):
            parts.append(fn(lab).set_axis(lab.index))
    out = pd.concat(parts).reindex(labels.index)
    over = out["overridden"] if "overridden" in out.columns else pd.Series(False, index=out.index)
    out["overridden"] = over.astype("boolean").fillna(False).astype(bool)
    for c in ("latitude", "longitude"):
        out[c] = pd.to_numeric(out.get(c, pd.Series(np.nan, index=out.index)), errors="coerce").astype(float)
    return out


def evaluate(labels: pd.DataFrame, resolved: pd.DataFrame, overridden: pd.Series | None = None
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-source figures incl. an "ALL" row, per-row detail) for resolver output on the labels' index."""
    gn = lambda ids: ("gn" + ids.astype("Int64").astype("string")).where(ids.notna())
    exp = (labels["expected_city_id"].astype("string") if "expected_city_id" in labels.columns
           else gn(labels["expected_geonames_id"]))
    got = (resolved["city_id"].astype("string") if "city_id" in resolved.columns
           else gn(resolved["geonames_id"])).where(resolved["status"].eq("resolved"))
    matched = got.notna()
    correct = (matched & exp.notna() & (got == exp)).fillna(False).astype(bool)
    ov = (overridden if overridden is not None else pd.Series(False, index=labels.index)).astype(bool)
    conflict = ov & exp.isna() & matched
    d = pd.DataFrame({"source_id": labels["source_id"], "source_row": labels["source_row"], "side": labels["side"],
                      "name": labels["name"], "expected": exp, "got": got, "status": resolved["status"],
                      "method": resolved["method"], "matched": matched, "correct": correct,
                      "has_label": exp.notna(), "override_conflict": conflict})
    d["verdict"] = np.select([correct, conflict, matched, d["has_label"]],
                             ["ok", "override_conflict", "wrong", "missed"], "ok_none")
    rows = []
    present = set(d["source_id"].dropna())
    order = [s for s in SOURCES if s in present] + sorted(present - set(SOURCES))
    for sid, g in [(s, d[d["source_id"] == s]) for s in order] + [("ALL", d)]:
        m, c, k = int(g["matched"].sum()), int(g["correct"].sum()), int(g["override_conflict"].sum())
        lab = int(g["has_label"].sum())
        rows.append({"source_id": sid, "rows": len(g), "labelled": lab, "matched": m, "correct": c,
                     "wrong": m - c - k, "override_conflicts": k,
                     "precision_pct": round(100.0 * c / (m - k), 2) if m - k else 100.0,
                     "precision_as_built_pct": round(100.0 * c / m, 2) if m else 100.0,
                     "recall_pct": round(100.0 * c / lab, 2) if lab else 100.0})
    return pd.DataFrame(rows), d


def run(mirror: Path | None = None, labels_path: Path = LABELS, gazetteer=None, country_dict_path=None):
    """Resolve the labelled sample as the build does; returns (figures, detail)."""
    from etl.places.resolver import resolve

    labels = load_labels(labels_path)
    m = sample_mentions(labels, mirror)
    if country_dict_path is None and mirror is not None and (Path(mirror) / "country_dict_Oct2023.csv").exists():
        country_dict_path = Path(mirror) / "country_dict_Oct2023.csv"
    from etl.places.ladder import extend
    keys = m.drop(columns="overridden")
    r = resolve(keys, country_dict_path=country_dict_path, gazetteer=gazetteer)
    r = extend(keys, r, gazetteer)  # the authority ladder, as the build runs it
    return evaluate(labels, r, m["overridden"])
