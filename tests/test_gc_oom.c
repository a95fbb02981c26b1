/*
 * test_gc_oom: collected allocation at real out-of-memory, under setrlimit(RLIMIT_AS).
 * The test runs itself twice more (the variable is read at start-up, so each case is a
 * fresh exec of this binary in a forked child):
 *   GORT_OOM=null: sizes that overflow return NULL with ENOMEM; then, with the limit a few
 *   hundred MiB above VmSize, gort_new_array of 1 MiB (kept reachable in a chain) until
 *   NULL, then gort_new, gort_gc_alloc and gort_gc_alloc_noscan until NULL: each NULL has
 *   errno ENOMEM, the chain stays intact and the heap consistent; dropping the chain and
 *   collecting makes the memory reusable (at least 80% as many 1 MiB arrays again);
 *   lifting the limit, a 1 GiB allocation works.
 *   GORT_OOM unset (abort, as Go): the same fill dies by SIGABRT printing
 *   "gort: out of memory: cannot allocate" and "gort: fatal error: out of memory".
 *   GORT_OOM=report: a manual allocation the OS refuses (gort_malloc of 1 TiB) returns
 *   NULL with ENOMEM after printing the out-of-memory line; the heap stays usable.
 * GORT_TEST_RELEASE_ONLY: RLIMIT_AS conflicts with ASan's and TSan's shadow memory.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/resource.h>
#include <gort.h>
#include "check.h"

typedef struct Node {
    struct Node *next;
    uint64_t id, check;
    uint64_t pad;
} Node;
GORT_TYPE(Node, next);

enum { CHUNK_NODES = (1 << 20) / sizeof(Node) };
static Node *g_chain;   /* 1 MiB arrays, linked through element 0 */
static Node *g_small;   /* gort_new nodes */
static void **g_blocks; /* gort_gc_alloc blocks, linked through word 0 */

static long vm_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    CHECK(f);
    char line[256];
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmSize:", 7) == 0) v = strtol(line + 7, NULL, 10);
    fclose(f);
    return v;
}

static void set_limit(struct rlimit *old) {
    long vm = vm_kib();
    CHECK(vm > 0);
    CHECK(getrlimit(RLIMIT_AS, old) == 0);
    struct rlimit lim = *old;
    lim.rlim_cur = (rlim_t)(vm + 384 * 1024) * 1024;
    if (old->rlim_cur != RLIM_INFINITY && old->rlim_cur < lim.rlim_cur) lim.rlim_cur = old->rlim_cur;
    CHECK(setrlimit(RLIMIT_AS, &lim) == 0);
    fprintf(stderr, "VmSize %ld KiB; RLIMIT_AS %llu KiB\n", vm, (unsigned long long)(lim.rlim_cur / 1024));
}

static long fill_chunks(void) {
    long n = 0;
    for (;;) {
        errno = 0;
        Node *a = gort_new_array(Node, CHUNK_NODES);
        if (!a) {
            if (errno != ENOMEM) {
                fprintf(stderr, "gort_new_array: NULL with errno %d, want ENOMEM\n", errno);
                exit(1);
            }
            return n;
        }
        a[0].next = g_chain;
        a[0].id = (uint64_t)n;
        a[CHUNK_NODES - 1].id = ~(uint64_t)n;
        g_chain = a;
        n++;
    }
}

static void check_chunks(long n) {
    long k = n;
    for (Node *a = g_chain; a; a = a[0].next) {
        k--;
        CHECK(a[0].id == (uint64_t)k && a[CHUNK_NODES - 1].id == ~(uint64_t)k);
    }
    CHECK(k == 0);
}

static int child_null(void) {
    /* overflow */
    errno = 0;
    CHECK(gort_new_array(Node, SIZE_MAX / 16) == NULL);
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(gort_gc_alloc(SIZE_MAX) == NULL);
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(gort_gc_alloc_noscan((size_t)PTRDIFF_MAX + 1) == NULL);
    CHECK_EQ(errno, ENOMEM);
    gort_gc();
    struct rlimit old;
    set_limit(&old);
    long n1 = fill_chunks();
    fprintf(stderr, "null: %ld x 1 MiB before NULL\n", n1);
    CHECK(n1 >= 64);
    /* smaller objects too */
    long small = 0, blocks = 0, noscan = 0;
    for (;; small++) {
        errno = 0;
        Node *x = gort_new(Node);
        if (!x) break;
        x->next = g_small;
        x->id = (uint64_t)small;
        g_small = x;
        if (small > 50000000) break;
    }
    CHECK_EQ(errno, ENOMEM);
    for (;; blocks++) {
        errno = 0;
        void **b = gort_gc_alloc(4096);
        if (!b) break;
        b[0] = g_blocks;
        g_blocks = b;
    }
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    for (;; noscan++) {
        errno = 0;
        void *b = gort_gc_alloc_noscan(100000);
        if (!b) break;
        if (noscan > 100000) break;
    }
    CHECK_EQ(errno, ENOMEM);
    fprintf(stderr, "null: then %ld x gort_new, %ld x 4 KiB gort_gc_alloc, %ld x 100 KB noscan\n", small, blocks,
            noscan);
    check_chunks(n1);
    long k = small;
    for (Node *x = g_small; x; x = x->next) CHECK(x->id == (uint64_t)--k);
    CHECK(k == 0);
    gort_check_heap();
    /* drop it all: the memory comes back */
    g_chain = NULL;
    g_small = NULL;
    g_blocks = NULL;
    gort_gc();
    gort_gc();
    long n2 = fill_chunks();
    fprintf(stderr, "null: after dropping everything, %ld x 1 MiB again\n", n2);
    CHECK(n2 * 10 >= n1 * 8);
    check_chunks(n2);
    g_chain = NULL;
    gort_gc();
    CHECK(setrlimit(RLIMIT_AS, &old) == 0);
    unsigned char *big = gort_gc_alloc_noscan((size_t)1 << 30);
    CHECK(big);
    big[0] = 1;
    big[((size_t)1 << 30) - 1] = 2;
    gort_check_heap();
    printf("null: ok\n");
    return 0;
}

/* GORT_OOM=report: a manual allocation the OS refuses returns NULL with
 * ENOMEM after Go's out-of-memory line. */
static int child_report(void) {
    struct rlimit old;
    set_limit(&old);
    errno = 0;
    void *p = gort_malloc((size_t)1 << 40);
    CHECK(p == NULL);
    CHECK_EQ(errno, ENOMEM);
    void *q = gort_malloc(100); /* the heap stays usable */
    CHECK(q);
    gort_free(q);
    printf("report: ok\n");
    return 0;
}

static int child_abort(void) {
    struct rlimit old;
    set_limit(&old);
    long n = fill_chunks(); /* must not return */
    fprintf(stderr, "abort: gort_new_array returned NULL after %ld x 1 MiB\n", n);
    return 0;
}

/* The child of run_self: this binary again, with GORT_OOM set (or unset). */
struct self_exec {
    const char *mode, *oom;
};
static void exec_self(void *p) {
    const struct self_exec *e = p;
    if (e->oom) setenv("GORT_OOM", e->oom, 1);
    else unsetenv("GORT_OOM");
    execl("/proc/self/exe", "test_gc_oom", e->mode, (char *)NULL);
    _exit(127);
}

/* Runs this binary with argument `mode` and GORT_OOM set to oom (NULL: unset). */
static const char *run_self(const char *mode, const char *oom, int want_abort) {
    static char buf[65536];
    struct self_exec e = {mode, oom};
    int st = run_child(exec_self, &e, 1, buf, sizeof buf);
    fprintf(stderr, "--- %s (GORT_OOM=%s):\n%s", mode, oom ? oom : "(unset)", buf);
    if (want_abort) {
        int ok = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && strstr(buf, "gort: out of memory: cannot allocate") &&
            strstr(buf, "gort: fatal error: out of memory");
        if (!ok) {
            fprintf(stderr, "%s: want SIGABRT with the out-of-memory messages; status %d\n", mode, st);
            exit(1);
        }
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "%s: status %d\n", mode, st);
        exit(1);
    }
    return buf;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "null") == 0) return child_null();
    if (argc > 1 && strcmp(argv[1], "abort") == 0) return child_abort();
    if (argc > 1 && strcmp(argv[1], "report") == 0) return child_report();
    test_seed();
    run_self("null", "null", 0);
    run_self("abort", NULL, 1);
    CHECK(strstr(run_self("report", "report", 0), "gort: out of memory: cannot allocate 1099511627776-byte block"));
    printf("test_gc_oom: ok\n");
    return 0;
}
/* GORT_TEST_RELEASE_ONLY */
