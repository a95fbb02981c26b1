/*
 * test_thread_churn: thousands of short-lived threads, each allocating in most size
 * classes (so its thread cache holds a span of each), freeing most of it, and handing a
 * few objects to the main thread, which verifies and frees them. Some threads are
 * detached. A thread's cache must be returned when it exits: the resident set size
 * (/proc/self/statm) must stay bounded across rounds rather than grow with the number of
 * threads that ever ran.
 * GORT_TEST_TSAN: also run in the TSan build (scaled down).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <gort.h>
#include "check.h"

static uint64_t g_seed;

typedef struct handed {
    struct handed *next;
    size_t n;
    uint64_t tag;
} handed; /* header written at the start of a handed object (its content) */

static pthread_mutex_t hand_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hand_cv = PTHREAD_COND_INITIALIZER;
static handed *hand_list;
static long handed_count, detached_left;

static const size_t class_sizes[] = {
    1,    8,    16,   17,    32,    48,    64,    80,    96,    112,   128,   144,   160,   176,   192,   208,   224,
    240,  256,  288,  320,   352,   384,   416,   448,   480,   512,   576,   640,   704,   768,   896,   1024,  1152,
    1280, 1408, 1536, 1792,  2048,  2304,  2688,  3072,  3200,  3456,  4096,  4864,  5376,  6144,  6528,  6784,  6912,
    8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768};
enum { NCLASS = sizeof class_sizes / sizeof class_sizes[0] };

static inline unsigned char pb(uint64_t tag, size_t i) {
    return (unsigned char)((tag + i * 0x9E3779B97F4A7C15ULL) >> 56);
}

static void *worker(void *arg) {
    uint64_t s = g_seed ^ ((uint64_t)(uintptr_t)arg * 0x2545F4914F6CDD1DULL);
    unsigned char *objs[NCLASS + 2];
    size_t sizes[NCLASS + 2];
    int n = 0;
    for (int c = 0; c < NCLASS; c++) {
        sizes[n] = class_sizes[c] - (class_sizes[c] > 1 ? rng_next(&s) % 2 : 0);
        objs[n] = gort_malloc(sizes[n]);
        CHECK(objs[n]);
        n++;
    }
    sizes[n] = 40000 + rng_next(&s) % 100000; /* a large object too */
    objs[n] = gort_malloc(sizes[n]);
    CHECK(objs[n]);
    n++;
    uint64_t tag = rng_next(&s);
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < sizes[i]; j++) objs[i][j] = pb(tag + (uint64_t)i, j);
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < sizes[i]; j++)
            if (objs[i][j] != pb(tag + (uint64_t)i, j)) {
                fprintf(stderr, "worker: object %p size %zu corrupted at %zu (seed %llu)\n", (void *)objs[i], sizes[i],
                        j, (unsigned long long)g_seed);
                abort();
            }
    /* hand two objects (>= sizeof(handed)) to the main thread, free the rest */
    int give = 0;
    for (int i = 0; i < n; i++) {
        if (give < 2 && sizes[i] >= sizeof(handed) && rng_next(&s) % 8 == 0) {
            handed *h = (handed *)objs[i];
            h->n = sizes[i];
            h->tag = tag + (uint64_t)i;
            pthread_mutex_lock(&hand_mu);
            h->next = hand_list;
            hand_list = h;
            handed_count++;
            pthread_mutex_unlock(&hand_mu);
            give++;
        } else {
            gort_free(objs[i]);
        }
    }
    return NULL;
}

static void *detached_worker(void *arg) {
    worker(arg);
    pthread_mutex_lock(&hand_mu);
    detached_left--;
    pthread_cond_broadcast(&hand_cv);
    pthread_mutex_unlock(&hand_mu);
    return NULL;
}

static void drain_handed(void) {
    pthread_mutex_lock(&hand_mu);
    handed *h = hand_list;
    hand_list = NULL;
    pthread_mutex_unlock(&hand_mu);
    while (h) {
        handed *next = h->next;
        const unsigned char *b = (const unsigned char *)h;
        for (size_t j = sizeof(handed); j < h->n; j++)
            if (b[j] != pb(h->tag, j)) {
                fprintf(stderr, "handed object %p size %zu corrupted at %zu (seed %llu)\n", (void *)h, h->n, j,
                        (unsigned long long)g_seed);
                abort();
            }
        CHECK(gort_usable_size(h) >= h->n);
        gort_free(h);
        h = next;
    }
}

int main(void) {
    g_seed = test_seed();
    double sc = test_scale();
    int rounds = sc < 1 ? 6 : 10;
    int per_round = (int)(500 * sc) + 40; /* 5000 threads in release */
    enum { BATCH = 16 };
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, sc < 1 ? (1 << 20) : (128 << 10));
    pthread_attr_t dattr;
    pthread_attr_init(&dattr);
    pthread_attr_setstacksize(&dattr, sc < 1 ? (1 << 20) : (128 << 10));
    pthread_attr_setdetachstate(&dattr, PTHREAD_CREATE_DETACHED);

    long base = 0, peak = 0;
    long id = 0;
    for (int r = 0; r < rounds; r++) {
        for (int done = 0; done < per_round; done += BATCH) {
            pthread_t t[BATCH];
            int joinable[BATCH];
            for (int i = 0; i < BATCH; i++) {
                id++;
                joinable[i] = (id % 5) != 0;
                if (joinable[i]) {
                    CHECK(pthread_create(&t[i], &attr, worker, (void *)(uintptr_t)id) == 0);
                } else {
                    pthread_mutex_lock(&hand_mu);
                    detached_left++;
                    pthread_mutex_unlock(&hand_mu);
                    CHECK(pthread_create(&t[i], &dattr, detached_worker, (void *)(uintptr_t)id) == 0);
                }
            }
            for (int i = 0; i < BATCH; i++)
                if (joinable[i]) pthread_join(t[i], NULL);
            drain_handed();
        }
        pthread_mutex_lock(&hand_mu);
        while (detached_left > 0) pthread_cond_wait(&hand_cv, &hand_mu);
        pthread_mutex_unlock(&hand_mu);
        usleep(2000); /* let detached threads finish exiting */
        drain_handed();
        gort_check_heap();
        long rss = test_rss_kib();
        if (r == 1) base = rss;
        if (rss > peak) peak = rss;
        fprintf(stderr, "round %d: %ld threads so far, rss %ld KiB\n", r, id, rss);
    }
    /* Bounded: after the warm-up rounds, RSS may not grow by more than 64 MiB plus half the
     * warm-up level; a leaked cache per thread (a span per class) would cost far more. */
    long allowed = base + base / 2 + 64 * 1024;
    if (peak > allowed) {
        fprintf(stderr, "RSS grew from %ld KiB (round 1) to %ld KiB over %ld threads (allowed %ld)\n", base, peak, id,
                allowed);
        CHECK(peak <= allowed);
    }
    printf("test_thread_churn: ok, %ld threads, %ld objects handed over, rss %ld -> %ld KiB\n", id, handed_count, base,
           peak);
    return 0;
}
/* GORT_TEST_TSAN */
