/* map_internal.h: the map's test hooks (white-box tests only; see src/map.c). */
#ifndef GORT_MAP_INTERNAL_H
#define GORT_MAP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "gort/map.h"

/* Fault injection: when > 0, it is decremented on each allocation the map
 * makes, and the allocation that brings it to 0 fails (returns NULL). */
extern long gort__map_fail_countdown;

/* A snapshot of a map's internals for tests. */
typedef struct gort__map_info {
    uint8_t B, flags, kind;
    size_t count, noverflow, nevacuate;
    int growing;
    size_t bucket_size;
} gort__map_info;
void gort__map_info_get(const gort_map *m, gort__map_info *info);
/* Walks the whole map checking its invariants (counts, tophash, emptyRest);
 * aborts with "gort: fatal error: ..." on a violation. Returns the count. */
size_t gort__map_validate(const gort_map *m);
/* The bucket index (low B bits of the hash) of key in m. */
uint64_t gort__map_hash(const gort_map *m, const void *key);
/* 1 if the AES-NI hash is in use. */
int gort__map_hash_uses_aes(void);

/* ---- collected maps (src/map_gc.c) ----
 * A collected map's types, built at gort_map_make_gc from its gort_maptype and
 * layout, interned by shape (one record per distinct shape, never freed:
 * a span of a large bucket array points to `bucket`, so a record must
 * outlive every array made with it; a program has few map shapes, as Go's
 * compiler makes one bucket type per map type). Immutable once published. */
typedef struct gort__map_gctype {
    struct gort__map_gctype *next; /* the interning list */
    uint64_t hash;                 /* of the shape */
    gort_type bucket;              /* one bucket: its keys' and elems' pointer words and the
                                    * overflow link (the last word); n buckets are
                                    * gort_new_typed(&bucket, n) */
    gort_type key, elem;           /* an out-of-line key / elem block (size 0: stored inline) */
    int slot_ptrs;                 /* a key or elem slot holds a pointer (delete clears them) */
    uint64_t masks[];              /* bucket's mask words, then key's, then elem's */
} gort__map_gctype;
/* The interned types of a map with maptype t and this layout (ikey/ielem:
 * keys/elems stored out of line). A key_type/elem_type that does not fit t
 * is a fatal error (the message names the function and the type). */
const gort__map_gctype *gort__map_gctype_get(const gort_maptype *t, size_t bucket_size, size_t key_stride,
                                             size_t elem_stride, int ikey, int ielem);

#endif
