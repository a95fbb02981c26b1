/*
 * check.h: the tests' tiny framework.
 *
 *   CHECK(cond)            fails the test (prints file:line and the condition) and exits 1
 *   CHECK_EQ(a, b)         as CHECK, printing both values as unsigned long long
 *   test_seed()            the run's seed: GORT_TEST_SEED or the time; printed once
 *   rng_next(&state)       xorshift64* for seeded randomized tests
 *   expect_death(fn, arg, "substring")
 *                          runs fn(arg) in a forked child and checks that it aborts
 *                          (SIGABRT) with the substring on stderr
 *   run_child(fn, arg, also_stdout, buf, cap)
 *                          runs fn(arg) in a forked child, capturing its stderr (and
 *                          stdout) in buf; returns its wait status
 *   announce(p), death_message(out, tag, addr)
 *                          a death test's child names the address it misuses; the
 *                          parent finds it and the message after it in the child's stderr
 *   test_scale()           1 normally, smaller under sanitizers (GORT_TEST_SCALE overrides)
 *   test_rss_kib()         the process's resident set, from /proc/self/statm
 */
#ifndef GORT_TESTS_CHECK_H
#define GORT_TESTS_CHECK_H

#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

#define CHECK_EQ(a, b)                                                                                                 \
    do {                                                                                                               \
        unsigned long long check_a_ = (unsigned long long)(a);                                                         \
        unsigned long long check_b_ = (unsigned long long)(b);                                                         \
        if (check_a_ != check_b_) {                                                                                    \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%llu vs %llu)\n", __FILE__, __LINE__, #a, #b, check_a_, \
                    check_b_);                                                                                         \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

static inline uint64_t test_seed(void) {
    static uint64_t seed;
    if (seed == 0) {
        const char *s = getenv("GORT_TEST_SEED");
        seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
        if (seed == 0) seed = 1;
        fprintf(stderr, "seed: GORT_TEST_SEED=%" PRIu64 "\n", seed);
    }
    return seed;
}

static inline uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline int test_sanitized(void) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return 1;
#else
    return 0;
#endif
#else
    return 0;
#endif
}

/* A factor to scale iteration counts: 1 normally, 1/8 under sanitizers. */
static inline double test_scale(void) {
    const char *s = getenv("GORT_TEST_SCALE");
    if (s) return atof(s);
    return test_sanitized() ? 0.125 : 1.0;
}

static inline long test_rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    CHECK(f);
    long size = 0, res = 0;
    CHECK(fscanf(f, "%ld %ld", &size, &res) == 2);
    fclose(f);
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Runs fn(arg) in a forked child whose stderr (and its stdout too, if also_stdout) is a
 * pipe to the parent; the child _exits 0 if fn returns. Reads all that the child writes
 * into buf (at most cap - 1 bytes, then a NUL), waits for the child and returns its wait
 * status. */
static inline int run_child(void (*fn)(void *), void *arg, int also_stdout, char *buf, size_t cap) {
    int pipefd[2];
    CHECK(pipe(pipefd) == 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        dup2(pipefd[1], 2);
        if (also_stdout) dup2(pipefd[1], 1);
        fn(arg);
        _exit(0);
    }
    close(pipefd[1]);
    size_t len = 0;
    ssize_t r;
    while ((r = read(pipefd[0], buf + len, cap - 1 - len)) > 0) len += (size_t)r;
    buf[len] = 0;
    close(pipefd[0]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    return status;
}

/* Death tests whose message must name an address: the child announces it on stderr as
 * "ADDR=<hex>\n" before the misuse, and the fatal error after that line must name it.
 * death_message finds the announcement in the child's stderr `out` (as `tag`: "ADDR=",
 * or "addr=" in lowercased output), copies its hex digits into addr (left as it is
 * without one) and returns where the message after it starts (all of out without one). */
static inline void announce_addr(uintptr_t a) {
    fprintf(stderr, "ADDR=%llx\n", (unsigned long long)a);
    fflush(stderr);
}
#define announce(p) announce_addr((uintptr_t)(p))
static inline const char *death_message(const char *out, const char *tag, char addr[32]) {
    const char *a = strstr(out, tag);
    if (a) sscanf(a + strlen(tag), "%31[0-9a-f]", addr);
    const char *msg = a ? strchr(a, '\n') : out;
    return msg ? msg : out;
}

/* A function and its argument, for a child (run_child) that calls it among other things. */
struct child_call {
    void (*fn)(void *);
    void *arg;
};
static inline void expect_death_child(void *p) {
    struct child_call *c = p;
    c->fn(c->arg);
    fprintf(stderr, "(returned normally)\n");
}
/* Runs fn(arg) in a child; the child must die by SIGABRT and print `want`
 * on stderr. Returns only if it did. */
static inline void expect_death_at(const char *file, int line, void (*fn)(void *), void *arg, const char *want) {
    char buf[8192];
    struct child_call c = {fn, arg};
    int status = run_child(expect_death_child, &c, 0, buf, sizeof buf);
    int died = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    if (!died || !strstr(buf, want)) {
        fprintf(stderr, "%s:%d: expected death with \"%s\"; status %d; stderr:\n%s\n", file, line, want, status, buf);
        exit(1);
    }
}
#define expect_death(fn, arg, want) expect_death_at(__FILE__, __LINE__, fn, arg, want)

#endif
