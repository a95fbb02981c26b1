/* prof.h: the heap profile's hooks in the allocation paths (prof.c). */
#ifndef GORT_PROF_H
#define GORT_PROF_H

#include "collector.h"

/* ---- the heap profile (prof.c) ----
 * Go's MemProfileRate sampling, folded into the allocation slow paths: when
 * gort__prof_rate is 0 (off) a refill and a large allocation pay one load and
 * a branch, and the malloc and free fast paths nothing. The profile's lock
 * comes after mheap.lock and before persistent_lock in the lock order and is
 * never held across anything that allocates. */
GORT_HIDDEN extern _Atomic size_t gort__prof_rate;
/* gort__prof_on: set when sampling is first turned on, and never cleared
 * (samples may outlive the rate going back to 0). */
GORT_HIDDEN extern _Atomic bool gort__prof_on;
/* The end of a refill when gort__prof_on (a tail jump): the word just loaded
 * may bring back the slots of sampled objects, which were freed; hands out
 * the lowest slot of s->alloc_cache, samples it when the thread's byte count
 * reaches its next sample, and shortens alloc_cache so that the allocation
 * that reaches the following sample comes back through refill. */
GORT_HIDDEN void *gort__prof_take(gort_mcache *mc, gort_mspan *s);
/* A large object was allocated (profiling on). */
GORT_HIDDEN void gort__prof_large(gort_mspan *s, void *const *frame);
/* s, which has samples, goes back to the page heap: its samples are freed. */
GORT_HIDDEN void gort__prof_span_freed(gort_mspan *s);
GORT_HIDDEN void gort__prof_fork_lock(int how); /* 0: lock, else unlock (fork) */
GORT_HIDDEN void gort__prof_init(void);         /* from options.c's constructor */
/* Set by an API entry point that reaches the slow path by a call rather than
 * a tail jump (realloc, posix_memalign): its own frame record, so that the
 * profile's stack starts at its caller. NULL otherwise. */
extern __thread void *const *gort__prof_frame __attribute__((tls_model("initial-exec")));
#define GORT_PROF_ENTER()                             \
    void *const *gort_prof_outer_ = gort__prof_frame; \
    if (!gort_prof_outer_) gort__prof_frame = __builtin_frame_address(0)
#define GORT_PROF_LEAVE() (gort__prof_frame = gort_prof_outer_)

#endif
