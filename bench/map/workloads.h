/*
 * workloads.h: the map benchmark's driver, shared by every C/C++ peer.
 *
 * An adapter file defines, before including this header:
 *   IMPL_NAME                      "gort", "absl", ...
 *   IMPL_HAS_HINT                  1 if m_new's hint presizes the table
 *   typedef ... M;  typedef ... S;  u64->u64 map, 16-byte-string->u64 map
 *   M *m_new(size_t hint); void m_put(M *, uint64_t k, uint64_t v);
 *   int m_get(M *, uint64_t k, uint64_t *v); void m_del(M *, uint64_t k);
 *   uint64_t m_sum(M *) (iterate, summing the values); void m_free(M *);
 *   S *s_new(size_t hint); void s_put(S *, const char *key16, uint64_t v);
 *   int s_get(S *, const char *key16, uint64_t *v); void s_free(S *);
 *   size_t mem_bytes(void)         bytes allocated now (allocator statistics)
 *   size_t map_mem(M *, size_t d)  bytes the map holds, given d = the mem_bytes() delta
 * all static inline, so the loops below inline them.
 *
 * Usage: mapbench-IMPL N [quick|default|long]. Prints one line per cell:
 *   RESULT impl=gort n=1000 workload=hit ns_per_op=3.21
 *   RESULT impl=gort n=1000 workload=bytes_per_entry value=40.1
 * Keys: splitmix64 streams (seed 1: present keys, seed 2: missing keys);
 * string keys are the 16 hex digits of the present keys, NUL-terminated.
 * The Go program (go/main.go) implements the same workloads.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile uint64_t sink;

static void report(const char *workload, size_t n, double ns) {
    printf("RESULT impl=%s n=%zu workload=%s ns_per_op=%.3f\n", IMPL_NAME, n, workload, ns);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s N [quick|default|long]\n", argv[0]);
        return 2;
    }
    size_t n = (size_t)strtod(argv[1], NULL);
    const char *mode = argc > 2 ? argv[2] : "default";
    double target = strcmp(mode, "quick") == 0 ? 1e6 : strcmp(mode, "long") == 0 ? 1e7 : 3e6;
    int reps = n >= 5000000 ? 1 : 3; /* best of reps */
    size_t rounds = (size_t)(target / reps / (double)n);
    if (rounds < 1) rounds = 1;

    uint64_t *keys = (uint64_t *)malloc(n * sizeof *keys), *miss = (uint64_t *)malloc(n * sizeof *miss);
    char *strs = (char *)malloc(n * 17);
    uint64_t s1 = 1, s2 = 2;
    for (size_t i = 0; i < n; i++) {
        keys[i] = splitmix64(&s1);
        miss[i] = splitmix64(&s2);
        snprintf(strs + i * 17, 17, "%016llx", (unsigned long long)keys[i]);
    }

    double best, t0;
    /* One timed repetition of one round (N = 1e7 in default mode): the maps
     * built by the timed inserts are reused for the memory figure, the
     * lookups, the deletes and the string lookups instead of building more
     * (untimed) copies; this keeps `make bench` short. */
    const int big = reps == 1 && rounds == 1;
    M *kept = NULL;
    size_t kept_delta = 0;
    /* bytes per entry: built without a hint, averaged over enough maps to
     * hide allocator granularity at small N */
    if (!big) {
        size_t nm = n >= 100000 ? 1 : 100000 / n, total = 0;
        M **ms = (M **)malloc(nm * sizeof *ms);
        size_t before = mem_bytes();
        for (size_t j = 0; j < nm; j++) {
            ms[j] = m_new(0);
            for (size_t i = 0; i < n; i++) m_put(ms[j], keys[i], i + 1);
        }
        size_t delta = mem_bytes() - before;
        for (size_t j = 0; j < nm; j++) total += map_mem(ms[j], delta / nm);
        for (size_t j = 0; j < nm; j++) m_free(ms[j]);
        free(ms);
        printf("RESULT impl=%s n=%zu workload=bytes_per_entry value=%.2f\n", IMPL_NAME, n,
               (double)total / (double)(nm * n));
    }
    /* insert, insert with a hint */
    for (int hinted = 0; hinted < 2; hinted++) {
        best = 1e300;
        for (int r = 0; r < reps; r++) {
            double tot = 0;
            for (size_t k = 0; k < rounds; k++) {
                size_t before = mem_bytes();
                t0 = now_ns();
                M *m = m_new(hinted ? n : 0);
                for (size_t i = 0; i < n; i++) m_put(m, keys[i], i + 1);
                tot += now_ns() - t0;
                if (big && !hinted) {
                    kept = m;
                    kept_delta = mem_bytes() - before;
                } else {
                    m_free(m);
                }
            }
            if (tot / (double)(rounds * n) < best) best = tot / (double)(rounds * n);
        }
        report(hinted ? "insert_hint" : "insert", n, best);
    }
    if (big)
        printf("RESULT impl=%s n=%zu workload=bytes_per_entry value=%.2f\n", IMPL_NAME, n,
               (double)map_mem(kept, kept_delta) / (double)n);

    M *m = kept;
    if (!m) {
        m = m_new(0);
        for (size_t i = 0; i < n; i++) m_put(m, keys[i], i + 1);
    }
    uint64_t acc = 0, v;
    /* lookup hit, lookup miss, iterate */
    for (int w = 0; w < 3; w++) {
        best = 1e300;
        for (int r = 0; r < reps; r++) {
            t0 = now_ns();
            for (size_t k = 0; k < rounds; k++) {
                if (w == 0) {
                    for (size_t i = 0; i < n; i++)
                        if (m_get(m, keys[i], &v)) acc += v;
                } else if (w == 1) {
                    for (size_t i = 0; i < n; i++)
                        if (m_get(m, miss[i], &v)) acc += v;
                } else {
                    acc += m_sum(m);
                }
            }
            double t = (now_ns() - t0) / (double)(rounds * n);
            if (t < best) best = t;
        }
        report(w == 0 ? "hit" : w == 1 ? "miss" : "iterate", n, best);
    }
    if (acc != (uint64_t)n * (n + 1) / 2 * (uint64_t)(rounds * reps) * 2) {
        fprintf(stderr, "%s: wrong sum\n", IMPL_NAME);
        return 1;
    }
    if (!big) m_free(m);

    /* delete all (the builds are not timed) */
    best = 1e300;
    for (int r = 0; r < reps; r++) {
        double tot = 0;
        for (size_t k = 0; k < rounds; k++) {
            if (!big) { /* big: the lookups' map */
                m = m_new(0);
                for (size_t i = 0; i < n; i++) m_put(m, keys[i], i + 1);
            }
            t0 = now_ns();
            for (size_t i = 0; i < n; i++) m_del(m, keys[i]);
            tot += now_ns() - t0;
            if (m_get(m, keys[0], &v)) return 1;
            m_free(m);
        }
        if (tot / (double)(rounds * n) < best) best = tot / (double)(rounds * n);
    }
    report("delete", n, best);

    /* 16-byte string keys: insert, lookup hit */
    best = 1e300;
    S *s = NULL;
    for (int r = 0; r < reps; r++) {
        double tot = 0;
        for (size_t k = 0; k < rounds; k++) {
            t0 = now_ns();
            S *s1 = s_new(0);
            for (size_t i = 0; i < n; i++) s_put(s1, strs + i * 17, i + 1);
            tot += now_ns() - t0;
            if (big) s = s1;
            else s_free(s1);
        }
        if (tot / (double)(rounds * n) < best) best = tot / (double)(rounds * n);
    }
    report("str_insert", n, best);
    if (!s) {
        s = s_new(0);
        for (size_t i = 0; i < n; i++) s_put(s, strs + i * 17, i + 1);
    }
    best = 1e300;
    acc = 0;
    for (int r = 0; r < reps; r++) {
        t0 = now_ns();
        for (size_t k = 0; k < rounds; k++)
            for (size_t i = 0; i < n; i++)
                if (s_get(s, strs + i * 17, &v)) acc += v;
        double t = (now_ns() - t0) / (double)(rounds * n);
        if (t < best) best = t;
    }
    if (acc != (uint64_t)n * (n + 1) / 2 * (uint64_t)(rounds * reps)) {
        fprintf(stderr, "%s: wrong string sum\n", IMPL_NAME);
        return 1;
    }
    report("str_hit", n, best);
    s_free(s);
    sink = acc;
    free(keys);
    free(miss);
    free(strs);
    return 0;
}
