/*
 * test_gc_map_prop: collected maps against a reference model, over seeded random
 * operations interleaved with collections: put (a fresh collected object as the value),
 * get, delete, len, clear, full iterations, and iterations during which the map grows
 * and the collector runs; now and then the map is dropped for a new one. The map holds
 * the only references to its keys' and values' collected objects (the model keeps their
 * addresses in memory the collector does not scan), so an object freed too early shows
 * as wrong contents once its memory is reused. Shapes: u64 keys through the typed layer's
 * inline paths; struct keys holding a pointer; out-of-line (above 128 bytes) keys and
 * elems with pointers; gort_string keys whose bytes are collected. tests/run.sh runs it
 * with GORT_GCCHECKMARK=1 (every collection re-marks the heap and checks the marks).
 */
#include <stdint.h>
#include <gort.h>
#include "check.h"
#include "map_internal.h"

/* a collected value object: {id, val} */
typedef struct Obj {
    uint64_t id, val;
} Obj;
static Obj *new_obj(uint64_t id, uint64_t val) {
    Obj *o = gort_gc_alloc_noscan(sizeof *o);
    CHECK(o);
    o->id = id;
    o->val = val;
    return o;
}

typedef struct PVal { /* inline elem */
    Obj *p;
    uint64_t val;
} PVal;
GORT_TYPE(PVal, p);
typedef struct BVal { /* out-of-line elem */
    uint64_t pad[16];
    Obj *p;
    uint64_t val;
} BVal;
GORT_TYPE(BVal, p);
typedef struct PKey { /* struct key with a pointer, compared bytewise */
    uint64_t id;
    Obj *kp;
} PKey;
GORT_TYPE(PKey, kp);
typedef struct BKey { /* out-of-line key */
    Obj *kp;
    uint64_t id;
    uint64_t pad[15];
} BKey;
GORT_TYPE(BKey, kp);
_Static_assert(sizeof(BVal) > 128 && sizeof(BKey) > 128, "out of line");

GORT_MAP_DEFINE_U64(tmap, uint64_t, PVal)

enum { C_U64_TYPED, C_PKEY, C_PKEY_BVAL, C_BKEY, C_STR, NCFG };
static const char *const cfg_name[NCFG] = {"u64 -> PVal (typed)", "PKey -> PVal", "PKey -> BVal (out of line)",
                                           "BKey (out of line) -> PVal", "gort_string (collected) -> PVal"};

/* the model, in plain malloc memory (not scanned) */
typedef struct model {
    uint8_t *present;
    uint64_t *val;
    uintptr_t *kp; /* the key's object (pointer keys, strings), as a number */
    size_t n, len;
} model;

static int g_cfg;
static gort_map *g_map; /* a root */
static uint64_t g_rng;

static void hex16(uint64_t id, char *out) {
    for (int i = 0; i < 16; i++) out[i] = "0123456789abcdef"[(id >> (60 - 4 * i)) & 15];
}

/* The key of id into buf: kp is the key's object for pointer keys (0: none yet). */
static void make_key(uint64_t id, uintptr_t kp, void *buf) {
    switch (g_cfg) {
    case C_U64_TYPED: memcpy(buf, &id, 8); break;
    case C_PKEY:
    case C_PKEY_BVAL: {
        PKey k = {id, (Obj *)kp};
        memcpy(buf, &k, sizeof k);
        break;
    }
    case C_BKEY: {
        BKey k = {(Obj *)kp, id, {0}};
        for (int i = 0; i < 15; i++) k.pad[i] = id * (uint64_t)(i + 3);
        memcpy(buf, &k, sizeof k);
        break;
    }
    default: {
        gort_string s = {(const char *)kp, 16};
        memcpy(buf, &s, sizeof s);
    }
    }
}
/* A new key object for id. */
static uintptr_t new_key_obj(uint64_t id) {
    if (g_cfg == C_U64_TYPED) return 0;
    if (g_cfg == C_STR) {
        char *s = gort_gc_alloc_noscan(16);
        CHECK(s);
        hex16(id, s);
        return (uintptr_t)s;
    }
    return (uintptr_t)new_obj(id, ~id);
}
/* Checks a stored key (its bytes as stored, or the key returned by iteration). */
static int key_ok(const void *k, uint64_t *id_out) {
    switch (g_cfg) {
    case C_U64_TYPED: memcpy(id_out, k, 8); return 1;
    case C_PKEY:
    case C_PKEY_BVAL: {
        const PKey *p = k;
        *id_out = p->id;
        return p->kp && p->kp->id == p->id && p->kp->val == ~p->id;
    }
    case C_BKEY: {
        const BKey *p = k;
        *id_out = p->id;
        for (int i = 0; i < 15; i++)
            if (p->pad[i] != p->id * (uint64_t)(i + 3)) return 0;
        return p->kp && p->kp->id == p->id && p->kp->val == ~p->id;
    }
    default: {
        const gort_string *s = k;
        if (s->len != 16) return 0;
        uint64_t id = 0;
        for (int i = 0; i < 16; i++) {
            char c = s->ptr[i];
            if (c >= '0' && c <= '9') id = id * 16 + (uint64_t)(c - '0');
            else if (c >= 'a' && c <= 'f') id = id * 16 + (uint64_t)(c - 'a' + 10);
            else return 0;
        }
        *id_out = id;
        return 1;
    }
    }
}
static int elem_ok(const void *e, uint64_t id, uint64_t val) {
    if (g_cfg == C_PKEY_BVAL) {
        const BVal *b = e;
        for (int i = 0; i < 16; i++)
            if (b->pad[i] != val + (uint64_t)i) return 0;
        return b->val == val && b->p && b->p->id == id && b->p->val == val;
    }
    const PVal *p = e;
    return p->val == val && p->p && p->p->id == id && p->p->val == val;
}
static void elem_set(void *e, uint64_t id, uint64_t val) {
    Obj *o = new_obj(id, val);
    if (g_cfg == C_PKEY_BVAL) {
        BVal *b = e;
        for (int i = 0; i < 16; i++) b->pad[i] = val + (uint64_t)i;
        b->p = o;
        b->val = val;
    } else {
        PVal *p = e;
        p->p = o;
        p->val = val;
    }
}

static gort_map *make_map(size_t hint) {
    switch (g_cfg) {
    case C_U64_TYPED: return (gort_map *)tmap_make_gc(hint, NULL, &gort_type_PVal);
    case C_PKEY: {
        gort_maptype t = {sizeof(PKey), sizeof(PVal), NULL, NULL, &gort_type_PKey, &gort_type_PVal};
        return gort_map_make_gc(&t, hint);
    }
    case C_PKEY_BVAL: {
        gort_maptype t = {sizeof(PKey), sizeof(BVal), NULL, NULL, &gort_type_PKey, &gort_type_BVal};
        return gort_map_make_gc(&t, hint);
    }
    case C_BKEY: {
        gort_maptype t = {sizeof(BKey), sizeof(PVal), NULL, NULL, &gort_type_BKey, &gort_type_PVal};
        return gort_map_make_gc(&t, hint);
    }
    default: {
        gort_maptype t = gort_maptype_string(sizeof(PVal));
        t.key_type = &gort_type_string;
        t.elem_type = &gort_type_PVal;
        return gort_map_make_gc(&t, hint);
    }
    }
}

/* The key of id for a lookup into buf; a string key is looked up by a copy of its bytes,
 * written into s (16 bytes). */
static void lookup_key(uint64_t id, uintptr_t kp, uint64_t *buf, char *s) {
    if (g_cfg == C_STR) {
        hex16(id, s);
        kp = (uintptr_t)s;
    }
    make_key(id, kp, buf);
}
static void *m_get(uint64_t id, uintptr_t kp) {
    if (g_cfg == C_U64_TYPED) return tmap_get((tmap *)g_map, id);
    uint64_t buf[24];
    char s[16];
    lookup_key(id, kp, buf, s);
    return gort_map_get(g_map, buf);
}
static bool m_delete(uint64_t id, uintptr_t kp) {
    if (g_cfg == C_U64_TYPED) return tmap_delete((tmap *)g_map, id);
    uint64_t buf[24];
    char s[16];
    lookup_key(id, kp, buf, s);
    return gort_map_delete(g_map, buf);
}
/* put: a new value object; a new key object for a new id (a string key is replaced by
 * the latest one, as Go's; the model follows) */
static void m_put(model *md, uint64_t id) {
    uint64_t val = rng_next(&g_rng);
    uintptr_t kp = md->present[id] && g_cfg != C_STR ? md->kp[id] : new_key_obj(id);
    void *e;
    if (g_cfg == C_U64_TYPED) {
        e = tmap_slot((tmap *)g_map, id);
    } else {
        uint64_t buf[24];
        make_key(id, kp, buf);
        e = gort_map_put(g_map, buf);
    }
    CHECK(e);
    elem_set(e, id, val);
    if (!md->present[id]) md->len++;
    md->present[id] = 1;
    md->val[id] = val;
    md->kp[id] = kp;
}

static void fail(const char *what, uint64_t id) {
    fprintf(stderr, "%s: %s, id %llu\n", cfg_name[g_cfg], what, (unsigned long long)id);
    exit(1);
}

/* A full iteration: every model entry exactly once, with its contents. With `mutate`,
 * new ids are put (the map grows) and the collector runs during it; those may or may
 * not be produced. */
static void iterate(model *md, int mutate, size_t nlimit) {
    uint8_t *seen = calloc(md->n, 1);
    uint8_t *before = malloc(md->n);
    CHECK(seen && before);
    memcpy(before, md->present, md->n);
    gort_map_iter it;
    gort_map_iter_init(&it, g_map);
    size_t steps = 0;
    while (gort_map_iter_next(&it)) {
        uint64_t id = 0;
        const void *k = it.key;
        if (!key_ok(k, &id) || id >= md->n) fail("iteration: a wrong key", id);
        if (seen[id]) fail("iteration: a key produced twice", id);
        seen[id] = 1;
        if (!md->present[id]) fail("iteration: a key not in the model", id);
        if (!elem_ok(it.elem, id, md->val[id])) fail("iteration: a wrong elem", id);
        if (mutate && ++steps % 16 == 0) {
            for (int j = 0; j < 24; j++) {
                uint64_t nid = rng_next(&g_rng) % nlimit;
                if (!md->present[nid]) m_put(md, nid);
            }
            if (steps % 64 == 0) gort_gc();
        }
    }
    for (size_t id = 0; id < md->n; id++)
        if (before[id] && !seen[id]) fail("iteration: a key not produced", id);
    free(seen);
    free(before);
}

static void run_cfg(int cfg, long ops) {
    g_cfg = cfg;
    model md = {0};
    md.n = 60000;
    md.present = calloc(md.n, 1);
    md.val = calloc(md.n, sizeof *md.val);
    md.kp = calloc(md.n, sizeof *md.kp);
    CHECK(md.present && md.val && md.kp);
    g_map = make_map(0);
    size_t limit = 64;
    long gcs = 0;
    for (long op = 0; op < ops; op++) {
        if (op % 20000 == 0) { /* phases of key ranges: growth, then shrinking */
            static const size_t limits[] = {64, 2000, 60000, 500, 20000, 8};
            limit = limits[(op / 20000) % 6];
        }
        uint64_t r = rng_next(&g_rng) % 10000, id = rng_next(&g_rng) % limit;
        if (r < 3800) {
            m_put(&md, id);
        } else if (r < 6300) {
            void *e = m_get(id, md.kp[id]);
            if (md.present[id] ? !e || !elem_ok(e, id, md.val[id]) : e != NULL) fail("get", id);
        } else if (r < 9950) {
            bool had = m_delete(id, md.kp[id]);
            if (had != (md.present[id] != 0)) fail("delete", id);
            if (had) md.len--;
            md.present[id] = 0;
        } else if (r < 9975) {
            gort_gc();
            gcs++;
        } else if (r < 9990) {
            iterate(&md, (int)(r & 1), limit);
        } else if (r < 9996) {
            gort_map_clear(g_map);
            memset(md.present, 0, md.n);
            md.len = 0;
        } else { /* drop the map for a new one */
            g_map = make_map(rng_next(&g_rng) % 3 == 0 ? (size_t)(rng_next(&g_rng) % 5000) : 0);
            memset(md.present, 0, md.n);
            md.len = 0;
        }
        if (gort_map_len(g_map) != md.len) fail("len", md.len);
        if (op % 50000 == 49999) CHECK_EQ(gort__map_validate(g_map), md.len);
    }
    iterate(&md, 0, limit);
    fprintf(stderr, "%-32s ok (%ld ops, %ld collections)\n", cfg_name[cfg], ops, gcs);
    free(md.present);
    free(md.val);
    free(md.kp);
}

int main(void) {
    g_rng = test_seed();
    gort_set_gc_percent(50); /* the pacer collects too, at any allocation */
    long ops = (long)(160000 * test_scale());
    for (int c = 0; c < NCFG; c++) run_cfg(c, ops);
    printf("test_gc_map_prop: ok\n");
    return 0;
}
