/*
 * test_lockrank: the lock-rank checker (src/lock.h) of the debug, ASan and TSan builds.
 * Taking a lock of a lower rank than one held, taking a single-instance rank twice,
 * unlocking a lock not held, and calling a `_locked` function without its lock are each
 * a `gort: fatal error: lock order` in a forked child; the orders the runtime uses (every
 * mcentral lock in class order, then the page heap; a trylock out of order) pass.
 * In the release build the checker compiles to nothing: the test says so and passes.
 * GORT_TEST_TSAN.
 */
#include "check.h"
#include "internal.h"

#if GORT_DEBUG >= 1
static void heap_then_central(void *arg) {
    (void)arg;
    gort__lock(&gort__heap.lock, GORT_RANK_MHEAP);
    gort__lock(&gort__central[1].lock, GORT_RANK_MCENTRAL);
}
static void heap_twice(void *arg) {
    (void)arg;
    gort__lock(&gort__heap.lock, GORT_RANK_MHEAP);
    gort__lock(&gort__heap.lock, GORT_RANK_MHEAP); /* reported before it would deadlock */
}
static void unlock_unheld(void *arg) {
    (void)arg;
    gort__unlock(&gort__heap.lock, GORT_RANK_MHEAP);
}
static void locked_without_lock(void *arg) {
    (void)arg;
    gort__heap_check_locked();
}
#endif

int main(void) {
#if GORT_DEBUG >= 1
    void *p = gort_malloc(100); /* the heap exists */
    CHECK(p);
    /* the orders the runtime uses */
    for (unsigned i = 0; i < 8; i++) gort__lock(&gort__central[i].lock, GORT_RANK_MCENTRAL);
    gort__lock(&gort__heap.lock, GORT_RANK_MHEAP);
    CHECK(gort__heap_check_locked() > 0);
    CHECK(gort__trylock(&gort__central[9].lock, GORT_RANK_MCENTRAL) == 0); /* out of order, but a trylock */
    gort__unlock(&gort__central[9].lock, GORT_RANK_MCENTRAL);
    gort__unlock(&gort__heap.lock, GORT_RANK_MHEAP);
    for (unsigned i = 8; i-- > 0;) gort__unlock(&gort__central[i].lock, GORT_RANK_MCENTRAL);
    gort_free(p);
    expect_death(heap_then_central, NULL, "lock order: a lock of this rank taken while holding");
    expect_death(heap_twice, NULL, "lock order: a lock of this rank taken while holding");
    expect_death(unlock_unheld, NULL, "lock order: unlock of a lock this thread does not hold");
    expect_death(locked_without_lock, NULL, "lock order: a _locked function called without its lock");
    printf("test_lockrank: ok\n");
#else
    printf("test_lockrank: ok (the release build does not check lock ranks)\n");
#endif
    return 0;
}
