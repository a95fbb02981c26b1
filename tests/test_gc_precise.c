/*
 * test_gc_precise: how the heap is scanned.
 *   1. GORT_TYPE precision: in typed objects (gort_new), a scalar field holding the only
 *      copy of an object's address (its start, or an interior address) does not keep it
 *      alive, while the pointer fields do; the same in a large typed array (64 KiB), in a
 *      type whose only pointer is its last word (an array above 128 KiB, scanned in
 *      oblets), and in a 4 KiB type with a hand-built descriptor (larger than
 *      GORT_TYPE allows), alone and as a 160 KiB array.
 *   2. gort_gc_alloc is conservative: every word keeps alive what it points to (each word
 *      position of 64 B blocks, interior addresses too).
 *   3. gort_gc_alloc_noscan is never scanned: an address stored only there is freed.
 *   4. Large arrays of pointers: gort_gc_alloc of 40 KiB and 1 MiB and a gort_new_array
 *      of 1.6 MB, every word pointing to a small object with a stamp: all survive many
 *      collections with their stamps; once an array is dropped, its objects are freed.
 *   5. Sparse large objects: a 32 MiB gort_gc_alloc and a 16 MiB gort_new_array left
 *      untouched but for a few pages (the first word, words inside pages far apart, the
 *      last word; on Linux 6.7+ the marker reads only pages that hold memory): the objects
 *      those words name survive many collections; once the words are cleared, they are
 *      freed.
 * Liveness is observed through weak references; objects are built in noinline functions
 * and the stack is wiped before collecting.
 */
#include <stdint.h>
#include <gort.h>
#include "check.h"
#include "gc_check.h"

#define NOINLINE __attribute__((noinline))

static uint64_t g_seed;
static inline uint64_t mix(uint64_t x) {
    x = (x + g_seed) * 0x9E3779B97F4A7C15ULL;
    return x ^ (x >> 31);
}

/* A stamped 16-byte object. */
NOINLINE static uint64_t *stamped(uint64_t id) {
    uint64_t *p = gort_gc_alloc_noscan(16);
    CHECK(p);
    p[0] = id;
    p[1] = mix(id);
    return p;
}
static int stamp_ok(const uint64_t *p, uint64_t id) { return p && p[0] == id && p[1] == mix(id); }

/* Expects weak references w[0..n) all live (want 1) or all cleared (want 0). */
NOINLINE static void expect_weak(gort_weak **w, int n, int want, const char *what) {
    int bad = 0;
    for (int i = 0; i < n; i++) bad += weak_live(w[i]) != want;
    if (bad) {
        fprintf(stderr, "%s: %d of %d objects %s (seed %llu)\n", what, bad, n,
                want ? "were freed while referenced" : "are still alive, unreferenced", (unsigned long long)g_seed);
        exit(1);
    }
}

/* ---- 1. typed precision ---- */
typedef struct Holder {
    void *ptr;         /* a pointer */
    uintptr_t scalar;  /* a number that happens to hold an address */
    uint64_t words[5]; /* numbers, one of which holds an interior address */
    void *ptr2;        /* a pointer */
} Holder;
GORT_TYPE(Holder, ptr, ptr2);

typedef struct Tail {
    uint64_t a, b, c;
    void *p;
} Tail;
GORT_TYPE(Tail, p);

/* 4096 bytes: 500 scalar words, then 12 pointers. */
typedef struct Big {
    uint64_t data[500];
    void *p[12];
} Big;
static uint64_t big_mask[(sizeof(Big) / 8 + 63) / 64];
static gort_type big_type = {sizeof(Big), _Alignof(Big), sizeof(Big) / 8, big_mask, "Big"};

enum { NH = 64, NARR = 1000, NTAIL = 6000, NBIG = 40 };
static Holder *g_holders[NH];
static Holder *g_harr;
static Tail *g_tails;
static Big *g_big1, *g_bigarr;
static gort_weak *g_wkeep[NH + 64 + 64 + 24], *g_wfree[2 * NH + 64 + 64 + 24];
static int g_nkeep, g_nfree;

static void keep(void *p) { g_wkeep[g_nkeep++] = gort_weak_make(p); }
static void drop(void *p) { g_wfree[g_nfree++] = gort_weak_make(p); }

NOINLINE static void build_typed(void) {
    for (int i = 0; i < NH; i++) {
        Holder *h = gort_new(Holder);
        CHECK(h);
        uint64_t *a = stamped(1000 + (uint64_t)i), *b = stamped(2000 + (uint64_t)i), *c = stamped(3000 + (uint64_t)i);
        h->ptr = a;
        h->scalar = (uintptr_t)b;
        h->words[i % 5] = (uintptr_t)c + 8;
        keep(a);
        drop(b);
        drop(c);
        g_holders[i] = h;
    }
    g_harr = gort_new_array(Holder, NARR); /* 64 KiB: a large object */
    CHECK(g_harr);
    for (int i = 0; i < 64; i++) {
        int k = (int)(mix((uint64_t)i) % NARR);
        while (g_harr[k].ptr) k = (k + 1) % NARR;
        uint64_t *a = stamped(4000 + (uint64_t)i), *b = stamped(5000 + (uint64_t)i);
        g_harr[k].ptr2 = a;
        g_harr[k].scalar = (uintptr_t)b;
        g_harr[k].ptr = (void *)1; /* a non-pointer value in a pointer field: ignored */
        keep(a);
        drop(b);
    }
    g_tails = gort_new_array(Tail, NTAIL); /* 192000 bytes: oblets */
    CHECK(g_tails);
    for (int i = 0; i < 64; i++) {
        int k = i == 0 ? NTAIL - 1 : (int)(mix((uint64_t)i + 77) % NTAIL);
        while (g_tails[k].p) k = (k + 1) % NTAIL;
        uint64_t *a = stamped(6000 + (uint64_t)i), *b = stamped(7000 + (uint64_t)i);
        g_tails[k].p = a;
        g_tails[k].b = (uintptr_t)b;
        keep(a);
        drop(b);
    }
    for (int w = 500; w < 512; w++) big_mask[w / 64] |= 1ULL << (w % 64);
    g_big1 = gort_new_typed(&big_type, 1);
    g_bigarr = gort_new_typed(&big_type, NBIG);
    CHECK(g_big1 && g_bigarr);
    for (int i = 0; i < 12; i++) {
        uint64_t *a = stamped(8000 + (uint64_t)i), *b = stamped(9000 + (uint64_t)i);
        g_big1->p[i] = a;
        g_big1->data[i * 41] = (uintptr_t)b;
        keep(a);
        drop(b);
        Big *e = &g_bigarr[(i * 7) % NBIG];
        uint64_t *c = stamped(10000 + (uint64_t)i), *d = stamped(11000 + (uint64_t)i);
        e->p[11 - i] = c;
        e->data[499 - i] = (uintptr_t)d;
        keep(c);
        drop(d);
    }
}

NOINLINE static void verify_typed(void) {
    for (int i = 0; i < NH; i++) CHECK(stamp_ok(g_holders[i]->ptr, 1000 + (uint64_t)i));
    int found = 0;
    for (int k = 0; k < NARR; k++)
        if (g_harr[k].ptr2) {
            uint64_t *a = g_harr[k].ptr2;
            CHECK(a[0] >= 4000 && a[0] < 4064 && stamp_ok(a, a[0]));
            found++;
        }
    CHECK_EQ(found, 64);
    found = 0;
    for (int k = 0; k < NTAIL; k++)
        if (g_tails[k].p) {
            uint64_t *a = g_tails[k].p;
            CHECK(a[0] >= 6000 && a[0] < 6064 && stamp_ok(a, a[0]));
            found++;
        }
    CHECK_EQ(found, 64);
    for (int i = 0; i < 12; i++) {
        CHECK(stamp_ok(g_big1->p[i], 8000 + (uint64_t)i));
        CHECK(stamp_ok(g_bigarr[(i * 7) % NBIG].p[11 - i], 10000 + (uint64_t)i));
    }
}

static void typed_precision(void) {
    build_typed();
    gc_clean(3);
    verify_typed();
    expect_weak(g_wkeep, g_nkeep, 1, "typed: objects referenced from pointer fields");
    expect_weak(g_wfree, g_nfree, 0, "typed: objects whose address sits only in scalar fields");
    for (int r = 0; r < 10; r++) {
        gort_gc();
        verify_typed();
    }
    printf("typed precision: ok (%d kept by pointer fields, %d freed despite scalar copies)\n", g_nkeep, g_nfree);
}

/* ---- 2 and 3. conservative and noscan blocks ---- */
enum { NCONS = 64 };
static void **g_cons[NCONS];
static void **g_noscan[NCONS];
static gort_weak *g_wcons[NCONS], *g_wnoscan[NCONS];

NOINLINE static void build_blocks(void) {
    for (int i = 0; i < NCONS; i++) {
        int words = 8; /* 64 B: each word position in turn */
        void **blk = gort_gc_alloc((size_t)words * 8);
        CHECK(blk);
        for (int w = 0; w < words; w++) blk[w] = (void *)(uintptr_t)mix((uint64_t)w); /* numbers */
        uint64_t *a = stamped(20000 + (uint64_t)i);
        blk[i % words] = i % 3 == 0 ? (void *)((char *)a + 15) : (void *)a; /* interior too */
        g_wcons[i] = gort_weak_make(a);
        g_cons[i] = blk;
        void **nb = gort_gc_alloc_noscan(64);
        CHECK(nb);
        memset(nb, 0, 64);
        uint64_t *b = stamped(21000 + (uint64_t)i);
        nb[i % 8] = b;
        g_wnoscan[i] = gort_weak_make(b);
        g_noscan[i] = nb;
    }
}
static void conservative_blocks(void) {
    build_blocks();
    gc_clean(3);
    for (int r = 0; r < 5; r++) {
        gort_gc();
        for (int i = 0; i < NCONS; i++) {
            uintptr_t v = (uintptr_t)g_cons[i][i % 8];
            uint64_t *a = (uint64_t *)(i % 3 == 0 ? v - 15 : v);
            CHECK(stamp_ok(a, 20000 + (uint64_t)i));
        }
    }
    expect_weak(g_wcons, NCONS, 1, "gort_gc_alloc: objects referenced from its words");
    expect_weak(g_wnoscan, NCONS, 0, "gort_gc_alloc_noscan: objects referenced only from it");
    printf("conservative and noscan blocks: ok\n");
}

/* ---- 4. large arrays of pointers ---- */
typedef struct Ptr {
    uint64_t *p;
} Ptr;
GORT_TYPE(Ptr, p);

static void **g_arr40k, **g_arr1m;
static Ptr *g_parr;
static gort_weak *g_wlarge[3][64];
static const size_t n40k = 40 * 1024 / 8, n1m = (1 << 20) / 8, nparr = 200000;

NOINLINE static void build_large(void) {
    g_arr40k = gort_gc_alloc(n40k * 8);
    g_arr1m = gort_gc_alloc(n1m * 8);
    g_parr = gort_new_array(Ptr, nparr);
    CHECK(g_arr40k && g_arr1m && g_parr);
    for (size_t i = 0; i < n40k; i++) g_arr40k[i] = stamped(100000 + i);
    for (size_t i = 0; i < n1m; i++) g_arr1m[i] = stamped(200000 + i);
    for (size_t i = 0; i < nparr; i++) g_parr[i].p = stamped(400000 + i);
    for (int k = 0; k < 64; k++) {
        size_t a = k == 0 ? n40k - 1 : (size_t)(mix((uint64_t)k) % n40k);
        size_t b = k == 0 ? n1m - 1 : k == 1 ? 16384 : (size_t)(mix((uint64_t)k + 1) % n1m);
        size_t c = k == 0 ? nparr - 1 : k == 1 ? 16384 : (size_t)(mix((uint64_t)k + 2) % nparr);
        g_wlarge[0][k] = gort_weak_make(g_arr40k[a]);
        g_wlarge[1][k] = gort_weak_make(g_arr1m[b]);
        g_wlarge[2][k] = gort_weak_make(g_parr[c].p);
    }
}
NOINLINE static void verify_large(void) {
    for (size_t i = 0; i < n40k; i++) CHECK(stamp_ok(g_arr40k[i], 100000 + i));
    for (size_t i = 0; i < n1m; i++) CHECK(stamp_ok(g_arr1m[i], 200000 + i));
    for (size_t i = 0; i < nparr; i++) CHECK(stamp_ok(g_parr[i].p, 400000 + i));
}
static void large_arrays(int rounds) {
    build_large();
    gc_clean(1);
    for (int r = 0; r < rounds; r++) {
        for (int j = 0; j < 2000; j++) (void)stamped((uint64_t)j); /* garbage to reuse */
        gort_gc();
        verify_large();
    }
    for (int a = 0; a < 3; a++) expect_weak(g_wlarge[a], 64, 1, "objects referenced from a large array");
    g_arr40k = NULL;
    gc_clean(2);
    expect_weak(g_wlarge[0], 64, 0, "objects of a dropped 40 KiB array");
    expect_weak(g_wlarge[1], 64, 1, "objects of a kept 1 MiB array");
    g_arr1m = NULL;
    g_parr = NULL;
    gc_clean(2);
    expect_weak(g_wlarge[1], 64, 0, "objects of a dropped 1 MiB array");
    expect_weak(g_wlarge[2], 64, 0, "objects of a dropped 1.6 MB typed array");
    printf("large arrays of pointers: ok\n");
}

/* 5 */
enum { NSPARSE = 6 };
static void **g_sparse;
static Ptr *g_sparse_typed;
static const size_t sparse_words = (32u << 20) / 8, sparse_elems = (16u << 20) / sizeof(Ptr);
static gort_weak *g_wsparse[2][NSPARSE];
static size_t sparse_at(size_t n, int k) {
    static const size_t frac[NSPARSE] = {0, 1, 1000, 77777, 500000, 1000000};
    return k == NSPARSE - 1 ? n - 1 : frac[k] * (n / 1000000) + (size_t)k * 8;
}
NOINLINE static void build_sparse(void) {
    g_sparse = gort_gc_alloc(sparse_words * 8);
    g_sparse_typed = gort_new_array(Ptr, sparse_elems);
    CHECK(g_sparse && g_sparse_typed);
    for (int k = 0; k < NSPARSE; k++) {
        uint64_t *a = stamped(700000 + (uint64_t)k), *b = stamped(800000 + (uint64_t)k);
        g_sparse[sparse_at(sparse_words, k)] = a;
        g_sparse_typed[sparse_at(sparse_elems, k)].p = b;
        g_wsparse[0][k] = gort_weak_make(a);
        g_wsparse[1][k] = gort_weak_make(b);
    }
}
NOINLINE static void clear_sparse(void) {
    for (int k = 0; k < NSPARSE; k++) {
        g_sparse[sparse_at(sparse_words, k)] = NULL;
        g_sparse_typed[sparse_at(sparse_elems, k)].p = NULL;
    }
}
static void sparse_large(int rounds) {
    build_sparse();
    for (int r = 0; r < rounds; r++) {
        gc_clean(1);
        for (int k = 0; k < NSPARSE; k++) {
            CHECK(stamp_ok(g_sparse[sparse_at(sparse_words, k)], 700000 + (uint64_t)k));
            CHECK(stamp_ok(g_sparse_typed[sparse_at(sparse_elems, k)].p, 800000 + (uint64_t)k));
        }
    }
    expect_weak(g_wsparse[0], NSPARSE, 1, "objects named by a few words of a sparse 32 MiB block");
    expect_weak(g_wsparse[1], NSPARSE, 1, "objects named by a few elements of a sparse 16 MiB typed array");
    clear_sparse();
    gc_clean(2);
    expect_weak(g_wsparse[0], NSPARSE, 0, "objects no longer named by a sparse block");
    expect_weak(g_wsparse[1], NSPARSE, 0, "objects no longer named by a sparse typed array");
    g_sparse = NULL;
    g_sparse_typed = NULL;
    printf("sparse large objects: ok\n");
}

int main(void) {
    g_seed = test_seed();
    typed_precision();
    conservative_blocks();
    large_arrays(test_sanitized() ? 4 : 15);
    sparse_large(test_sanitized() ? 3 : 10);
    gort_check_heap();
    printf("test_gc_precise: ok\n");
    return 0;
}
