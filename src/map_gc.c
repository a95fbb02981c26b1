/*
 * map_gc.c: the types of collected maps (gort_map_make_gc; the map itself is
 * src/map.c, the collector src/gc.c).
 *
 * Go's compiler makes a bucket type for each map type: tophash[8], the 8
 * keys, the 8 elems, the overflow pointer, with a pointer mask that marks the
 * keys' and elems' pointer words and the overflow link. gort builds the same
 * descriptor at make time from the map's layout (map.c) and the key and elem
 * gort_types, and interns it: one record per distinct shape (bucket mask,
 * out-of-line key/elem types), never freed, because a large bucket array's
 * span keeps a pointer to its type (gc.c's largetype) and an iterator can
 * keep an array alive after its map is gone. The records sit on 64 lock-free
 * lists (a push is a compare-and-swap; records are immutable once pushed),
 * so making a map takes no lock and is safe across fork. Two threads making
 * the first map of a shape at once may both push a record: harmless.
 *
 * The bucket mask always marks the last word (the overflow link), so
 * overflow buckets live as long as the bucket that links them. A pointer-free
 * map's buckets are therefore scanned too (the collector walks their mask);
 * Go instead allocates them noscan and keeps the overflow buckets in a side
 * list (hmap.extra), which gort does not do (docs/design.md).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "gort/gc.h"
#include "gort/map.h"
#include "internal.h"
#include "map_internal.h"

/* ---- ready-made types ---- */
static const uint64_t one_pointer_mask[1] = {1};
const gort_type gort_type_pointer = {sizeof(void *), _Alignof(void *), 1, one_pointer_mask, "pointer"};
const gort_type gort_type_string = {sizeof(gort_string), _Alignof(gort_string), 1, one_pointer_mask, "gort_string"};
_Static_assert(offsetof(gort_string, ptr) == 0, "gort_string's pointer is its first word");

enum { NLISTS = 64 };
static _Atomic(gort__map_gctype *) lists[NLISTS];

static __attribute__((noreturn)) void type_error(const char *which, const gort_type *ty, const char *what, size_t a,
                                                 size_t b) {
    char msg[256];
    snprintf(msg, sizeof msg, "gort_map_make_gc: %s type %s: %s (%zu, %zu)", which, ty->name ? ty->name : "(unnamed)",
             what, a, b);
    gort__fatal(msg);
}

/* The pointer words of a key or elem type of `size` bytes: ptrwords (0:
 * none); checks that it fits. */
static size_t check_type(const char *which, const gort_type *ty, size_t size) {
    if (ty == NULL) return 0;
    if (ty->size != size) type_error(which, ty, "its size is not the map's size for it", ty->size, size);
    if (ty->ptrwords == 0) return 0;
    if (ty->size % 8 != 0)
        type_error(which, ty, "a type with pointers must be a whole number of 8-byte words", ty->size, 8);
    if (ty->ptrwords > ty->size / 8)
        type_error(which, ty, "ptrwords is beyond its size in words", ty->ptrwords, ty->size / 8);
    if (ty->ptrmask == NULL) type_error(which, ty, "ptrwords without a ptrmask", ty->ptrwords, 0);
    return ty->ptrwords;
}

static inline int bit(const uint64_t *m, size_t i) { return (int)(m[i >> 6] >> (i & 63) & 1); }
static inline void set_bit(uint64_t *m, size_t i) { m[i >> 6] |= (uint64_t)1 << (i & 63); }
static inline size_t mask_words(size_t bits) { return (bits + 63) / 64; }

/* Marks a type's pointer words at word offset `at` of mask m. */
static void mark_type(uint64_t *m, size_t at, const gort_type *ty, size_t ptrwords) {
    for (size_t j = 0; j < ptrwords; j++)
        if (bit(ty->ptrmask, j)) set_bit(m, at + j);
}

static uint64_t hash_words(uint64_t h, const uint64_t *w, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= w[i];
        h *= 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
    }
    return h;
}

static int same_shape(const gort__map_gctype *a, const gort__map_gctype *b, size_t nmask) {
    return a->hash == b->hash && a->bucket.size == b->bucket.size && a->key.size == b->key.size &&
        a->key.ptrwords == b->key.ptrwords && a->elem.size == b->elem.size && a->elem.ptrwords == b->elem.ptrwords &&
        memcmp(a->masks, b->masks, nmask * 8) == 0;
}

const gort__map_gctype *gort__map_gctype_get(const gort_maptype *t, size_t bucket_size, size_t key_stride,
                                             size_t elem_stride, int ikey, int ielem) {
    size_t kp = check_type("key", t->key_type, t->key_size);
    size_t ep = check_type("elem", t->elem_type, t->elem_size);
    size_t bw = bucket_size / 8;
    size_t bmw = mask_words(bw), kmw = ikey ? mask_words(kp) : 0, emw = ielem ? mask_words(ep) : 0;
    size_t nmask = bmw + kmw + emw;
    /* the candidate record (freed when an equal one is found) */
    size_t bytes = sizeof(gort__map_gctype) + nmask * 8;
    gort__map_gctype *c = gort_malloc(bytes);
    if (c == NULL) gort__fatal("gort_map_make_gc: out of memory for the map's type");
    memset(c, 0, bytes);
    uint64_t *bm = c->masks, *km = bm + bmw, *em = km + kmw;
    const size_t eoff = 8 + 8 * key_stride;
    for (size_t i = 0; i < 8; i++) {
        size_t kw = (8 + i * key_stride) / 8, ew = (eoff + i * elem_stride) / 8;
        if (ikey) set_bit(bm, kw); /* the slot holds the block's address */
        else if (kp) mark_type(bm, kw, t->key_type, kp);
        if (ielem) set_bit(bm, ew);
        else if (ep) mark_type(bm, ew, t->elem_type, ep);
    }
    c->slot_ptrs = 0;
    for (size_t i = 0; i < bmw; i++) c->slot_ptrs |= bm[i] != 0;
    set_bit(bm, bw - 1); /* the overflow link */
    if (kmw) mark_type(km, 0, t->key_type, kp);
    if (emw) mark_type(em, 0, t->elem_type, ep);
    c->bucket = (gort_type){bucket_size, 8, bw, NULL, "gort map bucket"};
    if (ikey) c->key = (gort_type){t->key_size, 8, kp, NULL, "gort map key"};
    if (ielem) c->elem = (gort_type){t->elem_size, 8, ep, NULL, "gort map elem"};
    uint64_t shape[5] = {bucket_size, c->key.size, c->key.ptrwords, c->elem.size, c->elem.ptrwords};
    c->hash = hash_words(hash_words(0x243f6a8885a308d3ULL, shape, 5), c->masks, nmask);
    _Atomic(gort__map_gctype *) *list = &lists[c->hash % NLISTS];
    c->bucket.ptrmask = c->masks;
    c->key.ptrmask = kmw ? c->masks + bmw : NULL;
    c->elem.ptrmask = emw ? c->masks + bmw + kmw : NULL;
    /* publish c unless an equal record is on the list */
    gort__map_gctype *head = atomic_load_explicit(list, memory_order_acquire);
    for (;;) {
        for (gort__map_gctype *e = head; e; e = e->next)
            if (same_shape(e, c, nmask)) {
                gort_free(c);
                return e;
            }
        c->next = head;
        /* release: the record's fields are written before it can be found */
        if (atomic_compare_exchange_weak_explicit(list, &head, c, memory_order_release, memory_order_acquire)) return c;
    }
}
