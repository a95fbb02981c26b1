/*
 * test_gc_roots: every kind of root of the calling thread keeps collected objects alive,
 * with their contents intact, across many collections; the same objects are freed once
 * the root is gone; and the heap stays bounded while 100x the live size is allocated.
 * Single-threaded (the other threads' roots: test_gc_thread_roots; shared libraries:
 * test_gc_dlopen).
 *   1. local variables (one forced onto the stack, one the compiler may keep in a register)
 *   2. callee-saved registers (rbx, rbp, r12-r15 on x86-64) holding the only copies
 *      across collections; then dropped: freed
 *   3. globals in .bss and .data, and a global array
 *   4. gort_malloc_scanned blocks (small, realloc'ed to large, 1 MiB); freed block: its
 *      objects are freed; a plain gort_malloc block is NOT scanned: its objects are freed
 *   5. gort_gc_add_roots ranges (an mmap'ed region, a libc malloc block); removed: freed
 *   6. interior pointers (first byte + 1, +8, middle, last byte) into gort_new,
 *      gort_gc_alloc and gort_gc_alloc_noscan objects from 16 B to 1 MiB; dropped: freed
 *   7. manual blocks (gort_malloc, small and large) whose addresses sit in globals, on
 *      the stack and in a scanned block, found by every root scan: the collector leaves
 *      their bits alone, so freeing them after the collections, by their owner and by
 *      another thread, is no double free, and their contents are untouched
 *   8. bounded heap: a live set of about 16 MiB (scaled under sanitizers) stays intact while
 *      100x its size is allocated as garbage; gort_gc_stats' heap_goal stays near twice
 *      the live size (plus the root bytes), heap_live under the goal, and gort_stats'
 *      heap_inuse within a small multiple of the live size (GOGC=100).
 * Objects carry check words derived from the seed and their ids; freed-and-reused objects
 * would be zeroed or overwritten. "Freed" is observed through weak references. Objects are
 * built in noinline functions and the stack is wiped before the checks, so stale copies
 * of their addresses do not keep them alive (the roots are conservative).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <gort.h>
#include "check.h"
#include "gc_check.h"
#include "gc_list.h"

#define NOINLINE __attribute__((noinline))

/* How many of w[0..n) are cleared after a few collections on a wiped stack. */
NOINLINE static int count_cleared(gort_weak **w, int n) {
    gc_clean(2);
    int c = 0;
    for (int i = 0; i < n; i++) c += !weak_live(w[i]);
    return c;
}

NOINLINE static void expect_cleared(gort_weak **w, int n, const char *what) {
    int c = count_cleared(w, n);
    if (c != n) {
        fprintf(stderr, "%s: %d of %d unreachable objects still alive after collections (seed %llu)\n", what, n - c, n,
                (unsigned long long)g_seed);
        exit(1);
    }
}

NOINLINE static void expect_live(gort_weak **w, int n, const char *what) {
    for (int i = 0; i < n; i++)
        if (!weak_live(w[i])) {
            fprintf(stderr, "%s: weak reference %d of %d cleared while its object is reachable\n", what, i, n);
            exit(1);
        }
}

/* Garbage: one random allocation (a short typed list, a conservative block that points
 * at earlier garbage, a noscan block, now and then a large one). Returns its bytes. */
static void *g_last_garbage;
NOINLINE static size_t churn_once(uint64_t *s) {
    uint64_t r = rng_next(s);
    switch (r % 8) {
    case 0:
    case 1:
    case 2: {
        long n = 1 + (long)(r >> 8) % 8;
        Node *h = build_list(n, r);
        g_last_garbage = h;
        return (size_t)n * 2 * sizeof(Node);
    }
    case 3:
    case 4: {
        size_t n = 16 + (size_t)(r >> 8) % 4096;
        void **p = gort_gc_alloc(n);
        CHECK(p);
        p[0] = g_last_garbage;
        p[n / 8 - 1] = p;
        g_last_garbage = p;
        return n;
    }
    case 5:
    case 6: {
        size_t n = 1 + (size_t)(r >> 8) % 65536;
        unsigned char *p = gort_gc_alloc_noscan(n);
        CHECK(p);
        p[0] = (unsigned char)r;
        p[n - 1] = (unsigned char)(r >> 8);
        return n;
    }
    default: {
        size_t n = 32768 + (size_t)(r >> 8) % (1 << 20);
        void **p = (r >> 40) & 1 ? gort_gc_alloc(n) : gort_gc_alloc_noscan(n);
        CHECK(p);
        p[0] = g_last_garbage;
        p[n / 8 - 1] = p;
        return n;
    }
    }
}

NOINLINE static void churn(uint64_t *s, size_t bytes) {
    size_t done = 0;
    while (done < bytes) done += churn_once(s);
    g_last_garbage = NULL;
}

static uint64_t num_gc(void) {
    gort_gc_stats_t st;
    gort_gc_stats(&st);
    return st.num_gc;
}

/* ---- 1. locals ---- */
NOINLINE static void locals(uint64_t *s, int rounds) {
    enum { N = 500 };
    uint64_t gc0 = num_gc();
    Node *plain = build_list(N, 1000000);
    Node *volatile onstack = build_list(N, 2000000);
    for (int r = 0; r < rounds; r++) {
        churn(s, 256 << 10);
        gort_gc();
        verify_list(plain, N, 1000000, "local (register or stack)");
        verify_list(onstack, N, 2000000, "local (volatile, on the stack)");
    }
    CHECK(num_gc() - gc0 >= (uint64_t)rounds);
}

/* ---- 2. registers ---- */
#if defined(__x86_64__)
/* gort_test_hold_in_registers(slots, n, restore): loads slots[0..5] into rbx, rbp, r12,
 * r13, r14, r15, zeroes the slots, calls gort_gc() n times with the addresses only in
 * those registers, then writes them back if restore (else drops them). */
void gort_test_hold_in_registers(void **slots, long n, long restore);
__asm__(".text\n"
        ".p2align 4\n"
        ".globl gort_test_hold_in_registers\n"
        ".type gort_test_hold_in_registers, @function\n"
        "gort_test_hold_in_registers:\n"
        "  push %rbp\n  push %rbx\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
        "  sub $24, %rsp\n" /* 16-byte aligned for the calls */
        "  mov %rdi, 0(%rsp)\n  mov %rsi, 8(%rsp)\n  mov %rdx, 16(%rsp)\n"
        "  mov 0(%rdi), %rbx\n  movq $0, 0(%rdi)\n"
        "  mov 8(%rdi), %rbp\n  movq $0, 8(%rdi)\n"
        "  mov 16(%rdi), %r12\n  movq $0, 16(%rdi)\n"
        "  mov 24(%rdi), %r13\n  movq $0, 24(%rdi)\n"
        "  mov 32(%rdi), %r14\n  movq $0, 32(%rdi)\n"
        "  mov 40(%rdi), %r15\n  movq $0, 40(%rdi)\n"
        "  xor %eax, %eax\n  xor %edi, %edi\n  xor %esi, %esi\n  xor %edx, %edx\n"
        "1:\n"
        "  call gort_gc@PLT\n"
        "  decq 8(%rsp)\n"
        "  jg 1b\n"
        "  mov 0(%rsp), %rdi\n"
        "  cmpq $0, 16(%rsp)\n"
        "  je 2f\n"
        "  mov %rbx, 0(%rdi)\n  mov %rbp, 8(%rdi)\n  mov %r12, 16(%rdi)\n"
        "  mov %r13, 24(%rdi)\n  mov %r14, 32(%rdi)\n  mov %r15, 40(%rdi)\n"
        "2:\n"
        "  add $24, %rsp\n"
        "  pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %rbx\n  pop %rbp\n"
        "  ret\n"
        ".size gort_test_hold_in_registers, .-gort_test_hold_in_registers\n");

enum { NREG = 6, REG_N = 50 };
static void *g_regslots[NREG];
static gort_weak *g_regweak[NREG];

NOINLINE static void fill_regslots(void) {
    for (int i = 0; i < NREG; i++) {
        Node *h = build_list(REG_N, 3000000 + (uint64_t)i * 1000);
        g_regweak[i] = gort_weak_make(h);
        CHECK(g_regweak[i]);
        g_regslots[i] = h;
    }
}

NOINLINE static void registers(int rounds) {
    fill_regslots();
    clobber_stack();
    gort_test_hold_in_registers(g_regslots, rounds, 1);
    for (int i = 0; i < NREG; i++)
        verify_list(g_regslots[i], REG_N, 3000000 + (uint64_t)i * 1000, "held in a register");
    /* the same, dropped from the registers: freed */
    for (int i = 0; i < NREG; i++) g_regslots[i] = NULL;
    fill_regslots();
    clobber_stack();
    gort_test_hold_in_registers(g_regslots, 2, 0);
    expect_cleared(g_regweak, NREG, "dropped from registers");
    printf("registers: ok\n");
}
#else
static void registers(int rounds) {
    (void)rounds;
    printf("registers: skipped (x86-64 only)\n");
}
#endif

/* ---- 3. globals ---- */
static Node *g_bss;
static Node *g_data = (Node *)&g_data; /* initialized: in .data */
static Node *g_array[64];
Node *gort_test_global; /* external linkage */

NOINLINE static void set_globals(void) {
    g_bss = build_list(300, 4000000);
    g_data = build_list(300, 4100000);
    gort_test_global = build_list(300, 4200000);
    for (int i = 0; i < 64; i++) g_array[i] = build_list(10, 4300000 + (uint64_t)i * 100);
}
NOINLINE static void verify_globals(void) {
    verify_list(g_bss, 300, 4000000, "global in .bss");
    verify_list(g_data, 300, 4100000, "global in .data");
    verify_list(gort_test_global, 300, 4200000, "external global");
    for (int i = 0; i < 64; i++) verify_list(g_array[i], 10, 4300000 + (uint64_t)i * 100, "global array");
}
NOINLINE static void globals(uint64_t *s, int rounds) {
    set_globals();
    clobber_stack();
    for (int r = 0; r < rounds; r++) {
        churn(s, 256 << 10);
        gort_gc();
        verify_globals();
    }
    g_bss = g_data = gort_test_global = NULL;
    for (int i = 0; i < 64; i++) g_array[i] = NULL;
    printf("globals: ok\n");
}

/* ---- 4. gort_malloc_scanned, and plain gort_malloc ---- */
enum { SCAN_SLOTS = 512, SCAN_LISTS = 16 };
static uintptr_t g_scanned_hidden; /* the block's address, hidden: only the block is a root */
static int g_scan_idx[SCAN_LISTS];
static gort_weak *g_scan_weak[SCAN_LISTS];

NOINLINE static void fill_block(void **blk, size_t slots, uint64_t *s, uint64_t base) {
    memset(blk, 0, slots * sizeof(void *));
    for (int i = 0; i < SCAN_LISTS; i++) {
        int k;
        do k = (int)(rng_next(s) % slots);
        while (blk[k]);
        if (i == 0) k = 0;
        if (i == 1) k = (int)slots - 1;
        g_scan_idx[i] = k;
        Node *h = build_list(20, base + (uint64_t)i * 100);
        g_scan_weak[i] = gort_weak_make(h);
        blk[k] = h;
    }
}
NOINLINE static void verify_block(void **blk, uint64_t base, const char *what) {
    for (int i = 0; i < SCAN_LISTS; i++) verify_list(blk[g_scan_idx[i]], 20, base + (uint64_t)i * 100, what);
}
static void **scanned_block(void) { return (void **)(g_scanned_hidden ^ 0x5555555555555555ULL); }

NOINLINE static void malloc_scanned(uint64_t *s, int rounds) {
    void **blk = gort_malloc_scanned(SCAN_SLOTS * sizeof(void *));
    CHECK(blk);
    fill_block(blk, SCAN_SLOTS, s, 5000000);
    g_scanned_hidden = (uintptr_t)blk ^ 0x5555555555555555ULL;
    blk = NULL;
    clobber_stack();
    for (int r = 0; r < rounds; r++) {
        churn(s, 128 << 10);
        gort_gc();
        verify_block(scanned_block(), 5000000, "gort_malloc_scanned block");
    }
    /* realloc to a large block: still scanned, content kept */
    blk = gort_realloc(scanned_block(), 20000 * sizeof(void *));
    CHECK(blk);
    memset(blk + SCAN_SLOTS, 0, (20000 - SCAN_SLOTS) * sizeof(void *));
    g_scanned_hidden = (uintptr_t)blk ^ 0x5555555555555555ULL;
    blk = NULL;
    clobber_stack();
    for (int r = 0; r < rounds; r++) {
        churn(s, 128 << 10);
        gort_gc();
        verify_block(scanned_block(), 5000000, "gort_malloc_scanned block after realloc");
    }
    expect_live(g_scan_weak, SCAN_LISTS, "gort_malloc_scanned");
    gort_free(scanned_block());
    g_scanned_hidden = 0;
    expect_cleared(g_scan_weak, SCAN_LISTS, "objects of a freed gort_malloc_scanned block");

    /* a 1 MiB scanned block, pointers anywhere in it */
    blk = gort_malloc_scanned(1 << 20);
    CHECK(blk);
    fill_block(blk, (1 << 20) / sizeof(void *), s, 5100000);
    g_scanned_hidden = (uintptr_t)blk ^ 0x5555555555555555ULL;
    blk = NULL;
    clobber_stack();
    for (int r = 0; r < rounds / 2 + 1; r++) {
        churn(s, 128 << 10);
        gort_gc();
        verify_block(scanned_block(), 5100000, "1 MiB gort_malloc_scanned block");
    }
    gort_free(scanned_block());
    g_scanned_hidden = 0;
    expect_cleared(g_scan_weak, SCAN_LISTS, "objects of a freed 1 MiB gort_malloc_scanned block");

    /* plain gort_malloc memory is not scanned: its objects are freed */
    blk = gort_malloc(SCAN_SLOTS * sizeof(void *));
    CHECK(blk);
    fill_block(blk, SCAN_SLOTS, s, 5200000);
    g_scanned_hidden = (uintptr_t)blk ^ 0x5555555555555555ULL;
    blk = NULL;
    expect_cleared(g_scan_weak, SCAN_LISTS, "objects referenced only from a plain gort_malloc block");
    gort_free(scanned_block());
    g_scanned_hidden = 0;
    printf("gort_malloc_scanned: ok\n");
}

/* ---- 5. added roots ---- */
NOINLINE static void added_roots(uint64_t *s, int rounds) {
    size_t len = 1 << 16;
    void **region = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(region != MAP_FAILED);
    void **cblk = malloc(SCAN_SLOTS * sizeof(void *)); /* libc's, never scanned by itself */
    CHECK(cblk);
    fill_block(region, len / sizeof(void *), s, 6000000);
    gort_weak *w1[SCAN_LISTS];
    int idx1[SCAN_LISTS];
    memcpy(w1, g_scan_weak, sizeof w1);
    memcpy(idx1, g_scan_idx, sizeof idx1);
    gort_gc_add_roots(region, len);
    fill_block(cblk, SCAN_SLOTS, s, 6100000);
    gort_gc_add_roots(cblk, SCAN_SLOTS * sizeof(void *));
    clobber_stack();
    for (int r = 0; r < rounds; r++) {
        churn(s, 128 << 10);
        gort_gc();
        verify_block(cblk, 6100000, "added root range (libc malloc block)");
        for (int i = 0; i < SCAN_LISTS; i++)
            verify_list(region[idx1[i]], 20, 6000000 + (uint64_t)i * 100, "added root range (mmap)");
    }
    gort_gc_remove_roots(cblk);
    expect_cleared(g_scan_weak, SCAN_LISTS, "objects of a removed root range (libc block)");
    expect_live(w1, SCAN_LISTS, "objects of a root range still added");
    for (int i = 0; i < SCAN_LISTS; i++)
        verify_list(region[idx1[i]], 20, 6000000 + (uint64_t)i * 100, "added root range (mmap)");
    gort_gc_remove_roots(region);
    expect_cleared(w1, SCAN_LISTS, "objects of a removed root range (mmap)");
    free(cblk);
    munmap(region, len);
    printf("added roots: ok\n");
}

/* ---- 6. interior pointers ---- */
enum { NINT = 10 * 3 * 4 };
static uintptr_t g_interior[NINT]; /* the only references: interior addresses */
static size_t g_int_size[NINT], g_int_off[NINT];
static gort_weak *g_int_weak[NINT];

static inline unsigned char int_byte(int i, size_t j) { return (unsigned char)(mix((uint64_t)i * 1000003 + j) >> 56); }

NOINLINE static void make_interior(void) {
    static const size_t sizes[10] = {16, 24, 48, 100, 1000, 5000, 20000, 40000, 200000, 1 << 20};
    int k = 0;
    for (int si = 0; si < 10; si++)
        for (int kind = 0; kind < 3; kind++)
            for (int o = 0; o < 4; o++, k++) {
                size_t n = sizes[si];
                unsigned char *p = kind == 0 ? (unsigned char *)gort_new_array(Node, n / sizeof(Node) + 1)
                    : kind == 1              ? gort_gc_alloc(n)
                                             : gort_gc_alloc_noscan(n);
                CHECK(p);
                if (kind == 0) n = (n / sizeof(Node) + 1) * sizeof(Node);
                /* in a Node array write only the scalar words; elsewhere every byte */
                for (size_t j = 0; j < n; j++)
                    if (kind != 0 || (j % sizeof(Node)) >= 16) p[j] = int_byte(k, j);
                size_t off = o == 0 ? 1 : o == 1 ? 8 : o == 2 ? n / 2 : n - 1;
                g_int_size[k] = n;
                g_int_off[k] = off;
                g_int_weak[k] = gort_weak_make(p);
                CHECK(g_int_weak[k]);
                g_interior[k] = (uintptr_t)(p + off);
            }
    CHECK(k == NINT);
}
NOINLINE static void verify_interior(void) {
    for (int k = 0; k < NINT; k++) {
        unsigned char *p = (unsigned char *)g_interior[k] - g_int_off[k];
        int kind = (k / 4) % 3;
        for (size_t j = 0; j < g_int_size[k]; j++)
            if ((kind != 0 || (j % sizeof(Node)) >= 16) && p[j] != int_byte(k, j)) {
                fprintf(stderr,
                        "interior pointer: object %d (%zu B, kind %d, kept by +%zu) byte %zu "
                        "changed (seed %llu)\n",
                        k, g_int_size[k], kind, g_int_off[k], j, (unsigned long long)g_seed);
                exit(1);
            }
    }
}
NOINLINE static void interior(uint64_t *s, int rounds) {
    make_interior();
    clobber_stack();
    for (int r = 0; r < rounds; r++) {
        churn(s, 256 << 10);
        gort_gc();
        verify_interior();
    }
    expect_live(g_int_weak, NINT, "interior pointers");
    memset(g_interior, 0, sizeof g_interior);
    expect_cleared(g_int_weak, NINT, "objects whose interior pointers were dropped");
    printf("interior pointers: ok\n");
}

/* ---- 7. bounded heap ---- */
NOINLINE static void bounded_heap(uint64_t *s) {
    long n = (long)(131072 * test_scale()); /* 2 nodes of 32 B each: 8 MiB at scale 1 */
    if (n < 4096) n = 4096;
    Node *live = build_list(n, 7000000);
    Node *live2 = build_list(n, 8000000);
    gc_clean(1);
    gort_gc_stats_t st0, st;
    gort_gc_stats(&st0);
    uint64_t live_bytes = st0.heap_marked;
    CHECK(live_bytes >= (uint64_t)n * 4 * sizeof(Node));
    uint64_t target = 100 * live_bytes, done = 0, next_sample = 0;
    uint64_t max_live = 0, max_inuse = 0, max_goal = 0;
    static gort_stats_t ms;
    while (done < target) {
        done += churn_once(s);
        if (done >= next_sample) {
            next_sample = done + (1 << 20);
            gort_gc_stats(&st);
            gort_stats(&ms);
            if (st.heap_live > max_live) max_live = st.heap_live;
            if (st.heap_goal > max_goal) max_goal = st.heap_goal;
            if (ms.heap_inuse > max_inuse) max_inuse = ms.heap_inuse;
        }
    }
    g_last_garbage = NULL;
    verify_list(live, n, 7000000, "live set while 100x allocated");
    verify_list(live2, n, 8000000, "live set while 100x allocated");
    gort_gc_stats(&st);
    uint64_t cycles = st.num_gc - st0.num_gc;
    printf("bounded heap: live %.1f MiB, allocated %.0f MiB, %llu cycles, max heap_live %.1f MiB, "
           "max heap_inuse %.1f MiB, max heap_goal %.1f MiB\n",
           live_bytes / 1048576.0, done / 1048576.0, (unsigned long long)cycles, max_live / 1048576.0,
           max_inuse / 1048576.0, max_goal / 1048576.0);
    CHECK(cycles >= 10); /* the pacer collected (GOGC=100: about every live_bytes allocated) */
    /* the goal is Go's: marked + (marked + stacks + globals) x GOGC / 100, and the root
     * bytes (globals) are larger under sanitizers */
    CHECK(max_goal <= 2 * live_bytes + live_bytes / 4 + (16u << 20));
    CHECK(max_live <= max_goal + max_goal / 8);
    CHECK(max_inuse <= 4 * live_bytes + (24u << 20));
    CHECK(st.objects_freed > st0.objects_freed);
    CHECK(st.bytes_freed - st0.bytes_freed >= target / 2);
}

/* 7. manual blocks seen by the roots */
enum { NMANUAL = 48 };
static void *g_manual[NMANUAL];
static const size_t manual_sizes[] = {8, 16, 24, 160, 1024, 8192, 32768, 40000, 1 << 20};
static void *free_blocks(void *arg) {
    void **blk = arg;
    for (int i = 0; i < NMANUAL; i += 2) gort_free(blk[i]);
    return NULL;
}
NOINLINE static void manual_blocks(uint64_t *s, int rounds) {
    size_t nsizes = sizeof manual_sizes / sizeof manual_sizes[0];
    void **scanned = gort_malloc_scanned(NMANUAL * sizeof(void *));
    CHECK(scanned);
    void *volatile on_stack[NMANUAL];
    for (int i = 0; i < NMANUAL; i++) {
        size_t n = manual_sizes[(size_t)i % nsizes];
        unsigned char *p = gort_malloc(n);
        CHECK(p);
        memset(p, (int)(0x40 + i), n);
        /* the first slot of a span, the slot most often named by stray words */
        g_manual[i] = on_stack[i] = scanned[i] = p;
    }
    for (int r = 0; r < rounds / 4 + 1; r++) {
        churn(s, 64 << 10);
        gort_gc();
    }
    gort_check_heap();
    for (int i = 0; i < NMANUAL; i++) {
        unsigned char *p = g_manual[i];
        size_t n = manual_sizes[(size_t)i % nsizes];
        CHECK(on_stack[i] == p && scanned[i] == p);
        for (size_t k = 0; k < n; k += 61) CHECK(p[k] == (unsigned char)(0x40 + i));
    }
    /* half freed by another thread (the remote free's double-free test reads the
     * bits a stray mark would set), half by this one */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, free_blocks, g_manual) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    for (int i = 1; i < NMANUAL; i += 2) gort_free(g_manual[i]);
    gort_free(scanned);
    /* the freed blocks' pages will hold collected objects: stale copies of their
     * addresses would keep those alive (bounded_heap's goal check counts them) */
    memset(g_manual, 0, sizeof g_manual);
    for (int i = 0; i < NMANUAL; i++) on_stack[i] = NULL;
    gort_check_heap();
}

int main(void) {
    g_seed = test_seed();
    uint64_t s = g_seed;
    int rounds = test_sanitized() ? 12 : 40;
    locals(&s, rounds);
    printf("locals: ok\n");
    registers(rounds);
    globals(&s, rounds);
    malloc_scanned(&s, rounds);
    added_roots(&s, rounds);
    interior(&s, rounds);
    manual_blocks(&s, rounds);
    clobber_stack();
    printf("manual blocks: ok\n");
    bounded_heap(&s);
    gort_check_heap();
    printf("test_gc_roots: ok\n");
    return 0;
}
