/*
 * test_map_threads.c: concurrent readers (get and iteration, no writer) are
 * allowed, as in Go, and race-free. GORT_TEST_TSAN
 */
#include <gort.h>
#include <pthread.h>

#include "check.h"

GORT_MAP_DEFINE_U64(i64map, int64_t, int64_t)
GORT_MAP_DEFINE_STR(strmap, size_t)

enum { N = 20000, THREADS = 4 };
static i64map *im;
static strmap *sm;
static char keys[N][40];

static void *reader(void *arg) {
    uint64_t rng = test_seed() + (uintptr_t)arg;
    int rounds = (int)(200000 * test_scale());
    for (int r = 0; r < rounds; r++) {
        int64_t k = (int64_t)(rng_next(&rng) % (2 * N));
        int64_t *v = i64map_get(im, k);
        CHECK(k < N ? v && *v == k * 3 : v == NULL);
        size_t *s = strmap_get(sm, gort_str(keys[k % N]));
        CHECK(s && *s == (size_t)(k % N));
        if (r % 20000 == 0) {
            gort_map_iter it;
            int64_t key, *val;
            size_t n = 0;
            i64map_iter_init(&it, im);
            while (i64map_iter_next(&it, &key, &val)) {
                CHECK(*val == key * 3);
                n++;
            }
            CHECK_EQ(n, N);
        }
    }
    return NULL;
}

int main(void) {
    (void)test_seed();
    for (int round = 0; round < 3; round++) {
        im = i64map_new(round == 0 ? 0 : N);
        sm = strmap_new(0);
        for (int64_t i = 0; i < N; i++) {
            snprintf(keys[i], sizeof keys[i], "key-%lld-%d", (long long)i, round);
            i64map_put(im, i, i * 3);
            strmap_put(sm, gort_str(keys[i]), (size_t)i);
        }
        /* round 2: readers while growth may be in progress */
        if (round == 2)
            for (int64_t i = N; i < N + 5000; i++) {
                i64map_put(im, i, i * 3);
                i64map_delete(im, i);
            }
        pthread_t t[THREADS];
        for (int i = 0; i < THREADS; i++) CHECK(pthread_create(&t[i], NULL, reader, (void *)(uintptr_t)i) == 0);
        for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
        i64map_free(im);
        strmap_free(sm);
    }
    printf("test_map_threads: ok\n");
    return 0;
}
