/* gort's map through its typed layer (fast paths u64 and string). */
#include <gort.h>
#define IMPL_NAME "gort"
#define IMPL_HAS_HINT 1
GORT_MAP_DEFINE_U64(u64map, uint64_t, uint64_t)
GORT_MAP_DEFINE_STR(strmap, uint64_t)
typedef u64map M;
typedef strmap S;
static inline M *m_new(size_t hint) { return u64map_new(hint); }
static inline void m_put(M *m, uint64_t k, uint64_t v) { u64map_put(m, k, v); }
static inline int m_get(M *m, uint64_t k, uint64_t *v) {
    uint64_t *p = u64map_get(m, k);
    if (!p) return 0;
    *v = *p;
    return 1;
}
static inline void m_del(M *m, uint64_t k) { u64map_delete(m, k); }
static inline uint64_t m_sum(M *m) {
    gort_map_iter it;
    uint64_t acc = 0, *v;
    u64map_iter_init(&it, m);
    while (u64map_iter_next(&it, NULL, &v)) acc += *v;
    return acc;
}
static inline void m_free(M *m) { u64map_free(m); }
static inline S *s_new(size_t hint) { return strmap_new(hint); }
static inline void s_put(S *s, const char *k, uint64_t v) { strmap_put(s, gort_strn(k, 16), v); }
static inline int s_get(S *s, const char *k, uint64_t *v) {
    uint64_t *p = strmap_get(s, gort_strn(k, 16));
    if (!p) return 0;
    *v = *p;
    return 1;
}
static inline void s_free(S *s) { strmap_free(s); }
/* gort_stats' HeapAlloc counts whole thread-cache refills (as Go's does),
 * too coarse for one small map: the map's own exact count instead. */
static inline size_t mem_bytes(void) { return 0; }
#define map_mem(m, delta) gort_map_memory((gort_map *)(m))
#include "workloads.h"
