/*
 * test_gc_typed_prop: typed objects of random shapes are scanned exactly by their masks.
 * 48 hand-built descriptors, each a random size of 1-64 words (every small size class
 * from 8 to 512 bytes, including those whose slots straddle a 64-word bitmap word) with
 * a random pointer mask. Holders of random types are allocated and dropped over several
 * rounds, so slots are reused by types of other shapes; in every holder each pointer word
 * holds the only reference to a stamped target, and each scalar word holds the address
 * of a decoy that nothing else references. After each round's collections:
 *   - every target of a live holder is alive with its stamp (a pointer word was scanned);
 *   - nearly every decoy is freed (a scalar word was not scanned). The stack is scanned
 *     conservatively, so a few stale copies may keep a decoy: at most 2% may survive,
 *     where stale pointer bits would keep all of them.
 * Every new object, typed or conservative (gort_gc_alloc, scribbled on and dropped), must
 * read as zero, though later rounds reuse slots that held pointers and junk.
 * The reference model is the descriptor itself: what the test wrote into each word.
 * GORT_TEST_TSAN.
 */
#include <stdint.h>
#include <gort.h>
#include "check.h"
#include "gc_check.h"

#define NOINLINE __attribute__((noinline))
#define NTYPES 48
#define NHOLD 600

static uint64_t masks[NTYPES];
static gort_type types[NTYPES];

typedef struct {
    uint64_t *obj; /* the holder (collected, typed) */
    unsigned type;
    gort_weak **weak; /* per word: the target's (pointer word) or decoy's (scalar word) handle */
} holder;

/* roots the collector sees: holders and weak handles live in scanned manual blocks */
static holder *hold;

static uint64_t stamp_of(uint64_t id) { return id * 0x9E3779B97F4A7C15ULL ^ 0x5bd1e995; }

NOINLINE static uint64_t *stamped(uint64_t id) {
    uint64_t *p = gort_gc_alloc_noscan(16);
    CHECK(p);
    p[0] = id;
    p[1] = stamp_of(id);
    return p;
}

NOINLINE static void fill(holder *h, unsigned type, uint64_t *id) {
    const gort_type *t = &types[type];
    size_t words = t->size / 8;
    h->type = type;
    h->obj = gort_new_typed(t, 1);
    CHECK(h->obj);
    for (size_t i = 0; i < words; i++) CHECK(h->obj[i] == 0); /* zeroed, every word */
    /* a conservative block of the same size: zeroed too, then scribbled on and
     * dropped, so that later rounds reuse dirty slots */
    uint64_t *g = gort_gc_alloc(words * 8);
    CHECK(g);
    for (size_t i = 0; i < words; i++) CHECK(g[i] == 0);
    for (size_t i = 0; i < words; i++) g[i] = 0xdeadbeefdeadbeefull ^ i;
    g = NULL;
    h->weak = gort_malloc_scanned(words * sizeof *h->weak);
    CHECK(h->weak);
    for (size_t i = 0; i < words; i++) {
        uint64_t *o = stamped((*id)++);
        h->weak[i] = gort_weak_make(o);
        CHECK(h->weak[i]);
        h->obj[i] = (uint64_t)(uintptr_t)o; /* the only reference, pointer word or not */
        o = NULL;
    }
}

NOINLINE static void drop(holder *h) {
    gort_free(h->weak);
    h->weak = NULL;
    h->obj = NULL;
}

NOINLINE static void collect(void) {
    clobber_stack();
    gort_gc();
    gort_gc();
}

/* Checks every live holder; returns the decoys still alive. */
NOINLINE static size_t check_all(size_t *decoys) {
    size_t alive_decoys = 0, n = 0;
    for (int k = 0; k < NHOLD; k++) {
        holder *h = &hold[k];
        if (!h->obj) continue;
        size_t words = types[h->type].size / 8;
        for (size_t i = 0; i < words; i++) {
            int is_ptr = masks[h->type] >> i & 1;
            uint64_t *o = gort_weak_get(h->weak[i]);
            if (is_ptr) {
                if (!o || (uintptr_t)o != h->obj[i] || o[1] != stamp_of(o[0])) {
                    fprintf(stderr, "holder %d type %u (%zu words, mask %#llx): target of pointer word %zu %s\n", k,
                            h->type, words, (unsigned long long)masks[h->type], i, o ? "corrupt" : "freed");
                    exit(1);
                }
            } else {
                n++;
                alive_decoys += o != NULL;
            }
        }
    }
    *decoys = n;
    return alive_decoys;
}

int main(void) {
    uint64_t seed = test_seed(), rng = seed;
    for (int i = 0; i < NTYPES; i++) {
        /* sizes 1-64 words: the first 16 types take 1..16 words, the rest random */
        size_t words = i < 16 ? (size_t)i + 1 : 1 + rng_next(&rng) % 64;
        uint64_t m = rng_next(&rng) & (words == 64 ? ~0ull : (1ull << words) - 1);
        if (!m) m = 1ull << (rng_next(&rng) % words);
        masks[i] = m;
        types[i].size = words * 8;
        types[i].align = 8;
        types[i].ptrwords = 64 - (size_t)__builtin_clzll(m);
        types[i].ptrmask = &masks[i];
        types[i].name = "random";
    }
    hold = gort_malloc_scanned(NHOLD * sizeof *hold);
    CHECK(hold);
    memset(hold, 0, NHOLD * sizeof *hold);
    uint64_t id = 1;
    int rounds = test_scale() < 1 ? 3 : 6;
    size_t worst_pct = 0;
    for (int r = 0; r < rounds; r++) {
        /* drop about half, refill every empty place with a random type */
        for (int k = 0; k < NHOLD; k++)
            if (hold[k].obj && rng_next(&rng) % 2) drop(&hold[k]);
        for (int k = 0; k < NHOLD; k++)
            if (!hold[k].obj) fill(&hold[k], (unsigned)(rng_next(&rng) % NTYPES), &id);
        collect();
        size_t decoys, alive = check_all(&decoys);
        size_t pct = decoys ? alive * 100 / decoys : 0;
        if (pct > worst_pct) worst_pct = pct;
        if (alive * 50 > decoys) {
            fprintf(stderr, "round %d: %zu of %zu unreferenced decoys survived (seed %llu)\n", r, alive, decoys,
                    (unsigned long long)seed);
            exit(1);
        }
    }
    gort_check_heap();
    printf("test_gc_typed_prop: ok (%d rounds, worst %zu%% of decoys kept by stale stack words)\n", rounds, worst_pct);
    return 0;
}
