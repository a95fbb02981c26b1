/*
 * test_profile: the heap profile through the API, read back with a small
 * protobuf reader of the test's own.
 *   1. Rate 1 (every allocation): exact alloc and inuse counts for objects of
 *      sizes nothing else in the test allocates (a small class and a large
 *      span): freed by their thread, freed by another thread (the cross-thread
 *      free bits), their slots reused, their spans given back, realloc'd.
 *   2. Collected objects (gort_gc_alloc_noscan, gort_new, large gort_gc_alloc):
 *      sampled with stacks that start at the allocating function; after they are
 *      dropped and collected, the sweep's cleared alloc bits (or its freed span)
 *      count them freed.
 *   3. Sampled (64 KiB): the scaled inuse_space of a known live set is within
 *      sampling error (6 standard deviations).
 *   4. The output is well formed: four sample types, the period, locations
 *      that exist, a string table that starts empty, the executable's mapping.
 *   5. gort_heap_svg writes a whole SVG with a legend, arenas and a caption.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <gort.h>
#include "check.h"

/* ---- a reader of profile.proto, enough for the checks ---- */
typedef struct {
    const uint8_t *p, *end;
} rd;
static uint64_t rd_varint(rd *r) {
    uint64_t v = 0;
    for (int s = 0; r->p < r->end && s < 64; s += 7) {
        uint8_t c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << s;
        if (c < 0x80) return v;
    }
    CHECK(!"bad varint");
    return 0;
}
/* the next field: its number; *w its wire type; *v a varint's value, or *sub the bytes */
static unsigned rd_field(rd *r, unsigned *w, uint64_t *v, rd *sub) {
    uint64_t key = rd_varint(r);
    *w = key & 7;
    if (*w == 0) *v = rd_varint(r);
    else if (*w == 2) {
        uint64_t n = rd_varint(r);
        CHECK(n <= (uint64_t)(r->end - r->p));
        sub->p = r->p, sub->end = r->p + n;
        r->p += n;
    } else CHECK(!"unexpected wire type");
    return (unsigned)(key >> 3);
}

#define MAXS 4096
typedef struct profile {
    int ntypes;
    char types[4][32];
    uint64_t period;
    int nsamples;
    int64_t val[MAXS][4];
    int64_t bytes[MAXS]; /* the sample's "bytes" label (object size) */
    uint64_t loc0[MAXS]; /* its first location id */
    uint64_t loc1[MAXS]; /* and its second (0: none) */
    uint64_t locids[1 << 16];
    uint64_t locaddr[1 << 16]; /* each location's address */
    int nlocs, nmaps, nstrings;
    char exe_seen;
} profile;

static profile P;

static void parse(const uint8_t *buf, size_t n) {
    memset(&P, 0, sizeof P);
    rd r = {buf, buf + n}, s, t;
    unsigned w;
    uint64_t v;
    char exe[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(el > 0);
    exe[el] = 0;
    uint64_t type_str[4][2];
    int first_string = 1, bytes_key = -1;
    const uint8_t *strs[4096];
    size_t strl[4096];
    while (r.p < r.end) {
        unsigned f = rd_field(&r, &w, &v, &s);
        if (f == 1) { /* sample_type */
            CHECK(P.ntypes < 4);
            while (s.p < s.end) {
                unsigned g = rd_field(&s, &w, &v, &t);
                if (g == 1 || g == 2) type_str[P.ntypes][g - 1] = v;
            }
            P.ntypes++;
        } else if (f == 2) { /* sample */
            CHECK(P.nsamples < MAXS);
            int k = P.nsamples++, nv = 0;
            while (s.p < s.end) {
                unsigned g = rd_field(&s, &w, &v, &t);
                if (g == 1 && w == 2) { /* packed location ids */
                    if (!P.loc0[k]) P.loc0[k] = rd_varint(&t);
                    if (t.p < t.end && !P.loc1[k]) P.loc1[k] = rd_varint(&t);
                }
                if (g == 2 && w == 2)
                    while (t.p < t.end) P.val[k][nv < 4 ? nv++ : 3] = (int64_t)rd_varint(&t);
                if (g == 3 && w == 2) {
                    rd u;
                    int64_t key = -1, num = 0;
                    while (t.p < t.end) {
                        unsigned h = rd_field(&t, &w, &v, &u);
                        if (h == 1) key = (int64_t)v;
                        if (h == 3) num = (int64_t)v;
                    }
                    if (key >= 0) P.bytes[k] = num, bytes_key = (int)key;
                }
            }
            CHECK(nv == 4);
        } else if (f == 3) {
            P.nmaps++;
        } else if (f == 4) { /* location */
            uint64_t id = 0, addr = 0;
            while (s.p < s.end) {
                unsigned g = rd_field(&s, &w, &v, &t);
                if (g == 1) id = v;
                if (g == 3) addr = v;
            }
            if (id && P.nlocs < (1 << 16)) P.locids[P.nlocs] = id, P.locaddr[P.nlocs++] = addr;
        } else if (f == 6) {
            CHECK(P.nstrings < 4096);
            if (first_string) CHECK(s.p == s.end); /* string_table[0] = "" */
            first_string = 0;
            strs[P.nstrings] = s.p, strl[P.nstrings] = (size_t)(s.end - s.p);
            if (strl[P.nstrings] == strlen(exe) && memcmp(s.p, exe, strlen(exe)) == 0) P.exe_seen = 1;
            P.nstrings++;
        } else if (f == 12) {
            P.period = v;
        }
    }
    CHECK(P.ntypes == 4);
    for (int i = 0; i < 4; i++) {
        CHECK(type_str[i][0] < (uint64_t)P.nstrings);
        size_t l = strl[type_str[i][0]];
        CHECK(l < 32);
        memcpy(P.types[i], strs[type_str[i][0]], l);
    }
    CHECK(strcmp(P.types[0], "alloc_objects") == 0 && strcmp(P.types[1], "alloc_space") == 0);
    CHECK(strcmp(P.types[2], "inuse_objects") == 0 && strcmp(P.types[3], "inuse_space") == 0);
    CHECK(bytes_key < 0 ||
          (bytes_key < P.nstrings && strl[bytes_key] == 5 && memcmp(strs[bytes_key], "bytes", 5) == 0));
    for (int k = 0; k < P.nsamples; k++) {
        int found = 0;
        for (int i = 0; i < P.nlocs && !found; i++) found = P.locids[i] == P.loc0[k];
        CHECK(found);
    }
    CHECK(P.exe_seen);
    CHECK(P.nmaps > 0);
}

static void take(void) {
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    CHECK(f);
    CHECK(gort_heap_profile_write(f) == 0);
    fclose(f);
    parse((const uint8_t *)buf, n);
    free(buf);
}

static uint64_t loc_addr(uint64_t id) {
    for (int i = 0; i < P.nlocs; i++)
        if (P.locids[i] == id) return P.locaddr[i];
    return 0;
}
/* Every sample of objects of `size` bytes has its innermost frame in fn (its
 * return address within fn's first 512 bytes): the stack starts at the
 * program's frame, not inside gort. The sanitizer builds (-O1) make no tail
 * calls, so the API function's own frame may come first there. */
static void frames_in(int64_t size, void *fn, const char *what) {
    int n = 0;
    for (int k = 0; k < P.nsamples; k++) {
        if (P.bytes[k] != size) continue;
        uint64_t addr = loc_addr(P.loc0[k]);
        if (test_sanitized() && addr - (uint64_t)(uintptr_t)fn >= 512 && P.loc1[k]) addr = loc_addr(P.loc1[k]);
        if (addr - (uint64_t)(uintptr_t)fn >= 512) {
            fprintf(stderr, "%s: a sample's first frame %#llx is not in its allocating function (%p)\n", what,
                    (unsigned long long)addr, fn);
            exit(1);
        }
        n++;
    }
    CHECK(n > 0);
}

/* sums of the four values over the samples of objects of `size` bytes */
static void sums(int64_t size, int64_t out[4]) {
    memset(out, 0, 4 * sizeof *out);
    for (int k = 0; k < P.nsamples; k++)
        if (P.bytes[k] == size)
            for (int i = 0; i < 4; i++) out[i] += P.val[k][i];
}

#define SMALL 3072  /* a size class nothing else here allocates */
#define LARGE 40960 /* five pages */
#define N 1000
static void *objs[N];

static void *free_half_remote(void *arg) {
    (void)arg;
    for (int i = 1; i < N; i += 4) gort_free(objs[i]);
    return NULL;
}

__attribute__((noinline)) static void exact(void) {
    int64_t s[4];
    gort_heap_profile_set_rate(1);
    CHECK_EQ(gort_heap_profile_rate(), 1);
    for (int i = 0; i < N; i++) objs[i] = gort_malloc(SMALL);
    take();
    CHECK_EQ(P.period, 1);
    sums(SMALL, s);
    CHECK_EQ(s[0], N);
    CHECK_EQ(s[1], (int64_t)N * SMALL);
    CHECK_EQ(s[2], N);
    CHECK_EQ(s[3], (int64_t)N * SMALL);
    /* a quarter freed by this thread, a quarter by another one */
    for (int i = 0; i < N; i += 4) gort_free(objs[i]);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, free_half_remote, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    take();
    sums(SMALL, s);
    CHECK_EQ(s[0], N);
    CHECK_EQ(s[2], N / 2);
    CHECK_EQ(s[3], (int64_t)N / 2 * SMALL);
    /* the freed slots are used again: the old samples stay freed, the new
     * ones are live */
    for (int i = 0; i < N; i += 4) objs[i] = gort_malloc(SMALL);
    for (int i = 1; i < N; i += 4) objs[i] = gort_malloc(SMALL);
    take();
    sums(SMALL, s);
    CHECK_EQ(s[0], N + N / 2);
    CHECK_EQ(s[2], N);
    for (int i = 0; i < N; i++) gort_free(objs[i]);
    take();
    sums(SMALL, s);
    CHECK_EQ(s[2], 0);
    CHECK_EQ(s[3], 0);
    /* large objects: freed with their spans; realloc counts the new block */
    for (int i = 0; i < 10; i++) objs[i] = gort_malloc(LARGE);
    take();
    sums(LARGE, s);
    CHECK_EQ(s[0], 10);
    CHECK_EQ(s[2], 10);
    for (int i = 0; i < 5; i++) gort_free(objs[i]);
    objs[5] = gort_realloc(objs[5], 100);
    take();
    sums(LARGE, s);
    CHECK_EQ(s[2], 4);
    for (int i = 5; i < 10; i++) gort_free(objs[i]);
    take();
    sums(LARGE, s);
    CHECK_EQ(s[0], 10);
    CHECK_EQ(s[2], 0);
}

/* ---- collected objects ---- */
__attribute__((noinline, no_sanitize_address, no_sanitize_thread)) static void clobber_stack(void) {
    volatile uintptr_t *p = (volatile uintptr_t *)__builtin_frame_address(0) - 1;
    for (ptrdiff_t i = 0; i < 8192; i++) p[-i] = 0;
}
#define GCSIZE 1792
#define GCLARGE 73728 /* nine pages */
#define NLARGE 20
typedef struct Pair {
    struct Pair *a, *b;
    uint64_t x[26];
} Pair; /* 224 bytes */
GORT_TYPE(Pair, a, b);
__attribute__((noinline)) static void make_garbage(void) {
    for (int i = 0; i < N; i++) {
        char *p = gort_gc_alloc_noscan(GCSIZE);
        CHECK(p);
        p[0] = 1;
    }
}
__attribute__((noinline)) static void make_large_garbage(void) {
    for (int i = 0; i < NLARGE; i++) {
        char *p = gort_gc_alloc(GCLARGE);
        CHECK(p);
        p[0] = 1;
    }
}
__attribute__((noinline)) static void make_typed_garbage(void) {
    for (int i = 0; i < N; i++) {
        Pair *p = gort_new(Pair);
        CHECK(p);
        p->x[0] = 1;
    }
}
__attribute__((noinline)) static void collected(void) {
    int64_t s[4];
    memset(objs, 0, sizeof objs); /* stale addresses in a root: their pages may hold the garbage */
    make_garbage();
    make_large_garbage();
    make_typed_garbage();
    take();
    sums(GCSIZE, s);
    CHECK_EQ(s[0], N);
    frames_in(GCSIZE, (void *)make_garbage, "gort_gc_alloc_noscan");
    sums(GCLARGE, s);
    CHECK_EQ(s[0], NLARGE); /* large collected objects are sampled too */
    frames_in(GCLARGE, (void *)make_large_garbage, "gort_gc_alloc (large)");
    sums((int64_t)sizeof(Pair), s);
    CHECK(s[0] >= N); /* the size class is Pair's alone here */
    frames_in((int64_t)sizeof(Pair), (void *)make_typed_garbage, "gort_new");
    clobber_stack();
    gort_gc();
    gort_gc();
    take();
    sums(GCSIZE, s);
    CHECK_EQ(s[0], N);
    fprintf(stderr, "collected: %lld of %d sampled objects still in use after the collection\n", (long long)s[2], N);
    /* conservative roots may keep a few (a stale register or stack word) */
    CHECK(s[2] <= N / 20);
    sums(GCLARGE, s);
    CHECK_EQ(s[0], NLARGE);
    CHECK(s[2] <= 2); /* the sweep gave their spans back: counted freed */
}

/* ---- sampled ---- */
__attribute__((noinline)) static void sampled(void) {
    int64_t s[4];
    size_t rate = 64 * 1024, live = 64 << 20, n = live / SMALL;
    gort_heap_profile_set_rate(rate);
    void **keep = gort_malloc(n * sizeof *keep);
    CHECK(keep);
    for (size_t i = 0; i < n; i++) keep[i] = gort_malloc(SMALL);
    take();
    CHECK_EQ(P.period, rate);
    sums(SMALL, s);
    /* samples ~ Poisson(live / rate) = 1024: 6 sd is 19% */
    double est = (double)s[3], sd = sqrt((double)live / rate) * rate;
    fprintf(stderr, "sampled: inuse_space %.0f for %zu live bytes (%.1f sd)\n", est, live, (est - live) / sd);
    CHECK(fabs(est - (double)live) < 6 * sd);
    CHECK(s[1] >= s[3]);
    for (size_t i = 0; i < n; i++) gort_free(keep[i]);
    gort_free(keep);
    take();
    sums(SMALL, s);
    CHECK_EQ(s[2], 0);
}

int main(void) {
    exact();
    collected();
    sampled();
    gort_heap_profile_set_rate(0);
    CHECK_EQ(gort_heap_profile_rate(), 0);
    errno = 0;
    CHECK(gort_heap_profile_write(NULL) == -1 && errno == EINVAL);
    /* the heap's picture through the API (tests/preload_heapview.sh checks it as XML) */
    errno = 0;
    CHECK(gort_heap_svg(NULL) == -1 && errno == EINVAL);
    char *svg = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&svg, &n);
    CHECK(f && gort_heap_svg(f) == 0);
    fclose(f);
    CHECK(n > 100 && strncmp(svg, "<?xml", 5) == 0 && strstr(svg, "</svg>\n") == svg + n - 7);
    CHECK(strstr(svg, "id=\"legend\"") && strstr(svg, "id=\"caption\"") && strstr(svg, "class=\"arena\""));
    free(svg);
    printf("test_profile: ok\n");
    return 0;
}
