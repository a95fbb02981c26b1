/*
 * options.c: every tunable of gort, read once from the environment
 * (Go's runtime1.go parsedebugvars). Documented in README.md.
 *
 * The defaults are in the initializer, so allocation works before the
 * constructor below has read the environment.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

gort_options gort__options = {
    .show_stats = false,
    .scavenger = true,
    .scavenge_ms = 100,
    .scavenge_window = 10,
    .retain_min = 1 << 20,
    .hugepages = false,
    .gc_percent = 100,
    .memory_limit = INT64_MAX,
    .oom = GORT_OOM_ABORT,
};

static uint64_t env_u64(const char *name, uint64_t def) {
    const char *v = getenv(name);
    if (!v || !*v) return def;
    char *end;
    unsigned long long x = strtoull(v, &end, 0);
    return *end ? def : (uint64_t)x;
}

/* GORT_SHOW_STATS writes to a copy of stderr taken at start-up: programs
 * such as coreutils close stderr in their own exit handlers, which run first. */
static int stats_fd = -1;
static void show_stats_at_exit(void) {
    FILE *f = stats_fd >= 0 ? fdopen(stats_fd, "w") : NULL;
    if (!f) return;
    gort_stats_print(f);
    fclose(f);
}

__attribute__((constructor)) static void options_init(void) {
    gort__options.show_stats = env_u64("GORT_SHOW_STATS", 0) != 0;
    gort__options.scavenger = env_u64("GORT_SCAVENGER", 1) != 0;
    gort__options.scavenge_ms = (uint32_t)env_u64("GORT_SCAVENGE_MS", 100);
    if (gort__options.scavenge_ms == 0) gort__options.scavenge_ms = 1;
    gort__options.scavenge_window = (uint32_t)env_u64("GORT_SCAVENGE_WINDOW", 10);
    if (gort__options.scavenge_window == 0) gort__options.scavenge_window = 1;
    if (gort__options.scavenge_window > 64) gort__options.scavenge_window = 64;
    gort__options.retain_min = env_u64("GORT_RETAIN_MIN", 1 << 20);
    gort__options.hugepages = env_u64("GORT_HUGEPAGES", 0) != 0;
    const char *v = getenv("GORT_GOGC");
    if (v && *v) gort__options.gc_percent = strcmp(v, "off") == 0 ? -1 : (int32_t)strtol(v, NULL, 10);
    v = getenv("GORT_MEMLIMIT");
    if (v && *v) gort__options.memory_limit = (int64_t)env_u64("GORT_MEMLIMIT", INT64_MAX);
    gort__options.gctrace = env_u64("GORT_GCTRACE", 0) != 0;
    gort__options.gccheckmark = env_u64("GORT_GCCHECKMARK", 0) != 0;
    v = getenv("GORT_OOM");
    if (v && strcmp(v, "null") == 0) gort__options.oom = GORT_OOM_NULL;
    else if (v && strcmp(v, "report") == 0) gort__options.oom = GORT_OOM_REPORT;
    if (gort__options.show_stats) {
        stats_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
        atexit(show_stats_at_exit);
    }
}
