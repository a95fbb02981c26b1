/*
 * options.c: every tunable of gort, read once from the environment
 * (Go's runtime1.go parsedebugvars). Documented in README.md.
 *
 * The defaults are in the initializer, so allocation works before the
 * constructor below has read the environment (the scavenger stays off until
 * then). Parsing is strict: a value that is not one of the accepted
 * spellings, or is out of range, is rejected with one line on stderr naming
 * the variable, and the default is kept. Booleans take 0/1, on/off,
 * true/false, yes/no (any case); numbers are decimal (a leading zero does not
 * make octal); sizes take an optional B, KiB, MiB, GiB or TiB suffix (Go's
 * GOMEMLIMIT spellings). An empty value is the same as an unset one.
 *
 * The environment is read in a constructor, before main and before any
 * thread of the program: getenv never runs later, nor under a lock.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"

gort_options gort__options = {
    .show_stats = false,
    .scavenger = false, /* until options_init: no thread before the environment is read */
    .scavenge_ms = 100,
    .scavenge_window = 10,
    .retain_min = 1 << 20,
    .hugepages = false,
    .gc_percent = 100,
    .memory_limit = INT64_MAX,
    .oom = GORT_OOM_ABORT,
    .memprofile_rate = -1,
};

/* The drop-in (preload.c) defines this as true: it starts no thread unless
 * asked. The API library keeps its background scavenger by default. */
__attribute__((weak)) GORT_HIDDEN bool gort__dropin = false; /* not const: gcc folds a weak const */

/* One line on stderr with write(2): no stdio, no allocation. */
static void complain(int fd, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof buf - 2) n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    if (fd >= 0 && write(fd, buf, (size_t)n) < 0) return;
}

static bool parse_bool(const char *v, bool *out) {
    static const char *const yes[] = {"1", "on", "true", "yes"}, *const no[] = {"0", "off", "false", "no"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) return *out = true, true;
        if (strcasecmp(v, no[i]) == 0) return *out = false, true;
    }
    return false;
}

/* Decimal digits only, at most max; an optional size suffix when `size`. */
static bool parse_u64(const char *v, uint64_t max, bool size, uint64_t *out) {
    uint64_t x = 0;
    const char *p = v;
    if (*p < '0' || *p > '9') return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (x > (UINT64_MAX - 9) / 10) return false;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    if (*p && size) {
        static const char *const suffix[] = {"B", "KiB", "MiB", "GiB", "TiB"};
        int k = 0;
        while (k < 5 && strcmp(p, suffix[k]) != 0) k++;
        if (k == 5) return false;
        if (k && x > (UINT64_MAX >> (10 * k))) return false;
        x <<= 10 * k;
        p += strlen(p);
    }
    if (*p || x > max) return false;
    *out = x;
    return true;
}

enum kind { K_BOOL, K_U32, K_U64, K_SIZE, K_GOGC, K_MEMLIMIT, K_OOM, K_BARRIER, K_RATE, K_PATH, K_MS };
typedef struct opt {
    const char *name;
    enum kind kind;
    size_t off;       /* field offset in gort_options */
    uint64_t lo, hi;  /* numbers: accepted range */
    const char *what; /* the accepted spellings, for the message */
} opt;

#define F(f) offsetof(gort_options, f)
static const opt table[] = {
    {"GORT_SHOW_STATS", K_BOOL, F(show_stats), 0, 1, NULL},
    {"GORT_SCAVENGER", K_BOOL, F(scavenger), 0, 1, NULL},
    {"GORT_SCAVENGE_MS", K_U32, F(scavenge_ms), 1, 3600000, NULL},
    {"GORT_SCAVENGE_WINDOW", K_U32, F(scavenge_window), 1, 64, NULL},
    {"GORT_RETAIN_MIN", K_SIZE, F(retain_min), 0, (uint64_t)1 << 46, NULL},
    {"GORT_HUGEPAGES", K_BOOL, F(hugepages), 0, 1, NULL},
    {"GORT_GOGC", K_GOGC, F(gc_percent), 0, INT32_MAX, "a number from 0 to 2147483647, or off"},
    {"GORT_MEMLIMIT", K_MEMLIMIT, F(memory_limit), 0, INT64_MAX,
     "bytes, with an optional B, KiB, MiB, GiB or TiB suffix, up to 2^63-1, or off"},
    {"GORT_GCTRACE", K_BOOL, F(gctrace), 0, 1, NULL},
    {"GORT_GCCHECKMARK", K_BOOL, F(gccheckmark), 0, 1, NULL},
    {"GORT_OOM", K_OOM, F(oom), 0, 2, "abort, null or report"},
    {"GORT_GCBARRIER", K_BARRIER, F(gcbarrier), 0, 2, "auto, uffd or none"},
    {"GORT_GCTRACKFAIL", K_U32, F(gctrackfail), 0, 1000000, NULL},
    {"GORT_MEMPROFILERATE", K_RATE, F(memprofile_rate), 0, (uint64_t)1 << 40,
     "bytes per sample from 0 (off) to 1TiB, with an optional B, KiB, MiB, GiB or TiB suffix"},
    {"GORT_MEMPROFILE", K_PATH, F(memprofile), 0, 0, "a file name"},
    {"GORT_MEMPROFILE_SIGNAL", K_BOOL, F(memprofile_signal), 0, 1, NULL},
    {"GORT_HEAPVIEW", K_PATH, F(heapview), 0, 0, "a file name"},
    {"GORT_HEAPVIEW_EVERY", K_MS, F(heapview_every_ms), 10, 3600000,
     "a period from 10ms to 3600s: a number with an ms or s suffix (a bare number is milliseconds)"},
};
#undef F

/* One of three words: *f = its index (the option's enum value). */
static bool set_choice(uint8_t *f, const char *v, const char *const words[3]) {
    for (uint8_t i = 0; i < 3; i++)
        if (strcmp(v, words[i]) == 0) return *f = i, true;
    return false;
}

/* Sets one option from its value; false (option unchanged) if the value is
 * not accepted. */
static bool set_option(gort_options *o, const opt *d, const char *v) {
    char *f = (char *)o + d->off;
    uint64_t x;
    bool b;
    switch (d->kind) {
    case K_BOOL:
        if (!parse_bool(v, &b)) return false;
        *(bool *)f = b;
        return true;
    case K_U32:
        if (!parse_u64(v, d->hi, false, &x) || x < d->lo) return false;
        *(uint32_t *)f = (uint32_t)x;
        return true;
    case K_U64:
    case K_SIZE:
        if (!parse_u64(v, d->hi, d->kind == K_SIZE, &x) || x < d->lo) return false;
        *(uint64_t *)f = x;
        return true;
    case K_GOGC:
        if (strcmp(v, "off") == 0) x = (uint64_t)-1;
        else if (!parse_u64(v, d->hi, false, &x)) return false;
        *(int32_t *)f = (int32_t)x;
        return true;
    case K_MEMLIMIT:
        if (strcmp(v, "off") == 0) x = INT64_MAX;
        else if (!parse_u64(v, d->hi, true, &x)) return false;
        *(int64_t *)f = (int64_t)x;
        return true;
    case K_RATE:
        if (!parse_u64(v, d->hi, true, &x)) return false;
        *(int64_t *)f = (int64_t)x;
        return true;
    case K_MS: { /* a period: ms (the default) or s */
        size_t len = strlen(v);
        uint64_t mul = 1;
        char num[32];
        if (len > 2 && strcmp(v + len - 2, "ms") == 0) len -= 2;
        else if (len > 1 && v[len - 1] == 's') len -= 1, mul = 1000;
        if (len == 0 || len >= sizeof num) return false;
        memcpy(num, v, len);
        num[len] = 0;
        if (!parse_u64(num, d->hi, false, &x) || x > d->hi / mul || x * mul < d->lo) return false;
        *(uint32_t *)f = (uint32_t)(x * mul);
        return true;
    }
    case K_PATH: /* the environment's own string: read at exit (prof.c copies it) */
        if (strlen(v) >= 4096) return false;
        *(const char **)f = v;
        return true;
    case K_OOM: {
        static const char *const words[3] = {"abort", "null", "report"};
        _Static_assert(GORT_OOM_ABORT == 0 && GORT_OOM_NULL == 1 && GORT_OOM_REPORT == 2, "words in enum order");
        return set_choice((uint8_t *)f, v, words);
    }
    case K_BARRIER: {
        static const char *const words[3] = {"auto", "uffd", "none"};
        _Static_assert(GORT_BARRIER_AUTO == 0 && GORT_BARRIER_UFFD == 1 && GORT_BARRIER_NONE == 2,
                       "words in enum order");
        return set_choice((uint8_t *)f, v, words);
    }
    }
    return false;
}

static void describe(const opt *d, char *buf, size_t cap) {
    if (d->what) snprintf(buf, cap, "%s", d->what);
    else if (d->kind == K_BOOL) snprintf(buf, cap, "0/1, on/off, true/false or yes/no");
    else if (d->kind == K_SIZE)
        snprintf(buf, cap, "bytes from %llu to %llu, with an optional B, KiB, MiB, GiB or TiB suffix",
                 (unsigned long long)d->lo, (unsigned long long)d->hi);
    else snprintf(buf, cap, "a decimal number from %llu to %llu", (unsigned long long)d->lo, (unsigned long long)d->hi);
}

void gort__options_parse(gort_options *o, const char *(*get)(const char *name), int errfd) {
    o->scavenger = !gort__dropin;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const opt *d = &table[i];
        const char *v = get(d->name);
        if (!v || !*v) continue; /* empty: as if unset (as Go's GOGC="") */
        if (set_option(o, d, v)) continue;
        char accepted[160];
        describe(d, accepted, sizeof accepted);
        complain(errfd, "gort: %s=\"%.64s\" ignored: expected %s; keeping the default", d->name, v, accepted);
    }
}

/* GORT_SHOW_STATS writes to a copy of stderr taken at start-up: programs
 * such as coreutils close stderr in their own exit handlers, which run first. */
static int stats_fd = -1;
static void show_stats_at_exit(void) {
    FILE *f = stats_fd >= 0 ? fdopen(stats_fd, "w") : NULL;
    if (!f) return;
    char name[256] = "?";
    int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t r = read(fd, name, sizeof name - 1);
        close(fd);
        if (r > 0) name[r - (name[r - 1] == '\n')] = 0;
    }
    fprintf(f, "gort: statistics of %s (pid %ld) at exit\n", name, (long)getpid());
    gort_stats_print(f);
    fclose(f);
}

static const char *env_get(const char *name) { return getenv(name); }

__attribute__((constructor)) static void options_init(void) {
    gort__options_parse(&gort__options, env_get, 2);
    if (gort__options.show_stats) {
        stats_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
        atexit(show_stats_at_exit);
    }
    gort__prof_init(); /* GORT_MEMPROFILE*, GORT_HEAPVIEW */
}
