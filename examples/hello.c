/* The README's example: the allocator API, a Go map, and the statistics.
 * Build: cc hello.c $(pkg-config --cflags --libs gort) */
#include <gort.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    char *s = gort_malloc(100); /* 16-byte aligned, from the thread's cache */
    strcpy(s, "hello, gort");
    s = gort_realloc(s, 4000); /* keeps the content */
    puts(s);
    gort_free(s); /* a second gort_free(s) would abort: "gort: fatal error: double free (address 0x...)" */

    void *page = gort_aligned_alloc(1 << 20, 10); /* any power-of-two alignment */
    gort_free(page);

    gort_maptype t = gort_maptype_u64(sizeof(uint64_t)); /* Go's map: uint64_t -> uint64_t */
    gort_map *m = gort_map_new(&t, 0);
    for (uint64_t k = 0; k < 1000; k++) *(uint64_t *)gort_map_put(m, &k) = k * k;
    uint64_t k = 30;
    printf("len %zu, m[30] = %llu\n", gort_map_len(m), (unsigned long long)*(uint64_t *)gort_map_get(m, &k));
    gort_map_free(m);

    gort_stats_print(stdout); /* MemStats-style counters */
    return 0;
}
