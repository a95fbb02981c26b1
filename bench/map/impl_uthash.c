/* uthash: an intrusive chained table; one malloc per entry. No presizing. */
#include <stdint.h>
#include <stdlib.h>
#include <uthash.h>
#include "malloc_stats.h"
#define IMPL_NAME "uthash"
#define IMPL_HAS_HINT 0
typedef struct ent {
    uint64_t key, val;
    UT_hash_handle hh;
} ent;
typedef struct sent {
    const char *key;
    uint64_t val;
    UT_hash_handle hh;
} sent;
typedef struct M {
    ent *head;
} M;
typedef struct S {
    sent *head;
} S;
static inline M *m_new(size_t hint) {
    (void)hint;
    return calloc(1, sizeof(M));
}
static inline void m_put(M *m, uint64_t k, uint64_t v) {
    ent *e;
    HASH_FIND(hh, m->head, &k, sizeof k, e);
    if (e) {
        e->val = v;
        return;
    }
    e = malloc(sizeof *e);
    e->key = k;
    e->val = v;
    HASH_ADD(hh, m->head, key, sizeof(uint64_t), e);
}
static inline int m_get(M *m, uint64_t k, uint64_t *v) {
    ent *e;
    HASH_FIND(hh, m->head, &k, sizeof k, e);
    if (!e) return 0;
    *v = e->val;
    return 1;
}
static inline void m_del(M *m, uint64_t k) {
    ent *e;
    HASH_FIND(hh, m->head, &k, sizeof k, e);
    if (e) {
        HASH_DEL(m->head, e);
        free(e);
    }
}
static inline uint64_t m_sum(M *m) {
    uint64_t acc = 0;
    for (ent *e = m->head; e; e = e->hh.next) acc += e->val;
    return acc;
}
static inline void m_free(M *m) {
    ent *e, *t;
    HASH_ITER(hh, m->head, e, t) {
        HASH_DEL(m->head, e);
        free(e);
    }
    free(m);
}
static inline S *s_new(size_t hint) {
    (void)hint;
    return calloc(1, sizeof(S));
}
static inline void s_put(S *s, const char *k, uint64_t v) {
    sent *e;
    HASH_FIND(hh, s->head, k, 16, e);
    if (e) {
        e->val = v;
        return;
    }
    e = malloc(sizeof *e);
    e->key = k;
    e->val = v;
    HASH_ADD_KEYPTR(hh, s->head, e->key, 16, e);
}
static inline int s_get(S *s, const char *k, uint64_t *v) {
    sent *e;
    HASH_FIND(hh, s->head, k, 16, e);
    if (!e) return 0;
    *v = e->val;
    return 1;
}
static inline void s_free(S *s) {
    sent *e, *t;
    HASH_ITER(hh, s->head, e, t) {
        HASH_DEL(s->head, e);
        free(e);
    }
    free(s);
}
#include "workloads.h"
