/*
 * gort/slice.h: Go's slices for C. Include <gort.h> rather than this file.
 *
 * A slice is Go's triple {ptr, len, cap}, passed and returned by value. Its
 * backing array lives in the collected heap (gort/gc.h): never scanned for a
 * pointer-free element type, scanned precisely by the element's gort_type
 * otherwise; an array that no slice (and no other reference the collector
 * sees) refers to any more is reclaimed. Go's semantics:
 *   - a re-slice s[lo:hi] or s[lo:hi:max] shares the backing array;
 *   - append within the capacity writes into the shared array; beyond it, a
 *     new array is made with Go's growth rule (growslice, Go 1.20+: double
 *     below 256 elements, then grow by (cap + 768) / 4 until it fits,
 *     rounded up to the size class; cap = usable bytes / element size) and
 *     the old array stays valid for the slices that still refer to it;
 *   - make does not round the capacity up (only append does).
 * Misuse is fatal, with Go's words (no debug build needed: the checks are
 * part of the API): "makeslice: len out of range", "makeslice: cap out of
 * range", "growslice: cap out of range", "index out of range [5] with length
 * 3", "slice bounds out of range [:7] with capacity 4" (and Go's other
 * forms of it). The unchecked access is the separately named name_at_unchecked.
 *
 * Typed layer: the element type T needs its descriptor (GORT_TYPE(T, ...) or
 * GORT_TYPE_NOPTR(T), a single-token type name: typedef it first if needed):
 *
 *     GORT_TYPE_NOPTR(int);
 *     GORT_SLICE_DEFINE(ints, int)
 *     ints s = {0};                          // nil slice
 *     for (int i = 0; i < 100; i++) s = ints_append(s, i);
 *     ints t = ints_slice(s, 10, 20);        // shares s's array
 *     *ints_at(t, 0) = 7;                    // s.ptr[10] == 7 now
 *     int v = ints_get(s, 10);               // bounds-checked
 *     ints u = ints_make(5, 8);              // len 5, cap 8, zeroed
 *     size_t n = ints_copy(u, t);            // 5
 *
 * Functions generated for GORT_SLICE_DEFINE(name, T):
 *   name name_make(size_t len, size_t cap)           make([]T, len, cap)
 *   name name_append(name s, T v)                    append(s, v)
 *   name name_append_n(name s, const T *v, size_t n) append(s, v[:n]...) (v may alias s)
 *   name name_append_slice(name s, name t)           append(s, t...)
 *   size_t name_copy(name dst, name src)             copy(dst, src)
 *   T *name_at(name s, size_t i)                     &s[i], checked
 *   T name_get(name s, size_t i); void name_set(name s, size_t i, T v)
 *   T *name_at_unchecked(name s, size_t i)           &s[i], no check
 *   name name_slice(name s, size_t lo, size_t hi)    s[lo:hi] (hi <= cap)
 *   name name_slice3(name s, size_t lo, size_t hi, size_t max)  s[lo:hi:max]
 *   size_t name_len(name s), name_cap(name s)
 * A slice header held in plain malloc memory does not keep its array alive:
 * keep slices in locals, globals, collected objects or gort_malloc_scanned
 * blocks (gort/gc.h's rule).
 */
#ifndef GORT_SLICE_H
#define GORT_SLICE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "common.h"
#include "gc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The untyped slice (every typed slice has this layout). */
typedef struct gort_slice {
    void *ptr;
    size_t len, cap;
} gort_slice;

/* make([]T, len, cap) for elements of type et (zeroed). */
GORT_API gort_slice gort_makeslice(const gort_type *et, size_t len, size_t cap);
/* Go's growslice: s (len oldlen) grown to newlen = s.len + num elements
 * beyond its capacity; the result has len newlen, the old elements copied,
 * the new ones zeroed. */
GORT_API gort_slice gort_growslice(gort_slice s, size_t num, const gort_type *et);
/* The fatal errors of the checks (Go's panicIndex and panicSlice*). */
GORT_API __attribute__((noreturn, cold)) void gort__panic_index(size_t i, size_t len);
/* kind: 0 "[:hi] with capacity cap", 1 "[lo:hi]", 2 "[::max] with capacity
 * cap", 3 "[:hi:max]", 4 "[lo:hi:]" */
GORT_API __attribute__((noreturn, cold)) void gort__panic_slice(int kind, size_t x, size_t y);

#define GORT_SLICE_DEFINE(name, T)                                                                         \
    typedef struct name {                                                                                  \
        T *ptr;                                                                                            \
        size_t len, cap;                                                                                   \
    } name;                                                                                                \
    static inline __attribute__((unused)) gort_slice name##__u(name s) {                                   \
        gort_slice u = {s.ptr, s.len, s.cap};                                                              \
        return u;                                                                                          \
    }                                                                                                      \
    static inline __attribute__((unused)) name name##__t(gort_slice u) {                                   \
        name s = {(T *)u.ptr, u.len, u.cap};                                                               \
        return s;                                                                                          \
    }                                                                                                      \
    static inline __attribute__((unused)) name name##_make(size_t len, size_t cap) {                       \
        return name##__t(gort_makeslice(&gort_type_##T, len, cap));                                        \
    }                                                                                                      \
    static inline __attribute__((unused)) size_t name##_len(name s) { return s.len; }                      \
    static inline __attribute__((unused)) size_t name##_cap(name s) { return s.cap; }                      \
    static inline __attribute__((unused)) name name##_append(name s, T v) {                                \
        if (__builtin_expect(s.len == s.cap, 0)) {                                                         \
            s = name##__t(gort_growslice(name##__u(s), 1, &gort_type_##T));                                \
            s.ptr[s.len - 1] = v;                                                                          \
            return s;                                                                                      \
        }                                                                                                  \
        s.ptr[s.len++] = v;                                                                                \
        return s;                                                                                          \
    }                                                                                                      \
    static inline __attribute__((unused)) name name##_append_n(name s, const T *v, size_t n) {             \
        size_t old = s.len;                                                                                \
        if (n > s.cap - s.len) s = name##__t(gort_growslice(name##__u(s), n, &gort_type_##T));             \
        else s.len += n;                                                                                   \
        if (n) memmove(s.ptr + old, v, n * sizeof(T));                                                     \
        return s;                                                                                          \
    }                                                                                                      \
    static inline __attribute__((unused)) name name##_append_slice(name s, name t) {                       \
        return name##_append_n(s, t.ptr, t.len);                                                           \
    }                                                                                                      \
    static inline __attribute__((unused)) size_t name##_copy(name dst, name src) {                         \
        size_t n = dst.len < src.len ? dst.len : src.len;                                                  \
        if (n && dst.ptr != src.ptr) memmove(dst.ptr, src.ptr, n * sizeof(T));                             \
        return n;                                                                                          \
    }                                                                                                      \
    static inline __attribute__((unused)) T *name##_at(name s, size_t i) {                                 \
        if (__builtin_expect(i >= s.len, 0)) gort__panic_index(i, s.len);                                  \
        return &s.ptr[i];                                                                                  \
    }                                                                                                      \
    static inline __attribute__((unused)) T *name##_at_unchecked(name s, size_t i) { return &s.ptr[i]; }   \
    static inline __attribute__((unused)) T name##_get(name s, size_t i) { return *name##_at(s, i); }      \
    static inline __attribute__((unused)) void name##_set(name s, size_t i, T v) { *name##_at(s, i) = v; } \
    static inline __attribute__((unused)) name name##_slice(name s, size_t lo, size_t hi) {                \
        if (__builtin_expect(hi > s.cap, 0)) gort__panic_slice(0, hi, s.cap);                              \
        if (__builtin_expect(lo > hi, 0)) gort__panic_slice(1, lo, hi);                                    \
        /* a result of capacity 0 keeps the base (never a pointer past the array) */                       \
        name r = {s.cap - lo ? s.ptr + lo : s.ptr, hi - lo, s.cap - lo};                                   \
        return r;                                                                                          \
    }                                                                                                      \
    static inline __attribute__((unused)) name name##_slice3(name s, size_t lo, size_t hi, size_t max) {   \
        if (__builtin_expect(max > s.cap, 0)) gort__panic_slice(2, max, s.cap);                            \
        if (__builtin_expect(hi > max, 0)) gort__panic_slice(3, hi, max);                                  \
        if (__builtin_expect(lo > hi, 0)) gort__panic_slice(4, lo, hi);                                    \
        name r = {max - lo ? s.ptr + lo : s.ptr, hi - lo, max - lo};                                       \
        return r;                                                                                          \
    }

#ifdef __cplusplus
}
#endif
#endif
