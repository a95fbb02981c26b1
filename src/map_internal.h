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

#endif
