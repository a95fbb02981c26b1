/*
 * slice.c: Go's slices (slice.go: makeslice, growslice; panic.go's index and
 * slice-bounds errors). The typed layer (gort/slice.h) inlines indexing,
 * re-slicing and the append that fits; this file makes and grows arrays.
 *
 * Arrays come from the collected heap: pointer-free element types
 * (ptrwords == 0) from noscan spans, others typed by the element's
 * gort_type, so the collector scans them precisely and frees an array no
 * slice refers to. Zero-size elements share one static address (Go's
 * zerobase).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define MAX_ALLOC ((size_t)1 << 47) /* Go's maxAlloc on amd64 is 2^48; gort's heap is 4 TiB */

static char zerobase[16] __attribute__((aligned(16)));

void gort__panic_index(size_t i, size_t len) {
    char msg[96];
    snprintf(msg, sizeof msg, "index out of range [%zu] with length %zu", i, len);
    gort__fatal(msg);
}

void gort__panic_slice(int kind, size_t x, size_t y) {
    char msg[128];
    switch (kind) {
    case 0: snprintf(msg, sizeof msg, "slice bounds out of range [:%zu] with capacity %zu", x, y); break;
    case 1: snprintf(msg, sizeof msg, "slice bounds out of range [%zu:%zu]", x, y); break;
    case 2: snprintf(msg, sizeof msg, "slice bounds out of range [::%zu] with capacity %zu", x, y); break;
    case 3: snprintf(msg, sizeof msg, "slice bounds out of range [:%zu:%zu]", x, y); break;
    default: snprintf(msg, sizeof msg, "slice bounds out of range [%zu:%zu:]", x, y); break;
    }
    gort__fatal(msg);
}

static size_t size_class_round(size_t n) {
    if (n <= GORT_MAX_SMALL_SIZE) return gort_class_to_size[gort__size_to_class(n)];
    if (n > MAX_ALLOC) return n;
    return (n + GORT_PAGE_SIZE - 1) & ~(GORT_PAGE_SIZE - 1); /* a large object: whole pages */
}

/* count elements of et in the collected heap, zeroed from byte zero_from
 * on (the caller fills what is below). A pointer-free array is noscan and
 * only its tail is cleared (Go's growslice clears [newlen, cap) only); a
 * typed one comes zeroed. */
static void *alloc_array(const gort_type *et, size_t count, size_t bytes, size_t zero_from) {
    if (bytes == 0) return zerobase;
    if (et->ptrwords == 0) {
        unsigned char *p = gort_gc_alloc_noscan(bytes);
        if (p && zero_from < bytes) memset(p + zero_from, 0, bytes - zero_from);
        return p;
    }
    return gort_new_typed(et, count);
}

gort_slice gort_makeslice(const gort_type *et, size_t len, size_t cap) {
    size_t mem;
    if (__builtin_mul_overflow(et->size, cap, &mem) || mem > MAX_ALLOC || len > cap) {
        /* Go: a len that is out of range is reported first */
        if (__builtin_mul_overflow(et->size, len, &mem) || mem > MAX_ALLOC) gort__fatal("makeslice: len out of range");
        gort__fatal("makeslice: cap out of range");
    }
    gort_slice s = {alloc_array(et, cap, mem, 0), len, cap};
    if (!s.ptr) gort__fatal("makeslice: out of memory");
    return s;
}

gort_slice gort_growslice(gort_slice s, size_t num, const gort_type *et) {
    size_t oldlen = s.len, oldcap = s.cap, size = et->size, newlen;
    if (__builtin_add_overflow(oldlen, num, &newlen) || (ptrdiff_t)newlen < 0)
        gort__fatal("growslice: cap out of range");
    if (size == 0) return (gort_slice){zerobase, newlen, newlen};
    /* Go 1.20's nextslicecap */
    size_t newcap = oldcap, doublecap = oldcap + oldcap;
    if (newlen > doublecap || doublecap < oldcap) {
        newcap = newlen;
    } else if (oldcap < 256) {
        newcap = doublecap;
    } else {
        while (newcap < newlen) {
            size_t next = newcap + (newcap + 3 * 256) / 4;
            if (next < newcap) { /* overflow */
                newcap = newlen;
                break;
            }
            newcap = next;
        }
    }
    size_t mem;
    if (__builtin_mul_overflow(newcap, size, &mem) || mem > MAX_ALLOC) gort__fatal("growslice: cap out of range");
    mem = size_class_round(mem);
    newcap = mem / size;
    mem = newcap * size;
    void *p = alloc_array(et, newcap, mem, oldlen * size);
    if (!p) gort__fatal("growslice: out of memory");
    if (oldlen) memcpy(p, s.ptr, oldlen * size);
    return (gort_slice){p, newlen, newcap};
}
