/*
 * test_calloc: calloc clears only what was used before.
 *   - calloc(1 GiB) right after a 64 KiB block was used and freed: fast (< 0.5 s) and its RSS
 *     grows by less than 32 MiB (it cleared the whole block before: 3.3 s, 1 GiB);
 *   - a block filled with 0xAA and freed comes back from calloc all zero, whole, in pieces
 *     around live neighbours (more dirty runs than the heap collects one by one), and as one
 *     run long enough to be given back with MADV_DONTNEED (300 MiB), which also returns
 *     its memory: RSS drops;
 *   - calloc of small sizes stays zero after reuse.
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <gort.h>
#include "check.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void check_zero(const unsigned char *p, size_t n, size_t step) {
    for (size_t i = 0; i < n; i += step) {
        if (p[i]) {
            fprintf(stderr, "calloc block %p: byte %zu is %#x\n", (const void *)p, i, p[i]);
            exit(1);
        }
    }
    if (n && p[n - 1]) {
        fprintf(stderr, "calloc block %p: last byte is %#x\n", (const void *)p, p[n - 1]);
        exit(1);
    }
}

static void big_after_small_use(void) {
    unsigned char *b = gort_malloc(64 << 10);
    CHECK(b);
    memset(b, 0xAA, 64 << 10);
    gort_free(b);
    long rss0 = test_rss_kib();
    double t0 = now();
    unsigned char *p = gort_calloc(1, (size_t)1 << 30);
    double dt = now() - t0;
    long rss1 = test_rss_kib();
    CHECK(p);
    fprintf(stderr, "calloc(1 GiB) after a 64 KiB block: %.3f s, RSS +%ld KiB\n", dt, rss1 - rss0);
    check_zero(p, 1 << 20, 1);
    check_zero(p, (size_t)1 << 30, (size_t)4 << 20);
    CHECK(dt < 0.5);
    CHECK(rss1 - rss0 < 32 * 1024);
    gort_free(p);
}

static void dirty_then_calloc(size_t n) {
    unsigned char *p = gort_malloc(n);
    CHECK(p);
    memset(p, 0xAA, n);
    gort_free(p);
    unsigned char *q = gort_calloc(n, 1);
    CHECK(q);
    check_zero(q, n, 1);
    gort_free(q);
}

static void fragmented(void) {
    /* 40 dirty 64 KiB blocks between live ones; free the dirty ones and calloc across */
    enum { N = 80 };
    unsigned char *v[N];
    for (int i = 0; i < N; i++) {
        v[i] = gort_malloc(64 << 10);
        CHECK(v[i]);
        memset(v[i], 0xAA, 64 << 10);
    }
    for (int i = 0; i < N; i += 2) gort_free(v[i]);
    for (int i = 1; i < N; i += 2) gort_free(v[i]);
    unsigned char *q = gort_calloc(N, 64 << 10);
    CHECK(q);
    check_zero(q, (size_t)N << 16, 1);
    gort_free(q);
    /* now with live neighbours left in place: the calloc gets what fits */
    for (int i = 0; i < N; i++) {
        v[i] = gort_malloc(40000);
        CHECK(v[i]);
        memset(v[i], 0xAA, 40000);
    }
    for (int i = 0; i < N; i += 3) gort_free(v[i]);
    unsigned char *r = gort_calloc(1, 3 << 20);
    CHECK(r);
    check_zero(r, 3 << 20, 1);
    gort_free(r);
    for (int i = 0; i < N; i++)
        if (i % 3) gort_free(v[i]);
}

static void long_run_given_back(void) {
    size_t n = test_scale() < 1 ? ((size_t)64 << 20) : ((size_t)300 << 20);
    unsigned char *p = gort_malloc(n);
    CHECK(p);
    memset(p, 0x55, n);
    gort_free(p);
    long rss0 = test_rss_kib();
    unsigned char *q = gort_calloc(1, n);
    CHECK(q);
    long rss1 = test_rss_kib();
    fprintf(stderr, "calloc(%zu MiB) over a dirty block: RSS %+ld KiB\n", n >> 20, rss1 - rss0);
    if (n >= ((size_t)256 << 20)) CHECK(rss0 - rss1 > (long)(n >> 10) / 2);
    check_zero(q, n, 64 << 10);
    check_zero(q, 1 << 20, 1);
    gort_free(q);
}

static void small(void) {
    for (int round = 0; round < 3; round++) {
        void *v[512];
        for (int i = 0; i < 512; i++) {
            size_t n = 1 + (size_t)i * 61 % 30000;
            unsigned char *p = gort_calloc(1, n);
            CHECK(p);
            check_zero(p, n, 1);
            memset(p, 0xAA, n);
            v[i] = p;
        }
        for (int i = 0; i < 512; i++) gort_free(v[i]);
    }
}

int main(void) {
    big_after_small_use();
    dirty_then_calloc(100000);
    dirty_then_calloc(8 << 20);
    fragmented();
    long_run_given_back();
    small();
    gort_check_heap();
    printf("test_calloc: ok\n");
    return 0;
}
