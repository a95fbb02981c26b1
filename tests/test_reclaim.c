/*
 * test_reclaim: memory freed into the spans of a thread that has stopped allocating.
 *
 * 1. A thread allocates 128 MiB of small objects, hands them to another thread and
 *    blocks in read(2). The other thread frees every object: the frees wait on the idle
 *    owner's spans. gort_release_memory() must ask the owner to take them (a signal whose
 *    handler flushes the cache on the owner's own thread), so that the spans go back to
 *    the heap and their pages to the OS: heap_inuse and the resident set drop. The
 *    owner's read must not fail with EINTR, and its cache must work after. Then the
 *    same without the call: the scavenger thread asks the owner within seconds.
 * 2. Stress: threads allocate, write, verify and free objects of many sizes, freeing
 *    some themselves and handing others to a neighbour, while another thread calls
 *    gort_release_memory() in a loop. A flush at an unsafe point would corrupt a
 *    cache; contents are verified and the heap is checked at the end.
 * GORT_TEST_TSAN: also run in the TSan build (scaled down), where part 1 is skipped:
 * under TSan no point is safe for the flush (its runtime is called on every access),
 * so the owner flushes at its next refill instead.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <gort.h>
#include "check.h"

/* ---- 1. an idle owner ---- */

enum { OBJ = 64 };
static size_t nobj;
static void **objs;
static int wake_pipe[2];
static atomic_int owner_ready, owner_result = -100;

static void *owner_main(void *arg) {
    (void)arg;
    for (size_t i = 0; i < nobj; i++) {
        objs[i] = gort_malloc(OBJ);
        CHECK(objs[i]);
        memset(objs[i], (int)(i & 0xff), OBJ);
    }
    atomic_store(&owner_ready, 1);
    char c;
    ssize_t r = read(wake_pipe[0], &c, 1); /* blocks until the main thread writes */
    atomic_store(&owner_result, r == 1 ? 0 : errno);
    /* the cache still works */
    for (int k = 0; k < 10000; k++) {
        unsigned char *p = gort_malloc(OBJ);
        CHECK(p);
        memset(p, 0x5a, OBJ);
        CHECK(p[OBJ - 1] == 0x5a);
        gort_free(p);
    }
    return NULL;
}

static void *freer_main(void *arg) {
    (void)arg;
    for (size_t i = 0; i < nobj; i++) {
        CHECK(((unsigned char *)objs[i])[OBJ - 1] == (unsigned char)(i & 0xff));
        gort_free(objs[i]);
    }
    return NULL;
}

/* Starts an owner that fills objs and blocks in read(2), then frees every object
 * from another thread: the frees wait on the idle owner's spans. */
static __attribute__((unused)) pthread_t start_idle_owner(void) {
    atomic_store(&owner_ready, 0);
    atomic_store(&owner_result, -100);
    CHECK(pipe(wake_pipe) == 0);
    pthread_t owner, freer;
    CHECK(pthread_create(&owner, NULL, owner_main, NULL) == 0);
    while (!atomic_load(&owner_ready)) usleep(1000);
    usleep(20000); /* the owner is in read(2) */
    CHECK(pthread_create(&freer, NULL, freer_main, NULL) == 0);
    CHECK(pthread_join(freer, NULL) == 0);
    return owner;
}

/* Wakes the owner; its read(2) must not have failed with EINTR. */
static __attribute__((unused)) void finish_idle_owner(pthread_t owner) {
    CHECK(write(wake_pipe[1], "x", 1) == 1);
    CHECK(pthread_join(owner, NULL) == 0);
    CHECK_EQ(atomic_load(&owner_result), 0);
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    gort_check_heap();
}

static __attribute__((unused)) void idle_owner(void) {
    nobj = ((size_t)128 << 20) / OBJ;
    objs = gort_malloc(nobj * sizeof *objs);
    CHECK(objs);
    /* 128 MiB is held by the idle owner's spans; almost all of it goes back (what
     * stays is mostly the 16 MiB array of pointers) */
    const uint64_t held = (uint64_t)120 << 20, left = nobj * sizeof *objs + ((uint64_t)8 << 20);

    pthread_t owner = start_idle_owner();
    gort_stats_t st;
    gort_stats(&st);
    long rss_before = test_rss_kib();
    uint64_t inuse_before = st.heap_inuse;
    size_t released = gort_release_memory();
    gort_stats(&st);
    long rss_after = test_rss_kib();
    printf("idle owner: heap_inuse %llu -> %llu KiB, RSS %ld -> %ld KiB, released %zu KiB\n",
           (unsigned long long)(inuse_before >> 10), (unsigned long long)(st.heap_inuse >> 10), rss_before, rss_after,
           released >> 10);
    CHECK(inuse_before > held);
    CHECK(st.heap_inuse < left);
    CHECK(rss_before - rss_after > 100 * 1024);
    finish_idle_owner(owner);

    /* Again, with nobody calling gort_release_memory: the scavenger thread (the API
     * library's, started by the large frees of the first round) asks the idle owner
     * once its notices have waited a period. */
    owner = start_idle_owner();
    gort_stats(&st);
    inuse_before = st.heap_inuse;
    int waited = 0;
    for (; waited < 5000; waited += 10) {
        gort_stats(&st);
        if (st.heap_inuse < left) break;
        usleep(10000);
    }
    printf("idle owner, scavenger: heap_inuse %llu -> %llu KiB after %d ms\n", (unsigned long long)(inuse_before >> 10),
           (unsigned long long)(st.heap_inuse >> 10), waited);
    CHECK(inuse_before > held);
    CHECK(st.heap_inuse < left);
    finish_idle_owner(owner);
    gort_free(objs);
    gort_check_heap();
}

/* ---- 2. stress ---- */

enum { NT = 3, SLOTS = 2048 };
typedef struct {
    _Atomic(uint64_t *) box[SLOTS]; /* objects handed to this thread: word 0 = size, then a pattern */
} inbox;
static inbox boxes[NT];
static atomic_int stop_trim;
static long rounds;

static uint64_t *make_obj(uint64_t *rng) {
    static const size_t sizes[] = {16, 24, 48, 64, 128, 256, 512, 1024, 3072, 8192, 20000, 70000};
    size_t n = sizes[rng_next(rng) % (sizeof sizes / sizeof sizes[0])];
    uint64_t *p = gort_malloc(n);
    CHECK(p);
    p[0] = n;
    for (size_t k = 1; k < n / 8; k++) p[k] = (uint64_t)(uintptr_t)p ^ k;
    return p;
}
static void check_obj(uint64_t *p) {
    size_t n = p[0];
    for (size_t k = 1; k < n / 8; k++) CHECK(p[k] == ((uint64_t)(uintptr_t)p ^ k));
}

static void *stress_main(void *arg) {
    int me = (int)(intptr_t)arg;
    uint64_t rng = test_seed() + (uint64_t)me * 0x9e3779b97f4a7c15ull;
    enum { LOCAL = 256 };
    uint64_t *local[LOCAL] = {0};
    for (long r = 0; r < rounds; r++) {
        unsigned i = (unsigned)(rng_next(&rng) % LOCAL);
        if (local[i]) {
            check_obj(local[i]);
            if (rng_next(&rng) & 1) {
                gort_free(local[i]);
            } else { /* hand it to the neighbour, freeing what was in that slot */
                unsigned j = (unsigned)(rng_next(&rng) % SLOTS);
                uint64_t *old = atomic_exchange(&boxes[(me + 1) % NT].box[j], local[i]);
                if (old) {
                    check_obj(old);
                    gort_free(old);
                }
            }
        }
        local[i] = make_obj(&rng);
        /* take objects handed to this thread */
        unsigned j = (unsigned)(rng_next(&rng) % SLOTS);
        uint64_t *got = atomic_exchange(&boxes[me].box[j], NULL);
        if (got) {
            check_obj(got);
            gort_free(got);
        }
        if ((r & 1023) == 0) usleep(50); /* idle for a moment now and then */
    }
    for (unsigned i = 0; i < LOCAL; i++)
        if (local[i]) gort_free(local[i]);
    return NULL;
}

static void *trimmer_main(void *arg) {
    (void)arg;
    long n = 0;
    while (!atomic_load(&stop_trim)) {
        gort_release_memory();
        n++;
        usleep(200);
    }
    printf("stress: %ld gort_release_memory calls\n", n);
    return NULL;
}

static void stress(void) {
    rounds = (long)(300000 * test_scale());
    pthread_t t[NT], trimmer;
    CHECK(pthread_create(&trimmer, NULL, trimmer_main, NULL) == 0);
    for (int i = 0; i < NT; i++) CHECK(pthread_create(&t[i], NULL, stress_main, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < NT; i++) CHECK(pthread_join(t[i], NULL) == 0);
    atomic_store(&stop_trim, 1);
    CHECK(pthread_join(trimmer, NULL) == 0);
    for (int i = 0; i < NT; i++)
        for (unsigned j = 0; j < SLOTS; j++) {
            uint64_t *p = atomic_exchange(&boxes[i].box[j], NULL);
            if (p) {
                check_obj(p);
                gort_free(p);
            }
        }
    gort_check_heap();
}

int main(void) {
    test_seed();
#if defined(__SANITIZE_THREAD__)
    printf("skip idle owner: no safe point for the flush under TSan\n");
#else
    idle_owner();
#endif
    stress();
    printf("test_reclaim: ok\n");
    return 0;
}
