/* gort/stats.h: memory statistics and giving memory back to the OS. */
#ifndef GORT_STATS_H
#define GORT_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GORT_NUM_SIZE_CLASSES 67 /* class 0 (large) + 66 small classes; see src/sizeclasses.h */

typedef struct gort_size_class_stats {
    uint32_t size;    /* object size of the class */
    uint64_t mallocs; /* cumulative objects allocated */
    uint64_t frees;   /* cumulative objects freed */
} gort_size_class_stats;

/* MemStats-style counters (Go's runtime.MemStats names in comments).
 * As in Go, small-object counts are taken from the thread caches without
 * stopping threads: a thread takes free slots 64 at a time, and those count
 * as allocated (mallocs, heap_alloc, heap_objects) from then until it hands
 * them out or gives its span back, so the figures can run ahead of the
 * program's own count by up to 64 objects per size class per thread. */
typedef struct gort_stats {
    uint64_t sys;           /* Sys: bytes obtained from the OS (all states but None) */
    uint64_t heap_sys;      /* HeapSys: bytes of heap arenas mapped */
    uint64_t heap_inuse;    /* HeapInuse: bytes in in-use spans */
    uint64_t heap_idle;     /* HeapIdle: bytes in free spans (incl. released) */
    uint64_t heap_released; /* HeapReleased: bytes returned to the OS */
    uint64_t heap_alloc;    /* HeapAlloc: bytes of allocated objects */
    uint64_t heap_objects;  /* HeapObjects: live objects */
    uint64_t mallocs;       /* Mallocs: cumulative objects allocated */
    uint64_t frees;         /* Frees: cumulative objects freed */
    uint64_t metadata_sys;  /* MSpanSys+MCacheSys+GCSys+OtherSys: off-heap metadata */
    uint64_t arenas;        /* number of 64 MiB heap arenas */
    gort_size_class_stats by_size[GORT_NUM_SIZE_CLASSES];
} gort_stats_t;

/* Fills *st with a consistent-enough snapshot (thread-local counters are
 * summed without stopping threads).
 *
 * The struct can grow: later versions only add fields at its end (by_size
 * keeps its length). gort_stats(st) is a macro that passes sizeof *st along
 * to gort_stats_sized, which fills the fields of the caller's struct it knows
 * and zeroes any bytes past them. So a program built against older headers
 * gets the fields it knows from a newer library, and one built against newer
 * headers reads 0 in the fields an older library does not have. Call it
 * through the macro (or gort_stats_sized with the struct's sizeof); the
 * function gort_stats itself, for programs built before the macro, fills
 * the struct as gort 0.1.0 defined it. */
GORT_API void gort_stats(gort_stats_t *st);
GORT_API void gort_stats_sized(gort_stats_t *st, size_t size);
#define gort_stats(st) gort_stats_sized((st), sizeof *(st))
GORT_API void gort_stats_print(FILE *out);
GORT_API void gort_stats_print_json(FILE *out);
/* Returns every free page to the OS now (like debug.FreeOSMemory);
 * returns the number of bytes released. First it asks threads that have
 * stopped allocating to give back the spans other threads' frees emptied:
 * with SIGURG, once per such thread (a thread blocked in read or write goes
 * on: SA_RESTART; nanosleep, poll and epoll_wait return EINTR, as for any
 * signal), unless the program has its own SIGURG handler; a thread that
 * blocks SIGURG keeps them until it next allocates. The API library's
 * scavenger thread asks the same way. */
GORT_API size_t gort_release_memory(void);

#ifdef __cplusplus
}
#endif
#endif
