/*
 * test_realloc: gort_realloc keeps the content up to the smaller size, grows in place where
 * the class allows (a new size within gort_usable_size returns the same pointer), and
 * handles NULL, 0, aligned blocks and long grow/shrink chains across small, large and huge.
 * (Failure under a real OOM is in test_oom; sizes above PTRDIFF_MAX in test_api.)
 */
#include <errno.h>
#include <stdint.h>
#include <gort.h>
#include "check.h"

static inline unsigned char cb(uint64_t seed, size_t i) {
    uint64_t x = seed ^ ((uint64_t)i * 0x9E3779B97F4A7C15ULL);
    return (unsigned char)(x >> 40);
}
static void fill_from(unsigned char *p, size_t from, size_t to, uint64_t seed) {
    for (size_t i = from; i < to; i++) p[i] = cb(seed, i);
}
static void verify_upto(const unsigned char *p, size_t n, uint64_t seed, const char *ctx, size_t a, size_t b) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != cb(seed, i)) {
            fprintf(stderr, "test_realloc: %s (%zu -> %zu): %p byte %zu lost (seed %llu)\n", ctx, a, b, (const void *)p,
                    i, (unsigned long long)seed);
            exit(1);
        }
    }
}

static void test_in_place(void) {
    /* For each size: realloc to the usable size must not move; nor a shrink by a few bytes
     * that stays in the same class (same usable size). */
    int moved = 0;
    for (size_t n = 1; n < ((size_t)3 << 20); n = n < 2048 ? n + 1 : n * 9 / 8 + 5) {
        unsigned char *p = gort_malloc(n);
        CHECK(p);
        size_t u = gort_usable_size(p);
        CHECK(u >= n);
        fill_from(p, 0, u, n);
        unsigned char *q = gort_realloc(p, u);
        if (q != p) {
            fprintf(stderr, "realloc(malloc(%zu) = %p, usable %zu) moved to %p\n", n, (void *)p, u, (void *)q);
            moved++;
        }
        CHECK(q);
        verify_upto(q, u, n, "to usable", n, u);
        unsigned char *r = gort_realloc(q, n);
        CHECK(r);
        verify_upto(r, n, n, "back to size", u, n);
        if (gort_usable_size(r) == u && r != q) {
            fprintf(stderr, "realloc(%p, %zu) within the same class moved to %p\n", (void *)q, n, (void *)r);
            moved++;
        }
        gort_free(r);
    }
    CHECK_EQ(moved, 0);
}

static void test_chain(uint64_t seed) {
    /* Grow from 1 byte to 64 MiB (scaled) and shrink back, verifying at every step. */
    uint64_t s = seed;
    size_t max = test_scale() < 1 ? ((size_t)16 << 20) : ((size_t)64 << 20);
    size_t n = 1;
    unsigned char *p = gort_malloc(n);
    CHECK(p);
    fill_from(p, 0, n, seed);
    size_t steps = 0;
    while (n < max) {
        size_t m = n + 1 + (size_t)(rng_next(&s) % (n / 2 + 16));
        unsigned char *q = gort_realloc(p, m);
        CHECK(q);
        verify_upto(q, n, seed, "grow", n, m);
        fill_from(q, n, m, seed);
        p = q;
        n = m;
        steps++;
        if (steps % 16 == 0) gort_check_heap();
    }
    while (n > 1) {
        size_t m = n - 1 - (size_t)(rng_next(&s) % (n / 2));
        if (m == 0) m = 1;
        unsigned char *q = gort_realloc(p, m);
        CHECK(q);
        verify_upto(q, m, seed, "shrink", n, m);
        p = q;
        n = m;
        steps++;
    }
    gort_free(p);
    gort_check_heap();
}

static void test_zero_and_null(void) {
    unsigned char *p = gort_realloc(NULL, 33);
    CHECK(p);
    CHECK(gort_usable_size(p) >= 33);
    memset(p, 3, 33);
    /* realloc(p, 0): either frees p and returns NULL, or returns a freeable pointer. */
    void *q = gort_realloc(p, 0);
    if (q) gort_free(q);
    p = gort_malloc(100000);
    CHECK(p);
    q = gort_realloc(p, 0);
    if (q) gort_free(q);
    gort_check_heap();
}

static void test_aligned_blocks(void) {
    for (size_t a = 16; a <= ((size_t)1 << 22); a <<= 1) {
        size_t n = a / 2 + 7;
        unsigned char *p = gort_aligned_alloc(a, n);
        CHECK(p);
        CHECK(((uintptr_t)p & (a - 1)) == 0);
        fill_from(p, 0, n, a);
        unsigned char *q = gort_realloc(p, n * 3);
        CHECK(q);
        verify_upto(q, n, a, "aligned grow", n, n * 3);
        unsigned char *r = gort_realloc(q, n / 3 + 1);
        CHECK(r);
        verify_upto(r, n / 3 + 1, a, "aligned shrink", n * 3, n / 3 + 1);
        gort_free(r);
    }
    gort_check_heap();
}

static void test_many_interleaved(uint64_t seed) {
    /* Many blocks realloc'ed in turn, so that growth in place competes with neighbours. */
    enum { N = 200 };
    unsigned char *p[N];
    size_t n[N];
    uint64_t s = seed ^ 0x5555;
    for (int i = 0; i < N; i++) {
        n[i] = 1 + rng_next(&s) % 200;
        p[i] = gort_malloc(n[i]);
        CHECK(p[i]);
        fill_from(p[i], 0, n[i], seed + (uint64_t)i);
    }
    int rounds = (int)(400 * test_scale()) + 20;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < N; i++) {
            size_t m = n[i] + (rng_next(&s) % 3 == 0 ? 0 : rng_next(&s) % 300);
            if (rng_next(&s) % 4 == 0) m = 1 + rng_next(&s) % (n[i] + 1);
            if (m > (1 << 20)) m = 1 + rng_next(&s) % 1000;
            unsigned char *q = gort_realloc(p[i], m);
            CHECK(q);
            size_t keep = n[i] < m ? n[i] : m;
            verify_upto(q, keep, seed + (uint64_t)i, "interleaved", n[i], m);
            fill_from(q, keep, m, seed + (uint64_t)i);
            p[i] = q;
            n[i] = m;
        }
        if (r % 50 == 0) gort_check_heap();
    }
    for (int i = 0; i < N; i++) {
        verify_upto(p[i], n[i], seed + (uint64_t)i, "final", n[i], n[i]);
        gort_free(p[i]);
    }
    gort_check_heap();
}

int main(void) {
    uint64_t seed = test_seed();
    test_zero_and_null();
    test_in_place();
    test_chain(seed);
    test_aligned_blocks();
    test_many_interleaved(seed);
    printf("test_realloc: ok\n");
    return 0;
}
