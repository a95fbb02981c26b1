/*
 * test_chan: channels in a program that never uses the collector (manual
 * channels): every combination of buffered/unbuffered x blocking/non-blocking
 * x open/closed, many producers and consumers with checksums, select
 * (readiness, default, fairness within 5% over 100k selects, nil cases),
 * close while threads are blocked in send, receive and select, gort_after's
 * timing, deadlock detection, and a death test for each fatal error.
 * GORT_TEST_TSAN: runs under ThreadSanitizer too.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <gort.h>
#include "check.h"

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {}
}

GORT_CHAN_DEFINE(u64chan, uint64_t)

/* ---- one thread: the non-blocking and closed cells ---- */
static void test_single_thread(void) {
    for (size_t cap = 0; cap <= 3; cap += 3) {
        gort_chan *c = gort_chan_make(sizeof(uint64_t), cap);
        CHECK_EQ(gort_chan_cap(c), cap);
        CHECK_EQ(gort_chan_len(c), 0);
        uint64_t v = 0;
        bool ok = true;
        /* open, non-blocking, empty */
        CHECK(!gort_chan_try_recv(c, &v, &ok));
        /* open, non-blocking send: fits only in the buffer */
        for (uint64_t i = 0; i < cap; i++) CHECK(gort_chan_try_send(c, &(uint64_t){100 + i}));
        CHECK(!gort_chan_try_send(c, &(uint64_t){999}));
        CHECK_EQ(gort_chan_len(c), cap);
        /* open, blocking receive of buffered values, FIFO */
        for (uint64_t i = 0; i < cap / 2; i++) {
            CHECK(gort_chan_recv(c, &v));
            CHECK_EQ(v, 100 + i);
        }
        /* closed: buffered values first, then zero with ok == false */
        gort_chan_close(c);
        for (uint64_t i = cap / 2; i < cap; i++) {
            v = 0;
            CHECK(gort_chan_try_recv(c, &v, &ok));
            CHECK(ok);
            CHECK_EQ(v, 100 + i);
        }
        v = 77;
        CHECK(!gort_chan_recv(c, &v));
        CHECK_EQ(v, 0);
        v = 77;
        CHECK(gort_chan_try_recv(c, &v, &ok)); /* a closed channel is always ready */
        CHECK(!ok);
        CHECK_EQ(v, 0);
        CHECK(!gort_chan_recv(c, NULL));
        CHECK_EQ(gort_chan_len(c), 0);
        gort_chan_free(c);
    }
    /* nil channel: never ready */
    uint64_t v;
    CHECK(!gort_chan_try_send(NULL, &v));
    CHECK(!gort_chan_try_recv(NULL, &v, NULL));
    CHECK_EQ(gort_chan_len(NULL), 0);
    CHECK_EQ(gort_chan_cap(NULL), 0);
    /* typed layer */
    u64chan *t = u64chan_make(2);
    u64chan_send(t, 5);
    CHECK(u64chan_try_send(t, 6));
    CHECK(!u64chan_try_send(t, 7));
    bool ok;
    CHECK_EQ(u64chan_recv(t, &ok), 5);
    CHECK(ok);
    CHECK(u64chan_try_recv(t, &v, &ok) && ok && v == 6);
    u64chan_close(t);
    CHECK_EQ(u64chan_recv(t, &ok), 0);
    CHECK(!ok);
    u64chan_free(t);
    /* big elements, and zero-size ones */
    gort_chan *big = gort_chan_make(1000, 4);
    char in[1000], out[1000];
    for (int i = 0; i < 1000; i++) in[i] = (char)i;
    gort_chan_send(big, in);
    CHECK(gort_chan_recv(big, out));
    CHECK(memcmp(in, out, 1000) == 0);
    gort_chan_free(big);
    gort_chan *z = gort_chan_make(0, 2);
    gort_chan_send(z, NULL);
    CHECK_EQ(gort_chan_len(z), 1);
    CHECK(gort_chan_recv(z, NULL));
    gort_chan_free(z);
}

/* ---- blocking cells: a partner thread ---- */
typedef struct {
    gort_chan *c;
    long delay_ms;
    uint64_t value;
    bool ok;
    int op; /* 0 send, 1 recv, 2 close, 3 select recv */
} partner;

static void *partner_main(void *arg) {
    partner *p = arg;
    gort_free(gort_malloc(8)); /* known to gort before it sleeps (the deadlock check counts it) */
    if (p->delay_ms) sleep_ms(p->delay_ms);
    switch (p->op) {
    case 0: gort_chan_send(p->c, &p->value); break;
    case 1: p->ok = gort_chan_recv(p->c, &p->value); break;
    case 2: gort_chan_close(p->c); break;
    case 3: {
        gort_select_case cs[2] = {{.c = p->c, .dir = GORT_SELECT_RECV, .elem = &p->value},
                                  {.c = NULL, .dir = GORT_SELECT_RECV}};
        int i = gort_select(cs, 2, true);
        CHECK_EQ(i, 0);
        p->ok = cs[0].ok;
        break;
    }
    }
    return NULL;
}

static pthread_t start(partner *p) {
    pthread_t t;
    CHECK(pthread_create(&t, NULL, partner_main, p) == 0);
    return t;
}

static void test_blocking_cells(void) {
    for (size_t cap = 0; cap <= 1; cap++) {
        for (int delay = 0; delay <= 20; delay += 20) {
            /* receive blocks until a sender comes (or sender blocks until we receive) */
            gort_chan *c = gort_chan_make(sizeof(uint64_t), cap);
            partner p = {.c = c, .delay_ms = delay, .value = 4242, .op = 0};
            pthread_t t = start(&p);
            uint64_t v = 0;
            CHECK(gort_chan_recv(c, &v));
            CHECK_EQ(v, 4242);
            pthread_join(t, NULL);
            /* send blocks until a receiver comes (unbuffered), or fills the buffer */
            partner q = {.c = c, .delay_ms = delay, .op = 1};
            t = start(&q);
            gort_chan_send(c, &(uint64_t){31337});
            pthread_join(t, NULL);
            CHECK(q.ok);
            CHECK_EQ(q.value, 31337);
            /* close wakes a blocked receiver with ok == false */
            partner r = {.c = c, .delay_ms = 0, .value = 99, .op = 1};
            t = start(&r);
            sleep_ms(delay + 5);
            gort_chan_close(c);
            pthread_join(t, NULL);
            CHECK(!r.ok);
            CHECK_EQ(r.value, 0);
            gort_chan_free(c);
            /* close wakes a receiver blocked in select */
            c = gort_chan_make(sizeof(uint64_t), cap);
            partner s = {.c = c, .delay_ms = 0, .value = 99, .op = 3};
            t = start(&s);
            sleep_ms(delay + 5);
            gort_chan_close(c);
            pthread_join(t, NULL);
            CHECK(!s.ok);
            CHECK_EQ(s.value, 0);
            gort_chan_free(c);
        }
    }
}

/* ---- many producers and consumers ---- */
#define MAXP 8
typedef struct {
    gort_chan *c;
    int id, nprod;
    uint64_t per;
    uint64_t sum, xr, count;
    _Atomic uint8_t *seen;
    int use_select;
} mp_arg;

static void *producer(void *arg) {
    mp_arg *a = arg;
    uint64_t rng = test_seed() ^ (uint64_t)a->id * 0x9E3779B97F4A7C15ull;
    for (uint64_t i = 0; i < a->per; i++) {
        uint64_t v = (uint64_t)a->id * a->per + i;
        if (a->use_select && (rng_next(&rng) & 1)) {
            gort_select_case cs[1] = {{.c = a->c, .dir = GORT_SELECT_SEND, .elem = &v}};
            while (gort_select(cs, 1, false) < 0) sched_yield();
        } else {
            gort_chan_send(a->c, &v);
        }
    }
    return NULL;
}

static void *consumer(void *arg) {
    mp_arg *a = arg;
    uint64_t v;
    for (;;) {
        bool ok;
        if (a->use_select) {
            gort_select_case cs[2] = {{.c = a->c, .dir = GORT_SELECT_RECV, .elem = &v},
                                      {.c = NULL, .dir = GORT_SELECT_SEND, .elem = &v}};
            CHECK_EQ(gort_select(cs, 2, true), 0);
            ok = cs[0].ok;
        } else {
            ok = gort_chan_recv(a->c, &v);
        }
        if (!ok) break;
        uint8_t was = atomic_exchange(&a->seen[v], 1);
        CHECK(was == 0); /* nothing duplicated */
        a->sum += v;
        a->xr ^= v * 0x9E3779B97F4A7C15ull;
        a->count++;
    }
    return NULL;
}

static void test_mpmc(int nprod, int ncons, size_t cap, uint64_t per, int use_select) {
    gort_chan *c = gort_chan_make(sizeof(uint64_t), cap);
    uint64_t total = (uint64_t)nprod * per;
    _Atomic uint8_t *seen = calloc(total, 1);
    mp_arg pa[MAXP], ca[MAXP];
    pthread_t pt[MAXP], ct[MAXP];
    for (int i = 0; i < ncons; i++) {
        ca[i] = (mp_arg){.c = c, .id = i, .seen = seen, .use_select = use_select};
        CHECK(pthread_create(&ct[i], NULL, consumer, &ca[i]) == 0);
    }
    for (int i = 0; i < nprod; i++) {
        pa[i] = (mp_arg){.c = c, .id = i, .per = per, .use_select = use_select};
        CHECK(pthread_create(&pt[i], NULL, producer, &pa[i]) == 0);
    }
    for (int i = 0; i < nprod; i++) pthread_join(pt[i], NULL);
    gort_chan_close(c);
    uint64_t sum = 0, xr = 0, count = 0;
    for (int i = 0; i < ncons; i++) {
        pthread_join(ct[i], NULL);
        sum += ca[i].sum;
        xr ^= ca[i].xr;
        count += ca[i].count;
    }
    uint64_t wsum = 0, wxr = 0;
    for (uint64_t v = 0; v < total; v++) {
        wsum += v;
        wxr ^= v * 0x9E3779B97F4A7C15ull;
        CHECK(seen[v] == 1); /* nothing lost */
    }
    CHECK_EQ(count, total);
    CHECK_EQ(sum, wsum);
    CHECK_EQ(xr, wxr);
    free(seen);
    gort_chan_free(c);
}

/* ---- select ---- */
static void test_select_basic(void) {
    gort_chan *a = gort_chan_make(sizeof(int), 1), *b = gort_chan_make(sizeof(int), 0);
    int x = 0, y = 5;
    gort_select_case cs[3] = {{.c = a, .dir = GORT_SELECT_RECV, .elem = &x},
                              {.c = b, .dir = GORT_SELECT_SEND, .elem = &y},
                              {.c = NULL, .dir = GORT_SELECT_RECV}};
    CHECK_EQ(gort_select(cs, 3, false), -1); /* default */
    gort_chan_send(a, &(int){11});
    CHECK_EQ(gort_select(cs, 3, false), 0);
    CHECK(cs[0].ok);
    CHECK_EQ(x, 11);
    /* a send case to a receiver blocked in another thread */
    partner p = {.c = b, .op = 1};
    pthread_t t = start(&p);
    CHECK_EQ(gort_select(cs, 3, true), 1);
    pthread_join(t, NULL);
    CHECK(p.ok);
    CHECK_EQ(p.value, 5);
    /* the same channel in several cases */
    gort_chan_send(a, &(int){12});
    gort_select_case dup[2] = {{.c = a, .dir = GORT_SELECT_RECV, .elem = &x},
                               {.c = a, .dir = GORT_SELECT_SEND, .elem = &y}};
    int got = gort_select(dup, 2, true);
    CHECK(got == 0 || got == 1);
    if (got == 0) CHECK_EQ(x, 12);
    CHECK_EQ(gort_select(NULL, 0, false), -1);
    gort_chan_free(a);
    gort_chan_free(b);
}

static void test_select_fairness(void) {
    enum { N = 100000, K = 4 };
    gort_chan *c[K];
    for (int k = 0; k < K; k++) {
        c[k] = gort_chan_make(sizeof(int), N);
        for (int i = 0; i < N; i++) CHECK(gort_chan_try_send(c[k], &i));
    }
    long hits[K] = {0};
    int v;
    gort_select_case cs[K];
    for (int k = 0; k < K; k++) cs[k] = (gort_select_case){.c = c[k], .dir = GORT_SELECT_RECV, .elem = &v};
    for (int i = 0; i < N; i++) {
        int j = gort_select(cs, K, false);
        CHECK(j >= 0 && j < K);
        hits[j]++;
    }
    for (int k = 0; k < K; k++) {
        fprintf(stderr, "select fairness: case %d chosen %ld of %d\n", k, hits[k], N);
        CHECK(hits[k] >= N / K * 95 / 100 && hits[k] <= N / K * 105 / 100);
        gort_chan_free(c[k]);
    }
    /* mixed: two ready receives and two ready sends */
    gort_chan *r1 = gort_chan_make(sizeof(int), N), *r2 = gort_chan_make(sizeof(int), N);
    gort_chan *s1 = gort_chan_make(sizeof(int), N), *s2 = gort_chan_make(sizeof(int), N);
    for (int i = 0; i < N; i++) {
        gort_chan_send(r1, &i);
        gort_chan_send(r2, &i);
    }
    gort_select_case m[5] = {{.c = r1, .dir = GORT_SELECT_RECV, .elem = &v},
                             {.c = s1, .dir = GORT_SELECT_SEND, .elem = &v},
                             {.c = NULL, .dir = GORT_SELECT_RECV, .elem = &v},
                             {.c = r2, .dir = GORT_SELECT_RECV, .elem = &v},
                             {.c = s2, .dir = GORT_SELECT_SEND, .elem = &v}};
    long mh[5] = {0};
    for (int i = 0; i < N; i++) mh[gort_select(m, 5, true)]++;
    CHECK_EQ(mh[2], 0);
    for (int k = 0; k < 5; k++) {
        if (k == 2) continue;
        CHECK(mh[k] >= N / 4 * 95 / 100 && mh[k] <= N / 4 * 105 / 100);
    }
    gort_chan_free(r1);
    gort_chan_free(r2);
    gort_chan_free(s1);
    gort_chan_free(s2);
}

/* select blocked on many channels; a random one fires */
typedef struct {
    gort_chan **cs;
    int n, rounds;
} fire_arg;
static void *firer(void *arg) {
    fire_arg *f = arg;
    uint64_t rng = test_seed() + 17;
    for (int r = 0; r < f->rounds; r++) {
        int k = (int)(rng_next(&rng) % (uint64_t)f->n);
        gort_chan_send(f->cs[k], &k);
    }
    return NULL;
}
static void test_select_blocking_many(void) {
    enum { N = 40 }; /* more cases than gort_select keeps on its stack */
    int rounds = (int)(20000 * test_scale());
    gort_chan *cs[N];
    for (int k = 0; k < N; k++) cs[k] = gort_chan_make(sizeof(int), k % 2);
    fire_arg f = {cs, N, rounds};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, firer, &f) == 0);
    int vals[N];
    gort_select_case sc[N];
    for (int k = 0; k < N; k++) sc[k] = (gort_select_case){.c = cs[k], .dir = GORT_SELECT_RECV, .elem = &vals[k]};
    for (int r = 0; r < rounds; r++) {
        int j = gort_select(sc, N, true);
        CHECK(j >= 0 && j < N);
        CHECK(sc[j].ok);
        CHECK_EQ(vals[j], j);
    }
    pthread_join(t, NULL);
    for (int k = 0; k < N; k++) {
        CHECK_EQ(gort_chan_len(cs[k]), 0);
        gort_chan_free(cs[k]);
    }
}

/* ---- gort_after ---- */
static void test_after(void) {
    uint64_t t0 = now_ns();
    gort_chan *a = gort_after(20 * 1000000ull);
    uint64_t fired = 0;
    CHECK(gort_chan_recv(a, &fired));
    uint64_t t1 = now_ns();
    fprintf(stderr, "gort_after(20 ms): %.2f ms\n", (double)(t1 - t0) / 1e6);
    CHECK(t1 - t0 >= 20 * 1000000ull);
    CHECK(t1 - t0 < 500 * 1000000ull); /* a loaded machine may be late, never early */
    CHECK(fired >= t0 + 20 * 1000000ull && fired <= t1);
    gort_chan_free(a);
    /* a select with a timeout on a channel nobody sends to */
    gort_chan *never = gort_chan_make(sizeof(int), 0);
    int v;
    t0 = now_ns();
    gort_chan *to = gort_after(10 * 1000000ull);
    gort_select_case cs[2] = {{.c = never, .dir = GORT_SELECT_RECV, .elem = &v},
                              {.c = to, .dir = GORT_SELECT_RECV, .elem = NULL}};
    CHECK_EQ(gort_select(cs, 2, true), 1);
    CHECK(now_ns() - t0 >= 10 * 1000000ull);
    gort_chan_free(to);
    gort_chan_free(never);
    /* timers fire in deadline order */
    gort_chan *ts[8];
    for (int i = 0; i < 8; i++) ts[i] = gort_after((uint64_t)(8 - i) * 3000000ull);
    uint64_t prev = 0;
    for (int i = 7; i >= 0; i--) {
        uint64_t f;
        CHECK(gort_chan_recv(ts[i], &f));
        CHECK(f >= prev);
        prev = f;
        gort_chan_free(ts[i]);
    }
}

/* A thread that sleeps (is not blocked on a channel) is no deadlock. */
static void test_no_false_deadlock(void) {
    gort_chan *c = gort_chan_make(sizeof(uint64_t), 0);
    partner p = {.c = c, .delay_ms = 400, .value = 1, .op = 0};
    pthread_t t = start(&p);
    sleep_ms(20); /* let it register */
    uint64_t v;
    CHECK(gort_chan_recv(c, &v));
    CHECK_EQ(v, 1);
    pthread_join(t, NULL);
    gort_chan_free(c);
}

/* ---- death tests ---- */
static void die_send_closed(void *arg) {
    gort_chan *c = gort_chan_make(4, (size_t)(uintptr_t)arg);
    gort_chan_close(c);
    gort_chan_send(c, &(int){1});
}
static void die_try_send_closed(void *arg) {
    gort_chan *c = gort_chan_make(4, 1);
    gort_chan_close(c);
    gort_chan_try_send(c, &(int){1});
}
static void die_select_send_closed(void *arg) {
    gort_chan *c = gort_chan_make(4, 0);
    gort_chan_close(c);
    int v = 0;
    gort_select_case cs[1] = {{.c = c, .dir = GORT_SELECT_SEND, .elem = &v}};
    gort_select(cs, 1, false);
}
static void die_close_closed(void *arg) {
    gort_chan *c = gort_chan_make(4, 0);
    gort_chan_close(c);
    gort_chan_close(c);
}
static void die_close_nil(void *arg) { gort_chan_close(NULL); }
static void die_makechan(void *arg) { gort_chan_make(16, SIZE_MAX / 8); }
static void die_elem_too_large(void *arg) { gort_chan_make(70000, 1); }
/* a sender blocked when the channel is closed */
static void *blocked_sender(void *arg) {
    gort_chan_send(arg, &(int){1});
    return NULL;
}
static __attribute__((unused)) void die_close_blocked_sender(void *arg) {
    gort_chan *c = gort_chan_make(4, (size_t)(uintptr_t)arg);
    for (size_t i = 0; i < gort_chan_cap(c); i++) gort_chan_send(c, &(int){0});
    pthread_t t;
    pthread_create(&t, NULL, blocked_sender, c);
    sleep_ms(50);
    gort_chan_close(c);
    pthread_join(t, NULL);
}
static void *blocked_select_sender(void *arg) {
    int v = 1;
    gort_select_case cs[2] = {{.c = arg, .dir = GORT_SELECT_SEND, .elem = &v}, {.c = NULL}};
    cs[1].dir = GORT_SELECT_RECV;
    gort_select(cs, 2, true);
    return NULL;
}
static __attribute__((unused)) void die_close_blocked_select_sender(void *arg) {
    gort_chan *c = gort_chan_make(4, 0);
    pthread_t t;
    pthread_create(&t, NULL, blocked_select_sender, c);
    sleep_ms(50);
    gort_chan_close(c);
    pthread_join(t, NULL);
}
static void die_deadlock_recv(void *arg) {
    gort_chan *c = gort_chan_make(4, 0);
    gort_chan_recv(c, NULL);
}
static void die_deadlock_nil(void *arg) { gort_chan_recv(NULL, NULL); }
static void die_deadlock_select(void *arg) { gort_select(NULL, 0, true); }
static void *recv_forever(void *arg) {
    gort_chan_recv(arg, NULL);
    return NULL;
}
static __attribute__((unused)) void die_deadlock_two(void *arg) {
    gort_chan *c = gort_chan_make(4, 0);
    pthread_t t;
    pthread_create(&t, NULL, recv_forever, c);
    gort_chan *d = gort_chan_make(4, 2);
    gort_chan_send(d, &(int){1});
    gort_chan_send(d, &(int){1});
    gort_chan_send(d, &(int){1}); /* full: blocks, and so does the other thread */
}
static void *register_and_exit(void *arg) {
    gort_free(gort_malloc(8));
    sleep_ms(50);
    return NULL;
}
static __attribute__((unused)) void die_deadlock_thread_exit(void *arg) {
    /* the only thread that could send exits while this one waits */
    gort_chan *c = gort_chan_make(4, 0);
    pthread_t t;
    pthread_create(&t, NULL, register_and_exit, NULL);
    pthread_detach(t);
    sleep_ms(10);
    gort_chan_recv(c, NULL);
}
static __attribute__((unused)) void die_deadlock_after_timer(void *arg) {
    /* a pending timer is not a deadlock; once it has fired, waiting on another channel is */
    gort_chan *a = gort_after(30 * 1000000ull);
    gort_chan_recv(a, NULL);
    gort_chan *c = gort_chan_make(4, 0);
    gort_chan_recv(c, NULL);
}

static void test_deaths(void) {
    expect_death(die_send_closed, (void *)0, "gort: fatal error: send on closed channel");
    expect_death(die_send_closed, (void *)4, "gort: fatal error: send on closed channel");
    expect_death(die_try_send_closed, NULL, "gort: fatal error: send on closed channel");
    expect_death(die_select_send_closed, NULL, "gort: fatal error: send on closed channel");
    expect_death(die_close_closed, NULL, "gort: fatal error: close of closed channel");
    expect_death(die_close_nil, NULL, "gort: fatal error: close of nil channel");
    expect_death(die_makechan, NULL, "gort: fatal error: makechan: size out of range");
    expect_death(die_elem_too_large, NULL, "gort: fatal error: channel element type too large (>64kB)");
    const char *dl = "gort: fatal error: all goroutines are asleep - deadlock!";
    expect_death(die_deadlock_recv, NULL, dl);
    expect_death(die_deadlock_nil, NULL, dl);
    expect_death(die_deadlock_select, NULL, dl);
#if !defined(__SANITIZE_THREAD__) /* TSan cannot start threads in a forked child */
    expect_death(die_close_blocked_sender, (void *)0, "gort: fatal error: send on closed channel");
    expect_death(die_close_blocked_sender, (void *)2, "gort: fatal error: send on closed channel");
    expect_death(die_close_blocked_select_sender, NULL, "gort: fatal error: send on closed channel");
    expect_death(die_deadlock_two, NULL, dl);
    expect_death(die_deadlock_after_timer, NULL, dl);
    expect_death(die_deadlock_thread_exit, NULL, dl);
#endif
}

#define T(call)                                                                     \
    do {                                                                            \
        uint64_t t0_ = now_ns();                                                    \
        call;                                                                       \
        fprintf(stderr, "%-40s %8.1f ms\n", #call, (double)(now_ns() - t0_) / 1e6); \
    } while (0)

int main(void) {
    test_seed();
    gort_free(gort_malloc(1)); /* this thread is known to gort */
    T(test_single_thread());
    T(test_blocking_cells());
    T(test_select_basic());
    T(test_select_fairness());
    T(test_select_blocking_many());
    uint64_t per = (uint64_t)(200000 * test_scale());
    T(test_mpmc(1, 1, 0, per / 4, 0));
    T(test_mpmc(1, 1, 1024, per, 0));
    T(test_mpmc(4, 4, 0, per / 16, 0));
    T(test_mpmc(4, 4, 128, per / 4, 0));
    T(test_mpmc(3, 5, 1, per / 16, 1));
    T(test_mpmc(8, 2, 7, per / 16, 1));
    T(test_after());
    T(test_no_false_deadlock());
    T(test_deaths());
    fprintf(stderr, "test_chan: ok\n");
    return 0;
}
