/*
 * prof.c: the heap profile (Go's mprof.go, and pprof/protobuf.go for the
 * output). See docs/design.md, "The heap profile".
 *
 * Sampling. Each thread counts down the bytes to its next sample (tls_left),
 * drawn from an exponential distribution with mean gort__prof_rate (Go's
 * MemProfileRate, its fastexprand), so that every allocated byte is equally
 * likely to be sampled whatever the object sizes. The count lives in the slow
 * paths only: a refill (mcache.c) hands out one object and loads a word of up
 * to 64 free slots for the fast path; gort__prof_take charges that object,
 * and keeps in alloc_cache only the slots that the fast path may hand out
 * before the next sample is reached, giving the rest back to the span. So the
 * allocation that reaches a sample always comes through refill, and the
 * malloc fast path has no counter at all. Large objects are counted on their
 * own slow path. Off (rate 0), a refill pays one load and a branch.
 *
 * Samples. A sample is a record {object, bucket, span}; a bucket is Go's
 * (call stack, object size) with cumulative allocs and frees, never freed.
 * Records hang off their span (mspan.prof), so that free's fast path needs no
 * hook: a sampled object's free is noticed when its slot is loaded again for
 * allocation (gort__prof_word_loaded), when its span goes back to the page
 * heap (gort__prof_span_freed), and when a profile is written (its alloc bit
 * is clear or its cross-thread free bit set). The collector's sweep frees by
 * clearing alloc bits, so collected objects need nothing more.
 *
 * Stacks are walked along frame pointers, from the frame record of the
 * refill (or of an API entry that reached it by a call, gort__prof_frame),
 * bounded by the current thread's stack mapping (read once per thread from
 * /proc/self/maps with plain system calls), each frame above the last and
 * 8-aligned. No unwinder library: libgcc's takes the loader's lock and may
 * allocate on first use; a program built without frame pointers gives short
 * stacks, never a crash.
 *
 * Lock: prof_lock guards the buckets, the records and every mspan.prof list.
 * Nothing that allocates or takes another allocator lock runs under it (only
 * persistentalloc). It comes after mheap.lock in the lock order (the fork
 * handler takes it last). A thread inside the profile (tls_busy) is not
 * sampled.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gort/profile.h"
#include "internal.h"
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#define PROF_DEPTH 64          /* frames kept per stack (Go: 32) */
#define BUCKET_HASH (1u << 14) /* hash chains of buckets (128 KiB) */
#define DEFAULT_RATE (512 * 1024)

_Atomic size_t gort__prof_rate;
_Atomic bool gort__prof_on;
__thread void *const *gort__prof_frame __attribute__((tls_model("initial-exec")));

typedef struct bucket {
    struct bucket *next;    /* hash chain */
    struct bucket *allnext; /* every bucket */
    uint64_t hash;
    size_t size; /* the objects' size (the size class's) */
    uint64_t allocs, frees, alloc_bytes, free_bytes;
    uint32_t nstk;
    uintptr_t stk[]; /* return addresses, innermost first */
} bucket;

/* A live sample. Records are numbered from 1 (mspan.prof holds a number:
 * the span struct has 32 spare bits, not 64) and made in chunks of
 * REC_CHUNK, never unmapped. */
typedef struct rec {
    uintptr_t addr;
    bucket *b;
    gort_mspan *span;
    uint32_t id;             /* this record's number */
    uint32_t span_next;      /* the span's next sample, 0: none */
    struct rec *prev, *next; /* every live sample; next: the free list */
} rec;
#define REC_CHUNK 1024u   /* 56 KiB */
#define REC_CHUNKS 16384u /* at most 2^24 live samples (a directory of 128 KiB); past that, samples are dropped */

static pthread_mutex_t prof_lock = PTHREAD_MUTEX_INITIALIZER;
/* Out of line: inlined into the large functions here, GCC 12's UBSan null
 * check of the lock-rank state (a thread-local) read stale flags and
 * reported a null pointer in the ASan build. */
static GORT_NOINLINE void prof_lock_take(void) { gort__lock(&prof_lock, GORT_RANK_PROF); }
static GORT_NOINLINE void prof_lock_drop(void) { gort__unlock(&prof_lock, GORT_RANK_PROF); }
static bucket **buckhash; /* BUCKET_HASH chains; under prof_lock */
static bucket *allbuckets;
static size_t nbuckets, nstkwords;
static rec *live, *freerecs;
static uint64_t nlive;
static rec **rec_chunks; /* REC_CHUNKS chunk pointers */
static uint32_t rec_nchunks;

static inline rec *rec_at(uint32_t id) { return &rec_chunks[(id - 1) / REC_CHUNK][(id - 1) % REC_CHUNK]; }

/* Spans with samples. The span header has 16 spare bits, not room for a
 * pointer: mspan.prof is a slot number (0: no samples), and the slot holds
 * the number of the span's first sample. Slots are made SLOT_CHUNK at a time
 * and recycled; with all SPAN_SLOTS in use, samples in other spans are
 * dropped. A slot's chunk is published before any span gets its number, so
 * a reader without the lock may follow mspan.prof; it may see a slot that
 * was just freed or given to another span, which the record's span check
 * catches (word_may_free_sample). */
#define SLOT_CHUNK 1024u
#define SPAN_SLOTS 65535u
typedef struct span_slot {
    _Atomic uint32_t head; /* the span's first sample */
    uint32_t next_free;
} span_slot;
static span_slot *slot_chunks[(SPAN_SLOTS + SLOT_CHUNK) / SLOT_CHUNK];
static uint32_t nslots, free_slot;

static inline span_slot *slot_at(uint32_t i) { return &slot_chunks[(i - 1) / SLOT_CHUNK][(i - 1) % SLOT_CHUNK]; }

/* The span's first sample (0: none). Without the lock: a hint. */
static inline uint32_t span_head(gort_mspan *s) {
    uint32_t i = atomic_load_explicit(&s->prof, memory_order_acquire);
    return i ? atomic_load_explicit(&slot_at(i)->head, memory_order_acquire) : 0;
}

/* Sets the span's first sample; 0 frees its slot. false: no slot left. */
static bool span_set_head_locked(gort_mspan *s, uint32_t id) {
    gort__assert_held(GORT_RANK_PROF);
    uint32_t i = atomic_load_explicit(&s->prof, memory_order_relaxed);
    if (!id) {
        if (i) {
            atomic_store_explicit(&slot_at(i)->head, 0, memory_order_relaxed);
            slot_at(i)->next_free = free_slot;
            free_slot = i;
            atomic_store_explicit(&s->prof, 0, memory_order_relaxed);
        }
        return true;
    }
    if (!i) {
        if (free_slot) {
            i = free_slot;
            free_slot = slot_at(i)->next_free;
        } else {
            if (nslots == SPAN_SLOTS) return false;
            if (nslots % SLOT_CHUNK == 0) {
                span_slot *c = gort__persistent_alloc(SLOT_CHUNK * sizeof *c, 64);
                if (!c) return false;
                slot_chunks[nslots / SLOT_CHUNK] = c;
            }
            i = ++nslots;
        }
        atomic_store_explicit(&slot_at(i)->head, id, memory_order_release);
        atomic_store_explicit(&s->prof, (uint16_t)i, memory_order_release);
        return true;
    }
    atomic_store_explicit(&slot_at(i)->head, id, memory_order_release); /* the record's fields first */
    return true;
}

static __thread int64_t tls_left __attribute__((tls_model("initial-exec")));
static __thread bool tls_armed __attribute__((tls_model("initial-exec")));
static __thread int tls_busy __attribute__((tls_model("initial-exec")));
static __thread uint64_t tls_rng __attribute__((tls_model("initial-exec")));
static __thread uintptr_t tls_stk_lo __attribute__((tls_model("initial-exec")));
static __thread uintptr_t tls_stk_hi __attribute__((tls_model("initial-exec")));

/* ---- sampling intervals ---- */

/* ln(x) for x >= 1, without libm: x = 2^e * m, m in [1, 2), and
 * ln m = 2 atanh((m-1)/(m+1)) by its series (|z| <= 1/3: error < 1e-7). */
static double prof_ln(double x) {
    int e = 0;
    while (x >= 2) x *= 0.5, e++;
    double z = (x - 1) / (x + 1), z2 = z * z, t = z, s = 0;
    for (int k = 1; k <= 15; k += 2) s += t / k, t *= z2;
    return 2 * s + e * 0.6931471805599453;
}

/* exp(-a) for a >= 0 by halving and squaring. */
static double prof_exp_neg(double a) {
    if (a > 700) return 0;
    int n = 0;
    while (a > 1.0 / 64) a *= 0.5, n++;
    double s = 1, t = 1;
    for (int k = 1; k <= 8; k++) t *= -a / k, s += t;
    while (n--) s *= s;
    return s;
}

static uint64_t prof_rand(void) {
    if (!tls_rng) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        tls_rng =
            ((uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL) ^ (uintptr_t)&tls_rng ^ ((uint64_t)ts.tv_sec << 32) ^ 1;
    }
    tls_rng ^= tls_rng >> 12, tls_rng ^= tls_rng << 25, tls_rng ^= tls_rng >> 27;
    return tls_rng * 0x2545f4914f6cdd1dULL;
}

/* Bytes to the next sample: exponential with mean rate (Go's nextSample);
 * 0 for rate 1 (every allocation). */
static int64_t next_interval(size_t rate) {
    if (rate <= 1) return 0;
    /* q uniform in [1, 2^26], as Go's fastexprand: -ln(q / 2^26) * rate */
    double q = (double)(prof_rand() >> 38) + 1;
    double v = (26 * 0.6931471805599453 - prof_ln(q)) * (double)rate;
    if (v > (double)INT64_MAX / 2) v = (double)INT64_MAX / 2;
    return (int64_t)v + 1;
}

/* ---- stacks ---- */

static bool hexval(const char **pp, uintptr_t *out) {
    const char *p = *pp;
    uintptr_t v = 0;
    int n = 0;
    for (;; p++, n++) {
        int d;
        if (*p >= '0' && *p <= '9') d = *p - '0';
        else if (*p >= 'a' && *p <= 'f') d = *p - 'a' + 10;
        else break;
        v = v << 4 | (uintptr_t)d;
    }
    *pp = p;
    *out = v;
    return n > 0;
}

/* Calls fn(arg, line) for each line of /proc/self/maps, read with plain
 * system calls into a buffer on the stack (lines longer than it are cut). */
static void maps_each(void (*fn)(void *arg, const char *line), void *arg) {
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buf[4096];
    size_t have = 0;
    for (;;) {
        ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        have += (size_t)r;
        buf[have] = 0;
        char *line = buf, *nl;
        while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
            *nl = 0;
            fn(arg, line);
            line = nl + 1;
        }
        size_t rest = have - (size_t)(line - buf);
        if (rest == sizeof buf - 1) { /* a line longer than the buffer: its start only */
            fn(arg, buf);
            rest = 0;
        }
        memmove(buf, line, rest);
        have = rest;
    }
    if (have) {
        buf[have] = 0;
        fn(arg, buf);
    }
    close(fd);
}

struct find_stack {
    uintptr_t sp, lo, hi;
};
static void find_stack_line(void *arg, const char *line) {
    struct find_stack *f = arg;
    uintptr_t lo, hi;
    const char *p = line;
    if (!hexval(&p, &lo) || *p++ != '-' || !hexval(&p, &hi)) return;
    if (f->sp >= lo && f->sp < hi) f->lo = lo, f->hi = hi;
}

/* Fills pcs with the return addresses of the calling frames, innermost
 * first, starting with frame record `frame` = {saved frame pointer, return
 * address}; returns how many. */
/* Not instrumented by ASan: a frame pointer of code built without frame
 * pointers may point anywhere in the stack, a redzone included; the walk only
 * reads words inside the thread's stack mapping. */
static GORT_NOINLINE __attribute__((no_sanitize_address)) unsigned capture(void *const *frame, uintptr_t *pcs) {
    if (gort__prof_frame) frame = gort__prof_frame;
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    if (sp < tls_stk_lo || sp >= tls_stk_hi) {
        struct find_stack f = {sp, 0, 0};
        maps_each(find_stack_line, &f);
        tls_stk_lo = f.lo;
        tls_stk_hi = f.hi;
    }
    uintptr_t lo = sp, hi = tls_stk_hi;
    unsigned n = 0;
    pcs[n++] = (uintptr_t)frame[1];
    uintptr_t fp = (uintptr_t)frame[0];
    while (n < PROF_DEPTH) {
        /* a frame record inside this thread's stack, above the last one */
        if ((fp & 7) || fp < lo || fp > hi - 16 || hi < 16) break;
        uintptr_t next = ((const uintptr_t *)fp)[0], ret = ((const uintptr_t *)fp)[1];
        if (ret < 4096 || (ret >> 47)) break;
        pcs[n++] = ret;
        if (next <= fp) break;
        lo = fp + 16;
        fp = next;
    }
    return n;
}

/* ---- buckets and records (prof_lock held) ---- */

static uint64_t stack_hash(const uintptr_t *pcs, unsigned n, size_t size) {
    uint64_t h = 0xcbf29ce484222325ULL ^ size;
    for (unsigned i = 0; i < n; i++) {
        h ^= pcs[i];
        h *= 0x100000001b3ULL;
        h ^= h >> 29;
    }
    return h;
}

static bucket *bucket_find_locked(const uintptr_t *pcs, unsigned n, size_t size) {
    gort__assert_held(GORT_RANK_PROF);
    if (!buckhash) {
        buckhash = gort__persistent_alloc(BUCKET_HASH * sizeof *buckhash, 64);
        if (!buckhash) return NULL;
    }
    uint64_t h = stack_hash(pcs, n, size);
    bucket **chain = &buckhash[h & (BUCKET_HASH - 1)];
    for (bucket *b = *chain; b; b = b->next)
        if (b->hash == h && b->size == size && b->nstk == n && memcmp(b->stk, pcs, n * sizeof *pcs) == 0) return b;
    bucket *b = gort__persistent_alloc(sizeof *b + n * sizeof *pcs, 8);
    if (!b) return NULL;
    b->hash = h;
    b->size = size;
    b->nstk = n;
    memcpy(b->stk, pcs, n * sizeof *pcs);
    b->next = *chain;
    *chain = b;
    b->allnext = allbuckets;
    allbuckets = b;
    nbuckets++;
    nstkwords += n;
    return b;
}

static rec *rec_alloc_locked(void) {
    gort__assert_held(GORT_RANK_PROF);
    if (!freerecs) {
        if (!rec_chunks && !(rec_chunks = gort__persistent_alloc(REC_CHUNKS * sizeof *rec_chunks, 64))) return NULL;
        if (rec_nchunks == REC_CHUNKS) return NULL;
        rec *r = gort__persistent_alloc(REC_CHUNK * sizeof *r, 64);
        if (!r) return NULL;
        for (uint32_t i = 0; i < REC_CHUNK; i++) {
            r[i].id = rec_nchunks * REC_CHUNK + i + 1;
            r[i].next = i + 1 < REC_CHUNK ? &r[i + 1] : NULL;
        }
        rec_chunks[rec_nchunks++] = r;
        freerecs = r;
    }
    rec *r = freerecs;
    freerecs = r->next;
    return r;
}

/* r's object is freed: counts it, unlinks it from the live list (not from
 * its span's list: the caller does) and recycles it. */
static void rec_dead_locked(rec *r) {
    gort__assert_held(GORT_RANK_PROF);
    r->b->frees++;
    r->b->free_bytes += r->b->size;
    if (r->prev) r->prev->next = r->next;
    else live = r->next;
    if (r->next) r->next->prev = r->prev;
    nlive--;
    r->next = freerecs;
    freerecs = r;
}

static void record(void *p, gort_mspan *s, size_t size, void *const *frame) {
    uintptr_t pcs[PROF_DEPTH];
    unsigned n = capture(frame, pcs);
    tls_busy++;
    prof_lock_take();
    bucket *b = bucket_find_locked(pcs, n, size);
    rec *r = b ? rec_alloc_locked() : NULL;
    if (r) {
        /* addr, span and span_next are read without the lock too
         * (word_may_free_sample): set before the record is linked, and
         * span_next with release (a reader that sees it sees the span) */
        __atomic_store_n(&r->addr, (uintptr_t)p, __ATOMIC_RELAXED);
        r->b = b;
        __atomic_store_n(&r->span, s, __ATOMIC_RELAXED);
        __atomic_store_n(&r->span_next, span_head(s), __ATOMIC_RELEASE);
        if (!span_set_head_locked(s, r->id)) { /* no span slot left: the sample is dropped */
            r->next = freerecs;
            freerecs = r;
            r = NULL;
        }
    }
    if (r) {
        b->allocs++;
        b->alloc_bytes += size;
        r->prev = NULL;
        r->next = live;
        if (live) live->prev = r;
        live = r;
        nlive++;
    }
    prof_lock_drop();
    tls_busy--;
}

/* ---- hooks of the allocator ---- */

/* POPCNT when the CPU has it (checked at start-up): the build targets
 * baseline x86-64, where gort__popcount is a dozen instructions, and every
 * refill counts its word's slots while profiling. */
#if defined(__x86_64__)
static bool prof_popcnt;
#endif
static inline unsigned prof_popcount(uint64_t c) {
#if defined(__x86_64__)
    if (GORT_LIKELY(prof_popcnt)) {
        uint64_t n;
        __asm__("popcntq %1, %0" : "=r"(n) : "rm"(c) : "cc");
        return (unsigned)n;
    }
#endif
    return gort__popcount(c);
}

/* Without the lock: may a sample of s lie in the slots `free` of word w?
 * Only the owner (the caller) adds samples to s; other threads only unlink
 * dead ones, and may reuse their records for other spans, which the span
 * check sees: then, and past a few samples, the answer is yes. */
static bool word_may_free_sample(gort_mspan *s, unsigned w, uint64_t free) {
    uint32_t id = span_head(s);
    for (int k = 0; id && k < 8; k++) {
        rec *r = rec_at(id);
        if (__atomic_load_n(&r->span, __ATOMIC_RELAXED) != s) return true;
        uintptr_t a = __atomic_load_n(&r->addr, __ATOMIC_RELAXED);
        uintptr_t idx = gort__span_obj_index(s, a);
        if ((idx >> 6) == w && (free >> (idx & 63) & 1)) return true;
        id = __atomic_load_n(&r->span_next, __ATOMIC_ACQUIRE);
        /* r freed and made again for another span meanwhile: its span_next
         * may lead elsewhere */
        if (__atomic_load_n(&r->span, __ATOMIC_RELAXED) != s) return true;
    }
    return id != 0;
}

static void word_loaded(gort_mspan *s, unsigned w, uint64_t free);

/* The rest of gort__prof_take, reached by a tail jump: its frame record
 * {saved frame pointer, return address} is where the sample's stack starts,
 * since malloc reaches the refill, the refill gort__prof_take, and that this
 * function, by tail jumps: its caller is the program's. */
static GORT_NOINLINE void *prof_take_slow(gort_mcache *mc, gort_mspan *s) {
    void *const *frame = __builtin_frame_address(0);
    /* The refill has just loaded word cache_word: its slots coming back
     * were freed (every load of a word is a refill's; gort__prof_on stays
     * set, so none is missed while samples live). */
    if (atomic_load_explicit(&s->prof, memory_order_relaxed) && word_may_free_sample(s, s->cache_word, s->alloc_cache))
        word_loaded(s, s->cache_word, s->alloc_cache);
    void *p = gort__span_take(s, s->alloc_cache);
    size_t rate = atomic_load_explicit(&gort__prof_rate, memory_order_relaxed);
    if (rate == 0 || tls_busy) return p;
    int64_t size = (int64_t)s->elemsize;
    if (!tls_armed) {
        tls_left = next_interval(rate);
        tls_armed = true;
    }
    bool sample = size >= tls_left;
    if (sample) tls_left = next_interval(rate);
    else tls_left -= size;
    /* The fast path may hand out m more objects of this size before the
     * next sample: allocation j after this one reaches it when
     * j * size >= tls_left. Keep m slots (the lowest, which go first). */
    uint64_t c = s->alloc_cache;
    if (c) {
        int64_t j = tls_left <= 0 ? 1 : (tls_left + size - 1) / size;
        uint64_t m = (uint64_t)(j - 1);
        unsigned have = prof_popcount(c);
        if (have > m) {
            /* the lowest m set bits of c: below the smallest p with m of
             * them under it (a binary search on popcounts) */
            unsigned lo = 0, hi = 64;
            while (lo < hi) {
                unsigned mid = (lo + hi) / 2;
                if (prof_popcount(c & (((uint64_t)1 << mid) - 1)) >= m) hi = mid;
                else lo = mid + 1;
            }
            uint64_t keep = lo == 64 ? c : c & (((uint64_t)1 << lo) - 1);
            s->alloc_cache = keep;
            unsigned dropped = have - (unsigned)m;
            s->alloc_count = (uint16_t)(s->alloc_count - dropped);
            gort__stat_add(&mc->nmalloc[gort__spc_class(s->spanclass)], (uint64_t) - (int64_t)dropped);
            have = (unsigned)m;
        }
        tls_left -= (int64_t)have * size;
    }
    if (sample) record(p, s, (size_t)size, frame);
    return p;
}

/* The span has samples: when none lies in the word just loaded (checked
 * without the lock) and the next sample is beyond the word, as the fast
 * case; else the slow path. Tail jumps only, as gort__prof_take. */
static GORT_NOINLINE void *prof_take_spanned(gort_mcache *mc, gort_mspan *s, int64_t charge) {
    uint64_t c = s->alloc_cache;
    if (charge < tls_left && !word_may_free_sample(s, s->cache_word, c)) {
        tls_left -= charge;
        return gort__span_take(s, c);
    }
    return prof_take_slow(mc, s);
}

void *gort__prof_take(gort_mcache *mc, gort_mspan *s) {
    /* Most refills: every slot of the word just loaded lies before the
     * thread's next sample, and the span has no samples. tls_left starts at
     * 0, so a thread's first refill takes the slow path, which arms it. */
    uint64_t c = s->alloc_cache;
    int64_t charge = (int64_t)s->elemsize * (int64_t)prof_popcount(c);
    if (GORT_LIKELY(charge < tls_left && !atomic_load_explicit(&s->prof, memory_order_relaxed))) {
        tls_left -= charge;
        return gort__span_take(s, c);
    }
    return prof_take_spanned(mc, s, charge); /* only tail jumps here: no frame, no saved registers */
}

void gort__prof_large(gort_mspan *s, void *const *frame) {
    size_t rate = atomic_load_explicit(&gort__prof_rate, memory_order_relaxed);
    if (rate == 0 || tls_busy) return;
    int64_t size = (int64_t)s->elemsize;
    if (!tls_armed) {
        tls_left = next_interval(rate);
        tls_armed = true;
    }
    if (size < tls_left) {
        tls_left -= size;
        return;
    }
    tls_left = next_interval(rate);
    record((void *)s->base, s, (size_t)size, frame);
}

/* Unlinks r from its span's list. */
static void span_unlink_locked(gort_mspan *s, rec *r) {
    gort__assert_held(GORT_RANK_PROF);
    uint32_t id = span_head(s);
    if (id == r->id) {
        span_set_head_locked(s, r->span_next); /* the last one: frees the slot */
        return;
    }
    while (id) {
        rec *q = rec_at(id);
        if (q->span_next == r->id) {
            __atomic_store_n(&q->span_next, r->span_next, __ATOMIC_RELAXED);
            return;
        }
        id = q->span_next;
    }
}

/* Word w of s, which has samples, was loaded with free slots `free`:
 * samples in those slots were freed. */
static void word_loaded(gort_mspan *s, unsigned w, uint64_t free) {
    prof_lock_take();
    for (uint32_t id = span_head(s), next; id; id = next) {
        rec *r = rec_at(id);
        next = r->span_next;
        uintptr_t idx = gort__span_obj_index(s, r->addr);
        if ((idx >> 6) == w && (free >> (idx & 63) & 1)) {
            span_unlink_locked(s, r);
            rec_dead_locked(r);
        }
    }
    prof_lock_drop();
}

void gort__prof_span_freed(gort_mspan *s) {
    prof_lock_take();
    uint32_t id = span_head(s);
    span_set_head_locked(s, 0);
    while (id) {
        rec *r = rec_at(id);
        id = r->span_next;
        rec_dead_locked(r);
    }
    prof_lock_drop();
}

void gort__prof_fork_lock(int how) {
    if (how == 0) prof_lock_take();
    else prof_lock_drop();
}

/* Drops the samples whose objects are free now. A small object is live while
 * its alloc bit is set and its cross-thread free bit clear. The owner thread
 * changes its span's bits without locks: these reads race with it, and at
 * worst count a sample freed this instant as live (each is a whole-word
 * read). */
static void sweep_dead_locked(void) {
    gort__assert_held(GORT_RANK_PROF);
    for (rec *r = live, *next; r; r = next) {
        next = r->next;
        gort_mspan *s = r->span;
        if (gort__spc_class(s->spanclass) == 0) continue; /* freed only with its span */
        uintptr_t idx = gort__span_obj_index(s, r->addr);
        uint64_t bit = (uint64_t)1 << (idx & 63);
        uint64_t a = __atomic_load_n(&s->words[idx >> 6].alloc, __ATOMIC_RELAXED);
        /* a collected span's objects are never freed by hand: only its alloc
         * bits say (its xfree words may hold the collector's mark bits) */
        uint64_t x =
            gort__spc_is_gc(s->spanclass) ? 0 : atomic_load_explicit(&s->words[idx >> 6].xfree, memory_order_relaxed);
        if ((a & bit) && !(x & bit)) continue;
        span_unlink_locked(s, r);
        rec_dead_locked(r);
    }
}

/* ---- the public knobs ---- */

void gort_heap_profile_set_rate(size_t bytes) {
    atomic_store_explicit(&gort__prof_rate, bytes, memory_order_relaxed);
    if (bytes) atomic_store_explicit(&gort__prof_on, true, memory_order_relaxed);
}
size_t gort_heap_profile_rate(void) { return atomic_load_explicit(&gort__prof_rate, memory_order_relaxed); }

/* ---- output: pprof's profile.proto ---- */

/* A growing byte buffer in memory from the OS (the writer must not call
 * malloc while it holds prof_lock, and should not disturb the heap it
 * describes). */
typedef struct pbuf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} pbuf;

static bool pb_reserve(pbuf *b, size_t more) {
    if (b->oom) return false;
    if (b->n + more <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->n + more) cap *= 2;
    uint8_t *q = gort__sys_alloc(cap);
    if (!q) {
        b->oom = true;
        return false;
    }
    if (b->p) {
        memcpy(q, b->p, b->n);
        gort__sys_free(b->p, b->cap, GORT_OS_READY);
    }
    b->p = q;
    b->cap = cap;
    return true;
}
static void pb_release(pbuf *b) {
    if (b->p) gort__sys_free(b->p, b->cap, GORT_OS_READY);
    b->p = NULL;
    b->n = b->cap = 0;
}
static void pb_raw(pbuf *b, const void *d, size_t n) {
    if (!pb_reserve(b, n)) return;
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void pb_varint(pbuf *b, uint64_t v) {
    uint8_t t[10];
    size_t n = 0;
    while (v >= 0x80) t[n++] = (uint8_t)(v | 0x80), v >>= 7;
    t[n++] = (uint8_t)v;
    pb_raw(b, t, n);
}
enum { WIRE_VARINT = 0, WIRE_BYTES = 2 };
static void pb_key(pbuf *b, unsigned field, unsigned wire) { pb_varint(b, (uint64_t)field << 3 | wire); }
static void pb_uint(pbuf *b, unsigned field, uint64_t v) { /* proto3: zero is the default, left out */
    if (!v) return;
    pb_key(b, field, WIRE_VARINT);
    pb_varint(b, v);
}
static void pb_bytes(pbuf *b, unsigned field, const void *d, size_t n) {
    pb_key(b, field, WIRE_BYTES);
    pb_varint(b, n);
    pb_raw(b, d, n);
}
static void pb_msg(pbuf *b, unsigned field, pbuf *m) { pb_bytes(b, field, m->p, m->n); }

/* profile.proto's field numbers */
enum {
    P_SAMPLE_TYPE = 1,
    P_SAMPLE = 2,
    P_MAPPING = 3,
    P_LOCATION = 4,
    P_STRING = 6,
    P_TIME = 9,
    P_PERIOD_TYPE = 11,
    P_PERIOD = 12,
    P_DEFAULT_TYPE = 14,
    VT_TYPE = 1,
    VT_UNIT = 2,
    S_LOCATION = 1,
    S_VALUE = 2,
    S_LABEL = 3,
    L_KEY = 1,
    L_NUM = 3,
    L_NUM_UNIT = 4,
    M_ID = 1,
    M_START = 2,
    M_LIMIT = 3,
    M_OFFSET = 4,
    M_FILE = 5,
    LOC_ID = 1,
    LOC_MAPPING = 2,
    LOC_ADDRESS = 3,
};
/* fixed strings of the table, in order from index 0 */
static const char *const fixed_strings[] = {"",      "alloc_objects", "count",       "alloc_space",
                                            "bytes", "inuse_objects", "inuse_space", "space"};
enum {
    STR_ALLOC_OBJECTS = 1,
    STR_COUNT,
    STR_ALLOC_SPACE,
    STR_BYTES,
    STR_INUSE_OBJECTS,
    STR_INUSE_SPACE,
    STR_SPACE,
    STR_FIXED
};

static void value_type(pbuf *b, pbuf *m, unsigned field, uint64_t type, uint64_t unit) {
    m->n = 0;
    pb_uint(m, VT_TYPE, type);
    pb_uint(m, VT_UNIT, unit);
    pb_msg(b, field, m);
}

/* Go's scaleHeapSample: a sampled count and size stand for count / (1 -
 * exp(-avg / rate)) objects, the chance that an object of the average size
 * is sampled being 1 - exp(-size / rate). */
static void scale_sample(uint64_t count, uint64_t size, size_t rate, int64_t *oc, int64_t *os) {
    if (count == 0 || size == 0) {
        *oc = *os = 0;
        return;
    }
    if (rate <= 1) {
        *oc = (int64_t)count;
        *os = (int64_t)size;
        return;
    }
    double a = (double)size / (double)count / (double)rate, p;
    if (a < 1.0 / 64) { /* 1 - exp(-a) by its series: no cancellation */
        p = a * (1 - a / 2 * (1 - a / 3 * (1 - a / 4 * (1 - a / 5))));
    } else {
        p = 1 - prof_exp_neg(a);
    }
    *oc = (int64_t)((double)count / p);
    *os = (int64_t)((double)size / p);
}

typedef struct mapping {
    uintptr_t start, limit, offset;
    char path[256];
} mapping;
typedef struct maplist {
    mapping *m;
    size_t n, cap;
    pbuf mem;
} maplist;

static void mapping_line(void *arg, const char *line) {
    maplist *ml = arg;
    uintptr_t lo, hi, off;
    const char *p = line;
    if (!hexval(&p, &lo) || *p++ != '-' || !hexval(&p, &hi) || *p++ != ' ') return;
    if (!(p[0] && p[1] && p[2] == 'x')) return; /* executable mappings only, as Go's */
    p += 4;
    if (*p++ != ' ' || !hexval(&p, &off)) return;
    const char *path = strchr(p, '/');
    if (!path) return; /* anonymous, [vdso], ... */
    if (ml->n == ml->cap) {
        size_t cap = ml->cap ? ml->cap * 2 : 64;
        pbuf nb = {0};
        if (!pb_reserve(&nb, cap * sizeof(mapping))) return;
        if (ml->n) memcpy(nb.p, ml->m, ml->n * sizeof(mapping));
        pb_release(&ml->mem);
        ml->mem = nb;
        ml->m = (mapping *)nb.p;
        ml->cap = cap;
    }
    mapping *m = &ml->m[ml->n++];
    m->start = lo;
    m->limit = hi;
    m->offset = off;
    size_t len = strlen(path);
    if (len >= 10 && strcmp(path + len - 10, " (deleted)") == 0) len -= 10;
    if (len >= sizeof m->path) len = sizeof m->path - 1;
    memcpy(m->path, path, len);
    m->path[len] = 0;
}

static uint64_t mapping_of(const maplist *ml, uintptr_t a) {
    for (size_t i = 0; i < ml->n; i++)
        if (a >= ml->m[i].start && a < ml->m[i].limit) return i + 1;
    return 0;
}

/* The snapshot of the buckets, as words: allocs, frees, alloc_bytes,
 * free_bytes, size, nstk, stk[nstk]. */
static bool snapshot(pbuf *snap, size_t *nb) {
    for (;;) {
        prof_lock_take();
        size_t want = (nbuckets * 6 + nstkwords) * 8;
        prof_lock_drop();
        snap->n = 0;
        if (!pb_reserve(snap, want + 8)) return false;
        prof_lock_take();
        if ((nbuckets * 6 + nstkwords) * 8 > snap->cap) { /* grew meanwhile */
            prof_lock_drop();
            continue;
        }
        sweep_dead_locked();
        uint64_t *w = (uint64_t *)snap->p;
        size_t k = 0;
        *nb = 0;
        for (bucket *b = allbuckets; b; b = b->allnext) {
            w[k++] = b->allocs;
            w[k++] = b->frees;
            w[k++] = b->alloc_bytes;
            w[k++] = b->free_bytes;
            w[k++] = b->size;
            w[k++] = b->nstk;
            for (uint32_t i = 0; i < b->nstk; i++) w[k++] = b->stk[i];
            ++*nb;
        }
        snap->n = k * 8;
        prof_lock_drop();
        return true;
    }
}

/* Locations: one per distinct address, in an open-addressing table. */
typedef struct loctab {
    uintptr_t *addr;
    size_t cap;
    pbuf mem;
} loctab;
static uint64_t loc_id(loctab *t, uintptr_t a) {
    size_t i = (size_t)((a * 0x9e3779b97f4a7c15ULL) >> 20) & (t->cap - 1);
    while (t->addr[i] && t->addr[i] != a) i = (i + 1) & (t->cap - 1);
    t->addr[i] = a;
    return i + 1;
}

static int encode(pbuf *out, size_t rate) {
    pbuf snap = {0}, m = {0}, m2 = {0};
    maplist ml = {0};
    loctab lt = {0};
    size_t nb;
    int ret = -1;
    if (!snapshot(&snap, &nb)) goto done;
    maps_each(mapping_line, &ml);
    /* the location table: twice the distinct addresses at most */
    size_t words = snap.n / 8, npcs = words > 6 * nb ? words - 6 * nb : 0;
    lt.cap = 64;
    while (lt.cap < 2 * npcs + 2) lt.cap *= 2;
    if (!pb_reserve(&lt.mem, lt.cap * sizeof(uintptr_t))) goto done;
    memset(lt.mem.p, 0, lt.cap * sizeof(uintptr_t));
    lt.addr = (uintptr_t *)lt.mem.p;

    value_type(out, &m, P_SAMPLE_TYPE, STR_ALLOC_OBJECTS, STR_COUNT);
    value_type(out, &m, P_SAMPLE_TYPE, STR_ALLOC_SPACE, STR_BYTES);
    value_type(out, &m, P_SAMPLE_TYPE, STR_INUSE_OBJECTS, STR_COUNT);
    value_type(out, &m, P_SAMPLE_TYPE, STR_INUSE_SPACE, STR_BYTES);
    const uint64_t *w = (const uint64_t *)snap.p;
    for (size_t k = 0, b = 0; b < nb; b++) {
        uint64_t allocs = w[k], frees = w[k + 1], abytes = w[k + 2], fbytes = w[k + 3], size = w[k + 4],
                 nstk = w[k + 5];
        const uint64_t *stk = &w[k + 6];
        k += 6 + nstk;
        int64_t v[4];
        scale_sample(allocs, abytes, rate, &v[0], &v[1]);
        scale_sample(allocs - frees, abytes - fbytes, rate, &v[2], &v[3]);
        m.n = 0;
        /* packed location ids; a return address minus one lies in its call */
        m2.n = 0;
        for (uint64_t i = 0; i < nstk; i++) pb_varint(&m2, loc_id(&lt, (uintptr_t)stk[i] - 1));
        pb_msg(&m, S_LOCATION, &m2);
        m2.n = 0;
        for (int i = 0; i < 4; i++) pb_varint(&m2, (uint64_t)v[i]);
        pb_msg(&m, S_VALUE, &m2);
        m2.n = 0; /* Go's label: bytes = the object size */
        pb_uint(&m2, L_KEY, STR_BYTES);
        pb_uint(&m2, L_NUM, size);
        pb_msg(&m, S_LABEL, &m2);
        pb_msg(out, P_SAMPLE, &m);
    }
    for (size_t i = 0; i < ml.n; i++) {
        m.n = 0;
        pb_uint(&m, M_ID, i + 1);
        pb_uint(&m, M_START, ml.m[i].start);
        pb_uint(&m, M_LIMIT, ml.m[i].limit);
        pb_uint(&m, M_OFFSET, ml.m[i].offset);
        pb_uint(&m, M_FILE, STR_FIXED + i);
        pb_msg(out, P_MAPPING, &m);
    }
    for (size_t i = 0; i < lt.cap; i++) {
        if (!lt.addr[i]) continue;
        m.n = 0;
        pb_uint(&m, LOC_ID, i + 1);
        pb_uint(&m, LOC_MAPPING, mapping_of(&ml, lt.addr[i]));
        pb_uint(&m, LOC_ADDRESS, lt.addr[i]);
        pb_msg(out, P_LOCATION, &m);
    }
    for (size_t i = 0; i < STR_FIXED; i++) pb_bytes(out, P_STRING, fixed_strings[i], strlen(fixed_strings[i]));
    for (size_t i = 0; i < ml.n; i++) pb_bytes(out, P_STRING, ml.m[i].path, strlen(ml.m[i].path));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pb_uint(out, P_TIME, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    value_type(out, &m, P_PERIOD_TYPE, STR_SPACE, STR_BYTES);
    pb_uint(out, P_PERIOD, rate);
    pb_uint(out, P_DEFAULT_TYPE, STR_INUSE_SPACE);
    ret = out->oom || m.oom || m2.oom ? -1 : 0;
done:
    pb_release(&snap);
    pb_release(&m);
    pb_release(&m2);
    pb_release(&ml.mem);
    pb_release(&lt.mem);
    if (ret) errno = ENOMEM;
    return ret;
}

int gort_heap_profile_write(FILE *out) {
    if (!out) {
        errno = EINVAL;
        return -1;
    }
    tls_busy++;
    pbuf b = {0};
    int ret = encode(&b, atomic_load_explicit(&gort__prof_rate, memory_order_relaxed));
    if (ret == 0 && (fwrite(b.p, 1, b.n, out) != b.n || fflush(out) != 0)) {
        if (!errno) errno = EIO;
        ret = -1;
    }
    pb_release(&b);
    tls_busy--;
    return ret;
}

/* ---- the environment: GORT_MEMPROFILE, GORT_MEMPROFILE_SIGNAL, GORT_HEAPVIEW ----
 * Both files are written at exit (by the process that read the environment,
 * not by a forked child), and with GORT_MEMPROFILE_SIGNAL=1 on each SIGUSR2,
 * by a thread that waits on a pipe: the handler only writes a byte to it. */

static char memprofile_path[4096], heapview_path[4096];
static pid_t init_pid;
static int sig_pipe[2] = {-1, -1};

static void say(const char *a, const char *b, const char *c) {
    char line[4400];
    snprintf(line, sizeof line, "gort: %s%s%s\n", a, b, c);
    if (write(2, line, strlen(line)) < 0) return;
}

/* path with each "%p" replaced by the process id */
static void expand(const char *path, char *out, size_t cap) {
    size_t n = 0;
    for (const char *p = path; *p && n + 24 < cap; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            n += (size_t)snprintf(out + n, cap - n, "%ld", (long)getpid());
            p++;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = 0;
}

/* Writes to a temporary name and renames, so that a reader never sees half
 * a file. */
static void write_file(const char *var, const char *path, int (*fn)(FILE *)) {
    static _Atomic unsigned ntmp;
    char final[4200], tmp[4300];
    expand(path, final, sizeof final);
    snprintf(tmp, sizeof tmp, "%s.tmp%ld.%u", final, (long)getpid(), atomic_fetch_add(&ntmp, 1));
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        say(var, ": cannot create ", final);
        return;
    }
    int r = fn(f);
    if (fclose(f) != 0) r = -1;
    if (r != 0 || rename(tmp, final) != 0) {
        say(var, ": cannot write ", final);
        unlink(tmp);
    }
}

static void at_exit(void) {
    if (getpid() != init_pid) return; /* a forked child that exits: the parent's file stays */
    if (memprofile_path[0]) write_file("GORT_MEMPROFILE", memprofile_path, gort_heap_profile_write);
    if (heapview_path[0]) write_file("GORT_HEAPVIEW", heapview_path, gort_heap_svg);
}

static void on_sigusr2(int sig) {
    (void)sig;
    int e = errno;
    if (sig_pipe[1] >= 0 && write(sig_pipe[1], "", 1) < 0) { /* full: a write is pending anyway */
    }
    errno = e;
}

static void *signal_writer(void *arg) {
    (void)arg;
    char c;
    for (;;) {
        ssize_t r = read(sig_pipe[0], &c, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return NULL;
        if (getpid() != init_pid) return NULL;
        if (memprofile_path[0]) write_file("GORT_MEMPROFILE", memprofile_path, gort_heap_profile_write);
        if (heapview_path[0]) write_file("GORT_HEAPVIEW", heapview_path, gort_heap_svg);
    }
}

/* GORT_HEAPVIEW_EVERY: snapshot n is BASE.n.svg (the picture) and
 * BASE.n.json ({"t_ms": ms since start-up, "stats": gort_stats_print_json}),
 * BASE being GORT_HEAPVIEW less a .svg suffix; tools/heapview_live.py makes
 * one page of them. */
static uint32_t every_ms;
static struct timespec start_time;

static int write_stats_json(FILE *f) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ms = (long long)(now.tv_sec - start_time.tv_sec) * 1000 + (now.tv_nsec - start_time.tv_nsec) / 1000000;
    fprintf(f, "{\"t_ms\":%lld,\"stats\":", ms);
    gort_stats_print_json(f);
    fprintf(f, "}\n");
    return ferror(f) ? -1 : 0;
}

static void *snapshot_writer(void *arg) {
    (void)arg;
    char base[4096], name[4200];
    snprintf(base, sizeof base, "%s", heapview_path);
    size_t len = strlen(base);
    if (len > 4 && strcmp(base + len - 4, ".svg") == 0) base[len - 4] = 0;
    for (unsigned n = 1;; n++) {
        struct timespec d = {every_ms / 1000, (long)(every_ms % 1000) * 1000000};
        while (nanosleep(&d, &d) != 0 && errno == EINTR) {}
        if (getpid() != init_pid) return NULL;
        snprintf(name, sizeof name, "%s.%u.svg", base, n);
        write_file("GORT_HEAPVIEW_EVERY", name, gort_heap_svg);
        snprintf(name, sizeof name, "%s.%u.json", base, n);
        write_file("GORT_HEAPVIEW_EVERY", name, write_stats_json);
    }
}

/* A thread that takes no signals but the collector's stop signal (SIGPWR: a
 * thread that allocates is one the collector stops) and the synchronous
 * ones. */
static int start_quiet_thread(void *(*fn)(void *)) {
    pthread_t t;
    pthread_attr_t attr;
    sigset_t all, old;
    sigfillset(&all);
    static const int keep[] = {SIGPWR, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) sigdelset(&all, keep[i]);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&t, &attr, fn, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return e;
}

static void start_signal_writer(void) {
    if (pipe2(sig_pipe, O_CLOEXEC) != 0) goto fail;
    fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK);
    int e = start_quiet_thread(signal_writer);
    if (e != 0) {
        errno = e;
        goto fail;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr2;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR2, &sa, NULL) != 0) goto fail;
    return;
fail:
    say("GORT_MEMPROFILE_SIGNAL: cannot set up the SIGUSR2 writer: ", strerror(errno), "");
}

void gort__prof_init(void) {
    const gort_options *o = &gort__options;
#if defined(__x86_64__)
    unsigned a, b, c, d;
    prof_popcnt = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_POPCNT);
#endif
    init_pid = getpid();
    if (o->memprofile) snprintf(memprofile_path, sizeof memprofile_path, "%s", o->memprofile);
    if (o->heapview) snprintf(heapview_path, sizeof heapview_path, "%s", o->heapview);
    size_t rate = o->memprofile_rate >= 0 ? (size_t)o->memprofile_rate : memprofile_path[0] ? DEFAULT_RATE : 0;
    gort_heap_profile_set_rate(rate);
    if (memprofile_path[0] || heapview_path[0]) atexit(at_exit);
    if (o->memprofile_signal) {
        if (!memprofile_path[0] && !heapview_path[0])
            say("GORT_MEMPROFILE_SIGNAL=1 ignored: neither GORT_MEMPROFILE nor GORT_HEAPVIEW names a file", "", "");
        else start_signal_writer();
    }
    if (o->heapview_every_ms) {
        clock_gettime(CLOCK_MONOTONIC, &start_time);
        every_ms = o->heapview_every_ms;
        int e;
        if (!heapview_path[0]) say("GORT_HEAPVIEW_EVERY ignored: GORT_HEAPVIEW names no file", "", "");
        else if ((e = start_quiet_thread(snapshot_writer)) != 0)
            say("GORT_HEAPVIEW_EVERY: cannot start the snapshot thread: ", strerror(e), "");
    }
}
