/*
 * test_throw: gort's two ways to die (src/debug.c), each in a forked child that must die by
 * SIGABRT. Both print "gort: fatal error: <msg>" (the _addr forms add " (address 0x...)");
 * only a throw, gort's own broken invariant, adds the line
 *   gort: this is a bug in gort (an internal invariant is broken)
 * The cases: gort__throw / gort__throw_addr / gort__fatal / gort__fatal_addr called directly
 * (the exact text); a heap check that fails on a span whose count was corrupted (a throw); a
 * double free, a free of a stack address, a put into a nil map and the map's inline paths'
 * gort__map_fatal (misuse: no second line); and the three assertion levels, each
 * checked exactly when the build's GORT_DEBUG reaches its level (release: none).
 * GORT_TEST_TSAN.
 */
#include <stdint.h>
#include "check.h"
#include "internal.h"
#include "gort/map.h"

static const char bug_line[] = "gort: this is a bug in gort (an internal invariant is broken)\n";
static int g_failed;

/* A case's child: fn(arg) under a 20 s alarm, then a line if it returned. */
static void case_child(void *p) {
    struct child_call *c = p;
    alarm(20);
    c->fn(c->arg);
    fprintf(stderr, "(returned normally)\n");
}

/* Runs fn(arg) in a child (check.h's run_child); returns its wait status, with its stderr
 * in buf. */
static int child_stderr(void (*fn)(void *), void *arg, char *buf, size_t cap) {
    struct child_call c = {fn, arg};
    return run_child(case_child, &c, 0, buf, cap);
}

/* The child must abort with `want` on stderr (want ends with its line's newline), then
 * the bug line at once if throw, and no bug line anywhere if not. */
static void expect(const char *name, void (*fn)(void *), void *arg, const char *want, int throw) {
    static char buf[16384];
    int status = child_stderr(fn, arg, buf, sizeof buf);
    int died = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    const char *at = strstr(buf, want);
    /* the message starts a line */
    int has_msg = at && (at == buf || at[-1] == '\n');
    int bug_next = has_msg && strncmp(at + strlen(want), bug_line, sizeof bug_line - 1) == 0;
    int bug_any = strstr(buf, bug_line) != NULL;
    if (!died || !has_msg || (throw ? !bug_next : bug_any)) {
        printf("FAIL %s (%s%s%s)\n     stderr: %s\n", name, died ? "" : "no SIGABRT; ",
               has_msg ? "" : "message missing; ",
               throw ? (bug_next ? "" : "no bug line after it") : (bug_any ? "a bug line for a misuse" : ""), buf);
        g_failed++;
    } else {
        printf("ok   %s\n", name);
    }
}

/* The child must return normally (an assertion the build does not check). */
static void expect_return(const char *name, void (*fn)(void *), void *arg) {
    static char buf[16384];
    int status = child_stderr(fn, arg, buf, sizeof buf);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !strstr(buf, "(returned normally)")) {
        printf("FAIL %s (did not return; status %d)\n     stderr: %s\n", name, status, buf);
        g_failed++;
    } else {
        printf("ok   %s\n", name);
    }
}

static void call_throw(void *arg) { gort__throw("test: a broken invariant"); }
static void call_throw_addr(void *arg) { gort__throw_addr("test: a broken invariant", (void *)0x7f00dead0010); }
static void call_fatal(void *arg) { gort__fatal("test: a misuse"); }
static void call_fatal_addr(void *arg) { gort__fatal_addr("test: a misuse", (void *)0x7f00dead0010); }

/* The span of a fresh object is this thread's current span for its class: its count
 * no longer matches its bits, which the heap check finds. */
static void corrupt_span_count(void *arg) {
    void *p = gort_malloc(100);
    CHECK(p);
    gort_mspan *s = gort__span_of((uintptr_t)p);
    CHECK(s);
    s->alloc_count--;
    gort_check_heap();
}

static void double_free(void *arg) {
    void *p = gort_malloc(64);
    CHECK(p);
    gort_free(p);
    gort_free(p);
}

static void free_stack(void *arg) {
    volatile char local[64];
    local[0] = 1;
    gort_free((void *)local);
}

static void nil_map_put(void *arg) { gort_map_put_u64(NULL, 1); }
/* what the map's inline paths (gort/internal/map_inline.h) call when a write races theirs */
static void map_inline_fatal(void *arg) { gort__map_fatal("concurrent map writes"); }

/* volatile: the compiler cannot fold the conditions away */
static volatile int g_zero;
static void assert_plain(void *arg) { GORT_ASSERT(g_zero == 1); }
static void assert_internal(void *arg) { GORT_ASSERT_INTERNAL(g_zero == 1); }
static void assert_expensive(void *arg) { GORT_ASSERT_EXPENSIVE(g_zero == 1); }

static void assert_level(const char *name, void (*fn)(void *), int level, const char *want) {
    if (GORT_DEBUG >= level) expect(name, fn, NULL, want, 1);
    else expect_return(name, fn, NULL);
}

int main(void) {
    void *warm = gort_malloc(100); /* the children inherit a heap, as a real program's would */
    CHECK(warm);

    expect("gort__throw", call_throw, NULL, "gort: fatal error: test: a broken invariant\n", 1);
    expect("gort__throw_addr", call_throw_addr, NULL,
           "gort: fatal error: test: a broken invariant (address 0x7f00dead0010)\n", 1);
    expect("gort__fatal", call_fatal, NULL, "gort: fatal error: test: a misuse\n", 0);
    expect("gort__fatal_addr", call_fatal_addr, NULL, "gort: fatal error: test: a misuse (address 0x7f00dead0010)\n",
           0);

    /* an invariant gort checks, broken behind its back: the heap check's message names it */
    static char want[128];
    void *q = gort_malloc(100);
    CHECK(q);
    snprintf(want, sizeof want, "gort: fatal error: heap check: owned span alloc_count (address %p)\n",
             (void *)gort__span_of((uintptr_t)q)->base);
    gort_free(q);
    expect("heap check: corrupted span count", corrupt_span_count, NULL, want, 1);

    expect("misuse: double free", double_free, NULL, "gort: fatal error: double free (address 0x", 0);
    expect("misuse: free of a stack address", free_stack, NULL,
           "gort: fatal error: free of pointer not allocated by gort (address 0x", 0);
    expect("misuse: put into a nil map", nil_map_put, NULL, "gort: fatal error: assignment to entry in nil map\n", 0);
    expect("misuse: the map's inline paths", map_inline_fatal, NULL, "gort: fatal error: concurrent map writes\n", 0);

    printf("GORT_DEBUG=%d\n", GORT_DEBUG);
    assert_level("GORT_ASSERT", assert_plain, 1, "gort: fatal error: assertion failed: g_zero == 1\n");
    assert_level("GORT_ASSERT_INTERNAL", assert_internal, 2, "gort: fatal error: assertion failed: g_zero == 1\n");
    assert_level("GORT_ASSERT_EXPENSIVE", assert_expensive, 3, "gort: fatal error: assertion failed: g_zero == 1\n");

    gort_free(warm);
    gort_check_heap();
    if (g_failed) {
        fprintf(stderr, "test_throw: %d case(s) failed\n", g_failed);
        return 1;
    }
    printf("test_throw: ok\n");
    return 0;
}
