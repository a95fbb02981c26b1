/*
 * gort/chan.h: Go's channels for C threads. Include <gort.h> rather than this file.
 *
 * A gort_chan is Go's hchan: a ring buffer of `cap` elements of `elem_size`
 * bytes (cap 0: unbuffered), a lock, and two queues of waiting threads (Go's
 * sudogs, which live on the waiting threads' stacks). A sender that finds a
 * receiver waiting copies its element straight into the receiver's variable
 * (and back), without touching the buffer. A thread that must wait spins
 * briefly, then sleeps on a futex.
 *
 * Element bytes are copied in and out; `elem` arguments point to elem_size
 * bytes. Go's rules:
 *   - send on a closed channel, close of a closed channel and close of a nil
 *     (NULL) channel are fatal errors ("gort: fatal error: send on closed
 *     channel", "close of closed channel", "close of nil channel");
 *   - a receive from a closed channel returns its buffered elements first,
 *     then the zero value with ok == false;
 *   - a NULL channel blocks a send or a receive forever and is never ready in
 *     gort_select;
 *   - gort_select picks uniformly at random among the ready cases, and locks
 *     the channels in address order.
 * Deadlock: when every thread gort knows of (each thread that has called into
 * gort: any allocation or channel operation, or gort_gc_register_thread) is
 * blocked on channels and no gort_after timer is pending, the program prints
 * "gort: fatal error: all goroutines are asleep - deadlock!" and aborts (the
 * check waits about 0.1 s for the state to last). A thread that has never
 * called into gort is not known: start threads that will unblock others with
 * a gort call (gort_gc_register_thread is enough), or they may be missed. The
 * collector's finalizer thread, once started, counts as a thread that is not
 * blocked.
 *
 * Memory. In a program that uses the collector (any collected allocation
 * before gort_chan_make), a channel is a collected object: its buffer is
 * scanned (conservatively for gort_chan_make, not at all for a pointer-free
 * gort_chan_make_typed), so pointers sitting in the buffer, or in a blocked
 * sender's variable, keep their targets alive, and a channel that no thread
 * and no object refers to any more is reclaimed. gort_chan_free does
 * nothing to such a channel.
 * In a program that has not used the collector when the channel is made, the
 * channel is plain gort_malloc memory (the collector is not started for it):
 * it ends at gort_chan_free(c), which the program calls once no thread uses
 * the channel any more (or at exit). Its buffer is not scanned, so if the
 * program starts the collector later, a pointer held only in such a channel
 * does not keep its target alive.
 *
 *     gort_chan *c = gort_chan_make(sizeof(int), 16);
 *     gort_chan_send(c, &(int){42});
 *     int v; bool ok = gort_chan_recv(c, &v);        // v == 42, ok
 *     gort_chan_close(c);
 *
 *     gort_select_case cs[2] = {
 *         {.c = c, .dir = GORT_SELECT_RECV, .elem = &v},
 *         {.c = gort_after(1000000), .dir = GORT_SELECT_RECV},   // 1 ms timeout
 *     };
 *     int i = gort_select(cs, 2, true);              // 0 or 1; cs[i].ok
 *
 * Typed layer (GORT_CHAN_DEFINE below):
 *
 *     GORT_CHAN_DEFINE(intchan, int)
 *     intchan *c = intchan_make(16);
 *     intchan_send(c, 7);
 *     bool ok; int v = intchan_recv(c, &ok);
 */
#ifndef GORT_CHAN_H
#define GORT_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common.h"
#include "gc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gort_chan gort_chan;

/* Go's make(chan T, cap). elem_size at most 65535 ("channel element type too
 * large (>64kB)"); elem_size * cap beyond the heap's limit: fatal
 * "makechan: size out of range". Elements are aligned to 16 bytes. */
GORT_API gort_chan *gort_chan_make(size_t elem_size, size_t cap);
/* The same for elements of type t: a pointer-free t (t->ptrwords == 0) gives
 * a buffer the collector never scans. */
GORT_API gort_chan *gort_chan_make_typed(const gort_type *t, size_t cap);
/* A channel made before the collector was used: frees it (no thread may use
 * it any more). A collected channel: nothing. NULL: nothing. */
GORT_API void gort_chan_free(gort_chan *c);

/* c <- *elem: blocks until a receiver takes it or the buffer has room. */
GORT_API void gort_chan_send(gort_chan *c, const void *elem);
/* *elem = <-c (elem may be NULL: the value is dropped). Returns Go's ok:
 * false when c is closed and drained (*elem is then zeroed). */
GORT_API bool gort_chan_recv(gort_chan *c, void *elem);
/* select { case c <- *elem: return true; default: return false } */
GORT_API bool gort_chan_try_send(gort_chan *c, const void *elem);
/* select { case *elem, *ok = <-c: return true; default: return false }
 * (ok may be NULL). */
GORT_API bool gort_chan_try_recv(gort_chan *c, void *elem, bool *ok);
GORT_API void gort_chan_close(gort_chan *c);
/* Go's len(c) and cap(c); 0 for NULL. */
GORT_API size_t gort_chan_len(const gort_chan *c);
GORT_API size_t gort_chan_cap(const gort_chan *c);

/* select over n cases (any n; a case with c == NULL is never ready).
 * block: wait until a case is ready; !block: Go's `default`, returns -1
 * when no case is ready. Returns the index of the case taken; for a receive
 * case, *elem (if elem is not NULL) holds the value and `ok` Go's ok.
 * With n == 0 and block, waits forever (Go's select {}). */
enum { GORT_SELECT_SEND = 1, GORT_SELECT_RECV = 2 };
typedef struct gort_select_case {
    gort_chan *c;
    int dir;    /* GORT_SELECT_SEND or GORT_SELECT_RECV */
    void *elem; /* the value to send, or where to receive (NULL: drop it) */
    bool ok;    /* receive: set by gort_select */
} gort_select_case;
GORT_API int gort_select(gort_select_case *cases, size_t n, bool block);

/* Go's time.After(ns): a channel of uint64_t (capacity 1) that receives
 * once, about ns nanoseconds from now, the CLOCK_MONOTONIC time in
 * nanoseconds at which it fired. Served by one background thread. In a
 * program that does not use the collector, gort_chan_free the channel only
 * after receiving from it. */
GORT_API gort_chan *gort_after(uint64_t ns);

/* ---- typed layer ----
 * GORT_CHAN_DEFINE(name, T): `name` (an opaque channel of T) and
 *   name *name_make(size_t cap);          buffer scanned conservatively
 *   void name_send(name *c, T v);
 *   T    name_recv(name *c, bool *ok);    ok may be NULL
 *   bool name_try_send(name *c, T v);
 *   bool name_try_recv(name *c, T *v, bool *ok);
 *   void name_close(name *c);  size_t name_len(name *c), name_cap(name *c);
 *   gort_chan *name_raw(name *c);         for gort_select
 *   void name_free(name *c);
 * GORT_CHAN_DEFINE_TYPED(name, T): the same, made with gort_chan_make_typed
 * from GORT_TYPE(T, ...) or GORT_TYPE_NOPTR(T) (a pointer-free T: never
 * scanned). */
#define GORT__CHAN_FUNCS(name, T, MAKE)                                                                          \
    typedef struct name name;                                                                                    \
    static inline __attribute__((unused)) name *name##_make(size_t cap) { return (name *)(MAKE); }               \
    static inline __attribute__((unused)) gort_chan *name##_raw(name *c) { return (gort_chan *)c; }              \
    static inline __attribute__((unused)) void name##_send(name *c, T v) { gort_chan_send((gort_chan *)c, &v); } \
    static inline __attribute__((unused)) T name##_recv(name *c, bool *ok) {                                     \
        T v;                                                                                                     \
        bool k = gort_chan_recv((gort_chan *)c, &v);                                                             \
        if (ok) *ok = k;                                                                                         \
        return v;                                                                                                \
    }                                                                                                            \
    static inline __attribute__((unused)) bool name##_try_send(name *c, T v) {                                   \
        return gort_chan_try_send((gort_chan *)c, &v);                                                           \
    }                                                                                                            \
    static inline __attribute__((unused)) bool name##_try_recv(name *c, T *v, bool *ok) {                        \
        return gort_chan_try_recv((gort_chan *)c, v, ok);                                                        \
    }                                                                                                            \
    static inline __attribute__((unused)) void name##_close(name *c) { gort_chan_close((gort_chan *)c); }        \
    static inline __attribute__((unused)) size_t name##_len(name *c) { return gort_chan_len((gort_chan *)c); }   \
    static inline __attribute__((unused)) size_t name##_cap(name *c) { return gort_chan_cap((gort_chan *)c); }   \
    static inline __attribute__((unused)) void name##_free(name *c) { gort_chan_free((gort_chan *)c); }
#define GORT_CHAN_DEFINE(name, T) GORT__CHAN_FUNCS(name, T, gort_chan_make(sizeof(T), cap))
#define GORT_CHAN_DEFINE_TYPED(name, T) GORT__CHAN_FUNCS(name, T, gort_chan_make_typed(&gort_type_##T, cap))

#ifdef __cplusplus
}
#endif
#endif
