/*
 * gort/gc.h: collected allocation (Go's new, its garbage collector and
 * runtime/debug's knobs). Include <gort.h> rather than this file.
 *
 * Collected objects live in the same heap as gort_malloc's, in spans of their
 * own, and are never freed by the program: a stop-the-world mark-sweep
 * collector (Go's, with parallel marking) frees the ones it cannot reach.
 *
 * What the collector reaches (the roots), conservatively: any word that
 * holds the address of a collected object, at its start or inside it, keeps
 * the object alive when it is found in
 *   - the stack and saved registers of every thread that has called into
 *     gort (a thread that holds collected pointers before its first call
 *     must call gort_gc_register_thread());
 *   - the writable data of the executable and of every loaded shared
 *     library, and the _Thread_local variables of those threads;
 *   - a block from gort_malloc_scanned, and a range given to
 *     gort_gc_add_roots;
 *   - a collected object that is itself reachable: precisely, only the words
 *     its gort_type names (gort_new), or every word (gort_gc_alloc).
 *
 * The rule for C programs: plain gort_malloc / malloc memory is NOT scanned.
 * A collected object whose only reference sits in such a block will be
 * freed. Keep such references in gort_malloc_scanned blocks (or in added
 * root ranges). Do not hide pointers (XOR, tagging above bit 47, storing
 * them in a file): the collector must see the address, or an address inside
 * the object, in an aligned 8-byte word.
 *
 *     typedef struct Node { struct Node *left, *right; long value; } Node;
 *     GORT_TYPE(Node, left, right);           // words 0 and 1 are pointers
 *
 *     Node *n = gort_new(Node);               // zeroed; never freed by hand
 *     n->left = gort_new(Node);
 *     Node *arr = gort_new_array(Node, 100);
 *     gort_gc();                              // a full collection
 *
 * The collector stops threads with a signal (SIGPWR): see docs/design.md for
 * how it coexists with the program's own handlers and blocking calls.
 */
#ifndef GORT_GC_H
#define GORT_GC_H

#include <stddef.h>
#include <stdint.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- type descriptors ----
 * One bit per 8-byte word of the type: 1 = the word holds a pointer the
 * collector follows. `ptrmask` has (size / 8 + 63) / 64 words; ptrwords is
 * the number of leading words that may hold pointers (0: a pointer-free type,
 * allocated noscan). Build one with GORT_TYPE, or by hand. */
typedef struct gort_type {
    size_t size;             /* sizeof the type, a multiple of its alignment */
    size_t align;            /* _Alignof the type (at most 16) */
    size_t ptrwords;         /* words up to and including the last pointer word */
    const uint64_t *ptrmask; /* bit i of word i/64: word i holds a pointer */
    const char *name;        /* for messages */
} gort_type;

/* GORT_TYPE(T, field...): defines `gort_type_T`, the descriptor of typedef T
 * whose pointers are the named fields (up to 16 names; a named field may be
 * an array of pointers: all its words are marked). Checked at compile time:
 * each field is 8-byte aligned and a whole number of words, and T fits the
 * mask (at most 2048 bytes; larger types use a hand-built descriptor).
 * GORT_TYPE_NOPTR(T): a pointer-free T (allocated noscan).
 * Use at file scope; `static` descriptors, one per translation unit. */
#define GORT_TYPE(T, ...)                                                                                        \
    GORT__FOREACH(GORT__CHECK_FIELD, T, __VA_ARGS__)                                                             \
    _Static_assert(sizeof(T) <= 64 * 8 * GORT__MASK_WORDS, "GORT_TYPE: type larger than 2048 bytes");            \
    static const uint64_t gort__mask_##T[GORT__MASK_WORDS] = {                                                   \
        0 GORT__FOREACH(GORT__FIELD_BITS0, T, __VA_ARGS__), 0 GORT__FOREACH(GORT__FIELD_BITS1, T, __VA_ARGS__),  \
        0 GORT__FOREACH(GORT__FIELD_BITS2, T, __VA_ARGS__), 0 GORT__FOREACH(GORT__FIELD_BITS3, T, __VA_ARGS__)}; \
    static const gort_type gort_type_##T __attribute__((unused)) = {                                             \
        sizeof(T), _Alignof(T), GORT__MAXL(0 GORT__FOREACH(GORT__FIELD_END, T, __VA_ARGS__)), gort__mask_##T, #T}
#define GORT_TYPE_NOPTR(T) \
    static const gort_type gort_type_##T __attribute__((unused)) = {sizeof(T), _Alignof(T), 0, NULL, #T}

/* gort_new(T): one zeroed T; gort_new_array(T, n): n zeroed T's. */
#define gort_new(T) ((T *)gort_new_typed(&gort_type_##T, 1))
#define gort_new_array(T, n) ((T *)gort_new_typed(&gort_type_##T, (n)))

/* ---- allocation ----
 * All return memory 16-byte aligned (8 for sizes below 16) that the collector
 * frees once unreachable; gort_free of it is a fatal error. On out of memory
 * (even after a full collection) they print
 *   gort: out of memory: cannot allocate N-byte block (M in use)
 *   gort: fatal error: out of memory
 * and abort, as Go does; with GORT_OOM=null in the environment they return
 * NULL with errno = ENOMEM instead. A size that overflows counts as out of
 * memory. */

/* count zeroed elements of t, scanned precisely (only the words t names). */
GORT_API GORT_MALLOC_ATTR void *gort_new_typed(const gort_type *t, size_t count);
/* n zeroed bytes; every word is scanned conservatively. */
GORT_API GORT_MALLOC_ATTR void *gort_gc_alloc(size_t n);
/* n bytes never scanned (strings, numbers, pixels). NOT zeroed: the
 * contents are unspecified, as malloc's. */
GORT_API GORT_MALLOC_ATTR void *gort_gc_alloc_noscan(size_t n);
/* A manual block (free it with gort_free; gort_realloc keeps it scanned)
 * whose words are roots: the way to keep collected objects alive from data
 * structures the program manages itself. Not zeroed (as malloc). */
GORT_API GORT_MALLOC_ATTR void *gort_malloc_scanned(size_t n);

/* ---- the collector ---- */
/* A full collection; returns after marking and sweeping (Go's runtime.GC).
 * Finalizers found unreachable are queued and run on the finalizer thread. */
GORT_API void gort_gc(void);
/* Go's debug.SetGCPercent: the heap may grow to live * (1 + percent/100)
 * before the next collection; a negative value turns the pacer off (only
 * gort_gc and the memory limit then collect). Returns the previous value.
 * Environment: GORT_GOGC=100 (a number or "off"). */
GORT_API int gort_set_gc_percent(int percent);
/* Go's debug.SetMemoryLimit: a soft limit on the bytes gort has mapped
 * (manual and collected objects, free pages kept, metadata); collections
 * come sooner and free pages go back to the OS to stay under it. A negative
 * value only reads the limit. Returns the previous value (INT64_MAX: none).
 * Environment: GORT_MEMLIMIT=bytes with a B, KiB, MiB, GiB or TiB suffix. */
GORT_API int64_t gort_set_memory_limit(int64_t limit);
/* Registers the calling thread (its stack, registers and thread-locals
 * become roots). Every thread is registered at its first call into gort; a
 * thread that holds collected pointers before that must call this first. */
GORT_API void gort_gc_register_thread(void);
/* [start, start+len) becomes a root range (scanned conservatively, every
 * aligned word) until gort_gc_remove_roots(start). */
GORT_API void gort_gc_add_roots(void *start, size_t len);
GORT_API void gort_gc_remove_roots(void *start);

/* ---- finalizers and weak references ---- */
/* Go's runtime.SetFinalizer: when obj (the start of a collected object)
 * becomes unreachable, fn(obj, arg) runs once on the finalizer thread, and
 * obj is freed by a later collection if it is still unreachable then. What
 * obj points to, and arg, are kept alive while the finalizer is set. A
 * second finalizer on the same object is a fatal error; fn == NULL removes
 * the finalizer. Finalizers run one at a time, in no set order. */
GORT_API void gort_set_finalizer(void *obj, void (*fn)(void *obj, void *arg), void *arg);

/* Go 1.24's weak.Pointer: gort_weak_get returns obj while it is reachable,
 * and NULL from the collection that finds it unreachable on (before its
 * finalizer, if any, runs). The handle is itself collected. */
typedef struct gort_weak gort_weak;
GORT_API gort_weak *gort_weak_make(void *obj);
GORT_API void *gort_weak_get(gort_weak *w);

/* ---- statistics ---- */
typedef struct gort_gc_stats {
    uint64_t num_gc;            /* NumGC: completed cycles */
    uint64_t pause_total_ns;    /* PauseTotalNs */
    uint64_t pause_max_ns;      /* the longest stop-the-world pause */
    uint64_t pause_ns[256];     /* PauseNs: recent pauses, the latest at (num_gc + 255) % 256 */
    uint64_t pause_end_ns[256]; /* PauseEnd: their end times, ns since the epoch */
    uint64_t heap_live;         /* bytes of collected objects allocated (HeapAlloc of the collected heap) */
    uint64_t heap_marked;       /* bytes marked live by the last cycle */
    uint64_t heap_goal;         /* NextGC: the heap size that triggers the next cycle */
    uint64_t last_gc_ns;        /* LastGC: end of the last cycle, ns since the epoch */
    double gc_cpu_fraction;     /* GCCPUFraction: share of the CPU time since start used by the collector */
    uint64_t num_forced_gc;     /* NumForcedGC: cycles started by gort_gc */
    uint64_t objects_freed;     /* collected objects freed by sweeping, all cycles */
    uint64_t bytes_freed;       /* their bytes */
    uint64_t finalizers_run;    /* finalizers that have returned */
    int64_t gc_percent;         /* the current GOGC (-1: off) */
    int64_t memory_limit;       /* the current soft limit (INT64_MAX: none) */
    /* 1: the last cycle marked concurrently with the program, with the
     * kernel's record of written pages as its write barrier (Linux 6.7+;
     * GORT_GCBARRIER=auto does so once a cycle marks 128 MiB, uffd always);
     * 0: the world stopped for its whole mark (GORT_GCBARRIER=none, a kernel
     * that cannot, a small heap under auto, or no cycle yet). */
    int64_t concurrent;
    /* The GC CPU limiter (Go 1.19's): when the collector's CPU time over
     * about a second per core passes half of all CPU time (a memory limit
     * below what the program keeps live would have cycles run back to back),
     * the next cycle waits and assists stop, and the heap grows past the
     * limit instead. The cycle (num_gc then) in which it last did; 0: never
     * (Go's /gc/limiter/last-enabled:gc-cycle). */
    uint64_t limiter_last_enabled;
} gort_gc_stats_t;
/* Fills *st. The struct grows as gort_stats_t does (gort/stats.h): fields are
 * only added at its end; gort_gc_stats(st) is a macro passing sizeof *st to
 * gort_gc_stats_sized, which fills what the caller's struct holds and zeroes
 * bytes past the fields it knows; the function gort_gc_stats fills the
 * struct as gort 0.1.0 defined it. */
GORT_API void gort_gc_stats(gort_gc_stats_t *st);
GORT_API void gort_gc_stats_sized(gort_gc_stats_t *st, size_t size);
#define gort_gc_stats(st) gort_gc_stats_sized((st), sizeof *(st))

/* ---- GORT_TYPE's machinery ---- */
#define GORT__MASK_WORDS 4
#define GORT__W(T, f) (offsetof(T, f) / 8)                          /* first word of f */
#define GORT__WE(T, f) ((offsetof(T, f) + sizeof(((T *)0)->f)) / 8) /* one past its last */
/* bits of words [a, b) that fall in mask word k */
#define GORT__LO(a, k) ((a) <= 64u * (k) ? 0u : (a)-64u * (k))
#define GORT__HI(b, k) ((b) >= 64u * (k) + 64u ? 64u : (b)-64u * (k))
#define GORT__RANGE(a, b, k)                      \
    (((b) <= 64u * (k) || (a) >= 64u * (k) + 64u) \
         ? 0ull                                   \
         : (~0ull >> ((64u - (GORT__HI(b, k) - GORT__LO(a, k))) & 63u)) << (GORT__LO(a, k) & 63u))
#define GORT__FIELD_BITS0(T, f) | GORT__RANGE(GORT__W(T, f), GORT__WE(T, f), 0)
#define GORT__FIELD_BITS1(T, f) | GORT__RANGE(GORT__W(T, f), GORT__WE(T, f), 1)
#define GORT__FIELD_BITS2(T, f) | GORT__RANGE(GORT__W(T, f), GORT__WE(T, f), 2)
#define GORT__FIELD_BITS3(T, f) | GORT__RANGE(GORT__W(T, f), GORT__WE(T, f), 3)
/* ptrwords: the largest end word of the named fields */
#define GORT__FIELD_END(T, f) , GORT__WE(T, f)
#define GORT__MX(a, b) ((a) > (b) ? (a) : (b))
#define GORT__MAXL(...) GORT__MAX17(__VA_ARGS__, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
#define GORT__MAX17(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, ...) \
    GORT__MX(                                                               \
        a,                                                                  \
        GORT__MX(                                                           \
            b,                                                              \
            GORT__MX(                                                       \
                c,                                                          \
                GORT__MX(                                                   \
                    d,                                                      \
                    GORT__MX(                                               \
                        e,                                                  \
                        GORT__MX(                                           \
                            f,                                              \
                            GORT__MX(                                       \
                                g,                                          \
                                GORT__MX(                                   \
                                    h,                                      \
                                    GORT__MX(                               \
                                        i,                                  \
                                        GORT__MX(                           \
                                            j,                              \
                                            GORT__MX(                       \
                                                k,                          \
                                                GORT__MX(                   \
                                                    l,                      \
                                                    GORT__MX(m, GORT__MX(n, GORT__MX(o, GORT__MX(p, q))))))))))))))))
#define GORT__CHECK_FIELD(T, f)                                                                              \
    _Static_assert(offsetof(T, f) % 8 == 0, "GORT_TYPE: pointer field " #f " of " #T " not 8-byte aligned"); \
    _Static_assert(sizeof(((T *)0)->f) % 8 == 0 && sizeof(((T *)0)->f) > 0,                                  \
                   "GORT_TYPE: field " #f " of " #T " is not a whole number of 8-byte words");

#define GORT__FOREACH(M, T, ...) \
    GORT__FE_N(__VA_ARGS__, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)(M, T, __VA_ARGS__)
#define GORT__FE_N(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, N, ...) GORT__FE_##N
#define GORT__FE_1(M, T, a) M(T, a)
#define GORT__FE_2(M, T, a, ...) M(T, a) GORT__FE_1(M, T, __VA_ARGS__)
#define GORT__FE_3(M, T, a, ...) M(T, a) GORT__FE_2(M, T, __VA_ARGS__)
#define GORT__FE_4(M, T, a, ...) M(T, a) GORT__FE_3(M, T, __VA_ARGS__)
#define GORT__FE_5(M, T, a, ...) M(T, a) GORT__FE_4(M, T, __VA_ARGS__)
#define GORT__FE_6(M, T, a, ...) M(T, a) GORT__FE_5(M, T, __VA_ARGS__)
#define GORT__FE_7(M, T, a, ...) M(T, a) GORT__FE_6(M, T, __VA_ARGS__)
#define GORT__FE_8(M, T, a, ...) M(T, a) GORT__FE_7(M, T, __VA_ARGS__)
#define GORT__FE_9(M, T, a, ...) M(T, a) GORT__FE_8(M, T, __VA_ARGS__)
#define GORT__FE_10(M, T, a, ...) M(T, a) GORT__FE_9(M, T, __VA_ARGS__)
#define GORT__FE_11(M, T, a, ...) M(T, a) GORT__FE_10(M, T, __VA_ARGS__)
#define GORT__FE_12(M, T, a, ...) M(T, a) GORT__FE_11(M, T, __VA_ARGS__)
#define GORT__FE_13(M, T, a, ...) M(T, a) GORT__FE_12(M, T, __VA_ARGS__)
#define GORT__FE_14(M, T, a, ...) M(T, a) GORT__FE_13(M, T, __VA_ARGS__)
#define GORT__FE_15(M, T, a, ...) M(T, a) GORT__FE_14(M, T, __VA_ARGS__)
#define GORT__FE_16(M, T, a, ...) M(T, a) GORT__FE_15(M, T, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
