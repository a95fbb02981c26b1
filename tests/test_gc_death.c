/*
 * test_gc_death: misuses of collected objects are fatal, with "gort: fatal error:" and the
 * address on stderr (each case in a forked child that must die by SIGABRT):
 *   gort_free of a collected object: from gort_new, gort_new_array (large), gort_gc_alloc,
 *   gort_gc_alloc_noscan (small and large), an interior pointer into one, and an object
 *   the collector has already freed; gort_realloc of a collected object;
 *   gort_set_finalizer twice on the same object.
 * The parent then checks that its own collector still works.
 */
#include <stdint.h>
#include <gort.h>
#include "check.h"
#include "gc_check.h"

#define NOINLINE __attribute__((noinline))

typedef struct Node {
    struct Node *next;
    uint64_t v;
} Node;
GORT_TYPE(Node, next);

static void *g_keep[4];

static void free_new(void *arg) {
    Node *n = gort_new(Node);
    g_keep[0] = n;
    announce(n);
    gort_free(n);
}
static void free_new_array_large(void *arg) {
    Node *a = gort_new_array(Node, 20000); /* 320 KiB */
    g_keep[0] = a;
    announce(a);
    gort_free(a);
}
static void free_gc_alloc(void *arg) {
    void *p = gort_gc_alloc((size_t)(uintptr_t)arg);
    g_keep[0] = p;
    announce(p);
    gort_free(p);
}
static void free_gc_alloc_noscan(void *arg) {
    void *p = gort_gc_alloc_noscan((size_t)(uintptr_t)arg);
    g_keep[0] = p;
    announce(p);
    gort_free(p);
}
static void free_interior(void *arg) {
    char *p = gort_gc_alloc(256);
    g_keep[0] = p;
    announce(p + 64);
    gort_free(p + 64);
}
static void realloc_collected(void *arg) {
    void *p = gort_gc_alloc(100);
    g_keep[0] = p;
    announce(p);
    void *q = gort_realloc(p, 1000);
    (void)q;
}

/* an object the collector has freed: its address is kept hidden (not a root) */
static uintptr_t g_hidden;
static gort_weak *g_w;
NOINLINE static void make_garbage(void) {
    Node *n = gort_new(Node);
    g_w = gort_weak_make(n);
    g_hidden = (uintptr_t)n ^ 0xA5A5000000000000ULL;
    for (int i = 0; i < 64; i++) g_keep[i % 4] = gort_new(Node); /* live neighbours */
}
static void free_collected(void *arg) {
    make_garbage();
    clobber_stack();
    for (int i = 0; i < 4 && gort_weak_get(g_w); i++) gort_gc();
    if (gort_weak_get(g_w)) {
        fprintf(stderr, "(the object was not collected: case not exercised)\n");
        _exit(0);
    }
    void *p = (void *)(g_hidden ^ 0xA5A5000000000000ULL);
    announce(p);
    gort_free(p);
}

static void fin(void *obj, void *arg) {}
static void finalizer_twice(void *arg) {
    Node *n = gort_new(Node);
    g_keep[0] = n;
    gort_set_finalizer(n, fin, NULL);
    announce(n);
    gort_set_finalizer(n, fin, NULL);
}

/* The child of a case (it writes the address it misuses, announce, so that the parent can
 * look for it); if the misuse returns, the collector runs once more. */
static void case_child(void *p) {
    struct child_call *c = p;
    alarm(30);
    c->fn(c->arg);
    fprintf(stderr, "(returned normally)\n");
    gort_gc();
}

static int g_failed;
static void run_case(const char *name, void (*fn)(void *), void *arg) {
    static char buf[16384];
    struct child_call c = {fn, arg};
    int status = run_child(case_child, &c, 0, buf, sizeof buf);
    char addr[32] = "";
    const char *msg = death_message(buf, "ADDR=", addr);
    int died = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    int has_msg = strstr(msg, "gort: fatal error:") != NULL;
    int has_addr = addr[0] && (strstr(msg, addr) != NULL);
    if (!died || !has_msg || !has_addr) {
        printf("FAIL %-40s (%s%s%s) stderr:\n%s\n", name, died ? "" : "no SIGABRT; ",
               has_msg ? "" : "no 'gort: fatal error:'; ", has_addr ? "" : "address not named", buf);
        g_failed++;
    } else {
        printf("ok   %s\n", name);
    }
}

#define ARG(x) ((void *)(uintptr_t)(x))

int main(void) {
    test_seed();
    /* the children inherit a started collector and a heap in use (the heap's very first
     * object is a case of its own: test_gc_unreachable) */
    for (int i = 0; i < 4; i++) g_keep[i] = gort_new(Node);
    gort_gc();
    run_case("gort_free(gort_new)", free_new, NULL);
    run_case("gort_free(gort_new_array, 320 KiB)", free_new_array_large, NULL);
    run_case("gort_free(gort_gc_alloc 48 B)", free_gc_alloc, ARG(48));
    run_case("gort_free(gort_gc_alloc 100 KiB)", free_gc_alloc, ARG(100000));
    run_case("gort_free(gort_gc_alloc_noscan 16 B)", free_gc_alloc_noscan, ARG(16));
    run_case("gort_free(gort_gc_alloc_noscan 1 MiB)", free_gc_alloc_noscan, ARG(1 << 20));
    run_case("gort_free(interior of gort_gc_alloc)", free_interior, NULL);
    run_case("gort_free(object already collected)", free_collected, NULL);
    run_case("gort_realloc(gort_gc_alloc)", realloc_collected, NULL);
    run_case("gort_set_finalizer twice", finalizer_twice, NULL);
    /* the parent's collector is untouched */
    Node *n = gort_new(Node);
    n->v = 42;
    gort_gc();
    CHECK(n->v == 42);
    gort_check_heap();
    if (g_failed) {
        fprintf(stderr, "test_gc_death: %d case(s) failed\n", g_failed);
        return 1;
    }
    printf("test_gc_death: ok\n");
    return 0;
}
