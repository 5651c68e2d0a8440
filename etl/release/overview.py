"""``overview.html``: one self-contained page of charts, generated from the release's own files.

matplotlib SVGs inlined in one HTML file: no JavaScript library, no CDN, nothing fetched, so
the page opens from disk with the network off. Output is byte-stable (fixed ``svg.hashsalt``,
no date metadata, text kept as text). A chart whose resource or columns are absent in this
release is a visible "not in this release" panel, never a crash. The figures each chart shows
are also written as a JSON block (``id="figures"``) so tests can check them against the data.
"""
from __future__ import annotations

import html
import io
import json
import logging
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

NAME = "overview.html"
MONTHLY_SOURCE = "bts_dot1_monthly"
TOP_PORTS = 5
TOP_N = 15


class Missing(Exception):
    """A chart's input is not in this release; the message says what is missing."""


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"svg.hashsalt": "city-commitments", "svg.fonttype": "none", "font.size": 9,
                         "axes.spines.top": False, "axes.spines.right": False, "figure.dpi": 100})
    return plt


def _svg(fig) -> str:
    plt = _plt()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


# While ``render`` runs: what the charts read and derive, by key, so that each input is read
# (and each shared figure computed) once per page. None outside ``render``: no stale frames.
_memo: dict | None = None


def _memoized(key, compute):
    if _memo is None:
        return compute()
    if key not in _memo:
        _memo[key] = compute()
    return _memo[key]


def _read(data: Path, name: str, columns: list[str] | None = None) -> pd.DataFrame:
    """A release table (``columns`` of it) as pandas; the charts never modify what they read."""
    return _memoized(("read", data, name, tuple(columns) if columns is not None else None),
                     lambda: _read_parquet(data, name, columns))


def _read_parquet(data: Path, name: str, columns: list[str] | None) -> pd.DataFrame:
    path = data / f"{name}.parquet"
    if not path.exists():
        raise Missing(f"resource `{name}` is not in this release")
    import pyarrow.parquet as pq
    have = pq.read_schema(path).names
    absent = [c for c in columns or [] if c not in have]
    if absent:
        raise Missing(f"`{name}` has no column {', '.join(f'`{c}`' for c in absent)} in this release")
    return pd.read_parquet(path, columns=columns)


def _names(data: Path) -> pd.Series:
    return _memoized(("names", data), lambda: _place_labels(data))


def _place_labels(data: Path) -> pd.Series:
    c = _read(data, "cities", ["city_id", "name", "admin1", "country_iso3"])
    # US places by state ("Laredo, TX"); elsewhere admin1 codes are opaque numbers, so the country.
    where = c["admin1"].astype("string").where(c["country_iso3"] == "USA", c["country_iso3"].astype("string"))
    label = c["name"].astype(str) + where.fillna("").map(lambda a: f", {a}" if a else "")
    return pd.Series(label.values, index=c["city_id"].astype(str))


# --- figures (data only: tested against the release without drawing) ----------------------

def monthly_trade(data: Path) -> dict:
    """Monthly trade (exports + imports) with MEX and CAN of the top port cities, one source.

    Months the source does not cover (trade_coverage) are NaN, drawn as gaps, never as zeros.
    """
    f = _read(data, "trade_flows", ["source_id", "city_id", "partner_country_iso3", "flow",
                                    "period_start", "period_end", "value_usd", "year"])
    f = f[(f["source_id"] == MONTHLY_SOURCE) & f["partner_country_iso3"].isin(["MEX", "CAN"])
          & f["year"].between(2020, 2024) & f["city_id"].notna()]
    if f.empty:
        raise Missing(f"no monthly trade rows of `{MONTHLY_SOURCE}` for 2020–2024 in this release")
    f = f.assign(city_id=f["city_id"].astype(str), month=pd.to_datetime(f["period_start"]).dt.strftime("%Y-%m"))
    months = [f"{y}-{m:02d}" for y in range(2020, 2025) for m in range(1, 13)]
    covered = _covered_months(data, f)
    top = f.groupby("city_id")["value_usd"].sum().sort_values(ascending=False, kind="stable")
    top = list(top.index[:TOP_PORTS])
    names = _names(data)
    series = {}
    for partner in ("MEX", "CAN"):
        sub = f[(f["partner_country_iso3"] == partner) & f["city_id"].isin(top)]
        table = sub.pivot_table(index="month", columns="city_id", values="value_usd", aggfunc="sum")
        table = table.reindex(index=months, columns=top).fillna(0.0)
        table[~table.index.isin(covered)] = float("nan")
        series[partner] = {names.get(c, c): [None if pd.isna(v) else float(v) for v in table[c]] for c in top}
    return {"months": months, "covered": sorted(covered), "series": series, "source_id": MONTHLY_SOURCE,
            "coverage_from": "trade_coverage" if _has(data, "trade_coverage") else "months with rows"}


def _has(data: Path, name: str) -> bool:
    return (data / f"{name}.parquet").exists()


def _covered_months(data: Path, flows: pd.DataFrame) -> set[str]:
    if _has(data, "trade_coverage"):
        cov = _read(data, "trade_coverage", ["source_id", "year", "months"])
        cov = cov[cov["source_id"] == MONTHLY_SOURCE]
        return {f"{int(y)}-{m}" for y, ms in zip(cov["year"], cov["months"]) if isinstance(ms, str)
                for m in ms.split(";") if m}
    return set(flows["month"])


def _complete_year(data: Path, flows: pd.DataFrame) -> int | None:
    if _has(data, "trade_coverage"):
        cov = _read(data, "trade_coverage", ["source_id", "year", "complete_year"])
        years = cov.loc[(cov["source_id"] == MONTHLY_SOURCE) & cov["complete_year"].astype(bool), "year"]
        return int(years.max()) if len(years) else None
    per_year = flows.groupby("year")["period_start"].nunique()
    full = per_year[per_year == 12]
    return int(full.index.max()) if len(full) else None


def headline(data: Path) -> dict:
    """Climate Mayors cities trading most with Mexico in the latest complete year, and their
    Mexican sister cities (the README's headline question, docs/examples/climate_mayors_mexico.py)."""
    f = _read(data, "trade_flows", ["source_id", "city_id", "partner_country_iso3", "flow", "value_usd", "year",
                                    "period_start"])
    f = f[(f["source_id"] == MONTHLY_SOURCE) & (f["partner_country_iso3"] == "MEX") & f["city_id"].notna()]
    year = _complete_year(data, f)
    if year is None:
        raise Missing(f"no complete year of `{MONTHLY_SOURCE}` in this release")
    f = f[f["year"] == year].assign(city_id=lambda d: d["city_id"].astype(str))
    ini = _read(data, "initiatives", ["initiative_id", "name"])
    pledges = _read(data, "pledges", ["city_id", "initiative_id"])
    mayors = pledges.loc[pledges["initiative_id"].isin(ini.loc[ini["name"] == "Climate Mayors", "initiative_id"]),
                         "city_id"].astype(str).unique()
    f = f[f["city_id"].isin(mayors)]
    per = f.pivot_table(index="city_id", columns="flow", values="value_usd", aggfunc="sum", observed=True).reindex(
        columns=["export", "import"]).fillna(0.0)
    per["total"] = per["export"] + per["import"]
    per = per.sort_values("total", ascending=False, kind="stable").head(TOP_N)
    cities = _read(data, "cities", ["city_id", "name", "country_iso3"])
    p = _read(data, "partnerships", ["city_a_id", "city_b_id"]).astype(str)
    pairs = pd.concat([p.set_axis(["city_id", "partner"], axis=1), p[["city_b_id", "city_a_id"]].set_axis(
        ["city_id", "partner"], axis=1)])
    mex = cities.loc[cities["country_iso3"] == "MEX", ["city_id", "name"]].astype(str).set_axis(["partner", "sister"], axis=1)
    sisters = pairs.merge(mex, on="partner").groupby("city_id")["sister"].agg(lambda s: "; ".join(sorted(s)))
    names = _names(data)
    rows = [{"city_id": c, "name": names.get(c, c), "export_usd": float(r["export"]), "import_usd": float(r["import"]),
             "mexican_sister_cities": sisters.get(c)} for c, r in per.iterrows()]
    return {"year": year, "source_id": MONTHLY_SOURCE, "rows": rows}


def pledges_by(data: Path, by: str) -> dict:
    """Distinct places per initiative (or per country), Sep vs Dec 2022 vintages."""
    p = _read(data, "pledges", ["as_of", "city_id", "initiative_id"])
    p = p.assign(as_of=pd.to_datetime(p["as_of"]).dt.strftime("%Y-%m-%d"), city_id=p["city_id"].astype(str))
    if by == "initiative":
        ini = _read(data, "initiatives", ["initiative_id", "name"])
        p = p.merge(ini, on="initiative_id", how="left").assign(key=lambda d: d["name"].fillna(d["initiative_id"]))
    else:
        c = _read(data, "cities", ["city_id", "country_iso3"]).astype(str)
        p = p.merge(c, on="city_id", how="left").assign(key=lambda d: d["country_iso3"].fillna("?"))
    t = p.drop_duplicates(["as_of", "key", "city_id"]).groupby(["key", "as_of"]).size().unstack(fill_value=0)
    t = t.reindex(columns=["2022-09-30", "2022-12-31"], fill_value=0)
    t = t.assign(_m=t.max(axis=1)).sort_values(["_m"], ascending=False, kind="stable").drop(columns="_m").head(TOP_N)
    return {"by": by, "rows": [{"key": str(k), "sep_2022": int(r["2022-09-30"]), "dec_2022": int(r["2022-12-31"])}
                               for k, r in t.iterrows()]}


def partnership_tops(data: Path) -> dict:
    return _memoized(("partnership_tops", data), lambda: _partnership_tops(data))


def _partnership_tops(data: Path) -> dict:
    p = _read(data, "partnerships", ["city_a_id", "city_b_id"]).astype(str)
    c = _read(data, "cities", ["city_id", "country_iso3"]).astype(str)
    iso = c.set_index("city_id")["country_iso3"]
    a, b = p["city_a_id"].map(iso).fillna("?"), p["city_b_id"].map(iso).fillna("?")
    pair = (a.where(a <= b, b) + "–" + b.where(a <= b, a)).value_counts().sort_index()
    pair = pair.sort_values(ascending=False, kind="stable").head(TOP_N)
    deg = pd.concat([p["city_a_id"], p["city_b_id"]]).value_counts().sort_index()
    deg = deg.sort_values(ascending=False, kind="stable").head(TOP_N)
    names = _names(data)
    return {"country_pairs": [[k, int(v)] for k, v in pair.items()],
            "cities": [[names.get(k, k), int(v)] for k, v in deg.items()]}


def places(data: Path) -> dict:
    c = _read(data, "cities", ["latitude", "longitude", "country_iso3"])
    c = c.dropna(subset=["latitude", "longitude"])
    return {"n": int(len(c)), "lat": c["latitude"].astype(float).round(2).tolist(),
            "lon": c["longitude"].astype(float).round(2).tolist(), "countries": int(c["country_iso3"].nunique())}


def resolution(stage: Path) -> dict:
    q = stage / "quality.json"
    if not q.exists():
        raise Missing("quality.json (place resolution) is not in this release")
    pr = json.loads(q.read_text(encoding="utf-8")).get("place_resolution") or {}
    keys = ["resolved_pct", "ambiguous_pct", "unresolved_pct", "not_a_city_pct"]
    rows = {s: {k: float(v.get(k, 0.0)) for k in keys} for s, v in sorted(pr.items())
            if not s.startswith("_") and isinstance(v, dict)}
    if not rows:
        raise Missing("quality.json has no place resolution")
    return {"sources": rows}


def exclusions(data: Path) -> dict:
    e = _read(data, "exclusions", ["source_id", "reason"]).astype(str)
    # Reasons that name a value ("city2 'X' names no country") are one reason per value: group by the form.
    form = e["reason"].str.replace(r"'[^']*'", "'…'", regex=True)
    t = (e.assign(reason=form).groupby(["source_id", "reason"]).size().rename("rows").reset_index()
         .sort_values(["rows", "source_id", "reason"], ascending=[False, True, True], kind="stable"))
    return {"total": int(len(e)), "rows": [[s, r, int(n)] for s, r, n in t.head(TOP_N).itertuples(index=False)]}


# --- drawing --------------------------------------------------------------------------------

def _foot(ax, text: str):
    ax.figure.text(0.0, -0.02, text, fontsize=7, color="#555", ha="left", va="top", transform=ax.figure.transFigure)


def draw_monthly(fig_data: dict, foot: str) -> str:
    plt = _plt()
    fig, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    x = pd.to_datetime(pd.Series(fig_data["months"]) + "-01")
    for ax, partner, label in zip(axes, ("MEX", "CAN"), ("Mexico", "Canada")):
        for name, values in fig_data["series"][partner].items():
            ax.plot(x, [float("nan") if v is None else v / 1e9 for v in values], label=name, lw=1.3)
        ax.set_ylabel(f"trade with {label}\n(billion USD / month)")
        ax.set_title(f"Exports + imports with {label}", loc="left", fontsize=9)
    axes[1].set_xlabel("month")
    axes[0].legend(fontsize=7, ncols=2, frameon=False)
    _foot(axes[1], foot)
    return _svg(fig)


def draw_hbars(labels: list[str], series: dict[str, list[float]], xlabel: str, foot: str, stacked=False) -> str:
    plt = _plt()
    import numpy as np
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(labels) + 1.2))
    y = np.arange(len(labels))
    h = 0.8 / (1 if stacked else len(series))
    left = np.zeros(len(labels))
    for i, (name, values) in enumerate(series.items()):
        if stacked:
            ax.barh(y, values, left=left, height=0.7, label=name)
            left = left + np.asarray(values)
        else:
            ax.barh(y + (i - (len(series) - 1) / 2) * h, values, height=h, label=name)
    if all(float(v).is_integer() for vs in series.values() for v in vs):
        from matplotlib.ticker import MaxNLocator
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_yticks(y, [lab if len(lab) <= 60 else lab[:57] + "…" for lab in labels])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    if len(series) > 1:
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _foot(ax, foot)
    return _svg(fig)


def draw_map(fig_data: dict, foot: str) -> str:
    """Points on a graticule (equirectangular): no country outline ships offline with our pins."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 4.6))
    for lon in range(-180, 181, 30):
        ax.axvline(lon, color="#ddd", lw=0.5, zorder=0)
    for lat in range(-90, 91, 30):
        ax.axhline(lat, color="#ddd", lw=0.5, zorder=0)
    ax.scatter(fig_data["lon"], fig_data["lat"], s=1.5, c="#1f77b4", alpha=0.5, lw=0, rasterized=True)
    ax.set_xlim(-180, 180)
    ax.set_ylim(-90, 90)
    ax.set_aspect("equal")
    ax.set_xlabel("longitude (degrees)")
    ax.set_ylabel("latitude (degrees)")
    _foot(ax, foot)
    fig.set_dpi(110)
    return _svg(fig)


# --- page ----------------------------------------------------------------------------------

CSS = """body{font:14px/1.4 system-ui,sans-serif;max-width:980px;margin:1em auto;padding:0 1em;color:#222}
section{border-top:1px solid #ccc;margin:1.5em 0;padding-top:.5em}
section.missing{background:#fff6e0;border:1px dashed #c90;padding:.8em}
.chart svg{max-width:100%;height:auto}table{border-collapse:collapse;font-size:12px}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}td.n{text-align:right}small{color:#555}"""

# Tells the browser test (and a curious reader) that every chart drew: sizes land on <body>.
SCRIPT = """window.addEventListener('error',function(e){document.body.setAttribute('data-errors',
(document.body.getAttribute('data-errors')||'')+e.message+';');});
window.addEventListener('load',function(){var out=[];
document.querySelectorAll('section.chart').forEach(function(s){var g=s.querySelector('svg');
var r=g?g.getBoundingClientRect():{width:0,height:0};var n=g?g.querySelectorAll('path,use,image,text').length:0;
out.push(s.id+':'+Math.round(r.width)+'x'+Math.round(r.height)+':'+n);});
document.body.setAttribute('data-rendered',out.join(' '));});"""


def _table(head: list[str], rows: list[list]) -> str:
    def cell(v):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return f'<td class="n">{v:,.0f}</td>' if float(v).is_integer() or abs(v) > 100 else f'<td class="n">{v:.2f}</td>'
        return f"<td>{html.escape('' if v is None else str(v))}</td>"
    body = "".join("<tr>" + "".join(cell(v) for v in r) + "</tr>" for r in rows)
    return ("<details><summary>the figures</summary><table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head)
            + f"</tr>{body}</table></details>")


def _charts(stage: Path, version: str, sources: dict[str, str]) -> list[tuple[str, str, callable]]:
    data = stage / "data"

    def foot(*ids):
        names = "; ".join(f"{sources.get(i, i)} ({i})" for i in ids)
        return f"Source: {names}. City Commitments release {version}."

    def c_monthly():
        d = monthly_trade(data)
        svg = draw_monthly(d, foot(d["source_id"]) + f" Gaps: months not covered ({d['coverage_from']}).")
        rows = [[p, n, sum(v for v in vals if v is not None)] for p in d["series"] for n, vals in d["series"][p].items()]
        return d, svg + _table(["partner", "port city", "USD 2020–2024 (covered months)"], rows)

    def c_headline():
        d = headline(data)
        labels = [r["name"] + (" ★ " + r["mexican_sister_cities"] if r["mexican_sister_cities"] else " (no Mexican sister city)")
                  for r in d["rows"]]
        svg = draw_hbars(labels, {"exports": [r["export_usd"] / 1e9 for r in d["rows"]],
                                  "imports": [r["import_usd"] / 1e9 for r in d["rows"]]},
                         f"trade with Mexico in {d['year']} (billion USD)",
                         foot(d["source_id"], "climactor_dec2022", "climactor_sep2022", "twin_cities"), stacked=True)
        return d, svg + _table(["city", "exports USD", "imports USD", "Mexican sister cities"],
                               [[r["name"], r["export_usd"], r["import_usd"], r["mexican_sister_cities"]] for r in d["rows"]])

    def c_pledges(by):
        def f():
            d = pledges_by(data, by)
            svg = draw_hbars([r["key"] for r in d["rows"]],
                             {"Sep 2022": [r["sep_2022"] for r in d["rows"]], "Dec 2022": [r["dec_2022"] for r in d["rows"]]},
                             "places with a pledge (count)", foot("climactor_sep2022", "climactor_dec2022"))
            return d, svg + _table([by, "Sep 2022", "Dec 2022"], [[r["key"], r["sep_2022"], r["dec_2022"]] for r in d["rows"]])
        return f

    def c_pairs():
        d = partnership_tops(data)
        svg = draw_hbars([k for k, _ in d["country_pairs"]], {"pairs": [v for _, v in d["country_pairs"]]},
                         "partnerships (count of city pairs)", foot("twin_cities"))
        return d, svg + _table(["country pair", "partnerships"], d["country_pairs"])

    def c_partners():
        d = partnership_tops(data)
        svg = draw_hbars([k for k, _ in d["cities"]], {"partners": [v for _, v in d["cities"]]},
                         "partner places (count)", foot("twin_cities"))
        return d, svg + _table(["place", "partners"], d["cities"])

    def c_map():
        d = places(data)
        svg = draw_map(d, foot("geonames") + f" {d['n']:,} places with coordinates in {d['countries']} countries;"
                       " graticule every 30°, no basemap.")
        return {"n": d["n"], "countries": d["countries"]}, svg

    def c_resolution():
        d = resolution(stage)
        labels = list(d["sources"])
        kinds = ["resolved_pct", "ambiguous_pct", "unresolved_pct", "not_a_city_pct"]
        svg = draw_hbars(labels, {k.removesuffix("_pct").replace("_", " "): [d["sources"][s][k] for s in labels] for k in kinds},
                         "share of place mentions (%)", f"Source: quality.json of release {version}.", stacked=True)
        return d, svg + _table(["source", *kinds], [[s, *[d["sources"][s][k] for k in kinds]] for s in labels])

    def c_exclusions():
        d = exclusions(data)
        svg = draw_hbars([f"{s}: {r}" for s, r, _ in d["rows"]], {"rows": [n for *_, n in d["rows"]]},
                         "excluded source rows (count)", f"Source: exclusions resource of release {version}"
                         f" ({d['total']:,} rows in all).")
        return d, svg + _table(["source", "reason", "rows"], d["rows"])

    return [
        ("trade-monthly", "Trade with Mexico and Canada by month, 2020–2024, top port cities", c_monthly),
        ("headline", "Climate Mayors cities trading most with Mexico, and their Mexican sister cities", c_headline),
        ("pledges-initiative", "Pledges per initiative, Sep vs Dec 2022", c_pledges("initiative")),
        ("pledges-country", "Pledges per country, Sep vs Dec 2022", c_pledges("country")),
        ("partnership-pairs", "Partnerships: top country pairs", c_pairs),
        ("partnership-cities", "Partnerships: places with the most partners", c_partners),
        ("map", "Map of places", c_map),
        ("resolution", "Data quality: place resolution per source", c_resolution),
        ("exclusions", "Data quality: exclusions per reason", c_exclusions),
    ]


def _missing(cid: str, title: str, why_html: str) -> str:
    return f'<section class="missing" id="{cid}"><h2>{html.escape(title)}</h2><p>{why_html}</p></section>'


def render(stage: Path, version: str) -> str:
    global _memo
    _memo = {}
    try:
        return _render(stage, version)
    finally:
        _memo = None


def _render(stage: Path, version: str) -> str:
    from etl import schema
    sources = {s.get("id", s.get("name")): s.get("title", s.get("id", s.get("name")))
               for s in schema.descriptor().get("sources", [])}
    sources.setdefault("geonames", "GeoNames gazetteer")
    figures, parts = {}, []
    for cid, title, make in _charts(stage, version, sources):
        try:
            d, body = make()
        except Missing as why:
            figures[cid] = None
            parts.append(_missing(cid, title, f"<b>Not in this release:</b> {html.escape(str(why))}."))
            continue
        except Exception as err:  # a page must never stop a release: say so on the page and in the log
            log.warning("overview: chart %s could not be drawn: %r", cid, err)
            figures[cid] = None
            parts.append(_missing(cid, title, f"<b>Could not be drawn from this release:</b> {html.escape(repr(err))}."))
            continue
        figures[cid] = d
        parts.append(f'<section class="chart" id="{cid}"><h2>{html.escape(title)}</h2>{body}</section>')
    fig_json = json.dumps(figures, ensure_ascii=False, sort_keys=True, allow_nan=False).replace("</", "<\\/")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>City Commitments {version}: overview'
            f'</title><meta name="viewport" content="width=device-width"><style>{CSS}</style></head><body>'
            f"<h1>City Commitments {html.escape(version)}: overview</h1><p>Generated by <code>make publish</code> from this"
            " release's own files. Charts are drawn with matplotlib; open <code>data/</code> for the tables and"
            " <code>quality.md</code> for the checks. Never sum trade across <code>source_id</code>.</p>"
            + "".join(parts) + f'<script type="application/json" id="figures">{fig_json}</script>'
            f"<script>{SCRIPT}</script></body></html>\n")


def write(stage: Path, version: str) -> Path:
    """Write ``stage/overview.html`` (atomically) and return its path."""
    out = stage / NAME
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(render(stage, version), encoding="utf-8")
    tmp.replace(out)
    return out
