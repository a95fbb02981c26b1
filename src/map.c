/*
 * map.c: Go's hash map (runtime/map.go, map_fast32/64/str.go) in C.
 *
 * A map is an array of 2^B buckets. Each bucket holds 8 slots: 8 tophash
 * bytes, then the 8 keys, then the 8 elems (grouped so that no padding is
 * needed), then an overflow pointer to a chained bucket. The low B bits of a
 * key's hash select its bucket; the top 8 bits are its tophash, kept in the
 * bucket so that a lookup compares at most a few keys. This file matches the
 * 8 tophash bytes of a bucket at once as one 64-bit word (SWAR).
 *
 * Invariants (as map.go):
 *  - tophash[i] is EMPTY_REST (0: this slot and every later slot of the
 *    bucket and its overflow chain are empty), EMPTY_ONE (1), EVAC_X/Y/EMPTY
 *    (2..4, only in old buckets being evacuated), or >= MIN_TOPHASH (live).
 *  - An empty slot's elem bytes are undefined: put zeroes the elem of a new
 *    key, where the caller's store follows on the same cache line, rather
 *    than delete (Go's mapdelete_fast* does not clear a pointer-free elem
 *    either), so a delete writes only the tophash and key lines.
 *  - count > 8 && count > 6.5 * 2^B never holds outside a growth: a put that
 *    would break it starts a growth (doubling), as does a put that finds too
 *    many overflow buckets (same-size growth, to compact the chains).
 *  - While growing, oldbuckets holds the previous array; old bucket i has
 *    moved ("evacuated") to new buckets i (X) and i + 2^oldB (Y) once its
 *    tophash[0] is an EVAC mark; every old bucket below nevacuate has moved.
 *    Each put or delete moves at most two old buckets (growWork); reads look
 *    in the old bucket when it has not moved yet.
 *  - Keys/elems larger than 128 bytes live in their own gort_malloc blocks,
 *    the slot holding a pointer.
 *
 * Memory: bucket arrays, overflow buckets and indirect keys/elems of a
 * manual map (gort_map_new) come from gort_malloc/gort_calloc. Go's GC
 * keeps a bucket array alive while an iterator uses it; here an array that
 * may still be read by an iterator (the map's iterator flags were set) is
 * not freed when its growth ends but kept on the map's "graveyard" list
 * until gort_map_free, and indirect keys deleted while iterators may run
 * are kept on a deferred list (an iterator re-looks-up keys of evacuated
 * slots). Without iteration nothing is kept.
 *
 * A collected map (gort_map_make_gc, flag T_GC) takes all of these from the
 * collected heap instead, typed by descriptors built per map shape
 * (map_gc.c), and frees nothing itself: an array or key the map drops stays
 * alive while an iterator (or anything else) still refers to it, so there is
 * no graveyard or deferred list. Only allocation and freeing test T_GC
 * (slow paths); lookups and inserts run the same code for both kinds. A
 * delete in a collected map whose slots hold pointers clears the slot (flag
 * CLEARDEL sends it out of line), and evacuation clears an old bucket's
 * keys and elems once no iterator can read them (Go's evacuate), so that
 * the collector does not keep what the map no longer holds.
 *
 * Threads: none; a map is used by one thread at a time (or read by many).
 * The WRITING flag detects concurrent misuse as Go does.
 *
 * Hashing: see hash section below and docs/map.md.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "gort/malloc.h"
#include "gort/map.h"
#include "internal.h"
#include "map_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MAP_HAVE_AES 1
#else
#define MAP_HAVE_AES 0
#endif

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define NOINLINE __attribute__((noinline))

/* ---------------------------------------------------------------- errors */

/* The inline paths' (gort/internal/map_inline.h) way to gort__fatal, which the libraries do
 * not export. Everything else here calls gort__fatal (the program's misuse:
 * concurrent writes, a nil map) or gort__throw (the map's own invariants). */
void gort__map_fatal(const char *msg) { gort__fatal(msg); }

/* ------------------------------------------------------------ allocation */

long gort__map_fail_countdown;

static ALWAYS_INLINE bool alloc_fails(void) {
    if (UNLIKELY(gort__map_fail_countdown > 0)) return --gort__map_fail_countdown == 0;
    return false;
}
/* ----------------------------------------------------------- randomness */

uint64_t gort__map_hash_secret[4]; /* process-wide secret keys for the hashes */
static int hash_ready;             /* 0: not yet; 1: ready (acquire/release) */
static int hash_aes;               /* AES-NI path in use */
#if MAP_HAVE_AES
static __m128i aes_keys[4];
#endif
static _Thread_local uint64_t rng_state;

static ALWAYS_INLINE uint64_t mix(uint64_t a, uint64_t b) {
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}
static ALWAYS_INLINE void mum(uint64_t *a, uint64_t *b) {
    __uint128_t r = (__uint128_t)*a * *b;
    *a = (uint64_t)r;
    *b = (uint64_t)(r >> 64);
}

static void fill_random(void *buf, size_t n) {
    uint8_t *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    if (got < n) { /* no getrandom: time, addresses and a counter, mixed */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)&ts ^
            (uint64_t)(uintptr_t)buf ^ ((uint64_t)getpid() << 16);
        for (size_t i = got; i < n; i++) {
            x += 0xa0761d6478bd642fULL;
            p[i] = (uint8_t)mix(x, x ^ 0xe7037ed1a0b428dbULL);
        }
    }
}

/* Per-thread wyrand stream, seeded from getrandom(2) on first use: cheap
 * randomness for map seeds, iteration starts and NaN hashes. */
static ALWAYS_INLINE uint64_t map_rand(void) {
    if (UNLIKELY(rng_state == 0)) {
        uint64_t s = 0;
        fill_random(&s, sizeof s);
        rng_state = s | 1;
    }
    rng_state += 0xa0761d6478bd642fULL;
    return mix(rng_state, rng_state ^ 0xe7037ed1a0b428dbULL);
}

static NOINLINE void hash_init_slow(void) {
    uint64_t k[4 + 8];
    fill_random(k, sizeof k);
    for (int i = 0; i < 4; i++) gort__map_hash_secret[i] = k[i] | 1; /* odd multipliers */
    int aes = 0;
#if MAP_HAVE_AES
    __builtin_cpu_init();
    aes = __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1");
    for (int i = 0; i < 4; i++) aes_keys[i] = _mm_set_epi64x((long long)k[4 + 2 * i], (long long)k[5 + 2 * i]);
#endif
    const char *env = getenv("GORT_MAP_NOAES"); /* tests: force the portable hash */
    if (env && env[0] == '1') aes = 0;
    hash_aes = aes;
    __atomic_store_n(&hash_ready, 1, __ATOMIC_RELEASE); /* racing inits write the same kind of values */
}
static ALWAYS_INLINE void hash_init(void) {
    if (UNLIKELY(!__atomic_load_n(&hash_ready, __ATOMIC_ACQUIRE))) hash_init_slow();
}

/* ---------------------------------------------------------------- hashing
 *
 * Two hashes, both keyed by the per-map seed and by process-wide secrets
 * drawn from getrandom(2) at first use:
 *  - byte strings: AES-NI when the CPU has AES and SSE4.1 (Go's aeshash
 *    design: seed scrambled with the secret key schedule, data xored in,
 *    three AES rounds per 16-byte lane); otherwise wyhash (final v4 layout)
 *    with secret multipliers.
 *  - 4/8-byte integers (the fast paths): wyhash's two-multiply 8-byte mix on
 *    every CPU; two 64x64->128 multiplies are cheaper than three AES rounds
 *    for one word and pass the avalanche and spread tests.
 */

static ALWAYS_INLINE uint64_t rd64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static ALWAYS_INLINE uint64_t rd32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Bytes 0..16 into two words, injectively for a given n, reading only [p, p+n). */
static ALWAYS_INLINE void load_small(const uint8_t *p, size_t n, uint64_t *lo, uint64_t *hi) {
    if (n >= 8) {
        *lo = rd64(p);
        *hi = rd64(p + n - 8);
    } else if (n >= 4) {
        *lo = rd32(p) | (rd32(p + n - 4) << 32);
        *hi = 0;
    } else if (n > 0) {
        *lo = ((uint64_t)p[0] << 16) | ((uint64_t)p[n >> 1] << 8) | p[n - 1];
        *hi = 0;
    } else {
        *lo = *hi = 0;
    }
}

/* The integer hash is gort__map_hash_word in gort/internal/map_inline.h (the inline fast paths use it). */
#define hash_word gort__map_hash_word

static uint64_t wy_hash(const uint8_t *p, size_t n, uint64_t seed) {
    const uint64_t *s = gort__map_hash_secret;
    seed ^= mix(seed ^ s[0], s[1]);
    uint64_t a, b;
    if (LIKELY(n <= 16)) {
        load_small(p, n, &a, &b);
    } else {
        size_t i = n;
        if (i > 48) {
            uint64_t s1 = seed, s2 = seed;
            do {
                seed = mix(rd64(p) ^ s[1], rd64(p + 8) ^ seed);
                s1 = mix(rd64(p + 16) ^ s[2], rd64(p + 24) ^ s1);
                s2 = mix(rd64(p + 32) ^ s[3], rd64(p + 40) ^ s2);
                p += 48;
                i -= 48;
            } while (i > 48);
            seed ^= s1 ^ s2;
        }
        while (i > 16) {
            seed = mix(rd64(p) ^ s[1], rd64(p + 8) ^ seed);
            i -= 16;
            p += 16;
        }
        a = rd64(p + i - 16);
        b = rd64(p + i - 8);
    }
    a ^= s[1];
    b ^= seed;
    mum(&a, &b);
    return mix(a ^ s[0] ^ n, b ^ s[1]);
}

#if MAP_HAVE_AES
#define AES_TARGET __attribute__((target("aes,sse4.1")))
static AES_TARGET ALWAYS_INLINE __m128i aes3(__m128i d, __m128i k) {
    d = _mm_aesenc_si128(d, k);
    d = _mm_aesenc_si128(d, d);
    return _mm_aesenc_si128(d, d);
}
static AES_TARGET ALWAYS_INLINE __m128i ld128(const uint8_t *p) {
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

static AES_TARGET NOINLINE uint64_t aes_hash(const uint8_t *p, size_t n, uint64_t seed) {
    __m128i sv = _mm_xor_si128(_mm_set_epi64x((long long)n, (long long)seed), aes_keys[0]);
    __m128i s0 = _mm_aesenc_si128(sv, sv);
    if (LIKELY(n <= 16)) {
        uint64_t lo, hi;
        load_small(p, n, &lo, &hi);
        __m128i d = _mm_xor_si128(_mm_set_epi64x((long long)hi, (long long)lo), s0);
        return (uint64_t)_mm_cvtsi128_si64(aes3(d, aes_keys[1]));
    }
    __m128i s1 = _mm_aesenc_si128(_mm_xor_si128(sv, aes_keys[1]), aes_keys[2]);
    if (n <= 32) {
        __m128i a = aes3(_mm_xor_si128(ld128(p), s0), aes_keys[1]);
        __m128i b = aes3(_mm_xor_si128(ld128(p + n - 16), s1), aes_keys[2]);
        return (uint64_t)_mm_cvtsi128_si64(_mm_xor_si128(a, b));
    }
    __m128i s2 = _mm_aesenc_si128(_mm_xor_si128(sv, aes_keys[2]), aes_keys[3]);
    __m128i s3 = _mm_aesenc_si128(_mm_xor_si128(sv, aes_keys[3]), aes_keys[0]);
    if (n <= 64) {
        __m128i a = aes3(_mm_xor_si128(ld128(p), s0), aes_keys[1]);
        __m128i b = aes3(_mm_xor_si128(ld128(p + 16), s1), aes_keys[2]);
        __m128i c = aes3(_mm_xor_si128(ld128(p + n - 32), s2), aes_keys[3]);
        __m128i d = aes3(_mm_xor_si128(ld128(p + n - 16), s3), aes_keys[0]);
        return (uint64_t)_mm_cvtsi128_si64(_mm_xor_si128(_mm_xor_si128(a, b), _mm_xor_si128(c, d)));
    }
    /* Start with the last (possibly overlapping) 64 bytes, then fold in each
     * 64-byte block from the start. */
    __m128i a = _mm_xor_si128(ld128(p + n - 64), s0), b = _mm_xor_si128(ld128(p + n - 48), s1);
    __m128i c = _mm_xor_si128(ld128(p + n - 32), s2), d = _mm_xor_si128(ld128(p + n - 16), s3);
    for (size_t blocks = (n - 1) / 64; blocks > 0; blocks--, p += 64) {
        a = _mm_aesenc_si128(_mm_aesenc_si128(a, a), ld128(p));
        b = _mm_aesenc_si128(_mm_aesenc_si128(b, b), ld128(p + 16));
        c = _mm_aesenc_si128(_mm_aesenc_si128(c, c), ld128(p + 32));
        d = _mm_aesenc_si128(_mm_aesenc_si128(d, d), ld128(p + 48));
    }
    a = aes3(a, aes_keys[1]);
    b = aes3(b, aes_keys[2]);
    c = aes3(c, aes_keys[3]);
    d = aes3(d, aes_keys[0]);
    return (uint64_t)_mm_cvtsi128_si64(_mm_xor_si128(_mm_xor_si128(a, b), _mm_xor_si128(c, d)));
}
#endif

static ALWAYS_INLINE uint64_t hash_bytes(const void *p, size_t n, uint64_t seed) {
#if MAP_HAVE_AES
    if (LIKELY(hash_aes)) return aes_hash(p, n, seed);
#endif
    return wy_hash(p, n, seed);
}

uint64_t gort_hash_bytes(const void *p, size_t n, uint64_t seed) {
    hash_init();
    return hash_bytes(p, n, seed);
}
uint64_t gort_hash_u32(const void *key, uint64_t seed) {
    hash_init();
    return hash_word(rd32(key), seed);
}
uint64_t gort_hash_u64(const void *key, uint64_t seed) {
    hash_init();
    return hash_word(rd64(key), seed);
}
uint64_t gort_hash_string(const void *key, uint64_t seed) {
    hash_init();
    const gort_string *s = key;
    return hash_bytes(s->ptr, s->len, seed);
}
uint64_t gort_hash_f64(const void *key, uint64_t seed) {
    hash_init();
    double f;
    memcpy(&f, key, sizeof f);
    if (f == 0) f = 0;                              /* +0 and -0 hash alike */
    if (f != f) return hash_word(map_rand(), seed); /* NaN: random, as Go */
    uint64_t bits;
    memcpy(&bits, &f, sizeof bits);
    return hash_word(bits, seed);
}
bool gort_equal_u32(const void *a, const void *b) { return rd32(a) == rd32(b); }
bool gort_equal_u64(const void *a, const void *b) { return rd64(a) == rd64(b); }
bool gort_equal_string(const void *a, const void *b) {
    const gort_string *x = a, *y = b;
    return x->len == y->len && (x->ptr == y->ptr || x->len == 0 || memcmp(x->ptr, y->ptr, x->len) == 0);
}
bool gort_equal_f64(const void *a, const void *b) {
    double x, y;
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    return x == y;
}
int gort__map_hash_uses_aes(void) {
    hash_init();
    return hash_aes;
}

/* ------------------------------------------------------------- the map */

enum { BUCKET_CNT = 8, MAX_INLINE = 128, IND_HDR = 16 };
enum { EMPTY_REST = 0, EMPTY_ONE = 1, EVAC_X = 2, EVAC_Y = 3, EVAC_EMPTY = 4, MIN_TOPHASH = 5 };
/* flags (Go's) */
enum {
    F_ITERATOR = GORT__MAP_F_ITERATOR,
    F_OLDITER = GORT__MAP_F_OLDITER,
    F_WRITING = GORT__MAP_F_WRITING,
    F_SAMESIZE = GORT__MAP_F_SAMESIZE,
    F_GROWING = GORT__MAP_F_GROWING
};
/* key kinds: the fast paths */
enum { K_GEN = GORT__MAP_K_GEN, K_32 = GORT__MAP_K_32, K_64 = GORT__MAP_K_64, K_STR = GORT__MAP_K_STR };
/* type flags */
enum {
    T_IKEY = 1,
    T_IELEM = 2,
    T_REFLEXIVE = 4,
    T_KEYUPDATE = 8,
    T_GC = 16,     /* a collected map: the header is a map_gc_header */
    T_GCCLEAR = 32 /* a collected map whose slots hold pointers: delete clears them */
};
enum { F_CLEARDEL = GORT__MAP_F_CLEARDEL };

typedef struct gort__map_grave {
    struct gort__map_grave *next;
    uint8_t *arr;
    size_t nmain, nalloc;
} map_grave;

_Static_assert(sizeof(struct gort_map) == 112, "the map header is 112 bytes");

/* A collected map's header: the map, then its interned types (map_gc.c). */
typedef struct map_gc_header {
    struct gort_map m;
    const gort__map_gctype *gt;
} map_gc_header;
/* Its pointer words: the arrays (next_overflow points into `buckets`).
 * graveyard and deferred stay NULL in a collected map; gt is not in the heap. */
#define HW_(f) (offsetof(struct gort_map, f) / 8)
_Static_assert(offsetof(struct gort_map, buckets) % 8 == 0 && offsetof(struct gort_map, oldbuckets) % 8 == 0 &&
                   offsetof(struct gort_map, next_overflow) % 8 == 0 && HW_(next_overflow) > HW_(oldbuckets) &&
                   HW_(oldbuckets) > HW_(buckets),
               "the map header's pointer words");
static const uint64_t gc_header_mask[1] = {((uint64_t)1 << HW_(buckets)) | ((uint64_t)1 << HW_(oldbuckets)) |
                                           ((uint64_t)1 << HW_(next_overflow))};
static const gort_type gc_header_type = {sizeof(map_gc_header), _Alignof(map_gc_header), HW_(next_overflow) + 1,
                                         gc_header_mask, "gort map"};
#undef HW_

static ALWAYS_INLINE bool is_gc(const gort_map *m) { return m->tflags & T_GC; }
static ALWAYS_INLINE const gort__map_gctype *gc_types(const gort_map *m) {
    return ((const map_gc_header *)(const void *)m)->gt;
}

/* Every block the map holds goes through these (fault injection). */
static void *map_malloc(gort_map *m, size_t n) {
    (void)m;
    return alloc_fails() ? NULL : gort_malloc(n);
}
/* n zeroed buckets: an array, or one overflow bucket. */
static ALWAYS_INLINE void *alloc_buckets(gort_map *m, size_t n) {
    if (alloc_fails()) return NULL;
    if (UNLIKELY(is_gc(m))) return gort_new_typed(&gc_types(m)->bucket, n);
    return gort_calloc(n, m->bucket_size);
}
/* A zeroed out-of-line elem. */
static void *alloc_ielem(gort_map *m) {
    if (alloc_fails()) return NULL;
    if (is_gc(m)) return gort_new_typed(&gc_types(m)->elem, 1);
    return gort_calloc(1, m->elem_size);
}
/* A collected map's blocks are never freed by the map: the paths that free
 * (free_array, retire_array, free_ikey, ...) return at once for one. */

static ALWAYS_INLINE uint8_t flags_load(const gort_map *m) { return __atomic_load_n(&m->flags, __ATOMIC_RELAXED); }
static ALWAYS_INLINE void flags_store(gort_map *m, uint8_t f) { __atomic_store_n(&m->flags, f, __ATOMIC_RELAXED); }

/* Sets WRITING, Go's `h.flags ^= hashWriting` after the check. */
static ALWAYS_INLINE void begin_write(gort_map *m) {
    uint8_t f = flags_load(m);
    if (UNLIKELY(f & F_WRITING)) gort__fatal("concurrent map writes");
    flags_store(m, f ^ F_WRITING);
}
static ALWAYS_INLINE void end_write(gort_map *m) {
    uint8_t f = flags_load(m);
    if (UNLIKELY(!(f & F_WRITING))) gort__fatal("concurrent map writes");
    flags_store(m, f & (uint8_t)~F_WRITING);
}

/* Matching a bucket's 8 tophash bytes at once: gort/internal/map_inline.h (SSE2, or SWAR). */
static ALWAYS_INLINE uint64_t th_word(const uint8_t *b) { return rd64(b); }
static ALWAYS_INLINE uint64_t match(uint64_t w, uint8_t top) { return gort__map_match(w, top); }
static ALWAYS_INLINE uint64_t match_empty(uint64_t w) { return gort__map_match_empty(w); }
static ALWAYS_INLINE bool has_empty_rest(uint64_t w) { return gort__map_match(w, EMPTY_REST) != 0; }
static ALWAYS_INLINE unsigned first_slot(uint64_t mask) { return gort__map_slot(mask); }
#define tophash gort__map_tophash
static ALWAYS_INLINE bool is_empty(uint8_t t) { return t <= EMPTY_ONE; }
static ALWAYS_INLINE bool evacuated(const uint8_t *b) { return b[0] > EMPTY_ONE && b[0] < MIN_TOPHASH; }

static ALWAYS_INLINE uint8_t *overflow(const gort_map *m, uint8_t *b) {
    uint8_t *o;
    memcpy(&o, b + m->bucket_size - sizeof o, sizeof o);
    return o;
}
static ALWAYS_INLINE void set_overflow(const gort_map *m, uint8_t *b, uint8_t *o) {
    memcpy(b + m->bucket_size - sizeof o, &o, sizeof o);
}

static ALWAYS_INLINE size_t kstride(const gort_map *m, int kind) {
    return kind == K_32 ? 4 : kind == K_64 ? 8 : kind == K_STR ? sizeof(gort_string) : m->key_stride;
}
static ALWAYS_INLINE uint8_t *key_at(const gort_map *m, uint8_t *b, size_t i, int kind) {
    return b + BUCKET_CNT + i * kstride(m, kind);
}
static ALWAYS_INLINE uint8_t *elem_at(const gort_map *m, uint8_t *b, size_t i, int kind) {
    return b + BUCKET_CNT + BUCKET_CNT * kstride(m, kind) + i * m->elem_stride;
}
static ALWAYS_INLINE void *deref_ptr(void *slot) {
    void *p;
    memcpy(&p, slot, sizeof p);
    return p;
}
/* The key's bytes of a stored slot. */
static ALWAYS_INLINE void *slot_key(const gort_map *m, uint8_t *k) { return (m->tflags & T_IKEY) ? deref_ptr(k) : k; }
static ALWAYS_INLINE void *slot_elem(const gort_map *m, uint8_t *e) {
    return UNLIKELY(m->tflags & T_IELEM) ? deref_ptr(e) : e;
}

static ALWAYS_INLINE uint64_t key_hash(const gort_map *m, const void *key, int kind) {
    switch (kind) {
    case K_32: return hash_word(rd32(key), m->seed);
    case K_64: return hash_word(rd64(key), m->seed);
    case K_STR: {
        const gort_string *s = key;
        return hash_bytes(s->ptr, s->len, m->seed);
    }
    default: return m->hash ? m->hash(key, m->seed) : hash_bytes(key, m->key_size, m->seed);
    }
}
/* key: the caller's key; stored: the slot's key bytes (already dereferenced). */
static ALWAYS_INLINE bool key_equal(const gort_map *m, const void *key, const void *stored, int kind) {
    switch (kind) {
    case K_32: return rd32(key) == rd32(stored);
    case K_64: return rd64(key) == rd64(stored);
    case K_STR: {
        const gort_string *a = key, *b = stored;
        return a->len == b->len && (a->ptr == b->ptr || a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0);
    }
    default: return m->equal ? m->equal(key, stored) : memcmp(key, stored, m->key_size) == 0;
    }
}

static ALWAYS_INLINE bool over_load_factor(size_t count, unsigned B) {
    return count > BUCKET_CNT && count > 13 * (((size_t)1 << B) / 2);
}
static ALWAYS_INLINE bool too_many_overflow(uint16_t noverflow, unsigned B) {
    if (B > 15) B = 15;
    return noverflow >= (uint16_t)((uint16_t)1 << (B & 15));
}
static ALWAYS_INLINE size_t noldbuckets(const gort_map *m) {
    unsigned oldB = m->B;
    if (!(flags_load(m) & F_SAMESIZE)) oldB--;
    return (size_t)1 << oldB;
}

static void new_seed(gort_map *m) { m->seed = map_rand(); }
void gort__map_reseed(gort_map *m) { new_seed(m); }

/* --------------------------------------------------------- bucket arrays */

/* Buckets in an array of 2^B: the header does not store it. */
static ALWAYS_INLINE size_t nalloc_for(unsigned B) {
    size_t n = (size_t)1 << B;
    if (B >= 4) n += (size_t)1 << (B - 4);
    return n;
}
static ALWAYS_INLINE size_t cur_nalloc(const gort_map *m) { return nalloc_for(m->B); }
static ALWAYS_INLINE size_t old_nalloc(const gort_map *m) {
    return nalloc_for(m->B - ((flags_load(m) & F_SAMESIZE) ? 0u : 1u));
}
static ALWAYS_INLINE uint8_t *prealloc_end(const gort_map *m) { return m->buckets + cur_nalloc(m) * m->bucket_size; }

/* 2^B buckets plus 2^(B-4) preallocated overflow buckets when B >= 4
 * (Go's makeBucketArray), zeroed. */
static uint8_t *make_array(gort_map *m, unsigned B, size_t *nalloc) {
    size_t n = nalloc_for(B);
    if (n > SIZE_MAX / m->bucket_size) return NULL;
    uint8_t *a = alloc_buckets(m, n);
    if (a) *nalloc = n;
    return a;
}
static void install_array(gort_map *m, uint8_t *a, unsigned B, size_t nalloc) {
    size_t nmain = (size_t)1 << B;
    m->buckets = a;
    m->B = (uint8_t)B;
    m->bmask = ((size_t)1 << B) - 1;
    m->next_overflow = nalloc > nmain ? a + nmain * m->bucket_size : NULL;
}

/* Frees an array and its overflow buckets that were not preallocated in it. */
static void free_chains(gort_map *m, uint8_t *a, size_t nmain, size_t nalloc) {
    uintptr_t lo = (uintptr_t)a, hi = lo + nalloc * m->bucket_size;
    for (size_t i = 0; i < nmain; i++) {
        uint8_t *o = overflow(m, a + i * m->bucket_size);
        while (o) {
            uint8_t *next = overflow(m, o);
            if ((uintptr_t)o < lo || (uintptr_t)o >= hi) gort_free(o);
            o = next;
        }
    }
}
static void free_array(gort_map *m, uint8_t *a, size_t nmain, size_t nalloc) {
    if (is_gc(m)) return;
    free_chains(m, a, nmain, nalloc);
    gort_free(a);
}

/* Every overflow bucket of the current array came from its preallocated
 * tail: new_overflow allocates outside it only once next_overflow has
 * reached the end, and it never moves back past a point it had reached.
 * Then freeing or clearing the array need not read its buckets (a map made
 * with a big hint holds mostly pages the OS never backed). */
static bool chains_inside(const gort_map *m) { return m->next_overflow && m->next_overflow < prealloc_end(m); }
static void free_current(gort_map *m) {
    if (is_gc(m)) return;
    if (chains_inside(m)) gort_free(m->buckets);
    else free_array(m, m->buckets, (size_t)1 << m->B, cur_nalloc(m));
}

/* An array the map no longer uses: freed, or kept while iterators may read it. */
static void retire_array(gort_map *m, uint8_t *a, size_t nmain, size_t nalloc) {
    if (is_gc(m)) return; /* iterators keep it alive as long as they need it */
    if (flags_load(m) & (F_ITERATOR | F_OLDITER)) {
        map_grave *g = map_malloc(m, sizeof *g);
        if (g) { /* out of memory: leak the array rather than free it under an iterator */
            g->arr = a;
            g->nmain = nmain;
            g->nalloc = nalloc;
            g->next = m->graveyard;
            m->graveyard = g;
        }
        return;
    }
    free_array(m, a, nmain, nalloc);
}

static void incr_noverflow(gort_map *m) {
    if (m->B < 16) {
        m->noverflow++;
        return;
    }
    uint64_t mask = ((uint64_t)1 << (m->B - 15)) - 1;
    if ((map_rand() & mask) == 0) m->noverflow++;
}

/* A zeroed overflow bucket chained after b (Go's newoverflow), or NULL. */
static NOINLINE uint8_t *new_overflow(gort_map *m, uint8_t *b) {
    uint8_t *o;
    if (m->next_overflow && m->next_overflow < prealloc_end(m)) {
        o = m->next_overflow;
        m->next_overflow += m->bucket_size;
    } else {
        o = alloc_buckets(m, 1);
        if (!o) return NULL;
    }
    incr_noverflow(m);
    set_overflow(m, b, o);
    return o;
}

/* Indirect keys: a block of IND_HDR + key_size bytes; the header links the
 * block on the deferred list. A collected map's key block is the key alone. */
static void *alloc_ikey(gort_map *m) {
    if (is_gc(m)) return alloc_fails() ? NULL : gort_new_typed(&gc_types(m)->key, 1);
    uint8_t *blk = map_malloc(m, IND_HDR + m->key_size);
    return blk ? blk + IND_HDR : NULL;
}
static ALWAYS_INLINE void *ikey_block(const gort_map *m, void *k) { return is_gc(m) ? k : (uint8_t *)k - IND_HDR; }
static void free_ikey(gort_map *m, void *k, bool defer) {
    if (is_gc(m)) return;
    uint8_t *blk = (uint8_t *)k - IND_HDR;
    if (defer) {
        memcpy(blk, &m->deferred, sizeof m->deferred);
        m->deferred = blk;
    } else {
        gort_free(blk);
    }
}
static void free_deferred(gort_map *m) {
    uint8_t *blk = m->deferred;
    while (blk) {
        uint8_t *next;
        memcpy(&next, blk, sizeof next);
        gort_free(blk);
        blk = next;
    }
    m->deferred = NULL;
}

/* --------------------------------------------------------------- growth */

static void advance_evacuation_mark(gort_map *m, size_t newbit) {
    m->nevacuate++;
    size_t stop = m->nevacuate + 1024;
    if (stop > newbit) stop = newbit;
    while (m->nevacuate != stop && evacuated(m->oldbuckets + m->nevacuate * m->bucket_size)) m->nevacuate++;
    if (m->nevacuate == newbit) {
        uint8_t *old = m->oldbuckets;
        bool samesize = flags_load(m) & F_SAMESIZE;
        m->oldbuckets = NULL;
        flags_store(m, flags_load(m) & (uint8_t) ~(F_SAMESIZE | F_GROWING));
        retire_array(m, old, newbit, nalloc_for(m->B - (samesize ? 0u : 1u)));
    }
}

typedef struct evac_dst {
    uint8_t *b;
    unsigned i;
} evac_dst;

enum { RESV_STACK = 16 };

/* Moves old bucket `oldbucket` (and its chain) to its X/Y buckets. The
 * overflow buckets it may need are reserved first, so that running out of
 * memory leaves the bucket unmoved: returns false then. */
static ALWAYS_INLINE void copy_elem(const gort_map *m, void *dst, const void *src) {
    switch (m->elem_stride) {
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    case 16: memcpy(dst, src, 16); break;
    default: memcpy(dst, src, m->elem_stride); break;
    }
}

/* gc (a constant): a collected map's instantiation; a manual map's has no
 * trace of collected maps (measured: testing for them here cost 1% of
 * evacuate's instructions). */
static ALWAYS_INLINE bool evacuate_k(gort_map *m, size_t oldbucket, const int kind, const bool gc) {
    const size_t bsz = m->bucket_size;
    uint8_t *b = m->oldbuckets + oldbucket * bsz;
    size_t newbit = noldbuckets(m);
    if (!evacuated(b)) {
        uint8_t *resv_stack[RESV_STACK], **resv = resv_stack;
        size_t nresv = 0, nmalloc = 0, used = 0, npre = 0;
        if (overflow(m, b)) {
            size_t n = 0;
            for (uint8_t *c = b; c; c = overflow(m, c))
                for (int i = 0; i < BUCKET_CNT; i++) n += c[i] >= MIN_TOPHASH;
            nresv = n > BUCKET_CNT ? (n + BUCKET_CNT - 1) / BUCKET_CNT - 1 : 0;
            if (nresv > 0) {
                if (m->next_overflow) {
                    size_t avail = (size_t)(prealloc_end(m) - m->next_overflow) / bsz;
                    npre = avail < nresv ? avail : nresv;
                }
                nmalloc = nresv - npre;
                if (nmalloc > RESV_STACK) {
                    /* a collected map's reserved buckets must be seen by
                     * the collections their allocations may start */
                    resv = alloc_fails() ? NULL
                        : gc             ? gort_malloc_scanned(nmalloc * sizeof *resv)
                                         : gort_malloc(nmalloc * sizeof *resv);
                    if (!resv) return false;
                }
                for (size_t j = 0; j < nmalloc; j++) {
                    resv[j] = alloc_fails() ? NULL : gc ? gort_new_typed(&gc_types(m)->bucket, 1) : gort_calloc(1, bsz);
                    if (!resv[j]) {
                        while (j > 0 && !gc) gort_free(resv[--j]);
                        if (resv != resv_stack) gort_free(resv);
                        return false;
                    }
                }
                if (npre) m->next_overflow += npre * bsz; /* taken: [next - npre*bsz, next) */
            }
        }
        uint8_t *pre0 = m->next_overflow ? m->next_overflow - npre * bsz : NULL;
        bool same = flags_load(m) & F_SAMESIZE;
        evac_dst xy[2] = {{m->buckets + oldbucket * bsz, 0}, {NULL, 0}};
        if (!same) xy[1].b = m->buckets + (oldbucket + newbit) * bsz;
        bool iter = flags_load(m) & F_ITERATOR;
        for (; b; b = overflow(m, b)) {
            for (unsigned i = 0; i < BUCKET_CNT; i++) {
                uint8_t top = b[i];
                if (is_empty(top)) {
                    b[i] = EVAC_EMPTY;
                    continue;
                }
                if (UNLIKELY(top < MIN_TOPHASH)) gort__throw("bad map state");
                uint8_t *k = key_at(m, b, i, kind);
                void *k2 = kind == K_GEN ? slot_key(m, k) : k;
                unsigned useY = 0;
                if (!same) {
                    uint64_t h = key_hash(m, k2, kind);
                    if (iter && !(m->tflags & T_REFLEXIVE) && !m->equal(k2, k2)) {
                        /* NaN-like key: a repeatable choice, from the old tophash */
                        useY = top & 1;
                        top = tophash(h);
                    } else {
                        useY = (h & newbit) != 0;
                    }
                }
                b[i] = (uint8_t)(EVAC_X + useY);
                evac_dst *dst = &xy[useY];
                if (dst->i == BUCKET_CNT) {
                    uint8_t *o;
                    if (used < npre) o = pre0 + used * bsz;
                    else if (used - npre < nmalloc) o = resv[used - npre];
                    else gort__throw("map evacuation reservation exceeded");
                    used++;
                    incr_noverflow(m);
                    set_overflow(m, dst->b, o);
                    dst->b = o;
                    dst->i = 0;
                }
                dst->b[dst->i] = top;
                memcpy(key_at(m, dst->b, dst->i, kind), k, kstride(m, kind));
                copy_elem(m, elem_at(m, dst->b, dst->i, kind), elem_at(m, b, i, kind));
                dst->i++;
            }
        }
        if (nresv > 0) { /* give back what was not needed */
            if (used < npre) {
                m->next_overflow -= (npre - used) * bsz;
                for (size_t j = 0; j < nmalloc && !gc; j++) gort_free(resv[j]);
            } else {
                for (size_t j = used - npre; j < nmalloc && !gc; j++) gort_free(resv[j]);
            }
            if (resv != resv_stack) gort_free(resv);
        }
        /* A collected map whose slots hold pointers (CLEARDEL): unlink the
         * old bucket's chain and clear its keys and elems (its tophash keeps
         * the evacuation marks) unless an iterator may still read it (Go's
         * evacuate). A pointer-free map's old chain goes with its array. */
        if (gc && (m->tflags & T_GCCLEAR) && !(flags_load(m) & F_OLDITER))
            memset(m->oldbuckets + oldbucket * bsz + BUCKET_CNT, 0, bsz - BUCKET_CNT);
    }
    if (oldbucket == m->nevacuate) advance_evacuation_mark(m, newbit);
    return true;
}

static NOINLINE bool evacuate_gc(gort_map *m, size_t oldbucket) {
    switch (m->kind) {
    case K_32: return evacuate_k(m, oldbucket, K_32, true);
    case K_64: return evacuate_k(m, oldbucket, K_64, true);
    case K_STR: return evacuate_k(m, oldbucket, K_STR, true);
    default: return evacuate_k(m, oldbucket, K_GEN, true);
    }
}
/* One function per key kind, called by the put and delete of that kind
 * (their kind is the map's): the kind needs no dispatch, and the test for a
 * collected map takes its place. */
#define EVACUATE_FN(NAME, KIND) \
    static NOINLINE bool NAME(gort_map *m, size_t oldbucket) { return evacuate_k(m, oldbucket, KIND, false); }
EVACUATE_FN(evacuate_32, K_32)
EVACUATE_FN(evacuate_64, K_64)
EVACUATE_FN(evacuate_str, K_STR)
EVACUATE_FN(evacuate_gen, K_GEN)
#undef EVACUATE_FN
static ALWAYS_INLINE bool evacuate(gort_map *m, size_t oldbucket, const int kind) {
    if (UNLIKELY(is_gc(m))) return evacuate_gc(m, oldbucket);
    switch (kind) {
    case K_32: return evacuate_32(m, oldbucket);
    case K_64: return evacuate_64(m, oldbucket);
    case K_STR: return evacuate_str(m, oldbucket);
    default: return evacuate_gen(m, oldbucket);
    }
}

/* Go's growWork: the old bucket of `bucket`, then one more. */
static ALWAYS_INLINE bool grow_work(gort_map *m, size_t bucket, const int kind) {
    size_t oldmask = noldbuckets(m) - 1;
    if (!evacuate(m, bucket & oldmask, kind)) return false;
    if (m->oldbuckets && !evacuate(m, m->nevacuate, kind)) return false;
    return true;
}

/* Go's hashGrow: starts a doubling (or same-size) growth; false when out of memory. */
static NOINLINE bool hash_grow(gort_map *m) {
    unsigned bigger = 1;
    bool samesize = false;
    if (!over_load_factor(m->count + 1, m->B)) {
        bigger = 0;
        samesize = true;
    }
    size_t nalloc;
    uint8_t *a = make_array(m, m->B + bigger, &nalloc);
    if (!a) return false;
    uint8_t f = flags_load(m);
    uint8_t nf = f & (uint8_t) ~(F_ITERATOR | F_OLDITER);
    if (f & F_ITERATOR) nf |= F_OLDITER;
    if (samesize) nf |= F_SAMESIZE;
    nf |= F_GROWING;
    flags_store(m, nf);
    m->oldbuckets = m->buckets;
    install_array(m, a, m->B + bigger, nalloc);
    m->nevacuate = 0;
    m->noverflow = 0;
    return true;
}

/* ---------------------------------------------------------------- lookup */

/* The bucket to search for hash h: the old one while it has not moved. */
static ALWAYS_INLINE uint8_t *bucket_for(const gort_map *m, uint64_t h) {
    size_t mask = ((size_t)1 << m->B) - 1;
    uint8_t *b = m->buckets + (h & mask) * m->bucket_size;
    uint8_t *ob = m->oldbuckets;
    if (UNLIKELY(ob != NULL)) {
        if (!(flags_load(m) & F_SAMESIZE)) mask >>= 1;
        uint8_t *o = ob + (h & mask) * m->bucket_size;
        if (!evacuated(o)) b = o;
    }
    return b;
}

/* Finds key: returns its bucket and sets *slot, or NULL. */
static ALWAYS_INLINE uint8_t *find(const gort_map *m, const void *key, uint64_t h, int kind, unsigned *slot) {
    uint8_t *b = bucket_for(m, h);
    const uint8_t top = tophash(h);
    do {
        uint64_t w = th_word(b);
        uint64_t mm = match(w, top);
        while (mm) {
            unsigned i = first_slot(mm);
            uint8_t *k = key_at(m, b, i, kind);
            if (LIKELY(key_equal(m, key, kind == K_GEN ? slot_key(m, k) : k, kind))) {
                *slot = i;
                return b;
            }
            mm &= mm - 1;
        }
        if (has_empty_rest(w)) return NULL; /* an emptyRest slot: the chain ends here */
        b = overflow(m, b);
    } while (b);
    return NULL;
}

static ALWAYS_INLINE void *map_get(gort_map *m, const void *key, int kind) {
    if (m == NULL || m->count == 0) return NULL;
    if (UNLIKELY(flags_load(m) & F_WRITING)) gort__fatal("concurrent map read and map write");
    uint64_t h = key_hash(m, key, kind);
    unsigned i;
    uint8_t *b = find(m, key, h, kind, &i);
    return b ? slot_elem(m, elem_at(m, b, i, kind)) : NULL;
}

/* ---------------------------------------------------------------- assign */

static ALWAYS_INLINE void store_key(const gort_map *m, uint8_t *dst, const void *key, int kind) {
    switch (kind) {
    case K_32: memcpy(dst, key, 4); break;
    case K_64: memcpy(dst, key, 8); break;
    case K_STR: memcpy(dst, key, sizeof(gort_string)); break;
    default: memcpy(dst, key, m->key_size); break;
    }
}

static ALWAYS_INLINE void *map_put(gort_map *m, const void *key, int kind) {
    if (UNLIKELY(m == NULL)) gort__fatal("assignment to entry in nil map");
    if (UNLIKELY(flags_load(m) & F_WRITING)) gort__fatal("concurrent map writes");
    uint64_t h = key_hash(m, key, kind);
    begin_write(m);
    void *elem = NULL;
    if (UNLIKELY(m->buckets == NULL)) {
        size_t nalloc;
        uint8_t *a = make_array(m, 0, &nalloc);
        if (!a) goto out;
        install_array(m, a, 0, nalloc);
    }
    const uint8_t top = tophash(h);
again:;
    size_t bucket = h & (((size_t)1 << m->B) - 1);
    if (UNLIKELY(m->oldbuckets != NULL) && !grow_work(m, bucket, kind)) goto out;
    uint8_t *b = m->buckets + bucket * m->bucket_size;
    uint8_t *insb = NULL;
    unsigned insi = 0;
    for (;;) {
        uint64_t w = th_word(b);
        uint64_t mm = match(w, top);
        while (mm) {
            unsigned i = first_slot(mm);
            uint8_t *k = key_at(m, b, i, kind);
            void *sk = kind == K_GEN ? slot_key(m, k) : k;
            if (LIKELY(key_equal(m, key, sk, kind))) {
                if (kind == K_STR || (kind == K_GEN && (m->tflags & T_KEYUPDATE))) store_key(m, sk, key, kind);
                elem = slot_elem(m, elem_at(m, b, i, kind));
                goto out;
            }
            mm &= mm - 1;
        }
        if (insb == NULL) {
            uint64_t e = match_empty(w); /* EMPTY_REST or EMPTY_ONE */
            if (e) {
                insb = b;
                insi = first_slot(e);
            }
        }
        if (has_empty_rest(w)) break;
        uint8_t *o = overflow(m, b);
        if (!o) break;
        b = o;
    }
    /* New key. Grow if over the load factor or too many overflow buckets;
     * growing invalidates everything, so search again. */
    if (m->oldbuckets == NULL && (over_load_factor(m->count + 1, m->B) || too_many_overflow(m->noverflow, m->B))) {
        if (hash_grow(m)) goto again;
        /* out of memory: insert without growing if a slot is free */
    }
    if (insb == NULL) {
        insb = new_overflow(m, b);
        if (!insb) goto out;
        insi = 0;
    }
    uint8_t *kslot = key_at(m, insb, insi, kind);
    uint8_t *eslot = elem_at(m, insb, insi, kind);
    if (kind == K_GEN && UNLIKELY(m->tflags & (T_IKEY | T_IELEM))) {
        void *ik = NULL, *ie = NULL;
        if (m->tflags & T_IKEY) {
            ik = alloc_ikey(m);
            if (!ik) goto out;
        }
        if (m->tflags & T_IELEM) {
            ie = alloc_ielem(m);
            if (!ie) {
                if (ik) free_ikey(m, ik, false);
                goto out;
            }
            memcpy(eslot, &ie, sizeof ie);
        }
        if (ik) {
            memcpy(kslot, &ik, sizeof ik);
            kslot = ik;
        }
    } else if (kind != K_GEN && UNLIKELY(m->tflags & T_IELEM)) {
        void *ie = alloc_ielem(m);
        if (!ie) goto out;
        memcpy(eslot, &ie, sizeof ie);
    }
    if (!(m->tflags & T_IELEM)) {
        switch (m->elem_stride) { /* a new key's elem is zero */
        case 0: break;
        case 4: memset(eslot, 0, 4); break;
        case 8: memset(eslot, 0, 8); break;
        default: memset(eslot, 0, m->elem_stride); break;
        }
    }
    store_key(m, kslot, key, kind);
    insb[insi] = top;
    m->count++;
    elem = slot_elem(m, eslot);
out:
    end_write(m);
    return elem;
}

/* ---------------------------------------------------------------- delete */

static ALWAYS_INLINE bool map_delete(gort_map *m, const void *key, int kind) {
    if (m == NULL || m->count == 0) return false;
    if (UNLIKELY(flags_load(m) & F_WRITING)) gort__fatal("concurrent map writes");
    uint64_t h = key_hash(m, key, kind);
    begin_write(m);
    bool found = false;
    uint8_t *b;
    if (UNLIKELY(m->oldbuckets != NULL)) {
        size_t bucket = h & (((size_t)1 << m->B) - 1);
        grow_work(m, bucket, kind); /* out of memory: delete in the old bucket instead */
        b = bucket_for(m, h);
    } else {
        b = m->buckets + (h & (((size_t)1 << m->B) - 1)) * m->bucket_size;
    }
    uint8_t *borig = b;
    unsigned i = 0;
    const uint8_t top = tophash(h);
    for (; b; b = overflow(m, b)) {
        uint64_t w = th_word(b);
        uint64_t mm = match(w, top);
        while (mm) {
            i = first_slot(mm);
            uint8_t *k = key_at(m, b, i, kind);
            if (key_equal(m, key, kind == K_GEN ? slot_key(m, k) : k, kind)) {
                found = true;
                goto found;
            }
            mm &= mm - 1;
        }
        if (has_empty_rest(w)) break;
    }
    goto out;
found:;
    uint8_t *k = key_at(m, b, i, kind);
    uint8_t *e = elem_at(m, b, i, kind);
    if (kind == K_GEN && (m->tflags & T_IKEY)) {
        /* an iterator may still look this key up through an evacuated slot */
        bool defer = (flags_load(m) & (F_ITERATOR | F_OLDITER)) || m->graveyard != NULL;
        free_ikey(m, deref_ptr(k), defer);
        memset(k, 0, sizeof(void *));
    }
    if (UNLIKELY(m->tflags & (T_IELEM | T_GCCLEAR))) {
        if (m->tflags & T_GCCLEAR) { /* a collected map: drop what the slot refers to */
            memset(k, 0, kstride(m, kind));
            memset(e, 0, m->elem_stride);
        } else {
            gort_free(deref_ptr(e));
            memset(e, 0, sizeof(void *));
        }
    }
    b[i] = EMPTY_ONE;
    /* If the chain now ends in EMPTY_ONEs, turn them into EMPTY_REST. */
    if (i == BUCKET_CNT - 1) {
        uint8_t *o = overflow(m, b);
        if (o && o[0] != EMPTY_REST) goto not_last;
    } else if (b[i + 1] != EMPTY_REST) {
        goto not_last;
    }
    for (;;) {
        b[i] = EMPTY_REST;
        if (i == 0) {
            if (b == borig) break;
            uint8_t *c = b;
            for (b = borig; overflow(m, b) != c; b = overflow(m, b)) {}
            i = BUCKET_CNT - 1;
        } else {
            i--;
        }
        if (b[i] != EMPTY_ONE) break;
    }
not_last:
    m->count--;
    if (m->count == 0) new_seed(m); /* reset the seed: harder to find repeated collisions */
out:
    end_write(m);
    return found;
}

/* ------------------------------------------------------------ public API */

/* Fills a zeroed header from t (sizes checked): kind, layout, seed. */
static void map_setup(gort_map *m, const gort_maptype *t) {
    m->key_size = (uint32_t)t->key_size;
    m->elem_size = (uint32_t)t->elem_size;
    m->hash = t->hash;
    m->equal = t->equal;
    bool bytes_hash = t->hash == NULL, bytes_eq = t->equal == NULL;
    if (t->key_size == 4 && (bytes_hash || t->hash == gort_hash_u32) && (bytes_eq || t->equal == gort_equal_u32))
        m->kind = K_32;
    else if (t->key_size == 8 && (bytes_hash || t->hash == gort_hash_u64) && (bytes_eq || t->equal == gort_equal_u64))
        m->kind = K_64;
    else if (t->key_size == sizeof(gort_string) && t->hash == gort_hash_string && t->equal == gort_equal_string)
        m->kind = K_STR;
    else m->kind = K_GEN;
    uint8_t tf = 0;
    if (t->key_size > MAX_INLINE) tf |= T_IKEY;
    if (t->elem_size > MAX_INLINE) tf |= T_IELEM;
    if (bytes_eq || t->equal == gort_equal_u32 || t->equal == gort_equal_u64 || t->equal == gort_equal_string)
        tf |= T_REFLEXIVE;
    else tf |= T_KEYUPDATE; /* custom equality (floats, ...): equal keys may differ, keep the latest */
    m->tflags = tf;
    m->key_stride = (tf & T_IKEY) ? sizeof(void *) : t->key_size;
    m->elem_stride = (tf & T_IELEM) ? sizeof(void *) : t->elem_size;
    m->elem_off = BUCKET_CNT + BUCKET_CNT * m->key_stride;
    m->bucket_size = m->elem_off + BUCKET_CNT * m->elem_stride;
    m->bucket_size = (m->bucket_size + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
    m->bucket_size += sizeof(void *);
    new_seed(m);
}

/* Go's makemap: a hint whose buckets cannot be allocated acts as 0. */
static unsigned hint_B(const gort_map *m, size_t hint) {
    if (hint > ((size_t)1 << 48) / m->bucket_size) hint = 0;
    unsigned B = 0;
    while (over_load_factor(hint, B)) B++;
    return B;
}

/* The bucket array a size hint asks for, made and installed (none for a small
 * hint); false when it cannot be allocated. */
static bool presize(gort_map *m, size_t hint) {
    unsigned B = hint_B(m, hint);
    if (B == 0) return true;
    size_t nalloc;
    uint8_t *a = make_array(m, B, &nalloc);
    if (!a) return false;
    install_array(m, a, B, nalloc);
    return true;
}

gort_map *gort_map_new(const gort_maptype *t, size_t hint) {
    if (t == NULL || t->key_size > UINT32_MAX || t->elem_size > UINT32_MAX) {
        errno = EINVAL;
        return NULL;
    }
    hash_init();
    gort_map *m = alloc_fails() ? NULL : gort_calloc(1, sizeof *m);
    if (!m) return NULL;
    map_setup(m, t);
    if (!presize(m, hint)) {
        gort_free(m);
        return NULL;
    }
    return m;
}

gort_map *gort_map_make_gc(const gort_maptype *t, size_t hint) {
    if (t == NULL) gort__fatal("gort_map_make_gc: NULL map type");
    if (t->key_size > UINT32_MAX || t->elem_size > UINT32_MAX)
        gort__fatal("gort_map_make_gc: a key or elem size above UINT32_MAX");
    hash_init();
    gort_map tmp = {0};
    map_setup(&tmp, t);
    /* the types first: a bad one is reported before anything is allocated */
    const gort__map_gctype *gt = gort__map_gctype_get(t, tmp.bucket_size, tmp.key_stride, tmp.elem_stride,
                                                      (tmp.tflags & T_IKEY) != 0, (tmp.tflags & T_IELEM) != 0);
    map_gc_header *h = alloc_fails() ? NULL : gort_new_typed(&gc_header_type, 1);
    if (!h) {
        errno = ENOMEM;
        return NULL;
    }
    gort_map *m = &h->m;
    memcpy(m, &tmp, sizeof tmp);
    h->gt = gt;
    m->tflags |= T_GC;
    if (gt->slot_ptrs) {
        m->tflags |= T_GCCLEAR;
        flags_store(m, F_CLEARDEL);
    }
    if (!presize(m, hint)) {
        errno = ENOMEM;
        return NULL; /* the collector frees the header */
    }
    return m;
}

void *gort_map_get(gort_map *m, const void *key) {
    if (m == NULL) return NULL;
    switch (m->kind) {
    case K_32: return map_get(m, key, K_32);
    case K_64: return map_get(m, key, K_64);
    case K_STR: return map_get(m, key, K_STR);
    default: return map_get(m, key, K_GEN);
    }
}
void *gort_map_put(gort_map *m, const void *key) {
    if (m == NULL) gort__fatal("assignment to entry in nil map");
    switch (m->kind) {
    case K_32: return map_put(m, key, K_32);
    case K_64: return map_put(m, key, K_64);
    case K_STR: return map_put(m, key, K_STR);
    default: return map_put(m, key, K_GEN);
    }
}
bool gort_map_delete(gort_map *m, const void *key) {
    if (m == NULL) return false;
    switch (m->kind) {
    case K_32: return map_delete(m, key, K_32);
    case K_64: return map_delete(m, key, K_64);
    case K_STR: return map_delete(m, key, K_STR);
    default: return map_delete(m, key, K_GEN);
    }
}

#define FAST_PATHS(SUF, KT, KIND)                                                    \
    void *gort_map_get_##SUF(gort_map *m, KT key) {                                  \
        if (UNLIKELY(m == NULL || m->kind != KIND)) return gort_map_get(m, &key);    \
        return map_get(m, &key, KIND);                                               \
    }                                                                                \
    void *gort_map_put_##SUF(gort_map *m, KT key) {                                  \
        if (UNLIKELY(m == NULL || m->kind != KIND)) return gort_map_put(m, &key);    \
        return map_put(m, &key, KIND);                                               \
    }                                                                                \
    bool gort_map_delete_##SUF(gort_map *m, KT key) {                                \
        if (UNLIKELY(m == NULL || m->kind != KIND)) return gort_map_delete(m, &key); \
        return map_delete(m, &key, KIND);                                            \
    }
FAST_PATHS(u32, uint32_t, K_32)
FAST_PATHS(u64, uint64_t, K_64)
FAST_PATHS(str, gort_string, K_STR)

size_t gort_map_len(const gort_map *m) { return m ? m->count : 0; }

/* Usable bytes of an array and of its overflow buckets not preallocated in it. */
static size_t array_memory(const gort_map *m, uint8_t *a, size_t nmain, size_t nalloc) {
    size_t n = gort_usable_size(a);
    uintptr_t lo = (uintptr_t)a, hi = lo + nalloc * m->bucket_size;
    for (size_t i = 0; i < nmain; i++)
        for (uint8_t *o = overflow(m, a + i * m->bucket_size); o; o = overflow(m, o))
            if ((uintptr_t)o < lo || (uintptr_t)o >= hi) n += gort_usable_size(o);
    return n;
}
/* Usable bytes of the out-of-line keys and elems of the live entries of an array. */
static size_t indirect_memory(const gort_map *m, uint8_t *arr, size_t nmain) {
    size_t n = 0;
    for (size_t j = 0; j < nmain; j++)
        for (uint8_t *b = arr + j * m->bucket_size; b; b = overflow(m, b))
            for (unsigned i = 0; i < BUCKET_CNT; i++) {
                if (b[i] < MIN_TOPHASH) continue;
                if (m->tflags & T_IKEY) n += gort_usable_size(ikey_block(m, deref_ptr(key_at(m, b, i, K_GEN))));
                if (m->tflags & T_IELEM) n += gort_usable_size(deref_ptr(elem_at(m, b, i, K_GEN)));
            }
    return n;
}

/* Computed by walking the map (the header keeps no byte count: it is on no
 * hot path, and the header stays small). */
size_t gort_map_memory(const gort_map *m) {
    if (m == NULL) return 0;
    size_t n = gort_usable_size((void *)m);
    if (m->buckets) {
        n += array_memory(m, m->buckets, (size_t)1 << m->B, cur_nalloc(m));
        if (m->tflags & (T_IKEY | T_IELEM)) n += indirect_memory(m, m->buckets, (size_t)1 << m->B);
    }
    if (m->oldbuckets) {
        n += array_memory(m, m->oldbuckets, noldbuckets(m), old_nalloc(m));
        if (m->tflags & (T_IKEY | T_IELEM)) n += indirect_memory(m, m->oldbuckets, noldbuckets(m));
    }
    for (map_grave *g = m->graveyard; g; g = g->next)
        n += gort_usable_size(g) + array_memory(m, g->arr, g->nmain, g->nalloc);
    for (uint8_t *blk = m->deferred; blk;) {
        n += gort_usable_size(blk);
        uint8_t *next;
        memcpy(&next, blk, sizeof next); /* the blocks are linked through their first word */
        blk = next;
    }
    return n;
}

/* Frees the out-of-line keys and elems of every live entry. */
static void free_indirect_live(gort_map *m) {
    if (!(m->tflags & (T_IKEY | T_IELEM)) || is_gc(m) || m->buckets == NULL || m->count == 0) return;
    for (int pass = 0; pass < 2; pass++) {
        uint8_t *arr = pass == 0 ? m->buckets : m->oldbuckets;
        if (!arr) continue;
        size_t n = pass == 0 ? (size_t)1 << m->B : noldbuckets(m);
        for (size_t j = 0; j < n; j++) {
            for (uint8_t *b = arr + j * m->bucket_size; b; b = overflow(m, b)) {
                for (unsigned i = 0; i < BUCKET_CNT; i++) {
                    if (b[i] < MIN_TOPHASH) continue;
                    if (m->tflags & T_IKEY) free_ikey(m, deref_ptr(key_at(m, b, i, K_GEN)), false);
                    if (m->tflags & T_IELEM) gort_free(deref_ptr(elem_at(m, b, i, K_GEN)));
                }
            }
        }
    }
}

static void mark_all_empty(gort_map *m, uint8_t *arr, size_t nmain) {
    for (size_t j = 0; j < nmain; j++)
        for (uint8_t *b = arr + j * m->bucket_size; b; b = overflow(m, b)) memset(b, EMPTY_REST, BUCKET_CNT);
}

/* Arrays this big are replaced on clear rather than memset: the size from
 * which calloc gives pages back with MADV_DONTNEED (src/pageheap.c). */
#define CLEAR_REALLOC_MIN ((size_t)256 << 20)

void gort_map_clear(gort_map *m) {
    if (m == NULL) return;
    begin_write(m);
    m->clearseq++; /* iterators begun before stop producing old arrays' entries */
    free_indirect_live(m);
    uint8_t f = flags_load(m);
    if (m->buckets) {
        size_t nmain = (size_t)1 << m->B;
        if (f & (F_ITERATOR | F_OLDITER)) {
            /* Iterators may be running: mark every slot they could reach
             * EMPTY_REST so they stop (Go 1.21), keep the arrays for them,
             * and start a fresh array. */
            mark_all_empty(m, m->buckets, nmain);
            if (m->oldbuckets) mark_all_empty(m, m->oldbuckets, noldbuckets(m));
            for (map_grave *g = m->graveyard; g; g = g->next) mark_all_empty(m, g->arr, g->nmain);
            if (m->oldbuckets) retire_array(m, m->oldbuckets, noldbuckets(m), old_nalloc(m));
            retire_array(m, m->buckets, nmain, cur_nalloc(m));
            size_t nalloc;
            unsigned B = m->B;
            uint8_t *a = make_array(m, B, &nalloc);
            if (a) {
                install_array(m, a, B, nalloc);
            } else { /* out of memory: back to a lazily allocated map */
                m->buckets = NULL;
                m->B = 0;
                m->bmask = 0;
                m->next_overflow = NULL;
            }
        } else {
            if (m->oldbuckets) free_array(m, m->oldbuckets, noldbuckets(m), old_nalloc(m));
            uint8_t *a = m->buckets;
            size_t bytes = cur_nalloc(m) * m->bucket_size;
            if (bytes >= CLEAR_REALLOC_MIN) {
                /* a fresh array: calloc clears only pages that were used,
                 * and gives long runs back to the OS rather than writing them */
                unsigned B = m->B;
                free_current(m);
                size_t nalloc;
                a = make_array(m, B, &nalloc);
                if (a) {
                    install_array(m, a, B, nalloc);
                } else { /* out of memory: back to a lazily allocated map */
                    m->buckets = NULL;
                    m->B = 0;
                    m->bmask = 0;
                    m->next_overflow = NULL;
                }
            } else {
                if (!chains_inside(m) && !is_gc(m)) free_chains(m, a, nmain, cur_nalloc(m));
                memset(a, 0, bytes);
                install_array(m, a, m->B, cur_nalloc(m));
            }
        }
    }
    free_deferred(m);
    m->oldbuckets = NULL;
    m->nevacuate = 0;
    m->noverflow = 0;
    m->count = 0;
    new_seed(m);
    flags_store(m, flags_load(m) & (uint8_t) ~(F_SAMESIZE | F_GROWING));
    end_write(m);
}

void gort_map_free(gort_map *m) {
    if (m == NULL) return;
    if (UNLIKELY(is_gc(m)))
        gort__fatal("gort_map_free of a collected map (made by gort_map_make_gc: the collector frees it)");
    if (UNLIKELY(flags_load(m) & F_WRITING)) gort__fatal("concurrent map writes");
    free_indirect_live(m);
    if (m->oldbuckets) free_array(m, m->oldbuckets, noldbuckets(m), old_nalloc(m));
    if (m->buckets) free_current(m);
    for (map_grave *g = m->graveyard, *next; g; g = next) {
        next = g->next;
        free_array(m, g->arr, g->nmain, g->nalloc);
        gort_free(g);
    }
    free_deferred(m);
    gort_free(m);
}

/* ------------------------------------------------------------ iteration */

#define NO_CHECK GORT__MAP_NO_CHECK

void gort_map_iter_init(gort_map_iter *it, gort_map *m) {
    memset(it, 0, sizeof *it);
    if (m == NULL || m->count == 0) return;
    it->m_ = m;
    it->B_ = m->B;
    it->buckets_ = m->buckets;
    uint64_t r = map_rand();
    it->start_bucket_ = (size_t)(r & (((uint64_t)1 << m->B) - 1));
    it->offset_ = (uint8_t)((r >> m->B) & (BUCKET_CNT - 1));
    it->bucket_ = it->start_bucket_;
    it->check_bucket_ = NO_CHECK;
    it->fast_ = m->oldbuckets == NULL ? m->buckets : NULL;
    it->clearseq_ = m->clearseq;
    uint8_t f = flags_load(m);
    if ((f & (F_ITERATOR | F_OLDITER)) != (F_ITERATOR | F_OLDITER))
        __atomic_fetch_or(&m->flags, F_ITERATOR | F_OLDITER, __ATOMIC_RELAXED);
}

bool gort_map_iter_next(gort_map_iter *it) {
    gort_map *m = it->m_;
    if (m == NULL) {
        it->key = it->elem = NULL;
        return false;
    }
    uint8_t f = flags_load(m);
    if (UNLIKELY(f & F_WRITING)) gort__fatal("concurrent map iteration and map write");
    const size_t bsz = m->bucket_size;
    size_t bucket = it->bucket_;
    uint8_t *b = it->bptr_;
    unsigned i = it->i_;
    size_t check = it->check_bucket_;
    if (LIKELY(m->oldbuckets == NULL && it->buckets_ == m->buckets && check == NO_CHECK)) {
        /* Fast path: no growth since the iterator began, so every slot is
         * empty or live; find the next live one in visiting order
         * ((i + offset) & 7) by rotating the tophash word. Not while b is an
         * old bucket (check set): an iteration that began during a growth
         * that has ended since may still be inside one, whose evacuation
         * marks the fast path would take for live slots. */
        const size_t nb = (size_t)1 << it->B_;
        for (;;) {
            if (b == NULL) {
                if (bucket == it->start_bucket_ && it->wrapped_) break;
                b = (uint8_t *)it->buckets_ + bucket * bsz;
                if (++bucket == nb) {
                    bucket = 0;
                    it->wrapped_ = 1;
                }
                i = 0;
            }
            if (i < BUCKET_CNT) {
                uint64_t w = th_word(b);
                const unsigned r = 8u * it->offset_;
                uint64_t live = gort__map_from(~match_empty((w >> r) | (w << ((64 - r) & 63))) & GORT__MAP_ALLSLOTS, i);
                if (live) {
                    it->live_ = live & (live - 1); /* for the inline path */
                    i = first_slot(live);
                    unsigned offi = (i + it->offset_) & (BUCKET_CNT - 1);
                    it->key = slot_key(m, key_at(m, b, offi, K_GEN));
                    it->elem = slot_elem(m, elem_at(m, b, offi, K_GEN));
                    it->bucket_ = bucket;
                    it->bptr_ = b;
                    it->i_ = (uint8_t)(i + 1);
                    return true;
                }
                if (has_empty_rest(w)) { /* emptyRest: the chain ends here */
                    b = NULL;
                    continue;
                }
            }
            b = overflow(m, b);
            i = 0;
        }
        it->key = it->elem = NULL;
        it->m_ = NULL;
        return false;
    }
    for (;;) {
        if (b == NULL) {
            if (bucket == it->start_bucket_ && it->wrapped_) {
                it->key = it->elem = NULL;
                it->m_ = NULL;
                return false;
            }
            if (m->oldbuckets != NULL && it->B_ == m->B && it->buckets_ == m->buckets) {
                /* Started during a growth that is still running: if this
                 * bucket's old bucket has not moved yet, walk the old one and
                 * keep only the entries that will move to this bucket. */
                size_t oldbucket = bucket & (noldbuckets(m) - 1);
                b = m->oldbuckets + oldbucket * bsz;
                if (!evacuated(b)) {
                    check = bucket;
                } else {
                    b = (uint8_t *)it->buckets_ + bucket * bsz;
                    check = NO_CHECK;
                }
            } else {
                b = (uint8_t *)it->buckets_ + bucket * bsz;
                check = NO_CHECK;
            }
            bucket++;
            if (bucket == ((size_t)1 << it->B_)) {
                bucket = 0;
                it->wrapped_ = 1;
            }
            i = 0;
        }
        for (; i < BUCKET_CNT; i++) {
            unsigned offi = (i + it->offset_) & (BUCKET_CNT - 1);
            uint8_t top = b[offi];
            if (is_empty(top) || top == EVAC_EMPTY) continue;
            uint8_t *k = slot_key(m, key_at(m, b, offi, K_GEN));
            uint8_t *e = elem_at(m, b, offi, K_GEN);
            bool reflexive = (m->tflags & T_REFLEXIVE) || m->equal(k, k);
            if (check != NO_CHECK && !(flags_load(m) & F_SAMESIZE)) {
                if (reflexive) {
                    uint64_t h = key_hash(m, k, m->kind);
                    if ((h & (((uint64_t)1 << it->B_) - 1)) != check) continue;
                } else if ((check >> (it->B_ - 1)) != (size_t)(top & 1)) {
                    continue;
                }
            }
            if ((top != EVAC_X && top != EVAC_Y) || !reflexive) {
                /* a NaN-like key in an array the map left: produced from
                 * here, unless the map was cleared since (Go's clearSeq; a
                 * manual map's clear also empties its graveyard) */
                if (top <= EVAC_Y && it->clearseq_ != m->clearseq) continue;
                it->key = k;
                it->elem = slot_elem(m, e);
            } else {
                /* The table grew since this iterator began: the entry now
                 * lives elsewhere; look it up (it may have been deleted or
                 * updated). */
                unsigned j;
                uint8_t *nb = m->count ? find(m, k, key_hash(m, k, m->kind), K_GEN, &j) : NULL;
                if (!nb) continue;
                it->key = slot_key(m, key_at(m, nb, j, K_GEN));
                it->elem = slot_elem(m, elem_at(m, nb, j, K_GEN));
            }
            it->bucket_ = bucket;
            it->bptr_ = b;
            it->i_ = (uint8_t)(i + 1);
            it->check_bucket_ = check;
            return true;
        }
        b = overflow(m, b);
        i = 0;
    }
}

/* ----------------------------------------------------------- test hooks */

void gort__map_info_get(const gort_map *m, gort__map_info *info) {
    memset(info, 0, sizeof *info);
    if (!m) return;
    info->B = m->B;
    info->flags = flags_load(m);
    info->kind = m->kind;
    info->count = m->count;
    info->noverflow = m->noverflow;
    info->nevacuate = m->nevacuate;
    info->growing = m->oldbuckets != NULL;
    info->bucket_size = m->bucket_size;
}

uint64_t gort__map_hash(const gort_map *m, const void *key) { return key_hash(m, key, m->kind); }

static size_t validate_chain(const gort_map *m, uint8_t *b, size_t index, size_t mask) {
    size_t live = 0;
    bool rest = false;
    for (; b; b = overflow(m, b)) {
        for (unsigned i = 0; i < BUCKET_CNT; i++) {
            uint8_t t = b[i];
            if (rest && t != EMPTY_REST) gort__throw("map validate: slot after emptyRest not emptyRest");
            if (t == EMPTY_REST) {
                rest = true;
                continue;
            }
            if (t == EMPTY_ONE) continue;
            if (t < MIN_TOPHASH) gort__throw("map validate: evacuation mark in a live bucket");
            live++;
            void *k = slot_key(m, key_at(m, b, i, K_GEN));
            if ((m->tflags & T_REFLEXIVE) || m->equal(k, k)) {
                uint64_t h = key_hash(m, k, m->kind);
                if ((h & mask) != index) gort__throw("map validate: key in the wrong bucket");
                if (tophash(h) != t) gort__throw("map validate: wrong tophash");
            }
        }
    }
    return live;
}

size_t gort__map_validate(const gort_map *m) {
    if (!m) return 0;
    if ((m->oldbuckets != NULL) != ((flags_load(m) & F_GROWING) != 0))
        gort__throw("map validate: flag GROWING does not match oldbuckets");
    if (m->bmask != ((size_t)1 << m->B) - 1) gort__throw("map validate: bmask is not 2^B - 1");
    size_t live = 0;
    if (m->buckets == NULL) {
        if (m->count != 0) gort__throw("map validate: count without buckets");
        return 0;
    }
    size_t n = (size_t)1 << m->B;
    for (size_t j = 0; j < n; j++) {
        uint8_t *b = m->buckets + j * m->bucket_size;
        if (m->oldbuckets) {
            size_t oldn = noldbuckets(m);
            uint8_t *o = m->oldbuckets + (j & (oldn - 1)) * m->bucket_size;
            if (!evacuated(o)) { /* the new bucket must still be empty */
                for (uint8_t *c = b; c; c = overflow(m, c))
                    for (unsigned i = 0; i < BUCKET_CNT; i++)
                        if (c[i] != EMPTY_REST) gort__throw("map validate: new bucket filled before evacuation");
                continue;
            }
        }
        live += validate_chain(m, b, j, n - 1);
    }
    if (m->oldbuckets) {
        size_t oldn = noldbuckets(m);
        for (size_t j = 0; j < oldn; j++) {
            uint8_t *o = m->oldbuckets + j * m->bucket_size;
            if (evacuated(o)) continue;
            if (j < m->nevacuate) gort__throw("map validate: unevacuated bucket below nevacuate");
            live += validate_chain(m, o, j, oldn - 1);
        }
    }
    if (live != m->count) gort__throw("map validate: count mismatch");
    return live;
}
