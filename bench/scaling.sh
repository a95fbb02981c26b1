#!/usr/bin/env bash
# Thread scaling of the allocator benchmark's threaded workloads: runs bench/run.sh once per
# thread count and prints, per workload, each allocator's time and gort's ratio to the best peer.
#   SCALING_THREADS="1 4 16"   thread counts (default: 1, nproc/4, nproc when nproc >= 8, else 1 2)
#   BENCH=quick|default|long   as for bench/run.sh (default here: quick)
#   BENCH_ONLY, BENCH_ALLOCS, BENCH_RUNS, GORT_BENCH_PEERS_DIR   passed through to bench/run.sh
# Writes bench/results/scaling-T<n>.json (each run's latest.json) and bench/results/scaling.json.
set -u
cd "$(dirname "$0")/.."
n=$(nproc)
if [ -z "${SCALING_THREADS:-}" ]; then
    if [ "$n" -ge 8 ]; then SCALING_THREADS="1 $((n / 4)) $n"; else SCALING_THREADS="1 2"; fi
fi
export BENCH=${BENCH:-quick} BENCH_SKIP_MAP=1
export BENCH_ONLY=${BENCH_ONLY:-larson,xmalloc,cachescratch,mstress,threadchurn,mixed,request}
mkdir -p bench/results
files=()
for t in $SCALING_THREADS; do
    echo "scaling: THREADS=$t" >&2
    THREADS=$t bash bench/run.sh >"bench/results/scaling-T$t.txt" || { echo "scaling: bench/run.sh failed at THREADS=$t" >&2; exit 1; }
    cp bench/results/latest.json "bench/results/scaling-T$t.json"
    files+=("bench/results/scaling-T$t.json")
done
python3 - "${files[@]}" <<'EOF'
import json, sys
docs = [json.load(open(f)) for f in sys.argv[1:]]
out = {"threads": [d["threads"] for d in docs], "mode": docs[0]["mode"], "workloads": {}}
print(f"thread scaling ({docs[0]['mode']} mode, {docs[0].get('machine', '')}): median seconds; "
      "g/best = gort over the fastest peer")
for d in docs:
    for w in d["workloads"]:
        row = out["workloads"].setdefault(w["name"], {})
        for alloc, r in w["results"].items():
            row.setdefault(alloc, []).append(r.get("median_secs") if r.get("status") == "ok" else None)
for wl, row in out["workloads"].items():
    names = [a for a in ["glibc", "jemalloc", "tcmalloc", "mimalloc", "gort"] if a in row]
    print(f"\n{wl}")
    print("  threads " + "".join(f"{a:>10}" for a in names) + "    g/best")
    for i, t in enumerate(out["threads"]):
        vals = [row[a][i] if i < len(row[a]) else None for a in names]
        peers = [v for a, v in zip(names, vals) if a != "gort" and v]
        g = vals[names.index("gort")] if "gort" in names else None
        ratio = f"{g / min(peers):9.2f}" if g and peers else "        -"
        print(f"  {t:7d} " + "".join(f"{v:10.3f}" if v else f"{'-':>10}" for v in vals) + " " + ratio)
json.dump(out, open("bench/results/scaling.json", "w"), indent=1)
EOF
