/* GLib GHashTable: integer keys stored directly in the key pointer
 * (g_direct_hash/equal), string keys with g_str_hash/equal. No presizing. */
#include <glib.h>
#include <stdint.h>
#include "malloc_stats.h"
#define IMPL_NAME "glib"
#define IMPL_HAS_HINT 0
typedef GHashTable M;
typedef GHashTable S;
static inline M *m_new(size_t hint) {
    (void)hint;
    return g_hash_table_new(g_direct_hash, g_direct_equal);
}
static inline void m_put(M *m, uint64_t k, uint64_t v) {
    g_hash_table_insert(m, (gpointer)(uintptr_t)k, (gpointer)(uintptr_t)v);
}
static inline int m_get(M *m, uint64_t k, uint64_t *v) {
    gpointer p = g_hash_table_lookup(m, (gconstpointer)(uintptr_t)k); /* values are never 0 */
    if (!p) return 0;
    *v = (uint64_t)(uintptr_t)p;
    return 1;
}
static inline void m_del(M *m, uint64_t k) { g_hash_table_remove(m, (gconstpointer)(uintptr_t)k); }
static inline uint64_t m_sum(M *m) {
    GHashTableIter it;
    gpointer k, v;
    uint64_t acc = 0;
    g_hash_table_iter_init(&it, m);
    while (g_hash_table_iter_next(&it, &k, &v)) acc += (uint64_t)(uintptr_t)v;
    return acc;
}
static inline void m_free(M *m) { g_hash_table_destroy(m); }
static inline S *s_new(size_t hint) {
    (void)hint;
    return g_hash_table_new(g_str_hash, g_str_equal);
}
static inline void s_put(S *s, const char *k, uint64_t v) {
    g_hash_table_insert(s, (gpointer)k, (gpointer)(uintptr_t)v);
}
static inline int s_get(S *s, const char *k, uint64_t *v) {
    gpointer p = g_hash_table_lookup(s, k);
    if (!p) return 0;
    *v = (uint64_t)(uintptr_t)p;
    return 1;
}
static inline void s_free(S *s) { g_hash_table_destroy(s); }
#include "workloads.h"
