#!/usr/bin/env bash
# Instructions per malloc+free pair on the fast path (workload 1) for each
# allocator, counted by callgrind.  fastpath runs twice per allocator, with
# N1 and N2 pairs; (I(N2) - I(N1)) / (N2 - N1) cancels start-up and exit.
# The figure includes fastpath's own loop (a size-table load, a store and a
# load per object: the same few instructions for every allocator).
#   bash bench/callgrind.sh            (after bench/run.sh, or it builds what it needs)
#   N1=131072 N2=1179648 bash bench/callgrind.sh
# Peers are found as in run.sh (system packages or GORT_BENCH_PEERS_DIR).
set -u
cd "$(dirname "$0")/.."
N1=${N1:-131072}
N2=${N2:-1179648}
BIN=build/bench
LIBDIR=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
command -v valgrind >/dev/null || { echo "callgrind: valgrind not installed (apt-get install valgrind)" >&2; exit 1; }
mkdir -p "$BIN"
if [ ! -x "$BIN/fastpath" ] || [ bench/fastpath.c -nt "$BIN/fastpath" ] || [ bench/common.h -nt "$BIN/fastpath" ]; then
    ${CC:-cc} -std=c11 -O2 -pthread -o "$BIN/fastpath" bench/fastpath.c || exit 1
fi
mkdir -p build
make -s libs >build/bench-libs.log 2>&1 || echo "callgrind: gort build failed (build/bench-libs.log)" >&2

peer() {  # peer GLOB...: first match in GORT_BENCH_PEERS_DIR or the system lib dir
    local d=${GORT_BENCH_PEERS_DIR:-$LIBDIR} g f
    for g in "$@"; do for f in "$d"/$g; do [ -f "$f" ] && { echo "$f"; return; }; done; done
}
ALLOCS=("glibc=")
for spec in "jemalloc=libjemalloc.so.2 libjemalloc.so*" \
            "tcmalloc=libtcmalloc_minimal.so.4 libtcmalloc_minimal.so*" \
            "mimalloc=libmimalloc.so.2 libmimalloc.so*"; do
    name=${spec%%=*}
    # shellcheck disable=SC2086
    so=$(peer ${spec#*=})
    if [ -n "$so" ]; then ALLOCS+=("$name=$so"); else echo "callgrind: skipping $name: not found" >&2; fi
done
[ -f build/release/libgort-malloc.so ] && ALLOCS+=("gort=$PWD/build/release/libgort-malloc.so") \
    || echo "callgrind: skipping gort: no build/release/libgort-malloc.so" >&2

instr() {  # instr PRELOAD PAIRS: total instructions (Ir) of one fastpath run, or "error"
    local log
    log=$(mktemp)
    if env ${1:+LD_PRELOAD=$1} valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            "$BIN/fastpath" -c "$2" >/dev/null 2>"$log"; then
        sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$log" | tail -1
    else
        echo error
    fi
    rm -f "$log"
}

printf '%-10s %14s %14s %14s\n' allocator "Ir(N1=$N1)" "Ir(N2=$N2)" "instr/pair"
for a in "${ALLOCS[@]}"; do
    name=${a%%=*} so=${a#*=}
    echo "callgrind: $name ..." >&2
    i1=$(instr "$so" "$N1")
    i2=$(instr "$so" "$N2")
    if [ "$i1" = error ] || [ "$i2" = error ] || [ -z "$i1" ] || [ -z "$i2" ]; then
        printf '%-10s %14s %14s %14s\n' "$name" "${i1:-?}" "${i2:-?}" error
    else
        printf '%-10s %14s %14s %14.1f\n' "$name" "$i1" "$i2" \
            "$(python3 -c "print(($i2 - $i1) / ($N2 - $N1))")"
    fi
done
