/* Workload 5, mstress: mixed lifetimes.  A shared table of T*4096 slots; each
 * thread mostly works on its own quarter-table region but 1 in 8 operations
 * goes to a random slot anywhere.  An operation atomically swaps the slot's
 * object for a new one (or for nothing, 1 in 4 times) and frees what was there,
 * so lifetimes are random and some objects die on another thread.  Sizes are
 * mostly small (8-1024 B), 1 in 16 medium (1-32 KiB) and 1 in 1000 large
 * (64 KiB-2 MiB). */
#include "common.h"

#define SLOTS_PER_THREAD 4096

static int T;
static long ops;
static unsigned char *_Atomic *table;

typedef struct {
    int id;
    uint64_t sum;
} ALIGNED_CL arg_t;

static size_t pick_size(rng_t *r) {
    uint64_t x = rng_next(r) % 1000;
    if (x == 0) return rng_logrange(r, 64 << 10, 2 << 20);
    if (x < 63) return rng_logrange(r, 1024, 32 << 10);
    return rng_logrange(r, 8, 1024);
}

static void *worker(void *vp) {
    arg_t *ar = vp;
    rng_t r = rng_seed(300 + (uint64_t)ar->id);
    size_t nslots = (size_t)T * SLOTS_PER_THREAD;
    uint64_t sum = 0;
    for (long k = 0; k < ops; k++) {
        uint64_t x = rng_next(&r);
        size_t i = (x & 7) == 0 ? (size_t)((x >> 8) % nslots)
                                : (size_t)ar->id * SLOTS_PER_THREAD + (size_t)((x >> 8) % SLOTS_PER_THREAD);
        unsigned char *p = NULL;
        if (((x >> 3) & 3) != 0) {
            size_t n = pick_size(&r);
            p = xmalloc(n);
            memset(p, (int)(k & 0xff), n < 64 ? n : 64);
            p[n - 1] = (unsigned char)k;
            p[0] = (unsigned char)n;
        }
        unsigned char *old = atomic_exchange_explicit(&table[i], p, memory_order_acq_rel);
        if (old) {
            sum += old[0];
            free(old);
        }
    }
    ar->sum = sum;
    return NULL;
}

int main(int argc, char **argv) {
    bench_args_t a = bench_parse(argc, argv);
    T = a.threads;
    ops = bench_n(&a, 12e6) / T;
    size_t nslots = (size_t)T * SLOTS_PER_THREAD;
    table = calloc(nslots, sizeof *table);
    arg_t *args = calloc((size_t)T, sizeof(arg_t));
    for (int i = 0; i < T; i++) args[i].id = i;
    double t0 = bench_now();
    bench_run_threads(T, worker, args, sizeof(arg_t));
    for (size_t i = 0; i < nslots; i++) free(atomic_load(&table[i]));
    double t1 = bench_now();
    uint64_t sum = 0;
    for (int i = 0; i < T; i++) sum += args[i].sum;
    printf("RESULT name=mstress secs=%.6f threads=%d ops=%ld checksum=%" PRIu64 "\n", t1 - t0, T, ops * T, sum);
    free(args);
    free((void *)table);
    return 0;
}
