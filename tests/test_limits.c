/*
 * test_limits: requests no heap can serve fail at once, with the heap lock free.
 *   - realloc of a large block to PTRDIFF_MAX, 2^62, 2^50 and SIZE_MAX returns NULL with
 *     ENOMEM within 50 ms each and leaves the block intact, while another thread's
 *     malloc(1 MiB) + free in a loop never waits more than 50 ms for the heap lock.
 *   - where the kernel's overcommit policy would refuse a plain mmap (mode 0 or 2, and less
 *     RAM + swap than asked), malloc, calloc, aligned_alloc and realloc of 1 TiB and 4 TiB return
 *     NULL with ENOMEM within 50 ms and leave less than 8 MiB of RSS behind (they took 16 s
 *     and left 1.2 GiB of metadata);
 *   - a granted huge object (a quarter of RAM + swap, at most 16 GiB) gives its page -> span
 *     map back with it: RSS after the free is within 8 MiB of the RSS before.
 * GORT_TEST_TSAN.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <gort.h>
#include "check.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static atomic_int stop;
static _Atomic double worst_wait;
static void *other_thread(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        double t0 = now();
        void *p = gort_malloc(1 << 20);
        double dt = now() - t0;
        CHECK(p);
        gort_free(p);
        if (dt > atomic_load(&worst_wait)) atomic_store(&worst_wait, dt);
    }
    return NULL;
}

static void realloc_impossible(void) {
    size_t n = 200000;
    unsigned char *p = gort_malloc(n);
    CHECK(p);
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 7);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, other_thread, NULL) == 0);
    const size_t sizes[] = {(size_t)PTRDIFF_MAX,        (size_t)1 << 62, (size_t)1 << 50,
                            (size_t)PTRDIFF_MAX - 8191, SIZE_MAX,        (size_t)1 << 47};
    double worst = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        errno = 0;
        double t0 = now();
        void *q = gort_realloc(p, sizes[k]);
        double dt = now() - t0;
        if (dt > worst) worst = dt;
        fprintf(stderr, "realloc(large, %#zx): %s, %.3f ms\n", sizes[k], q ? "non-NULL" : "NULL", dt * 1e3);
        CHECK(q == NULL);
        CHECK_EQ(errno, ENOMEM);
    }
    atomic_store(&stop, 1);
    CHECK(pthread_join(t, NULL) == 0);
    fprintf(stderr, "slowest realloc %.3f ms; other thread's slowest malloc(1 MiB) %.3f ms\n", worst * 1e3,
            atomic_load(&worst_wait) * 1e3);
    CHECK(worst < 0.05);
    CHECK(atomic_load(&worst_wait) < 0.05);
    for (size_t i = 0; i < n; i++) CHECK(p[i] == (unsigned char)(i * 7));
    gort_free(p);
    gort_check_heap();
}

static long overcommit_mode(void) {
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
    long m = 1;
    if (f) {
        if (fscanf(f, "%ld", &m) != 1) m = 1;
        fclose(f);
    }
    return m;
}

static void refused_fast(void) {
    struct sysinfo si;
    CHECK(sysinfo(&si) == 0);
    uint64_t mem = ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
    if (overcommit_mode() == 1 || mem >= ((uint64_t)1 << 40)) {
        printf("skip refused requests: overcommit mode %ld, RAM + swap %llu bytes\n", overcommit_mode(),
               (unsigned long long)mem);
        return;
    }
    long rss0 = test_rss_kib();
    void *small = gort_malloc(100000);
    CHECK(small);
    for (int k = 0; k < 2; k++) {
        size_t n = k ? (size_t)4 << 40 : (size_t)1 << 40;
        for (int f = 0; f < 4; f++) {
            errno = 0;
            double t0 = now();
            void *p = f == 0 ? gort_malloc(n)
                : f == 1     ? gort_calloc(n >> 20, 1 << 20)
                : f == 2     ? gort_aligned_alloc(1 << 20, n)
                             : gort_realloc(small, n);
            double dt = now() - t0;
            fprintf(stderr, "request %d of %zu GiB: %s, errno %d, %.3f ms\n", f, n >> 30, p ? "granted" : "NULL", errno,
                    dt * 1e3);
            CHECK(p == NULL);
            CHECK_EQ(errno, ENOMEM);
            CHECK(dt < 0.05);
        }
    }
    gort_free(small);
    gort_release_memory();
    long rss1 = test_rss_kib();
    fprintf(stderr, "RSS after refused requests: %+ld KiB\n", rss1 - rss0);
    CHECK(rss1 - rss0 < 8 * 1024);
}

static void huge_metadata_returned(void) {
    struct sysinfo si;
    CHECK(sysinfo(&si) == 0);
    uint64_t mem = ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
    size_t n = mem / 4 > ((uint64_t)16 << 30) ? (size_t)16 << 30 : (size_t)(mem / 4) & ~(((size_t)1 << 30) - 1);
    if (n < ((size_t)1 << 30)) return;
    gort_release_memory();
    long rss0 = test_rss_kib();
    unsigned char *p = gort_malloc(n);
    CHECK(p);
    p[0] = 1;
    p[n - 1] = 2;
    long rss1 = test_rss_kib();
    gort_free(p);
    long rss2 = test_rss_kib();
    fprintf(stderr, "%zu GiB object: RSS %+ld KiB while live, %+ld KiB after free\n", n >> 30, rss1 - rss0,
            rss2 - rss0);
    if (!test_sanitized()) CHECK(rss2 - rss0 < 8 * 1024); /* a sanitizer's shadow of the map stays */
}

int main(void) {
    realloc_impossible();
    refused_fast();
    huge_metadata_returned();
    printf("test_limits: ok\n");
    return 0;
}
