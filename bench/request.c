/* Workload 14, request: a request/response server with realistic object
 * lifetimes.  T worker threads each handle requests:
 *   - parse: a request struct, 8-40 header strings (16-128 B) on a list, a
 *     body (64 B-4 KiB, log-uniform): they live for the request;
 *   - process: a temporary tree of 10-30 nodes (48 B) built and dropped, and
 *     a lookup in a shared cache (16 shards under mutexes, 16k direct-mapped
 *     entries); one request in four inserts an entry (key 16-48 B, value
 *     64 B-2 KiB) in place of the slot's last one, made by any thread: long
 *     lifetimes, freed far from where they were made;
 *   - respond: a response grown by realloc in chunks to 256 B-8 KiB, handed
 *     to the next worker's queue; that worker "sends" (reads) and frees it:
 *     medium lifetimes, every response freed by another thread (at most
 *     64 wait per worker).
 * The request's own objects are freed at its end, headers in order. */
#include "common.h"

#define SHARDS 16
#define CACHE_PER_SHARD 1024
#define CACHE_KEYS (SHARDS * CACHE_PER_SHARD * 2)

typedef struct entry {
    char *key;
    unsigned char *val;
    uint32_t keylen, vallen;
} entry_t;

typedef struct {
    pthread_mutex_t mu;
    entry_t *slot[CACHE_PER_SHARD];
    uint64_t hits;
} ALIGNED_CL shard_t;

typedef struct resp {
    struct resp *next;
    uint32_t len;
    unsigned char data[];
} resp_t;

typedef struct {
    pthread_mutex_t mu;
    resp_t *head;
    _Atomic long n; /* responses waiting */
} ALIGNED_CL queue_t;

/* A sender waits while the next worker has this many responses waiting, so
 * that the live heap does not depend on how the threads are scheduled. */
#define QUEUE_MAX 64

typedef struct hdr {
    struct hdr *next;
    uint32_t len;
    char text[];
} hdr_t;

typedef struct node {
    struct node *left, *right;
    uint64_t key, val;
    uint64_t pad[2];
} node_t; /* 48 B */

static int T;
static _Atomic int done; /* workers through their requests */
static shard_t shards[SHARDS];
static queue_t *queues;

static node_t *tree_insert(node_t *t, node_t *n) {
    node_t **at = &t;
    while (*at) at = n->key < (*at)->key ? &(*at)->left : &(*at)->right;
    *at = n;
    return t;
}

static uint64_t tree_free(node_t *t) {
    if (!t) return 0;
    uint64_t s = t->val + tree_free(t->left) + tree_free(t->right);
    free(t);
    return s;
}

static uint64_t drain(queue_t *q) {
    pthread_mutex_lock(&q->mu);
    resp_t *r = q->head;
    q->head = NULL;
    atomic_store(&q->n, 0);
    pthread_mutex_unlock(&q->mu);
    uint64_t s = 0;
    while (r) {
        resp_t *nx = r->next;
        s += r->data[0] + r->data[r->len - 1] + r->len;
        free(r);
        r = nx;
    }
    return s;
}

static uint64_t cache_use(rng_t *r) {
    uint64_t k = rng_next(r) % CACHE_KEYS;
    shard_t *sh = &shards[k % SHARDS];
    entry_t **slot = &sh->slot[(k / SHARDS) % CACHE_PER_SHARD];
    char key[48];
    int kl = snprintf(key, sizeof key, "k%" PRIu64 "/%s", k, "abcdefghijklmnopqrstuvwxyz" + (k % 26));
    uint64_t s = 0;
    entry_t *e = NULL, *old = NULL;
    if (rng_next(r) % 4 == 0) { /* made outside the lock, as a server would */
        e = xmalloc(sizeof *e);
        e->keylen = (uint32_t)kl;
        e->key = xmalloc((size_t)kl + 1);
        memcpy(e->key, key, (size_t)kl + 1);
        e->vallen = (uint32_t)rng_logrange(r, 64, 2048);
        e->val = xmalloc(e->vallen);
        memset(e->val, (int)k, e->vallen);
    }
    pthread_mutex_lock(&sh->mu);
    entry_t *x = *slot;
    if (x && x->keylen == (uint32_t)kl && !memcmp(x->key, key, (size_t)kl)) {
        s += x->val[x->vallen - 1];
        sh->hits++;
    }
    if (e) { /* the entry replaces the slot's: the cache is direct-mapped */
        old = x;
        *slot = e;
    }
    pthread_mutex_unlock(&sh->mu);
    if (old) {
        s += old->val[0];
        free(old->val);
        free(old->key);
        free(old);
    }
    return s;
}

static void *worker(void *vp) {
    bench_part_t *ar = vp;
    rng_t r = rng_seed(1400 + (uint64_t)ar->id);
    queue_t *mine = &queues[ar->id], *next = &queues[(ar->id + 1) % T];
    uint64_t sum = 0;
    for (long q = 0; q < ar->ops; q++) {
        sum += drain(mine);
        /* parse */
        unsigned char *req = xmalloc(128);
        memset(req, (int)q, 128);
        hdr_t *hh = NULL, **ht = &hh;
        int nh = (int)rng_range(&r, 8, 40);
        for (int i = 0; i < nh; i++) {
            uint32_t len = (uint32_t)rng_range(&r, 16, 128);
            hdr_t *h = xmalloc(sizeof *h + len);
            h->next = NULL;
            h->len = len;
            memset(h->text, 'a' + i % 26, len);
            *ht = h;
            ht = &h->next;
        }
        size_t blen = rng_logrange(&r, 64, 4096);
        unsigned char *body = xmalloc(blen);
        memset(body, (int)q, blen);
        /* process */
        node_t *tree = NULL;
        int nn = (int)rng_range(&r, 10, 30);
        for (int i = 0; i < nn; i++) {
            node_t *n = xmalloc(sizeof *n);
            n->left = n->right = NULL;
            n->key = rng_next(&r);
            n->val = (uint64_t)i;
            tree = tree_insert(tree, n);
        }
        sum += tree_free(tree);
        sum += cache_use(&r);
        /* respond */
        size_t want = rng_logrange(&r, 256, 8192), cap = 128, len = 0;
        resp_t *rs = xmalloc(sizeof *rs + cap);
        while (len < want) {
            size_t chunk = rng_range(&r, 32, 512);
            if (len + chunk > want) chunk = want - len;
            if (len + chunk > cap) {
                while (len + chunk > cap) cap *= 2;
                rs = realloc(rs, sizeof *rs + cap);
                if (!rs) abort();
            }
            memset(rs->data + len, (int)(len + q), chunk);
            len += chunk;
        }
        rs->len = (uint32_t)len;
        while (next != mine && atomic_load(&next->n) >= QUEUE_MAX) {
            sum += drain(mine); /* the next worker may be waiting on this one */
            sched_yield();
        }
        pthread_mutex_lock(&next->mu);
        rs->next = next->head;
        next->head = rs;
        atomic_fetch_add(&next->n, 1);
        pthread_mutex_unlock(&next->mu);
        /* end of the request */
        sum += body[blen - 1] + req[127];
        free(body);
        while (hh) {
            hdr_t *nx = hh->next;
            sum += (unsigned char)hh->text[hh->len - 1];
            free(hh);
            hh = nx;
        }
        free(req);
    }
    /* done: keep taking responses until every worker is done */
    atomic_fetch_add(&done, 1);
    while (atomic_load(&done) < T) {
        sum += drain(mine);
        sched_yield();
    }
    ar->sum = sum;
    return NULL;
}

int main(int argc, char **argv) {
    bench_args_t a = bench_parse(argc, argv);
    T = a.threads;
    queues = calloc((size_t)T, sizeof(queue_t));
    for (int i = 0; i < T; i++) pthread_mutex_init(&queues[i].mu, NULL);
    for (int i = 0; i < SHARDS; i++) pthread_mutex_init(&shards[i].mu, NULL);
    long each;
    double t0 = bench_now();
    uint64_t sum = bench_run_parts(T, worker, bench_n(&a, 1e6), &each);
    for (int i = 0; i < T; i++) sum += drain(&queues[i]);
    for (int i = 0; i < SHARDS; i++)
        for (int j = 0; j < CACHE_PER_SHARD; j++) {
            entry_t *e = shards[i].slot[j];
            if (!e) continue;
            free(e->val);
            free(e->key);
            free(e);
        }
    double t1 = bench_now();
    /* The checksum depends on the threads' interleaving (which responses
     * wait, which cache entries hit): not compared across allocators. */
    printf("RESULT name=request secs=%.6f threads=%d requests=%ld checksum=%" PRIu64 "\n", t1 - t0, T, each * T, sum);
    free(queues);
    return 0;
}
