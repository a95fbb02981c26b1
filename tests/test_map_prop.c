/*
 * test_map_prop.c: gort_map against a reference model over millions of seeded
 * random operations: put, get, delete, clear, len, and iteration with
 * mutation (puts, deletes, deleting the current entry) across every growth
 * boundary, for fast-path keys (u32, u64, string), tiny generic keys, a custom
 * hash/equal, and huge (indirect) keys and elems; the typed layer (its
 * inline fast paths) is run through the same model.
 */
#include <gort.h>

#include "check.h"
#include "map_internal.h"

enum { KIND_U64, KIND_U32, KIND_STR, KIND_TINY, KIND_HUGE, KIND_CUSTOM };

typedef struct cfg {
    const char *name;
    int kind;
    size_t elem_size;
    int typed; /* through the typed layer (inline fast paths) */
} cfg;

typedef struct e4 {
    uint8_t b[4];
} e4;
typedef struct e8 {
    uint8_t b[8];
} e8;
typedef struct e16 {
    uint8_t b[16];
} e16;
typedef struct e24 {
    uint8_t b[24];
} e24;
typedef struct e129 {
    uint8_t b[129];
} e129;
GORT_MAP_DEFINE_U64(tu64, uint64_t, e8)
GORT_MAP_DEFINE_U64(tu64w, uint64_t, e24)
GORT_MAP_DEFINE_U32(tu32, uint32_t, e4)
GORT_MAP_DEFINE_U32(tu32h, uint32_t, e129)
GORT_MAP_DEFINE_STR(tstr, e16)

typedef struct custom_key {
    uint64_t id;
    uint64_t junk[2]; /* ignored by hash/equal: a later put of the same id replaces it */
} custom_key;

static uint64_t custom_hash(const void *k, uint64_t seed) { return gort_hash_u64(&((const custom_key *)k)->id, seed); }
static bool custom_equal(const void *a, const void *b) {
    return ((const custom_key *)a)->id == ((const custom_key *)b)->id;
}

enum { HUGE_KEY = 200, MAXK = 1 << 17 };

/* the model */
static uint8_t present[MAXK];
static uint32_t version[MAXK];
static uint64_t junk[MAXK];
static size_t model_len;
static char *strs[2][MAXK]; /* two copies of each string key: puts use one, gets the other */
static size_t strlens[MAXK];

static const cfg *C;
static gort_map *M;
static uint8_t keybuf[HUGE_KEY];

enum { STR_STRIDE = 48 };
static char *strbig[2];
static void make_strings(void) {
    for (int c = 0; c < 2; c++) strbig[c] = malloc((size_t)MAXK * STR_STRIDE);
    for (size_t i = 0; i < MAXK; i++) {
        size_t len = i == 0 ? 0 : 3 + i % 40; /* unique: the first 3 bytes are i */
        for (int c = 0; c < 2; c++) {
            char *p = strs[c][i] = strbig[c] + i * STR_STRIDE;
            for (size_t j = 0; j < len; j++) p[j] = (char)(j < 3 ? i >> (8 * j) : 'a' + (i + j) % 26);
        }
        strlens[i] = len;
    }
}

/* key bytes for index idx; copy selects the string copy; j is custom junk */
static const void *key_of(size_t idx, int copy, uint64_t j) {
    switch (C->kind) {
    case KIND_U64: {
        uint64_t k = (uint64_t)idx | ((uint64_t)idx << 40);
        memcpy(keybuf, &k, 8);
        break;
    }
    case KIND_U32: {
        uint32_t k = (uint32_t)idx * 2654435761u;
        memcpy(keybuf, &k, 4);
        break;
    }
    case KIND_STR: {
        gort_string s = {strs[copy][idx], strlens[idx]};
        memcpy(keybuf, &s, sizeof s);
        break;
    }
    case KIND_TINY:
        keybuf[0] = (uint8_t)idx;
        keybuf[1] = (uint8_t)(idx >> 8);
        keybuf[2] = (uint8_t)(idx >> 16);
        break;
    case KIND_HUGE:
        memcpy(keybuf, &idx, sizeof idx);
        for (size_t i = sizeof idx; i < HUGE_KEY; i++) keybuf[i] = (uint8_t)(idx * 13 + i);
        break;
    case KIND_CUSTOM: {
        custom_key k = {idx, {j, ~j}};
        memcpy(keybuf, &k, sizeof k);
        break;
    }
    }
    return keybuf;
}

/* index of a stored key (the inverse of key_of) */
static size_t idx_of(const void *key) {
    switch (C->kind) {
    case KIND_U64: {
        uint64_t k;
        memcpy(&k, key, 8);
        CHECK((k >> 40) == (k & 0xffffffffffULL));
        return (size_t)(k & 0xffffffffffULL);
    }
    case KIND_U32: {
        uint32_t k;
        memcpy(&k, key, 4);
        return (size_t)(uint32_t)(k * 244002641u);
    } /* inverse of 2654435761 */
    case KIND_STR: {
        gort_string s; /* puts use copy 0, and a put stores its key */
        memcpy(&s, key, sizeof s);
        size_t i = (size_t)(s.ptr - strbig[0]) / STR_STRIDE;
        CHECK(i < MAXK && s.ptr == strs[0][i] && s.len == strlens[i]);
        return i;
    }
    case KIND_TINY: {
        const uint8_t *b = key;
        return b[0] | (size_t)b[1] << 8 | (size_t)b[2] << 16;
    }
    case KIND_HUGE: {
        size_t idx;
        memcpy(&idx, key, sizeof idx);
        const uint8_t *b = key;
        for (size_t i = sizeof idx; i < HUGE_KEY; i++) CHECK(b[i] == (uint8_t)(idx * 13 + i));
        return idx;
    }
    default: {
        custom_key k;
        memcpy(&k, key, sizeof k);
        CHECK(k.junk[0] == junk[k.id] && k.junk[1] == ~junk[k.id]);
        return (size_t)k.id;
    }
    }
}

static uint8_t elem_byte(size_t idx, uint32_t ver, size_t j) { return (uint8_t)(idx * 31 + ver * 7 + j); }

static void check_elem(const void *e, size_t idx) {
    CHECK(e != NULL);
    const uint8_t *b = e;
    for (size_t j = 0; j < C->elem_size; j++)
        if (b[j] != elem_byte(idx, version[idx], j)) {
            fprintf(stderr, "%s: elem of %zu byte %zu: %u, want %u\n", C->name, idx, j, b[j],
                    elem_byte(idx, version[idx], j));
            CHECK(0);
        }
}

/* The typed layer's functions for the current cfg (C->typed). */
#define TYPED_CALL(fn, k)                                                         \
    do {                                                                          \
        uint64_t k64_;                                                            \
        uint32_t k32_;                                                            \
        gort_string ks_;                                                          \
        switch (C->kind) {                                                        \
        case KIND_U64:                                                            \
            memcpy(&k64_, (k), 8);                                                \
            if (C->elem_size == 8) return tu64_##fn((tu64 *)M, k64_);             \
            return tu64w_##fn((tu64w *)M, k64_);                                  \
        case KIND_U32:                                                            \
            memcpy(&k32_, (k), 4);                                                \
            if (C->elem_size == 4) return tu32_##fn((tu32 *)M, k32_);             \
            return tu32h_##fn((tu32h *)M, k32_);                                  \
        default: memcpy(&ks_, (k), sizeof ks_); return tstr_##fn((tstr *)M, ks_); \
        }                                                                         \
    } while (0)
static void *map_put(const void *k) {
    if (!C->typed) return gort_map_put(M, k);
    TYPED_CALL(slot, k);
}
static void *map_get(const void *k) {
    if (!C->typed) return gort_map_get(M, k);
    TYPED_CALL(get, k);
}
static bool map_delete(const void *k) {
    if (!C->typed) return gort_map_delete(M, k);
    TYPED_CALL(delete, k);
}
static bool map_iter_next(gort_map_iter *it) {
    if (!C->typed) return gort_map_iter_next(it);
    switch (C->kind) {
    case KIND_U64: return C->elem_size == 8 ? tu64_iter_next(it, NULL, NULL) : tu64w_iter_next(it, NULL, NULL);
    case KIND_U32: return C->elem_size == 4 ? tu32_iter_next(it, NULL, NULL) : tu32h_iter_next(it, NULL, NULL);
    default: return tstr_iter_next(it, NULL, NULL);
    }
}

static bool do_put(size_t idx, uint64_t *rng) {
    uint64_t j = rng_next(rng);
    uint8_t *e = map_put(key_of(idx, 0, j));
    if (!e) return false; /* only under fault injection */
    if (!present[idx]) {
        for (size_t i = 0; i < C->elem_size; i++) CHECK(e[i] == 0); /* new: zeroed */
        present[idx] = 1;
        model_len++;
    }
    version[idx]++;
    junk[idx] = j;
    for (size_t i = 0; i < C->elem_size; i++) e[i] = elem_byte(idx, version[idx], i);
    return true;
}

static void do_get(size_t idx) {
    void *e = map_get(key_of(idx, 1, 0));
    if (present[idx]) check_elem(e, idx);
    else CHECK(e == NULL);
}

static void do_delete(size_t idx) {
    bool had = map_delete(key_of(idx, 1, 0));
    CHECK_EQ(had, present[idx]);
    if (had) {
        present[idx] = 0;
        model_len--;
    }
}

static void model_clear(size_t K) {
    memset(present, 0, K);
    model_len = 0;
}

static void full_check(size_t K) {
    CHECK_EQ(gort_map_len(M), model_len);
    CHECK_EQ(gort__map_validate(M), model_len);
    for (size_t i = 0; i < K; i++) do_get(i);
}

/* Iterates with mutation; checks Go's guarantees. */
static uint8_t seen[MAXK], at_start[MAXK], touched[MAXK], inserted[MAXK];
static void iterate(size_t K, uint64_t *rng, int mutate) {
    memset(seen, 0, K);
    memset(touched, 0, K);
    memset(inserted, 0, K);
    memcpy(at_start, present, K);
    gort_map_iter it;
    gort_map_iter_init(&it, M);
    size_t produced = 0;
    while (map_iter_next(&it)) {
        size_t idx = idx_of(it.key);
        CHECK(idx < K);
        CHECK(present[idx]);                /* deleted entries are not produced */
        CHECK(!seen[idx] || inserted[idx]); /* at most once unless re-inserted */
        seen[idx] = 1;
        check_elem(it.elem, idx);
        produced++;
        if (!mutate) continue;
        uint64_t r = rng_next(rng);
        switch (r % 8) {
        case 0: /* delete the current entry */
            touched[idx] = 1;
            do_delete(idx);
            break;
        case 1:
        case 2: { /* insert or update a random key */
            size_t k = (size_t)(rng_next(rng) % K);
            if (!present[k]) inserted[k] = touched[k] = 1;
            do_put(k, rng);
            break;
        }
        case 3: { /* delete a random key */
            size_t k = (size_t)(rng_next(rng) % K);
            touched[k] = 1;
            do_delete(k);
            break;
        }
        case 4: /* update the current entry */ do_put(idx, rng); break;
        default: break;
        }
    }
    CHECK(it.key == NULL);
    /* every entry present for the whole iteration was produced */
    for (size_t i = 0; i < K; i++)
        if (at_start[i] && !touched[i] && present[i] && !seen[i]) {
            fprintf(stderr, "%s: key %zu present throughout but not produced\n", C->name, i);
            CHECK(0);
        }
    if (!mutate) CHECK_EQ(produced, model_len);
}

static gort_map *new_map(size_t hint) {
    gort_maptype t = {0};
    switch (C->kind) {
    case KIND_U64: t = gort_maptype_u64(C->elem_size); break;
    case KIND_U32: t = gort_maptype_u32(C->elem_size); break;
    case KIND_STR: t = gort_maptype_string(C->elem_size); break;
    case KIND_TINY: t = (gort_maptype){3, C->elem_size, NULL, NULL, NULL, NULL}; break;
    case KIND_HUGE: t = (gort_maptype){HUGE_KEY, C->elem_size, NULL, NULL, NULL, NULL}; break;
    case KIND_CUSTOM:
        t = (gort_maptype){sizeof(custom_key), C->elem_size, custom_hash, custom_equal, NULL, NULL};
        break;
    }
    gort_map *m = gort_map_new(&t, hint);
    CHECK(m != NULL);
    return m;
}

static void run_cfg(const cfg *c, uint64_t *rng, long ops) {
    C = c;
    static const size_t sizes[] = {1, 8, 9, 14, 27, 53, 105, 209, 1000, 5000, 40000, MAXK};
    long done = 0;
    while (done < ops) {
        size_t K = sizes[rng_next(rng) % (sizeof sizes / sizeof sizes[0])];
        if (C->kind == KIND_TINY && K > (1u << 24)) K = 1u << 24;
        size_t hint = (rng_next(rng) & 1) ? 0 : (size_t)(rng_next(rng) % (2 * K + 1));
        M = new_map(hint);
        model_clear(K);
        memset(version, 0, K * sizeof version[0]);
        /* a phase biased to grow, then a churn phase, then a shrink phase */
        long n = (long)(K * 4 + 100);
        if (n > ops - done) n = ops - done > 100 ? ops - done : 100;
        for (long i = 0; i < n; i++) {
            uint64_t r = rng_next(rng);
            size_t idx = (size_t)((r >> 8) % K);
            unsigned phase = (unsigned)(i * 3 / n);
            unsigned op = (unsigned)(r % 100);
            if (phase == 0) {
                if (op < 60) do_put(idx, rng);
                else if (op < 90) do_get(idx);
                else do_delete(idx);
            } else if (phase == 1) {
                if (op < 40) do_put(idx, rng);
                else if (op < 70) do_get(idx);
                else do_delete(idx);
            } else {
                if (op < 15) do_put(idx, rng);
                else if (op < 50) do_get(idx);
                else do_delete(idx);
            }
            if (op == 99 && (r >> 40) % 64 == 0) { /* rare: iterate with mutation */
                iterate(K, rng, 1);
            }
            if (op == 98 && (r >> 40) % 512 == 0) {
                gort_map_clear(M);
                model_clear(K);
            }
            if (K <= 1000 && (r >> 32) % 4096 == 0) full_check(K);
        }
        done += n;
        iterate(K, rng, 0);
        iterate(K, rng, 1);
        full_check(K);
        gort_map_free(M);
    }
}

/* Iteration across growth: start iterating a map that is mid-growth or about
 * to grow, and insert enough during the iteration to grow it again. */
static void iterate_across_growth(uint64_t *rng) {
    static const cfg cu = {"u64-growth", KIND_U64, 8, 0}, ch = {"huge-growth", KIND_HUGE, 300, 0},
                     ct = {"typed-u64-growth", KIND_U64, 8, 1};
    for (int pass = 0; pass < 3; pass++) {
        C = pass == 0 ? &cu : pass == 1 ? &ch : &ct;
        for (size_t start = 7; start < 3000; start = start * 2 + 1) {
            size_t K = start * 8 < MAXK ? start * 8 : MAXK;
            M = new_map(0);
            model_clear(K);
            memset(version, 0, K * sizeof version[0]);
            for (size_t i = 0; i < start; i++) do_put(i, rng);
            for (int rep = 0; rep < 3; rep++) {
                memcpy(at_start, present, K);
                memset(seen, 0, K);
                memset(touched, 0, K);
                memset(inserted, 0, K);
                gort_map_iter it;
                gort_map_iter_init(&it, M);
                size_t next_new = start;
                while (map_iter_next(&it)) {
                    size_t idx = idx_of(it.key);
                    CHECK(present[idx]);
                    CHECK(!seen[idx] || inserted[idx]);
                    seen[idx] = 1;
                    check_elem(it.elem, idx);
                    for (int j = 0; j < 3 && next_new < K; j++, next_new++) {
                        if (!present[next_new]) inserted[next_new] = touched[next_new] = 1;
                        do_put(next_new, rng);
                    }
                    if (rng_next(rng) % 4 == 0) {
                        size_t k = (size_t)(rng_next(rng) % K);
                        touched[k] = 1;
                        do_delete(k);
                    }
                }
                for (size_t i = 0; i < K; i++)
                    if (at_start[i] && !touched[i] && present[i]) CHECK(seen[i]);
                gort__map_validate(M);
            }
            full_check(K);
            gort_map_free(M);
        }
    }
}

/* Out of memory during put: NULL, and the map unchanged and usable. */
static void oom(uint64_t *rng) {
    static const cfg cfgs[] = {{"u64-oom", KIND_U64, 8, 0},
                               {"huge-oom", KIND_HUGE, 300, 0},
                               {"str-oom", KIND_STR, 16, 0},
                               {"typed-u64-oom", KIND_U64, 8, 1},
                               {"typed-str-oom", KIND_STR, 16, 1}};
    for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
        C = &cfgs[c];
        size_t K = 20000;
        M = new_map(0);
        model_clear(K);
        memset(version, 0, K * sizeof version[0]);
        long fails = 0;
        for (long i = 0; i < 60000; i++) {
            if (i % 7 == 0) gort__map_fail_countdown = 1 + (long)(rng_next(rng) % 4);
            size_t idx = (size_t)(rng_next(rng) % K);
            size_t before = gort_map_len(M);
            uint8_t was = present[idx];
            if (rng_next(rng) % 5 == 0) {
                do_delete(idx);
            } else if (!do_put(idx, rng)) {
                fails++;
                CHECK_EQ(gort_map_len(M), before);
                CHECK_EQ(present[idx], was);
                if (was) do_get(idx);
                else CHECK(map_get(key_of(idx, 1, 0)) == NULL);
            }
            if (i % 5000 == 0) full_check(K);
        }
        gort__map_fail_countdown = 0;
        CHECK(fails > 0);
        full_check(K);
        iterate(K, rng, 1);
        full_check(K);
        gort_map_free(M);
    }
}

int main(void) {
    uint64_t seed = test_seed();
    uint64_t rng = seed;
    double scale = test_scale();
    make_strings();
    static const cfg cfgs[] = {
        {"u64/8", KIND_U64, 8, 0},           {"u32/4", KIND_U32, 4, 0},         {"str/16", KIND_STR, 16, 0},
        {"tiny3/1", KIND_TINY, 1, 0},        {"u64/0", KIND_U64, 0, 0},         {"huge200/300", KIND_HUGE, 300, 0},
        {"custom/24", KIND_CUSTOM, 24, 0},   {"u32/129", KIND_U32, 129, 0},     {"tiny3/128", KIND_TINY, 128, 0},
        {"typed u64/8", KIND_U64, 8, 1},     {"typed u64/24", KIND_U64, 24, 1}, {"typed u32/4", KIND_U32, 4, 1},
        {"typed u32/129", KIND_U32, 129, 1}, {"typed str/16", KIND_STR, 16, 1},
    };
    long total = 0;
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        long ops = (long)(1200000 * scale);
        if (cfgs[i].kind == KIND_STR || cfgs[i].kind == KIND_HUGE) ops /= 3;
        run_cfg(&cfgs[i], &rng, ops);
        total += ops;
        fprintf(stderr, "%-12s ok (%ld ops)\n", cfgs[i].name, ops);
    }
    iterate_across_growth(&rng);
    fprintf(stderr, "iterate across growth ok\n");
    oom(&rng);
    fprintf(stderr, "oom ok\n");
    printf("test_map_prop: %ld ops ok\n", total);
    return 0;
}
