/* gemv.c: dispatch and drivers of the quantized GEMV (kernels/lb-gemv.h).
 *
 * Compiled without ISA flags (STYLE.md #3): this file only chooses among
 * the tables of the ISA files (registry below) and loops over rows, so it
 * runs on any x86-64 and on other architectures (scalar references only).
 *
 * Workload: decode-time y = W . x, W from a few MiB to GiBs streamed once
 * per call, x a few thousand floats. The per-row loop calls the chosen dot
 * through a function pointer: one indirect call per row of >= 32 elements
 * (thousands in LLM shapes) is noise next to the row's memory traffic.
 */
#include <stdio.h>
#include <string.h>

#include "gemv-impl.h"

/* ---- registry ------------------------------------------------------- */

/* Every table the ISA files export (strong references: gemv-impl.h says
 * why). The order matters only
 * between entries for the same format with as many requirement bits and
 * the same ISA level (see outranks): the first listed wins. */
static const struct lb_gemv_registry_entry registry[] = {
#if LB_GEMV_HAVE_X86
    {"x86/gemv-float-avx2.c", &lb_gemv_table_float_avx2},
    {"x86/gemv-float-avx512.c", &lb_gemv_table_float_avx512},
    {"x86/gemv-legacy-avx2.c", &lb_gemv_table_legacy_avx2},
    {"x86/gemv-legacy-avx512.c", &lb_gemv_table_legacy_avx512},
    {"x86/gemv-k-avx2.c", &lb_gemv_table_k_avx2},
    {"x86/gemv-k-avx512.c", &lb_gemv_table_k_avx512},
#endif
    {NULL, NULL}, /* keeps the array non-empty off x86 */
};

/* Multi-row tables (gemv-impl.h); gemv.c uses an entry only with the
 * single-row dot it names. */
static const struct lb_dot_rows_impl *const rows_registry[] = {
#if LB_GEMV_HAVE_X86
    lb_gemv_rows_k_avx512,
    lb_gemv_rows_legacy_avx512,
#endif
    NULL,
};

size_t lb_dot_rows_impls_all(const struct lb_dot_rows_impl **out, size_t max)
{
    size_t n = 0;
    for (size_t t = 0; rows_registry[t]; t++)
        for (const struct lb_dot_rows_impl *r = rows_registry[t]; r->dot_rows && n < max; r++) out[n++] = r;
    return n;
}

/* The multi-row entry of dot, or NULL. */
static const struct lb_dot_rows_impl *rows_of(lb_vec_dot_fn dot)
{
    for (size_t t = 0; rows_registry[t]; t++)
        for (const struct lb_dot_rows_impl *r = rows_registry[t]; r->dot_rows; r++)
            if (r->dot == dot) return r;
    return NULL;
}

size_t lb_gemv_registry(struct lb_gemv_registry_entry *out, size_t max)
{
    size_t n = LB_ARRAY_LEN(registry) - 1;
    for (size_t i = 0; i < n && i < max; i++) out[i] = registry[i];
    return n;
}

bool lb_dot_impl_usable(enum lb_isa isa, unsigned requires,
                        const struct lb_cpu_features *f)
{
    if ((unsigned)isa >= LB_ISA_COUNT) return false;
    if (!f) return isa == LB_ISA_SCALAR && requires == 0;
    if (lb_isa_best(f) < isa) return false;
    unsigned known = LB_REQ_AVX512_VNNI | LB_REQ_AVX512_BF16 | LB_REQ_AVX_VNNI;
    if (requires & ~known) return false; /* a bit this file cannot check */
    if ((requires & LB_REQ_AVX512_VNNI) && !f->avx512_vnni) return false;
    if ((requires & LB_REQ_AVX512_BF16) && !f->avx512_bf16) return false;
    if ((requires & LB_REQ_AVX_VNNI) && !f->avx_vnni) return false;
    return true;
}

size_t lb_dot_impls_all(const struct lb_dot_impl **out, size_t max)
{
    size_t n = 0;
    for (size_t t = 0; registry[t].file; t++) {
        const struct lb_dot_table *tab = registry[t].table;
        if (!tab || !tab->dots) continue;
        for (const struct lb_dot_impl *d = tab->dots; d->dot && n < max; d++) out[n++] = d;
    }
    return n;
}

size_t lb_actq_impls_all(const struct lb_actq_impl **out, size_t max)
{
    size_t n = 0;
    for (size_t t = 0; registry[t].file; t++) {
        const struct lb_dot_table *tab = registry[t].table;
        if (!tab || !tab->actqs) continue;
        for (const struct lb_actq_impl *q = tab->actqs; q->quantize && n < max; q++) out[n++] = q;
    }
    return n;
}

/* Ranking of usable implementations: the most specialised first (more
 * lb_dot_requires bits: a VNNI dot replaces the fallback of its level,
 * whatever order its file lists them in), then the higher ISA level, then
 * the one listed first. Returns whether (bits, isa) outranks the best. */
static bool outranks(unsigned req, enum lb_isa isa, unsigned best_req, enum lb_isa best_isa)
{
    int bits = __builtin_popcount(req), best_bits = __builtin_popcount(best_req);
    if (bits != best_bits) return bits > best_bits;
    return isa > best_isa;
}

/* Best usable dot for wtype at level <= cap; NULL: none. */
static const struct lb_dot_impl *best_dot(enum lb_qtype wtype, enum lb_isa cap,
                                          const struct lb_cpu_features *f)
{
    const struct lb_dot_impl *best = NULL;
    for (size_t t = 0; registry[t].file; t++) {
        const struct lb_dot_table *tab = registry[t].table;
        if (!tab || !tab->dots) continue;
        for (const struct lb_dot_impl *d = tab->dots; d->dot; d++) {
            if (d->type != wtype || d->isa > cap || !lb_dot_impl_usable(d->isa, d->requires, f))
                continue;
            if (!best || outranks(d->requires, d->isa, best->requires, best->isa)) best = d;
        }
    }
    return best;
}

static const struct lb_actq_impl *best_actq(enum lb_qtype atype, enum lb_isa cap,
                                            const struct lb_cpu_features *f)
{
    const struct lb_actq_impl *best = NULL;
    for (size_t t = 0; registry[t].file; t++) {
        const struct lb_dot_table *tab = registry[t].table;
        if (!tab || !tab->actqs) continue;
        for (const struct lb_actq_impl *q = tab->actqs; q->quantize; q++) {
            if (q->act_type != atype || q->isa > cap || !lb_dot_impl_usable(q->isa, q->requires, f))
                continue;
            if (!best || outranks(q->requires, q->isa, best->requires, best->isa)) best = q;
        }
    }
    return best;
}

/* ---- init ----------------------------------------------------------- */

enum lb_status lb_gemv_init(struct lb_gemv *g, enum lb_qtype wtype,
                            int64_t rows, int64_t cols, enum lb_isa isa_cap,
                            const struct lb_cpu_features *f,
                            struct lb_error *err)
{
    LB_ASSERT(g);
    memset(g, 0, sizeof *g);
    const struct lb_qtraits *wt = lb_qtraits_get(wtype);
    if (!wt)
        return lb_error_set(err, LB_EINVAL, "gemv: weight type %d has no implementation",
                            (int)wtype);
    const struct lb_qtraits *at = lb_qtraits_get(wt->vec_dot_type);
    LB_ASSERT(at); /* the traits table names only implemented formats */
    if (rows < 1 || cols < 1)
        return lb_error_set(err, LB_EINVAL, "gemv %s: shape %lldx%lld is empty", wt->name,
                            (long long)rows, (long long)cols);
    /* block sizes are powers of two, so the larger one is the lcm */
    const int64_t need = wt->block_elems > at->block_elems ? wt->block_elems : at->block_elems;
    if (cols % need != 0)
        return lb_error_set(err, LB_EINVAL,
                            "gemv %s: cols %lld is not a multiple of the block size %lld",
                            wt->name, (long long)cols, (long long)need);
    if ((unsigned)isa_cap >= LB_ISA_COUNT)
        return lb_error_set(err, LB_EINVAL, "gemv %s: unknown ISA level %d", wt->name, (int)isa_cap);

    g->wtype = wtype;
    g->atype = wt->vec_dot_type;
    g->rows = rows;
    g->cols = cols;
    g->row_bytes = lb_qtype_row_bytes(wtype, cols);
    g->act_bytes = lb_qtype_row_bytes(g->atype, cols);

    const struct lb_dot_impl *d = best_dot(wtype, isa_cap, f);
    if (d) {
        g->dot = d->dot;
        const struct lb_dot_rows_impl *r = rows_of(d->dot);
        g->dot_rows = r ? r->dot_rows : NULL;
        g->dot_batch = r ? r->dot_batch : NULL;
        g->isa = d->isa;
        snprintf(g->path, sizeof g->path, "%s", d->path ? d->path : lb_isa_name(d->isa));
    } else {
        g->dot = wt->vec_dot_ref;
        g->isa = LB_ISA_SCALAR;
        snprintf(g->path, sizeof g->path, "scalar");
    }
    /* the activation quantizer is chosen on its own: every one writes the
     * reference's bytes, so any pairing with the dot gives the same y */
    if (g->atype != LB_QTYPE_F32) {
        const struct lb_actq_impl *q = best_actq(g->atype, isa_cap, f);
        g->actq = q ? q->quantize : at->quantize_ref;
    }
    return LB_OK;
}

/* ---- drivers -------------------------------------------------------- */

/* Activation elements per split unit of lb_gemv_quantize_x: 256 floats
 * (1 KiB of x) is one Q8_K block and 8 Q8_0/Q8_1 blocks, so every unit is
 * whole blocks and workers' output ranges meet at most once per pair,
 * far from the per-element work. */
#define ACT_SPLIT_ELEMS 256

void lb_gemv_quantize_x(const struct lb_gemv *g, const float *x, void *act,
                        int ith, int nth)
{
    const struct lb_qtraits *at = lb_qtraits_get(g->atype);
    const int64_t be = at->block_elems;
    const size_t align = ACT_SPLIT_ELEMS / (size_t)be > 0 ? ACT_SPLIT_ELEMS / (size_t)be : 1;
    size_t b, e;
    lb_split((size_t)(g->cols / be), align, ith, nth, &b, &e);
    if (b >= e) return;
    const size_t bb = (size_t)at->block_bytes;
    if (!g->actq) { /* F32: a copy */
        memcpy((char *)act + b * bb, x + b * (size_t)be, (e - b) * bb);
        return;
    }
    g->actq(x + b * (size_t)be, (char *)act + b * bb, (int64_t)(e - b) * be);
}

/* dot_rows takes an int row count */
#define ROWS_PER_CALL_MAX ((size_t)1 << 30)
/* Rows per dot_rows call in a batch: enough that preparing the activation
 * (for Q4_K about a third of one row's work per call) is a few % of the
 * group's work, few enough that the group (16 x 2.3 KiB for Q4_K at 4096
 * columns, 16 x 11.8 KiB for a 14336-column Q6_K row) stays in L2 across
 * the n_b activations. */
#define BATCH_GROUP_ROWS 16

/* Rows are split one by one (lb_split(rows, 1, ...), as lb-gemv.h says).
 * Splitting in 16-row units would keep workers' y ranges on separate
 * cache lines, but the one line two workers share costs one transfer per
 * call (~0.1 us), while 16-row units unbalance small matrices (24 rows on
 * 2 workers: 16 + 8). */
void lb_gemv_rows(const struct lb_gemv *g, const void *w, const void *act,
                  float *y, int ith, int nth)
{
    size_t b, e;
    lb_split((size_t)g->rows, 1, ith, nth, &b, &e);
    const int64_t n = g->cols;
    const size_t rb = g->row_bytes;
    const char *row = (const char *)w + b * rb;
    if (g->dot_rows) {
        /* the whole slice in one call (in int-sized pieces): the
         * activation is prepared once for all its rows */
        for (size_t r = b; r < e; r += ROWS_PER_CALL_MAX) {
            const size_t m = e - r < ROWS_PER_CALL_MAX ? e - r : ROWS_PER_CALL_MAX;
            g->dot_rows(n, (const char *)w + r * rb, rb, act, y + r, (int)m);
        }
        return;
    }
    const lb_vec_dot_fn dot = g->dot;
    for (size_t r = b; r < e; r++, row += rb) y[r] = dot(n, row, act);
}

/* Row-major over the batch: a row is streamed from memory once, and the
 * n_b - 1 further dots with it hit L1/L2 (a row is cols x bits / 8 bytes:
 * 2.3 KiB for Q4_0 at 4096 columns, 28 KiB for F16 at 14336). Each y[b][r]
 * is the same dot call as in lb_gemv_rows, or the multi-row dot, which
 * gives the same bits (lb-gemv.h), so the results are identical. */
void lb_gemv_rows_batch(const struct lb_gemv *g, const void *w,
                        const void *const *act, float *const *y, int n_b,
                        int ith, int nth)
{
    LB_ASSERT(n_b >= 1 && n_b <= LB_GEMV_MAX_BATCH);
    size_t b, e;
    lb_split((size_t)g->rows, 1, ith, nth, &b, &e);
    const int64_t n = g->cols;
    const size_t rb = g->row_bytes;
    const char *row = (const char *)w + b * rb;
    if (g->dot_rows && n_b == 1) {
        /* one activation: nothing to keep in L2 between activations, so
         * the whole slice in one call as lb_gemv_rows does (the engine's
         * gate/up row ranges come here; 16-row groups would prepare the
         * activation once per 16 rows: for Q4_0 at 2048 columns ~8% more
         * instructions than the rows themselves) */
        lb_gemv_rows(g, w, act[0], y[0], ith, nth);
        return;
    }
    if (g->dot_batch) {
        /* each row read once and unpacked once for all n_b activations */
        for (size_t r = b; r < e; r += ROWS_PER_CALL_MAX) {
            const size_t m = e - r < ROWS_PER_CALL_MAX ? e - r : ROWS_PER_CALL_MAX;
            float *yr[LB_GEMV_MAX_BATCH];
            for (int k = 0; k < n_b; k++) yr[k] = y[k] + r;
            g->dot_batch(n, (const char *)w + r * rb, rb, act, yr, n_b, (int)m);
        }
        return;
    }
    if (g->dot_rows) {
        /* groups of rows (16 x 2.3 KiB for Q4_K at 4096 columns) stay in
         * L2 while they meet every activation; each dot_rows call prepares
         * its activation once for the group's rows */
        const lb_dot_rows_fn rows = g->dot_rows;
        for (size_t r = b; r < e; r += BATCH_GROUP_ROWS) {
            const size_t m = e - r < BATCH_GROUP_ROWS ? e - r : BATCH_GROUP_ROWS;
            const char *grp = (const char *)w + r * rb;
            for (int k = 0; k < n_b; k++) rows(n, grp, rb, act[k], y[k] + r, (int)m);
        }
        return;
    }
    const lb_vec_dot_fn dot = g->dot;
    for (size_t r = b; r < e; r++, row += rb)
        for (int k = 0; k < n_b; k++) y[k][r] = dot(n, row, act[k]);
}

/* ---- the batch forms' driver (gemv-impl.h) ------------------------------ */

int64_t lb_gemv_batch_chunk(int n_b, size_t unit_bytes, int64_t multiple)
{
    int64_t c = LB_BATCH_CHUNK_BYTES / ((int64_t)n_b * (int64_t)unit_bytes) / multiple * multiple;
    return c < multiple ? multiple : c;
}

void lb_gemv_batch_run(const lb_batch_units_fn units[LB_GEMV_MAX_BATCH], lb_batch_finish_fn finish,
                       const void *ctx, const void *w, size_t rb, float *const *y, int n_b, int n_rows,
                       int64_t n_units, int64_t chunk_units, size_t acc_size)
{
    LB_ASSERT(n_b >= 1 && n_b <= LB_GEMV_MAX_BATCH && acc_size <= LB_BATCH_ACC_MAX && chunk_units >= 1);
    _Alignas(64) unsigned char acc[LB_BATCH_ROWS * LB_GEMV_MAX_BATCH * LB_BATCH_ACC_MAX];
    const lb_batch_units_fn run = units[n_b - 1];
    for (int r0 = 0; r0 < n_rows; r0 += LB_BATCH_ROWS) {
        const int g = n_rows - r0 < LB_BATCH_ROWS ? n_rows - r0 : LB_BATCH_ROWS;
        const char *wg = (const char *)w + (size_t)r0 * rb;
        memset(acc, 0, (size_t)g * (size_t)n_b * acc_size); /* 0.0f is all zero bits */
        for (int64_t u0 = 0; u0 < n_units; u0 += chunk_units)
            run(wg, rb, g, ctx, u0, n_units - u0 < chunk_units ? n_units : u0 + chunk_units, acc);
        finish(acc, wg, rb, g, n_b, y, r0, ctx);
    }
}
