/*
 * test_gc_nanosleep: a thread sleeping in nanosleep() (and clock_nanosleep(), usleep())
 * while the main thread collects every few milliseconds. The collector stops threads with
 * a signal, and Linux never restarts these calls after a signal handler ran (signal(7)):
 * unless the collector avoids interrupting them, they return early with EINTR. The test
 * requires that each call sleeps its whole time and returns 0, and prints precisely what
 * each call returned, after how long, and how many collections had run meanwhile. The
 * sleeping thread's collected objects (locals) must also survive intact.
 * Then short sleeps while another thread collects back to back: each must end, on time
 * give or take the pauses (a sleep restarted with its time left after every stop never
 * ended, and a thread stopped again as it left the last stop's handler never ran).
 * Not run in the TSan build: ThreadSanitizer holds a signal back until the
 * thread enters an intercepted call, and the collector stops threads with
 * one (a thread waiting on a lock, or sleeping, never answers).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <gort.h>
#include "check.h"
#define GC_LIST_NO_CHILD 1 /* 24-byte nodes: next, id, check */
#include "gc_list.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t num_gc(void) {
    gort_gc_stats_t st;
    gort_gc_stats(&st);
    return st.num_gc;
}

enum { CALLS = 3 };
static const char *const names[CALLS] = {"nanosleep", "clock_nanosleep", "usleep"};
static const double want_s = 0.5;
static atomic_int g_started, g_done;
static long g_ret[CALLS];
static int g_err[CALLS];
static double g_took[CALLS];
static uint64_t g_gcs[CALLS];
static atomic_int g_bad_list;

static void *sleeper(void *arg) {
    Node *volatile mine = build_list(2000, 5000);
    for (int c = 0; c < CALLS; c++) {
        uint64_t gc0 = num_gc();
        atomic_store(&g_started, c + 1);
        double t0 = now();
        errno = 0;
        struct timespec req = {0, (long)(want_s * 1e9)}, rem = {0, 0};
        long r;
        if (c == 0) r = nanosleep(&req, &rem);
        else if (c == 1) r = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem);
        else r = usleep((useconds_t)(want_s * 1e6));
        g_err[c] = c == 1 ? (int)r : errno;
        g_ret[c] = r;
        g_took[c] = now() - t0;
        g_gcs[c] = num_gc() - gc0;
        atomic_store(&g_done, c + 1);
    }
    if (!list_ok(mine, 2000, 5000)) atomic_store(&g_bad_list, 1);
    return NULL;
}

static void *collector(void *arg) {
    (void)arg;
    intptr_t n = 0;
    for (; !atomic_load(&g_done); n++) gort_gc();
    return (void *)n;
}

int main(void) {
    g_seed = test_seed();
    gort_gc();
    pthread_t t;
    CHECK(pthread_create(&t, NULL, sleeper, NULL) == 0);
    alarm(120);
    for (int c = 0; c < CALLS; c++) {
        while (atomic_load(&g_started) < c + 1) usleep(100);
        usleep(5000);
        while (atomic_load(&g_done) < c + 1) {
            build_list(1000, 1);
            gort_gc();
            usleep(5000);
        }
    }
    CHECK(pthread_join(t, NULL) == 0);
    int fails = 0;
    for (int c = 0; c < CALLS; c++) {
        int ok = g_ret[c] == 0 && g_took[c] >= want_s * 0.99;
        printf("%s %s(%.3f s): returned %ld%s%s after %.3f s, %llu collections meanwhile\n", ok ? "ok  " : "FAIL",
               names[c], want_s, g_ret[c], g_ret[c] ? ", error " : "", g_ret[c] ? strerror(g_err[c]) : "", g_took[c],
               (unsigned long long)g_gcs[c]);
        fails += !ok;
    }
    if (atomic_load(&g_bad_list)) {
        fprintf(stderr, "the sleeping thread's list was corrupted or freed\n");
        return 1;
    }
    gort_check_heap();

    /* short sleeps against back-to-back collections */
    atomic_store(&g_done, 0);
    CHECK(pthread_create(&t, NULL, collector, NULL) == 0);
    enum { SHORT = 2000 };
    double t0 = now(), worst = 0;
    for (int i = 0; i < SHORT; i++) {
        double s0 = now();
        int r = i % 2 ? usleep(100) : nanosleep(&(struct timespec){0, 100000}, NULL);
        double took = now() - s0;
        if (took > worst) worst = took;
        if (r != 0 || took < 99e-6) {
            printf("FAIL short sleep %d: returned %d after %.1f us\n", i, r, took * 1e6);
            fails++;
            break;
        }
    }
    atomic_store(&g_done, 1);
    void *cycles;
    CHECK(pthread_join(t, &cycles) == 0);
    printf("%s %d sleeps of 100 us against %ld back-to-back collections: %.2f s, the longest %.2f ms\n",
           fails ? "FAIL" : "ok  ", SHORT, (long)(intptr_t)cycles, now() - t0, worst * 1e3);
    if (fails) {
        fprintf(stderr, "test_gc_nanosleep: %d sleeping call(s) cut short by collections\n", fails);
        return 1;
    }
    printf("test_gc_nanosleep: ok\n");
    return 0;
}
