/*
 * span.h: spans (Go's mspan, with the span half of mheap.go and the bit
 * operations of mbitmap.go): the struct, its states, and the operations on
 * its bits; span.c holds the out-of-line part.
 *
 * A span is a run of pages holding objects of one span class (or one large
 * object). Its states, and who may change what in each:
 *
 *   state     DEAD (its struct is free) or IN_USE; set under mheap.lock.
 *   list      where it is (GORT_LIST_*): CACHED, some thread cache's current
 *             span; OWNED_PARTIAL / OWNED_FULL, on its owner's lists;
 *             PARTIAL / FULL, on its mcentral's lists, with no owner; NONE,
 *             in passage (being filed, or being freed to the page heap).
 *   owner     the thread cache that owns it (CACHED and OWNED_*), or NULL.
 *             The owner alone changes the alloc bits, alloc_cache and
 *             alloc_count, without locks; for an unowned span the mcentral
 *             does, under its lock. A collected span's owner field carries
 *             a tag bit, and the sweep (gc.c) rewrites its alloc bits from
 *             the mark bits: a current span's in the collector's stop, while
 *             every owner is stopped or holds no slot half-taken; any other
 *             one later, under its owner's gc_lock or its mcentral's lock.
 *   xfree     remote frees (any thread, lock-free: the object's xfree bit by
 *             atomic OR, then a push on the span's xfree list) and the
 *             notice state in its low bits: NONE; NOTIFY (the span is full:
 *             the next remote free flips it to NOTIFIED and sends a notice,
 *             the object itself, to the owner's or the mcentral's notify
 *             stack); NOTIFIED (a notice is on its way: whoever files the
 *             span keeps it on its full list until the notice arrives).
 *
 * A collected span's objects are never freed by hand, so its xfree words
 * hold the collector's mark bits (set by markers during the stop, cleared by
 * the sweep) and its xfree list stays empty.
 */
#ifndef GORT_SPAN_H
#define GORT_SPAN_H

#include "arena.h"
struct gort_mcache;

enum { GORT_SPAN_DEAD = 0, GORT_SPAN_IN_USE = 1 };
/* Where a span is. CACHED: some mcache's current span. OWNED_*: on its
 * owner mcache's partial or full list. PARTIAL, FULL: on its mcentral's lists
 * (no owner). */
enum {
    GORT_LIST_NONE = 0,
    GORT_LIST_CACHED,
    GORT_LIST_OWNED_PARTIAL,
    GORT_LIST_OWNED_FULL,
    GORT_LIST_PARTIAL,
    GORT_LIST_FULL
};
/* States in the low bits of mspan.xfree (objects are 8-aligned). */
enum { GORT_XF_NONE = 0, GORT_XF_NOTIFY = 1, GORT_XF_NOTIFIED = 2, GORT_XF_MASK = 3 };
#define GORT_NO_WORD 0xffffu

#define GORT_UMASK_ONE 0x100u
#define GORT_UMASK_MIXED 0x200u

typedef struct gort_mspan {
    /* The first cache line: what the owner thread writes on its fast paths
     * (and the list links it changes on its slow ones). The second: what
     * every thread that frees into the span reads (and the xfree list it
     * pushes on), and the marker's fields. A thread freeing into another's
     * span then never pulls in the line the owner writes at each malloc: in
     * xmalloc (every free by another thread) that line moved between the
     * cores at each malloc and free.
     *
     * Owner-thread fields, read by the malloc fast path.
     * alloc_cache: free slots of alloc_bits word cache_word (1 = free), taken
     *   when the word was loaded. Their alloc_bits stay 0 until malloc hands
     *   them out (and sets the bit through cache_bits); slots freed since the
     *   load come back at the word's next load.
     * cache_bits: &words[cache_word].alloc.
     * cache_base: address of slot cache_word*64.
     * cache_elemsize: elemsize, for the fast path in this line. */
    uint64_t alloc_cache;
    uint64_t *cache_bits;
    uintptr_t cache_base;
    size_t cache_elemsize;
    uint16_t cache_word; /* GORT_NO_WORD when no word is cached */
    /* alloc_count: slots set in alloc_bits plus the slots in alloc_cache.
     * The span is full when alloc_count == nelems and alloc_cache == 0. */
    uint16_t alloc_count;
    uint16_t nelems_m2; /* nelems - 2, for free's one-compare list check */
    /* umask: a collected scan-kind span's shape, for the marker (gc.c): with
     * GORT_UMASK_ONE set, every object allocated in it since its
     * initialisation has the pointer mask in the low 8 bits (objects of up
     * to 8 words), and their heap-bitmap bits are not written (stale: the
     * marker takes the mask from the work entry); 0 before the first
     * object; GORT_UMASK_MIXED otherwise. Written by the owner
     * thread, read by the marker with the world stopped. */
    uint16_t umask;
    uint8_t list;                   /* GORT_LIST_*; set by the owner, or under the mcentral lock */
    uint8_t state;                  /* GORT_SPAN_*; set under mheap.lock */
    uint8_t needzero;               /* large spans: 1 if a page may be dirty */
    uint8_t bitsclass;              /* which span slaballoc this struct came from */
    uint32_t npages;                /* at most 2^32 pages (32 TiB): alloc_span refuses more */
    struct gort_mspan *next, *prev; /* list links (owner's or mcentral's lists) */
    /* Second line: set when the span is made, then only read (but xfree). */
    uintptr_t base;    /* first byte; page-aligned */
    uintptr_t limit;   /* end of the last object */
    size_t elemsize;   /* object size; a large span's whole size */
    uint32_t divmagic; /* object index = (offset * divmagic) >> 32; 1 for large */
    uint16_t spanclass;
    uint16_t nelems;   /* objects in the span */
    uint16_t nwords;   /* words of alloc_bits = ceil(nelems / 64) */
    uint8_t sizeclass; /* gort__spc_class(spanclass), for the marker: no division */
    uint8_t kind;      /* gort__spc_kind(spanclass), likewise */
    /* prof: the heap profile's slot of this span's live samples (prof.c; 0:
     * none). Changed under the profile's lock; read without it as a hint by
     * the refill and the span free. */
    _Atomic uint16_t prof;
    /* sweepgen: a collected span's sweep state against the page heap's
     * sweepgen (Go's mspan.sweepgen, with only two of its values): equal,
     * swept since the last mark; 2 less, marked but not yet swept (its
     * alloc bits still hold the dead objects, its mark bits the live ones).
     * Set when the span is made (under mheap.lock) and by whoever sweeps it,
     * holding the lock of the list it is on (gc.c). Wraps: a span is never
     * more than one cycle behind. */
    _Atomic uint16_t sweepgen;
    /* owner: the mcache that owns this span (its current span, or on its
     * partial or full lists), or NULL for a span of the mcentral. Written by
     * the owner thread; read by any thread freeing into the span, which
     * compares it with its own mcache, or, having claimed a NOTIFY, sends
     * the notice to it (the owner cannot let go of the span meanwhile). */
    _Atomic(struct gort_mcache *) owner;
    /* xfree: objects freed by threads that do not own the span, linked
     * through their first word, plus a GORT_XF_* state in the low bits. */
    _Atomic uintptr_t xfree;
    /* A large collected object's layout (gc.c): its type and element count
     * (NULL: scanned conservatively, every word). Small objects use the
     * arena's pointer bitmap instead, and a small scanned span keeps the
     * address of its first page's bitmap word there (heapbits; NULL until its
     * first refill), so that gort_new writes an object's bits with one load
     * from the span in hand rather than two through the arena index. */
    union {
        const struct gort_type *largetype;
        uint64_t *heapbits;
    };
    size_t largecount;
    /* The bitmaps, out of line from the objects, a pair of words per 64 slots
     * so that free reads both with one address:
     * alloc (alloc_bits): 1 = allocated.
     * xfree (xfree_bits): 1 = the object is on xfree, freed by another
     *   thread and not yet taken. Set by the remote free (atomic OR: a bit
     *   already set is a double free, caught at once), cleared by whoever
     *   takes the object.
     * A collected span's objects are never freed by hand (gort_free of one
     * is fatal before it touches the bits), so its xfree word holds the
     * collector's mark bits instead (gc.c): an object's alloc and mark bits
     * share a cache line, and the marker reads one line where it read two. */
    struct gort_span_word {
        uint64_t alloc;
        _Atomic uint64_t xfree;
    } words[];
} gort_mspan;

_Static_assert(offsetof(gort_mspan, base) == 64, "a span's owner-written fields fill its first cache line");
_Static_assert(offsetof(gort_mspan, owner) == 104, "sweepgen fits the padding before owner");

static inline uint64_t gort__span_word_mask(const gort_mspan *s, unsigned w) {
    unsigned rem = s->nelems & 63;
    return (w + 1u < s->nwords || rem == 0) ? ~(uint64_t)0 : (((uint64_t)1 << rem) - 1);
}

/* Span lists (an owner's or an mcentral's partial and full lists) are
 * linked both ways, with the head's prev pointing at the tail, so that a
 * span goes on either end in constant time; the tail's next is NULL. */
static inline void gort__list_push(gort_mspan **head, gort_mspan *s, uint8_t list) {
    gort_mspan *h = *head;
    s->list = list;
    s->next = h;
    if (h) {
        s->prev = h->prev;
        h->prev = s;
    } else {
        s->prev = s;
    }
    *head = s;
}

static inline void gort__list_push_tail(gort_mspan **head, gort_mspan *s, uint8_t list) {
    gort_mspan *h = *head;
    if (!h) {
        gort__list_push(head, s, list);
        return;
    }
    s->list = list;
    s->next = NULL;
    s->prev = h->prev;
    h->prev->next = s;
    h->prev = s;
}

static inline void gort__list_remove(gort_mspan **head, gort_mspan *s) {
    gort_mspan *h = *head;
    if (s == h) {
        *head = s->next;
        if (s->next) s->next->prev = s->prev;
    } else {
        s->prev->next = s->next;
        if (s->next) s->next->prev = s->prev;
        else h->prev = s->prev; /* s was the tail */
    }
    s->next = s->prev = NULL;
    s->list = GORT_LIST_NONE;
}

/* Whether a list's links agree: each span's prev is the one before it, and
 * the head's prev is the tail (heap checks). */
static inline bool gort__list_links_ok(const gort_mspan *head) {
    const gort_mspan *prev = NULL;
    for (const gort_mspan *s = head; s; prev = s, s = s->next)
        if (s != head && s->prev != prev) return false;
    return !head || head->prev == prev;
}

/* Pushes obj on a lock-free stack linked through objects' first word. */
static inline void gort__stack_push(_Atomic uintptr_t *head, void *obj) {
    uintptr_t h = atomic_load_explicit(head, memory_order_relaxed);
    do {
        *(uintptr_t *)obj = h;
    } while (
        !atomic_compare_exchange_weak_explicit(head, &h, (uintptr_t)obj, memory_order_release, memory_order_relaxed));
}

/* Frees slot idx of s, whose alloc bits the caller owns; p is for messages.
 * A slot whose bit is clear (free, or waiting in alloc_cache) was never
 * handed out or is free already. Does not fix lists: see
 * gort__mcache_free_slow. */
static inline void gort__span_free_slot_owned(gort_mspan *s, uintptr_t idx, const void *p) {
    struct gort_span_word *sw = &s->words[idx >> 6];
    uint64_t bit = (uint64_t)1 << (idx & 63);
    uint64_t ab = sw->alloc;
    if (GORT_UNLIKELY(!(ab & bit))) gort__fatal_addr("double free", p);
    sw->alloc = ab & ~bit;
    s->alloc_count--;
}

/* Index of the lowest set bit of c != 0, as a 64-bit value (the builtin's
 * int result costs a sign extension on x86-64). TZCNT is REP BSF: CPUs
 * without BMI1 run it as BSF, which gives the same result for c != 0. */
static inline uint64_t gort__ctz64(uint64_t c) {
#if defined(__x86_64__)
    uint64_t i;
    __asm__("tzcntq %1, %0" : "=r"(i) : "rm"(c) : "cc");
    return i;
#else
    return (uint64_t)__builtin_ctzll(c);
#endif
}

/* Hands out the lowest slot of a non-empty alloc_cache (the malloc fast path). */
static inline void *gort__span_take(gort_mspan *s, uint64_t c) {
    uint64_t b = c & (0 - c);
    s->alloc_cache = c ^ b;
    *s->cache_bits |= b;
    return (void *)(s->cache_base + gort__ctz64(c) * s->cache_elemsize);
}
/* The object at idx, freed by another thread, has been taken. */
static inline void gort__span_clear_xfree_bit(gort_mspan *s, uintptr_t idx) {
    atomic_fetch_and_explicit(&s->words[idx >> 6].xfree, ~((uint64_t)1 << (idx & 63)), memory_order_relaxed);
}

/* The index in s of the object at address a (a inside the span): the
 * offset times the class's magic reciprocal (every offset of every class is
 * checked by tools/mksizeclasses.py). gort_free's fast path keeps its own
 * product, whose low half also says whether a is an object's start. */
static inline uintptr_t gort__span_obj_index(const gort_mspan *s, uintptr_t a) {
    return (uintptr_t)(((uint64_t)(a - s->base) * s->divmagic) >> 32);
}

/* ---- span.c ---- */
/* Sets up a new span's fields, its struct fresh (zeroed) from the span slab
 * allocator bitsclass: npages pages at base for span class spc, holding
 * nelems objects. needzero: some page may hold old data. mheap.lock held. */
GORT_HIDDEN void gort__span_init(gort_mspan *s, unsigned bitsclass, uintptr_t base, size_t npages, unsigned spc,
                                 unsigned nelems, bool needzero);
/* Takes the remote-free list of a span whose bits the caller owns and frees
 * each object. The xfree state is kept, except that clear_notice (for the
 * one who takes the span's notice) sets it to NONE. */
GORT_HIDDEN void gort__span_drain_xfree(gort_mspan *s, bool clear_notice);
/* The object q of a notice (its remote free found s full): frees it, takes
 * s's other remote frees, and sets the notice state back to NONE. The caller
 * owns s's bits and refiles s. */
GORT_HIDDEN void gort__span_take_notice(gort_mspan *s, uintptr_t q);
/* Owner only: makes s->alloc_cache non-empty if s has a free slot. */
GORT_HIDDEN bool gort__span_load_next_word(gort_mspan *s, struct gort_mcache *mc);
/* Files s (no cached word; its bits the caller's) on *partial as
 * partial_list when it has a free slot, or on *full as full_list when it is
 * full, taking its remote frees first and arming its notice (NOTIFY);
 * false, filing nothing, when it is empty: the caller gives it back. Thread
 * caches file their spans with it, and the mcentrals theirs. */
GORT_HIDDEN bool gort__span_file(gort_mspan *s, gort_mspan **partial, uint8_t partial_list, gort_mspan **full,
                                 uint8_t full_list);

#endif
