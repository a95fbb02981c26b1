/* The README's collector example: typed collected allocation, a root kept in
 * manual memory, a finalizer, a weak reference and the collector's figures.
 * Build: cc gc.c $(pkg-config --cflags --libs gort) */
#include <gort.h>
#include <stdio.h>

typedef struct Node {
    struct Node *left, *right; /* the collector follows these two words */
    long value;                /* and never this one */
} Node;
GORT_TYPE(Node, left, right);

static Node *tree(int depth) {
    Node *n = gort_new(Node); /* zeroed; nobody frees it */
    n->value = depth;
    if (depth > 0) {
        n->left = tree(depth - 1);
        n->right = tree(depth - 1);
    }
    return n;
}

static long count(const Node *n) { return n ? 1 + count(n->left) + count(n->right) : 0; }

static void finalized(void *obj, void *arg) {
    (void)obj;
    printf("finalizer ran for %s\n", (const char *)arg);
}

int main(void) {
    Node *keep = tree(16);                        /* reachable from this stack frame: kept */
    for (int i = 0; i < 100; i++) (void)tree(12); /* garbage: collected as the heap grows */

    /* Manual memory is not scanned, unless it comes from gort_malloc_scanned. */
    Node **table = gort_malloc_scanned(16 * sizeof(Node *));
    table[0] = tree(4);

    Node *temp = tree(2);
    gort_set_finalizer(temp, finalized, "a dropped tree");
    gort_weak *w = gort_weak_make(temp);
    temp = NULL;

    gort_gc(); /* a full collection: the dropped tree's finalizer is queued */
    gort_gc();
    printf("kept tree: %ld nodes; table[0]: %ld nodes; weak reference %s\n", count(keep), count(table[0]),
           gort_weak_get(w) ? "still set" : "cleared");
    gort_free(table);

    gort_gc_stats_t st;
    gort_gc_stats(&st);
    printf("%llu collections, longest pause %.2f ms, %llu objects freed\n", (unsigned long long)st.num_gc,
           st.pause_max_ns / 1e6, (unsigned long long)st.objects_freed);
    return 0;
}
