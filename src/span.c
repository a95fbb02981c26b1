/*
 * span.c: the out-of-line operations on a span's bits and lists (span.h
 * says who may change what): setting up a new span, taking its remote frees
 * and notices, loading its next word of free slots, and filing it on a
 * thread cache's or an mcentral's lists.
 */
#include "internal.h"

void gort__span_init(gort_mspan *s, unsigned bitsclass, uintptr_t base, size_t npages, unsigned spc, unsigned nelems,
                     bool needzero) {
    unsigned cls = gort__spc_class(spc);
    s->bitsclass = (uint8_t)bitsclass;
    s->base = base;
    s->npages = npages;
    s->spanclass = (uint16_t)spc;
    s->sizeclass = (uint8_t)cls;
    s->kind = (uint8_t)gort__spc_kind(spc);
    s->needzero = needzero;
    s->cache_word = GORT_NO_WORD;
    s->nelems = (uint16_t)nelems;
    s->nelems_m2 = (uint16_t)(nelems - 2); /* small classes have nelems >= 2 */
    s->nwords = (uint16_t)((nelems + 63) / 64);
    if (cls) {
        s->elemsize = gort_class_to_size[cls];
        s->divmagic = gort_class_to_divmagic[cls];
    } else {
        s->elemsize = npages * GORT_PAGE_SIZE;
        s->divmagic = 1; /* index = offset >> 32: only offset 0 is an object (see malloc.c) */
    }
    s->cache_elemsize = s->elemsize;
    s->limit = base + s->elemsize * nelems;
    s->state = GORT_SPAN_IN_USE;
}

void gort__span_drain_xfree(gort_mspan *s, bool clear_notice) {
    uintptr_t x = atomic_load_explicit(&s->xfree, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&s->xfree, &x, clear_notice ? GORT_XF_NONE : (x & GORT_XF_MASK),
                                                  memory_order_acquire, memory_order_relaxed)) {}
    uint64_t taken[GORT_MAX_NELEMS / 64] = {0}; /* xfree_bits to clear, one atomic per word */
    for (uintptr_t q = x & ~(uintptr_t)GORT_XF_MASK; q;) {
        uintptr_t next = *(uintptr_t *)q;
        uintptr_t idx = gort__span_obj_index(s, q);
        gort__span_free_slot_owned(s, idx, (void *)q);
        taken[idx >> 6] |= (uint64_t)1 << (idx & 63);
        q = next;
    }
    if (x & ~(uintptr_t)GORT_XF_MASK)
        for (unsigned w = 0; w < s->nwords; w++)
            if (taken[w]) atomic_fetch_and_explicit(&s->words[w].xfree, ~taken[w], memory_order_relaxed);
}

void gort__span_take_notice(gort_mspan *s, uintptr_t q) {
    uintptr_t idx = gort__span_obj_index(s, q);
    gort__span_free_slot_owned(s, idx, (void *)q);
    gort__span_clear_xfree_bit(s, idx);
    gort__span_drain_xfree(s, true);
}

bool gort__span_load_next_word(gort_mspan *s, gort_mcache *mc) {
    GORT_ASSERT_INTERNAL(s->alloc_cache == 0 &&
                         atomic_load_explicit(&s->owner, memory_order_relaxed) == gort__owner_tag(mc, s->spanclass));
    unsigned cls = gort__spc_class(s->spanclass);
    if (atomic_load_explicit(&s->xfree, memory_order_relaxed) & ~(uintptr_t)GORT_XF_MASK) {
        gort__span_drain_xfree(s, false);
    }
    if (s->alloc_count >= s->nelems) return false;
    unsigned w = s->cache_word == GORT_NO_WORD ? 0 : s->cache_word + 1u;
    for (unsigned i = 0; i < s->nwords; i++, w++) {
        if (w >= s->nwords) w = 0;
        uint64_t free = ~s->words[w].alloc & gort__span_word_mask(s, w);
        if (free) {
            unsigned n = (unsigned)gort__popcount(free);
            s->alloc_count += (uint16_t)n;
            gort__stat_add(&mc->nmalloc[cls], n);
            s->alloc_cache = free;
            s->cache_word = (uint16_t)w;
            s->cache_bits = &s->words[w].alloc;
            s->cache_base = s->base + (uintptr_t)w * 64 * s->elemsize;
            return true;
        }
    }
    gort__throw_addr("span: alloc_count says free slots but the bitmap has none", (void *)s->base);
}

bool gort__span_file(gort_mspan *s, gort_mspan **partial, uint8_t partial_list, gort_mspan **full, uint8_t full_list) {
    GORT_ASSERT_INTERNAL(s->list == GORT_LIST_NONE && s->alloc_cache == 0);
    for (;;) {
        if (s->alloc_count == 0) return false;
        if (s->alloc_count < s->nelems) {
            gort__list_push(partial, s, partial_list);
            return true;
        }
        uintptr_t x = atomic_load_explicit(&s->xfree, memory_order_relaxed);
        if (x & ~(uintptr_t)GORT_XF_MASK) {
            gort__span_drain_xfree(s, false);
            continue;
        }
        /* Full: the next remote free must send a notice (NOTIFY). NOTIFY
         * already, or NOTIFIED (a notice for an earlier full spell is on its
         * way, and will move the span when it comes): as it is. */
        if ((x & GORT_XF_MASK) != GORT_XF_NONE ||
            atomic_compare_exchange_strong_explicit(&s->xfree, &x, GORT_XF_NOTIFY, memory_order_acq_rel,
                                                    memory_order_relaxed)) {
            gort__list_push(full, s, full_list);
            return true;
        }
    }
}
