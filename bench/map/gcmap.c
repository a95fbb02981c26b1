/*
 * gcmap.c: a collected map (gort_map_make_gc) against a manual one (gort_map_new), in
 * instructions per operation counted by callgrind; not part of `make bench`.
 *
 *   gcmap manual|gc|gcptr insert|lookup N
 *     insert: N new u64 keys into a map made without a hint (growth included);
 *             gcptr: the elems are pointers to collected objects, made beforehand
 *     lookup: N lookups (hits) in a map of 1000 entries
 *
 * Instructions per operation, with start-up and exit cancelled (as bench/callgrind.sh):
 *   I(N) = callgrind's "Collected" for one run;  (I(N2) - I(N1)) / (N2 - N1)
 *   gcc -std=gnu11 -O2 -DNDEBUG -Iinclude -o gcmap bench/map/gcmap.c build/release/libgort.a -pthread -lm -ldl
 *   for n in 100000 1100000; do valgrind --tool=callgrind --callgrind-out-file=/dev/null ./gcmap gc insert $n; done
 * The collector runs as the pacer decides (GORT_GOGC, default 100): its work is counted in
 * the collected map's figure. Figures: docs/design.md, "Maps in the collected heap".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gort.h>

GORT_MAP_DEFINE_U64(u64map, uint64_t, uint64_t)

static uint64_t key(uint64_t i) { return i * 0x9E3779B97F4A7C15ULL + 1; }

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s manual|gc|gcptr insert|lookup N\n", argv[0]);
        return 2;
    }
    int gc = strcmp(argv[1], "manual") != 0, ptr = strcmp(argv[1], "gcptr") == 0;
    int lookup = strcmp(argv[2], "lookup") == 0;
    uint64_t n = strtoull(argv[3], NULL, 0), sum = 0;
    uint64_t **objs = NULL;
    if (ptr) { /* the elems' objects, in a scanned block until the map holds them */
        objs = gort_malloc_scanned((lookup ? 1000 : n) * sizeof *objs);
        for (uint64_t i = 0; i < (lookup ? 1000 : n); i++) objs[i] = gort_gc_alloc_noscan(8);
    }
    u64map *m = !gc ? u64map_new(0) : u64map_make_gc(0, NULL, ptr ? &gort_type_pointer : NULL);
    uint64_t fill = lookup ? 1000 : n;
    for (uint64_t i = 0; i < fill; i++) u64map_put(m, key(i), ptr ? (uint64_t)(uintptr_t)objs[i] : i);
    if (lookup)
        for (uint64_t i = 0; i < n; i++) sum += *u64map_get(m, key(i % 1000));
    printf("%llu %zu\n", (unsigned long long)sum, u64map_len(m));
    if (!gc) u64map_free(m);
    return 0;
}
