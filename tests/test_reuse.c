/*
 * test_reuse: freed memory is reused, whatever shape the next allocations take.
 * Each phase allocates ~192 MiB in one shape (1 MiB blocks, 3 MiB blocks, 32 KiB
 * objects, mixed small objects, 8 KiB-aligned blocks, 40 MiB blocks), writes every page,
 * frees it all (in an order that leaves holes until the end), and checks the heap. The
 * resident set (/proc/self/statm) after every phase must stay near the first phase's peak:
 * free page runs must coalesce and be found again by the page heap, and freed small spans
 * must go back to it. Finally gort_release_memory() must return memory to the OS.
 */
#include <errno.h>
#include <stdint.h>
#include <gort.h>
#include "check.h"

enum { MAXOBJ = 1 << 20 };
static unsigned char *objs[MAXOBJ];

/* Allocates `total` bytes in objects from size_fn, touches every page, frees everything
 * (odd indices first, so that holes exist while the rest is still live). */
static long phase(const char *name, size_t total, size_t (*size_fn)(uint64_t *), size_t align, uint64_t *s) {
    size_t n = 0, bytes = 0;
    while (bytes < total && n < MAXOBJ) {
        size_t sz = size_fn(s);
        unsigned char *p = align ? gort_aligned_alloc(align, sz) : gort_malloc(sz);
        CHECK(p);
        if (align) CHECK(((uintptr_t)p & (align - 1)) == 0);
        for (size_t off = 0; off < sz; off += 4096) p[off] = (unsigned char)n;
        p[sz - 1] = (unsigned char)n;
        objs[n++] = p;
        bytes += sz;
    }
    long peak = test_rss_kib();
    gort_check_heap();
    for (size_t i = 1; i < n; i += 2) {
        CHECK(objs[i][0] == (unsigned char)i);
        gort_free(objs[i]);
    }
    for (size_t i = 0; i < n; i += 2) gort_free(objs[i]);
    gort_check_heap();
    fprintf(stderr, "%-22s %7zu objects, %4zu MiB: rss at peak %ld MiB\n", name, n, bytes >> 20, peak >> 10);
    return peak;
}

static size_t sz_1m(uint64_t *s) { return (size_t)1 << 20; }
static size_t sz_3m(uint64_t *s) { return ((size_t)3 << 20) + 4096 * (size_t)(rng_next(s) % 8); }
static size_t sz_32k(uint64_t *s) { return 32768 - (size_t)(rng_next(s) % 64); }
static size_t sz_small(uint64_t *s) { return 1 + (size_t)(rng_next(s) % 2048); }
static size_t sz_mid(uint64_t *s) { return 4096 + (size_t)(rng_next(s) % 60000); }
static size_t sz_40m(uint64_t *s) { return ((size_t)40 << 20) + 1; }

int main(void) {
    uint64_t s = test_seed();
    size_t total = (size_t)192 << 20; /* not scaled: fast in every build, and the slack
                                         below is tuned for this size */
    long first = phase("1 MiB blocks", total, sz_1m, 0, &s);
    /* slack: arena granularity (64 MiB) and fragmentation (cached spans pin pages, so
     * 40 MiB runs may need a fresh arena or two); a heap that never reuses
     * another shape's memory grows by ~192 MiB a phase */
    long limit = first + first * 3 / 4 + 64 * 1024;
    struct {
        const char *name;
        size_t (*fn)(uint64_t *);
        size_t align;
    } phases[] = {
        {"3 MiB blocks", sz_3m, 0},       {"32 KiB objects", sz_32k, 0},        {"small objects", sz_small, 0},
        {"4..64 KiB objects", sz_mid, 0}, {"8 KiB-aligned mid", sz_mid, 8192},  {"40 MiB blocks", sz_40m, 0},
        {"1 MiB blocks again", sz_1m, 0}, {"small objects again", sz_small, 0},
    };
    for (size_t i = 0; i < sizeof phases / sizeof phases[0]; i++) {
        long peak = phase(phases[i].name, total, phases[i].fn, phases[i].align, &s);
        if (peak > limit) {
            fprintf(stderr,
                    "phase '%s': rss %ld KiB, more than %ld KiB (first phase %ld KiB): freed "
                    "memory not reused\n",
                    phases[i].name, peak, limit, first);
            CHECK(peak <= limit);
        }
    }
    long before = test_rss_kib();
    size_t released = gort_release_memory();
    long after = test_rss_kib();
    fprintf(stderr, "gort_release_memory: %zu MiB released; rss %ld -> %ld MiB\n", released >> 20, before >> 10,
            after >> 10);
    /* Everything is free: what stays resident is metadata and the test itself. (A
     * background scavenger may have released some of it already, so `released` may be
     * small.) */
    if (after > 64 * 1024) {
        fprintf(stderr, "rss %ld KiB after gort_release_memory with an empty heap\n", after);
        CHECK(after <= 64 * 1024);
    }
    /* The heap works after the release. */
    void *p = gort_malloc(10 << 20);
    CHECK(p);
    memset(p, 1, 10 << 20);
    gort_free(p);
    gort_check_heap();
    printf("test_reuse: ok\n");
    return 0;
}
