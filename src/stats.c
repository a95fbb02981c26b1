/*
 * stats.c: MemStats-style counters (Go's mstats.go).
 *
 * Counters have one home each: the OS layer's bytes per state (gort__os), the
 * page heap's page counts (under mheap.lock), the per-thread caches' object
 * counts (summed here without stopping the threads, so a snapshot may be off
 * by the objects allocated while it is taken), and large objects' atomics.
 */
#include <inttypes.h>
#include <string.h>

#include "internal.h"

static void stats_fill(gort_stats_t *st) {
    memset(st, 0, sizeof *st);
    uint64_t nmalloc[GORT_NUM_CLASSES], nfree[GORT_NUM_CLASSES];
    gort__mcache_stats(nmalloc, nfree);
    /* A thread counts a word's free slots as allocated when it loads the
     * word (the fast path keeps no counter). The calling thread's own cached
     * slots are taken back out here, so a program that freed everything
     * reads HeapObjects 0; other threads' (at most 64 per class each) still
     * count until they are used or the thread exits. */
    gort_mcache *self = gort__tls_mcache;
    if (!self->is_empty)
        for (unsigned c = 1; c < GORT_NUM_CLASSES; c++) {
            uint64_t k = (uint64_t)gort__popcount(self->alloc[c]->alloc_cache);
            nmalloc[c] -= k < nmalloc[c] ? k : nmalloc[c];
        }
    gort__lock(&gort__heap.lock, GORT_RANK_MHEAP);
    uint64_t inuse = gort__heap.pages_inuse, total = gort__heap.pages_total, scav = gort__heap.pages_scav;
    st->arenas = gort__heap.narenas;
    gort__unlock(&gort__heap.lock, GORT_RANK_MHEAP);
    st->heap_sys = total * GORT_PAGE_SIZE;
    st->heap_inuse = inuse * GORT_PAGE_SIZE;
    st->heap_idle = (total - inuse) * GORT_PAGE_SIZE;
    st->heap_released = scav * GORT_PAGE_SIZE;
    st->metadata_sys = atomic_load_explicit(&gort__metadata_bytes, memory_order_relaxed);
    st->sys = atomic_load_explicit(&gort__os.prepared, memory_order_relaxed) +
        atomic_load_explicit(&gort__os.ready, memory_order_relaxed);
    uint64_t lallocs = atomic_load_explicit(&gort__large.allocs, memory_order_relaxed);
    uint64_t lfrees = atomic_load_explicit(&gort__large.frees, memory_order_relaxed);
    st->by_size[0].mallocs = lallocs;
    st->by_size[0].frees = lfrees;
    st->heap_alloc = atomic_load_explicit(&gort__large.bytes, memory_order_relaxed);
    st->mallocs = lallocs;
    st->frees = lfrees;
    for (unsigned c = 1; c < GORT_NUM_CLASSES; c++) {
        uint64_t f = nfree[c] + atomic_load_explicit(&gort__large.nocache_frees[c], memory_order_relaxed);
        st->by_size[c].size = gort_class_to_size[c];
        st->by_size[c].mallocs = nmalloc[c];
        st->by_size[c].frees = f;
        st->mallocs += nmalloc[c];
        st->frees += f;
        if (nmalloc[c] > f) st->heap_alloc += (nmalloc[c] - f) * gort_class_to_size[c];
    }
    st->heap_objects = st->mallocs > st->frees ? st->mallocs - st->frees : 0;
}

/* The caller's struct is size bytes (gort/stats.h: fields are only added at
 * the end): the fields it holds are filled, and bytes past ours zeroed. */
void gort_stats_sized(gort_stats_t *out, size_t size) {
    gort_stats_t st;
    stats_fill(&st);
    size_t n = size < sizeof st ? size : sizeof st;
    memcpy(out, &st, n);
    if (size > n) memset((char *)out + n, 0, size - n);
}

/* The symbol of programs built before gort_stats became a macro: they pass
 * the struct of gort 0.1.0, which ends with by_size. */
#undef gort_stats
void gort_stats(gort_stats_t *st) { gort_stats_sized(st, offsetof(gort_stats_t, by_size) + sizeof st->by_size); }

#define FIELDS(X)                    \
    X(sys, "Sys")                    \
    X(heap_sys, "HeapSys")           \
    X(heap_inuse, "HeapInuse")       \
    X(heap_idle, "HeapIdle")         \
    X(heap_released, "HeapReleased") \
    X(heap_alloc, "HeapAlloc")       \
    X(heap_objects, "HeapObjects")   \
    X(mallocs, "Mallocs")            \
    X(frees, "Frees")                \
    X(metadata_sys, "MetadataSys")   \
    X(arenas, "Arenas")

void gort_stats_print(FILE *out) {
    gort_stats_t st;
    gort_stats(&st);
    fprintf(out, "gort memory statistics\n");
#define PRINT(f, name) fprintf(out, "  %-14s %" PRIu64 "\n", name, st.f);
    FIELDS(PRINT)
#undef PRINT
    fprintf(out, "  %5s %8s %14s %14s %14s\n", "class", "size", "mallocs", "frees", "live");
    for (unsigned c = 0; c < GORT_NUM_CLASSES; c++) {
        gort_size_class_stats *b = &st.by_size[c];
        if (!b->mallocs) continue;
        char size[16];
        if (c) snprintf(size, sizeof size, "%u", b->size);
        else snprintf(size, sizeof size, "large");
        fprintf(out, "  %5u %8s %14" PRIu64 " %14" PRIu64 " %14" PRIu64 "\n", c, size, b->mallocs, b->frees,
                b->mallocs > b->frees ? b->mallocs - b->frees : 0);
    }
    gort__gc_stats_print(out, false);
}

void gort_stats_print_json(FILE *out) {
    gort_stats_t st;
    gort_stats(&st);
    fprintf(out, "{");
#define JSON(f, name) fprintf(out, "\"%s\":%" PRIu64 ",", #f, st.f);
    FIELDS(JSON)
#undef JSON
    fprintf(out, "\"by_size\":[");
    for (unsigned c = 0; c < GORT_NUM_CLASSES; c++)
        fprintf(out, "%s{\"class\":%u,\"size\":%u,\"mallocs\":%" PRIu64 ",\"frees\":%" PRIu64 "}", c ? "," : "", c,
                st.by_size[c].size, st.by_size[c].mallocs, st.by_size[c].frees);
    fprintf(out, "]");
    gort__gc_stats_print(out, true);
    fprintf(out, "}\n");
}
