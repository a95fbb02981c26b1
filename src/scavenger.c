/*
 * scavenger.c: the background scavenger (Go's mgcscavenge.go).
 *
 * Free pages stay backed ("dirty") so that a busy program reuses them
 * without page faults; the scavenger gives back, with MADV_DONTNEED, the free
 * pages that have stayed idle. Every period (GORT_SCAVENGE_MS, 100 ms) it
 * samples the free dirty pages beyond the retained goal (in-use pages + 10%,
 * and at least GORT_RETAIN_MIN bytes; Go retains 10% over its heap goal), and
 * releases the smallest of the last GORT_SCAVENGE_WINDOW samples (10: one
 * second): memory that a program cycles through within a second is never
 * part of that minimum, so it is not returned only to be faulted back.
 *
 * Go paces its scavenger to 1% of CPU; gort's is bounded by the window
 * instead, and gives back at most 64 MiB per period, in 16 MiB steps so the
 * heap lock is never held long. Each period it also takes the pending
 * cross-thread frees of spans nobody owns (gort__central_drain_all), which
 * may empty them into the heap. The thread starts on the first span free
 * that leaves more than GORT_RETAIN_MIN free dirty bytes, or when a thread
 * exits and leaves its spans to the mcentrals (a single-threaded program
 * that never frees never gets one); GORT_SCAVENGER=0 turns it off, and then only
 * growth (inline scavenging) and gort_release_memory() give memory back.
 */
#include <signal.h>
#include <time.h>

#include "internal.h"

static _Atomic int scav_started;

static void *scavenger_main(void *arg) {
    (void)arg;
    uint64_t window[64] = {0};
    unsigned n = 0;
    for (;;) {
        struct timespec ts = {gort__options.scavenge_ms / 1000, (long)(gort__options.scavenge_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        /* Spans nobody owns get their cross-thread frees taken here, so that
         * spans emptied by other threads after their owner exited go back to
         * the heap even if no thread allocates from their class again. */
        gort__central_drain_all();
        pthread_mutex_lock(&gort__heap.lock);
        uint64_t over = gort__scavenge_overage_locked();
        unsigned w = gort__options.scavenge_window;
        window[n++ % w] = over;
        uint64_t idle = over;
        for (unsigned i = 0; i < w && i < n; i++)
            if (window[i] < idle) idle = window[i];
        if (n < w) idle = 0; /* not a whole window seen yet */
        uint64_t cap = (64u << 20) >> GORT_PAGE_SHIFT, step = (16u << 20) >> GORT_PAGE_SHIFT;
        if (idle > cap) idle = cap;
        while (idle > 0) {
            uint64_t got = gort__heap_scavenge_locked(idle < step ? idle : step);
            for (unsigned i = 0; i < w; i++) window[i] = window[i] > got ? window[i] - got : 0;
            if (got == 0) break;
            idle -= got < idle ? got : idle;
            pthread_mutex_unlock(&gort__heap.lock);
            pthread_mutex_lock(&gort__heap.lock);
        }
        pthread_mutex_unlock(&gort__heap.lock);
    }
    return NULL;
}

void gort__scavenger_start(void) {
    if (!gort__options.scavenger || atomic_load_explicit(&scav_started, memory_order_relaxed)) return;
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
