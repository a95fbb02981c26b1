#!/usr/bin/env bash
# The channel and slice benchmark: gort's channels beside Go 1.19 (goroutines, and
# goroutines locked to their OS threads with runtime.LockOSThread: what a C thread
# is), Rust's crossbeam-channel (Debian's librust-crossbeam-channel-dev, built
# offline from Debian's crate registry) and a pthread mutex + condition variable
# queue; gort's slices beside Go's. bench/run.sh calls this.
#   BENCH=quick|default|long   sizes and runs (the median of the runs is shown)
#   BENCH_RUNS=n               runs per cell
#   CHANBENCH_LIB_BUILD=dir    the gort build to link (default build/release)
# Prints one table (ns per round trip / item / append; gort/peer ratios below 1
# favour gort) and writes bench/results/chan.json.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
MODE=${BENCH:-default}
case "$MODE" in
    quick) RUNS=${BENCH_RUNS:-1}; SCALE=10 ;;
    default) RUNS=${BENCH_RUNS:-3}; SCALE=1 ;;
    long) RUNS=${BENCH_RUNS:-5}; SCALE=1 ;;
    *) echo "bench/chan: BENCH=$MODE: use quick, default or long" >&2; exit 2 ;;
esac
B=$ROOT/build/bench-chan
LIBB=${CHANBENCH_LIB_BUILD:-build/release}
mkdir -p "$B" bench/results
note() { echo "bench/chan: $*" >&2; }

# the peers: golang-go (Go 1.19), librust-crossbeam-channel-dev and cargo
need=()
command -v go >/dev/null 2>&1 || need+=(golang-go)
[ -d /usr/share/cargo/registry/crossbeam-channel-0.5.6 ] || ls -d /usr/share/cargo/registry/crossbeam-channel-0.5* >/dev/null 2>&1 || need+=(librust-crossbeam-channel-dev)
command -v cargo >/dev/null 2>&1 || need+=(cargo)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    note "installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
        note "apt-get install failed; what is missing is reported as failed"
fi

IMPLS=()
make -s MODE=release BUILD="$LIBB" "$LIBB/libgort.a" &&
    gcc -std=gnu11 -O2 -Wall -Iinclude -o "$B/chanbench" bench/chan/chanbench.c "$LIBB/libgort.a" -pthread -ldl -lm &&
    IMPLS+=(gort mutex) || note "gort: build failed"
(cd bench/chan/go && GOFLAGS=-mod=mod GOPROXY=off go build -o "$B/chanbench-go" .) >"$B/go.log" 2>&1 &&
    IMPLS+=(go go-locked) || note "go: build failed (see $B/go.log)"
(cd bench/chan/rust && CARGO_TARGET_DIR="$B/rust" cargo build --release -q) >"$B/rust.log" 2>&1 &&
    IMPLS+=(crossbeam) || note "crossbeam: build failed (see $B/rust.log)"

cmd() {  # cmd IMPL: the command line of an implementation
    case $1 in
        gort) echo "$B/chanbench gort" ;;
        mutex) echo "$B/chanbench mutex" ;;
        go) echo "$B/chanbench-go" ;;
        go-locked) echo "$B/chanbench-go -locked" ;;
        crossbeam) echo "$B/rust/release/chanbench" ;;
    esac
}
# workload N implementations
WORKLOADS=(
    "pingpong $((20000 / SCALE)) gort go go-locked crossbeam mutex"
    "b11 $((4000000 / SCALE)) gort go go-locked crossbeam mutex"
    "b44 $((2000000 / SCALE)) gort go go-locked crossbeam mutex"
    "select4 $((2000000 / SCALE)) gort go go-locked crossbeam mutex"
    "append $((10000000 / SCALE)) gort go"
    "append16 $((10000000 / SCALE)) gort go"
    "keep16 $((1000000 / SCALE)) gort go"
)
RAW=$B/raw.txt
: >"$RAW"
note "mode=$MODE runs=$RUNS; implementations: ${IMPLS[*]}"
for ((r = 0; r < RUNS; r++)); do
    for wl in "${WORKLOADS[@]}"; do
        set -- $wl
        w=$1 n=$2
        shift 2
        for impl in "$@"; do
            case " ${IMPLS[*]} " in *" $impl "*) ;; *) continue ;; esac
            out=$(timeout 300 $(cmd "$impl") "$w" "$n" 2>/dev/null | tail -1)
            echo "$w $impl $out" >>"$RAW"
            note "run $((r + 1)): $w $impl $out"
        done
    done
done
python3 - "$RAW" <<'PY'
import json, statistics, sys
cells = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 2: continue
    w, impl = f[0], f[1]
    kv = dict(x.split("=", 1) for x in f[2:] if "=" in x)
    if "ns" not in kv: continue
    cells.setdefault((w, impl), []).append((float(kv["ns"]), int(kv.get("rss_kib", 0))))
order = ["pingpong", "b11", "b44", "select4", "append", "append16", "keep16"]
what = {"pingpong": "ns/round trip, unbuffered", "b11": "ns/item, 1->1 cap 1024", "b44": "ns/item, 4->4 cap 128",
        "select4": "ns/item, select over 4", "append": "ns/append, 1 int", "append16": "ns/append, 16 ints",
        "keep16": "ns/slice, 1M slices of 16 kept"}
impls = ["gort", "go", "go-locked", "crossbeam", "mutex"]
res = {}
print("\n%-9s %-28s" % ("workload", "unit") + "".join("%12s" % i for i in impls) + "   gort/peer")
for w in order:
    row = {i: (statistics.median(x[0] for x in cells[(w, i)]), max(x[1] for x in cells[(w, i)]))
           for i in impls if (w, i) in cells}
    if not row: continue
    res[w] = {i: {"ns": v[0], "peak_rss_kib": v[1]} for i, v in row.items()}
    ratios = ["%s %.2f" % (i, row["gort"][0] / row[i][0]) for i in impls if i != "gort" and i in row and "gort" in row]
    print("%-9s %-28s" % (w, what[w]) + "".join("%12s" % ("%.1f" % row[i][0] if i in row else "-") for i in impls)
          + "   " + ", ".join(ratios))
    if w.startswith("append") or w == "keep16":
        print("%-9s %-28s" % ("", "peak RSS MiB") + "".join("%12s" % ("%.0f" % (row[i][1] / 1024) if i in row else "-") for i in impls))
json.dump(res, open("bench/results/chan.json", "w"), indent=1)
PY
