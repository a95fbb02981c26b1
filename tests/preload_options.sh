#!/usr/bin/env bash
# preload_options.sh LIBGORT_MALLOC_SO: the environment as a real program sees it.
# Accepted spellings print nothing; every rejected value prints one "gort: NAME=..." line
# and the program runs as usual; GORT_SHOW_STATS=yes prints the statistics headed by the
# program's name and pid; GORT_SCAVENGER=off/0/no and the default start no thread (a
# single-threaded program stays single-threaded after freeing 64 MiB), GORT_SCAVENGER=1
# starts one.
set -euo pipefail
lib=$(readlink -f "${1:?usage: $0 path/to/libgort-malloc.so}")
PY=$(command -v /usr/bin/python3 || command -v python3)
fail=0
for kv in GORT_SCAVENGER=off GORT_SCAVENGER=NO GORT_SHOW_STATS=false GORT_SCAVENGE_MS=010 \
          GORT_RETAIN_MIN=16MiB GORT_GOGC=off GORT_MEMLIMIT=512MiB GORT_OOM=null GORT_HUGEPAGES=0 GORT_SCAVENGE_MS=; do
    err=$(env "$kv" LD_PRELOAD="$lib" true 2>&1)
    [ -z "$err" ] || { echo "FAIL $kv printed: $err"; fail=1; }
done
for kv in GORT_SCAVENGER=maybe GORT_SHOW_STATS=2 GORT_SCAVENGE_MS=-1 GORT_SCAVENGE_MS=0x10 \
          GORT_SCAVENGE_WINDOW=1000 GORT_RETAIN_MIN=1e6 GORT_GOGC=-5 GORT_MEMLIMIT=1GB GORT_OOM=panic; do
    name=${kv%%=*}
    err=$(env "$kv" LD_PRELOAD="$lib" true 2>&1)
    lines=$(printf '%s\n' "$err" | grep -c . || true)
    if [ "$lines" != 1 ] || ! grep -q "^gort: $name=" <<<"$err"; then echo "FAIL $kv: want one line naming $name, got: $err"; fail=1; fi
done
out=$(GORT_SHOW_STATS=yes LD_PRELOAD="$lib" ls / 2>&1 >/dev/null)
grep -q "^gort: statistics of ls (pid [0-9]*) at exit" <<<"$out" || { echo "FAIL GORT_SHOW_STATS=yes: $out"; fail=1; }
# threads after freeing 64 MiB in 1 MiB blocks, then sleeping past a scavenger period
threads() {
    env "$@" LD_PRELOAD="$lib" "$PY" -c '
import ctypes, time
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
ps = [libc.malloc(1 << 20) for _ in range(64)]
for p in ps: ctypes.memset(p, 1, 1 << 20)
for p in ps: libc.free(p)
time.sleep(0.3)
print(open("/proc/self/status").read().split("Threads:")[1].split()[0])'
}
for v in "" GORT_SCAVENGER=0 GORT_SCAVENGER=off; do
    n=$(threads ${v:+"$v"})
    [ "$n" = 1 ] || { echo "FAIL ${v:-default}: $n threads, want 1"; fail=1; }
done
n=$(threads GORT_SCAVENGER=1)
[ "$n" = 2 ] || { echo "FAIL GORT_SCAVENGER=1: $n threads, want 2"; fail=1; }
[ $fail = 0 ] && echo "preload_options: ok"
exit $fail
