/*
 * test_options: the environment parser (src/options.c) against a table. Every variable takes
 * its accepted spellings; every other value is rejected with one line on stderr that names
 * the variable, and the default is kept. Booleans: 0/1, on/off, true/false, yes/no in any
 * case; numbers: decimal only ("010" is ten, not eight), in range, no sign, no junk; sizes:
 * an optional B/KiB/MiB/GiB/TiB suffix; GORT_GOGC and GORT_MEMLIMIT also take "off". An
 * empty value is the same as an unset one (as Go's GOGC).
 * Also: the drop-in's default starts no scavenger thread, the API library's does.
 */
#include <fcntl.h>
#include <stdint.h>
#include <gort.h>
#include "internal.h"
#include "check.h"

static const char *g_name, *g_value;
static const char *one_var(const char *name) { return strcmp(name, g_name) == 0 ? g_value : NULL; }
static const char *no_var(const char *name) {
    (void)name;
    return NULL;
}

static gort_options defaults(void) {
    gort_options o;
    memset(&o, 0, sizeof o);
    o.scavenger = 1; /* the API library's default */
    o.scavenge_ms = 100;
    o.scavenge_window = 10;
    o.retain_min = 1 << 20;
    o.gc_percent = 100;
    o.memory_limit = INT64_MAX;
    o.oom = GORT_OOM_ABORT;
    return o;
}

/* Parses NAME=VALUE alone; returns the options and the stderr text in msg. */
static gort_options parse(const char *name, const char *value, char *msg, size_t cap) {
    int fd[2];
    CHECK(pipe(fd) == 0);
    gort_options o = defaults();
    g_name = name;
    g_value = value;
    gort__options_parse(&o, one_var, fd[1]);
    close(fd[1]);
    ssize_t n = read(fd[0], msg, cap - 1);
    close(fd[0]);
    msg[n > 0 ? n : 0] = 0;
    return o;
}

typedef struct row {
    const char *name, *value;
    int ok;            /* accepted? */
    size_t off, width; /* the field */
    int64_t want;      /* its value (when accepted) */
} row;

#define F(f) offsetof(gort_options, f), sizeof(((gort_options *)0)->f)
static const row rows[] = {
    /* booleans */
    {"GORT_SHOW_STATS", "1", 1, F(show_stats), 1},
    {"GORT_SHOW_STATS", "yes", 1, F(show_stats), 1},
    {"GORT_SHOW_STATS", "YES", 1, F(show_stats), 1},
    {"GORT_SHOW_STATS", "true", 1, F(show_stats), 1},
    {"GORT_SHOW_STATS", "on", 1, F(show_stats), 1},
    {"GORT_SHOW_STATS", "0", 1, F(show_stats), 0},
    {"GORT_SHOW_STATS", "2", 0, F(show_stats), 0},
    {"GORT_SHOW_STATS", "", 1, F(show_stats), 0}, /* empty: as if unset */
    {"GORT_SHOW_STATS", "y", 0, F(show_stats), 0},
    {"GORT_SCAVENGER", "off", 1, F(scavenger), 0},
    {"GORT_SCAVENGER", "Off", 1, F(scavenger), 0},
    {"GORT_SCAVENGER", "no", 1, F(scavenger), 0},
    {"GORT_SCAVENGER", "false", 1, F(scavenger), 0},
    {"GORT_SCAVENGER", "0", 1, F(scavenger), 0},
    {"GORT_SCAVENGER", "1", 1, F(scavenger), 1},
    {"GORT_SCAVENGER", "disabled", 0, F(scavenger), 1},
    {"GORT_SCAVENGER", " 0", 0, F(scavenger), 1},
    {"GORT_HUGEPAGES", "on", 1, F(hugepages), 1},
    {"GORT_HUGEPAGES", "1x", 0, F(hugepages), 0},
    {"GORT_GCTRACE", "1", 1, F(gctrace), 1},
    {"GORT_GCTRACE", "maybe", 0, F(gctrace), 0},
    {"GORT_GCCHECKMARK", "true", 1, F(gccheckmark), 1},
    {"GORT_GCCHECKMARK", "-1", 0, F(gccheckmark), 0},
    /* numbers */
    {"GORT_SCAVENGE_MS", "250", 1, F(scavenge_ms), 250},
    {"GORT_SCAVENGE_MS", "010", 1, F(scavenge_ms), 10},
    {"GORT_SCAVENGE_MS", "1", 1, F(scavenge_ms), 1},
    {"GORT_SCAVENGE_MS", "3600000", 1, F(scavenge_ms), 3600000},
    {"GORT_SCAVENGE_MS", "-1", 0, F(scavenge_ms), 100},
    {"GORT_SCAVENGE_MS", "0", 0, F(scavenge_ms), 100},
    {"GORT_GCTRACKFAIL", "3", 1, F(gctrackfail), 3},
    {"GORT_GCTRACKFAIL", "0", 1, F(gctrackfail), 0},
    {"GORT_GCTRACKFAIL", "1000001", 0, F(gctrackfail), 0},
    {"GORT_SCAVENGE_MS", "3600001", 0, F(scavenge_ms), 100},
    {"GORT_SCAVENGE_MS", "0x10", 0, F(scavenge_ms), 100},
    {"GORT_SCAVENGE_MS", "4294967396", 0, F(scavenge_ms), 100},
    {"GORT_SCAVENGE_MS", "99999999999999999999999", 0, F(scavenge_ms), 100},
    {"GORT_SCAVENGE_MS", "+5", 0, F(scavenge_ms), 100},
    {"GORT_SCAVENGE_MS", "5ms", 0, F(scavenge_ms), 100},
    {"GORT_SCAVENGE_MS", "", 1, F(scavenge_ms), 100},
    {"GORT_SCAVENGE_WINDOW", "64", 1, F(scavenge_window), 64},
    {"GORT_SCAVENGE_WINDOW", "65", 0, F(scavenge_window), 10},
    {"GORT_SCAVENGE_WINDOW", "0", 0, F(scavenge_window), 10},
    {"GORT_RETAIN_MIN", "0", 1, F(retain_min), 0},
    {"GORT_RETAIN_MIN", "4096", 1, F(retain_min), 4096},
    {"GORT_RETAIN_MIN", "16MiB", 1, F(retain_min), 16 << 20},
    {"GORT_RETAIN_MIN", "2KiB", 1, F(retain_min), 2048},
    {"GORT_RETAIN_MIN", "1TiB", 1, F(retain_min), (int64_t)1 << 40},
    {"GORT_RETAIN_MIN", "16M", 0, F(retain_min), 1 << 20},
    {"GORT_RETAIN_MIN", "1e6", 0, F(retain_min), 1 << 20},
    {"GORT_RETAIN_MIN", "-4096", 0, F(retain_min), 1 << 20},
    {"GORT_RETAIN_MIN", "65TiB", 0, F(retain_min), 1 << 20},
    /* the collector's */
    {"GORT_GOGC", "50", 1, F(gc_percent), 50},
    {"GORT_GOGC", "0", 1, F(gc_percent), 0},
    {"GORT_GOGC", "off", 1, F(gc_percent), -1},
    {"GORT_GOGC", "2147483647", 1, F(gc_percent), 2147483647},
    {"GORT_GOGC", "2147483648", 0, F(gc_percent), 100},
    {"GORT_GOGC", "-5", 0, F(gc_percent), 100},
    {"GORT_GOGC", "OFF!", 0, F(gc_percent), 100},
    {"GORT_GOGC", "100%", 0, F(gc_percent), 100},
    {"GORT_MEMLIMIT", "off", 1, F(memory_limit), INT64_MAX},
    {"GORT_MEMLIMIT", "1000", 1, F(memory_limit), 1000},
    {"GORT_MEMLIMIT", "1000B", 1, F(memory_limit), 1000},
    {"GORT_MEMLIMIT", "512MiB", 1, F(memory_limit), 512 << 20},
    {"GORT_MEMLIMIT", "3GiB", 1, F(memory_limit), (int64_t)3 << 30},
    {"GORT_MEMLIMIT", "2TiB", 1, F(memory_limit), (int64_t)2 << 40},
    {"GORT_MEMLIMIT", "9223372036854775807", 1, F(memory_limit), INT64_MAX},
    {"GORT_MEMLIMIT", "9223372036854775808", 0, F(memory_limit), INT64_MAX},
    {"GORT_MEMLIMIT", "8388608TiB", 0, F(memory_limit), INT64_MAX},
    {"GORT_MEMLIMIT", "512MB", 0, F(memory_limit), INT64_MAX},
    {"GORT_MEMLIMIT", "-1", 0, F(memory_limit), INT64_MAX},
    {"GORT_OOM", "null", 1, F(oom), GORT_OOM_NULL},
    {"GORT_OOM", "report", 1, F(oom), GORT_OOM_REPORT},
    {"GORT_OOM", "abort", 1, F(oom), GORT_OOM_ABORT},
    {"GORT_OOM", "panic", 0, F(oom), GORT_OOM_ABORT},
    {"GORT_OOM", "", 1, F(oom), GORT_OOM_ABORT},
    /* the heap profile and picture (prof.c) */
    {"GORT_MEMPROFILERATE", "524288", 1, F(memprofile_rate), 524288},
    {"GORT_MEMPROFILERATE", "512KiB", 1, F(memprofile_rate), 524288},
    {"GORT_MEMPROFILERATE", "1", 1, F(memprofile_rate), 1},
    {"GORT_MEMPROFILERATE", "0", 1, F(memprofile_rate), 0},
    {"GORT_MEMPROFILERATE", "-1", 0, F(memprofile_rate), 0},
    {"GORT_MEMPROFILERATE", "2TiB", 0, F(memprofile_rate), 0},
    {"GORT_MEMPROFILERATE", "512k", 0, F(memprofile_rate), 0},
    {"GORT_MEMPROFILE_SIGNAL", "on", 1, F(memprofile_signal), 1},
    {"GORT_MEMPROFILE_SIGNAL", "usr2", 0, F(memprofile_signal), 0},
    {"GORT_HEAPVIEW_EVERY", "100ms", 1, F(heapview_every_ms), 100},
    {"GORT_HEAPVIEW_EVERY", "1s", 1, F(heapview_every_ms), 1000},
    {"GORT_HEAPVIEW_EVERY", "250", 1, F(heapview_every_ms), 250},
    {"GORT_HEAPVIEW_EVERY", "3600s", 1, F(heapview_every_ms), 3600000},
    {"GORT_HEAPVIEW_EVERY", "3601s", 0, F(heapview_every_ms), 0},
    {"GORT_HEAPVIEW_EVERY", "5ms", 0, F(heapview_every_ms), 0},
    {"GORT_HEAPVIEW_EVERY", "2h", 0, F(heapview_every_ms), 0},
    {"GORT_HEAPVIEW_EVERY", "s", 0, F(heapview_every_ms), 0},
    {"GORT_HEAPVIEW_EVERY", "1.5s", 0, F(heapview_every_ms), 0},
};
#undef F

static int64_t field(const gort_options *o, size_t off, size_t width) {
    const char *f = (const char *)o + off;
    switch (width) {
    case 1: return *(const uint8_t *)f;
    case 4:
        if (off == offsetof(gort_options, gc_percent)) return *(const int32_t *)f;
        return *(const uint32_t *)f;
    default: return *(const int64_t *)f;
    }
}

int main(void) {
    int failed = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const row *r = &rows[i];
        char msg[1024];
        gort_options o = parse(r->name, r->value, msg, sizeof msg);
        gort_options d = defaults();
        int64_t got = field(&o, r->off, r->width);
        int64_t want = r->ok ? r->want : field(&d, r->off, r->width);
        int lines = 0;
        for (const char *c = msg; *c; c++) lines += *c == '\n';
        int named = strstr(msg, r->name) != NULL && strstr(msg, "gort: ") == msg;
        int good = got == want && (r->ok ? msg[0] == 0 : lines == 1 && named);
        /* nothing else changed (the scavenger default aside) */
        o.scavenger = d.scavenger = 0;
        memcpy((char *)&o + r->off, (char *)&d + r->off, r->width);
        if (memcmp(&o, &d, sizeof o) != 0) good = 0;
        if (!good) {
            fprintf(stderr, "FAIL %s=\"%s\": got %lld, want %lld (%s); stderr: %s\n", r->name, r->value, (long long)got,
                    (long long)want, r->ok ? "accepted" : "rejected", msg);
            failed++;
        } else if (!r->ok) {
            fprintf(stderr, "ok   %s", msg);
        }
    }
    /* The API library's scavenger default is on (this test links it); the drop-in's is off
     * (tests/preload_threads.sh checks that no thread starts). */
    {
        gort_options o = defaults();
        gort__options_parse(&o, no_var, -1);
        CHECK(o.scavenger == 1);
    }
    if (failed) {
        fprintf(stderr, "test_options: %d row(s) failed\n", failed);
        return 1;
    }
    printf("test_options: %zu rows ok\n", sizeof rows / sizeof rows[0]);
    return 0;
}
