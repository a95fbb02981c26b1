/* trim_idle: the probe of tests/preload_limits.sh. One thread allocates 256 MiB of
 * 64-byte objects and blocks in read(2); another frees them all; then malloc_trim(0).
 * Prints the resident set (KiB) before and after the trim. Exit 3: the blocked read
 * failed (a signal must not interrupt it). */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { N = (256 << 20) / 64 };
static void **objs;
static int pfd[2];
static volatile int ready;

static long rss_kib(void) {
    long a = 0, b = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld %ld", &a, &b) != 2) exit(2);
    fclose(f);
    return b * (sysconf(_SC_PAGESIZE) / 1024);
}

static void *owner(void *x) {
    for (long i = 0; i < N; i++) {
        if (!(objs[i] = malloc(64))) exit(2);
        memset(objs[i], 1, 64);
    }
    ready = 1;
    char c;
    if (read(pfd[0], &c, 1) != 1) exit(3);
    return x;
}

static void *freer(void *x) {
    for (long i = 0; i < N; i++) free(objs[i]);
    return x;
}

int main(void) {
    pthread_t a, b;
    if (!(objs = malloc(N * sizeof *objs)) || pipe(pfd) != 0) return 2;
    if (pthread_create(&a, 0, owner, 0) != 0) return 2;
    while (!ready) usleep(1000);
    if (pthread_create(&b, 0, freer, 0) != 0) return 2;
    pthread_join(b, 0);
    long before = rss_kib();
    malloc_trim(0);
    long after = rss_kib();
    printf("%ld %ld\n", before, after);
    if (write(pfd[1], "x", 1) != 1) return 2;
    pthread_join(a, 0);
    return 0;
}
