/* suite-ceilings.c: the benchmarks that measure this machine's ceilings
 * (streaming read / copy / triad bandwidth, FP32 FMA and int8 dot-product
 * peaks) per thread count, and the `ceilings` suite that runs them.
 *
 * Workload assumptions: bandwidth buffers are far larger than the last
 * level cache (default 8x all L3 together, at least 512 MiB per array), so
 * each call streams from DRAM; buffers are first-touched by the workers
 * that read them (lb_pool_alloc). The peak kernels touch no memory.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../kernels/lb-ceil.h"
#include "lb-suite.h"

/* ---- bandwidth: read, read_plain, copy, triad ---------------------- */

enum bw_kind { BW_READ, BW_COPY, BW_TRIAD };

struct bw_state {
    enum bw_kind kind;
    const struct lb_ceil_ops *ops;
    const char *path;
    size_t n;            /* floats per array */
    size_t bytes;        /* per array (what one call streams per array) */
    size_t copies;       /* cold cache: arrays rotated per call; hot: 1 */
    size_t cur;          /* copy the last call used */
    float *a, *b, *c;    /* copies x n floats each */
    double sums[LB_CEIL_MAX_THREADS];
    float scalar;
};

static void bw_task(void *arg, int ith, int nth)
{
    struct bw_state *s = arg;
    size_t off = s->cur * s->n;
    switch (s->kind) {
    case BW_READ: s->ops->read(s->a + off, s->n, ith, nth, s->sums); break;
    case BW_COPY: s->ops->copy(s->c + off, s->a + off, s->n, ith, nth); break;
    case BW_TRIAD:
        s->ops->triad(s->a + off, s->b + off, s->c + off, s->scalar, s->n, ith, nth);
        break;
    }
}

static void bw_run(void *state, struct lb_pool *pool, uint64_t iter)
{
    struct bw_state *s = state;
    s->cur = (size_t)(iter % s->copies);
    lb_pool_run(pool, bw_task, state);
}

static void bw_teardown(void *state, struct lb_pool *pool)
{
    struct bw_state *s = state;
    if (!s) return;
    if (s->a) lb_pool_free(pool, s->a, s->bytes * s->copies);
    if (s->b) lb_pool_free(pool, s->b, s->bytes * s->copies);
    if (s->c) lb_pool_free(pool, s->c, s->bytes * s->copies);
    free(s);
}

static void fill_task(void *arg, int ith, int nth)
{
    struct bw_state *s = arg;
    for (size_t k = 0; k < s->copies; k++) {
        size_t b, e, off = k * s->n;
        lb_split(s->n, 16, ith, nth, &b, &e);
        for (size_t i = b; i < e; i++) {
            /* small exact binary fractions: sums of millions stay exact
             * enough to validate, and triad outputs are exact */
            if (s->a) s->a[off + i] = (float)(i % 7) * 0.25f;
            if (s->b) s->b[off + i] = 1.0f;
            if (s->c) s->c[off + i] = (float)(i % 5) * 0.5f;
        }
    }
}

static enum lb_status bw_setup(const struct lb_bench_env *env, void **state,
                               struct lb_error *err, enum bw_kind kind,
                               enum lb_isa isa)
{
    const struct lb_ceil_ops *ops = lb_ceil_ops_get(isa, &env->hw->features);
    if (!ops)
        return lb_error_set(err, LB_EUNSUPPORTED, "no %s ceiling kernels in this build",
                            lb_isa_name(isa));
    if (lb_pool_size(env->pool) > LB_CEIL_MAX_THREADS)
        return lb_error_set(err, LB_EUNSUPPORTED, "more than %d threads", LB_CEIL_MAX_THREADS);
    double size = lb_case_num(env->params, "size_bytes", 512.0 * 1024 * 1024);
    struct bw_state *s = calloc(1, sizeof *s);
    if (!s) return lb_error_set(err, LB_ENOMEM, "out of memory");
    s->kind = kind;
    s->ops = ops;
    s->path = lb_isa_name(isa);
    s->n = ((size_t)size / sizeof(float)) / 64 * 64; /* whole cache lines per worker */
    if (s->n < 64) {
        free(s);
        return lb_error_set(err, LB_EUNSUPPORTED, "size %.0f bytes is below 256", size);
    }
    s->bytes = s->n * sizeof(float);
    s->scalar = 3.0f;
    s->copies = 1;
    if (env->cache == LB_CACHE_COLD) {
        /* enough copies that consecutive calls touch 2x the last-level
         * cache between reuses, capped at 1/16 of available memory */
        double want = 2.0 * (double)env->hw->llc_total_bytes;
        double cap = lb_hw_mem_available_bytes() / 16;
        if (cap > 0 && want > cap) want = cap;
        s->copies = (size_t)ceil(want / (double)s->bytes);
        if (s->copies < 1) s->copies = 1;
    }
    size_t alloc = s->bytes * s->copies;
    s->a = lb_pool_alloc(env->pool, alloc);
    if (kind != BW_READ) s->c = lb_pool_alloc(env->pool, alloc);
    if (kind == BW_TRIAD) s->b = lb_pool_alloc(env->pool, alloc);
    if (!s->a || (kind != BW_READ && !s->c) || (kind == BW_TRIAD && !s->b)) {
        bw_teardown(s, env->pool);
        return lb_error_set(err, LB_ENOMEM, "cannot allocate %d x %zu bytes",
                            kind == BW_TRIAD ? 3 : kind == BW_COPY ? 2 : 1, alloc);
    }
    lb_pool_run(env->pool, fill_task, s);
    if (kind == BW_COPY) /* poison the output so a skipped copy is caught */
        memset(s->c, 0xff, alloc);
    *state = s;
    return LB_OK;
}

static enum lb_status bw_validate(void *state, struct lb_pool *pool,
                                  struct lb_error *err)
{
    struct bw_state *s = state;
    const float *a = s->a + s->cur * s->n, *c = s->c ? s->c + s->cur * s->n : NULL;
    switch (s->kind) {
    case BW_READ: {
        double got = 0, want = 0;
        for (int i = 0; i < lb_pool_size(pool); i++) got += s->sums[i];
        /* sum of (i % 7) * 0.25 over n elements */
        size_t full = s->n / 7;
        want = (double)full * (0 + 1 + 2 + 3 + 4 + 5 + 6) * 0.25;
        for (size_t i = full * 7; i < s->n; i++) want += (double)(i % 7) * 0.25;
        /* float accumulators over millions of elements round; 1e-3 is far
         * above that rounding and far below a skipped slice (>= 1/nth) */
        if (fabs(got - want) > 1e-3 * want)
            return lb_error_set(err, LB_EVALIDATE, "read sum %.6g, expected %.6g", got, want);
        break;
    }
    case BW_COPY:
        for (size_t i = 0; i < s->n; i += 4093) /* prime stride: every page, every lane */
            if (memcmp(&c[i], &a[i], sizeof(float)) != 0)
                return lb_error_set(err, LB_EVALIDATE, "copy mismatch at element %zu", i);
        break;
    case BW_TRIAD:
        /* a = b + s*c is re-computed each call from unchanged b, c, so a
         * holds exactly 1 + 3 * (i % 5) * 0.5 */
        for (size_t i = 0; i < s->n; i += 4093) {
            float want = 1.0f + 3.0f * ((float)(i % 5) * 0.5f);
            if (a[i] != want)
                return lb_error_set(err, LB_EVALIDATE, "triad a[%zu] = %g, expected %g", i,
                                    (double)a[i], (double)want);
        }
        break;
    }
    return LB_OK;
}

static double bw_bytes(const void *state)
{
    const struct bw_state *s = state;
    return (double)s->bytes * (s->kind == BW_READ ? 1 : s->kind == BW_COPY ? 2 : 3);
}

static const char *bw_path(const void *state)
{
    return ((const struct bw_state *)state)->path;
}

static enum lb_status read_setup(const struct lb_bench_env *e, void **s, struct lb_error *err)
{
    return bw_setup(e, s, err, BW_READ, e->isa);
}
static enum lb_status read_plain_setup(const struct lb_bench_env *e, void **s, struct lb_error *err)
{
    return bw_setup(e, s, err, BW_READ, LB_ISA_SCALAR);
}
static enum lb_status copy_setup(const struct lb_bench_env *e, void **s, struct lb_error *err)
{
    return bw_setup(e, s, err, BW_COPY, e->isa);
}
static enum lb_status triad_setup(const struct lb_bench_env *e, void **s, struct lb_error *err)
{
    return bw_setup(e, s, err, BW_TRIAD, e->isa);
}

#define BW_BENCH(var, nm, desc, setup_fn, ceil)                               \
    const struct lb_bench var = {                                             \
        .name = nm, .description = desc, .axes = "threads,size_bytes",              \
        .ceiling = ceil, .setup = setup_fn, .run = bw_run,                    \
        .validate = bw_validate, .teardown = bw_teardown, .bytes = bw_bytes,  \
        .path = bw_path,                                                      \
    }

BW_BENCH(lb_bench_read, "read", "streaming read, best ISA path (s += a[i])", read_setup, "read");
BW_BENCH(lb_bench_read_plain, "read_plain",
         "streaming read, plain C loop (the STREAM-style check on 'read')", read_plain_setup, "read");
BW_BENCH(lb_bench_copy, "copy", "c[i] = a[i], bytes counted read + write", copy_setup, NULL);
BW_BENCH(lb_bench_triad, "triad", "a[i] = b[i] + s*c[i], bytes counted 2 reads + 1 write",
         triad_setup, NULL);

/* ---- compute peaks: fma, dot8 -------------------------------------- */

struct peak_state {
    const struct lb_ceil_ops *ops;
    bool dot8;
    uint64_t iters;       /* per worker per call */
    int nth;
    volatile float fsink[LB_CEIL_MAX_THREADS];
    volatile int32_t isink[LB_CEIL_MAX_THREADS];
    char path[32];
};

static void peak_task(void *arg, int ith, int nth)
{
    struct peak_state *s = arg;
    (void)nth;
    if (s->dot8) s->isink[ith] = s->ops->dot8(s->iters);
    else s->fsink[ith] = s->ops->fma(s->iters);
}

static void peak_run(void *state, struct lb_pool *pool, uint64_t iter)
{
    (void)iter;
    lb_pool_run(pool, peak_task, state);
}

static enum lb_status peak_setup(const struct lb_bench_env *env, void **state,
                                 struct lb_error *err, bool dot8)
{
    const struct lb_ceil_ops *ops = lb_ceil_ops_get(env->isa, &env->hw->features);
    if (!ops)
        return lb_error_set(err, LB_EUNSUPPORTED, "no %s ceiling kernels in this build",
                            lb_isa_name(env->isa));
    if (lb_pool_size(env->pool) > LB_CEIL_MAX_THREADS)
        return lb_error_set(err, LB_EUNSUPPORTED, "more than %d threads", LB_CEIL_MAX_THREADS);
    struct peak_state *s = calloc(1, sizeof *s);
    if (!s) return lb_error_set(err, LB_ENOMEM, "out of memory");
    s->ops = ops;
    s->dot8 = dot8;
    s->nth = lb_pool_size(env->pool);
    /* ~1 ms per call at a few hundred GOP/s per core: long next to the
     * pool's dispatch cost, short enough for many samples */
    double per_iter = dot8 ? ops->dot8_ops_per_iter : ops->fma_flops_per_iter;
    s->iters = (uint64_t)(2e8 / per_iter) + 1;
    snprintf(s->path, sizeof s->path, "%s", dot8 ? ops->dot8_path : lb_isa_name(env->isa));
    *state = s;
    return LB_OK;
}

/* The peak kernels return closed forms (kernels/lb-ceil.h), so every
 * worker's result is checked exactly: a kernel that skipped iterations or
 * accumulators, or miscounted its work, fails here. */
static enum lb_status peak_validate(void *state, struct lb_pool *pool,
                                    struct lb_error *err)
{
    struct peak_state *s = state;
    (void)pool;
    if (s->dot8) {
        uint64_t pairs = s->iters * (uint64_t)(s->ops->dot8_ops_per_iter / 2);
        int32_t want = (int32_t)(uint32_t)(pairs * (uint64_t)(int64_t)(LB_CEIL_DOT8_U * LB_CEIL_DOT8_S));
        for (int i = 0; i < s->nth; i++)
            if (s->isink[i] != want)
                return lb_error_set(err, LB_EVALIDATE, "dot8 of worker %d returned %d, expected %d",
                                    i, (int)s->isink[i], (int)want);
        return LB_OK;
    }
    /* fused (SIMD levels) or rounded after the multiply (plain C) */
    float xf = LB_CEIL_FMA_X0, xu = LB_CEIL_FMA_X0;
    for (uint64_t k = 0; k < s->iters; k++) {
        xf = fmaf(xf, LB_CEIL_FMA_A, LB_CEIL_FMA_B);
        volatile float prod = xu * LB_CEIL_FMA_A;
        xu = prod + LB_CEIL_FMA_B;
    }
    double lanes = s->ops->fma_flops_per_iter / 2;
    float want_f = (float)(lanes * (double)xf), want_u = (float)(lanes * (double)xu);
    for (int i = 0; i < s->nth; i++)
        if (s->fsink[i] != want_f && s->fsink[i] != want_u)
            return lb_error_set(err, LB_EVALIDATE, "fma of worker %d returned %.9g, expected %.9g",
                                i, (double)s->fsink[i], (double)want_f);
    return LB_OK;
}

static void peak_teardown(void *state, struct lb_pool *pool)
{
    (void)pool;
    free(state);
}

static double peak_ops(const void *state)
{
    const struct peak_state *s = state;
    double per_iter = s->dot8 ? s->ops->dot8_ops_per_iter : s->ops->fma_flops_per_iter;
    return per_iter * (double)s->iters * s->nth;
}

static const char *peak_path(const void *state)
{
    return ((const struct peak_state *)state)->path;
}

static enum lb_status fma_setup(const struct lb_bench_env *e, void **s, struct lb_error *err)
{
    return peak_setup(e, s, err, false);
}
static enum lb_status dot8_setup(const struct lb_bench_env *e, void **s, struct lb_error *err)
{
    return peak_setup(e, s, err, true);
}

const struct lb_bench lb_bench_fma = {
    .name = "fma", .description = "peak FP32 fused multiply-add, registers only",
    .axes = "threads", .ceiling = NULL, .setup = fma_setup, .run = peak_run,
    .validate = peak_validate, .teardown = peak_teardown, .ops = peak_ops,
    .ops_unit = "FLOP", .path = peak_path,
};
const struct lb_bench lb_bench_dot8 = {
    .name = "dot8", .description = "peak int8 dot product (u8 x s8 -> s32), registers only",
    .axes = "threads", .ceiling = NULL, .setup = dot8_setup, .run = peak_run,
    .validate = peak_validate, .teardown = peak_teardown, .ops = peak_ops,
    .ops_unit = "OP", .path = peak_path,
};

/* ---- the suite ----------------------------------------------------- */

/* Sizes: 8x all last-level cache together, at least 512 MiB, so that
 * under 1/8 of a sweep could hit in cache even with a perfect LLC; but at
 * most 1/16 of the memory available now, so triad's three arrays take
 * under a fifth of it. (Virtual machines may report absurd L3 sizes from
 * their CPUID: 508 MiB per core has been seen.) Rounded down to 64 MiB. */
static double far_above_llc(const struct lb_hw *hw)
{
    const double mib = 1024.0 * 1024;
    double s = 8.0 * (double)hw->llc_total_bytes;
    if (s < 512 * mib) s = 512 * mib;
    double cap = lb_hw_mem_available_bytes() / 16;
    if (cap > 0 && s > cap) s = cap;
    s = floor(s / (64 * mib)) * 64 * mib;
    return s < 64 * mib ? 64 * mib : s;
}

/* ---- the read probe (run --paired-ceiling, lb-harness.h) ---------- */

struct lb_read_probe {
    /* a read case of the far-above-LLC size, hot (one copy), best ISA */
    struct bw_state bw;
    /* the plain C read of the same buffer: the ceiling is the better of
     * the two (lb_ceilings_from_results), and on this VM the plain loop
     * has been the better one while the AVX-512 read dropped to ~25 GB/s
     * for seconds (docs/measurement.md) */
    const struct lb_ceil_ops *plain;
    double last[2];   /* latest GB/s of each kernel */
    unsigned calls;
};

/* Two reads of the buffer, the second timed: a single read right after
 * the case's own calls measured 10-15% below the steady read of the
 * ceilings suite on the dev VM (2026-11-25, 1 GiB GEMVs on 2 threads:
 * one-read probes 42-53 GB/s against a 58-63 GB/s ceiling measured
 * seconds before; back-to-back reads gave 51-56); the warm read removed
 * most of that bias. */
static double probe_once(struct lb_read_probe *p, struct lb_pool *pool, const struct lb_ceil_ops *ops)
{
    const struct lb_ceil_ops *keep = p->bw.ops;
    p->bw.ops = ops;
    bw_run(&p->bw, pool, 0);
    double t0 = lb_now_s();
    bw_run(&p->bw, pool, 0);
    double dt = lb_now_s() - t0;
    p->bw.ops = keep;
    return dt > 0 ? (double)p->bw.bytes / dt * 1e-9 : 0;
}

struct lb_read_probe *lb_read_probe_new(const struct lb_hw *hw, struct lb_pool *pool,
                                        enum lb_isa isa, struct lb_error *err)
{
    char size[32];
    snprintf(size, sizeof size, "%.0f", far_above_llc(hw));
    struct lb_case params = {0};
    lb_case_set(&params, "size_bytes", size);
    const struct lb_bench_env env = {.hw = hw, .pool = pool, .isa = isa, .cache = LB_CACHE_HOT,
                                     .params = &params};
    void *state = NULL;
    if (bw_setup(&env, &state, err, BW_READ, isa) != LB_OK) return NULL;
    struct lb_read_probe *p = calloc(1, sizeof *p);
    if (!p) {
        bw_teardown(state, pool);
        lb_error_set(err, LB_ENOMEM, "out of memory");
        return NULL;
    }
    p->bw = *(struct bw_state *)state;
    free(state); /* the buffers now belong to p->bw */
    p->plain = lb_ceil_ops_get(LB_ISA_SCALAR, NULL);
    return p;
}

/* Alternates the two kernels (both on the first call) and returns the
 * better of their latest readings: the ceiling's definition, at the cost
 * of one read per probe. */
double lb_read_probe_gbs(struct lb_read_probe *p, struct lb_pool *pool)
{
    LB_ASSERT(p && lb_pool_size(pool) <= LB_CEIL_MAX_THREADS);
    const bool both = p->calls == 0 || !p->plain;
    if (both || p->calls % 2 == 0) p->last[0] = probe_once(p, pool, p->bw.ops);
    if (p->plain && (both || p->calls % 2 == 1)) p->last[1] = probe_once(p, pool, p->plain);
    p->calls++;
    return p->last[0] > p->last[1] ? p->last[0] : p->last[1];
}

void lb_read_probe_free(struct lb_read_probe *p, struct lb_pool *pool)
{
    if (!p) return;
    if (p->bw.a) lb_pool_free(pool, p->bw.a, p->bw.bytes * p->bw.copies);
    free(p);
}

void lb_ceilings_measure(const struct lb_hw *hw, struct lb_pool *const *pools,
                         const struct lb_sweep *threads, enum lb_isa isa,
                         const struct lb_measure_config *mc, bool quiet,
                         struct lb_ceilings *out)
{
    /* read (both variants), fma and dot8: what other suites are quoted
     * against; copy and triad only in the ceilings suite itself */
    static const struct lb_bench *const needed[] = {
        &lb_bench_read, &lb_bench_read_plain, &lb_bench_fma, &lb_bench_dot8,
    };
    char size[32];
    snprintf(size, sizeof size, "%.0f", far_above_llc(hw));
    struct lb_result r[LB_ARRAY_LEN(needed)];
    memset(out, 0, sizeof *out);
    for (size_t t = 0; t < threads->n; t++) {
        char tt[32];
        snprintf(tt, sizeof tt, "%.0f", threads->v[t]);
        memset(r, 0, sizeof r);
        for (size_t b = 0; b < LB_ARRAY_LEN(needed); b++) {
            snprintf(r[b].suite, sizeof r[b].suite, "ceilings");
            snprintf(r[b].bench, sizeof r[b].bench, "%s", needed[b]->name);
            lb_case_set(&r[b].params, "threads", tt);
            lb_case_set(&r[b].params, "size_bytes", size);
            struct lb_bench_env env = {
                .hw = hw, .pool = pools[(int)threads->v[t]], .isa = isa,
                .cache = LB_CACHE_HOT, .params = &r[b].params,
            };
            if (!quiet) {
                printf("ceilings: measuring %s on %s threads\r", needed[b]->name, tt);
                fflush(stdout);
            }
            lb_measure_case(needed[b], &env, mc, &r[b]);
        }
        struct lb_ceilings part;
        memset(&part, 0, sizeof part);
        lb_ceilings_from_results(&part, r, LB_ARRAY_LEN(needed));
        for (int i = 0; i < part.n && out->n < LB_CEIL_MAX_THREADS; i++) out->rows[out->n++] = part.rows[i];
        snprintf(out->source, sizeof out->source, "%s", part.source);
        snprintf(out->measured_at, sizeof out->measured_at, "%s", part.measured_at);
        for (size_t b = 0; b < LB_ARRAY_LEN(needed); b++) lb_result_clear(&r[b]);
    }
    if (!quiet) printf("%-60s\r", "");
}

static void ceilings_axes(const struct lb_hw *hw, struct lb_suite_axes *axes)
{
    lb_axes_default_threads(hw, &axes->threads);
    axes->size_bytes.n = 1;
    axes->size_bytes.v[0] = far_above_llc(hw);
}

static const struct lb_bench *const ceilings_benches[] = {
    &lb_bench_read, &lb_bench_read_plain, &lb_bench_copy, &lb_bench_triad,
    &lb_bench_fma, &lb_bench_dot8,
};

const struct lb_suite lb_suite_ceilings = {
    .name = "ceilings",
    .description = "measured ceilings: read/copy/triad GB/s, FP32 FMA and int8 dot peaks per thread count",
    .benches = ceilings_benches,
    .n_benches = LB_ARRAY_LEN(ceilings_benches),
    .default_axes = ceilings_axes,
    .case_budget_s = 2.0,
    .needs_ceilings = false,
};

static const struct lb_bench *const pool_benches[] = {&lb_bench_pool_latency};

static void pool_axes(const struct lb_hw *hw, struct lb_suite_axes *axes)
{
    lb_axes_default_threads(hw, &axes->threads);
    axes->size_bytes.n = 0;
}

const struct lb_suite lb_suite_pool = {
    .name = "pool",
    .description = "thread pool dispatch + barrier latency of an empty parallel region",
    .benches = pool_benches,
    .n_benches = LB_ARRAY_LEN(pool_benches),
    .default_axes = pool_axes,
    .case_budget_s = 1.0,
    .needs_ceilings = false,
};

/* The first-run suite: everything above, on budgets that keep a plain
 * `llmbench run` near a minute on a small machine. Later issues add a
 * short GEMV and decode pass here. */
static const struct lb_bench *const default_benches[] = {
    &lb_bench_read, &lb_bench_read_plain, &lb_bench_copy, &lb_bench_triad,
    &lb_bench_fma, &lb_bench_dot8, &lb_bench_pool_latency,
};

const struct lb_suite lb_suite_default = {
    .name = "default",
    .description = "a one-minute tour: ceilings and pool latency on this machine",
    .benches = default_benches,
    .n_benches = LB_ARRAY_LEN(default_benches),
    .default_axes = ceilings_axes,
    .case_budget_s = 1.5,
    .needs_ceilings = false,
};
