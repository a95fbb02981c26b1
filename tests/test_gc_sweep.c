/*
 * test_gc_sweep: the lazy sweep (a cycle's pause sweeps only the thread caches' current
 * spans; a background sweeper, the refills and the next cycle sweep the rest).
 *   1. gort_gc returns after the sweep, as Go's runtime.GC: the garbage made before it is
 *      counted freed (gort_gc_stats' bytes_freed) when it returns, every time.
 *   2. Objects made while another thread collects back to back keep their contents: two
 *      threads replace, one slot at a time, objects in rings of small and large (32-64 KiB)
 *      noscan payloads and typed nodes, checking what each slot held before they replace
 *      it, while the main thread calls gort_gc in a loop. A large object whose span was
 *      made before a cycle's end and published after it was freed by the lazy sweep (its
 *      span unswept, its mark clear), and one whose address was only in the span pointer
 *      when the world stopped went unmarked: both showed here as a changed payload.
 *   3. The heap stays bounded meanwhile: after all that, a collection marks no more than
 *      the rings hold, with room for the objects the threads were holding.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <gort.h>
#include "check.h"
#include "gc_check.h"

#define NOINLINE __attribute__((noinline))

typedef struct Node {
    struct Node *next;
    uint64_t id, check;
} Node;
GORT_TYPE(Node, next);

/* 1 --------------------------------------------------------------------- */
enum { GARBAGE = 20000 };
NOINLINE static void make_garbage(uint64_t *rng) {
    Node *head = NULL;
    for (int i = 0; i < GARBAGE; i++) {
        Node *n = gort_new(Node);
        CHECK(n);
        n->next = head;
        n->id = rng_next(rng);
        head = n;
    }
    void *big = gort_gc_alloc_noscan(100000); /* a large span too */
    CHECK(big);
    memset(big, 1, 100000);
}

static void test_gc_returns_swept(uint64_t *rng) {
    for (int round = 0; round < 20; round++) {
        gc_clean(1);
        uint64_t before = gc_stats_now().bytes_freed;
        make_garbage(rng);
        gc_clean(1);
        uint64_t freed = gc_stats_now().bytes_freed - before;
        /* the nodes (24 B in 32 B slots) and the large object; a few nodes may stay alive
         * through stale stack words */
        uint64_t want = (uint64_t)GARBAGE * 32 * 9 / 10 + 100000;
        if (freed < want) {
            fprintf(stderr, "round %d: gort_gc returned with %llu bytes freed, want at least %llu\n", round,
                    (unsigned long long)freed, (unsigned long long)want);
            CHECK(freed >= want);
        }
    }
}

/* 2, 3 ------------------------------------------------------------------ */
enum { RING = 256, NTHREADS = 2 };
typedef struct {
    uint64_t id, len; /* then len payload bytes */
} Blob;
static void *g_blobs[NTHREADS][RING]; /* globals: roots */
static Node *g_nodes[NTHREADS][RING];
static atomic_int g_done;
static uint64_t g_seed;

static unsigned char pbyte(uint64_t id, size_t j) { return (unsigned char)((id * 0x9E3779B97F4A7C15ull + j) >> 56); }
static uint64_t ncheck(uint64_t id) { return id * 0xBF58476D1CE4E5B9ull ^ g_seed; }

static void verify_blob(const Blob *b) {
    CHECK(b);
    for (size_t j = 0; j < b->len; j += 97) {
        if (((const unsigned char *)(b + 1))[j] != pbyte(b->id, j)) {
            fprintf(stderr, "blob %p (id %llu, %llu bytes): payload changed at %zu (seed %llu)\n", (const void *)b,
                    (unsigned long long)b->id, (unsigned long long)b->len, j, (unsigned long long)g_seed);
            CHECK(0);
        }
    }
}
static void verify_node(const Node *n) {
    CHECK(n);
    for (int k = 0; n && k < 4; k++, n = n->next)
        if (n->check != ncheck(n->id)) {
            fprintf(stderr, "node %p (id %llu): check word wrong (seed %llu)\n", (const void *)n,
                    (unsigned long long)n->id, (unsigned long long)g_seed);
            CHECK(0);
        }
}

static void *worker(void *arg) {
    int t = (int)(intptr_t)arg;
    uint64_t rng = g_seed + (uint64_t)t * 7919, id = (uint64_t)t << 48;
    long ops = (long)(200000 * test_scale());
    for (long op = 0; op < ops; op++) {
        uint64_t r = rng_next(&rng);
        unsigned slot = (unsigned)(r % RING);
        if (r >> 62) {
            /* a payload: large one time in four */
            size_t len = (r >> 20) & 3 ? 8 + (r >> 24) % 2000 : 32768 + (r >> 24) % 32768;
            if (g_blobs[t][slot]) verify_blob(g_blobs[t][slot]);
            Blob *b = gort_gc_alloc_noscan(sizeof(Blob) + len);
            CHECK(b);
            b->id = ++id;
            b->len = len;
            unsigned char *p = (unsigned char *)(b + 1);
            for (size_t j = 0; j < len; j++) p[j] = pbyte(b->id, j);
            g_blobs[t][slot] = b;
        } else {
            /* a node linked to the one in the next slot */
            if (g_nodes[t][slot]) verify_node(g_nodes[t][slot]);
            Node *n = gort_new(Node);
            CHECK(n);
            n->id = ++id;
            n->check = ncheck(n->id);
            n->next = g_nodes[t][(slot + 1) % RING];
            g_nodes[t][slot] = n;
        }
    }
    atomic_fetch_add(&g_done, 1);
    return NULL;
}

static void test_concurrent_cycles(void) {
    pthread_t th[NTHREADS];
    for (int t = 0; t < NTHREADS; t++) CHECK(pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t) == 0);
    long cycles = 0;
    while (atomic_load(&g_done) < NTHREADS) { /* back-to-back cycles until the workers are done */
        gort_gc();
        cycles++;
    }
    for (int t = 0; t < NTHREADS; t++) CHECK(pthread_join(th[t], NULL) == 0);
    for (int t = 0; t < NTHREADS; t++)
        for (int i = 0; i < RING; i++) {
            if (g_blobs[t][i]) verify_blob(g_blobs[t][i]);
            if (g_nodes[t][i]) verify_node(g_nodes[t][i]);
        }
    /* 3: the rings hold at most RING * (64 KiB + 16 B) per thread */
    gc_clean(2);
    uint64_t marked = gc_stats_now().heap_marked, bound = (uint64_t)NTHREADS * RING * (65536 + 4096) + (8u << 20);
    if (marked > bound) {
        fprintf(stderr, "heap_marked %llu after the run, bound %llu\n", (unsigned long long)marked,
                (unsigned long long)bound);
        CHECK(marked <= bound);
    }
    printf("test_gc_sweep: %ld collections while %d threads replaced objects\n", cycles, NTHREADS);
}

int main(void) {
    uint64_t rng = test_seed();
    g_seed = rng;
    test_gc_returns_swept(&rng);
    test_concurrent_cycles();
    printf("test_gc_sweep: ok\n");
    return 0;
}
