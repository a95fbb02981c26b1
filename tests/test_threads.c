/*
 * test_threads: cross-thread frees and concurrent churn.
 *   1. producer/consumer through a mutex-protected ring: producers allocate and fill,
 *      consumers verify, sometimes realloc (a block from another thread's span), and free.
 *   2. all-to-all through lock-free single-producer/single-consumer rings (C11 atomics):
 *      every thread allocates, sends to a random peer, and frees what it receives.
 *   3. many threads churning privately at once (thread caches, central lists, page heap
 *      under contention), sizes 1 B .. 256 KiB.
 * Every object carries a pattern derived from its address and the seed, checked before
 * free. gort_check_heap() runs between phases, when no other thread runs.
 * GORT_TEST_TSAN: also run in the TSan build (scaled down).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <gort.h>
#include "check.h"

static uint64_t g_seed;

static inline uint64_t pat_word(uint64_t tag, size_t k) {
    uint64_t x = tag ^ ((uint64_t)k * 0x9E3779B97F4A7C15ULL);
    return x ^ (x >> 29);
}
static inline uint64_t tag_of(const void *p, size_t n) {
    return ((uint64_t)(uintptr_t)p * 0xD6E8FEB86659FD93ULL) ^ g_seed ^ n;
}
static void fill(unsigned char *p, size_t n) {
    uint64_t tag = tag_of(p, n);
    size_t k;
    for (k = 0; k < n / 8; k++) {
        uint64_t w = pat_word(tag, k);
        memcpy(p + 8 * k, &w, 8);
    }
    uint64_t w = pat_word(tag, k);
    memcpy(p + 8 * k, &w, n % 8);
}
/* Verifies the first `upto` bytes of an object of size n that was filled at address `at`. */
static void verify_at(const unsigned char *p, size_t upto, const void *at, size_t n, const char *ctx) {
    uint64_t tag = tag_of(at, n);
    size_t k;
    for (k = 0; k < upto / 8; k++) {
        uint64_t w = pat_word(tag, k), got;
        memcpy(&got, p + 8 * k, 8);
        if (got != w) goto bad;
    }
    {
        uint64_t w = pat_word(tag, k);
        if (memcmp(p + 8 * k, &w, upto % 8) != 0) goto bad;
    }
    return;
bad:
    fprintf(stderr, "test_threads: %s: object %p (size %zu) corrupted near offset %zu (seed %llu)\n", ctx,
            (const void *)p, n, 8 * k, (unsigned long long)g_seed);
    abort();
}

static size_t rand_size(uint64_t *s, size_t max) {
    /* mostly small, log-uniform-ish */
    unsigned lg = (unsigned)(rng_next(s) % 64);
    size_t cap;
    if (lg < 40) cap = 256;
    else if (lg < 56) cap = 4096;
    else if (lg < 62) cap = 32768;
    else cap = max;
    if (cap > max) cap = max;
    return 1 + (size_t)(rng_next(s) % cap);
}

typedef struct {
    unsigned char *p;
    size_t n;
} item;

/* ---- 1. mutex ring ---- */
enum { RING = 512 };
static struct {
    pthread_mutex_t mu;
    pthread_cond_t nonempty, nonfull;
    item buf[RING];
    size_t head, tail; /* tail - head = count */
    int producers_left;
} ring = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, {{0}}, 0, 0, 0};

static long per_producer;

static void *producer(void *arg) {
    uint64_t s = g_seed ^ ((uint64_t)(uintptr_t)arg * 0x1234567ULL);
    for (long i = 0; i < per_producer; i++) {
        size_t n = rand_size(&s, 1 << 20);
        unsigned char *p = gort_malloc(n);
        CHECK(p);
        fill(p, n);
        pthread_mutex_lock(&ring.mu);
        while (ring.tail - ring.head == RING) pthread_cond_wait(&ring.nonfull, &ring.mu);
        ring.buf[ring.tail++ % RING] = (item){p, n};
        pthread_cond_signal(&ring.nonempty);
        pthread_mutex_unlock(&ring.mu);
    }
    pthread_mutex_lock(&ring.mu);
    ring.producers_left--;
    pthread_cond_broadcast(&ring.nonempty);
    pthread_mutex_unlock(&ring.mu);
    return NULL;
}

static void *consumer(void *arg) {
    uint64_t s = g_seed ^ ((uint64_t)(uintptr_t)arg * 0x7654321ULL);
    for (;;) {
        pthread_mutex_lock(&ring.mu);
        while (ring.tail == ring.head && ring.producers_left > 0) pthread_cond_wait(&ring.nonempty, &ring.mu);
        if (ring.tail == ring.head) {
            pthread_mutex_unlock(&ring.mu);
            return NULL;
        }
        item it = ring.buf[ring.head++ % RING];
        pthread_cond_signal(&ring.nonfull);
        pthread_mutex_unlock(&ring.mu);
        verify_at(it.p, it.n, it.p, it.n, "consumer");
        if (rng_next(&s) % 4 == 0) {
            size_t m = rand_size(&s, 1 << 18);
            unsigned char *q = gort_realloc(it.p, m);
            CHECK(q);
            verify_at(q, it.n < m ? it.n : m, it.p, it.n, "consumer realloc");
            fill(q, m);
            verify_at(q, m, q, m, "consumer refill");
            gort_free(q);
        } else {
            gort_free(it.p);
        }
    }
}

static void phase_ring(int np, int nc, long per) {
    pthread_t t[64];
    per_producer = per;
    ring.producers_left = np;
    for (int i = 0; i < np; i++) CHECK(pthread_create(&t[i], NULL, producer, (void *)(uintptr_t)i) == 0);
    for (int i = 0; i < nc; i++) CHECK(pthread_create(&t[np + i], NULL, consumer, (void *)(uintptr_t)(100 + i)) == 0);
    for (int i = 0; i < np + nc; i++) pthread_join(t[i], NULL);
    CHECK(ring.head == ring.tail);
}

/* ---- 2. all-to-all lock-free SPSC rings ---- */
enum { MAXT = 16, SPSC = 256 };
typedef struct {
    _Alignas(64) _Atomic size_t head; /* consumer */
    _Alignas(64) _Atomic size_t tail; /* producer */
    item buf[SPSC];
} spsc;
static spsc *rings; /* rings[from * MAXT + to] */
static int nthreads;
static long per_thread;
static _Atomic int senders_done;

static int spsc_push(spsc *r, item it) {
    size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (t - atomic_load_explicit(&r->head, memory_order_acquire) == SPSC) return 0;
    r->buf[t % SPSC] = it;
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    return 1;
}
static int spsc_pop(spsc *r, item *it) {
    size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (h == atomic_load_explicit(&r->tail, memory_order_acquire)) return 0;
    *it = r->buf[h % SPSC];
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
    return 1;
}

static long drain(int me) {
    long got = 0;
    item it;
    for (int from = 0; from < nthreads; from++) {
        spsc *r = &rings[from * MAXT + me];
        while (spsc_pop(r, &it)) {
            verify_at(it.p, it.n, it.p, it.n, "all-to-all receiver");
            gort_free(it.p);
            got++;
        }
    }
    return got;
}

static void *all_to_all(void *arg) {
    int me = (int)(uintptr_t)arg;
    uint64_t s = g_seed ^ ((uint64_t)me * 0xABCDEF1ULL);
    item local[64] = {{0}};
    for (long i = 0; i < per_thread; i++) {
        size_t n = rand_size(&s, 1 << 17);
        unsigned char *p = gort_malloc(n);
        CHECK(p);
        fill(p, n);
        int to = (int)(rng_next(&s) % (uint64_t)nthreads);
        if (to == me || !spsc_push(&rings[me * MAXT + to], (item){p, n})) {
            /* keep it a while locally, then free it here */
            item *l = &local[rng_next(&s) % 64];
            if (l->p) {
                verify_at(l->p, l->n, l->p, l->n, "all-to-all local");
                gort_free(l->p);
            }
            *l = (item){p, n};
        }
        if (i % 16 == 0) drain(me);
    }
    for (int i = 0; i < 64; i++)
        if (local[i].p) {
            verify_at(local[i].p, local[i].n, local[i].p, local[i].n, "all-to-all local");
            gort_free(local[i].p);
        }
    atomic_fetch_add(&senders_done, 1);
    while (atomic_load(&senders_done) < nthreads) {
        drain(me);
        sched_yield();
    }
    drain(me);
    return NULL;
}

static void phase_all_to_all(int nt, long per) {
    pthread_t t[MAXT];
    nthreads = nt;
    per_thread = per;
    atomic_store(&senders_done, 0);
    rings = gort_aligned_alloc(64, sizeof(spsc) * MAXT * MAXT);
    CHECK(rings);
    memset(rings, 0, sizeof(spsc) * MAXT * MAXT);
    for (int i = 0; i < nt; i++) CHECK(pthread_create(&t[i], NULL, all_to_all, (void *)(uintptr_t)i) == 0);
    for (int i = 0; i < nt; i++) pthread_join(t[i], NULL);
    /* Everything sent was received: a final drain by the main thread finds nothing. */
    item it;
    for (int i = 0; i < MAXT * MAXT; i++) CHECK(!spsc_pop(&rings[i], &it));
    gort_free(rings);
}

/* ---- 3. private churn on many threads ---- */
static long churn_ops;
static void *churner(void *arg) {
    uint64_t s = g_seed ^ ((uint64_t)(uintptr_t)arg * 0x9999ULL);
    enum { SLOTS = 512 };
    item *slot = gort_calloc(SLOTS, sizeof *slot);
    CHECK(slot);
    for (long i = 0; i < churn_ops; i++) {
        item *it = &slot[rng_next(&s) % SLOTS];
        if (it->p) {
            verify_at(it->p, it->n, it->p, it->n, "churner");
            if (rng_next(&s) % 8 == 0) {
                size_t m = rand_size(&s, 1 << 18);
                unsigned char *q = gort_realloc(it->p, m);
                CHECK(q);
                verify_at(q, it->n < m ? it->n : m, it->p, it->n, "churner realloc");
                fill(q, m);
                *it = (item){q, m};
                continue;
            }
            gort_free(it->p);
            it->p = NULL;
        }
        if (rng_next(&s) % 3) {
            size_t n = rand_size(&s, 1 << 18);
            unsigned char *p = rng_next(&s) % 16 ? gort_malloc(n) : gort_calloc(1, n);
            CHECK(p);
            if (n >= 16) CHECK(((uintptr_t)p & 15) == 0);
            fill(p, n);
            *it = (item){p, n};
        }
    }
    for (int i = 0; i < SLOTS; i++)
        if (slot[i].p) {
            verify_at(slot[i].p, slot[i].n, slot[i].p, slot[i].n, "churner end");
            gort_free(slot[i].p);
        }
    gort_free(slot);
    return NULL;
}

static void phase_churn(int nt, long ops) {
    pthread_t t[64];
    churn_ops = ops;
    for (int i = 0; i < nt; i++) CHECK(pthread_create(&t[i], NULL, churner, (void *)(uintptr_t)i) == 0);
    for (int i = 0; i < nt; i++) pthread_join(t[i], NULL);
}

int main(void) {
    g_seed = test_seed();
    double sc = test_scale();
    gort_check_heap();
    phase_ring(3, 3, (long)(100000 * sc) + 100);
    gort_check_heap(); /* aborts on an inconsistency; the heap may be empty */
    phase_ring(1, 6, (long)(100000 * sc) + 100);
    gort_check_heap();
    phase_ring(6, 1, (long)(30000 * sc) + 100);
    gort_check_heap();
    phase_all_to_all(8, (long)(100000 * sc) + 100);
    gort_check_heap();
    phase_all_to_all(MAXT, (long)(20000 * sc) + 100);
    gort_check_heap();
    phase_churn(16, (long)(60000 * sc) + 100);
    gort_check_heap();
    printf("test_threads: ok\n");
    return 0;
}
/* GORT_TEST_TSAN */
