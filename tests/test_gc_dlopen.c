/*
 * test_gc_dlopen: the statics of a shared library loaded with dlopen after the collector
 * has run (tests/lib_gc_dlopen.c, built next to this binary) are roots: objects stored
 * only there (in its .bss and its .data) survive many collections with their contents
 * intact. Cleared slots let their objects go; after dlclose unloads the library the
 * remaining ones are freed too, and collections do not touch the unmapped library.
 */
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <gort.h>
#include "check.h"
#include "gc_check.h"
#include "gc_list.h"

#define NOINLINE __attribute__((noinline))

NOINLINE static void churn(uint64_t *s, size_t bytes) {
    size_t done = 0;
    while (done < bytes) {
        uint64_t r = rng_next(s);
        build_list(1 + (long)(r % 16), r);
        void **p = gort_gc_alloc(16 + (size_t)(r >> 8) % 4096);
        CHECK(p);
        p[0] = p;
        done += 64 * (1 + r % 16) + 16 + (r >> 8) % 4096;
    }
}

enum { MAXSLOTS = 64, LEN = 100 };
static int (*lib_slots)(void);
static void (*lib_set)(int, void *);
static void *(*lib_get)(int);
static gort_weak *g_weak[MAXSLOTS];

static uint64_t base_of(int i) { return 1000000 + (uint64_t)i * 1000; }

NOINLINE static void fill(int n) {
    for (int i = 0; i < n; i++) {
        Node *h = build_list(LEN, base_of(i));
        g_weak[i] = gort_weak_make(h);
        CHECK(g_weak[i]);
        lib_set(i, h);
    }
}

NOINLINE static void verify(int n, int from) {
    for (int i = from; i < n; i++) verify_list(lib_get(i), LEN, base_of(i), "static of a dlopen'ed library");
}

NOINLINE static int count_live(int from, int to) {
    clobber_stack();
    gort_gc();
    gort_gc();
    int c = 0;
    for (int i = from; i < to; i++) c += weak_live(g_weak[i]);
    return c;
}

int main(void) {
    g_seed = test_seed();
    uint64_t s = g_seed;
    int rounds = test_sanitized() ? 10 : 40;

    /* the collector runs before the library exists */
    churn(&s, 1 << 20);
    gort_gc();

    char exe[PATH_MAX], path[PATH_MAX + 32];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(len > 0);
    exe[len] = 0;
    snprintf(path, sizeof path, "%s/lib_gc_dlopen.so", dirname(exe));
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return 1;
    }
    lib_slots = (int (*)(void))dlsym(lib, "lib_gc_slots");
    lib_set = (void (*)(int, void *))dlsym(lib, "lib_gc_set");
    lib_get = (void *(*)(int))dlsym(lib, "lib_gc_get");
    CHECK(lib_slots && lib_set && lib_get);
    int n = lib_slots();
    CHECK(n > 4 && n <= MAXSLOTS);

    fill(n);
    clobber_stack();
    for (int r = 0; r < rounds; r++) {
        churn(&s, 256 << 10);
        gort_gc();
        verify(n, 0);
    }
    CHECK(count_live(0, n) == n);

    /* cleared slots (two in .bss, two in .data): those objects go, the others stay */
    int half = n / 2;
    lib_set(0, NULL);
    lib_set(1, NULL);
    lib_set(n - 1, NULL);
    lib_set(n - 2, NULL);
    int live = count_live(0, n);
    if (live != n - 4 || weak_live(g_weak[0]) || weak_live(g_weak[1]) || weak_live(g_weak[n - 1]) ||
        weak_live(g_weak[n - 2])) {
        fprintf(stderr, "after clearing 4 of %d slots: %d objects alive\n", n, live);
        return 1;
    }
    verify(n - 2, 2);
    (void)half;

    /* dlclose: the library's statics are no longer roots (if it is really unloaded) */
    CHECK(dlclose(lib) == 0);
    lib_get = NULL;
    lib_set = NULL;
    void *again = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (again) {
        printf("dlclose did not unload the library: its statics stay roots\n");
        dlclose(again);
    } else {
        for (int r = 0; r < 3; r++) {
            churn(&s, 256 << 10);
            gort_gc();
        }
        live = count_live(0, n);
        if (live) {
            fprintf(stderr, "after dlclose: %d objects still alive\n", live);
            return 1;
        }
    }
    gort_check_heap();
    printf("test_gc_dlopen: ok\n");
    return 0;
}
