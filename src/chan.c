/*
 * chan.c: Go's channels (chan.go, select.go, time.After) for C threads.
 *
 * A channel is Go's hchan: a lock, a ring buffer (qcount elements from
 * recvx), and two FIFO queues of waiting threads' sudogs. A sudog lives on
 * its waiting thread's stack and points to that thread's element variable;
 * a thread that finds a partner waiting copies the element straight between
 * the two variables (sending into an empty unbuffered or buffered channel
 * with a waiting receiver, receiving from an unbuffered channel with a
 * waiting sender), or, for a full buffered channel with a waiting sender,
 * takes the head of the buffer and moves the sender's element to its tail
 * (so FIFO order holds).
 *
 * Waiting (Go's gopark/goready): a waiter has a futex word, 0 = waiting,
 * 1 = woken, 2 = asleep on the futex. The waker completes the sudog under
 * the channel's lock, releases the lock, then swaps the word to 1 and calls
 * FUTEX_WAKE only if it was 2. The waiter spins a short while (a wake-up
 * through the kernel costs ~10 us; a partner usually answers within 1 us),
 * then sleeps; the spin's length adapts to how often it pays.
 *
 * select (selectgo): a random poll order (Fisher-Yates, Go's pollorder) and
 * the cases sorted by channel address (lockorder); all channels are locked
 * in that order, the cases polled in poll order; if none is ready, a sudog
 * per case is queued on its channel, all locks are released and the thread
 * waits. A partner that dequeues one of its sudogs must first win the
 * thread's select_done word (0 -> 1, as Go's g.selectDone): the losers'
 * sudogs are skipped, and the selecting thread unlinks them after waking.
 *
 * Lock order: timer lock -> channel locks (in address order). The channel
 * lock is a futex lock (spin, then sleep) taken with nothing else held but
 * other channel locks.
 *
 * Deadlock: `nblocked` counts threads asleep on a channel. A thread about to
 * sleep that finds every known thread (gort__gc_count_threads) asleep, no
 * timer pending, sleeps in slices of 30 ms instead and rechecks; when the
 * state has lasted 100 ms with no wake-up anywhere (`progress`), it throws
 * Go's "all goroutines are asleep - deadlock!".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

GORT_HIDDEN int gort__gc_count_threads(void);
GORT_HIDDEN bool gort__gc_in_use(void);

#define SPIN_MAX_NS 16000 /* the longest spin before sleeping */
/* sched_yield calls between the spin and the futex sleep: with more threads
 * than cores the partner often is not running, and a yield lets it run and
 * complete this thread's operation with no futex wake (wake() makes the
 * system call only for a sleeper). bench/chan, 2-core VM, medians of 5, ns per
 * item, 0 -> 2 -> 4 yields: select over 4 1148 -> 332 -> 395, 4->4 cap 128
 * 161.5 -> 128.9 -> 131.8, 1->1 98.4 -> 81.4 -> 85.9, ping-pong 3529 -> 3402
 * -> 3081 (noise). */
#ifndef PARK_YIELDS
#define PARK_YIELDS 2
#endif
#ifndef SPIN_MIN_NS
#define SPIN_MIN_NS 200 /* the shortest */
#endif
#define DEADLOCK_NS (100 * 1000000ull) /* how long the deadlock state must last */
#define MAX_ELEM 65535
#define HDR_BYTES ((sizeof(struct gort_chan) + 15) & ~(size_t)15)

/* ------------------------------------------------------------------ */
/* futex helpers                                                        */

static inline long futex(_Atomic uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts) {
#ifdef GORT_TSAN
    /* TSan defers a signal that arrives in a call it does not intercept (a
     * raw futex) to its next interceptor: the collector's stop signal would
     * wait forever for a sleeping thread. Sleep in slices, then pass through
     * an intercepted call. */
    struct timespec slice = {0, 1000000};
    if ((op & ~FUTEX_PRIVATE_FLAG) == FUTEX_WAIT && (ts == NULL || ts->tv_sec > 0 || ts->tv_nsec > slice.tv_nsec)) {
        long r = syscall(SYS_futex, (uint32_t *)uaddr, op | FUTEX_PRIVATE_FLAG, val, &slice, NULL, 0);
        usleep(1);
        return r;
    }
#endif
    return syscall(SYS_futex, (uint32_t *)uaddr, op | FUTEX_PRIVATE_FLAG, val, ts, NULL, 0);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* The channel lock: 0 free, 1 held, 2 held with sleepers (Drepper's). */
static void lock_slow(_Atomic uint32_t *l) {
    for (int i = 0; i < 200; i++) {
        cpu_relax();
        uint32_t z = 0;
        if (atomic_load_explicit(l, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(l, &z, 1, memory_order_acquire, memory_order_relaxed))
            return;
    }
    while (atomic_exchange_explicit(l, 2, memory_order_acquire) != 0) futex(l, FUTEX_WAIT, 2, NULL);
}
static inline void chan_lock(_Atomic uint32_t *l) {
    uint32_t z = 0;
    if (GORT_LIKELY(atomic_compare_exchange_strong_explicit(l, &z, 1, memory_order_acquire, memory_order_relaxed)))
        return;
    lock_slow(l);
}
static inline void chan_unlock(_Atomic uint32_t *l) {
    if (GORT_UNLIKELY(atomic_exchange_explicit(l, 0, memory_order_release) == 2)) futex(l, FUTEX_WAKE, 1, NULL);
}

/* ------------------------------------------------------------------ */
/* structures                                                           */

struct waiter {
    _Atomic uint32_t state;       /* 0 waiting, 1 woken, 2 asleep */
    _Atomic uint32_t select_done; /* a select's cases: won by the first partner */
    struct sudog *winner;         /* the completed sudog (written before state) */
};

typedef struct sudog {
    struct sudog *next, *prev;
    struct waiter *w;
    gort_chan *c;
    void *elem; /* the waiting thread's variable (NULL: a receive that drops) */
    bool is_select;
    bool success; /* true: completed by a partner; false: the channel closed */
} sudog;

typedef struct waitq {
    sudog *first, *last;
} waitq;

struct gort_chan {
    _Atomic uint32_t lock;
    _Atomic uint32_t closed;
    _Atomic size_t qcount; /* written under the lock; read without by len */
    size_t dataqsiz;       /* cap */
    size_t elemsize;
    size_t sendx, recvx;
    waitq recvq, sendq;
    unsigned char *buf; /* right after the header */
    bool manual;        /* gort_malloc memory: gort_chan_free frees it */
    bool scanned;       /* the collector scans the buffer: clear what leaves it */
};

static _Atomic int nblocked;
static _Atomic uint64_t progress;
static _Atomic int timers_pending;

/* ------------------------------------------------------------------ */
/* waiting                                                              */

static inline void register_thread(void) {
    if (GORT_UNLIKELY(gort__tls_gcself == NULL)) (void)gort__mcache_ensure();
}

static void wake(struct waiter *w) {
    atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
    if (atomic_exchange_explicit(&w->state, 1, memory_order_acq_rel) == 2) futex(&w->state, FUTEX_WAKE, 1, NULL);
}

static _Atomic int timer_thread_known; /* the timer thread has a cache: not counted */

static bool deadlock_suspect(void) {
    return atomic_load_explicit(&timers_pending, memory_order_acquire) == 0 &&
        atomic_load_explicit(&nblocked, memory_order_acquire) >=
        gort__gc_count_threads() - atomic_load_explicit(&timer_thread_known, memory_order_acquire);
}

static uint64_t mono_ns(void);

/* The spin adapts per thread (as glibc's adaptive mutex): doubled after a
 * spin that saw the wake-up, halved after one that did not. On a loaded
 * machine, where the partner is often not running, spinning only delays it. */
static __thread uint32_t spin_ns = 8000;

static void park(struct waiter *w) {
    uint64_t t0 = 0;
    uint32_t budget = spin_ns;
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(&w->state, memory_order_acquire) == 1) {
            spin_ns = budget * 2 > SPIN_MAX_NS ? SPIN_MAX_NS : budget * 2;
            return;
        }
        cpu_relax();
        if ((i & 15) == 0) {
            uint64_t t = mono_ns();
            if (t0 == 0) t0 = t;
            else if (t - t0 > budget) break;
        }
    }
    spin_ns = budget / 2 < SPIN_MIN_NS ? SPIN_MIN_NS : budget / 2;
    for (int y = 0; y < PARK_YIELDS; y++) {
        sched_yield();
        if (atomic_load_explicit(&w->state, memory_order_acquire) == 1) return;
    }
    atomic_fetch_add_explicit(&nblocked, 1, memory_order_acq_rel);
    uint32_t z = 0;
    if (atomic_compare_exchange_strong_explicit(&w->state, &z, 2, memory_order_acq_rel, memory_order_acquire)) {
        uint64_t since = 0, seen = 0; /* suspected since (0: not suspected), progress then */
        for (;;) {
            if (deadlock_suspect()) {
                uint64_t p = atomic_load_explicit(&progress, memory_order_relaxed), t = mono_ns();
                if (since == 0 || p != seen) {
                    since = t;
                    seen = p;
                } else if (t - since >= DEADLOCK_NS) {
                    gort__fatal("all goroutines are asleep - deadlock!");
                }
                struct timespec ts = {0, 30 * 1000 * 1000};
                futex(&w->state, FUTEX_WAIT, 2, &ts);
            } else {
                /* rechecked now and then: a thread that exits can leave the rest deadlocked */
                since = 0;
                struct timespec ts = {0, 250 * 1000 * 1000};
                futex(&w->state, FUTEX_WAIT, 2, &ts);
            }
            if (atomic_load_explicit(&w->state, memory_order_acquire) == 1) break;
        }
    }
    atomic_fetch_sub_explicit(&nblocked, 1, memory_order_acq_rel);
}

/* Blocks the thread forever (a nil channel, an empty select). */
static __attribute__((noreturn)) void block_forever(void) {
    struct waiter w;
    atomic_init(&w.state, 0);
    atomic_init(&w.select_done, 0);
    w.winner = NULL;
    for (;;) {
        park(&w);
        atomic_store_explicit(&w.state, 0, memory_order_relaxed);
    }
}

/* ------------------------------------------------------------------ */
/* queues                                                               */

static inline void enqueue(waitq *q, sudog *s) {
    s->next = NULL;
    s->prev = q->last;
    if (q->last) q->last->next = s;
    else q->first = s;
    q->last = s;
}

static inline void unlink_sg(waitq *q, sudog *s) {
    if (s->prev) s->prev->next = s->next;
    else if (q->first == s) q->first = s->next;
    else return; /* not on the queue (dequeued already) */
    if (s->next) s->next->prev = s->prev;
    else q->last = s->prev;
    s->next = s->prev = NULL;
}

/* The first sudog that can be completed (a select's sudog must win its
 * thread's select_done), or NULL. */
static sudog *dequeue(waitq *q) {
    for (;;) {
        sudog *s = q->first;
        if (!s) return NULL;
        q->first = s->next;
        if (q->first) q->first->prev = NULL;
        else q->last = NULL;
        s->next = s->prev = NULL;
        if (s->is_select) {
            uint32_t z = 0;
            if (!atomic_compare_exchange_strong_explicit(&s->w->select_done, &z, 1, memory_order_acq_rel,
                                                         memory_order_relaxed))
                continue;
        }
        return s;
    }
}

/* ------------------------------------------------------------------ */
/* element copies                                                       */

static inline void copy_elem(void *dst, const void *src, size_t n) {
    switch (n) {
    case 0: return;
    case 4: memcpy(dst, src, 4); return;
    case 8: memcpy(dst, src, 8); return;
    case 16: memcpy(dst, src, 16); return;
    default: memcpy(dst, src, n);
    }
}
static inline unsigned char *slot(gort_chan *c, size_t i) { return c->buf + i * c->elemsize; }

/* ------------------------------------------------------------------ */
/* make, free                                                           */

static gort_chan *make_chan(size_t elem_size, size_t cap, int scan) {
    if (elem_size > MAX_ELEM) gort__fatal("channel element type too large (>64kB)");
    size_t bytes;
    if (__builtin_mul_overflow(elem_size, cap, &bytes) || bytes > (size_t)PTRDIFF_MAX - HDR_BYTES ||
        bytes > ((size_t)1 << 47))
        gort__fatal("makechan: size out of range");
    size_t total = HDR_BYTES + bytes;
    gort_chan *c;
    bool manual = !gort__gc_in_use();
    if (manual) c = gort_malloc(total);
    else if (scan) c = gort_gc_alloc(total);
    else c = gort_gc_alloc_noscan(total);
    if (!c) gort__fatal("makechan: out of memory");
    memset(c, 0, HDR_BYTES);
    register_thread();
    c->dataqsiz = cap;
    c->elemsize = elem_size;
    c->buf = (unsigned char *)c + HDR_BYTES;
    c->manual = manual;
    c->scanned = !manual && scan;
    return c;
}

gort_chan *gort_chan_make(size_t elem_size, size_t cap) { return make_chan(elem_size, cap, 1); }

gort_chan *gort_chan_make_typed(const gort_type *t, size_t cap) {
    if (!t) gort__fatal("gort_chan_make_typed: NULL type");
    return make_chan(t->size, cap, t->ptrwords != 0);
}

void gort_chan_free(gort_chan *c) {
    if (c && c->manual) gort_free(c);
}

size_t gort_chan_len(const gort_chan *c) {
    return c ? atomic_load_explicit(&((gort_chan *)c)->qcount, memory_order_relaxed) : 0;
}
size_t gort_chan_cap(const gort_chan *c) { return c ? c->dataqsiz : 0; }

/* ------------------------------------------------------------------ */
/* send and receive (chansend, chanrecv)                                */

static inline void qcount_add(gort_chan *c, long d) {
    atomic_store_explicit(&c->qcount, atomic_load_explicit(&c->qcount, memory_order_relaxed) + (size_t)d,
                          memory_order_relaxed);
}

/* Completes a receiver's sudog with the element at src; lock held. */
static inline void send_direct(gort_chan *c, sudog *sg, const void *src) {
    if (sg->elem) copy_elem(sg->elem, src, c->elemsize);
    sg->success = true;
    sg->w->winner = sg;
}

/* A waiting sender sg: takes its element (from the buffer's head when the
 * channel is buffered, then moves the sender's element to the tail). */
static inline void recv_from_sender(gort_chan *c, sudog *sg, void *dst) {
    if (c->dataqsiz == 0) {
        if (dst) copy_elem(dst, sg->elem, c->elemsize);
    } else {
        unsigned char *q = slot(c, c->recvx);
        if (dst) copy_elem(dst, q, c->elemsize);
        copy_elem(q, sg->elem, c->elemsize);
        if (++c->recvx == c->dataqsiz) c->recvx = 0;
        c->sendx = c->recvx;
    }
    sg->success = true;
    sg->w->winner = sg;
}

static inline void buf_put(gort_chan *c, const void *src) {
    copy_elem(slot(c, c->sendx), src, c->elemsize);
    if (++c->sendx == c->dataqsiz) c->sendx = 0;
    qcount_add(c, 1);
}
static inline void buf_take(gort_chan *c, void *dst) {
    unsigned char *q = slot(c, c->recvx);
    if (dst) copy_elem(dst, q, c->elemsize);
    if (c->scanned) memset(q, 0, c->elemsize); /* what left the buffer no longer keeps its target alive */
    if (++c->recvx == c->dataqsiz) c->recvx = 0;
    qcount_add(c, -1);
}

static bool chansend(gort_chan *c, const void *elem, bool block) {
    if (GORT_UNLIKELY(c == NULL)) {
        if (!block) return false;
        register_thread();
        block_forever();
    }
    register_thread();
    chan_lock(&c->lock);
    if (GORT_UNLIKELY(atomic_load_explicit(&c->closed, memory_order_relaxed))) {
        chan_unlock(&c->lock);
        gort__fatal("send on closed channel");
    }
    sudog *sg = dequeue(&c->recvq);
    if (sg) {
        send_direct(c, sg, elem);
        chan_unlock(&c->lock);
        wake(sg->w);
        return true;
    }
    if (atomic_load_explicit(&c->qcount, memory_order_relaxed) < c->dataqsiz) {
        buf_put(c, elem);
        chan_unlock(&c->lock);
        return true;
    }
    if (!block) {
        chan_unlock(&c->lock);
        return false;
    }
    struct waiter w;
    atomic_init(&w.state, 0);
    atomic_init(&w.select_done, 0);
    w.winner = NULL;
    sudog me = {.w = &w, .c = c, .elem = (void *)elem};
    enqueue(&c->sendq, &me);
    chan_unlock(&c->lock);
    park(&w);
    if (!me.success) gort__fatal("send on closed channel");
    return true;
}

static bool chanrecv(gort_chan *c, void *elem, bool block, bool *ok) {
    if (GORT_UNLIKELY(c == NULL)) {
        if (!block) return false;
        register_thread();
        block_forever();
    }
    register_thread();
    chan_lock(&c->lock);
    sudog *sg = dequeue(&c->sendq);
    if (sg) {
        recv_from_sender(c, sg, elem);
        chan_unlock(&c->lock);
        wake(sg->w);
        *ok = true;
        return true;
    }
    if (atomic_load_explicit(&c->qcount, memory_order_relaxed) > 0) {
        buf_take(c, elem);
        chan_unlock(&c->lock);
        *ok = true;
        return true;
    }
    if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
        chan_unlock(&c->lock);
        if (elem) memset(elem, 0, c->elemsize);
        *ok = false;
        return true;
    }
    if (!block) {
        chan_unlock(&c->lock);
        return false;
    }
    struct waiter w;
    atomic_init(&w.state, 0);
    atomic_init(&w.select_done, 0);
    w.winner = NULL;
    sudog me = {.w = &w, .c = c, .elem = elem};
    enqueue(&c->recvq, &me);
    chan_unlock(&c->lock);
    park(&w);
    *ok = me.success;
    return true;
}

void gort_chan_send(gort_chan *c, const void *elem) { chansend(c, elem, true); }
bool gort_chan_try_send(gort_chan *c, const void *elem) { return chansend(c, elem, false); }
bool gort_chan_recv(gort_chan *c, void *elem) {
    bool ok = false;
    chanrecv(c, elem, true, &ok);
    return ok;
}
bool gort_chan_try_recv(gort_chan *c, void *elem, bool *ok) {
    bool k = false;
    bool got = chanrecv(c, elem, false, &k);
    if (ok) *ok = k;
    return got;
}

void gort_chan_close(gort_chan *c) {
    if (c == NULL) gort__fatal("close of nil channel");
    chan_lock(&c->lock);
    if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
        chan_unlock(&c->lock);
        gort__fatal("close of closed channel");
    }
    atomic_store_explicit(&c->closed, 1, memory_order_relaxed);
    /* Collect every waiter first (Go's glist), wake them after the unlock. */
    sudog *list = NULL, *sg;
    while ((sg = dequeue(&c->recvq)) != NULL) {
        if (sg->elem) memset(sg->elem, 0, c->elemsize);
        sg->success = false;
        sg->w->winner = sg;
        sg->next = list;
        list = sg;
    }
    while ((sg = dequeue(&c->sendq)) != NULL) {
        sg->success = false;
        sg->w->winner = sg;
        sg->next = list;
        list = sg;
    }
    chan_unlock(&c->lock);
    while (list) {
        sudog *next = list->next; /* read before the wake: the sudog dies with its frame */
        wake(list->w);
        list = next;
    }
}

/* ------------------------------------------------------------------ */
/* select (selectgo)                                                    */

static __thread uint64_t rand_state;
static inline uint32_t fastrand(void) {
    uint64_t x = rand_state;
    if (GORT_UNLIKELY(x == 0)) {
        x = (uint64_t)(uintptr_t)&rand_state ^ ((uint64_t)time(NULL) << 20) ^ 0x9E3779B97F4A7C15ull;
        if (x == 0) x = 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rand_state = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32);
}
/* uniform in [0, n) (Lemire's multiply-shift) */
static inline uint32_t fastrandn(uint32_t n) { return (uint32_t)(((uint64_t)fastrand() * n) >> 32); }

static void sellock(gort_select_case *cs, const uint32_t *lockorder, uint32_t n) {
    gort_chan *prev = NULL;
    for (uint32_t i = 0; i < n; i++) {
        gort_chan *c = cs[lockorder[i]].c;
        if (c != prev) chan_lock(&c->lock);
        prev = c;
    }
}
static void selunlock(gort_select_case *cs, const uint32_t *lockorder, uint32_t n) {
    for (uint32_t i = n; i-- > 0;) {
        gort_chan *c = cs[lockorder[i]].c;
        if (i > 0 && c == cs[lockorder[i - 1]].c) continue; /* unlock a channel once, at its first entry */
        chan_unlock(&c->lock);
    }
}

/* Sorts order[0..n) by channel address (heap sort, as Go's lockorder). */
static void sort_lockorder(gort_select_case *cs, uint32_t *o, uint32_t n) {
#define KEY(i) ((uintptr_t)cs[o[i]].c)
    for (uint32_t start = n / 2; start-- > 0;) {
        uint32_t r = start;
        for (;;) {
            uint32_t ch = 2 * r + 1;
            if (ch >= n) break;
            if (ch + 1 < n && KEY(ch) < KEY(ch + 1)) ch++;
            if (KEY(r) >= KEY(ch)) break;
            uint32_t t = o[r];
            o[r] = o[ch];
            o[ch] = t;
            r = ch;
        }
    }
    for (uint32_t end = n; end-- > 1;) {
        uint32_t t = o[0];
        o[0] = o[end];
        o[end] = t;
        uint32_t r = 0;
        for (;;) {
            uint32_t ch = 2 * r + 1;
            if (ch >= end) break;
            if (ch + 1 < end && KEY(ch) < KEY(ch + 1)) ch++;
            if (KEY(r) >= KEY(ch)) break;
            t = o[r];
            o[r] = o[ch];
            o[ch] = t;
            r = ch;
        }
    }
#undef KEY
}

/* Case sc of a select, its channel locked: 0 not ready; 1 done (*wakee:
 * a waiter to wake once the lock is released, or NULL); -1 a send on a
 * closed channel (fatal, once the lock is released). */
static int try_case_locked(gort_select_case *sc, struct waiter **wakee) {
    gort_chan *c = sc->c;
    if (sc->dir == GORT_SELECT_SEND) {
        if (atomic_load_explicit(&c->closed, memory_order_relaxed)) return -1;
        sudog *sg = dequeue(&c->recvq);
        if (sg) {
            send_direct(c, sg, sc->elem);
            *wakee = sg->w;
            return 1;
        }
        if (atomic_load_explicit(&c->qcount, memory_order_relaxed) < c->dataqsiz) {
            buf_put(c, sc->elem);
            return 1;
        }
        return 0;
    }
    if (sc->dir != GORT_SELECT_RECV)
        gort__fatal("select: a case's dir is neither GORT_SELECT_SEND nor GORT_SELECT_RECV");
    sudog *sg = dequeue(&c->sendq);
    if (sg) {
        recv_from_sender(c, sg, sc->elem);
        *wakee = sg->w;
        sc->ok = true;
        return 1;
    }
    if (atomic_load_explicit(&c->qcount, memory_order_relaxed) > 0) {
        buf_take(c, sc->elem);
        sc->ok = true;
        return 1;
    }
    if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
        if (sc->elem) memset(sc->elem, 0, c->elemsize);
        sc->ok = false;
        return 1;
    }
    return 0;
}

#define SEL_STACK 32

int gort_select(gort_select_case *cs, size_t ncases, bool block) {
    if (ncases > UINT32_MAX / 2) gort__fatal("select: too many cases");
    register_thread();
    uint32_t n = (uint32_t)ncases;
    uint32_t stack_orders[2 * SEL_STACK];
    sudog stack_sgs[SEL_STACK];
    uint32_t *orders = stack_orders;
    sudog *sgs = stack_sgs;
    void *heap = NULL;
    if (n > SEL_STACK) {
        heap = gort_malloc(n * (2 * sizeof(uint32_t) + sizeof(sudog)));
        if (!heap) gort__fatal("select: out of memory");
        sgs = heap;
        orders = (uint32_t *)(sgs + n);
    }
    uint32_t *pollorder = orders, *lockorder = orders + n;
    /* poll order: a random permutation of the cases with a channel */
    uint32_t np = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (cs[i].c == NULL) continue;
        uint32_t j = fastrandn(np + 1);
        pollorder[np] = pollorder[j];
        pollorder[j] = i;
        np++;
    }
    int chosen = -1;
    if (np == 0) {
        if (heap) gort_free(heap);
        if (!block) return -1;
        block_forever();
    }
    /* pass 0: buffered channels that look ready, one lock at a time, in
     * poll order, up to the first unbuffered case (whose readiness, a waiting
     * partner, only the lock shows): most selects on buffered channels end
     * here, without locking every channel and sorting them */
    for (uint32_t k = 0; k < np; k++) {
        uint32_t i = pollorder[k];
        gort_chan *c = cs[i].c;
        if (c->dataqsiz == 0 || (cs[i].dir != GORT_SELECT_SEND && cs[i].dir != GORT_SELECT_RECV)) break;
        size_t q = atomic_load_explicit(&c->qcount, memory_order_relaxed);
        bool hint = atomic_load_explicit(&c->closed, memory_order_relaxed) ||
            (cs[i].dir == GORT_SELECT_RECV ? q > 0 : q < c->dataqsiz);
        if (!hint) continue;
        struct waiter *wk = NULL;
        chan_lock(&c->lock);
        int r = try_case_locked(&cs[i], &wk);
        chan_unlock(&c->lock);
        if (r) {
            if (r < 0) gort__fatal("send on closed channel");
            if (wk) wake(wk);
            chosen = (int)i;
            goto done;
        }
    }
    memcpy(lockorder, pollorder, np * sizeof(uint32_t));
    sort_lockorder(cs, lockorder, np);
    sellock(cs, lockorder, np);

    /* pass 1: a ready case, in poll order */
    for (uint32_t k = 0; k < np; k++) {
        uint32_t i = pollorder[k];
        struct waiter *wk = NULL;
        int r = try_case_locked(&cs[i], &wk);
        if (r) {
            selunlock(cs, lockorder, np);
            if (r < 0) gort__fatal("send on closed channel");
            if (wk) wake(wk);
            chosen = (int)i;
            goto done;
        }
    }
    if (!block) {
        selunlock(cs, lockorder, np);
        goto done;
    }

    /* pass 2: queue a sudog on every channel, in lock order, and wait */
    {
        struct waiter w;
        atomic_init(&w.state, 0);
        atomic_init(&w.select_done, 0);
        w.winner = NULL;
        for (uint32_t k = 0; k < np; k++) {
            uint32_t i = lockorder[k];
            sudog *sg = &sgs[i];
            *sg = (sudog){.w = &w, .c = cs[i].c, .elem = cs[i].elem, .is_select = true};
            enqueue(cs[i].dir == GORT_SELECT_SEND ? &cs[i].c->sendq : &cs[i].c->recvq, sg);
        }
        selunlock(cs, lockorder, np);
        park(&w);
        /* pass 3: unlink the other sudogs */
        sellock(cs, lockorder, np);
        sudog *win = w.winner;
        for (uint32_t k = 0; k < np; k++) {
            uint32_t i = lockorder[k];
            sudog *sg = &sgs[i];
            if (sg == win) {
                chosen = (int)i;
                continue;
            }
            unlink_sg(cs[i].dir == GORT_SELECT_SEND ? &cs[i].c->sendq : &cs[i].c->recvq, sg);
        }
        selunlock(cs, lockorder, np);
        if (chosen < 0) gort__throw("select: woken without a case");
        if (cs[chosen].dir == GORT_SELECT_SEND) {
            if (!win->success) gort__fatal("send on closed channel");
        } else {
            cs[chosen].ok = win->success;
        }
    }
done:
    if (heap) gort_free(heap);
    return chosen;
}

/* ------------------------------------------------------------------ */
/* gort_after: one timer thread, a binary min-heap of deadlines         */

typedef struct timer {
    uint64_t when;
    gort_chan *c;
} timer;

static pthread_mutex_t tmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tcond;
static bool tstarted;
static timer *theap; /* a root when scanned (collected channels must stay alive) */
static size_t tlen, tcap;
static bool tscanned;

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void theap_down(size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < tlen && theap[l].when < theap[m].when) m = l;
        if (l + 1 < tlen && theap[l + 1].when < theap[m].when) m = l + 1;
        if (m == i) return;
        timer t = theap[i];
        theap[i] = theap[m];
        theap[m] = t;
        i = m;
    }
}

static void *timer_main(void *arg) {
    (void)arg;
    /* registered, so that the collector stops it while it touches channels;
     * not counted by the deadlock check */
    if (gort__mcache_ensure()) atomic_store_explicit(&timer_thread_known, 1, memory_order_release);
    gort__lock(&tmu, GORT_RANK_TIMER);
    for (;;) {
        if (tlen == 0) {
            pthread_cond_wait(&tcond, &tmu);
            continue;
        }
        uint64_t now = mono_ns();
        if (theap[0].when > now) {
            struct timespec ts = {(time_t)(theap[0].when / 1000000000ull), (long)(theap[0].when % 1000000000ull)};
            pthread_cond_timedwait(&tcond, &tmu, &ts);
            continue;
        }
        /* send while the entry still holds the channel (it stays a root) */
        gort_chan *c = theap[0].c;
        (void)chansend(c, &now, false);
        theap[0] = theap[--tlen];
        theap[tlen].c = NULL;
        theap_down(0);
        atomic_fetch_sub_explicit(&timers_pending, 1, memory_order_release);
    }
    return NULL;
}

/* fork (called by the thread caches' fork handler, so that the timer lock is
 * taken first, in rank order, before the allocator's: a timer thread holding
 * it may be allocating): the child has one thread, and no timer thread until
 * its next gort_after */
void gort__chan_fork_prepare(void) { gort__lock(&tmu, GORT_RANK_TIMER); }
void gort__chan_fork_parent(void) { gort__unlock(&tmu, GORT_RANK_TIMER); }
void gort__chan_fork_child(void) {
    atomic_store_explicit(&nblocked, 0, memory_order_relaxed);
    atomic_store_explicit(&timer_thread_known, 0, memory_order_relaxed);
    tstarted = false;
    pthread_mutex_init(&tmu, NULL);
    gort__lockrank_forget(GORT_RANK_TIMER);
}

gort_chan *gort_after(uint64_t ns) {
    gort_chan *c = gort_chan_make(sizeof(uint64_t), 1);
    uint64_t when = mono_ns();
    when = ns > UINT64_MAX - when ? UINT64_MAX : when + ns;
    bool gc = gort__gc_in_use();
    gort__lock(&tmu, GORT_RANK_TIMER);
    if (!tstarted) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&tcond, &ca);
        pthread_condattr_destroy(&ca);
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &a, timer_main, NULL) != 0) gort__fatal("gort_after: cannot start the timer thread");
        pthread_attr_destroy(&a);
        tstarted = true;
    }
    if (tlen == tcap || (gc && !tscanned)) {
        size_t ncap = tcap ? (tlen == tcap ? 2 * tcap : tcap) : 16;
        timer *nh = gc ? gort_malloc_scanned(ncap * sizeof(timer)) : gort_malloc(ncap * sizeof(timer));
        if (!nh) gort__fatal("gort_after: out of memory");
        if (tlen) memcpy(nh, theap, tlen * sizeof(timer));
        timer *old = theap;
        theap = nh;
        tcap = ncap;
        tscanned = gc;
        if (old) gort_free(old);
    }
    size_t i = tlen++;
    theap[i] = (timer){when, c};
    while (i > 0 && theap[(i - 1) / 2].when > theap[i].when) {
        timer t = theap[i];
        theap[i] = theap[(i - 1) / 2];
        theap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
    atomic_fetch_add_explicit(&timers_pending, 1, memory_order_release);
    if (i == 0) pthread_cond_signal(&tcond);
    gort__unlock(&tmu, GORT_RANK_TIMER);
    return c;
}
