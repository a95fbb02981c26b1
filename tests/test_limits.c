/*
 * test_limits: requests no heap can serve fail at once, with the heap lock free.
 *   - realloc of a large block to PTRDIFF_MAX, 2^62, 2^50 and SIZE_MAX returns NULL with
 *     ENOMEM within 50 ms each and leaves the block intact, while another thread's
 *     malloc(1 MiB) + free in a loop never waits more than 50 ms for the heap lock.
 * GORT_TEST_TSAN.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <gort.h>
#include "check.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static atomic_int stop;
static _Atomic double worst_wait;
static void *other_thread(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        double t0 = now();
        void *p = gort_malloc(1 << 20);
        double dt = now() - t0;
        CHECK(p);
        gort_free(p);
        if (dt > atomic_load(&worst_wait)) atomic_store(&worst_wait, dt);
    }
    return NULL;
}

static void realloc_impossible(void) {
    size_t n = 200000;
    unsigned char *p = gort_malloc(n);
    CHECK(p);
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 7);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, other_thread, NULL) == 0);
    const size_t sizes[] = {(size_t)PTRDIFF_MAX, (size_t)1 << 62, (size_t)1 << 50, (size_t)PTRDIFF_MAX - 8191,
                            SIZE_MAX, (size_t)1 << 47};
    double worst = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        errno = 0;
        double t0 = now();
        void *q = gort_realloc(p, sizes[k]);
        double dt = now() - t0;
        if (dt > worst) worst = dt;
        fprintf(stderr, "realloc(large, %#zx): %s, %.3f ms\n", sizes[k], q ? "non-NULL" : "NULL", dt * 1e3);
        CHECK(q == NULL);
        CHECK_EQ(errno, ENOMEM);
    }
    atomic_store(&stop, 1);
    CHECK(pthread_join(t, NULL) == 0);
    fprintf(stderr, "slowest realloc %.3f ms; other thread's slowest malloc(1 MiB) %.3f ms\n", worst * 1e3,
            atomic_load(&worst_wait) * 1e3);
    CHECK(worst < 0.05);
    CHECK(atomic_load(&worst_wait) < 0.05);
    for (size_t i = 0; i < n; i++) CHECK(p[i] == (unsigned char)(i * 7));
    gort_free(p);
    gort_check_heap();
}

int main(void) {
    realloc_impossible();
    printf("test_limits: ok\n");
    return 0;
}
