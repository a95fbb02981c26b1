/*
 * arena.c: heap arenas and off-heap metadata (Go's malloc.go mallocinit /
 * mheap.sysAlloc, mfixalloc.go, persistentalloc).
 *
 * The heap grows in 64 MiB arenas at Go's hint addresses (0x00c000000000,
 * then 0x01c000000000, ...), inside one 8 TiB window (arena.h). An arena's
 * address range is claimed whole, but mapped 4 MiB chunks at a time as the
 * heap grows (pageheap.c), with nothing reserved beyond: under `ulimit -v`
 * a program pays address space only for what its heap holds. New pages reach
 * the page allocator free and "scavenged" (never touched, so zero). Each
 * arena has a gort_heap_arena metadata block off the heap, found from any
 * address through the one-level index gort__arenas (2^17 pointers in .bss).
 * Metadata is never freed.
 *
 * Locks: arena growth runs under mheap.lock; persistentalloc has its own leaf
 * lock; a fixalloc or slaballoc is guarded by its user's lock.
 */
#include <errno.h>
#include <string.h>

#include "arena.h"

gort_heap_arena *_Atomic gort__arenas[(size_t)1 << GORT_ARENA_L2_BITS];
_Atomic uintptr_t gort__arena_window;
static bool window_set;
_Atomic uint64_t gort__metadata_bytes;

#define WINDOW_BYTES ((uintptr_t)1 << GORT_WINDOW_BITS)

/* ---- hints ---- */
#define HINT_BASE ((uintptr_t)0x00c0 << 32)
static uintptr_t hint_next = HINT_BASE;
/* hint_next lies in (hint_index << 40) | HINT_BASE onwards. ThreadSanitizer
 * accepts application mappings only in its own ranges, which Go's hints miss:
 * under it gort takes whatever address the kernel gives, and maps arenas
 * whole (the kernel would put other mappings in an arena's unmapped rest). */
#ifdef GORT_TSAN
#define GORT_NO_HINTS 1
static unsigned hint_index = 128;
#else
static unsigned hint_index;
#endif

/* Whether [a, a + size) lies in the window (any range does before the
 * window is set). */
static bool window_fits(uintptr_t a, size_t size) {
    uintptr_t w = atomic_load_explicit(&gort__arena_window, memory_order_relaxed);
    return !window_set || (a >= w && a - w <= WINDOW_BYTES - size);
}

/* The same, the first range setting the window. */
static bool window_claim(uintptr_t a, size_t size) {
    if (!window_set) {
        atomic_store_explicit(&gort__arena_window, a & ~(WINDOW_BYTES - 1), memory_order_relaxed);
        window_set = true;
    }
    return window_fits(a, size);
}

uintptr_t gort__arena_reserve_locked(size_t narenas, size_t *map_bytes) {
    gort__assert_held(GORT_RANK_MHEAP);
    size_t size = narenas * GORT_ARENA_BYTES;
    if (narenas == 0 || size / GORT_ARENA_BYTES != narenas || size >= WINDOW_BYTES / 2) {
        errno = ENOMEM;
        return 0;
    }
#ifdef GORT_NO_HINTS
    *map_bytes = size;
#endif
    size_t map = *map_bytes;
    void *p = NULL;
    while (hint_index < 128) {
        if (window_fits(hint_next, size) && hint_next + size <= ((uintptr_t)1 << 47)) {
            p = gort__sys_reserve((void *)hint_next, map, true);
            if (p && window_claim(hint_next, size)) {
                hint_next += size;
                break;
            }
            if (p) {
                gort__sys_free(p, map, GORT_OS_RESERVED);
                p = NULL;
            } else if (errno == ENOMEM) {
                return 0; /* address-space limit: no hint will do */
            }
        }
        hint_index++;
        hint_next = ((uintptr_t)hint_index << 40) | HINT_BASE;
    }
    if (!p) {
        /* Every hint failed: take any range and trim it to arena alignment. */
        size_t big = map + GORT_ARENA_BYTES;
        char *q = gort__sys_reserve(NULL, big, false);
        if (!q) return 0;
        uintptr_t a = ((uintptr_t)q + GORT_ARENA_BYTES - 1) & ~(uintptr_t)(GORT_ARENA_BYTES - 1);
        size_t head = a - (uintptr_t)q, tail = big - head - map;
        if (head) gort__sys_free(q, head, GORT_OS_RESERVED);
        if (tail) gort__sys_free((void *)(a + map), tail, GORT_OS_RESERVED);
        p = (void *)a;
        if (!window_claim(a, size)) {
            gort__sys_free(p, map, GORT_OS_RESERVED);
            errno = ENOMEM;
            return 0;
        }
    }
    if (!gort__sys_map(p, map)) {
        int e = errno;
        gort__sys_free(p, map, GORT_OS_RESERVED);
        errno = e;
        return 0;
    }
    return (uintptr_t)p;
}

bool gort__arena_map_more_locked(gort_heap_arena *ha, size_t bytes) {
    gort__assert_held(GORT_RANK_MHEAP);
    void *at = (void *)(ha->base + ((uintptr_t)ha->mapped_pages << GORT_PAGE_SHIFT));
    void *p = gort__sys_reserve(at, bytes, true);
    if (!p) return false;
    if (!gort__sys_map(p, bytes)) {
        gort__sys_free(p, bytes, GORT_OS_RESERVED);
        return false;
    }
    return true;
}

gort_heap_arena *gort__arena_register_locked(uintptr_t base, uint32_t slot) {
    gort__assert_held(GORT_RANK_MHEAP);
    gort_heap_arena *ha = gort__persistent_alloc(sizeof(gort_heap_arena), 64);
    if (!ha) return NULL;
    ha->base = base;
    ha->slot = slot;
    /* nothing mapped yet: every page in use, with no span (pageheap.c maps) */
    memset(ha->palloc, 0xff, sizeof ha->palloc);
    atomic_store_explicit(&gort__arenas[gort__arena_index(base)], ha, memory_order_release);
    return ha;
}

/* ---- persistentalloc ---- */
#define PERSISTENT_CHUNK (256 * 1024)
static pthread_mutex_t persistent_lock = PTHREAD_MUTEX_INITIALIZER;
static char *persistent_cur;
static size_t persistent_left;

void *gort__persistent_alloc(size_t size, size_t align) {
    if (align == 0) align = 8;
    if (size >= 64 * 1024) {
        size_t n = (size + GORT_OS_PAGE - 1) & ~(size_t)(GORT_OS_PAGE - 1);
        void *p = gort__sys_alloc(n);
        if (p) atomic_fetch_add_explicit(&gort__metadata_bytes, n, memory_order_relaxed);
        return p;
    }
    gort__lock(&persistent_lock, GORT_RANK_PERSISTENT);
    uintptr_t cur = ((uintptr_t)persistent_cur + align - 1) & ~(uintptr_t)(align - 1);
    size_t waste = cur - (uintptr_t)persistent_cur;
    if (!persistent_cur || waste + size > persistent_left) {
        char *c = gort__sys_alloc(PERSISTENT_CHUNK);
        if (!c) {
            gort__unlock(&persistent_lock, GORT_RANK_PERSISTENT);
            return NULL;
        }
        atomic_fetch_add_explicit(&gort__metadata_bytes, PERSISTENT_CHUNK, memory_order_relaxed);
        persistent_cur = c;
        persistent_left = PERSISTENT_CHUNK;
        cur = (uintptr_t)c;
        waste = 0;
    }
    persistent_cur = (char *)cur + size;
    persistent_left -= waste + size;
    gort__unlock(&persistent_lock, GORT_RANK_PERSISTENT);
    return (void *)cur;
}

void gort__persistent_lock(bool lock) {
    if (lock) gort__lock(&persistent_lock, GORT_RANK_PERSISTENT);
    else gort__unlock(&persistent_lock, GORT_RANK_PERSISTENT);
}

/* ---- fixalloc ---- */
#define FIXALLOC_CHUNK (16 * 1024)

void *gort__fixalloc_alloc(gort_fixalloc *f) {
    void *p = f->free_list;
    if (p) {
        f->free_list = *(void **)p;
        memset(p, 0, f->size);
    } else {
        if (f->chunk_left < f->size) {
            size_t n = f->size > FIXALLOC_CHUNK ? f->size : FIXALLOC_CHUNK - FIXALLOC_CHUNK % f->size;
            f->chunk = gort__persistent_alloc(n, 64);
            if (!f->chunk) return NULL;
            f->chunk_left = n;
        }
        p = f->chunk;
        f->chunk += f->size;
        f->chunk_left -= f->size;
    }
    f->inuse++;
    return p;
}

void gort__fixalloc_free(gort_fixalloc *f, void *p) {
    *(void **)p = f->free_list;
    f->free_list = p;
    f->inuse--;
}

/* ---- slaballoc ---- */
#define SLAB_BYTES ((size_t)64 * 1024)

typedef struct gort_slab {
    struct gort_slab *next, *prev; /* on the allocator's partial list while listed */
    void *free;                    /* blocks freed, linked through their first word */
    char *bump, *end;              /* blocks never used yet */
    uint32_t nused;
    bool listed;
} gort_slab;

static void slab_list(gort_slaballoc *a, gort_slab *sl) {
    sl->prev = NULL;
    sl->next = a->partial;
    if (a->partial) a->partial->prev = sl;
    a->partial = sl;
    sl->listed = true;
}

static void slab_unlist(gort_slaballoc *a, gort_slab *sl) {
    if (sl->prev) sl->prev->next = sl->next;
    else a->partial = sl->next;
    if (sl->next) sl->next->prev = sl->prev;
    sl->listed = false;
}

void *gort__slab_alloc(gort_slaballoc *a) {
    gort_slab *sl = a->partial;
    if (!sl) {
        sl = gort__sys_alloc_aligned(SLAB_BYTES, SLAB_BYTES);
        if (!sl) return NULL;
        atomic_fetch_add_explicit(&gort__metadata_bytes, SLAB_BYTES, memory_order_relaxed);
        a->nslabs++;
        sl->bump = (char *)sl + ((sizeof(gort_slab) + 63) & ~(size_t)63);
        sl->end = (char *)sl + SLAB_BYTES;
        slab_list(a, sl);
    } else if (sl->nused == 0) {
        a->nempty--;
        if (a->nempty < a->nempty_low) a->nempty_low = a->nempty;
    }
    void *p = sl->free;
    if (p) sl->free = *(void **)p;
    else {
        p = sl->bump;
        sl->bump += a->size;
    }
    sl->nused++;
    if (!sl->free && sl->bump + a->size > sl->end) slab_unlist(a, sl);
    memset(p, 0, a->size);
    return p;
}

void gort__slab_free(gort_slaballoc *a, void *p) {
    gort_slab *sl = (gort_slab *)((uintptr_t)p & ~(uintptr_t)(SLAB_BYTES - 1));
    *(void **)p = sl->free;
    sl->free = p;
    sl->nused--;
    if (!sl->listed) slab_list(a, sl);
    /* Empty: kept until a trim finds it stayed empty. A collection frees
     * thousands of spans at once and the next cycle's allocation wants them
     * back: unmapping at once was, on GCBench, 658 munmaps (each a TLB
     * shootdown) and as many slabs faulted in again. */
    if (sl->nused == 0) a->nempty++;
}

size_t gort__slab_trim(gort_slaballoc *a, bool all) {
    uint32_t idle = all ? a->nempty : a->nempty_low;
    size_t n = 0;
    for (gort_slab *sl = a->partial, *next; sl && idle > 0; sl = next) {
        next = sl->next;
        if (sl->nused != 0) continue;
        slab_unlist(a, sl);
        a->nslabs--;
        a->nempty--;
        idle--;
        n++;
        gort__sys_free(sl, SLAB_BYTES, GORT_OS_READY);
        atomic_fetch_sub_explicit(&gort__metadata_bytes, SLAB_BYTES, memory_order_relaxed);
    }
    a->nempty_low = a->nempty;
    return n;
}
