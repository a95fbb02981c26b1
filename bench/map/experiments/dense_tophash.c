/*
 * A design experiment, not part of gort: would moving each bucket's tophash row
 * out of the 144-byte bucket into a dense array of 8 bytes per bucket (as absl
 * keeps its control bytes apart) speed up lookups? u64 -> u64 buckets of 8
 * slots, 2^B buckets at Go's load after inserting n keys without a hint, no
 * overflow chains (keys that would overflow are dropped), the same hash and
 * SSE2 tophash match as gort. Prints hit and miss ns per lookup for Go's
 * layout and the dense one.
 *
 *   cc -O2 -o /tmp/dense bench/map/experiments/dense_tophash.c
 *   for n in 1000 100000 1000000 10000000; do /tmp/dense $n; done
 *
 * Result (docs/map.md, fourth pass): only misses at N = 1e6 gain, where the
 * dense rows (2 MB) stay in cache and the buckets (38 MB) do not; at 1e7 the
 * rows miss the cache too, and hits pay for the extra access.
 */
#include <emmintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static uint64_t sm(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static inline uint64_t H(uint64_t k) {
    __uint128_t r = (__uint128_t)(((k << 32) | (k >> 32)) ^ 0x4b33a62ed433d4a3ULL) * (k ^ 77);
    __uint128_t r2 = (__uint128_t)((uint64_t)r ^ 0x8bb84b93962eacc9ULL) * ((uint64_t)(r >> 64) ^ 0x4b33a62ed433d4a3ULL);
    return (uint64_t)r2 ^ (uint64_t)(r2 >> 64);
}
static inline uint8_t TOP(uint64_t h) {
    uint8_t t = h >> 56;
    return t < 5 ? t + 5 : t;
}
static inline unsigned match(uint64_t w, uint8_t t) {
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_cvtsi64_si128((long long)w), _mm_set1_epi8((char)t))) & 0xff;
}
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}
int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s N\n", argv[0]);
        return 2;
    }
    size_t n = strtoul(argv[1], 0, 10);
    unsigned B = 0;
    while (n > 6.5 * (double)((size_t)1 << B)) B++;
    size_t nb = (size_t)1 << B, mask = nb - 1;
    uint8_t *go = aligned_alloc(4096, nb * 144);
    memset(go, 0, nb * 144);
    uint8_t *th = aligned_alloc(4096, nb * 8), *body = aligned_alloc(4096, nb * 136);
    memset(th, 0, nb * 8);
    memset(body, 0, nb * 136);
    uint64_t *keys = malloc(n * 8), *miss = malloc(n * 8), s1 = 1, s2 = 2;
    for (size_t i = 0; i < n; i++) {
        keys[i] = sm(&s1);
        miss[i] = sm(&s2);
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t h = H(keys[i]);
        size_t b = h & mask;
        uint8_t t = TOP(h);
        for (int j = 0; j < 8; j++)
            if (go[b * 144 + j] == 0) {
                go[b * 144 + j] = t;
                memcpy(go + b * 144 + 8 + 8 * j, &keys[i], 8);
                uint64_t v = i + 1;
                memcpy(go + b * 144 + 72 + 8 * j, &v, 8);
                th[b * 8 + j] = t;
                memcpy(body + b * 136 + 8 * j, &keys[i], 8);
                memcpy(body + b * 136 + 64 + 8 * j, &v, 8);
                break;
            }
    }
    for (int rep = 0; rep < 3; rep++)
        for (int layout = 0; layout < 2; layout++)
            for (int w = 0; w < 2; w++) {
                const uint64_t *ks = w ? miss : keys;
                uint64_t acc = 0;
                double t0 = now();
                for (int r = 0; r < (int)(3e6 / n) + 1; r++)
                    for (size_t i = 0; i < n; i++) {
                        uint64_t k = ks[i], h = H(k);
                        size_t b = h & mask;
                        uint8_t t = TOP(h);
                        const uint8_t *tp = layout ? th + b * 8 : go + b * 144;
                        const uint8_t *kp = layout ? body + b * 136 : go + b * 144 + 8;
                        uint64_t wd;
                        memcpy(&wd, tp, 8);
                        for (unsigned m = match(wd, t); m; m &= m - 1) {
                            unsigned j = __builtin_ctz(m);
                            uint64_t kk;
                            memcpy(&kk, kp + 8 * j, 8);
                            if (kk == k) {
                                uint64_t v;
                                memcpy(&v, kp + 64 + 8 * j, 8);
                                acc += v;
                                break;
                            }
                        }
                    }
                double ns = (now() - t0) / (((int)(3e6 / n) + 1) * (double)n);
                if (rep == 2)
                    printf("n=%zu B=%u %s %s: %.2f ns (acc %llu)\n", n, B, layout ? "dense" : "go   ",
                           w ? "miss" : "hit ", ns, (unsigned long long)acc);
            }
}
