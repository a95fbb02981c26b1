#!/usr/bin/env python3
"""Makes one HTML page of gort's heap snapshots over time, with a slider.

    GORT_HEAPVIEW=heap.svg GORT_HEAPVIEW_EVERY=1s LD_PRELOAD=libgort-malloc.so ./prog
    python3 tools/heapview_live.py heap.svg heap.html [--max N]

The drop-in writes heap.1.svg + heap.1.json, heap.2.svg + heap.2.json, ... (a picture and
gort_stats_print_json's counters, every period) and heap.svg at exit. The page shows one
snapshot at a time (the slider, the arrow keys, or "play"), its counters, and a chart of
the heap's size and its live bytes over time. --max N keeps N snapshots, evenly spaced.
The page needs no network and no library: plain HTML, SVG and a little JavaScript.
"""
import argparse
import html
import json
import os
import re
import sys


def snapshots(base):
    """[(n, svg text, stats dict)] sorted by n, for base.n.svg with base.n.json."""
    d = os.path.dirname(base) or "."
    pre = os.path.basename(base) + "."
    out = []
    for f in os.listdir(d):
        m = re.fullmatch(re.escape(pre) + r"(\d+)\.svg", f)
        if not m:
            continue
        n = int(m.group(1))
        js = os.path.join(d, "%s%d.json" % (pre, n))
        if not os.path.exists(js):
            continue
        with open(os.path.join(d, f)) as fh:
            svg = fh.read()
        with open(js) as fh:
            stats = json.load(fh)
        out.append((n, svg, stats))
    out.sort()
    return out


def inline(svg, k):
    """An SVG document as an element of the page: no XML declaration, ids made unique."""
    svg = re.sub(r"^<\?xml[^>]*\?>\s*", "", svg)
    svg = svg.replace('id="', 'id="s%d-' % k).replace("url(#", "url(#s%d-" % k)
    return svg


def chart(snaps, width=760, height=120):
    """Heap size and live bytes over time, as an SVG polyline chart; a marker (id=mark)."""
    ts = [s["t_ms"] for _, _, s in snaps]
    sysb = [s["stats"]["heap_sys"] for _, _, s in snaps]
    live = [s["stats"]["heap_alloc"] for _, _, s in snaps]
    t0, t1 = min(ts), max(ts)
    top = max(sysb + [1])

    def pts(vals):
        return " ".join("%.1f,%.1f" % (10 + (t - t0) / max(t1 - t0, 1) * (width - 20),
                                       height - 20 - v / top * (height - 40)) for t, v in zip(ts, vals))
    return ('<svg id="chart" width="%d" height="%d" font-family="sans-serif" font-size="11">'
            '<polyline points="%s" fill="none" stroke="#888" stroke-width="2"/>'
            '<polyline points="%s" fill="none" stroke="#2a7" stroke-width="2"/>'
            '<line id="mark" x1="10" x2="10" y1="10" y2="%d" stroke="#c33"/>'
            '<text x="10" y="%d">grey: heap (HeapSys), green: live objects (HeapAlloc); %.1f MiB at the top; '
            '%.1f s</text></svg>'
            % (width, height, pts(sysb), pts(live), height - 20, height - 4, top / 2**20, (t1 - t0) / 1000))


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>gort heap</title>
<style>
body {{ font-family: sans-serif; margin: 16px; }}
#controls {{ margin: 8px 0; }}
#slider {{ width: 600px; vertical-align: middle; }}
#stats {{ font-size: 13px; margin: 6px 0; }}
.snap[hidden] {{ display: none; }}
</style></head>
<body>
<h2>gort heap over time: {n} snapshots</h2>
{chart}
<div id="controls"><input type="range" id="slider" min="0" max="{last}" value="{last}" step="1">
<button id="play">play</button> <span id="label"></span></div>
<div id="stats"></div>
<div id="snapshots">
{snaps}
</div>
<script>
"use strict";
window.onerror = function (msg) {{ document.title = "error: " + msg; }};
const stats = {stats};
const t0 = stats[0].t_ms, t1 = stats[stats.length - 1].t_ms;
const snaps = document.querySelectorAll(".snap");
const slider = document.getElementById("slider");
const mib = b => (b / 1048576).toFixed(1) + " MiB";
function show(i) {{
  snaps.forEach((s, k) => {{ s.hidden = k !== i; }});
  const s = stats[i].stats;
  document.getElementById("label").textContent =
    "snapshot " + (i + 1) + " of " + stats.length + " at " + (stats[i].t_ms / 1000).toFixed(2) + " s";
  document.getElementById("stats").textContent =
    "heap " + mib(s.heap_sys) + ", in use " + mib(s.heap_inuse) + ", live objects " + mib(s.heap_alloc) +
    " (" + s.heap_objects + "), released " + mib(s.heap_released) + ", mallocs " + s.mallocs + ", frees " + s.frees;
  const x = 10 + (stats[i].t_ms - t0) / Math.max(t1 - t0, 1) * 740;
  const m = document.getElementById("mark");
  m.setAttribute("x1", x); m.setAttribute("x2", x);
}}
slider.addEventListener("input", () => show(+slider.value));
document.addEventListener("keydown", e => {{
  if (e.key === "ArrowLeft" && +slider.value > 0) slider.value = +slider.value - 1;
  else if (e.key === "ArrowRight" && +slider.value < stats.length - 1) slider.value = +slider.value + 1;
  else return;
  show(+slider.value);
}});
let timer = null;
document.getElementById("play").addEventListener("click", () => {{
  if (timer) {{ clearInterval(timer); timer = null; return; }}
  slider.value = 0; show(0);
  timer = setInterval(() => {{
    if (+slider.value >= stats.length - 1) {{ clearInterval(timer); timer = null; return; }}
    slider.value = +slider.value + 1; show(+slider.value);
  }}, 500);
}});
show(stats.length - 1);
if (!document.title.startsWith("error")) document.title = "gort heap: " + snaps.length + " snapshots";
</script>
</body></html>
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("heapview", help="GORT_HEAPVIEW's file name (heap.svg: snapshots heap.N.svg, heap.N.json)")
    ap.add_argument("out", help="the HTML page to write")
    ap.add_argument("--max", type=int, default=0, help="keep at most this many snapshots, evenly spaced")
    a = ap.parse_args()
    base = a.heapview[:-4] if a.heapview.endswith(".svg") else a.heapview
    snaps = snapshots(base)
    if not snaps:
        sys.exit("heapview_live: no snapshots %s.N.svg with %s.N.json (was GORT_HEAPVIEW_EVERY set?)" % (base, base))
    if a.max and len(snaps) > a.max:
        step = (len(snaps) - 1) / max(a.max - 1, 1)
        snaps = [snaps[round(i * step)] for i in range(a.max)]
    body = "\n".join('<div class="snap" data-n="%d"%s>%s</div>' % (n, "" if k == len(snaps) - 1 else " hidden",
                                                                  inline(svg, k))
                     for k, (n, svg, _) in enumerate(snaps))
    page = PAGE.format(n=len(snaps), last=len(snaps) - 1, chart=chart(snaps), snaps=body,
                       stats=json.dumps([{"t_ms": s["t_ms"], "stats": {k: v for k, v in s["stats"].items()
                                                                       if not isinstance(v, (list, dict))}}
                                         for _, _, s in snaps]))
    with open(a.out, "w") as fh:
        fh.write(page)
    print("%s: %d snapshots, %d bytes" % (a.out, len(snaps), len(page)))


if __name__ == "__main__":
    main()
