/* bench/common.h: shared helpers for gort's allocator workloads.
 *
 * Every workload is a standalone program that only uses the standard allocation
 * API (malloc/free/realloc/posix_memalign), so the same binary runs under each
 * allocator via LD_PRELOAD.  Command line: -t THREADS (default 1) and
 * -s SCALE (a multiplier of the workload's base amount of work, default 1.0).
 * Each prints one line:  RESULT name=NAME secs=S threads=T ... checksum=C
 * where secs is the time of the measured phase only (no process start-up). */
#ifndef GORT_BENCH_COMMON_H
#define GORT_BENCH_COMMON_H

#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int threads;
    double scale;
    const char *extra; /* -w argument, workload specific */
    long count;        /* -c argument, workload specific (0: unset) */
} bench_args_t;

static inline void bench_usage(const char *prog) {
    fprintf(stderr, "usage: %s [-t THREADS] [-s SCALE] [-c COUNT] [-w EXTRA]\n", prog);
    exit(2);
}

static inline bench_args_t bench_parse(int argc, char **argv) {
    bench_args_t a = {1, 1.0, NULL, 0};
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) bench_usage(argv[0]);
        if (!strcmp(argv[i], "-t")) a.threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-s")) a.scale = atof(argv[++i]);
        else if (!strcmp(argv[i], "-c")) a.count = atol(argv[++i]);
        else if (!strcmp(argv[i], "-w")) a.extra = argv[++i];
        else bench_usage(argv[0]);
    }
    if (a.threads < 1) a.threads = 1;
    if (a.threads > 1024) a.threads = 1024;
    if (!(a.scale > 0)) a.scale = 1.0;
    return a;
}

/* Scaled work amount, never below 1. */
static inline long bench_n(const bench_args_t *a, double base) {
    double n = base * a->scale;
    return n < 1 ? 1 : (long)n;
}

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* xorshift64*: small, fast, deterministic per seed. */
typedef struct {
    uint64_t s;
} rng_t;

static inline rng_t rng_seed(uint64_t seed) {
    /* splitmix64 scramble so that nearby seeds give unrelated streams */
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    rng_t r = {z ? z : 1};
    return r;
}

static inline uint64_t rng_next(rng_t *r) {
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Uniform in [lo, hi]. */
static inline size_t rng_range(rng_t *r, size_t lo, size_t hi) {
    return lo + (size_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* Log-uniform in [lo, hi]: as many blocks of each power of two. */
static inline size_t rng_logrange(rng_t *r, size_t lo, size_t hi) {
    int lb = 63 - __builtin_clzll(lo), hb = 63 - __builtin_clzll(hi);
    int b = lb + (int)(rng_next(r) % (uint64_t)(hb - lb + 1));
    size_t base = (size_t)1 << b;
    size_t s = base + (size_t)(rng_next(r) % base);
    if (s < lo) s = lo;
    if (s > hi) s = hi;
    return s;
}

static inline void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "malloc(%zu) failed\n", n);
        abort();
    }
    return p;
}

/* Resident set size of this process in KiB, from /proc/self/statm. */
static inline long bench_rss_kb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = -1;
    fclose(f);
    return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Start threads running fn(arg_i), arg_i = base + i*stride, and join them. */
static inline void bench_run_threads(int n, void *(*fn)(void *), void *base, size_t stride) {
    pthread_t *t = xmalloc(sizeof(pthread_t) * (size_t)n);
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, fn, (char *)base + (size_t)i * stride)) {
            perror("pthread_create");
            exit(1);
        }
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    free(t);
}

#define CACHE_LINE 64
#define ALIGNED_CL __attribute__((aligned(CACHE_LINE)))

/* One worker thread's part of a workload: its index, its share of the
 * operations, and the checksum it leaves. */
typedef struct {
    int id;
    long ops;
    uint64_t sum;
} ALIGNED_CL bench_part_t;

/* Runs fn(part) on n threads, each part with total / n operations, and joins
 * them; returns the sum of their checksums and sets *each to one part's
 * operations. */
static inline uint64_t bench_run_parts(int n, void *(*fn)(void *), long total, long *each) {
    bench_part_t *parts = calloc((size_t)n, sizeof(bench_part_t));
    if (!parts) abort();
    for (int i = 0; i < n; i++) {
        parts[i].id = i;
        parts[i].ops = total / n;
    }
    bench_run_threads(n, fn, parts, sizeof(bench_part_t));
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) sum += parts[i].sum;
    *each = parts[0].ops;
    free(parts);
    return sum;
}

/* The main of a workload that is only bench_run_parts: base operations
 * (scaled by -s) split over -t threads, timed, and its RESULT line, which
 * names the operations unit (e.g. "steps=" for unit "steps"). */
static inline int bench_main_parts(int argc, char **argv, const char *name, const char *unit, void *(*fn)(void *),
                                   double base) {
    bench_args_t a = bench_parse(argc, argv);
    int T = a.threads;
    long each;
    double t0 = bench_now();
    uint64_t sum = bench_run_parts(T, fn, bench_n(&a, base), &each);
    double t1 = bench_now();
    printf("RESULT name=%s secs=%.6f threads=%d %s=%ld checksum=%" PRIu64 "\n", name, t1 - t0, T, unit, each * T, sum);
    return 0;
}

#endif
