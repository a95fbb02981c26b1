/*
 * test_gc_map: maps in the collected heap (gort_map_make_gc, name_make_gc).
 *   1. Liveness: a collected map whose elems are the only references to collected
 *      objects keeps them alive across collections, with their contents, while it grows
 *      (collections in the middle of evacuations) and with deletes; a deleted entry's
 *      object is freed. The same for pointer keys (the key is the only reference), for
 *      struct keys/elems with pointer fields, and for keys/elems stored out of line
 *      (above 128 bytes).
 *   2. Precision: a scalar key or elem word that holds an object's address (the only
 *      copy) does not keep it alive.
 *   3. Reclaiming: an unreachable collected map, its header, bucket arrays and overflow
 *      buckets, is freed; making and dropping 100 maps' worth keeps the heap bounded.
 *   4. Iterators keep the array they walk alive: an iteration across a growth and
 *      collections produces each entry exactly once. After a clear, an iteration begun
 *      before it produces nothing more, NaN keys in an array the map left included.
 *   5. Death: gort_map_free of a collected map; a key/elem type that does not fit.
 * Liveness is observed through weak references; objects are built in noinline functions
 * and the stack is wiped before collecting. tests/run.sh runs it with GORT_GCCHECKMARK=1.
 */
#include <math.h>
#include <stdint.h>
#include <gort.h>
#include "check.h"
#include "gc_check.h"
#include "map_internal.h"

#define NOINLINE __attribute__((noinline))

static uint64_t g_seed;
static inline uint64_t mix(uint64_t x) {
    x = (x + g_seed) * 0x9E3779B97F4A7C15ULL;
    return x ^ (x >> 31);
}

/* A stamped 16-byte noscan object: {id, mix(id)}. */
typedef struct Obj {
    uint64_t id, stamp;
} Obj;
NOINLINE static Obj *stamped(uint64_t id) {
    Obj *p = gort_gc_alloc_noscan(sizeof(Obj));
    CHECK(p);
    p->id = id;
    p->stamp = mix(id);
    return p;
}
static int stamp_ok(const Obj *p, uint64_t id) { return p && p->id == id && p->stamp == mix(id); }

/* Weak references, in a scanned block (the handles are collected objects). */
static gort_weak **g_weak;
static size_t g_nweak, g_capweak;
static size_t weak_add(void *obj) {
    if (g_nweak == g_capweak) {
        size_t cap = g_capweak ? 2 * g_capweak : 1024;
        gort_weak **w = gort_malloc_scanned(cap * sizeof *w);
        CHECK(w);
        if (g_nweak) memcpy(w, g_weak, g_nweak * sizeof *w);
        gort_free(g_weak);
        g_weak = w;
        g_capweak = cap;
    }
    g_weak[g_nweak] = gort_weak_make(obj);
    return g_nweak++;
}

static int scaled(int n) {
    int s = (int)(n * test_scale());
    return s < 64 ? 64 : s;
}

/* ---- 1. liveness through elems, with growth and deletes ---- */
GORT_MAP_DEFINE_U64(objmap, uint64_t, Obj *)
static objmap *g_objmap;
static size_t g_objw0; /* weak index of key 0's object; key k's is g_objw0 + k */

NOINLINE static void objmap_fill(uint64_t lo, uint64_t hi) {
    for (uint64_t k = lo; k < hi; k++) {
        Obj *o = stamped(k);
        CHECK(objmap_put(g_objmap, k, o));
        size_t w = weak_add(o);
        CHECK_EQ(w, g_objw0 + k);
    }
}
NOINLINE static int objmap_growing(void) {
    gort__map_info info;
    gort__map_info_get((gort_map *)g_objmap, &info);
    return info.growing;
}
NOINLINE static void objmap_check(uint64_t n, const char *when) {
    size_t bad = 0, badw = 0;
    for (uint64_t k = 0; k < n; k++) {
        Obj **v = objmap_get(g_objmap, k);
        int deleted = k % 3 == 1 && k < n / 2;
        if (deleted) {
            bad += v != NULL;
            continue;
        }
        bad += !v || !stamp_ok(*v, k);
        badw += !weak_live(g_weak[g_objw0 + k]);
    }
    if (bad || badw) {
        fprintf(stderr, "%s: %zu entries wrong, %zu objects freed while in the map (of %llu)\n", when, bad, badw,
                (unsigned long long)n);
        exit(1);
    }
    CHECK_EQ(objmap_len(g_objmap), n - (n / 2 + 1) / 3);
    CHECK_EQ(gort__map_validate((gort_map *)g_objmap), objmap_len(g_objmap));
}
/* Runs growth work until the map is not growing: an old array's preallocated
 * overflow buckets may hold copies of deleted entries until it is dropped. */
NOINLINE static void objmap_finish_growth(void) {
    for (uint64_t k = 1u << 30; objmap_growing(); k++) objmap_delete(g_objmap, k);
}

static void test_elems(void) {
    const uint64_t n = (uint64_t)scaled(20000);
    g_objmap = objmap_make_gc(0, NULL, &gort_type_pointer);
    CHECK(g_objmap);
    g_objw0 = g_nweak;
    int gcs_growing = 0;
    uint64_t step = 97;
    for (uint64_t lo = 0; lo < n; lo += step) {
        uint64_t hi = lo + step < n ? lo + step : n;
        objmap_fill(lo, hi);
        if (lo < n / 2) /* deletes interleaved with the inserts */
            for (uint64_t k = lo; k < hi; k++)
                if (k % 3 == 1 && k < n / 2) CHECK(objmap_delete(g_objmap, k));
        gcs_growing += objmap_growing();
        gc_clean(1);
    }
    CHECK(gcs_growing > 3); /* collections found the map in the middle of growths */
    gc_clean(3);
    objmap_check(n, "elems");
    /* the deleted entries' objects are freed once no array holds them */
    objmap_finish_growth();
    gc_clean(2);
    size_t live = 0, nd = 0;
    for (uint64_t k = 1; k < n / 2; k += 3, nd++) live += weak_live(g_weak[g_objw0 + k]);
    if (live) {
        fprintf(stderr, "elems: %zu of %zu deleted entries' objects are still alive\n", live, nd);
        exit(1);
    }
    objmap_check(n, "elems after the deletes' check");
    /* deletes with no insert or growth after them: only the delete clears the slot */
    for (uint64_t k = n; k < n + n / 8; k++) CHECK(objmap_put(g_objmap, k, stamped(k)));
    objmap_finish_growth();
    gort__map_info info;
    gort__map_info_get((gort_map *)g_objmap, &info);
    for (uint64_t k = n; k < n + n / 8; k++) {
        CHECK_EQ(weak_add(*objmap_get(g_objmap, k)), g_objw0 + k);
        CHECK(objmap_delete(g_objmap, k));
    }
    gort__map_info_get((gort_map *)g_objmap, &info);
    CHECK(!info.growing);
    gc_clean(2);
    live = 0;
    for (uint64_t k = n; k < n + n / 8; k++) live += weak_live(g_weak[g_objw0 + k]);
    if (live) {
        fprintf(stderr, "elems: %zu of %llu deleted entries' objects are still alive\n", live,
                (unsigned long long)(n / 8));
        exit(1);
    }
    objmap_check(n, "elems after the second deletes");
}

/* ---- pointer keys: the key is the only reference ---- */
GORT_MAP_DEFINE_U64(keymap, Obj *, uint64_t)
static keymap *g_keymap;
static size_t g_keyw0;
NOINLINE static void keymap_fill(uint64_t n) {
    for (uint64_t k = 0; k < n; k++) {
        Obj *o = stamped(100000000 + k);
        CHECK(keymap_put(g_keymap, o, 100000000 + k));
        CHECK_EQ(weak_add(o), g_keyw0 + k);
        if (k % 1000 == 999) gort_gc();
    }
}
NOINLINE static void keymap_check(uint64_t n) {
    size_t bad = 0, seen = 0;
    gort_map_iter it;
    Obj *k;
    uint64_t *v;
    keymap_iter_init(&it, g_keymap);
    while (keymap_iter_next(&it, &k, &v)) {
        seen++;
        bad += !stamp_ok(k, *v);
        uint64_t *g = keymap_get(g_keymap, k);
        bad += !g || *g != *v;
    }
    for (uint64_t i = 0; i < n; i++) bad += !weak_live(g_weak[g_keyw0 + i]);
    if (bad || seen != n) {
        fprintf(stderr, "pointer keys: %zu wrong, %zu of %llu seen\n", bad, seen, (unsigned long long)n);
        exit(1);
    }
}
static void test_pointer_keys(void) {
    const uint64_t n = (uint64_t)scaled(10000);
    g_keymap = keymap_make_gc(0, &gort_type_pointer, NULL);
    g_keyw0 = g_nweak;
    keymap_fill(n);
    gc_clean(3);
    keymap_check(n);
}

/* ---- struct keys and elems with pointer and scalar words, inline and out of line ---- */
typedef struct SKey {
    uint64_t id;
    Obj *p;         /* a pointer */
    uintptr_t addr; /* a scalar holding an address */
} SKey;
GORT_TYPE(SKey, p);
typedef struct SVal {
    Obj *a;
    uint64_t n;
    uintptr_t addr; /* a scalar holding an address */
    Obj *b;
} SVal;
GORT_TYPE(SVal, a, b);
/* out of line: above 128 bytes, pointers at both ends */
typedef struct BKey {
    Obj *p;
    uint64_t id;
    uint64_t pad[17];
    uintptr_t addr;
    Obj *q;
} BKey;
GORT_TYPE(BKey, p, q);
typedef struct BVal {
    uint64_t pad[20];
    uintptr_t addr;
    Obj *a;
} BVal;
GORT_TYPE(BVal, a);
_Static_assert(sizeof(BKey) > 128 && sizeof(BVal) > 128, "stored out of line");

GORT_MAP_DEFINE(smap, SKey, SVal, NULL, NULL)
GORT_MAP_DEFINE(bmap, BKey, BVal, NULL, NULL)
static smap *g_smap;
static bmap *g_bmap;
/* 10 weak references per entry i from g_sw0 + 10 i: smap's 3 referenced objects, its 2
 * objects only scalars hold; then bmap's 3 and 2 */
static size_t g_sw0;

NOINLINE static void struct_fill(uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        uint64_t id = 200000000 + 16 * i, bid = id + 8;
        SKey k = {id, stamped(id), (uintptr_t)stamped(id + 1)};
        SVal v = {stamped(id + 2), i, (uintptr_t)stamped(id + 3), stamped(id + 4)};
        CHECK(smap_put(g_smap, k, v));
        BKey bk = {.p = stamped(bid), .id = bid, .addr = (uintptr_t)stamped(bid + 1), .q = stamped(bid + 2)};
        BVal bv = {.addr = (uintptr_t)stamped(bid + 3), .a = stamped(bid + 4)};
        bv.pad[0] = i;
        CHECK(bmap_put(g_bmap, bk, bv));
        CHECK_EQ(weak_add(k.p), g_sw0 + 10 * i);
        weak_add(v.a);
        weak_add(v.b);
        weak_add((void *)k.addr);
        weak_add((void *)v.addr);
        weak_add(bk.p);
        weak_add(bk.q);
        weak_add(bv.a);
        weak_add((void *)bk.addr);
        weak_add((void *)bv.addr);
        if (i % 500 == 499) gort_gc();
    }
}
NOINLINE static void struct_check(uint64_t n) {
    size_t bad = 0, kept_dead = 0, scalar_live = 0;
    for (uint64_t i = 0; i < n; i++) {
        size_t w = g_sw0 + 10 * i;
        for (size_t j = 0; j < 10; j++) {
            int scalar = j % 5 >= 3;
            if (scalar) scalar_live += weak_live(g_weak[w + j]);
            else kept_dead += !weak_live(g_weak[w + j]);
        }
    }
    gort_map_iter it;
    SKey sk;
    SVal *sv;
    size_t ns = 0;
    smap_iter_init(&it, g_smap);
    while (smap_iter_next(&it, &sk, &sv)) {
        ns++;
        bad += !stamp_ok(sk.p, sk.id) || !stamp_ok(sv->a, sk.id + 2) || !stamp_ok(sv->b, sk.id + 4);
        bad += smap_get(g_smap, sk) != sv;
    }
    BKey bk;
    BVal *bv;
    size_t nb = 0;
    bmap_iter_init(&it, g_bmap);
    while (bmap_iter_next(&it, &bk, &bv)) {
        nb++;
        bad += !stamp_ok(bk.p, bk.id) || !stamp_ok(bk.q, bk.id + 2) || !stamp_ok(bv->a, bk.id + 4);
        bad += bmap_get(g_bmap, bk) != bv;
    }
    if (bad || kept_dead || scalar_live || ns != n || nb != n) {
        fprintf(stderr,
                "struct keys/elems: %zu wrong, %zu referenced objects freed, %zu objects kept by scalars, "
                "%zu + %zu of %llu entries\n",
                bad, kept_dead, scalar_live, ns, nb, (unsigned long long)n);
        exit(1);
    }
}
static void test_structs(void) {
    const uint64_t n = (uint64_t)scaled(3000);
    g_smap = smap_make_gc(0, &gort_type_SKey, &gort_type_SVal);
    g_bmap = bmap_make_gc(0, &gort_type_BKey, &gort_type_BVal);
    CHECK(g_smap && g_bmap);
    g_sw0 = g_nweak;
    struct_fill(n);
    gc_clean(3);
    struct_check(n);
}

/* ---- 2. precision: scalar keys and elems ---- */
GORT_MAP_DEFINE_U64(u64map, uint64_t, uint64_t)
static u64map *g_u64map;
static size_t g_pw0;
NOINLINE static void scalar_fill(uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        Obj *a = stamped(300000000 + i), *b = stamped(400000000 + i);
        u64map_put(g_u64map, (uintptr_t)a, (uintptr_t)b); /* both words are numbers */
        u64map_put(g_u64map, i, (uintptr_t)a + 8);        /* an interior address */
        CHECK_EQ(weak_add(a), g_pw0 + 2 * i);
        weak_add(b);
    }
}
static void test_precision(void) {
    const uint64_t n = (uint64_t)scaled(4000);
    g_u64map = u64map_make_gc(0, NULL, NULL);
    g_pw0 = g_nweak;
    scalar_fill(n);
    gc_clean(2);
    size_t live = 0;
    for (size_t i = 0; i < 2 * n; i++) live += weak_live(g_weak[g_pw0 + i]);
    if (live) {
        fprintf(stderr, "precision: %zu of %llu objects kept alive by scalar keys/elems\n", live,
                (unsigned long long)(2 * n));
        exit(1);
    }
    CHECK_EQ(u64map_len(g_u64map), 2 * n);
}

/* ---- 3. unreachable maps are freed ---- */
static gort_weak *g_mapweak[4];
/* Makes a map of n entries whose elems point to fresh objects; returns its bytes. */
NOINLINE static size_t make_and_drop(uint64_t n, int watch) {
    objmap *m = objmap_make_gc(0, NULL, &gort_type_pointer);
    for (uint64_t k = 0; k < n; k++) CHECK(objmap_put(m, k * 0x9E3779B97F4A7C15ULL, stamped(k)));
    size_t bytes = gort_map_memory((gort_map *)m);
    if (watch) { /* the header, the bucket array, an overflow bucket, an elem's object */
        g_mapweak[0] = gort_weak_make(m);
        g_mapweak[1] = gort_weak_make(((gort_map *)m)->buckets);
        uint8_t *ov = NULL;
        for (size_t b = 0; b <= ((gort_map *)m)->bmask && !ov; b++)
            ov = gort__map_overflow(((gort_map *)m)->buckets + b * ((gort_map *)m)->bucket_size,
                                    ((gort_map *)m)->bucket_size);
        CHECK(ov);
        g_mapweak[2] = gort_weak_make(ov);
        g_mapweak[3] = gort_weak_make(*objmap_get(m, 0));
    }
    return bytes;
}
static void test_reclaim(void) {
    const uint64_t n = (uint64_t)scaled(5000);
    size_t bytes = make_and_drop(n, 1);
    gc_clean(2);
    for (int i = 0; i < 4; i++)
        if (weak_live(g_mapweak[i])) {
            fprintf(stderr, "reclaim: part %d of an unreachable map is alive\n", i);
            exit(1);
        }
    gort_gc_stats_t st;
    gort_gc_stats(&st);
    uint64_t base = st.heap_marked, peak = 0;
    const size_t per_obj = 16;
    for (int r = 0; r < 100; r++) {
        make_and_drop(n, 0);
        if (r % 10 == 9) {
            gc_clean(1);
            gort_gc_stats(&st);
            if (st.heap_marked > peak) peak = st.heap_marked;
        }
    }
    /* 100 maps of `bytes` + n objects each were made; what stays marked is at most about
     * one map (a stale stack slot) over the baseline */
    uint64_t one = bytes + n * per_obj;
    fprintf(stderr, "reclaim: map %zu bytes + objects, marked %llu -> peak %llu\n", bytes, (unsigned long long)base,
            (unsigned long long)peak);
    CHECK(peak <= base + 2 * one);
}

/* ---- 4. iterators ---- */
static objmap *g_itmap;
NOINLINE static void it_fill(uint64_t lo, uint64_t hi) {
    for (uint64_t k = lo; k < hi; k++) CHECK(objmap_put(g_itmap, k, stamped(k)));
}
NOINLINE static void churn(int n) { /* reuses freed memory */
    for (int i = 0; i < n; i++) {
        uint64_t *p = gort_gc_alloc(64 + (size_t)(i % 8) * 32);
        CHECK(p);
        p[0] = 0x5a5a5a5a5a5a5a5aULL;
    }
}
static void test_iterators(void) {
    const uint64_t n = (uint64_t)scaled(2000);
    g_itmap = objmap_make_gc(0, NULL, &gort_type_pointer);
    it_fill(0, n);
    uint8_t *seen = calloc(n, 1);
    CHECK(seen);
    gort_map_iter it;
    uint64_t k;
    Obj **v;
    size_t got = 0;
    objmap_iter_init(&it, g_itmap);
    while (objmap_iter_next(&it, &k, &v)) {
        if (k < n) {
            CHECK(!seen[k]);
            seen[k] = 1;
            CHECK(stamp_ok(*v, k));
        }
        if (++got % 64 == 1) {
            /* the map grows away from the array this iteration walks; collect and reuse memory */
            it_fill(n + got * 100, n + got * 100 + 100);
            gort_gc();
            churn(2000);
        }
    }
    for (uint64_t i = 0; i < n; i++) CHECK(seen[i]);
    free(seen);
}

/* clear during an iteration: NaN keys (not equal to themselves) in an array the map left
 * are produced by the iteration from that array, unless the map was cleared */
GORT_MAP_DEFINE_F64(fmap, int64_t)
static void clear_mid_iteration(int gc) {
    fmap *m = gc ? fmap_make_gc(0, NULL, NULL) : fmap_new(0);
    for (int i = 0; i < 40; i++) fmap_put(m, NAN, i);
    for (int i = 0; i < 40; i++) fmap_put(m, (double)i, i);
    gort_map_iter it;
    double k;
    int64_t *v;
    fmap_iter_init(&it, m);
    CHECK(fmap_iter_next(&it, &k, &v));
    /* grow twice, to the end: the iteration's array is no longer the map's */
    for (int i = 0; i < 2000; i++) fmap_put(m, 1000.0 + i, i);
    gort__map_info info;
    gort__map_info_get((gort_map *)m, &info);
    CHECK(!info.growing && info.B >= 6);
    fmap_clear(m);
    int more = 0;
    while (fmap_iter_next(&it, &k, &v)) more++;
    if (more) {
        fprintf(stderr, "clear (%s map): the iteration went on for %d entries\n", gc ? "collected" : "manual", more);
        exit(1);
    }
    CHECK_EQ(fmap_len(m), 0);
    if (!gc) fmap_free(m);
}

/* ---- one long chain: an evacuation reserves its overflow buckets (more than 16: a
 * scanned list) while the pacer collects at every allocation ---- */
static uint64_t const_hash(const void *k, uint64_t seed) {
    (void)k;
    (void)seed;
    return 0x0123456789abcdefULL;
}
static bool u64_eq(const void *a, const void *b) { return memcmp(a, b, 8) == 0; }
GORT_MAP_DEFINE(chainmap, uint64_t, Obj *, const_hash, u64_eq)
static chainmap *g_chain;
NOINLINE static void chain_fill(uint64_t lo, uint64_t hi) {
    for (uint64_t k = lo; k < hi; k++) CHECK(chainmap_put(g_chain, k, stamped(k)));
}
static void test_long_chain(void) {
    const uint64_t n = 400;
    g_chain = chainmap_make_gc(0, NULL, &gort_type_pointer);
    int prev = gort_set_gc_percent(0);
    chain_fill(0, n);
    gort_set_gc_percent(prev);
    gc_clean(1);
    size_t bad = 0;
    for (uint64_t k = 0; k < n; k++) {
        Obj **v = chainmap_get(g_chain, k);
        bad += !v || !stamp_ok(*v, k);
    }
    if (bad) {
        fprintf(stderr, "long chain: %zu of %llu entries wrong\n", bad, (unsigned long long)n);
        exit(1);
    }
    CHECK_EQ(gort__map_validate((gort_map *)g_chain), n);
}

/* ---- 5. death ---- */
static void die_free(void *arg) {
    (void)arg;
    objmap *m = objmap_make_gc(0, NULL, &gort_type_pointer);
    objmap_free(m);
}
static void die_gort_free(void *arg) {
    (void)arg;
    gort_free(objmap_make_gc(0, NULL, &gort_type_pointer));
}
static void die_size(void *arg) {
    (void)arg;
    smap_make_gc(0, &gort_type_SKey, &gort_type_SKey); /* SVal is 32 bytes, SKey 24 */
}
static void die_null(void *arg) {
    (void)arg;
    gort_map_make_gc(NULL, 0);
}
static uint64_t bad_mask[1] = {1};
static void die_odd(void *arg) {
    (void)arg;
    gort_type t = {12, 4, 1, bad_mask, "odd"};
    gort_maptype mt = {12, 8, NULL, NULL, &t, NULL};
    gort_map_make_gc(&mt, 0);
}
static void test_death(void) {
    expect_death(die_free, NULL, "gort: fatal error: gort_map_free of a collected map");
    expect_death(die_gort_free, NULL, "free of a collected object");
    expect_death(die_size, NULL, "gort: fatal error: gort_map_make_gc: elem type SKey: its size is not the map's size");
    expect_death(die_null, NULL, "gort: fatal error: gort_map_make_gc: NULL map type");
    expect_death(die_odd, NULL, "gort: fatal error: gort_map_make_gc: key type odd: a type with pointers must be");
}

int main(void) {
    g_seed = test_seed();
    gort_set_gc_percent(-1); /* collections only where the test asks */
    test_death();
    test_elems();
    test_pointer_keys();
    test_structs();
    test_precision();
    test_reclaim();
    test_iterators();
    clear_mid_iteration(0);
    clear_mid_iteration(1);
    test_long_chain();
    /* everything still referenced survives a last round */
    gc_clean(2);
    objmap_check((uint64_t)scaled(20000), "elems at the end");
    keymap_check((uint64_t)scaled(10000));
    struct_check((uint64_t)scaled(3000));
    printf("test_gc_map: ok\n");
    return 0;
}
