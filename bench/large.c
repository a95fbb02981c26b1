/* Workload 7, large: churn of large blocks, 64 KiB to 32 MiB (log-uniform, so
 * as many 64 KiB blocks as 16 MiB ones).  Each thread keeps 4 slots and
 * replaces a random one; every new block is written once per 4 KiB page, as a
 * program would fill a buffer it asked for, so the cost of fresh pages from
 * the OS (page faults, zeroing) against reused memory shows. */
#include "common.h"

#define SLOTS 4

static void *worker(void *vp) {
    bench_part_t *ar = vp;
    rng_t r = rng_seed(700 + (uint64_t)ar->id);
    unsigned char *p[SLOTS] = {0};
    size_t n[SLOTS] = {0};
    uint64_t sum = 0;
    for (long k = 0; k < ar->ops; k++) {
        int i = (int)(rng_next(&r) % SLOTS);
        if (p[i]) {
            sum += p[i][n[i] - 1] + p[i][n[i] / 2];
            free(p[i]);
        }
        n[i] = rng_logrange(&r, 64 << 10, 32 << 20);
        p[i] = xmalloc(n[i]);
        for (size_t o = 0; o < n[i]; o += 4096) p[i][o] = (unsigned char)(o >> 12);
        p[i][n[i] / 2] = (unsigned char)(k >> 8); /* read back at free: must be written */
        p[i][n[i] - 1] = (unsigned char)k;
    }
    for (int i = 0; i < SLOTS; i++) free(p[i]);
    ar->sum = sum;
    return NULL;
}

int main(int argc, char **argv) { return bench_main_parts(argc, argv, "large", "blocks", worker, 300); }
