/* stb_ds: hmput/hmgeti (open addressing index + dense entry array). No presizing API. */
#include <stdint.h>
#define STB_DS_IMPLEMENTATION
#include <stb/stb_ds.h>
#include "malloc_stats.h"
#define IMPL_NAME "stb_ds"
#define IMPL_HAS_HINT 0
typedef struct ent {
    uint64_t key, value;
} ent;
typedef struct sent {
    char *key;
    uint64_t value;
} sent;
typedef struct M {
    ent *h;
} M;
typedef struct S {
    sent *h;
} S;
static inline M *m_new(size_t hint) {
    (void)hint;
    return calloc(1, sizeof(M));
}
static inline void m_put(M *m, uint64_t k, uint64_t v) { hmput(m->h, k, v); }
static inline int m_get(M *m, uint64_t k, uint64_t *v) {
    ptrdiff_t i = hmgeti(m->h, k);
    if (i < 0) return 0;
    *v = m->h[i].value;
    return 1;
}
static inline void m_del(M *m, uint64_t k) { (void)hmdel(m->h, k); }
static inline uint64_t m_sum(M *m) {
    uint64_t acc = 0;
    for (ptrdiff_t i = 0; i < hmlen(m->h); i++) acc += m->h[i].value;
    return acc;
}
static inline void m_free(M *m) {
    hmfree(m->h);
    free(m);
}
static inline S *s_new(size_t hint) {
    (void)hint;
    return calloc(1, sizeof(S));
}
static inline void s_put(S *s, const char *k, uint64_t v) { shput(s->h, (char *)k, v); }
static inline int s_get(S *s, const char *k, uint64_t *v) {
    ptrdiff_t i = shgeti(s->h, (char *)k);
    if (i < 0) return 0;
    *v = s->h[i].value;
    return 1;
}
static inline void s_free(S *s) {
    shfree(s->h);
    free(s);
}
#include "workloads.h"
