/*
 * test_gc_map_threads: collected maps used by several threads while collections stop
 * them anywhere, in the middle of a put, a growth's evacuation or an iteration.
 *   - each worker owns a collected map (u64 -> {object, value}) and runs seeded random
 *     puts (a fresh collected object each), gets, deletes and iterations against its own
 *     model; the map holds the only references to the objects (the model keeps their
 *     values in memory the collector does not scan);
 *   - every worker also reads one shared collected map, built before (concurrent readers
 *     are allowed), checking each value's object;
 *   - the main thread collects in a loop, and the workers' allocations start collections too.
 * Release and ASan builds (the collector's threaded tests leave the TSan build: TSan holds
 * the stop signal back; docs/design.md). tests/run.sh runs it with GORT_GCCHECKMARK=1.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <gort.h>
#include "check.h"

typedef struct Obj {
    uint64_t id, val;
} Obj;
typedef struct PVal {
    Obj *p;
    uint64_t val;
} PVal;
GORT_TYPE(PVal, p);
GORT_MAP_DEFINE_U64(pmap, uint64_t, PVal)

enum { NW = 3, NKEYS = 4096, NSHARED = 2000 };
static pmap *g_maps[NW], *g_shared;
static atomic_int g_done;
static long g_ops;
static uint64_t g_seed;

static Obj *new_obj(uint64_t id, uint64_t val) {
    Obj *o = gort_gc_alloc_noscan(sizeof *o);
    CHECK(o);
    o->id = id;
    o->val = val;
    return o;
}
static int pval_ok(const PVal *v, uint64_t id, uint64_t val) {
    return v && v->val == val && v->p && v->p->id == id && v->p->val == val;
}

static void *worker(void *arg) {
    int w = (int)(intptr_t)arg;
    uint64_t rng = g_seed + 0x9E3779B97F4A7C15ULL * (uint64_t)(w + 1);
    uint8_t *present = calloc(NKEYS, 1);
    uint64_t *vals = calloc(NKEYS, sizeof *vals);
    CHECK(present && vals);
    size_t len = 0;
    g_maps[w] = pmap_make_gc(0, NULL, &gort_type_PVal);
    pmap *m = g_maps[w];
    for (long op = 0; op < g_ops; op++) {
        uint64_t r = rng_next(&rng) % 1000;
        /* the key range breathes: growth, then deletes */
        uint64_t lim = (op / 20000) % 2 ? NKEYS : 256;
        uint64_t k = rng_next(&rng) % lim;
        if (r < 400) {
            uint64_t v = rng_next(&rng);
            PVal *e = pmap_slot(m, k);
            CHECK(e);
            e->p = new_obj(k, v);
            e->val = v;
            len += !present[k];
            present[k] = 1;
            vals[k] = v;
        } else if (r < 650) {
            PVal *e = pmap_get(m, k);
            if (present[k] ? !pval_ok(e, k, vals[k]) : e != NULL) {
                fprintf(stderr, "worker %d: get of key %llu wrong (op %ld)\n", w, (unsigned long long)k, op);
                exit(1);
            }
        } else if (r < 950) {
            bool had = pmap_delete(m, k);
            CHECK(had == (present[k] != 0));
            len -= had;
            present[k] = 0;
        } else if (r < 990) {
            uint64_t s = rng_next(&rng) % NSHARED;
            if (!pval_ok(pmap_get(g_shared, s), s, ~s)) {
                fprintf(stderr, "worker %d: shared map's key %llu wrong\n", w, (unsigned long long)s);
                exit(1);
            }
        } else {
            gort_map_iter it;
            uint64_t key;
            PVal *e;
            size_t n = 0;
            pmap_iter_init(&it, m);
            while (pmap_iter_next(&it, &key, &e)) {
                CHECK(key < NKEYS && present[key] && pval_ok(e, key, vals[key]));
                n++;
            }
            CHECK_EQ(n, len);
        }
        CHECK_EQ(pmap_len(m), len);
    }
    free(present);
    free(vals);
    atomic_fetch_add(&g_done, 1);
    return NULL;
}

int main(void) {
    g_seed = test_seed();
    g_ops = (long)(1500000 * test_scale());
    gort_gc_register_thread();
    gort_set_gc_percent(5); /* the workers' allocations collect often, inside puts and growths */
    g_shared = pmap_make_gc(0, NULL, &gort_type_PVal);
    for (uint64_t s = 0; s < NSHARED; s++) {
        PVal v = {new_obj(s, ~s), ~s};
        CHECK(pmap_put(g_shared, s, v));
    }
    pthread_t t[NW];
    for (int i = 0; i < NW; i++) CHECK(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) == 0);
    long cycles = 0;
    while (atomic_load(&g_done) < NW) {
        gort_gc();
        cycles++;
        struct timespec ts = {0, 200000};
        while (nanosleep(&ts, &ts) != 0) {}
    }
    for (int i = 0; i < NW; i++) CHECK(pthread_join(t[i], NULL) == 0);
    gort_gc();
    for (uint64_t s = 0; s < NSHARED; s++) CHECK(pval_ok(pmap_get(g_shared, s), s, ~s));
    gort_gc_stats_t st;
    gort_gc_stats(&st);
    printf("test_gc_map_threads: ok (%d workers x %ld ops, %ld forced collections, %llu in all)\n", NW, g_ops, cycles,
           (unsigned long long)st.num_gc);
    return 0;
}
