/* Workload 9, footprint: memory kept.  T threads together build SCALE x 1 GiB of
 * mixed small objects (16-1024 B, log-uniform), then free a random 90% of
 * them (leaving live objects scattered over the heap), then free the rest.
 * RSS is read from /proc/self/statm at each step, and again W1 and W2 seconds
 * after the free-all (-w W1,W2; default 1,10): what the allocator gave back to
 * the OS.  secs is the time of the build and free phases, without the waits. */
#include "common.h"

typedef struct {
    int id;
    size_t bytes, cap, count;
    unsigned char **p;
    uint64_t sum;
} ALIGNED_CL arg_t;

static void *build(void *vp) {
    arg_t *ar = vp;
    rng_t r = rng_seed(900 + (uint64_t)ar->id);
    size_t got = 0, i = 0;
    while (got < ar->bytes && i < ar->cap) {
        size_t n = rng_logrange(&r, 16, 1024);
        unsigned char *q = xmalloc(n);
        memset(q, (int)(i & 0xff), n < 32 ? n : 32);
        q[n - 1] = (unsigned char)n;
        ar->p[i++] = q;
        got += n;
    }
    ar->count = i;
    return NULL;
}

static void *free90(void *vp) {
    arg_t *ar = vp;
    rng_t r = rng_seed(950 + (uint64_t)ar->id);
    for (size_t i = 0; i < ar->count; i++)
        if (rng_next(&r) % 10 != 0) {
            ar->sum += ar->p[i][0];
            free(ar->p[i]);
            ar->p[i] = NULL;
        }
    return NULL;
}

static void *freeall(void *vp) {
    arg_t *ar = vp;
    for (size_t i = 0; i < ar->count; i++)
        if (ar->p[i]) {
            ar->sum += ar->p[i][0];
            free(ar->p[i]);
            ar->p[i] = NULL;
        }
    return NULL;
}

static void sleep_until(double t) {
    for (;;) {
        double d = t - bench_now();
        if (d <= 0) return;
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv) {
    bench_args_t a = bench_parse(argc, argv);
    int T = a.threads;
    double w1 = 1, w2 = 10;
    if (a.extra && sscanf(a.extra, "%lf,%lf", &w1, &w2) < 1) bench_usage(argv[0]);
    if (w2 < w1) w2 = w1;
    size_t total = (size_t)bench_n(&a, 1024.0 * 1024 * 1024);
    arg_t *args = calloc((size_t)T, sizeof(arg_t));
    for (int i = 0; i < T; i++) {
        args[i].id = i;
        args[i].bytes = total / (size_t)T;
        args[i].cap = args[i].bytes / 128 + 1024;
        args[i].p = xmalloc(args[i].cap * sizeof(unsigned char *));
        /* Touch the array so it counts in the base RSS (a volatile store, so the
         * compiler cannot turn malloc+memset into a lazily-zeroed calloc). */
        for (size_t j = 0; j < args[i].cap; j++) ((unsigned char *volatile *)args[i].p)[j] = NULL;
    }
    long rss_base = bench_rss_kb();
    double t0 = bench_now();
    bench_run_threads(T, build, args, sizeof(arg_t));
    double t1 = bench_now();
    long rss_built = bench_rss_kb();
    double t2 = bench_now();
    bench_run_threads(T, free90, args, sizeof(arg_t));
    double t3 = bench_now();
    long rss_90 = bench_rss_kb();
    double t4 = bench_now();
    bench_run_threads(T, freeall, args, sizeof(arg_t));
    double t5 = bench_now();
    long rss_freed = bench_rss_kb();
    sleep_until(t5 + w1);
    long rss_w1 = bench_rss_kb();
    sleep_until(t5 + w2);
    long rss_w2 = bench_rss_kb();
    uint64_t sum = 0;
    size_t objs = 0;
    for (int i = 0; i < T; i++) {
        sum += args[i].sum;
        objs += args[i].count;
    }
    printf("RESULT name=footprint secs=%.6f threads=%d objects=%zu bytes=%zu build_secs=%.6f "
           "rss_base_kb=%ld rss_built_kb=%ld rss_after90_kb=%ld rss_freed_kb=%ld "
           "rss_w1_kb=%ld rss_w2_kb=%ld w1=%g w2=%g checksum=%" PRIu64 "\n",
           (t1 - t0) + (t3 - t2) + (t5 - t4), T, objs, total, t1 - t0, rss_base, rss_built, rss_90, rss_freed, rss_w1,
           rss_w2, w1, w2, sum);
    for (int i = 0; i < T; i++) free(args[i].p);
    free(args);
    return 0;
}
