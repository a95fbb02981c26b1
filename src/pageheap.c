/*
 * pageheap.c: the page heap (Go's mheap.go and mpagealloc*.go).
 *
 * The heap hands out runs of 8 KiB pages. Each arena's pages form 16 chunks
 * of 512 pages (4 MiB, Go's pallocChunkPages); a chunk has a 512-bit in-use
 * bitmap (`palloc`) and a 512-bit scavenged bitmap (`scav`, 1 = free and not
 * backed by memory, so zero when reused).
 *
 * Finding a free run uses Go's radix tree of summaries. A summary holds three
 * counts of free pages: `start` (run at the low end), `max` (longest run) and
 * `end` (run at the high end). Leaves summarize chunks; each level above
 * merges 8 children, so a search looks at no more than 8 entries per level:
 * address-ordered first fit in O(levels).
 *
 * Where gort differs from Go: Go indexes the tree by address over the whole
 * 48-bit space (5 levels, ~600 MiB of reserved address space). gort indexes it
 * by a dense arena "slot" number given in order of growth: page number
 * pn = slot << 13 | page-in-arena. Arenas reserved at Go's hints are
 * contiguous, so slot order is address order; an arena that is not contiguous
 * with the one before leaves an empty slot (a hole that reads as all in use),
 * so no run spans a gap. 2^16 slots (4 TiB of heap) need 7 levels; each
 * level's array covers the slots in use, rounded up to a power of two, and is
 * copied to a larger one as the heap grows (a 64 MiB heap's summaries take
 * 4 KiB, not the 14 MiB of address space that all 2^16 slots would).
 *
 * An arena is mapped 4 MiB chunks at a time as the heap grows (Go's
 * mheap.grow maps its current arena the same way, but reserves the arena
 * first): its pages above `mapped_pages` read as in use with no span, and the
 * heap grows by mapping more of the last arena before it adds another.
 *
 * Everything here runs under mheap.lock (gort__heap.lock).
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

gort_mheap gort__heap = {.lock = PTHREAD_MUTEX_INITIALIZER};

typedef struct psum {
    uint32_t start, max, end;
} psum;

#define NLEVELS 7
#define LEAF (NLEVELS - 1)
static psum *sums[NLEVELS]; /* level 0 is the top (4 entries); LEAF has one entry per chunk */
static uint32_t sums_cap;   /* slots the arrays cover */
static size_t sums_bytes;

static size_t level_entries(int l) { return (size_t)1 << (2 + 3 * l); }
static uint64_t level_pages(int l) { return (uint64_t)GORT_CHUNK_PAGES << (3 * (LEAF - l)); }
_Static_assert(((size_t)1 << (2 + 3 * LEAF)) == GORT_MAX_ARENA_SLOTS * GORT_CHUNKS_PER_ARENA, "levels");

/* Entries of level l that cover `slots` arenas' chunks, rounded up to a
 * multiple of 8 so that every entry's 8 children exist. */
static size_t level_span(int l, uint64_t slots) {
    unsigned sh = 3 * (LEAF - l);
    uint64_t n = ((slots * GORT_CHUNKS_PER_ARENA) + ((uint64_t)1 << sh) - 1) >> sh;
    return (size_t)((n + 7) & ~(uint64_t)7);
}

/* Makes the summaries cover `slots` slots; zero entries (no free page) stand
 * for the slots not yet used. */
static bool sums_reserve_locked(uint64_t slots) {
    gort__assert_held(GORT_RANK_MHEAP);
    if (slots <= sums_cap) return true;
    uint64_t cap = sums_cap ? sums_cap : 16;
    while (cap < slots) cap *= 2;
    size_t total = 0;
    for (int l = 0; l < NLEVELS; l++) total += level_span(l, cap) * sizeof(psum);
    total = (total + GORT_OS_PAGE - 1) & ~(size_t)(GORT_OS_PAGE - 1);
    char *p = gort__sys_alloc(total), *old = (char *)sums[0];
    if (!p) return false;
    for (int l = 0; l < NLEVELS; l++) {
        psum *n = (psum *)p;
        if (sums[l]) memcpy(n, sums[l], level_span(l, sums_cap) * sizeof(psum));
        p += level_span(l, cap) * sizeof(psum);
        sums[l] = n;
    }
    if (old) {
        gort__sys_free(old, sums_bytes, GORT_OS_READY);
        atomic_fetch_sub_explicit(&gort__metadata_bytes, sums_bytes, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&gort__metadata_bytes, total, memory_order_relaxed);
    sums_bytes = total;
    sums_cap = (uint32_t)cap;
    return true;
}

static bool pages_init_locked(void) {
    gort__assert_held(GORT_RANK_MHEAP);
    if (sums[0]) return true;
    if (!sums_reserve_locked(1)) return false;
    static const size_t fix_words[5] = {1, 2, 4, 8, 16};
    /* header, alloc+xfree pairs; whole cache lines, so that spans of different
     * owners never share one (with 16-byte rounding, larson on two threads took
     * 0.87 s where it now takes 0.50) */
    for (int k = 0; k < 5; k++)
        gort__heap.spanalloc[k].size = (sizeof(gort_mspan) + 2 * 8 * fix_words[k] + 63) & ~(size_t)63;
    return true;
}

/* ---- page numbers ---- */
static inline gort_heap_arena *pn_arena(uint64_t pn) { return gort__heap.slots[pn >> 13]; }
static inline uintptr_t pn_addr(uint64_t pn) { return pn_arena(pn)->base + ((pn & 8191) << GORT_PAGE_SHIFT); }
static inline uint64_t addr_pn(uintptr_t a) {
    gort_heap_arena *ha = gort__arena_of(a);
    return (uint64_t)ha->slot << 13 | ((a >> GORT_PAGE_SHIFT) & 8191);
}
static inline uint64_t *chunk_palloc(uint64_t ci) { return gort__heap.slots[ci >> 4]->palloc[ci & 15]; }
static inline uint64_t *chunk_scav(uint64_t ci) { return gort__heap.slots[ci >> 4]->scav[ci & 15]; }

/* ---- bitmap runs ---- */
/* First index >= from whose bit equals `want`, or 512. */
static unsigned next_bit(const uint64_t *bits, unsigned from, int want) {
    while (from < GORT_CHUNK_PAGES) {
        uint64_t w = want ? bits[from >> 6] : ~bits[from >> 6];
        w &= ~(uint64_t)0 << (from & 63);
        if (w) return (from & ~63u) + (unsigned)__builtin_ctzll(w);
        from = (from & ~63u) + 64;
    }
    return GORT_CHUNK_PAGES;
}

static psum chunk_summarize(const uint64_t *bits) {
    psum s = {0, 0, 0};
    unsigned pos = 0;
    while (pos < GORT_CHUNK_PAGES) {
        unsigned fs = next_bit(bits, pos, 0);
        if (fs >= GORT_CHUNK_PAGES) break;
        unsigned fe = next_bit(bits, fs, 1);
        uint32_t run = fe - fs;
        if (fs == 0) s.start = run;
        if (fe == GORT_CHUNK_PAGES) s.end = run;
        if (run > s.max) s.max = run;
        pos = fe;
    }
    return s;
}

/* First free run of n pages inside a chunk, or -1. */
static int chunk_find(const uint64_t *bits, unsigned n) {
    unsigned pos = 0;
    while (pos < GORT_CHUNK_PAGES) {
        unsigned fs = next_bit(bits, pos, 0);
        if (fs >= GORT_CHUNK_PAGES) return -1;
        unsigned fe = next_bit(bits, fs, 1);
        if (fe - fs >= n) return (int)fs;
        pos = fe;
    }
    return -1;
}

static psum merge(const psum *c, uint32_t child) {
    psum s = {0, 0, 0};
    uint32_t run = 0;
    bool all_free = true;
    for (int i = 0; i < 8; i++) {
        if (all_free) {
            s.start += c[i].start;
            all_free = c[i].start == child;
        }
        if (run + c[i].start > s.max) s.max = run + c[i].start;
        if (c[i].max > s.max) s.max = c[i].max;
        run = c[i].start == child ? run + child : c[i].end;
    }
    s.end = run;
    return s;
}

static bool psum_set(psum *at, psum v) {
    if (at->start == v.start && at->max == v.max && at->end == v.end) return false;
    *at = v;
    return true;
}

/* Recomputes the summaries of chunks [c0, c1] and their ancestors, up to the
 * first level where none changed: the levels above it summarize the same
 * children as before (a span's pages taken from or given back to a
 * fragmented chunk seldom change its parent's runs). */
static void update_chunks(uint64_t c0, uint64_t c1) {
    bool changed = false;
    for (uint64_t ci = c0; ci <= c1; ci++) {
        gort_heap_arena *ha = gort__heap.slots[ci >> 4];
        changed |= psum_set(&sums[LEAF][ci], ha ? chunk_summarize(ha->palloc[ci & 15]) : (psum){0, 0, 0});
    }
    for (int l = LEAF - 1; l >= 0 && changed; l--) {
        c0 >>= 3;
        c1 >>= 3;
        changed = false;
        for (uint64_t i = c0; i <= c1; i++)
            changed |= psum_set(&sums[l][i], merge(&sums[l + 1][i * 8], (uint32_t)level_pages(l + 1)));
    }
}

/* Address-ordered first fit for n pages; returns the page number or -1. */
static int64_t pages_find(uint64_t n) {
    uint64_t first = 0, count = level_entries(0);
    for (int l = 0; l < NLEVELS; l++) {
        uint64_t size = level_pages(l), run = 0;
        bool descended = false;
        for (uint64_t i = first; i < first + count; i++) {
            psum s = sums[l][i];
            if (run + s.start >= n) return (int64_t)(i * size - run);
            if (s.max >= n) {
                if (l == LEAF) {
                    int off = chunk_find(chunk_palloc(i), (unsigned)n);
                    if (off < 0) gort__throw("page allocator: summary and bitmap disagree");
                    return (int64_t)(i * size + (uint64_t)off);
                }
                first = i * 8;
                count = 8;
                descended = true;
                break;
            }
            run = s.start == size ? run + size : s.end;
        }
        if (!descended) return -1;
    }
    return -1;
}

/* Applies fn to each (bitmap word, mask) of pages [pn, pn+n) of the palloc or scav maps. */
typedef uint64_t (*word_fn)(uint64_t *palloc, uint64_t *scav, uint64_t mask);
static uint64_t range_apply(uint64_t pn, uint64_t n, word_fn fn) {
    uint64_t acc = 0, end = pn + n;
    while (pn < end) {
        uint64_t ci = pn >> 9;
        unsigned bit = pn & 511, w = bit >> 6, b = bit & 63;
        uint64_t take = 64 - b;
        if (take > end - pn) take = end - pn;
        uint64_t mask = (take == 64 ? ~(uint64_t)0 : (((uint64_t)1 << take) - 1)) << b;
        acc += fn(&chunk_palloc(ci)[w], &chunk_scav(ci)[w], mask);
        pn += take;
    }
    return acc;
}
static uint64_t w_alloc(uint64_t *pa, uint64_t *sc, uint64_t m) {
    if (*pa & m) gort__throw("page allocator: allocating pages in use");
    uint64_t scav = (uint64_t)gort__popcount(*sc & m);
    *pa |= m;
    *sc &= ~m;
    return scav;
}
static uint64_t w_free(uint64_t *pa, uint64_t *sc, uint64_t m) {
    if ((*pa & m) != m) gort__throw("page allocator: freeing free pages");
    *pa &= ~m;
    (void)sc;
    return 0;
}
static uint64_t w_count_used(uint64_t *pa, uint64_t *sc, uint64_t m) {
    (void)sc;
    return (uint64_t)gort__popcount(*pa & m);
}

/* The first 64 KiB of every 4 GiB of the heap's address space hold no span:
 * they are marked in use in the page bitmap, with no span, and never
 * touched. A collector that scans conservatively reads a stack slot a 32-bit
 * store half overwrote as the upper half of a stale heap pointer (0x000000c0
 * for Go's first hint) over a small integer: 0xc000000002 named the heap's
 * first object and kept binary-trees' 128 MB stretch tree alive through the
 * run, in half of the runs. Small integers are the commonest low halves, so
 * the pages they point at hold nothing (Boehm GC blacklists such pages when
 * it sees them; this is the cheap, static part of that). An arena added for
 * a request of more than an arena has no guard: that run may have to cross
 * the boundary (a 4 GiB object must). */
#define GUARD_PAGES 8
static inline bool guard_arena(uintptr_t base) { return (base & 0xffffffffu) == 0; }

/* Pages [from, to) of arena ha (whole chunks) are newly mapped: free, and
 * scavenged (never touched, so zero). */
static void arena_mapped(gort_heap_arena *ha, uint32_t from, uint32_t to) {
    gort_mheap *h = &gort__heap;
    for (uint32_t c = from / GORT_CHUNK_PAGES; c < to / GORT_CHUNK_PAGES; c++) {
        memset(ha->palloc[c], 0, sizeof ha->palloc[c]);
        memset(ha->scav[c], 0xff, sizeof ha->scav[c]);
    }
    /* registered for write tracking before mapped_pages shows them: the
     * collector's walks (gc.c) read it without the lock */
    if (atomic_load_explicit(&gort__wtrack_on, memory_order_relaxed))
        gort__wtrack_add(ha->base + ((uintptr_t)from << GORT_PAGE_SHIFT), (size_t)(to - from) << GORT_PAGE_SHIFT);
    ha->mapped_pages = to;
    h->pages_total += to - from;
    h->pages_scav += to - from;
    update_chunks((uint64_t)ha->slot * GORT_CHUNKS_PER_ARENA + from / GORT_CHUNK_PAGES,
                  (uint64_t)ha->slot * GORT_CHUNKS_PER_ARENA + to / GORT_CHUNK_PAGES - 1);
}

void gort__heap_wtrack_start_locked(void) {
    gort__assert_held(GORT_RANK_MHEAP);
    if (atomic_load_explicit(&gort__wtrack_on, memory_order_relaxed)) return;
    for (uint32_t i = 0; i < gort__heap.nslots; i++) {
        gort_heap_arena *ha = gort__heap.slots[i];
        if (ha && ha->mapped_pages) gort__wtrack_add(ha->base, (size_t)ha->mapped_pages << GORT_PAGE_SHIFT);
    }
    atomic_store_explicit(&gort__wtrack_on, true, memory_order_relaxed);
}

/* Maps chunks for a request of npages: more of the last arena when they fit
 * there, else new arenas; false with errno on failure. */
static bool heap_grow_locked(uint64_t npages) {
    gort__assert_held(GORT_RANK_MHEAP);
    if (!pages_init_locked()) return false;
    gort_mheap *h = &gort__heap;
    /* whole chunks: Go's growth step (mheap.grow maps at least 512 pages) */
    uint64_t chunks = (npages + GORT_CHUNK_PAGES - 1) / GORT_CHUNK_PAGES;
    gort_heap_arena *last = h->nslots ? h->slots[h->nslots - 1] : NULL;
    if (last && !last->map_failed && last->mapped_pages + chunks * GORT_CHUNK_PAGES <= (uint64_t)GORT_PAGES_PER_ARENA) {
        size_t bytes = (size_t)chunks * GORT_CHUNK_PAGES * GORT_PAGE_SIZE;
        if (gort__arena_map_more_locked(last, bytes)) {
            arena_mapped(last, last->mapped_pages, last->mapped_pages + (uint32_t)(chunks * GORT_CHUNK_PAGES));
            return true;
        }
        if (errno == ENOMEM) return false;
        last->map_failed = true; /* something else was mapped there: a new arena */
    }
    size_t narenas = (npages + GORT_PAGES_PER_ARENA - 1) / GORT_PAGES_PER_ARENA;
    /* A request of an arena or less maps only what it needs of the new arena
     * (with a chunk for the guard pages below when they fall in the way); a
     * larger one maps its whole range. */
    uint64_t first_chunks = (npages + GUARD_PAGES + GORT_CHUNK_PAGES - 1) / GORT_CHUNK_PAGES;
    size_t map = narenas == 1 && first_chunks <= GORT_CHUNKS_PER_ARENA
        ? (size_t)first_chunks * GORT_CHUNK_PAGES * GORT_PAGE_SIZE
        : narenas * GORT_ARENA_BYTES;
    uint32_t first = h->nslots;
    if (first + narenas + 1 > GORT_MAX_ARENA_SLOTS || !sums_reserve_locked(first + narenas + 1)) {
        errno = ENOMEM;
        return false;
    }
    uintptr_t base = gort__arena_reserve_locked(narenas, &map);
    if (!base) return false;
    if (first > 0 && !(h->slots[first - 1] && h->slots[first - 1]->base + GORT_ARENA_BYTES == base))
        first++; /* not contiguous with the last arena: leave a hole */
    for (size_t i = 0; i < narenas; i++) {
        gort_heap_arena *ha = gort__arena_register_locked(base + i * GORT_ARENA_BYTES, first + (uint32_t)i);
        if (!ha) { /* metadata refused: keep what registered, drop the rest */
            if (i == 0) {
                gort__sys_free((void *)base, map, GORT_OS_PREPARED);
                errno = ENOMEM;
                return false;
            }
            narenas = i;
            break;
        }
        h->slots[first + i] = ha;
    }
    h->nslots = first + (uint32_t)narenas;
    h->narenas += (uint32_t)narenas;
    for (size_t i = 0; i < narenas; i++) {
        size_t done = i * GORT_ARENA_BYTES, m = map > done ? map - done : 0;
        if (m > GORT_ARENA_BYTES) m = GORT_ARENA_BYTES;
        gort_heap_arena *ha = h->slots[first + i];
        arena_mapped(ha, 0, (uint32_t)(m / GORT_PAGE_SIZE));
    }
    /* A growth for a request of more than an arena keeps no guard: the
     * request's run may cross a 4 GiB boundary (a 4 GiB object must). */
    for (size_t i = 0; i < narenas && npages + GUARD_PAGES <= GORT_PAGES_PER_ARENA; i++) {
        if (!guard_arena(h->slots[first + i]->base)) continue;
        h->slots[first + i]->guard_pages = GUARD_PAGES;
        range_apply((uint64_t)(first + i) << 13, GUARD_PAGES, w_alloc);
        h->pages_total -= GUARD_PAGES; /* not heap pages: neither in use nor free */
        h->pages_scav -= GUARD_PAGES;
        update_chunks((uint64_t)(first + i) * GORT_CHUNKS_PER_ARENA, (uint64_t)(first + i) * GORT_CHUNKS_PER_ARENA);
    }
    return true;
}

static void set_spans(uint64_t pn, uint64_t n, gort_mspan *s) {
    for (uint64_t i = 0; i < n; i++) {
        gort_heap_arena *ha = pn_arena(pn + i);
        atomic_store_explicit(&ha->spans[(pn + i) & 8191], s, memory_order_relaxed);
    }
}

/* The page -> span map of pages [pn, pn+n), now all NULL: its whole OS
 * pages go back to the OS (they read as NULL after), so that a huge object's
 * metadata (8 bytes per 8 KiB page) is returned with it. */
static void release_span_map(uint64_t pn, uint64_t n) {
    if (n < 2 * (GORT_OS_PAGE / sizeof(void *))) return;
    for (uint64_t end = pn + n; pn < end;) {
        gort_heap_arena *ha = pn_arena(pn);
        uint64_t i0 = pn & 8191, i1 = i0 + (end - pn);
        if (i1 > GORT_PAGES_PER_ARENA) i1 = GORT_PAGES_PER_ARENA;
        uintptr_t a = ((uintptr_t)&ha->spans[i0] + GORT_OS_PAGE - 1) & ~(uintptr_t)(GORT_OS_PAGE - 1);
        uintptr_t e = (uintptr_t)&ha->spans[i1] & ~(uintptr_t)(GORT_OS_PAGE - 1);
        if (a < e) gort__sys_zero((void *)a, e - a);
        pn += i1 - i0;
    }
}

static unsigned bitsclass_for(unsigned nelems) {
    unsigned words = (nelems + 63) / 64, k = 0;
    while ((1u << k) < words) k++;
    return k;
}

/* Dirty runs of a new span that must read as zero (calloc): collected under
 * the lock from the scav bits before allocation clears them, zeroed after. */
#define ZRUNS 16
typedef struct zruns {
    unsigned n;
    struct {
        uintptr_t addr;
        size_t bytes;
    } r[ZRUNS];
} zruns;

/* Collects the runs of pages in [pn, pn+n) that are not scavenged (dirty);
 * beyond ZRUNS runs the last one grows to cover the rest (over-zeroing is
 * correct). */
static void collect_dirty(uint64_t pn, uint64_t n, zruns *z) {
    z->n = 0;
    uint64_t end = pn + n, run = UINT64_MAX;
    for (uint64_t p = pn; p <= end; p++) {
        bool dirty = false;
        if (p < end) {
            uint64_t ci = p >> 9;
            unsigned bit = p & 511;
            uint64_t sc = chunk_scav(ci)[bit >> 6];
            if ((bit & 63) == 0 && p + 64 <= end && sc == ~(uint64_t)0 && run == UINT64_MAX) {
                p += 63; /* a whole scavenged word */
                continue;
            }
            dirty = !(sc >> (bit & 63) & 1);
        }
        if (dirty && run == UINT64_MAX) run = p;
        if (!dirty && run != UINT64_MAX) {
            uintptr_t a = pn_addr(run);
            size_t bytes = (size_t)(p - run) << GORT_PAGE_SHIFT;
            if (z->n == ZRUNS) z->r[ZRUNS - 1].bytes = a + bytes - z->r[ZRUNS - 1].addr;
            else z->r[z->n++] = (typeof(z->r[0])){a, bytes};
            run = UINT64_MAX;
        }
    }
}

static gort_mspan *alloc_span(size_t npages, size_t align_pages, unsigned spc, zruns *z);

gort_mspan *gort__heap_alloc_span(size_t npages, size_t align_pages, unsigned spc) {
    return alloc_span(npages, align_pages, spc, NULL);
}

/* Dirty runs this long or longer are given back (MADV_DONTNEED: they read as
 * zero and cost no memory until touched) rather than cleared with memset.
 * Measured with bench/zeroing.c on the 2-core AMD EPYC VM: memset of
 * resident memory 10.9 ms for 64 MiB, 22.7 ms for 128 MiB, 39.9 ms for
 * 256 MiB; madvise 17.0, 31.2, 39.8 ms (page faults and TLB flushes are dear
 * on that VM; on bare metal the crossover is lower). */
#define ZERO_MADVISE_MIN ((size_t)256 << 20)

/* A large span whose memory reads as zero (calloc): only the pages that were
 * used before are cleared; pages never touched, or given back, are zero. */
gort_mspan *gort__heap_alloc_span_zeroed(size_t npages, size_t align_pages, unsigned spc) {
    zruns z;
    gort_mspan *s = alloc_span(npages, align_pages, spc, &z);
    if (!s) return NULL;
    for (unsigned i = 0; i < z.n; i++) {
        if (z.r[i].bytes >= ZERO_MADVISE_MIN) gort__sys_zero((void *)z.r[i].addr, z.r[i].bytes);
        else memset((void *)z.r[i].addr, 0, z.r[i].bytes);
    }
    s->needzero = 0;
    return s;
}

/* Large collected pointer-free objects (slices' backing arrays, Go's
 * noscan) get Go's huge-page advice whatever GORT_HUGEPAGES says: a slice
 * grown by append is written through at once, and with 2 MiB faults 10M
 * appends of an int took 52 ns each instead of 99 (6,900 page faults
 * instead of 91,700; bench/README.md). 0 turns it off, for measuring. */
#ifndef GORT_NOSCAN_HUGE
#define GORT_NOSCAN_HUGE 1
#endif

static gort_mspan *alloc_span(size_t npages, size_t align_pages, unsigned spc, zruns *z) {
    gort_mheap *h = &gort__heap;
    if (npages == 0 || npages > UINT32_MAX || align_pages > ((uint64_t)1 << 34)) { /* mspan.npages: 32 bits */
        errno = ENOMEM;
        return NULL;
    }
    unsigned cls = gort__spc_class(spc);
    unsigned nelems = cls ? gort_class_to_nelems[cls] : 1;
    unsigned bc = bitsclass_for(nelems);
    uint64_t want = npages + (align_pages > 1 ? align_pages - 1 : 0);
    gort__scavenge_on_alloc();
    gort__lock(&h->lock, GORT_RANK_MHEAP);
    int64_t pn = sums[0] ? pages_find(want) : -1;
    if (pn < 0) {
        /* Go's inline scavenging: before the heap grows, give back free pages
         * beyond the retained goal, up to the growth: the heap's footprint
         * grows by no more than the program's. */
        uint64_t over = gort__scavenge_overage_locked();
        if (over) gort__heap_scavenge_locked(over < want ? over : want);
        /* A request of an arena or more: would the kernel grant it to a
         * plain mmap, as glibc's malloc asks? The arenas themselves are
         * mapped MAP_NORESERVE, which the overcommit heuristic never
         * refuses: without this, malloc(1 TiB) on a small machine took
         * seconds, 1 GiB of metadata, and ended in the OOM killer. */
        if (want >= GORT_PAGES_PER_ARENA && !gort__sys_probe((size_t)want << GORT_PAGE_SHIFT)) {
            gort__unlock(&h->lock, GORT_RANK_MHEAP);
            errno = ENOMEM;
            return NULL;
        }
        if (!heap_grow_locked(want)) {
            gort__unlock(&h->lock, GORT_RANK_MHEAP);
            errno = ENOMEM;
            return NULL;
        }
        pn = pages_find(want);
        if (pn < 0) {
            gort__unlock(&h->lock, GORT_RANK_MHEAP);
            errno = ENOMEM;
            return NULL;
        }
    }
    if (align_pages > 1) {
        uintptr_t a = pn_addr((uint64_t)pn), align = align_pages * GORT_PAGE_SIZE;
        pn += (int64_t)((((a + align - 1) & ~(align - 1)) - a) >> GORT_PAGE_SHIFT);
    }
    gort_mspan *s = gort__slab_alloc(&h->spanalloc[bc]);
    if (!s) {
        gort__unlock(&h->lock, GORT_RANK_MHEAP);
        errno = ENOMEM;
        return NULL;
    }
    if (z) collect_dirty((uint64_t)pn, npages, z);
    uint64_t scav = range_apply((uint64_t)pn, npages, w_alloc);
    update_chunks((uint64_t)pn >> 9, ((uint64_t)pn + npages - 1) >> 9);
    h->pages_inuse += npages;
    h->pages_scav -= scav;
    /* each arena's high-water mark (for the heap's picture, heapview.c) */
    for (uint64_t q = (uint64_t)pn >> 13, last = ((uint64_t)pn + npages - 1) >> 13; q <= last; q++) {
        uint32_t top = q < last ? (uint32_t)GORT_PAGES_PER_ARENA : (uint32_t)((((uint64_t)pn + npages - 1) & 8191) + 1);
        if (h->slots[q]->used_top < top) h->slots[q]->used_top = top;
    }
    uintptr_t base = pn_addr((uint64_t)pn);
    if (scav)
        gort__sys_used_advise((void *)base, npages * GORT_PAGE_SIZE, scav * GORT_PAGE_SIZE,
                              gort__options.hugepages ||
                                  (GORT_NOSCAN_HUGE && cls == 0 && gort__spc_kind(spc) == GORT_KIND_GC_NOSCAN));
    gort__span_init(s, bc, base, npages, spc, nelems, scav < npages);
    atomic_store_explicit(&s->sweepgen, atomic_load_explicit(&h->sweepgen, memory_order_relaxed), memory_order_relaxed);
    set_spans((uint64_t)pn, npages, s);
    gort_heap_arena *ha = pn_arena((uint64_t)pn);
    ha->page_in_use[(pn & 8191) >> 6] |= (uint64_t)1 << (pn & 63);
    gort__unlock(&h->lock, GORT_RANK_MHEAP);
    return s;
}

/* Free, backed pages above the retained goal of gort__options.retain_min
 * bytes: what the scavenger may give back. (Go retains 10% over its heap
 * goal; gort's scavenger waits for pages to stay idle for a window instead,
 * which protects a busy heap without keeping a share of it.) */
uint64_t gort__scavenge_overage_locked(void) {
    gort__assert_held(GORT_RANK_MHEAP);
    gort_mheap *h = &gort__heap;
    uint64_t dirty = h->pages_total - h->pages_inuse - h->pages_scav;
    uint64_t keep = gort__options.retain_min, gc = gort__gc_retain_bytes();
    uint64_t goal = (keep > gc ? keep : gc) >> GORT_PAGE_SHIFT;
    return dirty > goal ? dirty - goal : 0;
}

void gort__heap_free_span(gort_mspan *s) {
    gort_mheap *h = &gort__heap;
    if (GORT_UNLIKELY(atomic_load_explicit(&s->prof, memory_order_relaxed) != 0)) gort__prof_span_freed(s);
    gort__lock(&h->lock, GORT_RANK_MHEAP);
    if (s->state != GORT_SPAN_IN_USE) gort__throw_addr("freeing a span not in use", (void *)s->base);
    uint64_t pn = addr_pn(s->base);
    set_spans(pn, s->npages, NULL);
    release_span_map(pn, s->npages);
    gort_heap_arena *ha = pn_arena(pn);
    ha->page_in_use[(pn & 8191) >> 6] &= ~((uint64_t)1 << (pn & 63));
    range_apply(pn, s->npages, w_free);
    update_chunks(pn >> 9, (pn + s->npages - 1) >> 9);
    h->pages_inuse -= s->npages;
    s->state = GORT_SPAN_DEAD;
    gort__slab_free(&h->spanalloc[s->bitsclass], s);
    /* The caller may hold an mcentral lock: the scavenger thread, if wanted,
     * is started by the next span allocation. */
    gort__scavenge_on_free_locked();
    gort__unlock(&h->lock, GORT_RANK_MHEAP);
}

bool gort__heap_grow_span(gort_mspan *s, size_t npages) {
    gort_mheap *h = &gort__heap;
    if (npages <= s->npages) return true;
    if (npages > UINT32_MAX) return false; /* more than mspan.npages holds (32 TiB) */
    gort__lock(&h->lock, GORT_RANK_MHEAP);
    uint64_t pn = addr_pn(s->base), end = pn + s->npages, extra = npages - s->npages;
    /* The pages after the span must lie in the heap's slots, and every slot
     * must hold an arena: at most nslots steps, whatever the request. */
    bool ok = end + extra <= (uint64_t)h->nslots << 13;
    for (uint64_t slot = end >> 13; ok && slot <= (end + extra - 1) >> 13; slot++)
        if (!h->slots[slot]) ok = false;
    if (ok && range_apply(end, extra, w_count_used) != 0) ok = false;
    if (ok) {
        uint64_t scav = range_apply(end, extra, w_alloc);
        update_chunks(end >> 9, (end + extra - 1) >> 9);
        h->pages_inuse += extra;
        h->pages_scav -= scav;
        if (scav) gort__sys_used((void *)pn_addr(end), extra * GORT_PAGE_SIZE, scav * GORT_PAGE_SIZE);
        if (scav < extra) s->needzero = 1;
        set_spans(end, extra, s);
        s->npages = npages;
        s->elemsize = s->cache_elemsize = npages * GORT_PAGE_SIZE;
        s->limit = s->base + s->elemsize;
    }
    gort__unlock(&h->lock, GORT_RANK_MHEAP);
    return ok;
}

/* Returns up to max_pages free, backed pages to the OS, from the highest
 * addresses down (first fit reuses the low ones); returns pages released. */
uint64_t gort__heap_scavenge_locked(uint64_t max_pages) {
    gort__assert_held(GORT_RANK_MHEAP);
    gort_mheap *h = &gort__heap;
    uint64_t released = 0;
    for (uint32_t slot = h->nslots; slot-- > 0 && released < max_pages;) {
        gort_heap_arena *ha = h->slots[slot];
        if (!ha) continue;
        for (unsigned c = GORT_CHUNKS_PER_ARENA; c-- > 0 && released < max_pages;) {
            uint64_t dirty[GORT_CHUNK_WORDS]; /* 0 = free and backed */
            bool any = false;
            for (unsigned w = 0; w < GORT_CHUNK_WORDS; w++) {
                dirty[w] = ha->palloc[c][w] | ha->scav[c][w];
                any |= dirty[w] != ~(uint64_t)0;
            }
            unsigned pos = 0;
            while (any && pos < GORT_CHUNK_PAGES && released < max_pages) {
                unsigned fs = next_bit(dirty, pos, 0);
                if (fs >= GORT_CHUNK_PAGES) break;
                unsigned fe = next_bit(dirty, fs, 1);
                if (fe - fs > max_pages - released) fe = fs + (unsigned)(max_pages - released);
                uintptr_t a = ha->base + ((uintptr_t)(c * GORT_CHUNK_PAGES + fs) << GORT_PAGE_SHIFT);
                gort__sys_unused((void *)a, (size_t)(fe - fs) << GORT_PAGE_SHIFT);
                for (unsigned p = fs; p < fe; p++) ha->scav[c][p >> 6] |= (uint64_t)1 << (p & 63);
                h->pages_scav += fe - fs;
                released += fe - fs;
                pos = fe;
            }
        }
    }
    return released;
}

/* Releases every free run of at least min_run pages (within a chunk) that
 * holds dirty pages, already released pages included, and runs that touch
 * across chunk boundaries as one: one madvise per run, since each is a TLB
 * shootdown on a multi-threaded program. Returns the dirty pages released. */
static void release_range(uintptr_t lo, uintptr_t hi) {
    if (lo != hi) gort__sys_unused((void *)lo, hi - lo);
}

uint64_t gort__heap_scavenge_runs_locked(uint64_t min_run) {
    gort__assert_held(GORT_RANK_MHEAP);
    gort_mheap *h = &gort__heap;
    uint64_t released = 0;
    uintptr_t lo = 0, hi = 0; /* the pending range, grown downwards */
    size_t clean = 0;
    for (uint32_t slot = h->nslots; slot-- > 0;) {
        gort_heap_arena *ha = h->slots[slot];
        if (!ha) continue;
        for (unsigned c = GORT_CHUNKS_PER_ARENA; c-- > 0;) {
            bool any = false;
            for (unsigned w = 0; w < GORT_CHUNK_WORDS; w++) any |= (ha->palloc[c][w] | ha->scav[c][w]) != ~(uint64_t)0;
            if (!any) continue;
            /* this chunk's runs, highest first */
            unsigned runs[GORT_CHUNK_PAGES / 2][2], nr = 0;
            for (unsigned pos = 0; pos < GORT_CHUNK_PAGES;) {
                unsigned fs = next_bit(ha->palloc[c], pos, 0);
                if (fs >= GORT_CHUNK_PAGES) break;
                unsigned fe = next_bit(ha->palloc[c], fs, 1);
                pos = fe;
                if (fe - fs < min_run) continue;
                uint64_t dirty = 0;
                for (unsigned p = fs; p < fe; p++) dirty += !(ha->scav[c][p >> 6] >> (p & 63) & 1);
                if (!dirty) continue;
                for (unsigned p = fs; p < fe; p++) ha->scav[c][p >> 6] |= (uint64_t)1 << (p & 63);
                h->pages_scav += dirty;
                released += dirty;
                clean += (size_t)(fe - fs - dirty) << GORT_PAGE_SHIFT;
                runs[nr][0] = fs;
                runs[nr][1] = fe;
                nr++;
            }
            while (nr-- > 0) {
                uintptr_t a = ha->base + ((uintptr_t)(c * GORT_CHUNK_PAGES + runs[nr][0]) << GORT_PAGE_SHIFT);
                uintptr_t e = ha->base + ((uintptr_t)(c * GORT_CHUNK_PAGES + runs[nr][1]) << GORT_PAGE_SHIFT);
                if (e != lo) {
                    release_range(lo, hi);
                    hi = e;
                }
                lo = a;
            }
        }
    }
    release_range(lo, hi);
    /* sys_unused moved whole runs Ready -> Prepared: their pages released
     * before were Prepared already */
    if (clean) gort__sys_used(NULL, 0, clean);
    return released;
}

void gort__heap_trim_slabs_locked(bool all) {
    gort__assert_held(GORT_RANK_MHEAP);
    for (unsigned k = 0; k < 5; k++) gort__slab_trim(&gort__heap.spanalloc[k], all);
}

size_t gort__heap_release_free_locked(void) {
    gort__assert_held(GORT_RANK_MHEAP);
    gort__heap_trim_slabs_locked(true);
    return (size_t)gort__heap_scavenge_locked(UINT64_MAX) << GORT_PAGE_SHIFT;
}

/* Checks the page heap: summaries, bitmaps, span map, counters. */
size_t gort__heap_check_locked(void) {
    gort__assert_held(GORT_RANK_MHEAP);
    gort_mheap *h = &gort__heap;
    size_t nspans = 0;
    uint64_t inuse = 0, scav = 0;
    if (!sums[0]) return 0;
    for (uint64_t ci = 0; ci < (uint64_t)h->nslots * GORT_CHUNKS_PER_ARENA; ci++) {
        gort_heap_arena *ha = h->slots[ci >> 4];
        psum want = ha ? chunk_summarize(ha->palloc[ci & 15]) : (psum){0, 0, 0};
        psum got = sums[LEAF][ci];
        if (memcmp(&want, &got, sizeof want)) gort__throw("heap check: stale chunk summary");
    }
    for (int l = LEAF - 1; l >= 0; l--) {
        unsigned sh = 3 * (LEAF - l);
        uint64_t n = (((uint64_t)h->nslots * GORT_CHUNKS_PER_ARENA) + ((uint64_t)1 << sh) - 1) >> sh;
        for (uint64_t i = 0; i < n; i++) {
            psum want = merge(&sums[l + 1][i * 8], (uint32_t)level_pages(l + 1));
            if (memcmp(&want, &sums[l][i], sizeof want)) gort__throw("heap check: stale summary");
        }
    }
    for (uint32_t slot = 0; slot < h->nslots; slot++) {
        gort_heap_arena *ha = h->slots[slot];
        if (!ha) continue;
        if (gort__arena_of(ha->base) != ha) gort__throw("heap check: arena index");
        for (unsigned p = 0; p < GORT_PAGES_PER_ARENA; p++) {
            bool used = ha->palloc[p >> 9][(p & 511) >> 6] >> (p & 63) & 1;
            bool sc = ha->scav[p >> 9][(p & 511) >> 6] >> (p & 63) & 1;
            gort_mspan *s = ha->spans[p];
            if (p < ha->guard_pages || p >= ha->mapped_pages) {
                if (!used || sc || s) gort__throw("heap check: guard page or unmapped page");
                continue;
            }
            inuse += used;
            scav += sc;
            if (used && sc) gort__throw("heap check: page in use and scavenged");
            if (used != (s != NULL)) gort__throw("heap check: span map disagrees with page bitmap");
            if (!s) continue;
            uintptr_t a = ha->base + ((uintptr_t)p << GORT_PAGE_SHIFT);
            if (s->state != GORT_SPAN_IN_USE || a < s->base || a >= s->base + s->npages * GORT_PAGE_SIZE)
                gort__throw_addr("heap check: span map points at a wrong span", (void *)a);
            if (a == s->base) {
                nspans++;
                if (!(ha->page_in_use[p >> 6] >> (p & 63) & 1)) gort__throw("heap check: pageInUse bit");
            }
        }
    }
    if (inuse != h->pages_inuse) gort__throw("heap check: pages_inuse counter");
    if (scav != h->pages_scav) gort__throw("heap check: pages_scav counter");
    return nspans;
}
