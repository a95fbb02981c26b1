/*
 * gc_list.h: the collected lists with check words that the collector's tests build and
 * verify (include after check.h).
 *
 *   g_seed                 the test's seed (main sets it); every check word depends on it
 *   mix(x)                 the check word of id x
 *   Node                   a typed node (gort_type_Node): next and child are pointers
 *   build_list(n, base)    a list of n nodes, ids base..base+n-1, each with a child node
 *                          holding ~id (2n objects)
 *   list_ok(h, n, base)    1 if h is exactly that list, every node and child intact with
 *                          its check word (a freed and reused object would be zeroed or
 *                          overwritten)
 *   verify_list(h, n, base, what)
 *                          as list_ok, but exits 1 naming what, the node and the seed
 *
 * With GC_LIST_NO_CHILD defined before the include: 24-byte nodes without the child
 * (next, id, check), n objects a list; list_ok is then not inlined, and there is no
 * verify_list.
 * build_list fails the test through GC_LIST_CHECK_ALLOC(p) when an allocation returns
 * NULL: CHECK(p) unless the test defines it before the include.
 *
 * build_list and verify_list are never inlined (nor list_ok without the child): the
 * addresses they handle stay in their own frames, dead once they return, which
 * clobber_stack wipes; inlined, those addresses could linger in the caller's frame or
 * registers and keep the objects alive (the stack is scanned conservatively).
 */
#ifndef GORT_TESTS_GC_LIST_H
#define GORT_TESTS_GC_LIST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <gort.h>

#ifndef GC_LIST_CHECK_ALLOC
#define GC_LIST_CHECK_ALLOC(p) CHECK(p)
#endif

static uint64_t g_seed;

static inline uint64_t mix(uint64_t x) {
    x = (x + g_seed) * 0x9E3779B97F4A7C15ULL;
    return x ^ (x >> 31);
}

#ifdef GC_LIST_NO_CHILD

typedef struct Node {
    struct Node *next;
    uint64_t id, check;
} Node;
GORT_TYPE(Node, next);

__attribute__((noinline)) static Node *build_list(long n, uint64_t base) {
    Node *h = NULL;
    for (long i = n - 1; i >= 0; i--) {
        Node *x = gort_new(Node);
        GC_LIST_CHECK_ALLOC(x);
        x->next = h;
        x->id = base + (uint64_t)i;
        x->check = mix(x->id);
        h = x;
    }
    return h;
}

__attribute__((noinline, unused)) static int list_ok(const Node *h, long n, uint64_t base) {
    for (long i = 0; i < n; i++, h = h->next)
        if (!h || h->id != base + (uint64_t)i || h->check != mix(base + (uint64_t)i)) return 0;
    return h == NULL;
}

#else

typedef struct Node {
    struct Node *next;
    struct Node *child;
    uint64_t id;
    uint64_t check;
} Node;
GORT_TYPE(Node, next, child);

__attribute__((noinline)) static Node *build_list(long n, uint64_t base) {
    Node *head = NULL;
    for (long i = n - 1; i >= 0; i--) {
        Node *c = gort_new(Node);
        GC_LIST_CHECK_ALLOC(c);
        c->id = ~(base + (uint64_t)i);
        c->check = mix(c->id);
        Node *x = gort_new(Node);
        GC_LIST_CHECK_ALLOC(x);
        x->next = head;
        x->child = c;
        x->id = base + (uint64_t)i;
        x->check = mix(x->id);
        head = x;
    }
    return head;
}

__attribute__((unused)) static int list_ok(const Node *h, long n, uint64_t base) {
    for (long i = 0; i < n; i++, h = h->next) {
        uint64_t id = base + (uint64_t)i;
        if (!h || h->id != id || h->check != mix(id) || !h->child || h->child->id != ~id || h->child->check != mix(~id))
            return 0;
    }
    return h == NULL;
}

__attribute__((noinline, unused)) static void verify_list(const Node *h, long n, uint64_t base, const char *what) {
    for (long i = 0; i < n; i++, h = h->next) {
        uint64_t id = base + (uint64_t)i;
        if (!h || h->id != id || h->check != mix(id) || !h->child || h->child->id != ~id ||
            h->child->check != mix(~id)) {
            fprintf(stderr, "%s: node %ld of %ld corrupted or freed (seed %llu)\n", what, i, n,
                    (unsigned long long)g_seed);
            exit(1);
        }
    }
    if (h != NULL) {
        fprintf(stderr, "%s: list longer than %ld (seed %llu)\n", what, n, (unsigned long long)g_seed);
        exit(1);
    }
}

#endif

#endif
