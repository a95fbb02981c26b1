/*
 * gort/internal/map_inline.h: the inline fast paths of gort/map.h's typed
 * layer, and the struct layout they read.
 *
 * Installed because the inline paths need it; not API: may change with any
 * release. Included by gort/map.h; never include it, or use a name from it,
 * directly. Code compiled against these headers must be linked with the gort
 * build of the same version (the static inline paths read struct gort_map's
 * fields and call gort__ functions).
 */
#ifndef GORT_INTERNAL_MAP_INLINE_H
#define GORT_INTERNAL_MAP_INLINE_H

#ifndef GORT_MAP_H
#error "gort/internal/map_inline.h is included by gort/map.h only"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gort__map_grave;

/* ----------------------------------------------------------------------------
 * The map header, visible only so that the fast paths of the typed layer can
 * be inlined into the caller (as absl's and Go's compiler-generated lookups
 * are). Never touch its fields directly. 112 bytes (Go's hmap is 48 bytes plus its mapextra). */
struct gort_map {
    size_t count;                    /* live entries: first, as Go's (len reads it) */
    uint8_t flags;                   /* GORT__MAP_F_*: read and written with relaxed atomics */
    uint8_t B;                       /* log2 of the number of buckets */
    uint8_t kind;                    /* GORT__MAP_K_*: the fast path this map takes */
    uint8_t tflags;                  /* type flags (map.c) */
    uint16_t noverflow;              /* approximate overflow bucket count (Go's) */
    uint16_t bucket_size;            /* bytes per bucket */
    uint64_t seed;                   /* per-map hash seed (Go's hash0) */
    uint8_t *buckets;                /* 2^B buckets then the preallocated overflow ones; NULL until the first put */
    size_t bmask;                    /* 2^B - 1: a hash's bucket is hash & bmask */
    uint8_t *oldbuckets;             /* non-NULL while growing (flag GROWING set): the previous array */
    size_t nevacuate;                /* old buckets below this have been evacuated */
    uint16_t elem_off;               /* 8 + 8 * key_stride */
    uint8_t key_stride, elem_stride; /* bytes per slot (8 when stored out of line) */
    uint32_t key_size, elem_size;    /* at most UINT32_MAX (gort_map_new checks) */
    uint32_t clearseq;               /* gort_map_clear calls, mod 2^32 (Go's clearSeq) */
    uint8_t *next_overflow;          /* next preallocated overflow bucket of `buckets`, or NULL */
    uint64_t (*hash)(const void *, uint64_t);
    bool (*equal)(const void *, const void *);
    struct gort__map_grave *graveyard; /* arrays iterators may still read */
    uint8_t *deferred;                 /* out-of-line keys deleted while iterators may run */
};

/* ----------------------------------------------------------------------------
 * Inline fast paths (internal; used by the typed layer). They handle the
 * common case of a map that is not growing, reading struct gort_map directly,
 * with the key and elem strides known at compile time, and call the
 * out-of-line functions of gort/map.h for everything else (nil map, growth,
 * lazily allocated buckets, an insert that needs an overflow bucket or a
 * growth, a write in progress: the out-of-line paths then report the misuse).
 * Names starting with gort__ are not API.
 */
enum { GORT__MAP_K_GEN = 0, GORT__MAP_K_32 = 1, GORT__MAP_K_64 = 2, GORT__MAP_K_STR = 3 };
/* GROWING mirrors oldbuckets != NULL, so that one test of the flags byte
 * sends a write in progress or a growth to the out-of-line path */
/* CLEARDEL (constant for a map's life): a delete must clear the slot's
 * pointers (a collected map whose keys or elems hold them), which only the
 * out-of-line path does; the inline delete tests it with WRITING|GROWING. */
enum {
    GORT__MAP_F_ITERATOR = 1,
    GORT__MAP_F_OLDITER = 2,
    GORT__MAP_F_WRITING = 4,
    GORT__MAP_F_SAMESIZE = 8,
    GORT__MAP_F_GROWING = 16,
    GORT__MAP_F_CLEARDEL = 32
};
enum { GORT__MAP_EMPTY_REST = 0, GORT__MAP_EMPTY_ONE = 1, GORT__MAP_MIN_TOPHASH = 5 };
/* gort_map_iter.check_bucket_ when the iterator's bucket is in its own array
 * (not an old bucket walked for a new one during a growth) */
#define GORT__MAP_NO_CHECK ((size_t)1 << (sizeof(size_t) * 8 - 1))
/* process-wide secret keys of the integer hash (set before any map exists) */
GORT_API extern uint64_t gort__map_hash_secret[4];
GORT_API __attribute__((noreturn, cold)) void gort__map_fatal(const char *msg);
GORT_API void gort__map_reseed(gort_map *m);

#define GORT__MAP_AI static inline __attribute__((always_inline))
/* The typed layer's functions: a user defines a map type and may use only
 * some of its functions, without unused-function warnings. */
#define GORT__MAP_TYPED static inline __attribute__((unused))
#define GORT__MAP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GORT__MAP_LIKELY(x) __builtin_expect(!!(x), 1)
/* Bucket bytes for key/elem strides ks/es: tophash[8], 8 keys, 8 elems, padded to 8, overflow pointer. */
#define GORT__MAP_BSIZE(ks, es) ((((size_t)8 + 8 * (size_t)(ks) + 8 * (size_t)(es) + 7) & ~(size_t)7) + 8)

/* Wyhash's 8-byte mix: two dependent 64x64->128 multiplies, keyed. */
GORT__MAP_AI uint64_t gort__map_hash_word(uint64_t k, uint64_t seed) {
    const uint64_t *s = gort__map_hash_secret;
    __uint128_t r = (__uint128_t)(((k << 32) | (k >> 32)) ^ s[1]) * (k ^ seed);
    __uint128_t r2 = (__uint128_t)((uint64_t)r ^ s[0] ^ 8) * ((uint64_t)(r >> 64) ^ s[1]);
    return (uint64_t)r2 ^ (uint64_t)(r2 >> 64);
}
GORT__MAP_AI uint8_t gort__map_tophash(uint64_t h) {
    uint8_t t = (uint8_t)(h >> 56);
    return t < GORT__MAP_MIN_TOPHASH ? (uint8_t)(t + GORT__MAP_MIN_TOPHASH) : t;
}

/* Matching the 8 tophash bytes of a bucket at once. A mask has one bit per
 * matching slot, at bit GORT__MAP_SLOTBITS * slot + GORT__MAP_SLOTBIT0. */
#if defined(__SSE2__) && !defined(GORT_MAP_NO_SSE2)
#include <emmintrin.h>
#define GORT__MAP_SLOTBITS 1
#define GORT__MAP_ALLSLOTS ((uint64_t)0xff)
GORT__MAP_AI uint64_t gort__map_match(uint64_t w, uint8_t top) {
    __m128i v = _mm_cvtsi64_si128((long long)w);
    return (uint64_t)((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)top))) & 0xffu);
}
/* slots whose tophash is EMPTY_REST or EMPTY_ONE */
GORT__MAP_AI uint64_t gort__map_match_empty(uint64_t w) {
    __m128i v = _mm_and_si128(_mm_cvtsi64_si128((long long)w), _mm_set1_epi8((char)0xfe));
    return (uint64_t)((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128())) & 0xffu);
}
#else
/* SWAR: 0x80 in each byte of x that is zero, exactly (no false positives). */
#define GORT__MAP_SLOTBITS 8
#define GORT__MAP_ALLSLOTS ((uint64_t)0x8080808080808080ULL)
GORT__MAP_AI uint64_t gort__map_zero_bytes(uint64_t x) {
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
    return ~(((x & low7) + low7) | x | low7);
}
GORT__MAP_AI uint64_t gort__map_match(uint64_t w, uint8_t top) {
    return gort__map_zero_bytes(w ^ (0x0101010101010101ULL * top));
}
GORT__MAP_AI uint64_t gort__map_match_empty(uint64_t w) { return gort__map_zero_bytes(w & 0xfefefefefefefefeULL); }
#endif
/* mask rotated so that bit position j holds slot (j + off) & 7's bit: the
 * iterator's visiting order */
GORT__MAP_AI uint64_t gort__map_rotate(uint64_t mask, unsigned off) {
#if GORT__MAP_SLOTBITS == 1
    return ((mask >> off) | (mask << (8 - off))) & 0xff;
#else
    return (mask >> (8 * off)) | (mask << ((64 - 8 * off) & 63));
#endif
}
GORT__MAP_AI unsigned gort__map_slot(uint64_t mask) { return (unsigned)__builtin_ctzll(mask) / GORT__MAP_SLOTBITS; }
/* the mask's slots at index >= i (i <= 8) */
GORT__MAP_AI uint64_t gort__map_from(uint64_t mask, unsigned i) {
    return i < 8 ? mask & (~(uint64_t)0 << (GORT__MAP_SLOTBITS * i)) : 0;
}
GORT__MAP_AI uint64_t gort__map_word(const uint8_t *b) {
    uint64_t w;
    memcpy(&w, b, 8);
    return w;
}
GORT__MAP_AI uint8_t *gort__map_overflow(const uint8_t *b, size_t bsize) {
    uint8_t *o;
    memcpy(&o, b + bsize - sizeof o, sizeof o);
    return o;
}
GORT__MAP_AI uint8_t gort__map_flags(const gort_map *m) { return __atomic_load_n(&m->flags, __ATOMIC_RELAXED); }
GORT__MAP_AI void gort__map_set_flags(gort_map *m, uint8_t f) { __atomic_store_n(&m->flags, f, __ATOMIC_RELAXED); }

GORT__MAP_AI uint64_t gort__map_khash(const gort_map *m, const void *kp, const int kind) {
    if (kind == GORT__MAP_K_STR) return gort_hash_string(kp, m->seed);
    if (kind == GORT__MAP_K_32) {
        uint32_t k;
        memcpy(&k, kp, 4);
        return gort__map_hash_word(k, m->seed);
    }
    uint64_t k;
    memcpy(&k, kp, 8);
    return gort__map_hash_word(k, m->seed);
}
GORT__MAP_AI bool gort__map_keq(const void *kp, const uint8_t *stored, const int kind) {
    if (kind == GORT__MAP_K_STR) {
        gort_string a, b;
        memcpy(&a, kp, sizeof a);
        memcpy(&b, stored, sizeof b);
        return a.len == b.len && (a.ptr == b.ptr || a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
    }
    if (kind == GORT__MAP_K_32) {
        uint32_t a, b;
        memcpy(&a, kp, 4);
        memcpy(&b, stored, 4);
        return a == b;
    }
    uint64_t a, b;
    memcpy(&a, kp, 8);
    memcpy(&b, stored, 8);
    return a == b;
}
/* gort__map_get_slow, _put_slow, _delete_slow: the out-of-line fast path
 * (gort_map_OP_str, _u32 or _u64) for the key at kp, by kind */
#define GORT__MAP_DEFINE_SLOW(R, OP)                                                    \
    GORT__MAP_AI R gort__map_##OP##_slow(gort_map *m, const void *kp, const int kind) { \
        if (kind == GORT__MAP_K_STR) {                                                  \
            gort_string s;                                                              \
            memcpy(&s, kp, sizeof s);                                                   \
            return gort_map_##OP##_str(m, s);                                           \
        }                                                                               \
        if (kind == GORT__MAP_K_32) {                                                   \
            uint32_t k;                                                                 \
            memcpy(&k, kp, 4);                                                          \
            return gort_map_##OP##_u32(m, k);                                           \
        }                                                                               \
        uint64_t k;                                                                     \
        memcpy(&k, kp, 8);                                                              \
        return gort_map_##OP##_u64(m, k);                                               \
    }
GORT__MAP_DEFINE_SLOW(void *, get)
GORT__MAP_DEFINE_SLOW(void *, put)
GORT__MAP_DEFINE_SLOW(bool, delete)
#undef GORT__MAP_DEFINE_SLOW

/* Go's mapaccess1_fast*: ks = key stride, es = elem stride (both constant). */
GORT__MAP_AI void *gort__map_get_inl(gort_map *m, const void *kp, const int kind, const size_t ks, const size_t es) {
    if (m == NULL || m->count == 0) return NULL;
    if (GORT__MAP_UNLIKELY(gort__map_flags(m) & (GORT__MAP_F_WRITING | GORT__MAP_F_GROWING)))
        return gort__map_get_slow(m, kp, kind);
    const size_t bs = GORT__MAP_BSIZE(ks, es), eo = 8 + 8 * ks;
    uint64_t h = gort__map_khash(m, kp, kind);
    uint8_t *b = m->buckets + (h & m->bmask) * bs;
    const uint8_t top = gort__map_tophash(h);
    do {
        uint64_t w = gort__map_word(b);
        for (uint64_t mm = gort__map_match(w, top); mm; mm &= mm - 1) {
            unsigned i = gort__map_slot(mm);
            if (GORT__MAP_LIKELY(gort__map_keq(kp, b + 8 + i * ks, kind))) return b + eo + i * es;
        }
        if (gort__map_match(w, GORT__MAP_EMPTY_REST)) return NULL; /* the chain ends here */
        b = gort__map_overflow(b, bs);
    } while (b);
    return NULL;
}

/* Go's mapassign_fast*: the elem slot (zeroed when new). */
GORT__MAP_AI void *gort__map_put_inl(gort_map *m, const void *kp, const int kind, const size_t ks, const size_t es) {
    if (GORT__MAP_UNLIKELY(m == NULL)) return gort__map_put_slow(m, kp, kind);
    uint8_t f = gort__map_flags(m);
    if (GORT__MAP_UNLIKELY(m->buckets == NULL || (f & (GORT__MAP_F_WRITING | GORT__MAP_F_GROWING))))
        return gort__map_put_slow(m, kp, kind);
    const size_t bs = GORT__MAP_BSIZE(ks, es), eo = 8 + 8 * ks;
    uint64_t h = gort__map_khash(m, kp, kind);
    gort__map_set_flags(m, (uint8_t)(f ^ GORT__MAP_F_WRITING));
    const unsigned B = m->B;
    uint8_t *b = m->buckets + (h & m->bmask) * bs, *insb = NULL, *elem;
    unsigned insi = 0;
    const uint8_t top = gort__map_tophash(h);
    for (;;) {
        uint64_t w = gort__map_word(b);
        for (uint64_t mm = gort__map_match(w, top); mm; mm &= mm - 1) {
            unsigned i = gort__map_slot(mm);
            uint8_t *k = b + 8 + i * ks;
            if (GORT__MAP_LIKELY(gort__map_keq(kp, k, kind))) {
                if (kind == GORT__MAP_K_STR) memcpy(k, kp, ks); /* keep the latest pointer, as Go */
                elem = b + eo + i * es;
                goto done;
            }
        }
        if (insb == NULL) {
            uint64_t e = gort__map_match_empty(w);
            if (e) {
                insb = b;
                insi = gort__map_slot(e);
            }
        }
        if (gort__map_match(w, GORT__MAP_EMPTY_REST)) break;
        uint8_t *o = gort__map_overflow(b, bs);
        if (!o) break;
        b = o;
    }
    {
        /* a new key: the out-of-line path grows (load factor 6.5, or too
         * many overflow buckets) or chains an overflow bucket */
        size_t c = m->count + 1;
        unsigned B15 = B > 15 ? 15 : B;
        if (GORT__MAP_UNLIKELY(insb == NULL || (c > 8 && c > 13 * (((size_t)1 << B) / 2)) ||
                               m->noverflow >= (uint16_t)(1u << B15))) {
            uint8_t f2 = gort__map_flags(m);
            if (GORT__MAP_UNLIKELY(!(f2 & GORT__MAP_F_WRITING))) gort__map_fatal("concurrent map writes");
            gort__map_set_flags(m, (uint8_t)(f2 & ~GORT__MAP_F_WRITING));
            return gort__map_put_slow(m, kp, kind);
        }
        memcpy(insb + 8 + insi * ks, kp, ks);
        insb[insi] = top;
        m->count = c;
        elem = insb + eo + insi * es;
        memset(elem, 0, es); /* a new key's elem is zero (delete leaves it as it was) */
    }
done:
    f = gort__map_flags(m);
    if (GORT__MAP_UNLIKELY(!(f & GORT__MAP_F_WRITING))) gort__map_fatal("concurrent map writes");
    gort__map_set_flags(m, (uint8_t)(f & ~GORT__MAP_F_WRITING));
    return elem;
}

/* Go's mapdelete_fast*. */
GORT__MAP_AI bool gort__map_delete_inl(gort_map *m, const void *kp, const int kind, const size_t ks, const size_t es) {
    if (m == NULL || m->count == 0) return false;
    uint8_t f = gort__map_flags(m);
    if (GORT__MAP_UNLIKELY(f & (GORT__MAP_F_WRITING | GORT__MAP_F_GROWING | GORT__MAP_F_CLEARDEL)))
        return gort__map_delete_slow(m, kp, kind);
    const size_t bs = GORT__MAP_BSIZE(ks, es);
    uint64_t h = gort__map_khash(m, kp, kind);
    gort__map_set_flags(m, (uint8_t)(f ^ GORT__MAP_F_WRITING));
    uint8_t *borig = m->buckets + (h & m->bmask) * bs, *b = borig;
    const uint8_t top = gort__map_tophash(h);
    bool found = false;
    unsigned i = 0;
    do {
        uint64_t w = gort__map_word(b);
        for (uint64_t mm = gort__map_match(w, top); mm; mm &= mm - 1) {
            i = gort__map_slot(mm);
            if (GORT__MAP_LIKELY(gort__map_keq(kp, b + 8 + i * ks, kind))) {
                found = true;
                goto hit;
            }
        }
        if (gort__map_match(w, GORT__MAP_EMPTY_REST)) break;
        b = gort__map_overflow(b, bs);
    } while (b);
    goto done;
hit:
    if (kind == GORT__MAP_K_STR) memset(b + 8 + i * ks, 0, ks);
    b[i] = GORT__MAP_EMPTY_ONE;
    /* if the chain now ends in EMPTY_ONEs, turn them into EMPTY_REST */
    if (i == 7) {
        uint8_t *o = gort__map_overflow(b, bs);
        if (o && o[0] != GORT__MAP_EMPTY_REST) goto not_last;
    } else if (b[i + 1] != GORT__MAP_EMPTY_REST) {
        goto not_last;
    }
    {
        /* in this bucket, without a loop: the EMPTY_ONEs just below slot i
         * (empty slots below a live one are EMPTY_ONE) up to the highest live
         * slot p < i, and slot i, become EMPTY_REST (zero bytes) */
        uint64_t w = gort__map_word(b);
        uint64_t live = ~gort__map_match_empty(w) & GORT__MAP_ALLSLOTS &
            (((uint64_t)1 << (GORT__MAP_SLOTBITS * i)) - 1); /* i <= 7 */
        if (live) {
            unsigned p = (unsigned)(63 - __builtin_clzll(live)) / GORT__MAP_SLOTBITS; /* p < i <= 7 */
            w &= ((uint64_t)1 << (8 * (p + 1))) - 1;
            memcpy(b, &w, 8);
            goto not_last;
        }
        memset(b, GORT__MAP_EMPTY_REST, 8);
    }
    /* the whole bucket is empty: on into the previous buckets of the chain */
    while (b != borig) {
        uint8_t *c = b;
        for (b = borig; gort__map_overflow(b, bs) != c; b = gort__map_overflow(b, bs)) {}
        for (i = 8; i > 0 && b[i - 1] == GORT__MAP_EMPTY_ONE; i--) b[i - 1] = GORT__MAP_EMPTY_REST;
        if (i > 0) break;
    }
not_last:
    if (--m->count == 0) gort__map_reseed(m); /* a fresh seed, as Go */
done:
    f = gort__map_flags(m);
    if (GORT__MAP_UNLIKELY(!(f & GORT__MAP_F_WRITING))) gort__map_fatal("concurrent map writes");
    gort__map_set_flags(m, (uint8_t)(f & ~GORT__MAP_F_WRITING));
    return found;
}

/* The iterator's next live slot after bucket b (NULL: before the first
 * bucket) has none left: walks the rest of b's chain, then the next buckets
 * in order. On entering a bucket it takes the bucket's live slots in
 * visiting order ((j + offset) & 7) as one mask, it->live_. */
GORT__MAP_AI bool gort__map_iter_next_bucket(gort_map_iter *it, uint8_t *b, const size_t ks, const size_t es) {
    const size_t bs = GORT__MAP_BSIZE(ks, es), eo = 8 + 8 * ks;
    const unsigned off = it->offset_;
    size_t bucket = it->bucket_;
    if (b != NULL) b = gort__map_match(gort__map_word(b), GORT__MAP_EMPTY_REST) ? NULL : gort__map_overflow(b, bs);
    for (;;) {
        if (b == NULL) {
            if (bucket == it->start_bucket_ && it->wrapped_) break;
            b = (uint8_t *)it->buckets_ + bucket * bs;
            {
                /* an overflow bucket is a separate block, often out of
                 * cache: fetched while this bucket's slots are produced */
                uint8_t *o = gort__map_overflow(b, bs);
                if (o) {
                    __builtin_prefetch(o);
                    __builtin_prefetch(o + bs - 1);
                }
            }
            if (++bucket == ((size_t)1 << it->B_)) {
                bucket = 0;
                it->wrapped_ = 1;
            }
        }
        uint64_t w = gort__map_word(b);
        uint64_t live = gort__map_rotate(~gort__map_match_empty(w) & GORT__MAP_ALLSLOTS, off);
        if (live) {
            unsigned j = gort__map_slot(live), s = (j + off) & 7;
            it->key = b + 8 + s * ks;
            it->elem = b + eo + s * es;
            it->live_ = live & (live - 1);
            it->bucket_ = bucket;
            it->bptr_ = b;
            it->i_ = (uint8_t)(j + 1);
            return true;
        }
        b = gort__map_match(w, GORT__MAP_EMPTY_REST) ? NULL : gort__map_overflow(b, bs);
    }
    it->key = it->elem = NULL;
    it->m_ = NULL;
    return false;
}

/* gort_map_iter_next's path while the map has not grown since the
 * iteration began (and was not growing then): the next slot of the current
 * bucket's live mask (it->live_) that is still live, else the next bucket.
 * A slot that was empty when the iterator entered its bucket is not
 * produced: an entry inserted during iteration may or may not be, in Go's
 * rules. The common case (another live slot in the current bucket) costs
 * one mask step and one tophash byte. */
GORT__MAP_AI bool gort__map_iter_next_inl(gort_map_iter *it, const size_t ks, const size_t es) {
    gort_map *m = it->m_;
    if (GORT__MAP_UNLIKELY(m == NULL)) return gort_map_iter_next(it);
    if (GORT__MAP_UNLIKELY(((uintptr_t)it->fast_ ^ (uintptr_t)m->buckets) | (gort__map_flags(m) & GORT__MAP_F_WRITING)))
        return gort_map_iter_next(it);
    const size_t eo = 8 + 8 * ks;
    uint8_t *b = (uint8_t *)it->bptr_;
    const unsigned off = it->offset_;
    for (uint64_t live = it->live_; live;) {
        unsigned j = gort__map_slot(live), s = (j + off) & 7;
        live &= live - 1;
        if (GORT__MAP_LIKELY(b[s] >= GORT__MAP_MIN_TOPHASH)) { /* not deleted since */
            it->key = b + 8 + s * ks;
            it->elem = b + eo + s * es;
            it->live_ = live;
            it->i_ = (uint8_t)(j + 1);
            return true;
        }
    }
    return gort__map_iter_next_bucket(it, b, ks, es);
}

/* ---- the typed layer's definitions (gort/map.h lists the functions) ---- */
#define GORT_MAP_DEFINE_COMMON_(name, K, V, MAKETYPE, NEXT)                                                      \
    typedef struct name name;                                                                                    \
    GORT__MAP_TYPED name *name##_new(size_t hint) {                                                              \
        gort_maptype t_ = MAKETYPE;                                                                              \
        return (name *)gort_map_new(&t_, hint);                                                                  \
    }                                                                                                            \
    GORT__MAP_TYPED name *name##_make_gc(size_t hint, const gort_type *key_type, const gort_type *elem_type) {   \
        gort_maptype t_ = MAKETYPE;                                                                              \
        t_.key_type = key_type;                                                                                  \
        t_.elem_type = elem_type;                                                                                \
        return (name *)gort_map_make_gc(&t_, hint);                                                              \
    }                                                                                                            \
    GORT__MAP_TYPED size_t name##_len(const name *m) { return gort_map_len((const gort_map *)m); }               \
    GORT__MAP_TYPED void name##_clear(name *m) { gort_map_clear((gort_map *)m); }                                \
    GORT__MAP_TYPED void name##_free(name *m) { gort_map_free((gort_map *)m); }                                  \
    GORT__MAP_TYPED void name##_iter_init(gort_map_iter *it, name *m) { gort_map_iter_init(it, (gort_map *)m); } \
    GORT__MAP_TYPED bool name##_iter_next(gort_map_iter *it, K *k, V **v) {                                      \
        if (!NEXT(it)) return false;                                                                             \
        if (k) memcpy(k, it->key, sizeof(K));                                                                    \
        if (v) *v = (V *)it->elem;                                                                               \
        return true;                                                                                             \
    }

/* Keys passed by value to a fast path taking KT: the inline fast paths
 * above with constant strides (elems over 128 bytes, stored out of line,
 * take the out-of-line functions). */
/* has and put, the same for every key kind: from get and slot. */
#define GORT_MAP_DEFINE_DERIVED_(name, K, V)                                           \
    GORT__MAP_TYPED bool name##_has(name *m, K k) { return name##_get(m, k) != NULL; } \
    GORT__MAP_TYPED V *name##_put(name *m, K k, V v) {                                 \
        V *p_ = name##_slot(m, k);                                                     \
        if (p_) *p_ = v;                                                               \
        return p_;                                                                     \
    }

#define GORT_MAP_DEFINE_FAST_(name, K, V, KT, SUF, KIND, MAKETYPE)                      \
    GORT__MAP_TYPED bool name##_iter_next_fast_(gort_map_iter *it) {                    \
        if (sizeof(V) > 128) return gort_map_iter_next(it);                             \
        return gort__map_iter_next_inl(it, sizeof(KT), sizeof(V));                      \
    }                                                                                   \
    GORT_MAP_DEFINE_COMMON_(name, K, V, MAKETYPE(sizeof(V)), name##_iter_next_fast_)    \
    GORT__MAP_TYPED KT name##_key_(K k) {                                               \
        KT u_;                                                                          \
        _Static_assert(sizeof(K) == sizeof(KT), "key size must match the fast path");   \
        memcpy(&u_, &k, sizeof u_);                                                     \
        return u_;                                                                      \
    }                                                                                   \
    GORT__MAP_TYPED V *name##_get(name *m, K k) {                                       \
        KT u_ = name##_key_(k);                                                         \
        if (sizeof(V) > 128) return (V *)gort_map_get_##SUF((gort_map *)m, u_);         \
        return (V *)gort__map_get_inl((gort_map *)m, &u_, KIND, sizeof(KT), sizeof(V)); \
    }                                                                                   \
    GORT__MAP_TYPED V *name##_slot(name *m, K k) {                                      \
        KT u_ = name##_key_(k);                                                         \
        if (sizeof(V) > 128) return (V *)gort_map_put_##SUF((gort_map *)m, u_);         \
        return (V *)gort__map_put_inl((gort_map *)m, &u_, KIND, sizeof(KT), sizeof(V)); \
    }                                                                                   \
    GORT__MAP_TYPED bool name##_delete(name *m, K k) {                                  \
        KT u_ = name##_key_(k);                                                         \
        if (sizeof(V) > 128) return gort_map_delete_##SUF((gort_map *)m, u_);           \
        return gort__map_delete_inl((gort_map *)m, &u_, KIND, sizeof(KT), sizeof(V));   \
    }                                                                                   \
    GORT_MAP_DEFINE_DERIVED_(name, K, V)

/* Keys passed by address to the generic path. */
#define GORT_MAP_DEFINE_BYREF_(name, K, V, MAKETYPE)                                                \
    GORT_MAP_DEFINE_COMMON_(name, K, V, MAKETYPE, gort_map_iter_next)                               \
    GORT__MAP_TYPED V *name##_get(name *m, K k) { return (V *)gort_map_get((gort_map *)m, &k); }    \
    GORT__MAP_TYPED V *name##_slot(name *m, K k) { return (V *)gort_map_put((gort_map *)m, &k); }   \
    GORT__MAP_TYPED bool name##_delete(name *m, K k) { return gort_map_delete((gort_map *)m, &k); } \
    GORT_MAP_DEFINE_DERIVED_(name, K, V)

#ifdef __cplusplus
}
#endif
#endif /* GORT_INTERNAL_MAP_INLINE_H */
