/* Bytes glibc malloc has handed out (in use, incl. mmapped chunks). */
#include <malloc.h>
#define map_mem(m, delta) ((void)(m), (delta))
static inline size_t mem_bytes(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}
