/* gort/map.h: Go's hash map (hmap) for C. Owned by the map work (issue 4). */
#ifndef GORT_MAP_H
#define GORT_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "malloc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gort_maptype {
    size_t key_size, elem_size;
    uint64_t (*hash)(const void *key, uint64_t seed); /* NULL: hash the key's bytes */
    bool (*equal)(const void *a, const void *b);      /* NULL: compare the key's bytes */
} gort_maptype;

typedef struct gort_map gort_map;

GORT_API gort_map *gort_map_new(const gort_maptype *t, size_t hint);
GORT_API void *gort_map_get(gort_map *m, const void *key);
GORT_API void *gort_map_put(gort_map *m, const void *key);
GORT_API bool gort_map_delete(gort_map *m, const void *key);
GORT_API size_t gort_map_len(const gort_map *m);
GORT_API void gort_map_clear(gort_map *m);
GORT_API void gort_map_free(gort_map *m);

#ifdef __cplusplus
}
#endif
#endif
