/*
 * malloc.c: the allocation API (Go's malloc.go). Start here.
 *
 * The heap, bottom up (each layer calls only the layers below it):
 *
 *   os_linux.c   OS memory: reserve / map / used / unused / free ranges
 *   arena.c      64 MiB arenas at Go's hint addresses; the arena index
 *                (address -> gort_heap_arena: page -> span map, bitmaps);
 *                persistentalloc and fixalloc for off-heap metadata
 *   pageheap.c   8 KiB pages: chunk bitmaps + radix tree of free-run
 *                summaries; spans of pages; large objects
 *   sizeclasses.h  66 size classes (tools/mksizeclasses.py, Go's rules)
 *   central.c    per span class: partial and full span lists
 *   mcache.c     per thread: one current span per span class
 *   malloc.c     gort_malloc and friends (this file); preload.c the drop-in
 *
 * A span is a run of pages holding objects of one size class, or one large
 * object. Its out-of-line alloc_bits (1 = allocated) say which slots are
 * live; a collected span keeps its mark bits beside them. Its owner thread takes free slots a
 * 64-slot word at a time into alloc_cache (1 = free), as Go's allocCache.
 *
 * malloc(n):
 *   1. n <= 32 KiB: class = gort__size_to_class(n); a manual object's span class
 *      is its size class (base.h).
 *   2. The thread's mcache -> current span -> alloc_cache: take the lowest
 *      set bit; the object is cache_base + bit * elemsize. No lock, no
 *      atomic read-modify-write.
 *   3. alloc_cache empty: refill (mcache.c): take the span's remote frees,
 *      load its next word with free slots; span full: give it to its
 *      mcentral and take a partial span from there, else a new span from the
 *      page heap, which grows by arenas from the OS when it has no run.
 *   4. n > 32 KiB: a span of whole pages straight from the page heap.
 *
 * free(p):
 *   1. arena index -> heap arena -> page's span (NULL: not gort's: fatal).
 *   2. object index = (p - base) * divmagic >> 32; p must be the object's
 *      start (else fatal: interior pointer).
 *   3. span owned by this thread: clear the bit (the slot comes back when its
 *      word is next loaded); a bit already clear, or the slot waiting in
 *      alloc_cache, is a double free: fatal.
 *   4. otherwise set p's bit in the span's xfree_bits (atomic OR; already set:
 *      a double free, fatal) and push p on the span's atomic xfree list (one
 *      CAS); the owner, or the mcentral for an unowned span, takes the list
 *      later (central.c explains the protocol). Large objects go back to the
 *      page heap under its lock.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

gort_large_stats gort__large;

static inline void *malloc_small(size_t cls) {
    size_t spc = cls; /* = gort__spc_make(cls, GORT_KIND_MANUAL) */
    gort_mcache *mc = gort__tls_mcache;
    gort_mspan *s = mc->alloc[spc];
    uint64_t c = s->alloc_cache;
    if (GORT_UNLIKELY(c == 0)) return gort__mcache_refill(mc, (unsigned)spc);
    return gort__span_take(s, c);
}

static GORT_NOINLINE void *malloc_large_z(size_t n, size_t align_pages, bool zero) {
    if (n > PTRDIFF_MAX) {
        gort__oom_report(n);
        errno = ENOMEM;
        return NULL;
    }
    size_t npages = (n + GORT_PAGE_SIZE - 1) >> GORT_PAGE_SHIFT;
    if (npages == 0) npages = 1;
    gort__scavenger_poll();
    gort_mspan *s = (zero ? gort__heap_alloc_span_zeroed : gort__heap_alloc_span)(npages, align_pages,
                                                                                  gort__spc_make(0, GORT_KIND_MANUAL));
    if (!s) {
        gort__oom_report(n);
        errno = ENOMEM;
        return NULL;
    }
    atomic_fetch_add_explicit(&gort__large.allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&gort__large.bytes, s->elemsize, memory_order_relaxed);
    /* the heap profile (prof.c); reached by tail jumps, as the refill */
    if (GORT_UNLIKELY(atomic_load_explicit(&gort__prof_rate, memory_order_relaxed)))
        gort__prof_large(s, __builtin_frame_address(0));
    return (void *)s->base;
}

static void *malloc_large(size_t n, size_t align_pages) { return malloc_large_z(n, align_pages, false); }

void *gort_malloc(size_t n) {
    if (GORT_LIKELY(n <= GORT_MAX_SMALL_SIZE)) return malloc_small(gort__size_to_class(n));
    return malloc_large(n, 1);
}

/* ---- free ---- */

static GORT_NOINLINE __attribute__((noreturn)) void bad_pointer(const char *what, const void *p) {
    uintptr_t a = (uintptr_t)p;
    if (gort__in_window(a) && gort__arena_of(a)) {
        gort_mspan *s = gort__span_of(a);
        if (!s)
            gort__fatal_addr(what[0] == 'f' ? "double free or free of unallocated heap memory"
                                            : "pointer into unallocated heap memory",
                             p);
        gort__fatal_addr(what[0] == 'f' ? "free of interior pointer" : "interior pointer passed to gort_usable_size",
                         p);
    }
    gort__fatal_addr(what[0] == 'f' ? "free of pointer not allocated by gort" : "pointer not allocated by gort", p);
}

/* The span of object p, checking that p is an object's start: p must be
 * below the span's limit (the end of its last object; this also rejects
 * addresses above the arenas' window that alias a heap page in the arena
 * index), and with
 * prod = (p - base) * divmagic, the index is prod >> 32 and the low half is
 * below divmagic exactly when p is at an object's start (checked for every
 * offset of every class by tools/mksizeclasses.py; a large span's divmagic is
 * 1, so only offset 0 passes). */
static inline gort_mspan *object_span(const void *p, uintptr_t *idxp, const char *what) {
    uintptr_t a = (uintptr_t)p;
    gort_mspan *s = gort__span_of_unchecked(a);
    if (GORT_UNLIKELY(!s)) bad_pointer(what, p);
    uint64_t prod = (uint64_t)(a - s->base) * s->divmagic;
    uintptr_t idx = (uintptr_t)(prod >> 32);
    /* idx < nelems: a large object's divmagic is 1, so the low-half test
     * alone passes an offset that is a multiple of 4 GiB */
    if (GORT_UNLIKELY((uint32_t)prod >= s->divmagic || a >= s->limit || idx >= s->nelems)) bad_pointer(what, p);
    *idxp = idx;
    return s;
}

static GORT_NOINLINE void free_remote(gort_mcache *mc, gort_mspan *s, void *p) {
    unsigned spc = s->spanclass, cls = gort__spc_class(spc);
    if (GORT_UNLIKELY(gort__spc_is_gc(spc))) gort__gc_bad_free(p);
    if (cls == 0) {
        /* A large object's divmagic is 1: the fast path's low-half test
         * passes an offset that is a multiple of 4 GiB. */
        if (GORT_UNLIKELY((uintptr_t)p != s->base)) bad_pointer("free", p);
        atomic_fetch_add_explicit(&gort__large.frees, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&gort__large.bytes, s->elemsize, memory_order_relaxed);
        gort__heap_free_span(s);
        gort__scavenger_poll();
        return;
    }
    uintptr_t idx = gort__span_obj_index(s, (uintptr_t)p);
    uint64_t bit = (uint64_t)1 << (idx & 63);
    if (GORT_UNLIKELY(atomic_fetch_or_explicit(&s->words[idx >> 6].xfree, bit, memory_order_relaxed) & bit))
        gort__fatal_addr("double free", p);
    if (mc->is_empty) atomic_fetch_add_explicit(&gort__large.nocache_frees[cls], 1, memory_order_relaxed);
    else gort__stat_add(&mc->nfree[spc], 1);
    /* A span nobody owns: freed under its mcentral's lock (central.c). */
    bool unowned = !atomic_load_explicit(&s->owner, memory_order_relaxed);
    if (GORT_UNLIKELY(unowned) && gort__central_free_unowned(s, idx, p)) return;
    uintptr_t old = atomic_load_explicit(&s->xfree, memory_order_relaxed);
    for (;;) {
        if ((old & GORT_XF_MASK) == GORT_XF_NOTIFY) {
            uintptr_t nw = (old & ~(uintptr_t)GORT_XF_MASK) | GORT_XF_NOTIFIED;
            if (atomic_compare_exchange_weak_explicit(&s->xfree, &old, nw, memory_order_acq_rel,
                                                      memory_order_relaxed)) {
                /* The span is full on its owner's list, or on the mcentral's:
                 * neither lets go of it before this notice arrives. */
                gort_mcache *owner = atomic_load_explicit(&s->owner, memory_order_acquire);
                gort__stack_push(owner ? &owner->notify : &gort__central[spc].notify, p);
                if (GORT_UNLIKELY(unowned)) gort__central_unowned_pushed(spc);
                return;
            }
        } else {
            *(uintptr_t *)p = old & ~(uintptr_t)GORT_XF_MASK;
            if (atomic_compare_exchange_weak_explicit(&s->xfree, &old, (uintptr_t)p | (old & GORT_XF_MASK),
                                                      memory_order_release, memory_order_relaxed)) {
                if (GORT_UNLIKELY(unowned)) gort__central_unowned_pushed(spc);
                return;
            }
        }
    }
}

/* Out of line and not noreturn, so that the fast path reaches them by a
 * tail jump and needs no stack frame. */
static GORT_NOINLINE GORT_NOIPA __attribute__((cold)) void free_bad(void *p) { bad_pointer("free", p); }
static GORT_NOINLINE GORT_NOIPA __attribute__((cold)) void free_double(void *p) { gort__fatal_addr("double free", p); }

void gort_free(void *p) {
    if (!p) return;
    uintptr_t a = (uintptr_t)p;
    gort_mspan *s = gort__span_of_unchecked(a);
    if (GORT_UNLIKELY(!s)) return free_bad(p);
    uint64_t prod = (uint64_t)(a - s->base) * s->divmagic; /* as in object_span */
    uintptr_t idx = (uintptr_t)(prod >> 32);
    if (GORT_UNLIKELY((uint32_t)prod >= s->divmagic || a >= s->limit)) return free_bad(p);
    gort_mcache *mc = gort__tls_mcache;
    if (GORT_LIKELY(atomic_load_explicit(&s->owner, memory_order_relaxed) == mc)) {
        gort__stat_add(&mc->nfree[s->spanclass], 1);
        /* The slot must be allocated, and not freed by another thread already
         * (waiting on xfree): one test of the word pair. */
        uintptr_t wo = (idx >> 6) * sizeof(struct gort_span_word);
        __asm__(""
                : "+r"(wo)); /* one address for both words (gcc otherwise computes two, or
                                   adds the header's offset before scaling) */
        struct gort_span_word *sw = (struct gort_span_word *)((char *)s->words + wo);
        uint64_t bit = (uint64_t)1 << (idx & 63), ab = sw->alloc;
        if (GORT_UNLIKELY(!(ab & ~atomic_load_explicit(&sw->xfree, memory_order_relaxed) & bit))) return free_double(p);
        sw->alloc = ab & ~bit;
        /* Was full (count now nelems - 1) or is empty (0): the span may change
         * lists. One compare: count - 1 wraps to 0xffff at 0 (nelems >= 2). */
        unsigned c = --s->alloc_count;
        if (GORT_UNLIKELY((uint16_t)(c - 1u) >= s->nelems_m2) && s->list != GORT_LIST_CACHED)
            return gort__mcache_free_slow(mc, s);
        return;
    }
    free_remote(mc, s, p);
}

size_t gort_usable_size(const void *p) {
    if (!p) return 0;
    uintptr_t idx;
    gort_mspan *s = object_span(p, &idx, "usable_size");
    return s->elemsize;
}

/* ---- calloc, realloc, aligned ---- */

/* calloc's refill: the heap profile's stack starts at this frame (the
 * refill is called, not jumped to). */
static GORT_NOINLINE void *calloc_refill(gort_mcache *mc, unsigned cls, size_t n) {
    GORT_PROF_ENTER();
    void *p = gort__mcache_refill(mc, cls);
    GORT_PROF_LEAVE();
    if (p) memset(p, 0, n);
    return p;
}

void *gort_calloc(size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (GORT_LIKELY(total <= GORT_MAX_SMALL_SIZE)) {
        size_t cls = gort__size_to_class(total);
        gort_mcache *mc = gort__tls_mcache;
        gort_mspan *s = mc->alloc[cls];
        uint64_t c = s->alloc_cache;
        if (GORT_UNLIKELY(c == 0)) return calloc_refill(mc, (unsigned)cls, total); /* a tail jump */
        void *p = gort__span_take(s, c);
        memset(p, 0, total);
        return p;
    }
    /* only the pages used before are cleared (pageheap.c) */
    return malloc_large_z(total, 1, true);
}

/* realloc that moves the block while profiling: out of line and reached by
 * a tail jump, so that the heap profile's stacks start at realloc's caller
 * (its frame record is the program's, GORT_PROF_ENTER). */
static GORT_NOINLINE void *realloc_move_profiled(void *p, size_t n, gort_mspan *s) {
    size_t have = s->elemsize;
    GORT_PROF_ENTER();
    /* a gort_malloc_scanned block stays scanned */
    void *q = gort__spc_kind(s->spanclass) == GORT_KIND_MANUAL_SCAN ? gort_malloc_scanned(n) : gort_malloc(n);
    GORT_PROF_LEAVE();
    if (!q) return NULL;
    memcpy(q, p, n < have ? n : have);
    gort_free(p);
    return q;
}

void *gort_realloc(void *p, size_t n) {
    if (!p) return gort_malloc(n);
    uintptr_t idx;
    gort_mspan *s = object_span(p, &idx, "free");
    if (GORT_UNLIKELY(gort__spc_is_gc(s->spanclass))) gort__gc_bad_free(p);
    size_t have = s->elemsize;
    if (n <= have) {
        /* Shrinking: keep the block unless it would waste more than half. */
        if (n >= have / 2 || have <= 16) return p;
    } else if (gort__spc_class(s->spanclass) == 0 && n <= PTRDIFF_MAX) {
        /* A large object grows in place when the pages after it are free. */
        size_t npages = (n + GORT_PAGE_SIZE - 1) >> GORT_PAGE_SHIFT;
        size_t old = s->elemsize;
        if (gort__heap_grow_span(s, npages)) {
            atomic_fetch_add_explicit(&gort__large.bytes, s->elemsize - old, memory_order_relaxed);
            return p;
        }
    }
    if (GORT_UNLIKELY(atomic_load_explicit(&gort__prof_on, memory_order_relaxed)))
        return realloc_move_profiled(p, n, s);
    /* a gort_malloc_scanned block stays scanned */
    void *q = gort__spc_kind(s->spanclass) == GORT_KIND_MANUAL_SCAN ? gort_malloc_scanned(n) : gort_malloc(n);
    if (!q) return NULL;
    memcpy(q, p, n < have ? n : have);
    gort_free(p);
    return q;
}

void *gort_aligned_alloc(size_t align, size_t n) {
    if (align == 0 || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    if (align <= 16) return gort_malloc(n < align ? align : n);
    if (n > PTRDIFF_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    if (align <= GORT_PAGE_SIZE && n <= GORT_MAX_SMALL_SIZE) {
        /* Spans start on pages: every object of a class whose size is a
         * multiple of align is aligned. Powers of two up to 32 KiB are classes. */
        for (size_t cls = gort__size_to_class(n < align ? align : n); cls < GORT_NUM_CLASSES; cls++)
            if (gort_class_to_size[cls] % align == 0) return malloc_small(cls);
    }
    return malloc_large(n, align > GORT_PAGE_SIZE ? align >> GORT_PAGE_SHIFT : 1);
}

size_t gort_release_memory(void) {
    gort__mcache_reclaim(true, false); /* idle threads' spans that others' frees emptied */
    return gort__release_free();
}

size_t gort__release_free(void) {
    gort__central_drain_all();
    gort__lock(&gort__heap.lock, GORT_RANK_MHEAP);
    size_t n = gort__heap_release_free_locked();
    gort__unlock(&gort__heap.lock, GORT_RANK_MHEAP);
    return n;
}
