/*
 * lib_gc_dlopen: the shared library test_gc_dlopen loads with dlopen. Its statics, one
 * array in .bss and one in .data, hold the only references to collected objects; the
 * collector must scan them as roots. It does not link gort.
 */
#include <stddef.h>

#define LIB_API __attribute__((visibility("default")))

enum { LIB_BSS = 16, LIB_DATA = 4 };
static void *lib_bss[LIB_BSS];
static void *lib_data[LIB_DATA] = {(void *)1, (void *)2, (void *)3, (void *)4};

LIB_API int lib_gc_slots(void);
LIB_API void lib_gc_set(int i, void *p);
LIB_API void *lib_gc_get(int i);

int lib_gc_slots(void) { return LIB_BSS + LIB_DATA; }

void lib_gc_set(int i, void *p) {
    if (i < LIB_BSS) lib_bss[i] = p;
    else lib_data[i - LIB_BSS] = p;
}

void *lib_gc_get(int i) { return i < LIB_BSS ? lib_bss[i] : lib_data[i - LIB_BSS]; }
