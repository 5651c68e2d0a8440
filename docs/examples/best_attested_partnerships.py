"""The best-attested partnerships of a city: its partners, those both sources confirm first.

Usage: python docs/examples/best_attested_partnerships.py [release_dir] [city name] [ISO3]
(default: published/latest, Paris, FRA).
"""
from __future__ import annotations

import sys

import pandas as pd


def best_attested(release: str, name: str = "Paris", country_iso3: str = "FRA") -> pd.DataFrame:
    d = f"{release}/data/"
    p = pd.read_parquet(d + "partnerships.parquet")
    c = pd.read_parquet(d + "cities.parquet")[["city_id", "name", "country_iso3", "population"]]
    # the city: the most populous place of that name in that country
    city = (c[(c["name"] == name) & (c["country_iso3"] == country_iso3)]
            .sort_values(["population", "city_id"], ascending=[False, True], na_position="last"))
    if city.empty:
        raise SystemExit(f"no city {name!r} in {country_iso3}")
    cid = city["city_id"].iloc[0]
    mine = p[(p["city_a_id"] == cid) | (p["city_b_id"] == cid)]
    partner = mine["city_b_id"].where(mine["city_a_id"] == cid, mine["city_a_id"])
    out = (mine.assign(city_id=partner)[["city_id", "n_sources", "attested_by", "attestations"]]
           .merge(c, on="city_id", how="left")
           .sort_values(["n_sources", "attestations", "name"], ascending=[False, False, True], ignore_index=True))
    return out[["name", "country_iso3", "n_sources", "attested_by", "attestations", "city_id"]]


if __name__ == "__main__":
    args = sys.argv[1:]
    table = best_attested(args[0] if args else "published/latest", *args[1:3])
    with pd.option_context("display.max_rows", 30, "display.width", 140):
        print(table.head(30).to_string(index=False))
