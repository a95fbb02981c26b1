/*
 * gort/map.h: Go's hash map (hmap) for C. Include <gort.h> rather than this file.
 *
 * A gort_map is Go's map: buckets of 8 slots with a tophash byte each, load
 * factor 6.5, incremental doubling, a per-map random hash seed, randomized
 * iteration order, and Go's rules for mutation during iteration. Buckets come
 * from the gort heap. See docs/map.md.
 *
 * Keys and elems are fixed-size byte blobs described by a gort_maptype. The
 * map copies keys in; gort_map_put returns the elem slot (zeroed for a new key)
 * for the caller to fill. Keys or elems larger than 128 bytes are stored
 * out of line. Elems are aligned to 8 bytes when their size is a multiple of 8
 * (in general: to the largest power of two, up to 8, dividing their size).
 *
 * Pointers returned by get/put and produced by iteration stay valid until the
 * next put, delete or clear of the map.
 *
 * A NULL map is Go's nil map: get returns NULL, len is 0, delete does nothing,
 * iteration is empty, and put is a fatal error. Like Go's maps, a gort_map is
 * not safe for concurrent use with a writer; misuse is detected (often, not
 * always) and is a fatal error ("concurrent map writes").
 *
 * Typed layer (no void *, full fast-path speed):
 *
 *     GORT_MAP_DEFINE_U64(intmap, int64_t, double)   // intmap_new/put/get/...
 *     intmap *m = intmap_new(0);
 *     intmap_put(m, 42, 1.5);
 *     double *v = intmap_get(m, 42);                  // NULL if absent
 *     gort_map_iter it; int64_t k; double *e;
 *     intmap_iter_init(&it, m);
 *     while (intmap_iter_next(&it, &k, &e)) ...
 *     intmap_free(m);
 */
#ifndef GORT_MAP_H
#define GORT_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "malloc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gort_maptype {
    size_t key_size, elem_size;
    uint64_t (*hash)(const void *key, uint64_t seed); /* NULL: hash the key's bytes */
    bool (*equal)(const void *a, const void *b);      /* NULL: compare the key's bytes */
} gort_maptype;

/* gort's string: bytes the caller owns (a string key stores this pair, not a
 * copy of the bytes: they must outlive the entry). */
typedef struct gort_string {
    const char *ptr;
    size_t len;
} gort_string;

typedef struct gort_map gort_map;

/* Creation: hint is the expected number of entries (Go's make(map, hint));
 * with hint <= 8 the first bucket is allocated on the first put. Returns NULL
 * when out of memory. t is copied. */
GORT_API gort_map *gort_map_new(const gort_maptype *t, size_t hint);
/* The elem for key, or NULL. */
GORT_API void *gort_map_get(gort_map *m, const void *key);
/* The elem slot for key (zeroed when the key is new), or NULL when out of
 * memory (the map is then unchanged). */
GORT_API void *gort_map_put(gort_map *m, const void *key);
/* Removes key; returns whether it was present. */
GORT_API bool gort_map_delete(gort_map *m, const void *key);
GORT_API size_t gort_map_len(const gort_map *m);
/* Bytes this map holds from the gort heap now (usable sizes of its header,
 * bucket arrays, overflow buckets and out-of-line keys/elems). */
GORT_API size_t gort_map_memory(const gort_map *m);
/* Removes every entry (Go's clear(m)); keeps the bucket array. */
GORT_API void gort_map_clear(gort_map *m);
GORT_API void gort_map_free(gort_map *m);

/* Fast paths (Go's mapaccess1_fast32/64/faststr, mapassign_fast*, ...): for
 * maps made with gort_maptype_u32/u64/string (or hash == equal == NULL and a
 * 4- or 8-byte key). On another map they take the generic path. */
GORT_API void *gort_map_get_u32(gort_map *m, uint32_t key);
GORT_API void *gort_map_put_u32(gort_map *m, uint32_t key);
GORT_API bool gort_map_delete_u32(gort_map *m, uint32_t key);
GORT_API void *gort_map_get_u64(gort_map *m, uint64_t key);
GORT_API void *gort_map_put_u64(gort_map *m, uint64_t key);
GORT_API bool gort_map_delete_u64(gort_map *m, uint64_t key);
GORT_API void *gort_map_get_str(gort_map *m, gort_string key);
GORT_API void *gort_map_put_str(gort_map *m, gort_string key);
GORT_API bool gort_map_delete_str(gort_map *m, gort_string key);

/*
 * Iteration, in a random order that differs from one iteration to the next:
 *     gort_map_iter it; gort_map_iter_init(&it, m);
 *     while (gort_map_iter_next(&it)) use(it.key, it.elem);
 * Puts and deletes during iteration follow Go's rules: an entry present for
 * the whole iteration is produced exactly once, one deleted before it is
 * reached is not produced, one added may or may not be. Deleting it.key is
 * allowed (it.key and it.elem are then dangling until the next call).
 */
typedef struct gort_map_iter {
    void *key;  /* the current key (points into the map) */
    void *elem; /* the current elem (points into the map) */
    /* private: Go's hiter */
    gort_map *m_;
    void *buckets_;   /* bucket array at init (kept alive by the map) */
    void *bptr_;      /* current bucket */
    size_t start_bucket_, bucket_, check_bucket_;
    uint8_t B_, offset_, wrapped_, i_;
} gort_map_iter;

GORT_API void gort_map_iter_init(gort_map_iter *it, gort_map *m);
GORT_API bool gort_map_iter_next(gort_map_iter *it);

/* Hashes (keyed by seed; the map passes its per-map seed). Custom hash
 * functions can build on gort_hash_bytes. */
GORT_API uint64_t gort_hash_bytes(const void *p, size_t n, uint64_t seed);
GORT_API uint64_t gort_hash_u32(const void *key, uint64_t seed);
GORT_API uint64_t gort_hash_u64(const void *key, uint64_t seed);
GORT_API uint64_t gort_hash_string(const void *key, uint64_t seed); /* key: gort_string */
/* double keys with Go's semantics: +0 == -0; NaN != NaN (NaN hashes randomly,
 * so each put of NaN adds an entry that get cannot find). */
GORT_API uint64_t gort_hash_f64(const void *key, uint64_t seed);
GORT_API bool gort_equal_u32(const void *a, const void *b);
GORT_API bool gort_equal_u64(const void *a, const void *b);
GORT_API bool gort_equal_string(const void *a, const void *b);
GORT_API bool gort_equal_f64(const void *a, const void *b);

/* Ready-made map types for any elem size. */
static inline gort_maptype gort_maptype_u32(size_t elem_size) {
    gort_maptype t = {4, elem_size, gort_hash_u32, gort_equal_u32};
    return t;
}
static inline gort_maptype gort_maptype_u64(size_t elem_size) {
    gort_maptype t = {8, elem_size, gort_hash_u64, gort_equal_u64};
    return t;
}
static inline gort_maptype gort_maptype_string(size_t elem_size) {
    gort_maptype t = {sizeof(gort_string), elem_size, gort_hash_string, gort_equal_string};
    return t;
}
static inline gort_maptype gort_maptype_f64(size_t elem_size) {
    gort_maptype t = {sizeof(double), elem_size, gort_hash_f64, gort_equal_f64};
    return t;
}
static inline gort_string gort_str(const char *s) {
    gort_string r = {s, strlen(s)};
    return r;
}
static inline gort_string gort_strn(const char *s, size_t n) {
    gort_string r = {s, n};
    return r;
}

/*
 * Typed layer. Each macro defines an incomplete struct type `name` and static
 * inline functions:
 *   name *name_new(size_t hint)            NULL when out of memory
 *   V *name_get(name *m, K k)              the elem, or NULL
 *   bool name_has(name *m, K k)
 *   V *name_put(name *m, K k, V v)         stores v; NULL when out of memory
 *   V *name_slot(name *m, K k)             the elem slot, zeroed when new
 *   bool name_delete(name *m, K k)
 *   size_t name_len(const name *m); void name_clear(name *m); void name_free(name *m)
 *   void name_iter_init(gort_map_iter *it, name *m)
 *   bool name_iter_next(gort_map_iter *it, K *k, V **v)   (k or v may be NULL)
 *
 * GORT_MAP_DEFINE_U32(name, K, V)  K: any 4-byte key compared bytewise (uint32_t, int32_t)
 * GORT_MAP_DEFINE_U64(name, K, V)  K: any 8-byte key compared bytewise (uint64_t, int64_t, pointers)
 * GORT_MAP_DEFINE_STR(name, V)     K = gort_string
 * GORT_MAP_DEFINE_F64(name, V)     K = double (Go's float semantics)
 * GORT_MAP_DEFINE(name, K, V, hash, equal)  any key; hash/equal may be NULL (bytewise)
 */
#define GORT_MAP_DEFINE_COMMON_(name, K, V, MAKETYPE)                                     \
    typedef struct name name;                                                             \
    static inline name *name##_new(size_t hint) {                                         \
        gort_maptype t_ = MAKETYPE;                                                       \
        return (name *)gort_map_new(&t_, hint);                                           \
    }                                                                                     \
    static inline size_t name##_len(const name *m) {                                      \
        return gort_map_len((const gort_map *)m);                                         \
    }                                                                                     \
    static inline void name##_clear(name *m) { gort_map_clear((gort_map *)m); }           \
    static inline void name##_free(name *m) { gort_map_free((gort_map *)m); }             \
    static inline void name##_iter_init(gort_map_iter *it, name *m) {                     \
        gort_map_iter_init(it, (gort_map *)m);                                            \
    }                                                                                     \
    static inline bool name##_iter_next(gort_map_iter *it, K *k, V **v) {                 \
        if (!gort_map_iter_next(it)) return false;                                        \
        if (k) memcpy(k, it->key, sizeof(K));                                             \
        if (v) *v = (V *)it->elem;                                                        \
        return true;                                                                      \
    }

/* Keys passed by value to a fast path taking KT. */
#define GORT_MAP_DEFINE_FAST_(name, K, V, KT, SUF, MAKETYPE)                              \
    GORT_MAP_DEFINE_COMMON_(name, K, V, MAKETYPE(sizeof(V)))                              \
    static inline KT name##_key_(K k) {                                                   \
        KT u_;                                                                            \
        _Static_assert(sizeof(K) == sizeof(KT), "key size must match the fast path");    \
        memcpy(&u_, &k, sizeof u_);                                                       \
        return u_;                                                                        \
    }                                                                                     \
    static inline V *name##_get(name *m, K k) {                                           \
        return (V *)gort_map_get_##SUF((gort_map *)m, name##_key_(k));                    \
    }                                                                                     \
    static inline bool name##_has(name *m, K k) { return name##_get(m, k) != NULL; }      \
    static inline V *name##_slot(name *m, K k) {                                          \
        return (V *)gort_map_put_##SUF((gort_map *)m, name##_key_(k));                    \
    }                                                                                     \
    static inline V *name##_put(name *m, K k, V v) {                                      \
        V *p_ = name##_slot(m, k);                                                        \
        if (p_) *p_ = v;                                                                  \
        return p_;                                                                        \
    }                                                                                     \
    static inline bool name##_delete(name *m, K k) {                                      \
        return gort_map_delete_##SUF((gort_map *)m, name##_key_(k));                      \
    }

#define GORT_MAP_DEFINE_U32(name, K, V) GORT_MAP_DEFINE_FAST_(name, K, V, uint32_t, u32, gort_maptype_u32)
#define GORT_MAP_DEFINE_U64(name, K, V) GORT_MAP_DEFINE_FAST_(name, K, V, uint64_t, u64, gort_maptype_u64)
#define GORT_MAP_DEFINE_STR(name, V) \
    GORT_MAP_DEFINE_FAST_(name, gort_string, V, gort_string, str, gort_maptype_string)

/* Keys passed by address to the generic path. */
#define GORT_MAP_DEFINE_BYREF_(name, K, V, MAKETYPE)                                      \
    GORT_MAP_DEFINE_COMMON_(name, K, V, MAKETYPE)                                         \
    static inline V *name##_get(name *m, K k) { return (V *)gort_map_get((gort_map *)m, &k); } \
    static inline bool name##_has(name *m, K k) { return name##_get(m, k) != NULL; }      \
    static inline V *name##_slot(name *m, K k) {                                          \
        return (V *)gort_map_put((gort_map *)m, &k);                                      \
    }                                                                                     \
    static inline V *name##_put(name *m, K k, V v) {                                      \
        V *p_ = name##_slot(m, k);                                                        \
        if (p_) *p_ = v;                                                                  \
        return p_;                                                                        \
    }                                                                                     \
    static inline bool name##_delete(name *m, K k) { return gort_map_delete((gort_map *)m, &k); }

#define GORT_MAP_DEFINE_F64(name, V) GORT_MAP_DEFINE_BYREF_(name, double, V, gort_maptype_f64(sizeof(V)))
#define GORT_MAP_DEFINE(name, K, V, hashfn, equalfn)                                      \
    GORT_MAP_DEFINE_BYREF_(name, K, V,                                                    \
                           ((gort_maptype){sizeof(K), sizeof(V), (hashfn), (equalfn)}))

#ifdef __cplusplus
}
#endif
#endif
