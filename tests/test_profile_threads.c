/*
 * test_profile_threads: the heap profile under concurrency, at rate 1 (every allocation a
 * sample). Four threads allocate objects of a test-only size, free some of their own and
 * hand the rest to the next thread to free (cross-thread frees), while the main thread
 * writes profiles over and over (the writer's sweep races with the owners' bits, span
 * frees and slot reuse). At the end every object is freed: the profile must count all of
 * them allocated and none in use. Not in the TSan build: the writer reads span bits that
 * their owners change without locks, on purpose (prof.c).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <gort.h>
#include "check.h"

#define SIZE 2304 /* a class nothing else here allocates */
#define T 4
#define ROUNDS 1000
#define PER 64

static void *_Atomic handoff[T][PER];
static _Atomic int done;

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg;
    for (int r = 0; r < ROUNDS; r++) {
        void *mine[PER];
        for (int i = 0; i < PER; i++) CHECK((mine[i] = gort_malloc(SIZE)));
        for (int i = 0; i < PER; i += 2) gort_free(mine[i]);
        /* the odd ones go to the next thread; take what the previous one left */
        for (int i = 1; i < PER; i += 2) {
            void *old = atomic_exchange(&handoff[(id + 1) % T][i], mine[i]);
            if (old) gort_free(old);
        }
        for (int i = 1; i < PER; i += 2) {
            void *in = atomic_exchange(&handoff[id][i], NULL);
            if (in) gort_free(in);
        }
    }
    atomic_fetch_add(&done, 1);
    return NULL;
}

static void count(int64_t out[4]) {
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    CHECK(f && gort_heap_profile_write(f) == 0);
    fclose(f);
    /* a minimal walk: samples (field 2) with their values (2) and "bytes" label (3) */
    memset(out, 0, 4 * sizeof *out);
    const uint8_t *p = (const uint8_t *)buf, *end = p + n;
#define VARINT(v)                             \
    do {                                      \
        v = 0;                                \
        for (int s_ = 0;; s_ += 7) {          \
            CHECK(p < end);                   \
            uint8_t c_ = *p++;                \
            v |= (uint64_t)(c_ & 0x7f) << s_; \
            if (c_ < 0x80) break;             \
        }                                     \
    } while (0)
    while (p < end) {
        uint64_t key, len;
        VARINT(key);
        if ((key & 7) == 0) {
            uint64_t v;
            VARINT(v);
            continue;
        }
        CHECK((key & 7) == 2);
        VARINT(len);
        const uint8_t *m = p, *mend = p + len;
        p = mend;
        if (key >> 3 != 2) continue;
        int64_t vals[4] = {0}, bytes = -1;
        const uint8_t *save_end = end;
        const uint8_t *q = m;
        end = mend;
        p = q;
        while (p < end) {
            uint64_t k2, l2;
            VARINT(k2);
            if ((k2 & 7) == 0) {
                uint64_t v;
                VARINT(v);
                continue;
            }
            VARINT(l2);
            const uint8_t *e2 = p + l2;
            if (k2 >> 3 == 2) {
                int i = 0;
                const uint8_t *se = end;
                end = e2;
                while (p < end && i < 4) {
                    uint64_t v;
                    VARINT(v);
                    vals[i++] = (int64_t)v;
                }
                end = se;
            } else if (k2 >> 3 == 3) {
                const uint8_t *se = end;
                end = e2;
                while (p < end) {
                    uint64_t k3, v;
                    VARINT(k3);
                    VARINT(v);
                    if (k3 >> 3 == 3) bytes = (int64_t)v;
                }
                end = se;
            }
            p = e2;
        }
        end = save_end;
        p = mend;
        if (bytes == SIZE)
            for (int i = 0; i < 4; i++) out[i] += vals[i];
    }
    free(buf);
}

int main(void) {
    gort_heap_profile_set_rate(1);
    pthread_t t[T];
    for (int i = 0; i < T; i++) CHECK(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) == 0);
    int writes = 0;
    int64_t v[4];
    while (atomic_load(&done) < T) {
        count(v);
        CHECK(v[2] >= 0 && v[2] <= v[0]);
        writes++;
    }
    for (int i = 0; i < T; i++) CHECK(pthread_join(t[i], NULL) == 0);
    for (int i = 0; i < T; i++)
        for (int j = 0; j < PER; j++) {
            void *p = atomic_exchange(&handoff[i][j], NULL);
            if (p) gort_free(p);
        }
    count(v);
    fprintf(stderr, "%d profiles written meanwhile; at the end: %lld allocated, %lld in use\n", writes, (long long)v[0],
            (long long)v[2]);
    CHECK_EQ(v[0], (int64_t)T * ROUNDS * PER);
    CHECK_EQ(v[2], 0);
    CHECK_EQ(v[3], 0);
    printf("test_profile_threads: ok\n");
    return 0;
}
