"""Measure place resolution on the real raw files.

    python -m etl.places.measure --mirror /work/shared/raw-mirror [--details out.csv]

Builds the place mentions of each source the way the source readers are expected to
(see the ``*_mentions`` functions: they are also useful to the readers), resolves them all
in one call, and prints per source: mentions, distinct mentions, resolved % (to a GeoNames
place), ambiguous %, unresolved %, not-a-city %, resolved % among city-type mentions, and the
timings. Nothing is written unless ``--details`` is given (a CSV of the distinct mentions and
their resolution, for review; keep it out of the repository).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

MENTION_COLUMNS = ["source_id", "source_row", "role", "raw_name", "name", "country", "admin1", "latitude",
                   "longitude", "population", "population_year", "area_km2", "place_type", "code", "code_type"]


def _frame(rows: dict) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for c in MENTION_COLUMNS:
        if c not in df.columns:
            df[c] = pd.NA
    df = df[MENTION_COLUMNS]
    for c in ("latitude", "longitude", "area_km2"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    for c in ("source_row", "population", "population_year"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("Int64")
    for c in ("source_id", "role", "raw_name", "name", "country", "admin1", "place_type", "code", "code_type"):
        df[c] = df[c].astype("string")
    return df


def twin_mentions(path: Path) -> pd.DataFrame:
    t = pd.read_csv(path, dtype=str, keep_default_na=False)
    row = pd.RangeIndex(1, len(t) + 1)
    parts = []
    for side in ("1", "2"):
        parts.append(_frame({
            "source_id": "twin_cities", "source_row": row, "role": f"city{side}",
            "raw_name": t[f"city{side}"].to_numpy(), "name": t[f"city{side}"].to_numpy(),
            "country": t[f"country{side}"].replace("", pd.NA).to_numpy(), "place_type": "city",
        }))
    return pd.concat(parts, ignore_index=True)


def pledge_mentions(path: Path, source_id: str = "climactor_dec2022") -> pd.DataFrame:
    p = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=["NA"], encoding="utf-8",
                    encoding_errors="replace")
    et = p["entity_type"].str.casefold().map({"city": "city", "region": "region"})
    return _frame({
        "source_id": source_id, "source_row": pd.RangeIndex(1, len(p) + 1), "role": "pledger",
        "raw_name": p["name"], "name": p["name"], "country": p["iso"], "admin1": p["state"],
        "latitude": pd.to_numeric(p["lat"], errors="coerce"), "longitude": pd.to_numeric(p["lng"], errors="coerce"),
        "population": pd.to_numeric(p["population"], errors="coerce").round().astype("Int64"),
        "population_year": pd.to_numeric(p["population_year"], errors="coerce").astype("Int64"),
        "area_km2": pd.to_numeric(p["area"], errors="coerce"), "place_type": et,
    })


def port_mentions(mirror: Path) -> pd.DataFrame:
    """One "port" mention per trade row of dot1_0115.csv (DEPE) and texas_mexico_ports.csv
    (PortCode): the name to resolve is the Schedule D port name cleaned by ``port_name``, admin1
    the port's state; "..XX" codes are district-level "not elsewhere classified" rows
    (port_district), "70XX" is "low value" (pseudo)."""
    from etl.places.parse import port_name

    sched = json.loads((mirror / "schedule_d_port_codes.json").read_text())
    dot = pd.read_csv(mirror / "dot1_0115.csv", dtype=str)
    tx = pd.read_csv(mirror / "texas_mexico_ports.csv", dtype=str)
    info = {}
    for code in sorted(set(dot["DEPE"].dropna()) | set(tx["PortCode"].dropna())):
        d = sched.get(code, {})
        raw, state = d.get("port", ""), d.get("state")
        name, typ = port_name(raw, state)
        if code.endswith("XX"):
            typ = "pseudo" if code.startswith("70") else "port_district"
        info[code] = (raw, name or raw, state, "port" if typ == "city" else typ)
    frames = []
    for sid, codes in (("bts_dot1", dot["DEPE"]), ("bts_texas_ports", tx["PortCode"])):
        c = codes.astype("string")
        frames.append(_frame({
            "source_id": sid, "source_row": pd.RangeIndex(1, len(c) + 1), "role": "port",
            "raw_name": [info.get(x, ("",))[0] for x in c], "name": [info.get(x, ("", ""))[1] for x in c],
            "admin1": [info.get(x, (None, None, None))[2] for x in c], "country": "US",
            "place_type": [info.get(x, (None, None, None, "port"))[3] for x in c],
            "code": c.to_numpy(), "code_type": "schedule_d_port",
        }))
    return pd.concat(frames, ignore_index=True)


def metro_mentions(path: Path) -> pd.DataFrame:
    from etl.places.parse import metro_principal_city

    x = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
    names = x["MSA Full Name"]
    parsed = [metro_principal_city(n) for n in names]
    return _frame({
        "source_id": "ita_metros", "source_row": pd.RangeIndex(1, len(x) + 1), "role": "metro",
        "raw_name": names, "name": [p[0] for p in parsed], "admin1": [p[1] for p in parsed], "country": "US",
        "place_type": ["metro" if p[2] == "city" else p[2] for p in parsed],
    })


def all_mentions(mirror: Path) -> pd.DataFrame:
    parts = [twin_mentions(mirror / "twin_cities_raw.csv"),
             pledge_mentions(mirror / "subnational_contextuals_database_Dec2022.csv"),
             pledge_mentions(mirror / "subnational_contextuals_database_Sep2022.csv", "climactor_sep2022"),
             port_mentions(mirror), metro_mentions(mirror / "exports_ita.csv")]
    return pd.concat(parts, ignore_index=True)


def summarise(m: pd.DataFrame, r: pd.DataFrame) -> pd.DataFrame:
    d = pd.concat([m[["source_id", "name", "country", "admin1", "latitude", "longitude", "place_type"]],
                   r[["status", "method", "place_type"]].rename(columns={"place_type": "resolved_type"})], axis=1)
    d["not_city"] = d["method"].eq("not_a_city")
    out = []
    for sid, g in d.groupby("source_id", sort=True):
        n = len(g)
        cityish = g[~g["not_city"]]
        out.append({
            "source_id": sid, "mentions": n,
            "distinct": len(g.drop_duplicates(["name", "country", "admin1", "latitude", "longitude", "place_type"])),
            "resolved_pct": round(100 * g["status"].eq("resolved").mean(), 2),
            "ambiguous_pct": round(100 * g["status"].eq("ambiguous").mean(), 2),
            "unresolved_pct": round(100 * (g["status"].eq("unresolved") & ~g["not_city"]).mean(), 2),
            "not_a_city_pct": round(100 * g["not_city"].mean(), 2),
            "resolved_pct_of_cities": round(100 * cityish["status"].eq("resolved").mean(), 2) if len(cityish) else None,
        })
    return pd.DataFrame(out)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirror", type=Path, required=True)
    ap.add_argument("--details", type=Path, default=None)
    ap.add_argument("--no-disk-cache", action="store_true")
    a = ap.parse_args(argv)
    from etl.places.gazetteer import load_gazetteer
    from etl.places.resolver import resolve

    t0 = time.perf_counter()
    g = load_gazetteer(use_disk_cache=not a.no_disk_cache)
    t1 = time.perf_counter()
    m = all_mentions(a.mirror)
    t2 = time.perf_counter()
    r = resolve(m, country_dict_path=a.mirror / "country_dict_Oct2023.csv", gazetteer=g)
    t3 = time.perf_counter()
    s = summarise(m, r)
    pd.set_option("display.width", 200)
    print(s.to_string(index=False))
    ports = pd.concat([m, r[["status", "method"]]], axis=1)
    ports = ports[ports["role"].eq("port")].drop_duplicates("code")
    real = ports[~ports["method"].eq("not_a_city")]
    print(f"\nBTS distinct port codes: {len(ports)}; resolved {100 * ports['status'].eq('resolved').mean():.2f} %; "
          f"of the {len(real)} codes that name a place (not '..XX' district / low-value rows): "
          f"{100 * real['status'].eq('resolved').mean():.2f} %")
    print(f"\ngazetteer load {t1 - t0:.2f}s {g.timings}; reading sources {t2 - t1:.2f}s; "
          f"resolve {t3 - t2:.2f}s for {len(m)} mentions ({r.attrs['timing']})")
    if a.details:
        det = pd.concat([m, r.add_prefix("r_")], axis=1)
        det = det.drop_duplicates(["source_id", "name", "country", "admin1", "latitude", "longitude", "place_type"])
        det.to_csv(a.details, index=False)
        print(f"details: {a.details}")


if __name__ == "__main__":
    main()
