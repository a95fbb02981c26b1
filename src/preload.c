/*
 * preload.c: the drop-in malloc (libgort-malloc.so).
 *
 * LD_PRELOAD=libgort-malloc.so program: every allocation function of the C
 * library, and glibc's extras, resolve here first, so nothing reaches glibc's
 * allocator. gort needs no initialization call: its first allocation works
 * from any context (a constructor, inside dlsym, before main), and thread
 * caches come and go with threads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define EXPORT __attribute__((visibility("default")))

/* options.c: the drop-in starts no thread unless asked (GORT_SCAVENGER=1). */
bool gort__dropin = true;

EXPORT void *malloc(size_t n) { return gort_malloc(n); }
EXPORT void free(void *p) { gort_free(p); }
void cfree(void *p);
EXPORT void cfree(void *p) { gort_free(p); }
EXPORT void *calloc(size_t n, size_t size) { return gort_calloc(n, size); }
EXPORT void *realloc(void *p, size_t n) { return gort_realloc(p, n); }
EXPORT size_t malloc_usable_size(void *p) { return gort_usable_size(p); }

EXPORT void *reallocarray(void *p, size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return gort_realloc(p, total);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n) {
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    int saved = errno;
    void *p;
    if (GORT_UNLIKELY(atomic_load_explicit(&gort__prof_on, memory_order_relaxed))) {
        GORT_PROF_ENTER(); /* the profile's stacks start at this caller */
        p = gort_aligned_alloc(align, n);
        GORT_PROF_LEAVE();
    } else {
        p = gort_aligned_alloc(align, n);
    }
    if (!p) {
        int e = errno;
        errno = saved;
        return e ? e : ENOMEM;
    }
    *out = p;
    return 0;
}

/* glibc (2.36, Debian 12) rounds an alignment that is not a power of two up
 * to one in memalign and aligned_alloc; programs written against it may rely
 * on that, so the drop-in does the same (gort_aligned_alloc itself says
 * EINVAL). */
static void *glibc_memalign(size_t align, size_t n) {
    if (align > ((size_t)1 << (sizeof(size_t) * 8 - 2))) {
        errno = EINVAL;
        return NULL;
    }
    size_t a = 1;
    while (a < align) a <<= 1;
    return gort_aligned_alloc(a, n);
}
EXPORT void *aligned_alloc(size_t align, size_t n) { return glibc_memalign(align, n); }
EXPORT void *memalign(size_t align, size_t n) { return glibc_memalign(align, n); }
EXPORT void *valloc(size_t n) { return gort_aligned_alloc(GORT_OS_PAGE, n); }

EXPORT void *pvalloc(size_t n) {
    size_t r = (n + GORT_OS_PAGE - 1) & ~(size_t)(GORT_OS_PAGE - 1);
    if (r < n) {
        errno = ENOMEM;
        return NULL;
    }
    return gort_aligned_alloc(GORT_OS_PAGE, r ? r : GORT_OS_PAGE);
}

/* glibc's extras: answered from gort's own state. */
EXPORT int malloc_trim(size_t pad) {
    (void)pad;
    return gort_release_memory() > 0;
}

EXPORT int mallopt(int param, int value) {
    (void)param;
    (void)value;
    return 1;
}

static struct mallinfo2 info2(void) {
    gort_stats_t st;
    gort_stats(&st);
    struct mallinfo2 mi;
    memset(&mi, 0, sizeof mi);
    mi.arena = st.heap_sys;
    mi.uordblks = st.heap_alloc;
    mi.fordblks = st.heap_sys > st.heap_alloc ? st.heap_sys - st.heap_alloc : 0;
    mi.keepcost = st.heap_idle - st.heap_released;
    mi.hblkhd = st.metadata_sys;
    return mi;
}
EXPORT struct mallinfo2 mallinfo2(void) { return info2(); }
EXPORT struct mallinfo mallinfo(void) {
    struct mallinfo2 m2 = info2();
    struct mallinfo mi;
    memset(&mi, 0, sizeof mi);
    mi.arena = (int)m2.arena;
    mi.uordblks = (int)m2.uordblks;
    mi.fordblks = (int)m2.fordblks;
    mi.keepcost = (int)m2.keepcost;
    mi.hblkhd = (int)m2.hblkhd;
    return mi;
}

EXPORT int malloc_info(int options, FILE *fp) {
    (void)options;
    gort_stats_print_json(fp);
    return 0;
}

EXPORT void malloc_stats(void) { gort_stats_print(stderr); }
