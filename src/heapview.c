/*
 * heapview.c: a picture of the heap (gort_heap_svg, GORT_HEAPVIEW). No Go
 * counterpart: Go prints gctrace and writes pprof profiles, but draws nothing.
 *
 * Every arena is a block of cells, 128 to a row, each cell a run of pages:
 * one page for a heap of one arena, then the power of two that keeps the
 * cells at 8192 or fewer (64 pages, 512 KiB, for a 4 GiB heap), so that the
 * file stays under 2 MB whatever the heap's size. A cell takes the state of most
 * of its pages: in use by a span (coloured by size class, darker the fuller
 * the span; collected spans hatched), free and backed, released to the OS,
 * or never used (above the arena's high-water mark, used_top). Spans are
 * outlined, with a tooltip: every span while a cell is a page, then spans of
 * two cells or more. Neighbouring cells of a row that look the same are drawn
 * as one rectangle.
 *
 * The heap is read under mheap.lock into memory from the OS, then drawn
 * with stdio after the lock is released (stdio may allocate). Object counts
 * of spans owned by running threads are read without their owners' help: a
 * picture of a heap in use is a blur of the moment, as gort_stats is.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "gort/profile.h"
#include "internal.h"

#define ROW 128 /* cells per row */
#define PX 6    /* a cell's side, in pixels */
#define MAX_CELLS 8192
#define LEFT 10
#define WIDTH (LEFT * 2 + ROW * PX)

enum { NEVER = 0, RELEASED = 1, FREE = 2, INUSE = 3 };

typedef struct cell {
    uint8_t state, kind, cls, occ; /* kind 1: collected; occ: fullness 0..4 */
} cell;

typedef struct outline {
    uint32_t arena, page, npages; /* the span's pages in this arena */
    uint16_t cls, count, nelems;
    uint8_t kind;
    uintptr_t base;
    size_t elemsize, span_bytes;
} outline;

typedef struct arena_info {
    uintptr_t base;
    uint32_t used_top, slot;
} arena_info;

static const char *const state_fill[] = {"#ffffff", "#dfe8f0", "#a8a8a8"};
static const char *const state_name[] = {"never used", "released to the OS", "free, backed"};
static const double occ_opacity[] = {0.35, 0.5, 0.65, 0.8, 1.0};

/* the colour of a size class: hues around the wheel; large objects slate */
static void class_fill(unsigned cls, char *buf, size_t n) {
    if (cls == 0) {
        snprintf(buf, n, "#3b4a6b");
        return;
    }
    snprintf(buf, n, "hsl(%u,65%%,45%%)", (cls - 1) * 330 / (GORT_NUM_CLASSES - 1));
}

static unsigned occ_level(double f) {
    unsigned l = (unsigned)(f * 5);
    return l > 4 ? 4 : l;
}

typedef struct view {
    size_t narenas, cp, cells_per_arena, noutlines;
    arena_info *arenas;
    cell *cells;
    outline *outlines;
    void *mem;
    size_t memsize;
} view;

/* Out of line, as prof.c's (GCC 12's UBSan misjudged the lock-rank
 * thread-local inlined into a large function). */
static GORT_NOINLINE void heap_lock_take(void) { gort__lock(&gort__heap.lock, GORT_RANK_MHEAP); }
static GORT_NOINLINE void heap_lock_drop(void) { gort__unlock(&gort__heap.lock, GORT_RANK_MHEAP); }

/* Reads the heap under mheap.lock; false (errno ENOMEM) when the OS refuses
 * the scratch memory. */
static bool gather(view *v) {
    gort_mheap *h = &gort__heap;
    for (;;) {
        heap_lock_take();
        size_t narenas = 0;
        for (uint32_t i = 0; i < h->nslots; i++) narenas += h->slots[i] != NULL;
        heap_lock_drop();
        size_t cp = 1;
        while (narenas * GORT_PAGES_PER_ARENA / cp > MAX_CELLS) cp *= 2;
        size_t cpa = GORT_PAGES_PER_ARENA / cp, ncells = narenas * cpa;
        size_t need = narenas * sizeof(arena_info) + ncells * sizeof(cell) + ncells * sizeof(outline) + 64;
        need = (need + GORT_OS_PAGE - 1) & ~(size_t)(GORT_OS_PAGE - 1);
        char *mem = gort__sys_alloc(need);
        if (!mem) {
            errno = ENOMEM;
            return false;
        }
        heap_lock_take();
        size_t now = 0;
        for (uint32_t i = 0; i < h->nslots; i++) now += h->slots[i] != NULL;
        if (now != narenas) { /* the heap grew meanwhile */
            heap_lock_drop();
            gort__sys_free(mem, need, GORT_OS_READY);
            continue;
        }
        v->narenas = narenas, v->cp = cp, v->cells_per_arena = cpa, v->noutlines = 0;
        v->mem = mem, v->memsize = need;
        v->arenas = (arena_info *)mem;
        v->cells = (cell *)(mem + narenas * sizeof(arena_info));
        v->outlines = (outline *)((char *)v->cells + ((ncells * sizeof(cell) + 15) & ~(size_t)15));
        size_t a = 0;
        for (uint32_t i = 0; i < h->nslots; i++) {
            gort_heap_arena *ha = h->slots[i];
            if (!ha) continue;
            v->arenas[a] = (arena_info){ha->base, ha->used_top, ha->slot};
            uint32_t pages_by[2][GORT_NUM_CLASSES];
            for (size_t c = 0; c < cpa; c++) {
                unsigned nstate[3] = {0, 0, 0}, ninuse = 0;
                double occ = 0;
                memset(pages_by, 0, sizeof pages_by);
                for (size_t p = c * cp; p < (c + 1) * cp; p++) {
                    unsigned chunk = (unsigned)(p >> 9), word = (unsigned)((p & 511) >> 6), bit = (unsigned)(p & 63);
                    if (ha->palloc[chunk][word] >> bit & 1) {
                        gort_mspan *s = atomic_load_explicit(&ha->spans[p], memory_order_relaxed);
                        if (!s) { /* a guard page, or not mapped yet */
                            if (p >= ha->mapped_pages) nstate[NEVER]++;
                            continue;
                        }
                        unsigned cls = gort__spc_class(s->spanclass), kind = gort__spc_is_gc(s->spanclass);
                        pages_by[kind][cls]++;
                        ninuse++;
                        occ += cls ? (double)__atomic_load_n(&s->alloc_count, __ATOMIC_RELAXED) / s->nelems : 1.0;
                        bool first = p == 0 || atomic_load_explicit(&ha->spans[p - 1], memory_order_relaxed) != s;
                        if (first) {
                            uint32_t n = 1;
                            while (p + n < GORT_PAGES_PER_ARENA &&
                                   atomic_load_explicit(&ha->spans[p + n], memory_order_relaxed) == s)
                                n++;
                            /* outlined: a span of a whole cell (two once cells are
                             * runs of pages, which bounds the outlines to half the
                             * cells) */
                            if (n >= (cp > 1 ? 2 * cp : 1))
                                v->outlines[v->noutlines++] =
                                    (outline){(uint32_t)a,
                                              (uint32_t)p,
                                              n,
                                              (uint16_t)cls,
                                              (uint16_t)(cls ? __atomic_load_n(&s->alloc_count, __ATOMIC_RELAXED) : 1),
                                              (uint16_t)s->nelems,
                                              (uint8_t)kind,
                                              s->base,
                                              s->elemsize,
                                              s->npages * GORT_PAGE_SIZE};
                        }
                    } else if (ha->scav[chunk][word] >> bit & 1) {
                        nstate[p >= ha->used_top ? NEVER : RELEASED]++;
                    } else {
                        nstate[FREE]++;
                    }
                }
                cell *ce = &v->cells[a * cpa + c];
                unsigned best = NEVER;
                for (unsigned st = 1; st < 3; st++)
                    if (nstate[st] > nstate[best]) best = st;
                if (ninuse >= nstate[best] && ninuse > 0) {
                    unsigned bk = 0, bc = 0;
                    for (unsigned k = 0; k < 2; k++)
                        for (unsigned cl = 0; cl < GORT_NUM_CLASSES; cl++)
                            if (pages_by[k][cl] > pages_by[bk][bc]) bk = k, bc = cl;
                    *ce = (cell){INUSE, (uint8_t)bk, (uint8_t)bc, (uint8_t)occ_level(occ / ninuse)};
                } else {
                    *ce = (cell){(uint8_t)best, 0, 0, 0};
                }
            }
            a++;
        }
        heap_lock_drop();
        return true;
    }
}

static double mib(uint64_t b) { return (double)b / (1 << 20); }

static int draw(const view *v, const gort_stats_t *st, FILE *out) {
    size_t rows = (v->cells_per_arena + ROW - 1) / ROW;
    size_t block = 18 + rows * PX + 10;
    size_t legend_h = 96, top = 30 + legend_h;
    size_t height = top + v->narenas * block + 70;
    fprintf(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%zu\" viewBox=\"0 0 %d %zu\" "
        "font-family=\"sans-serif\" font-size=\"11\">\n"
        "<title>gort heap</title>\n"
        "<defs><pattern id=\"gc\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\">"
        "<path d=\"M0,4 L4,0\" stroke=\"#fff\" stroke-opacity=\".7\" stroke-width=\"1\"/></pattern></defs>\n"
        "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n"
        "<text x=\"%d\" y=\"20\" font-size=\"15\" font-weight=\"bold\">gort heap: %zu arena%s, one cell = %zu KiB</text>\n",
        WIDTH, height, WIDTH, height, LEFT, v->narenas, v->narenas == 1 ? "" : "s", v->cp * GORT_PAGE_SIZE / 1024);
    /* classes for the cells: c<class> a size class's colour, o<level> a
     * fullness, s<state> a page state, g collected (the hatch) */
    fprintf(out, "<style>");
    for (unsigned cls = 0; cls < GORT_NUM_CLASSES; cls++) {
        char f[32];
        class_fill(cls, f, sizeof f);
        fprintf(out, ".c%u{fill:%s}", cls, f);
    }
    for (unsigned l = 0; l < 5; l++) fprintf(out, ".o%u{fill-opacity:%.2f}", l, occ_opacity[l]);
    for (unsigned i = 0; i < 3; i++) fprintf(out, ".s%u{fill:%s}", i, state_fill[i]);
    fprintf(out, ".g{fill:url(#gc)}</style>\n");
    /* the legend */
    fprintf(out, "<g id=\"legend\" transform=\"translate(%d,34)\">\n", LEFT);
    for (unsigned i = 0; i < 3; i++)
        fprintf(out,
                "<rect x=\"%u\" y=\"0\" width=\"12\" height=\"12\" fill=\"%s\" stroke=\"#888\"/>"
                "<text x=\"%u\" y=\"10\">%s</text>\n",
                i * 150, state_fill[i], i * 150 + 16, state_name[i]);
    fprintf(out,
            "<text x=\"0\" y=\"32\">in use, by size class (1 = 16 B ... %u = 32 KiB; large objects slate):</text>\n",
            GORT_NUM_CLASSES - 1);
    for (unsigned cls = 0; cls < GORT_NUM_CLASSES; cls++) {
        char f[32];
        class_fill(cls, f, sizeof f);
        fprintf(out,
                "<rect x=\"%u\" y=\"38\" width=\"9\" height=\"12\" fill=\"%s\"><title>class %u: %u B</title></rect>\n",
                cls * 10, f, cls, (unsigned)gort_class_to_size[cls]);
    }
    fprintf(out, "<text x=\"0\" y=\"66\">fullness of the span:</text>\n");
    for (unsigned l = 0; l < 5; l++)
        fprintf(out,
                "<rect x=\"%u\" y=\"56\" width=\"12\" height=\"12\" fill=\"hsl(200,65%%,45%%)\" fill-opacity=\"%.2f\"/>"
                "<text x=\"%u\" y=\"66\">%u%%</text>\n",
                130 + l * 60, occ_opacity[l], 130 + l * 60 + 15, l * 20 + 20);
    fprintf(out,
            "<rect x=\"440\" y=\"56\" width=\"12\" height=\"12\" fill=\"hsl(200,65%%,45%%)\"/>"
            "<rect x=\"440\" y=\"56\" width=\"12\" height=\"12\" fill=\"url(#gc)\"/>"
            "<text x=\"456\" y=\"66\">collected (hatched); plain: manual</text>\n"
            "<rect x=\"0\" y=\"76\" width=\"24\" height=\"10\" fill=\"none\" stroke=\"#000\"/>"
            "<text x=\"30\" y=\"85\">a span of at least one cell</text>\n</g>\n");
    /* the arenas */
    for (size_t a = 0; a < v->narenas; a++) {
        size_t y0 = top + a * block;
        const arena_info *ai = &v->arenas[a];
        fprintf(out,
                "<g class=\"arena\" id=\"arena%zu\">\n<text x=\"%d\" y=\"%zu\">arena %#" PRIxPTR
                " (slot %u, high-water mark %u of 8192 pages)</text>\n",
                a, LEFT, y0 + 12, ai->base, ai->slot, ai->used_top);
        const cell *cs = &v->cells[a * v->cells_per_arena];
        for (size_t r = 0; r < rows; r++) {
            size_t c = r * ROW, end = c + ROW < v->cells_per_arena ? c + ROW : v->cells_per_arena;
            while (c < end) {
                size_t k = c + 1;
                while (k < end && memcmp(&cs[k], &cs[c], sizeof *cs) == 0) k++;
                size_t x = LEFT + (c - r * ROW) * PX, y = y0 + 18 + r * PX, w = (k - c) * PX;
                if (cs[c].state == INUSE) {
                    fprintf(out, "<rect x=\"%zu\" y=\"%zu\" width=\"%zu\" height=\"%d\" class=\"c%u o%u\"/>\n", x, y, w,
                            PX, cs[c].cls, cs[c].occ);
                    if (cs[c].kind)
                        fprintf(out, "<rect x=\"%zu\" y=\"%zu\" width=\"%zu\" height=\"%d\" class=\"g\"/>\n", x, y, w,
                                PX);
                } else {
                    fprintf(out, "<rect x=\"%zu\" y=\"%zu\" width=\"%zu\" height=\"%d\" class=\"s%u\"/>\n", x, y, w, PX,
                            cs[c].state);
                }
                c = k;
            }
        }
        fprintf(out, "</g>\n");
    }
    /* span outlines, with tooltips */
    fprintf(out, "<g id=\"spans\" fill=\"none\" stroke=\"#000\" stroke-width=\"0.6\">\n");
    for (size_t i = 0; i < v->noutlines; i++) {
        const outline *o = &v->outlines[i];
        size_t y0 = top + o->arena * block + 18;
        size_t c0 = o->page / v->cp, c1 = (o->page + o->npages - 1) / v->cp;
        for (size_t r = c0 / ROW; r <= c1 / ROW; r++) {
            size_t a = r * ROW > c0 ? r * ROW : c0, b = (r + 1) * ROW - 1 < c1 ? (r + 1) * ROW - 1 : c1;
            fprintf(out, "<rect x=\"%zu\" y=\"%zu\" width=\"%zu\" height=\"%d\">", LEFT + (a - r * ROW) * PX,
                    y0 + r * PX, (b - a + 1) * PX, PX);
            if (o->cls)
                fprintf(out, "<title>%#" PRIxPTR " %s class %u (%zu B): %u/%u, %zu KiB</title>", o->base,
                        o->kind ? "collected" : "manual", o->cls, o->elemsize, o->count, o->nelems,
                        o->span_bytes / 1024);
            else
                fprintf(out, "<title>%#" PRIxPTR " %s large, %zu KiB</title>", o->base,
                        o->kind ? "collected" : "manual", o->span_bytes / 1024);
            fprintf(out, "</rect>\n");
        }
    }
    fprintf(out, "</g>\n");
    /* the totals (gort_stats) */
    size_t yc = top + v->narenas * block + 16;
    fprintf(out,
            "<g id=\"caption\"><text x=\"%d\" y=\"%zu\">heap %.1f MiB in %" PRIu64
            " arenas: in use %.1f MiB (objects %.1f MiB, "
            "%" PRIu64 " live), free %.1f MiB of which released %.1f MiB</text>\n"
            "<text x=\"%d\" y=\"%zu\">mallocs %" PRIu64 ", frees %" PRIu64
            "; from the OS %.1f MiB, metadata %.1f MiB</text></g>\n"
            "</svg>\n",
            LEFT, yc, mib(st->heap_sys), st->arenas, mib(st->heap_inuse), mib(st->heap_alloc), st->heap_objects,
            mib(st->heap_idle), mib(st->heap_released), LEFT, yc + 16, st->mallocs, st->frees, mib(st->sys),
            mib(st->metadata_sys));
    return ferror(out) || fflush(out) != 0 ? -1 : 0;
}

int gort_heap_svg(FILE *out) {
    if (!out) {
        errno = EINVAL;
        return -1;
    }
    gort_stats_t st;
    gort_stats(&st);
    view v;
    if (!gather(&v)) return -1;
    int r = draw(&v, &st, out);
    gort__sys_free(v.mem, v.memsize, GORT_OS_READY);
    if (r != 0 && !errno) errno = EIO;
    return r;
}
