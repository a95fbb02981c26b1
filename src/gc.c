/*
 * gc.c: the garbage collector (Go's mgc.go, mgcmark.go, mgcwork.go,
 * mgcsweep.go, mgcpacer.go, mfinal.go), for C programs.
 *
 * A non-moving mark-sweep collector over gort's heap. Collected objects live
 * in spans of the kinds GORT_KIND_GC_NOSCAN (never scanned) and
 * GORT_KIND_GC_SCAN (scanned: precisely where the arena's pointer bitmap or
 * a large span's type says, or conservatively, every word, for
 * gort_gc_alloc). A stop-the-world cycle (the concurrent one, below
 * collect_cycle, reuses its steps 1-2 for its two pauses and 4-5 in the
 * second):
 *
 *   1. Take the collector's locks, in the heap's lock order (below), so that
 *      no stopped thread can hold one: the world then never stops inside the
 *      allocator's locked code.
 *   2. Stop the world: SIGPWR to every registered thread; its handler
 *      records its stack pointer (the kernel has saved its registers in the
 *      signal frame, on that stack) and waits on a futex. A thread inside
 *      the lock-free fast path of a collected allocation defers the stop to
 *      the end of that path (a thread-local flag), so a span's bits are
 *      never caught half-written.
 *   3. Mark (tri-colour, as Go): roots are scanned conservatively into work
 *      buffers (Go's gcWork/workbuf), and marker threads on every core drain
 *      them, setting gcmark bits with atomic OR; an object is grey while on a
 *      buffer, black once scanned. Objects above 128 KiB are scanned in
 *      128 KiB oblets.
 *   4. Weak references to unmarked objects are cleared; unmarked objects with
 *      finalizers are queued and marked again (they live one more cycle).
 *      GORT_GCCHECKMARK=1 then re-marks everything on one thread and aborts
 *      if an object reachable now was left unmarked.
 *   5. Sweep every collected span's bitmaps: alloc &= mark, mark = 0 (a word
 *      operation per 64 objects), fix the span's list; restart the world.
 *      Spans left empty go back to the page heap after the restart.
 *
 * Sweeping in the pause differs from Go's lazy sweep: gort's spans are owned
 * by threads whose fast path changes their bits without locks, so a lazy
 * sweep would need a handshake with every owner; the bitmap sweep took
 * 5-6 ms of the pause for the 2 GB heap of bench/gc's live test
 * (GORT_GCTRACE's third clock figure).
 *
 * Lock order (left before right), extending internal.h's:
 *     bg_lock -> gc_lock -> meta_lock -> mcache_list_lock -> mcache.gc_lock
 *       (every cache) -> mcentral[collected classes].lock -> mheap.lock
 * work_lock (the mark queue) is taken by markers and mark assists, with
 * nothing else held.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Conservative scanning reads stack slots, globals' redzones and other
 * threads' data: not the program's accesses, so not the sanitizers' business. */
#define NO_SANITIZE __attribute__((no_sanitize("address", "thread", "undefined")))

#define GC_SIGNAL SIGPWR
#define OBLET_BYTES ((size_t)128 << 10) /* Go's maxObletBytes */
#define WORKBUF_ENTRIES 510             /* a workbuf is 4 KiB: header + 510 pointers */
#define MAX_MARKERS 16
#define HEAP_MINIMUM ((uint64_t)4 << 20)         /* Go's heapMinimum at GOGC=100 */
#define FORCE_PERIOD_NS (120ull * 1000000000ull) /* Go's forcegcperiod: 2 minutes */

static inline uint64_t now_ns(int clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* State                                                                */

static pthread_mutex_t gc_lock = PTHREAD_MUTEX_INITIALIZER;   /* one cycle at a time */
static pthread_mutex_t meta_lock = PTHREAD_MUTEX_INITIALIZER; /* roots, finalizers, weak handles */
static pthread_cond_t fin_cond = PTHREAD_COND_INITIALIZER;    /* the finalizer thread waits on it */
static pthread_once_t gc_once = PTHREAD_ONCE_INIT;
static _Atomic bool gc_ready;

/* pacing, under gc_lock (read without it by the trigger check) */
static _Atomic uint64_t heap_live;    /* bytes of collected objects handed to caches since the last mark, plus marked */
static _Atomic uint64_t heap_trigger; /* collect when heap_live reaches it */
static uint64_t heap_marked, heap_goal;
static _Atomic uint64_t heap_goal_pub; /* heap_goal, for reading without gc_lock */
static _Atomic int32_t gc_percent = 100;
static _Atomic int64_t memory_limit = INT64_MAX;
static _Atomic uint64_t last_gc_mono;
static bool concurrent;      /* set once by gc_init: the kernel tracks writes; cycles run on the background thread */
static bool last_concurrent; /* the last cycle marked concurrently (gc_lock) */
static _Atomic bool marking; /* a concurrent mark runs (between its pauses) */
static _Atomic uint64_t assist_marked;  /* bytes marked by mark assists this cycle */
static _Atomic unsigned assists_active; /* assists holding a work buffer */
static uint64_t globals_bytes, stacks_bytes;

/* statistics, under gc_lock */
static struct {
    uint64_t num_gc, num_forced, pause_total, pause_max, pause_ns[256], pause_end[256], last_gc_unix;
    uint64_t gc_cpu_ns;
} stats;
static _Atomic uint64_t swept_objects, swept_bytes; /* freed by sweeps, whoever ran them */
static _Atomic uint64_t finalizers_run;
static _Atomic uint64_t gc_cycles; /* stats.num_gc, for reading without gc_lock */
static uint64_t start_mono;

/* thread-local state of the collected-allocation fast path */
static __thread struct {
    volatile sig_atomic_t in_alloc; /* inside the lock-free part of a collected allocation */
    volatile sig_atomic_t deferred; /* a stop request arrived meanwhile */
    volatile sig_atomic_t stops;    /* times this thread has stopped for a collection */
    uint32_t stopped_epoch;         /* the stop it last answered: each is answered once */
    uintptr_t wait_sp;              /* waiting in collect for the background thread: scan from here */
    uint64_t assist_debt;           /* bytes of scanning this thread owes the concurrent mark */
} gc_tls __attribute__((tls_model("initial-exec")));

/* ------------------------------------------------------------------ */
/* The heap bitmap                                                      */

static uint64_t *arena_ptrbits(gort_heap_arena *ha) {
    uint64_t *b = atomic_load_explicit(&ha->ptrbits, memory_order_acquire);
    if (b) return b;
    uint64_t *nb = gort__sys_alloc(GORT_ARENA_BYTES / 64);
    if (!nb) return NULL;
    atomic_fetch_add_explicit(&gort__metadata_bytes, GORT_ARENA_BYTES / 64, memory_order_relaxed);
    uint64_t *expect = NULL;
    if (!atomic_compare_exchange_strong_explicit(&ha->ptrbits, &expect, nb, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        gort__sys_free(nb, GORT_ARENA_BYTES / 64, GORT_OS_READY);
        atomic_fetch_sub_explicit(&gort__metadata_bytes, GORT_ARENA_BYTES / 64, memory_order_relaxed);
        return expect;
    }
    return nb;
}

/* Writes n bits at bit position `at` of bm from src (bit 0 of src[0] first). */
static void bits_copy(uint64_t *bm, size_t at, const uint64_t *src, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t w = (at + i) >> 6, o = (at + i) & 63;
        size_t take = 64 - o;
        if (take > n - i) take = n - i;
        size_t si = i >> 6, so = i & 63;
        uint64_t v = src[si] >> so;
        if (so && so + take > 64) v |= src[si + 1] << (64 - so);
        uint64_t m = take == 64 ? ~0ull : ((1ull << take) - 1);
        bm[w] = (bm[w] & ~(m << o)) | ((v & m) << o);
        i += take;
    }
}
static void bits_fill(uint64_t *bm, size_t at, size_t n, bool one) {
    while (n) {
        size_t w = at >> 6, o = at & 63, take = 64 - o;
        if (take > n) take = n;
        uint64_t m = (take == 64 ? ~0ull : ((1ull << take) - 1)) << o;
        bm[w] = one ? bm[w] | m : bm[w] & ~m;
        at += take;
        n -= take;
    }
}

/* Writes a slot's bits at bit `at` of bm: the pattern, and zeros for the
 * rest of the slot (slotwords <= 64). Returns true (a shape for the
 * caller's single test). */
static inline bool heap_bits_small(uint64_t *bm, size_t at, size_t slotwords, uint64_t pattern) {
    uint64_t slotmask = ~0ull >> (64 - slotwords);
    size_t w = at >> 6, o = at & 63;
    bm[w] = (bm[w] & ~(slotmask << o)) | (pattern << o);
    if (GORT_UNLIKELY(o + slotwords > 64)) bm[w + 1] = (bm[w + 1] & ~(slotmask >> (64 - o))) | (pattern >> (64 - o));
    return true;
}

/* A uniform span (umask, span.h) has no bitmap: the marker takes its
 * objects' mask from their work entries, and allocation writes no bits. When
 * an object of another shape arrives, every slot's bits are written with the
 * span's mask first, and the span is mixed from then on. span_bm: the
 * bitmap word of the span's first slot. */
static void umask_fill(gort_mspan *s, uint64_t *span_bm) {
    size_t slotwords = s->elemsize >> 3;
    for (size_t i = 0; i < s->nelems; i++) heap_bits_small(span_bm, i * slotwords, slotwords, s->umask & 0xff);
}
static GORT_NOINLINE void umask_mix(gort_mspan *s, uint64_t *span_bm) {
    if (s->umask & GORT_UMASK_ONE) umask_fill(s, span_bm);
    /* a concurrent marker that reads MIXED must find the bits written */
    atomic_thread_fence(memory_order_release);
    s->umask = GORT_UMASK_MIXED;
}

/* Records an object with pointer bits `pattern` allocated in span s (slots of
 * slotwords words); false when its bits need not be written (s is uniform
 * with this pattern, or becomes so with its first object). */
static inline bool umask_take(gort_mspan *s, uint64_t *span_bm, uint64_t pattern, size_t slotwords) {
    unsigned u = s->umask;
    if (u == (GORT_UMASK_ONE | pattern)) return false;
    if (u == GORT_UMASK_MIXED) return true;
    if (u == 0 && slotwords <= 8) {
        s->umask = (uint16_t)(GORT_UMASK_ONE | pattern);
        return false;
    }
    umask_mix(s, span_bm);
    return true;
}

/* Sets the pointer bits of a small object at p of `words` words: count
 * copies of t's mask, or all ones when t is NULL (conservative). Small
 * objects never cross an arena (spans of small classes are at most 10 pages
 * and an arena holds whole spans of its pages). */
static bool heap_bits_set(gort_mspan *s, uintptr_t p, size_t slotwords, size_t words, const gort_type *t,
                          size_t count) {
    gort_heap_arena *ha = gort__arena_of(p);
    uint64_t *bm = arena_ptrbits(ha);
    if (!bm) return false;
    size_t at = (p - ha->base) >> 3;
    uint64_t *span_bm = bm + ((s->base - ha->base) >> 9);
    if (slotwords <= 64 && (!t || (count * (t->size >> 3) <= 64))) {
        /* the common case: the slot's bits fit two bitmap words */
        uint64_t pattern;
        if (!t) {
            pattern = words >= 64 ? ~0ull : (1ull << words) - 1;
        } else {
            pattern = 0;
            for (size_t i = 0, tw = t->size >> 3; i < count; i++) pattern |= t->ptrmask[0] << (i * tw);
        }
        if (!umask_take(s, span_bm, pattern, slotwords)) return true;
        return heap_bits_small(bm, at, slotwords, pattern);
    }
    if (s->umask != GORT_UMASK_MIXED) umask_mix(s, span_bm);
    bits_fill(bm, at, slotwords, false);
    if (!t) {
        bits_fill(bm, at, words, true);
        return true;
    }
    size_t tw = t->size >> 3;
    for (size_t i = 0; i < count; i++) bits_copy(bm, at + i * tw, t->ptrmask, t->ptrwords);
    return true;
}

/* ------------------------------------------------------------------ */
/* Work buffers (Go's workbuf and gcWork)                               */

typedef struct workbuf {
    struct workbuf *next;
    size_t n;
    uintptr_t obj[WORKBUF_ENTRIES];
} workbuf;
_Static_assert(sizeof(workbuf) == 4096, "workbuf is a page");

/* Candidate pointers found by scanning wait in `cand` and are looked up a
 * batch at a time (flush_cands), so that the cache misses of a batch's spans
 * and bitmap words overlap instead of following one another. */
#define CAND_MAX 64
typedef struct gcwork {
    workbuf *buf;
    uint64_t marked_bytes;
    uint64_t scanned_bytes;
    unsigned polls;
    unsigned ncand;
    uint64_t written_pages; /* pages a walk of written pages handed to rescan_written */
    uintptr_t cand[CAND_MAX];
    struct gort_mspan *cand_span[CAND_MAX];
} gcwork;

static pthread_mutex_t work_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cond = PTHREAD_COND_INITIALIZER;
static workbuf *work_full, *work_empty;
static _Atomic unsigned work_nwait; /* markers of this drain waiting for work */
static unsigned work_nmarkers;      /* markers taking part in this drain */
static bool work_done;
/* Marker threads join a drain only once it has shared work (a full
 * buffer): waking them costs more than a small heap's whole mark. */
static pthread_cond_t join_cond = PTHREAD_COND_INITIALIZER;
static bool work_open;           /* a parallel drain that markers may join */
static unsigned work_idle;       /* marker threads waiting to join */
static unsigned work_joined;     /* marker threads in the drain */
static unsigned work_max_joined; /* at most this many (concurrent marking: a share of the cores) */
static uint64_t work_joined_marked;
static uint64_t work_joined_cpu; /* thread CPU time the marker threads spent in this drain */
static pthread_cond_t joined_cond = PTHREAD_COND_INITIALIZER;
/* lock-free mirrors for the balance check: full buffers listed, and whether
 * a marker thread waits to join an open drain */
static _Atomic unsigned work_nfull;
static _Atomic bool work_joinable;
static void update_joinable(void) { /* work_lock held */
    atomic_store_explicit(&work_joinable, work_open && !work_done && work_idle > 0 && work_joined < work_max_joined,
                          memory_order_relaxed);
}

static workbuf *getempty(void) {
    gort__lock(&work_lock, GORT_RANK_WORK);
    workbuf *b = work_empty;
    if (b) {
        work_empty = b->next;
    } else {
        /* 64 buffers at a time; kept for later cycles */
        char *chunk = gort__sys_alloc(64 * sizeof(workbuf));
        if (!chunk) gort__fatal("out of memory for the collector's work buffers");
        atomic_fetch_add_explicit(&gort__metadata_bytes, 64 * sizeof(workbuf), memory_order_relaxed);
        for (int i = 1; i < 64; i++) {
            workbuf *w = (workbuf *)(chunk + i * sizeof(workbuf));
            w->next = work_empty;
            work_empty = w;
        }
        b = (workbuf *)chunk;
    }
    gort__unlock(&work_lock, GORT_RANK_WORK);
    b->n = 0;
    b->next = NULL;
    return b;
}

/* Gives an emptied buffer back. */
static void putempty(workbuf *b) {
    gort__lock(&work_lock, GORT_RANK_WORK);
    b->next = work_empty;
    work_empty = b;
    gort__unlock(&work_lock, GORT_RANK_WORK);
}

static _Atomic bool assist_wants; /* a mark assist found no shared work: markers share theirs */

static void putfull(workbuf *b) {
    atomic_store_explicit(&assist_wants, false, memory_order_relaxed);
    gort__lock(&work_lock, GORT_RANK_WORK);
    b->next = work_full;
    work_full = b;
    atomic_fetch_add_explicit(&work_nfull, 1, memory_order_relaxed);
    if (work_nwait) pthread_cond_signal(&work_cond);
    else if (work_open && !work_done && work_idle) pthread_cond_signal(&join_cond);
    gort__unlock(&work_lock, GORT_RANK_WORK);
}

static inline void gcw_push(gcwork *w, uintptr_t obj) {
    workbuf *b = w->buf;
    if (GORT_UNLIKELY(b->n == WORKBUF_ENTRIES)) {
        putfull(b);
        b = w->buf = getempty();
    }
    b->obj[b->n++] = obj;
}

/* ------------------------------------------------------------------ */
/* Marking                                                              */

/* the arenas' span of addresses, set in each pause; heap_lo is the first
 * arena's first object, so this pair is kept out of the roots (gc_init) */
static struct { uintptr_t lo, hi; } heap_range;
#define heap_lo heap_range.lo
#define heap_hi heap_range.hi

/* Word w of a collected span's mark bits: the xfree word of its pair
 * (span.h says why). */
static inline uint64_t mark_word(const gort_mspan *s, size_t w) {
    return atomic_load_explicit(&s->words[w].xfree, memory_order_relaxed);
}
static inline void set_mark_word(gort_mspan *s, size_t w, uint64_t v) {
    atomic_store_explicit(&s->words[w].xfree, v, memory_order_relaxed);
}

/* Sets bit i of *w atomically; returns its old value (gcc 12 makes this one
 * LOCK BTS on x86-64). */
static inline bool atomic_test_and_set_bit(_Atomic uint64_t *w, unsigned i) {
    uint64_t bit = 1ull << (i & 63);
    return atomic_fetch_or_explicit(w, bit, memory_order_relaxed) & bit;
}

/* what mark_ptr reads of a span lies in one cache line, its second */
#define GORT_IN_LINE1(f) \
    (offsetof(gort_mspan, f) >= 64 && offsetof(gort_mspan, f) + sizeof(((gort_mspan *)0)->f) <= 128)
_Static_assert(GORT_IN_LINE1(base) && GORT_IN_LINE1(kind) && GORT_IN_LINE1(sizeclass) && GORT_IN_LINE1(divmagic) &&
                   GORT_IN_LINE1(nelems) && GORT_IN_LINE1(elemsize),
               "mark_ptr's span fields span one cache line");
#undef GORT_IN_LINE1

/* The span holding p, when p lies in the heap's range [lo, lo + span) and
 * in a span; else NULL. */
static inline __attribute__((always_inline)) gort_mspan *heap_span_of(uintptr_t p, uintptr_t lo, uintptr_t span) {
    if (p - lo >= span) return NULL;
    gort_heap_arena *ha = gort__arena_of(p);
    if (!ha) return NULL;
    return atomic_load_explicit(&ha->spans[(p >> GORT_PAGE_SHIFT) & (GORT_PAGES_PER_ARENA - 1)], memory_order_relaxed);
}

/* The index in span s of the collected object holding p; false when s is
 * not a collected span or p lies past its last object. Only the span's first
 * cache line is read (nelems rather than `limit`, which is on the next). */
static inline __attribute__((always_inline)) bool gc_object_index(const gort_mspan *s, uintptr_t p, uintptr_t *idxp) {
    /* unsigned: a manual span's kind (0) wraps to a large value and fails */
    if ((unsigned)s->kind - GORT_KIND_GC_NOSCAN > GORT_KIND_GC_SCAN - GORT_KIND_GC_NOSCAN) return false;
    uintptr_t off = p - s->base, idx = 0;
    if (s->sizeclass) {
        idx = gort__span_obj_index(s, p);
        if (idx >= s->nelems) return false;
    } else if (off >= s->elemsize) {
        return false;
    }
    *idxp = idx;
    return true;
}

/* A work entry is an object's address (below 2^48) with, in bits 48-54,
 * its size class (0: a large object, or an oblet of one, at a 128 KiB
 * boundary inside it) and, when its span's objects all have one pointer
 * mask (umask, span.h), bit 55 set and the mask in bits 56-63: scanning it
 * then needs no span lookup and no bitmap. In a class-0 entry, bit 55 says
 * the entry is one page of a large object (ENTRY_PAGE). */
#define ENTRY_ADDR(e) ((e) & (((uintptr_t)1 << 48) - 1))
#define ENTRY_CLASS(e) ((unsigned)((e) >> 48) & 0x7f)
#define ENTRY_UNIFORM ((uintptr_t)1 << 55)
/* in a class-0 entry: one written page of a large object (rescan_written),
 * so that the final pause's re-scan is shared by every marker */
#define ENTRY_PAGE ENTRY_UNIFORM
_Static_assert(GORT_NUM_CLASSES < 128, "a size class fits a work entry's 7 bits");
static inline uintptr_t entry_tag(const gort_mspan *s) {
    uintptr_t tag = (uintptr_t)s->sizeclass << 48;
    if (s->umask & GORT_UMASK_ONE) tag |= ENTRY_UNIFORM | (uintptr_t)(s->umask & 0xff) << 56;
    return tag;
}

/* Greys object idx of s if it is allocated and not yet marked (Go's
 * greyobject): its alloc and mark words share a line. */
static inline __attribute__((always_inline)) void grey_object(gcwork *w, gort_mspan *s, uintptr_t idx) {
    uint64_t bit = 1ull << (idx & 63);
    struct gort_span_word *sw = &s->words[idx >> 6];
    if (!(sw->alloc & bit)) return;    /* a free slot: a stale pointer */
    _Atomic uint64_t *mw = &sw->xfree; /* the mark bits (span.h) */
    if (atomic_load_explicit(mw, memory_order_relaxed) & bit) return;
    if (atomic_test_and_set_bit(mw, idx & 63)) return;
    w->marked_bytes += s->elemsize;
    /* scan kind: queue it with its size class in the top bits (work entries
     * are addresses below 2^48), so that scanning needs no span lookup */
    if (s->kind == GORT_KIND_GC_SCAN) gcw_push(w, (s->base + idx * s->elemsize) | entry_tag(s));
}

/* Greys the objects of mark word wi of s whose bits are set in `bits` (grey_object
 * for several objects of one word, with one atomic OR). */
static inline void grey_word(gcwork *w, gort_mspan *s, uintptr_t wi, uint64_t bits) {
    struct gort_span_word *sw = &s->words[wi];
    _Atomic uint64_t *mw = &sw->xfree; /* the mark bits (span.h) */
    bits &= sw->alloc & ~atomic_load_explicit(mw, memory_order_relaxed);
    if (!bits) return;
    bits &= ~atomic_fetch_or_explicit(mw, bits, memory_order_relaxed);
    w->marked_bytes += (uint64_t)gort__popcount(bits) * s->elemsize;
    if (s->kind != GORT_KIND_GC_SCAN) return;
    uintptr_t base = s->base + wi * 64 * s->elemsize, tag = entry_tag(s);
    for (; bits; bits &= bits - 1) gcw_push(w, (base + gort__ctz64(bits) * s->elemsize) | tag);
}

/* Greys the object holding address p, if p points into a live collected
 * object (Go's findObject + greyobject). Conservative: p may point anywhere
 * inside the object. */
static inline __attribute__((always_inline)) void mark_ptr_in(gcwork *w, uintptr_t p, uintptr_t lo, uintptr_t span) {
    gort_mspan *s = heap_span_of(p, lo, span);
    uintptr_t idx;
    if (s && gc_object_index(s, p, &idx)) grey_object(w, s, idx);
}
static inline void mark_ptr(gcwork *w, uintptr_t p) { mark_ptr_in(w, p, heap_lo, heap_hi - heap_lo); }

/* mark_ptr for a batch of candidates whose spans were found (and their first
 * lines prefetched) by cand_add: one pass finds each object's index and
 * prefetches its bitmap line, the next sets the marks. The misses of a pass
 * overlap; on a heap churned at random, a pointer's span and bitmap line are
 * otherwise two misses in a row. */
static GORT_NOINLINE void flush_cands(gcwork *w) {
    unsigned n = w->ncand;
    w->ncand = 0;
    uintptr_t idxs[CAND_MAX];
    for (unsigned i = 0; i < n; i++) {
        gort_mspan *s = w->cand_span[i];
        if (!gc_object_index(s, w->cand[i], &idxs[i])) {
            w->cand_span[i] = NULL;
            continue;
        }
        __builtin_prefetch(&s->words[idxs[i] >> 6]);
    }
    /* Candidates in a row that fall in one mark word are marked with one
     * atomic OR: a locked instruction costs more than the rest of a mark,
     * and a scanned object's pointers often name neighbours (a tree's nodes
     * allocated together). */
    for (unsigned i = 0; i < n;) {
        gort_mspan *s = w->cand_span[i];
        if (!s) {
            i++;
            continue;
        }
        uintptr_t wi = idxs[i] >> 6;
        uint64_t bits = 1ull << (idxs[i] & 63);
        for (i++; i < n && w->cand_span[i] == s && idxs[i] >> 6 == wi; i++) bits |= 1ull << (idxs[i] & 63);
        grey_word(w, s, wi, bits);
    }
}

/* A candidate pointer of a scanned object: if it lies in a span, the span's
 * first line is prefetched and the pair waits for the next batch. */
static inline __attribute__((always_inline)) void cand_add(gcwork *w, uintptr_t p, uintptr_t lo, uintptr_t span) {
    gort_mspan *s = heap_span_of(p, lo, span);
    if (!s) return;
    __builtin_prefetch(s);
    unsigned n = w->ncand;
    w->cand[n] = p;
    w->cand_span[n] = s;
    w->ncand = n + 1;
    if (GORT_UNLIKELY(n + 1 == CAND_MAX)) flush_cands(w);
}

/* Every aligned word of [lo, hi) is a candidate pointer. */
NO_SANITIZE static void scan_conservative(gcwork *w, uintptr_t lo, uintptr_t hi) {
    lo = (lo + 7) & ~(uintptr_t)7;
    uintptr_t hlo = heap_lo, hspan = heap_hi - heap_lo;
    for (uintptr_t a = lo; a + 8 <= hi; a += 8) cand_add(w, *(const volatile uintptr_t *)a, hlo, hspan);
    w->scanned_bytes += hi > lo ? hi - lo : 0;
}

/* The words of [p, p + n) whose bits (from bit `at` of bm) are set. */
NO_SANITIZE static void scan_bits(gcwork *w, uintptr_t p, size_t nwords, const uint64_t *bm, size_t at) {
    size_t i = 0;
    while (i < nwords) {
        size_t bw = (at + i) >> 6, o = (at + i) & 63;
        uint64_t bits = bm[bw] >> o;
        size_t take = 64 - o;
        if (take > nwords - i) {
            take = nwords - i;
            bits &= (1ull << take) - 1;
        }
        while (bits) {
            size_t k = (size_t)gort__ctz64(bits);
            bits &= bits - 1;
            cand_add(w, *(const uintptr_t *)(p + (i + k) * 8), heap_lo, heap_hi - heap_lo);
        }
        i += take;
    }
    w->scanned_bytes += nwords * 8;
}

/* Scans [b, end) of large object s: by its type, or every word. */
NO_SANITIZE static void scan_large_range(gcwork *w, const gort_mspan *s, uintptr_t b, uintptr_t end) {
    const gort_type *t = s->largetype;
    if (!t) {
        scan_conservative(w, b, end);
        return;
    }
    /* a typed array: each element's mask, from the element holding b */
    size_t tw = t->size >> 3;
    size_t first = (b - s->base) / t->size;
    for (size_t el = first; el < s->largecount; el++) {
        uintptr_t eb = s->base + el * t->size;
        if (eb >= end) break;
        size_t lo = eb < b ? (b - eb) >> 3 : 0;
        size_t hi = t->ptrwords;
        if (eb + hi * 8 > end) hi = (end - eb) >> 3;
        for (size_t i = lo; i < hi && i < tw; i++)
            if (t->ptrmask[i >> 6] >> (i & 63) & 1)
                cand_add(w, *(const uintptr_t *)(eb + i * 8), heap_lo, heap_hi - heap_lo);
    }
    w->scanned_bytes += end - b;
}

/* The size of large object s that holds data: its elements, or the span. */
static inline size_t large_extent(const gort_mspan *s) {
    return s->largetype ? s->largetype->size * s->largecount : s->elemsize;
}

typedef struct {
    gcwork *w;
    const gort_mspan *s;
} large_part;
NO_SANITIZE static void scan_backed_part(uintptr_t a, uintptr_t b, void *arg) {
    large_part *lp = arg;
    scan_large_range(lp->w, lp->s, a, b);
}

/* The large-object part of scan_object: an object above 32 KiB, or one of
 * its 128 KiB oblets (entry's class 0). */
NO_SANITIZE static GORT_NOINLINE void scan_large(gcwork *w, uintptr_t e) {
    uintptr_t b = ENTRY_ADDR(e);
    gort_mspan *s = gort__span_of(b);
    size_t size = large_extent(s);
    if (e & ENTRY_PAGE) { /* one written page, re-scanned */
        uintptr_t end = (b | (GORT_OS_PAGE - 1)) + 1;
        scan_large_range(w, s, b, end < s->base + size ? end : s->base + size);
        return;
    }
    /* large: split into oblets, queue all but the first */
    if (b == s->base && size > OBLET_BYTES)
        for (uintptr_t o = b + OBLET_BYTES; o < s->base + size; o += OBLET_BYTES) gcw_push(w, o);
    uintptr_t end = b + OBLET_BYTES;
    if (end > s->base + size || end < b) end = s->base + size;
    /* only its pages that hold memory: the others read as zero */
    large_part lp = {w, s};
    if (!gort__backed_ranges(b, end, scan_backed_part, &lp)) scan_large_range(w, s, b, end);
}

/* The word of the pointer bitmap that holds the first bit of the object at
 * b, or NULL while its arena has no bitmap (its first scanned object is
 * being allocated and holds no pointer yet). */
static inline __attribute__((always_inline)) uint64_t *obj_bits(uintptr_t b) {
    gort_heap_arena *ha = gort__arena_of(b);
    uint64_t *bm = atomic_load_explicit(&ha->ptrbits, memory_order_relaxed);
    return bm ? bm + ((b - ha->base) >> 9) : NULL;
}

/* Scans a grey object: a work entry (entry_tag) and, for a small object
 * whose entry carries no mask, obj_bits of it (the drain loop looked it up
 * early, to prefetch it). Go's scanobject. Inlined in drain, the marker's
 * loop (a call per object was about 10 of its instructions). */
NO_SANITIZE static inline __attribute__((always_inline)) void scan_object(gcwork *w, uintptr_t e, const uint64_t *bw) {
    uintptr_t b = ENTRY_ADDR(e);
    unsigned cls = ENTRY_CLASS(e);
    if (GORT_UNLIKELY(!cls)) {
        scan_large(w, e);
        return;
    }
    size_t nwords = gort_class_to_size[cls] >> 3;
    uint64_t bits;
    if (e & ENTRY_UNIFORM) {
        bits = e >> 56;
    } else {
        if (!bw) return;
        /* arenas are 64 MiB-aligned: the object's first bit is bit o of *bw */
        size_t o = (b >> 3) & 63;
        if (nwords > 64) {
            scan_bits(w, b, nwords, bw, o);
            return;
        }
        /* the object's bits are in one or two bitmap words */
        bits = bw[0] >> o;
        if (o + nwords > 64) bits |= bw[1] << (64 - o);
        bits &= ~0ull >> (64 - nwords);
    }
    uintptr_t lo = heap_lo, span = heap_hi - heap_lo;
    const uintptr_t *words = (const uintptr_t *)b;
    while (bits) {
        cand_add(w, words[gort__ctz64(bits)], lo, span);
        bits &= bits - 1;
    }
    w->scanned_bytes += nwords * 8;
}

/* Drains the mark queue: local buffer, then the global list, until every
 * marker is out of work (Go's gcDrain with work.nwait termination). */
#define PREFETCH_RING 16
/* The end of a drain: the addresses it held in its candidate batch and ring
 * are wiped, so that a stale copy left in a dead stack frame cannot later sit
 * in a live frame's unwritten slot and keep an object alive (the stack is
 * scanned conservatively). */
static void wipe_cands(gcwork *w) {
    explicit_bzero(w->cand, sizeof w->cand);
    explicit_bzero(w->cand_span, sizeof w->cand_span);
}
static void drain_wipe(gcwork *w, uintptr_t *ring, size_t ring_bytes) {
    wipe_cands(w);
    explicit_bzero(ring, ring_bytes);
}

NO_SANITIZE static void drain(gcwork *w) {
    /* Objects taken from the buffer wait in a small ring after a prefetch,
     * so that scanning one overlaps the cache misses of the next few (the
     * loads of an object's words were most of the mark time). */
    uintptr_t ring[PREFETCH_RING];
    const uint64_t *ring_bits[PREFETCH_RING];
    unsigned rn = 0, rh = 0;
    for (;;) {
        workbuf *b = w->buf;
        for (;;) {
            if (!b->n && !rn) {
                if (!w->ncand) break;
                flush_cands(w); /* may queue more */
                b = w->buf;
                continue;
            }
            while (rn < PREFETCH_RING && b->n) {
                uintptr_t e = b->obj[--b->n];
                uintptr_t ob = ENTRY_ADDR(e);
                __builtin_prefetch((const void *)ob);
                /* and its pointer bits: on a heap churned at random, a
                 * miss of their own */
                const uint64_t *bw = ENTRY_CLASS(e) && !(e & ENTRY_UNIFORM) ? obj_bits(ob) : NULL;
                if (bw) __builtin_prefetch(bw);
                ring_bits[(rh + rn) % PREFETCH_RING] = bw;
                ring[(rh + rn++) % PREFETCH_RING] = e;
            }
            uintptr_t obj = ring[rh];
            const uint64_t *obits = ring_bits[rh];
            rh = (rh + 1) % PREFETCH_RING;
            rn--;
            scan_object(w, obj, obits);
            b = w->buf;
            /* Share work (Go's gcWork.balance): when the global list is
             * empty and a marker waits, or could join, give it the oldest
             * half of this buffer: a tree marked depth first keeps its
             * buffer short, and its oldest entries head the biggest parts. */
            if (b->n >= 8 && !(++w->polls & 15) && !atomic_load_explicit(&work_nfull, memory_order_relaxed) &&
                (atomic_load_explicit(&work_nwait, memory_order_relaxed) ||
                 atomic_load_explicit(&work_joinable, memory_order_relaxed) ||
                 atomic_load_explicit(&assist_wants, memory_order_relaxed))) {
                workbuf *nb = getempty();
                size_t half = b->n / 2;
                memcpy(nb->obj, b->obj, half * sizeof(uintptr_t));
                memmove(b->obj, b->obj + half, (b->n - half) * sizeof(uintptr_t));
                nb->n = half;
                b->n -= half;
                putfull(nb);
            }
        }
        gort__lock(&work_lock, GORT_RANK_WORK);
        for (;;) {
            if (work_full) {
                workbuf *full = work_full;
                work_full = full->next;
                atomic_fetch_sub_explicit(&work_nfull, 1, memory_order_relaxed);
                b->next = work_empty; /* the empty local buffer goes back */
                work_empty = b;
                w->buf = full;
                break;
            }
            if (work_done) {
                gort__unlock(&work_lock, GORT_RANK_WORK);
                drain_wipe(w, ring, sizeof ring);
                return;
            }
            atomic_fetch_add_explicit(&work_nwait, 1, memory_order_relaxed);
            if (atomic_load_explicit(&work_nwait, memory_order_relaxed) == work_nmarkers) {
                work_done = true;
                update_joinable();
                pthread_cond_broadcast(&work_cond);
                gort__unlock(&work_lock, GORT_RANK_WORK);
                drain_wipe(w, ring, sizeof ring);
                return;
            }
            pthread_cond_wait(&work_cond, &work_lock);
            atomic_fetch_sub_explicit(&work_nwait, 1, memory_order_relaxed);
        }
        gort__unlock(&work_lock, GORT_RANK_WORK);
    }
}

/* ---- marker threads ---- */
static unsigned nworkers; /* marker threads besides the collecting one */

static void *marker_main(void *arg) {
    (void)arg;
    gort__lock(&work_lock, GORT_RANK_WORK);
    for (;;) {
        work_idle++;
        update_joinable();
        while (!(work_open && !work_done && work_full && work_joined < work_max_joined))
            pthread_cond_wait(&join_cond, &work_lock);
        work_idle--;
        work_nmarkers++;
        work_joined++;
        update_joinable();
        gort__unlock(&work_lock, GORT_RANK_WORK);
        gcwork w = {.buf = getempty()};
        uint64_t c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
        drain(&w);
        uint64_t cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
        gort__lock(&work_lock, GORT_RANK_WORK);
        w.buf->next = work_empty;
        work_empty = w.buf;
        work_joined_marked += w.marked_bytes;
        work_joined_cpu += cpu;
        if (--work_joined == 0) pthread_cond_signal(&joined_cond);
    }
    return NULL;
}

/* A detached thread of the collector's with a 256 KiB stack that takes no
 * signals (markers and the background thread stop no one's program);
 * pthread_create's result. */
static int start_quiet(void *(*fn)(void *)) {
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 256 << 10);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&t, &a, fn, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&a);
    return rc;
}

/* Starts the marker threads (outside every allocator lock: pthread_create
 * allocates). One per core beyond the collecting thread, at most 15. */
static void start_workers(void) {
    if (nworkers) return;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) ncpu = 1;
    if (ncpu > MAX_MARKERS) ncpu = MAX_MARKERS;
    for (long i = 1; i < ncpu; i++) {
        if (start_quiet(marker_main) != 0) break;
        nworkers++;
    }
}

/* ------------------------------------------------------------------ */
/* Stopping the world                                                   */

static _Atomic uint32_t stop_epoch; /* odd while the world is stopped */
static _Atomic unsigned stop_acks;
/* Threads that have left the last stop's handler, and how many it stopped:
 * the next stop waits for them all, so that none finds the next stop's
 * signal already pending when it returns from the last one's handler and
 * goes back into it without running an instruction of its own (a thread
 * collecting back to back starved the others so). */
static _Atomic unsigned stop_resumed;
static unsigned stop_last_sent;
/* When the world last stopped and restarted (gc_lock): see world_breathe. */
static uint64_t stopped_at_ns, started_at_ns;

static void futex_wait(_Atomic uint32_t *addr, uint32_t val) {
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}
static void futex_wake_all(_Atomic uint32_t *addr) {
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Parks the calling thread until the world restarts. Its registers are in
 * the signal frame (or spilled by __builtin_unwind_init), below `here`. */
static GORT_NOINLINE void stop_self(void) {
    __builtin_unwind_init();
    uint32_t e = atomic_load_explicit(&stop_epoch, memory_order_acquire);
    if (!(e & 1) || gc_tls.stopped_epoch == e) return;
    gc_tls.stopped_epoch = e;
    gort_mcache *mc = gort__tls_gcself;
    volatile uintptr_t here = 0;
    if (mc) atomic_store_explicit(&mc->gc_sp, gc_tls.wait_sp ? gc_tls.wait_sp : (uintptr_t)&here, memory_order_relaxed);
    gc_tls.stops++;
    atomic_fetch_add_explicit(&stop_acks, 1, memory_order_release);
    while (atomic_load_explicit(&stop_epoch, memory_order_acquire) == e) futex_wait(&stop_epoch, e);
    atomic_fetch_add_explicit(&stop_resumed, 1, memory_order_release);
    (void)here;
}

static void stop_handler(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)si;
    (void)uc;
    int saved = errno;
    if (gc_tls.in_alloc) gc_tls.deferred = 1;
    else stop_self();
    errno = saved;
}

/* The end of a collected allocation's fast path: a stop that arrived inside it. */
static GORT_NOINLINE void stop_deferred(void) {
    gc_tls.deferred = 0;
    stop_self();
}

/* Stops every registered thread but the caller. Returns how many stopped. */
static unsigned stop_the_world(gort_mcache *self) {
    stopped_at_ns = now_ns(CLOCK_MONOTONIC);
    while (atomic_load_explicit(&stop_resumed, memory_order_acquire) < stop_last_sent) sched_yield();
    atomic_store_explicit(&stop_resumed, 0, memory_order_relaxed);
    atomic_store_explicit(&stop_acks, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&stop_epoch, 1, memory_order_acq_rel); /* odd: stopping */
    unsigned sent = 0;
    for (gort_mcache *mc = gort__all_caches; mc; mc = mc->next_all) {
        if (mc == self || mc->gc_skip) continue;
        atomic_store_explicit(&mc->gc_sp, 0, memory_order_relaxed);
        int rc = pthread_kill(mc->thread, GC_SIGNAL);
        if (rc == 0) sent++;
        else mc->gc_skip = true; /* gone without its destructor (cannot happen with pthreads) */
    }
    while (atomic_load_explicit(&stop_acks, memory_order_acquire) < sent) sched_yield();
    stop_last_sent = sent;
    return sent;
}

static void start_the_world(void) {
    started_at_ns = now_ns(CLOCK_MONOTONIC);
    atomic_fetch_add_explicit(&stop_epoch, 1, memory_order_acq_rel);
    futex_wake_all(&stop_epoch);
}

/* ------------------------------------------------------------------ */
/* Roots                                                                */

/* Stack tops, from /proc/self/maps: the end of the mapping holding each
 * stopped thread's stack pointer (for a pthread, that mapping also holds its
 * static TLS and descriptor, above the stack). Read with plain system calls:
 * the world is stopped and no allocation may happen. */
static char maps_buf[1 << 16];
static void lookup_stack_tops(gort_mcache *self, uintptr_t self_sp) {
    /* only for threads not seen before (a cache is zeroed when a thread
     * takes it): reading the maps cost 0.05-0.59 ms a pause on `live`,
     * growing with its heap's mappings */
    bool missing = false;
    for (gort_mcache *mc = gort__all_caches; mc && !missing; mc = mc->next_all)
        missing = !mc->gc_skip && !mc->gc_stack_hi;
    if (!missing) return;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    size_t have = 0;
    bool eof = false;
    while (!eof || have) {
        if (!eof && have < sizeof maps_buf - 1) {
            ssize_t r = read(fd, maps_buf + have, sizeof maps_buf - 1 - have);
            if (r <= 0) eof = true;
            else have += (size_t)r;
        }
        char *nl = memchr(maps_buf, '\n', have);
        if (!nl) {
            if (eof || have == sizeof maps_buf - 1) break;
            continue;
        }
        /* "lo-hi perms ..." */
        uintptr_t lo = 0, hi = 0;
        char *c = maps_buf;
        while (c < nl && *c != '-') lo = lo * 16 + (uintptr_t)(*c <= '9' ? *c - '0' : (*c | 32) - 'a' + 10), c++;
        for (c++; c < nl && *c != ' '; c++) hi = hi * 16 + (uintptr_t)(*c <= '9' ? *c - '0' : (*c | 32) - 'a' + 10);
        for (gort_mcache *mc = gort__all_caches; mc; mc = mc->next_all) {
            if (mc->gc_skip || mc->gc_stack_hi) continue;
            uintptr_t sp = mc == self ? self_sp : atomic_load_explicit(&mc->gc_sp, memory_order_relaxed);
            if (sp >= lo && sp < hi) mc->gc_stack_hi = hi;
        }
        size_t used = (size_t)(nl + 1 - maps_buf);
        memmove(maps_buf, nl + 1, have - used);
        have -= used;
    }
    close(fd);
}

/* Static TLS: [thread + tls_lo, thread + tls_hi) for every thread, from
 * the blocks of the modules loaded at start-up, found relative to the
 * initializing thread's descriptor (glibc lays every thread out alike). */
static intptr_t tls_lo, tls_hi;
static int tls_cb(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    uintptr_t self = (uintptr_t)arg;
    if (!info->dlpi_tls_data) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type != PT_TLS) continue;
        intptr_t lo = (intptr_t)((uintptr_t)info->dlpi_tls_data - self);
        intptr_t hi = lo + (intptr_t)info->dlpi_phdr[i].p_memsz;
        if (lo < -(intptr_t)(1 << 20) || hi > (intptr_t)(1 << 20)) continue; /* dynamic TLS: not static */
        if (tls_lo == tls_hi) tls_lo = lo, tls_hi = hi;
        if (lo < tls_lo) tls_lo = lo;
        if (hi > tls_hi) tls_hi = hi;
    }
    return 0;
}

/* gort's own large statics hold no program pointers: skipped when the data
 * segment holding them is scanned. */
static struct { uintptr_t lo, hi; } excl[5];
static unsigned nexcl;
static void exclude(const void *p, size_t n) {
    excl[nexcl].lo = (uintptr_t)p;
    excl[nexcl].hi = (uintptr_t)p + n;
    nexcl++;
}
static void scan_data(gcwork *w, uintptr_t lo, uintptr_t hi) {
    for (unsigned i = 0; i < nexcl; i++) {
        if (excl[i].hi <= lo || excl[i].lo >= hi) continue;
        if (excl[i].lo > lo) scan_data(w, lo, excl[i].lo);
        if (excl[i].hi < hi) scan_data(w, excl[i].hi, hi);
        return;
    }
    scan_conservative(w, lo, hi);
    globals_bytes += hi - lo;
}
static int data_cb(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    gcwork *w = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W)) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        scan_data(w, lo, lo + ph->p_memsz);
    }
    return 0;
}

/* added root ranges, under meta_lock */
typedef struct {
    uintptr_t lo, hi;
} range;
static range *roots;
static size_t nroots, roots_cap;

/* finalizers: an open-addressing table keyed by object, under meta_lock */
typedef struct {
    uintptr_t obj; /* 0: empty; 1: deleted */
    void (*fn)(void *, void *);
    void *arg;
} finalizer;
static finalizer *fins;
static size_t fins_cap, fins_n, fins_used;
/* the queue of finalizers to run (roots), under meta_lock */
static finalizer *finq;
static size_t finq_n, finq_cap;
static bool fin_thread_started;

/* weak handles, under meta_lock */
struct gort_weak {
    _Atomic uintptr_t obj; /* what gort_weak_get returns; 0 once cleared */
    uintptr_t base;        /* the object's start */
};
static gort_weak **weaks;
static size_t nweaks, weaks_cap;

static bool grow_array(void **arr, size_t *cap, size_t elem) {
    size_t ncap = *cap ? *cap * 2 : 256;
    void *n = gort__sys_alloc((ncap * elem + GORT_OS_PAGE - 1) & ~(size_t)(GORT_OS_PAGE - 1));
    if (!n) return false;
    if (*arr) {
        memcpy(n, *arr, *cap * elem);
        gort__sys_free(*arr, (*cap * elem + GORT_OS_PAGE - 1) & ~(size_t)(GORT_OS_PAGE - 1), GORT_OS_READY);
    }
    *arr = n;
    *cap = ncap;
    return true;
}

/* The object holding p, if p points into a collected object: its span and
 * start. */
static gort_mspan *find_object(uintptr_t p, uintptr_t *base) {
    gort_mspan *s = gort__span_of(p);
    if (!s || s->state != GORT_SPAN_IN_USE || !gort__spc_is_gc(s->spanclass) || p >= s->limit) return NULL;
    uintptr_t idx = gort__spc_class(s->spanclass) ? gort__span_obj_index(s, p) : 0;
    if (!(s->words[idx >> 6].alloc >> (idx & 63) & 1)) return NULL;
    *base = s->base + idx * s->elemsize;
    return s;
}
static bool is_marked(uintptr_t obj) {
    uintptr_t base;
    gort_mspan *s = find_object(obj, &base);
    if (!s) return true; /* not a collected object (never freed here) */
    uintptr_t idx = gort__spc_class(s->spanclass) ? gort__span_obj_index(s, base) : 0;
    return mark_word(s, idx >> 6) >> (idx & 63) & 1;
}

/* Roots, in four parts: the concurrent cycle scans the first two in each
 * pause and the others while the program runs (their writes are tracked). */

/* Stacks (with the registers saved on them) and static TLS: world stopped. */
static void mark_stacks(gcwork *w, gort_mcache *self, uintptr_t self_sp) {
    for (gort_mcache *mc = gort__all_caches; mc; mc = mc->next_all) {
        if (mc->gc_skip) continue;
        uintptr_t sp = mc == self ? self_sp : atomic_load_explicit(&mc->gc_sp, memory_order_relaxed);
        if (sp && mc->gc_stack_hi > sp) {
            scan_conservative(w, sp, mc->gc_stack_hi);
            stacks_bytes += mc->gc_stack_hi - sp;
        }
        if (tls_hi > tls_lo)
            scan_conservative(w, (uintptr_t)mc->thread + (uintptr_t)tls_lo, (uintptr_t)mc->thread + (uintptr_t)tls_hi);
    }
}

/* Data and bss of the executable and every library, and the added ranges
 * (meta_lock held): not write-tracked, so scanned whole in each pause. */
static void mark_globals(gcwork *w) {
    dl_iterate_phdr(data_cb, w);
    for (size_t i = 0; i < nroots; i++) scan_conservative(w, roots[i].lo, roots[i].hi);
}

/* Blocks of gort_malloc_scanned: every span of that kind. Also while the
 * program runs: spans and their bits may change under it, but arena memory
 * stays mapped, and a block written after the scan is on a written page. */
NO_SANITIZE static void mark_scanned_blocks(gcwork *w) {
    uint32_t nslots = gort__heap.nslots;
    for (uint32_t i = 0; i < nslots; i++) {
        gort_heap_arena *ha = gort__heap.slots[i];
        if (!ha) continue;
        for (unsigned wi = 0; wi < GORT_PAGES_PER_ARENA / 64; wi++) {
            for (uint64_t m = ha->page_in_use[wi]; m; m &= m - 1) {
                gort_mspan *s = atomic_load_explicit(&ha->spans[wi * 64 + gort__ctz64(m)], memory_order_relaxed);
                if (!s || s->kind != GORT_KIND_MANUAL_SCAN || s->state != GORT_SPAN_IN_USE) continue;
                uintptr_t base = s->base, end = base + ((uintptr_t)s->npages << GORT_PAGE_SHIFT);
                size_t es = s->elemsize;
                unsigned n = s->nelems;
                for (unsigned k = 0; k < n; k++) {
                    if (!(s->words[k >> 6].alloc >> (k & 63) & 1)) continue;
                    uintptr_t o = base + (uintptr_t)k * es;
                    if (o + es > end) break; /* a span changing under a concurrent scan */
                    scan_conservative(w, o, o + es);
                }
            }
        }
    }
}

/* Finalizers: what the object points to (not the object), and arg; the
 * queue of finalizers still to run: everything. meta_lock held. */
static void mark_fin_roots(gcwork *w) {
    for (size_t i = 0; i < fins_cap; i++) {
        if (fins[i].obj <= 1) continue;
        uintptr_t base;
        gort_mspan *s = find_object(fins[i].obj, &base);
        if (s && s->spanclass >= 2 * GORT_NUM_CLASSES) scan_object(w, base | entry_tag(s), obj_bits(base));
        mark_ptr(w, (uintptr_t)fins[i].arg);
    }
    for (size_t i = 0; i < finq_n; i++) {
        mark_ptr(w, finq[i].obj);
        mark_ptr(w, (uintptr_t)finq[i].arg);
    }
}

/* Every root, world stopped. */
static void mark_roots(gcwork *w, gort_mcache *self, uintptr_t self_sp) {
    globals_bytes = stacks_bytes = 0;
    mark_stacks(w, self, self_sp);
    mark_globals(w);
    mark_scanned_blocks(w);
    mark_fin_roots(w);
}

/* Drains w and all it leads to: the calling thread, joined by at most
 * `joiners` marker threads as work is shared. Returns the bytes marked;
 * *markers and *cpu_ns (added to) say who took part and their CPU time. */
static uint64_t drain_parallel(gcwork *w, unsigned joiners, unsigned *markers, uint64_t *cpu_ns) {
    uint64_t c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    gort__lock(&work_lock, GORT_RANK_WORK);
    work_done = false;
    atomic_store_explicit(&work_nwait, 0, memory_order_relaxed);
    work_nmarkers = 1;
    work_joined_marked = 0;
    work_joined_cpu = 0;
    work_max_joined = joiners;
    work_open = true;
    update_joinable();
    gort__unlock(&work_lock, GORT_RANK_WORK);
    drain(w);
    gort__lock(&work_lock, GORT_RANK_WORK);
    work_open = false;
    update_joinable();
    while (work_joined) pthread_cond_wait(&joined_cond, &work_lock);
    if (work_nmarkers > *markers) *markers = work_nmarkers;
    *cpu_ns += work_joined_cpu + (now_ns(CLOCK_THREAD_CPUTIME_ID) - c0);
    uint64_t marked = work_joined_marked + w->marked_bytes;
    w->marked_bytes = 0;
    w->buf->next = work_empty;
    work_empty = w->buf;
    w->buf = NULL;
    gort__unlock(&work_lock, GORT_RANK_WORK);
    return marked;
}

/* Marks from the roots to the end, world stopped, on every core. */
static uint64_t mark_parallel(gort_mcache *self, uintptr_t self_sp, unsigned *markers, uint64_t *cpu_ns) {
    gcwork w = {.buf = getempty()};
    mark_roots(&w, self, self_sp);
    return drain_parallel(&w, UINT_MAX, markers, cpu_ns);
}

/* One marker only (after the parallel mark: finalizers, checkmark). */
static uint64_t drain_serial(gcwork *w) {
    work_done = false; /* work_open is false: no marker joins */
    atomic_store_explicit(&work_nwait, 0, memory_order_relaxed);
    work_nmarkers = 1;
    drain(w);
    return w->marked_bytes;
}

/* ------------------------------------------------------------------ */
/* Sweeping                                                             */

typedef void (*span_fn)(gort_mspan *s, void *arg);
static void for_each_gc_span(span_fn fn, void *arg) {
    for (uint32_t i = 0; i < gort__heap.nslots; i++) {
        gort_heap_arena *ha = gort__heap.slots[i];
        if (!ha) continue;
        for (unsigned wi = 0; wi < GORT_PAGES_PER_ARENA / 64; wi++) {
            for (uint64_t m = ha->page_in_use[wi]; m; m &= m - 1) {
                gort_mspan *s = ha->spans[wi * 64 + gort__ctz64(m)];
                if (s && s->state == GORT_SPAN_IN_USE && gort__spc_is_gc(s->spanclass)) fn(s, arg);
            }
        }
    }
}

/* The sweep is lazy, as Go's (mgcsweep.go). A cycle's final pause sweeps
 * only the spans the thread caches allocate from without locks (their
 * current spans) and adds 2 to the page heap's sweepgen: every other
 * collected span is then unswept (mspan.sweepgen 2 behind), its alloc bits
 * still holding the dead objects. After the pause a background sweeper
 * thread sweeps them; a refill sweeps a span before it hands out a slot of
 * it (gort__gc_sweep_taken), and sweeps its owner's full spans before it
 * takes a new one (gort__gc_sweep_owned); and the next cycle, gort_gc and
 * an allocation that found no memory finish what is left (finish_sweep)
 * before they mark or return. So a cycle always begins with every span
 * swept, its mark bits clear.
 *
 * Who may sweep a span: whoever holds the lock of the list it is on, its
 * owner's gc_lock (its owner refills under it) or its mcentral's lock; a
 * large object's span, on no list, only a holder of sweep_lock (the
 * background sweeper and finish_sweep, one at a time). The sweep sets the
 * span's sweepgen, so a span is swept once; an unswept span is never freed
 * or given to another list but by its sweep. */
typedef struct {
    gort_mspan *to_free; /* linked through next: spans to give back to the page heap */
    uint64_t objects, bytes;
} sweep_state;

static pthread_mutex_t sweep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sweep_cond = PTHREAD_COND_INITIALIZER; /* the sweeper waits for a cycle's end */
static bool sweeper_started;                                 /* sweep_lock */
_Atomic bool gort__sweep_pending; /* unswept spans may exist (set in a pause, cleared by finish_sweep) */

static inline uint16_t heap_sweepgen(void) { return atomic_load_explicit(&gort__heap.sweepgen, memory_order_relaxed); }
/* The thread cache that owns collected span s (its owner field less the tag
 * bit), or NULL for an mcentral's. */
static inline gort_mcache *span_owner(const gort_mspan *s) {
    return (gort_mcache *)((uintptr_t)atomic_load_explicit(&s->owner, memory_order_relaxed) & ~(uintptr_t)1);
}

/* A small span's bits: alloc &= mark, marks cleared. Returns the objects freed. */
static unsigned sweep_bits(gort_mspan *s) {
    unsigned freed = 0;
    for (unsigned w = 0; w < s->nwords; w++) {
        uint64_t a = s->words[w].alloc, m = mark_word(s, w);
        uint64_t f = a & ~m;
        if (f) {
            s->words[w].alloc = a & m;
            freed += gort__popcount(f);
        }
        set_mark_word(s, w, 0);
    }
    if (freed) {
        s->alloc_count = (uint16_t)(s->alloc_count - freed);
        atomic_fetch_add_explicit(&gort__large.nocache_frees[s->sizeclass], freed, memory_order_relaxed);
    }
    return freed;
}

/* Sweeps s, holding the lock of its list (or, for a current span, in the
 * pause): files it on its owner's or its mcentral's lists by what is left,
 * or, empty, takes it off them for st->to_free. */
static void sweep_span(gort_mspan *s, void *arg) {
    sweep_state *st = arg;
    unsigned spc = s->spanclass, cls = gort__spc_class(spc);
    atomic_store_explicit(&s->sweepgen, heap_sweepgen(), memory_order_relaxed);
    if (cls == 0) {
        /* alloc bit 0: being allocated right now (set once the object is whole) */
        if ((s->words[0].alloc & 1) && !(mark_word(s, 0) & 1)) {
            st->objects++;
            st->bytes += s->elemsize;
            s->next = st->to_free;
            st->to_free = s;
        }
        set_mark_word(s, 0, 0);
        return;
    }
    unsigned freed = sweep_bits(s);
    if (!freed) return;
    st->objects += freed;
    st->bytes += (uint64_t)freed * s->elemsize;
    gort_mcache *owner = span_owner(s);
    switch (s->list) {
    case GORT_LIST_OWNED_FULL:
        atomic_store_explicit(&s->xfree, GORT_XF_NONE, memory_order_relaxed);
        gort__list_remove(&owner->full[spc], s);
        if (s->alloc_count == 0) break;
        gort__list_push(&owner->partial[spc], s, GORT_LIST_OWNED_PARTIAL);
        return;
    case GORT_LIST_OWNED_PARTIAL:
        if (s->alloc_count) return;
        gort__list_remove(&owner->partial[spc], s);
        break;
    case GORT_LIST_FULL:
        atomic_store_explicit(&s->xfree, GORT_XF_NONE, memory_order_relaxed);
        gort__list_remove(&gort__central[spc].full, s);
        if (s->alloc_count == 0) break;
        gort__list_push(&gort__central[spc].partial, s, GORT_LIST_PARTIAL);
        return;
    case GORT_LIST_PARTIAL:
        if (s->alloc_count) return;
        gort__list_remove(&gort__central[spc].partial, s);
        break;
    default: /* a thread's current span: it stays there */ return;
    }
    /* empty: off every list, no owner; freed to the page heap after the lock */
    atomic_store_explicit(&s->owner, NULL, memory_order_relaxed);
    atomic_fetch_sub_explicit(&gort__central[spc].nspans, 1, memory_order_relaxed);
    s->next = st->to_free;
    st->to_free = s;
}

/* The empty spans of a sweep back to the page heap (no collector lock held
 * but gc_lock), and the sweep's counts into the statistics. */
static void sweep_release(sweep_state *st) {
    for (gort_mspan *s = st->to_free, *next; s; s = next) {
        next = s->next;
        s->next = NULL;
        if (gort__spc_class(s->spanclass) == 0) {
            atomic_fetch_add_explicit(&gort__large.frees, 1, memory_order_relaxed);
            atomic_fetch_sub_explicit(&gort__large.bytes, s->elemsize, memory_order_relaxed);
        } else {
            s->list = GORT_LIST_NONE;
        }
        gort__heap_free_span(s);
    }
    st->to_free = NULL;
    if (st->objects) {
        atomic_fetch_add_explicit(&swept_objects, st->objects, memory_order_relaxed);
        atomic_fetch_add_explicit(&swept_bytes, st->bytes, memory_order_relaxed);
        st->objects = st->bytes = 0;
    }
}

/* Sweeps s if it is still unswept, under the lock of the list it is on
 * (spc: its class when it was found unswept; a span swept and freed
 * meanwhile, and made anew, is swept already: it is skipped). sweep_lock
 * held. */
static void sweep_one(gort_mspan *s, unsigned spc, sweep_state *st) {
    if (gort__spc_class(spc) == 0) { /* only sweep_lock's holder sweeps a large object */
        if (gort__span_unswept(s)) sweep_span(s, st);
        return;
    }
    for (unsigned tries = 0;; tries++) {
        if (!gort__span_unswept(s)) return;
        if (tries == 1u << 20) gort__throw_addr("sweep: an unswept span stays off the lists", (void *)s->base);
        gort_mcache *owner = span_owner(s);
        pthread_mutex_t *lk = owner ? &owner->gc_lock : &gort__central[spc].lock;
        unsigned rank = owner ? GORT_RANK_MCACHE_GC : GORT_RANK_MCENTRAL;
        gort__lock(lk, rank);
        gort_mcache *now = span_owner(s);
        bool done = now == owner;
        /* on a list of the lock held (a span in passage between an mcentral
         * and a cache is taken under the cache's gc_lock, which the refill
         * holds, and swept by it) */
        if (done && gort__span_unswept(s)) {
            unsigned l = s->list;
            if (owner ? l == GORT_LIST_OWNED_FULL || l == GORT_LIST_OWNED_PARTIAL
                      : l == GORT_LIST_FULL || l == GORT_LIST_PARTIAL)
                sweep_span(s, st);
            else done = false;
        }
        gort__unlock(lk, rank);
        if (done) return;
        sched_yield();
    }
}

/* The unswept collected spans that begin in word wi of an arena's
 * page-in-use bitmap (at most 64: one per bit), and their classes; under
 * mheap.lock. */
#define SWEEP_BATCH 64
static GORT_NOINLINE unsigned find_unswept(gort_heap_arena *ha, unsigned wi, gort_mspan **batch, uint16_t *spcs) {
    unsigned n = 0;
    gort__lock(&gort__heap.lock, GORT_RANK_MHEAP);
    uint16_t sg = heap_sweepgen();
    for (uint64_t m = ha->page_in_use[wi]; m; m &= m - 1) {
        gort_mspan *s = atomic_load_explicit(&ha->spans[wi * 64 + gort__ctz64(m)], memory_order_relaxed);
        if (s && s->state == GORT_SPAN_IN_USE && gort__spc_is_gc(s->spanclass) &&
            atomic_load_explicit(&s->sweepgen, memory_order_relaxed) != sg) {
            batch[n] = s;
            spcs[n++] = s->spanclass;
        }
    }
    gort__unlock(&gort__heap.lock, GORT_RANK_MHEAP);
    return n;
}

/* Sweeps every unswept span: the arenas are walked a word of the
 * page-in-use bitmap at a time (find_unswept), and the spans found are
 * swept each under its own lock. sweep_lock held. */
static void sweep_all_locked(void) {
    gort__assert_held(GORT_RANK_SWEEP);
    gort_mspan *batch[SWEEP_BATCH];
    uint16_t spcs[SWEEP_BATCH];
    sweep_state st = {0};
    for (uint32_t i = 0;; i++) {
        gort__lock(&gort__heap.lock, GORT_RANK_MHEAP);
        uint32_t nslots = gort__heap.nslots;
        gort_heap_arena *ha = i < nslots ? gort__heap.slots[i] : NULL;
        gort__unlock(&gort__heap.lock, GORT_RANK_MHEAP);
        if (i >= nslots) break;
        if (!ha) continue;
        for (unsigned wi = 0; wi < GORT_PAGES_PER_ARENA / 64; wi++) {
            unsigned n = find_unswept(ha, wi, batch, spcs);
            for (unsigned k = 0; k < n; k++) sweep_one(batch[k], spcs[k], &st);
            if (st.to_free) sweep_release(&st);
        }
    }
    sweep_release(&st);
}

/* Sweeps what is left of the last cycle's sweep, on the calling thread
 * (waiting for the background sweeper if it is at work). */
static void finish_sweep(void) {
    if (!atomic_load_explicit(&gort__sweep_pending, memory_order_acquire)) return;
    gort__lock(&sweep_lock, GORT_RANK_SWEEP);
    if (atomic_load_explicit(&gort__sweep_pending, memory_order_relaxed)) {
        sweep_all_locked();
        atomic_store_explicit(&gort__sweep_pending, false, memory_order_release);
    }
    gort__unlock(&sweep_lock, GORT_RANK_SWEEP);
}

/* The background sweeper (Go's bgsweep): started at the first cycle's end,
 * all signals blocked, it sweeps after every cycle. */
static _Atomic uint64_t gc_extra_ns; /* since the CPU limiter's last account: assists, sweeps, page release */
static void *sweeper_main(void *arg) {
    (void)arg;
    gort__lock(&sweep_lock, GORT_RANK_SWEEP);
    for (;;) {
        while (!atomic_load_explicit(&gort__sweep_pending, memory_order_relaxed))
            pthread_cond_wait(&sweep_cond, &sweep_lock);
        uint64_t t = now_ns(CLOCK_THREAD_CPUTIME_ID);
        sweep_all_locked();
        atomic_store_explicit(&gort__sweep_pending, false, memory_order_release);
        atomic_fetch_add_explicit(&gc_extra_ns, now_ns(CLOCK_THREAD_CPUTIME_ID) - t, memory_order_relaxed);
    }
    return NULL;
}

/* A refill's sweeps (collector.h), under mc's gc_lock. The owner's full
 * spans, until one has room or OWNED_SWEEP_MAX are swept: a bound on the
 * refill's delay (a span's sweep is a pass over at most 16 bitmap words),
 * not tuned; when every one is full of live objects, the background
 * sweeper or the next cycle sweeps the rest. */
#define OWNED_SWEEP_MAX 64
void gort__gc_sweep_owned(gort_mcache *mc, unsigned spc) {
    sweep_state st = {0};
    gort_mspan *next;
    unsigned tried = 0;
    for (gort_mspan *s = mc->full[spc]; s && !mc->partial[spc] && tried < OWNED_SWEEP_MAX; s = next) {
        next = s->next;
        if (!gort__span_unswept(s)) continue;
        sweep_span(s, &st);
        tried++;
    }
    sweep_release(&st);
}
void gort__gc_sweep_taken(gort_mspan *s) {
    atomic_store_explicit(&s->sweepgen, heap_sweepgen(), memory_order_relaxed);
    unsigned freed = sweep_bits(s);
    sweep_state st = {.objects = freed, .bytes = (uint64_t)freed * s->elemsize};
    sweep_release(&st); /* the counts: nothing to free, the refill keeps s */
}

/* ---- checkmark: the whole mark again, on one thread, compared ---- */
/* The second mark reads every object's bits from the heap bitmap: a uniform
 * span's bits are written from its umask, which is saved beside its marks,
 * cleared, and restored by the compare. */
static uint64_t *saved_marks;
static size_t saved_n, saved_cap;
static void save_marks(gort_mspan *s, void *arg) {
    (void)arg;
    if (saved_n + s->nwords + 1 > saved_cap) {
        size_t ncap = saved_cap ? saved_cap : 4096;
        while (ncap < saved_n + s->nwords + 1) ncap *= 2;
        uint64_t *n = gort__sys_alloc(ncap * 8);
        if (!n) gort__fatal("checkmark: out of memory");
        if (saved_marks) {
            memcpy(n, saved_marks, saved_n * 8);
            gort__sys_free(saved_marks, saved_cap * 8, GORT_OS_READY);
        }
        saved_marks = n;
        saved_cap = ncap;
    }
    for (unsigned w = 0; w < s->nwords; w++) {
        saved_marks[saved_n + w] = mark_word(s, w);
        set_mark_word(s, w, 0);
    }
    saved_marks[saved_n + s->nwords] = s->umask;
    /* the arena's bitmap, not s->heapbits: a refill that found no memory
     * for the bitmap left that NULL, and a later object may have made it */
    uint64_t *span_bm = obj_bits(s->base);
    if ((s->umask & GORT_UMASK_ONE) && span_bm) umask_fill(s, span_bm);
    s->umask = 0;
    saved_n += s->nwords + 1;
}
static void compare_marks(gort_mspan *s, void *arg) {
    (void)arg;
    for (unsigned w = 0; w < s->nwords; w++) {
        uint64_t missed = mark_word(s, w) & ~saved_marks[saved_n + w];
        if (missed) {
            uintptr_t idx = (uintptr_t)w * 64 + gort__ctz64(missed);
            gort__throw_addr("checkmark: reachable object not marked by the collector",
                             (void *)(s->base + idx * s->elemsize));
        }
        set_mark_word(s, w, saved_marks[saved_n + w]);
    }
    s->umask = (uint16_t)saved_marks[saved_n + s->nwords];
    saved_n += s->nwords + 1;
}

/* ------------------------------------------------------------------ */
/* The cycle                                                            */

static int ncpu_online = 1;

/* Concurrent marking pays where the mark it takes out of the pause is long.
 * Its price is a fault for each page the program writes first in a cycle
 * (15-23 us on the 2-core VM, shared/design/kernel-write-tracking.md), and
 * an allocating program writes fresh pages all the time: binary-trees at
 * depth 21, whose stop-the-world pauses are at most 70 ms, ran 5.4 times
 * as long with every cycle concurrent (57.9 s against 10.7 s, medians of 3,
 * bench/gc at b668597).
 * So GORT_GCBARRIER=auto marks concurrently once the last cycle marked at
 * least this much: above the 95 and 84 MB that binary-trees and GCBench
 * mark at most, and at the 0.8 ms per MiB of bench/gc's live test, a
 * stop-the-world mark of about 100 ms; uffd always. */
#define CONCURRENT_MIN_MARKED ((uint64_t)128 << 20)
static _Atomic bool next_concurrent_pub; /* next_concurrent(), for the trigger */
static bool next_concurrent(void) {      /* gc_lock held */
    return concurrent && (gort__options.gcbarrier == GORT_BARRIER_UFFD || heap_marked >= CONCURRENT_MIN_MARKED);
}

/* ---- the GC CPU limiter (Go 1.19's gcCPULimiter) ----
 * A bucket of CPU time that the collector's time fills and the program's
 * drains, as large as one second per core (Go's capacityPerProc). When a
 * memory limit below what the program keeps live would have cycles run
 * back to back, the bucket fills: while the limit sets the heap's goal, the
 * pacer's next cycle then waits until the bucket has room for another like
 * the last (the program gets about as much CPU as the collector), and
 * assists stop while it is full. The heap grows past the limit meanwhile:
 * Go's trade, memory for progress.
 * gort_gc and an allocation that found no memory are never held back.
 * Counted as the collector's: every pause times the cores (the world is
 * stopped), the markers' CPU time, the assists' time, and a cycle's work
 * after its pause (freeing spans, and giving pages back under the limit,
 * which the program then faults in again). */
#define LIMITER_CAPACITY_NS 1000000000ull /* per core */
static _Atomic uint64_t limiter_fill;     /* ns of CPU, at limiter_at */
static _Atomic uint64_t limiter_at;       /* CLOCK_MONOTONIC ns of the last update */
static _Atomic uint64_t limiter_cost;     /* the last cycle's collector CPU, ns */
static _Atomic bool limiter_full;         /* the next cycle must wait: no assists */
static uint64_t limiter_last_enabled;     /* the cycle that last filled it (gc_lock) */
static _Atomic bool goal_by_limit;        /* the memory limit set the goal, not GOGC */

/* At a cycle's end (gc_lock): the collector's CPU time since the last. */
static void limiter_account(uint64_t gc_cpu, uint64_t now) {
    uint64_t at = atomic_load_explicit(&limiter_at, memory_order_relaxed);
    uint64_t cap = LIMITER_CAPACITY_NS * (uint64_t)ncpu_online, total = (now - at) * (uint64_t)ncpu_online;
    uint64_t gc = gc_cpu + atomic_exchange_explicit(&gc_extra_ns, 0, memory_order_relaxed);
    if (gc > total) gc = total;
    int64_t fill =
        (int64_t)atomic_load_explicit(&limiter_fill, memory_order_relaxed) + (int64_t)gc - (int64_t)(total - gc);
    if (fill < 0) fill = 0;
    if ((uint64_t)fill > cap) fill = (int64_t)cap;
    /* full: the next cycle like this one will have to wait (only when the
     * memory limit set the goal: GOGC's goal grows with the live heap, and
     * a program whose cycles take more than half of the CPU under it keeps
     * them, as Go's would) */
    bool full = (uint64_t)fill + gc > cap && atomic_load_explicit(&goal_by_limit, memory_order_relaxed);
    if (full) limiter_last_enabled = stats.num_gc + 1; /* this cycle, counted after */
    atomic_store_explicit(&limiter_fill, (uint64_t)fill, memory_order_relaxed);
    atomic_store_explicit(&limiter_at, now, memory_order_relaxed);
    atomic_store_explicit(&limiter_cost, gc, memory_order_relaxed);
    atomic_store_explicit(&limiter_full, full, memory_order_relaxed);
}

/* May the pacer start a cycle now: the time since the last cycle's end
 * (the program's, all of it) has drained room for one more like it. */
static bool limiter_allows(void) {
    uint64_t fill = atomic_load_explicit(&limiter_fill, memory_order_relaxed);
    uint64_t cost = atomic_load_explicit(&limiter_cost, memory_order_relaxed);
    uint64_t cap = LIMITER_CAPACITY_NS * (uint64_t)ncpu_online;
    if (fill + cost <= cap || !atomic_load_explicit(&goal_by_limit, memory_order_relaxed)) return true;
    uint64_t now = now_ns(CLOCK_MONOTONIC_COARSE), at = atomic_load_explicit(&limiter_at, memory_order_relaxed);
    uint64_t drained = now > at ? (now - at) * (uint64_t)ncpu_online : 0;
    if (drained >= fill || fill - drained + cost <= cap) {
        atomic_store_explicit(&limiter_full, false, memory_order_relaxed);
        return true;
    }
    return false;
}

static void compute_goal(void) {
    int32_t pct = atomic_load_explicit(&gc_percent, memory_order_relaxed);
    uint64_t goal = UINT64_MAX;
    bool by_limit = false;
    if (pct >= 0) {
        goal = heap_marked + (heap_marked + stacks_bytes + globals_bytes) * (uint64_t)pct / 100;
        uint64_t minimum = HEAP_MINIMUM * (uint64_t)pct / 100;
        if (goal < minimum) goal = minimum;
    }
    int64_t limit = atomic_load_explicit(&memory_limit, memory_order_relaxed);
    if (limit != INT64_MAX) {
        /* what is mapped but not collected objects: manual objects, free
         * pages kept, metadata */
        uint64_t mapped = atomic_load_explicit(&gort__os.ready, memory_order_relaxed);
        uint64_t live = atomic_load_explicit(&heap_live, memory_order_relaxed);
        uint64_t nonheap = mapped > live ? mapped - live : 0;
        uint64_t lgoal = (uint64_t)limit > nonheap + (1 << 20) ? (uint64_t)limit - nonheap - (1 << 20) : 0;
        if (lgoal < heap_marked) lgoal = heap_marked;
        if (lgoal < goal) goal = lgoal, by_limit = true;
    }
    atomic_store_explicit(&goal_by_limit, by_limit, memory_order_relaxed);
    heap_goal = goal;
    atomic_store_explicit(&heap_goal_pub, goal, memory_order_relaxed);
    /* A concurrent cycle starts before the goal, so that its mark ends
     * near it while the program allocates: at 70% of the way from the
     * marked heap to the goal (Go's lowest trigger; Go moves it up to 95%
     * as it learns the mark's pace). */
    uint64_t trigger = goal;
    bool next = next_concurrent();
    atomic_store_explicit(&next_concurrent_pub, next, memory_order_relaxed);
    if (next && goal != UINT64_MAX && goal > heap_marked) trigger = heap_marked + (goal - heap_marked) / 10 * 7;
    atomic_store_explicit(&heap_trigger, trigger, memory_order_relaxed);
}

static void gc_init(void);
static void start_finalizer_thread(void);

/* ---- the parts of a cycle ---- */

/* The collector's locks, in the heap's lock order (meta_lock first), so that
 * no thread stopped after this holds one: the world never stops inside the
 * allocator's locked code. */
static void world_lock(void) {
    gort__lock(&meta_lock, GORT_RANK_META);
    gort__lock(&gort__mcache_list_lock, GORT_RANK_MCACHE_LIST);
    for (gort_mcache *mc = gort__all_caches; mc; mc = mc->next_all) gort__lock(&mc->gc_lock, GORT_RANK_MCACHE_GC);
    for (unsigned spc = GORT_NUM_CLASSES; spc < 3 * GORT_NUM_CLASSES; spc++)
        gort__lock(&gort__central[spc].lock, GORT_RANK_MCENTRAL);
    gort__lock(&gort__heap.lock, GORT_RANK_MHEAP);
}
/* All but meta_lock, in reverse. */
static void world_unlock(void) {
    gort__unlock(&gort__heap.lock, GORT_RANK_MHEAP);
    for (unsigned spc = 3 * GORT_NUM_CLASSES; spc-- > GORT_NUM_CLASSES;)
        gort__unlock(&gort__central[spc].lock, GORT_RANK_MCENTRAL);
    for (gort_mcache *mc = gort__all_caches; mc; mc = mc->next_all) gort__unlock(&mc->gc_lock, GORT_RANK_MCACHE_GC);
    gort__unlock(&gort__mcache_list_lock, GORT_RANK_MCACHE_LIST);
}

/* heap_range: in a pause, the arenas' span of addresses; while the program
 * runs, the arenas' whole window, since an arena mapped meanwhile may hold
 * an object a scanned word points to (gort__arena_of takes addresses modulo
 * the window: the range check must stay inside it). */
static void set_heap_range(bool paused) {
    if (!paused) {
        heap_lo = atomic_load_explicit(&gort__arena_window, memory_order_relaxed);
        heap_hi = heap_lo + ((uintptr_t)1 << GORT_WINDOW_BITS);
        return;
    }
    heap_lo = UINTPTR_MAX;
    heap_hi = 0;
    for (uint32_t i = 0; i < gort__heap.nslots; i++) {
        gort_heap_arena *ha = gort__heap.slots[i];
        if (!ha) continue;
        if (ha->base < heap_lo) heap_lo = ha->base;
        if (ha->base + GORT_ARENA_BYTES > heap_hi) heap_hi = ha->base + GORT_ARENA_BYTES;
    }
    if (heap_hi == 0) heap_lo = 0;
}

/* A stop that would follow the last one at once waits until the world has
 * run as long as it was stopped, up to BREATHE_MAX_NS: every stopped thread
 * has left its handler by then (stop_the_world waits for that too), and has
 * had time to run. Without it, a thread calling gort_gc back to back kept
 * the others from running: each stop's signal came as they returned from
 * the last one's handler. Programs whose pauses are apart never wait. */
#define BREATHE_MAX_NS 1000000
static void world_breathe(void) {
    uint64_t stopped = started_at_ns - stopped_at_ns;
    if (stopped > BREATHE_MAX_NS) stopped = BREATHE_MAX_NS;
    uint64_t until = started_at_ns + stopped;
    if (!started_at_ns || now_ns(CLOCK_MONOTONIC) >= until) return;
    struct timespec ts = {(time_t)(until / 1000000000), (long)(until % 1000000000)};
    while (syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0 && errno == EINTR) {}
}

/* Stops the world for a pause (gc_lock held): world_breathe, then locks,
 * signals, stack tops, the heap's range. Returns when the pause began
 * (after the breathing, which is the program's time). */
static uint64_t pause_begin(gort_mcache *self, uintptr_t self_sp) {
    world_breathe();
    uint64_t t = now_ns(CLOCK_MONOTONIC);
    world_lock();
    stop_the_world(self);
    lookup_stack_tops(self, self_sp);
    set_heap_range(true);
    globals_bytes = stacks_bytes = 0;
    return t;
}

/* What a cycle measured, for the statistics and the trace line. */
typedef struct {
    bool forced, concurrent;
    uint64_t t0;                            /* start */
    uint64_t pause1;                        /* the first pause (concurrent cycles), ns */
    uint64_t t_final;                       /* the final pause began (the whole cycle, stop-the-world) */
    uint64_t t_mark;                        /* its mark began (the world stopped) */
    uint64_t t_term;                        /* its mark ended */
    uint64_t mark_cpu;                      /* markers' CPU time, all phases */
    uint64_t concurrent_ns;                 /* clock time between the pauses */
    uint64_t heap_before, heap_end, marked; /* heap_live at the start, at the final pause; marked */
    unsigned markers, rounds;
    uint64_t dirty_pages; /* pages re-scanned in the final pause */
    uint64_t clean_pages; /* written pages re-scanned by words, all walks */
} cycle_info;

/* The end of every cycle, world stopped and the mark drained: weak
 * references, finalizers, checkmark, sweep; restarts the world, frees the
 * empty spans, records the cycle; releases gc_lock. */
static void finish_cycle(cycle_info *ci, gort_mcache *self, uintptr_t self_sp) {
    uint64_t marked = ci->marked;
    ci->heap_end = atomic_load_explicit(&heap_live, memory_order_relaxed);
    last_concurrent = ci->concurrent;
    /* weak references, then finalizers */
    for (size_t i = 0; i < nweaks;) {
        gort_weak *wk = weaks[i];
        bool handle_live = is_marked((uintptr_t)wk);
        if (handle_live && atomic_load_explicit(&wk->obj, memory_order_relaxed) && !is_marked(wk->base)) {
            atomic_store_explicit(&wk->obj, 0, memory_order_relaxed);
            handle_live = false; /* nothing left to clear */
        }
        if (!handle_live) weaks[i] = weaks[--nweaks];
        else i++;
    }
    gcwork w = {.buf = getempty()};
    size_t queued = 0;
    for (size_t i = 0; i < fins_cap; i++) {
        if (fins[i].obj <= 1 || is_marked(fins[i].obj)) continue;
        if (finq_n == finq_cap && !grow_array((void **)&finq, &finq_cap, sizeof *finq)) break;
        finq[finq_n++] = fins[i];
        mark_ptr(&w, fins[i].obj);
        fins[i].obj = 1; /* deleted */
        fins_n--;
        queued++;
    }
    marked += drain_serial(&w);
    if (gort__options.gccheckmark) {
        saved_n = 0;
        for_each_gc_span(save_marks, NULL);
        gcwork cw = {.buf = w.buf};
        w.buf = NULL;
        mark_roots(&cw, self, self_sp);
        for (size_t i = 0; i < finq_n; i++) mark_ptr(&cw, finq[i].obj);
        drain_serial(&cw);
        saved_n = 0;
        for_each_gc_span(compare_marks, NULL);
        w.buf = cw.buf;
    }
    putempty(w.buf);
    /* sweep: the current spans of the thread caches now (their owners take
     * slots without locks), the rest lazily (above, "The sweep is lazy") */
    sweep_state ss = {0};
    atomic_store_explicit(&gort__heap.sweepgen, (uint16_t)(heap_sweepgen() + 2), memory_order_relaxed);
    for (gort_mcache *mc = gort__all_caches; mc; mc = mc->next_all)
        for (unsigned spc = GORT_NUM_CLASSES; spc < 3 * GORT_NUM_CLASSES; spc++)
            if (mc->alloc[spc] != &gort__empty_span) sweep_span(mc->alloc[spc], &ss);
    atomic_store_explicit(&gort__sweep_pending, true, memory_order_release);
    heap_marked = marked;
    atomic_store_explicit(&heap_live, marked, memory_order_relaxed);
    compute_goal();
    start_the_world();
    uint64_t t3 = now_ns(CLOCK_MONOTONIC);
    world_unlock();
    if (queued) pthread_cond_signal(&fin_cond);
    bool need_fin_thread = finq_n && !fin_thread_started;
    gort__unlock(&meta_lock, GORT_RANK_META);
    sweep_release(&ss);
    /* the rest of the sweep: the background sweeper's */
    gort__lock(&sweep_lock, GORT_RANK_SWEEP);
    bool start_sweeper = !sweeper_started;
    sweeper_started = true;
    pthread_cond_signal(&sweep_cond);
    gort__unlock(&sweep_lock, GORT_RANK_SWEEP);
    if (start_sweeper && start_quiet(sweeper_main) != 0) { /* the next cycle's finish_sweep does it */
        gort__lock(&sweep_lock, GORT_RANK_SWEEP);
        sweeper_started = false;
        gort__unlock(&sweep_lock, GORT_RANK_SWEEP);
    }
    if (need_fin_thread) start_finalizer_thread();
    /* Go's PauseNs: a cycle's pauses summed; pause_max: the longest one */
    uint64_t final = t3 - ci->t_final, pause = ci->pause1 + final;
    limiter_account(pause * (uint64_t)ncpu_online + (ci->concurrent ? ci->mark_cpu : 0), t3);
    /* The soft limit: free pages go back to the OS now; not while the CPU
     * limiter holds cycles back (the limit cannot be met, and the program
     * would fault the same pages in again before the next cycle). */
    int64_t limit = atomic_load_explicit(&memory_limit, memory_order_relaxed);
    if (limit != INT64_MAX && atomic_load_explicit(&gort__os.ready, memory_order_relaxed) > (uint64_t)limit &&
        !atomic_load_explicit(&limiter_full, memory_order_relaxed)) {
        finish_sweep(); /* the empty spans first */
        gort__release_free();
    }
    uint64_t t4 = now_ns(CLOCK_MONOTONIC);
    atomic_fetch_add_explicit(&gc_extra_ns, t4 - t3, memory_order_relaxed); /* the next account's */
    stats.pause_ns[stats.num_gc % 256] = pause;
    stats.pause_end[stats.num_gc % 256] = now_ns(CLOCK_REALTIME);
    stats.num_gc++;
    atomic_store_explicit(&gc_cycles, stats.num_gc, memory_order_relaxed);
    stats.num_forced += ci->forced;
    stats.pause_total += pause;
    if (final > stats.pause_max) stats.pause_max = final;
    if (ci->pause1 > stats.pause_max) stats.pause_max = ci->pause1;
    stats.last_gc_unix = stats.pause_end[(stats.num_gc - 1) % 256];
    uint64_t stw_cpu = ci->concurrent ? ci->pause1 : ci->t_mark - ci->t_final;
    stats.gc_cpu_ns += stw_cpu + ci->mark_cpu + (t4 - ci->t_term);
    atomic_store_explicit(&last_gc_mono, t4, memory_order_relaxed);
    /* Go's gctrace line. Its three clock phases: the first pause (a
     * concurrent cycle's start; stopping the world in a stop-the-world
     * cycle), the concurrent mark (the mark, world stopped, in a
     * stop-the-world cycle), and the final pause with the sweep. The cpu
     * figures: the first pause, the markers' measured thread CPU time (Go's
     * assist/background/idle split does not apply: 0/0), and the rest of
     * the cycle from the end of the mark. */
    if (gort__options.gctrace) {
        char line[480];
        double since = (double)(ci->t0 - start_mono) / 1e9;
        uint64_t wall = t4 - start_mono;
        int pct = wall ? (int)(stats.gc_cpu_ns * 100 / (wall * (uint64_t)ncpu_online)) : 0;
        double c1 = (ci->concurrent ? ci->pause1 : ci->t_mark - ci->t_final) / 1e6;
        double c2 = (ci->concurrent ? ci->concurrent_ns : ci->t_term - ci->t_mark) / 1e6;
        double c3 = (ci->concurrent ? t3 - ci->t_final : t3 - ci->t_term) / 1e6;
        char how[128];
        if (ci->concurrent)
            snprintf(how, sizeof how, ", concurrent: %u rounds, %llu pages re-scanned in the pause, %llu by words",
                     ci->rounds, (unsigned long long)ci->dirty_pages, (unsigned long long)ci->clean_pages);
        else snprintf(how, sizeof how, "%s", "");
        int n = snprintf(line, sizeof line,
                         "gc %llu @%.3fs %d%%: %.3f+%.3f+%.3f ms clock, %.3f+%.3f/%.3f/%.3f+%.3f ms cpu, "
                         "%llu->%llu->%llu MB, %llu MB goal, %llu MB stacks, %llu MB globals, %u P%s%s\n",
                         (unsigned long long)stats.num_gc, since, pct, c1, c2, c3, stw_cpu / 1e6, ci->mark_cpu / 1e6,
                         0.0, 0.0, (t4 - ci->t_term) / 1e6, (unsigned long long)(ci->heap_before >> 20),
                         (unsigned long long)(ci->heap_end >> 20), (unsigned long long)(marked >> 20),
                         (unsigned long long)(heap_goal >> 20), (unsigned long long)(stacks_bytes >> 20),
                         (unsigned long long)(globals_bytes >> 20), ci->markers, ci->forced ? " (forced)" : "", how);
        if (n > 0) {
            ssize_t wr = write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
            (void)wr;
        }
    }
    gort__unlock(&gc_lock, GORT_RANK_GC);
}

/* A stop-the-world cycle (GORT_GCBARRIER=none, or no write tracking): mark
 * and sweep in one pause, on the thread that asked. */
static GORT_NOINLINE void collect_cycle(bool forced, uintptr_t self_sp, bool locked) {
    pthread_once(&gc_once, gc_init);
    gort_mcache *self = gort__mcache_ensure();
    if (!self) {
        if (locked) gort__unlock(&gc_lock, GORT_RANK_GC);
        return;
    }
    uint64_t cycle = atomic_load_explicit(&gc_cycles, memory_order_relaxed);
    if (!locked) gort__lock(&gc_lock, GORT_RANK_GC);
    if (!forced &&
        atomic_load_explicit(&gc_cycles, memory_order_relaxed) != cycle) { /* another thread collected meanwhile */
        gort__unlock(&gc_lock, GORT_RANK_GC);
        return;
    }
    finish_sweep();
    start_workers();
    cycle_info ci = {.forced = forced};
    ci.heap_before = atomic_load_explicit(&heap_live, memory_order_relaxed);
    ci.t0 = ci.t_final = pause_begin(self, self_sp); /* the whole cycle is one pause */
    ci.t_mark = now_ns(CLOCK_MONOTONIC);
    ci.marked = mark_parallel(self, self_sp, &ci.markers, &ci.mark_cpu);
    ci.t_term = now_ns(CLOCK_MONOTONIC);
    finish_cycle(&ci, self, self_sp);
}

/* ---- the concurrent cycle (the kernel's write tracking: wtrack.c) ----
 *
 *   0. Write-protect the heap (a scan with re-protect of every arena),
 *      while the program runs: from now on every page written is reported.
 *   1. Pause: stacks, registers, TLS, globals and root ranges are scanned
 *      into the work queue.
 *   2. Concurrent mark from them, on a quarter of the cores (at least the
 *      cycle's own thread), with the blocks of gort_malloc_scanned and the
 *      finalizers' roots; the program allocates meanwhile (new objects are
 *      white: reachable ones are found through the pages their pointers
 *      were written to, or the roots of the final pause).
 *   3. Pre-cleaning rounds: the pages written since their protection are
 *      listed and protected again in one kernel walk, the marked objects on
 *      them re-scanned, the queue drained; until a round finds few pages.
 *   4. Final pause: a read-only walk lists the pages written since their
 *      last protection, their marked objects are re-scanned, and the roots
 *      of step 1 and the finalizers' again; the drain, weak references,
 *      finalizers and the sweep as in a stop-the-world cycle.
 *
 * Why nothing reachable stays white: when the final drain ends, every
 * marked object has been scanned after its last write (a write after its
 * scan left its page written, and a written page's marked objects are
 * re-scanned after the walk that re-protects or reports it), and every
 * root was scanned in the pause. So the first white object on a path from
 * a root would be named by a scanned word of a marked object: a
 * contradiction. GORT_GCCHECKMARK=1 checks this after every cycle. */
#define PRECLEAN_ROUNDS 8
#define PRECLEAN_ENOUGH 256 /* written pages a round may leave for the final pause */

/* ---- re-scanning by words ----
 * A written page re-scanned whole costs a look-up per pointer word: about
 * 20 us for a page of 512 pointers to objects all over bench/gc's live heap
 * (1 GiB). A program that stores at random into a big pointer array writes
 * its pages again faster than rounds re-scan them: live's rounds went 27k,
 * 13k, 8.3k, 6.2k, ... 2.1k pages and left the pause 1.7k pages (37 ms).
 * So a page found written in a second walk of a cycle gets a copy of the
 * pointer words the marker greyed from it, and from then on a re-scan greys
 * only the words that differ from their copy (a compare per word).
 * Sound whatever the program did between: every nonzero word of a copy was
 * greyed this cycle, so a word equal to its copy names a marked object; a
 * word that was not greyed (its object unmarked then) has 0 in the copy.
 * Copies take at most 1/16 of what the last cycle marked (about 4 KiB of
 * copy per 64 KiB marked); pages past it are re-scanned whole. Pages
 * written once (fresh allocation) take no copy; a page that had one in the
 * last concurrent cycle takes it at its first walk (taking a copy costs a
 * whole re-scan). The copies are unmapped at the cycle's end. */
#define CLEAN_PAGES (GORT_ARENA_BYTES / GORT_OS_PAGE)
#define CLEAN_BUDGET_SHIFT 4 /* copies: the last cycle's marked bytes >> 4 */
#define CLEAN_MIN_COPIES 256 /* and at least 1 MiB */
#define PAGE_WORDS (GORT_OS_PAGE / 8)
struct gort_clean_table {
    uint32_t copy[CLEAN_PAGES];      /* the page's copy number + 1; 0: none */
    uint64_t seen[CLEAN_PAGES / 64]; /* re-scanned whole in this cycle */
    uint64_t hot[CLEAN_PAGES / 64];  /* had a copy in the last concurrent cycle */
};
static struct {
    uintptr_t *pool;  /* the copies, PAGE_WORDS words each, mapped at the first */
    size_t used, cap; /* copies */
    uint64_t pages;   /* pages re-scanned by words */
} clean;

/* Drops every copy: at a concurrent cycle's end (remembering which pages
 * had one, when `remember`), and at its start (a cycle that a fork cut
 * short in the parent left its copies to the child: forgotten). The tables
 * stay, as their arenas do. */
static void clean_drop(bool remember) {
    uint32_t nslots = gort__heap.nslots;
    for (uint32_t i = 0; i < nslots; i++) {
        gort_heap_arena *ha = gort__heap.slots[i];
        struct gort_clean_table *t = ha ? ha->clean : NULL;
        if (!t) continue;
        for (size_t k = 0; k < CLEAN_PAGES / 64; k++) {
            uint64_t h = 0;
            if (remember)
                for (unsigned b = 0; b < 64; b++) h |= (uint64_t)(t->copy[k * 64 + b] != 0) << b;
            t->hot[k] = h;
        }
        gort__sys_zero(t->copy, sizeof t->copy);
        memset(t->seen, 0, sizeof t->seen);
    }
    if (clean.pool) {
        gort__sys_free(clean.pool, clean.cap * GORT_OS_PAGE, GORT_OS_READY);
        atomic_fetch_sub_explicit(&gort__metadata_bytes, clean.cap * GORT_OS_PAGE, memory_order_relaxed);
    }
    clean.pool = NULL;
    clean.used = 0;
}

/* A concurrent cycle's start: copies for at most what the budget allows. */
static void clean_begin(uint64_t marked) {
    if (clean.used || clean.pool) clean_drop(false);
    clean.pages = 0;
    uint64_t cap = (marked >> CLEAN_BUDGET_SHIFT) / GORT_OS_PAGE;
    if (cap < CLEAN_MIN_COPIES) cap = CLEAN_MIN_COPIES;
    clean.cap = cap < UINT32_MAX - 1 ? (size_t)cap : UINT32_MAX - 1;
}

/* Sets bits [from, to) of a page's 512-bit word mask, clipped to the page. */
static inline void mask_words(uint64_t *m, intptr_t from, intptr_t to) {
    if (from < 0) from = 0;
    if (to > PAGE_WORDS) to = PAGE_WORDS;
    for (intptr_t i = from; i < to;) {
        intptr_t o = i & 63, take = 64 - o < to - i ? 64 - o : to - i;
        m[i >> 6] |= (take == 64 ? ~0ull : ((1ull << take) - 1)) << o;
        i += take;
    }
}

/* The words of OS page pa (in span s) that the marker would scan now: the
 * pointer words of its marked scan-kind objects, every word of its
 * allocated gort_malloc_scanned blocks. */
NO_SANITIZE static void page_scan_mask(const gort_mspan *s, uintptr_t pa, uint64_t *m) {
    memset(m, 0, PAGE_WORDS / 8);
    uintptr_t base = s->base, es = s->elemsize;
    uintptr_t end = base + ((uintptr_t)s->npages << GORT_PAGE_SHIFT);
    if (s->kind == GORT_KIND_MANUAL_SCAN) {
        uintptr_t i = s->sizeclass ? gort__span_obj_index(s, pa) : 0;
        for (uintptr_t o = base + i * es; o < pa + GORT_OS_PAGE && i < s->nelems; i++, o += es)
            if (s->words[i >> 6].alloc >> (i & 63) & 1)
                mask_words(m, ((intptr_t)o - (intptr_t)pa) / 8, ((intptr_t)(o + es) - (intptr_t)pa) / 8);
        return;
    }
    if (!s->sizeclass) { /* a large object */
        if (!(mark_word(s, 0) & 1)) return;
        uintptr_t oe = base + large_extent(s);
        intptr_t n = oe > pa ? (intptr_t)(oe - pa) / 8 : 0;
        if (n > PAGE_WORDS) n = PAGE_WORDS;
        const gort_type *t = s->largetype;
        if (!t) {
            mask_words(m, 0, n);
            return;
        }
        size_t tw = t->size >> 3, k = ((pa - base) % t->size) >> 3;
        for (intptr_t j = 0; j < n; j++, k = k + 1 == tw ? 0 : k + 1)
            if (k < t->ptrwords && (t->ptrmask[k >> 6] >> (k & 63) & 1)) m[j >> 6] |= 1ull << (j & 63);
        return;
    }
    uintptr_t hi = pa + GORT_OS_PAGE < end ? pa + GORT_OS_PAGE : end;
    uintptr_t i = gort__span_obj_index(s, pa), last = gort__span_obj_index(s, hi - 1);
    if (last >= s->nelems) last = (uintptr_t)s->nelems - 1;
    unsigned u = s->umask;
    for (; i <= last; i++) {
        if (!(mark_word(s, i >> 6) >> (i & 63) & 1)) continue;
        intptr_t off = ((intptr_t)(base + i * es) - (intptr_t)pa) / 8;
        if (u & GORT_UMASK_ONE) {
            for (uint64_t bits = u & 0xff; bits; bits &= bits - 1) {
                intptr_t j = off + gort__ctz64(bits);
                if (j >= 0 && j < PAGE_WORDS) m[j >> 6] |= 1ull << (j & 63);
            }
        } else {
            mask_words(m, off, off + (intptr_t)(es / 8));
        }
    }
    if (u & GORT_UMASK_ONE) return;
    /* a mixed span: its words' own bits */
    const uint64_t *bm = obj_bits(pa);
    for (unsigned k = 0; k < PAGE_WORDS / 64; k++) m[k] &= bm ? bm[k] : 0;
}

/* Re-scans written page pa of span s by words when it has a copy, or takes
 * one (at its second walk, or its first if it had one in the last cycle);
 * false when it is to be re-scanned whole. */
NO_SANITIZE static bool clean_page(gcwork *w, gort_heap_arena *ha, const gort_mspan *s, uintptr_t pa) {
    struct gort_clean_table *t = ha->clean;
    if (!t) {
        if (!clean.cap || !(t = gort__sys_alloc(sizeof *t))) return false;
        atomic_fetch_add_explicit(&gort__metadata_bytes, sizeof *t, memory_order_relaxed);
        ha->clean = t;
    }
    size_t pi = (pa - ha->base) / GORT_OS_PAGE;
    uint32_t c = t->copy[pi];
    if (!c) {
        if (!((t->seen[pi >> 6] | t->hot[pi >> 6]) >> (pi & 63) & 1)) {
            t->seen[pi >> 6] |= 1ull << (pi & 63);
            return false;
        }
        if (clean.used == clean.cap) return false;
        if (!clean.pool) {
            clean.pool = gort__sys_alloc(clean.cap * GORT_OS_PAGE);
            if (!clean.pool) {
                clean.cap = 0;
                return false;
            }
            atomic_fetch_add_explicit(&gort__metadata_bytes, clean.cap * GORT_OS_PAGE, memory_order_relaxed);
        }
        c = t->copy[pi] = (uint32_t)++clean.used;
    }
    uint64_t m[PAGE_WORDS / 64];
    page_scan_mask(s, pa, m);
    uintptr_t *copy = clean.pool + (size_t)(c - 1) * PAGE_WORDS;
    const volatile uintptr_t *words = (const volatile uintptr_t *)pa;
    uintptr_t lo = heap_lo, span = heap_hi - heap_lo;
    for (unsigned k = 0; k < PAGE_WORDS / 64; k++)
        for (uint64_t bits = m[k]; bits; bits &= bits - 1) {
            unsigned j = k * 64 + (unsigned)gort__ctz64(bits);
            uintptr_t v = words[j];
            if (v == copy[j]) continue;
            copy[j] = v;
            cand_add(w, v, lo, span);
            w->scanned_bytes += 8;
        }
    clean.pages++;
    return true;
}

/* Re-scans what of [a, b) (written pages) lies in marked scan-kind objects
 * and in gort_malloc_scanned blocks: by words (clean_page) where it can.
 * Spans may change under a concurrent walk: collected spans are never freed
 * while marking, a manual span's block is scanned only inside [a, b), which
 * stays mapped. */
NO_SANITIZE static void rescan_written(uintptr_t a, uintptr_t b, void *arg) {
    gcwork *w = arg;
    w->written_pages += (b - a) / GORT_OS_PAGE;
    while (a < b) {
        uintptr_t page_end = (a | (GORT_PAGE_SIZE - 1)) + 1;
        gort_heap_arena *ha = gort__in_window(a) ? gort__arena_of(a) : NULL;
        gort_mspan *s = ha ? atomic_load_explicit(&ha->spans[(a >> GORT_PAGE_SHIFT) & (GORT_PAGES_PER_ARENA - 1)],
                                                  memory_order_relaxed)
                           : NULL;
        if (!s || s->state != GORT_SPAN_IN_USE) {
            a = page_end;
            continue;
        }
        uintptr_t base = s->base, end = base + ((uintptr_t)s->npages << GORT_PAGE_SHIFT);
        uintptr_t lo = a > base ? a : base, hi = b < end ? b : end;
        if (hi <= lo || a < base) { /* a span changing under the walk */
            a = page_end;
            continue;
        }
        unsigned kind = s->kind;
        if ((kind == GORT_KIND_GC_SCAN || kind == GORT_KIND_MANUAL_SCAN) && clean_page(w, ha, s, a)) {
            a += GORT_OS_PAGE;
            continue;
        }
        if (hi > a + GORT_OS_PAGE) hi = a + GORT_OS_PAGE; /* the next page may have its copy */
        if (kind == GORT_KIND_GC_SCAN) {
            if (s->sizeclass) {
                uintptr_t i = gort__span_obj_index(s, lo), last = gort__span_obj_index(s, hi - 1);
                if (last >= s->nelems) last = (uintptr_t)s->nelems - 1;
                for (; i <= last; i++)
                    if (mark_word(s, i >> 6) >> (i & 63) & 1) gcw_push(w, (base + i * s->elemsize) | entry_tag(s));
            } else if (mark_word(s, 0) & 1) {
                uintptr_t oe = base + large_extent(s);
                if (hi > oe) hi = oe;
                for (uintptr_t p = lo; p < hi; p = (p | (GORT_OS_PAGE - 1)) + 1) gcw_push(w, p | ENTRY_PAGE);
            }
        } else if (kind == GORT_KIND_MANUAL_SCAN) {
            size_t es = s->elemsize;
            uintptr_t i = s->sizeclass ? gort__span_obj_index(s, lo) : 0;
            for (uintptr_t o = base + i * es; o < hi && i < s->nelems; i++, o += es) {
                if (!(s->words[i >> 6].alloc >> (i & 63) & 1)) continue;
                uintptr_t from = o > lo ? o : lo, to = o + es < hi ? o + es : hi;
                if (from < to) scan_conservative(w, from, to);
            }
        }
        a = hi > a ? hi : page_end;
    }
}

/* One walk over every arena's mapped pages: written pages re-scanned into
 * w (NULL: only listed, for the re-protect), re-protected when reprotect.
 * Returns the pages handed to w. */
static void ignore_written(uintptr_t a, uintptr_t b, void *arg) {
    (void)a;
    (void)b;
    (void)arg;
}

static uint64_t walk_written(gcwork *w, bool reprotect) {
    if (w) w->written_pages = 0;
    uint32_t nslots = gort__heap.nslots;
    for (uint32_t i = 0; i < nslots; i++) {
        gort_heap_arena *ha = gort__heap.slots[i];
        if (!ha) continue;
        uint32_t mapped = ha->mapped_pages; /* registered before it grows (pageheap.c) */
        if (!mapped) continue;
        uintptr_t lo = ha->base, hi = lo + ((uintptr_t)mapped << GORT_PAGE_SHIFT);
        gort__wtrack_scan(lo, hi, reprotect, w ? rescan_written : ignore_written, w);
    }
    return w ? w->written_pages : 0;
}

/* After a concurrent cycle: no page stays protected until the next one. A
 * page the program first writes between cycles would otherwise fault
 * (15-23 us here), and `live` writes most of its 2 GB heap between cycles.
 * It is not free: 2 GB take 230-260 ms here, and the program, whose TLB
 * entries the kernel flushes meanwhile, runs slowly in it (`live`'s
 * slowest units of work, 130-170 ms, fall there). In 2 MiB steps it took
 * longer (330-520 ms) and the units were no faster. */
static void unprotect_heap(void) {
    uint32_t nslots = gort__heap.nslots;
    for (uint32_t i = 0; i < nslots; i++) {
        gort_heap_arena *ha = gort__heap.slots[i];
        if (!ha || !ha->mapped_pages) continue;
        gort__wtrack_unprotect(ha->base, (size_t)ha->mapped_pages << GORT_PAGE_SHIFT);
    }
}

/* Drops the marks of a mark in progress. An unswept span keeps its marks:
 * they are the last cycle's, which its sweep needs (a mark begins only once
 * every span is swept, so it has none of the interrupted one's). */
static void clear_marks(gort_mspan *s, void *arg) {
    (void)arg;
    if (gort__span_unswept(s)) return;
    for (unsigned w = 0; w < s->nwords; w++) set_mark_word(s, w, 0);
}

/* A drain while the program runs: drain_parallel, again while mark assists
 * hold work (a drain ends when its markers find the queue empty, and an
 * assist may be scanning a buffer it took, to put back what it found). */
static uint64_t drain_concurrent(gcwork *w, unsigned joiners, cycle_info *ci) {
    uint64_t marked = drain_parallel(w, joiners, &ci->markers, &ci->mark_cpu);
    for (;;) {
        if (atomic_load(&work_nfull)) {
            gcwork more = {.buf = getempty()};
            marked += drain_parallel(&more, joiners, &ci->markers, &ci->mark_cpu);
        } else if (atomic_load(&assists_active)) {
            sched_yield();
        } else {
            return marked;
        }
    }
}

/* Marker threads that join a concurrent drain besides the cycle's own
 * thread: Go's 25% of the cores for background marking. */
static unsigned concurrent_joiners(void) {
    unsigned n = (unsigned)ncpu_online / 4;
    return n > 1 ? n - 1 : 0;
}

/* One cycle, on the background thread (the steps above). With the
 * tracking broken (a registration or a walk failed), the mark is done
 * whole in the final pause, as a stop-the-world cycle. */
static GORT_NOINLINE void concurrent_cycle(bool forced) {
    volatile uintptr_t here = 0;
    uintptr_t self_sp = (uintptr_t)&here;
    cycle_info ci = {.forced = forced};
    gort__lock(&gc_lock, GORT_RANK_GC);
    finish_sweep();
    start_workers();
    ci.t0 = now_ns(CLOCK_MONOTONIC);
    ci.heap_before = atomic_load_explicit(&heap_live, memory_order_relaxed);
    bool track = next_concurrent();
    if (track) {
        clean_begin(heap_marked);
        gort__lock(&gort__heap.lock, GORT_RANK_MHEAP);
        gort__heap_wtrack_start_locked();
        gort__unlock(&gort__heap.lock, GORT_RANK_MHEAP);
        track = !atomic_load_explicit(&gort__wtrack_broken, memory_order_relaxed);
    }
    ci.concurrent = track;
    uint64_t c0 = ci.t0;
    if (track) {
        gort__unlock(&gc_lock, GORT_RANK_GC);
        /* 0. protect */
        walk_written(NULL, true);
        /* 1. the first pause: the roots that are not write-tracked */
        gort__lock(&gc_lock, GORT_RANK_GC);
        gort_mcache *self = gort__tls_gcself;
        uint64_t p0 = pause_begin(self, self_sp);
        gcwork w = {.buf = getempty()};
        mark_stacks(&w, self, self_sp);
        mark_globals(&w);
        set_heap_range(false);
        atomic_store_explicit(&assist_marked, 0, memory_order_relaxed);
        atomic_store_explicit(&marking, true, memory_order_relaxed);
        start_the_world();
        ci.pause1 = now_ns(CLOCK_MONOTONIC) - p0;
        world_unlock();
        gort__unlock(&meta_lock, GORT_RANK_META);
        gort__unlock(&gc_lock, GORT_RANK_GC);
        c0 = now_ns(CLOCK_MONOTONIC);
        /* 2. the concurrent mark */
        mark_scanned_blocks(&w);
        gort__lock(&meta_lock, GORT_RANK_META);
        mark_fin_roots(&w);
        gort__unlock(&meta_lock, GORT_RANK_META);
        unsigned joiners = concurrent_joiners();
        ci.marked += drain_concurrent(&w, joiners, &ci);
        /* 3. pre-cleaning (a program that writes all over its heap faster
         * than a round re-scans does not converge: what its last round left
         * waits for the pause) */
        while (ci.rounds < PRECLEAN_ROUNDS) {
            gcwork rw = {.buf = getempty()};
            uint64_t pages = walk_written(&rw, true);
            ci.rounds++;
            ci.marked += drain_concurrent(&rw, joiners, &ci);
            if (pages <= PRECLEAN_ENOUGH) break;
        }
        gort__lock(&gc_lock, GORT_RANK_GC);
    }
    /* 4. the final pause */
    gort_mcache *self = gort__tls_gcself;
    ci.t_final = pause_begin(self, self_sp);
    ci.concurrent_ns = ci.t_final - c0;
    ci.t_mark = now_ns(CLOCK_MONOTONIC);
    atomic_store_explicit(&marking, false, memory_order_relaxed); /* assists ended before their threads stopped */
    ci.marked += atomic_exchange_explicit(&assist_marked, 0, memory_order_relaxed);
    if (track && !atomic_load_explicit(&gort__wtrack_broken, memory_order_relaxed)) {
        gcwork fw = {.buf = getempty()};
        ci.dirty_pages = walk_written(&fw, false);
        mark_stacks(&fw, self, self_sp);
        mark_globals(&fw);
        mark_fin_roots(&fw);
        ci.marked += drain_parallel(&fw, UINT_MAX, &ci.markers, &ci.mark_cpu);
    }
    if (!track || atomic_load_explicit(&gort__wtrack_broken, memory_order_relaxed)) {
        /* a stop-the-world cycle; or the tracking broke, before the pause
         * or in its walk, and what was written is unknown: the whole mark
         * again */
        if (track) for_each_gc_span(clear_marks, NULL);
        ci.concurrent = false;
        ci.marked = 0;
        gcwork rw = {.buf = getempty()};
        mark_roots(&rw, self, self_sp);
        ci.marked += drain_parallel(&rw, UINT_MAX, &ci.markers, &ci.mark_cpu);
    }
    ci.t_term = now_ns(CLOCK_MONOTONIC);
    ci.clean_pages = clean.pages;
    finish_cycle(&ci, self, self_sp);
    if (track) {
        unprotect_heap();
        clean_drop(true);
    }
    (void)here;
}

/* ---- the background collector thread ----
 * In concurrent mode every cycle runs on it: a thread that reaches the
 * trigger asks for one and goes on; gort_gc and an allocation that found
 * no memory ask and wait for a cycle that began after they asked. */
static pthread_mutex_t bg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bg_cond = PTHREAD_COND_INITIALIZER;      /* the thread waits for a request */
static pthread_cond_t bg_done_cond = PTHREAD_COND_INITIALIZER; /* askers wait for their cycle */
static uint64_t bg_requested, bg_done;                         /* cycles asked for and finished, under bg_lock */
static bool bg_running, bg_forced, bg_started;
static _Atomic bool bg_busy; /* a cycle is asked for or running: the trigger check asks no more */

static void *bg_main(void *arg) {
    (void)arg;
    gort__lock(&bg_lock, GORT_RANK_BG);
    for (;;) {
        while (bg_done >= bg_requested) pthread_cond_wait(&bg_cond, &bg_lock);
        bool forced = bg_forced;
        bg_forced = false;
        bg_running = true;
        gort__unlock(&bg_lock, GORT_RANK_BG);
        concurrent_cycle(forced);
        gort__lock(&bg_lock, GORT_RANK_BG);
        bg_running = false;
        bg_done++;
        if (bg_done >= bg_requested) atomic_store_explicit(&bg_busy, false, memory_order_relaxed);
        pthread_cond_broadcast(&bg_done_cond);
    }
    return NULL;
}

/* Asks the background thread for a cycle; with wait, for one that begins
 * after this call, and waits for its end. */
static void bg_request(bool forced, bool wait) {
    gort__lock(&bg_lock, GORT_RANK_BG);
    if (!bg_started) {
        if (start_quiet(bg_main) != 0) gort__fatal("cannot start the collector's thread");
        bg_started = true;
    }
    uint64_t target = bg_done + (wait && bg_running ? 2 : 1);
    if (bg_requested < target) bg_requested = target;
    bg_forced |= forced;
    atomic_store_explicit(&bg_busy, true, memory_order_relaxed);
    pthread_cond_signal(&bg_cond);
    while (wait && bg_done < target) pthread_cond_wait(&bg_done_cond, &bg_lock);
    gort__unlock(&bg_lock, GORT_RANK_BG);
}

/* Waits for the end of the cycle asked for or running now (a thread
 * stopped in its wait is scanned from its signal frame). */
static GORT_NOINLINE void bg_wait_cycle(void) {
    gc_tls.assist_debt = 0;
    gort__lock(&bg_lock, GORT_RANK_BG);
    uint64_t d = bg_done;
    while (bg_requested > d && bg_done == d) pthread_cond_wait(&bg_done_cond, &bg_lock);
    gort__unlock(&bg_lock, GORT_RANK_BG);
}

/* The pacer's trigger, where cycles may be concurrent but the next one
 * stops the world (under auto, a heap below CONCURRENT_MIN_MARKED): the
 * cycle runs on the thread that reached the trigger, as in stop-the-world
 * mode, when the background thread has none asked for or running (a cycle
 * on the background thread cost binary-trees 15-25% more time: the program
 * ran past the trigger while the thread woke, and waited for it on a
 * condition variable). True with gc_lock held: the background thread takes
 * it first in a cycle, so none starts until this one has ended. */
static bool claim_inline(void) {
    if (atomic_load_explicit(&next_concurrent_pub, memory_order_relaxed)) return false;
    gort__lock(&bg_lock, GORT_RANK_BG);
    bool idle = !bg_running && bg_done >= bg_requested;
    if (idle) gort__lock(&gc_lock, GORT_RANK_GC);
    gort__unlock(&bg_lock, GORT_RANK_BG);
    if (idle && atomic_load_explicit(&next_concurrent_pub, memory_order_relaxed)) { /* changed meanwhile */
        gort__unlock(&gc_lock, GORT_RANK_GC);
        return false;
    }
    return idle;
}

/* A full cycle. In stop-the-world mode, on this thread, whose stack is
 * scanned from this frame up: it holds the caller's registers
 * (__builtin_unwind_init saves every callee-saved one here) and nothing
 * else, while collect_cycle's frame below it, with large locals written
 * only late in the cycle (work buffers' batches, the trace line), is left
 * out: their stale words are not roots. In concurrent mode the background
 * thread runs it, and this thread waits (stopped in its signal handler for
 * the pauses, its registers in the signal frame). */
static GORT_NOINLINE void collect(bool forced) {
    pthread_once(&gc_once, gc_init);
    __builtin_unwind_init();
    volatile uintptr_t here = 0;
    if (concurrent && !forced) { /* the pacer's trigger, the next cycle stopping the world */
        if (claim_inline()) collect_cycle(false, (uintptr_t)&here, true);
        else if (!atomic_load_explicit(&bg_busy, memory_order_relaxed)) bg_request(false, false);
    } else if (concurrent) {
        /* stopped while it waits, this thread's stack is scanned from here
         * too: the frames below hold nothing of the program's */
        gc_tls.wait_sp = (uintptr_t)&here;
        bg_request(forced, true);
        gc_tls.wait_sp = 0;
    } else {
        collect_cycle(forced, (uintptr_t)&here, false);
    }
    if (forced) finish_sweep(); /* gort_gc returns after the sweep, as Go's runtime.GC */
    (void)here;
}

/* ---- mark assists ----
 * A thread that allocates while a concurrent mark runs, past the trigger,
 * scans part of the mark queue in proportion to what it allocated, so that
 * the mark ends near the heap goal (Go's gcAssistAlloc, with a fixed ratio
 * where Go computes one from the scan work expected). */
#define ASSIST_RATIO 4        /* bytes scanned per byte allocated, below the goal */
#define ASSIST_RATIO_OVER 16  /* and above it */
#define ASSIST_MIN (32 << 10) /* a smaller debt waits for more */
#define ASSIST_MAX (1 << 20)  /* scanned per call at most: a pause waits for an assist to end */

/* Scans up to budget bytes of one shared work buffer. While it runs the
 * thread counts as inside an allocation, so a pause waits for it to put
 * back what it holds (no grey object is lost across a pause). */
NO_SANITIZE static GORT_NOINLINE void assist(uint64_t budget) {
    gc_tls.in_alloc = 1;
    atomic_signal_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&marking, memory_order_relaxed)) {
        gort__lock(&work_lock, GORT_RANK_WORK);
        workbuf *b = work_full;
        if (b) {
            work_full = b->next;
            /* counted before the buffer leaves the count: drain_concurrent reads them in the other order */
            atomic_fetch_add(&assists_active, 1);
            atomic_fetch_sub(&work_nfull, 1);
        }
        gort__unlock(&work_lock, GORT_RANK_WORK);
        if (!b) {
            atomic_store_explicit(&assist_wants, true, memory_order_relaxed);
        } else {
            uint64_t t0 = now_ns(CLOCK_MONOTONIC);
            gcwork w = {.buf = b};
            while (w.scanned_bytes < budget) {
                if (!w.buf->n) {
                    if (!w.ncand) break;
                    flush_cands(&w);
                    continue;
                }
                uintptr_t e = w.buf->obj[--w.buf->n];
                scan_object(&w, e, ENTRY_CLASS(e) && !(e & ENTRY_UNIFORM) ? obj_bits(ENTRY_ADDR(e)) : NULL);
            }
            if (w.ncand) flush_cands(&w);
            atomic_fetch_add_explicit(&assist_marked, w.marked_bytes, memory_order_relaxed);
            if (w.buf->n) putfull(w.buf);
            else putempty(w.buf);
            wipe_cands(&w);
            atomic_fetch_add_explicit(&gc_extra_ns, now_ns(CLOCK_MONOTONIC) - t0, memory_order_relaxed);
            atomic_fetch_sub(&assists_active, 1); /* after putfull counted what it put back */
        }
    }
    atomic_signal_fence(memory_order_seq_cst);
    gc_tls.in_alloc = 0;
    atomic_signal_fence(memory_order_seq_cst);
    if (GORT_UNLIKELY(gc_tls.deferred)) stop_deferred();
}

/* The collected heap is more than 1/16 past its goal. */
static inline bool far_past_goal(uint64_t live) {
    uint64_t goal = atomic_load_explicit(&heap_goal_pub, memory_order_relaxed);
    return live > goal + goal / 16;
}

/* n bytes were handed out for collected objects: the debt, paid when large enough. */
static inline void assist_alloc(uint64_t n) {
    uint64_t live = atomic_load_explicit(&heap_live, memory_order_relaxed);
    if (!atomic_load_explicit(&marking, memory_order_relaxed)) {
        gc_tls.assist_debt = 0;
        /* a cycle asked for and not marking yet, the goal passed: its end */
        if (GORT_UNLIKELY(far_past_goal(live)) && atomic_load_explicit(&bg_busy, memory_order_relaxed)) bg_wait_cycle();
        return;
    }
    if (live < atomic_load_explicit(&heap_trigger, memory_order_relaxed)) return;
    if (GORT_UNLIKELY(atomic_load_explicit(&limiter_full, memory_order_relaxed))) { /* the CPU limiter: no assists */
        gc_tls.assist_debt = 0;
        return;
    }
    gc_tls.assist_debt +=
        n * (live < atomic_load_explicit(&heap_goal_pub, memory_order_relaxed) ? ASSIST_RATIO : ASSIST_RATIO_OVER);
    if (gc_tls.assist_debt < ASSIST_MIN) return;
    uint64_t pay = gc_tls.assist_debt < ASSIST_MAX ? gc_tls.assist_debt : ASSIST_MAX;
    gc_tls.assist_debt -= pay;
    assist(pay);
    /* Far past the goal, with the debt unpaid (the markers hold the work):
     * wait for the cycle's end, as Go parks an assist that finds no work. */
    if (gc_tls.assist_debt >= ASSIST_MAX && far_past_goal(atomic_load_explicit(&heap_live, memory_order_relaxed)))
        bg_wait_cycle();
}

/* The trigger was reached: a stop-the-world cycle now, or a concurrent one
 * asked for. */
static void trigger_cycle(void) {
    if (!concurrent || !atomic_load_explicit(&next_concurrent_pub, memory_order_relaxed)) {
        collect(false);
        return;
    }
    if (!atomic_load_explicit(&bg_busy, memory_order_relaxed)) bg_request(false, false);
}

/* ------------------------------------------------------------------ */
/* Initialization                                                       */

static void gc_init(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    struct sigaction old;
    if (sigaction(GC_SIGNAL, NULL, &old) == 0 &&
        (old.sa_flags & SA_SIGINFO ? old.sa_sigaction != NULL : old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN))
        gort__fatal("the collector needs SIGPWR, and the program has a handler for it");
    sa.sa_sigaction = stop_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    sigaction(GC_SIGNAL, &sa, NULL);
    dl_iterate_phdr(tls_cb, (void *)pthread_self());
    exclude((const void *)gort__arenas, sizeof gort__arenas);
    exclude(&gort__heap, sizeof gort__heap);
    exclude(gort__central, sizeof gort__central);
    exclude(&heap_range, sizeof heap_range);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    ncpu_online = n > 0 ? (int)n : 1;
    start_mono = now_ns(CLOCK_MONOTONIC);
    atomic_store_explicit(&last_gc_mono, start_mono, memory_order_relaxed);
    atomic_store_explicit(&limiter_at, start_mono, memory_order_relaxed);
    atomic_store_explicit(&gc_percent, gort__options.gc_percent, memory_order_relaxed);
    atomic_store_explicit(&memory_limit, gort__options.memory_limit, memory_order_relaxed);
    gort__backed_init();
#ifndef GORT_TSAN /* TSan would see every concurrent read of the heap as a race */
    if (gort__options.gcbarrier != GORT_BARRIER_NONE) concurrent = gort__wtrack_init();
#endif
    if (!concurrent && gort__options.gcbarrier == GORT_BARRIER_UFFD) {
#ifdef GORT_TSAN
        static const char msg[] = "gort: GORT_GCBARRIER=uffd: not in a ThreadSanitizer build: the collector stops the "
                                  "world\n";
#else
        static const char msg[] = "gort: GORT_GCBARRIER=uffd: the kernel does not track writes (userfaultfd's "
                                  "asynchronous write protection, Linux 6.7+): the collector stops the world\n";
#endif
        ssize_t wr = write(2, msg, sizeof msg - 1);
        (void)wr;
    }
    compute_goal();
    atomic_store_explicit(&gc_ready, true, memory_order_release);
}

static inline void ensure_init(void) {
    if (GORT_UNLIKELY(!atomic_load_explicit(&gc_ready, memory_order_acquire))) pthread_once(&gc_once, gc_init);
}

/* ------------------------------------------------------------------ */
/* Allocation                                                           */

static void oom_line(size_t n) {
    char line[160];
    uint64_t mapped = atomic_load_explicit(&gort__os.ready, memory_order_relaxed) +
        atomic_load_explicit(&gort__os.prepared, memory_order_relaxed);
    int k = snprintf(line, sizeof line, "gort: out of memory: cannot allocate %zu-byte block (%llu in use)\n", n,
                     (unsigned long long)mapped);
    if (k > 0) {
        ssize_t wr = write(2, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
        (void)wr;
    }
}

uint64_t gort__gc_retain_bytes(void) {
    uint64_t goal = atomic_load_explicit(&heap_goal_pub, memory_order_relaxed);
    if (goal == 0 || goal == UINT64_MAX) return 0;
    uint64_t keep = goal + goal / 10, live = atomic_load_explicit(&heap_live, memory_order_relaxed);
    return keep > live ? keep - live : 0;
}

void gort__oom_report(size_t n) {
    if (gort__options.oom == GORT_OOM_REPORT) oom_line(n);
}

static void *out_of_memory(size_t n) {
    if (gort__options.oom == GORT_OOM_NULL) {
        errno = ENOMEM;
        return NULL;
    }
    oom_line(n);
    gort__fatal("out of memory");
}

/* Before a collected allocation takes new memory: collect when the heap has
 * reached its trigger, or 2 minutes after the last cycle. */
static inline void maybe_collect(void) {
    uint64_t live = atomic_load_explicit(&heap_live, memory_order_relaxed);
    if (GORT_UNLIKELY(live >= atomic_load_explicit(&heap_trigger, memory_order_relaxed))) {
        if (limiter_allows()) trigger_cycle();
        return;
    }
    if (atomic_load_explicit(&gc_percent, memory_order_relaxed) >= 0 &&
        (int64_t)(now_ns(CLOCK_MONOTONIC_COARSE) - atomic_load_explicit(&last_gc_mono, memory_order_relaxed)) >
            (int64_t)FORCE_PERIOD_NS)
        trigger_cycle();
}

/* Zeroes the slots a refill handed out, p and those of alloc_cache, a run of
 * consecutive slots per memset (after a sweep, most words are wholly free:
 * one memset of 64 slots). A scan-kind object must be zero before its first
 * use (its stale words would be read as pointers); doing it here takes the
 * clearing off the allocation fast path. */
static void zero_word(gort_mspan *s, uintptr_t p) {
    size_t es = s->elemsize;
    uintptr_t off = p - s->cache_base;
    if (off >= 64 * es) { /* not from the cached word (cannot happen): each slot alone */
        memset((void *)p, 0, es);
        for (uint64_t c = s->alloc_cache; c; c &= c - 1) memset((void *)(s->cache_base + gort__ctz64(c) * es), 0, es);
        return;
    }
    uint64_t f = s->alloc_cache | 1ull << (off / es);
    while (f) {
        unsigned lo = (unsigned)gort__ctz64(f);
        uint64_t rest = ~f >> lo; /* the run ends at the first clear bit above lo */
        unsigned len = rest ? (unsigned)gort__ctz64(rest) : 64 - lo;
        memset((void *)(s->cache_base + lo * es), 0, len * es);
        f = len + lo >= 64 ? 0 : f & ~(((1ull << len) - 1) << lo);
    }
}

static GORT_NOINLINE void *alloc_small_slow(unsigned spc, gort_mspan **sp) {
    ensure_init();
    maybe_collect();
    gort_mcache *mc = gort__mcache_ensure();
    if (!mc) return NULL;
    gort__lock(&mc->gc_lock, GORT_RANK_MCACHE_GC);
    void *p = gort__mcache_refill(mc, spc);
    uint64_t refilled = 0;
    if (p) {
        gort_mspan *s = *sp = mc->alloc[spc];
        uint64_t n = (uint64_t)(gort__popcount(s->alloc_cache) + 1) * s->elemsize;
        atomic_fetch_add_explicit(&heap_live, n, memory_order_relaxed);
        refilled = n;
        if (gort__spc_kind(spc) == GORT_KIND_GC_SCAN) {
            zero_word(s, (uintptr_t)p);
            if (GORT_UNLIKELY(!s->heapbits)) {
                gort_heap_arena *ha = gort__arena_of(s->base);
                uint64_t *bm = arena_ptrbits(ha); /* NULL (no memory): gort_new takes its slow path */
                if (bm) s->heapbits = bm + ((s->base - ha->base) >> 9);
            }
        }
    }
    gort__unlock(&mc->gc_lock, GORT_RANK_MCACHE_GC);
    if (concurrent) assist_alloc(refilled);
    return p;
}

/* The lock-free part of a collected small allocation: a slot of the thread's
 * cached word for span class spc, or NULL. A stop request that arrives
 * meanwhile is deferred (gc_tls.deferred) for the caller to honour once the
 * slot's bits are whole. */
static inline void *take_cached_from(unsigned spc, gort_mspan **sp) {
    gc_tls.in_alloc = 1;
    atomic_signal_fence(memory_order_seq_cst);
    gort_mspan *s = *sp = gort__tls_mcache->alloc[spc];
    uint64_t c = s->alloc_cache;
    void *p = c ? gort__span_take(s, c) : NULL;
    atomic_signal_fence(memory_order_seq_cst);
    gc_tls.in_alloc = 0;
    atomic_signal_fence(memory_order_seq_cst);
    return p;
}

/* A small object of span class spc: the fast path as malloc's, with the
 * stop request deferred while the span's bits change. */
static inline void *alloc_small(unsigned spc, gort_mspan **sp) {
    void *p = take_cached_from(spc, sp);
    if (GORT_UNLIKELY(gc_tls.deferred)) stop_deferred();
    if (GORT_LIKELY(p)) return p;
    return alloc_small_slow(spc, sp);
}

static GORT_NOINLINE void *alloc_large(size_t n, unsigned kind, const gort_type *t, size_t count) {
    ensure_init();
    if (n > PTRDIFF_MAX) return NULL;
    maybe_collect();
    size_t npages = (n + GORT_PAGE_SIZE - 1) >> GORT_PAGE_SHIFT;
    /* Under the thread cache's gc_lock, as a refill: no pause begins while
     * the object is half made. Made before a cycle's end and published
     * after it, the span would be unswept (its sweepgen older than the
     * pause's) and its sweep would free it, alloc bit set and mark clear. */
    gort_mcache *mc = gort__mcache_ensure();
    if (!mc) return NULL;
    gort__lock(&mc->gc_lock, GORT_RANK_MCACHE_GC);
    gort_mspan *s = gort__heap_alloc_span(npages, 1, gort__spc_make(0, kind));
    if (!s) {
        gort__unlock(&mc->gc_lock, GORT_RANK_MCACHE_GC);
        return NULL;
    }
    /* The object's address on this frame until it is returned: from its
     * publication on, a pause must find it (the span pointer in a register
     * does not name it), or the object would go unmarked and be swept. */
    volatile uintptr_t keep = s->base;
    s->largetype = t;
    s->largecount = count;
    atomic_fetch_add_explicit(&gort__large.allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&gort__large.bytes, s->elemsize, memory_order_relaxed);
    atomic_fetch_add_explicit(&heap_live, s->elemsize, memory_order_relaxed);
    /* publish: the layout is whole before a collection can find the object */
    atomic_store_explicit(&s->words[0].xfree, 0, memory_order_relaxed);
    s->words[0].alloc = 1;
    gort__unlock(&mc->gc_lock, GORT_RANK_MCACHE_GC);
    /* cleared outside the lock (a pause would wait for a big memset); a
     * cycle that scans it meanwhile reads stale words as candidate
     * pointers, which only keeps what they name one cycle longer */
    if (s->needzero && kind != GORT_KIND_GC_NOSCAN) memset((void *)s->base, 0, n);
    if (concurrent) assist_alloc(s->elemsize);
    /* the heap profile: the stack starts at the API entry's frame
     * (gort__prof_frame, set by new_typed or gc_alloc_profiled) */
    if (GORT_UNLIKELY(atomic_load_explicit(&gort__prof_rate, memory_order_relaxed)))
        gort__prof_large(s, __builtin_frame_address(0));
    return (void *)keep;
}

/* Zeroes n bytes rounded up to 8 (within the slot: class sizes are
 * multiples of 8); small objects without a call. */
static inline void zero_small(void *p, size_t n) {
    uint64_t *q = p;
    switch ((n + 7) >> 3) {
    case 4: q[3] = 0; /* fall through */
    case 3: q[2] = 0; /* fall through */
    case 2: q[1] = 0; /* fall through */
    case 1: q[0] = 0; /* fall through */
    case 0: return;
    default: memset(p, 0, n);
    }
}

/* An allocation of the collected heap; t NULL: conservative (scan kind) or
 * noscan. Retries once after a full collection. */
static void *gc_alloc(size_t n, unsigned kind, const gort_type *t, size_t count, bool zero) {
    for (int attempt = 0;; attempt++) {
        void *p;
        if (n <= GORT_MAX_SMALL_SIZE) {
            size_t cls = gort__size_to_class(n ? n : 1);
            gort_mspan *s;
            p = alloc_small((unsigned)gort__spc_make((unsigned)cls, kind), &s);
            if (p) {
                if (kind == GORT_KIND_GC_SCAN &&
                    !heap_bits_set(s, (uintptr_t)p, gort_class_to_size[cls] >> 3, (n + 7) >> 3, t, count))
                    p = NULL;                                                 /* the slot is freed by the next cycle */
                else if (zero && kind != GORT_KIND_GC_SCAN) zero_small(p, n); /* scan: zeroed at refill */
            }
        } else {
            p = alloc_large(n, kind, t, count);
            if (p && zero && kind == GORT_KIND_GC_NOSCAN) memset(p, 0, n);
        }
        if (GORT_LIKELY(p)) return p;
        if (attempt) return out_of_memory(n);
        collect(true);
    }
}

/* The general path of gort_new_typed. */
static void *new_typed_body(const gort_type *t, size_t count) {
    size_t n;
    if (!t || __builtin_mul_overflow(t->size, count, &n) || n > PTRDIFF_MAX) return out_of_memory(n = SIZE_MAX);
    if (t->ptrwords == 0) return gc_alloc(n, GORT_KIND_GC_NOSCAN, NULL, 0, true);
    if (t->size & 7 || t->ptrwords > t->size / 8 || !t->ptrmask)
        gort__fatal("gort_new_typed: a type with pointers must be a whole number of 8-byte words");
    return gc_alloc(n, GORT_KIND_GC_SCAN, t, count, true);
}

/* The general path of gort_new_typed, reached from it by a tail jump: its
 * frame record holds the program's return address, and the heap profile's
 * stacks start there (GORT_PROF_ENTER; gort's own code keeps no frame
 * pointers). */
static GORT_NOINLINE void *new_typed(const gort_type *t, size_t count) {
    GORT_PROF_ENTER();
    void *p = new_typed_body(t, count);
    GORT_PROF_LEAVE();
    return p;
}

/* The end of the fast path when a stop arrived during it, the arena's
 * bitmap does not exist yet, or the span's umask changes (its first
 * object, or one of another shape): the object's bits, by heap_bits_set. */
static GORT_NOINLINE void *new_small_finish(const gort_type *t, gort_mspan *s, void *p, size_t slotwords) {
    if (gc_tls.deferred) stop_deferred();
    if (!heap_bits_set(s, (uintptr_t)p, slotwords, t->size >> 3, t, 1)) return new_typed(t, 1);
    return p; /* zeroed at refill */
}

/* gort_new(T) of a small T whose pointer words all lie in its first 64 (every
 * GORT_TYPE of up to 512 bytes): a leaf with tail calls to the slow paths.
 * Per 16-byte node, refills included: 83.9 instructions (gort_new_typed's
 * inclusive count over 3,222,190 nodes), where the general path took 190
 * (callgrind, bench/gc/binarytrees.c at depth 14, GORT_GOGC=off; the refill's
 * zeroing of the word's free slots counted); 111 before the span kept its
 * bitmap's address (heapbits), 102.7 while every object's bits were written
 * (a uniform span writes none: umask_take). The
 * type's checks are the general path's, folded into two tests: size a
 * multiple of 8 in [8, 512] and 1 <= ptrwords <= size / 8. */
void *gort_new_typed(const gort_type *t, size_t count) {
    /* size - 8 in [0, 504] and a multiple of 8: no bit set but bits 3 to 8 */
    if (GORT_UNLIKELY(count != 1 || !t || ((t->size - 8) & ~(size_t)0x1f8) || t->ptrwords - 1 >= (t->size >> 3) ||
                      !t->ptrmask))
        return new_typed(t, count);
    size_t cls = gort__size_to_class(t->size);
    gort_mspan *s;
    void *p = take_cached_from(gort__spc_make((unsigned)cls, GORT_KIND_GC_SCAN), &s);
    size_t slotwords = gort_class_to_size[cls] >> 3;
    if (GORT_UNLIKELY(!p)) {
        if (gc_tls.deferred) stop_deferred();
        return new_typed(t, 1);
    }
    uint64_t *bm = s->heapbits; /* the span's first bitmap word */
    if (GORT_UNLIKELY(gc_tls.deferred || !bm)) return new_small_finish(t, s, p, slotwords);
    uint64_t pattern = t->ptrmask[0] & (~0ull >> (64 - t->ptrwords));
    unsigned u = s->umask;
    if (GORT_LIKELY(u == (GORT_UMASK_ONE | pattern))) return p; /* a uniform span: no bits (umask_take) */
    if (GORT_UNLIKELY(u != GORT_UMASK_MIXED)) return new_small_finish(t, s, p, slotwords);
    heap_bits_small(bm, ((uintptr_t)p - s->base) >> 3, slotwords, pattern);
    return p; /* zeroed at refill (zero_word) */
}

/* gort_gc_alloc and gort_gc_alloc_noscan while the heap profile has been on:
 * reached by a tail jump, so that the profile's stacks start at the
 * program's frame (as new_typed). */
static GORT_NOINLINE void *gc_alloc_profiled(size_t n, unsigned kind, bool zero) {
    GORT_PROF_ENTER();
    void *p = gc_alloc(n, kind, NULL, 0, zero);
    GORT_PROF_LEAVE();
    return p;
}

void *gort_gc_alloc(size_t n) {
    if (GORT_UNLIKELY(atomic_load_explicit(&gort__prof_on, memory_order_relaxed)))
        return gc_alloc_profiled(n, GORT_KIND_GC_SCAN, true);
    return gc_alloc(n, GORT_KIND_GC_SCAN, NULL, 0, true);
}
void *gort_gc_alloc_noscan(size_t n) {
    if (GORT_UNLIKELY(atomic_load_explicit(&gort__prof_on, memory_order_relaxed)))
        return gc_alloc_profiled(n, GORT_KIND_GC_NOSCAN, false);
    return gc_alloc(n, GORT_KIND_GC_NOSCAN, NULL, 0, false);
}

void *gort_malloc_scanned(size_t n) {
    ensure_init();
    if (n <= GORT_MAX_SMALL_SIZE) {
        unsigned spc = (unsigned)gort__spc_make((unsigned)gort__size_to_class(n), GORT_KIND_MANUAL_SCAN);
        gort_mcache *mc = gort__tls_mcache;
        gort_mspan *s = mc->alloc[spc];
        uint64_t c = s->alloc_cache;
        if (GORT_LIKELY(c)) return gort__span_take(s, c);
        return gort__mcache_refill(mc, spc);
    }
    if (n > PTRDIFF_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    gort_mspan *s =
        gort__heap_alloc_span((n + GORT_PAGE_SIZE - 1) >> GORT_PAGE_SHIFT, 1, gort__spc_make(0, GORT_KIND_MANUAL_SCAN));
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    atomic_fetch_add_explicit(&gort__large.allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&gort__large.bytes, s->elemsize, memory_order_relaxed);
    s->words[0].alloc = 1;
    return (void *)s->base;
}

void gort__gc_bad_free(const void *p) { gort__fatal_addr("free of a collected object (the collector frees it)", p); }

/* ------------------------------------------------------------------ */
/* The API                                                              */

void gort_gc(void) { collect(true); }

int gort_set_gc_percent(int percent) {
    ensure_init();
    gort__lock(&gc_lock, GORT_RANK_GC);
    int old = atomic_exchange_explicit(&gc_percent, percent < 0 ? -1 : percent, memory_order_relaxed);
    compute_goal();
    gort__unlock(&gc_lock, GORT_RANK_GC);
    return old;
}

int64_t gort_set_memory_limit(int64_t limit) {
    ensure_init();
    if (limit < 0) return atomic_load_explicit(&memory_limit, memory_order_relaxed);
    gort__lock(&gc_lock, GORT_RANK_GC);
    int64_t old = atomic_exchange_explicit(&memory_limit, limit, memory_order_relaxed);
    compute_goal();
    gort__unlock(&gc_lock, GORT_RANK_GC);
    return old;
}

void gort_gc_register_thread(void) {
    ensure_init();
    gort__mcache_ensure();
}

void gort_gc_add_roots(void *start, size_t len) {
    ensure_init();
    gort__lock(&meta_lock, GORT_RANK_META);
    if (nroots == roots_cap && !grow_array((void **)&roots, &roots_cap, sizeof *roots)) {
        gort__unlock(&meta_lock, GORT_RANK_META);
        gort__fatal("gort_gc_add_roots: out of memory");
    }
    roots[nroots].lo = (uintptr_t)start;
    roots[nroots].hi = (uintptr_t)start + len;
    nroots++;
    gort__unlock(&meta_lock, GORT_RANK_META);
}

void gort_gc_remove_roots(void *start) {
    gort__lock(&meta_lock, GORT_RANK_META);
    for (size_t i = 0; i < nroots; i++) {
        if (roots[i].lo == (uintptr_t)start) {
            roots[i] = roots[--nroots];
            break;
        }
    }
    gort__unlock(&meta_lock, GORT_RANK_META);
}

static size_t fin_hash(uintptr_t obj, size_t cap) {
    return (size_t)((obj >> 4) * 0x9e3779b97f4a7c15ull >> 20) & (cap - 1);
}

static bool fins_grow(void) {
    size_t ncap = fins_cap ? fins_cap * 2 : 256;
    finalizer *n = gort__sys_alloc(ncap * sizeof *n);
    if (!n) return false;
    for (size_t i = 0; i < fins_cap; i++) {
        if (fins[i].obj <= 1) continue;
        size_t h = fin_hash(fins[i].obj, ncap);
        while (n[h].obj) h = (h + 1) & (ncap - 1);
        n[h] = fins[i];
    }
    if (fins) gort__sys_free(fins, fins_cap * sizeof *fins, GORT_OS_READY);
    fins = n;
    fins_cap = ncap;
    fins_used = fins_n;
    return true;
}

void gort_set_finalizer(void *obj, void (*fn)(void *, void *), void *arg) {
    ensure_init();
    uintptr_t base;
    gort_mspan *s = find_object((uintptr_t)obj, &base);
    if (!s || base != (uintptr_t)obj)
        gort__fatal_addr("gort_set_finalizer: pointer not at the beginning of a collected object", obj);
    gort__lock(&meta_lock, GORT_RANK_META);
    size_t h = fins_cap ? fin_hash(base, fins_cap) : 0;
    if (fins_cap) {
        for (size_t i = h;; i = (i + 1) & (fins_cap - 1)) {
            if (fins[i].obj == 0) break;
            if (fins[i].obj == base) {
                if (fn) {
                    gort__unlock(&meta_lock, GORT_RANK_META);
                    gort__fatal_addr("gort_set_finalizer: finalizer already set", obj);
                }
                fins[i].obj = 1;
                fins_n--;
                gort__unlock(&meta_lock, GORT_RANK_META);
                return;
            }
        }
    }
    if (!fn) {
        gort__unlock(&meta_lock, GORT_RANK_META);
        return;
    }
    if ((fins_used + 1) * 4 > fins_cap * 3 && !fins_grow()) {
        gort__unlock(&meta_lock, GORT_RANK_META);
        gort__fatal("gort_set_finalizer: out of memory");
    }
    h = fin_hash(base, fins_cap);
    while (fins[h].obj > 1) h = (h + 1) & (fins_cap - 1);
    if (fins[h].obj == 0) fins_used++;
    fins[h] = (finalizer){base, fn, arg};
    fins_n++;
    gort__unlock(&meta_lock, GORT_RANK_META);
}

/* Zeroes the general and vector registers this code may leave values in: a
 * finalized object's address must not linger in one (to be saved in the
 * signal frame on this thread's stack, a root, while it waits) after its
 * finalizer ran. */
static GORT_NOINLINE void clear_registers(void) {
#if defined(__x86_64__)
    __asm__ volatile(
        "xor %%ebx, %%ebx\n\txor %%r12d, %%r12d\n\txor %%r13d, %%r13d\n\t"
        "xor %%r14d, %%r14d\n\txor %%r15d, %%r15d\n\txor %%eax, %%eax\n\t"
        "xor %%ecx, %%ecx\n\txor %%edx, %%edx\n\txor %%esi, %%esi\n\txor %%edi, %%edi\n\t"
        "xor %%r8d, %%r8d\n\txor %%r9d, %%r9d\n\txor %%r10d, %%r10d\n\txor %%r11d, %%r11d\n\t"
        "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\tpxor %%xmm3, %%xmm3\n\t"
        "pxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\tpxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\t"
        "pxor %%xmm8, %%xmm8\n\tpxor %%xmm9, %%xmm9\n\tpxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
        "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\tpxor %%xmm14, %%xmm14\n\tpxor %%xmm15, %%xmm15" ::
            : "rbx", "r12", "r13", "r14", "r15", "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "xmm0",
              "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
              "xmm13", "xmm14", "xmm15");
#elif defined(__aarch64__)
    __asm__ volatile("mov x19, xzr\n\tmov x20, xzr\n\tmov x21, xzr\n\tmov x22, xzr\n\tmov x23, xzr\n\t"
                     "mov x24, xzr\n\tmov x25, xzr\n\tmov x26, xzr\n\tmov x27, xzr\n\tmov x28, xzr\n\t"
                     "movi v0.16b, #0\n\tmovi v1.16b, #0\n\tmovi v2.16b, #0\n\tmovi v3.16b, #0" ::
                         : "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "v0", "v1", "v2",
                           "v3");
#endif
}

/* Zeroes the stack below the caller's frame, where the finalizers' frames
 * were: the frames of the next wait would otherwise cover stale addresses. */
static GORT_NOINLINE void clear_stack_below(void) {
    volatile char buf[32 << 10];
    memset((char *)buf, 0, sizeof buf);
    __asm__ volatile("" ::"r"(buf) : "memory");
}

/* Runs the finalizer at the queue's end, if any; in a frame of its own, so
 * that nothing of it stays on the stack the loop waits on. */
static GORT_NOINLINE bool run_one_finalizer(void) {
    gort__lock(&meta_lock, GORT_RANK_META);
    if (finq_n == 0) {
        gort__unlock(&meta_lock, GORT_RANK_META);
        return false;
    }
    finalizer f = finq[--finq_n];
    finq[finq_n].obj = 0;
    gort__unlock(&meta_lock, GORT_RANK_META);
    f.fn((void *)f.obj, f.arg); /* f.obj stays reachable from this frame meanwhile */
    atomic_fetch_add_explicit(&finalizers_run, 1, memory_order_relaxed);
    memset(&f, 0, sizeof f);
    __asm__ volatile("" ::"m"(f));
    return true;
}

static void *finalizer_main(void *arg) {
    (void)arg;
    /* started by the background collector thread, which blocks every
     * signal: this one must take the stop signal, and gort's flush request */
    sigset_t ours;
    sigemptyset(&ours);
    sigaddset(&ours, GC_SIGNAL);
    sigaddset(&ours, SIGURG);
    pthread_sigmask(SIG_UNBLOCK, &ours, NULL);
    gort_gc_register_thread();
    for (;;) {
        while (run_one_finalizer()) {}
        clear_stack_below();
        clear_registers();
        gort__lock(&meta_lock, GORT_RANK_META);
        while (finq_n == 0) pthread_cond_wait(&fin_cond, &meta_lock);
        gort__unlock(&meta_lock, GORT_RANK_META);
    }
    return NULL;
}

static void start_finalizer_thread(void) {
    gort__lock(&meta_lock, GORT_RANK_META);
    bool start = !fin_thread_started;
    fin_thread_started = true;
    gort__unlock(&meta_lock, GORT_RANK_META);
    if (!start) return;
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, finalizer_main, NULL) != 0) {
        gort__lock(&meta_lock, GORT_RANK_META);
        fin_thread_started = false;
        gort__unlock(&meta_lock, GORT_RANK_META);
    }
    pthread_attr_destroy(&a);
}

gort_weak *gort_weak_make(void *obj) {
    ensure_init();
    if (!obj) return NULL;
    uintptr_t base;
    if (!find_object((uintptr_t)obj, &base)) gort__fatal_addr("gort_weak_make: not a collected object", obj);
    gort_weak *w = gort_gc_alloc_noscan(sizeof *w);
    if (!w) return NULL;
    atomic_store_explicit(&w->obj, (uintptr_t)obj, memory_order_relaxed);
    w->base = base;
    gort__lock(&meta_lock, GORT_RANK_META);
    if (nweaks == weaks_cap && !grow_array((void **)&weaks, &weaks_cap, sizeof *weaks)) {
        gort__unlock(&meta_lock, GORT_RANK_META);
        gort__fatal("gort_weak_make: out of memory");
    }
    weaks[nweaks++] = w;
    gort__unlock(&meta_lock, GORT_RANK_META);
    return w;
}

void *gort_weak_get(gort_weak *w) { return w ? (void *)atomic_load_explicit(&w->obj, memory_order_relaxed) : NULL; }

/* The caller's struct is size bytes (gort/gc.h: fields are only added at the
 * end): the fields it holds are filled, and bytes past ours zeroed. */
void gort_gc_stats_sized(gort_gc_stats_t *out, size_t size) {
    gort_gc_stats_t buf, *st = size >= sizeof buf ? out : &buf;
    ensure_init();
    gort__lock(&gc_lock, GORT_RANK_GC);
    memset(st, 0, sizeof *st);
    st->num_gc = stats.num_gc;
    st->pause_total_ns = stats.pause_total;
    st->pause_max_ns = stats.pause_max;
    memcpy(st->pause_ns, stats.pause_ns, sizeof st->pause_ns);
    memcpy(st->pause_end_ns, stats.pause_end, sizeof st->pause_end_ns);
    st->heap_live = atomic_load_explicit(&heap_live, memory_order_relaxed);
    st->heap_marked = heap_marked;
    st->heap_goal = heap_goal;
    st->last_gc_ns = stats.last_gc_unix;
    uint64_t wall = now_ns(CLOCK_MONOTONIC) - start_mono;
    st->gc_cpu_fraction = wall ? (double)stats.gc_cpu_ns / ((double)wall * ncpu_online) : 0;
    st->num_forced_gc = stats.num_forced;
    st->objects_freed = atomic_load_explicit(&swept_objects, memory_order_relaxed);
    st->bytes_freed = atomic_load_explicit(&swept_bytes, memory_order_relaxed);
    st->finalizers_run = atomic_load_explicit(&finalizers_run, memory_order_relaxed);
    st->gc_percent = atomic_load_explicit(&gc_percent, memory_order_relaxed);
    st->memory_limit = atomic_load_explicit(&memory_limit, memory_order_relaxed);
    st->concurrent = last_concurrent;
    st->limiter_last_enabled = limiter_last_enabled;
    gort__unlock(&gc_lock, GORT_RANK_GC);
    if (st == &buf) memcpy(out, &buf, size);
    else if (size > sizeof buf) memset((char *)out + sizeof buf, 0, size - sizeof buf);
}

void gort__gc_stats_print(FILE *out, bool json) {
    if (!atomic_load_explicit(&gc_ready, memory_order_acquire)) return;
    gort_gc_stats_t st;
    gort_gc_stats(&st);
    uint64_t n = st.num_gc < 256 ? st.num_gc : 256;
    /* clang-format off */
#define GC_FIELDS(X)                                                                        \
    X(num_gc, "NumGC") X(num_forced_gc, "NumForcedGC") X(pause_total_ns, "PauseTotalNs")     \
    X(pause_max_ns, "PauseMaxNs") X(heap_live, "GCHeapLive") X(heap_marked, "GCHeapMarked")  \
    X(heap_goal, "NextGC") X(last_gc_ns, "LastGC") X(objects_freed, "GCObjectsFreed")        \
    X(bytes_freed, "GCBytesFreed") X(finalizers_run, "FinalizersRun")                         \
    X(limiter_last_enabled, "LimiterLastOn")
    /* clang-format on */
    if (json) {
        fprintf(out, ",\"gc\":{");
#define J(f, name) fprintf(out, "\"%s\":%llu,", #f, (unsigned long long)st.f);
        GC_FIELDS(J)
#undef J
        fprintf(out,
                "\"gc_percent\":%lld,\"memory_limit\":%lld,\"gc_cpu_fraction\":%.6f,\"concurrent\":%d,\"pause_ns\":[",
                (long long)st.gc_percent, (long long)st.memory_limit, st.gc_cpu_fraction, (int)st.concurrent);
        for (uint64_t i = 0; i < n; i++)
            fprintf(out, "%s%llu", i ? "," : "", (unsigned long long)st.pause_ns[(st.num_gc - n + i) % 256]);
        fprintf(out, "],\"pause_end_ns\":[");
        for (uint64_t i = 0; i < n; i++)
            fprintf(out, "%s%llu", i ? "," : "", (unsigned long long)st.pause_end_ns[(st.num_gc - n + i) % 256]);
        fprintf(out, "]}");
        return;
    }
    fprintf(out, "collector\n");
#define P(f, name) fprintf(out, "  %-14s %llu\n", name, (unsigned long long)st.f);
    GC_FIELDS(P)
#undef P
    fprintf(out, "  %-14s %lld\n  %-14s %lld\n  %-14s %.4f\n  %-14s %s\n  %-14s", "GOGC", (long long)st.gc_percent,
            "MemoryLimit", (long long)st.memory_limit, "GCCPUFraction", st.gc_cpu_fraction, "Marking",
            st.concurrent ? "concurrent" : "stop-the-world", "PauseNs");
    for (uint64_t i = n > 8 ? n - 8 : 0; i < n; i++)
        fprintf(out, " %llu", (unsigned long long)st.pause_ns[(st.num_gc - n + i) % 256]);
    fprintf(out, "%s\n", n ? " (latest last)" : "");
}

/* ---- sleeping through collections ----
 * Linux never restarts nanosleep and clock_nanosleep after a signal handler
 * ran: they fail with EINTR and the time left. A collection is not the
 * program's signal, so these wrappers (they take the place of libc's, for
 * the program and for sleep and usleep) sleep on when the only interruption
 * was a stop for a collection. A sleep interrupted by the program's own
 * signal still returns EINTR, unless a collection stopped the same thread
 * during the same sleep. */
typedef int (*clock_nanosleep_fn)(clockid_t, int, const struct timespec *, struct timespec *);
/* libc's clock_nanosleep, looked up once at load time: a lookup at a
 * thread's first sleep would take the dynamic loader's lock, which a fork
 * at that moment would leave held in the child. */
static _Atomic(clock_nanosleep_fn) real_clock_nanosleep_fn;
__attribute__((constructor)) static void find_clock_nanosleep(void) {
    atomic_store_explicit(&real_clock_nanosleep_fn, (clock_nanosleep_fn)dlsym(RTLD_NEXT, "clock_nanosleep"),
                          memory_order_release);
}
static clock_nanosleep_fn real_clock_nanosleep(void) {
    clock_nanosleep_fn f = atomic_load_explicit(&real_clock_nanosleep_fn, memory_order_acquire);
    if (!f) gort__fatal("dlsym(clock_nanosleep) failed");
    return f;
}

/* A relative sleep that a collection interrupts goes on to an absolute
 * deadline: the time it had left, from the end of that stop. Restarted
 * with the time left instead, a sleep that every stop interrupts as it
 * begins never ends while another thread collects back to back (a 100 us
 * sleep in a loop hung so); with the deadline, later pauses count toward
 * the sleep. A relative CLOCK_REALTIME sleep ignores changes to the clock,
 * so its deadline is on CLOCK_MONOTONIC. */
static struct timespec ts_add(struct timespec a, struct timespec b) {
    a.tv_sec += b.tv_sec;
    a.tv_nsec += b.tv_nsec;
    if (a.tv_nsec >= 1000000000) a.tv_sec++, a.tv_nsec -= 1000000000;
    return a;
}
static struct timespec ts_left(struct timespec deadline, struct timespec now) {
    struct timespec r = {deadline.tv_sec - now.tv_sec, deadline.tv_nsec - now.tv_nsec};
    if (r.tv_nsec < 0) r.tv_sec--, r.tv_nsec += 1000000000;
    if (r.tv_sec < 0) r.tv_sec = 0, r.tv_nsec = 0;
    return r;
}

GORT_API int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req, struct timespec *rem) {
    sig_atomic_t before = gc_tls.stops;
    struct timespec r;
    int e = real_clock_nanosleep()(clk, flags, req, &r);
    if (e != EINTR || gc_tls.stops == before) {
        if (e == EINTR && rem && !(flags & TIMER_ABSTIME)) *rem = r;
        return e;
    }
    /* A collection stopped this thread: sleep on to the deadline. */
    clockid_t dclk = clk == CLOCK_REALTIME && !(flags & TIMER_ABSTIME) ? CLOCK_MONOTONIC : clk;
    struct timespec deadline = *req;
    if (!(flags & TIMER_ABSTIME)) {
        struct timespec now;
        if (clock_gettime(dclk, &now) != 0) return EINVAL;
        deadline = ts_add(now, r);
    }
    for (;;) {
        before = gc_tls.stops;
        e = real_clock_nanosleep()(dclk, TIMER_ABSTIME, &deadline, NULL);
        if (e != EINTR || gc_tls.stops == before) break;
    }
    if (e == EINTR && rem && !(flags & TIMER_ABSTIME)) {
        struct timespec now;
        *rem = clock_gettime(dclk, &now) == 0 ? ts_left(deadline, now) : *req;
    }
    return e;
}

GORT_API int nanosleep(const struct timespec *req, struct timespec *rem) {
    if (req->tv_nsec < 0 || req->tv_nsec >= 1000000000 || req->tv_sec < 0) {
        errno = EINVAL;
        return -1;
    }
    int e = clock_nanosleep(CLOCK_REALTIME, 0, req, rem);
    if (e) {
        errno = e;
        return -1;
    }
    return 0;
}

GORT_API int usleep(useconds_t us) {
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    return nanosleep(&ts, NULL);
}

GORT_API unsigned sleep(unsigned secs) {
    struct timespec ts = {(time_t)secs, 0}, rem = {0, 0};
    if (nanosleep(&ts, &rem) == 0) return 0;
    return (unsigned)rem.tv_sec + (rem.tv_nsec != 0);
}

/* ---- fork ---- */
void gort__gc_fork_prepare(void) {
    gort__lock(&gc_lock, GORT_RANK_GC);
    gort__lock(&meta_lock, GORT_RANK_META);
    gort__lock(&sweep_lock, GORT_RANK_SWEEP);
}
void gort__gc_fork_parent(void) {
    gort__unlock(&sweep_lock, GORT_RANK_SWEEP);
    gort__unlock(&meta_lock, GORT_RANK_META);
    gort__unlock(&gc_lock, GORT_RANK_GC);
}
/* Only the forking thread lives on: the others' caches are never stopped
 * or scanned again; the markers and the finalizer thread start anew. */
void gort__gc_fork_child(void) {
    gort__lock(&gort__mcache_list_lock, GORT_RANK_MCACHE_LIST);
    for (gort_mcache *mc = gort__all_caches; mc; mc = mc->next_all)
        if (mc != gort__tls_gcself) mc->gc_skip = true;
    gort__unlock(&gort__mcache_list_lock, GORT_RANK_MCACHE_LIST);
    nworkers = 0;
    stop_last_sent = 0; /* the stopped threads are not in the child */
    work_idle = work_joined = 0;
    work_full = NULL;
    atomic_store_explicit(&work_nfull, 0, memory_order_relaxed);
    atomic_store_explicit(&work_joinable, false, memory_order_relaxed);
    pthread_mutex_init(&work_lock, NULL);
    pthread_cond_init(&work_cond, NULL);
    pthread_cond_init(&join_cond, NULL);
    pthread_cond_init(&joined_cond, NULL);
    pthread_cond_init(&fin_cond, NULL);
    fin_thread_started = false;
    pthread_cond_init(&sweep_cond, NULL); /* what the parent left unswept: the child's next cycle sweeps it */
    sweeper_started = false;
    /* a concurrent cycle the parent was running: its marks are dropped, and
     * the child's own thread and tracking start with its next cycle */
    if (bg_running) for_each_gc_span(clear_marks, NULL);
    pthread_mutex_init(&bg_lock, NULL);
    pthread_cond_init(&bg_cond, NULL);
    pthread_cond_init(&bg_done_cond, NULL);
    bg_started = bg_running = bg_forced = false;
    bg_requested = bg_done = 0;
    atomic_store_explicit(&bg_busy, false, memory_order_relaxed);
    gort__wtrack_fork_child();
}

/* ------------------------------------------------------------------ */
/* For channels (chan.c): the threads gort knows of, and whether the    */
/* collector is in use.                                                 */

/* Registered threads that the collector stops (marker threads and caches
 * left behind by fork are not counted); INT_MAX when the list is busy (a
 * collection holds its lock: a thread must not wait for it there). */
GORT_HIDDEN int gort__gc_count_threads(void);
int gort__gc_count_threads(void) {
    int n = 0;
    if (gort__trylock(&gort__mcache_list_lock, GORT_RANK_MCACHE_LIST) != 0) return INT_MAX;
    for (gort_mcache *mc = gort__all_caches; mc; mc = mc->next_all)
        if (!mc->gc_skip) n++;
    gort__unlock(&gort__mcache_list_lock, GORT_RANK_MCACHE_LIST);
    return n;
}
/* Whether the collector has been set up (a collected allocation, a root
 * registration or a collection happened). */
GORT_HIDDEN bool gort__gc_in_use(void);
bool gort__gc_in_use(void) { return atomic_load_explicit(&gc_ready, memory_order_acquire); }

/* The symbol of programs built before gort_gc_stats became a macro: they
 * pass the struct of gort 0.1.0, which ends with memory_limit. */
#undef gort_gc_stats
void gort_gc_stats(gort_gc_stats_t *st) {
    gort_gc_stats_sized(st, offsetof(gort_gc_stats_t, memory_limit) + sizeof st->memory_limit);
}
