#!/usr/bin/env bash
# preload_deadlock.sh LIBGORT_MALLOC_SO: the drop-in never waits on itself.
# A producer/consumer program (every free on another thread) whose objects share a size
# class with glibc's first calloc in pthread_create (the new thread's DTV, about 300 B), so
# that a scavenger thread created while an allocator lock is held re-enters gort on that
# very lock: with GORT_SCAVENGER=1 GORT_RETAIN_MIN=0 that hung every run before the thread
# was started only outside allocator locks. 20 runs with the thread, 5 with the default
# (inline returns, no thread), each within 20 s; the program checks its own data.
set -u
lib=$(readlink -f "${1:?usage: $0 path/to/libgort-malloc.so}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/pc.c" <<'EOC'
/* producer/consumer: every free on another thread; objects of the size class of glibc's
 * first calloc in pthread_create (the DTV, about 300 bytes) and neighbours */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#define RING 256
static void *_Atomic slot[RING];
static atomic_long head, tail;
static long total = 200000;
static void *producer(void *a) {
    (void)a;
    unsigned x = 1;
    for (long i = 0; i < total; i++) {
        while (i - atomic_load(&tail) >= RING) sched_yield();
        x = x * 1103515245 + 12345;
        size_t n = 257 + (x >> 16) % 32; /* class 288 */
        unsigned char *p = malloc(n);
        if (!p) abort();
        memset(p, (int)(n & 0xff), n);
        atomic_store(&slot[i % RING], p);
        atomic_store(&head, i + 1);
    }
    return NULL;
}
int main(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, producer, NULL)) return 2;
    for (long i = 0; i < total; i++) {
        while (atomic_load(&head) <= i) sched_yield();
        unsigned char *p = atomic_load(&slot[i % RING]);
        if (p[0] != p[256]) abort(); /* filled with its size's low byte */
        free(p);
        atomic_store(&tail, i + 1);
    }
    pthread_join(t, NULL);
    return 0;
}
EOC
cc -O2 -pthread "$tmp/pc.c" -o "$tmp/pc" || { echo "cannot compile the test program"; exit 1; }
fail=0
run() { # count env...
    local n=$1; shift
    for i in $(seq 1 "$n"); do
        env "$@" LD_PRELOAD="$lib" timeout -k 5 20 "$tmp/pc"
        rc=$?
        if [ $rc -ne 0 ]; then echo "FAIL run $i with $*: exit $rc (124: hung)"; fail=1; return; fi
    done
}
run 20 GORT_SCAVENGER=1 GORT_RETAIN_MIN=0
run 5 GORT_RETAIN_MIN=0
[ $fail = 0 ] && echo "preload_deadlock: ok"
exit $fail
