/* arena.h: off-heap metadata allocators and the heap's arenas, with the
 * arena index that maps any address to its span (arena.c). */
#ifndef GORT_ARENA_H
#define GORT_ARENA_H

#include "os.h"

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

typedef struct gort_mspan gort_mspan; /* span.h */

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
    uint32_t slot;        /* position in the page allocator's dense index */
    uint32_t used_top;    /* pages below it have been in a span; above it never (mheap.lock) */
    uint32_t guard_pages; /* pages at the base held back, in use with no span (pageheap.c) */
} gort_heap_arena;

/* The arena index: address >> 26 -> metadata, for any address below 2^48.
 * Entries go NULL -> non-NULL once, under mheap.lock, and never back. */
GORT_HIDDEN extern gort_heap_arena *_Atomic gort__arenas[(size_t)1 << GORT_ARENA_L2_BITS];

/* The arena holding address a (taken modulo 2^48), or NULL. */
static inline gort_heap_arena *gort__arena_of(uintptr_t a) {
    return atomic_load_explicit(&gort__arenas[(a >> GORT_ARENA_SHIFT) & (((uintptr_t)1 << GORT_ARENA_L2_BITS) - 1)],
                                memory_order_acquire);
}

/* The span of the page holding a, for an address below 2^48 (the arena
 * index is taken modulo 2^22, so a higher address may alias a real arena's
 * page: the caller must then check that a < span->limit, which no aliased
 * address is). NULL: not a heap page. */
static inline gort_mspan *gort__span_of_unchecked(uintptr_t a) {
    gort_heap_arena *ha = gort__arena_of(a);
    if (GORT_UNLIKELY(ha == NULL)) return NULL;
    return atomic_load_explicit(&ha->spans[(a >> GORT_PAGE_SHIFT) & (GORT_PAGES_PER_ARENA - 1)], memory_order_relaxed);
}

static inline gort_mspan *gort__span_of(uintptr_t a) {
    if (GORT_UNLIKELY(a >> GORT_ADDR_BITS)) return NULL;
    return gort__span_of_unchecked(a);
}

/* Reserves and maps `n` arenas' worth of contiguous address space at the next
 * hint; returns the base or 0 (errno from the OS). mheap.lock held. */
GORT_HIDDEN uintptr_t gort__arena_reserve_locked(size_t narenas);
GORT_HIDDEN gort_heap_arena *gort__arena_register_locked(uintptr_t base, uint32_t slot);

#endif
