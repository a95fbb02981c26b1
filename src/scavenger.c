/*
 * scavenger.c: returning idle free pages to the OS (Go's mgcscavenge.go).
 *
 * Free pages stay backed ("dirty") so that a busy program reuses them
 * without page faults; the scavenger gives back, with MADV_DONTNEED, the free
 * pages that have stayed idle. Every period (GORT_SCAVENGE_MS, 100 ms) it
 * samples the free dirty pages beyond the retained goal (GORT_RETAIN_MIN
 * bytes), and releases the smallest of the last GORT_SCAVENGE_WINDOW samples
 * (10: one second): memory that a program cycles through within a second is
 * never part of that minimum, so it is not returned only to be faulted back.
 * At most 64 MiB per period, in 16 MiB steps so the heap lock is never held
 * long.
 *
 * Two ways to run the periods:
 *
 * - A background thread (GORT_SCAVENGER=1; the API library's default). It
 *   also takes the pending cross-thread frees of spans nobody owns
 *   (gort__central_drain_all), which may empty them into the heap, and asks
 *   threads that have left their notices untaken for a period to take them
 *   (gort__mcache_reclaim: a signal, which the inline mode never sends). It starts
 *   once a span free has left more than GORT_RETAIN_MIN free dirty bytes, at
 *   the next large gort_malloc or gort_free, or when a thread exits and
 *   leaves its spans to the mcentrals: always where the caller holds no lock
 *   at all. Creating a thread allocates (glibc's pthread_create calls calloc,
 *   and under the drop-in that calloc is gort's). Until it starts, the
 *   periods run inline.
 *
 * - Inline, without a thread (GORT_SCAVENGER=0; the drop-in's default, as
 *   jemalloc's decay without its background thread): the page heap's
 *   allocation and free paths run a period when one is due (a coarse clock
 *   read per span, no system call). A program that goes idle right after
 *   freeing would keep its memory that way, so a span free also gives back at
 *   once what the heap has shrunk below its lowest in-use level of the
 *   window ("the heap is shrinking": the program has let go of memory it had
 *   held for the whole window), in batches of at least 1 MiB.
 *
 * Go paces its scavenger to 1% of CPU; gort's is bounded by the window
 * instead. The retained goal is as Go's where the collector runs: 10% over
 * its heap goal, less the live heap (gort__gc_retain_bytes), when that is
 * more than GORT_RETAIN_MIN.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "internal.h"

static _Atomic int scav_started; /* the thread was created */
static _Atomic int scav_wanted;  /* a span free found dirty pages beyond the goal */

/* ---- one period (both modes), under mheap.lock ---- */
static struct {
    uint64_t over[64];  /* overage samples */
    uint64_t inuse[64]; /* in-use page samples */
    unsigned n;         /* samples taken */
} win;
static _Atomic uint64_t next_tick_ms; /* inline mode: when the next period is due */

#define STEP_PAGES ((16u << 20) >> GORT_PAGE_SHIFT)
#define CAP_PAGES ((64u << 20) >> GORT_PAGE_SHIFT)

/* Samples the overage and returns the pages to release this period (the
 * smallest overage of the window, at most CAP_PAGES). */
static uint64_t period_sample_locked(void) {
    gort__assert_held(GORT_RANK_MHEAP);
    uint64_t over = gort__scavenge_overage_locked();
    unsigned w = gort__options.scavenge_window;
    win.over[win.n % w] = over;
    win.inuse[win.n % w] = gort__heap.pages_inuse;
    win.n++;
    if (win.n < w) return 0; /* not a whole window seen yet */
    uint64_t idle = over;
    for (unsigned i = 0; i < w; i++)
        if (win.over[i] < idle) idle = win.over[i];
    return idle > CAP_PAGES ? CAP_PAGES : idle;
}

static void period_released_locked(uint64_t got) {
    gort__assert_held(GORT_RANK_MHEAP);
    for (unsigned i = 0; i < 64; i++) win.over[i] = win.over[i] > got ? win.over[i] - got : 0;
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool thread_mode(void) { return atomic_load_explicit(&scav_started, memory_order_relaxed) != 0; }

/* A period is due (inline mode): claims it. */
static bool tick_due(void) {
    if (thread_mode()) return false;
    uint64_t now = now_ms(), due = atomic_load_explicit(&next_tick_ms, memory_order_relaxed);
    if (now < due) return false;
    return atomic_compare_exchange_strong_explicit(&next_tick_ms, &due, now + gort__options.scavenge_ms,
                                                   memory_order_relaxed, memory_order_relaxed);
}

static void inline_period_locked(void) {
    gort__assert_held(GORT_RANK_MHEAP);
    gort__heap_trim_slabs_locked(false);
    uint64_t idle = period_sample_locked();
    if (idle) period_released_locked(gort__heap_scavenge_locked(idle < STEP_PAGES ? idle : STEP_PAGES));
}

/* Starts the thread if a span free wanted it (GORT_SCAVENGER=1). Called by
 * gort_malloc's and gort_free's large-object paths, where no lock at all is
 * held (the collector's allocation paths hold its per-thread lock around the
 * page heap, and a thread created there left that lock held in a child of
 * fork), and at thread exit. Until then the periods run inline. */
void gort__scavenger_poll(void) {
    if (atomic_load_explicit(&scav_wanted, memory_order_relaxed) && gort__options.scavenger && !thread_mode())
        gort__scavenger_start();
}

/* Before mheap.lock is taken, with no allocator lock held (page heap
 * allocation). */
void gort__scavenge_on_alloc(void) {
    if (!tick_due()) return;
    gort__central_drain_all(); /* unowned spans emptied by other threads go back first */
    gort__lock(&gort__heap.lock, GORT_RANK_MHEAP);
    inline_period_locked();
    gort__unlock(&gort__heap.lock, GORT_RANK_MHEAP);
}

#define SHRINK_PAGES ((1u << 20) >> GORT_PAGE_SHIFT)
static uint64_t last_check; /* the overage after the last shrink check */

/* A span has just gone back to the heap; mheap.lock held (and maybe an
 * mcentral lock: nothing here may allocate or take another lock). */
void gort__scavenge_on_free_locked(void) {
    gort__assert_held(GORT_RANK_MHEAP);
    gort_mheap *h = &gort__heap;
    uint64_t over = gort__scavenge_overage_locked();
    if (over && !atomic_load_explicit(&scav_wanted, memory_order_relaxed))
        atomic_store_explicit(&scav_wanted, 1, memory_order_relaxed);
    if (thread_mode()) return;
    if (tick_due()) inline_period_locked();
    /* Shrinking below the lowest in-use level of the window: give back now,
     * each time another MiB is dirty, the free runs of 1 MiB or more (whole
     * runs, so that a run released in pieces is one madvise: each is a TLB
     * shootdown across the program's CPUs). */
    if (over < last_check + SHRINK_PAGES) {
        if (over < last_check) last_check = over;
        return;
    }
    unsigned w = gort__options.scavenge_window, k = win.n < w ? win.n : w;
    if (k == 0) return;
    uint64_t floor = UINT64_MAX;
    for (unsigned i = 0; i < k; i++)
        if (win.inuse[i] < floor) floor = win.inuse[i];
    if (h->pages_inuse + SHRINK_PAGES > floor) return;
    uint64_t got = gort__heap_scavenge_runs_locked(SHRINK_PAGES);
    gort__heap_trim_slabs_locked(false); /* the span structs' slabs shrink with it */
    period_released_locked(got);
    last_check = over > got ? over - got : 0;
}

/* ---- the background thread ---- */
static void *scavenger_main(void *arg) {
    (void)arg;
    for (;;) {
        struct timespec ts = {gort__options.scavenge_ms / 1000, (long)(gort__options.scavenge_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        /* Spans nobody owns get their cross-thread frees taken here, so that
         * spans emptied by other threads after their owner exited go back to
         * the heap even if no thread allocates from their class again. */
        gort__central_drain_all();
        /* Threads that left notices untaken for a period are asked for them
         * (a signal: only here, where the program asked for a scavenger, and
         * in gort_release_memory; a signal makes a thread's nanosleep or
         * epoll_wait return EINTR). */
        gort__mcache_reclaim(false, true);
        gort__lock(&gort__heap.lock, GORT_RANK_MHEAP);
        gort__heap_trim_slabs_locked(false);
        uint64_t idle = period_sample_locked();
        while (idle > 0) {
            uint64_t got = gort__heap_scavenge_locked(idle < STEP_PAGES ? idle : STEP_PAGES);
            period_released_locked(got);
            if (got == 0) break;
            idle -= got < idle ? got : idle;
            gort__unlock(&gort__heap.lock, GORT_RANK_MHEAP);
            gort__lock(&gort__heap.lock, GORT_RANK_MHEAP);
        }
        gort__unlock(&gort__heap.lock, GORT_RANK_MHEAP);
    }
    return NULL;
}

/* Does this thread hold an allocator lock? (glibc records a mutex's owner
 * for every mutex type.) */
static bool owned(pthread_mutex_t *m, pid_t tid) {
#ifdef __GLIBC__
    return m->__data.__owner == tid;
#else
    (void)m;
    (void)tid;
    return false;
#endif
}

void gort__assert_no_locks(const char *what) {
    pid_t tid = (pid_t)syscall(SYS_gettid);
    bool held = owned(&gort__heap.lock, tid) || owned(&gort__mcache_list_lock, tid);
    for (unsigned i = 0; !held && i < GORT_NUM_SPANCLASSES; i++) held = owned(&gort__central[i].lock, tid);
    if (held) gort__throw(what);
}

void gort__scavenger_start(void) {
    if (!gort__options.scavenger || atomic_load_explicit(&scav_started, memory_order_relaxed)) return;
    /* Creating a thread allocates: never under an allocator lock. */
    gort__assert_no_locks("scavenger thread created under an allocator lock");
    if (atomic_exchange(&scav_started, 1)) return;
    /* The thread takes no signals meant for the program. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_t t;
    if (pthread_create(&t, &attr, scavenger_main, NULL) != 0) atomic_store(&scav_started, 0);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Threads do not survive fork: the child starts its own when it needs one. */
void gort__scavenger_after_fork_child(void) { atomic_store(&scav_started, 0); }
