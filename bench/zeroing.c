/* zeroing: what clearing a used block costs, memset against MADV_DONTNEED, by size (the
 * crossover behind ZERO_MADVISE_MIN in src/pageheap.c, which calloc uses). Also the cost of
 * touching every page afterwards, which MADV_DONTNEED moves to the page faults.
 *   cc -O2 bench/zeroing.c -o zeroing && ./zeroing      (times in microseconds) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
int main(void) {
    size_t max = 256u << 20;
    char *p = mmap(NULL, max, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("%10s %12s %12s %14s %14s\n", "size", "memset us", "madvise us", "madv+touch us", "memset+touch");
    for (size_t s = 8192; s <= max; s *= 2) {
        int reps = s < (1 << 20) ? 200 : (s < (32u << 20) ? 10 : 3);
        double tm = 0, ta = 0, tat = 0, tmt = 0;
        for (int r = 0; r < reps; r++) {
            memset(p, 1, s);
            double t0 = now();
            memset(p, 0, s);
            double t1 = now();
            tm += t1 - t0;
            for (size_t i = 0; i < s; i += 4096) p[i] = 2;
            t1 = now();
            tmt += t1 - t0;
            memset(p, 1, s);
            t0 = now();
            madvise(p, s, MADV_DONTNEED);
            t1 = now();
            ta += t1 - t0;
            for (size_t i = 0; i < s; i += 4096) p[i] = 2;
            double t2 = now();
            tat += t2 - t0;
        }
        printf("%10zu %12.1f %12.1f %14.1f %14.1f\n", s, tm / reps * 1e6, ta / reps * 1e6, tat / reps * 1e6,
               tmt / reps * 1e6);
    }
}
