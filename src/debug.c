/*
 * debug.c: fatal errors and the heap consistency checker.
 *
 * Two ways to die, as Go's fatal and throw:
 *   gort__fatal      the program misused gort (double free, send on a closed
 *                    channel, concurrent map writes), or a resource it needs
 *                    is exhausted (out of memory): the program's fault or its
 *                    environment's, not gort's.
 *   gort__throw      an invariant of gort's own is broken: a bug in gort.
 * Both print "gort: fatal error: <msg>" (the _addr forms add " (address
 * 0x...)"), which tests and users match; gort__throw adds a second line
 * saying that gort is at fault. Both write with write(2) (no stdio, no
 * allocation: the heap may be what is broken), abort, and are always
 * compiled in.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The one writer of every fatal message. */
static void write_str(const char *s) {
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static const char bug_line[] = "gort: this is a bug in gort (an internal invariant is broken)\n";

/* "gort: fatal error: msg" without the newline. */
static void error_start(const char *msg) {
    write_str("gort: fatal error: ");
    write_str(msg);
}

/* " (address 0x...)": hex digits into a buffer on the stack. */
static void write_addr(const void *p) {
    char buf[32], *e = buf + sizeof buf - 1;
    uintptr_t a = (uintptr_t)p;
    *e = 0;
    do {
        *--e = "0123456789abcdef"[a & 15];
        a >>= 4;
    } while (a);
    *--e = 'x';
    *--e = '0';
    write_str(" (address ");
    write_str(e);
    write_str(")");
}

#if GORT_DEBUG >= 1
__thread gort_lockstate gort__lockstate __attribute__((tls_model("initial-exec")));

void gort__lockrank_fail(const char *what, unsigned rank) {
    static const char *const names[GORT_NRANKS] = {"timer",       "bg_lock",        "gc_lock",  "meta_lock",
                                                   "mcache_list", "mcache.gc_lock", "mcentral", "mheap",
                                                   "prof_lock",   "persistent",     "work_lock"};
    error_start(what);
    write_str(" (rank ");
    write_str(rank < GORT_NRANKS ? names[rank] : "?");
    write_str("; held:");
    for (unsigned r = 0; r < GORT_NRANKS; r++)
        if (gort__lockstate.held >> r & 1) {
            write_str(" ");
            write_str(names[r]);
        }
    write_str(")\n");
    write_str(bug_line); /* the lock order is gort's own invariant */
    abort();
}
#endif

void gort__fatal(const char *msg) {
    error_start(msg);
    write_str("\n");
    abort();
}

void gort__fatal_addr(const char *msg, const void *p) {
    error_start(msg);
    write_addr(p);
    write_str("\n");
    abort();
}

void gort__throw(const char *msg) {
    error_start(msg);
    write_str("\n");
    write_str(bug_line);
    abort();
}

void gort__throw_addr(const char *msg, const void *p) {
    error_start(msg);
    write_addr(p);
    write_str("\n");
    write_str(bug_line);
    abort();
}

static void check_owned_span(gort_mcache *mc, gort_mspan *s, unsigned spc, uint8_t list) {
    if (atomic_load_explicit(&s->owner, memory_order_relaxed) != gort__owner_tag(mc, spc) || s->list != list ||
        s->spanclass != spc || s->state != GORT_SPAN_IN_USE)
        gort__throw_addr("heap check: owned span not on its owner's list", (void *)s->base);
    unsigned count = 0;
    for (unsigned w = 0; w < s->nwords; w++) {
        if (s->words[w].alloc & ~gort__span_word_mask(s, w)) gort__throw("heap check: alloc bit beyond nelems");
        count += (unsigned)gort__popcount(s->words[w].alloc);
    }
    if (list == GORT_LIST_CACHED) count += gort__popcount(s->alloc_cache);
    if (count != s->alloc_count) gort__throw_addr("heap check: owned span alloc_count", (void *)s->base);
    if (list == GORT_LIST_CACHED && s->cache_word != GORT_NO_WORD) {
        if ((s->alloc_cache & s->words[s->cache_word].alloc) ||
            (s->alloc_cache & ~gort__span_word_mask(s, s->cache_word)) ||
            s->cache_bits != &s->words[s->cache_word].alloc)
            gort__throw_addr("heap check: cached free slots marked allocated", (void *)s->base);
        if (s->cache_base != s->base + (uintptr_t)s->cache_word * 64 * s->elemsize)
            gort__throw_addr("heap check: cache_base", (void *)s->base);
    }
    if (list != GORT_LIST_CACHED && (s->cache_word != GORT_NO_WORD || s->alloc_cache))
        gort__throw_addr("heap check: listed span holds a cached word", (void *)s->base);
    if (list == GORT_LIST_OWNED_FULL && s->alloc_count != s->nelems)
        gort__throw_addr("heap check: span on the full list has free slots", (void *)s->base);
    if (list == GORT_LIST_OWNED_PARTIAL && s->alloc_count >= s->nelems)
        gort__throw_addr("heap check: span on the partial list is full", (void *)s->base);
}

/* Checks the spans the calling thread owns: their bits are the caller's. */
static size_t check_own_cache(void) {
    gort_mcache *mc = gort__tls_mcache;
    size_t n = 0;
    for (unsigned spc = 0; spc < GORT_NUM_SPANCLASSES; spc++) {
        gort_mspan *s = mc->alloc[spc];
        if (s != &gort__empty_span) {
            n++;
            check_owned_span(mc, s, spc, GORT_LIST_CACHED);
        }
        if (!gort__list_links_ok(mc->partial[spc]) || !gort__list_links_ok(mc->full[spc]))
            gort__throw("heap check: thread cache list links");
        for (s = mc->partial[spc]; s; s = s->next, n++) check_owned_span(mc, s, spc, GORT_LIST_OWNED_PARTIAL);
        for (s = mc->full[spc]; s; s = s->next, n++) check_owned_span(mc, s, spc, GORT_LIST_OWNED_FULL);
    }
    return n;
}

/* Each central list is checked under its own lock, then the page heap under
 * its lock: a heap that other threads are changing is checked piece by piece. */
size_t gort_check_heap(void) {
    size_t central = 0;
    for (unsigned i = 0; i < GORT_NUM_SPANCLASSES; i++) {
        gort__lock(&gort__central[i].lock, GORT_RANK_MCENTRAL);
        central += gort__central_check_locked(i);
        gort__unlock(&gort__central[i].lock, GORT_RANK_MCENTRAL);
    }
    gort__lock(&gort__heap.lock, GORT_RANK_MHEAP);
    size_t n = gort__heap_check_locked();
    gort__unlock(&gort__heap.lock, GORT_RANK_MHEAP);
    size_t own = check_own_cache();
    if (central + own > n) gort__throw("heap check: more listed spans than spans in the heap");
    return n;
}
