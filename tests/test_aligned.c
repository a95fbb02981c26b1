/*
 * test_aligned: gort_aligned_alloc takes every power-of-two alignment from 1 up to 1 GiB
 * (the contract: "up to at least 1 GiB"); any other alignment returns NULL with EINVAL.
 * Checks alignment, usable_size, writability of the first and last byte, non-overlap of
 * many live aligned blocks mixed with plain ones, and gort_check_heap().
 */
#include <errno.h>
#include <stdint.h>
#include <gort.h>
#include "check.h"

static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return x < y ? -1 : x > y;
}

static void one(size_t a, size_t n) {
    errno = 0;
    unsigned char *p = gort_aligned_alloc(a, n);
    if (!p) {
        fprintf(stderr, "aligned_alloc(%zu, %zu) = NULL, errno %d\n", a, n, errno);
        CHECK(p);
    }
    if ((uintptr_t)p & (a - 1)) {
        fprintf(stderr, "aligned_alloc(%zu, %zu) = %p misaligned\n", a, n, (void *)p);
        CHECK(0);
    }
    size_t u = gort_usable_size(p);
    CHECK(u >= n);
    if (n) {
        p[0] = 0x11;
        p[n - 1] = 0x22;
        if (n > 2) CHECK(p[0] == 0x11);
    }
    p[u ? u - 1 : 0] = 0x33;
    gort_free(p);
}

static void test_every_alignment(void) {
    size_t maxa = (size_t)1 << 30;
    for (size_t a = 1; a <= maxa; a <<= 1) {
        size_t sizes[] = {0, 1, 7, 16, a / 2 + 1, a - 1, a, a + 1, 3 * a, 1000, 40000};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            size_t n = sizes[i];
            if (n > ((size_t)1 << 31) + 1) continue; /* 3 GiB for a = 1 GiB: skip */
            one(a, n);
        }
        if (a >= ((size_t)1 << 24)) gort_check_heap();
    }
    gort_check_heap();
}

static void test_einval(void) {
    const size_t bad[] = {0,
                          3,
                          5,
                          6,
                          12,
                          24,
                          48,
                          100,
                          1000,
                          4097,
                          12288,
                          ((size_t)1 << 20) + 16,
                          SIZE_MAX,
                          SIZE_MAX / 2,
                          ((size_t)1 << 40) | 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        void *p = gort_aligned_alloc(bad[i], 64);
        if (p) {
            fprintf(stderr, "aligned_alloc(%zu, 64) = %p, want NULL/EINVAL\n", bad[i], p);
            CHECK(p == NULL);
        }
        CHECK_EQ(errno, EINVAL);
    }
    /* Powers of two beyond 1 GiB may fail, but only with NULL and an errno; if they
     * succeed, the alignment must hold. */
    for (size_t a = (size_t)1 << 31; a != 0; a <<= 1) {
        if (a > ((size_t)1 << 36)) break; /* keep the reservation modest (64 GiB) */
        errno = 0;
        void *p = gort_aligned_alloc(a, 4096);
        if (p) {
            CHECK(((uintptr_t)p & (a - 1)) == 0);
            gort_free(p);
        } else {
            CHECK(errno == ENOMEM || errno == EINVAL);
        }
    }
    errno = 0;
    CHECK(gort_aligned_alloc((size_t)1 << 62, 16) == NULL);
    CHECK(errno == ENOMEM || errno == EINVAL);
    errno = 0;
    CHECK(gort_aligned_alloc((size_t)1 << 63, 16) == NULL);
    CHECK(errno == ENOMEM || errno == EINVAL);
    gort_check_heap();
}

static void test_many_live(uint64_t seed) {
    /* Aligned and plain blocks live together; no overlap; content intact. */
    uint64_t s = seed;
    int count = (int)(20000 * test_scale()) + 500;
    struct blk {
        unsigned char *p;
        size_t n;
    } *v = gort_malloc((size_t)count * sizeof *v);
    void **ps = gort_malloc((size_t)count * sizeof *ps);
    CHECK(v && ps);
    for (int i = 0; i < count; i++) {
        size_t n = 1 + rng_next(&s) % 3000;
        unsigned char *p;
        if (rng_next(&s) % 2) {
            size_t a = (size_t)1 << (rng_next(&s) % 14); /* 1 .. 8 KiB */
            p = gort_aligned_alloc(a, n);
            CHECK(p);
            CHECK(((uintptr_t)p & (a - 1)) == 0);
        } else {
            p = gort_malloc(n);
            CHECK(p);
        }
        CHECK(gort_usable_size(p) >= n);
        memset(p, i & 0xff, n);
        v[i].p = p;
        v[i].n = n;
        /* free some as we go so aligned requests reuse partially filled spans */
        if (i > 10 && rng_next(&s) % 3 == 0) {
            int k = (int)(rng_next(&s) % (uint64_t)i);
            if (v[k].p) {
                for (size_t j = 0; j < v[k].n; j++) CHECK(v[k].p[j] == (k & 0xff));
                gort_free(v[k].p);
                v[k].p = NULL;
            }
        }
    }
    int m = 0;
    for (int i = 0; i < count; i++)
        if (v[i].p) {
            for (size_t j = 0; j < v[i].n; j++) CHECK(v[i].p[j] == (i & 0xff));
            ps[m++] = v[i].p;
        }
    qsort(ps, (size_t)m, sizeof *ps, cmp_ptr);
    for (int i = 1; i < m; i++) CHECK((uintptr_t)ps[i - 1] + gort_usable_size(ps[i - 1]) <= (uintptr_t)ps[i]);
    CHECK(gort_check_heap() > 0);
    for (int i = 0; i < count; i++) gort_free(v[i].p); /* NULLs are no-ops */
    gort_free(v);
    gort_free(ps);
    gort_check_heap();
}

int main(void) {
    uint64_t seed = test_seed();
    test_einval();
    test_every_alignment();
    test_many_live(seed);
    printf("test_aligned: ok\n");
    return 0;
}
