/* Workloads 12 and 13, mixed-1 and mixed: mixed-size allocation, as the
 * allocation tests of general-purpose programs (one thread: mixed-1; -t T
 * threads each on its own working set: mixed).  Each thread keeps a working
 * set of 4096 blocks and replaces a random one at each step, with sizes from
 * a mix measured in typical C programs: 60% 8-64 B, 25% 65-512 B, 12%
 * 513 B-4 KiB, 3% 4-32 KiB.  A new block has its first 64 bytes and its last
 * byte written; the block it replaces is read first.  Lifetimes are random
 * (geometric), so every span holds a mix of old and new objects. */
#include "common.h"

#define SLOTS 4096

static size_t pick(rng_t *r) {
    unsigned u = (unsigned)(rng_next(r) % 100);
    if (u < 60) return rng_range(r, 8, 64);
    if (u < 85) return rng_range(r, 65, 512);
    if (u < 97) return rng_range(r, 513, 4096);
    return rng_range(r, 4097, 32768);
}

static void *worker(void *vp) {
    bench_part_t *ar = vp;
    rng_t r = rng_seed(1200 + (uint64_t)ar->id);
    unsigned char **p = xmalloc(sizeof(*p) * SLOTS);
    uint32_t *n = xmalloc(sizeof(*n) * SLOTS);
    for (int i = 0; i < SLOTS; i++) {
        n[i] = (uint32_t)pick(&r);
        p[i] = xmalloc(n[i]);
        memset(p[i], i, n[i] < 64 ? n[i] : 64);
        p[i][n[i] - 1] = 1;
    }
    uint64_t sum = 0;
    for (long k = 0; k < ar->ops; k++) {
        size_t i = rng_next(&r) % SLOTS;
        sum += p[i][0] + p[i][n[i] - 1];
        free(p[i]);
        n[i] = (uint32_t)pick(&r);
        p[i] = xmalloc(n[i]);
        memset(p[i], (int)k, n[i] < 64 ? n[i] : 64);
        p[i][n[i] - 1] = (unsigned char)i;
    }
    for (int i = 0; i < SLOTS; i++) free(p[i]);
    free(p);
    free(n);
    ar->sum = sum;
    return NULL;
}

int main(int argc, char **argv) { return bench_main_parts(argc, argv, "mixed", "steps", worker, 12e6); }
