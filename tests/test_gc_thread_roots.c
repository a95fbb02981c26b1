/*
 * test_gc_thread_roots: other threads' roots keep collected objects alive, contents
 * intact, while the main thread collects many times:
 *   - _Thread_local variables (.tbss and .tdata) of a thread blocked on a condition
 *     variable and of a thread spinning in user code, and those threads' locals;
 *   - the registers of a thread interrupted in a spin loop (x86-64: the addresses only in
 *     rax, rbx, rcx, rdx, rsi, rbp, r8-r15 while collections run; not under TSan);
 *   - the stack of a thread that never allocates and called gort_gc_register_thread()
 *     before taking its pointer (read from a pipe).
 * After those threads exit (or drop their registers), the objects only they referenced
 * are freed (weak references clear).
 * GORT_TEST_TSAN: also run in the TSan build (scaled down).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <gort.h>
#include "check.h"
#include "gc_check.h"
#include "gc_list.h"

#define NOINLINE __attribute__((noinline))

NOINLINE static void expect_cleared(gort_weak **w, int n, const char *what) {
    clobber_stack();
    gort_gc();
    gort_gc();
    int alive = 0;
    for (int i = 0; i < n; i++) alive += weak_live(w[i]);
    if (alive) {
        fprintf(stderr, "%s: %d of %d unreachable objects still alive after collections (seed %llu)\n", what, alive, n,
                (unsigned long long)g_seed);
        exit(1);
    }
}

/* Garbage between collections, so that freed objects get reused. */
NOINLINE static void churn(uint64_t *s, size_t bytes) {
    size_t done = 0;
    while (done < bytes) {
        uint64_t r = rng_next(s);
        if (r & 1) {
            build_list(1 + (long)(r >> 8) % 8, r);
            done += 64 * (1 + (r >> 8) % 8);
        } else {
            size_t n = 16 + (size_t)(r >> 8) % 8192;
            void **p = gort_gc_alloc(n);
            CHECK(p);
            p[0] = p;
            done += n;
        }
    }
}

/* ---- phases: the main thread waits for `ready` threads, collects, then sets `done` ---- */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ready, done;
static atomic_int spin_stop;

static void signal_ready(void) {
    pthread_mutex_lock(&mu);
    ready++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}
static void wait_done(void) {
    pthread_mutex_lock(&mu);
    while (!done) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}
static void wait_ready(int n) {
    pthread_mutex_lock(&mu);
    while (ready < n) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}
static void set_done(void) {
    pthread_mutex_lock(&mu);
    done = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* ---- thread-locals ---- */
enum { TLS_N = 200, TLS_ARR = 8 };
static _Thread_local Node *tls_list;                   /* .tbss */
static _Thread_local Node *tls_data = (Node *)&g_seed; /* .tdata */
static _Thread_local Node *tls_arr[TLS_ARR];
static gort_weak *g_tls_weak[2][2 + TLS_ARR];

static uint64_t tls_base(int who, int k) { return 10000000 + (uint64_t)who * 1000000 + (uint64_t)k * 1000; }

NOINLINE static void tls_fill(int who) {
    tls_list = build_list(TLS_N, tls_base(who, 0));
    tls_data = build_list(TLS_N, tls_base(who, 1));
    g_tls_weak[who][0] = gort_weak_make(tls_list);
    g_tls_weak[who][1] = gort_weak_make(tls_data);
    for (int i = 0; i < TLS_ARR; i++) {
        tls_arr[i] = build_list(10, tls_base(who, 2 + i));
        g_tls_weak[who][2 + i] = gort_weak_make(tls_arr[i]);
    }
}
NOINLINE static void tls_verify(int who) {
    verify_list(tls_list, TLS_N, tls_base(who, 0), "_Thread_local (.tbss) of another thread");
    verify_list(tls_data, TLS_N, tls_base(who, 1), "_Thread_local (.tdata) of another thread");
    for (int i = 0; i < TLS_ARR; i++)
        verify_list(tls_arr[i], 10, tls_base(who, 2 + i), "_Thread_local array of another thread");
}

/* who 0: blocks on the condition variable; who 1: spins in user code */
static void *tls_thread(void *arg) {
    int who = (int)(uintptr_t)arg;
    tls_fill(who);
    Node *volatile local = build_list(50, tls_base(who, 100));
    clobber_stack();
    signal_ready();
    if (who == 0) {
        wait_done();
    } else {
        volatile uint64_t x = 0;
        while (!atomic_load_explicit(&spin_stop, memory_order_relaxed)) x = x * 3 + 1;
    }
    tls_verify(who);
    verify_list(local, 50, tls_base(who, 100), "local of another thread");
    return NULL;
}

/* ---- registers of a thread stopped while spinning ----
 * Not under TSan: TSan holds a signal back until the thread calls into its runtime,
 * which a thread spinning in uninstrumented assembly never does (the collection would
 * wait for it forever). */
#if defined(__SANITIZE_THREAD__)
#define GORT_TEST_NO_ASM_SPIN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORT_TEST_NO_ASM_SPIN 1
#endif
#endif
#if defined(__x86_64__) && !defined(GORT_TEST_NO_ASM_SPIN)
enum { NSPIN = 14 };
/* gort_test_spin_in_registers(slots, stop, restore): loads slots[0..13] into rax, rbx, rcx,
 * rdx, rsi, rbp, r8..r15, zeroes the slots, spins until *stop, then writes the registers
 * back if restore. */
void gort_test_spin_in_registers(void **slots, atomic_int *stop, long restore);
__asm__(".text\n"
        ".p2align 4\n"
        ".globl gort_test_spin_in_registers\n"
        ".type gort_test_spin_in_registers, @function\n"
        "gort_test_spin_in_registers:\n"
        "  push %rbp\n  push %rbx\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
        "  sub $24, %rsp\n"
        "  mov %rdi, 0(%rsp)\n  mov %rsi, 8(%rsp)\n  mov %rdx, 16(%rsp)\n"
        "  mov 0(%rdi), %rax\n  movq $0, 0(%rdi)\n"
        "  mov 8(%rdi), %rbx\n  movq $0, 8(%rdi)\n"
        "  mov 16(%rdi), %rcx\n  movq $0, 16(%rdi)\n"
        "  mov 24(%rdi), %rdx\n  movq $0, 24(%rdi)\n"
        "  mov 32(%rdi), %rsi\n  movq $0, 32(%rdi)\n"
        "  mov 40(%rdi), %rbp\n  movq $0, 40(%rdi)\n"
        "  mov 48(%rdi), %r8\n  movq $0, 48(%rdi)\n"
        "  mov 56(%rdi), %r9\n  movq $0, 56(%rdi)\n"
        "  mov 64(%rdi), %r10\n  movq $0, 64(%rdi)\n"
        "  mov 72(%rdi), %r11\n  movq $0, 72(%rdi)\n"
        "  mov 80(%rdi), %r12\n  movq $0, 80(%rdi)\n"
        "  mov 88(%rdi), %r13\n  movq $0, 88(%rdi)\n"
        "  mov 96(%rdi), %r14\n  movq $0, 96(%rdi)\n"
        "  mov 104(%rdi), %r15\n  movq $0, 104(%rdi)\n"
        "  mfence\n"
        "1:\n"
        "  pause\n"
        "  mov 8(%rsp), %rdi\n"
        "  cmpl $0, (%rdi)\n"
        "  je 1b\n"
        "  mov 0(%rsp), %rdi\n"
        "  cmpq $0, 16(%rsp)\n"
        "  je 2f\n"
        "  mov %rax, 0(%rdi)\n  mov %rbx, 8(%rdi)\n  mov %rcx, 16(%rdi)\n  mov %rdx, 24(%rdi)\n"
        "  mov %rsi, 32(%rdi)\n  mov %rbp, 40(%rdi)\n  mov %r8, 48(%rdi)\n  mov %r9, 56(%rdi)\n"
        "  mov %r10, 64(%rdi)\n  mov %r11, 72(%rdi)\n  mov %r12, 80(%rdi)\n  mov %r13, 88(%rdi)\n"
        "  mov %r14, 96(%rdi)\n  mov %r15, 104(%rdi)\n"
        "2:\n"
        "  add $24, %rsp\n"
        "  pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %rbx\n  pop %rbp\n"
        "  ret\n"
        ".size gort_test_spin_in_registers, .-gort_test_spin_in_registers\n");

static void *g_spin_slots[NSPIN];
static gort_weak *g_spin_weak[NSPIN];
static long g_spin_restore;

static void *spin_thread(void *arg) {
    (void)arg;
    gort_gc_register_thread();
    clobber_stack();
    gort_test_spin_in_registers(g_spin_slots, &spin_stop, g_spin_restore);
    return NULL;
}

NOINLINE static void fill_spin_slots(void) {
    for (int i = 0; i < NSPIN; i++) {
        Node *h = build_list(30, 20000000 + (uint64_t)i * 1000);
        g_spin_weak[i] = gort_weak_make(h);
        __atomic_store_n(&g_spin_slots[i], h, __ATOMIC_RELEASE);
    }
}

static int spin_slots_taken(void) {
    for (int i = 0; i < NSPIN; i++)
        if (__atomic_load_n(&g_spin_slots[i], __ATOMIC_ACQUIRE)) return 0;
    return 1;
}

NOINLINE static void registers_of_other_thread(uint64_t *s, int rounds) {
    for (int restore = 1; restore >= 0; restore--) {
        fill_spin_slots();
        atomic_store(&spin_stop, 0);
        g_spin_restore = restore;
        pthread_t t;
        CHECK(pthread_create(&t, NULL, spin_thread, NULL) == 0);
        while (!spin_slots_taken()) usleep(100);
        clobber_stack();
        for (int r = 0; r < (restore ? rounds : 2); r++) {
            churn(s, 128 << 10);
            gort_gc();
        }
        atomic_store(&spin_stop, 1);
        CHECK(pthread_join(t, NULL) == 0);
        if (restore) {
            for (int i = 0; i < NSPIN; i++)
                verify_list(__atomic_load_n(&g_spin_slots[i], __ATOMIC_ACQUIRE), 30, 20000000 + (uint64_t)i * 1000,
                            "held in another thread's register");
            for (int i = 0; i < NSPIN; i++) g_spin_slots[i] = NULL;
        }
        expect_cleared(g_spin_weak, NSPIN, "dropped from another thread's registers");
    }
    printf("registers of another thread: ok\n");
}
#else
static void registers_of_other_thread(uint64_t *s, int rounds) {
    (void)s;
    (void)rounds;
    printf("registers of another thread: skipped (x86-64 only, not under TSan)\n");
}
#endif

/* ---- a thread that registers itself, then takes its only pointer from a pipe ---- */
static int g_pipe[2];
static gort_weak *g_pipe_weak[1];

static void *registered_thread(void *arg) {
    (void)arg;
    gort_gc_register_thread();
    Node *volatile p = NULL;
    Node *tmp;
    CHECK(read(g_pipe[0], &tmp, sizeof tmp) == (ssize_t)sizeof tmp);
    p = tmp;
    tmp = NULL;
    signal_ready();
    wait_done();
    verify_list(p, 100, 30000000, "stack of a thread that only registered");
    return NULL;
}

NOINLINE static void send_list(void) {
    Node *h = build_list(100, 30000000);
    g_pipe_weak[0] = gort_weak_make(h);
    CHECK(write(g_pipe[1], &h, sizeof h) == (ssize_t)sizeof h);
}

int main(void) {
    g_seed = test_seed();
    uint64_t s = g_seed;
    int rounds = test_sanitized() ? 8 : 30;

    /* thread-locals, locals, a registered thread's stack */
    CHECK(pipe(g_pipe) == 0);
    pthread_t t[3];
    CHECK(pthread_create(&t[0], NULL, tls_thread, (void *)0) == 0);
    CHECK(pthread_create(&t[1], NULL, tls_thread, (void *)1) == 0);
    CHECK(pthread_create(&t[2], NULL, registered_thread, NULL) == 0);
    send_list();
    wait_ready(3);
    clobber_stack();
    for (int r = 0; r < rounds; r++) {
        churn(&s, 256 << 10);
        gort_gc();
    }
    set_done();
    atomic_store(&spin_stop, 1);
    for (int i = 0; i < 3; i++) CHECK(pthread_join(t[i], NULL) == 0);
    printf("thread-locals and other threads' stacks: ok\n");
    /* the threads are gone: what only they referenced is freed */
    expect_cleared(g_tls_weak[0], 2 + TLS_ARR, "thread-locals of an exited thread (blocked)");
    expect_cleared(g_tls_weak[1], 2 + TLS_ARR, "thread-locals of an exited thread (spinning)");
    expect_cleared(g_pipe_weak, 1, "stack of an exited thread");

    registers_of_other_thread(&s, rounds);
    gort_check_heap();
    printf("test_gc_thread_roots: ok\n");
    return 0;
}
/* GORT_TEST_TSAN */
