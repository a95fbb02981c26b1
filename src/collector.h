/* collector.h: what the rest of gort calls of the collector (gc.c) and of
 * the channels' timer (chan.c). */
#ifndef GORT_COLLECTOR_H
#define GORT_COLLECTOR_H

#include "mcache.h"

/* ---- the collector (gc.c) ---- */
GORT_HIDDEN void gort__chan_fork_prepare(void);
GORT_HIDDEN void gort__chan_fork_parent(void);
GORT_HIDDEN void gort__chan_fork_child(void);
GORT_HIDDEN void gort__gc_fork_prepare(void);
GORT_HIDDEN void gort__gc_fork_parent(void);
GORT_HIDDEN void gort__gc_fork_child(void);
GORT_HIDDEN __attribute__((noreturn, cold)) void gort__gc_bad_free(const void *p);
/* GORT_OOM=report: a manual allocation of n bytes is about to fail with
 * ENOMEM; prints Go's out-of-memory line first. */
GORT_HIDDEN void gort__oom_report(size_t n);
/* Free bytes the scavenger keeps for the collected heap to grow back into
 * before its next cycle (Go retains 10% over the heap goal); 0 when the
 * collector is unused. Lock-free. */
GORT_HIDDEN uint64_t gort__gc_retain_bytes(void);
/* The lazy sweep (gc.c), for a refill of a collected span class under the
 * thread cache's gc_lock: gort__gc_sweep_owned sweeps the owner's full
 * spans that a cycle marked and nobody has swept yet, until one has room
 * (before the refill takes a span from its mcentral or the page heap);
 * gort__gc_sweep_taken sweeps a span the refill has just taken off a list
 * (its owner's partial list, or its mcentral's), before any slot of it is
 * handed out. */
GORT_HIDDEN extern _Atomic bool gort__sweep_pending;
GORT_HIDDEN void gort__gc_sweep_owned(gort_mcache *mc, unsigned spc);
GORT_HIDDEN void gort__gc_sweep_taken(gort_mspan *s);
/* The collector's statistics after gort_stats_print's (json: as a "gc"
 * member); nothing when the program never used the collector. */
GORT_HIDDEN void gort__gc_stats_print(FILE *out, bool json);

#endif
