#!/usr/bin/env bash
# The map benchmark: gort's map side by side with Go's built-in map, Abseil's
# flat_hash_map, std::unordered_map, uthash, stb_ds and GLib's GHashTable.
#   BENCH=quick|default|long   quick skips N=1e7 and runs fewer ops per cell
#   MAP_IMPLS=gort,go,...      only these implementations
#   MAP_NS="1e3 1e5"           only these sizes
#   MAP_RUNS=n                 runs of gort, Go and absl (the goals' three; the others run
#                              once): the report takes each cell's median. Default: 1 in
#                              quick mode, 3 in default and long mode.
# Writes the table to stdout, bench/results/map.json and bench/results/map.svg.
# Every run holds /tmp/gort-bench.lock (one benchmark at a time on the machine),
# unless an ancestor process already holds it (`flock /tmp/gort-bench.lock make bench`)
# or GORT_BENCH_LOCK_HELD=1: taking it again would wait forever.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
MODE=${BENCH:-default}
case "$MODE" in quick|default|long) ;; *) echo "bench/map: BENCH=$MODE: use quick, default or long" >&2; exit 2;; esac
if [ -n "${MAP_RUNS:-}" ]; then RUNS=$MAP_RUNS
elif [ "$MODE" = quick ]; then RUNS=1
else RUNS=3; fi
case "$RUNS" in ''|*[!0-9]*|0) echo "bench/map: MAP_RUNS=$RUNS: use a positive integer" >&2; exit 2;; esac
B=$ROOT/build/bench-map
OUT=$ROOT/bench/results
mkdir -p "$B" "$OUT"
note() { echo "bench/map: $*" >&2; }

bash bench/map/install-peers.sh
note "building gort (make -s libs)"
make -s libs >"$B/libs.log" 2>&1 || { note "gort build failed, see $B/libs.log"; exit 1; }

CFLAGS="-O2 -g -DNDEBUG"
declare -A BUILT
build() { # name command...
    local name=$1; shift
    if "$@" >"$B/build-$name.log" 2>&1; then BUILT[$name]=1; else note "$name: build failed (see $B/build-$name.log); skipped"; fi
}
build gort gcc -std=gnu11 $CFLAGS -Iinclude -o "$B/mapbench-gort" bench/map/impl_gort.c build/release/libgort.a -pthread -lm -ldl
[ -e /usr/include/uthash.h ] && build uthash gcc -std=gnu11 $CFLAGS -o "$B/mapbench-uthash" bench/map/impl_uthash.c
[ -e /usr/include/stb/stb_ds.h ] && build stb_ds gcc -std=gnu11 $CFLAGS -o "$B/mapbench-stb_ds" bench/map/impl_stb.c -lm
pkg-config --exists glib-2.0 2>/dev/null &&
    build glib gcc -std=gnu11 $CFLAGS $(pkg-config --cflags glib-2.0) -o "$B/mapbench-glib" bench/map/impl_glib.c $(pkg-config --libs glib-2.0)
command -v g++ >/dev/null && {
    [ -e /usr/include/absl/container/flat_hash_map.h ] &&
        build absl g++ -std=c++17 $CFLAGS -o "$B/mapbench-absl" bench/map/impl_absl.cc $(pkg-config --libs absl_hash absl_raw_hash_set 2>/dev/null)
    build std g++ -std=c++17 $CFLAGS -o "$B/mapbench-std" bench/map/impl_std.cc
}
command -v go >/dev/null &&
    build go env -C bench/map/go GOCACHE="$B/gocache" GOPATH="$B/gopath" GO111MODULE=off GOFLAGS= GOPROXY=off \
        go build -o "$B/mapbench-go" main.go

IMPLS=${MAP_IMPLS:-gort,go,absl,std,uthash,stb_ds,glib}
if [ -n "${MAP_NS:-}" ]; then NS=$MAP_NS
elif [ "$MODE" = quick ]; then NS="1000 100000 1000000"
else NS="1000 100000 1000000 10000000"; fi

# Is the lock held by one of our ancestors (flock LOCKFILE cmd...)?
lock_held_above() {
    local p=$PPID cmd
    while [ -n "$p" ] && [ "$p" -gt 1 ]; do
        cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || return 1
        case "$cmd" in flock*gort-bench.lock*) return 0;; esac
        p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null)
    done
    return 1
}
LOCK=(flock /tmp/gort-bench.lock)
if [ "${GORT_BENCH_LOCK_HELD:-0}" = 1 ] || lock_held_above; then
    LOCK=()
    note "/tmp/gort-bench.lock is held by a caller: not taking it again"
fi

RAW=$B/results.txt
: >"$RAW"
# Run r goes through every size; runs after the first take only the goals' three
# implementations. One machine-wide disturbance then spoils one run, not the
# median, and the runs of one size are minutes apart.
for ((r = 1; r <= RUNS; r++)); do
    for n in $NS; do
        for impl in ${IMPLS//,/ }; do
            [ -n "${BUILT[$impl]:-}" ] || continue
            case "$impl" in gort|go|absl) ;; *) [ "$r" = 1 ] || continue;; esac
            note "$impl N=$n (run $r/$RUNS)"
            if ! "${LOCK[@]}" timeout 900 "$B/mapbench-$impl" "$n" "$MODE" >>"$RAW" 2>"$B/run-$impl-$n.log"; then
                note "$impl N=$n failed (see $B/run-$impl-$n.log)"
                echo "ERROR impl=$impl n=$n" >>"$RAW"
            fi
        done
    done
done
{
    echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
    echo "compiler: $(gcc --version | head -1); $(go version 2>/dev/null)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null)  mode: $MODE"
} >"$B/meta.txt"
python3 bench/map/report.py "$RAW" "$B/meta.txt" "$OUT/map.json" "$OUT/map.svg"
