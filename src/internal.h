/*
 * internal.h: gort's internal types and cross-file API. Never installed.
 *
 * The overview of the allocator (structures, the malloc and free walks) is at
 * the top of malloc.c. Field invariants sit beside the fields below.
 *
 * Lock order: the ranks in lock.h (checked in the debug, ASan and TSan
 * builds), and docs/design.md:
 *
 *     timer -> gc_lock -> meta_lock -> mcache_list_lock -> every mcache.gc_lock
 *     -> mcentral locks -> mheap.lock -> prof_lock -> persistent_lock -> work_lock
 *
 * mheap.lock guards the page allocator, arena growth, span structs and the
 * heap-wide counters. An mcentral lock guards that class's span lists and the
 * allocation bits of every span on them. A span cached by a thread (owner !=
 * NULL) is changed only by that thread, without locks; other threads reach it
 * only through its atomic remote-free list `xfree`. prof_lock (prof.c, the
 * heap profile) is taken under any of the others but mheap.lock and
 * persistent_lock, never with mheap.lock held except by the fork handler.
 */
#ifndef GORT_INTERNAL_H
#define GORT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gort.h"
#include "sizeclasses.h"

#define GORT_HIDDEN __attribute__((visibility("hidden")))
#define GORT_NOINLINE __attribute__((noinline))
/* gcc: no interprocedural analysis of the function (so that gcc does not
 * find it noreturn and turn a tail jump to it into a call); clang has none
 * to disable here */
#if defined(__GNUC__) && !defined(__clang__)
#define GORT_NOIPA __attribute__((noipa))
#else
#define GORT_NOIPA
#endif
#define GORT_LIKELY(x) __builtin_expect(!!(x), 1)
#define GORT_UNLIKELY(x) __builtin_expect(!!(x), 0)

#ifndef GORT_DEBUG
#define GORT_DEBUG 0
#endif
/* Assertions, by cost (mimalloc's mi_assert, mi_assert_internal,
 * mi_assert_expensive). Each is a gort__throw ("assertion failed: <c>") when
 * checked and nothing at all otherwise (c is not evaluated):
 *   GORT_ASSERT(c)            GORT_DEBUG >= 1: the debug, ASan and TSan builds
 *   GORT_ASSERT_INTERNAL(c)   GORT_DEBUG >= 2: the debug and ASan builds
 *   GORT_ASSERT_EXPENSIVE(c)  GORT_DEBUG >= 3: no MODE sets it (see
 *                             docs/hacking.md, "Errors")
 * Release is GORT_DEBUG 0: none of them costs anything there. */
#if GORT_DEBUG >= 1
#define GORT_ASSERT(c) ((c) ? (void)0 : gort__throw("assertion failed: " #c))
#else
#define GORT_ASSERT(c) ((void)0)
#endif
#if GORT_DEBUG >= 2
#define GORT_ASSERT_INTERNAL(c) ((c) ? (void)0 : gort__throw("assertion failed: " #c))
#else
#define GORT_ASSERT_INTERNAL(c) ((void)0)
#endif
#if GORT_DEBUG >= 3
#define GORT_ASSERT_EXPENSIVE(c) ((c) ? (void)0 : gort__throw("assertion failed: " #c))
#else
#define GORT_ASSERT_EXPENSIVE(c) ((void)0)
#endif

#include "lock.h"

/* Population count without a libgcc call on CPUs built for baseline x86-64
 * (no POPCNT instruction assumed). */
static inline unsigned gort__popcount(uint64_t x) {
#if defined(__POPCNT__) || !defined(__x86_64__)
    return (unsigned)__builtin_popcountll(x);
#else
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (unsigned)((x * 0x0101010101010101ULL) >> 56);
#endif
}

/* ---- geometry (Go's constants for linux/amd64) ---- */
#define GORT_PAGE_SHIFT 13
#define GORT_PAGE_SIZE ((size_t)1 << GORT_PAGE_SHIFT)          /* 8 KiB */
#define GORT_ARENA_SHIFT 26
#define GORT_ARENA_BYTES ((size_t)1 << GORT_ARENA_SHIFT)        /* 64 MiB */
#define GORT_PAGES_PER_ARENA (GORT_ARENA_BYTES / GORT_PAGE_SIZE) /* 8192 */
#define GORT_ADDR_BITS 48
#define GORT_ARENA_L2_BITS (GORT_ADDR_BITS - GORT_ARENA_SHIFT)  /* 22 */
#define GORT_CHUNK_PAGES 512                                     /* pallocChunkPages: 4 MiB */
#define GORT_CHUNKS_PER_ARENA (GORT_PAGES_PER_ARENA / GORT_CHUNK_PAGES) /* 16 */
#define GORT_CHUNK_WORDS (GORT_CHUNK_PAGES / 64)
#define GORT_MAX_ARENA_SLOTS ((size_t)1 << 16)                   /* 4 TiB of heap */
#define GORT_OS_PAGE 4096

_Static_assert(GORT_PAGES_PER_ARENA == 8192, "pages per arena");
_Static_assert(GORT_CHUNKS_PER_ARENA == 16, "chunks per arena");

/* Span classes: kind * GORT_NUM_CLASSES + size class. Go's is
 * class << 1 | noscan; gort adds a kind for manual objects, kept in spans of
 * their own (the collector will sweep only collected spans), and numbers
 * kinds so that gort_malloc's span class is its size class: the malloc fast
 * path indexes the thread cache with the class itself. Class 0 holds one
 * large object per span. */
enum {
    GORT_KIND_MANUAL = 0,      /* gort_malloc: manual, no pointers scanned */
    GORT_KIND_GC_NOSCAN = 1,   /* collected, pointer-free */
    GORT_KIND_GC_SCAN = 2,     /* collected, scanned */
    GORT_KIND_MANUAL_SCAN = 3, /* manual, scanned as roots (reserved) */
    GORT_NUM_KINDS = 4
};
#define GORT_NUM_SPANCLASSES (GORT_NUM_CLASSES * GORT_NUM_KINDS)

/* The size class of a small request, n <= GORT_MAX_SMALL_SIZE (Go's size_to_class8/128). */
static inline size_t gort__size_to_class(size_t n) {
    if (n <= GORT_SMALL_SIZE_MAX - 8) return gort_size_to_class8[(n + GORT_SMALL_SIZE_DIV - 1) / GORT_SMALL_SIZE_DIV];
    return gort_size_to_class128[(n + GORT_LARGE_SIZE_DIV - 1 - GORT_SMALL_SIZE_MAX) / GORT_LARGE_SIZE_DIV];
}
static inline unsigned gort__spc_make(unsigned cls, unsigned kind) { return kind * GORT_NUM_CLASSES + cls; }
static inline unsigned gort__spc_class(unsigned spc) { return spc % GORT_NUM_CLASSES; }
static inline unsigned gort__spc_kind(unsigned spc) { return spc / GORT_NUM_CLASSES; }

/* ---- fatal errors (debug.c) ----
 * Each prints "gort: fatal error: <msg>" (the _addr forms add " (address
 * 0x...)") with write(2) and aborts.
 * gort__fatal: the program's misuse (a double free, a send on a closed
 * channel, a bad gort_type) or an exhausted resource it cannot go on
 * without (out of memory, a thread that cannot start). Go's fatal.
 * gort__throw: gort's own invariant is broken, a bug in gort; adds the line
 * "gort: this is a bug in gort (an internal invariant is broken)". Go's throw.
 * Which one: could gort, bug-free, get there with some program or some
 * machine? Then gort__fatal. */
GORT_HIDDEN __attribute__((noreturn, cold)) void gort__fatal(const char *msg);
GORT_HIDDEN __attribute__((noreturn, cold)) void gort__fatal_addr(const char *msg, const void *p);
GORT_HIDDEN __attribute__((noreturn, cold)) void gort__throw(const char *msg);
GORT_HIDDEN __attribute__((noreturn, cold)) void gort__throw_addr(const char *msg, const void *p);

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
GORT_HIDDEN void *gort__sys_alloc(size_t n);                /* None -> Ready, OS picks the address */
GORT_HIDDEN void *gort__sys_alloc_aligned(size_t n, size_t align); /* the same, aligned (a power of two) */
GORT_HIDDEN void gort__sys_free(void *v, size_t n, int state); /* state -> None */
GORT_HIDDEN void *gort__sys_reserve(void *hint, size_t n, bool exact); /* None -> Reserved */
GORT_HIDDEN bool gort__sys_map(void *v, size_t n);          /* Reserved -> Prepared */
/* Prepared -> Ready for the `prepared` bytes of [v, v+n) that were Prepared
 * (the rest is Ready already); MADV_HUGEPAGE on the whole huge pages inside
 * [v, v+n), as Go 1.19 */
GORT_HIDDEN void gort__sys_used(void *v, size_t n, size_t prepared);
GORT_HIDDEN void gort__sys_unused(void *v, size_t n);       /* Ready -> Prepared (MADV_DONTNEED) */
GORT_HIDDEN bool gort__sys_probe(size_t n);                 /* would a plain mmap of n be granted? */
GORT_HIDDEN void gort__sys_zero(void *v, size_t n);         /* Ready: MADV_DONTNEED, reads as zero */
GORT_HIDDEN void gort__sys_fault(void *v, size_t n);        /* Ready -> Reserved (debugging) */
enum { GORT_OS_RESERVED = 1, GORT_OS_PREPARED = 2, GORT_OS_READY = 3 };

/* ---- off-heap metadata (arena.c) ---- */
/* persistentalloc: zeroed, never freed; NULL when the OS refuses. */
GORT_HIDDEN void *gort__persistent_alloc(size_t size, size_t align);
GORT_HIDDEN extern _Atomic uint64_t gort__metadata_bytes;
GORT_HIDDEN void gort__persistent_lock(bool lock); /* for fork */

/* fixalloc: fixed-size blocks on a LIFO free list; the caller holds the lock
 * that guards the allocator. Blocks are zeroed on allocation. */
typedef struct gort_fixalloc {
    size_t size;
    void *free_list;
    char *chunk;
    size_t chunk_left;
    size_t inuse;
} gort_fixalloc;
GORT_HIDDEN void *gort__fixalloc_alloc(gort_fixalloc *f);
GORT_HIDDEN void gort__fixalloc_free(gort_fixalloc *f, void *p);

/* slaballoc: fixed-size blocks in 64 KiB slabs. For span structs, which come
 * and go with the heap: unlike Go's fixalloc, a heap that shrinks gives their
 * memory back, but not at once: a slab that empties stays mapped, and
 * gort__slab_trim (the scavenger's periods) unmaps those that stayed empty
 * since the last trim. The caller holds the lock that guards the allocator. */
struct gort_slab;
typedef struct gort_slaballoc {
    size_t size;
    struct gort_slab *partial; /* slabs with a free block */
    uint32_t nempty;           /* empty slabs kept on partial */
    uint32_t nempty_low;       /* the fewest empty slabs since the last trim */
    uint32_t nslabs;           /* slabs mapped */
} gort_slaballoc;
GORT_HIDDEN void *gort__slab_alloc(gort_slaballoc *a);
GORT_HIDDEN void gort__slab_free(gort_slaballoc *a, void *p);
/* Unmaps the empty slabs that stayed empty since the last trim (all: every
 * empty slab). Returns how many. */
GORT_HIDDEN size_t gort__slab_trim(gort_slaballoc *a, bool all);

#include "span.h"

/* ---- arenas (arena.c) ---- */
typedef struct gort_heap_arena {
    /* spans: page -> span. Every page of an in-use span points to it; pages
     * of free runs are NULL. Written under mheap.lock. */
    gort_mspan *_Atomic spans[GORT_PAGES_PER_ARENA];
    /* Page allocator bitmaps, one 512-bit row per 4 MiB chunk:
     * palloc (1 = page in use) and scav (1 = free page returned to the OS,
     * or never touched: its contents are zero). */
    uint64_t palloc[GORT_CHUNKS_PER_ARENA][GORT_CHUNK_WORDS];
    uint64_t scav[GORT_CHUNKS_PER_ARENA][GORT_CHUNK_WORDS];
    /* pageInUse / pageMarks: a bit at the first page of each in-use span
     * and of each span with marked objects (for the collector). */
    uint64_t page_in_use[GORT_PAGES_PER_ARENA / 64];
    uint64_t page_marks[GORT_PAGES_PER_ARENA / 64];
    /* The heap bitmap (gc.c): one bit per 8-byte word of the arena, 1 = the
     * word of a small collected object holds a pointer. 1 MiB, mapped at the
     * first scanned object allocated in the arena (NULL before). */
    uint64_t *_Atomic ptrbits;
    uintptr_t base;
    uint32_t slot;             /* position in the page allocator's dense index */
    uint32_t used_top;         /* pages below it have been in a span; above it never (mheap.lock) */
    uint32_t guard_pages;      /* pages at the base held back, in use with no span (pageheap.c) */
} gort_heap_arena;

/* The arena index: address >> 26 -> metadata, for any address below 2^48.
 * Entries go NULL -> non-NULL once, under mheap.lock, and never back. */
GORT_HIDDEN extern gort_heap_arena *_Atomic gort__arenas[(size_t)1 << GORT_ARENA_L2_BITS];

/* The span of the page holding a, for an address below 2^48 (the arena
 * index is taken modulo 2^22, so a higher address may alias a real arena's
 * page: the caller must then check that a < span->limit, which no aliased
 * address is). NULL: not a heap page. */
static inline gort_mspan *gort__span_of_unchecked(uintptr_t a) {
    gort_heap_arena *ha = atomic_load_explicit(
        &gort__arenas[(a >> GORT_ARENA_SHIFT) & (((uintptr_t)1 << GORT_ARENA_L2_BITS) - 1)], memory_order_acquire);
    if (GORT_UNLIKELY(ha == NULL)) return NULL;
    return atomic_load_explicit(&ha->spans[(a >> GORT_PAGE_SHIFT) & (GORT_PAGES_PER_ARENA - 1)],
                                memory_order_relaxed);
}

static inline gort_mspan *gort__span_of(uintptr_t a) {
    if (GORT_UNLIKELY(a >> GORT_ADDR_BITS)) return NULL;
    return gort__span_of_unchecked(a);
}

/* Reserves and maps `n` arenas' worth of contiguous address space at the next
 * hint; returns the base or 0 (errno from the OS). mheap.lock held. */
GORT_HIDDEN uintptr_t gort__arena_reserve_locked(size_t narenas);
GORT_HIDDEN gort_heap_arena *gort__arena_register_locked(uintptr_t base, uint32_t slot);

/* ---- the heap (pageheap.c) ---- */
typedef struct gort_mheap {
    pthread_mutex_t lock;
    gort_heap_arena *slots[GORT_MAX_ARENA_SLOTS]; /* dense index -> arena (NULL = hole) */
    uint32_t nslots;          /* slots used, holes included */
    uint32_t narenas;
    gort_slaballoc spanalloc[5]; /* mspan structs by bitmap size: 1, 2, 4, 8, 16 words */
    /* counters, in pages, under lock */
    uint64_t pages_inuse;      /* pages in in-use spans */
    uint64_t pages_total;      /* pages in all arenas */
    uint64_t pages_scav;       /* free pages returned to the OS (incl. never touched) */
} gort_mheap;
GORT_HIDDEN extern gort_mheap gort__heap;

/* Allocates a span of npages (aligned to align_pages, a power of two) for
 * span class spc; NULL with errno = ENOMEM when the OS refuses memory. */
GORT_HIDDEN gort_mspan *gort__heap_alloc_span(size_t npages, size_t align_pages, unsigned spc);
/* The same for a large object that must read as zero (calloc): clears only
 * the pages used before (memset, or MADV_DONTNEED for long runs). */
GORT_HIDDEN gort_mspan *gort__heap_alloc_span_zeroed(size_t npages, size_t align_pages, unsigned spc);
GORT_HIDDEN void gort__heap_free_span(gort_mspan *s);
/* Grows a large span in place to npages if the pages after it are free. */
GORT_HIDDEN bool gort__heap_grow_span(gort_mspan *s, size_t npages);
GORT_HIDDEN size_t gort__heap_release_free_locked(void);
GORT_HIDDEN uint64_t gort__heap_scavenge_locked(uint64_t max_pages);
/* The span structs' empty slabs back to the OS: those empty since the last
 * trim, or all (scavenger.c's periods; gort_release_memory). */
GORT_HIDDEN void gort__heap_trim_slabs_locked(bool all);
GORT_HIDDEN uint64_t gort__heap_scavenge_runs_locked(uint64_t min_run);
GORT_HIDDEN uint64_t gort__scavenge_overage_locked(void);

/* ---- scavenger (scavenger.c) ---- */
/* Starts the background scavenger once (no-op when disabled or running).
 * Only where the caller holds no allocator lock: creating a thread allocates. */
GORT_HIDDEN void gort__scavenger_start(void);
/* The page heap's hooks: before a span allocation takes mheap.lock (no lock
 * held), and after a span free (mheap.lock held). They run the scavenger's
 * periods inline when no thread does, and start the thread when wanted. */
GORT_HIDDEN void gort__scavenge_on_alloc(void);
/* Starts the thread if wanted; only where no lock at all is held. */
GORT_HIDDEN void gort__scavenger_poll(void);
GORT_HIDDEN void gort__scavenge_on_free_locked(void);
/* Aborts with msg if this thread holds mheap.lock, an mcentral lock or the
 * mcache list lock (before anything that may call back into malloc). */
GORT_HIDDEN void gort__assert_no_locks(const char *msg);
GORT_HIDDEN void gort__scavenger_after_fork_child(void);

/* ---- options (options.c): read once from the environment ---- */
typedef struct gort_options {
    bool show_stats;          /* GORT_SHOW_STATS=1: print statistics at exit */
    bool scavenger;           /* GORT_SCAVENGER=0 turns the background scavenger off */
    uint32_t scavenge_ms;     /* GORT_SCAVENGE_MS: scavenger period (default 100) */
    uint32_t scavenge_window; /* GORT_SCAVENGE_WINDOW: periods a page must stay idle (default 10) */
    uint64_t retain_min;      /* GORT_RETAIN_MIN: free bytes always kept (default 1 MiB) */
    bool hugepages;           /* GORT_HUGEPAGES=1: Go 1.19's MADV_HUGEPAGE advice on large spans */
    /* the collector's (gc.c) */
    int32_t gc_percent;       /* GORT_GOGC: a number, or "off" (-1); default 100 */
    int64_t memory_limit;     /* GORT_MEMLIMIT: bytes (B/KiB/MiB/GiB/TiB suffix) or "off"; default INT64_MAX */
    bool gctrace;             /* GORT_GCTRACE=1: one line per cycle on stderr, as GODEBUG=gctrace=1 */
    bool gccheckmark;         /* GORT_GCCHECKMARK=1: re-mark after each cycle, abort on a missed object */
    uint8_t oom;              /* GORT_OOM=abort|null|report (GORT_OOM_*) */
    /* the heap profile's (prof.c) */
    int64_t memprofile_rate;  /* GORT_MEMPROFILERATE: bytes per sample, 0 off; -1 unset (512 KiB when a profile is asked for) */
    const char *memprofile;   /* GORT_MEMPROFILE: write a profile there at exit */
    bool memprofile_signal;   /* GORT_MEMPROFILE_SIGNAL=1: and on each SIGUSR2 */
    const char *heapview;     /* GORT_HEAPVIEW: write the heap's picture (SVG) there at exit */
    uint32_t heapview_every_ms; /* GORT_HEAPVIEW_EVERY: and a numbered snapshot (SVG + stats JSON) this often */
} gort_options;
enum { GORT_OOM_ABORT = 0, GORT_OOM_NULL = 1, GORT_OOM_REPORT = 2 };
GORT_HIDDEN extern gort_options gort__options;
/* Sets o from get(name) for every GORT_* variable; a value that is not
 * accepted is named in one line on errfd and leaves the default. */
GORT_HIDDEN void gort__options_parse(gort_options *o, const char *(*get)(const char *name), int errfd);
GORT_HIDDEN extern bool gort__dropin; /* true in libgort-malloc.so */
GORT_HIDDEN size_t gort__heap_check_locked(void);

/* ---- central lists (central.c) ---- */
typedef struct gort_mcentral {
    pthread_mutex_t lock;
    gort_mspan *partial;      /* uncached spans with free slots */
    gort_mspan *full;         /* uncached full spans, xfree state NOTIFY/NOTIFIED */
    /* objects whose remote free found their span full: the span must move to
     * partial. Pushed lock-free, taken whole under the lock. */
    _Atomic uintptr_t notify;
    _Atomic uint64_t nspans;  /* spans of this class, owned or not (changed under the lock, peeked without) */
} __attribute__((aligned(64))) gort_mcentral;
GORT_HIDDEN extern gort_mcentral gort__central[GORT_NUM_SPANCLASSES];

GORT_HIDDEN gort_mspan *gort__central_cache_span(unsigned spc, struct gort_mcache *mc);
GORT_HIDDEN void gort__central_uncache_span(gort_mspan *s);
/* A free by a thread that does not own s, of slot idx (its xfree bit set by
 * the caller): if nobody owns s and its mcentral's lock is free, frees the
 * slot under the lock and gives s back to the heap when it empties; false
 * (nothing done) otherwise. */
GORT_HIDDEN bool gort__central_free_unowned(gort_mspan *s, uintptr_t idx, void *p);
/* The lock-free free of an object of an unowned span of class spc is done:
 * the class is drained by whoever next finds its lock free. */
GORT_HIDDEN void gort__central_unowned_pushed(unsigned spc);
GORT_HIDDEN void gort__central_drain_all(void);
GORT_HIDDEN size_t gort__central_check_locked(unsigned spc);

/* ---- thread caches (mcache.c) ---- */
typedef struct gort_mcache {
    gort_mspan *alloc[GORT_NUM_SPANCLASSES]; /* current span per class; never NULL */
    /* The other spans this thread owns, per class: with free slots, and full
     * (xfree state NOTIFY: a remote free into one pushes its object on
     * `notify`, and the owner moves the span to partial at its next refill). */
    gort_mspan *partial[GORT_NUM_SPANCLASSES];
    gort_mspan *full[GORT_NUM_SPANCLASSES];
    _Atomic uintptr_t notify;
    /* Local counters, written only by the owning thread with relaxed stores,
     * summed by gort_stats. nmalloc counts slots handed out (at word loads,
     * less what goes back unused); nfree is by span class, so the free fast
     * path indexes it without arithmetic. */
    _Atomic uint64_t nmalloc[GORT_NUM_CLASSES];
    _Atomic uint64_t nfree[GORT_NUM_SPANCLASSES];
    struct gort_mcache *next_all; /* all live mcaches, under mcache_list_lock */
    struct gort_mcache *next_free;
    bool is_empty;            /* the static placeholder of threads without a cache */
    /* The collector's view of the thread (gc.c). gc_lock is held while the
     * thread refills a collected span class, and by the collector from
     * before it stops the world to after it sweeps. */
    bool gc_skip;             /* not stopped or scanned: a marker thread, or gone after fork */
    pthread_t thread;
    pthread_mutex_t gc_lock;
    _Atomic uintptr_t gc_sp;  /* stack pointer where the thread stopped (its handler's frame) */
    uintptr_t gc_stack_hi;    /* top of its stack mapping; 0 until the collector looks it up */
} gort_mcache;
GORT_HIDDEN extern pthread_mutex_t gort__mcache_list_lock;
GORT_HIDDEN extern gort_mcache *gort__all_caches; /* under gort__mcache_list_lock */
/* The calling thread's cache, created if it has none; NULL when out of memory. */
GORT_HIDDEN gort_mcache *gort__mcache_ensure(void);
/* The cache registered for the collector on this thread (set at creation,
 * cleared once the cache is off the list at thread exit). */
extern __thread gort_mcache *gort__tls_gcself __attribute__((tls_model("initial-exec")));

GORT_HIDDEN extern gort_mcache gort__empty_mcache;
GORT_HIDDEN extern gort_mspan gort__empty_span;
extern __thread gort_mcache *gort__tls_mcache __attribute__((tls_model("initial-exec")));

static inline void gort__stat_add(_Atomic uint64_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

GORT_HIDDEN void *gort__mcache_refill(gort_mcache *mc, unsigned spc);
/* A local free left span s full-turned-partial or empty: fix its list. */
GORT_HIDDEN void gort__mcache_free_slow(gort_mcache *mc, gort_mspan *s);
GORT_HIDDEN void gort__mcache_stats(uint64_t *nmalloc, uint64_t *nfree);

/* ---- the collector (gc.c) ----
 * Span classes of the collected kinds, [GORT_NUM_CLASSES, 3 * GORT_NUM_CLASSES):
 * tested with one compare. A thread's collected spans carry its mcache with
 * bit 0 set in `owner`, so gort_free of a collected object never takes the
 * owner fast path and is caught in free's slow path. */
static inline bool gort__spc_is_gc(unsigned spc) { return spc - GORT_NUM_CLASSES < 2u * GORT_NUM_CLASSES; }
static inline struct gort_mcache *gort__owner_tag(struct gort_mcache *mc, unsigned spc) {
    return gort__spc_is_gc(spc) ? (struct gort_mcache *)((uintptr_t)mc | 1) : mc;
}
GORT_HIDDEN void gort__chan_fork_prepare(void);
GORT_HIDDEN void gort__chan_fork_parent(void);
GORT_HIDDEN void gort__chan_fork_child(void);
GORT_HIDDEN void gort__gc_fork_prepare(void);
GORT_HIDDEN void gort__gc_fork_parent(void);
GORT_HIDDEN void gort__gc_fork_child(void);
GORT_HIDDEN __attribute__((noreturn, cold)) void gort__gc_bad_free(const void *p);
/* GORT_OOM=report: a manual allocation of n bytes is about to fail with
 * ENOMEM; prints Go's out-of-memory line first. */
GORT_HIDDEN void gort__oom_report(size_t n);
/* Free bytes the scavenger keeps for the collected heap to grow back into
 * before its next cycle (Go retains 10% over the heap goal); 0 when the
 * collector is unused. Lock-free. */
GORT_HIDDEN uint64_t gort__gc_retain_bytes(void);
/* The collector's statistics after gort_stats_print's (json: as a "gc"
 * member); nothing when the program never used the collector. */
GORT_HIDDEN void gort__gc_stats_print(FILE *out, bool json);

/* ---- the heap profile (prof.c) ----
 * Go's MemProfileRate sampling, folded into the allocation slow paths: when
 * gort__prof_rate is 0 (off) a refill and a large allocation pay one load and
 * a branch, and the malloc and free fast paths nothing. The profile's lock
 * comes after mheap.lock and before persistent_lock in the lock order and is
 * never held across anything that allocates. */
GORT_HIDDEN extern _Atomic size_t gort__prof_rate;
/* gort__prof_on: set when sampling is first turned on, and never cleared
 * (samples may outlive the rate going back to 0). */
GORT_HIDDEN extern _Atomic bool gort__prof_on;
/* The end of a refill when gort__prof_on (a tail jump): the word just loaded
 * may bring back the slots of sampled objects, which were freed; hands out
 * the lowest slot of s->alloc_cache, samples it when the thread's byte count
 * reaches its next sample, and shortens alloc_cache so that the allocation
 * that reaches the following sample comes back through refill. */
GORT_HIDDEN void *gort__prof_take(gort_mcache *mc, gort_mspan *s);
/* A large object was allocated (profiling on). */
GORT_HIDDEN void gort__prof_large(gort_mspan *s, void *const *frame);
/* s, which has samples, goes back to the page heap: its samples are freed. */
GORT_HIDDEN void gort__prof_span_freed(gort_mspan *s);
GORT_HIDDEN void gort__prof_fork_lock(int how); /* 0: lock, else unlock (fork) */
GORT_HIDDEN void gort__prof_init(void);         /* from options.c's constructor */
/* Set by an API entry point that reaches the slow path by a call rather than
 * a tail jump (realloc, posix_memalign): its own frame record, so that the
 * profile's stack starts at its caller. NULL otherwise. */
extern __thread void *const *gort__prof_frame __attribute__((tls_model("initial-exec")));
#define GORT_PROF_ENTER()                                       \
    void *const *gort_prof_outer_ = gort__prof_frame;           \
    if (!gort_prof_outer_) gort__prof_frame = __builtin_frame_address(0)
#define GORT_PROF_LEAVE() (gort__prof_frame = gort_prof_outer_)

/* ---- malloc.c ---- */
typedef struct gort_large_stats {
    _Atomic uint64_t allocs, frees, bytes; /* large objects, and their live bytes */
    _Atomic uint64_t nocache_frees[GORT_NUM_CLASSES]; /* frees by threads without a cache */
} gort_large_stats;
GORT_HIDDEN extern gort_large_stats gort__large;

#endif
