/*
 * test_gc_finalizers: finalizers and weak references.
 *   1. N objects with finalizers, each with an argument (a collected list reachable only
 *      through the finalizer); half are kept in a global array. The dropped half's
 *      finalizers run, each exactly once, one at a time, with the object, what it points
 *      to and the argument intact, and with the object's weak reference already cleared;
 *      the kept half's do not run and their weak references stay. Many more collections
 *      later no finalizer has run twice. Then the kept half is dropped: the same.
 *      Finalized objects are freed by later collections (heap_marked falls back), and
 *      gort_gc_stats' finalizers_run counts them.
 *   2. A finalizer removed with fn == NULL never runs; the object is freed.
 *   3. Resurrection: a finalizer stores its object in a global; the object stays intact
 *      and can be given a new finalizer, which runs once when it is dropped again.
 *   4. Weak references: gort_weak_get returns the object while it is reachable (through
 *      any root), NULL once unreachable; handles themselves are collected (a million
 *      dropped handles leave the heap bounded).
 *   5. A finalizer that allocates and one that calls gort_gc() itself.
 * (not under TSan: its signals are held back, the collector cannot stop a waiting thread): finalizers run on the collector's finalizer thread.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <gort.h>
#include "check.h"
#include "gc_check.h"
#include "gc_list.h"

#define NOINLINE __attribute__((noinline))

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Collects until *c reaches want (finalizers run on another thread); 0 on timeout. */
NOINLINE static int wait_for(atomic_long *c, long want, double secs) {
    clobber_stack();
    double deadline = now() + secs;
    while (atomic_load(c) < want) {
        if (now() > deadline) return 0;
        gort_gc();
        usleep(2000);
    }
    return 1;
}

static uint64_t heap_marked_now(void) {
    clobber_stack();
    gort_gc();
    gort_gc_stats_t st;
    gort_gc_stats(&st);
    return st.heap_marked;
}

/* ---- 1. many finalizers ---- */
enum { MAXN = 4000, OBJ_LEN = 3, ARG_LEN = 2 };
static long g_n;
static Node *g_keep[MAXN];
static gort_weak *g_weak[MAXN];
static atomic_int g_runs[MAXN];
static atomic_long g_total_runs, g_bad;
static atomic_int g_in_fin, g_max_in_fin;

static uint64_t obj_base(long i) { return 1000000 + (uint64_t)i * 100; }
static uint64_t arg_base(long i) { return 900000000 + (uint64_t)i * 100; }

static void fin(void *obj, void *arg) {
    int in = atomic_fetch_add(&g_in_fin, 1) + 1;
    int m = atomic_load(&g_max_in_fin);
    while (in > m && !atomic_compare_exchange_weak(&g_max_in_fin, &m, in)) {}
    Node *o = obj;
    long i = (long)((o->id - 1000000) / 100);
    if (i < 0 || i >= g_n || !list_ok(o, OBJ_LEN, obj_base(i)) || !list_ok(arg, ARG_LEN, arg_base(i))) {
        fprintf(stderr, "finalizer: object or argument corrupted (index %ld)\n", i);
        atomic_fetch_add(&g_bad, 1);
    } else {
        if (weak_live(g_weak[i])) {
            fprintf(stderr, "finalizer %ld: the object's weak reference is not cleared\n", i);
            atomic_fetch_add(&g_bad, 1);
        }
        atomic_fetch_add(&g_runs[i], 1);
    }
    /* allocate a little on the finalizer thread */
    Node *tmp = build_list(2, 77);
    if (!list_ok(tmp, 2, 77)) atomic_fetch_add(&g_bad, 1);
    atomic_fetch_sub(&g_in_fin, 1);
    atomic_fetch_add(&g_total_runs, 1);
}

NOINLINE static void make_finalized(long n) {
    for (long i = 0; i < n; i++) {
        Node *o = build_list(OBJ_LEN, obj_base(i));
        Node *a = build_list(ARG_LEN, arg_base(i));
        gort_set_finalizer(o, fin, a);
        g_weak[i] = gort_weak_make(o);
        CHECK(g_weak[i]);
        if (i % 2 == 0) g_keep[i] = o;
    }
}

NOINLINE static void check_runs(long from, long to, long step, int want, const char *what) {
    for (long i = from; i < to; i += step)
        if (atomic_load(&g_runs[i]) != want) {
            fprintf(stderr, "%s: finalizer %ld ran %d times, want %d (seed %llu)\n", what, i, atomic_load(&g_runs[i]),
                    want, (unsigned long long)g_seed);
            exit(1);
        }
}

static void many_finalizers(void) {
    g_n = (long)(MAXN * test_scale());
    if (g_n < 200) g_n = 200;
    gort_gc_stats_t st0, st1;
    uint64_t base_marked = heap_marked_now();
    gort_gc_stats(&st0);
    make_finalized(g_n);
    long dropped = g_n / 2;
    if (!wait_for(&g_total_runs, dropped, 30)) {
        fprintf(stderr, "only %ld of %ld finalizers ran in 30 s\n", atomic_load(&g_total_runs), dropped);
        exit(1);
    }
    /* more collections: nothing runs twice, the kept ones do not run */
    for (int r = 0; r < 10; r++) {
        gort_gc();
        usleep(5000);
    }
    CHECK_EQ(atomic_load(&g_bad), 0);
    CHECK_EQ(atomic_load(&g_total_runs), dropped);
    check_runs(1, g_n, 2, 1, "dropped object");
    check_runs(0, g_n, 2, 0, "kept object");
    for (long i = 0; i < g_n; i += 2) {
        verify_list(g_keep[i], OBJ_LEN, obj_base(i), "kept object with a finalizer");
        if (!weak_live(g_weak[i])) {
            fprintf(stderr, "kept object %ld: weak reference cleared\n", i);
            exit(1);
        }
    }
    /* drop the rest */
    memset(g_keep, 0, sizeof g_keep);
    if (!wait_for(&g_total_runs, g_n, 30)) {
        fprintf(stderr, "only %ld of %ld finalizers ran in 30 s\n", atomic_load(&g_total_runs), g_n);
        exit(1);
    }
    for (int r = 0; r < 10; r++) {
        gort_gc();
        usleep(5000);
    }
    CHECK_EQ(atomic_load(&g_bad), 0);
    CHECK_EQ(atomic_load(&g_total_runs), g_n);
    check_runs(0, g_n, 1, 1, "every object");
    CHECK_EQ(atomic_load(&g_max_in_fin), 1); /* one at a time */
    gort_gc_stats(&st1);
    CHECK(st1.finalizers_run - st0.finalizers_run >= (uint64_t)g_n);
    /* the finalized objects and their arguments are freed by later collections */
    uint64_t after = heap_marked_now();
    uint64_t objs = (uint64_t)g_n * (OBJ_LEN + ARG_LEN) * 2 * sizeof(Node);
    printf("finalizers: %ld ran once each; heap_marked %llu before, %llu after (objects %llu B)\n", g_n,
           (unsigned long long)base_marked, (unsigned long long)after, (unsigned long long)objs);
    CHECK(after < base_marked + objs / 4);
}

/* ---- 2. a removed finalizer ---- */
static atomic_long g_removed_runs;
static void fin_removed(void *obj, void *arg) { atomic_fetch_add(&g_removed_runs, 1); }
static gort_weak *g_removed_weak;
NOINLINE static void make_removed(void) {
    Node *o = build_list(2, 5);
    gort_set_finalizer(o, fin_removed, NULL);
    gort_set_finalizer(o, NULL, NULL);
    g_removed_weak = gort_weak_make(o);
}
static void removed_finalizer(void) {
    make_removed();
    clobber_stack();
    for (int r = 0; r < 5; r++) {
        gort_gc();
        usleep(5000);
    }
    CHECK(!weak_live(g_removed_weak));
    CHECK_EQ(atomic_load(&g_removed_runs), 0);
    printf("removed finalizer: ok\n");
}

/* ---- 3. resurrection ---- */
static Node *_Atomic g_resurrected;
static atomic_long g_res_runs, g_res2_runs;
static gort_weak *g_res_weak;
static void fin_resurrect(void *obj, void *arg) {
    atomic_store(&g_resurrected, (Node *)obj);
    atomic_fetch_add(&g_res_runs, 1);
}
static void fin_second(void *obj, void *arg) {
    if (!list_ok(obj, 50, 123000)) atomic_fetch_add(&g_bad, 1);
    atomic_fetch_add(&g_res2_runs, 1);
}
NOINLINE static void make_resurrectable(void) {
    Node *o = build_list(50, 123000);
    gort_set_finalizer(o, fin_resurrect, NULL);
    g_res_weak = gort_weak_make(o);
}
NOINLINE static void rearm(void) {
    Node *o = atomic_load(&g_resurrected);
    verify_list(o, 50, 123000, "resurrected object");
    gort_set_finalizer(o, fin_second, NULL);
    g_res_weak = gort_weak_make(o);
    atomic_store(&g_resurrected, NULL);
}
static void resurrection(void) {
    make_resurrectable();
    CHECK(wait_for(&g_res_runs, 1, 30));
    CHECK(!weak_live(g_res_weak)); /* cleared when first found unreachable */
    for (int r = 0; r < 5; r++) {
        gort_gc();
        verify_list(atomic_load(&g_resurrected), 50, 123000, "resurrected object");
    }
    rearm();
    CHECK(wait_for(&g_res2_runs, 1, 30));
    for (int r = 0; r < 5; r++) {
        gort_gc();
        usleep(5000);
    }
    CHECK_EQ(atomic_load(&g_res_runs), 1);
    CHECK_EQ(atomic_load(&g_res2_runs), 1);
    CHECK(!weak_live(g_res_weak));
    CHECK_EQ(atomic_load(&g_bad), 0);
    printf("resurrection: ok\n");
}

/* ---- 4. weak references ---- */
static Node *g_weak_target;
static gort_weak *g_w1, *g_w2;
NOINLINE static void make_weak_pair(void) {
    g_weak_target = build_list(10, 4242);
    g_w1 = gort_weak_make(g_weak_target);
    g_w2 = gort_weak_make(g_weak_target);
    CHECK(g_w1 && g_w2);
}
NOINLINE static void many_handles(long n) {
    for (long i = 0; i < n; i++) {
        gort_weak *w = gort_weak_make(g_weak_target);
        CHECK(w);
        if (i % 4096 == 0) CHECK(gort_weak_get(w) == g_weak_target);
    }
}
static void weak_refs(void) {
    make_weak_pair();
    for (int r = 0; r < 5; r++) {
        gort_gc();
        CHECK(gort_weak_get(g_w1) == g_weak_target);
        CHECK(gort_weak_get(g_w2) == g_weak_target);
    }
    uint64_t before = heap_marked_now();
    many_handles((long)(1000000 * test_scale()));
    uint64_t after = heap_marked_now();
    printf("weak: heap_marked %llu before a million handles, %llu after\n", (unsigned long long)before,
           (unsigned long long)after);
    CHECK(after < before + (4u << 20));
    verify_list(g_weak_target, 10, 4242, "weak target");
    g_weak_target = NULL;
    clobber_stack();
    gort_gc();
    gort_gc();
    CHECK(!weak_live(g_w1));
    CHECK(!weak_live(g_w2));
    printf("weak references: ok\n");
}

/* ---- 5. a finalizer that collects ---- */
static atomic_long g_gc_fin_runs;
static void fin_collects(void *obj, void *arg) {
    gort_gc();
    Node *tmp = build_list(100, 555);
    gort_gc();
    if (!list_ok(tmp, 100, 555) || !list_ok(arg, 3, 666)) atomic_fetch_add(&g_bad, 1);
    atomic_fetch_add(&g_gc_fin_runs, 1);
}
NOINLINE static void make_collecting(void) {
    Node *o = build_list(1, 1);
    gort_set_finalizer(o, fin_collects, build_list(3, 666));
}
static void finalizer_collects(void) {
    make_collecting();
    alarm(60);
    CHECK(wait_for(&g_gc_fin_runs, 1, 30));
    alarm(0);
    CHECK_EQ(atomic_load(&g_bad), 0);
    printf("finalizer calling gort_gc: ok\n");
}

int main(void) {
    g_seed = test_seed();
    many_finalizers();
    removed_finalizer();
    resurrection();
    weak_refs();
    finalizer_collects();
    gort_check_heap();
    printf("test_gc_finalizers: ok\n");
    return 0;
}
/* (not under TSan: its signals are held back, the collector cannot stop a waiting thread) */
