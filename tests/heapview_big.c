/*
 * heapview_big: a 4 GiB heap for tests/preload_heapview.sh, its picture as detailed as it
 * gets: blocks of one cell (1 MiB, the cell size of a heap of 65 arenas) and every
 * eighth of four cells (4 MiB, outlined), every other block freed, so that no two
 * neighbouring cells look alike, and small objects of eleven classes in between. Nothing
 * is written to: the heap is address space, not memory. Run under the drop-in with
 * GORT_HEAPVIEW set.
 */
#include <stdio.h>
#include <stdlib.h>

#define SINK(p) __asm__ volatile("" : : "r"(p) : "memory")

int main(void) {
    size_t total = 0, n = 0, cap = 16384;
    void **v = malloc(cap * sizeof *v);
    if (!v) return 1;
    while (total < ((size_t)4 << 30)) {
        size_t size = n % 8 == 7 ? (size_t)4 << 20 : (size_t)1 << 20;
        if (n == cap && !(v = realloc(v, (cap *= 2) * sizeof *v))) return 1;
        if (!(v[n++] = malloc(size))) return 1;
        total += size;
        if (n % 7 == 0) SINK(malloc(16 << (n % 11)));
    }
    for (size_t i = 0; i < n; i += 2) free(v[i]);
    printf("%zu blocks, %zu MiB\n", n, total >> 20);
    return 0;
}
