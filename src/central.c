/*
 * central.c: central span lists, one per span class (Go's mcentral.go).
 *
 * A span is in exactly one place: owned by one thread (its current span, or
 * on its partial or full lists: mcache.c), on its class's central `partial`
 * list (free slots) or `full` list, or back in the page heap. The central
 * lists hold the spans nobody owns: those of exited threads, until a refill
 * takes them. Their allocation bits belong to the mcentral and change only
 * under its lock.
 *
 * Frees from threads that do not own a span go to the span's lock-free list
 * `xfree`. A full span (owned, or here) has xfree state NOTIFY: the first
 * remote free to reach it flips the state to NOTIFIED and pushes its object on
 * the owner's `notify` stack, or the mcentral's for a span nobody owns, so the
 * next refill finds the span, takes its frees and moves it to `partial` (or
 * returns it to the page heap when it is empty). Partial spans need no notice: a refill
 * takes their frees when it picks them. Nothing touches a span after the
 * atomic operation that hands it an object, so a span is never freed under a
 * thread that is still freeing into it.
 *
 * Go's mcentral keeps spans in lock-free spanSets swept by the GC; manual
 * frees need the notify protocol above instead (it is mimalloc's "delayed
 * free" idea, adapted to central lists).
 *
 * Lock: gort__central[spc].lock; the page heap lock nests inside it.
 * The locks are zero-initialized statics, which glibc defines as
 * PTHREAD_MUTEX_INITIALIZER, so they work before any constructor runs.
 */
#include "internal.h"

gort_mcentral gort__central[GORT_NUM_SPANCLASSES];

/* Files an uncached span: partial, full, or back to the heap when empty. */
static void file_span_locked(gort_mcentral *c, gort_mspan *s) {
    gort__assert_held(GORT_RANK_MCENTRAL);
    GORT_ASSERT_INTERNAL(!atomic_load_explicit(&s->owner, memory_order_relaxed) && s->cache_word == GORT_NO_WORD);
    if (gort__span_file(s, &c->partial, GORT_LIST_PARTIAL, &c->full, GORT_LIST_FULL)) return;
    atomic_fetch_sub_explicit(&c->nspans, 1, memory_order_relaxed);
    gort__heap_free_span(s);
}

/* Takes the notify stack: each object's span moves from full to partial. */
static void process_notify_locked(gort_mcentral *c) {
    gort__assert_held(GORT_RANK_MCENTRAL);
    uintptr_t q = atomic_exchange_explicit(&c->notify, 0, memory_order_acquire);
    while (q) {
        uintptr_t next = *(uintptr_t *)q;
        gort_mspan *s = gort__span_of(q);
        if (!s || s->list != GORT_LIST_FULL) gort__throw_addr("central: notified span not on the full list", (void *)q);
        gort__list_remove(&c->full, s);
        gort__span_take_notice(s, q);
        file_span_locked(c, s);
        q = next;
    }
}

gort_mspan *gort__central_cache_span(unsigned spc, gort_mcache *mc) {
    gort_mcentral *c = &gort__central[spc];
#if GORT_DEBUG >= 2
    /* A refill under an allocator lock: malloc re-entered from code that
     * must not run under one (thread creation, dlsym, stdio). */
    gort__assert_no_locks("allocator re-entered while holding one of its locks");
#endif
    gort__lock(&c->lock, GORT_RANK_MCENTRAL);
    if (atomic_load_explicit(&c->notify, memory_order_relaxed)) process_notify_locked(c);
    gort_mspan *s = c->partial;
    if (s) {
        gort__list_remove(&c->partial, s);
        gort__span_drain_xfree(s, false);
        s->list = GORT_LIST_CACHED;
        atomic_store_explicit(&s->owner, gort__owner_tag(mc, spc), memory_order_relaxed);
        gort__unlock(&c->lock, GORT_RANK_MCENTRAL);
        return s;
    }
    gort__unlock(&c->lock, GORT_RANK_MCENTRAL);
    unsigned cls = gort__spc_class(spc);
    s = gort__heap_alloc_span(gort_class_to_npages[cls], 1, spc);
    if (!s) return NULL;
    gort__lock(&c->lock, GORT_RANK_MCENTRAL);
    atomic_fetch_add_explicit(&c->nspans, 1, memory_order_relaxed);
    s->list = GORT_LIST_CACHED;
    atomic_store_explicit(&s->owner, gort__owner_tag(mc, spc), memory_order_relaxed);
    gort__unlock(&c->lock, GORT_RANK_MCENTRAL);
    return s;
}

/* The owner gives s back; its cached word has been written back. */
void gort__central_uncache_span(gort_mspan *s) {
    gort_mcentral *c = &gort__central[s->spanclass];
    gort__lock(&c->lock, GORT_RANK_MCENTRAL);
    atomic_store_explicit(&s->owner, NULL, memory_order_relaxed);
    s->list = GORT_LIST_NONE;
    gort__span_drain_xfree(s, false);
    file_span_locked(c, s);
    gort__unlock(&c->lock, GORT_RANK_MCENTRAL);
}

/* A free into a span nobody owns (its owner thread exited) is done under
 * the mcentral lock when the lock is free, so that the span goes back to the
 * heap when it empties rather than when some thread next drains the class:
 * without a scavenger thread nobody else would. Under the lock owner == NULL
 * is stable, and the span is on this mcentral's partial or full list. When
 * the lock is busy the free takes the lock-free path and flags the class
 * (gort__central_unowned_pushed): whoever next finds the lock free drains
 * it. */
static _Atomic unsigned char unowned_pending[GORT_NUM_SPANCLASSES];

static void drain_class_locked(gort_mcentral *c) {
    gort__assert_held(GORT_RANK_MCENTRAL);
    process_notify_locked(c);
    for (gort_mspan *s = c->partial, *next; s; s = next) {
        next = s->next;
        if (atomic_load_explicit(&s->xfree, memory_order_relaxed) & ~(uintptr_t)GORT_XF_MASK) {
            gort__list_remove(&c->partial, s);
            gort__span_drain_xfree(s, false);
            file_span_locked(c, s);
        }
    }
}

static void drain_pending(unsigned spc) {
    gort_mcentral *c = &gort__central[spc];
    while (atomic_load_explicit(&unowned_pending[spc], memory_order_acquire) &&
           gort__trylock(&c->lock, GORT_RANK_MCENTRAL) == 0) {
        atomic_store_explicit(&unowned_pending[spc], 0, memory_order_relaxed);
        drain_class_locked(c);
        gort__unlock(&c->lock, GORT_RANK_MCENTRAL);
    }
}

void gort__central_unowned_pushed(unsigned spc) {
    atomic_store_explicit(&unowned_pending[spc], 1, memory_order_release);
    drain_pending(spc);
}

bool gort__central_free_unowned(gort_mspan *s, uintptr_t idx, void *p) {
    unsigned spc = s->spanclass;
    gort_mcentral *c = &gort__central[spc];
    if (gort__trylock(&c->lock, GORT_RANK_MCENTRAL) != 0) return false;
    if (atomic_load_explicit(&s->owner, memory_order_relaxed)) {
        gort__unlock(&c->lock, GORT_RANK_MCENTRAL);
        return false;
    }
    if (atomic_load_explicit(&c->notify, memory_order_relaxed)) process_notify_locked(c);
    if (s->list == GORT_LIST_FULL) {
        /* Full no more: withdraw the NOTIFY (a NOTIFIED one has a notice on
         * its way: leave the free to the lock-free path). */
        uintptr_t x = atomic_load_explicit(&s->xfree, memory_order_relaxed);
        if ((x & GORT_XF_MASK) != GORT_XF_NOTIFY ||
            !atomic_compare_exchange_strong_explicit(&s->xfree, &x, x & ~(uintptr_t)GORT_XF_MASK, memory_order_acq_rel,
                                                     memory_order_relaxed)) {
            gort__unlock(&c->lock, GORT_RANK_MCENTRAL);
            return false;
        }
        gort__list_remove(&c->full, s);
        gort__list_push(&c->partial, s, GORT_LIST_PARTIAL);
    }
    if (s->list != GORT_LIST_PARTIAL) gort__throw_addr("central: unowned span on no list", p);
    gort__span_free_slot_owned(s, idx, p);
    gort__span_clear_xfree_bit(s, idx);
    if (s->alloc_count == 0 || (atomic_load_explicit(&s->xfree, memory_order_relaxed) & ~(uintptr_t)GORT_XF_MASK)) {
        gort__list_remove(&c->partial, s);
        gort__span_drain_xfree(s, false);
        file_span_locked(c, s);
    }
    gort__unlock(&c->lock, GORT_RANK_MCENTRAL);
    drain_pending(spc);
    return true;
}

/* Takes every pending free of every class: empty spans go back to the heap. */
void gort__central_drain_all(void) {
    for (unsigned spc = 0; spc < GORT_NUM_SPANCLASSES; spc++) {
        gort_mcentral *c = &gort__central[spc];
        if (!atomic_load_explicit(&c->nspans, memory_order_relaxed))
            continue; /* a class never used: nothing to drain */
        gort__lock(&c->lock, GORT_RANK_MCENTRAL);
        drain_class_locked(c);
        gort__unlock(&c->lock, GORT_RANK_MCENTRAL);
    }
}

/* Checks the spans on this class's lists; the caller holds the lock. */
size_t gort__central_check_locked(unsigned spc) {
    gort__assert_held(GORT_RANK_MCENTRAL);
    gort_mcentral *c = &gort__central[spc];
    size_t n = 0;
    for (int which = 0; which < 2; which++) {
        gort_mspan *head = which ? c->full : c->partial;
        if (!gort__list_links_ok(head)) gort__throw("heap check: central list links");
        for (gort_mspan *s = head; s; s = s->next) {
            n++;
            if (s->spanclass != spc || s->state != GORT_SPAN_IN_USE)
                gort__throw_addr("heap check: span on the wrong central list", (void *)s->base);
            if (atomic_load_explicit(&s->owner, memory_order_relaxed) || s->cache_word != GORT_NO_WORD ||
                s->alloc_cache)
                gort__throw_addr("heap check: uncached span has an owner or a cached word", (void *)s->base);
            unsigned count = 0;
            for (unsigned w = 0; w < s->nwords; w++) {
                if (s->words[w].alloc & ~gort__span_word_mask(s, w))
                    gort__throw_addr("heap check: alloc bit beyond nelems", (void *)s->base);
                count += (unsigned)gort__popcount(s->words[w].alloc);
            }
            if (count != s->alloc_count)
                gort__throw_addr("heap check: alloc_count disagrees with alloc bits", (void *)s->base);
            uintptr_t st = atomic_load_explicit(&s->xfree, memory_order_relaxed) & GORT_XF_MASK;
            if (which == 0 && (s->list != GORT_LIST_PARTIAL || s->alloc_count >= s->nelems || st != GORT_XF_NONE))
                gort__throw_addr("heap check: bad partial span", (void *)s->base);
            if (which == 1 && (s->list != GORT_LIST_FULL || s->alloc_count != s->nelems || st == GORT_XF_NONE))
                gort__throw_addr("heap check: bad full span", (void *)s->base);
        }
    }
    return n;
}
