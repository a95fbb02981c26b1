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

#define CHECK_EQ(a, b)                                                               \
    do {                                                                             \
        unsigned long long check_a_ = (unsigned long long)(a);                       \
        unsigned long long check_b_ = (unsigned long long)(b);                       \
        if (check_a_ != check_b_) {                                                  \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%llu vs %llu)\n",     \
                    __FILE__, __LINE__, #a, #b, check_a_, check_b_);                 \
            exit(1);                                                                 \
        }                                                                            \
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

/* Runs fn(arg) in a child; the child must die by SIGABRT and print `want`
 * on stderr. Returns only if it did. */
static inline void expect_death_at(const char *file, int line, void (*fn)(void *), void *arg,
                                   const char *want) {
    int pipefd[2];
    CHECK(pipe(pipefd) == 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        dup2(pipefd[1], 2);
        fn(arg);
        fprintf(stderr, "(returned normally)\n");
        _exit(0);
    }
    close(pipefd[1]);
    char buf[8192];
    size_t len = 0;
    ssize_t r;
    while ((r = read(pipefd[0], buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)r;
    buf[len] = 0;
    close(pipefd[0]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    int died = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    if (!died || !strstr(buf, want)) {
        fprintf(stderr, "%s:%d: expected death with \"%s\"; status %d; stderr:\n%s\n", file,
                line, want, status, buf);
        exit(1);
    }
}
#define expect_death(fn, arg, want) expect_death_at(__FILE__, __LINE__, fn, arg, want)

#endif
