/* Workload 11, bignum: an arbitrary-precision calculator (the allocation
 * pattern of cfrac and of bignum code in interpreters).  One thread evaluates
 * random expressions in reverse Polish notation over unsigned bignums of 1-24
 * 32-bit limbs: a number pushed is a new block, an operator pops two operands,
 * allocates its result and one to three temporaries, and frees the temporaries
 * and then the operands, most recent first.  Blocks are 8-200 B and almost all
 * die in LIFO order right after they are made; the live set stays tiny, so
 * the allocator's cost per malloc/free pair, and how soon a just-freed block
 * comes back, is all that is measured. */
#include "common.h"

#define MAXLIMBS 24
#define STACK 16

typedef struct {
    uint32_t n; /* limbs in use, 1..MAXLIMBS */
    uint32_t d[];
} big_t;

static big_t *big_new(uint32_t n) {
    big_t *b = xmalloc(sizeof(big_t) + sizeof(uint32_t) * n);
    b->n = n;
    return b;
}

static big_t *big_rand(rng_t *r) {
    uint32_t n = (uint32_t)rng_range(r, 1, 8);
    big_t *b = big_new(n);
    for (uint32_t i = 0; i < n; i++) b->d[i] = (uint32_t)rng_next(r);
    if (!b->d[n - 1]) b->d[n - 1] = 1;
    return b;
}

/* Drops leading zero limbs into a block of the right size (a new block, as a
 * bignum library that keeps numbers exact-size does). */
static big_t *big_norm(big_t *t) {
    uint32_t n = t->n;
    while (n > 1 && !t->d[n - 1]) n--;
    if (n > MAXLIMBS) n = MAXLIMBS; /* truncated: arithmetic modulo 2^(32*MAXLIMBS) */
    big_t *r = big_new(n);
    memcpy(r->d, t->d, sizeof(uint32_t) * n);
    return r;
}

static big_t *big_add(const big_t *a, const big_t *b) {
    uint32_t n = (a->n > b->n ? a->n : b->n) + 1;
    big_t *t = big_new(n);
    uint64_t c = 0;
    for (uint32_t i = 0; i < n; i++) {
        c += (i < a->n ? a->d[i] : 0) + (uint64_t)(i < b->n ? b->d[i] : 0);
        t->d[i] = (uint32_t)c;
        c >>= 32;
    }
    big_t *r = big_norm(t);
    free(t);
    return r;
}

/* |a - b| */
static big_t *big_sub(const big_t *a, const big_t *b) {
    int cmp = a->n != b->n ? (a->n > b->n ? 1 : -1) : 0;
    for (uint32_t i = a->n; cmp == 0 && i-- > 0;)
        if (a->d[i] != b->d[i]) cmp = a->d[i] > b->d[i] ? 1 : -1;
    if (cmp < 0) {
        const big_t *x = a;
        a = b;
        b = x;
    }
    big_t *t = big_new(a->n);
    int64_t br = 0;
    for (uint32_t i = 0; i < a->n; i++) {
        int64_t v = (int64_t)a->d[i] - (i < b->n ? b->d[i] : 0) - br;
        br = v < 0;
        t->d[i] = (uint32_t)v;
    }
    big_t *r = big_norm(t);
    free(t);
    return r;
}

/* a * b + 1, through a product temporary and a carry temporary */
static big_t *big_mul(const big_t *a, const big_t *b) {
    big_t *t = big_new(a->n + b->n);
    memset(t->d, 0, sizeof(uint32_t) * t->n);
    for (uint32_t i = 0; i < a->n; i++) {
        uint64_t c = 0;
        for (uint32_t j = 0; j < b->n; j++) {
            c += (uint64_t)a->d[i] * b->d[j] + t->d[i + j];
            t->d[i + j] = (uint32_t)c;
            c >>= 32;
        }
        t->d[i + b->n] = (uint32_t)c;
    }
    big_t *one = big_new(1);
    one->d[0] = 1;
    big_t *u = big_add(t, one);
    free(one);
    free(t);
    return u;
}

int main(int argc, char **argv) {
    bench_args_t a = bench_parse(argc, argv);
    long exprs = bench_n(&a, 3e6);
    rng_t r = rng_seed(1100);
    uint64_t sum = 0, ops = 0;
    big_t *st[STACK];
    double t0 = bench_now();
    for (long e = 0; e < exprs; e++) {
        int sp = 0;
        int len = (int)rng_range(&r, 3, 12);
        for (int k = 0; k < len || sp > 1; k++) {
            /* push while the stack is shallow, or the expression is not done */
            if (sp < 2 || (k < len && sp < STACK && rng_next(&r) % 3 == 0)) {
                st[sp++] = big_rand(&r);
                continue;
            }
            big_t *y = st[--sp], *x = st[--sp], *z;
            switch (rng_next(&r) % 3) {
            case 0: z = big_add(x, y); break;
            case 1: z = big_sub(x, y); break;
            default: z = big_mul(x, y); break;
            }
            free(y);
            free(x);
            st[sp++] = z;
            ops++;
        }
        big_t *v = st[0];
        for (uint32_t i = 0; i < v->n; i++) sum = sum * 31 + v->d[i];
        free(v);
    }
    double t1 = bench_now();
    printf("RESULT name=bignum secs=%.6f threads=1 exprs=%ld ops=%" PRIu64 " checksum=%" PRIu64 "\n", t1 - t0, exprs,
           ops, sum);
    return 0;
}
