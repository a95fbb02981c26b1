/*
 * chanbench: channel and slice workloads for gort and for a pthread mutex +
 * condition variable queue (bench/chan/run.sh runs it beside Go and
 * crossbeam-channel).
 *   chanbench IMPL WORKLOAD N
 *   IMPL: gort | mutex (mutex: channel workloads only)
 *   WORKLOAD: pingpong (N round trips over two unbuffered channels),
 *     b11 (N items, 1 producer -> 1 consumer, cap 1024),
 *     b44 (N items, 4 producers -> 4 consumers, cap 128),
 *     select4 (N items, 4 producers each on its own channel (cap 128), one
 *       consumer selecting over the 4),
 *     append (N ints appended one at a time from a nil slice),
 *     append16 (N ints appended 16 at a time from a nil slice),
 *     keep16 (N slices of 16 ints made and kept live)
 * Prints "ns=<ns per round trip / item / append> rss_kib=<peak RSS>".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <gort.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the mutex + condvar queue: a bounded ring (cap 0 is taken as 1) ---- */
typedef struct mq {
    pthread_mutex_t *mu;      /* may be shared by several queues (select) */
    pthread_cond_t *nonempty; /* may be shared too */
    pthread_cond_t nonfull;
    long *buf;
    size_t cap, head, n;
    bool closed;
} mq;
static mq *mq_make(size_t cap, pthread_mutex_t *mu, pthread_cond_t *ne) {
    mq *q = calloc(1, sizeof *q);
    if (cap == 0) cap = 1;
    q->cap = cap;
    q->buf = calloc(cap, sizeof(long));
    if (!mu) {
        mu = malloc(sizeof *mu);
        pthread_mutex_init(mu, NULL);
        ne = malloc(sizeof *ne);
        pthread_cond_init(ne, NULL);
    }
    q->mu = mu;
    q->nonempty = ne;
    pthread_cond_init(&q->nonfull, NULL);
    return q;
}
static void mq_send(mq *q, long v) {
    pthread_mutex_lock(q->mu);
    while (q->n == q->cap) pthread_cond_wait(&q->nonfull, q->mu);
    q->buf[(q->head + q->n++) % q->cap] = v;
    pthread_cond_broadcast(q->nonempty);
    pthread_mutex_unlock(q->mu);
}
static bool mq_take_locked(mq *q, long *v) {
    if (q->n == 0) return false;
    *v = q->buf[q->head];
    q->head = (q->head + 1) % q->cap;
    q->n--;
    pthread_cond_signal(&q->nonfull);
    return true;
}
static bool mq_recv(mq *q, long *v) {
    pthread_mutex_lock(q->mu);
    while (q->n == 0 && !q->closed) pthread_cond_wait(q->nonempty, q->mu);
    bool ok = mq_take_locked(q, v);
    pthread_mutex_unlock(q->mu);
    return ok;
}
static void mq_close(mq *q) {
    pthread_mutex_lock(q->mu);
    q->closed = true;
    pthread_cond_broadcast(q->nonempty);
    pthread_mutex_unlock(q->mu);
}

/* ---- one interface over both ---- */
static int use_gort;
typedef struct ch {
    gort_chan *g;
    mq *m;
} ch;
static ch ch_make(size_t cap, pthread_mutex_t *mu, pthread_cond_t *ne) {
    ch c = {0};
    if (use_gort) c.g = gort_chan_make(sizeof(long), cap);
    else c.m = mq_make(cap, mu, ne);
    return c;
}
static inline void ch_send(ch c, long v) {
    if (use_gort) gort_chan_send(c.g, &v);
    else mq_send(c.m, v);
}
static inline bool ch_recv(ch c, long *v) { return use_gort ? gort_chan_recv(c.g, v) : mq_recv(c.m, v); }
static void ch_close(ch c) {
    if (use_gort) gort_chan_close(c.g);
    else mq_close(c.m);
}

typedef struct {
    ch a, b;
    long n;
    long sum;
} job;

static void *pong(void *arg) {
    job *j = arg;
    long v;
    for (long i = 0; i < j->n; i++) {
        ch_recv(j->a, &v);
        ch_send(j->b, v + 1);
    }
    return NULL;
}
static void *producer(void *arg) {
    job *j = arg;
    for (long i = 0; i < j->n; i++) ch_send(j->a, i);
    return NULL;
}
static void *consumer(void *arg) {
    job *j = arg;
    long v, s = 0;
    while (ch_recv(j->a, &v)) s += v;
    j->sum = s;
    return NULL;
}

static double pingpong(long n) {
    job j = {ch_make(0, NULL, NULL), ch_make(0, NULL, NULL), n, 0};
    pthread_t t;
    uint64_t t0 = now_ns();
    pthread_create(&t, NULL, pong, &j);
    long v;
    for (long i = 0; i < n; i++) {
        ch_send(j.a, i);
        ch_recv(j.b, &v);
        if (v != i + 1) abort();
    }
    pthread_join(t, NULL);
    return (double)(now_ns() - t0) / (double)n;
}

static double mpmc(long n, int np, int nc, size_t cap) {
    ch c = ch_make(cap, NULL, NULL);
    job pj[8], cj[8];
    pthread_t pt[8], ct[8];
    uint64_t t0 = now_ns();
    for (int i = 0; i < nc; i++) {
        cj[i] = (job){.a = c};
        pthread_create(&ct[i], NULL, consumer, &cj[i]);
    }
    for (int i = 0; i < np; i++) {
        pj[i] = (job){.a = c, .n = n / np};
        pthread_create(&pt[i], NULL, producer, &pj[i]);
    }
    for (int i = 0; i < np; i++) pthread_join(pt[i], NULL);
    ch_close(c);
    long sum = 0;
    for (int i = 0; i < nc; i++) {
        pthread_join(ct[i], NULL);
        sum += cj[i].sum;
    }
    long per = n / np;
    if (sum != (long)np * (per * (per - 1) / 2)) abort();
    return (double)(now_ns() - t0) / (double)n;
}

static double select4(long n) {
    enum { K = 4 };
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t ne = PTHREAD_COND_INITIALIZER;
    job pj[K];
    pthread_t pt[K];
    ch cs[K];
    for (int k = 0; k < K; k++) cs[k] = ch_make(128, &mu, &ne); /* the mutex queues share a lock and condvar */
    uint64_t t0 = now_ns();
    for (int k = 0; k < K; k++) {
        pj[k] = (job){.a = cs[k], .n = n / K};
        pthread_create(&pt[k], NULL, producer, &pj[k]);
    }
    long got = 0, total = (n / K) * K, v, sum = 0;
    if (use_gort) {
        gort_select_case sc[K];
        for (int k = 0; k < K; k++) sc[k] = (gort_select_case){.c = cs[k].g, .dir = GORT_SELECT_RECV, .elem = &v};
        while (got < total) {
            gort_select(sc, K, true);
            sum += v;
            got++;
        }
    } else {
        unsigned start = 0;
        pthread_mutex_lock(&mu);
        while (got < total) {
            bool any = false;
            for (int k = 0; k < K; k++) { /* rotate the first queue polled, for fairness */
                mq *q = cs[(start + (unsigned)k) % K].m;
                if (mq_take_locked(q, &v)) {
                    sum += v;
                    got++;
                    any = true;
                    break;
                }
            }
            start++;
            if (!any) pthread_cond_wait(&ne, &mu);
        }
        pthread_mutex_unlock(&mu);
    }
    for (int k = 0; k < K; k++) pthread_join(pt[k], NULL);
    long per = n / K;
    if (sum != K * (per * (per - 1) / 2)) abort();
    return (double)(now_ns() - t0) / (double)n;
}

/* ---- slices ---- */
typedef long longv;
GORT_TYPE_NOPTR(longv);
GORT_SLICE_DEFINE(longs, longv)

static longs keep_sink;

static double slice_append(long n) {
    uint64_t t0 = now_ns();
    longs s = {0};
    for (long i = 0; i < n; i++) s = longs_append(s, i);
    double ns = (double)(now_ns() - t0) / (double)n;
    if (s.len != (size_t)n || s.ptr[n - 1] != n - 1) abort();
    keep_sink = s;
    return ns;
}
static double slice_append16(long n) {
    longv b[16];
    for (int i = 0; i < 16; i++) b[i] = i;
    uint64_t t0 = now_ns();
    longs s = {0};
    for (long i = 0; i < n / 16; i++) s = longs_append_n(s, b, 16);
    double ns = (double)(now_ns() - t0) / (double)(n / 16);
    if (s.len != (size_t)(n / 16 * 16)) abort();
    keep_sink = s;
    return ns;
}
static double slice_keep16(long n) {
    /* the slices are kept in a collected array of headers (scanned conservatively) */
    longs *all = gort_gc_alloc((size_t)n * sizeof(longs));
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        longs s = {0};
        for (long k = 0; k < 16; k++) s = longs_append(s, i + k);
        all[i] = s;
    }
    double ns = (double)(now_ns() - t0) / (double)n;
    for (long i = 0; i < n; i += 997)
        if (all[i].len != 16 || all[i].ptr[15] != i + 15) abort();
    keep_sink = all[n - 1];
    return ns;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: chanbench gort|mutex WORKLOAD N\n");
        return 2;
    }
    use_gort = strcmp(argv[1], "gort") == 0;
    const char *w = argv[2];
    long n = atol(argv[3]);
    gort_free(gort_malloc(1));
    double ns;
    if (!strcmp(w, "pingpong")) ns = pingpong(n);
    else if (!strcmp(w, "b11")) ns = mpmc(n, 1, 1, 1024);
    else if (!strcmp(w, "b44")) ns = mpmc(n, 4, 4, 128);
    else if (!strcmp(w, "select4")) ns = select4(n);
    else if (!strcmp(w, "append") && use_gort) ns = slice_append(n);
    else if (!strcmp(w, "append16") && use_gort) ns = slice_append16(n);
    else if (!strcmp(w, "keep16") && use_gort) ns = slice_keep16(n);
    else {
        fprintf(stderr, "chanbench: unknown workload %s for %s\n", w, argv[1]);
        return 2;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("ns=%.1f rss_kib=%ld\n", ns, ru.ru_maxrss);
    return 0;
}
