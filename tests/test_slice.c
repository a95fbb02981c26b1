/*
 * test_slice: Go's slices. Go's growth sequence for append one at a time;
 * a property test against a reference model (random make, append of one and
 * of many, re-slices of both forms, copy and stores, on up to 24 live slices
 * whose arrays alias; every live slice is compared byte for byte with the
 * model after each step, and collections run meanwhile); a pointer-bearing
 * element type whose targets stay alive through the array alone; the arrays
 * no slice refers to are reclaimed; a death test for each fatal message.
 */
#include <gort.h>
#include "check.h"
#include "internal.h" /* the size classes, to compute Go's capacities independently */

typedef uint32_t u32;
GORT_TYPE_NOPTR(u32);
GORT_SLICE_DEFINE(u32s, u32)

typedef int64_t i64;
GORT_TYPE_NOPTR(i64);
GORT_SLICE_DEFINE(i64s, i64)

typedef struct Obj {
    uint64_t v, check;
} Obj;
GORT_TYPE_NOPTR(Obj);
typedef struct PE {
    Obj *p;
    uint64_t v;
} PE;
GORT_TYPE(PE, p);
GORT_SLICE_DEFINE(pes, PE)

/* ---- the expected capacity, computed from Go's rule ---- */
static size_t roundup(size_t n) {
    if (n <= GORT_MAX_SMALL_SIZE) {
        for (unsigned c = 1; c < GORT_NUM_CLASSES; c++)
            if (gort_class_to_size[c] >= n) return gort_class_to_size[c];
    }
    return (n + 8191) & ~(size_t)8191;
}
static size_t want_cap(size_t oldcap, size_t newlen, size_t size) {
    size_t nc = oldcap;
    if (newlen > 2 * oldcap) nc = newlen;
    else if (oldcap < 256) nc = 2 * oldcap;
    else
        while (nc < newlen) nc += (nc + 768) / 4;
    return roundup(nc * size) / size;
}

static void test_growth(void) {
    /* Go 1.20+ on amd64: append([]int(nil), ...) one at a time */
    static const size_t go_caps[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 848, 1280, 1792, 2560, 3408, 5120};
    i64s s = {0};
    size_t k = 0, lastcap = 0;
    for (int64_t i = 0; i < 5000; i++) {
        s = i64s_append(s, i);
        if (s.cap != lastcap) {
            CHECK(k < sizeof go_caps / sizeof go_caps[0]);
            CHECK_EQ(s.cap, go_caps[k]);
            k++;
            lastcap = s.cap;
        }
    }
    CHECK_EQ(k, 16);
    for (int64_t i = 0; i < 5000; i++) CHECK_EQ(s.ptr[i], i);
    /* append of many: newlen > 2 * cap takes newlen, rounded to the size class */
    u32s t = u32s_make(0, 3);
    u32 vals[100];
    for (int i = 0; i < 100; i++) vals[i] = (u32)i * 3;
    t = u32s_append_n(t, vals, 7);
    CHECK_EQ(t.len, 7);
    CHECK_EQ(t.cap, want_cap(3, 7, 4));
    t = u32s_append_n(t, vals, 100);
    CHECK_EQ(t.len, 107);
    CHECK_EQ(t.cap, want_cap(want_cap(3, 7, 4), 107, 4));
    /* make does not round */
    u32s m = u32s_make(3, 5);
    CHECK_EQ(m.cap, 5);
    CHECK_EQ(m.len, 3);
    for (int i = 0; i < 5; i++) CHECK_EQ(m.ptr[i], 0);
    /* nil and empty slices */
    u32s nil = {0};
    CHECK_EQ(u32s_copy(nil, m), 0);
    u32s e = u32s_slice(nil, 0, 0);
    CHECK(e.ptr == NULL && e.len == 0 && e.cap == 0);
    e = u32s_slice(m, 5, 5); /* cap 0: keeps the base */
    CHECK(e.ptr == m.ptr && e.cap == 0);
}

/* ---- the property test ---- */
#define NS 24
#define MAXARR 4096
typedef struct {
    int arr; /* model array id; -1: nil */
    size_t off, len, cap;
} mslice;
typedef struct {
    uint32_t *data; /* model contents (cap elements) */
    size_t cap;
    void *real; /* gort's array base */
} marray;

static marray *arrs;
static size_t narrs;
static mslice model[NS];
static u32s *live; /* gort_malloc_scanned: the slices are roots */

static int new_array(size_t cap, void *real) {
    CHECK(narrs < MAXARR * 64);
    marray *a = &arrs[narrs];
    a->data = calloc(cap ? cap : 1, sizeof(uint32_t));
    a->cap = cap;
    a->real = real;
    return (int)narrs++;
}

static void verify_all(void) {
    for (int i = 0; i < NS; i++) {
        mslice *m = &model[i];
        u32s s = live[i];
        CHECK_EQ(s.len, m->len);
        CHECK_EQ(s.cap, m->cap);
        if (m->arr < 0) {
            CHECK(s.ptr == NULL);
            continue;
        }
        marray *a = &arrs[m->arr];
        if (m->cap) CHECK((char *)s.ptr == (char *)a->real + m->off * sizeof(uint32_t)); /* aliasing */
        CHECK(memcmp(s.ptr, a->data + m->off, m->len * sizeof(uint32_t)) == 0);
    }
}

static void set_slot(int i, int arr, size_t off, size_t len, size_t cap, u32s s) {
    model[i] = (mslice){arr, off, len, cap};
    live[i] = s;
}

static void property_test(uint64_t steps) {
    uint64_t rng = test_seed() ^ 0x51ce;
    arrs = calloc(MAXARR * 64, sizeof *arrs);
    live = gort_malloc_scanned(NS * sizeof *live);
    for (int i = 0; i < NS; i++) set_slot(i, -1, 0, 0, 0, (u32s){0});
    uint32_t buf[600];
    for (uint64_t step = 0; step < steps; step++) {
        int i = (int)(rng_next(&rng) % NS), j = (int)(rng_next(&rng) % NS);
        mslice m = model[i];
        u32s s = live[i];
        uint64_t r = rng_next(&rng) % 100;
        if (narrs >= MAXARR * 64 - 8) break;
        if (r < 8) { /* make */
            size_t cap = rng_next(&rng) % 300, len = cap ? rng_next(&rng) % (cap + 1) : 0;
            u32s n = u32s_make(len, cap);
            set_slot(j, new_array(cap, n.ptr), 0, len, cap, n);
        } else if (r < 40) { /* append one */
            uint32_t v = (uint32_t)rng_next(&rng);
            u32s n = u32s_append(s, v);
            if (m.len < m.cap) {
                arrs[m.arr].data[m.off + m.len] = v;
                CHECK(n.ptr == s.ptr);
                set_slot(j, m.arr, m.off, m.len + 1, m.cap, n);
            } else {
                size_t cap = want_cap(m.cap, m.len + 1, 4);
                CHECK_EQ(n.cap, cap);
                int a = new_array(cap, n.ptr);
                if (m.len) memcpy(arrs[a].data, arrs[m.arr].data + m.off, m.len * 4);
                arrs[a].data[m.len] = v;
                set_slot(j, a, 0, m.len + 1, cap, n);
            }
        } else if (r < 55) { /* append many: fresh values, or another live slice (may alias) */
            size_t k;
            const uint32_t *src;
            uint32_t *msrc = buf;
            if (rng_next(&rng) & 1) {
                k = rng_next(&rng) % 600;
                for (size_t x = 0; x < k; x++) buf[x] = (uint32_t)rng_next(&rng);
                src = buf;
            } else {
                int o = (int)(rng_next(&rng) % NS);
                k = model[o].len;
                if (k > 600) k = 600;
                src = live[o].ptr;
                if (k) memcpy(buf, arrs[model[o].arr].data + model[o].off, k * 4); /* the model's copy */
            }
            u32s n = u32s_append_n(s, src, k);
            if (k <= m.cap - m.len) {
                if (k) memmove(arrs[m.arr].data + m.off + m.len, msrc, k * 4);
                if (m.arr >= 0) CHECK(n.ptr == s.ptr);
                set_slot(j, m.arr, m.off, m.len + k, m.cap, n);
            } else {
                size_t cap = want_cap(m.cap, m.len + k, 4);
                CHECK_EQ(n.cap, cap);
                int a = new_array(cap, n.ptr);
                if (m.len) memcpy(arrs[a].data, arrs[m.arr].data + m.off, m.len * 4);
                memcpy(arrs[a].data + m.len, msrc, k * 4);
                set_slot(j, a, 0, m.len + k, cap, n);
            }
        } else if (r < 70) { /* s[lo:hi] */
            if (m.arr < 0) continue;
            size_t hi = rng_next(&rng) % (m.cap + 1), lo = rng_next(&rng) % (hi + 1);
            u32s n = u32s_slice(s, lo, hi);
            set_slot(j, m.arr, m.cap - lo ? m.off + lo : m.off, hi - lo, m.cap - lo, n);
        } else if (r < 80) { /* s[lo:hi:max] */
            if (m.arr < 0) continue;
            size_t max = rng_next(&rng) % (m.cap + 1), hi = rng_next(&rng) % (max + 1), lo = rng_next(&rng) % (hi + 1);
            u32s n = u32s_slice3(s, lo, hi, max);
            set_slot(j, m.arr, max - lo ? m.off + lo : m.off, hi - lo, max - lo, n);
        } else if (r < 90) { /* copy(s, other) */
            int o = (int)(rng_next(&rng) % NS);
            mslice mo = model[o];
            size_t k = u32s_copy(s, live[o]);
            CHECK_EQ(k, m.len < mo.len ? m.len : mo.len);
            if (k) memmove(arrs[m.arr].data + m.off, arrs[mo.arr].data + mo.off, k * 4);
        } else if (r < 98) { /* s[x] = v */
            if (m.len == 0) continue;
            size_t x = rng_next(&rng) % m.len;
            uint32_t v = (uint32_t)rng_next(&rng);
            u32s_set(s, x, v);
            CHECK_EQ(u32s_get(s, x), v);
            arrs[m.arr].data[m.off + x] = v;
        } else { /* drop a slice, and collect now and then */
            set_slot(i, -1, 0, 0, 0, (u32s){0});
            if (rng_next(&rng) % 8 == 0) gort_gc();
        }
        verify_all();
    }
    fprintf(stderr, "property test: %llu steps, %zu arrays\n", (unsigned long long)steps, narrs);
    for (size_t a = 0; a < narrs; a++) free(arrs[a].data);
    free(arrs);
    gort_free(live);
}

/* ---- pointers in the array keep their targets alive ---- */
static void test_pointer_elems(void) {
    pes s = {0};
    int n = (int)(20000 * test_scale());
    for (int i = 0; i < n; i++) {
        Obj *o = gort_new(Obj);
        o->v = (uint64_t)i;
        o->check = (uint64_t)i * 31 + 7;
        s = pes_append(s, (PE){o, (uint64_t)i});
        if (i % 5000 == 0) gort_gc();
    }
    gort_gc();
    gort_gc();
    for (int i = 0; i < n; i++) {
        PE e = pes_get(s, (size_t)i);
        CHECK_EQ(e.v, i);
        CHECK_EQ(e.p->v, i);
        CHECK_EQ(e.p->check, (uint64_t)i * 31 + 7);
    }
}

static __attribute__((noinline)) void grow_garbage(gort_weak **w, int n) {
    for (int k = 0; k < n; k++) {
        u32s s = {0};
        for (int i = 0; i < 1000; i++) s = u32s_append(s, (u32)i);
        w[k] = gort_weak_make(s.ptr);
    }
}
static __attribute__((noinline)) void clobber_stack(void) {
    volatile char b[16384];
    memset((char *)b, 0, sizeof b);
}
static void test_reclaimed(void) {
    enum { N = 100 };
    gort_weak **w = gort_malloc_scanned(N * sizeof *w);
    grow_garbage(w, N);
    clobber_stack();
    gort_gc();
    gort_gc();
    int cleared = 0;
    for (int k = 0; k < N; k++) cleared += gort_weak_get(w[k]) == NULL;
    fprintf(stderr, "unreferenced arrays reclaimed: %d of %d\n", cleared, N);
    CHECK(cleared >= N * 9 / 10);
    gort_free(w);
}

/* ---- deaths ---- */
static void die_make_len(void *a) { u32s_make(SIZE_MAX / 2, SIZE_MAX / 2); }
static void die_make_cap(void *a) { u32s_make(10, SIZE_MAX / 2); }
static void die_make_len_gt_cap(void *a) { u32s_make(10, 5); }
static void die_grow(void *a) {
    u32s s = u32s_make(1, 1);
    u32 v = 0;
    volatile size_t huge = SIZE_MAX / 2;
    s = u32s_append_n(s, &v, huge);
}
static void die_index(void *a) {
    u32s s = u32s_make(3, 3);
    u32s_get(s, 5);
}
static void die_bounds_cap(void *a) {
    u32s s = u32s_make(2, 4);
    u32s_slice(s, 0, 7);
}
static void die_bounds_lohi(void *a) {
    u32s s = u32s_make(2, 4);
    u32s_slice(s, 3, 2);
}
static void die_bounds3_max(void *a) { u32s_slice3(u32s_make(2, 4), 0, 1, 7); }
static void die_bounds3_hi(void *a) { u32s_slice3(u32s_make(2, 4), 0, 4, 3); }
static void die_bounds3_lo(void *a) { u32s_slice3(u32s_make(2, 4), 3, 2, 4); }

static void test_deaths(void) {
    expect_death(die_make_len, NULL, "gort: fatal error: makeslice: len out of range");
    expect_death(die_make_cap, NULL, "gort: fatal error: makeslice: cap out of range");
    expect_death(die_make_len_gt_cap, NULL, "gort: fatal error: makeslice: cap out of range");
    expect_death(die_grow, NULL, "gort: fatal error: growslice: cap out of range");
    expect_death(die_index, NULL, "gort: fatal error: index out of range [5] with length 3");
    expect_death(die_bounds_cap, NULL, "gort: fatal error: slice bounds out of range [:7] with capacity 4");
    expect_death(die_bounds_lohi, NULL, "gort: fatal error: slice bounds out of range [3:2]");
    expect_death(die_bounds3_max, NULL, "gort: fatal error: slice bounds out of range [::7] with capacity 4");
    expect_death(die_bounds3_hi, NULL, "gort: fatal error: slice bounds out of range [:4:3]");
    expect_death(die_bounds3_lo, NULL, "gort: fatal error: slice bounds out of range [3:2:]");
}

int main(void) {
    test_seed();
    test_growth();
    property_test((uint64_t)(200000 * test_scale()));
    test_pointer_elems();
    test_reclaimed();
    test_deaths();
    fprintf(stderr, "test_slice: ok\n");
    return 0;
}
