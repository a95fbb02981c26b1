/* White-box unit tests of the lower layers: the OS layer's state accounting, arena
 * placement at Go's hints and the arena index, persistentalloc, fixalloc and the span
 * slab allocator, span geometry (bitmaps out of line, magic division), and the span
 * lists (against a model, and where a thread cache files a span a free opens). */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>

#include "check.h"
#include "internal.h"

static uint64_t os_reserved(void) { return atomic_load(&gort__os.reserved); }
static uint64_t os_prepared(void) { return atomic_load(&gort__os.prepared); }
static uint64_t os_ready(void) { return atomic_load(&gort__os.ready); }

static void test_os_states(void) {
    size_t n = 16 * GORT_OS_PAGE;
    uint64_t r0 = os_reserved(), p0 = os_prepared(), y0 = os_ready();
    char *v = gort__sys_reserve(NULL, n, false); /* None -> Reserved */
    CHECK(v);
    CHECK_EQ(os_reserved(), r0 + n);
    CHECK(gort__sys_map(v, n)); /* Reserved -> Prepared */
    CHECK_EQ(os_reserved(), r0);
    CHECK_EQ(os_prepared(), p0 + n);
    gort__sys_used(v, n, n); /* Prepared -> Ready */
    CHECK_EQ(os_prepared(), p0);
    CHECK_EQ(os_ready(), y0 + n);
    memset(v, 0xab, n);
    gort__sys_unused(v, n); /* Ready -> Prepared: the pages read as zero again */
    CHECK_EQ(os_ready(), y0);
    CHECK_EQ(os_prepared(), p0 + n);
    for (size_t i = 0; i < n; i += 512) CHECK(v[i] == 0);
    gort__sys_used(v, n, n);
    gort__sys_fault(v, n); /* Ready -> Reserved: any access would fault now */
    CHECK_EQ(os_ready(), y0);
    CHECK_EQ(os_reserved(), r0 + n);
    gort__sys_free(v, n, GORT_OS_RESERVED); /* -> None */
    CHECK_EQ(os_reserved(), r0);
    CHECK_EQ(os_ready(), y0);
    char *a = gort__sys_alloc_aligned(64 * 1024, 64 * 1024);
    CHECK(a && ((uintptr_t)a & (64 * 1024 - 1)) == 0);
    a[0] = a[64 * 1024 - 1] = 1;
    gort__sys_free(a, 64 * 1024, GORT_OS_READY);
    /* exact reservation refuses an occupied range */
    char *w = gort__sys_reserve(NULL, n, false);
    CHECK(w);
    CHECK(gort__sys_reserve(w, n, true) == NULL);
    gort__sys_free(w, n, GORT_OS_RESERVED);
}

static void test_arenas(void) {
    void *p = gort_malloc(100);
    CHECK(p);
    uintptr_t a = (uintptr_t)p;
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    /* the first arena sits at Go's first hint (sanitizers own that range) */
    CHECK_EQ(gort__heap.slots[0]->base, (uintptr_t)0x00c000000000);
#endif
    gort_heap_arena *ha = gort__arena_of(a);
    CHECK(ha && ha->base == (a & ~(uintptr_t)(GORT_ARENA_BYTES - 1)));
    gort_mspan *s = gort__span_of(a);
    CHECK(s && s->state == GORT_SPAN_IN_USE && a >= s->base && a < s->limit);
    /* every interior byte of the object finds the same span */
    for (size_t off = 0; off < gort_usable_size(p); off++) CHECK(gort__span_of(a + off) == s);
    /* the bitmaps are out of line: not inside any object page */
    CHECK((uintptr_t)s->words < s->base || (uintptr_t)s->words >= s->base + s->npages * GORT_PAGE_SIZE);
    CHECK(gort__arena_of(a) == ha);
    CHECK(gort__span_of((uintptr_t)&ha) == NULL); /* a stack address */
    CHECK(gort__span_of((uintptr_t)1 << 60) == NULL);
    /* a large object's pages all map to its span */
    char *big = gort_malloc(3 << 20);
    gort_mspan *bs = gort__span_of((uintptr_t)big);
    CHECK(bs && bs->npages == (3u << 20) / GORT_PAGE_SIZE);
    for (size_t off = 0; off < (3u << 20); off += GORT_PAGE_SIZE) CHECK(gort__span_of((uintptr_t)big + off) == bs);
    gort_free(big);
    CHECK(gort__span_of((uintptr_t)big) == NULL); /* freed pages map to nothing */
    gort_free(p);
}

static void test_metadata_allocators(void) {
    uint64_t m0 = atomic_load(&gort__metadata_bytes);
    void *x = gort__persistent_alloc(100, 64), *y = gort__persistent_alloc(100, 8);
    CHECK(x && y && ((uintptr_t)x & 63) == 0 && x != y);
    CHECK(((char *)x)[99] == 0);
    gort_fixalloc f = {.size = 48};
    void *b1 = gort__fixalloc_alloc(&f), *b2 = gort__fixalloc_alloc(&f);
    CHECK(b1 && b2 && b1 != b2 && f.inuse == 2);
    memset(b1, 0xff, 48);
    gort__fixalloc_free(&f, b1);
    void *b3 = gort__fixalloc_alloc(&f);
    CHECK(b3 == b1 && ((char *)b3)[47] == 0); /* LIFO, zeroed */
    /* slabs: fill several, free all but one block each time, then everything */
    gort_slaballoc sa = {.size = 320};
    enum { N = 20000 }; /* about 100 slabs */
    static void *blk[N];
    for (int i = 0; i < N; i++) {
        blk[i] = gort__slab_alloc(&sa);
        CHECK(blk[i] && ((uintptr_t)blk[i] & 15) == 0);
        memset(blk[i], i & 0xff, 320);
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N && j < i + 3; j++) CHECK(blk[i] != blk[j]);
    uint64_t full = atomic_load(&gort__metadata_bytes);
    CHECK(full >= m0 + N * 320);
    for (int i = 0; i < N; i++) gort__slab_free(&sa, blk[i]);
    /* the empty slabs stay mapped until a trim finds them still empty */
    uint64_t slabs = N * 320 / (64 * 1024);
    CHECK(sa.nempty == sa.nslabs && sa.nslabs >= slabs);
    CHECK_EQ(atomic_load(&gort__metadata_bytes), full);
    CHECK_EQ(gort__slab_trim(&sa, false), 0); /* emptied since the last trim (none yet) */
    /* taken again since: not idle; the rest, empty all along, are */
    uint32_t n0 = sa.nslabs;
    void *again = gort__slab_alloc(&sa);
    CHECK(again && ((char *)again)[319] == 0);
    CHECK_EQ(gort__slab_trim(&sa, false), n0 - 1);
    CHECK(sa.nslabs == 1 && sa.nempty == 0);
    CHECK_EQ(atomic_load(&gort__metadata_bytes), full - (uint64_t)(n0 - 1) * 64 * 1024);
    gort__slab_free(&sa, again);
    CHECK_EQ(gort__slab_trim(&sa, false), 0);
    CHECK_EQ(gort__slab_trim(&sa, true), 1); /* all: gort_release_memory */
    CHECK(sa.nslabs == 0 && sa.nempty == 0 && sa.partial == NULL);
    again = gort__slab_alloc(&sa); /* from a fresh slab */
    CHECK(again && ((char *)again)[319] == 0);
    gort__slab_free(&sa, again);
    gort__slab_trim(&sa, true);
}

/* VmFlags of the mapping holding address a ("hg": MADV_HUGEPAGE, "nh":
 * MADV_NOHUGEPAGE), from /proc/self/smaps; "" when not found. */
static void vm_flags(const void *a, char *out, size_t n) {
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    bool in = false;
    out[0] = 0;
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = (uintptr_t)a >= lo && (uintptr_t)a < hi;
        } else if (in && strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(out, n, "%s", line + 8);
            break;
        }
    }
    fclose(f);
}
static bool has_flag(const char *flags, const char *fl) {
    for (const char *p = flags; (p = strstr(p, fl)) != NULL; p += 2)
        if ((p == flags || p[-1] == ' ') && (p[2] == ' ' || p[2] == '\n' || p[2] == 0)) return true;
    return false;
}

/* GORT_HUGEPAGES=1 (Go 1.19's advice): a large span's whole huge pages get
 * MADV_HUGEPAGE when its pages become Ready; releasing an unaligned part of
 * a huge page marks that huge page MADV_NOHUGEPAGE; small spans never get
 * advice. Off by default: no advice at all. */
static void test_hugepages(void) {
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "r");
    unsigned long hp = 0;
    if (f) {
        if (fscanf(f, "%lu", &hp) != 1) hp = 0;
        fclose(f);
    }
    char fl[512];
    /* off (the default): no advice */
    char *p = gort_malloc(8 << 20);
    CHECK(p);
    memset(p, 1, 8 << 20);
    vm_flags(p + (4 << 20), fl, sizeof fl);
    CHECK(!has_flag(fl, "hg"));
    gort_free(p);
    if (hp != 2 << 20) {
        fprintf(stderr, "test_hugepages: THP size %lu, not 2 MiB: advice checks skipped\n", hp);
        return;
    }
    gort_release_memory(); /* the pages above go back: the next span takes Prepared pages */
    gort__options.hugepages = true;
    char *small = gort_malloc(1000);
    char *big = gort_malloc(16 << 20);
    CHECK(small && big);
    memset(big, 2, 16 << 20);
    vm_flags(big + (8 << 20), fl, sizeof fl);
    CHECK(has_flag(fl, "hg"));
    vm_flags(small, fl, sizeof fl);
    if (((uintptr_t)small >> 21) != ((uintptr_t)big >> 21) &&
        ((uintptr_t)small >> 21) != (((uintptr_t)big + (16 << 20) - 1) >> 21))
        CHECK(!has_flag(fl, "hg")); /* a small span's huge page gets no advice */
    /* release a range that ends inside a huge page: that huge page gets
     * MADV_NOHUGEPAGE, the whole huge pages keep MADV_HUGEPAGE */
    uintptr_t hb = ((uintptr_t)big + (2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1);
    gort__sys_unused((void *)(hb + (2 << 20)), (3 << 20)); /* [hb+2M, hb+5M): tail in [hb+4M, hb+6M) */
    vm_flags((void *)(hb + (4 << 20)), fl, sizeof fl);
    CHECK(has_flag(fl, "nh"));
    vm_flags((void *)(hb + (2 << 20)), fl, sizeof fl);
    CHECK(has_flag(fl, "hg"));
    gort__sys_used((void *)(hb + (2 << 20)), (3 << 20), (3 << 20)); /* back to Ready for the free below */
    gort_free(big);
    gort_free(small);
    gort__options.hugepages = false;
}

/* An arena is mapped 4 MiB at a time. The heap grows into the last arena's
 * next chunk; when something else was mapped there first, it leaves that
 * mapping alone and takes a new arena. */
static void test_lazy_arena(void) {
#if !defined(__SANITIZE_THREAD__) /* TSan builds map arenas whole */
    void *first = gort_malloc(100);
    CHECK(first);
    gort__lock(&gort__heap.lock, GORT_RANK_MHEAP);
    gort_heap_arena *last = gort__heap.slots[gort__heap.nslots - 1];
    uint32_t mapped = last->mapped_pages, slots = gort__heap.nslots;
    gort__unlock(&gort__heap.lock, GORT_RANK_MHEAP);
    CHECK(mapped > 0 && mapped % 512 == 0);
    if (mapped + 1024 > GORT_PAGES_PER_ARENA) {
        gort_free(first);
        return; /* too little of the arena left to test in */
    }
    /* the whole arena is not mapped: its next chunk's address is free */
    char *next = (char *)last->base + (size_t)mapped * GORT_PAGE_SIZE;
    char *mine =
        mmap(next, GORT_OS_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    CHECK(mine == next);
    strcpy(mine, "not the heap's");
    /* grow the heap by more than what is free in the arena's mapped part */
    enum { NB = 160 };
    static void *blk[NB];
    for (int i = 0; i < NB; i++) {
        blk[i] = gort_malloc(1 << 20);
        CHECK(blk[i]);
        memset(blk[i], i, 1 << 20);
        CHECK(gort__span_of((uintptr_t)blk[i]) != NULL);
        CHECK((char *)blk[i] + (1 << 20) <= next || (char *)blk[i] >= next + GORT_OS_PAGE);
    }
    CHECK_EQ(strcmp(mine, "not the heap's"), 0);
    CHECK(gort__span_of((uintptr_t)mine) == NULL);
    CHECK(last->map_failed && last->mapped_pages == mapped);
    CHECK(gort__heap.nslots > slots);
    gort_check_heap();
    for (int i = 0; i < NB; i++) {
        CHECK(((unsigned char *)blk[i])[12345] == (unsigned char)i);
        gort_free(blk[i]);
    }
    munmap(mine, GORT_OS_PAGE);
    gort_free(first);
    gort_check_heap();
#endif
}

/* The span lists against an array model: random pushes at either end and
 * removals anywhere, the links checked after each step. */
static void test_span_lists(void) {
    enum { N = 12, STEPS = 20000 };
    static gort_mspan spans[N];
    gort_mspan *model[N], *head = NULL;
    int len = 0;
    bool on[N] = {false};
    uint64_t r = test_seed() ^ 0x5157;
    for (int step = 0; step < STEPS; step++) {
        int i = (int)(rng_next(&r) % N);
        if (!on[i]) {
            if (rng_next(&r) & 1) {
                gort__list_push(&head, &spans[i], GORT_LIST_OWNED_PARTIAL);
                memmove(model + 1, model, sizeof(model[0]) * (size_t)len);
                model[0] = &spans[i];
            } else {
                gort__list_push_tail(&head, &spans[i], GORT_LIST_OWNED_PARTIAL);
                model[len] = &spans[i];
            }
            len++;
            on[i] = true;
        } else {
            gort__list_remove(&head, &spans[i]);
            int k = 0;
            while (model[k] != &spans[i]) k++;
            memmove(model + k, model + k + 1, sizeof(model[0]) * (size_t)(len - k - 1));
            len--;
            on[i] = false;
            CHECK(spans[i].list == GORT_LIST_NONE && !spans[i].next && !spans[i].prev);
        }
        CHECK(gort__list_links_ok(head));
        int k = 0;
        for (gort_mspan *s = head; s; s = s->next, k++) {
            CHECK(k < len);
            CHECK(s == model[k]);
        }
        CHECK_EQ(k, len);
    }
}

/* A full span that its owner's free opens goes to the tail of the owner's
 * partial list (the refill takes the head: the span freed into longest). */
static void test_opened_span_at_tail(void) {
    size_t size = 1024, cls = gort__size_to_class(size);
    unsigned per = (unsigned)gort_class_to_npages[cls] * GORT_PAGE_SIZE / (unsigned)size;
    enum { SPANS = 4 };
    void **p = gort_malloc(sizeof(void *) * SPANS * per);
    CHECK(p);
    for (unsigned i = 0; i < SPANS * per; i++) CHECK((p[i] = gort_malloc(size)));
    /* the first spans filled are full and on the owner's full list */
    gort_mspan *a = gort__span_of((uintptr_t)p[0]), *b = gort__span_of((uintptr_t)p[per]);
    gort_mcache *mc = gort__tls_mcache;
    CHECK(a != b && a->list == GORT_LIST_OWNED_FULL && b->list == GORT_LIST_OWNED_FULL);
    gort_free(p[0]);
    p[0] = NULL;
    CHECK(a->list == GORT_LIST_OWNED_PARTIAL && mc->partial[cls]->prev == a);
    gort_free(p[per]);
    p[per] = NULL;
    CHECK(b->list == GORT_LIST_OWNED_PARTIAL && mc->partial[cls]->prev == b && b->prev == a);
    gort_check_heap();
    for (unsigned i = 0; i < SPANS * per; i++) gort_free(p[i]);
    gort_free(p);
    gort_check_heap();
}

int main(void) {
    test_os_states();
    test_arenas();
    test_lazy_arena();
    test_metadata_allocators();
    test_hugepages();
    test_span_lists();
    test_opened_span_at_tail();
    gort_check_heap();
    printf("test_layers: ok\n");
    return 0;
}
