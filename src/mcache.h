/* mcache.h: the per-thread caches (mcache.c), and malloc.c's counters. */
#ifndef GORT_MCACHE_H
#define GORT_MCACHE_H

#include "central.h"

/* ---- thread caches (mcache.c) ---- */
typedef struct gort_mcache {
    gort_mspan *alloc[GORT_NUM_SPANCLASSES]; /* current span per class; never NULL */
    /* The other spans this thread owns, per class: with free slots, and full
     * (xfree state NOTIFY: a remote free into one pushes its object on
     * `notify`, and the owner moves the span to partial at its next refill). */
    gort_mspan *partial[GORT_NUM_SPANCLASSES];
    gort_mspan *full[GORT_NUM_SPANCLASSES];
    _Atomic uintptr_t notify;
    /* Reclaiming the spans of an owner that has gone idle (mcache.c,
     * gort__mcache_reclaim): requests sent, requests its signal handler
     * began and finished, and a flag for its next refill when the signal
     * came where the thread could not flush; notify_seen: the notify stack as
     * the scavenger saw it last (unchanged a period later: nobody takes it). */
    _Atomic uint32_t flush_req, flush_began, flush_ack;
    _Atomic bool flush_wanted;
    uintptr_t notify_seen;
    /* Local counters, written only by the owning thread with relaxed stores,
     * summed by gort_stats. nmalloc counts slots handed out (at word loads,
     * less what goes back unused); nfree is by span class, so the free fast
     * path indexes it without arithmetic. */
    _Atomic uint64_t nmalloc[GORT_NUM_CLASSES];
    _Atomic uint64_t nfree[GORT_NUM_SPANCLASSES];
    struct gort_mcache *next_all; /* all live mcaches, under mcache_list_lock */
    struct gort_mcache *next_free;
    bool is_empty; /* the static placeholder of threads without a cache */
    /* The collector's view of the thread (gc.c). gc_lock is held while the
     * thread refills a collected span class or makes a large collected
     * object, by the collector from before it stops the world to the end of
     * the pause, and by a sweeper sweeping a span on this cache's lists. */
    bool gc_skip; /* not stopped or scanned: a marker thread, or gone after fork */
    pthread_t thread;
    pthread_mutex_t gc_lock;
    _Atomic uintptr_t gc_sp; /* stack pointer where the thread stopped (its handler's frame) */
    uintptr_t gc_stack_hi;   /* top of its stack mapping; 0 until the collector looks it up */
} gort_mcache;
GORT_HIDDEN extern pthread_mutex_t gort__mcache_list_lock;
GORT_HIDDEN extern gort_mcache *gort__all_caches; /* under gort__mcache_list_lock */
/* The calling thread's cache, created if it has none; NULL when out of memory. */
GORT_HIDDEN gort_mcache *gort__mcache_ensure(void);
/* The cache registered for the collector on this thread (set at creation,
 * cleared once the cache is off the list at thread exit). */
extern __thread gort_mcache *gort__tls_gcself __attribute__((tls_model("initial-exec")));

GORT_HIDDEN extern gort_mcache gort__empty_mcache;
GORT_HIDDEN extern gort_mspan gort__empty_span;
extern __thread gort_mcache *gort__tls_mcache __attribute__((tls_model("initial-exec")));

static inline void gort__stat_add(_Atomic uint64_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

GORT_HIDDEN void *gort__mcache_refill(gort_mcache *mc, unsigned spc);
/* A local free left span s full-turned-partial or empty: fix its list. */
GORT_HIDDEN void gort__mcache_free_slow(gort_mcache *mc, gort_mspan *s);
GORT_HIDDEN void gort__mcache_stats(uint64_t *nmalloc, uint64_t *nfree);
/* Asks the other threads whose caches hold notices they have not taken
 * (spans that other threads' frees emptied or opened) to take them, so that
 * empty spans go back to the heap; with wait, waits until each has done so
 * (a thread whose handler has not begun within 20 ms is passed over);
 * stale_only: only caches whose notices have waited
 * since the last call. Returns the threads asked. */
GORT_HIDDEN size_t gort__mcache_reclaim(bool wait, bool stale_only);

/* ---- malloc.c ---- */
typedef struct gort_large_stats {
    _Atomic uint64_t allocs, frees, bytes;            /* large objects, and their live bytes */
    _Atomic uint64_t nocache_frees[GORT_NUM_CLASSES]; /* frees by threads without a cache */
} gort_large_stats;
GORT_HIDDEN extern gort_large_stats gort__large;
/* gort_release_memory without asking idle threads for their spans (the
 * collector's soft limit: it runs where a signal would only wait). */
GORT_HIDDEN size_t gort__release_free(void);

#endif
