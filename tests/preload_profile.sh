#!/usr/bin/env bash
# preload_profile.sh LIBGORT_MALLOC_SO
# The heap profile from the drop-in (GORT_MEMPROFILE, GORT_MEMPROFILERATE,
# GORT_MEMPROFILE_SIGNAL), read back with tests/pprof_read.py (our own protobuf reader)
# and, when Go is installed, with `go tool pprof -top` (.ci/run installs golang-go):
#   1. tests/prof_split.c built with frame pointers: 90% / 10% of the bytes from two
#      functions, the split within 6 standard deviations of the sampling error, at a 64 KiB
#      rate and at the default rate (512 KiB); keep_half frees half of what it allocates:
#      its inuse_space is half its alloc_space (within 6 sd).
#   2. The same program built without frame pointers: no crash, and the innermost frame
#      still names the allocating function.
#   3. GORT_MEMPROFILE_SIGNAL=1: SIGUSR2 writes the profile while the program runs.
#   4. python3 (PYTHONMALLOC=malloc, threads) and git (commit, log, gc) under the drop-in
#      with profiling at rate 1 and at the default rate: no crash, no deadlock (a time limit), a profile with samples.
set -u
lib=$(readlink -f "${1:?usage: $0 path/to/libgort-malloc.so}")
[ -f "$lib" ] || { echo "no such library: $lib"; exit 1; }
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
PY=$(command -v /usr/bin/python3 || command -v python3)
CC=${CC:-cc}
limit=${GORT_PRELOAD_TIMEOUT:-180}

$CC -std=gnu11 -O1 -g -fno-omit-frame-pointer -no-pie -o "$tmp/split_fp" tests/prof_split.c || exit 1
$CC -std=gnu11 -O2 -g -fomit-frame-pointer -no-pie -o "$tmp/split_nofp" tests/prof_split.c || exit 1

# check PROFILE BINARY RATE: the split and keep_half's inuse share
check() {
    "$PY" - "$1" "$2" "$3" <<'PYEOF'
import math, sys
sys.path.insert(0, "tests")
import pprof_read
prof, binary, rate = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = pprof_read.read(prof)
sym = pprof_read.symbolizer(binary)
assert p["sample_types"] == [("alloc_objects", "count"), ("alloc_space", "bytes"),
                             ("inuse_objects", "count"), ("inuse_space", "bytes")], p["sample_types"]
assert p["period"] == rate, ("period", p["period"], rate)
assert any(m[3].endswith(binary.split("/")[-1]) for m in p["mappings"]), "no mapping of the program"
by = {}
nsamples = {}
for vals, stk in p["samples"]:
    names = [sym(a) for a in stk]
    for f in ("big_share", "small_share", "keep_half"):
        if f in names:
            t = by.setdefault(f, [0, 0, 0, 0])
            for i in range(4):
                t[i] += vals[i]
for f in ("big_share", "small_share", "keep_half"):
    if f not in by:
        sys.exit("no samples from %s" % f)
big, small = by["big_share"][1], by["small_share"][1]
frac = big / (big + small)
# a sample per `rate` bytes: n ~ Poisson(total / rate); the share's sd is sqrt(f(1-f)/n)
n = (big + small) / rate
sd = math.sqrt(0.9 * 0.1 / n)
print("big_share %.1f MiB, small_share %.1f MiB: %.4f of the bytes (0.9 expected, sd %.4f, %.1f sd)"
      % (big / 2**20, small / 2**20, frac, sd, (frac - 0.9) / sd))
if abs(frac - 0.9) > 6 * sd:
    sys.exit("the split is off by more than 6 sd")
kh = by["keep_half"]
share = kh[3] / kh[1]
# inuse share of keep_half: each sample is live with probability 1/2
sd = math.sqrt(0.25 / (kh[1] / rate))
print("keep_half: inuse_space %.1f MiB of alloc_space %.1f MiB: %.4f (0.5 expected, sd %.4f, %.1f sd)"
      % (kh[3] / 2**20, kh[1] / 2**20, share, sd, (share - 0.5) / sd))
if abs(share - 0.5) > 6 * sd:
    sys.exit("keep_half's inuse share is off by more than 6 sd")
PYEOF
}

# 1. the split, with frame pointers
for rate in 65536 default; do
    env_rate=(GORT_MEMPROFILERATE=$rate); want=$rate
    [ $rate = default ] && env_rate=() && want=524288
    if ! timeout "$limit" env "${env_rate[@]}" GORT_MEMPROFILE="$tmp/split.pb" LD_PRELOAD="$lib" "$tmp/split_fp" split 256 >/dev/null; then
        fail "split_fp (rate $rate) failed"
    elif out=$(check "$tmp/split.pb" "$tmp/split_fp" $want 2>&1); then
        echo "ok   split, rate $rate: $out" | sed '2,$s/^/     /'
    else
        fail "split, rate $rate: $out"
    fi
done
if command -v go >/dev/null 2>&1; then
    top=$(go tool pprof -top -sample_index=alloc_space "$tmp/split_fp" "$tmp/split.pb" 2>&1)
    if grep -q big_share <<<"$top" && grep -q small_share <<<"$top" && grep -q keep_half <<<"$top"; then
        echo "ok   go tool pprof -top names big_share, small_share, keep_half"
    else
        fail "go tool pprof -top does not name the functions:"; echo "$top" | head -20
    fi
else
    echo "note go is not installed: the go tool pprof check did not run (.ci/run installs golang-go)"
fi

# 2. without frame pointers: no crash; the innermost frame is still the caller of malloc
if ! timeout "$limit" env GORT_MEMPROFILERATE=1 GORT_MEMPROFILE="$tmp/nofp.pb" LD_PRELOAD="$lib" "$tmp/split_nofp" split 16 >/dev/null; then
    fail "split_nofp at rate 1 failed"
elif out=$("$PY" - "$tmp/nofp.pb" "$tmp/split_nofp" <<'PYEOF' 2>&1
import sys
sys.path.insert(0, "tests")
import pprof_read
p = pprof_read.read(sys.argv[1])
sym = pprof_read.symbolizer(sys.argv[2])
leaf = {}
for vals, stk in p["samples"]:
    n = sym(stk[0]) if stk else None
    leaf[n] = leaf.get(n, 0) + vals[0]
for f, want in (("big_share", 16 * 2**20 * 9 // 10 // 256), ("small_share", 16 * 2**20 // 10 // 64)):
    if leaf.get(f, 0) < want:
        sys.exit("%s: %d objects with it innermost, %d allocated" % (f, leaf.get(f, 0), want))
print("innermost frames: big_share %d, small_share %d objects" % (leaf["big_share"], leaf["small_share"]))
PYEOF
); then
    echo "ok   no frame pointers: $out"
else
    fail "no frame pointers: $out"
fi

# 3. SIGUSR2
if timeout 60 env GORT_MEMPROFILE_SIGNAL=1 GORT_MEMPROFILE="$tmp/sig.pb" LD_PRELOAD="$lib" "$tmp/split_fp" signal "$tmp/sig.pb" &&
   "$PY" -c 'import sys; sys.path.insert(0, "tests"); import pprof_read; p = pprof_read.read(sys.argv[1]); assert p["samples"]' "$tmp/sig.pb"; then
    echo "ok   GORT_MEMPROFILE_SIGNAL=1: SIGUSR2 wrote a profile"
else
    fail "GORT_MEMPROFILE_SIGNAL=1: no profile on SIGUSR2"
fi

# 4. python3 and git
pyprog='
import json, threading
d = {str(i): [i] * (i % 7) for i in range(200000)}
s = json.dumps(d)
assert json.loads(s) == d
def work():
    sum(len(str(x)) for x in range(100000))
ts = [threading.Thread(target=work) for _ in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print(len(s))
'
gitdir="$tmp/repo"
git init -q "$gitdir" && git -C "$gitdir" -c user.name=t -c user.email=t@t commit -q --allow-empty -m init
for rate in 1 default; do
    env_rate=(GORT_MEMPROFILERATE=$rate)
    [ $rate = default ] && env_rate=()
    for prog in python3 git; do
        case $prog in
            python3) cmd=(env PYTHONMALLOC=malloc "$PY" -c "$pyprog") ;; # every object through malloc
            git) for i in 1 2 3; do echo "line $i" >>"$gitdir/f"; done
                 cmd=(sh -c "cd '$gitdir' && git add f && git -c user.name=t -c user.email=t@t commit -qm c && git log --stat >/dev/null && git gc -q") ;;
        esac
        rm -f "$tmp"/p.*
        if ! timeout "$limit" env "${env_rate[@]}" GORT_MEMPROFILE="$tmp/p.%p" LD_PRELOAD="$lib" "${cmd[@]}" >/dev/null 2>"$tmp/err"; then
            fail "$prog under the drop-in with profiling (rate $rate) failed:"; tail -5 "$tmp/err"
            continue
        fi
        if out=$("$PY" -c '
import sys; sys.path.insert(0, "tests"); import pprof_read
n = 0
for f in sys.argv[1:]:
    n += len(pprof_read.read(f)["samples"])
assert n > 0, "no samples"
print("%d profiles, %d samples" % (len(sys.argv) - 1, n))' "$tmp"/p.* 2>&1); then
            echo "ok   $prog, rate $rate: $out"
        else
            fail "$prog, rate $rate: $out"
        fi
    done
done

[ $failed -eq 0 ] && echo "preload_profile: ok"
exit $failed
