// Abseil absl::flat_hash_map (SwissTable) with absl::Hash.
#include <absl/container/flat_hash_map.h>
#include <cstdint>
#include <string_view>
#include "malloc_stats.h"
#define IMPL_NAME "absl"
#define IMPL_HAS_HINT 1
typedef absl::flat_hash_map<uint64_t, uint64_t> M;
typedef absl::flat_hash_map<std::string_view, uint64_t> S;
static inline M *m_new(size_t hint) { M *m = new M(); if (hint) m->reserve(hint); return m; }
static inline void m_put(M *m, uint64_t k, uint64_t v) { (*m)[k] = v; }
static inline int m_get(M *m, uint64_t k, uint64_t *v) {
    auto it = m->find(k);
    if (it == m->end()) return 0;
    *v = it->second;
    return 1;
}
static inline void m_del(M *m, uint64_t k) { m->erase(k); }
static inline uint64_t m_sum(M *m) { uint64_t acc = 0; for (auto &e : *m) acc += e.second; return acc; }
static inline void m_free(M *m) { delete m; }
static inline S *s_new(size_t hint) { S *s = new S(); if (hint) s->reserve(hint); return s; }
static inline void s_put(S *s, const char *k, uint64_t v) { (*s)[std::string_view(k, 16)] = v; }
static inline int s_get(S *s, const char *k, uint64_t *v) {
    auto it = s->find(std::string_view(k, 16));
    if (it == s->end()) return 0;
    *v = it->second;
    return 1;
}
static inline void s_free(S *s) { delete s; }
#include "workloads.h"
