/*
 * wtrack.c: the kernel's record of which heap pages were written: the
 * collector's write barrier (gc.c marks while C code stores pointers with
 * plain `=`, and re-scans what it wrote).
 *
 * userfaultfd write protection in asynchronous mode (UFFD_FEATURE_WP_ASYNC,
 * Linux 6.7) lets a write to a protected page go on at once: the kernel
 * only clears the page's protection bit. PAGEMAP_SCAN lists the pages whose
 * bit is clear (written) and, with PM_SCAN_WP_MATCHING, protects them again
 * in the same walk. No signal handler, no mapping per page; unprivileged
 * with UFFD_USER_MODE_ONLY. With UFFD_FEATURE_WP_UNPOPULATED, pages never
 * touched are protected too (a first write is reported).
 *
 * Facts this code is built on (measured on the 2-core machine, Linux 6.18,
 * 1 GiB heap): a read-only scan costs 0.4-0.6 ms with up to 10k written
 * pages; scan plus re-protect 2-35 ms; a first write to a protected page
 * 15-23 us. A mapping made later inside the heap is not registered (the
 * page heap registers each chunk it maps); MADV_DONTNEED makes pages read as
 * written until re-protected (the collector finds no object there); a fork
 * child inherits descriptors that still act on the parent's memory (closed
 * in the child); on 6.18 a scan that fills its whole vector can report a
 * stale walk_end (the loop goes on from the last region's end instead).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* Debian 12's headers (Linux 6.1) predate these; the kernel decides at run time. */
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef PAGEMAP_SCAN
struct page_region {
    uint64_t start, end, categories;
};
struct pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
#endif

_Atomic bool gort__wtrack_on;
_Atomic bool gort__wtrack_broken;
static int uffd = -1, pagemap = -1;
static int probed; /* 0: not yet; 1: works; -1: does not */

static bool wp_range(uintptr_t lo, size_t len) {
    struct uffdio_writeprotect wp = {.range = {.start = lo, .len = len}, .mode = UFFDIO_WRITEPROTECT_MODE_WP};
    return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) == 0;
}

static bool register_range(uintptr_t lo, size_t len) {
    struct uffdio_register r = {.range = {.start = lo, .len = len}, .mode = UFFDIO_REGISTER_MODE_WP};
    return ioctl(uffd, UFFDIO_REGISTER, &r) == 0 && wp_range(lo, len);
}

bool gort__wtrack_unprotect(uintptr_t lo, size_t len) {
    struct uffdio_writeprotect wp = {.range = {.start = lo, .len = len}, .mode = 0};
    return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) == 0;
}

void gort__wtrack_add(uintptr_t lo, size_t len) {
    if (!register_range(lo, len)) atomic_store_explicit(&gort__wtrack_broken, true, memory_order_relaxed);
}

/* The regions of one scan call; the collector scans from one thread at a
 * time. Mapped by the probe rather than static: the collector scans the
 * data segments, and page addresses there would keep objects alive. */
#define NREGIONS 512
static struct page_region *regions;

/* PAGEMAP_SCAN over [a->start, a->end) on fd, r's nr regions per call,
 * each region handed to fn: one call while the vector comes back short,
 * and while it comes back full, on from the last region's end (on 6.18
 * walk_end can be stale then). False when the kernel refused. */
static bool pm_scan(int fd, struct pm_scan_arg *a, struct page_region *r, long nr, gort_wtrack_fn fn, void *arg) {
    a->vec = (uintptr_t)r;
    a->vec_len = (uint64_t)nr;
    while (a->start < a->end) {
        long n = ioctl(fd, PAGEMAP_SCAN, a);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        for (long i = 0; i < n; i++) fn((uintptr_t)r[i].start, (uintptr_t)r[i].end, arg);
        if (n < nr) break; /* the whole range was walked */
        uint64_t next = a->walk_end > r[n - 1].end ? a->walk_end : r[n - 1].end;
        if (next <= a->start) return false; /* no progress (a region is never empty: cannot happen) */
        a->start = next;
    }
    return true;
}

/* GORT_GCTRACKFAIL=n: the nth walk after the probe fails, as if the kernel
 * refused it (the walks are the collector's one thread's) */
static bool injected_failure(void) {
    static uint32_t walks;
    uint32_t n = gort__options.gctrackfail;
    return n && probed > 0 && ++walks == n;
}

bool gort__wtrack_scan(uintptr_t lo, uintptr_t hi, bool reprotect, gort_wtrack_fn fn, void *arg) {
    struct pm_scan_arg a = {
        .size = sizeof a,
        .flags = (reprotect ? PM_SCAN_WP_MATCHING : 0) | PM_SCAN_CHECK_WPASYNC,
        .start = lo,
        .end = hi,
        .category_mask = PAGE_IS_WRITTEN,
        .return_mask = PAGE_IS_WRITTEN,
    };
    if (!injected_failure() && pm_scan(pagemap, &a, regions, NREGIONS, fn, arg)) return true;
    atomic_store_explicit(&gort__wtrack_broken, true, memory_order_relaxed);
    return false;
}

static void found_written(uintptr_t a, uintptr_t b, void *arg) { *(uintptr_t *)arg += b - a; }

/* Two pages registered and protected; a write to the first must be the only
 * page the scan reports. */
static bool probe(void) {
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd < 0) return false;
    struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};
    if (ioctl(fd, UFFDIO_API, &api) != 0 ||
        (api.features & (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED)) !=
            (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED)) {
        close(fd);
        return false;
    }
    int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (pm < 0) {
        close(fd);
        return false;
    }
    if (!regions) regions = gort__sys_alloc(NREGIONS * sizeof *regions);
    if (!regions) {
        close(fd);
        close(pm);
        return false;
    }
    uffd = fd;
    pagemap = pm;
    char *p = gort__sys_alloc(2 * GORT_OS_PAGE);
    bool ok = false;
    if (p && register_range((uintptr_t)p, 2 * GORT_OS_PAGE)) {
        *(volatile char *)p = 1;
        uintptr_t written = 0;
        ok = gort__wtrack_scan((uintptr_t)p, (uintptr_t)p + 2 * GORT_OS_PAGE, true, found_written, &written) &&
            written == GORT_OS_PAGE;
        written = 0;
        ok = ok && gort__wtrack_scan((uintptr_t)p, (uintptr_t)p + 2 * GORT_OS_PAGE, false, found_written, &written) &&
            written == 0;
    }
    if (p) gort__sys_free(p, 2 * GORT_OS_PAGE, GORT_OS_READY); /* unregisters it */
    atomic_store_explicit(&gort__wtrack_broken, false, memory_order_relaxed);
    if (!ok) {
        close(uffd);
        close(pagemap);
        uffd = pagemap = -1;
    }
    return ok;
}

bool gort__wtrack_init(void) {
    if (!probed) probed = probe() ? 1 : -1;
    return probed > 0;
}

/* ---- which pages hold memory ----
 * A large object fresh from the OS is zero and has no pages until written;
 * the marker skips what has none (a 64 MiB array allocated just before a
 * cycle took a 108 ms pause to read: this VM's kernel backs even a read of
 * an untouched page with a new page, so the scan also faulted in 64 MiB).
 * A page that is neither present nor swapped out reads as zero, and so
 * does the shared zero page (kernels that map it for a read): no pointers.
 * Its own descriptor, opened at the collector's start in every mode; a
 * fork child opens its own (the parent's reads the parent's pages). */
static int backed_fd = -1;

void gort__backed_init(void) {
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct page_region r[1];
    struct pm_scan_arg a = {.size = sizeof a,
                            .start = (uintptr_t)r & ~(uintptr_t)(GORT_OS_PAGE - 1),
                            .end = ((uintptr_t)r & ~(uintptr_t)(GORT_OS_PAGE - 1)) + GORT_OS_PAGE,
                            .vec = (uintptr_t)r,
                            .vec_len = 1,
                            .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
                            .return_mask = PAGE_IS_PRESENT};
    if (ioctl(fd, PAGEMAP_SCAN, &a) != 1) { /* the stack page is present: PAGEMAP_SCAN works (Linux 6.7+) */
        close(fd);
        return;
    }
    backed_fd = fd;
}

/* gort__backed_ranges' regions, clipped to the range asked for */
typedef struct {
    uintptr_t lo, hi, done; /* all of [lo, done) was reported or skipped */
    gort_wtrack_fn fn;
    void *arg;
} backed_clip;
static void clip_backed(uintptr_t a, uintptr_t b, void *arg) {
    backed_clip *c = arg;
    if (a < c->lo) a = c->lo;
    if (b > c->hi) b = c->hi;
    if (a < b) c->fn(a, b, c->arg);
    c->done = b;
}

bool gort__backed_ranges(uintptr_t lo, uintptr_t hi, gort_wtrack_fn fn, void *arg) {
    if (backed_fd < 0) return false;
    struct page_region r[16]; /* on the stack: markers call this in parallel */
    struct pm_scan_arg a = {
        .size = sizeof a,
        .start = lo & ~(uintptr_t)(GORT_OS_PAGE - 1),
        .end = (hi + GORT_OS_PAGE - 1) & ~(uintptr_t)(GORT_OS_PAGE - 1),
        .category_inverted = PAGE_IS_PFNZERO,
        .category_mask = PAGE_IS_PFNZERO,
        .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
        .return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
    };
    backed_clip c = {lo, hi, lo, fn, arg};
    if (!pm_scan(backed_fd, &a, r, 16, clip_backed, &c) && c.done < hi)
        fn(c.done, hi, arg); /* cannot tell: the rest, all of it */
    return true;
}

void gort__wtrack_fork_child(void) {
    if (backed_fd >= 0) {
        close(backed_fd);
        backed_fd = -1;
        gort__backed_init();
    }
    if (uffd >= 0) close(uffd);
    if (pagemap >= 0) close(pagemap);
    uffd = pagemap = -1;
    probed = 0;
    atomic_store_explicit(&gort__wtrack_on, false, memory_order_relaxed);
    atomic_store_explicit(&gort__wtrack_broken, false, memory_order_relaxed);
}
