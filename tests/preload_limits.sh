#!/usr/bin/env bash
# preload_limits.sh LIBGORT_MALLOC_SO: impossible and huge requests through the drop-in.
#  - python3's bytearray(1 << 40) raises MemoryError at once where the kernel's overcommit
#    policy refuses 1 TiB (mode 0 or 2 and less RAM + swap), as on glibc; gort used to grant
#    it and the program grew until the OOM killer came;
#  - calloc(1 GiB) right after a 64 KiB block was used and freed is fast and adds little RSS
#    (it used to clear the whole GiB).
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
[ $fail = 0 ] && echo "preload_limits: ok ($out)"
exit $fail
