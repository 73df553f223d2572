/* suite-gemv.c: the `gemv` suite: y = W . x for one decode token, per
 * weight format, matrix shape or weight size, thread count and code path.
 *
 * Workload: decode streams every weight byte once per token, so a GEMV
 * whose W is far above the last-level cache is bound by memory bandwidth
 * and is quoted against the measured read ceiling. Two benchmarks share
 * one implementation:
 *  - gemv: W of the shapes in --shape (ROWSxCOLS: rows = output features,
 *    cols = input features), by default 4096x4096 (an attention
 *    projection of a 7-8B model) and 14336x4096 (its FFN up/gate);
 *  - gemv_sweep: W of about size_bytes of weights, cols = 4096 and
 *    rows = size_bytes / row bytes rounded down to a multiple of 16 (at
 *    least 16), from in-L2 to far above the LLC. A separate benchmark
 *    because the planner multiplies the axes a benchmark reads: one
 *    benchmark reading both shape and size_bytes would run every shape
 *    once per size.
 * The ceiling is "read" for both; a W that fits in a cache streams from
 * that cache, and above 100% of the (DRAM) read ceiling means exactly that.
 *
 * One call = one token: quantize x into the weight format's activation
 * format (real per-token work, so it is timed) and all rows. Activation
 * strategy: the workers quantize disjoint blocks of x into one shared
 * buffer, meet at a spinning barrier inside the same pool region, then
 * dot their rows. The alternatives cost more: a second pool region adds a
 * dispatch + barrier of the pool (microseconds on a VM), and every worker
 * quantizing all of x costs the full quantization per worker (measured
 * for 4096 columns into Q8_0: 18.5 us with the scalar reference, 1.8 us
 * with the AVX-512 quantizer: 17% of a 256 KiB Q4_0 GEMV) where the split
 * costs 1/nth of it plus a cache-line handoff (~0.1-0.2 us).
 * Formats whose activation is f32 (F32/F16/BF16) use x as is, no barrier.
 *
 * Weights: random valid blocks, generated fast. The reference quantizers
 * search scales (~100-800 ns per element), far too slow for GiBs, so a
 * pool of 2^17 elements of random normal values is quantized once (in
 * parallel), and every row is assembled from pool units (one block; 32
 * elements for float formats) picked by a hash of (row, unit): rows all
 * differ, every block is one the reference quantizer wrote. Each worker
 * fills the rows it will read (same lb_split as lb_gemv_rows), so pages
 * are first touched near that worker. Cold cache (--cache cold): enough
 * copies of W that successive calls touch >= 2x all LLCs before reuse,
 * capped at 1/16 of the memory available (as the ceilings' bw_setup).
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../kernels/lb-gemv.h"
#include "lb-suite.h"

/* Columns of the size sweep's matrices: the hidden size of the 7-8B
 * models (Llama 3 8B, Mistral 7B), a multiple of every block size. */
#define SWEEP_COLS 4096
/* Rows of sweep matrices are a multiple of this: equal row counts per
 * worker for 1, 2, 4, 8 and 16 threads. */
#define SWEEP_ROW_ALIGN 16
/* Elements of the pool that rows are assembled from: 4096 blocks of 32
 * or 512 super-blocks of 256 elements; quantized by the reference in
 * ~15-100 ms per worker (IQ4_XS at ~800 ns per element is the slowest). */
#define POOL_ELEMS (1 << 17)
/* Validation: rows checked against the reference GEMV (all when fewer). */
#define CHECK_ROWS 64
#define CHECK_ALL_ROWS_BELOW 256
/* |y - reference| <= REL_TOL x sum_i |w_i a_i|: the integer parts of the
 * quantized dots are exact and the float formats' products exact, so the
 * two differ only by f32 rounding of scale products and of accumulating
 * <= a few hundred block sums per lane, ~1e-7 of sum |terms| in practice
 * and 2.7e-5 in the worst-case linear bound at 14336 columns
 * (tests/test-gemv.c states the argument). A wrong nibble or block is
 * >= 1e-3 of sum |terms| at these row lengths. */
#define REL_TOL 1e-5

struct gemv_state {
    struct lb_barrier bar;
    struct lb_gemv g;
    const struct lb_qtraits *q;
    size_t w_bytes;        /* one copy of W: rows x row_bytes */
    size_t copies;         /* cold cache: copies rotated per call; hot: 1 */
    size_t cur;            /* copy the last call used */
    uint8_t **w;           /* [copies], each w_bytes from lb_pool_alloc */
    float *x;              /* [cols] */
    void *act;             /* act_bytes: x in the activation format */
    float *y;              /* [rows] */
    /* weight generation */
    int64_t unit_elems;    /* elements per pool unit */
    size_t unit_bytes;
    size_t pool_units;
    uint8_t *pool;         /* pool_units x unit_bytes */
};

/* uniform in [0, 1) from a 64-bit state */
static double unif(unsigned long long *s)
{
    *s = lb_mix64(*s);
    return (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- setup ---------------------------------------------------------- */

static void pool_task(void *arg, int ith, int nth)
{
    struct gemv_state *s = arg;
    size_t b, e;
    lb_split(s->pool_units, 1, ith, nth, &b, &e);
    float *f = malloc((size_t)s->unit_elems * sizeof *f);
    if (!f) return; /* left zero: still valid blocks (calloc'ed pool) */
    for (size_t u = b; u < e; u++) {
        unsigned long long st = lb_mix64(u ^ 0x5eedull);
        for (int64_t i = 0; i < s->unit_elems; i++) {
            /* normal by Box-Muller: weights are roughly Gaussian */
            double u1 = unif(&st), u2 = unif(&st);
            if (u1 < 1e-300) u1 = 1e-300;
            f[i] = (float)(0.02 * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
        }
        s->q->quantize_ref(f, s->pool + u * s->unit_bytes, s->unit_elems);
    }
    free(f);
}

static void fill_task(void *arg, int ith, int nth)
{
    struct gemv_state *s = arg;
    const struct lb_gemv *g = &s->g;
    size_t b, e;
    lb_split((size_t)g->rows, 1, ith, nth, &b, &e); /* the rows lb_gemv_rows gives ith */
    const size_t full = (size_t)(g->cols / s->unit_elems);
    const size_t tail = g->row_bytes - full * s->unit_bytes; /* float formats only */
    for (size_t r = b; r < e; r++) {
        uint8_t *dst = s->w[0] + r * g->row_bytes;
        for (size_t j = 0; j <= full; j++) {
            size_t n = j < full ? s->unit_bytes : tail;
            if (!n) break;
            size_t u = (size_t)(lb_mix64(r * (full + 1) + j) % s->pool_units);
            memcpy(dst + j * s->unit_bytes, s->pool + u * s->unit_bytes, n);
        }
    }
    for (size_t k = 1; k < s->copies; k++)
        memcpy(s->w[k] + b * g->row_bytes, s->w[0] + b * g->row_bytes,
               (e - b) * g->row_bytes);
}

static void *aligned_buf(size_t bytes)
{
    size_t n = (bytes + 63) / 64 * 64;
    return aligned_alloc(64, n ? n : 64);
}

static void gemv_teardown(void *state, struct lb_pool *pool)
{
    struct gemv_state *s = state;
    if (!s) return;
    if (s->w) {
        for (size_t k = 0; k < s->copies; k++)
            if (s->w[k]) lb_pool_free(pool, s->w[k], s->w_bytes);
        free(s->w);
    }
    free(s->x);
    free(s->act);
    free(s->y);
    free(s->pool);
    free(s);
}

/* rows == 0: derive rows from the case's size_bytes (gemv_sweep) */
static enum lb_status gemv_setup_shape(const struct lb_bench_env *env, void **state,
                                       struct lb_error *err, int64_t rows, int64_t cols)
{
    const char *qname = lb_case_text(env->params, "quant", "q4_0");
    const char *impl = lb_case_text(env->params, "impl", "best");
    enum lb_qtype t;
    if (!lb_qtype_parse(qname, &t))
        return lb_error_set(err, LB_EINVAL, "unknown weight format '%s'", qname);
    const struct lb_qtraits *q = lb_qtraits_get(t);
    enum lb_isa cap;
    if (!strcmp(impl, "best")) cap = env->isa;
    else if (!strcmp(impl, "ref")) cap = LB_ISA_SCALAR;
    else return lb_error_set(err, LB_EINVAL, "impl '%s': expected best or ref", impl);

    if (rows == 0) {
        double size = lb_case_num(env->params, "size_bytes", 64.0 * 1024 * 1024);
        size_t rb = lb_qtype_row_bytes(t, cols);
        double r = floor(size / (double)rb / SWEEP_ROW_ALIGN) * SWEEP_ROW_ALIGN;
        rows = r < SWEEP_ROW_ALIGN ? SWEEP_ROW_ALIGN : (int64_t)r;
    }

    struct gemv_state *s = calloc(1, sizeof *s);
    if (!s) return lb_error_set(err, LB_ENOMEM, "out of memory");
    struct lb_error e2 = {0};
    if (lb_gemv_init(&s->g, t, rows, cols, cap, &env->hw->features, &e2) != LB_OK) {
        free(s);
        /* an invalid combination (cols not whole blocks): a skip */
        return lb_error_set(err, LB_EUNSUPPORTED, "%s", e2.msg);
    }
    s->q = q;
    const struct lb_gemv *g = &s->g;
    s->w_bytes = (size_t)rows * g->row_bytes;
    const double avail = lb_hw_mem_available_bytes();
    if (avail > 0 && (double)s->w_bytes > avail / 4) {
        const double need = (double)s->w_bytes;
        gemv_teardown(s, env->pool);
        return lb_error_set(err, LB_EUNSUPPORTED,
                            "%s %lldx%lld needs %.2f GiB of weights, over 1/4 of the %.2f GiB available",
                            q->name, (long long)rows, (long long)cols, need / (1 << 30),
                            avail / (1 << 30));
    }
    s->copies = 1;
    if (env->cache == LB_CACHE_COLD) {
        /* successive calls touch >= 2x all LLCs before reusing a copy,
         * within 1/16 of the memory available now */
        double want = 2.0 * (double)env->hw->llc_total_bytes, cap_b = avail / 16;
        if (cap_b > 0 && want > cap_b) want = cap_b;
        s->copies = (size_t)ceil(want / (double)s->w_bytes);
        if (cap_b > 0 && (double)s->copies * (double)s->w_bytes > cap_b)
            s->copies = (size_t)floor(cap_b / (double)s->w_bytes);
        if (s->copies < 1) s->copies = 1;
    }
    /* one allocation per copy: lb_pool_alloc first-touches its pages in
     * an even byte split over the workers, which is then (to a page) the
     * row split of lb_gemv_rows for every copy, not for the whole set */
    s->w = calloc(s->copies, sizeof *s->w);
    bool w_ok = s->w != NULL;
    for (size_t k = 0; w_ok && k < s->copies; k++) w_ok = (s->w[k] = lb_pool_alloc(env->pool, s->w_bytes)) != NULL;
    s->x = aligned_buf((size_t)cols * sizeof(float));
    s->act = aligned_buf(g->act_bytes);
    s->y = aligned_buf((size_t)rows * sizeof(float));
    s->unit_elems = q->block_elems > 1 ? q->block_elems : 32;
    s->unit_bytes = lb_qtype_row_bytes(t, s->unit_elems);
    s->pool_units = POOL_ELEMS / (size_t)s->unit_elems;
    s->pool = calloc(s->pool_units, s->unit_bytes);
    if (!w_ok || !s->x || !s->act || !s->y || !s->pool) {
        const size_t copies = s->copies, bytes = s->w_bytes;
        gemv_teardown(s, env->pool);
        return lb_error_set(err, LB_ENOMEM, "cannot allocate %zu x %zu bytes of weights", copies, bytes);
    }
    lb_pool_run(env->pool, pool_task, s);
    lb_pool_run(env->pool, fill_task, s);
    free(s->pool);
    s->pool = NULL;

    unsigned long long st = 0x12345ull;
    for (int64_t i = 0; i < cols; i++) s->x[i] = (float)(2.0 * unif(&st) - 1.0);
    /* poison: a row the timed calls skip stays NaN and fails validation */
    for (int64_t r = 0; r < rows; r++) s->y[r] = NAN;
    memset(s->act, 0xff, g->act_bytes);
    *state = s;
    return LB_OK;
}

static enum lb_status gemv_setup(const struct lb_bench_env *env, void **state,
                                 struct lb_error *err)
{
    const char *shape = lb_case_text(env->params, "shape", "4096x4096");
    long long rows = 0, cols = 0;
    char tail;
    if (sscanf(shape, "%lldx%lld%c", &rows, &cols, &tail) != 2 || rows < 1 || cols < 1)
        return lb_error_set(err, LB_EINVAL, "shape '%s': expected ROWSxCOLS", shape);
    return gemv_setup_shape(env, state, err, rows, cols);
}

static enum lb_status gemv_sweep_setup(const struct lb_bench_env *env, void **state,
                                       struct lb_error *err)
{
    return gemv_setup_shape(env, state, err, 0, SWEEP_COLS);
}

/* ---- run ------------------------------------------------------------ */

static void gemv_task(void *arg, int ith, int nth)
{
    struct gemv_state *s = arg;
    const void *act = s->x; /* f32 activation formats: x as is */
    if (s->g.actq) {
        lb_gemv_quantize_x(&s->g, s->x, s->act, ith, nth);
        lb_barrier_wait(&s->bar, nth); /* all of act written before any row */
        act = s->act;
    }
    lb_gemv_rows(&s->g, s->w[s->cur], act, s->y, ith, nth);
}

static void gemv_run(void *state, struct lb_pool *pool, uint64_t iter)
{
    struct gemv_state *s = state;
    s->cur = (size_t)(iter % s->copies);
    lb_pool_run(pool, gemv_task, s);
}

/* ---- validate ------------------------------------------------------- */

static enum lb_status gemv_validate(void *state, struct lb_pool *pool, struct lb_error *err)
{
    struct gemv_state *s = state;
    const struct lb_gemv *g = &s->g;
    (void)pool;
    for (int64_t r = 0; r < g->rows; r++)
        if (!isfinite(s->y[r]))
            return lb_error_set(err, LB_EVALIDATE, "y[%lld] = %g: row not computed", (long long)r,
                                (double)s->y[r]);
    const struct lb_qtraits *at = lb_qtraits_get(g->atype);
    void *act = aligned_buf(g->act_bytes);
    float *wd = malloc((size_t)g->cols * sizeof *wd), *ad = malloc((size_t)g->cols * sizeof *ad);
    enum lb_status st = LB_OK;
    if (!act || !wd || !ad) {
        st = lb_error_set(err, LB_ENOMEM, "out of memory validating");
        goto out;
    }
    at->quantize_ref(s->x, act, g->cols); /* the reference activation */
    at->dequantize(act, ad, g->cols);
    const int64_t n_check = g->rows < CHECK_ALL_ROWS_BELOW ? g->rows : CHECK_ROWS;
    const uint8_t *w = s->w[s->cur];
    for (int64_t k = 0; k < n_check; k++) {
        /* spread over the matrix, first and last row included */
        int64_t r = n_check == g->rows ? k : k * (g->rows - 1) / (n_check - 1);
        const uint8_t *row = w + (size_t)r * g->row_bytes;
        double want = s->q->vec_dot_ref(g->cols, row, act);
        s->q->dequantize(row, wd, g->cols);
        double mag = 0;
        for (int64_t i = 0; i < g->cols; i++) mag += fabs((double)wd[i] * ad[i]);
        double diff = fabs((double)s->y[r] - want), tol = REL_TOL * mag + 1e-30;
        if (!(diff <= tol)) {
            st = lb_error_set(err, LB_EVALIDATE,
                              "%s y[%lld] = %.9g, reference %.9g: |diff| %.3g > %.3g (1e-5 x sum|terms|)",
                              s->q->name, (long long)r, (double)s->y[r], want, diff, tol);
            goto out;
        }
    }
out:
    free(act);
    free(wd);
    free(ad);
    return st;
}

/* ---- work per call -------------------------------------------------- */

static double gemv_bytes(const void *state)
{
    const struct gemv_state *s = state;
    /* weights once, x read, y written */
    return (double)s->w_bytes + (double)s->g.cols * sizeof(float) + (double)s->g.rows * sizeof(float);
}

static double gemv_ops(const void *state)
{
    const struct gemv_state *s = state;
    return 2.0 * (double)s->g.rows * (double)s->g.cols; /* a multiply and an add per weight */
}

static const char *gemv_path(const void *state)
{
    return ((const struct gemv_state *)state)->g.path;
}

/* Integer formats do int8 multiply-adds ("OP", the dot8 ceiling's unit),
 * float formats FLOPs (the fma ceiling's), both counted as 2 per weight. */
static const char *gemv_ops_unit(const void *state)
{
    const struct gemv_state *s = state;
    return s->g.atype == LB_QTYPE_F32 ? "FLOP" : "OP";
}

static const struct lb_bench lb_bench_gemv = {
    .name = "gemv",
    .description = "y = W.x for one token (x quantized per call), W of the given ROWSxCOLS shape",
    .axes = "threads,quant,shape,impl",
    .ceiling = "read",
    .setup = gemv_setup,
    .run = gemv_run,
    .validate = gemv_validate,
    .teardown = gemv_teardown,
    .bytes = gemv_bytes,
    .ops = gemv_ops,
    .ops_unit = "OP",
    .ops_unit_of = gemv_ops_unit,
    .path = gemv_path,
};

static const struct lb_bench lb_bench_gemv_sweep = {
    .name = "gemv_sweep",
    .description = "gemv with ~size_bytes of weights (cols 4096): from in-cache to DRAM",
    .axes = "threads,quant,size_bytes,impl",
    .ceiling = "read",
    .setup = gemv_sweep_setup,
    .run = gemv_run,
    .validate = gemv_validate,
    .teardown = gemv_teardown,
    .bytes = gemv_bytes,
    .ops = gemv_ops,
    .ops_unit = "OP",
    .ops_unit_of = gemv_ops_unit,
    .path = gemv_path,
};

/* ---- the suite ------------------------------------------------------ */

/* Defaults kept short: two shapes, four formats, and a size sweep in
 * steps of 8x from 256 KiB (in L2 on current cores) to 1 GiB or the
 * largest step under 4x all LLCs and 1/16 of available memory (at least
 * 64 MiB), so the top is DRAM-bound wherever the LLC is reported sanely
 * (a VM reporting 508 MiB of L3 per core is capped by memory instead). */
static void gemv_axes(const struct lb_hw *hw, struct lb_suite_axes *axes)
{
    lb_axes_default_threads(hw, &axes->threads);

    const double kib = 1024.0, mib = kib * kib;
    double top = 4.0 * (double)hw->llc_total_bytes;
    const double avail = lb_hw_mem_available_bytes();
    if (avail > 0 && top > avail / 16) top = avail / 16;
    if (top > 1024 * mib) top = 1024 * mib;
    if (top < 64 * mib) top = 64 * mib;
    axes->size_bytes.n = 0;
    for (double s = 256 * kib; s <= top && axes->size_bytes.n < LB_SWEEP_MAX; s *= 8)
        axes->size_bytes.v[axes->size_bytes.n++] = s;

    lb_axes_set_csv(axes, "quant", "q4_0,q8_0,q4_k,q6_k");
    lb_axes_set_csv(axes, "shape", "4096x4096,14336x4096");
    lb_axes_set_csv(axes, "impl", "best");
}

static const struct lb_bench *const gemv_benches[] = {&lb_bench_gemv, &lb_bench_gemv_sweep};

const struct lb_suite lb_suite_gemv = {
    .name = "gemv",
    .description = "quantized GEMV (one decode token) per format, shape / weight size, threads; vs read ceiling",
    .benches = gemv_benches,
    .n_benches = LB_ARRAY_LEN(gemv_benches),
    .default_axes = gemv_axes,
    .case_budget_s = 1.0,
    .needs_ceilings = true,
};
