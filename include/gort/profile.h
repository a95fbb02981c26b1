/* gort/profile.h: seeing the heap. Sampled heap profiles in pprof's format
 * (Go's runtime.MemProfileRate and pprof.WriteHeapProfile) and a picture of
 * the heap as SVG. The drop-in does the same from the environment:
 * GORT_MEMPROFILE, GORT_MEMPROFILERATE, GORT_MEMPROFILE_SIGNAL, GORT_HEAPVIEW
 * (README.md, "Profiling"). */
#ifndef GORT_PROFILE_H
#define GORT_PROFILE_H

#include <stddef.h>
#include <stdio.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sampling: on average one allocation per `bytes` allocated is recorded with
 * its call stack (geometric intervals, as Go's MemProfileRate); 1 records
 * every allocation, 0 turns sampling off (the default, unless
 * GORT_MEMPROFILE or GORT_MEMPROFILERATE asks for it: then 512 KiB). Takes
 * effect at each thread's next refill. */
GORT_API void gort_heap_profile_set_rate(size_t bytes);
GORT_API size_t gort_heap_profile_rate(void);

/* Writes the heap profile (pprof's profile.proto, uncompressed) to out:
 * sample types alloc_objects, alloc_space, inuse_objects, inuse_space,
 * scaled for sampling as Go scales them, with the process's executable
 * mappings so that `go tool pprof prog file` finds the functions. Objects
 * freed since they were sampled count as freed. Returns 0, or -1 with errno
 * (ENOMEM, or a write error of out). Must not be called from a signal
 * handler. */
GORT_API int gort_heap_profile_write(FILE *out);

/* Writes a picture of the heap (SVG): every arena, its pages coloured by
 * state, spans outlined and shaded by occupancy, manual and collected spans
 * told apart, a legend and the totals of gort_stats. Returns 0 or -1 with
 * errno. */
GORT_API int gort_heap_svg(FILE *out);

#ifdef __cplusplus
}
#endif
#endif
