/*
 * lock.h: gort's mutexes, taken in rank order (Go's lockrank.go).
 *
 * Every mutex of the runtime has a rank, and a thread takes mutexes in
 * increasing rank: a thread holding a lock of rank r may take only locks of
 * a higher rank, or, for the ranks marked "many", more locks of rank r (the
 * collector and the fork handler take every thread cache's gc_lock, then every
 * mcentral lock, in list and class order). docs/design.md gives the order
 * with the reasons.
 *
 * gort__lock / gort__unlock / gort__trylock take the rank at the call. In the
 * debug, ASan and TSan builds (GORT_DEBUG >= 1) they check, per thread, that
 * the order holds and that a lock released was held, and gort__assert_held(r)
 * (at the top of every `_locked` function) checks that the caller holds a
 * lock of rank r; a violation is a `gort: fatal error: lock order ...` (a
 * bug in gort, found before it can deadlock). A thread's record is one bit
 * and one count per rank, so for the "many" ranks the check is "some lock of
 * this rank", not which one. In the release build they are the plain pthread
 * calls and the assertion is nothing.
 */
#ifndef GORT_LOCK_H
#define GORT_LOCK_H

#include <pthread.h>
#include <stdint.h>

/* Nonzero while the thread holds one of gort's locks or runs a slow path
 * that calls out of gort: the thread is then not at a point where another
 * thread's request may make it flush its cache (mcache.c). */
extern __thread unsigned gort__tls_busy __attribute__((tls_model("initial-exec")));

enum gort_lockrank {
    GORT_RANK_TIMER,       /* chan.c: tmu, the timer heap; held while it allocates (and may collect) */
    GORT_RANK_BG,          /* gc.c: bg_lock, requests to the background collector thread */
    GORT_RANK_GC,          /* gc.c: gc_lock, one collection at a time */
    GORT_RANK_META,        /* gc.c: meta_lock, roots, finalizers, weak handles */
    GORT_RANK_SWEEP,       /* gc.c: sweep_lock, the background sweep and its finish */
    GORT_RANK_MCACHE_LIST, /* mcache.c: the list of thread caches */
    GORT_RANK_MCACHE_GC,   /* many: each thread cache's gc_lock */
    GORT_RANK_MCENTRAL,    /* many: each span class's mcentral lock */
    GORT_RANK_MHEAP,       /* pageheap.c: the page heap */
    GORT_RANK_PROF,        /* prof.c: prof_lock, the heap profile's samples and buckets */
    GORT_RANK_PERSISTENT,  /* arena.c: persistentalloc */
    GORT_RANK_WORK,        /* gc.c: work_lock, the work buffers and marker threads */
    GORT_NRANKS
};
#define GORT_RANKS_MANY ((1u << GORT_RANK_MCACHE_GC) | (1u << GORT_RANK_MCENTRAL))

#if GORT_DEBUG >= 1
typedef struct gort_lockstate {
    uint32_t held;               /* bit r: some lock of rank r is held */
    uint16_t count[GORT_NRANKS]; /* locks of each rank held */
} gort_lockstate;
extern __thread gort_lockstate gort__lockstate __attribute__((tls_model("initial-exec")));
__attribute__((visibility("hidden"), noreturn, cold)) void gort__lockrank_fail(const char *what, unsigned rank);

static inline void gort__lockrank_acquired(unsigned r, int check_order) {
    gort_lockstate *t = &gort__lockstate;
    uint32_t same_or_above = t->held >> r;
    if (check_order && (same_or_above > 1 || (same_or_above == 1 && !(GORT_RANKS_MANY >> r & 1))))
        gort__lockrank_fail("lock order: a lock of this rank taken while holding one of the same or a higher rank", r);
    t->count[r]++;
    t->held |= 1u << r;
}
static inline void gort__lockrank_released(unsigned r) {
    gort_lockstate *t = &gort__lockstate;
    if (t->count[r] == 0) gort__lockrank_fail("lock order: unlock of a lock this thread does not hold", r);
    if (--t->count[r] == 0) t->held &= ~(1u << r);
}
static inline void gort__lock(pthread_mutex_t *m, unsigned r) {
    gort__lockrank_acquired(r, 1); /* checked before blocking: a violation is reported, not a hang */
    gort__tls_busy++;
    pthread_mutex_lock(m);
}
static inline int gort__trylock(pthread_mutex_t *m, unsigned r) {
    gort__tls_busy++;
    int rc = pthread_mutex_trylock(m);
    if (rc == 0) gort__lockrank_acquired(r, 0); /* a trylock cannot deadlock: any order */
    else gort__tls_busy--;
    return rc;
}
static inline void gort__unlock(pthread_mutex_t *m, unsigned r) {
    gort__lockrank_released(r); /* checked first: an unlock of a lock not held is reported */
    pthread_mutex_unlock(m);
    gort__tls_busy--;
}
static inline void gort__assert_held(unsigned r) {
    if (!(gort__lockstate.held >> r & 1))
        gort__lockrank_fail("lock order: a _locked function called without its lock", r);
}
/* A fork child that re-initializes a lock the fork handler took: forgets it. */
static inline void gort__lockrank_forget(unsigned r) {
    gort__lockrank_released(r);
    gort__tls_busy--;
}
#else
static inline void gort__lock(pthread_mutex_t *m, unsigned r) {
    (void)r;
    gort__tls_busy++;
    pthread_mutex_lock(m);
}
static inline int gort__trylock(pthread_mutex_t *m, unsigned r) {
    (void)r;
    gort__tls_busy++;
    int rc = pthread_mutex_trylock(m);
    if (rc != 0) gort__tls_busy--;
    return rc;
}
static inline void gort__unlock(pthread_mutex_t *m, unsigned r) {
    (void)r;
    pthread_mutex_unlock(m);
    gort__tls_busy--;
}
static inline void gort__assert_held(unsigned r) { (void)r; }
static inline void gort__lockrank_forget(unsigned r) {
    (void)r;
    gort__tls_busy--;
}
#endif

#endif
