/*
 * test_gc_unreachable: nothing but the program's roots keeps an object alive; the
 * collector's own bookkeeping must not act as a root.
 *   1. The process's first collected object (at the start of the heap's first arena, the
 *      lowest heap address, which the collector itself records) is freed once dropped.
 *   2. The same for the first object of a fresh span class and of a large span, and for
 *      objects allocated right after a collection.
 * Liveness is observed through weak references; objects are built in noinline functions
 * and the stack is wiped before collecting.
 */
#include <stdint.h>
#include <gort.h>
#include "check.h"
#include "gc_check.h"

#define NOINLINE __attribute__((noinline))

typedef struct Node {
    struct Node *next;
    uint64_t v[3];
} Node;
GORT_TYPE(Node, next);

static gort_weak *g_first;
static uintptr_t g_first_addr;
NOINLINE static void make_first(void) {
    Node *n = gort_new(Node); /* before any other gort call */
    CHECK(n);
    n->v[0] = 1;
    g_first = gort_weak_make(n);
    g_first_addr = (uintptr_t)n ^ 0x5A5A000000000000ULL; /* hidden: for the message only */
}

enum { NW = 4 };
static gort_weak *g_w[NW];
NOINLINE static void make_others(void) {
    void *a = gort_gc_alloc(3000);          /* a size class not used before */
    void *b = gort_gc_alloc_noscan(200000); /* a large span */
    void *c = gort_new_array(Node, 100);
    gort_gc();
    void *d = gort_new(Node); /* right after a collection */
    CHECK(a && b && c && d);
    g_w[0] = gort_weak_make(a);
    g_w[1] = gort_weak_make(b);
    g_w[2] = gort_weak_make(c);
    g_w[3] = gort_weak_make(d);
}

int main(void) {
    make_first();
    test_seed();
    clobber_stack();
    gort_gc();
    gort_gc();
    int fails = 0;
    if (weak_live(g_first)) {
        fprintf(stderr, "the process's first collected object (%#llx) survived 2 collections unreferenced\n",
                (unsigned long long)(g_first_addr ^ 0x5A5A000000000000ULL));
        fails++;
    }
    make_others();
    clobber_stack();
    gort_gc();
    gort_gc();
    static const char *const what[NW] = {"the first 3000 B object", "a 200000 B noscan object", "a typed array",
                                         "an object allocated right after a collection"};
    for (int i = 0; i < NW; i++)
        if (weak_live(g_w[i])) {
            fprintf(stderr, "%s survived 2 collections unreferenced\n", what[i]);
            fails++;
        }
    if (fails) return 1;
    printf("test_gc_unreachable: ok\n");
    return 0;
}
