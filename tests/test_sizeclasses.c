/* White-box: the generated size-class table keeps Go's rules and gort's alignment. */
#include "check.h"
#include "internal.h"

int main(void) {
    CHECK_EQ(gort_class_to_size[GORT_NUM_CLASSES - 1], GORT_MAX_SMALL_SIZE);
    for (unsigned c = 1; c < GORT_NUM_CLASSES; c++) {
        size_t size = gort_class_to_size[c], span = (size_t)gort_class_to_npages[c] * GORT_PAGE_SIZE;
        CHECK(size == 8 || size % 16 == 0); /* objects >= 16 B are 16-aligned */
        CHECK(span % size <= span / 8);     /* tail waste <= 12.5% */
        CHECK_EQ(gort_class_to_nelems[c], span / size);
        CHECK(gort_class_to_nelems[c] <= GORT_MAX_NELEMS);
        if (c > 1) CHECK(size > gort_class_to_size[c - 1]);
        for (size_t off = 0; off <= span; off++) { /* magic division is exact, and tells object starts */
            uint64_t prod = off * (uint64_t)gort_class_to_divmagic[c];
            CHECK_EQ(prod >> 32, off / size);
            CHECK_EQ((uint32_t)prod < gort_class_to_divmagic[c], off % size == 0);
        }
    }
    /* every size maps to the smallest class that holds it (via the public API) */
    for (size_t n = 0; n <= GORT_MAX_SMALL_SIZE; n++) {
        void *p = gort_malloc(n);
        CHECK(p);
        size_t got = gort_usable_size(p);
        unsigned c = 1;
        while (gort_class_to_size[c] < n) c++;
        CHECK_EQ(got, gort_class_to_size[c]);
        if (n >= 16) CHECK(((uintptr_t)p & 15) == 0);
        gort_free(p);
    }
    printf("ok: %d classes\n", GORT_NUM_CLASSES - 1);
    return 0;
}
