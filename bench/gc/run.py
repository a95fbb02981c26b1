#!/usr/bin/env python3
"""gort's collector benchmark driver (stdlib only).  bench/gc/run.sh builds
the programs and finds the peers, then calls this:

  python3 bench/gc/run.py --bindir build/bench-gc --mode quick|default|long \
      [--runs N] [--mimalloc /path/libmimalloc.so.2] [--impl-error gort='build failed'] \
      [--only binarytrees,live] [--impls gort,boehm] [--out bench/results]

It runs each workload under each implementation (gort, Boehm GC, Go, malloc/free
on mimalloc), N runs each, interleaved, every run under gcrun (gcrun.c: a
timeout, and wait4's rusage), which measures each process from outside: wall
time, CPU time (user + sys, every thread) and peak RSS.  The programs print their collector statistics
(RESULT / GC / PAUSES_NS lines, see impl.h).  It prints one table of medians
with gort's ratio to each peer and the project's goal lines, then writes
gc.json.  See bench/README.md, "The collector benchmark".
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

# Arguments of each workload per mode, and the per-process timeout (s).
MODES = {
    "quick": dict(runs=1, timeout=180, args={
        "binarytrees": ["18"], "gcbench": ["18", "16", "500000", "4", "16"], "live": ["128", "2"]}),
    "default": dict(runs=3, timeout=600, args={
        "binarytrees": ["21"], "gcbench": ["20", "18", "2000000", "4", "20"], "live": ["1024", "2"]}),
    "long": dict(runs=5, timeout=1200, args={
        "binarytrees": ["21"], "gcbench": ["20", "18", "2000000", "4", "20"], "live": ["1024", "4"]}),
}

WORKLOADS = [
    ("binarytrees", "Benchmarks Game binary-trees: short-lived trees of 16-byte nodes, one long-lived tree"),
    ("gcbench", "GCBench (Ellis/Kovac/Boehm): long-lived tree + array of doubles, short-lived trees top-down and bottom-up"),
    ("live", "big live heap of small lists, random replacements; slowest unit of 1000 replacements"),
]

# gort-stw: the same gort binaries with GORT_GCBARRIER=none (the whole mark in one pause),
# beside the default, which marks concurrently where the kernel tracks writes
IMPLS = ["gort", "gort-stw", "boehm", "go", "mimalloc"]
PEERS = ["gort-stw", "boehm", "go", "mimalloc"]


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


def command(impl, wl, args, bindir, mimalloc):
    """argv and extra environment of one run."""
    a = args["args"][wl]
    if impl == "go":
        return [os.path.join(bindir, "gcbench-go"), wl] + a, {}
    if impl == "boehm":
        return [os.path.join(bindir, f"{wl}-boehm")] + a, {"GC_MARKERS": "2"}
    if impl == "mimalloc":
        return [os.path.join(bindir, f"{wl}-malloc")] + a, {"LD_PRELOAD": mimalloc}
    if impl == "gort-stw":
        return [os.path.join(bindir, f"{wl}-gort")] + a, {"GORT_GCBARRIER": "none"}
    return [os.path.join(bindir, f"{wl}-gort")] + a, {}


def run_once(argv, extra_env, timeout, outpath, errpath, bindir):
    """Runs argv under gcrun (timeout, wait4); returns the record (status,
    wall, cpu, peak RSS, parsed output)."""
    env = dict(os.environ)
    env.update(extra_env)
    full = [os.path.join(bindir, "gcrun"), str(timeout), "--"] + argv
    fa = [(os.POSIX_SPAWN_OPEN, 1, outpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
          (os.POSIX_SPAWN_OPEN, 2, errpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]
    try:
        pid = os.posix_spawn(full[0], full, env, file_actions=fa)
    except OSError as e:
        return {"status": f"spawn failed: {e}"}
    os.waitpid(pid, 0)
    m, errlines = {}, []
    with open(errpath, errors="replace") as f:
        for line in f:
            if line.startswith("GCRUN "):
                m = parse_kv(line)
            elif line.strip():
                errlines.append(line.strip())
    st = str(m.get("status", "gcrun failed"))
    if st == "exit:0":
        status = "ok"
    elif st == "timeout":
        status = f"timeout ({timeout} s)"
    else:
        status = st.replace(":", " ")
    rec = {"status": status, "wall": m.get("wall"), "cpu": (m.get("user") or 0) + (m.get("sys") or 0),
           "user": m.get("user"), "sys": m.get("sys"), "maxrss_kb": m.get("maxrss_kb")}
    res, gc, pauses = {}, {}, []
    with open(outpath, errors="replace") as f:
        for line in f:
            if line.startswith("RESULT "):
                res = parse_kv(line)
            elif line.startswith("GC "):
                gc = parse_kv(line)
            elif line.startswith("PAUSES_NS"):
                pauses = [int(x) for x in line.split()[1:]]
    if status == "ok" and (not res or not gc):
        status = rec["status"] = "no RESULT/GC line"
    rec.update(result=res, gc=gc, pauses_ns=pauses)
    if status != "ok":
        rec["stderr"] = " | ".join(errlines[-3:])[:300]
    return rec


def median_or_none(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(runs):
    """Medians of the successful runs; the pauses list of the median-wall run."""
    ok = [r for r in runs if r["status"] == "ok"]
    if not ok:
        return None
    s = {"runs_ok": len(ok)}
    s["wall"] = median_or_none([r["wall"] for r in ok])
    s["cpu"] = median_or_none([r["cpu"] for r in ok])
    s["maxrss_kb"] = median_or_none([r["maxrss_kb"] for r in ok])
    s["num_gc"] = median_or_none([r["gc"].get("num_gc") for r in ok])
    s["pause_max_ns"] = median_or_none([r["gc"].get("pause_max_ns") for r in ok])

    def avg(r):
        n = r["gc"].get("num_pauses", r["gc"].get("num_gc", 0))
        return r["gc"].get("pause_total_ns", 0) / n if n else None
    s["pause_avg_ns"] = median_or_none([avg(r) for r in ok])
    for k in ("unit_max_ns", "unit_p50_ns", "unit_p99_ns", "unit_p999_ns"):
        s[k] = median_or_none([r["result"].get(k) for r in ok])
    s["unit_avg_ns"] = median_or_none([r["result"].get("unit_avg_ns") for r in ok])
    mid = sorted(ok, key=lambda r: r["wall"])[len(ok) // 2]
    s["pauses_ns_median_run"] = mid["pauses_ns"]
    s["pauses_known_median_run"] = mid["gc"].get("pauses_known")
    # the pause list holds one figure per cycle (a concurrent cycle's pauses summed)
    s["num_gc_median_run"] = mid["gc"].get("num_gc", mid["gc"].get("num_pauses"))
    s["checksums"] = sorted({str(r["result"].get("checksum")) for r in ok})
    return s


def fmt(v, kind):
    if v is None:
        return "-"
    if kind == "s":
        return f"{v:.3f}" if v < 10 else f"{v:.1f}"
    if kind == "kb":
        mb = v / 1024.0
        return f"{mb:.1f}M" if mb < 100 else f"{mb:.0f}M"
    if kind == "ms":
        ms = v / 1e6
        return f"{ms:.3f}" if ms < 10 else (f"{ms:.1f}" if ms < 1000 else f"{ms:.0f}")
    if kind == "n":
        return f"{v:.0f}"
    return str(v)


ROWS = [  # key, label, kind, shown for mimalloc
    ("wall", "wall s", "s", True),
    ("cpu", "cpu s", "s", True),
    ("maxrss_kb", "peak rss", "kb", True),
    ("num_gc", "gcs", "n", False),
    ("pause_max_ns", "max pause ms", "ms", False),
    ("pause_avg_ns", "avg pause ms", "ms", False),
    ("unit_p50_ns", "unit p50 ms", "ms", True),
    ("unit_p99_ns", "unit p99 ms", "ms", True),
    ("unit_p999_ns", "unit p99.9 ms", "ms", True),
    ("unit_max_ns", "unit max ms", "ms", True),
]


def ratio(a, b):
    return a / b if a is not None and b else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bindir", required=True)
    ap.add_argument("--mode", default="default", choices=sorted(MODES))
    ap.add_argument("--runs", type=int, default=0)
    ap.add_argument("--mimalloc", default="")
    ap.add_argument("--impl-error", action="append", default=[], help="impl=reason (not run)")
    ap.add_argument("--only", default="")
    ap.add_argument("--impls", default="")
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--commit", default="")
    ap.add_argument("--gctrace-log", default="")
    args = ap.parse_args()
    cfg = dict(MODES[args.mode])
    if args.runs > 0:
        cfg["runs"] = args.runs
    wls = [w for w in WORKLOADS if not args.only or w[0] in args.only.split(",")]
    impls = [i for i in IMPLS if not args.impls or i in args.impls.split(",")]
    broken = {}
    for e in args.impl_error:
        n, _, why = e.partition("=")
        broken[n] = why or "error"
    if not args.mimalloc and "mimalloc" not in broken:
        broken["mimalloc"] = "no libmimalloc"
    if "gort" in broken:
        broken["gort-stw"] = broken["gort"]
    os.makedirs(args.out, exist_ok=True)
    logdir = os.path.join(args.bindir, "logs")
    os.makedirs(logdir, exist_ok=True)

    data = {wl: {i: {"runs": [], "status": ("error: " + broken[i]) if i in broken else "ok"} for i in impls}
            for wl, _ in wls}
    for wi, (wl, _) in enumerate(wls):
        for r in range(cfg["runs"]):
            order = impls[r % len(impls):] + impls[:r % len(impls)]  # rotate: spread drift
            for impl in order:
                d = data[wl][impl]
                if d["status"] != "ok":
                    continue
                argv, env = command(impl, wl, cfg, args.bindir, args.mimalloc)
                base = os.path.join(logdir, f"{wl}-{impl}-{r + 1}")
                rec = run_once(argv, env, cfg["timeout"], base + ".out", base + ".err", args.bindir)
                rec["argv"] = argv
                rec["env"] = env
                d["runs"].append(rec)
                tag = f"[{wi + 1}/{len(wls)} {wl}] run {r + 1}/{cfg['runs']} {impl:<9}"
                if rec["status"] != "ok":
                    d["status"] = "error: " + rec["status"]
                    log(f"{tag} FAILED {rec['status']}: {rec.get('stderr', '')} (log: {base}.err)")
                else:
                    g = rec["gc"]
                    log(f"{tag} wall {fmt(rec['wall'], 's')}s cpu {fmt(rec['cpu'], 's')}s "
                        f"peak {fmt(rec['maxrss_kb'], 'kb')} gcs {g.get('num_gc')} "
                        f"max pause {fmt(g.get('pause_max_ns'), 'ms')} ms")

    # One more gort binary-trees run, untimed, with GORT_GCTRACE=1: the
    # collector's one line per cycle (stderr) goes to the trace log.
    trace_note = None
    if args.gctrace_log:
        if "gort" in broken or "gort" not in impls:
            trace_note = f"GORT_GCTRACE=1 run of gort binarytrees: not made (gort: {broken.get('gort', 'not selected')})"
        else:
            argv, env = command("gort", "binarytrees", cfg, args.bindir, args.mimalloc)
            env["GORT_GCTRACE"] = "1"
            log(f"GORT_GCTRACE=1 {' '.join(argv)} 2>{args.gctrace_log}")
            rec = run_once(argv, env, cfg["timeout"], os.path.join(logdir, "gctrace.out"), args.gctrace_log, args.bindir)
            with open(args.gctrace_log, errors="replace") as f:
                n = sum(1 for line in f if line.startswith("gc "))
            trace_note = (f"GORT_GCTRACE=1 lines of one gort binarytrees run ({n} 'gc' lines, run {rec['status']}): "
                          f"{args.gctrace_log}")

    warnings = []
    for wl, _ in wls:
        sums = {}
        for impl in impls:
            d = data[wl][impl]
            d["summary"] = summarize(d["runs"]) if d["status"] == "ok" else None
            if d["summary"]:
                sums[impl] = d["summary"]["checksums"]
        ref = next(iter(sums.values()), None)
        for impl, cs in sums.items():
            if cs != ref or len(cs) != 1:
                warnings.append(f"{wl}: checksum under {impl} {cs} differs from {ref} (wrong results?)")
        g = data[wl].get("gort", {}).get("summary")
        for p in PEERS:
            if p not in data[wl]:
                continue
            q = data[wl][p]["summary"]
            data[wl][p]["gort_ratio"] = {k: ratio(g.get(k), q.get(k)) if g and q else None for k, *_ in ROWS}

    print_table(wls, impls, data, cfg, args)
    goals = goal_lines(wls, data)
    for line in goals:
        print(line)
    for w in warnings:
        print("WARNING " + w)
    if trace_note:
        print(trace_note)

    doc = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "mode": args.mode, "commit": args.commit, "config": cfg, "machine": machine_info(),
        "implementations": {i: ("error: " + broken[i]) if i in broken else "ok" for i in impls},
        "workloads": [{"name": wl, "description": desc, "results": data[wl]} for wl, desc in wls],
        "goals": goals, "warnings": warnings,
    }
    jpath = os.path.join(args.out, "gc.json")
    with open(jpath, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"results: {jpath}  (every run; program output in {logdir}/)")
    # A failed variant is in the table and the goal lines, as the allocator
    # benchmark reports an allocator's error: not an error of the benchmark.
    return 0


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


def print_table(wls, impls, data, cfg, args):
    peers = [p for p in PEERS if p in impls]
    has_gort = "gort" in impls
    w0, w1, wc = 13, 14, 10
    head = f"{'workload':<{w0}}{'':<{w1}}" + "".join(f"{i:>{wc}}" for i in impls)
    if has_gort:
        head += "  |" + "".join(f"{'g/' + p[:6]:>{wc}}" for p in peers)
    print()
    print(f"gort collector benchmark: mode={args.mode} runs={cfg['runs']} commit={args.commit or '?'}; "
          "medians; g/X = gort / X (<1: gort better)")
    print(f"  args: " + "  ".join(f"{wl} {' '.join(cfg['args'][wl])}" for wl, _ in wls))
    print(head)
    print("-" * len(head))
    for wl, _ in wls:
        first = True
        for key, label, kind, for_malloc in ROWS:
            if key.startswith("unit") and wl != "live":
                continue
            vals = []
            for i in impls:
                d = data[wl][i]
                s = d["summary"]
                if s is None:
                    vals.append("failed" if d["status"] != "ok" else "-")
                elif i == "mimalloc" and not for_malloc:
                    vals.append("")
                else:
                    vals.append(fmt(s.get(key), kind))
            line = f"{wl if first else '':<{w0}}{label:<{w1}}" + "".join(f"{v:>{wc}}" for v in vals)
            if has_gort:
                rs = []
                for p in peers:
                    r = (data[wl][p].get("gort_ratio") or {}).get(key)
                    rs.append("" if (p == "mimalloc" and not for_malloc) or key == "num_gc" else
                              ("-" if r is None else f"{r:.2f}"))
                line += "  |" + "".join(f"{x:>{wc}}" for x in rs)
            print(line)
            first = False
        print("-" * len(head))
    for i in impls:
        for wl, _ in wls:
            if data[wl][i]["status"] != "ok":
                last = data[wl][i]["runs"][-1] if data[wl][i]["runs"] else {}
                print(f"{i} {wl}: {data[wl][i]['status']} {last.get('stderr', '')}".rstrip())
    if any(wl == "live" for wl, _ in wls):
        print()
        print("live: every stop-the-world pause of the median run, in ms, in order "
              "(gort and Go keep the last 256 cycles; a cycle's figure is its pauses' sum, two for Go's and for\n"
              "gort's concurrent cycles; max pause is the longest single one):")
        for i in impls:
            s = data["live"][i]["summary"]
            if not s or i == "mimalloc":
                continue
            ps = s["pauses_ns_median_run"]
            n = s["num_gc_median_run"] or 0
            shown = ", ".join(fmt(p, "ms") for p in ps[:80])
            more = f", ... ({len(ps) - 80} more in gc.json)" if len(ps) > 80 else ""
            lost = f" [first {n - len(ps)} not kept]" if n > len(ps) else ""
            print(f"  {i:<8} {len(ps)} pauses{lost}: {shown}{more}")
    print()


def goal_lines(wls, data):
    """The project's goals for the collector, checked against this run."""
    out = []

    def s(wl, i):
        return data.get(wl, {}).get(i, {}).get("summary")

    def verdict(ok):
        return "met" if ok else "missed"

    names = [wl for wl, _ in wls]
    if "binarytrees" in names:
        g, b, m = s("binarytrees", "gort"), s("binarytrees", "boehm"), s("binarytrees", "mimalloc")
        if g and b:
            r = g["wall"] / b["wall"]
            out.append(f"goal binarytrees: time gort/boehm = {r:.2f} (goal <= 0.50) {verdict(r <= 0.5)}")
        else:
            out.append("goal binarytrees: time gort/boehm (goal <= 0.50) missed: "
                       f"{'gort' if not g else 'boehm'} did not run")
        if g and m:
            r = g["wall"] / m["wall"]
            out.append(f"goal binarytrees: time gort/mimalloc = {r:.2f} (goal <= 1.30) {verdict(r <= 1.3)}")
        else:
            out.append("goal binarytrees: time gort/mimalloc (goal <= 1.30) missed: "
                       f"{'gort' if not g else 'mimalloc'} did not run")
    for wl in names:
        g = s(wl, "gort")
        for p in ("go", "boehm"):
            q = s(wl, p)
            if g and q:
                r = g["wall"] / q["wall"]
                out.append(f"goal {wl}: faster than {p}: time gort/{p} = {r:.2f} (goal < 1) {verdict(r < 1)}")
            else:
                out.append(f"goal {wl}: faster than {p} missed: {'gort' if not g else p} did not run")
        q = s(wl, "boehm")
        if g and q:
            r = g["maxrss_kb"] / q["maxrss_kb"]
            out.append(f"goal {wl}: peak RSS gort/boehm = {r:.2f} (goal <= 1) {verdict(r <= 1)}")
        else:
            out.append(f"goal {wl}: peak RSS at or below boehm's missed: {'gort' if not g else 'boehm'} did not run")
    if "live" in names:
        g, b = s("live", "gort"), s("live", "boehm")
        if g and b and b["pause_max_ns"]:
            r = g["pause_max_ns"] / b["pause_max_ns"]
            out.append(f"goal live: max pause gort/boehm = {r:.2f} "
                       f"({fmt(g['pause_max_ns'], 'ms')} vs {fmt(b['pause_max_ns'], 'ms')} ms; goal <= 0.50) "
                       f"{verdict(r <= 0.5)}")
        else:
            out.append(f"goal live: max pause at most half of boehm's missed: {'gort' if not g else 'boehm'} did not run")
        if g:
            out.append(f"goal live (concurrent marking): max pause {fmt(g['pause_max_ns'], 'ms')} ms (goal <= 1) "
                       f"{verdict(g['pause_max_ns'] <= 1e6)}; slowest unit {fmt(g['unit_max_ns'], 'ms')} ms "
                       f"(goal <= 5) {verdict(g['unit_max_ns'] <= 5e6)}")
    # concurrent marking against the stop-the-world collector: live's time at most 1.2x,
    # binary-trees' and GCBench's at most 1.1x
    for wl, lim in (("live", 1.2), ("binarytrees", 1.1), ("gcbench", 1.1)):
        if wl not in names:
            continue
        g, t = s(wl, "gort"), s(wl, "gort-stw")
        if g and t:
            r = g["wall"] / t["wall"]
            out.append(f"goal {wl}: time gort/gort-stw = {r:.2f} (goal <= {lim:.2f}) {verdict(r <= lim)}")
        else:
            out.append(f"goal {wl}: time gort/gort-stw (goal <= {lim:.2f}) missed: one of them did not run")
    return out


if __name__ == "__main__":
    sys.exit(main())
