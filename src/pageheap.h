/* pageheap.h: the page heap (pageheap.c): runs of pages for spans. */
#ifndef GORT_PAGEHEAP_H
#define GORT_PAGEHEAP_H

#include "span.h"

/* ---- the heap (pageheap.c) ---- */
typedef struct gort_mheap {
    pthread_mutex_t lock;
    gort_heap_arena *slots[GORT_MAX_ARENA_SLOTS]; /* dense index -> arena (NULL = hole) */
    uint32_t nslots;                              /* slots used, holes included */
    uint32_t narenas;
    gort_slaballoc spanalloc[5]; /* mspan structs by bitmap size: 1, 2, 4, 8, 16 words */
    /* counters, in pages, under lock */
    uint64_t pages_inuse; /* pages in in-use spans */
    uint64_t pages_total; /* pages in all arenas */
    uint64_t pages_scav;  /* free pages returned to the OS (incl. never touched) */
    /* the collector's sweep generation (gc.c), 2 more at every cycle's end;
     * a new span takes it (see mspan.sweepgen) */
    _Atomic uint16_t sweepgen;
} gort_mheap;
GORT_HIDDEN extern gort_mheap gort__heap;
/* A collected span that the last cycle marked and nobody has swept yet
 * (its sweepgen behind the heap's; gc.c, "The sweep is lazy"). */
static inline bool gort__span_unswept(const gort_mspan *s) {
    return atomic_load_explicit(&s->sweepgen, memory_order_relaxed) !=
        atomic_load_explicit(&gort__heap.sweepgen, memory_order_relaxed);
}

/* Allocates a span of npages (aligned to align_pages, a power of two) for
 * span class spc; NULL with errno = ENOMEM when the OS refuses memory. */
GORT_HIDDEN gort_mspan *gort__heap_alloc_span(size_t npages, size_t align_pages, unsigned spc);
/* The same for a large object that must read as zero (calloc): clears only
 * the pages used before (memset, or MADV_DONTNEED for long runs). */
GORT_HIDDEN gort_mspan *gort__heap_alloc_span_zeroed(size_t npages, size_t align_pages, unsigned spc);
GORT_HIDDEN void gort__heap_free_span(gort_mspan *s);
/* Grows a large span in place to npages if the pages after it are free. */
GORT_HIDDEN bool gort__heap_grow_span(gort_mspan *s, size_t npages);
GORT_HIDDEN size_t gort__heap_release_free_locked(void);
GORT_HIDDEN uint64_t gort__heap_scavenge_locked(uint64_t max_pages);
/* The span structs' empty slabs back to the OS: those empty since the last
 * trim, or all (scavenger.c's periods; gort_release_memory). */
GORT_HIDDEN void gort__heap_trim_slabs_locked(bool all);
GORT_HIDDEN uint64_t gort__heap_scavenge_runs_locked(uint64_t min_run);
GORT_HIDDEN uint64_t gort__scavenge_overage_locked(void);
/* Registers every mapped chunk of every arena for write tracking, and has
 * the chunks mapped from now on registered as they come (wtrack.c). */
GORT_HIDDEN void gort__heap_wtrack_start_locked(void);
/* Checks the page heap: summaries, bitmaps, span map, counters. */
GORT_HIDDEN size_t gort__heap_check_locked(void);

#endif
