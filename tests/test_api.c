/*
 * test_api: black-box edge cases of the gort_* allocation API (the README's contract).
 *   malloc(0) unique and freeable; free(NULL); alignment of every small size;
 *   usable_size >= request and the whole usable area writable; overflow and
 *   sizes above PTRDIFF_MAX -> NULL + ENOMEM; calloc zeroing of reused memory;
 *   realloc(NULL, n); big allocations (4 GiB) touching a few pages.
 * GORT_TEST_TSAN is not set: single-threaded.
 */
#include <errno.h>
#include <stdint.h>
#include <gort.h>
#include "check.h"

static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return x < y ? -1 : x > y;
}

/* The alignment the contract promises for a request of n bytes. */
static uintptr_t promised_align(size_t n) {
    if (n >= 16) return 16;
    if (n > 8) return 16; /* class 16 */
    return 8;             /* class 8: "largest power of two not above the class" */
}

static void test_zero_and_null(void) {
    gort_free(NULL);
    enum { N = 4096 };
    void **v = gort_malloc(N * sizeof *v);
    CHECK(v != NULL);
    for (int i = 0; i < N; i++) {
        v[i] = gort_malloc(0);
        CHECK(v[i] != NULL);
    }
    qsort(v, N, sizeof *v, cmp_ptr);
    for (int i = 1; i < N; i++) CHECK(v[i] != v[i - 1]);
    for (int i = 0; i < N; i++) gort_free(v[i]);
    /* calloc with a zero factor is also a unique, freeable pointer. */
    void *a = gort_calloc(0, 16), *b = gort_calloc(16, 0), *c = gort_calloc(0, 0);
    CHECK(a && b && c && a != b && b != c && a != c);
    gort_free(a);
    gort_free(b);
    gort_free(c);
    gort_free(v);
    gort_free(NULL);
}

static void test_sizes_and_alignment(void) {
    /* Every size up to 40 KiB (covers every small class and the first large sizes), then
     * a sweep of odd sizes to 64 MiB. Fill the whole usable area; keep some alive so that
     * objects share spans. */
    enum { KEEP = 64 };
    void *keep[KEEP] = {0};
    size_t limit = 40 * 1024;
    for (size_t n = 1; n <= limit; n += (n < 4096 ? 1 : 7)) {
        unsigned char *p = gort_malloc(n);
        CHECK(p != NULL);
        CHECK(((uintptr_t)p & (promised_align(n) - 1)) == 0);
        size_t u = gort_usable_size(p);
        if (u < n) {
            fprintf(stderr, "usable_size(malloc(%zu)) = %zu\n", n, u);
            CHECK(u >= n);
        }
        CHECK(u <= n + n / 4 + 4096 * 2); /* sanity: no absurd rounding */
        memset(p, (int)(n & 0xff), u);
        size_t k = n % KEEP;
        if (keep[k]) {
            unsigned char *q = keep[k];
            size_t qu = gort_usable_size(q);
            for (size_t i = 0; i < qu; i += 97) CHECK(q[i] == q[0]);
            CHECK(q[qu - 1] == q[0]);
            gort_free(q);
        }
        keep[k] = p;
    }
    for (int k = 0; k < KEEP; k++) gort_free(keep[k]);
    gort_check_heap(); /* aborts on an inconsistency; the heap may be empty */

    for (size_t n = 40 * 1024; n <= (size_t)64 << 20; n = n * 3 / 2 + 13) {
        unsigned char *p = gort_malloc(n);
        CHECK(p != NULL);
        CHECK(((uintptr_t)p & 15) == 0);
        size_t u = gort_usable_size(p);
        CHECK(u >= n);
        p[0] = 1;
        p[n / 2] = 2;
        p[u - 1] = 3;
        gort_free(p);
    }
    gort_check_heap(); /* aborts on an inconsistency; the heap may be empty */
}

static void test_usable_size_writable(void) {
    /* Write every usable byte of neighbours and check that nothing bleeds across. */
    enum { N = 512 };
    static unsigned char *p[N];
    static size_t u[N];
    uint64_t s = test_seed();
    for (int i = 0; i < N; i++) {
        size_t n = 1 + rng_next(&s) % 3000;
        p[i] = gort_malloc(n);
        CHECK(p[i] != NULL);
        u[i] = gort_usable_size(p[i]);
        CHECK(u[i] >= n);
        memset(p[i], i & 0xff, u[i]);
    }
    for (int i = 0; i < N; i++) {
        for (size_t j = 0; j < u[i]; j++) {
            if (p[i][j] != (i & 0xff)) {
                fprintf(stderr, "object %d (%p, usable %zu) byte %zu overwritten\n", i, (void *)p[i], u[i], j);
                CHECK(0);
            }
        }
        gort_free(p[i]);
    }
}

static void test_overflow(void) {
    const size_t big[] = {(size_t)PTRDIFF_MAX + 1, SIZE_MAX,        SIZE_MAX - 4095,
                          SIZE_MAX - 15,           (size_t)1 << 63, ((size_t)1 << 63) + 8192};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        errno = 0;
        CHECK(gort_malloc(big[i]) == NULL);
        CHECK_EQ(errno, ENOMEM);
        errno = 0;
        CHECK(gort_calloc(1, big[i]) == NULL);
        CHECK_EQ(errno, ENOMEM);
        errno = 0;
        CHECK(gort_calloc(big[i], 1) == NULL);
        CHECK_EQ(errno, ENOMEM);
        errno = 0;
        CHECK(gort_aligned_alloc(16, big[i]) == NULL);
        CHECK_EQ(errno, ENOMEM);
        errno = 0;
        CHECK(gort_aligned_alloc(4096, big[i]) == NULL);
        CHECK_EQ(errno, ENOMEM);
        errno = 0;
        CHECK(gort_realloc(NULL, big[i]) == NULL);
        CHECK_EQ(errno, ENOMEM);
    }
    /* calloc products that overflow size_t (or land above PTRDIFF_MAX). */
    const size_t pairs[][2] = {{(size_t)1 << 32, (size_t)1 << 32},
                               {SIZE_MAX / 2 + 1, 2},
                               {2, SIZE_MAX / 2 + 1},
                               {3, SIZE_MAX / 3 + 1},
                               {(size_t)1 << 62, 2},
                               {65537, (SIZE_MAX / 65537) + 1},
                               {(size_t)1 << 31, (size_t)1 << 33}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        errno = 0;
        void *p = gort_calloc(pairs[i][0], pairs[i][1]);
        if (p != NULL) {
            fprintf(stderr, "calloc(%zu, %zu) = %p\n", pairs[i][0], pairs[i][1], p);
            CHECK(p == NULL);
        }
        CHECK_EQ(errno, ENOMEM);
    }
    /* realloc to an impossible size keeps the old block. */
    unsigned char *p = gort_malloc(100);
    CHECK(p);
    for (int i = 0; i < 100; i++) p[i] = (unsigned char)(i * 7);
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        errno = 0;
        CHECK(gort_realloc(p, big[i]) == NULL);
        CHECK_EQ(errno, ENOMEM);
        for (int j = 0; j < 100; j++) CHECK_EQ(p[j], (unsigned char)(j * 7));
    }
    gort_free(p);
    /* Heap is fine after all of that. */
    gort_check_heap();
    void *q = gort_malloc(32);
    CHECK(q);
    gort_free(q);
}

static void test_calloc_zero(void) {
    /* Dirty memory, free it, calloc it back: must be all zero. Small classes (reuse of slots
     * within a span), whole spans and large objects. */
    static const size_t sizes[] = {1,    7,     8,     16,    33,    100,    256,     1000,          2048,    4000,
                                   8192, 12345, 32768, 32769, 65536, 100000, 1 << 20, (1 << 20) + 1, 5 << 20, 33 << 20};
    enum { PER = 64 };
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        int per = n > (1 << 20) ? 4 : PER;
        void *v[PER];
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < per; i++) {
                v[i] = gort_malloc(n);
                CHECK(v[i]);
                memset(v[i], 0xA5, gort_usable_size(v[i]));
            }
            for (int i = 0; i < per; i++) gort_free(v[i]);
            for (int i = 0; i < per; i++) {
                unsigned char *p = gort_calloc(1, n);
                CHECK(p);
                size_t u = n; /* calloc zeroes at least n bytes */
                for (size_t j = 0; j < u; j++) {
                    if (p[j] != 0) {
                        fprintf(stderr, "calloc(1, %zu) = %p: byte %zu is 0x%02x\n", n, (void *)p, j, p[j]);
                        CHECK(0);
                    }
                }
                memset(p, 0x5A, gort_usable_size(p));
                v[i] = p;
            }
            for (int i = 0; i < per; i++) gort_free(v[i]);
        }
    }
    /* calloc(n, size) with a real product. */
    unsigned *a = gort_calloc(1000, sizeof(unsigned));
    CHECK(a);
    for (int i = 0; i < 1000; i++) CHECK(a[i] == 0);
    CHECK(gort_usable_size(a) >= 4000);
    gort_free(a);
}

static void test_realloc_null(void) {
    unsigned char *p = gort_realloc(NULL, 50);
    CHECK(p);
    CHECK(gort_usable_size(p) >= 50);
    memset(p, 1, 50);
    gort_free(p);
    p = gort_realloc(NULL, 0);
    CHECK(p); /* realloc(NULL, 0) is malloc(0) */
    gort_free(p);
}

static void test_distinct_small(void) {
    /* Many live small objects: all distinct, no two closer than the object size. */
    static const size_t sizes[] = {1, 8, 16, 17, 48, 100, 1024};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        int count = (int)(50000 * test_scale()) + 1000;
        void **v = gort_malloc((size_t)count * sizeof *v);
        CHECK(v);
        for (int i = 0; i < count; i++) {
            v[i] = gort_malloc(n);
            CHECK(v[i]);
            *(unsigned char *)v[i] = (unsigned char)i;
        }
        qsort(v, (size_t)count, sizeof *v, cmp_ptr);
        for (int i = 1; i < count; i++) CHECK((uintptr_t)v[i] - (uintptr_t)v[i - 1] >= n);
        for (int i = 0; i < count; i++) gort_free(v[i]);
        gort_free(v);
    }
    gort_check_heap(); /* aborts on an inconsistency; the heap may be empty */
}

static void test_big(void) {
    /* "Any size the OS can back works, many GiB included." Touch only a few pages. */
    size_t four = (size_t)4 << 30;
    unsigned char *a = gort_malloc(four);
    CHECK(a != NULL);
    CHECK(((uintptr_t)a & 15) == 0);
    CHECK(gort_usable_size(a) >= four);
    unsigned char *b = gort_malloc(four + 12345);
    CHECK(b != NULL);
    CHECK(gort_usable_size(b) >= four + 12345);
    CHECK(b + four + 12345 <= a || a + four <= b);
    for (size_t off = 0; off < four; off += (size_t)256 << 20) {
        a[off] = (unsigned char)(off >> 28);
        b[off] = (unsigned char)~(off >> 28);
    }
    a[four - 1] = 0x77;
    b[four + 12344] = 0x66;
    for (size_t off = 0; off < four; off += (size_t)256 << 20) {
        CHECK_EQ(a[off], (unsigned char)(off >> 28));
        CHECK_EQ(b[off], (unsigned char)~(off >> 28));
    }
    CHECK(gort_check_heap() > 0);
    gort_free(a);
    gort_free(b);
    /* A big calloc must read as zero (spot checks). */
    size_t one = (size_t)1 << 30;
    unsigned char *c = gort_calloc(one, 1);
    CHECK(c);
    for (size_t off = 0; off < one; off += 4096 * 37) CHECK(c[off] == 0);
    CHECK(c[one - 1] == 0);
    gort_free(c);
    /* And the heap still serves ordinary requests. */
    void *d = gort_malloc(100);
    CHECK(d);
    gort_free(d);
    gort_check_heap();
}

int main(void) {
    test_seed();
    test_zero_and_null();
    test_sizes_and_alignment();
    test_usable_size_writable();
    test_overflow();
    test_calloc_zero();
    test_realloc_null();
    test_distinct_small();
    test_big();
    gort_check_heap(); /* aborts on an inconsistency; the heap may be empty */
    printf("test_api: ok\n");
    return 0;
}
