/* Workload 6, realloc: growing and shrinking buffers.  Each thread keeps 256
 * buffers.  Even ones are naive string builders: every append of 1-32 B
 * reallocs to the exact new length.  Odd ones are vectors: capacity doubles
 * when full (the first block comes from posix_memalign, 64-byte aligned).  Now
 * and then a buffer is shrunk to a quarter (shrink-to-fit), and a buffer that
 * passes its limit (64 KiB builders, 1 MiB vectors) is freed and restarted.
 * The byte before each append is read back, so realloc must keep contents. */
#include "common.h"

#define NBUF 256

typedef struct {
    unsigned char *p;
    size_t len, cap;
} buf_t;
static void *worker(void *vp) {
    bench_part_t *ar = vp;
    rng_t r = rng_seed(600 + (uint64_t)ar->id);
    buf_t *b = calloc(NBUF, sizeof(buf_t));
    uint64_t sum = 0;
    for (long k = 0; k < ar->ops; k++) {
        uint64_t x = rng_next(&r);
        buf_t *v = &b[x % NBUF];
        int vec = (int)(x % NBUF) & 1;
        size_t add = 1 + (size_t)((x >> 16) & 31);
        if (v->len) sum += v->p[v->len - 1];
        if (((x >> 24) & 63) == 0 && v->len > 64) { /* shrink to fit a quarter */
            v->len /= 4;
            v->cap = v->len;
            v->p = realloc(v->p, v->cap);
            if (!v->p) abort();
            continue;
        }
        if (v->len + add > (vec ? (1u << 20) : (64u << 10))) {
            free(v->p);
            v->p = NULL;
            v->len = v->cap = 0;
        }
        if (v->len + add > v->cap) {
            if (!vec) v->cap = v->len + add;
            else {
                if (!v->cap) v->cap = 64;
                while (v->cap < v->len + add) v->cap *= 2;
            }
            if (!v->p && vec) {
                void *q;
                if (posix_memalign(&q, 64, v->cap)) abort();
                v->p = q;
            } else {
                v->p = realloc(v->p, v->cap);
                if (!v->p) abort();
            }
        }
        memset(v->p + v->len, (int)(k & 0xff), add);
        v->len += add;
    }
    for (int i = 0; i < NBUF; i++) free(b[i].p);
    free(b);
    ar->sum = sum;
    return NULL;
}

int main(int argc, char **argv) { return bench_main_parts(argc, argv, "realloc", "ops", worker, 24e6); }
