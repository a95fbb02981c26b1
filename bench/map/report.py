#!/usr/bin/env python3
"""Map benchmark report: table (stdout), JSON and SVG chart, and the map's goals
(faster than Go in every cell; geometric mean no slower than absl;
memory per entry no worse than Go's)."""
import json
import math
import re
import statistics
import sys

raw, meta, json_out, svg_out = sys.argv[1:5]
WORKLOADS = ["insert", "insert_hint", "hit", "miss", "iterate", "delete", "str_insert", "str_hit"]
ORDER = ["gort", "go", "absl", "std", "uthash", "stb_ds", "glib"]
runs = {}  # (impl, n, workload) -> [value of each run]
errors = set()
for line in open(raw):
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    if line.startswith("ERROR"):
        errors.add((kv["impl"], int(kv["n"])))
    elif line.startswith("RESULT"):
        v = float(kv.get("ns_per_op", kv.get("value", "nan")))
        runs.setdefault((kv["impl"], int(kv["n"]), kv["workload"]), []).append(v)
res = {k: statistics.median(v) for k, v in runs.items()}  # each cell: the median of its runs
nruns = {}  # impl -> runs per cell (the most any of its cells has)
for (i, n, w), v in runs.items():
    nruns[i] = max(nruns.get(i, 0), len(v))
impls = [i for i in ORDER if any(k[0] == i for k in res)]
ns = sorted({k[1] for k in res})
meta_lines = open(meta).read().strip().splitlines()

def fmt_n(n):
    e = int(round(math.log10(n)))
    return f"1e{e}" if 10 ** e == n else str(n)

print("Map benchmark: ns/op (lower is better); mem = bytes per entry (u64->u64, no hint)")
for l in meta_lines:
    print("  " + l)
if any(r > 1 for r in nruns.values()):
    print("  each cell: the median of " + ", ".join(f"{r} run{'s' if r > 1 else ''} of {i}" for i, r in nruns.items()))
cols = WORKLOADS + ["mem"]
for n in ns:
    print(f"\nN = {fmt_n(n)}")
    print(f"{'impl':<8}" + "".join(f"{c:>12}" for c in cols))
    for i in impls:
        row = f"{i:<8}"
        for c in cols:
            v = res.get((i, n, "bytes_per_entry" if c == "mem" else c))
            row += f"{'error' if (i, n) in errors else '-':>12}" if v is None else f"{v:>12.2f}"
        print(row)

# goals
goals = {"faster_than_go": [], "geomean_vs_absl": None, "memory_vs_go": []}
lines = []
if "gort" in impls and "go" in impls:
    slower = []
    for n in ns:
        for w in WORKLOADS:
            g, o = res.get(("gort", n, w)), res.get(("go", n, w))
            if g is not None and o is not None:
                goals["faster_than_go"].append({"n": n, "workload": w, "gort": g, "go": o, "ratio": g / o})
                if g >= o:
                    slower.append(f"{w}@{fmt_n(n)} ({g:.2f} vs {o:.2f})")
    lines.append("faster than Go in every cell: " + ("MET" if not slower else "MISSED in " + ", ".join(slower)))
    worse = []
    for n in ns:
        g, o = res.get(("gort", n, "bytes_per_entry")), res.get(("go", n, "bytes_per_entry"))
        if g is not None and o is not None:
            goals["memory_vs_go"].append({"n": n, "gort": g, "go": o})
            if g > o:
                worse.append(f"{fmt_n(n)} ({g:.1f} vs {o:.1f})")
    lines.append("memory per entry no worse than Go: " + ("MET" if not worse else "MISSED at " + ", ".join(worse)))
if "gort" in impls and "absl" in impls:
    logs = []
    for n in ns:
        for w in WORKLOADS:
            g, a = res.get(("gort", n, w)), res.get(("absl", n, w))
            if g is not None and a is not None:
                logs.append(math.log(g / a))
    if logs:
        gm = math.exp(sum(logs) / len(logs))
        goals["geomean_vs_absl"] = gm
        lines.append(f"geomean gort/absl over {len(logs)} cells: {gm:.3f} -> " + ("MET" if gm <= 1 else "MISSED"))
for i in impls:
    if i == "gort" or "go" not in impls:
        continue
print("\nGoals:")
for l in lines:
    print("  " + l)
# geomean of every impl relative to gort, for context
print("\nGeomean ns/op relative to gort (all cells both have):")
for i in impls:
    logs = [math.log(res[(i, n, w)] / res[("gort", n, w)]) for n in ns for w in WORKLOADS
            if (i, n, w) in res and ("gort", n, w) in res]
    if logs:
        print(f"  {i:<8}{math.exp(sum(logs) / len(logs)):8.2f}x")

json.dump({"meta": meta_lines, "workloads": WORKLOADS, "ns": ns, "impls": impls,
           "results": [{"impl": i, "n": n, "workload": w, "value": v, "runs": runs[(i, n, w)]}
                       for (i, n, w), v in sorted(res.items())],
           "errors": [{"impl": i, "n": n} for i, n in sorted(errors)], "goals": goals},
          open(json_out, "w"), indent=1)

# SVG: one panel per N, grouped bars per workload, log-scale ns/op
colors = {"gort": "#d62728", "go": "#1f77b4", "absl": "#2ca02c", "std": "#9467bd", "uthash": "#8c564b",
          "stb_ds": "#e377c2", "glib": "#7f7f7f"}
pw, ph, top, left = 900, 260, 40, 60
H = top + len(ns) * (ph + 50) + 40
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{pw + left + 140}" height="{H}" font-family="sans-serif" font-size="11">',
       f'<text x="{left}" y="20" font-size="14">gort map vs peers: ns/op (log scale, lower is better)</text>']
allv = [v for (i, n, w), v in res.items() if w in WORKLOADS and v > 0]
lo, hi = math.log10(max(min(allv), 0.1)) if allv else 0, math.log10(max(allv)) if allv else 1
lo, hi = math.floor(lo), math.ceil(hi)
for pi, n in enumerate(ns):
    y0 = top + pi * (ph + 50)
    out.append(f'<text x="{left}" y="{y0 + 12}" font-size="12">N = {fmt_n(n)}</text>')
    yb = y0 + 20 + ph
    for d in range(lo, hi + 1):
        y = yb - (d - lo) / (hi - lo) * ph
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end">{10 ** d:g}</text>')
    gw = pw / len(WORKLOADS)
    bw = (gw - 10) / max(1, len(impls))
    for wi, w in enumerate(WORKLOADS):
        x0 = left + wi * gw + 5
        out.append(f'<text x="{x0 + gw / 2 - 5:.1f}" y="{yb + 14}" text-anchor="middle">{w}</text>')
        for ii, i in enumerate(impls):
            v = res.get((i, n, w))
            if v is None or v <= 0:
                continue
            h = (math.log10(v) - lo) / (hi - lo) * ph
            out.append(f'<rect x="{x0 + ii * bw:.1f}" y="{yb - h:.1f}" width="{bw - 1:.1f}" height="{h:.1f}" '
                       f'fill="{colors.get(i, "#000")}"><title>{i} {w} N={fmt_n(n)}: {v:.2f} ns/op</title></rect>')
for ii, i in enumerate(impls):
    y = top + 30 + ii * 18
    out.append(f'<rect x="{left + pw + 20}" y="{y - 10}" width="12" height="12" fill="{colors.get(i, "#000")}"/>')
    out.append(f'<text x="{left + pw + 38}" y="{y}">{i}</text>')
out.append("</svg>")
open(svg_out, "w").write("\n".join(out))
print(f"\nwrote {json_out} and {svg_out}")
