/*
 * test_model: property test of the gort_* API against a simple reference model.
 * The model is an array of live blocks {pointer, requested size, usable size, alignment,
 * content seed}. Random malloc / calloc / realloc / aligned_alloc / free; after every
 * operation the touched block is checked (usable_size >= size, alignment, content), and
 * periodically every live block is verified and the blocks, sorted by address, are checked
 * not to overlap ([p, p + usable_size) intervals), and gort_check_heap() runs.
 * Each object's whole usable area is written, so usable_size must really be usable.
 * Reproduce with GORT_TEST_SEED=<seed>.
 */
#include <errno.h>
#include <stdint.h>
#include <gort.h>
#include "check.h"

typedef struct {
    unsigned char *p;
    size_t size;   /* requested */
    size_t usable; /* gort_usable_size at allocation time */
    size_t align;  /* promised alignment */
    uint64_t cs;   /* content seed: byte i = cbyte(cs, i) */
} block;

static uint64_t g_seed, g_op, g_moved_within;
static block *live;
static size_t nlive, cap;

static inline unsigned char cbyte(uint64_t cs, size_t i) {
    uint64_t x = cs + (uint64_t)i * 0x9E3779B97F4A7C15ULL;
    return (unsigned char)((x >> 32) ^ (x >> 17));
}

static void fail(const char *what, const block *b, size_t off) {
    fprintf(stderr,
            "test_model: %s: block %p size %zu usable %zu align %zu, offset %zu (op %llu, "
            "GORT_TEST_SEED=%llu)\n",
            what, (void *)b->p, b->size, b->usable, b->align, off, (unsigned long long)g_op,
            (unsigned long long)g_seed);
    exit(1);
}

static void write_block(block *b, size_t from) {
    for (size_t i = from; i < b->usable; i++) b->p[i] = cbyte(b->cs, i);
}

static void verify_block(const block *b, size_t upto) {
    for (size_t i = 0; i < upto; i++)
        if (b->p[i] != cbyte(b->cs, i)) fail("content", b, i);
}

static void check_new(block *b) {
    if (!b->p) fail("NULL", b, 0);
    size_t u = gort_usable_size(b->p);
    if (u < b->size) fail("usable_size < size", b, u);
    b->usable = u;
    if ((uintptr_t)b->p & (b->align - 1)) fail("alignment", b, (uintptr_t)b->p & (b->align - 1));
}

static size_t promised(size_t n) { return n > 8 ? 16 : 8; }

static size_t rand_size(uint64_t *s) {
    uint64_t r = rng_next(s);
    switch (r % 16) {
    case 0: return 0;
    case 1:
    case 2:
    case 3:
    case 4:
    case 5: return 1 + (r >> 8) % 64;
    case 6:
    case 7:
    case 8:
    case 9: return 1 + (r >> 8) % 1024;
    case 10:
    case 11: return 1 + (r >> 8) % 8192;
    case 12:
    case 13: return 1 + (r >> 8) % 40000;
    case 14: return 1 + (r >> 8) % 300000;
    default: return ((size_t)1 << ((r >> 8) % 15)) + ((r >> 20) % 3) - 1; /* near powers of 2 */
    }
}

static int cmp_block(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)((const block *)a)->p, y = (uintptr_t)((const block *)b)->p;
    return x < y ? -1 : x > y;
}

static void full_check(void) {
    for (size_t i = 0; i < nlive; i++) {
        verify_block(&live[i], live[i].usable);
        CHECK(gort_usable_size(live[i].p) == live[i].usable);
    }
    qsort(live, nlive, sizeof *live, cmp_block);
    for (size_t i = 1; i < nlive; i++) {
        const block *a = &live[i - 1], *b = &live[i];
        if ((uintptr_t)a->p + a->usable > (uintptr_t)b->p) {
            fprintf(stderr, "overlap: %p+%zu and %p+%zu\n", (void *)a->p, a->usable, (void *)b->p, b->usable);
            fail("overlap", b, 0);
        }
    }
    CHECK(gort_check_heap() > 0);
}

static void remove_at(size_t i) { live[i] = live[--nlive]; }

static void step(uint64_t *s) {
    unsigned r = (unsigned)(rng_next(s) % 100);
    g_op++;
    int want_alloc = nlive == 0 || (nlive < cap && r < 52);
    if (!want_alloc && r < 75) { /* free */
        size_t i = rng_next(s) % nlive;
        verify_block(&live[i], live[i].usable);
        gort_free(live[i].p);
        remove_at(i);
        return;
    }
    if (!want_alloc) { /* realloc */
        size_t i = rng_next(s) % nlive;
        block *b = &live[i];
        size_t n = rand_size(s);
        if (r % 8 == 0 && b->usable > 0) n = b->usable - (rng_next(s) % 2) * (b->usable > 1);
        verify_block(b, b->usable);
        unsigned char *old = b->p;
        size_t oldusable = b->usable;
        unsigned char *p = gort_realloc(old, n);
        if (!p) {
            /* realloc(p, 0) may free and return NULL; nothing else may fail here. */
            if (n != 0) fail("realloc returned NULL", b, n);
            remove_at(i);
            return;
        }
        /* "grows in place where the class allows": a size within the usable size stays put. */
        if (n <= oldusable && n > oldusable / 2 && n > 0 && p != old) g_moved_within++;
        block nb = {p, n, 0, promised(n), b->cs};
        check_new(&nb);
        size_t keep = oldusable < n ? oldusable : n;
        verify_block(&nb, keep);
        /* only bytes below min(old usable, new size) are guaranteed; rewrite the rest. */
        write_block(&nb, keep);
        *b = nb;
        return;
    }
    /* allocate */
    block b = {0};
    b.cs = rng_next(s);
    b.size = rand_size(s);
    b.align = promised(b.size);
    unsigned kind = (unsigned)(rng_next(s) % 10);
    if (kind < 5) {
        b.p = gort_malloc(b.size);
    } else if (kind < 7) {
        size_t n = 1 + rng_next(s) % 16, each = b.size / n;
        b.size = n * each;
        b.align = promised(b.size);
        b.p = gort_calloc(n, each);
        if (b.p)
            for (size_t i = 0; i < b.size; i++)
                if (b.p[i]) fail("calloc not zeroed", &b, i);
    } else {
        unsigned lg = (unsigned)(rng_next(s) % 17);                       /* 1 .. 64 KiB */
        if (rng_next(s) % 50 == 0) lg = 17 + (unsigned)(rng_next(s) % 6); /* .. 4 MiB */
        size_t a = (size_t)1 << lg;
        b.align = a > promised(b.size) ? a : promised(b.size);
        b.p = gort_aligned_alloc(a, b.size);
    }
    check_new(&b);
    write_block(&b, 0);
    live[nlive++] = b;
}

int main(void) {
    g_seed = test_seed();
    uint64_t s = g_seed;
    double sc = test_scale();
    cap = 3000;
    live = gort_malloc(cap * sizeof *live);
    CHECK(live);
    uint64_t steps = (uint64_t)(300000 * sc) + 3000;
    for (uint64_t i = 0; i < steps; i++) {
        step(&s);
        if (i % 20000 == 0) full_check();
        /* occasionally shrink the population to exercise empty spans and reuse */
        if (i % 60000 == 59999) {
            while (nlive > 10) {
                size_t k = rng_next(&s) % nlive;
                verify_block(&live[k], live[k].usable);
                gort_free(live[k].p);
                remove_at(k);
            }
            full_check();
        }
    }
    full_check();
    while (nlive) {
        verify_block(&live[nlive - 1], live[nlive - 1].usable);
        gort_free(live[--nlive].p);
    }
    gort_free(live);
    gort_check_heap();
    printf("test_model: ok, %llu ops; %llu reallocs within the usable size moved\n", (unsigned long long)g_op,
           (unsigned long long)g_moved_within);
    return 0;
}
