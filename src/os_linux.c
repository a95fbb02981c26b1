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
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "os.h"

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

/* Transparent huge pages, as Go 1.19 (mem_linux.go): the size is read once
 * from sysfs (0, meaning no advice, when unreadable or above 4 MiB). */
static _Atomic size_t huge_size = 1; /* 1: not read yet */
static _Atomic bool huge_advised;    /* some range got MADV_HUGEPAGE */

static size_t thp_size(void) { /* GORT_HUGEPAGES=0: the caller gives no advice */
    size_t h = atomic_load_explicit(&huge_size, memory_order_relaxed);
    if (h != 1) return h;
    h = 0;
    int fd = open("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[32];
        ssize_t r = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (r > 0) {
            buf[r] = 0;
            unsigned long long x = strtoull(buf, NULL, 10);
            if (x >= GORT_OS_PAGE && x <= (4u << 20) && !(x & (x - 1))) h = (size_t)x;
        }
    }
    atomic_store_explicit(&huge_size, h, memory_order_relaxed);
    return h;
}

/* Prepared -> Ready for the `prepared` bytes of [v, v+n) that were Prepared:
 * a page returned with MADV_DONTNEED faults back in as zeroes, so only the
 * accounting, and Go 1.19's hint: MADV_HUGEPAGE on the whole huge pages
 * inside the range. Only a span that holds a whole huge page (a large
 * object) gets it, so small-object spans never change the advice. */
void gort__sys_used(void *v, size_t n, size_t prepared) {
    gort__sys_used_advise(v, n, prepared, gort__options.hugepages);
}

void gort__sys_used_advise(void *v, size_t n, size_t prepared, bool huge) {
    size_t h = huge ? thp_size() : 0;
    if (h) {
        uintptr_t beg = ((uintptr_t)v + h - 1) & ~(uintptr_t)(h - 1);
        uintptr_t end = ((uintptr_t)v + n) & ~(uintptr_t)(h - 1);
        if (beg < end) {
            if (!atomic_load_explicit(&huge_advised, memory_order_relaxed))
                atomic_store_explicit(&huge_advised, true, memory_order_relaxed);
            madvise((void *)beg, end - beg, MADV_HUGEPAGE);
        }
    }
    os_sub(&gort__os.prepared, prepared);
    os_add(&gort__os.ready, prepared);
}

/* Ready -> Prepared: the kernel may drop the pages; they read as zero after.
 * As Go 1.19: once any range has had MADV_HUGEPAGE, the huge pages holding
 * an unaligned head or tail of the range get MADV_NOHUGEPAGE first, so that
 * khugepaged does not back a released part of a huge page again (turning
 * one present 4 KiB page into 2 MiB of RSS). Only those two huge pages, to
 * keep the number of VMAs down; a range of whole huge pages keeps its
 * advice. */
void gort__sys_unused(void *v, size_t n) {
    if (((uintptr_t)v | n) & (GORT_OS_PAGE - 1)) gort__throw("sys_unused: range not page-aligned");
    size_t h = atomic_load_explicit(&huge_advised, memory_order_relaxed) ? thp_size() : 0;
    if (h) {
        uintptr_t a = (uintptr_t)v, e = a + n, head = 0, tail = 0;
        if (a & (h - 1)) head = a & ~(uintptr_t)(h - 1);
        if (e & (h - 1)) tail = (e - 1) & ~(uintptr_t)(h - 1);
        if (head && head + h == tail) {
            madvise((void *)head, 2 * h, MADV_NOHUGEPAGE);
        } else {
            if (head) madvise((void *)head, h, MADV_NOHUGEPAGE);
            if (tail && tail != head) madvise((void *)tail, h, MADV_NOHUGEPAGE);
        }
    }
    madvise(v, n, MADV_DONTNEED);
    os_sub(&gort__os.ready, n);
    os_add(&gort__os.prepared, n);
}

/* Would the kernel map n bytes for a plain private mapping (its overcommit
 * policy, as glibc's malloc meets it)? Maps and unmaps at once; no state. */
bool gort__sys_probe(size_t n) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    munmap(p, n);
    return true;
}

/* Ready stays Ready: the pages are dropped and read as zero after (calloc of
 * a block that was used before). */
void gort__sys_zero(void *v, size_t n) {
    if (((uintptr_t)v | n) & (GORT_OS_PAGE - 1)) gort__throw("sys_zero: range not page-aligned");
    madvise(v, n, MADV_DONTNEED);
}

/* Ready -> Reserved: any access faults (a debugging aid). */
void gort__sys_fault(void *v, size_t n) {
    mmap(v, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    os_sub(&gort__os.ready, n);
    os_add(&gort__os.reserved, n);
}
