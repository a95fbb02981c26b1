#!/usr/bin/env python3
"""gort's allocator benchmark driver (stdlib only).  bench/run.sh builds
everything and finds the allocators, then calls this:

  python3 bench/run.py --bindir build/bench --threads N --mode quick|default|long \
      --alloc glibc= --alloc jemalloc=/path/libjemalloc.so.2 ... \
      [--alloc-error gort='build failed'] [--only fastpath,large] [--out bench/results]

It runs every workload under every allocator (LD_PRELOAD through benchrun),
several runs each, and prints one table (median time, median peak RSS, gort's
ratio to each peer, geometric means), then writes latest.json and latest.svg.
"""
import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys

MODES = {
    #           scale  runs  footprint scale / runs / waits   sqlite rows  timeout
    "quick":   dict(scale=0.3, runs=3, fp_scale=0.125, fp_runs=1, fp_wait="1,3", sql_rows=25000, timeout=60),
    "default": dict(scale=1.0, runs=5, fp_scale=1.0, fp_runs=1, fp_wait="1,10", sql_rows=80000, timeout=180),
    "long":    dict(scale=3.0, runs=7, fp_scale=1.0, fp_runs=3, fp_wait="1,10", sql_rows=250000, timeout=600),
}

# name, what it models, checksum comparable across allocators?
WORKLOADS = [
    ("fastpath", "1 thread: malloc/free pairs and batches of 8-512 B", True),
    ("larson", "server threads replace random slots; objects migrate", True),
    ("xmalloc", "producer/consumer: every free on another thread", True),
    ("cachescratch", "false sharing: small objects written by other threads", True),
    ("mstress", "mixed lifetimes, cross-thread, some large blocks", False),
    ("realloc", "string builders and vectors grow and shrink", True),
    ("large", "64 KiB-32 MiB blocks churn, every page written", True),
    ("threadchurn", "threads created, allocate, hand back, exit", True),
    ("footprint", "1 GiB of small objects, free 90%, free all: RSS", True),
    ("sqlite", "Debian sqlite3: inserts, indexes, joins, updates (in memory)", True),
    ("bignum", "1 thread: bignum calculator, small blocks freed LIFO", True),
    ("mixed-1", "1 thread: random replacement of 8 B-32 KiB blocks", True),
    ("mixed", "mixed-1 on every thread, each its own working set", True),
    ("request", "server: request-scoped, cached and handed-off objects", False),
]

PEER_ORDER = ["glibc", "jemalloc", "tcmalloc", "mimalloc"]


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def parse_kv(line):
    out = {}
    for tok in line.split()[1:]:
        if "=" in tok:
            k, v = tok.split("=", 1)
            try:
                out[k] = float(v) if any(c in v for c in ".e") else int(v)
            except ValueError:
                out[k] = v
    return out


def gen_sql(path, rows, seed=12345):
    """A deterministic SQL job: many small INSERTs in one transaction (parsing
    and b-tree work), then indexes, GROUP BY, JOIN, UPDATE with string
    building, big group_concat, ORDER BY over text, DELETE."""
    r = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", "kappa", "lambda", "sigma", "omega",
             "zeta", "theta", "tau", "rho"]
    with open(path, "w") as f:
        f.write("PRAGMA cache_size=-65536;\n")
        f.write("CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, val REAL, note TEXT);\n")
        f.write("CREATE TABLE tag(item INTEGER, tag TEXT);\nBEGIN;\n")
        for i in range(1, rows + 1):
            name = "-".join(r.choice(words) for _ in range(r.randint(1, 4))) + str(r.randint(0, 99999))
            note = " ".join(r.choice(words) for _ in range(r.randint(0, 30)))
            f.write(f"INSERT INTO item VALUES({i},'{name}',{r.randint(0, 999)},{r.random():.6f},'{note}');\n")
            if i % 3 == 0:
                f.write(f"INSERT INTO tag VALUES({i},'{r.choice(words)}');\n")
        f.write("COMMIT;\n")
        f.write("CREATE INDEX item_grp ON item(grp);\nCREATE INDEX item_name ON item(name);\n"
                "CREATE INDEX tag_item ON tag(item);\n")
        f.write("SELECT grp, count(*), round(sum(val),3), max(length(note)) FROM item GROUP BY grp ORDER BY 3 DESC LIMIT 5;\n")
        f.write("SELECT count(*) FROM item WHERE name LIKE '%mma%' AND note LIKE '%tau%';\n")
        f.write("SELECT t.tag, count(*), round(avg(i.val),4) FROM item i JOIN tag t ON t.item=i.id GROUP BY t.tag ORDER BY t.tag;\n")
        f.write("UPDATE item SET note = note || ' ' || name || ' ' || upper(name) WHERE id % 3 = 0;\n")
        f.write("SELECT length(group_concat(name, ',')) FROM (SELECT name FROM item ORDER BY name);\n")
        f.write("SELECT grp, group_concat(substr(name,1,3), '') FROM item GROUP BY grp ORDER BY grp LIMIT 3;\n")
        f.write("DELETE FROM item WHERE val < 0.3;\n")
        f.write("SELECT count(*), sum(length(note)), count(DISTINCT name) FROM item;\n")
        f.write("SELECT name FROM item ORDER BY note, name LIMIT 3;\n")


def find_sqlite3():
    for p in ("/usr/bin/sqlite3", "/bin/sqlite3"):
        if os.access(p, os.X_OK):
            return p
    for d in os.environ.get("PATH", "").split(":"):
        p = os.path.join(d, "sqlite3")
        if d and os.access(p, os.X_OK):
            return p
    return None


def command_for(wl, args, cfg, bindir, sqlfile, sqlite3):
    t = str(args.threads)
    if wl == "footprint":
        return [os.path.join(bindir, wl), "-t", t, "-s", str(cfg["fp_scale"]), "-w", cfg["fp_wait"]]
    if wl == "sqlite":
        return [sqlite3, "-batch", ":memory:", ".read " + sqlfile]
    if wl == "mixed-1":
        return [os.path.join(bindir, "mixed"), "-t", "1", "-s", str(cfg["scale"])]
    return [os.path.join(bindir, wl), "-t", t, "-s", str(cfg["scale"])]


def run_once(cmd, preload, bindir, timeout, outfile):
    full = [os.path.join(bindir, "benchrun"), "-p", preload or "", "-T", str(timeout)]
    if outfile:
        full += ["-o", outfile]
    full += ["--"] + cmd
    p = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout + 30)
    res, br = {}, {}
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            res = parse_kv(line)
        elif line.startswith("BENCHRUN "):
            br = parse_kv(line)
    status = br.get("status", "benchrun failed")
    rec = {"status": status, "wall": br.get("wall"), "maxrss_kb": br.get("maxrss_kb")}
    if status == "exit:0" and outfile:
        with open(outfile, "rb") as f:
            res = {"checksum": hashlib.sha1(f.read()).hexdigest()[:16]}
    if status == "exit:0" and not res:
        status = rec["status"] = "no RESULT line"
    if status != "exit:0":
        err = (p.stderr.strip().splitlines() or [""])[-1][:120]
        rec["stderr"] = err
    rec["secs"] = res.get("secs", rec["wall"])
    rec["result"] = res
    return rec


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def fmt_secs(s):
    if s is None:
        return "-"
    return f"{s:.3f}" if s < 10 else f"{s:.1f}"


def fmt_mb(kb):
    if kb is None:
        return "-"
    mb = kb / 1024.0
    return f"{mb:.1f}M" if mb < 100 else f"{mb:.0f}M"


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bindir", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--mode", default="default", choices=sorted(MODES))
    ap.add_argument("--alloc", action="append", default=[], help="name=path ('' for none)")
    ap.add_argument("--alloc-error", action="append", default=[], help="name=reason")
    ap.add_argument("--only", default="", help="comma-separated workloads")
    ap.add_argument("--runs", type=int, default=0)
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    cfg = dict(MODES[args.mode])
    if args.runs > 0:
        cfg["runs"] = args.runs
        cfg["fp_runs"] = min(cfg["fp_runs"], args.runs)

    allocs = []  # (name, path)
    for a in args.alloc:
        n, _, p = a.partition("=")
        allocs.append((n, p))
    broken = {}
    for a in args.alloc_error:
        n, _, why = a.partition("=")
        broken[n] = why or "error"
        if n not in [x[0] for x in allocs]:
            allocs.append((n, None))
    names = [n for n, _ in allocs]
    peers = [n for n in names if n != "gort"]

    wls = WORKLOADS
    if args.only:
        want = set(args.only.split(","))
        wls = [w for w in WORKLOADS if w[0] in want]

    os.makedirs(args.out, exist_ok=True)
    sqlite3 = find_sqlite3()
    sqlfile = os.path.join(args.bindir, f"sqlite_job_{cfg['sql_rows']}.sql")
    if any(w[0] == "sqlite" for w in wls):
        if sqlite3 is None:
            log("bench: sqlite3 not found (apt-get install sqlite3); skipping the sqlite workload")
            wls = [w for w in wls if w[0] != "sqlite"]
        elif not os.path.exists(sqlfile):
            gen_sql(sqlfile + ".tmp", cfg["sql_rows"])
            os.replace(sqlfile + ".tmp", sqlfile)
    sqlout = os.path.join(args.bindir, "sqlite_out.txt")

    data = {}  # wl -> alloc -> {"runs": [...], "status": ...}
    for wi, (wl, _, _) in enumerate(wls):
        runs = cfg["fp_runs"] if wl == "footprint" else cfg["runs"]
        data[wl] = {n: {"runs": [], "status": ("error: " + broken[n]) if n in broken else "ok"} for n in names}
        cmd = command_for(wl, args, cfg, args.bindir, sqlfile, sqlite3)
        for r in range(runs):
            order = names[r % len(names):] + names[:r % len(names)]  # rotate to spread drift
            for n in order:
                d = data[wl][n]
                if d["status"] != "ok":
                    continue
                path = dict(allocs)[n]
                rec = run_once(cmd, path, args.bindir, cfg["timeout"], sqlout if wl == "sqlite" else None)
                tag = f"[{wi + 1}/{len(wls)} {wl}] run {r + 1}/{runs} {n:<9}"
                if rec["status"] != "exit:0":
                    d["status"] = "error: " + rec["status"]
                    log(f"{tag} ERROR {rec['status']} {rec.get('stderr', '')}")
                else:
                    log(f"{tag} {fmt_secs(rec['secs'])}s  peak {fmt_mb(rec['maxrss_kb'])}")
                d["runs"].append(rec)

    # medians, checksum check
    warnings = []
    for wl, desc, det in wls:
        sums = {}
        for n in names:
            d = data[wl][n]
            ok = [x for x in d["runs"] if x["status"] == "exit:0"]
            if d["status"] == "ok" and ok:
                d["median_secs"] = statistics.median(x["secs"] for x in ok)
                d["median_rss_kb"] = statistics.median(x["maxrss_kb"] for x in ok)
                cs = {str(x["result"].get("checksum")) for x in ok}
                sums[n] = cs
                if wl == "footprint":
                    keys = ["rss_base_kb", "rss_built_kb", "rss_after90_kb", "rss_freed_kb", "rss_w1_kb", "rss_w2_kb"]
                    d["footprint"] = {k: statistics.median(x["result"].get(k, 0) for x in ok) for k in keys}
                    d["footprint"]["w1"] = ok[0]["result"].get("w1")
                    d["footprint"]["w2"] = ok[0]["result"].get("w2")
            else:
                d["median_secs"] = d["median_rss_kb"] = None
        if det and sums:
            ref = sums.get("glibc") or next(iter(sums.values()))
            for n, cs in sums.items():
                if cs != ref:
                    warnings.append(f"{wl}: checksum under {n} {sorted(cs)} differs from {sorted(ref)}"
                                    " (wrong results?)")

    # ratios and summary
    summary = {"time_geomean": {}, "rss_geomean": {}, "gort_time_ratio": {}, "gort_rss_ratio": {}}
    live = [n for n in names if any(data[wl][n]["median_secs"] for wl, _, _ in wls)]
    common = [wl for wl, _, _ in wls if all(data[wl][n]["median_secs"] for n in live)]
    for n in live:
        summary["time_geomean"][n] = geomean([data[wl][n]["median_secs"] for wl in common])
        summary["rss_geomean"][n] = geomean([data[wl][n]["median_rss_kb"] for wl in common])
    for wl, _, _ in wls:
        g = data[wl].get("gort")
        for p in peers:
            q = data[wl][p]
            ok = g and g["median_secs"] and q["median_secs"]
            q["gort_time_ratio"] = g["median_secs"] / q["median_secs"] if ok else None
            q["gort_rss_ratio"] = g["median_rss_kb"] / q["median_rss_kb"] if ok else None
    if "gort" in names:
        for p in peers:
            summary["gort_time_ratio"][p] = geomean([data[wl][p]["gort_time_ratio"] for wl, _, _ in wls])
            summary["gort_rss_ratio"][p] = geomean([data[wl][p]["gort_rss_ratio"] for wl, _, _ in wls])

    # ---- the table
    print_table(wls, names, peers, data, summary, common, cfg, args)
    goals = goal_lines(wls, names, peers, data, summary)
    for g in goals:
        print(g)
    for w in warnings:
        print("WARNING " + w)

    doc = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "mode": args.mode, "threads": args.threads, "config": cfg,
        "machine": machine_info(),
        "allocators": {n: {"preload": p, "status": ("error: " + broken[n]) if n in broken else "ok"} for n, p in allocs},
        "workloads": [{"name": wl, "description": desc, "results": data[wl]} for wl, desc, _ in wls],
        "summary": summary, "summary_workloads": common, "goals": goals, "warnings": warnings,
    }
    jpath = os.path.join(args.out, "latest.json")
    with open(jpath, "w") as f:
        json.dump(doc, f, indent=1)
    spath = os.path.join(args.out, "latest.svg")
    with open(spath, "w") as f:
        f.write(svg_chart(wls, names, data, doc))
    print(f"results: {jpath}  chart: {spath}")


def machine_info():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release()}


def print_table(wls, names, peers, data, summary, common, cfg, args):
    has_gort = "gort" in names
    w0, w1, wc = 13, 7, 9
    head = f"{'workload':<{w0}}{'':<{w1}}" + "".join(f"{n:>{wc}}" for n in names)
    if has_gort:
        head += "  |" + "".join(f"{'g/' + p[:5]:>{wc}}" for p in peers)
    print()
    print(f"gort allocator benchmark: mode={args.mode} threads={args.threads} runs={cfg['runs']} "
          f"(footprint {cfg['fp_runs']}); median time (s) and median peak RSS; g/X = gort / X (<1: gort better)")
    print(head)
    print("-" * len(head))

    def row(label, metric, vals, ratios):
        s = f"{label:<{w0}}{metric:<{w1}}" + "".join(f"{v:>{wc}}" for v in vals)
        if has_gort:
            s += "  |" + "".join(f"{r:>{wc}}" for r in ratios)
        print(s)

    for wl, _, _ in wls:
        tv, rv = [], []
        for n in names:
            d = data[wl][n]
            if d["median_secs"] is None:
                tv.append("error" if d["status"] != "ok" else "-")
                rv.append("")
            else:
                tv.append(fmt_secs(d["median_secs"]))
                rv.append(fmt_mb(d["median_rss_kb"]))
        row(wl, "time", tv, [fmt_ratio(data[wl][p].get("gort_time_ratio")) for p in peers])
        row("", "rss", rv, [fmt_ratio(data[wl][p].get("gort_rss_ratio")) for p in peers])
    print("-" * len(head))
    row("geomean", "time", [fmt_secs(summary["time_geomean"].get(n)) for n in names],
        [fmt_ratio(summary["gort_time_ratio"].get(p)) for p in peers])
    row("", "rss", [fmt_mb(summary["rss_geomean"].get(n)) for n in names],
        [fmt_ratio(summary["gort_rss_ratio"].get(p)) for p in peers])
    print(f"(per-allocator geomeans over the {len(common)} workloads every working allocator finished; "
          "ratio geomeans over the workloads gort and that peer finished)")

    if any(wl == "footprint" for wl, _, _ in wls):
        print()
        fp = data["footprint"]
        some = next((fp[n]["footprint"] for n in names if "footprint" in fp[n]), None)
        if some:
            w1, w2 = some["w1"], some["w2"]
            cols = ["base", "built", "90%free", "freeall", f"+{w1:g}s", f"+{w2:g}s", f"+{w2:g}s/base"]
            print("footprint RSS (MiB): before build-up, built, 90% freed, all freed, and later")
            print(f"{'':<{w0}}" + "".join(f"{c:>{wc + 2}}" for c in cols))
            for n in names:
                f = fp[n].get("footprint")
                if not f:
                    print(f"{n:<{w0}}" + f"{'error' if fp[n]['status'] != 'ok' else '-':>{wc + 2}}")
                    continue
                vals = [f["rss_base_kb"], f["rss_built_kb"], f["rss_after90_kb"], f["rss_freed_kb"],
                        f["rss_w1_kb"], f["rss_w2_kb"]]
                s = "".join(f"{v / 1024:>{wc + 2}.1f}" for v in vals)
                s += f"{f['rss_w2_kb'] / max(f['rss_base_kb'], 1):>{wc + 2}.2f}"
                print(f"{n:<{w0}}" + s)
    print()


def goal_lines(wls, names, peers, data, summary):
    """The allocator's goals (bench/README.md), checked against this run."""
    if "gort" not in names:
        return []
    out = []
    r = summary["gort_time_ratio"].get("mimalloc")
    if r is not None:
        out.append(f"goal time: geomean gort/mimalloc = {r:.2f} (goal <= 0.90) {'met' if r <= 0.9 else 'NOT met'}")
    worst = None
    for wl, _, _ in wls:
        g = data[wl]["gort"]["median_secs"]
        best = [data[wl][p]["median_secs"] for p in peers if data[wl][p]["median_secs"]]
        if g and best:
            q = g / min(best)
            if worst is None or q > worst[0]:
                worst = (q, wl)
    if worst:
        out.append(f"goal time: worst workload {worst[1]} at {worst[0]:.2f}x the best peer (goal <= 1.25) "
                   f"{'met' if worst[0] <= 1.25 else 'NOT met'}")
    r = summary["gort_rss_ratio"].get("jemalloc")
    if r is not None:
        out.append(f"goal memory: geomean peak RSS gort/jemalloc = {r:.2f} (goal <= 1.00) {'met' if r <= 1 else 'NOT met'}")
    f = data.get("footprint", {}).get("gort", {}).get("footprint")
    if f:
        q = f["rss_w2_kb"] / max(f["rss_base_kb"], 1)
        out.append(f"goal memory: footprint RSS {f['w2']:g}s after free-all = {q:.2f}x the pre-build RSS "
                   f"(goal <= 1.10) {'met' if q <= 1.10 else 'NOT met'}")
    return out


COLORS = {"glibc": "#7f7f7f", "jemalloc": "#1f77b4", "tcmalloc": "#2ca02c", "mimalloc": "#ff7f0e",
          "gort": "#d62728"}


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fp_wait_label(fp, names):
    for n in names:
        f = fp.get(n, {}).get("footprint")
        if f and f.get("w2") is not None:
            return f"{f['w2']:g} s"
    return "later"


def svg_chart(wls, names, data, doc):
    """Two panels of grouped bars, time and peak RSS, each relative to the
    geometric mean of the allocators on that workload (so that every
    allocator, glibc included, has a bar) on a log2 axis from 1/8x to 8x; and
    a line of footprint results (RSS after free-all / RSS before build-up)."""
    base = "the allocators' geometric mean"
    W, left, right, top = 1100, 70, 20, 90
    ph, gap = 260, 80
    H = top + 2 * ph + gap + 110
    lo, hi = -3.0, 3.0  # log2 range
    nw = len(wls)
    gw = (W - left - right) / max(nw, 1)
    bw = min(22.0, (gw - 10) / max(len(names), 1))
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
         'font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">'
         f'gort allocator benchmark ({esc(doc["mode"])}, {doc["threads"]} threads, {esc(doc["date"])})</text>',
         f'<text x="{W / 2}" y="44" text-anchor="middle" fill="#444">median of runs, relative to {esc(base)} '
         '(log scale; lower is better)</text>']
    # legend
    lx = left
    for n in names:
        o.append(f'<rect x="{lx}" y="54" width="12" height="12" fill="{COLORS.get(n, "#9467bd")}"/>'
                 f'<text x="{lx + 16}" y="64">{esc(n)}</text>')
        lx += 24 + 8 * len(n) + 20

    def ypos(y0, v):
        v = max(lo, min(hi, v))
        return y0 + (hi - v) / (hi - lo) * ph

    for pi, (key, title) in enumerate([("median_secs", "time"), ("median_rss_kb", "peak RSS")]):
        y0 = top + 10 + pi * (ph + gap)
        o.append(f'<text x="{left - 50}" y="{y0 - 16}" font-weight="bold">{title} relative to {esc(base)}</text>')
        for e in range(int(lo), int(hi) + 1):
            y = ypos(y0, e)
            lab = f"{2 ** e:g}x" if e >= 0 else f"1/{2 ** -e:g}x"
            o.append(f'<line x1="{left}" x2="{W - right}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="{"#000" if e == 0 else "#ddd"}" stroke-width="{1.2 if e == 0 else 1}"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#444">{lab}</text>')
        for wi, (wl, _, _) in enumerate(wls):
            gx = left + wi * gw + (gw - bw * len(names)) / 2
            vals = [data[wl][n].get(key) for n in names if data[wl][n].get(key)]
            ref = math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else None
            for ni, n in enumerate(names):
                v = data[wl][n].get(key)
                x = gx + ni * bw
                if not v or not ref:
                    o.append(f'<text x="{x + bw / 2:.1f}" y="{ypos(y0, 0) - 3:.1f}" text-anchor="middle" '
                             f'fill="{COLORS.get(n, "#9467bd")}" font-weight="bold">×</text>')
                    continue
                r = v / ref
                lv = math.log2(r)
                y1, y2 = ypos(y0, 0), ypos(y0, lv)
                label = f"{n} {wl} {title}: {r:.2f}x {base}"
                o.append(f'<rect x="{x:.1f}" y="{min(y1, y2):.1f}" width="{bw - 1:.1f}" '
                         f'height="{max(abs(y2 - y1), 1):.1f}" fill="{COLORS.get(n, "#9467bd")}">'
                         f'<title>{esc(label)}</title></rect>')
            o.append(f'<text x="{left + wi * gw + gw / 2:.1f}" y="{y0 + ph + 16:.1f}" '
                     f'text-anchor="middle">{esc(wl)}</text>')
    fp = data.get("footprint", {})
    parts = []
    for n in names:
        f = fp.get(n, {}).get("footprint")
        if f and f.get("rss_base_kb"):
            parts.append(f"{n} {f['rss_w2_kb'] / f['rss_base_kb']:.2f}x")
    if parts:
        o.append(f'<text x="{left}" y="{H - 40}" fill="#222">footprint: RSS {fp_wait_label(fp, names)} after '
                 f'free-all / RSS before build-up (1.00x: all given back): {esc(",  ".join(parts))}</text>')
    o.append(f'<text x="{left}" y="{H - 20}" fill="#444">× = error or not run.  Hover a bar for its value.  '
             f'Data: latest.json beside this file.</text>')
    o.append("</svg>\n")
    return "\n".join(o)


if __name__ == "__main__":
    main()
