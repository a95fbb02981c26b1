/*
 * test_gc_limiter: the GC CPU limiter (Go 1.19's) against a memory limit the program
 * cannot meet.
 *   1. no limit: a program that allocates 32x its live size at GOGC=100 never turns the
 *      limiter on (limiter_last_enabled stays 0).
 *   2. a memory limit of a quarter of the live size: every cycle ends above it, so the
 *      pacer would start the next one at once. The program keeps allocating until the
 *      limiter turns on (within 30 s; Go's bucket lets the collector take all the CPU
 *      for about a second first), then over a measured stretch of allocation the world
 *      is stopped at most 80% of the time (about half is the limiter's aim; without it
 *      a stop-the-world collector stops it 95-99% of the time), the program allocates
 *      at least 64 MiB in it, and the heap is allowed past the limit. The live list is
 *      intact throughout.
 *   3. gort_set_memory_limit back to none: the pacer's cycles follow GOGC again and
 *      the heap comes back under twice the live size after a forced cycle.
 * Run by tests/run.sh in every collector mode; the pause share is checked only where the
 * world stops for whole marks (a concurrent cycle's pauses are short whatever happens).
 */
#include <stdint.h>
#include <time.h>
#include <gort.h>
#include "check.h"
#include "gc_check.h"

typedef struct Node {
    struct Node *next;
    uint64_t v[3];
} Node;
GORT_TYPE(Node, next);

static uint64_t mono_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

static Node *volatile live;
static const long LIVE_NODES = 1 << 19; /* 16 MiB of 32-byte nodes */

static void check_live(void) {
    long n = 0;
    for (Node *x = live; x; x = x->next, n++)
        if (x->v[0] != (uint64_t)(LIVE_NODES - 1 - n) || x->v[1] != ~x->v[0]) {
            fprintf(stderr, "live node %ld corrupted\n", n);
            exit(1);
        }
    CHECK(n == LIVE_NODES);
}

/* garbage nodes, bytes of them */
static void garbage(uint64_t bytes) {
    for (uint64_t i = 0; i < bytes / sizeof(Node); i++) {
        Node *volatile g = gort_new(Node);
        g->v[0] = i;
    }
}

int main(void) {
    for (long i = 0; i < LIVE_NODES; i++) {
        Node *x = gort_new(Node);
        x->v[0] = (uint64_t)i;
        x->v[1] = ~(uint64_t)i;
        x->next = live;
        live = x;
    }
    const uint64_t live_bytes = (uint64_t)LIVE_NODES * sizeof(Node);

    /* 1 */
    garbage(32 * live_bytes);
    CHECK(gc_stats_now().limiter_last_enabled == 0);
    check_live();

    /* 2 */
    int64_t limit = (int64_t)(live_bytes / 4);
    CHECK(gort_set_memory_limit(limit) == INT64_MAX);
    uint64_t t0 = mono_ns();
    while (gc_stats_now().limiter_last_enabled == 0) {
        garbage(4 << 20);
        if (mono_ns() - t0 > 30000000000ull) {
            fprintf(stderr, "the limiter did not turn on in 30 s (%llu cycles)\n",
                    (unsigned long long)gc_stats_now().num_gc);
            return 1;
        }
    }
    printf("limiter on at cycle %llu after %.2f s\n", (unsigned long long)gc_stats_now().limiter_last_enabled,
           (double)(mono_ns() - t0) / 1e9);
    check_live();
    gort_gc_stats_t a = gc_stats_now();
    uint64_t w0 = mono_ns(), allocated = 0;
    while ((mono_ns() - w0 < 500000000ull || allocated < (64u << 20)) && mono_ns() - w0 < 20000000000ull) {
        garbage(1 << 20);
        allocated += 1 << 20;
    }
    if (allocated < (64u << 20)) {
        fprintf(stderr, "with the limiter on, only %llu MiB allocated in 20 s\n",
                (unsigned long long)(allocated >> 20));
        return 1;
    }
    gort_gc_stats_t b = gc_stats_now();
    double wall = (double)(mono_ns() - w0), share = (double)(b.pause_total_ns - a.pause_total_ns) / wall;
    printf("with the limiter: %.0f MiB allocated in %.2f s, %llu cycles, world stopped %.0f%% of the time, the "
           "limiter last on at cycle %llu, heap %llu MiB against a limit of %llu MiB (%s marking)\n",
           (double)allocated / (1 << 20), wall / 1e9, (unsigned long long)(b.num_gc - a.num_gc), share * 100,
           (unsigned long long)b.limiter_last_enabled, (unsigned long long)(b.heap_live >> 20),
           (unsigned long long)(limit >> 20), b.concurrent ? "concurrent" : "stop-the-world");
    CHECK(b.limiter_last_enabled > a.num_gc || b.num_gc == a.num_gc); /* still on, or holding cycles back */
    if (!b.concurrent) CHECK(share < 0.8);
    check_live();

    /* 3 */
    CHECK(gort_set_memory_limit(INT64_MAX) == limit);
    garbage(8 * live_bytes);
    gort_gc();
    gort_gc_stats_t c = gc_stats_now();
    CHECK(c.heap_live <= 2 * live_bytes);
    CHECK(c.heap_goal >= c.heap_marked + c.heap_marked / 2);
    check_live();
    printf("test_gc_limiter: ok\n");
    return 0;
}
