/* os.h: the OS contract (os_linux.c): memory states and their transitions. */
#ifndef GORT_OS_H
#define GORT_OS_H

#include "base.h"

/* ---- OS layer (os_linux.c): the only code that calls mmap/munmap/madvise ----
 * States of a range, as in Go's mem.go: None -> Reserved (PROT_NONE, faults,
 * no RSS) -> Prepared (mapped read-write, may be unbacked) -> Ready (in use).
 * On Linux Prepared and Ready are the same mapping: the difference is
 * bookkeeping, so that madvise can return pages cheaply. All lengths are
 * multiples of the OS page. */
typedef struct gort_os_stats {
    _Atomic uint64_t reserved; /* bytes Reserved (not yet mapped) */
    _Atomic uint64_t prepared; /* bytes Prepared */
    _Atomic uint64_t ready;    /* bytes Ready */
} gort_os_stats;
GORT_HIDDEN extern gort_os_stats gort__os;
GORT_HIDDEN void *gort__sys_alloc(size_t n);                           /* None -> Ready, OS picks the address */
GORT_HIDDEN void *gort__sys_alloc_aligned(size_t n, size_t align);     /* the same, aligned (a power of two) */
GORT_HIDDEN void gort__sys_free(void *v, size_t n, int state);         /* state -> None */
GORT_HIDDEN void *gort__sys_reserve(void *hint, size_t n, bool exact); /* None -> Reserved */
GORT_HIDDEN bool gort__sys_map(void *v, size_t n);                     /* Reserved -> Prepared */
/* Prepared -> Ready for the `prepared` bytes of [v, v+n) that were Prepared
 * (the rest is Ready already); MADV_HUGEPAGE on the whole huge pages inside
 * [v, v+n), as Go 1.19 */
GORT_HIDDEN void gort__sys_used(void *v, size_t n, size_t prepared);
/* The same, with Go's huge-page advice when huge (whatever GORT_HUGEPAGES says). */
GORT_HIDDEN void gort__sys_used_advise(void *v, size_t n, size_t prepared, bool huge);
GORT_HIDDEN void gort__sys_unused(void *v, size_t n); /* Ready -> Prepared (MADV_DONTNEED) */
GORT_HIDDEN bool gort__sys_probe(size_t n);           /* would a plain mmap of n be granted? */
GORT_HIDDEN void gort__sys_zero(void *v, size_t n);   /* Ready: MADV_DONTNEED, reads as zero */
GORT_HIDDEN void gort__sys_fault(void *v, size_t n);  /* Ready -> Reserved (debugging) */
enum { GORT_OS_RESERVED = 1, GORT_OS_PREPARED = 2, GORT_OS_READY = 3 };

/* ---- write tracking (wtrack.c): which pages of the heap were written ----
 * The collector's write barrier, kept by the kernel (userfaultfd write
 * protection in asynchronous mode, read with PAGEMAP_SCAN; Linux 6.7+).
 * gort__wtrack_init probes once and says whether it works; gort__wtrack_add
 * then registers a range (write-protected from then on: its writes are
 * reported). The heap's arenas are added by gort__wtrack_start (the page
 * heap's mapped chunks, mheap.lock held) and every chunk mapped later by
 * the page heap itself. A write to a registered page is allowed at once and
 * marks the page written until the next scan with reprotect. */
GORT_HIDDEN extern _Atomic bool gort__wtrack_on;     /* arenas are being registered */
GORT_HIDDEN extern _Atomic bool gort__wtrack_broken; /* a registration or a scan failed */
GORT_HIDDEN bool gort__wtrack_init(void);
GORT_HIDDEN void gort__wtrack_add(uintptr_t lo, size_t len);
/* Lets writes to [lo, lo + len) go on without a fault (the tracking stays
 * registered; the next protect walk protects the range again). */
GORT_HIDDEN bool gort__wtrack_unprotect(uintptr_t lo, size_t len);
/* Calls fn on each run [a, b) of pages of [lo, hi) written since the last
 * scan with reprotect (which write-protects them again, in the same walk).
 * false (and gort__wtrack_broken set) when the kernel refused. */
typedef void (*gort_wtrack_fn)(uintptr_t a, uintptr_t b, void *arg);
GORT_HIDDEN bool gort__wtrack_scan(uintptr_t lo, uintptr_t hi, bool reprotect, gort_wtrack_fn fn, void *arg);
/* A fork child: the inherited descriptors act on the parent's tracking, so
 * they are closed; the child's next concurrent cycle sets it up anew. */
GORT_HIDDEN void gort__wtrack_fork_child(void);
/* Calls fn for the parts of [lo, hi) that may hold non-zero bytes: pages
 * present (not the shared zero page) or swapped out; the others read as
 * zero. False when the kernel cannot tell (before Linux 6.7): scan all.
 * gort__backed_init opens its descriptor, at the collector's start. */
GORT_HIDDEN void gort__backed_init(void);
GORT_HIDDEN bool gort__backed_ranges(uintptr_t lo, uintptr_t hi, gort_wtrack_fn fn, void *arg);

#endif
