#!/usr/bin/env bash
# preload_limits.sh LIBGORT_MALLOC_SO: impossible and huge requests through the drop-in.
#  - python3's bytearray(1 << 40) raises MemoryError at once where the kernel's overcommit
#    policy refuses 1 TiB (mode 0 or 2 and less RAM + swap), as on glibc; gort used to grant
#    it and the program grew until the OOM killer came;
#  - calloc(1 GiB) right after a 64 KiB block was used and freed is fast and adds little RSS
#    (it used to clear the whole GiB);
#  - programs run under `ulimit -v 60000` (58.6 MiB of address space), as on glibc: the heap
#    maps its arena 4 MiB at a time, and its index and summaries are sized by the heap (gort
#    once reserved 113 MiB of address space before the first object);
#  - malloc returns NULL with ENOMEM, without a crash, when the address space runs out;
#  - malloc_trim(0) takes back memory that one thread freed into the spans of another that
#    has stopped allocating (blocked in read; tests/trim_idle.c): 256 MiB of 64-byte objects
#    (glibc: back to the 32 MiB array that held their addresses; gort used to keep it all).
set -u
lib=$(readlink -f "${1:?usage: $0 path/to/libgort-malloc.so}")
PY=$(command -v /usr/bin/python3 || command -v python3)
fail=0
mode=$(cat /proc/sys/vm/overcommit_memory 2>/dev/null || echo 1)
mem_kb=$(awk '/^(MemTotal|SwapTotal):/ {s += $2} END {print s}' /proc/meminfo)
if [ "$mode" != 1 ] && [ "$mem_kb" -lt $((1 << 30)) ]; then
    out=$(LD_PRELOAD="$lib" timeout -k 5 20 "$PY" -c '
try:
    bytearray(1 << 40)
    print("granted")
except MemoryError:
    print("MemoryError")' 2>&1)
    [ "$out" = MemoryError ] || { echo "FAIL bytearray(1 << 40): $out (exit $?)"; fail=1; }
else
    echo "skip bytearray(1 << 40): overcommit mode $mode, RAM + swap $mem_kb KiB"
fi
out=$(LD_PRELOAD="$lib" timeout -k 5 60 "$PY" -c '
import ctypes, time
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.calloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4
b = libc.malloc(64 << 10); ctypes.memset(b, 0xAA, 64 << 10); libc.free(b)
r0 = rss(); t = time.time()
p = libc.calloc(1, 1 << 30)
dt = time.time() - t; r1 = rss()
ok = p and ctypes.string_at(p, 1 << 16) == bytes(1 << 16)
print("ok" if ok and dt < 0.5 and r1 - r0 < 32768 else "bad", "%.3f s" % dt, r1 - r0, "KiB")' 2>&1)
case $out in ok*) ;; *) echo "FAIL calloc(1 GiB) after 64 KiB: $out"; fail=1;; esac
seq 1 200000 | awk '{print ($1 * 7919) % 200003}' > "${TMPDIR:-/tmp}/gort_limits_$$.txt"
want=$(sort -n "${TMPDIR:-/tmp}/gort_limits_$$.txt" | md5sum)
got=$( (ulimit -v 60000 && LD_PRELOAD="$lib" sort -n "${TMPDIR:-/tmp}/gort_limits_$$.txt" | md5sum) 2>&1)
rm -f "${TMPDIR:-/tmp}/gort_limits_$$.txt"
[ "$got" = "$want" ] || { echo "FAIL sort under ulimit -v 60000: $got"; fail=1; }
vm=$( (ulimit -v 60000 && LD_PRELOAD="$lib" "$PY" -c '
import ctypes, ctypes.util, os
libc = ctypes.CDLL(None, use_errno=True)
libc.malloc.restype = ctypes.c_void_p
# small and large blocks to 20 MiB, then until the limit refuses one: NULL and ENOMEM
blocks = [libc.malloc(n) for n in [100] * 1000 + [1 << 20] * 20]
assert all(blocks)
got = 0
while True:
    p = libc.malloc(1 << 20)
    if not p:
        break
    ctypes.memset(p, 1, 1 << 20)
    got += 1
print("refused after", got, "MiB, errno", ctypes.get_errno() == 12)
vm = [l for l in open("/proc/self/status") if l.startswith("VmSize")][0].split()[1]
print("VmSize", vm)') 2>&1)
case $vm in "refused after "*" MiB, errno True"*) ;; *) echo "FAIL malloc under ulimit -v 60000: $vm"; fail=1;; esac
tmp=$(mktemp -d)
if cc -O2 -pthread -o "$tmp/trim_idle" "$(dirname "$0")/trim_idle.c" 2>"$tmp/cc.log"; then
    glibc=$("$tmp/trim_idle") || glibc="failed $?"
    trim=$(LD_PRELOAD="$lib" "$tmp/trim_idle") || trim="failed $?"
    case $trim in
        failed*) echo "FAIL malloc_trim of an idle thread's spans: $trim"; fail=1 ;;
        *) # after the trim: at most the 32 MiB array and 40 MiB more
            [ "${trim#* }" -lt $(((32 + 40) * 1024)) ] ||
                { echo "FAIL malloc_trim of an idle thread's spans: RSS KiB before, after: $trim (glibc $glibc)"; fail=1; } ;;
    esac
else
    echo "FAIL cannot build tests/trim_idle.c: $(cat "$tmp/cc.log")"; fail=1
fi
rm -rf "$tmp"
[ $fail = 0 ] && echo "preload_limits: ok (calloc: $out; ulimit -v 60000: $(echo $vm | tr '\n' ' '); malloc_trim of an idle thread's spans, RSS KiB before, after: $trim, glibc $glibc)"
exit $fail
