/*
 * test_thread_exit_alloc: a thread whose pthread key destructors allocate after gort has torn
 * down its cache, up to glibc's last destructor round, leaks nothing. Each of 400 threads
 * allocates, then at exit a destructor re-arms its key for every round glibc runs
 * (PTHREAD_DESTRUCTOR_ITERATIONS) and allocates and frees in each, the last round
 * included. Afterwards the heap's in-use bytes must be back within 1 MiB of the start
 * (a cache re-created in the last round was never torn down: its spans stayed owned by a
 * dead thread, about 64 KiB or more per thread).
 * Not in the TSan build: TSan tears down its own per-thread state from a key destructor of
 * its own, and a mutex unlocked by a destructor in a later round then crashes inside TSan
 * (SyncClock::Resize on a freed clock cache; 6 runs in 40 on this machine).
 */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <gort.h>
#include "check.h"

static pthread_key_t key;

static void dtor(void *v) {
    uintptr_t round = (uintptr_t)v;
    for (unsigned cls = 0; cls < 8; cls++) { /* a few size classes */
        unsigned char *p = gort_malloc(16 + cls * 200);
        CHECK(p);
        memset(p, 0xAB, 16 + cls * 200);
        gort_free(p);
    }
    if (round < PTHREAD_DESTRUCTOR_ITERATIONS) CHECK(pthread_setspecific(key, (void *)(round + 1)) == 0);
}

static void *thread_main(void *arg) {
    (void)arg;
    void *p = gort_malloc(100);
    CHECK(p);
    gort_free(p);
    CHECK(pthread_setspecific(key, (void *)(uintptr_t)1) == 0);
    return NULL;
}

static uint64_t inuse(void) {
    gort_stats_t st;
    gort_stats(&st);
    return st.heap_inuse;
}

int main(void) {
    CHECK(pthread_key_create(&key, dtor) == 0);
    /* warm up: the main thread's cache and a first exited thread */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, thread_main, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    gort_release_memory();
    uint64_t before = inuse();
    int n = test_scale() < 1 ? 100 : 400;
    for (int i = 0; i < n; i++) {
        CHECK(pthread_create(&t, NULL, thread_main, NULL) == 0);
        CHECK(pthread_join(t, NULL) == 0);
    }
    gort_release_memory();
    uint64_t after = inuse();
    fprintf(stderr, "%d threads: heap in use %llu -> %llu bytes\n", n, (unsigned long long)before,
            (unsigned long long)after);
    CHECK(after < before + (1 << 20));
    gort_check_heap();
    printf("test_thread_exit_alloc: ok\n");
    return 0;
}
