/* White-box: the page heap against a reference model of pages (single-threaded, so
 * not run under TSan). Every allocation must be the address-ordered first fit the model
 * finds among the pages mapped so far, or come from newly mapped ones (more of the last
 * arena, or new arenas) when no fit exists. The first
 * 8 pages (64 KiB) of every 4 GiB of address space are never handed out (pageheap.c:
 * stale upper halves of heap pointers over small integers point there). */
#include "check.h"
#include "internal.h"

#define MAXLIVE 512
typedef struct {
    gort_mspan *s;
    uintptr_t base;
    size_t npages;
} live_t;
static live_t live[MAXLIVE + 64];
static int nlive;
static char used[(size_t)GORT_PAGES_PER_ARENA * 256]; /* model, by page number slot<<13|page */

static size_t pn_of(uintptr_t a) { return (size_t)gort__arena_of(a)->slot << 13 | ((a >> GORT_PAGE_SHIFT) & 8191); }
static void model_mark(uintptr_t base, size_t n, char v) {
    size_t pn = pn_of(base);
    CHECK(pn + n <= sizeof used);
    for (size_t i = 0; i < n; i++) {
        CHECK(used[pn + i] != v); /* no overlap, no double free */
        used[pn + i] = v;
    }
}
static int model_used(uintptr_t a) { return used[pn_of(a)]; }

/* First fit in slot order over the heap's arenas; 0 if none. Runs do not cross holes. */
static uintptr_t model_first_fit(size_t n, const char *u, size_t npg) {
    size_t run = 0;
    for (size_t pn = 0; pn < npg; pn++) {
        if (u[pn]) {
            run = 0;
            continue;
        }
        if (++run == n) {
            size_t start = pn + 1 - n;
            gort_heap_arena *ha = gort__heap.slots[start >> 13];
            return ha->base + ((start & 8191) << GORT_PAGE_SHIFT);
        }
    }
    return 0;
}

enum { GUARD = 8 };
static bool guarded(size_t sl) { return gort__heap.slots[sl]->guard_pages != 0; }

int main(void) {
    uint64_t rng = test_seed();
    int ops = (int)(40000 * test_scale());
    unsigned spc = gort__spc_make(0, GORT_KIND_MANUAL);
    for (int op = 0; op < ops; op++) {
        uint64_t r = rng_next(&rng);
        if (nlive > 0 && (r % 100 < 50 || nlive == MAXLIVE)) {
            int i = (int)((r >> 8) % (uint64_t)nlive);
            model_mark(live[i].base, live[i].npages, 0);
            gort__heap_free_span(live[i].s);
            live[i] = live[--nlive];
        } else {
            /* mostly small runs, sometimes chunk- and arena-sized ones */
            size_t n;
            switch ((r >> 8) % 16) {
            case 0: n = 1 + (r >> 16) % 2048; break;
            case 1: n = 1 + (r >> 16) % 9000; break;
            default: n = 1 + (r >> 16) % 24; break;
            }
            size_t npg = (size_t)gort__heap.nslots * GORT_PAGES_PER_ARENA;
            CHECK(npg <= sizeof used);
            /* holes, guard pages and pages not mapped yet read as used */
            for (size_t sl = 0; sl < gort__heap.nslots; sl++) {
                gort_heap_arena *ha = gort__heap.slots[sl];
                if (!ha) {
                    memset(used + (sl << 13), 1, GORT_PAGES_PER_ARENA);
                    continue;
                }
                if (guarded(sl)) memset(used + (sl << 13), 1, GUARD);
                for (size_t p = ha->mapped_pages; p < GORT_PAGES_PER_ARENA; p++) used[(sl << 13) + p] = 1;
            }
            uintptr_t want = model_first_fit(n, used, npg);
            uint64_t total_before = gort__heap.pages_total;
            /* pages mapped later must read as unused again: clear the marks */
            for (size_t sl = 0; sl < gort__heap.nslots; sl++) {
                gort_heap_arena *ha = gort__heap.slots[sl];
                if (ha) memset(used + (sl << 13) + ha->mapped_pages, 0, GORT_PAGES_PER_ARENA - ha->mapped_pages);
            }
            gort_mspan *s = gort__heap_alloc_span(n, 1, spc);
            CHECK(s != NULL);
            CHECK_EQ(s->npages, n);
            CHECK_EQ(s->base % GORT_PAGE_SIZE, 0);
            if (want) CHECK_EQ(s->base, want);
            else CHECK(gort__heap.pages_total > total_before); /* had to grow */
            for (size_t k = 0; k < n; k += 1 + n / 7) CHECK(gort__span_of(s->base + k * GORT_PAGE_SIZE) == s);
            CHECK(gort__span_of(s->base + n * GORT_PAGE_SIZE - 1) == s);
            model_mark(s->base, n, 1);
            live[nlive++] = (live_t){s, s->base, n};
        }
        if (op % 500 == 0) {
            gort__lock(&gort__heap.lock, GORT_RANK_MHEAP);
            gort__heap_check_locked();
            gort__unlock(&gort__heap.lock, GORT_RANK_MHEAP);
        }
    }
    /* aligned runs */
    for (int k = 0; k < 40; k++) {
        size_t align_pages = (size_t)1 << (k % 14);
        gort_mspan *s = gort__heap_alloc_span(1 + k, align_pages, spc);
        CHECK(s && s->base % (align_pages * GORT_PAGE_SIZE) == 0);
        model_mark(s->base, s->npages, 1);
        live[nlive++] = (live_t){s, s->base, s->npages};
    }
    /* growth in place */
    gort_mspan *g = gort__heap_alloc_span(3, 1, spc);
    CHECK(g);
    if (gort__arena_of(g->base + 3 * GORT_PAGE_SIZE) && !model_used(g->base + 3 * GORT_PAGE_SIZE) &&
        !model_used(g->base + 4 * GORT_PAGE_SIZE)) {
        CHECK(gort__heap_grow_span(g, 5));
        CHECK(gort__span_of(g->base + 4 * GORT_PAGE_SIZE) == g);
    }
    gort__heap_free_span(g);
    while (nlive > 0) {
        nlive--;
        model_mark(live[nlive].base, live[nlive].npages, 0);
        gort__heap_free_span(live[nlive].s);
    }
    gort__lock(&gort__heap.lock, GORT_RANK_MHEAP);
    gort__heap_check_locked();
    CHECK_EQ(gort__heap.pages_inuse, 0);
    gort__unlock(&gort__heap.lock, GORT_RANK_MHEAP);
    /* everything free again: one run as big as the first arena's mapped pages (less its
     * guard pages) is found at its base (after them) */
    size_t g0 = gort__heap.slots[0]->guard_pages;
    CHECK_EQ(gort__heap.slots[0]->mapped_pages % 512, 0);
    /* an arena at a 4 GiB boundary (Go's hint, 0xc000000000, is one) has its guard,
     * unless the growth that made it was for a run of about an arena (a 9000-page
     * request first, for some seeds) */
    CHECK(g0 == 0 || (g0 == GUARD && (gort__heap.slots[0]->base & 0xffffffffu) == 0));
    gort_mspan *all = gort__heap_alloc_span(gort__heap.slots[0]->mapped_pages - g0, 1, spc);
    CHECK(all && all->base == gort__heap.slots[0]->base + g0 * GORT_PAGE_SIZE);
    gort__heap_free_span(all);
    /* the guard pages: no span, and no allocation's low 32 address bits below 64 KiB */
    size_t nguarded = 0;
    for (size_t sl = 0; sl < gort__heap.nslots; sl++) {
        if (!gort__heap.slots[sl] || !guarded(sl)) continue;
        nguarded++;
        for (unsigned p = 0; p < GUARD; p++)
            CHECK(gort__span_of(gort__heap.slots[sl]->base + p * GORT_PAGE_SIZE) == NULL);
    }
#if !defined(__SANITIZE_ADDRESS__)
    CHECK(nguarded > 0);
#endif
    gort_release_memory(); /* what inline scavenging has not given back already */
    gort__lock(&gort__heap.lock, GORT_RANK_MHEAP);
    gort__heap_check_locked();
    CHECK_EQ(gort__heap.pages_scav, gort__heap.pages_total);
    gort__unlock(&gort__heap.lock, GORT_RANK_MHEAP);
    /* objects, small and large, from a heap whose every page is free */
    for (int k = 0; k < 2000; k++) {
        void *p = gort_malloc(k % 7 == 0 ? 70000 : 16);
        gort_heap_arena *ha = p ? gort__arena_of((uintptr_t)p) : NULL;
        CHECK(ha && (uintptr_t)p - ha->base >= ha->guard_pages * GORT_PAGE_SIZE);
        CHECK(ha->guard_pages == 0 || ((uintptr_t)p & 0xffffffffu) >= GUARD * GORT_PAGE_SIZE);
    }
    printf("ok: %d ops, %u slots\n", ops, gort__heap.nslots);
    return 0;
}
