/*
 * mcache.c: per-thread caches (Go's mcache.go; Go has one per P, gort one per
 * thread, found through a thread-local pointer).
 *
 * An mcache holds one current span per span class. Allocation takes the next
 * free slot of the span's cached bitmap word without locks or atomic
 * read-modify-writes; when the word is used up the next word with free slots
 * is loaded (refill). A thread that has not allocated yet points at
 * gort__empty_mcache, whose spans are all the empty span, so its first
 * allocation falls into refill, which gives it a real cache.
 *
 * Unlike Go's mcache, which gives a full span back to its mcentral at once
 * (Go frees by sweeping, not by free calls), a thread keeps owning the spans
 * it filled, on per-class `full` and `partial` lists, so that its own frees
 * into them stay local: a plain bit clear with no atomics. Frees from other
 * threads go to a span's atomic xfree list; for a full span the first of them
 * notifies the owner through its `notify` stack (the protocol is in
 * central.c). A span the thread empties goes back to the page heap.
 *
 * When the thread exits (a pthread key destructor) it waits for notices in
 * flight, then hands every span it owns to the mcentrals, and the struct is
 * kept for the next thread. Counters of dead caches are folded into `retired`.
 *
 * A thread that stops allocating (blocked, or busy elsewhere) would keep its
 * spans however many of their objects other threads free: their frees wait
 * on the spans' xfree lists and its `notify` stack for a refill that does not
 * come. gort_release_memory (malloc_trim) and the scavenger ask such a
 * thread to take them with a signal (SIGURG, which the kernel ignores by
 * default and programs rarely use; Go preempts goroutines with it). Its
 * handler flushes the cache on the thread itself, so the owner-only fast
 * paths stay as they are, but only at a safe point: the interrupted
 * instruction outside gort's code and gort__tls_busy zero (no gort lock held,
 * no slow path calling out of gort). Elsewhere it leaves a flag that the
 * thread's next refill acts on.
 *
 * Lock: gort__mcache_list_lock guards the list of caches and the free list.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <link.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>

#include "internal.h"

#define EMPTY_SPAN_INIT \
    { .cache_word = GORT_NO_WORD, .state = GORT_SPAN_DEAD }
gort_mspan gort__empty_span = EMPTY_SPAN_INIT;

gort_mcache gort__empty_mcache = {
    .alloc = {[0 ... GORT_NUM_SPANCLASSES - 1] = &gort__empty_span},
    .is_empty = true,
};

__thread gort_mcache *gort__tls_mcache __attribute__((tls_model("initial-exec"))) = &gort__empty_mcache;
__thread unsigned gort__tls_busy __attribute__((tls_model("initial-exec")));

pthread_mutex_t gort__mcache_list_lock = PTHREAD_MUTEX_INITIALIZER;
gort_mcache *gort__all_caches;
static gort_mcache *free_caches;
__thread gort_mcache *gort__tls_gcself __attribute__((tls_model("initial-exec")));
/* whole cache lines: threads' caches never share one (fixalloc's chunks are
 * line-aligned) */
static gort_fixalloc cache_alloc = {.size = (sizeof(gort_mcache) + 63) & ~(size_t)63};
static uint64_t retired_nmalloc[GORT_NUM_CLASSES], retired_nfree[GORT_NUM_CLASSES];

static void add_counters(uint64_t *nmalloc, uint64_t *nfree, gort_mcache *mc) {
    for (unsigned c = 0; c < GORT_NUM_CLASSES; c++)
        nmalloc[c] += atomic_load_explicit(&mc->nmalloc[c], memory_order_relaxed);
    for (unsigned spc = 0; spc < GORT_NUM_SPANCLASSES; spc++)
        nfree[gort__spc_class(spc)] += atomic_load_explicit(&mc->nfree[spc], memory_order_relaxed);
}
static pthread_key_t cache_key;
static pthread_once_t cache_key_once = PTHREAD_ONCE_INIT;

static void mcache_thread_exit(void *arg);
static size_t mcache_process_notify(gort_mcache *mc);
static void mcache_flush(gort_mcache *mc);
static void make_key(void) {
    if (pthread_key_create(&cache_key, mcache_thread_exit) != 0) gort__fatal("pthread_key_create failed");
}

static gort_mcache *mcache_create(void) {
    gort__lock(&gort__mcache_list_lock, GORT_RANK_MCACHE_LIST);
    gort_mcache *mc = free_caches;
    if (mc) free_caches = mc->next_free;
    else mc = gort__fixalloc_alloc(&cache_alloc);
    if (!mc) {
        gort__unlock(&gort__mcache_list_lock, GORT_RANK_MCACHE_LIST);
        return NULL;
    }
    memset(mc, 0, sizeof *mc);
    for (unsigned i = 0; i < GORT_NUM_SPANCLASSES; i++) mc->alloc[i] = &gort__empty_span;
    mc->thread = pthread_self();
    /* The thread's own pointers first: once on the list, a collection may
     * stop it, and the stop handler records the stack pointer through
     * gort__tls_gcself (unset, the thread's stack would not be scanned).
     * Before pthread_setspecific too, which may itself allocate. */
    gort__tls_mcache = mc;
    gort__tls_gcself = mc;
    mc->next_all = gort__all_caches;
    gort__all_caches = mc;
    gort__unlock(&gort__mcache_list_lock, GORT_RANK_MCACHE_LIST);
    pthread_once(&cache_key_once, make_key);
    pthread_setspecific(cache_key, mc);
    return mc;
}

/* Drops the cached word of s and gives s to its mcentral. */
static void mcache_release_span(gort_mcache *mc, gort_mspan *s) {
    unsigned cls = gort__spc_class(s->spanclass);
    if (s->alloc_cache) {
        /* the unused cached slots: their bits are 0 already */
        unsigned n = (unsigned)gort__popcount(s->alloc_cache);
        s->alloc_count -= (uint16_t)n;
        gort__stat_add(&mc->nmalloc[cls], (uint64_t) - (int64_t)n);
        s->alloc_cache = 0;
    }
    s->cache_word = GORT_NO_WORD;
    gort__central_uncache_span(s);
}

/* A span of this cache whose notice is on its way (state NOTIFIED)? */
static bool notice_pending(gort_mspan *s) {
    uintptr_t x = atomic_load_explicit(&s->xfree, memory_order_acquire);
    for (;;) {
        if ((x & GORT_XF_MASK) == GORT_XF_NOTIFIED) return true;
        if ((x & GORT_XF_MASK) != GORT_XF_NOTIFY) return false;
        /* Withdraw the NOTIFY so that no new notice starts. */
        if (atomic_compare_exchange_weak_explicit(&s->xfree, &x, x & ~(uintptr_t)GORT_XF_MASK, memory_order_acq_rel,
                                                  memory_order_acquire))
            return false;
    }
}

static void mcache_destroy(gort_mcache *mc) {
    gort__tls_busy++; /* a flush would take the notices this waits for */
    /* 1. No new notices; count those on their way, and wait for them (each
     *    NOTIFIED span gets exactly one, pushed right after the flip). */
    size_t pending = 0;
    for (unsigned spc = 0; spc < GORT_NUM_SPANCLASSES; spc++) {
        if (mc->alloc[spc] != &gort__empty_span) pending += notice_pending(mc->alloc[spc]);
        for (gort_mspan *s = mc->partial[spc]; s; s = s->next) pending += notice_pending(s);
        for (gort_mspan *s = mc->full[spc]; s; s = s->next) pending += notice_pending(s);
    }
    while (pending > 0) {
        size_t n = mcache_process_notify(mc);
        pending = n > pending ? 0 : pending - n;
        if (pending) sched_yield();
    }
    /* 2. Every span goes to its mcentral (the collector's spans under
     *    gc_lock: the collector sweeps them in place while it holds it). */
    gort__lock(&mc->gc_lock, GORT_RANK_MCACHE_GC);
    for (unsigned spc = 0; spc < GORT_NUM_SPANCLASSES; spc++) {
        gort_mspan *s = mc->alloc[spc];
        if (s != &gort__empty_span) {
            mc->alloc[spc] = &gort__empty_span;
            mcache_release_span(mc, s);
        }
        while ((s = mc->partial[spc])) {
            gort__list_remove(&mc->partial[spc], s);
            gort__central_uncache_span(s);
        }
        while ((s = mc->full[spc])) {
            gort__list_remove(&mc->full[spc], s);
            gort__central_uncache_span(s);
        }
    }
    gort__unlock(&mc->gc_lock, GORT_RANK_MCACHE_GC);
    gort__lock(&gort__mcache_list_lock, GORT_RANK_MCACHE_LIST);
    for (gort_mcache **pp = &gort__all_caches; *pp; pp = &(*pp)->next_all) {
        if (*pp == mc) {
            *pp = mc->next_all;
            break;
        }
    }
    add_counters(retired_nmalloc, retired_nfree, mc);
    mc->next_free = free_caches;
    free_caches = mc;
    gort__unlock(&gort__mcache_list_lock, GORT_RANK_MCACHE_LIST);
    /* The spans now belong to nobody: the scavenger takes their later
     * cross-thread frees and returns them to the heap when they empty. */
    gort__scavenger_start();
    gort__tls_busy--;
}

/* The thread's cache has been torn down: glibc runs key destructors in at
 * most PTHREAD_DESTRUCTOR_ITERATIONS rounds, and a cache re-created by a
 * destructor that allocates in the last round would never be torn down
 * (its spans would stay owned by a dead thread). From here on the thread's
 * small manual allocations take a page span each (freed as large objects). */
static __thread bool tls_torn_down;

static GORT_NOINLINE void *alloc_after_teardown(unsigned spc) {
    size_t n = gort_class_to_size[gort__spc_class(spc)];
    gort_mspan *s =
        gort__heap_alloc_span((n + GORT_PAGE_SIZE - 1) >> GORT_PAGE_SHIFT, 1, gort__spc_make(0, GORT_KIND_MANUAL));
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    atomic_fetch_add_explicit(&gort__large.allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&gort__large.bytes, s->elemsize, memory_order_relaxed);
    return (void *)s->base;
}

static void mcache_thread_exit(void *arg) {
    gort_mcache *mc = arg;
    tls_torn_down = true;
    if (gort__tls_mcache == mc) gort__tls_mcache = &gort__empty_mcache;
    mcache_destroy(mc);
    if (gort__tls_gcself == mc) gort__tls_gcself = NULL;
}

/* Files an owned span on its owner's lists, or gives it back to the page
 * heap when it is empty. Owner only. */
static void mcache_file_span(gort_mcache *mc, gort_mspan *s) {
    GORT_ASSERT_INTERNAL(atomic_load_explicit(&s->owner, memory_order_relaxed) == gort__owner_tag(mc, s->spanclass));
    unsigned spc = s->spanclass;
    if (!gort__span_file(s, &mc->partial[spc], GORT_LIST_OWNED_PARTIAL, &mc->full[spc], GORT_LIST_OWNED_FULL))
        gort__central_uncache_span(s); /* empty: the mcentral returns it to the heap */
}

/* Takes the notices of this cache: each names a full span that got a remote
 * free; the span moves to partial. Returns how many notices were taken. */
static size_t mcache_process_notify(gort_mcache *mc) {
    uintptr_t q = atomic_exchange_explicit(&mc->notify, 0, memory_order_acquire);
    size_t n = 0;
    while (q) {
        uintptr_t next = *(uintptr_t *)q;
        gort_mspan *s = gort__span_of(q);
        if (!s || atomic_load_explicit(&s->owner, memory_order_relaxed) != mc)
            gort__throw_addr("mcache: notice for a span this thread does not own", (void *)q);
        unsigned spc = s->spanclass;
        gort__span_take_notice(s, q);
        if (s->list == GORT_LIST_OWNED_FULL) {
            gort__list_remove(&mc->full[spc], s);
            mcache_file_span(mc, s);
        } else if (s->list == GORT_LIST_OWNED_PARTIAL && s->alloc_count == 0) {
            gort__list_remove(&mc->partial[spc], s);
            gort__central_uncache_span(s);
        }
        n++;
        q = next;
    }
    return n;
}

/* Takes every notice and every pending remote free of the spans this cache
 * owns but does not allocate from: the spans that empty go back to the heap.
 * Owner only. */
static void mcache_flush(gort_mcache *mc) {
    gort__tls_busy++; /* a signal that comes meanwhile must not flush again */
    mcache_process_notify(mc);
    for (unsigned spc = 0; spc < GORT_NUM_SPANCLASSES; spc++) {
        for (gort_mspan *s = mc->partial[spc], *next; s; s = next) {
            next = s->next;
            if (!(atomic_load_explicit(&s->xfree, memory_order_relaxed) & ~(uintptr_t)GORT_XF_MASK)) continue;
            gort__span_drain_xfree(s, false);
            if (s->alloc_count == 0) {
                gort__list_remove(&mc->partial[spc], s);
                gort__central_uncache_span(s);
            }
        }
    }
    gort__tls_busy--;
}

void gort__mcache_free_slow(gort_mcache *mc, gort_mspan *s) {
    unsigned spc = s->spanclass;
    if (s->list == GORT_LIST_OWNED_FULL) {
        /* Full no more: take back the NOTIFY (a NOTIFIED notice will find the
         * span on the partial list and only take its frees). */
        uintptr_t x = GORT_XF_NOTIFY;
        atomic_compare_exchange_strong_explicit(&s->xfree, &x, GORT_XF_NONE, memory_order_acq_rel,
                                                memory_order_relaxed);
        gort__list_remove(&mc->full[spc], s);
        /* At the tail: the refill takes spans from the head, and a span
         * that was full a moment ago has one free slot. The spans freed
         * into longest come first, with the most slots for one refill
         * (larson, one thread: 206k refills -> 117k for 1.5M mallocs). */
        gort__list_push_tail(&mc->partial[spc], s, GORT_LIST_OWNED_PARTIAL);
    }
    if (s->alloc_count == 0 && s->list == GORT_LIST_OWNED_PARTIAL &&
        !(atomic_load_explicit(&s->xfree, memory_order_relaxed) & GORT_XF_MASK)) {
        gort__list_remove(&mc->partial[spc], s);
        gort__central_uncache_span(s);
    }
}

/* The malloc slow path for small sizes: the current span's word is empty. */
void *gort__mcache_refill(gort_mcache *mc, unsigned spc) {
    gort__tls_busy++;
    if (mc->is_empty) {
        if (GORT_UNLIKELY(tls_torn_down) && spc < GORT_NUM_CLASSES) {
            gort__tls_busy--;
            return alloc_after_teardown(spc);
        }
        mc = mcache_create();
        if (!mc) {
            gort__tls_busy--;
            errno = ENOMEM;
            return NULL;
        }
    }
    if (GORT_UNLIKELY(atomic_load_explicit(&mc->flush_wanted, memory_order_relaxed))) {
        atomic_store_explicit(&mc->flush_wanted, false, memory_order_relaxed);
        mcache_flush(mc);
    }
    gort_mspan *s = mc->alloc[spc];
    if (s == &gort__empty_span || !gort__span_load_next_word(s, mc)) {
        if (s != &gort__empty_span) { /* full: keep owning it */
            mc->alloc[spc] = &gort__empty_span;
            s->cache_word = GORT_NO_WORD;
            s->list = GORT_LIST_NONE;
            mcache_file_span(mc, s);
        }
        if (atomic_load_explicit(&mc->notify, memory_order_relaxed)) mcache_process_notify(mc);
        bool gc = gort__spc_is_gc(spc);
        if (gc && !mc->partial[spc] && GORT_UNLIKELY(atomic_load_explicit(&gort__sweep_pending, memory_order_relaxed)))
            gort__gc_sweep_owned(mc, spc);
        s = mc->partial[spc];
        if (s) {
            gort__list_remove(&mc->partial[spc], s);
        } else {
            s = gort__central_cache_span(spc, mc);
            if (!s) {
                if (!gc) gort__oom_report(gort_class_to_size[gort__spc_class(spc)]);
                gort__tls_busy--;
                errno = ENOMEM;
                return NULL;
            }
        }
        /* a span that the last cycle marked and nobody swept yet: swept
         * before its first slot goes out (the sweep would free it) */
        if (gc && GORT_UNLIKELY(gort__span_unswept(s))) gort__gc_sweep_taken(s);
        s->list = GORT_LIST_CACHED;
        mc->alloc[spc] = s;
        if (!gort__span_load_next_word(s, mc)) gort__throw("refill: a span with free slots has none");
    }
    gort__tls_busy--;
    /* The heap profile's sampling (prof.c), by a tail jump: malloc reaches
     * this function by tail jumps too, so gort__prof_take's caller is the
     * program's, and its frame record is where the sample's stack starts. */
    if (GORT_UNLIKELY(atomic_load_explicit(&gort__prof_on, memory_order_relaxed))) return gort__prof_take(mc, s);
    return gort__span_take(s, s->alloc_cache);
}

gort_mcache *gort__mcache_ensure(void) {
    gort_mcache *mc = gort__tls_mcache;
    return mc->is_empty ? mcache_create() : mc;
}

void gort__mcache_stats(uint64_t *nmalloc, uint64_t *nfree) {
    gort__lock(&gort__mcache_list_lock, GORT_RANK_MCACHE_LIST);
    for (unsigned c = 0; c < GORT_NUM_CLASSES; c++) {
        nmalloc[c] = retired_nmalloc[c];
        nfree[c] = retired_nfree[c];
    }
    for (gort_mcache *mc = gort__all_caches; mc; mc = mc->next_all) add_counters(nmalloc, nfree, mc);
    gort__unlock(&gort__mcache_list_lock, GORT_RANK_MCACHE_LIST);
}

/* ---- reclaiming an idle owner's spans (see the top of the file) ---- */

#define FLUSH_SIGNAL SIGURG
static uintptr_t text_lo, text_hi; /* the executable segment holding gort's code */
static _Atomic int flush_ready;    /* 1: the handler is installed; -1: it cannot be */

static int find_text(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    uintptr_t pc = (uintptr_t)data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (pc >= lo && pc < hi) {
            text_lo = lo;
            text_hi = hi;
            return 1;
        }
    }
    return 0;
}

/* The interrupted instruction, or 0 where this file does not know the
 * machine's context layout (then no point is safe). Under TSan no point is:
 * its instrumentation calls into its runtime on every memory access, so an
 * interrupted instruction outside gort's code says nothing. */
static uintptr_t interrupted_pc(void *ucv) {
    ucontext_t *uc = ucv;
#if defined(GORT_TSAN)
    (void)uc;
    return 0;
#elif defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#else
    (void)uc;
    return 0;
#endif
}

static void flush_handler(int sig, siginfo_t *si, void *ucv) {
    (void)sig;
    (void)si;
    int saved = errno;
    gort_mcache *mc = gort__tls_mcache;
    if (!mc->is_empty) {
        uint32_t req = atomic_load_explicit(&mc->flush_req, memory_order_acquire);
        atomic_store_explicit(&mc->flush_began, req, memory_order_release);
        uintptr_t pc = interrupted_pc(ucv);
        if (gort__tls_busy == 0 && pc != 0 && (pc < text_lo || pc >= text_hi)) {
            mcache_flush(mc);
        } else {
            atomic_store_explicit(&mc->flush_wanted, true, memory_order_relaxed);
        }
        atomic_store_explicit(&mc->flush_ack, req, memory_order_release);
    }
    errno = saved;
}

/* Installs the handler unless the program has its own for SIGURG; once
 * installed, checks that it still is (a program that installs its own later
 * must not get gort's requests). */
static bool flush_install(void) {
    int r = atomic_load_explicit(&flush_ready, memory_order_acquire);
    if (r > 0) {
        struct sigaction cur;
        if (sigaction(FLUSH_SIGNAL, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
            cur.sa_sigaction == flush_handler)
            return true;
        atomic_store_explicit(&flush_ready, -1, memory_order_relaxed);
        return false;
    }
    if (r) return false;
    static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&install_lock);
    r = atomic_load_explicit(&flush_ready, memory_order_relaxed);
    if (!r) {
        struct sigaction old;
        r = -1;
        if (dl_iterate_phdr(find_text, (void *)(uintptr_t)&gort__mcache_refill) &&
            sigaction(FLUSH_SIGNAL, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_sigaction = flush_handler;
            sa.sa_flags = SA_SIGINFO | SA_RESTART;
            sigemptyset(&sa.sa_mask); /* the collector may stop the thread in a flush, as in a refill */
            if (sigaction(FLUSH_SIGNAL, &sa, NULL) == 0) r = 1;
        }
        atomic_store_explicit(&flush_ready, r, memory_order_release);
    }
    pthread_mutex_unlock(&install_lock);
    return r > 0;
}

size_t gort__mcache_reclaim(bool wait, bool stale_only) {
    gort_mcache *self = gort__tls_gcself;
    size_t asked = 0;
    if (wait && !gort__tls_mcache->is_empty && gort__tls_busy == 0)
        mcache_flush(gort__tls_mcache); /* the caller's own cache needs no signal */
    /* Without waiting (the scavenger's periods, which may run where a lock
     * of a later rank is held), only when the list lock is free. */
    if (wait) gort__lock(&gort__mcache_list_lock, GORT_RANK_MCACHE_LIST);
    else if (gort__trylock(&gort__mcache_list_lock, GORT_RANK_MCACHE_LIST) != 0) return 0;
    bool any = false; /* the handler is installed only once there is something to ask */
    for (gort_mcache *mc = gort__all_caches; mc && !any; mc = mc->next_all)
        any = mc != self && !mc->gc_skip && atomic_load_explicit(&mc->notify, memory_order_relaxed) != 0;
    if (!any || !flush_install()) {
        gort__unlock(&gort__mcache_list_lock, GORT_RANK_MCACHE_LIST);
        return 0;
    }
    /* The list lock keeps every listed thread alive (its exit waits for the
     * lock to take its cache off the list), so pthread_kill is safe. */
    for (gort_mcache *mc = gort__all_caches; mc; mc = mc->next_all) {
        if (mc == self || mc->gc_skip) continue;
        uintptr_t n = atomic_load_explicit(&mc->notify, memory_order_relaxed);
        bool stale = n != 0 && n == mc->notify_seen;
        mc->notify_seen = n;
        if (n == 0 || (stale_only && !stale)) continue;
        uint32_t req = atomic_fetch_add_explicit(&mc->flush_req, 1, memory_order_acq_rel) + 1;
        if (pthread_kill(mc->thread, FLUSH_SIGNAL) != 0) continue;
        asked++;
        if (!wait) continue;
        /* A thread that blocks SIGURG never answers: 20 ms for the handler
         * to begin, then the next thread; a flush that began is waited for
         * (it may take longer: 512 MiB of spans of 64-byte objects took
         * 0.12 s under the drop-in's malloc_trim). */
        struct timespec ts = {0, 50000};
        for (int i = 0; i < 400 && atomic_load_explicit(&mc->flush_began, memory_order_acquire) != req; i++)
            nanosleep(&ts, NULL);
        if (atomic_load_explicit(&mc->flush_began, memory_order_acquire) != req) continue;
        while (atomic_load_explicit(&mc->flush_ack, memory_order_acquire) != req) nanosleep(&ts, NULL);
    }
    gort__unlock(&gort__mcache_list_lock, GORT_RANK_MCACHE_LIST);
    return asked;
}

/* ---- fork: every lock is taken before fork and released on both sides ---- */

static void fork_prepare(void) {
    gort__chan_fork_prepare();
    gort__gc_fork_prepare();
    gort__lock(&gort__mcache_list_lock, GORT_RANK_MCACHE_LIST);
    for (gort_mcache *mc = gort__all_caches; mc; mc = mc->next_all) gort__lock(&mc->gc_lock, GORT_RANK_MCACHE_GC);
    for (unsigned i = 0; i < GORT_NUM_SPANCLASSES; i++) gort__lock(&gort__central[i].lock, GORT_RANK_MCENTRAL);
    gort__lock(&gort__heap.lock, GORT_RANK_MHEAP);
    gort__prof_fork_lock(0);
    gort__persistent_lock(true);
}

static void release_all(void) {
    gort__persistent_lock(false);
    gort__prof_fork_lock(1);
    gort__unlock(&gort__heap.lock, GORT_RANK_MHEAP);
    for (unsigned i = GORT_NUM_SPANCLASSES; i-- > 0;) gort__unlock(&gort__central[i].lock, GORT_RANK_MCENTRAL);
    for (gort_mcache *mc = gort__all_caches; mc; mc = mc->next_all) gort__unlock(&mc->gc_lock, GORT_RANK_MCACHE_GC);
    gort__unlock(&gort__mcache_list_lock, GORT_RANK_MCACHE_LIST);
    gort__gc_fork_parent();
}
static void fork_parent(void) {
    release_all();
    gort__chan_fork_parent();
}

/* In the child only the forking thread survives: the caches of the other
 * threads stay on the list with their spans (they are never used again). */
static void fork_child(void) {
    release_all();
    gort__chan_fork_child();
    gort__scavenger_after_fork_child();
    gort__gc_fork_child();
}

__attribute__((constructor)) static void mcache_ctor(void) {
    pthread_once(&cache_key_once, make_key);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}
