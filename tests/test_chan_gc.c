/*
 * test_chan_gc: channels in a program that uses the collector. Pointers in a
 * channel's buffer and in a blocked sender's variable keep their targets
 * alive across collections; a channel nothing refers to is reclaimed; many
 * producers and consumers pass collected objects through channels while
 * another thread collects (content checked on receipt).
 * GORT_TEST_TSAN: runs under ThreadSanitizer too.
 */
#include <pthread.h>
#include <stdatomic.h>

#include <gort.h>
#include "check.h"

typedef struct Obj {
    uint64_t id, check;
    uint64_t pad[6];
} Obj;
GORT_TYPE_NOPTR(Obj);

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {}
}

static uint64_t mix(uint64_t x) { return x * 0x9E3779B97F4A7C15ull ^ 0xdeadbeef; }

static Obj *new_obj(uint64_t id) {
    Obj *o = gort_new(Obj);
    o->id = id;
    o->check = mix(id);
    for (int i = 0; i < 6; i++) o->pad[i] = id + (uint64_t)i;
    return o;
}
static void check_obj(const Obj *o, uint64_t id) {
    CHECK(o != NULL);
    CHECK_EQ(o->id, id);
    CHECK_EQ(o->check, mix(id));
    for (int i = 0; i < 6; i++) CHECK_EQ(o->pad[i], id + (uint64_t)i);
}

/* Clears this thread's dead stack below the caller, so stale copies of
 * pointers do not keep objects alive. */
static __attribute__((noinline)) void clobber_stack(void) {
    volatile char buf[16384];
    memset((char *)buf, 0, sizeof buf);
}

enum { NBUF = 500 };
static gort_weak **weaks; /* a gort_malloc_scanned array */

static __attribute__((noinline)) gort_chan *fill_channel(void) {
    gort_chan *c = gort_chan_make(sizeof(Obj *), NBUF);
    for (uint64_t i = 0; i < NBUF; i++) {
        Obj *o = new_obj(i);
        weaks[i] = gort_weak_make(o);
        CHECK(gort_chan_try_send(c, &o));
    }
    return c;
}
static __attribute__((noinline)) void drain_channel(gort_chan *c) {
    for (uint64_t i = 0; i < NBUF; i++) {
        Obj *o = NULL;
        CHECK(gort_chan_try_recv(c, &o, NULL));
        check_obj(o, i);
    }
}

static void test_buffer_keeps_alive(void) {
    gort_chan *c = fill_channel();
    clobber_stack();
    gort_gc();
    gort_gc();
    for (int i = 0; i < NBUF; i++) CHECK(gort_weak_get(weaks[i]) != NULL);
    drain_channel(c);
    clobber_stack();
    gort_gc();
    gort_gc();
    int cleared = 0;
    for (int i = 0; i < NBUF; i++) cleared += gort_weak_get(weaks[i]) == NULL;
    fprintf(stderr, "after draining: %d of %d objects reclaimed\n", cleared, NBUF);
    CHECK(cleared >= NBUF * 9 / 10); /* what left the buffer no longer holds its target */
}

/* a blocked sender's variable */
static gort_weak *sender_weak;
static void *sender_main(void *arg) {
    gort_chan *c = arg;
    Obj *o = new_obj(777);
    sender_weak = gort_weak_make(o);
    gort_chan_send(c, &o); /* blocks: o lives only in this frame */
    return NULL;
}
static void test_blocked_sender(void) {
    gort_chan *c = gort_chan_make(sizeof(Obj *), 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, sender_main, c) == 0);
    sleep_ms(100);
    for (int i = 0; i < 3; i++) gort_gc();
    Obj *o = NULL;
    CHECK(gort_chan_recv(c, &o));
    check_obj(o, 777);
    CHECK(gort_weak_get(sender_weak) == o);
    pthread_join(t, NULL);
}

/* unreachable channels are reclaimed */
static __attribute__((noinline)) void make_garbage_channels(gort_weak **w, int n) {
    for (int i = 0; i < n; i++) {
        gort_chan *c = gort_chan_make(sizeof(void *), 64);
        Obj *o = new_obj((uint64_t)i);
        gort_chan_send(c, &o);
        w[i] = gort_weak_make(c);
    }
}
static void test_channels_reclaimed(void) {
    enum { N = 200 };
    gort_weak **w = gort_malloc_scanned(N * sizeof *w);
    make_garbage_channels(w, N);
    clobber_stack();
    gort_gc();
    gort_gc();
    int cleared = 0;
    for (int i = 0; i < N; i++) cleared += gort_weak_get(w[i]) == NULL;
    fprintf(stderr, "unreachable channels reclaimed: %d of %d\n", cleared, N);
    CHECK(cleared >= N * 9 / 10);
    gort_free(w);
    /* a typed, pointer-free channel is a noscan object */
    GORT_TYPE_NOPTR(uint64_t);
    gort_chan *tc = gort_chan_make_typed(&gort_type_uint64_t, 4);
    gort_chan_send(tc, &(uint64_t){5});
    gort_gc();
    uint64_t v = 0;
    CHECK(gort_chan_recv(tc, &v));
    CHECK_EQ(v, 5);
}

/* producers and consumers pass collected objects while a thread collects */
typedef struct {
    gort_chan *c;
    int id;
    uint64_t per, count, sum;
} pc;
static _Atomic int stop_gc;
static void *prod(void *arg) {
    pc *p = arg;
    for (uint64_t i = 0; i < p->per; i++) {
        Obj *o = new_obj((uint64_t)p->id * p->per + i);
        gort_chan_send(p->c, &o);
    }
    return NULL;
}
static void *cons(void *arg) {
    pc *p = arg;
    Obj *o;
    while (gort_chan_recv(p->c, &o)) {
        CHECK_EQ(o->check, mix(o->id));
        for (int i = 0; i < 6; i++) CHECK_EQ(o->pad[i], o->id + (uint64_t)i);
        p->sum += o->id;
        p->count++;
    }
    return NULL;
}
static void *collector(void *arg) {
    (void)arg;
#if defined(__SANITIZE_THREAD__)
    /* Under TSan a thread waiting for a lock the collector holds (its cache's
     * gc_lock, in a collected allocation's refill) gets the stop signal only
     * once it has the lock: TSan defers signals in pthread_mutex_lock, and the
     * collector waits forever. Collections then run only when no thread
     * allocates (the heap here stays below the pacer's first goal). */
    return NULL;
#endif
    while (!atomic_load(&stop_gc)) {
        gort_gc();
        sleep_ms(2);
    }
    return NULL;
}
static void test_concurrent(size_t cap) {
    enum { P = 3, C = 3 };
    uint64_t per = (uint64_t)(30000 * test_scale());
    gort_chan *c = gort_chan_make(sizeof(Obj *), cap);
    pc ps[P], cs[C];
    pthread_t pt[P], ct[C], g;
    atomic_store(&stop_gc, 0);
    CHECK(pthread_create(&g, NULL, collector, NULL) == 0);
    for (int i = 0; i < C; i++) {
        cs[i] = (pc){.c = c, .id = i};
        CHECK(pthread_create(&ct[i], NULL, cons, &cs[i]) == 0);
    }
    for (int i = 0; i < P; i++) {
        ps[i] = (pc){.c = c, .id = i, .per = per};
        CHECK(pthread_create(&pt[i], NULL, prod, &ps[i]) == 0);
    }
    for (int i = 0; i < P; i++) pthread_join(pt[i], NULL);
    gort_chan_close(c);
    uint64_t count = 0, sum = 0, n = P * per;
    for (int i = 0; i < C; i++) {
        pthread_join(ct[i], NULL);
        count += cs[i].count;
        sum += cs[i].sum;
    }
    atomic_store(&stop_gc, 1);
    pthread_join(g, NULL);
    CHECK_EQ(count, n);
    CHECK_EQ(sum, n * (n - 1) / 2);
}

int main(void) {
    test_seed();
    weaks = gort_malloc_scanned(NBUF * sizeof *weaks);
    Obj *first = gort_new(Obj); /* the collector is in use: channels are collected objects */
    CHECK(first != NULL);
    test_buffer_keeps_alive();
    test_blocked_sender();
    test_channels_reclaimed();
    test_concurrent(0);
    test_concurrent(16);
    fprintf(stderr, "test_chan_gc: ok\n");
    return 0;
}
