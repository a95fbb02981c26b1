/* Workload 2, larson: a server whose worker threads keep slots of live objects
 * (random sizes 16-1024 B) and replace random slots.  Work goes in rounds; in
 * round r thread i works on slot set (i + r) mod T, so objects allocated by one
 * thread are freed by another in the next round (objects migrate, as in Larson &
 * Krishnan's benchmark where a new thread inherits a finished one's objects). */
#include "common.h"

#define SLOTS 2000
#define ROUNDS 20

typedef struct {
    unsigned char *p[SLOTS];
    uint16_t n[SLOTS];
} slotset_t;

static int T;
static long ops_per_round;
static slotset_t *sets;
static pthread_barrier_t bar;

typedef struct {
    int id;
    uint64_t sum;
} ALIGNED_CL arg_t;

static void *worker(void *vp) {
    arg_t *ar = vp;
    rng_t r = rng_seed(100 + (uint64_t)ar->id);
    uint64_t sum = 0;
    for (int round = 0; round < ROUNDS; round++) {
        slotset_t *s = &sets[(ar->id + round) % T];
        for (long k = 0; k < ops_per_round; k++) {
            size_t i = rng_next(&r) % SLOTS;
            if (s->p[i]) {
                sum += s->p[i][s->n[i] - 1];
                free(s->p[i]);
            }
            size_t n = rng_range(&r, 16, 1024);
            s->p[i] = xmalloc(n);
            s->n[i] = (uint16_t)n;
            s->p[i][0] = (unsigned char)k;
            s->p[i][n - 1] = (unsigned char)(k >> 3);
        }
        pthread_barrier_wait(&bar);
    }
    ar->sum = sum;
    return NULL;
}

int main(int argc, char **argv) {
    bench_args_t a = bench_parse(argc, argv);
    T = a.threads;
    ops_per_round = bench_n(&a, 30e6) / ROUNDS / T;
    sets = calloc((size_t)T, sizeof(slotset_t));
    pthread_barrier_init(&bar, NULL, (unsigned)T);
    arg_t *args = calloc((size_t)T, sizeof(arg_t));
    for (int i = 0; i < T; i++) args[i].id = i;
    double t0 = bench_now();
    bench_run_threads(T, worker, args, sizeof(arg_t));
    uint64_t sum = 0;
    for (int t = 0; t < T; t++) {
        sum += args[t].sum;
        for (int i = 0; i < SLOTS; i++) free(sets[t].p[i]);
    }
    double t1 = bench_now();
    printf("RESULT name=larson secs=%.6f threads=%d ops=%ld checksum=%" PRIu64 "\n", t1 - t0, T,
           ops_per_round * ROUNDS * T, sum);
    return 0;
}
