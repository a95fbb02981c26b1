#!/usr/bin/env bash
# preload_api.sh LIBGORT_MALLOC_SO
# Builds a small C program against glibc (not linked with gort) and runs it with
# LD_PRELOAD=libgort-malloc.so. The program checks that gort is the malloc in use, then:
# posix_memalign / aligned_alloc / memalign / valloc / pvalloc / reallocarray /
# malloc_usable_size / calloc / realloc edge cases; malloc in a constructor, a destructor
# and an atexit handler; the dlopen/dlsym/dlerror path and NSS (getpwuid, getaddrinfo),
# which dlopen libraries and allocate inside libc; libc functions that allocate
# (strdup, asprintf, getline, open_memstream, qsort, regcomp, setenv, opendir);
# thousands of threads created and exited (joinable and detached, with TLS destructors
# that free); and fork in a multi-threaded process, where the child allocates, creates a
# thread and exits 0. Exits 0 when every check passed.
set -u
lib=$(readlink -f "${1:?usage: $0 path/to/libgort-malloc.so}")
[ -f "$lib" ] || { echo "no such library: $lib"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/prog.c" <<'EOF'
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <pthread.h>
#include <pwd.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); failures++; } } while (0)
#define FATAL(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); _exit(1); } } while (0)

static void *ctor_ptr;
static size_t ctor_usable;
static char ctor_text[64];

__attribute__((constructor)) static void ctor(void) {
    /* before main: the first allocations of the program may well be these */
    ctor_ptr = malloc(17);
    ctor_usable = malloc_usable_size(ctor_ptr);
    strcpy(ctor_ptr, "from constructor");
    char *d = strdup("constructor strdup");
    strcpy(ctor_text, d);
    free(d);
}

__attribute__((destructor)) static void dtor(void) {
    char *p = malloc(1000);
    memset(p, 7, 1000);
    p = realloc(p, 100000);
    free(p);
    static const char msg[] = "destructor ok\n";
    if (write(1, msg, sizeof msg - 1) < 0) _exit(2);
}

static void at_exit(void) {
    void *v[100];
    for (int i = 0; i < 100; i++) { v[i] = malloc((size_t)i * 100 + 1); memset(v[i], i, (size_t)i * 100 + 1); }
    for (int i = 0; i < 100; i++) free(v[i]);
    char *s;
    if (asprintf(&s, "atexit ok %d\n", 42) < 0) _exit(2);
    if (write(1, s, strlen(s)) < 0) _exit(2);
    free(s);
}

static void test_in_use(void) {
    void *gm = dlsym(RTLD_DEFAULT, "gort_malloc");
    CHECK(gm != NULL);
    void *p = malloc(17);
    CHECK(malloc_usable_size(p) == 32); /* gort's class for 17..32; glibc says 24 */
    free(p);
    CHECK(ctor_usable == 32);
    CHECK(strcmp(ctor_ptr, "from constructor") == 0);
    CHECK(strcmp(ctor_text, "constructor strdup") == 0);
    free(ctor_ptr);
}

static void test_api(void) {
    void *p = (void *)1;
    for (size_t a = sizeof(void *); a <= ((size_t)1 << 22); a <<= 1) {
        p = NULL;
        CHECK(posix_memalign(&p, a, 100) == 0);
        CHECK(p && ((uintptr_t)p & (a - 1)) == 0);
        memset(p, 1, 100);
        free(p);
    }
    p = (void *)1;
    CHECK(posix_memalign(&p, 0, 100) == EINVAL);
    CHECK(posix_memalign(&p, 4, 100) == EINVAL);  /* below sizeof(void *) */
    CHECK(posix_memalign(&p, 24, 100) == EINVAL);
    CHECK(p == (void *)1);                        /* untouched on failure */
    CHECK(posix_memalign(&p, 64, SIZE_MAX / 2) == ENOMEM);
    p = NULL;
    CHECK(posix_memalign(&p, 64, 0) == 0);
    free(p);

    p = aligned_alloc(64, 128);
    CHECK(p && ((uintptr_t)p & 63) == 0);
    free(p);
    p = aligned_alloc(4096, 4096 * 3);
    CHECK(p && ((uintptr_t)p & 4095) == 0);
    free(p);
    p = aligned_alloc((size_t)1 << 21, 100);
    CHECK(p && ((uintptr_t)p & (((size_t)1 << 21) - 1)) == 0);
    free(p);
    p = memalign(256, 1000);
    CHECK(p && ((uintptr_t)p & 255) == 0);
    free(p);
    long pg = sysconf(_SC_PAGESIZE);
    p = valloc(100);
    CHECK(p && ((uintptr_t)p % (uintptr_t)pg) == 0);
    free(p);
    p = pvalloc(100);
    CHECK(p && ((uintptr_t)p % (uintptr_t)pg) == 0 && malloc_usable_size(p) >= (size_t)pg);
    free(p);
    p = pvalloc(0);
    CHECK(p != NULL);
    free(p);

    int *a = reallocarray(NULL, 10, sizeof(int));
    CHECK(a);
    for (int i = 0; i < 10; i++) a[i] = i;
    a = reallocarray(a, 1000, sizeof(int));
    CHECK(a && a[9] == 9);
    errno = 0;
    CHECK(reallocarray(a, SIZE_MAX / 2, 3) == NULL && errno == ENOMEM);
    CHECK(a[5] == 5);
    free(a);

    CHECK(malloc_usable_size(NULL) == 0);
    errno = 0;
    CHECK(malloc(SIZE_MAX) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(calloc(SIZE_MAX / 2, 3) == NULL && errno == ENOMEM);
    p = malloc(0);
    CHECK(p != NULL);
    free(p);
    free(NULL);
    unsigned char *c = calloc(1000, 1000);
    CHECK(c);
    for (int i = 0; i < 1000000; i += 999) CHECK(c[i] == 0);
    free(c);
    char *r = realloc(NULL, 10);
    CHECK(r);
    strcpy(r, "abcdefghi");
    r = realloc(r, 1 << 20);
    CHECK(r && strcmp(r, "abcdefghi") == 0);
    r = realloc(r, 5);
    CHECK(r && memcmp(r, "abcde", 5) == 0);
    free(r);
    /* glibc extras must not crash */
    malloc_trim(0);
    struct mallinfo2 mi = mallinfo2();
    (void)mi;
}

static int cmp_int(const void *x, const void *y) {
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

static void test_libc(void) {
    char *s = strdup("hello"), *t = strndup("worldwide", 5);
    char *u = NULL;
    CHECK(asprintf(&u, "%s %s %0*d %.40f", s, t, 200, 7, 1.0 / 3) > 200);
    free(s); free(t); free(u);
    /* open_memstream grows a buffer with realloc */
    char *buf = NULL; size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    CHECK(m);
    for (int i = 0; i < 20000; i++) fprintf(m, "line %d\n", i);
    fclose(m);
    CHECK(len > 100000);
    /* getline */
    FILE *f = fmemopen(buf, len, "r");
    CHECK(f);
    char *line = NULL; size_t cap = 0; int n = 0;
    while (getline(&line, &cap, f) > 0) n++;
    CHECK(n == 20000);
    free(line); fclose(f); free(buf);
    /* qsort of a big array allocates a temporary in glibc */
    size_t cnt = 1 << 20;
    int *arr = malloc(cnt * sizeof *arr);
    for (size_t i = 0; i < cnt; i++) arr[i] = (int)((i * 2654435761u) % 1000003);
    qsort(arr, cnt, sizeof *arr, cmp_int);
    for (size_t i = 1; i < cnt; i++) if (arr[i - 1] > arr[i]) { CHECK(0); break; }
    free(arr);
    regex_t re;
    CHECK(regcomp(&re, "^(a|b)+c[0-9]{2,5}$", REG_EXTENDED) == 0);
    CHECK(regexec(&re, "ababbc123", 0, NULL, 0) == 0);
    regfree(&re);
    for (int i = 0; i < 2000; i++) {
        char k[32], v[64];
        snprintf(k, sizeof k, "GORT_TEST_VAR_%d", i % 300);
        snprintf(v, sizeof v, "value-%d", i);
        CHECK(setenv(k, v, 1) == 0);
    }
    CHECK(getenv("GORT_TEST_VAR_7") != NULL);
    DIR *d = opendir("/usr/lib");
    CHECK(d);
    int ents = 0;
    while (readdir(d)) ents++;
    closedir(d);
    CHECK(ents > 2);
}

static void test_dl(void) {
    void *h = dlopen("libm.so.6", RTLD_NOW);
    CHECK(h);
    if (h) {
        double (*cosf_)(double) = (double (*)(double))dlsym(h, "cos");
        CHECK(cosf_ && cosf_(0.0) == 1.0);
        CHECK(dlclose(h) == 0);
    }
    CHECK(dlopen("libdoes-not-exist-gort.so.42", RTLD_NOW) == NULL);
    const char *e = dlerror();
    CHECK(e && strstr(e, "libdoes-not-exist-gort"));
    CHECK(dlsym(RTLD_DEFAULT, "no_such_symbol_gort_xyz") == NULL);
    CHECK(dlerror() != NULL);
    /* NSS: dlopens libnss_* and allocates inside libc */
    struct passwd *pw = getpwuid(0);
    CHECK(pw && strcmp(pw->pw_name, "root") == 0);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo("localhost", "80", &hints, &res) == 0) freeaddrinfo(res);
}

/* ---- threads ---- */
static pthread_key_t key;
static _Atomic long thread_runs, detached_done;
static void key_dtor(void *p) { free(p); }
static void *thread_fn(void *arg) {
    size_t n = (size_t)(uintptr_t)arg;
    void *v[32];
    for (int i = 0; i < 32; i++) { v[i] = malloc(1 + (n * 31 + (size_t)i * 977) % 40000); FATAL(v[i]); memset(v[i], i, 1); }
    for (int i = 0; i < 32; i++) free(v[i]);
    void *tls = malloc(100 + n % 1000);
    pthread_setspecific(key, tls); /* freed by key_dtor as the thread exits */
    atomic_fetch_add(&thread_runs, 1);
    return malloc(24); /* the joiner frees it */
}
static void *detached_fn(void *arg) {
    thread_fn(arg);
    free(NULL);
    atomic_fetch_add(&detached_done, 1);
    return NULL;
}
static void test_threads(int total) {
    pthread_key_create(&key, key_dtor);
    pthread_attr_t da;
    pthread_attr_init(&da);
    pthread_attr_setdetachstate(&da, PTHREAD_CREATE_DETACHED);
    long detached = 0;
    for (int done = 0; done < total; done += 16) {
        pthread_t t[16];
        for (int i = 0; i < 16; i++) FATAL(pthread_create(&t[i], NULL, thread_fn, (void *)(uintptr_t)(done + i)) == 0);
        pthread_t d;
        if (done % 64 == 0) { FATAL(pthread_create(&d, &da, detached_fn, (void *)(uintptr_t)done) == 0); detached++; }
        for (int i = 0; i < 16; i++) { void *r; pthread_join(t[i], &r); FATAL(r); free(r); }
    }
    while (atomic_load(&detached_done) < detached) usleep(1000);
    CHECK(atomic_load(&thread_runs) >= total);
}

/* ---- fork with threads running ---- */
static _Atomic int stop_workers;
static void *busy(void *arg) {
    void *slot[64] = {0};
    unsigned x = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    while (!atomic_load(&stop_workers)) {
        x = x * 1103515245u + 12345u;
        int k = (int)(x >> 26);
        free(slot[k]);
        slot[k] = malloc(1 + (x >> 8) % 70000);
        FATAL(slot[k]);
        *(char *)slot[k] = 1;
    }
    for (int i = 0; i < 64; i++) free(slot[i]);
    return NULL;
}
static void *child_thread(void *arg) { void *p = malloc(1000); free(p); return strdup("child thread"); }
static void test_fork(int rounds) {
    pthread_t w[3];
    for (int i = 0; i < 3; i++) FATAL(pthread_create(&w[i], NULL, busy, (void *)(uintptr_t)(i + 1)) == 0);
    for (int r = 0; r < rounds; r++) {
        usleep(3000);
        fflush(stdout);
        pid_t pid = fork();
        FATAL(pid >= 0);
        if (pid == 0) {
            alarm(20);
            void *v[200];
            for (int i = 0; i < 200; i++) { v[i] = malloc((size_t)i * 523 + 1); if (!v[i]) _exit(3); memset(v[i], 1, (size_t)i * 523 + 1); }
            for (int i = 0; i < 200; i++) free(v[i]);
            pthread_t t;
            if (pthread_create(&t, NULL, child_thread, NULL) != 0) _exit(4);
            void *ret;
            pthread_join(t, &ret);
            if (!ret || strcmp(ret, "child thread") != 0) _exit(5);
            free(ret);
            char *s = strdup("child");
            free(s);
            _exit(0);
        }
        int st;
        FATAL(waitpid(pid, &st, 0) == pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "fork round %d: child %s %d%s\n", r, WIFEXITED(st) ? "exited" : "killed by signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                    WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? " (deadlock after fork?)" : "");
            failures++;
            if (failures > 5) break;
        }
    }
    atomic_store(&stop_workers, 1);
    for (int i = 0; i < 3; i++) pthread_join(w[i], NULL);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 4000;
    int forks = argc > 2 ? atoi(argv[2]) : 100;
    atexit(at_exit);
    test_in_use();
    test_api();
    test_libc();
    test_dl();
    test_threads(threads);
    test_fork(forks);
    if (failures) { fprintf(stderr, "%d check(s) failed\n", failures); return 1; }
    printf("preload checks ok\n");
    return 0;
}
EOF
cc -std=gnu11 -O1 -g -pthread -w -o "$tmp/prog" "$tmp/prog.c" -ldl || { echo "FAIL: cannot build the preload program"; exit 1; }
LD_PRELOAD="$lib" timeout "${GORT_PRELOAD_TIMEOUT:-180}" "$tmp/prog" 4000 100 >"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
fail=0
[ $rc -eq 0 ] || { echo "FAIL: the program exited $rc"; fail=1; }
grep -q "^preload checks ok$" "$tmp/out" || { echo "FAIL: no 'preload checks ok'"; fail=1; }
grep -q "^atexit ok 42$" "$tmp/out" || { echo "FAIL: the atexit handler did not finish"; fail=1; }
grep -q "^destructor ok$" "$tmp/out" || { echo "FAIL: the destructor did not finish"; fail=1; }
# Short-lived programs from the base system, in pipes: they must simply work.
out=$(cd "$tmp" && LD_PRELOAD="$lib" bash -c 'ls -la /usr/lib | sort -k9 | awk "{ n++ } END { print (n > 0) }"; echo abc | sed s/b/x/; env | grep -c LD_PRELOAD' 2>&1)
[ "$out" = $'1\naxc\n1' ] || { echo "FAIL: coreutils under gort printed: $out"; fail=1; }
[ $fail -eq 0 ] && echo "preload_api: ok"
exit $fail
