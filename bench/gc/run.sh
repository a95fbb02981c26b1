#!/usr/bin/env bash
# The collector benchmark: gort's collector (gort_new) side by side with Boehm
# GC 8.2 (GC_MARKERS=2), Go 1.19 and malloc/free on mimalloc, on binary-trees,
# GCBench and a big live heap with churn. bench/run.sh calls this; see
# bench/README.md, "The collector benchmark".
#   BENCH=quick|default|long   sizes and runs (quick: 1 run, 128 MiB live heap)
#   BENCH_RUNS=n               runs per workload and implementation (the median is shown)
#   GCBENCH_ONLY=a,b           only these workloads (binarytrees, gcbench, live)
#   GCBENCH_IMPLS=a,b          only these implementations (gort, boehm, go, mimalloc)
#   GCBENCH_LIB_BUILD=dir      the gort build to link (default build/release, made with
#                              `make MODE=release BUILD=dir dir/libgort.a`)
#   GCBENCH_LIB=file.a         link this prebuilt libgort.a instead (no make), e.g. one built
#                              from a clean export of a commit; GCBENCH_COMMIT=label names it
# Writes the table to stdout, bench/results/gc.json, and the GORT_GCTRACE=1
# lines of one gort binary-trees run to bench/results/gc-gctrace.log.
# A variant that fails to build or run is reported as failed; the rest run.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
MODE=${BENCH:-default}
case "$MODE" in quick|default|long) ;; *) echo "bench/gc: BENCH=$MODE: use quick, default or long" >&2; exit 2;; esac
B=$ROOT/build/bench-gc
OUT=$ROOT/bench/results
LIBB=${GCBENCH_LIB_BUILD:-build/release}
mkdir -p "$B" "$OUT"
note() { echo "bench/gc: $*" >&2; }
LIBDIR=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

# 1. the peers: Debian's libgc-dev (Boehm GC 8.2), golang-go (Go 1.19), libmimalloc2.0
need=()
[ -e /usr/include/gc/gc.h ] || need+=(libgc-dev)
command -v go >/dev/null 2>&1 || need+=(golang-go)
dpkg -s libmimalloc2.0 >/dev/null 2>&1 || need+=(libmimalloc2.0)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        note "installing ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null 2>&1 || true
        apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
            note "apt-get install failed; what is missing is reported as failed"
    else
        note "missing ${need[*]} (run as root to install them); those variants are reported as failed"
    fi
fi
command -v python3 >/dev/null 2>&1 || { note "python3 is needed for the report"; exit 1; }

ERR=()
CFLAGS="-std=c11 -O2 -Wall -Wextra"
gcc $CFLAGS -o "$B/gcrun" bench/gc/gcrun.c || { note "failed to build bench/gc/gcrun.c"; exit 1; }
build() {  # build IMPL LOG command...: on failure the implementation is reported as failed
    local impl=$1 logf=$2; shift 2
    if ! "$@" >>"$logf" 2>&1; then
        local why
        why=$(grep -m1 -E 'error|undefined reference' "$logf" | sed 's/^[^ ]*: //' | cut -c1-100)
        note "$impl: build failed (see $logf): $why"
        ERR+=(--impl-error "$impl=build failed: $why (see $logf)")
        return 1
    fi
}

# 2. gort: libgort.a, then the three programs
: >"$B/build-gort.log"
if [ -n "${GCBENCH_LIB:-}" ]; then
    LIBA=$GCBENCH_LIB
    note "linking gort from $LIBA"
    [ -f "$LIBA" ] || echo "error: GCBENCH_LIB=$LIBA: no such file" >"$B/build-gort.log"
else
    LIBA=$LIBB/libgort.a
    note "building gort ($LIBA)"
    make -s MODE=release BUILD="$LIBB" "$LIBA" >>"$B/build-gort.log" 2>&1 || LIBA=/nonexistent  # not a stale one
fi
if build gort "$B/build-gort.log" test -f "$LIBA"; then
    for w in binarytrees gcbench live; do
        rm -f "$B/$w-gort"
        build gort "$B/build-gort.log" gcc $CFLAGS -DIMPL_GORT -Iinclude -o "$B/$w-gort" bench/gc/$w.c \
            "$LIBA" -pthread -ldl -lm || break
    done
fi

# 3. Boehm, malloc, Go
: >"$B/build-boehm.log"
if [ -e /usr/include/gc/gc.h ]; then
    for w in binarytrees gcbench live; do
        build boehm "$B/build-boehm.log" gcc $CFLAGS -DIMPL_BOEHM -o "$B/$w-boehm" bench/gc/$w.c -lgc -pthread || break
    done
else
    ERR+=(--impl-error "boehm=libgc-dev not installed")
fi
: >"$B/build-malloc.log"
for w in binarytrees gcbench live; do
    build mimalloc "$B/build-malloc.log" gcc $CFLAGS -DIMPL_MALLOC -o "$B/$w-malloc" bench/gc/$w.c || break
done
MIMALLOC=
for f in $(dpkg -L libmimalloc2.0 2>/dev/null | grep -E '/libmimalloc\.so\.2$') "$LIBDIR"/libmimalloc.so.2 "$LIBDIR"/libmimalloc.so*; do
    [ -f "$f" ] && LD_PRELOAD=$f /bin/true 2>/dev/null && { MIMALLOC=$f; break; }
done
[ -n "$MIMALLOC" ] || ERR+=(--impl-error "mimalloc=libmimalloc2.0 not installed")
: >"$B/build-go.log"
if command -v go >/dev/null 2>&1; then
    build go "$B/build-go.log" env -C bench/gc/go GOCACHE="$B/gocache" GOPATH="$B/gopath" GO111MODULE=on \
        GOFLAGS= GOPROXY=off GOTOOLCHAIN=local go build -o "$B/gcbench-go" .
else
    ERR+=(--impl-error "go=golang-go not installed")
fi

# 4. the runs (one benchmark at a time on the machine: /tmp/gort-bench.lock,
# unless a caller holds it, as bench/map/run.sh does)
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
if [ "${GORT_BENCH_LOCK_HELD:-0}" = 1 ] || lock_held_above; then LOCK=(); fi

TRACE=$OUT/gc-gctrace.log
rm -f "$TRACE"
COMMIT=${GCBENCH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- src include 2>/dev/null || echo "+uncommitted-src")}
note "mode=$MODE; progress below, table at the end"
"${LOCK[@]}" python3 bench/gc/run.py --bindir "$B" --mode "$MODE" --runs "${BENCH_RUNS:-0}" \
    --mimalloc "$MIMALLOC" --only "${GCBENCH_ONLY:-}" --impls "${GCBENCH_IMPLS:-}" --out "$OUT" \
    --commit "$COMMIT" --gctrace-log "$TRACE" "${ERR[@]}"
