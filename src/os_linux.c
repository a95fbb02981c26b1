/*
 * os_linux.c: the OS memory layer (Go's mem.go / mem_linux.go).
 *
 * The only file that calls mmap, munmap and madvise. Each function is one
 * transition of a range between the states None, Reserved, Prepared and
 * Ready, and moves the range's bytes between the counters of gort__os.
 * Preconditions: addresses and lengths are multiples of the OS page (4 KiB).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>

#include "internal.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

GORT_HIDDEN gort_os_stats gort__os;

static void os_add(_Atomic uint64_t *c, size_t n) { atomic_fetch_add_explicit(c, n, memory_order_relaxed); }
static void os_sub(_Atomic uint64_t *c, size_t n) { atomic_fetch_sub_explicit(c, n, memory_order_relaxed); }

static _Atomic uint64_t *os_counter(int state) {
    switch (state) {
    case GORT_OS_RESERVED: return &gort__os.reserved;
    case GORT_OS_PREPARED: return &gort__os.prepared;
    default: return &gort__os.ready;
    }
}

/* None -> Ready at an address of the kernel's choosing; NULL on failure. */
void *gort__sys_alloc(size_t n) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    os_add(&gort__os.ready, n);
    return p;
}

/* None -> Ready, aligned to align (a power of two >= the OS page). */
void *gort__sys_alloc_aligned(size_t n, size_t align) {
    size_t big = n + align;
    char *p = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
    if (a > (uintptr_t)p) munmap(p, a - (uintptr_t)p);
    if ((uintptr_t)p + big > a + n) munmap((void *)(a + n), (uintptr_t)p + big - (a + n));
    os_add(&gort__os.ready, n);
    return (void *)a;
}

/* Any state -> None. */
void gort__sys_free(void *v, size_t n, int state) {
    munmap(v, n);
    os_sub(os_counter(state), n);
}

/* None -> Reserved. With exact, only at hint (never replacing a mapping);
 * otherwise hint is only a hint. NULL on failure, errno from mmap. */
void *gort__sys_reserve(void *hint, size_t n, bool exact) {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    if (exact) flags |= MAP_FIXED_NOREPLACE;
    void *p = mmap(hint, n, PROT_NONE, flags, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (exact && p != hint) { /* a kernel older than 4.17 ignores the flag */
        munmap(p, n);
        errno = EEXIST;
        return NULL;
    }
    os_add(&gort__os.reserved, n);
    return p;
}

/* Reserved -> Prepared: read-write, not yet backed. */
bool gort__sys_map(void *v, size_t n) {
    void *p = mmap(v, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return false;
    if (p != v) gort__throw("mmap MAP_FIXED returned another address");
    os_sub(&gort__os.reserved, n);
    os_add(&gort__os.prepared, n);
    return true;
}

/* Prepared -> Ready. Nothing to do on Linux but the accounting: a page
 * returned with MADV_DONTNEED faults back in as zeroes. */
void gort__sys_used(void *v, size_t n) {
    (void)v;
    os_sub(&gort__os.prepared, n);
    os_add(&gort__os.ready, n);
}

/* Ready -> Prepared: the kernel may drop the pages; they read as zero after. */
void gort__sys_unused(void *v, size_t n) {
    if (((uintptr_t)v | n) & (GORT_OS_PAGE - 1)) gort__throw("sys_unused: range not page-aligned");
    madvise(v, n, MADV_DONTNEED);
    os_sub(&gort__os.ready, n);
    os_add(&gort__os.prepared, n);
}

/* Ready -> Reserved: any access faults (a debugging aid). */
void gort__sys_fault(void *v, size_t n) {
    mmap(v, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    os_sub(&gort__os.ready, n);
    os_add(&gort__os.reserved, n);
}
