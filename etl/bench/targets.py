"""The measured figures against the project's targets (cold/no-op publish time, peak RSS, 100x growth)."""
from __future__ import annotations


GB = 1024.0


def targets(results: dict) -> list[dict]:
    cold, noop = results.get("cold_publish"), results.get("noop_publish")
    scale = {s["factor"]: s for s in results.get("scale", []) if s.get("rc") == 0}
    out = []

    def add(name, value, limit, unit, met):
        out.append({"target": name, "value": value, "limit": limit, "unit": unit, "met": met})

    if cold:
        add("cold make publish from the mirror", cold["wall_s"], 30, "s", cold["rc"] == 0 and cold["wall_s"] <= 30)
    if noop:
        add("no-op make publish", noop["wall_s"], 1, "s",
            noop["rc"] == 0 and noop["wall_s"] <= 1 and not noop.get("stages_run"))
    rss_1x = [x for x in ((cold or {}).get("peak_rss_mb") if cold and cold["rc"] == 0 else None,
                          scale.get(1, {}).get("peak_rss_mb")) if x is not None]
    if rss_1x:
        add("peak RSS at 1x (max of cold publish and 1x data stages)", max(rss_1x), 1.5 * GB, "MB",
            max(rss_1x) <= 1.5 * GB)
    killed = {s["factor"]: s for s in results.get("scale", []) if s.get("killed_over_rss_mb")}
    if 100 in scale:
        peak = scale[100]["peak_rss_mb"]
        add("peak RSS at 100x (data stages)", peak, 4 * GB, "MB", peak <= 4 * GB)
    elif 100 in killed:
        add("peak RSS at 100x (data stages; killed at the guard)", killed[100]["peak_rss_mb"], 4 * GB, "MB", False)
    if 1 in scale and 100 in scale:
        t1, t100 = scale[1]["data_stages_s"], scale[100]["data_stages_s"]
        add("data stages at 100x <= 100 x 1x", t100, round(100 * t1, 2), "s", t100 <= 100 * t1)
    elif 1 in scale and 100 in killed and len(scale) >= 2:
        # Not measured: projected linearly from the last interval that ran (met stays unknown).
        runs = sorted(scale.values(), key=lambda s: s["factor"])
        a, b = runs[-2], runs[-1]
        slope = (b["data_stages_s"] - a["data_stages_s"]) / (b["factor"] - a["factor"])
        add(f"data stages at 100x <= 100 x 1x (100x killed: projected from {a['factor']}x-{b['factor']}x)",
            round(b["data_stages_s"] + slope * (100 - b["factor"]), 1), round(100 * scale[1]["data_stages_s"], 2),
            "s", None)
    return out
