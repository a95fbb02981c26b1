#!/usr/bin/env bash
# gort's allocator benchmark: `make bench` runs this.  See bench/README.md.
#   BENCH=quick|default|long   how long (default: under 10 minutes on 2 cores)
#   THREADS=n                  worker threads (default: nproc)
#   BENCH_ONLY=a,b             only these workloads (names as in the table)
#   BENCH_ALLOCS=a,b           only these allocators (glibc,jemalloc,tcmalloc,mimalloc,gort)
#   BENCH_RUNS=n               runs per workload and allocator (overrides the mode's)
#   BENCH_SKIP_MAP=1           skip the map benchmark (bench/map/run.sh), which runs after the allocator's
#   BENCH_SKIP_GC=1            skip the collector benchmark (bench/gc/run.sh), which runs after the map's
#   GORT_BENCH_PEERS_DIR=dir   take peer .so files from dir (libjemalloc.so*, libtcmalloc*.so*,
#                              libmimalloc.so*) instead of the system's
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${BENCH:-default}
case "$MODE" in quick|default|long) ;; *) echo "bench: BENCH=$MODE: use quick, default or long" >&2; exit 2;; esac
THREADS=${THREADS:-$(nproc)}
BIN=build/bench
CC=${CC:-cc}
LIBDIR=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
SUDO_OK=0; [ "$(id -u)" = 0 ] && SUDO_OK=1
APT_UPDATED=0

note() { echo "bench: $*" >&2; }

apt_install() {  # apt_install PKG...: only as root; quiet
    [ $SUDO_OK = 1 ] && command -v apt-get >/dev/null || return 1
    if [ $APT_UPDATED = 0 ]; then
        note "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
        APT_UPDATED=1
    fi
    note "apt-get install -y $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

command -v python3 >/dev/null || apt_install python3 || { note "python3 is needed for the report"; exit 1; }

# 1. gort
ALLOC_ARGS=()
ERR_ARGS=()
GORT_SO=$ROOT/build/release/libgort-malloc.so
note "building gort (make -s libs)"
mkdir -p build
if ! make -s libs >build/bench-libs.log 2>&1; then
    note "gort build failed (see build/bench-libs.log); gort is reported as error"
    ERR_ARGS+=(--alloc-error "gort=build failed")
elif [ ! -f "$GORT_SO" ]; then
    note "gort build made no $GORT_SO; gort is reported as error"
    ERR_ARGS+=(--alloc-error "gort=no libgort-malloc.so")
fi

# 2. the workloads
mkdir -p "$BIN"
note "building workloads into $BIN"
for src in bench/*.c; do
    name=$(basename "$src" .c)
    if [ ! -x "$BIN/$name" ] || [ "$src" -nt "$BIN/$name" ] || [ bench/common.h -nt "$BIN/$name" ]; then
        $CC -std=c11 -O2 -pthread -Wall -Wextra -o "$BIN/$name" "$src" || { note "failed to build $src"; exit 1; }
    fi
done

# 3. the peers
case ",${BENCH_ONLY:-sqlite}," in
    *,sqlite,*) command -v sqlite3 >/dev/null || apt_install sqlite3 || note "sqlite3 missing and not root: the sqlite workload is skipped";;
esac
find_peer() {  # find_peer NAME PKG GLOB...: prints the path or nothing
    local name=$1 pkg=$2; shift 2
    local g f
    if [ -n "${GORT_BENCH_PEERS_DIR:-}" ]; then
        for g in "$@"; do
            for f in "$GORT_BENCH_PEERS_DIR"/$g; do [ -f "$f" ] && { echo "$f"; return; }; done
        done
        return
    fi
    for g in "$@"; do
        f=$(dpkg -L "$pkg" 2>/dev/null | grep -E "/$g\$" | head -1)
        [ -n "$f" ] && [ -f "$f" ] && { echo "$f"; return; }
    done
    for g in "$@"; do
        for f in "$LIBDIR"/$g; do [ -f "$f" ] && { echo "$f"; return; }; done
    done
}

ALLOC_ARGS+=(--alloc "glibc=")
add_peer() {  # add_peer NAME PKG GLOB...
    local name=$1 pkg=$2 so
    if [ -z "${GORT_BENCH_PEERS_DIR:-}" ] && ! dpkg -s "$pkg" >/dev/null 2>&1; then
        apt_install "$pkg" || true   # here, not in $(...), so apt-get update runs once
    fi
    so=$(find_peer "$@")
    if [ -z "$so" ]; then
        if [ -n "${GORT_BENCH_PEERS_DIR:-}" ]; then
            note "skipping $name: no $3 in GORT_BENCH_PEERS_DIR=$GORT_BENCH_PEERS_DIR"
        else
            note "skipping $name: Debian package $pkg not installed (run as root to install it)"
        fi
        return
    fi
    if ! LD_PRELOAD=$so /bin/true 2>/dev/null; then
        note "skipping $name: $so does not load"
        return
    fi
    ALLOC_ARGS+=(--alloc "$name=$so")
}
add_peer jemalloc libjemalloc2 'libjemalloc.so.2' 'libjemalloc.so*'
add_peer tcmalloc libtcmalloc-minimal4 'libtcmalloc_minimal.so.4' 'libtcmalloc_minimal.so*' 'libtcmalloc.so*'
add_peer mimalloc libmimalloc2.0 'libmimalloc.so.2' 'libmimalloc.so*'
if [ ${#ERR_ARGS[@]} = 0 ]; then
    if LD_PRELOAD=$GORT_SO /bin/true 2>/dev/null; then
        ALLOC_ARGS+=(--alloc "gort=$GORT_SO")
    else
        note "gort: LD_PRELOAD=$GORT_SO /bin/true fails; gort is reported as error"
        ERR_ARGS+=(--alloc-error "gort=does not load")
    fi
fi

# BENCH_ALLOCS filter
if [ -n "${BENCH_ALLOCS:-}" ]; then
    keep=()
    for ((i = 0; i < ${#ALLOC_ARGS[@]}; i += 2)); do
        n=${ALLOC_ARGS[i+1]%%=*}
        case ",$BENCH_ALLOCS," in *",$n,"*) keep+=("${ALLOC_ARGS[i]}" "${ALLOC_ARGS[i+1]}");; esac
    done
    ALLOC_ARGS=("${keep[@]}")
    case ",$BENCH_ALLOCS," in *",gort,"*) ;; *) ERR_ARGS=();; esac
fi

note "mode=$MODE threads=$THREADS; progress below, table at the end"
python3 bench/run.py --bindir "$BIN" --threads "$THREADS" --mode "$MODE" \
    --runs "${BENCH_RUNS:-0}" --only "${BENCH_ONLY:-}" --out bench/results \
    "${ALLOC_ARGS[@]}" "${ERR_ARGS[@]}"
rc=$?

# 4. the map benchmark (bench/map/run.sh, same BENCH mode); BENCH_SKIP_MAP=1 skips it
if [ "${BENCH_SKIP_MAP:-0}" != 1 ]; then
    note "map benchmark (bench/map/run.sh, BENCH=$MODE; BENCH_SKIP_MAP=1 skips it)"
    BENCH=$MODE bash bench/map/run.sh || rc=1
fi

# 5. the collector benchmark (bench/gc/run.sh, same BENCH mode); BENCH_SKIP_GC=1 skips it
if [ "${BENCH_SKIP_GC:-0}" != 1 ]; then
    note "collector benchmark (bench/gc/run.sh, BENCH=$MODE; BENCH_SKIP_GC=1 skips it)"
    BENCH=$MODE bash bench/gc/run.sh || rc=1
fi

# 6. channels and slices (bench/chan/run.sh, same BENCH mode); BENCH_SKIP_CHAN=1 skips it
if [ "${BENCH_SKIP_CHAN:-0}" != 1 ]; then
    note "channel and slice benchmark (bench/chan/run.sh, BENCH=$MODE; BENCH_SKIP_CHAN=1 skips it)"
    BENCH=$MODE bash bench/chan/run.sh || rc=1
fi
exit $rc
