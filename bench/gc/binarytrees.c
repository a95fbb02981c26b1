/* Benchmarks Game binary-trees, written from the benchmark's description:
 * a stretch tree of depth max+1 built and checked, a long-lived tree of depth
 * max kept to the end, then for depth d = 4, 6, ..., max, 2^(max-d+4) trees
 * of depth d built bottom-up, checked (count their nodes) and dropped. One
 * mutator thread. Usage: binarytrees [MAX_DEPTH] (default 21). */
#include "impl.h"

typedef struct Node {
    struct Node *left, *right;
} Node;
BENCH_TYPE(Node, left, right);

static Node *bottom_up(int depth) {
    Node *n = NEW(Node);
    if (depth > 0) {
        n->left = bottom_up(depth - 1);
        n->right = bottom_up(depth - 1);
    } else {
        n->left = n->right = NULL;
    }
    return n;
}

static long check(const Node *n) { return n->left ? 1 + check(n->left) + check(n->right) : 1; }

static void drop(Node *n) {
#if MANUAL_FREE
    if (n->left) {
        drop(n->left);
        drop(n->right);
    }
    FREE(n);
#else
    (void)n;
#endif
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 21;
    const int min_depth = 4;
    int max_depth = n > min_depth + 2 ? n : min_depth + 2;
    impl_init();
    uint64_t t0 = now_ns();
    long sum = 0;

    Node *stretch = bottom_up(max_depth + 1);
    long c = check(stretch);
    if (c != (2L << (max_depth + 1)) - 1) fail("stretch tree check", (uint64_t)c, (2ull << (max_depth + 1)) - 1);
    printf("stretch tree of depth %d\t check: %ld\n", max_depth + 1, c);
    sum += c;
    drop(stretch);
    stretch = NULL;

    Node *long_lived = bottom_up(max_depth);
    for (int d = min_depth; d <= max_depth; d += 2) {
        long iters = 1L << (max_depth - d + min_depth), chk = 0;
        for (long i = 0; i < iters; i++) {
            Node *t = bottom_up(d);
            chk += check(t);
            drop(t);
        }
        if (chk != iters * ((2L << d) - 1)) fail("trees check", (uint64_t)chk, (uint64_t)(iters * ((2L << d) - 1)));
        printf("%ld\t trees of depth %d\t check: %ld\n", iters, d, chk);
        sum += chk;
    }
    c = check(long_lived);
    printf("long lived tree of depth %d\t check: %ld\n", max_depth, c);
    if (c != (2L << max_depth) - 1) fail("long-lived tree check", (uint64_t)c, (2ull << max_depth) - 1);
    sum += c;
    drop(long_lived);
    double secs = (double)(now_ns() - t0) * 1e-9;
    printf("RESULT workload=binarytrees impl=%s depth=%d checksum=%ld secs=%.3f\n", IMPL_NAME, max_depth, sum, secs);
    impl_report();
    return 0;
}
