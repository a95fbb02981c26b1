/*
 * gort: Go's memory runtime as a C11 library.
 *
 * One include gives the whole public API:
 *   gort/malloc.h  the allocator: gort_malloc, gort_free, ... (and the drop-in malloc)
 *   gort/stats.h   MemStats-style counters and gort_release_memory
 *   gort/map.h     Go's hash map (hmap) for C
 *   gort/gc.h      collected allocation: gort_new, the garbage collector
 *   gort/chan.h    Go's channels, select and time.After for threads
 *   gort/slice.h   Go's slices (make, append, copy, re-slicing) in the collected heap
 *   gort/profile.h sampled heap profiles (pprof) and a picture of the heap (SVG)
 * Each includes gort/common.h (the version, GORT_API) and stands on its own;
 * gort/internal/ holds what the inline paths need, installed but not API.
 */
#ifndef GORT_H
#define GORT_H

#include "gort/malloc.h"
#include "gort/stats.h"
#include "gort/map.h"
#include "gort/gc.h"
#include "gort/chan.h"
#include "gort/slice.h"
#include "gort/profile.h"

#endif
