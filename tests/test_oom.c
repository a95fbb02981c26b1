/*
 * test_oom: real out-of-memory under setrlimit(RLIMIT_AS). The limit is set a few hundred
 * MiB above the current VmSize; the test allocates (1 MiB, then 64 KiB, 4 KiB and 64 B
 * objects) until NULL, requires errno == ENOMEM each time, checks the heap, tries single
 * requests that cannot fit (malloc, calloc, aligned_alloc, realloc: NULL + ENOMEM, the old
 * block intact), frees everything, checks the heap, and allocates again. The cycle runs
 * three times; the later cycles must get about as much memory as the first (a failed
 * growth must not leak address space). Finally the limit is lifted and a big request works.
 * GORT_TEST_RELEASE_ONLY: RLIMIT_AS conflicts with ASan's and TSan's shadow memory.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/resource.h>
#include <gort.h>
#include "check.h"

enum { MAXP = 4 << 20 };
static void *ptrs[MAXP]; /* in .bss, so it is part of VmSize before the limit is set */

static long vm_kib(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    CHECK(f);
    char line[256];
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0) v = strtol(line + fl, NULL, 10);
    fclose(f);
    return v;
}

/* Allocates objects of size n until NULL (or the array is full). Returns the count.
 * Every NULL must come with ENOMEM. Touches one byte per object. */
static size_t fill_until_null(size_t *np, size_t n, size_t *bytes) {
    size_t k = *np, start = k;
    for (; k < MAXP; k++) {
        errno = 0;
        unsigned char *p = gort_malloc(n);
        if (!p) {
            if (errno != ENOMEM) {
                fprintf(stderr, "malloc(%zu) = NULL with errno %d, want ENOMEM\n", n, errno);
                CHECK(errno == ENOMEM);
            }
            break;
        }
        p[0] = (unsigned char)k;
        p[n - 1] = (unsigned char)(k >> 8);
        ptrs[k] = p;
        *bytes += n;
    }
    *np = k;
    return k - start;
}

static void free_all(size_t n) {
    for (size_t k = 0; k < n; k++) gort_free(ptrs[k]);
}

static void huge_requests(void) {
    const size_t huge = (size_t)2 << 30; /* beyond the limit */
    errno = 0;
    CHECK(gort_malloc(huge) == NULL);
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(gort_calloc(huge / 1024, 1024) == NULL);
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(gort_aligned_alloc((size_t)1 << 30, 4096) == NULL);
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(gort_aligned_alloc(4096, huge) == NULL);
    CHECK_EQ(errno, ENOMEM);
}

static size_t cycle(int round, size_t *first_mib_blocks) {
    size_t np = 0, bytes = 0;
    size_t mib = fill_until_null(&np, 1 << 20, &bytes);
    size_t k64 = fill_until_null(&np, 64 << 10, &bytes);
    size_t k4 = fill_until_null(&np, 4096, &bytes);
    size_t b64 = fill_until_null(&np, 64, &bytes);
    fprintf(stderr, "cycle %d: %zu x 1 MiB, %zu x 64 KiB, %zu x 4 KiB, %zu x 64 B = %zu MiB before OOM\n", round, mib,
            k64, k4, b64, bytes >> 20);
    CHECK(np < MAXP); /* we really hit the limit */
    CHECK(mib >= 64); /* the limit leaves 384 MiB of headroom: at least 64 MiB usable */
    if (round == 0) *first_mib_blocks = mib;
    else if (mib * 10 < *first_mib_blocks * 8) {
        fprintf(stderr, "cycle %d got %zu MiB blocks, the first got %zu: address space leaked?\n", round, mib,
                *first_mib_blocks);
        CHECK(0);
    }
    /* Consistent at OOM; contents intact. */
    CHECK(gort_check_heap() > 0);
    for (size_t k = 0; k < np; k += 7) CHECK(((unsigned char *)ptrs[k])[0] == (unsigned char)k);
    huge_requests();
    /* realloc that cannot be satisfied leaves the block intact */
    unsigned char *p = ptrs[0];
    errno = 0;
    CHECK(gort_realloc(p, (size_t)1 << 31) == NULL);
    CHECK_EQ(errno, ENOMEM);
    CHECK(p[0] == 0);
    /* Free half, allocate again: memory is reusable at once. */
    for (size_t k = 0; k < mib; k += 2) {
        gort_free(ptrs[k]);
        ptrs[k] = NULL;
    }
    for (size_t k = 0; k < mib; k += 2) {
        ptrs[k] = gort_malloc(1 << 20);
        if (!ptrs[k]) {
            fprintf(stderr, "after freeing %zu MiB blocks, re-allocating #%zu failed\n", mib / 2, k / 2);
            CHECK(ptrs[k]);
        }
        ((unsigned char *)ptrs[k])[0] = (unsigned char)k;
    }
    free_all(np);
    gort_check_heap(); /* aborts on an inconsistency; the heap may be empty */
    huge_requests();
    /* Allocate again, different shapes. */
    size_t n2 = 0, b2 = 0;
    for (int i = 0; i < 32; i++) {
        ptrs[n2] = gort_malloc((size_t)(i + 1) * 100000);
        CHECK(ptrs[n2]);
        n2++;
    }
    for (int i = 0; i < 100000; i++) {
        ptrs[n2] = gort_malloc(16 + (size_t)i % 1000);
        CHECK(ptrs[n2]);
        n2++;
    }
    (void)b2;
    free_all(n2);
    gort_check_heap(); /* aborts on an inconsistency; the heap may be empty */
    return bytes;
}

int main(void) {
    test_seed();
    /* Warm the heap so that its fixed reservations exist before VmSize is read. */
    for (int i = 0; i < 100; i++) gort_free(gort_malloc((size_t)i * 1000 + 1));
    void *big = gort_malloc(10 << 20);
    CHECK(big);
    gort_free(big);
    gort_check_heap();

    long vm = vm_kib("VmSize:");
    CHECK(vm > 0);
    struct rlimit old, lim;
    CHECK(getrlimit(RLIMIT_AS, &old) == 0);
    lim = old;
    lim.rlim_cur = (rlim_t)(vm + 384 * 1024) * 1024;
    if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < lim.rlim_cur) lim.rlim_cur = old.rlim_cur;
    CHECK(setrlimit(RLIMIT_AS, &lim) == 0);
    fprintf(stderr, "VmSize %ld KiB; RLIMIT_AS set to %llu KiB\n", vm, (unsigned long long)(lim.rlim_cur / 1024));

    size_t first = 0;
    for (int r = 0; r < 3; r++) cycle(r, &first);

    /* Lift the limit: a big request now works. */
    CHECK(setrlimit(RLIMIT_AS, &old) == 0);
    size_t gib = (size_t)1 << 30;
    unsigned char *p = gort_malloc(gib);
    CHECK(p);
    p[0] = 1;
    p[gib - 1] = 2;
    gort_free(p);
    gort_check_heap(); /* aborts on an inconsistency; the heap may be empty */
    printf("test_oom: ok\n");
    return 0;
}
/* GORT_TEST_RELEASE_ONLY */
