/*
 * prof_split: a program with a known allocation pattern, for tests/preload_profile.sh
 * (built there with and without frame pointers, run under the drop-in).
 *   prof_split split MIB    90% of MIB mebibytes from big_share (256-byte objects, every
 *                           64th kept), 10% from small_share (64-byte objects), and half
 *                           of MIB/4 from keep_half kept live (1 KiB objects, every other
 *                           one freed)
 *   prof_split signal PATH  allocates, raises SIGUSR2 and waits (10 s at most) for the
 *                           profile that GORT_MEMPROFILE_SIGNAL=1 writes to PATH: exit 0
 *                           once it exists, 1 if it never came
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SINK(p) __asm__ volatile("" : : "r"(p) : "memory")

static void **kept;
static size_t nkept, capkept;
static void keep(void *p) {
    if (nkept == capkept) {
        capkept = capkept ? capkept * 2 : 1024;
        kept = realloc(kept, capkept * sizeof *kept);
        if (!kept) exit(2);
    }
    kept[nkept++] = p;
}

__attribute__((noinline)) static void big_share(size_t bytes) {
    for (size_t i = 0; i < bytes / 256; i++) {
        char *p = malloc(256);
        if (!p) exit(2);
        p[0] = 1;
        SINK(p);
        if (i % 64 == 0) keep(p);
        else free(p);
    }
}

__attribute__((noinline)) static void small_share(size_t bytes) {
    for (size_t i = 0; i < bytes / 64; i++) {
        char *p = malloc(64);
        if (!p) exit(2);
        p[0] = 1;
        SINK(p);
        free(p);
    }
}

__attribute__((noinline)) static void keep_half(size_t bytes) {
    size_t n = bytes / 1024;
    char **v = malloc(n * sizeof *v);
    if (!v) exit(2);
    for (size_t i = 0; i < n; i++) {
        v[i] = malloc(1024);
        if (!v[i]) exit(2);
        v[i][0] = 1;
    }
    for (size_t i = 0; i < n; i += 2) free(v[i]);
    for (size_t i = 1; i < n; i += 2) keep(v[i]);
    free(v);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "split") == 0) {
        size_t mib = (size_t)atol(argv[2]);
        big_share((mib << 20) / 10 * 9);
        small_share((mib << 20) / 10);
        keep_half((mib << 20) / 4);
        printf("kept %zu objects\n", nkept);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "signal") == 0) {
        big_share(16 << 20);
        unlink(argv[2]);
        raise(SIGUSR2);
        for (int i = 0; i < 1000; i++) {
            if (access(argv[2], F_OK) == 0) return 0;
            usleep(10000);
        }
        fprintf(stderr, "prof_split: no profile at %s after SIGUSR2\n", argv[2]);
        return 1;
    }
    fprintf(stderr, "usage: prof_split split MIB | signal PATH\n");
    return 2;
}
