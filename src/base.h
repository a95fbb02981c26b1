/*
 * base.h: what every layer of gort uses: attributes, assertions, the lock
 * wrappers (lock.h), the heap's geometry, size and span classes, fatal
 * errors (debug.c) and the options read from the environment (options.c).
 * The layers' headers include one another from the bottom up, each the one
 * below it: base.h, os.h, arena.h, span.h, pageheap.h, scavenger.h,
 * central.h, mcache.h, collector.h, prof.h; internal.h includes them all.
 */
#ifndef GORT_BASE_H
#define GORT_BASE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gort.h"
#include "sizeclasses.h"

/* Sanitizer builds (gcc defines __SANITIZE_*__, clang has __has_feature):
 * GORT_TSAN and GORT_ASAN are 1 in them, for the places that must differ
 * (arena placement, the arena index's check, futex waits, safe points). */
#if defined(__SANITIZE_THREAD__)
#define GORT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORT_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define GORT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORT_ASAN 1
#endif
#endif

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
#define GORT_PAGE_SIZE ((size_t)1 << GORT_PAGE_SHIFT) /* 8 KiB */
#define GORT_ARENA_SHIFT 26
#define GORT_ARENA_BYTES ((size_t)1 << GORT_ARENA_SHIFT)                /* 64 MiB */
#define GORT_PAGES_PER_ARENA (GORT_ARENA_BYTES / GORT_PAGE_SIZE)        /* 8192 */
#define GORT_WINDOW_BITS 43                                             /* the arenas' 8 TiB window (arena.h) */
#define GORT_ARENA_L2_BITS (GORT_WINDOW_BITS - GORT_ARENA_SHIFT)        /* 17 */
#define GORT_CHUNK_PAGES 512                                            /* pallocChunkPages: 4 MiB */
#define GORT_CHUNKS_PER_ARENA (GORT_PAGES_PER_ARENA / GORT_CHUNK_PAGES) /* 16 */
#define GORT_CHUNK_WORDS (GORT_CHUNK_PAGES / 64)
#define GORT_MAX_ARENA_SLOTS ((size_t)1 << 16) /* 4 TiB of heap */
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

/* Span classes of the collected kinds, [GORT_NUM_CLASSES, 3 * GORT_NUM_CLASSES):
 * tested with one compare. A thread's collected spans carry its mcache with
 * bit 0 set in `owner`, so gort_free of a collected object never takes the
 * owner fast path and is caught in free's slow path (gc.c). */
struct gort_mcache;
static inline bool gort__spc_is_gc(unsigned spc) { return spc - GORT_NUM_CLASSES < 2u * GORT_NUM_CLASSES; }
static inline struct gort_mcache *gort__owner_tag(struct gort_mcache *mc, unsigned spc) {
    return gort__spc_is_gc(spc) ? (struct gort_mcache *)((uintptr_t)mc | 1) : mc;
}

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

/* ---- options (options.c): read once from the environment ---- */
typedef struct gort_options {
    bool show_stats;          /* GORT_SHOW_STATS=1: print statistics at exit */
    bool scavenger;           /* GORT_SCAVENGER=0 turns the background scavenger off */
    uint32_t scavenge_ms;     /* GORT_SCAVENGE_MS: scavenger period (default 100) */
    uint32_t scavenge_window; /* GORT_SCAVENGE_WINDOW: periods a page must stay idle (default 10) */
    uint64_t retain_min;      /* GORT_RETAIN_MIN: free bytes always kept (default 1 MiB) */
    bool hugepages;           /* GORT_HUGEPAGES=1: Go 1.19's MADV_HUGEPAGE advice on large spans */
    /* the collector's (gc.c) */
    int32_t gc_percent;   /* GORT_GOGC: a number, or "off" (-1); default 100 */
    int64_t memory_limit; /* GORT_MEMLIMIT: bytes (B/KiB/MiB/GiB/TiB suffix) or "off"; default INT64_MAX */
    bool gctrace;         /* GORT_GCTRACE=1: one line per cycle on stderr, as GODEBUG=gctrace=1 */
    bool gccheckmark;     /* GORT_GCCHECKMARK=1: re-mark after each cycle, abort on a missed object */
    uint8_t oom;          /* GORT_OOM=abort|null|report (GORT_OOM_*) */
    uint8_t gcbarrier;    /* GORT_GCBARRIER=auto|uffd|none (GORT_BARRIER_*): how the collector marks */
    uint32_t gctrackfail; /* GORT_GCTRACKFAIL=n: the nth walk of written pages fails (tests the fallback) */
    /* the heap profile's (prof.c) */
    int64_t
        memprofile_rate; /* GORT_MEMPROFILERATE: bytes per sample, 0 off; -1 unset (512 KiB when a profile is asked for) */
    const char *memprofile;     /* GORT_MEMPROFILE: write a profile there at exit */
    bool memprofile_signal;     /* GORT_MEMPROFILE_SIGNAL=1: and on each SIGUSR2 */
    const char *heapview;       /* GORT_HEAPVIEW: write the heap's picture (SVG) there at exit */
    uint32_t heapview_every_ms; /* GORT_HEAPVIEW_EVERY: and a numbered snapshot (SVG + stats JSON) this often */
} gort_options;
enum { GORT_OOM_ABORT = 0, GORT_OOM_NULL = 1, GORT_OOM_REPORT = 2 };
/* auto: concurrent marking once a cycle marked 128 MiB, where the kernel
 * tracks writes (wtrack.c), else stop-the-world; uffd: every cycle
 * concurrent (a warning where the kernel cannot); none: stop-the-world. */
enum { GORT_BARRIER_AUTO = 0, GORT_BARRIER_UFFD = 1, GORT_BARRIER_NONE = 2 };
GORT_HIDDEN extern gort_options gort__options;
/* Sets o from get(name) for every GORT_* variable; a value that is not
 * accepted is named in one line on errfd and leaves the default. */
GORT_HIDDEN void gort__options_parse(gort_options *o, const char *(*get)(const char *name), int errfd);
GORT_HIDDEN extern bool gort__dropin; /* true in libgort-malloc.so */

#endif
