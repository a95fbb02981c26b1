/*
 * test_gc_concurrent: what concurrent marking must survive, while a second thread keeps
 * cycles running back to back (so that marking is under way most of the time). Run with
 * GORT_GCCHECKMARK=1 (tests/run.sh), every cycle's marks are checked against a full
 * re-mark: a reachable object the concurrent mark missed aborts the test.
 *   1. moving references: the only reference to each of 64 objects keeps moving between
 *      slots of collected heap objects, globals and this thread's stack (the pattern that
 *      loses an object under a collector without a write barrier: a pointer read from a
 *      not-yet-scanned object, stored into a scanned one, and cleared where it was)
 *   2. a system call writes into the heap: read(2) from a pipe stores an object's address
 *      into a collected object (the kernel's write, not the program's); the global that
 *      kept the object until then is cleared at once, so the heap copy is the only one
 *   3. pages the scavenger gave back (gort_release_memory, MADV_DONTNEED) reused by new
 *      objects linked into old ones while cycles run
 *   4. fork while cycles run: the child collects on its own (with its own tracking) and
 *      keeps its objects; the parent's tracking is not disturbed (its checks go on after)
 * tests/run.sh runs it with GORT_GCBARRIER=uffd (every cycle concurrent; the default marks
 * concurrently only big heaps), and also with the default and with none (stop-the-world),
 * where the same checks run; the test says which mode it saw.
 */
#include <errno.h>
#include <sched.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gort.h>
#include "check.h"
#include "gc_check.h"

#define NOINLINE __attribute__((noinline))

typedef struct Obj {
    struct Obj *next;
    uint64_t stamp, id;
} Obj;
GORT_TYPE(Obj, next);

/* a holder: 16 pointer slots */
typedef struct Holder {
    void *slot[16];
} Holder;
GORT_TYPE(Holder, slot);

static _Atomic int g_stop;
static _Atomic uint64_t g_cycles;
static void *collector(void *arg) {
    (void)arg;
    while (!atomic_load(&g_stop)) {
        gort_gc();
        atomic_fetch_add(&g_cycles, 1);
    }
    return NULL;
}

static uint64_t stamp_of(uint64_t id) { return id * 0x9e3779b97f4a7c15ull ^ 0x5bd1e995; }
static Obj *make_obj(uint64_t id) {
    Obj *o = gort_new(Obj);
    CHECK(o);
    o->id = id;
    o->stamp = stamp_of(id);
    return o;
}
static void check_obj(const Obj *o, uint64_t id) {
    if (!o || o->id != id || o->stamp != stamp_of(id)) {
        fprintf(stderr, "object %llu lost or overwritten (%p)\n", (unsigned long long)id, (const void *)o);
        exit(1);
    }
}

/* Garbage, to keep the heap's pages changing and the pacer's assists busy. */
static void churn(uint64_t *s, int n) {
    for (int i = 0; i < n; i++) {
        Obj *o = make_obj(rng_next(s));
        o->next = gort_new(Obj);
    }
}

/* ---- 1. moving references ---- */
enum { NOBJ = 64, NHOLD = 32 };
static Holder **g_hold;             /* NHOLD holders, in a scanned block */
static void *volatile g_glob[NOBJ]; /* global slots */
static gort_weak *g_weak[NOBJ];
/* where object i's only reference is: 0 stack, 1 global, 2 heap (holder h, slot k) */
static int where[NOBJ], hold_h[NOBJ], hold_k[NOBJ];

NOINLINE static void moving(uint64_t *s, long moves) {
    void *volatile stack[NOBJ];
    for (int i = 0; i < NOBJ; i++) {
        stack[i] = make_obj((uint64_t)i);
        g_weak[i] = gort_weak_make(stack[i]);
        where[i] = 0;
    }
    for (long m = 0; m < moves; m++) {
        int i = (int)(rng_next(s) % NOBJ);
        void *p;
        /* take it from where it is */
        switch (where[i]) {
        case 0: p = stack[i]; break;
        case 1: p = g_glob[i]; break;
        default: p = g_hold[hold_h[i]]->slot[hold_k[i]]; break;
        }
        check_obj(p, (uint64_t)i);
        /* store it somewhere else, then clear the old place */
        int to = (int)(rng_next(s) % 3), h = 0, k = 0;
        if (to == 2) {
            do {
                h = (int)(rng_next(s) % NHOLD);
                k = (int)(rng_next(s) % 16);
            } while (g_hold[h]->slot[k]);
            g_hold[h]->slot[k] = p;
        } else if (to == 1) {
            g_glob[i] = p;
        } else {
            stack[i] = p;
        }
        switch (where[i]) {
        case 0: stack[i] = to == 0 ? p : NULL; break;
        case 1: g_glob[i] = to == 1 ? p : NULL; break;
        default:
            if (!(to == 2 && h == hold_h[i] && k == hold_k[i])) g_hold[hold_h[i]]->slot[hold_k[i]] = NULL;
            break;
        }
        where[i] = to;
        hold_h[i] = h;
        hold_k[i] = k;
        p = NULL;
        if (m % 64 == 0) churn(s, 32);
        /* now and then a holder is replaced by a copy: its old object dies */
        if (m % 1000 == 999) {
            int r = (int)(rng_next(s) % NHOLD);
            Holder *n = gort_new(Holder);
            CHECK(n);
            memcpy(n->slot, g_hold[r]->slot, sizeof n->slot);
            g_hold[r] = n;
        }
    }
    for (int i = 0; i < NOBJ; i++) {
        CHECK(weak_live(g_weak[i]));
        void *p = where[i] == 0 ? stack[i] : where[i] == 1 ? g_glob[i] : g_hold[hold_h[i]]->slot[hold_k[i]];
        check_obj(p, (uint64_t)i);
    }
    /* dropped everywhere: freed */
    for (int i = 0; i < NOBJ; i++) {
        stack[i] = NULL;
        g_glob[i] = NULL;
    }
    for (int h = 0; h < NHOLD; h++) memset(g_hold[h]->slot, 0, sizeof g_hold[h]->slot);
}
NOINLINE static void moving_check_freed(void) {
    gc_clean(3);
    int alive = 0;
    for (int i = 0; i < NOBJ; i++) alive += weak_live(g_weak[i]);
    CHECK_EQ(alive, 0);
}

/* ---- 2. read(2) into the heap ---- */
static void *volatile g_keep;
NOINLINE static void syscall_writes(uint64_t *s, int rounds) {
    int fd[2];
    CHECK(pipe(fd) == 0);
    Holder *h = gort_new(Holder); /* the only place the address will be */
    CHECK(h);
    for (int r = 0; r < rounds; r++) {
        uint64_t id = 1000000 + (uint64_t)r;
        Obj *o = make_obj(id);
        gort_weak *w = gort_weak_make(o);
        g_keep = o;
        uintptr_t addr = (uintptr_t)o;
        CHECK(write(fd[1], &addr, sizeof addr) == (ssize_t)sizeof addr);
        o = NULL;
        addr = 0;
        clobber_stack();
        churn(s, 256); /* a cycle runs meanwhile: h is scanned */
        usleep(200);
        h->slot[r % 16] = NULL;
        ssize_t n = read(fd[0], &h->slot[r % 16], sizeof(void *));
        g_keep = NULL;
        if (n != (ssize_t)sizeof(void *)) {
            fprintf(stderr, "read into a heap object: %zd (%s)\n", n, strerror(errno));
            exit(1);
        }
        clobber_stack();
        churn(s, 256);
        usleep(200);
        CHECK(weak_live(w));
        check_obj(h->slot[r % 16], id);
    }
    close(fd[0]);
    close(fd[1]);
}

/* ---- 3. released pages reused ---- */
NOINLINE static void released_reuse(uint64_t *s, int rounds) {
    Holder *root = gort_new(Holder);
    CHECK(root);
    for (int r = 0; r < rounds; r++) {
        churn(s, 20000);               /* garbage over many pages */
        gort_gc();                     /* freed, its spans empty */
        gort_release_memory();         /* and their pages given back */
        for (int k = 0; k < 16; k++) { /* new objects in those pages, linked into an old one */
            Obj *head = NULL;
            for (int j = 0; j < 200; j++) {
                Obj *o = make_obj(((uint64_t)r << 32) | ((uint64_t)k << 16) | (uint64_t)j);
                o->next = head;
                head = o;
            }
            root->slot[k] = head;
        }
        churn(s, 2000);
        for (int k = 0; k < 16; k++) {
            Obj *o = root->slot[k];
            for (int j = 199; j >= 0; j--, o = o->next)
                check_obj(o, ((uint64_t)r << 32) | ((uint64_t)k << 16) | (uint64_t)j);
            CHECK(o == NULL);
        }
    }
}

/* ---- 4. fork ---- */
NOINLINE static void child_work(void) {
    uint64_t s = 42;
    Holder *h = gort_new(Holder);
    for (int k = 0; k < 16; k++) h->slot[k] = make_obj((uint64_t)k);
    for (int r = 0; r < 20; r++) {
        churn(&s, 2000);
        gort_gc();
    }
    for (int k = 0; k < 16; k++) check_obj(h->slot[k], (uint64_t)k);
    gort_gc_stats_t st;
    gort_gc_stats(&st);
    CHECK(st.num_gc >= 20);
}
NOINLINE static void forks(uint64_t *s, int n) {
    Holder *h = gort_new(Holder);
    CHECK(h);
    for (int k = 0; k < 16; k++) h->slot[k] = make_obj(5000000 + (uint64_t)k);
    for (int i = 0; i < n; i++) {
        churn(s, 500);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            child_work();
            _exit(0);
        }
        churn(s, 2000);
        int status = 0;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        for (int k = 0; k < 16; k++) check_obj(h->slot[k], 5000000 + (uint64_t)k);
    }
}

int main(void) {
    uint64_t s = test_seed();
    double scale = test_scale();
    g_hold = gort_malloc_scanned(NHOLD * sizeof *g_hold);
    CHECK(g_hold);
    for (int h = 0; h < NHOLD; h++) {
        g_hold[h] = gort_new(Holder);
        CHECK(g_hold[h]);
    }
    pthread_t t;
    CHECK(pthread_create(&t, NULL, collector, NULL) == 0);
    moving(&s, (long)(200000 * scale));
    printf("moving references: ok\n");
    gort_gc_stats_t st;
    gort_gc_stats(&st);
    printf("marking: %s\n", st.concurrent ? "concurrent" : "stop-the-world");
    const char *barrier = getenv("GORT_GCBARRIER");
    if (barrier && strcmp(barrier, "none") == 0) CHECK_EQ(st.concurrent, 0);
    syscall_writes(&s, (int)(200 * scale) + 10);
    printf("read(2) into the heap: ok\n");
    released_reuse(&s, (int)(10 * scale) + 2);
    printf("released pages reused: ok\n");
    forks(&s, (int)(10 * scale) + 2);
    printf("fork while marking: ok\n");

    atomic_store(&g_stop, 1);
    CHECK(pthread_join(t, NULL) == 0);
    moving_check_freed();
    printf("cycles meanwhile: %llu\n", (unsigned long long)atomic_load(&g_cycles));
    CHECK(atomic_load(&g_cycles) >= 20);
    printf("test_gc_concurrent: ok\n");
    return 0;
}
