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
    /* The collector's table of written pages re-scanned by words (gc.c):
     * which has a copy in the concurrent cycle under way, which had one in
     * the last. Mapped at the arena's first, kept; NULL before. Only the
     * thread of a concurrent cycle uses it. */
    struct gort_clean_table *clean;
    uintptr_t base;
    uint32_t slot;        /* position in the page allocator's dense index */
    uint32_t used_top;    /* pages below it have been in a span; above it never (mheap.lock) */
    uint32_t guard_pages; /* pages at the base held back, in use with no span (pageheap.c) */
    /* Pages mapped from the base, a multiple of 512 (pageheap.c): the pages
     * above are not mapped, and read as in use with no span. */
    uint32_t mapped_pages;
    bool map_failed; /* mapping more failed: the rest stays unmapped */
} gort_heap_arena;

/* The arena index: address -> metadata, for the arenas' window. Every
 * arena lies in one window of 2^43 bytes (8 TiB, twice the heap's limit of
 * 2^16 slots) aligned to its size, chosen by the first arena: [0, 8 TiB),
 * holding Go's first eight hints, in a plain process; ASan's shadow covers
 * those, and its builds land at 0x10c0 << 32; TSan's at the kernel's choice
 * near the top. The index is 2^17 entries (1 MiB of .bss) where Go's covers
 * 2^48 bytes with 2^22 (32 MiB of address space, which a process under
 * `ulimit -v` cannot spare). Entries go NULL -> non-NULL once, under
 * mheap.lock, and never back; the window's base is set once, before the first
 * entry. */
GORT_HIDDEN extern gort_heap_arena *_Atomic gort__arenas[(size_t)1 << GORT_ARENA_L2_BITS];
GORT_HIDDEN extern _Atomic uintptr_t gort__arena_window;

/* The index slot of address a, taken modulo the window (whose base, aligned
 * to its size, drops out): an address outside it aliases a slot of the
 * window, so the caller of an unchecked lookup must check that a lies in the
 * span it finds. */
static inline size_t gort__arena_index(uintptr_t a) {
    return (a >> GORT_ARENA_SHIFT) & (((size_t)1 << GORT_ARENA_L2_BITS) - 1);
}

/* Whether a lies in the arenas' window. */
static inline bool gort__in_window(uintptr_t a) {
    return ((a - atomic_load_explicit(&gort__arena_window, memory_order_relaxed)) >> GORT_WINDOW_BITS) == 0;
}

/* The arena holding address a (taken modulo the window), or NULL. */
static inline gort_heap_arena *gort__arena_of(uintptr_t a) {
    return atomic_load_explicit(&gort__arenas[gort__arena_index(a)], memory_order_acquire);
}

/* Sanitizer builds check the window on every lookup (their windows do not
 * start at 0, so an address below one would alias a slot too). */
#if defined(GORT_ASAN) || defined(GORT_TSAN)
#define GORT_EXACT_INDEX 1
#endif

/* The span of the page holding a. Unchecked: the index is taken modulo the
 * window, so an address above it (or, where the window does not start at 0,
 * below it) may alias a real arena's page: the caller must then check that
 * span->base <= a < span->limit; the free path checks a < limit, which is
 * exact for a window at 0, where nothing lies below. NULL: not a heap page. */
static inline gort_mspan *gort__span_of_unchecked(uintptr_t a) {
#ifdef GORT_EXACT_INDEX
    if (!gort__in_window(a)) return NULL;
#endif
    gort_heap_arena *ha = gort__arena_of(a);
    if (GORT_UNLIKELY(ha == NULL)) return NULL;
    return atomic_load_explicit(&ha->spans[(a >> GORT_PAGE_SHIFT) & (GORT_PAGES_PER_ARENA - 1)], memory_order_relaxed);
}

static inline gort_mspan *gort__span_of(uintptr_t a) {
    if (GORT_UNLIKELY(!gort__in_window(a))) return NULL;
    return gort__span_of_unchecked(a);
}

/* Maps the first map_bytes (a multiple of 4 MiB) of a new range of narenas
 * arenas' address space in the window, at the next hint; the rest of the
 * range stays unmapped, not even reserved (RLIMIT_AS counts reservations),
 * for gort__arena_map_more_locked. Returns the base or 0 (errno from the OS;
 * ENOMEM when the window is full). *map_bytes may grow to the whole range
 * (TSan builds map arenas whole). mheap.lock held. */
GORT_HIDDEN uintptr_t gort__arena_reserve_locked(size_t narenas, size_t *map_bytes);
/* Maps `bytes` more of arena ha, after its mapped pages; false when the OS
 * refuses or something else was mapped there. mheap.lock held. */
GORT_HIDDEN bool gort__arena_map_more_locked(gort_heap_arena *ha, size_t bytes);
GORT_HIDDEN gort_heap_arena *gort__arena_register_locked(uintptr_t base, uint32_t slot);

#endif
