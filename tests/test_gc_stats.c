/*
 * test_gc_stats: gort_gc_stats and the pacer's knobs.
 *   1. defaults: gc_percent 100, memory_limit INT64_MAX (the setters return them; a
 *      negative limit only reads it).
 *   2. each gort_gc adds one to num_gc and num_forced_gc; its pause lands in
 *      pause_ns[(num_gc + 255) % 256] (positive, at most pause_max_ns, added to
 *      pause_total_ns) with its end time in pause_end_ns (between the wall-clock times
 *      read before and after) and in last_gc_ns; gc_cpu_fraction is in [0, 1]; the ring
 *      wraps (300 cycles).
 *   3. heap figures with a live set of 16 MiB: heap_marked covers it, heap_live equals
 *      heap_marked after a collection and grows with allocation; heap_goal follows
 *      gort_set_gc_percent as Go's: marked + (marked + root bytes) x percent / 100, with the
 *      same root bytes for 50, 100 and 200.
 *   4. gort_set_gc_percent(-1): allocating 10x the live size runs no collection;
 *      gort_gc still does; restoring 100, the pacer collects again (allocating 4x the
 *      live size runs at least 2 cycles) and objects_freed / bytes_freed grow.
 *   5. gort_set_memory_limit: with a limit of 2x the live size the same allocation
 *      runs more collections than without; with GOGC off and that limit, collections
 *      still happen and the mapped memory stays near the limit, unless the GC CPU
 *      limiter turned on (test_gc_limiter tests it).
 *   6. GORT_GCTRACE=1 (a re-exec of this binary): one line "gc N @..." per cycle.
 *   7. the statistics structs grow (gort/stats.h): gort_stats_sized and
 *      gort_gc_stats_sized fill a caller's shorter struct (an older version) only up to
 *      its size, and zero the bytes of a longer one (a newer version) past their own
 *      struct; the functions gort_stats and gort_gc_stats (not the macros) fill the
 *      struct of gort 0.1.0.
 */
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <gort.h>
#include "check.h"
#include "gc_check.h"

#define NOINLINE __attribute__((noinline))

typedef struct Node {
    struct Node *next;
    uint64_t v[3];
} Node;
GORT_TYPE(Node, next);

static uint64_t wall_ns(void) { return clock_ns(CLOCK_REALTIME); }
/* what the memory limit counts: mapped and not released */
static uint64_t mapped(void) {
    static gort_stats_t ms;
    gort_stats(&ms);
    return ms.heap_sys - ms.heap_released + ms.metadata_sys;
}

/* 7: older (shorter) and newer (longer) callers' structs */
static void growing_structs(void) {
    static struct {
        gort_gc_stats_t s;
        unsigned char more[64];
    } g;
    const size_t gshort = offsetof(gort_gc_stats_t, heap_live);
    memset(&g, 0xa5, sizeof g);
    gort_gc_stats_sized(&g.s, gshort);
    CHECK_EQ(g.s.num_gc, gc_stats_now().num_gc);
    for (size_t i = gshort; i < sizeof g; i++) CHECK(((unsigned char *)&g)[i] == 0xa5);
    memset(&g, 0xa5, sizeof g);
    gort_gc_stats_sized(&g.s, sizeof g);
    CHECK_EQ(g.s.gc_percent, gc_stats_now().gc_percent);
    for (size_t i = 0; i < sizeof g.more; i++) CHECK(g.more[i] == 0);
    memset(&g, 0xa5, sizeof g);
    (gort_gc_stats)(&g.s);
    CHECK(g.s.memory_limit == gc_stats_now().memory_limit);
    CHECK(g.more[0] == 0xa5);

    static struct {
        gort_stats_t s;
        unsigned char more[64];
    } m;
    const size_t mshort = offsetof(gort_stats_t, by_size);
    memset(&m, 0xa5, sizeof m);
    gort_stats_sized(&m.s, mshort);
    CHECK(m.s.arenas >= 1 && m.s.heap_sys > 0);
    for (size_t i = mshort; i < sizeof m; i++) CHECK(((unsigned char *)&m)[i] == 0xa5);
    memset(&m, 0xa5, sizeof m);
    gort_stats_sized(&m.s, sizeof m);
    CHECK(m.s.by_size[1].size > 0);
    for (size_t i = 0; i < sizeof m.more; i++) CHECK(m.more[i] == 0);
    memset(&m, 0xa5, sizeof m);
    (gort_stats)(&m.s);
    CHECK(m.s.arenas >= 1 && m.s.by_size[1].size > 0);
    CHECK(m.more[0] == 0xa5);
    printf("growing statistics structs: ok\n");
}

NOINLINE static Node *build(long n) {
    Node *h = NULL;
    for (long i = 0; i < n; i++) {
        Node *x = gort_new(Node);
        CHECK(x);
        x->next = h;
        x->v[0] = (uint64_t)i;
        h = x;
    }
    return h;
}
NOINLINE static long count(const Node *h) {
    long n = 0;
    for (; h; h = h->next) n++;
    return n;
}
/* bytes of garbage (mixed sizes); returns the cycles that ran meanwhile and the peak of
 * the mapped memory */
NOINLINE static uint64_t garbage(uint64_t bytes, uint64_t *peak_mapped) {
    uint64_t gc0 = gc_stats_now().num_gc, done = 0, i = 0;
    while (done < bytes) {
        size_t n = i % 16 == 0 ? 65536 : 32 + (i * 97) % 2000;
        void **p = (i & 1) ? gort_gc_alloc(n) : gort_gc_alloc_noscan(n);
        CHECK(p);
        p[0] = NULL;
        done += n;
        if (peak_mapped && ++i % 256 == 0) {
            uint64_t m = mapped();
            if (m > *peak_mapped) *peak_mapped = m;
        }
        if (!peak_mapped) i++;
    }
    return gc_stats_now().num_gc - gc0;
}

static void trace_child(void) {
    for (int i = 0; i < 5; i++) gort_gc();
    exit(0);
}

static void exec_trace(void *arg) {
    setenv("GORT_GCTRACE", "1", 1);
    execl("/proc/self/exe", "test_gc_stats", "trace", (char *)NULL);
    _exit(127);
}

static void gctrace(void) {
    static char buf[65536];
    int status = run_child(exec_trace, NULL, 0, buf, sizeof buf);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    int lines = 0, gcs = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        lines++;
        unsigned long long n;
        if (sscanf(line, "gc %llu @", &n) == 1 && n == (unsigned long long)gcs + 1) gcs++;
        else fprintf(stderr, "gctrace: unexpected line: %s\n", line);
    }
    if (gcs != 5 || lines != 5) {
        fprintf(stderr, "GORT_GCTRACE=1: %d trace lines (%d lines in all) for 5 collections\n", gcs, lines);
        exit(1);
    }
    printf("gctrace: ok\n");
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "trace") == 0) trace_child();
    test_seed();
    /* 1. defaults */
    gort_gc_stats_t s0 = gc_stats_now();
    CHECK_EQ(s0.gc_percent, 100);
    CHECK(s0.memory_limit == INT64_MAX);
    CHECK(gort_set_memory_limit(-1) == INT64_MAX);
    CHECK_EQ(gort_set_gc_percent(100), 100);

    /* 2. cycles and pauses */
    for (int i = 0; i < 300; i++) {
        gort_gc_stats_t a = gc_stats_now();
        uint64_t t0 = wall_ns();
        gort_gc();
        uint64_t t1 = wall_ns();
        gort_gc_stats_t b = gc_stats_now();
        CHECK_EQ(b.num_gc, a.num_gc + 1);
        CHECK_EQ(b.num_forced_gc, a.num_forced_gc + 1);
        uint64_t k = (b.num_gc + 255) % 256;
        CHECK(b.pause_ns[k] > 0);
        /* Go's PauseNs: a cycle's pauses summed (a concurrent cycle has two);
         * pause_max_ns: the longest single pause */
        CHECK(b.pause_ns[k] <= b.pause_max_ns * (b.concurrent ? 2 : 1));
        const char *barrier = getenv("GORT_GCBARRIER");
        if (barrier && strcmp(barrier, "none") == 0) CHECK_EQ(b.concurrent, 0);
        CHECK(b.pause_ns[k] <= t1 - t0);
        CHECK_EQ(b.pause_total_ns, a.pause_total_ns + b.pause_ns[k]);
        CHECK(b.pause_end_ns[k] >= t0 && b.pause_end_ns[k] <= t1);
        CHECK(b.last_gc_ns >= t0 && b.last_gc_ns <= t1);
        CHECK(b.gc_cpu_fraction >= 0 && b.gc_cpu_fraction <= 1);
        CHECK(b.pause_max_ns >= a.pause_max_ns);
    }
    printf("cycles and pauses: ok\n");

    /* 3. heap figures */
    long n = 16 << 20 >> 5;
    Node *live = build(n);
    gort_gc();
    gort_gc_stats_t s = gc_stats_now();
    uint64_t L = s.heap_marked;
    printf("live set: %llu bytes marked, heap_live %llu, goal %llu\n", (unsigned long long)L,
           (unsigned long long)s.heap_live, (unsigned long long)s.heap_goal);
    CHECK(L >= (uint64_t)n * 32 && L <= (uint64_t)n * 32 * 11 / 10 + (1 << 20));
    CHECK_EQ(s.heap_live, s.heap_marked);
    /* Go's goal: marked + (marked + stacks + globals) x GOGC / 100; the root bytes
     * (stacks + globals: more under sanitizers) must come out the same for each GOGC */
    static const int pcts[3] = {50, 100, 200};
    uint64_t goals[3];
    double roots[3];
    for (int i = 0; i < 3; i++) {
        gort_set_gc_percent(pcts[i]);
        gort_gc();
        s = gc_stats_now();
        CHECK_EQ(s.gc_percent, pcts[i]);
        goals[i] = s.heap_goal;
        uint64_t want = s.heap_marked + s.heap_marked * (uint64_t)pcts[i] / 100;
        roots[i] = ((double)s.heap_goal - (double)s.heap_marked) * 100.0 / pcts[i] - (double)s.heap_marked;
        printf("GOGC=%d: heap_marked %llu, heap_goal %llu (marked x %.2f; root bytes %.0f)\n", pcts[i],
               (unsigned long long)s.heap_marked, (unsigned long long)s.heap_goal,
               (double)s.heap_goal / (double)s.heap_marked, roots[i]);
        CHECK(s.heap_goal >= want);
        CHECK(roots[i] >= 0 && roots[i] < 64.0 * 1048576);
    }
    for (int i = 1; i < 3; i++) CHECK(roots[i] - roots[0] < 65536 && roots[0] - roots[i] < 65536);
    CHECK(goals[0] < goals[1] && goals[1] < goals[2]);
    CHECK_EQ(gort_set_gc_percent(100), 200);
    gort_gc();
    uint64_t live_before = gc_stats_now().heap_live;
    garbage(L / 4, NULL);
    CHECK(gc_stats_now().heap_live > live_before); /* grows with allocation (no cycle in a quarter of L) */

    /* 4. GOGC off */
    CHECK_EQ(gort_set_gc_percent(-1), 100);
    CHECK_EQ(gc_stats_now().gc_percent, -1);
    gort_gc();
    s = gc_stats_now();
    uint64_t cycles = garbage(10 * L, NULL);
    gort_gc_stats_t s2 = gc_stats_now();
    printf("GOGC off: %llu cycles while allocating %llu MiB; heap_live %llu MiB\n", (unsigned long long)cycles,
           (unsigned long long)(10 * L >> 20), (unsigned long long)(s2.heap_live >> 20));
    CHECK_EQ(cycles, 0);
    CHECK(s2.heap_live >= s.heap_live + 9 * L);
    gort_gc();
    s2 = gc_stats_now();
    CHECK_EQ(s2.num_gc, s.num_gc + 1);
    CHECK(s2.heap_live < L + L / 2 + (1 << 20));
    CHECK_EQ(gort_set_gc_percent(100), -1);
    gort_gc();
    s = gc_stats_now();
    cycles = garbage(4 * L, NULL);
    s2 = gc_stats_now();
    printf("GOGC=100: %llu cycles while allocating 4x the live size\n", (unsigned long long)cycles);
    /* a concurrent cycle runs on the collector's thread: the second one may still be marking
     * when the loop ends (seen under ASan), so one finished cycle is enough there */
    CHECK(cycles >= 2 || (s2.concurrent && cycles >= 1));
    CHECK(s2.objects_freed > s.objects_freed && s2.bytes_freed >= s.bytes_freed + 2 * L);

    /* 5. memory limit */
    gort_gc();
    uint64_t peak0 = 0, peak1 = 0, peak2 = 0;
    uint64_t c0 = garbage(4 * L, &peak0);
    int64_t limit = (int64_t)(2 * L);
    CHECK(gort_set_memory_limit(limit) == INT64_MAX);
    CHECK(gc_stats_now().memory_limit == limit);
    CHECK(gort_set_memory_limit(-1) == limit);
    gort_gc();
    uint64_t c1 = garbage(4 * L, &peak1);
    gort_set_gc_percent(-1);
    gort_gc();
    uint64_t lim0 = gc_stats_now().limiter_last_enabled;
    uint64_t c2 = garbage(4 * L, &peak2);
    /* the CPU limiter may hold cycles back here (a cycle of this test's heap, with the
     * checker's second mark, can take longer than allocating past the limit again) */
    bool limited = gc_stats_now().limiter_last_enabled != lim0;
    printf("memory limit %.1f MiB: %llu cycles (none: %llu), with GOGC off %llu%s; peak mapped "
           "%.1f / %.1f / %.1f MiB\n",
           limit / 1048576.0, (unsigned long long)c1, (unsigned long long)c0, (unsigned long long)c2,
           limited ? " (the CPU limiter on)" : "", peak1 / 1048576.0, peak0 / 1048576.0, peak2 / 1048576.0);
    CHECK(c1 > c0 + c0 / 2);
    CHECK(c2 >= 4 || (limited && c2 >= 1));
    CHECK(peak2 <= (uint64_t)limit + (uint64_t)limit / 4 + (16 << 20) || limited);
    CHECK(gort_set_memory_limit(INT64_MAX) == limit);
    CHECK_EQ(gort_set_gc_percent(100), -1);
    CHECK_EQ(count(live), n);

    /* 6. gctrace */
    gctrace();
    /* 7. growing structs */
    growing_structs();
    gort_check_heap();
    printf("test_gc_stats: ok\n");
    return 0;
}
