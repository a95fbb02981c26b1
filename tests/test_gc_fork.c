/*
 * test_gc_fork: fork in a program that uses the collector. The parent keeps a live
 * structure (a global list) while two mutator threads allocate and link lists and a third
 * calls gort_gc() in a loop; the main thread forks repeatedly. Each child (a 30 s alarm
 * turns a deadlock into a failure) verifies the inherited list, allocates, collects many
 * times (its markers start anew), verifies again, runs a thread that allocates and
 * collects, checks that a finalizer runs (the finalizer thread starts anew) and a weak
 * reference clears, checks the heap and exits 0. The parent checks every child's status
 * and keeps verifying its own structures, which the children's collections must not
 * disturb.
 * Not run under TSan (TSan does not support threads after a multi-threaded fork).
 * GORT_TEST_RELEASE_ONLY: nor under ASan, whose own allocator (GCC 12's libasan) is not
 * fork-safe: a child creating a thread (pthread_getattr_np calls calloc) hung on an ASan
 * allocator lock that a parent thread held at the fork, 1 run in 10 of test_fork.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <gort.h>
#include "check.h"
#include "gc_check.h"
/* a forked child leaves only by _exit or a signal, never by exit(): build_list aborts
 * when an allocation fails */
#define GC_LIST_CHECK_ALLOC(p) \
    do {                       \
        if (!(p)) abort();     \
    } while (0)
#include "gc_list.h"

#define NOINLINE __attribute__((noinline))

enum { LIVE_N = 20000, SLOTS = 32, SLOT_N = 50 };
static Node *g_live;
static Node *_Atomic g_slots[2][SLOTS]; /* each mutator's lists, ids base + slot */
static _Atomic uint64_t g_slot_base[2][SLOTS];
static atomic_int g_stop;
static atomic_long g_bad;

static void *mutator(void *arg) {
    int me = (int)(uintptr_t)arg;
    uint64_t s = g_seed ^ (0x1234567ULL * (uint64_t)(me + 1));
    while (!atomic_load(&g_stop)) {
        int k = (int)(rng_next(&s) % SLOTS);
        Node *old = atomic_load(&g_slots[me][k]);
        if (old && !list_ok(old, SLOT_N, atomic_load(&g_slot_base[me][k]))) {
            fprintf(stderr, "parent mutator %d: list %d corrupted\n", me, k);
            atomic_fetch_add(&g_bad, 1);
        }
        uint64_t base = rng_next(&s) >> 20;
        Node *h = build_list(SLOT_N, base);
        atomic_store(&g_slot_base[me][k], base);
        atomic_store(&g_slots[me][k], h);
    }
    return NULL;
}
static void *collector(void *arg) {
    while (!atomic_load(&g_stop)) {
        gort_gc();
        usleep(1000);
    }
    return NULL;
}

/* ---- the child ---- */
static atomic_int c_fin_runs;
static gort_weak *c_weak;
static void c_fin(void *obj, void *arg) {
    if (list_ok(obj, 10, 777)) atomic_fetch_add(&c_fin_runs, 1);
}
NOINLINE static void c_make_finalized(void) {
    Node *o = build_list(10, 777);
    gort_set_finalizer(o, c_fin, NULL);
    c_weak = gort_weak_make(o);
}
static void *c_thread(void *arg) {
    for (int i = 0; i < 20; i++) {
        Node *h = build_list(100, 5000 + (uint64_t)i);
        gort_gc();
        if (!list_ok(h, 100, 5000 + (uint64_t)i)) return (void *)1;
    }
    return NULL;
}
static void child(uint64_t s) {
    alarm(30);
    if (!list_ok(g_live, LIVE_N, 1)) _exit(10);
    Node *mine = build_list(5000, 100000);
    for (int i = 0; i < 10; i++) {
        build_list(2000, rng_next(&s)); /* garbage */
        gort_gc();
        if (!list_ok(g_live, LIVE_N, 1)) _exit(11);
        if (!list_ok(mine, 5000, 100000)) _exit(12);
    }
    pthread_t t;
    if (pthread_create(&t, NULL, c_thread, NULL) != 0) _exit(13);
    void *ret = NULL;
    pthread_join(t, &ret);
    if (ret) _exit(14);
    c_make_finalized();
    clobber_stack();
    for (int i = 0; i < 2000 && atomic_load(&c_fin_runs) == 0; i++) {
        gort_gc();
        usleep(1000);
    }
    if (atomic_load(&c_fin_runs) != 1) _exit(15);
    if (gort_weak_get(c_weak)) _exit(16);
    gort_check_heap();
    if (!list_ok(g_live, LIVE_N, 1) || !list_ok(mine, 5000, 100000)) _exit(17);
    _exit(0);
}

int main(void) {
    g_seed = test_seed();
    uint64_t s = g_seed;
    g_live = build_list(LIVE_N, 1);
    pthread_t t[3];
    CHECK(pthread_create(&t[0], NULL, mutator, (void *)0) == 0);
    CHECK(pthread_create(&t[1], NULL, mutator, (void *)1) == 0);
    CHECK(pthread_create(&t[2], NULL, collector, NULL) == 0);
    int nforks = (int)(40 * test_scale()) + 5, failures = 0;
    for (int i = 0; i < nforks; i++) {
        usleep(5000);
        uint64_t cs = rng_next(&s);
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) child(cs);
        int st = 0;
        CHECK(waitpid(pid, &st, 0) == pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "child %d: %s %d%s (seed %llu)\n", i, WIFEXITED(st) ? "exit" : "signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                    WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? " -- deadlock after fork?" : "",
                    (unsigned long long)g_seed);
            if (++failures > 3) break;
        }
        CHECK(list_ok(g_live, LIVE_N, 1));
    }
    atomic_store(&g_stop, 1);
    for (int i = 0; i < 3; i++) CHECK(pthread_join(t[i], NULL) == 0);
    gort_gc();
    CHECK(list_ok(g_live, LIVE_N, 1));
    for (int me = 0; me < 2; me++)
        for (int k = 0; k < SLOTS; k++)
            if (g_slots[me][k]) CHECK(list_ok(g_slots[me][k], SLOT_N, g_slot_base[me][k]));
    CHECK_EQ(atomic_load(&g_bad), 0);
    gort_check_heap();
    if (failures) {
        fprintf(stderr, "test_gc_fork: %d of %d children failed\n", failures, nforks);
        return 1;
    }
    printf("test_gc_fork: ok, %d forks\n", nforks);
    return 0;
}
