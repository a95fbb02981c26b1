/* Workload 1, fastpath: one thread, the allocator's fast path.
 * Phase A: malloc/free pairs of random sizes 8-512 B (one object live at a time).
 * Phase B: batches: allocate 64 objects, then free them (alternately in
 * allocation order and in reverse), the pattern of a short-lived container.
 * -c PAIRS sets the exact number of malloc+free pairs (used by callgrind.sh);
 * -t is accepted and ignored: this workload is single-threaded by definition. */
#include "common.h"

#define NSIZES 4096
#define BATCH 64

int main(int argc, char **argv) {
    bench_args_t a = bench_parse(argc, argv);
    long pairs = a.count > 0 ? a.count : bench_n(&a, 40e6);
    long pairsA = pairs / 2, batches = (pairs - pairsA) / BATCH;
    static uint16_t sizes[NSIZES];
    rng_t r = rng_seed(1);
    for (int i = 0; i < NSIZES; i++) sizes[i] = (uint16_t)rng_range(&r, 8, 512);

    uint64_t sum = 0;
    double t0 = bench_now();
    for (long i = 0; i < pairsA; i++) {
        unsigned char *p = malloc(sizes[i & (NSIZES - 1)]);
        p[0] = (unsigned char)i;
        __asm__ volatile("" : : "r"(p) : "memory");
        sum += p[0];
        free(p);
    }
    unsigned char *b[BATCH];
    long k = 0;
    for (long j = 0; j < batches; j++) {
        for (int i = 0; i < BATCH; i++, k++) {
            b[i] = malloc(sizes[k & (NSIZES - 1)]);
            b[i][0] = (unsigned char)k;
        }
        if (j & 1) {
            for (int i = 0; i < BATCH; i++) {
                sum += b[i][0];
                free(b[i]);
            }
        } else {
            for (int i = BATCH - 1; i >= 0; i--) {
                sum += b[i][0];
                free(b[i]);
            }
        }
    }
    double t1 = bench_now();
    long total = pairsA + batches * BATCH;
    printf("RESULT name=fastpath secs=%.6f threads=1 pairs=%ld ns_per_pair=%.2f checksum=%" PRIu64 "\n", t1 - t0, total,
           (t1 - t0) * 1e9 / (double)total, sum);
    return 0;
}
