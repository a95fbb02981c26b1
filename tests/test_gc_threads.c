/*
 * test_gc_threads: several mutator threads allocate and link structures while
 * collections run (triggered by the pacer, by the workers' own gort_gc calls and by the
 * main thread every few milliseconds). Records are typed objects (gort_new) pointing to
 * a noscan payload (gort_gc_alloc_noscan, up to 40 KiB) and to a conservative bag
 * (gort_gc_alloc) of leaf records. Workers prepend chains to shared buckets (global
 * roots, one mutex each), move records between buckets (links made by one thread,
 * followed by others), cut buckets (garbage), verify whole buckets, and keep private
 * lists on their stacks. Every record's id, check word, payload bytes and bag are
 * verified; at the end every bucket is verified again and the heap checked.
 * Not run in the TSan build: ThreadSanitizer holds a signal back until the
 * thread enters an intercepted call, and the collector stops threads with
 * one (a thread waiting on a lock, or sleeping, never answers).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <gort.h>
#include "check.h"

#define NOINLINE __attribute__((noinline))

static uint64_t g_seed;

typedef struct Rec {
    struct Rec *next;
    unsigned char *blob; /* noscan payload */
    void **bag;          /* conservative: bag[0] a scalar tag, bag[1..nbag] leaf Recs */
    uint64_t id, check, len, nbag;
} Rec;
GORT_TYPE(Rec, next, blob, bag);

static inline uint64_t mix(uint64_t x) {
    x = (x + g_seed) * 0x9E3779B97F4A7C15ULL;
    return x ^ (x >> 31);
}
static inline unsigned char pbyte(uint64_t id, size_t j) { return (unsigned char)(mix(id * 131 + j) >> 56); }

static atomic_ulong g_next_id = 1;

static Rec *make_rec(uint64_t *s, int leaf) {
    Rec *r = gort_new(Rec);
    CHECK(r);
    r->id = atomic_fetch_add_explicit(&g_next_id, 1, memory_order_relaxed);
    uint64_t x = rng_next(s);
    r->len = x % 64 == 0 ? 32768 + x % 8192 : x % 600;
    if (r->len) {
        r->blob = gort_gc_alloc_noscan(r->len);
        CHECK(r->blob);
        for (size_t j = 0; j < r->len; j++) r->blob[j] = pbyte(r->id, j);
    }
    if (!leaf) {
        r->nbag = (x >> 16) % 5;
        if (r->nbag) {
            void **bag = gort_gc_alloc((r->nbag + 1) * sizeof(void *));
            CHECK(bag);
            bag[0] = (void *)(uintptr_t)mix(r->id);
            for (uint64_t k = 1; k <= r->nbag; k++) bag[k] = make_rec(s, 1);
            r->bag = bag;
        }
    }
    r->check = mix(r->id ^ (r->len << 20) ^ (r->nbag << 40));
    return r;
}

static void bad(const Rec *r, const char *what, const char *where) {
    fprintf(stderr, "%s: record %p (id %llu) %s (seed %llu)\n", where, (const void *)r,
            r ? (unsigned long long)r->id : 0ULL, what, (unsigned long long)g_seed);
    abort();
}

static void verify_rec(const Rec *r, int leaf, const char *where) {
    if (!r) bad(r, "missing", where);
    if (r->check != mix(r->id ^ (r->len << 20) ^ (r->nbag << 40))) bad(r, "check word wrong", where);
    if (r->len) {
        if (!r->blob) bad(r, "payload missing", where);
        for (size_t j = 0; j < r->len; j += (r->len > 1024 ? 61 : 1))
            if (r->blob[j] != pbyte(r->id, j)) bad(r, "payload changed", where);
        if (r->blob[r->len - 1] != pbyte(r->id, r->len - 1)) bad(r, "payload end changed", where);
    }
    if (leaf) {
        if (r->nbag || r->bag || r->next) bad(r, "leaf has links", where);
        return;
    }
    if (r->nbag) {
        if (!r->bag || r->bag[0] != (void *)(uintptr_t)mix(r->id)) bad(r, "bag tag wrong", where);
        for (uint64_t k = 1; k <= r->nbag; k++) verify_rec(r->bag[k], 1, where);
    } else if (r->bag) {
        bad(r, "unexpected bag", where);
    }
}

static long verify_chain(const Rec *h, const char *where) {
    long n = 0;
    for (; h; h = h->next, n++) verify_rec(h, 0, where);
    return n;
}

enum { NB = 64, MAXLEN = 1500, CUTLEN = 300 };
static struct bucket {
    pthread_mutex_t mu;
    Rec *head;
    long count;
} g_buckets[NB];

static atomic_int g_finished;
static atomic_long g_ops;
static long g_iters;

static void *worker(void *arg) {
    int me = (int)(uintptr_t)arg;
    uint64_t s = g_seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(me + 1));
    Rec *volatile mine = NULL; /* a private list on this thread's stack */
    long mine_n = 0;
    for (long it = 0; it < g_iters; it++) {
        uint64_t x = rng_next(&s);
        int b = (int)(x % NB), op = (int)((x >> 8) % 100);
        struct bucket *bk = &g_buckets[b];
        if (op < 55) { /* prepend a chain */
            int n = 1 + (int)((x >> 16) % 8);
            Rec *head = make_rec(&s, 0), *tail = head;
            for (int i = 1; i < n; i++) {
                tail->next = make_rec(&s, 0);
                tail = tail->next;
            }
            pthread_mutex_lock(&bk->mu);
            tail->next = bk->head;
            bk->head = head;
            bk->count += n;
            if (bk->count > MAXLEN) {
                Rec *r = bk->head;
                for (int i = 1; i < CUTLEN; i++) r = r->next;
                r->next = NULL; /* the rest is garbage */
                bk->count = CUTLEN;
            }
            pthread_mutex_unlock(&bk->mu);
        } else if (op < 70) { /* verify a bucket */
            pthread_mutex_lock(&bk->mu);
            long n = verify_chain(bk->head, "bucket");
            if (n != bk->count) {
                fprintf(stderr, "bucket %d: %ld records, count says %ld\n", b, n, bk->count);
                abort();
            }
            pthread_mutex_unlock(&bk->mu);
        } else if (op < 78) { /* cut */
            pthread_mutex_lock(&bk->mu);
            long keep = (long)((x >> 20) % 8);
            if (keep == 0) {
                bk->head = NULL;
                bk->count = 0;
            } else if (bk->count > keep) {
                Rec *r = bk->head;
                for (long i = 1; i < keep; i++) r = r->next;
                r->next = NULL;
                bk->count = keep;
            }
            pthread_mutex_unlock(&bk->mu);
        } else if (op < 92) { /* move the first record of b to c */
            int c = (int)((x >> 24) % NB);
            if (c == b) continue;
            struct bucket *first = b < c ? bk : &g_buckets[c], *second = b < c ? &g_buckets[c] : bk;
            pthread_mutex_lock(&first->mu);
            pthread_mutex_lock(&second->mu);
            struct bucket *cb = &g_buckets[c];
            Rec *r = bk->head;
            if (r && cb->count < MAXLEN) {
                bk->head = r->next;
                bk->count--;
                r->next = cb->head;
                cb->head = r;
                cb->count++;
                verify_rec(r, 0, "moved record");
            }
            pthread_mutex_unlock(&second->mu);
            pthread_mutex_unlock(&first->mu);
        } else if (op < 99) { /* the private list */
            if (mine_n > 200) {
                CHECK_EQ(verify_chain(mine, "private list"), mine_n);
                mine = NULL;
                mine_n = 0;
            }
            Rec *r = make_rec(&s, 0);
            r->next = mine;
            mine = r;
            mine_n++;
        } else {
            gort_gc();
        }
        atomic_fetch_add_explicit(&g_ops, 1, memory_order_relaxed);
    }
    CHECK_EQ(verify_chain(mine, "private list"), mine_n);
    atomic_fetch_add(&g_finished, 1);
    return NULL;
}

int main(void) {
    g_seed = test_seed();
    double sc = test_scale();
    int nw = 4;
    g_iters = (long)(150000 * sc);
    for (int i = 0; i < NB; i++) pthread_mutex_init(&g_buckets[i].mu, NULL);
    gort_gc_stats_t st0, st1;
    gort_gc_stats(&st0);
    pthread_t t[8];
    for (int i = 0; i < nw; i++) CHECK(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i) == 0);
    /* collections from the main thread while the workers run */
    long main_gcs = 0;
    while (atomic_load(&g_finished) < nw) {
        usleep(3000);
        gort_gc();
        main_gcs++;
        if (main_gcs % 16 == 0) {
            /* verify a bucket from here too */
            struct bucket *bk = &g_buckets[main_gcs / 16 % NB];
            pthread_mutex_lock(&bk->mu);
            CHECK_EQ(verify_chain(bk->head, "bucket (main)"), bk->count);
            pthread_mutex_unlock(&bk->mu);
        }
    }
    for (int i = 0; i < nw; i++) CHECK(pthread_join(t[i], NULL) == 0);
    gort_gc();
    long total = 0;
    for (int i = 0; i < NB; i++) {
        long n = verify_chain(g_buckets[i].head, "bucket (end)");
        CHECK_EQ(n, g_buckets[i].count);
        total += n;
    }
    gort_gc_stats(&st1);
    printf("test_gc_threads: %d workers, %ld ops, %llu collections (%ld from main), %ld records "
           "live, %llu objects freed, max pause %.2f ms\n",
           nw, atomic_load(&g_ops), (unsigned long long)(st1.num_gc - st0.num_gc), main_gcs, total,
           (unsigned long long)(st1.objects_freed - st0.objects_freed), st1.pause_max_ns / 1e6);
    CHECK(st1.num_gc - st0.num_gc >= 10);
    CHECK(st1.objects_freed > st0.objects_freed);
    gort_check_heap();
    printf("test_gc_threads: ok\n");
    return 0;
}
