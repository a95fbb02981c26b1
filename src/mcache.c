/*
 * mcache.c: per-thread caches (Go's mcache.go; Go has one per P, gort one per
 * thread, found through a thread-local pointer).
 *
 * An mcache holds one current span per span class. Allocation takes the next
 * free slot of the span's cached bitmap word without locks or atomic
 * read-modify-writes; when the word is used up the next word with free slots
 * is loaded, and when the span is full it goes back to its mcentral and
 * another comes (refill). A thread that has not allocated yet points at
 * gort__empty_mcache, whose spans are all the empty span, so its first
 * allocation falls into refill, which gives it a real cache.
 *
 * A thread's cache is returned when the thread exits (a pthread key
 * destructor): its spans go back to the central lists and the struct is kept
 * for the next thread. Counters of dead caches are folded into `retired`.
 *
 * Lock: mcache_list_lock guards the list of caches and the free list.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define EMPTY_SPAN_INIT {.cache_word = GORT_NO_WORD, .state = GORT_SPAN_DEAD}
gort_mspan gort__empty_span = EMPTY_SPAN_INIT;

gort_mcache gort__empty_mcache = {
    .alloc = {[0 ... GORT_NUM_SPANCLASSES - 1] = &gort__empty_span},
    .is_empty = true,
};

__thread gort_mcache *gort__tls_mcache __attribute__((tls_model("initial-exec"))) = &gort__empty_mcache;

static pthread_mutex_t mcache_list_lock = PTHREAD_MUTEX_INITIALIZER;
static gort_mcache *all_caches, *free_caches;
static gort_fixalloc cache_alloc = {.size = sizeof(gort_mcache)};
static uint64_t retired_nmalloc[GORT_NUM_CLASSES], retired_nfree[GORT_NUM_CLASSES];
static pthread_key_t cache_key;
static pthread_once_t cache_key_once = PTHREAD_ONCE_INIT;

static void mcache_thread_exit(void *arg);
static void make_key(void) {
    if (pthread_key_create(&cache_key, mcache_thread_exit) != 0) gort__throw("pthread_key_create failed");
}

static gort_mcache *mcache_create(void) {
    pthread_mutex_lock(&mcache_list_lock);
    gort_mcache *mc = free_caches;
    if (mc) free_caches = mc->next_free;
    else mc = gort__fixalloc_alloc(&cache_alloc);
    if (!mc) {
        pthread_mutex_unlock(&mcache_list_lock);
        return NULL;
    }
    memset(mc, 0, sizeof *mc);
    for (unsigned i = 0; i < GORT_NUM_SPANCLASSES; i++) mc->alloc[i] = &gort__empty_span;
    mc->next_all = all_caches;
    all_caches = mc;
    pthread_mutex_unlock(&mcache_list_lock);
    /* Publish before pthread_setspecific, which may itself allocate. */
    gort__tls_mcache = mc;
    pthread_once(&cache_key_once, make_key);
    pthread_setspecific(cache_key, mc);
    return mc;
}

/* Writes back the cached word of s and gives s to its mcentral. */
static void mcache_release_span(gort_mcache *mc, gort_mspan *s) {
    unsigned cls = gort__spc_class(s->spanclass);
    if (s->alloc_cache) {
        unsigned n = (unsigned)__builtin_popcountll(s->alloc_cache);
        s->alloc_bits[s->cache_word] &= ~s->alloc_cache;
        s->alloc_count -= (uint16_t)n;
        gort__stat_add(&mc->nmalloc[cls], (uint64_t)-(int64_t)n);
        s->alloc_cache = 0;
    }
    s->cache_word = GORT_NO_WORD;
    gort__central_uncache_span(s);
}

static void mcache_destroy(gort_mcache *mc) {
    for (unsigned spc = 0; spc < GORT_NUM_SPANCLASSES; spc++) {
        gort_mspan *s = mc->alloc[spc];
        if (s != &gort__empty_span) {
            mc->alloc[spc] = &gort__empty_span;
            mcache_release_span(mc, s);
        }
    }
    pthread_mutex_lock(&mcache_list_lock);
    for (gort_mcache **pp = &all_caches; *pp; pp = &(*pp)->next_all) {
        if (*pp == mc) {
            *pp = mc->next_all;
            break;
        }
    }
    for (unsigned c = 0; c < GORT_NUM_CLASSES; c++) {
        retired_nmalloc[c] += atomic_load_explicit(&mc->nmalloc[c], memory_order_relaxed);
        retired_nfree[c] += atomic_load_explicit(&mc->nfree[c], memory_order_relaxed);
    }
    mc->next_free = free_caches;
    free_caches = mc;
    pthread_mutex_unlock(&mcache_list_lock);
}

static void mcache_thread_exit(void *arg) {
    gort_mcache *mc = arg;
    if (gort__tls_mcache == mc) gort__tls_mcache = &gort__empty_mcache;
    mcache_destroy(mc);
}

/* Owner only: makes s->alloc_cache non-empty if s has a free slot. */
bool gort__span_load_next_word(gort_mspan *s, gort_mcache *mc) {
    unsigned cls = gort__spc_class(s->spanclass);
    if (atomic_load_explicit(&s->xfree, memory_order_relaxed) & ~(uintptr_t)GORT_XF_MASK) {
        size_t to_cache = gort__span_drain_xfree(s, GORT_XF_NONE);
        gort__stat_add(&mc->nmalloc[cls], to_cache);
        if (s->alloc_cache) return true;
    }
    if (s->alloc_count >= s->nelems) return false;
    unsigned w = s->cache_word == GORT_NO_WORD ? 0 : s->cache_word + 1u;
    for (unsigned i = 0; i < s->nwords; i++, w++) {
        if (w >= s->nwords) w = 0;
        uint64_t free = ~s->alloc_bits[w] & gort__span_word_mask(s, w);
        if (free) {
            unsigned n = (unsigned)__builtin_popcountll(free);
            s->alloc_bits[w] |= free;
            s->alloc_count += (uint16_t)n;
            gort__stat_add(&mc->nmalloc[cls], n);
            s->alloc_cache = free;
            s->cache_word = (uint16_t)w;
            s->cache_base = s->base + (uintptr_t)w * 64 * s->elemsize;
            return true;
        }
    }
    gort__throw_addr("span: alloc_count says free slots but the bitmap has none", (void *)s->base);
}

/* The malloc slow path for small sizes: the current span's word is empty. */
void *gort__mcache_refill(gort_mcache *mc, unsigned spc) {
    if (mc->is_empty) {
        mc = mcache_create();
        if (!mc) {
            errno = ENOMEM;
            return NULL;
        }
    }
    gort_mspan *s = mc->alloc[spc];
    if (s == &gort__empty_span || !gort__span_load_next_word(s, mc)) {
        if (s != &gort__empty_span) {
            mc->alloc[spc] = &gort__empty_span;
            mcache_release_span(mc, s);
        }
        s = gort__central_cache_span(spc, mc);
        if (!s) {
            errno = ENOMEM;
            return NULL;
        }
        mc->alloc[spc] = s;
        if (!gort__span_load_next_word(s, mc)) gort__throw("refill: a span from the central list has no free slot");
    }
    uint64_t c = s->alloc_cache;
    s->alloc_cache = c & (c - 1);
    return (void *)(s->cache_base + (uintptr_t)__builtin_ctzll(c) * s->elemsize);
}

void gort__mcache_stats(uint64_t *nmalloc, uint64_t *nfree) {
    pthread_mutex_lock(&mcache_list_lock);
    for (unsigned c = 0; c < GORT_NUM_CLASSES; c++) {
        nmalloc[c] = retired_nmalloc[c];
        nfree[c] = retired_nfree[c];
    }
    for (gort_mcache *mc = all_caches; mc; mc = mc->next_all) {
        for (unsigned c = 0; c < GORT_NUM_CLASSES; c++) {
            nmalloc[c] += atomic_load_explicit(&mc->nmalloc[c], memory_order_relaxed);
            nfree[c] += atomic_load_explicit(&mc->nfree[c], memory_order_relaxed);
        }
    }
    pthread_mutex_unlock(&mcache_list_lock);
}

/* ---- fork: every lock is taken before fork and released on both sides ---- */

static void fork_prepare(void) {
    pthread_mutex_lock(&mcache_list_lock);
    for (unsigned i = 0; i < GORT_NUM_SPANCLASSES; i++) pthread_mutex_lock(&gort__central[i].lock);
    pthread_mutex_lock(&gort__heap.lock);
    gort__persistent_lock(true);
}

static void fork_parent(void) {
    gort__persistent_lock(false);
    pthread_mutex_unlock(&gort__heap.lock);
    for (unsigned i = GORT_NUM_SPANCLASSES; i-- > 0;) pthread_mutex_unlock(&gort__central[i].lock);
    pthread_mutex_unlock(&mcache_list_lock);
}

/* In the child only the forking thread survives: the caches of the other
 * threads stay on the list with their spans (they are never used again). */
static void fork_child(void) { fork_parent(); }

__attribute__((constructor)) static void mcache_ctor(void) {
    pthread_once(&cache_key_once, make_key);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}
