/*
 * test_gc_rescan: the concurrent mark's re-scan of written pages by words. A page written
 * again in a later walk of the same cycle is re-scanned only where its pointer words differ
 * from a copy of what was greyed from it; a wrong copy loses exactly the objects whose only
 * reference sits in such a page. So every object here has one reference, and it keeps moving
 * between slots of pages written over and over, while a second thread runs cycles back to
 * back (GORT_GCCHECKMARK=1 in tests/run.sh re-marks the heap after each and aborts on an
 * object the concurrent mark missed; a freed object fails its stamp check here):
 *   - a typed array of references (a large object, scanned by its type's mask),
 *   - a conservative block (gort_gc_alloc) and a gort_malloc_scanned block (manual, a root),
 *   - small objects: each object's own `next` field (a span of one pointer mask) and holders
 *     of 16 pointers (a span whose words have their own bits), some replaced by copies while
 *     the cycles run (so a page holds objects marked after its copy was taken).
 * A reference moves from slot to slot and back (a word returning to a value its copy holds),
 * and an object whose only reference is in another object's `next` is itself moved around.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gort.h>
#include "check.h"
#include "gc_check.h"

#define NOINLINE __attribute__((noinline))

typedef struct Obj {
    struct Obj *next;
    uint64_t id, stamp;
} Obj;
GORT_TYPE(Obj, next);

typedef struct Ref {
    Obj *p;
    uint64_t pad; /* a scalar word between references */
} Ref;
GORT_TYPE(Ref, p);

typedef struct Holder {
    Obj *slot[16];
} Holder;
GORT_TYPE(Holder, slot);

static _Atomic int g_stop;
static void *collector(void *arg) {
    (void)arg;
    while (!atomic_load(&g_stop)) gort_gc();
    return NULL;
}

static uint64_t stamp_of(uint64_t id) { return id * 0x9e3779b97f4a7c15ull ^ 0xc2b2ae35; }
static void check_obj(const Obj *o, uint64_t id) {
    if (!o || o->id != id || o->stamp != stamp_of(id)) {
        fprintf(stderr, "object %llu lost or overwritten (%p)\n", (unsigned long long)id, (const void *)o);
        exit(1);
    }
}

/* The places a reference can be: NREF typed slots, NCONS conservative words, NMAN words
 * of a scanned manual block, NHOLD * 16 holder slots, and the `next` field of an object. */
enum { NREF = 131072, NCONS = 32768, NMAN = 32768, NHOLD = 2048, NOBJ = 20000 };
/* Ballast: a long list, so that a mark takes long enough for a round to find more written
 * pages (the slots span 800 pages) than the pause may take, and rounds follow. */
enum { NBALLAST = 1 << 20 };
static Obj *g_ballast;
enum { IN_REF, IN_CONS, IN_MAN, IN_HOLD, IN_NEXT, NPLACES };
static Ref *g_ref;
static uintptr_t *g_cons;
static uintptr_t *g_man;
static Holder **g_hold; /* in a scanned block */

/* object i's reference: place kind and index (a holder slot: h * 16 + k; IN_NEXT: the
 * index of the object whose next field holds it). Kept in plain malloc memory, which the
 * collector does not scan: it names slots, never objects. */
static uint8_t *where;
static uint32_t *at;
static int32_t *carrier; /* the object whose next holds object i's reference, or -1 */
static int32_t *carried; /* the object that object i's next holds, or -1 */

static Obj **slot_of(int kind, uint32_t idx) {
    switch (kind) {
    case IN_REF: return &g_ref[idx].p;
    case IN_CONS: return (Obj **)&g_cons[idx];
    case IN_MAN: return (Obj **)&g_man[idx];
    case IN_HOLD: return &g_hold[idx / 16]->slot[idx % 16];
    default: return NULL;
    }
}
static uint32_t places(int kind) {
    return kind == IN_REF ? NREF : kind == IN_CONS ? NCONS : kind == IN_MAN ? NMAN : NHOLD * 16;
}

static Obj *ref_of(int i);
static Obj **place_of(int i) {
    if (where[i] == IN_NEXT) return &ref_of(carrier[i])->next;
    return slot_of(where[i], at[i]);
}
static Obj *ref_of(int i) { return *place_of(i); }

static Obj *make_obj(uint64_t id) {
    Obj *o = gort_new(Obj);
    CHECK(o);
    o->id = id;
    o->stamp = stamp_of(id);
    return o;
}

/* Moves object i's only reference to a free place picked at random. */
NOINLINE static void move(uint64_t *s, int i) {
    Obj **from = place_of(i);
    Obj *p = *from;
    check_obj(p, (uint64_t)i);
    int kind = (int)(rng_next(s) % NPLACES);
    if (kind == IN_NEXT) {
        /* into the next field of an object that carries nothing and is not i, nor carried by i */
        int c = (int)(rng_next(s) % NOBJ);
        if (c == i || carried[c] >= 0 || carried[i] == c) return;
        for (int k = c; k >= 0; k = carrier[k]) /* no cycle of carriers */
            if (k == i) return;
        ref_of(c)->next = p;
        *from = NULL;
        if (where[i] == IN_NEXT) carried[carrier[i]] = -1;
        carried[c] = i;
        carrier[i] = c;
        where[i] = IN_NEXT;
        return;
    }
    uint32_t idx = (uint32_t)(rng_next(s) % places(kind));
    Obj **to = slot_of(kind, idx);
    if (*to) return; /* taken */
    *to = p;
    *from = NULL;
    if (where[i] == IN_NEXT) carried[carrier[i]] = -1;
    carrier[i] = -1;
    where[i] = (uint8_t)kind;
    at[i] = idx;
}

/* Replaces object i by a new one with the same id: the old one dies; what it carried moves
 * to the new one. */
NOINLINE static void renew(int i) {
    Obj **place = place_of(i);
    Obj *old = *place;
    check_obj(old, (uint64_t)i);
    Obj *n = make_obj((uint64_t)i);
    n->next = old->next;
    *place = n;
    old->next = NULL;
}

/* Replaces holder h by a copy: objects on the new holder's page are marked after the
 * copies of other pages were taken. */
NOINLINE static void renew_holder(int h) {
    Holder *n = gort_new(Holder);
    CHECK(n);
    memcpy(n->slot, g_hold[h]->slot, sizeof n->slot);
    g_hold[h] = n;
}

NOINLINE static void setup(uint64_t *s) {
    g_ref = gort_new_array(Ref, NREF);
    g_cons = gort_gc_alloc(NCONS * sizeof(uintptr_t));
    g_man = gort_malloc_scanned(NMAN * sizeof(uintptr_t));
    g_hold = gort_malloc_scanned(NHOLD * sizeof *g_hold);
    where = malloc(NOBJ);
    at = malloc(NOBJ * sizeof *at);
    carrier = malloc(NOBJ * sizeof *carrier);
    carried = malloc(NOBJ * sizeof *carried);
    CHECK(g_ref && g_cons && g_man && g_hold && where && at && carrier && carried);
    memset(g_man, 0, NMAN * sizeof(uintptr_t));
    memset(g_hold, 0, NHOLD * sizeof *g_hold);
    for (int i = 0; i < NBALLAST; i++) {
        Obj *b = make_obj(~0ull - 1);
        b->next = g_ballast;
        g_ballast = b;
    }
    for (int h = 0; h < NHOLD; h++) {
        g_hold[h] = gort_new(Holder);
        CHECK(g_hold[h]);
    }
    for (int i = 0; i < NOBJ; i++) {
        carrier[i] = carried[i] = -1;
        for (;;) {
            int kind = (int)(rng_next(s) % IN_NEXT);
            uint32_t idx = (uint32_t)(rng_next(s) % places(kind));
            Obj **to = slot_of(kind, idx);
            if (*to) continue;
            *to = make_obj((uint64_t)i);
            where[i] = (uint8_t)kind;
            at[i] = idx;
            break;
        }
    }
}

NOINLINE static void run(uint64_t *s, long moves) {
    for (long m = 0; m < moves; m++) {
        int i = (int)(rng_next(s) % NOBJ);
        uint64_t r = rng_next(s) % 64;
        if (r == 0) renew(i);
        else if (r == 1) renew_holder((int)(rng_next(s) % NHOLD));
        else move(s, i);
        if (m % 4096 == 0) /* garbage, for the pacer */
            for (int k = 0; k < 64; k++) make_obj(~0ull)->next = make_obj(~0ull);
    }
}

NOINLINE static void check_all(void) {
    for (int i = 0; i < NOBJ; i++) {
        check_obj(ref_of(i), (uint64_t)i);
        if (carried[i] >= 0) CHECK(ref_of(i)->next == ref_of(carried[i]));
        else CHECK(ref_of(i)->next == NULL);
    }
}

int main(void) {
    uint64_t s = test_seed();
    double scale = test_scale();
    setup(&s);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, collector, NULL) == 0);
    long moves = (long)(4000000 * scale);
    gort_gc();
    /* stop-the-world cycles (GORT_GCBARRIER=none, auto on this small heap) re-scan nothing:
     * a shorter run there, the same checks */
    if (!gc_stats_now().concurrent) moves /= 8;
    uint64_t gc0 = gc_stats_now().num_gc;
    /* 8 rounds of moves, more while fewer than 20 cycles ran (a slow build) */
    long done = 0;
    for (int round = 0; round < 8 || (gc_stats_now().num_gc - gc0 < 20 && round < 400); round++) {
        run(&s, moves / 8);
        done += moves / 8;
        check_all();
    }
    atomic_store(&g_stop, 1);
    CHECK(pthread_join(t, NULL) == 0);
    gc_clean(2);
    check_all();
    uint64_t cycles = gc_stats_now().num_gc - gc0;
    CHECK(cycles >= 20);
    gort_free(g_man);
    printf("test_gc_rescan: ok (%ld moves, %llu cycles)\n", done, (unsigned long long)cycles);
    return 0;
}
