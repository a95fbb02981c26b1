/* A big live heap with steady churn: an array of N pointers, each to a short
 * linked list of 32-byte nodes (1 to 7 nodes, 4 on average), about LIVE_MIB
 * MiB in all (8 + 4 * 32 bytes per entry). Built first; then CHURN * N
 * replacements, each of a random entry by a new list, so old objects keep
 * dying all over the heap. The work is timed in units of 1000 replacements
 * (1000 insertions while building): the slowest unit shows the worst stall the
 * program saw, collector pauses included. Each dropped list is walked and
 * checked (index, position, length) before it is replaced, and every list at
 * the end: a collector that freed a live node shows up as a failed check.
 * Usage: live [LIVE_MIB CHURN] (default 1024 2). */
#include "impl.h"

typedef struct Item {
    struct Item *next;
    uint64_t key, idx, pos;
} Item;
BENCH_TYPE(Item, next);
typedef struct Slot {
    Item *head;
} Slot;
BENCH_TYPE(Slot, head);

#define UNIT 1000

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}
/* The per-mille-th value of n sorted values (nearest rank). */
static uint64_t pct(const uint64_t *v, uint64_t n, uint64_t permille) {
    if (!n) return 0;
    uint64_t k = (n * permille + 999) / 1000;
    return v[k ? k - 1 : 0];
}

static Item *make_list(uint64_t idx, uint64_t len, uint64_t key) {
    Item *head = NULL;
    for (uint64_t p = 1; p <= len; p++) { /* built from the tail: the head has pos = len */
        Item *it = NEW(Item);
        it->next = head;
        it->key = key + p;
        it->idx = idx;
        it->pos = p;
        head = it;
    }
    return head;
}

/* Checks one list, frees it in the malloc build, returns the sum of its keys. */
static uint64_t take_list(Item *it, uint64_t idx) {
    uint64_t sum = 0, pos = it ? it->pos : 0;
    if (pos < 1 || pos > 7) fail("list length", pos, idx);
    while (it) {
        if (it->idx != idx) fail("node index", it->idx, idx);
        if (it->pos != pos) fail("node position", it->pos, pos);
        sum += it->key;
        Item *next = it->next;
        FREE(it);
        it = next;
        pos--;
    }
    if (pos != 0) fail("list ends early", pos, 0);
    return sum;
}

int main(int argc, char **argv) {
    double live_mib = 1024, churn = 2;
    if (argc > 2) {
        live_mib = atof(argv[1]);
        churn = atof(argv[2]);
    }
    uint64_t n = (uint64_t)(live_mib * 1048576.0 / (8 + 4 * sizeof(Item)));
    uint64_t reps = (uint64_t)(churn * (double)n);
    reps -= reps % UNIT;
    impl_init();
    uint64_t seed = 42, sum = 0, t0 = now_ns();

    Slot *slots = NEW_ARRAY(Slot, n);
    uint64_t build_max = 0, t = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        uint64_t r = rng_next(&seed);
        slots[i].head = make_list(i, 1 + r % 7, r >> 8);
        if ((i + 1) % UNIT == 0) {
            uint64_t u = now_ns();
            if (u - t > build_max) build_max = u - t;
            t = u;
        }
    }
    uint64_t t_built = now_ns();

    uint64_t unit_max = 0, units = reps / UNIT;
    uint64_t *unit_ns = calloc(units ? units : 1, sizeof *unit_ns); /* for the percentiles */
    if (!unit_ns) return 1;
    t = now_ns();
    for (uint64_t u = 0; u < units; u++) {
        for (int k = 0; k < UNIT; k++) {
            uint64_t r = rng_next(&seed);
            uint64_t i = (r >> 3) % n;
            sum += take_list(slots[i].head, i);
            slots[i].head = make_list(i, 1 + r % 7, r >> 8);
        }
        uint64_t e = now_ns();
        if (e - t > unit_max) unit_max = e - t;
        unit_ns[u] = e - t;
        t = e;
    }
    uint64_t t_churned = now_ns();
    qsort(unit_ns, units, sizeof *unit_ns, cmp_u64);
    for (uint64_t i = 0; i < n; i++) sum += take_list(slots[i].head, i);
    FREE(slots);
    double secs = (double)(now_ns() - t0) * 1e-9;
    printf("RESULT workload=live impl=%s entries=%" PRIu64 " replacements=%" PRIu64 " checksum=%" PRIu64
           " secs=%.3f build_secs=%.3f churn_secs=%.3f unit_max_ns=%" PRIu64 " unit_avg_ns=%" PRIu64
           " build_unit_max_ns=%" PRIu64 " unit_p50_ns=%" PRIu64 " unit_p99_ns=%" PRIu64 " unit_p999_ns=%" PRIu64 "\n",
           IMPL_NAME, n, reps, sum, secs, (double)(t_built - t0) * 1e-9, (double)(t_churned - t_built) * 1e-9, unit_max,
           units ? (t_churned - t_built) / units : 0, build_max, pct(unit_ns, units, 500), pct(unit_ns, units, 990),
           pct(unit_ns, units, 999));
    free(unit_ns);
    impl_report();
    return 0;
}
