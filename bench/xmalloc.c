/* Workload 3, xmalloc: producer/consumer.  max(1, T/2) pairs of threads; the
 * producer allocates objects of 8-256 B, fills them and passes them in batches
 * of 64 through a single-producer single-consumer ring; the consumer reads and
 * frees them.  Every free happens on another thread than its malloc. */
#include "common.h"

#define BATCH 64
#define RING 64

typedef struct {
    _Atomic long head ALIGNED_CL; /* written by the producer */
    _Atomic long tail ALIGNED_CL; /* written by the consumer */
    unsigned char *slot[RING][BATCH] ALIGNED_CL;
    long batches;
    uint64_t sum;
    int id;
} pair_t;

static void *producer(void *vp) {
    pair_t *q = vp;
    rng_t r = rng_seed(200 + (uint64_t)q->id);
    for (long b = 0; b < q->batches; b++) {
        while (b - atomic_load_explicit(&q->tail, memory_order_acquire) >= RING) sched_yield();
        unsigned char **s = q->slot[b % RING];
        for (int i = 0; i < BATCH; i++) {
            size_t n = rng_range(&r, 8, 256);
            s[i] = xmalloc(n);
            s[i][0] = (unsigned char)(n - 1);
            s[i][n - 1] = (unsigned char)i;
        }
        atomic_store_explicit(&q->head, b + 1, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *vp) {
    pair_t *q = vp;
    uint64_t sum = 0;
    for (long b = 0; b < q->batches; b++) {
        while (atomic_load_explicit(&q->head, memory_order_acquire) <= b) sched_yield();
        unsigned char **s = q->slot[b % RING];
        for (int i = 0; i < BATCH; i++) {
            sum += s[i][0] + s[i][s[i][0]];
            free(s[i]);
        }
        atomic_store_explicit(&q->tail, b + 1, memory_order_release);
    }
    q->sum = sum;
    return NULL;
}

int main(int argc, char **argv) {
    bench_args_t a = bench_parse(argc, argv);
    int P = a.threads / 2 < 1 ? 1 : a.threads / 2;
    long batches = bench_n(&a, 6e6) / BATCH / P;
    pair_t *q;
    if (posix_memalign((void **)&q, CACHE_LINE, sizeof(pair_t) * (size_t)P)) abort();
    memset(q, 0, sizeof(pair_t) * (size_t)P);
    pthread_t *th = xmalloc(sizeof(pthread_t) * 2 * (size_t)P);
    double t0 = bench_now();
    for (int i = 0; i < P; i++) {
        q[i].batches = batches;
        q[i].id = i;
        pthread_create(&th[2 * i], NULL, producer, &q[i]);
        pthread_create(&th[2 * i + 1], NULL, consumer, &q[i]);
    }
    for (int i = 0; i < 2 * P; i++) pthread_join(th[i], NULL);
    double t1 = bench_now();
    uint64_t sum = 0;
    for (int i = 0; i < P; i++) sum += q[i].sum;
    printf("RESULT name=xmalloc secs=%.6f threads=%d objects=%ld checksum=%" PRIu64 "\n", t1 - t0, 2 * P,
           batches * BATCH * P, sum);
    free(th);
    free(q);
    return 0;
}
