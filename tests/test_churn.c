/*
 * test_churn: seeded randomized churn, sizes log-uniform from 1 byte to several MiB.
 * Every object is filled with a pattern derived from its address and the seed; the
 * pattern is verified before free and, after realloc, up to the smaller size against
 * the old address's pattern. gort_check_heap() runs periodically.
 *   phase 1: all sizes, 1 B .. 8 MiB, a few hundred live objects
 *   phase 2: small sizes only (1 B .. 32 KiB), many live objects, heavy slot reuse
 *   phase 3: free everything in random order, check the heap, repeat phase 1 briefly
 * Reproduce a failure with GORT_TEST_SEED=<seed printed on stderr>.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <gort.h>
#include "check.h"

static uint64_t g_seed;

static inline uint64_t pat_word(uint64_t tag, size_t k) {
    uint64_t x = tag ^ ((uint64_t)k * 0x9E3779B97F4A7C15ULL);
    x ^= x >> 29;
    return x;
}
static inline uint64_t tag_of(const void *p) { return ((uint64_t)(uintptr_t)p * 0xD6E8FEB86659FD93ULL) ^ g_seed; }

static void fill(void *p, size_t n, uint64_t tag) {
    unsigned char *b = p;
    size_t words = n / 8, k;
    for (k = 0; k < words; k++) {
        uint64_t w = pat_word(tag, k);
        memcpy(b + 8 * k, &w, 8);
    }
    uint64_t w = pat_word(tag, k);
    memcpy(b + 8 * k, &w, n % 8);
}

/* Returns the first bad offset, or SIZE_MAX. */
static size_t verify(const void *p, size_t n, uint64_t tag) {
    const unsigned char *b = p;
    size_t words = n / 8, k;
    for (k = 0; k < words; k++) {
        uint64_t w = pat_word(tag, k), got;
        memcpy(&got, b + 8 * k, 8);
        if (got != w) {
            for (size_t i = 0; i < 8; i++)
                if (((got >> (8 * i)) & 0xff) != ((w >> (8 * i)) & 0xff)) return 8 * k + i;
        }
    }
    uint64_t w = pat_word(tag, k);
    const unsigned char *wb = (const unsigned char *)&w;
    for (size_t i = 0; i < n % 8; i++)
        if (b[8 * k + i] != wb[i]) return 8 * k + i;
    return SIZE_MAX;
}

typedef struct {
    unsigned char *p;
    size_t n;
    uint64_t tag;
} obj;

static obj *slots;
static size_t nslots;
static uint64_t ops, bytes_touched;

static size_t log_uniform(uint64_t *s, size_t lo, size_t hi) {
    double u = (double)(rng_next(s) >> 11) / 9007199254740992.0;
    double v = exp(log((double)lo) + u * (log((double)hi + 1) - log((double)lo)));
    size_t n = (size_t)v;
    if (n < lo) n = lo;
    if (n > hi) n = hi;
    return n;
}

static void die_bad(const char *what, obj *o, size_t off) {
    fprintf(stderr,
            "test_churn: %s: object %p size %zu: pattern broken at offset %zu (op %llu, seed "
            "%llu)\n",
            what, (void *)o->p, o->n, off, (unsigned long long)ops, (unsigned long long)g_seed);
    exit(1);
}

static void check_obj(const char *what, obj *o) {
    size_t off = verify(o->p, o->n, o->tag);
    if (off != SIZE_MAX) die_bad(what, o, off);
    bytes_touched += o->n;
}

static void release(obj *o) {
    if (!o->p) return;
    check_obj("before free", o);
    gort_free(o->p);
    o->p = NULL;
}

static void place(obj *o, unsigned char *p, size_t n) {
    CHECK(p != NULL);
    if (n >= 16) CHECK(((uintptr_t)p & 15) == 0);
    CHECK(gort_usable_size(p) >= n);
    o->p = p;
    o->n = n;
    o->tag = tag_of(p);
    fill(p, n, o->tag);
    bytes_touched += n;
}

static void one_op(uint64_t *s, size_t lo, size_t hi) {
    obj *o = &slots[rng_next(s) % nslots];
    unsigned r = (unsigned)(rng_next(s) % 100);
    ops++;
    if (o->p && r < 20) { /* realloc */
        size_t n = log_uniform(s, lo, hi);
        unsigned char *old = o->p;
        size_t oldn = o->n;
        uint64_t oldtag = o->tag;
        check_obj("before realloc", o);
        unsigned char *p = gort_realloc(old, n);
        CHECK(p != NULL);
        size_t keep = oldn < n ? oldn : n;
        obj tmp = {p, keep, oldtag};
        size_t off = verify(p, keep, oldtag);
        if (off != SIZE_MAX) die_bad("after realloc", &tmp, off);
        place(o, p, n);
        return;
    }
    release(o);
    if (r < 70) {
        size_t n = log_uniform(s, lo, hi);
        if (r < 30) {
            unsigned char *p = gort_calloc(1, n);
            CHECK(p != NULL);
            for (size_t i = 0; i < n; i += (n > 65536 ? 4093 : 1)) {
                if (p[i]) {
                    fprintf(stderr, "calloc(1, %zu) = %p: byte %zu not zero (seed %llu)\n", n, (void *)p, i,
                            (unsigned long long)g_seed);
                    exit(1);
                }
            }
            place(o, p, n);
        } else {
            place(o, gort_malloc(n), n);
        }
    }
}

static void free_all(uint64_t *s) {
    /* random order: walk a random permutation start + stride */
    size_t start = rng_next(s) % nslots, stride = 1;
    for (size_t k = 0; k < 8; k++) {
        size_t c = (rng_next(s) % nslots) | 1;
        size_t a = c, b = nslots;
        while (b) {
            size_t t = a % b;
            a = b;
            b = t;
        }
        if (a == 1) {
            stride = c;
            break;
        }
    }
    for (size_t i = 0; i < nslots; i++) release(&slots[(start + i * stride) % nslots]);
}

int main(void) {
    g_seed = test_seed();
    uint64_t s = g_seed;
    double sc = test_scale();

    /* Phase 1: every size, 1 B .. 8 MiB. */
    nslots = 256;
    slots = gort_calloc(4096, sizeof *slots);
    CHECK(slots);
    uint64_t n1 = (uint64_t)(40000 * sc) + 500;
    for (uint64_t i = 0; i < n1; i++) {
        one_op(&s, 1, 8 << 20);
        if (i % 5000 == 4999) gort_check_heap();
    }
    gort_check_heap();

    /* Phase 2: small sizes, many live objects. */
    nslots = 4096;
    uint64_t n2 = (uint64_t)(600000 * sc) + 5000;
    for (uint64_t i = 0; i < n2; i++) {
        one_op(&s, 1, 32 << 10);
        if (i % 50000 == 49999) CHECK(gort_check_heap() > 0);
    }

    /* Phase 3: everything freed, heap checked, a short burst of phase 1 again. */
    free_all(&s);
    gort_check_heap();
    nslots = 256;
    for (uint64_t i = 0; i < n1 / 4; i++) one_op(&s, 1, 8 << 20);
    free_all(&s);
    gort_check_heap();
    gort_free(slots);
    printf("test_churn: ok, %llu ops, %llu MiB filled/verified\n", (unsigned long long)ops,
           (unsigned long long)(bytes_touched >> 20));
    return 0;
}
