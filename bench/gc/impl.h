/* bench/gc/impl.h: one workload source, three C builds.
 *
 * Each workload (binarytrees.c, gcbench.c, live.c) is compiled three times,
 * with exactly one of these defined:
 *   IMPL_GORT    gort's collector: GORT_TYPE descriptors and gort_new (precise,
 *                typed), linked with libgort.a; nothing is freed by hand.
 *   IMPL_BOEHM   Boehm GC: GC_MALLOC, GC_MALLOC_ATOMIC for pointer-free arrays;
 *                nothing is freed by hand. Run with GC_MARKERS=2 (parallel
 *                marking on two cores, started by impl_init).
 *   IMPL_MALLOC  plain malloc/free, every dropped object freed by hand; run
 *                with a malloc preloaded (mimalloc in the benchmark).
 * A workload declares its types with BENCH_TYPE (pointer fields named, for
 * gort) and allocates with NEW / NEW_ARRAY / NEW_NOPTR_ARRAY; FREE and
 * MANUAL_FREE are for the malloc build (no-ops, or 0, elsewhere).
 *
 * Output (stdout), read by bench/gc/run.py:
 *   RESULT workload=W impl=I checksum=C secs=S [workload-specific k=v ...]
 *   GC num_gc=N pause_max_ns=M pause_total_ns=T pauses_known=K
 *   PAUSES_NS p1 p2 ...            (the last K pauses, oldest first)
 * A failed self-check prints "FAILED ..." to stderr and exits 3. */
#ifndef GORT_BENCH_GC_IMPL_H
#define GORT_BENCH_GC_IMPL_H

#define _GNU_SOURCE
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: the same sequence in every build (and in the Go twin). */
static inline uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline void fail(const char *what, uint64_t got, uint64_t want) {
    fprintf(stderr, "FAILED %s: got %" PRIu64 ", want %" PRIu64 "\n", what, got, want);
    exit(3);
}

#define PAUSE_RING 4096

#if defined(IMPL_GORT)
/* ------------------------------------------------------------------ gort */
#include <gort.h>
#define IMPL_NAME "gort"
#define MANUAL_FREE 0
#define BENCH_TYPE(T, ...) GORT_TYPE(T, __VA_ARGS__)
#define BENCH_TYPE_NOPTR(T) GORT_TYPE_NOPTR(T)
#define NEW(T) gort_new(T)
#define NEW_ARRAY(T, n) gort_new_array(T, n)
#define NEW_NOPTR_ARRAY(T, n) gort_new_array(T, n)
#define FREE(p) ((void)(p))
static inline void impl_init(void) {}
static inline void impl_report(void) {
    static gort_gc_stats_t st; /* large: keep it off the stack */
    gort_gc_stats(&st);
    uint64_t known = st.num_gc < 256 ? st.num_gc : 256;
    /* a concurrent cycle stops the world twice (its pause_ns is the two summed) */
    printf("GC num_gc=%" PRIu64 " num_pauses=%" PRIu64 " pause_max_ns=%" PRIu64 " pause_total_ns=%" PRIu64
           " pauses_known=%" PRIu64 "\nPAUSES_NS",
           st.num_gc, st.num_gc * (st.concurrent ? 2 : 1), st.pause_max_ns, st.pause_total_ns, known);
    for (uint64_t k = st.num_gc - known; k < st.num_gc; k++) printf(" %" PRIu64, st.pause_ns[k % 256]);
    printf("\n");
}

#elif defined(IMPL_BOEHM)
/* ----------------------------------------------------------------- Boehm */
#define GC_THREADS
#include <gc/gc.h>
#define IMPL_NAME "boehm"
#define MANUAL_FREE 0
#define BENCH_TYPE(T, ...) typedef char bench_unused_##T
#define BENCH_TYPE_NOPTR(T) typedef char bench_unused_##T
#define NEW(T) ((T *)GC_MALLOC(sizeof(T)))
#define NEW_ARRAY(T, n) ((T *)GC_MALLOC(sizeof(T) * (size_t)(n)))
#define NEW_NOPTR_ARRAY(T, n) ((T *)GC_MALLOC_ATOMIC(sizeof(T) * (size_t)(n)))
#define FREE(p) ((void)(p))
/* Every stop-the-world pause: from just before the world is stopped to just
 * after it is started again (the collector calls this with its lock held). */
static uint64_t boehm_pause_start, boehm_pause_n, boehm_pause_max, boehm_pause_total;
static uint64_t boehm_pauses[PAUSE_RING];
static void GC_CALLBACK boehm_event(GC_EventType e) {
    if (e == GC_EVENT_PRE_STOP_WORLD) {
        boehm_pause_start = now_ns();
    } else if (e == GC_EVENT_POST_START_WORLD && boehm_pause_start) {
        uint64_t d = now_ns() - boehm_pause_start;
        boehm_pause_start = 0;
        boehm_pauses[boehm_pause_n++ % PAUSE_RING] = d;
        boehm_pause_total += d;
        if (d > boehm_pause_max) boehm_pause_max = d;
    }
}
static inline void impl_init(void) {
    /* Set before GC_INIT, so its initial collection is seen too. */
    GC_set_on_collection_event(boehm_event);
    GC_INIT();
    /* Boehm starts its marker threads (GC_MARKERS - 1 of them) only when the
     * program creates a thread or asks for them: a single-threaded program
     * would otherwise mark on one core. */
    GC_start_mark_threads();
}
static inline void impl_report(void) {
    uint64_t n = GC_get_gc_no();
    uint64_t known = boehm_pause_n < PAUSE_RING ? boehm_pause_n : PAUSE_RING;
    /* num_gc counts collections; the pause figures count stop-the-world
     * pauses (one per collection unless Boehm stops the world otherwise). */
    printf("GC num_gc=%" PRIu64 " pause_max_ns=%" PRIu64 " pause_total_ns=%" PRIu64 " pauses_known=%" PRIu64
           " num_pauses=%" PRIu64 "\nPAUSES_NS",
           n, boehm_pause_max, boehm_pause_total, known, boehm_pause_n);
    for (uint64_t k = boehm_pause_n - known; k < boehm_pause_n; k++) printf(" %" PRIu64, boehm_pauses[k % PAUSE_RING]);
    printf("\n");
}

#elif defined(IMPL_MALLOC)
/* ---------------------------------------------------------- malloc/free */
#define IMPL_NAME "malloc"
#define MANUAL_FREE 1
#define BENCH_TYPE(T, ...) typedef char bench_unused_##T
#define BENCH_TYPE_NOPTR(T) typedef char bench_unused_##T
static inline void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "FAILED out of memory (%zu bytes)\n", n);
        exit(3);
    }
    return p;
}
/* Nodes are fully written by the workloads, so malloc (not calloc), as a C
 * program would; the pointer array of live.c is calloc'ed (it starts empty). */
#define NEW(T) ((T *)xmalloc(sizeof(T)))
#define NEW_ARRAY(T, n) ((T *)calloc((size_t)(n), sizeof(T)))
#define NEW_NOPTR_ARRAY(T, n) ((T *)xmalloc(sizeof(T) * (size_t)(n)))
#define FREE(p) free(p)
static inline void impl_init(void) {}
static inline void impl_report(void) {
    printf("GC num_gc=0 pause_max_ns=0 pause_total_ns=0 pauses_known=0\nPAUSES_NS\n");
}

#else
#error "define IMPL_GORT, IMPL_BOEHM or IMPL_MALLOC"
#endif

#endif
