/* gort/malloc.h: the allocator API. Include <gort.h> rather than this file. */
#ifndef GORT_MALLOC_H
#define GORT_MALLOC_H

#include <stddef.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Allocation. Every object of 16 bytes or more is 16-byte aligned; smaller
 * ones are aligned to the largest power of two not above their size class.
 * gort_malloc(0) returns a unique pointer that can be freed.
 * On failure (size overflow, size above PTRDIFF_MAX, out of memory) these
 * return NULL with errno = ENOMEM and the heap stays usable.
 */
GORT_API GORT_MALLOC_ATTR void *gort_malloc(size_t size);
GORT_API GORT_MALLOC_ATTR void *gort_calloc(size_t n, size_t size);
/* Keeps the content up to the smaller size; grows in place when the size
 * class allows. On failure returns NULL and leaves the old block intact. */
GORT_API void *gort_realloc(void *p, size_t size);
/* Any power-of-two alignment (up to at least 1 GiB); otherwise NULL with
 * errno = EINVAL. */
GORT_API GORT_MALLOC_ATTR void *gort_aligned_alloc(size_t alignment, size_t size);
/* gort_free(NULL) does nothing. A double free, a free of an interior pointer
 * or of a pointer gort never returned prints "gort: fatal error: ..." and
 * aborts. */
GORT_API void gort_free(void *p);
/* The number of usable bytes at p (at least what was asked for). */
GORT_API size_t gort_usable_size(const void *p);

/* Checks every arena, span and bitmap of the heap; aborts with
 * "gort: fatal error: ..." on the first inconsistency. Returns the number of
 * spans checked. Slow: for tests and debugging. */
GORT_API size_t gort_check_heap(void);

#ifdef __cplusplus
}
#endif
#endif
