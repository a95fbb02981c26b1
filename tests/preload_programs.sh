#!/usr/bin/env bash
# preload_programs.sh LIBGORT_MALLOC_SO
# Runs real Debian programs under LD_PRELOAD=libgort-malloc.so and compares their output
# with a run on glibc's malloc: python3 (dict/list/string work, also with
# PYTHONMALLOC=malloc so that every object goes through malloc, and a threaded script),
# sqlite3 (table, inserts, GROUP BY, index, join), git (init, commits, branch/merge,
# log, fsck, gc with two pack threads), gcc (compile to assembly and to a program that
# is then run), and threaded programs (xz -T2, sort --parallel=2).
# A program that is not installed is reported and skipped (.ci/run installs sqlite3, git).
# Exits 0 when every program that ran matched.
set -u
lib=$(readlink -f "${1:?usage: $0 path/to/libgort-malloc.so}")
[ -f "$lib" ] || { echo "no such library: $lib"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0; ran=0; skipped=()
limit=${GORT_PRELOAD_TIMEOUT:-180}

# The python to use: Debian's, not a pyenv shim (which would put bash in between).
PY=$(command -v /usr/bin/python3 || command -v python3 || true)
export PY

have() { command -v "$1" >/dev/null 2>&1; }

# compare NAME FUNCTION: runs FUNCTION DIR twice, with glibc and with gort, in fresh
# directories, and diffs what each printed (stdout and stderr) and its exit status.
compare() {
    local name=$1 fn=$2 g="$tmp/$1.glibc" o="$tmp/$1.gort"
    mkdir -p "$g" "$o"
    local t0 t1 t2
    t0=$(date +%s.%N)
    (cd "$g" && timeout "$limit" bash -c "$(declare -f "$fn"); $fn" >"$g.out" 2>&1; echo "exit $?" >>"$g.out")
    t1=$(date +%s.%N)
    (cd "$o" && LD_PRELOAD="$lib" timeout "$limit" bash -c "$(declare -f "$fn"); $fn" >"$o.out" 2>&1; echo "exit $?" >>"$o.out")
    t2=$(date +%s.%N)
    ran=$((ran + 1))
    local times
    times=$(awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "glibc %.1fs, gort %.1fs", b - a, c - b }')
    if ! grep -qx "exit 0" "$g.out"; then
        echo "FAIL $name: the glibc run itself failed:"; tail -20 "$g.out" | sed 's/^/    | /'
        failed=$((failed + 1)); return
    fi
    if cmp -s "$g.out" "$o.out"; then
        echo "ok   $name ($(wc -l <"$g.out") lines match; $times)"
    else
        echo "FAIL $name: output under gort differs from glibc ($times):"
        diff -u "$g.out" "$o.out" | head -40 | sed 's/^/    | /'
        failed=$((failed + 1))
    fi
}

# ---- gort is really in use ----
check_in_use() {
    local out
    out=$(LD_PRELOAD="$lib" "$PY" -c '
import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc_usable_size.argtypes = [ctypes.c_void_p]
p = libc.malloc(17)
print(hasattr(libc, "gort_malloc"), libc.malloc_usable_size(ctypes.c_void_p(p)))
' 2>&1)
    if [ "$out" = "True 32" ]; then echo "ok   gort is the malloc in use (malloc_usable_size(malloc(17)) = 32)"
    else echo "FAIL gort not in use under LD_PRELOAD: $out"; failed=$((failed + 1)); fi
}

# ---- python3 ----
py_work() {
    cat >work.py <<'EOF'
import hashlib, json, random, re, collections, sys
random.seed(12345)
h = hashlib.sha256()
d = {}
for i in range(200000):
    k = "key%d" % random.randrange(50000)
    d.setdefault(k, []).append(i * 7 % 1000)
    if i % 5 == 0 and d:
        d.pop("key%d" % random.randrange(50000), None)
h.update(json.dumps(sorted((k, sum(v)) for k, v in d.items())).encode())
words = ["".join(chr(97 + (i * j) % 26) for j in range(1 + i % 40)) for i in range(30000)]
text = " ".join(words) * 3
c = collections.Counter(text.split())
h.update(repr(c.most_common(50)).encode())
h.update(re.sub(r"[aeiou]+", lambda m: str(len(m.group())), text[:500000]).encode())
big = [bytes(random.getrandbits(8) for _ in range(1000)) * 100 for _ in range(50)]
h.update(b"".join(big))
s = set(range(0, 3000000, 3)) & set(range(0, 3000000, 5))
h.update(str(len(s)).encode())
lst = [[j for j in range(i % 300)] for i in range(10000)]
lst.sort(key=lambda x: (len(x), x[:1]))
h.update(str(sum(map(len, lst))).encode())
print(len(d), len(c), len(s), h.hexdigest())
EOF
    PYTHONHASHSEED=0 "$PY" work.py
    PYTHONHASHSEED=0 PYTHONMALLOC=malloc "$PY" work.py
}

py_threads() {
    cat >threads.py <<'EOF'
import threading, queue, hashlib
q = queue.Queue(maxsize=1000)
out = [None] * 8
def producer(n):
    for i in range(20000):
        q.put(("item-%d-%d" % (n, i)) * (1 + i % 50))
    q.put(None)
def consumer(n):
    h = hashlib.sha256()
    total = 0
    while True:
        x = q.get()
        if x is None:
            break
        total += len(x)
        h.update(x[:10].encode())
    out[n] = total
ps = [threading.Thread(target=producer, args=(i,)) for i in range(4)]
cs = [threading.Thread(target=consumer, args=(i,)) for i in range(4)]
for t in ps + cs: t.start()
for t in ps + cs: t.join()
def worker(n):
    d = {}
    for i in range(100000):
        d[str(i * n)] = [i] * (i % 10)
    out[4 + n % 4] = sum(len(v) for v in d.values())
ws = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
for t in ws: t.start()
for t in ws: t.join()
print(sum(out[:4]), out[4:])
EOF
    PYTHONMALLOC=malloc "$PY" threads.py
}

# ---- sqlite3 ----
sqlite_work() {
    awk 'BEGIN {
        print "PRAGMA journal_mode=WAL;";
        print "CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL, blob BLOB);";
        print "CREATE TABLE g(grp INTEGER PRIMARY KEY, label TEXT);";
        print "BEGIN;";
        for (i = 0; i < 30000; i++)
            printf "INSERT INTO t(grp, name, val, blob) VALUES(%d, %cname-%d-%s%c, %d.25, zeroblob(%d));\n", \
                   (i * 7919) % 97, 39, i, substr("abcdefghijklmnopqrstuvwxyz", 1 + i % 26), 39, i % 1000, (i % 50) * 37;
        for (g = 0; g < 97; g++) printf "INSERT INTO g VALUES(%d, %clabel%d%c);\n", g, 39, g, 39;
        print "COMMIT;";
        print "CREATE INDEX t_grp ON t(grp, val);";
        print "SELECT grp, count(*), sum(val), min(name), max(length(blob)) FROM t GROUP BY grp ORDER BY grp;";
        print "SELECT g.label, count(*) FROM t JOIN g USING(grp) WHERE t.val > 500 GROUP BY g.label ORDER BY 2 DESC, 1 LIMIT 20;";
        print "UPDATE t SET name = upper(name) || name WHERE id % 3 = 0;";
        print "DELETE FROM t WHERE id % 5 = 0;";
        print "SELECT count(*), sum(length(name)), group_concat(substr(name, 1, 2), \"\") IS NOT NULL FROM t;";
        print "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50000) SELECT sum(x), count(*) FROM c;";
        print "VACUUM;";
        print "PRAGMA integrity_check;";
    }' >work.sql
    sqlite3 db.sqlite <work.sql
    sqlite3 db.sqlite "SELECT count(*) FROM t; SELECT name FROM t ORDER BY name DESC LIMIT 5;"
}

# ---- git ----
git_work() {
    export HOME=$PWD GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=gort GIT_AUTHOR_EMAIL=gort@example.org
    export GIT_COMMITTER_NAME=gort GIT_COMMITTER_EMAIL=gort@example.org
    export GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" GIT_COMMITTER_DATE="2024-01-01T00:00:00Z"
    git init -q -b main repo && cd repo || return 1
    for i in $(seq 1 200); do
        mkdir -p "dir$((i % 10))"
        seq "$i" "$((i * 50))" >"dir$((i % 10))/file$i.txt"
    done
    git add -A && git commit -q -m "first: 200 files"
    git checkout -q -b topic
    for i in $(seq 1 200 | awk 'NR % 3 == 0'); do echo "topic change $i" >>"dir$((i % 10))/file$i.txt"; done
    git commit -q -am "topic: edit a third of the files"
    git checkout -q main
    for i in $(seq 1 200 | awk 'NR % 7 == 0'); do sed -i '1i main header' "dir$((i % 10))/file$i.txt"; done
    git commit -q -am "main: headers"
    git merge -q --no-edit topic
    git log --stat --format='%H %s' | head -100
    git diff --stat HEAD~2 HEAD | tail -3
    git fsck --full --strict 2>&1
    git -c pack.threads=2 gc -q --aggressive 2>&1
    git count-objects -v | grep -v size
    git rev-list --all --objects | wc -l
    git grep -c "topic change" | wc -l
    git archive --format=tar HEAD | sha256sum
}

# ---- gcc ----
gcc_work() {
    cat >prog.c <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct node { struct node *next; int v; };
static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
int main(void) {
    struct node *head = NULL;
    for (int i = 0; i < 100000; i++) {
        struct node *n = malloc(sizeof *n);
        n->v = (i * 7919) % 100003; n->next = head; head = n;
    }
    int *arr = malloc(100000 * sizeof *arr), k = 0;
    while (head) { struct node *n = head; head = n->next; arr[k++] = n->v; free(n); }
    qsort(arr, k, sizeof *arr, cmp);
    long sum = 0;
    for (int i = 0; i < k; i += 1000) sum += arr[i];
    char *s = strdup("hello from gcc under gort");
    printf("%s %ld %d\n", s, sum, arr[k - 1]);
    free(s); free(arr);
    return 0;
}
EOF
    gcc -O2 -S -o - prog.c | sha256sum
    gcc -O2 -Wall -Wextra -g prog.c -o prog && ./prog
    gcc -O0 -fsyntax-only -Wall prog.c
    # something bigger for cc1: many functions
    awk 'BEGIN { for (i = 0; i < 400; i++) printf "int f%d(int x) { int a[%d]; for (int i = 0; i < %d; i++) a[i] = x * i + %d; return a[x %% %d]; }\n", i, i + 1, i + 1, i, i + 1;
                 print "int main(void) { int s = 0;"; for (i = 0; i < 400; i++) printf "s += f%d(%d);\n", i, i; print "return s & 0x7f; }" }' >big.c
    gcc -O2 -c big.c -o big.o && gcc -O2 -S -o - big.c | sha256sum
    gcc big.o -o big; ./big; echo "big exit $?"
}

# ---- threaded programs ----
threaded_work() {
    seq 1 300000 | awk '{ print $1 * 2654435761 % 4294967296, "line", $1 }' >data.txt
    sha256sum <data.txt
    xz -T2 -2 --block-size=1MiB -c data.txt >data.xz
    sha256sum <data.xz
    xz -T2 -d -c data.xz | sha256sum
    xz -T2 -t data.xz && echo "xz test ok"
    sort --parallel=2 -S 50M -n data.txt | sha256sum
    sort --parallel=2 -S 8M -k3,3 -t' ' data.txt | md5sum
}

check_in_use
[ -n "$PY" ] && { compare python3 py_work; compare python3-threads py_threads; } || skipped+=(python3)
have sqlite3 && compare sqlite3 sqlite_work || skipped+=(sqlite3)
have git && compare git git_work || skipped+=(git)
have gcc && compare gcc gcc_work || skipped+=(gcc)
have xz && compare threaded threaded_work || skipped+=(xz)
[ ${#skipped[@]} -gt 0 ] && echo "skipped (not installed): ${skipped[*]}"
echo "$ran programs compared, $failed failed"
[ "$failed" -eq 0 ] && [ "$ran" -gt 0 ]
