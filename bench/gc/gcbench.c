/* GCBench in the style of Ellis, Kovac and Boehm's benchmark, written from its
 * description: a stretch tree is built and dropped; a long-lived tree and a
 * big array of doubles stay live to the end; then, for depth d = MIN, MIN+2,
 * ..., MAX, as many short-lived trees of depth d as make twice the stretch
 * tree's node count are built top-down (a node is allocated, then its
 * children filled in) and as many bottom-up, each dropped at once. At the end
 * the long-lived tree and the array are checked.
 * Usage: gcbench [STRETCH LONG_LIVED ARRAY_LEN MIN MAX] (default 18 16 500000 4 16,
 * the original's sizes). */
#include "impl.h"

typedef struct Node {
    struct Node *left, *right;
    int i, j;
} Node;
BENCH_TYPE(Node, left, right);
typedef double Real;
BENCH_TYPE_NOPTR(Real);

static long made; /* nodes allocated, the checksum's first part */

static long tree_size(int d) { return (1L << (d + 1)) - 1; }

static void populate(int depth, Node *n) {
    if (depth <= 0) {
        n->left = n->right = NULL;
        return;
    }
    depth--;
    n->left = NEW(Node);
    n->right = NEW(Node);
    n->left->i = n->right->i = depth;
    n->left->j = n->right->j = 0;
    made += 2;
    populate(depth, n->left);
    populate(depth, n->right);
}

static Node *make_tree(int depth) {
    Node *n = NEW(Node);
    made++;
    n->i = depth;
    n->j = 0;
    if (depth <= 0) {
        n->left = n->right = NULL;
    } else {
        n->left = make_tree(depth - 1);
        n->right = make_tree(depth - 1);
    }
    return n;
}

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

static long count(const Node *n, int depth) {
    if (!n->left) {
        if (depth != 0) fail("long-lived leaf depth", (uint64_t)depth, 0);
        return 1;
    }
    return 1 + count(n->left, depth - 1) + count(n->right, depth - 1);
}

int main(int argc, char **argv) {
    int stretch = 18, long_lived_depth = 16, min_depth = 4, max_depth = 16;
    long array_len = 500000;
    if (argc > 5) {
        stretch = atoi(argv[1]);
        long_lived_depth = atoi(argv[2]);
        array_len = atol(argv[3]);
        min_depth = atoi(argv[4]);
        max_depth = atoi(argv[5]);
    }
    impl_init();
    uint64_t t0 = now_ns();

    Node *tmp = make_tree(stretch);
    drop(tmp);
    tmp = NULL;

    Node *long_lived = NEW(Node);
    long_lived->i = long_lived->j = 0;
    made++;
    populate(long_lived_depth, long_lived);

    Real *array = NEW_NOPTR_ARRAY(Real, array_len);
    for (long i = 0; i < array_len; i++) array[i] = 1.0 / (double)(i + 1);

    for (int d = min_depth; d <= max_depth; d += 2) {
        long iters = 2 * tree_size(stretch) / tree_size(d);
        for (long i = 0; i < iters; i++) {
            tmp = NEW(Node);
            tmp->i = d;
            tmp->j = 0;
            made++;
            populate(d, tmp);
            drop(tmp);
        }
        for (long i = 0; i < iters; i++) {
            tmp = make_tree(d);
            drop(tmp);
        }
        tmp = NULL;
    }

    long ll = count(long_lived, long_lived_depth);
    if (ll != tree_size(long_lived_depth))
        fail("long-lived tree size", (uint64_t)ll, (uint64_t)tree_size(long_lived_depth));
    for (long i = 0; i < array_len; i += 997)
        if (array[i] != 1.0 / (double)(i + 1)) fail("array element", (uint64_t)i, (uint64_t)i);
    double secs = (double)(now_ns() - t0) * 1e-9;
    printf("RESULT workload=gcbench impl=%s checksum=%ld secs=%.3f\n", IMPL_NAME, made + ll, secs);
    drop(long_lived);
    FREE(array);
    impl_report();
    return 0;
}
