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
 * always) and is a fatal error ("concurrent map writes"). Between two racing
 * writers' checks the misuse can also crash (SIGSEGV) without a message:
 * docs/map.md, "Concurrent misuse", describes the window.
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
 *
 * Collected maps (Go's make(map) in a program that uses the collector,
 * gort/gc.h): gort_map_make_gc, or name_make_gc in the typed layer, makes a
 * map whose header and buckets live in the collected heap. The collector
 * scans its buckets precisely (the words that key_type and elem_type mark as
 * pointers, and the overflow links) and frees the map once nothing refers
 * to it; gort_map_free of it is a fatal error. A collected map is used
 * through the same functions as a manual one.
 *
 *     typedef struct Node { struct Node *next; long v; } Node;
 *     GORT_TYPE(Node, next);
 *     GORT_MAP_DEFINE_U64(nodes, int64_t, Node *)
 *     nodes *m = nodes_make_gc(0, NULL, &gort_type_pointer); // elems are pointers
 *     nodes_put(m, 1, gort_new(Node));   // kept alive by the map
 */
#ifndef GORT_MAP_H
#define GORT_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "common.h"
#include "gc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gort_maptype {
    size_t key_size, elem_size;
    uint64_t (*hash)(const void *key, uint64_t seed); /* NULL: hash the key's bytes */
    bool (*equal)(const void *a, const void *b);      /* NULL: compare the key's bytes */
    /* Collected maps only (gort_map_make_gc; gort_map_new ignores them): the
     * pointer words of a key and of an elem, as for gort_new_typed. NULL: no
     * pointers. A type's size must equal key_size / elem_size. */
    const gort_type *key_type, *elem_type;
} gort_maptype;

/* gort's string: bytes the caller owns (a string key stores this pair, not a
 * copy of the bytes: they must outlive the entry). */
typedef struct gort_string {
    const char *ptr;
    size_t len;
} gort_string;

/* A map handle. Its layout (in gort/internal/map_inline.h, for the inline
 * fast paths) is not API. */
typedef struct gort_map gort_map;

/* Creation: hint is the expected number of entries (Go's make(map, hint));
 * with hint <= 8 the first bucket is allocated on the first put. Returns NULL
 * when out of memory (errno ENOMEM), or for a NULL t or a key or elem size
 * above UINT32_MAX (errno EINVAL). t is copied. */
GORT_API gort_map *gort_map_new(const gort_maptype *t, size_t hint);
/* A collected map (Go's make(map[K]V, hint)): the header, bucket arrays,
 * overflow buckets and out-of-line keys/elems come from the collected heap;
 * the collector scans the words t->key_type and t->elem_type mark and frees
 * the map once unreachable. Never NULL except out of memory with
 * GORT_OOM=null (errno ENOMEM; otherwise out of memory is fatal, as for
 * gort_new). A NULL t, a size above UINT32_MAX, or a type that does not fit
 * its key/elem is a fatal error. gort_map_free of the map is a fatal error.
 * Keep a collected map, and an iterator over it, where the collector looks
 * (gort/gc.h: stacks, globals, collected objects, gort_malloc_scanned). */
GORT_API gort_map *gort_map_make_gc(const gort_maptype *t, size_t hint);
/* Ready-made types for gort_maptype.key_type/elem_type: one pointer word (a
 * key or elem that is a pointer to a collected object), and gort_string
 * (its bytes kept alive: a string in the collected heap). */
GORT_API extern const gort_type gort_type_pointer;
GORT_API extern const gort_type gort_type_string;
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
/* Frees a manual map (gort_map_new). A fatal error on a collected map. */
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
    void *buckets_; /* bucket array at init (kept alive by the map) */
    void *fast_;    /* buckets_ when the map was not growing at init, else NULL:
                       * the inline path runs while this is the map's array */
    void *bptr_;    /* current bucket */
    uint64_t live_; /* inline path: the visiting positions of bptr_ not yet
                       * visited whose slots were live when it was entered */
    size_t start_bucket_, bucket_, check_bucket_;
    uint8_t B_, offset_, wrapped_, i_;
    uint32_t clearseq_; /* the map's clearseq at init */
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
    gort_maptype t = {4, elem_size, gort_hash_u32, gort_equal_u32, NULL, NULL};
    return t;
}
static inline gort_maptype gort_maptype_u64(size_t elem_size) {
    gort_maptype t = {8, elem_size, gort_hash_u64, gort_equal_u64, NULL, NULL};
    return t;
}
static inline gort_maptype gort_maptype_string(size_t elem_size) {
    gort_maptype t = {sizeof(gort_string), elem_size, gort_hash_string, gort_equal_string, NULL, NULL};
    return t;
}
static inline gort_maptype gort_maptype_f64(size_t elem_size) {
    gort_maptype t = {sizeof(double), elem_size, gort_hash_f64, gort_equal_f64, NULL, NULL};
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

/* The inline fast paths of the typed layer below, and the struct layout
 * they read: not API (gort/internal/map_inline.h says why it is installed). */
#include "internal/map_inline.h"

/*
 * Typed layer. Each macro defines an incomplete struct type `name` and static
 * inline functions:
 *   name *name_new(size_t hint)            NULL when out of memory
 *   name *name_make_gc(size_t hint, const gort_type *key_type, const gort_type *elem_type)
 *                                          a collected map (gort_map_make_gc); the types
 *                                          mark K's and V's pointers (NULL: none)
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
#define GORT_MAP_DEFINE_U32(name, K, V) \
    GORT_MAP_DEFINE_FAST_(name, K, V, uint32_t, u32, GORT__MAP_K_32, gort_maptype_u32)
#define GORT_MAP_DEFINE_U64(name, K, V) \
    GORT_MAP_DEFINE_FAST_(name, K, V, uint64_t, u64, GORT__MAP_K_64, gort_maptype_u64)
#define GORT_MAP_DEFINE_STR(name, V) \
    GORT_MAP_DEFINE_FAST_(name, gort_string, V, gort_string, str, GORT__MAP_K_STR, gort_maptype_string)

#define GORT_MAP_DEFINE_F64(name, V) GORT_MAP_DEFINE_BYREF_(name, double, V, gort_maptype_f64(sizeof(V)))
#define GORT_MAP_DEFINE(name, K, V, hashfn, equalfn) \
    GORT_MAP_DEFINE_BYREF_(name, K, V, ((gort_maptype){sizeof(K), sizeof(V), (hashfn), (equalfn), NULL, NULL}))

#ifdef __cplusplus
}
#endif
#endif
