/*
 * test_fork: fork while other threads allocate. Worker threads churn (private churn plus
 * cross-thread frees through a mutex ring) while the main thread, and sometimes a worker,
 * forks. Each child (with a 20 s alarm, so a lock held across fork shows up as a failure
 * rather than a hang) allocates and frees across all size classes, creates a thread that
 * allocates too, calls gort_check_heap(), and exits 0. The parent checks every child's
 * status, then stops its workers and checks its own heap.
 * Not run under TSan (TSan does not support threads after a multi-threaded fork).
 * GORT_TEST_RELEASE_ONLY: nor under ASan, whose own allocator (GCC 12's libasan) is not
 * fork-safe: a child creating a thread (pthread_getattr_np calls calloc) hung on an ASan
 * allocator lock that a parent thread held at the fork, 1 run in 10 of test_fork.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <gort.h>
#include "check.h"

static uint64_t g_seed;
static _Atomic int stop;
static _Atomic long child_failures, forks_done;

enum { RING = 256 };
static pthread_mutex_t ring_mu = PTHREAD_MUTEX_INITIALIZER;
static void *ring[RING];
static size_t ring_n;

static void child_work(uint64_t s) {
    alarm(20);
    /* allocate in every size range, verify, free */
    enum { N = 300 };
    unsigned char *p[N];
    size_t n[N];
    for (int i = 0; i < N; i++) {
        n[i] = i < 290 ? 1 + rng_next(&s) % 33000 : 1 + rng_next(&s) % (4 << 20);
        p[i] = gort_malloc(n[i]);
        if (!p[i]) _exit(10);
        for (size_t j = 0; j < n[i]; j += 61) p[i][j] = (unsigned char)(i & 0xff);
    }
    for (int i = 0; i < N; i++) {
        for (size_t j = 0; j < n[i]; j += 61)
            if (p[i][j] != (i & 0xff)) _exit(11);
        gort_free(p[i]);
    }
    gort_check_heap();
    _exit(0);
}

static void *child_thread(void *arg) {
    for (int i = 0; i < 1000; i++) {
        void *q = gort_malloc(1 + (size_t)i * 37 % 5000);
        if (!q) return (void *)1;
        memset(q, 1, 1);
        gort_free(q);
    }
    return NULL;
}

/* Forks; the child does child_work plus a thread; the parent waits for it. */
static void fork_once(uint64_t s, int from_worker) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        alarm(20);
        /* objects inherited from the parent (in the ring) are freeable in the child too */
        if (pthread_mutex_trylock(&ring_mu) == 0) {
            for (size_t i = 0; i < ring_n; i++) gort_free(ring[i]);
            ring_n = 0;
            pthread_mutex_unlock(&ring_mu);
        }
        pthread_t t;
        if (pthread_create(&t, NULL, child_thread, NULL) != 0) _exit(12);
        void *ret = NULL;
        pthread_join(t, &ret);
        if (ret) _exit(13);
        child_work(s);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    atomic_fetch_add(&forks_done, 1);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "test_fork: child of %s: %s %d (seed %llu)%s\n", from_worker ? "a worker" : "main",
                WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                (unsigned long long)g_seed,
                WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? " -- deadlock after fork?" : "");
        atomic_fetch_add(&child_failures, 1);
    }
}

static void *worker(void *arg) {
    int me = (int)(uintptr_t)arg;
    uint64_t s = g_seed ^ ((uint64_t)me * 0x5DEECE66DULL);
    enum { SLOTS = 256 };
    unsigned char *slot[SLOTS] = {0};
    size_t sz[SLOTS] = {0};
    long iter = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        int k = (int)(rng_next(&s) % SLOTS);
        if (slot[k]) {
            if (slot[k][0] != (unsigned char)k || slot[k][sz[k] - 1] != (unsigned char)k) {
                fprintf(stderr, "worker %d: object corrupted (seed %llu)\n", me, (unsigned long long)g_seed);
                abort();
            }
            if (rng_next(&s) % 4 == 0) { /* hand to the ring: someone else frees it */
                pthread_mutex_lock(&ring_mu);
                if (ring_n < RING) {
                    ring[ring_n++] = slot[k];
                    slot[k] = NULL;
                } else {
                    for (size_t i = 0; i < ring_n; i++) gort_free(ring[i]);
                    ring_n = 0;
                }
                pthread_mutex_unlock(&ring_mu);
            }
            if (slot[k]) gort_free(slot[k]);
            slot[k] = NULL;
        }
        size_t n = 1 + (rng_next(&s) % 8 == 0 ? rng_next(&s) % 300000 : rng_next(&s) % 2000);
        slot[k] = gort_malloc(n);
        CHECK(slot[k]);
        sz[k] = n;
        memset(slot[k], k, n < 64 ? n : 64);
        slot[k][n - 1] = (unsigned char)k;
        /* worker 0 forks now and then, from inside a busy thread */
        if (me == 0 && ++iter % 50000 == 0 && atomic_load(&forks_done) < 1000) fork_once(s, 1);
    }
    for (int i = 0; i < SLOTS; i++) gort_free(slot[i]);
    return NULL;
}

int main(void) {
    g_seed = test_seed();
    uint64_t s = g_seed;
    double sc = test_scale();
    enum { W = 3 };
    pthread_t t[W];
    for (int i = 0; i < W; i++) CHECK(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i) == 0);
    int nforks = (int)(100 * sc) + 10;
    for (int i = 0; i < nforks; i++) {
        usleep(2000);
        fork_once(rng_next(&s), 0);
        if (atomic_load(&child_failures) > 5) break;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < W; i++) pthread_join(t[i], NULL);
    for (size_t i = 0; i < ring_n; i++) gort_free(ring[i]);
    ring_n = 0;
    gort_check_heap(); /* aborts on an inconsistency; the heap may be empty by now */
    long fails = atomic_load(&child_failures);
    if (fails) {
        fprintf(stderr, "test_fork: %ld of %ld children failed\n", fails, atomic_load(&forks_done));
        return 1;
    }
    printf("test_fork: ok, %ld forks\n", atomic_load(&forks_done));
    return 0;
}
