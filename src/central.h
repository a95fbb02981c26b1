/* central.h: the central span lists, one per span class (central.c). */
#ifndef GORT_CENTRAL_H
#define GORT_CENTRAL_H

#include "scavenger.h"

/* ---- central lists (central.c) ---- */
typedef struct gort_mcentral {
    pthread_mutex_t lock;
    gort_mspan *partial; /* uncached spans with free slots */
    gort_mspan *full;    /* uncached full spans, xfree state NOTIFY/NOTIFIED */
    /* objects whose remote free found their span full: the span must move to
     * partial. Pushed lock-free, taken whole under the lock. */
    _Atomic uintptr_t notify;
    _Atomic uint64_t nspans; /* spans of this class, owned or not (changed under the lock, peeked without) */
} __attribute__((aligned(64))) gort_mcentral;
GORT_HIDDEN extern gort_mcentral gort__central[GORT_NUM_SPANCLASSES];

GORT_HIDDEN gort_mspan *gort__central_cache_span(unsigned spc, struct gort_mcache *mc);
GORT_HIDDEN void gort__central_uncache_span(gort_mspan *s);
/* A free by a thread that does not own s, of slot idx (its xfree bit set by
 * the caller): if nobody owns s and its mcentral's lock is free, frees the
 * slot under the lock and gives s back to the heap when it empties; false
 * (nothing done) otherwise. */
GORT_HIDDEN bool gort__central_free_unowned(gort_mspan *s, uintptr_t idx, void *p);
/* The lock-free free of an object of an unowned span of class spc is done:
 * the class is drained by whoever next finds its lock free. */
GORT_HIDDEN void gort__central_unowned_pushed(unsigned spc);
GORT_HIDDEN void gort__central_drain_all(void);
GORT_HIDDEN size_t gort__central_check_locked(unsigned spc);

#endif
