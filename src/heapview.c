/* heapview.c: the picture of the heap (SVG). */
#include <errno.h>
#include "gort/profile.h"
#include "internal.h"

int gort_heap_svg(FILE *out) {
    (void)out;
    errno = ENOSYS;
    return -1;
}
