/* Workload 4, cachescratch: false sharing.  The main thread allocates one small
 * (8 B) object per worker, back to back, so neighbours likely share a cache
 * line, and hands object i to worker i.  Each worker frees the object it was
 * given (passive false sharing: an allocator that reuses that slot for the
 * worker's next object keeps it on the shared line) and then repeatedly
 * allocates a small object, writes it many times and frees it (active false
 * sharing: neighbours handed to different threads).  The writes dominate; an
 * allocator that keeps threads' objects on separate lines wins by a lot. */
#include "common.h"

#define OBJ 8
#define WRITES 500

static long iters;

typedef struct {
    unsigned char *given;
    int id;
    uint64_t sum;
} ALIGNED_CL arg_t;

static void *worker(void *vp) {
    arg_t *ar = vp;
    free(ar->given);
    uint64_t sum = 0;
    for (long i = 0; i < iters; i++) {
        volatile unsigned char *p = xmalloc(OBJ);
        for (int k = 0; k < OBJ; k++) p[k] = (unsigned char)ar->id;
        for (int w = 0; w < WRITES; w++) p[w & (OBJ - 1)]++;
        sum += p[0] + p[OBJ - 1];
        free((void *)p);
    }
    ar->sum = sum;
    return NULL;
}

int main(int argc, char **argv) {
    bench_args_t a = bench_parse(argc, argv);
    int T = a.threads;
    iters = bench_n(&a, 4e6) / T;
    arg_t *args = calloc((size_t)T, sizeof(arg_t));
    for (int i = 0; i < T; i++) {
        args[i].id = i;
        args[i].given = xmalloc(OBJ);
        memset(args[i].given, i, OBJ);
    }
    double t0 = bench_now();
    bench_run_threads(T, worker, args, sizeof(arg_t));
    double t1 = bench_now();
    uint64_t sum = 0;
    for (int i = 0; i < T; i++) sum += args[i].sum;
    printf("RESULT name=cachescratch secs=%.6f threads=%d objects=%ld writes=%ld checksum=%" PRIu64 "\n", t1 - t0, T,
           iters * T, iters * T * WRITES, sum);
    free(args);
    return 0;
}
