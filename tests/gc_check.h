/*
 * gc_check.h: helpers the collector's tests share (with check.h).
 *
 *   clobber_stack()   zeroes 64 KiB of the stack below the caller's frame, where dead frames
 *                     keep stale copies of addresses (the stack is scanned conservatively from
 *                     the collector's own frame upwards). Written through a pointer rather
 *                     than as a local array, so that no part of the region (a sanitizer's
 *                     redzones, padding) is left out.
 *   gc_clean(n)       clobber_stack, then n full collections
 *   weak_live(w)      1 while w's object is alive (not inlined, so that the object's address
 *                     does not linger in the caller's registers)
 *   gc_stats_now()    gort_gc_stats, returned by value
 *   clock_ns(c)       clock_gettime(c) in nanoseconds
 */
#ifndef GORT_TESTS_GC_CHECK_H
#define GORT_TESTS_GC_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <gort.h>

__attribute__((noinline, no_sanitize_address, no_sanitize_thread, unused)) static void clobber_stack(void) {
#ifdef __OPTIMIZE__
    volatile uintptr_t *p = (volatile uintptr_t *)__builtin_frame_address(0) - 1;
#else
    /* -O0 (make MODE=debug): p and i live in this frame, just below the frame pointer; start
     * below them (the skipped words are this frame's own, not a dead one's) */
    volatile uintptr_t *p = (volatile uintptr_t *)__builtin_frame_address(0) - 8;
#endif
    for (ptrdiff_t i = 0; i < 8192; i++) p[-i] = 0;
}
__attribute__((noinline, unused)) static void gc_clean(int n) {
    clobber_stack();
    for (int i = 0; i < n; i++) gort_gc();
}
__attribute__((noinline, unused)) static int weak_live(gort_weak *w) { return gort_weak_get(w) != NULL; }
__attribute__((unused)) static gort_gc_stats_t gc_stats_now(void) {
    gort_gc_stats_t s;
    gort_gc_stats(&s);
    return s;
}
__attribute__((unused)) static uint64_t clock_ns(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
