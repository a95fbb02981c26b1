/* Workload 8, threadchurn: short-lived threads.  In each round T threads are
 * created; each frees the objects a thread of the previous round (now exited)
 * handed back, allocates 1000 objects of 8-512 B, frees half of them and hands
 * the other half back, then exits.  Models thread-per-request servers and
 * thread pools that shrink and grow: per-thread caches must be set up cheaply
 * and their contents recovered when a thread dies. */
#include "common.h"

#define K 1000
#define KEEP (K / 2)

static int T;
static unsigned char **handed[2]; /* [parity][T * KEEP] */

typedef struct {
    int id;
    int round;
    uint64_t sum;
} ALIGNED_CL arg_t;

static void *worker(void *vp) {
    arg_t *ar = vp;
    rng_t r = rng_seed(800 + (uint64_t)ar->round * 1024 + (uint64_t)ar->id);
    uint64_t sum = 0;
    unsigned char **in = handed[(ar->round + 1) & 1] + (size_t)((ar->id + 1) % T) * KEEP;
    unsigned char **out = handed[ar->round & 1] + (size_t)ar->id * KEEP;
    for (int i = 0; i < KEEP; i++)
        if (in[i]) {
            sum += in[i][0];
            free(in[i]);
            in[i] = NULL;
        }
    unsigned char *mine[K];
    for (int i = 0; i < K; i++) {
        size_t n = rng_range(&r, 8, 512);
        mine[i] = xmalloc(n);
        mine[i][0] = (unsigned char)i;
        mine[i][n - 1] = (unsigned char)n;
    }
    for (int i = 0; i < K; i++) {
        if (i & 1) out[i / 2] = mine[i];
        else {
            sum += mine[i][0];
            free(mine[i]);
        }
    }
    ar->sum += sum;
    return NULL;
}

int main(int argc, char **argv) {
    bench_args_t a = bench_parse(argc, argv);
    T = a.threads;
    long rounds = bench_n(&a, 4000) / T;
    handed[0] = calloc((size_t)T * KEEP, sizeof(unsigned char *));
    handed[1] = calloc((size_t)T * KEEP, sizeof(unsigned char *));
    arg_t *args = calloc((size_t)T, sizeof(arg_t));
    double t0 = bench_now();
    for (long rd = 0; rd < rounds; rd++) {
        for (int i = 0; i < T; i++) {
            args[i].id = i;
            args[i].round = (int)rd;
        }
        bench_run_threads(T, worker, args, sizeof(arg_t));
    }
    for (int p = 0; p < 2; p++)
        for (size_t i = 0; i < (size_t)T * KEEP; i++) free(handed[p][i]);
    double t1 = bench_now();
    uint64_t sum = 0;
    for (int i = 0; i < T; i++) sum += args[i].sum;
    printf("RESULT name=threadchurn secs=%.6f threads=%d threads_created=%ld checksum=%" PRIu64 "\n", t1 - t0, T,
           rounds * T, sum);
    free(args);
    free(handed[0]);
    free(handed[1]);
    return 0;
}
