/*
 * test_gc_blocking: threads blocked in system calls while collections run (the collector
 * stops threads with a signal).
 *   - a thread blocked in read() on an empty pipe: every collection stops and resumes it;
 *     read must not fail (no EINTR), and returns exactly the message written after the
 *     collections; ten such messages, each after several collections;
 *   - a thread blocked in write() on a full pipe: write of PIPE_BUF bytes (atomic) does
 *     not fail with EINTR;
 *   - a thread blocked in pthread_cond_wait and one in pthread_join.
 * Each blocked thread keeps collected objects in locals and verifies them afterwards;
 * every gort_gc() must return (an alarm turns a hang into a failure).
 * (nanosleep: test_gc_nanosleep.)
 * Not run under TSan: TSan holds a signal for a thread blocked in read() or write() back
 * until the call returns, so the collector cannot stop that thread (the collection waits
 * in stop_the_world while the main thread, which would write, waits for it).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <gort.h>
#include "check.h"
#define GC_LIST_NO_CHILD 1 /* 24-byte nodes: next, id, check */
#include "gc_list.h"

#define NOINLINE __attribute__((noinline))

NOINLINE static void churn(uint64_t *s, size_t bytes) {
    for (size_t done = 0; done < bytes; done += 24 * 16) build_list(16, rng_next(s));
}

static atomic_int g_errors;
static void report(const char *what, long r, int err) {
    fprintf(stderr, "%s: returned %ld, errno %d (%s)\n", what, r, err, strerror(err));
    atomic_fetch_add(&g_errors, 1);
}

/* ---- read on a pipe ---- */
enum { MSGS = 10, MSG = 512 };
static int rpipe[2];
static atomic_int r_waiting; /* the reader is about to block (count of reads begun) */

static void *reader(void *arg) {
    Node *volatile mine = build_list(1000, 100000);
    unsigned char buf[MSG];
    for (int m = 0; m < MSGS; m++) {
        atomic_fetch_add(&r_waiting, 1);
        errno = 0;
        ssize_t r = read(rpipe[0], buf, sizeof buf);
        int err = errno;
        if (r != MSG) {
            report("read() on a pipe during collections", (long)r, err);
            return NULL;
        }
        for (int j = 0; j < MSG; j++)
            if (buf[j] != (unsigned char)(m * 7 + j)) {
                fprintf(stderr, "read: message %d byte %d wrong\n", m, j);
                atomic_fetch_add(&g_errors, 1);
                return NULL;
            }
    }
    if (!list_ok(mine, 1000, 100000)) {
        fprintf(stderr, "reader: its list was corrupted or freed\n");
        atomic_fetch_add(&g_errors, 1);
    }
    return NULL;
}

/* ---- write on a full pipe ---- */
static int wpipe[2];
static atomic_int w_blocked;
static void *writer(void *arg) {
    Node *volatile mine = build_list(500, 200000);
    unsigned char buf[PIPE_BUF];
    memset(buf, 0xab, sizeof buf);
    atomic_store(&w_blocked, 1);
    errno = 0;
    ssize_t r = write(wpipe[1], buf, sizeof buf); /* the pipe is full: blocks */
    int err = errno;
    if (r != (ssize_t)sizeof buf) report("write() on a full pipe during collections", (long)r, err);
    if (!list_ok(mine, 500, 200000)) {
        fprintf(stderr, "writer: its list was corrupted or freed\n");
        atomic_fetch_add(&g_errors, 1);
    }
    return NULL;
}

/* ---- condition variable and join ---- */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int go;
static void *cond_waiter(void *arg) {
    Node *volatile mine = build_list(300, 300000);
    pthread_mutex_lock(&mu);
    while (!go) {
        int rc = pthread_cond_wait(&cv, &mu);
        if (rc) report("pthread_cond_wait during collections", rc, rc);
    }
    pthread_mutex_unlock(&mu);
    if (!list_ok(mine, 300, 300000)) {
        fprintf(stderr, "cond waiter: its list was corrupted or freed\n");
        atomic_fetch_add(&g_errors, 1);
    }
    return NULL;
}
static void *joiner(void *arg) {
    Node *volatile mine = build_list(300, 400000);
    int rc = pthread_join(*(pthread_t *)arg, NULL);
    if (rc) report("pthread_join during collections", rc, rc);
    if (!list_ok(mine, 300, 400000)) {
        fprintf(stderr, "joiner: its list was corrupted or freed\n");
        atomic_fetch_add(&g_errors, 1);
    }
    return NULL;
}

static void collect(uint64_t *s, int n) {
    for (int i = 0; i < n; i++) {
        churn(s, 64 << 10);
        gort_gc();
    }
}

int main(void) {
    g_seed = test_seed();
    uint64_t s = g_seed;
    int per = test_sanitized() ? 3 : 8;
    alarm(300);
    CHECK(pipe(rpipe) == 0);
    CHECK(pipe(wpipe) == 0);
    /* fill wpipe so that the writer blocks */
    CHECK(fcntl(wpipe[1], F_SETFL, O_NONBLOCK) == 0);
    static unsigned char junk[1 << 16];
    long filled = 0;
    for (;;) {
        ssize_t r = write(wpipe[1], junk, sizeof junk);
        if (r > 0) filled += r;
        else if (write(wpipe[1], junk, 1) != 1) break;
        else filled++;
    }
    CHECK(errno == EAGAIN);
    CHECK(fcntl(wpipe[1], F_SETFL, 0) == 0);

    gort_gc(); /* the collector is up before the threads start */
    pthread_t tr, tw, tc, tj;
    CHECK(pthread_create(&tr, NULL, reader, NULL) == 0);
    CHECK(pthread_create(&tw, NULL, writer, NULL) == 0);
    CHECK(pthread_create(&tc, NULL, cond_waiter, NULL) == 0);
    CHECK(pthread_create(&tj, NULL, joiner, &tc) == 0);
    while (!atomic_load(&w_blocked)) usleep(1000);
    long gcs = 0;
    for (int m = 0; m < MSGS; m++) {
        while (atomic_load(&r_waiting) <= m) usleep(1000);
        usleep(20000); /* let it block in read */
        collect(&s, per);
        gcs += per;
        unsigned char msg[MSG];
        for (int j = 0; j < MSG; j++) msg[j] = (unsigned char)(m * 7 + j);
        CHECK(write(rpipe[1], msg, MSG) == MSG);
        if (atomic_load(&g_errors)) break;
    }
    CHECK(pthread_join(tr, NULL) == 0);
    /* drain the full pipe: the writer completes */
    static unsigned char sink[1 << 16];
    long want = filled + PIPE_BUF, got = 0;
    while (got < want) {
        ssize_t r = read(wpipe[0], sink, sizeof sink);
        CHECK(r > 0);
        got += r;
    }
    CHECK(pthread_join(tw, NULL) == 0);
    pthread_mutex_lock(&mu);
    go = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    CHECK(pthread_join(tj, NULL) == 0);
    alarm(0);
    if (atomic_load(&g_errors)) {
        fprintf(stderr, "test_gc_blocking: %d error(s) in blocked threads during %ld collections\n",
                atomic_load(&g_errors), gcs);
        return 1;
    }
    gort_check_heap();
    printf("test_gc_blocking: ok (%ld collections while threads were blocked)\n", gcs);
    return 0;
}
