/* suite-attention.c: the `attention` suite: decode attention of one new
 * token over a KV cache (kernels/lb-attn.h), per context length, cache
 * type, head shape, thread count and code path.
 *
 * Workload: one layer's attention for one token reads the whole K and V
 * cache of that layer once (2 x n_head_kv x n_ctx rows), so from a few
 * thousand positions up it is a streaming kernel like GEMV and is quoted
 * against the measured read ceiling. Axes (text, see default_axes):
 *  - ctx: cached positions (--ctx 512,32K,128K; K = 1024);
 *  - kv_type: cache format, f32 | f16 | bf16 | q8_0 (--kv-type);
 *  - heads (--heads): "H/KV/D" = query heads / kv heads / head_dim of a model
 *    (shared/reference/models.md): 32/8/128 Llama-3.1-8B (and Qwen3-8B,
 *    Mixtral), 32/4/128 Qwen3-30B-A3B, 64/8/64 gpt-oss;
 *  - impl: best | ref (the scalar reference, --ref).
 * No window and no sinks: they change which positions are read, not how
 * fast (a window of W reads W positions).
 *
 * One call = one token of one layer: every worker computes the partial of
 * its share of the context for all heads (flash-decoding split), the
 * workers meet at a spinning barrier inside the same pool region, then
 * merge the partials, split over heads. A second pool region would add a
 * dispatch + barrier of the pool (microseconds on a VM, as much as the
 * whole kernel at 512 positions); suite-gemv.c makes the same choice.
 *
 * Cache: K and V each [n_head_kv][n_ctx][row], lb_pool_alloc'ed. That
 * allocator first-touches pages in a byte split, which is not the
 * attention's (per kv head, a range of positions), so the pages are
 * dropped (MADV_DONTNEED) and each worker writes, through lb_attn_append,
 * exactly the positions its partial will read: on a NUMA machine its part
 * of every head lands on its node. Values: uniform in [-1, 1), K rows
 * scaled by a per-position factor so Q8_0 blocks get distinct scales.
 * Cold cache (--cache cold): copies of the whole cache rotated per call,
 * enough that successive calls touch >= 2x all LLCs before a copy is
 * reused, capped at 1/16 of available memory (as bw_setup in
 * suite-ceilings.c); copies are identical, so one reference serves all.
 *
 * Validation: output vs a float64 two-pass softmax over the same
 * (dequantized) cache, within the f32 rounding bound that
 * tests/test-attn.c derives and tests for sharpness:
 *     vmax u (4 lambda sqrt(d + 1) A + 2E + 2 lambda sqrt(2n) + 40),
 * lambda = 8 (see there for A, E).
 */
#define _GNU_SOURCE
#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../kernels/lb-attn.h"
#include "lb-suite.h"

/* Spins of the in-region barrier between yields: far longer than a
 * pinned peer takes to arrive (< 1 us), short enough that an
 * oversubscribed pool (--pin none, more threads than CPUs) still moves. */
/* A case whose cache copies would take more than this share of the
 * memory available is skipped. */
#define MAX_MEM_SHARE 0.25

struct attn_state {
    struct lb_barrier bar;
    struct lb_attn_shape s;
    struct lb_attn_kernel k;
    enum lb_qtype type;
    size_t cache_bytes;   /* one copy of K (or V): n_head_kv x n_ctx rows */
    size_t alloc_bytes;   /* copies x cache_bytes, per K and per V */
    size_t copies;        /* cold cache: copies rotated per call; hot: 1 */
    size_t cur;           /* copy the last call used */
    char *K, *V;
    float *q;             /* [n_head][head_dim] */
    float *out;           /* [n_head][head_dim] */
    void *scratch;        /* nth partials */
    size_t scratch_bytes;
    int nth;
    unsigned long long seed;
    float *fill;          /* setup only: nth x 2 x n_head_kv x head_dim */
};

/* uniform in [-1, 1) */
static float unif_pm1(unsigned long long *st)
{
    *st = lb_mix64(*st);
    return (float)((double)(*st >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

/* ---- run ---------------------------------------------------------------- */

static void attn_task(void *arg, int ith, int nth)
{
    struct attn_state *s = arg;
    const size_t off = s->cur * s->cache_bytes;
    lb_attn_partial(&s->k, &s->s, s->q, s->K + off, s->V + off, s->scratch, ith, nth);
    lb_barrier_wait(&s->bar, nth);
    lb_attn_merge(&s->s, s->scratch, nth, s->out, ith, nth);
}

static void attn_run(void *state, struct lb_pool *pool, uint64_t iter)
{
    struct attn_state *s = state;
    s->cur = (size_t)(iter % s->copies);
    lb_pool_run(pool, attn_task, s);
}

/* ---- setup -------------------------------------------------------------- */

/* Each worker writes the positions its partial reads (lb_attn_split),
 * every kv head, in copy 0 through lb_attn_append, then copies them into
 * the other copies: the first touch of every page it will stream. */
static void fill_task(void *arg, int ith, int nth)
{
    struct attn_state *s = arg;
    const struct lb_attn_shape *sh = &s->s;
    const size_t hd = (size_t)sh->n_head_kv * (size_t)sh->head_dim;
    float *kn = s->fill + (size_t)ith * 2 * hd, *vn = kn + hd;
    size_t b, e;
    lb_attn_split(sh, ith, nth, &b, &e);
    for (size_t p = b; p < e; p++) {
        unsigned long long st = lb_mix64(s->seed ^ (p * 0x2545f4914f6cdd1dull));
        const float km = 0.5f + 0.75f * (unif_pm1(&st) + 1.0f); /* [0.5, 2) */
        for (size_t i = 0; i < hd; i++) {
            kn[i] = km * unif_pm1(&st);
            vn[i] = unif_pm1(&st);
        }
        lb_attn_append(sh, s->type, s->K, s->V, (int)p, kn, vn);
    }
    const size_t row = lb_attn_row_bytes(sh, s->type);
    for (size_t c = 1; c < s->copies; c++)
        for (int g = 0; g < sh->n_head_kv; g++) {
            const size_t off = ((size_t)g * (size_t)sh->n_ctx_max + b) * row;
            memcpy(s->K + c * s->cache_bytes + off, s->K + off, (e - b) * row);
            memcpy(s->V + c * s->cache_bytes + off, s->V + off, (e - b) * row);
        }
}

static void attn_teardown(void *state, struct lb_pool *pool)
{
    struct attn_state *s = state;
    if (!s) return;
    if (s->K) lb_pool_free(pool, s->K, s->alloc_bytes);
    if (s->V) lb_pool_free(pool, s->V, s->alloc_bytes);
    if (s->scratch) lb_pool_free(pool, s->scratch, s->scratch_bytes);
    free(s->q);
    free(s->out);
    free(s->fill);
    free(s);
}

/* "4096", "32K", "128k": positions; false on anything else */
static bool parse_ctx(const char *t, long long *out)
{
    char *end;
    long long v = strtoll(t, &end, 10);
    if (end == t) return false;
    if (*end == 'K' || *end == 'k') v *= 1024, end++;
    if (*end || v < 1 || v > (1ll << 30)) return false;
    *out = v;
    return true;
}

static void *aligned_buf(size_t bytes)
{
    size_t n = (bytes + 63) / 64 * 64;
    return aligned_alloc(64, n ? n : 64);
}

/* lb_pool_alloc, then its pages dropped so fill_task touches them first */
static char *cache_alloc(struct lb_pool *pool, size_t bytes)
{
    char *p = lb_pool_alloc(pool, bytes);
    if (!p) return NULL;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    /* advisory: on failure the pages stay where the byte split put them */
    (void)madvise(p, (bytes + page - 1) / page * page, MADV_DONTNEED);
    return p;
}

static enum lb_status attn_setup(const struct lb_bench_env *env, void **state,
                                 struct lb_error *err)
{
    const char *ctx_t = lb_case_text(env->params, "ctx", "4096");
    const char *type_t = lb_case_text(env->params, "kv_type", "f16");
    const char *heads_t = lb_case_text(env->params, "heads", "32/8/128");
    const char *impl = lb_case_text(env->params, "impl", "best");
    long long n_ctx;
    if (!parse_ctx(ctx_t, &n_ctx))
        return lb_error_set(err, LB_EINVAL, "ctx '%s': expected a positive count, e.g. 4096 or 32K",
                            ctx_t);
    enum lb_qtype t;
    if (!lb_qtype_parse(type_t, &t))
        return lb_error_set(err, LB_EINVAL, "kv_type '%s': expected f32, f16, bf16 or q8_0", type_t);
    int nh = 0, nkv = 0, hd = 0;
    char tail;
    if (sscanf(heads_t, "%d/%d/%d%c", &nh, &nkv, &hd, &tail) != 3 || nh < 1 || nkv < 1 || hd < 1)
        return lb_error_set(err, LB_EINVAL, "heads '%s': expected H/KV/D, e.g. 32/8/128", heads_t);
    enum lb_isa cap;
    if (!strcmp(impl, "best")) cap = env->isa;
    else if (!strcmp(impl, "ref")) cap = LB_ISA_SCALAR;
    else return lb_error_set(err, LB_EINVAL, "impl '%s': expected best or ref", impl);

    struct attn_state *s = calloc(1, sizeof *s);
    if (!s) return lb_error_set(err, LB_ENOMEM, "out of memory");
    s->type = t;
    s->nth = lb_pool_size(env->pool);
    s->seed = 0x5eed0a77ull;
    s->s = (struct lb_attn_shape){
        .n_head = nh, .n_head_kv = nkv, .head_dim = hd, .n_ctx = (int)n_ctx,
        .n_ctx_max = (int)n_ctx, .window = 0, .sinks = NULL,
        .scale = 1.0f / sqrtf((float)hd),
    };
    struct lb_error e2 = {0};
    if (lb_attn_shape_check(&s->s, t, &e2) != LB_OK ||
        lb_attn_kernel_init(&s->k, t, cap, &env->hw->features, &e2) != LB_OK) {
        free(s);
        /* a combination the kernel does not take (q8_0 with head_dim 48,
         * a type without an attention path): a skip with the reason */
        return lb_error_set(err, LB_EUNSUPPORTED, "%s", e2.msg);
    }
    s->cache_bytes = lb_attn_cache_bytes(&s->s, t);
    const double avail = lb_hw_mem_available_bytes();
    if (avail > 0 && 2.0 * (double)s->cache_bytes > avail * MAX_MEM_SHARE) {
        const double need = 2.0 * (double)s->cache_bytes;
        free(s);
        return lb_error_set(err, LB_EUNSUPPORTED,
                            "KV cache of %.2f GiB is over %.0f%% of the %.2f GiB available",
                            need / (1 << 30), 100 * MAX_MEM_SHARE, avail / (1 << 30));
    }
    s->copies = 1;
    if (env->cache == LB_CACHE_COLD) {
        double want = 2.0 * (double)env->hw->llc_total_bytes, cap_b = avail / 16;
        if (cap_b > 0 && want > cap_b) want = cap_b;
        s->copies = (size_t)ceil(want / (2.0 * (double)s->cache_bytes));
        if (cap_b > 0 && (double)s->copies * 2.0 * (double)s->cache_bytes > cap_b)
            s->copies = (size_t)floor(cap_b / (2.0 * (double)s->cache_bytes));
        if (s->copies < 1) s->copies = 1;
    }
    s->alloc_bytes = s->cache_bytes * s->copies;
    s->scratch_bytes = lb_attn_scratch_bytes(&s->s, s->nth);
    const size_t qn = (size_t)nh * (size_t)hd;
    s->K = cache_alloc(env->pool, s->alloc_bytes);
    s->V = cache_alloc(env->pool, s->alloc_bytes);
    s->scratch = lb_pool_alloc(env->pool, s->scratch_bytes);
    s->q = aligned_buf(qn * sizeof(float));
    s->out = aligned_buf(qn * sizeof(float));
    s->fill = malloc((size_t)s->nth * 2 * (size_t)nkv * (size_t)hd * sizeof(float));
    if (!s->K || !s->V || !s->scratch || !s->q || !s->out || !s->fill) {
        const size_t copies = s->copies, bytes = s->cache_bytes;
        attn_teardown(s, env->pool);
        return lb_error_set(err, LB_ENOMEM, "cannot allocate 2 x %zu x %zu bytes of KV cache",
                            copies, bytes);
    }
    lb_pool_run(env->pool, fill_task, s);
    free(s->fill);
    s->fill = NULL;
    unsigned long long st = lb_mix64(s->seed ^ 0x9ull);
    for (size_t i = 0; i < qn; i++) s->q[i] = unif_pm1(&st);
    /* poison: heads the timed calls skip stay NaN and fail validation */
    for (size_t i = 0; i < qn; i++) s->out[i] = NAN;
    *state = s;
    return LB_OK;
}

/* ---- validate, work ----------------------------------------------------- */

static enum lb_status attn_validate(void *state, struct lb_pool *pool, struct lb_error *err)
{
    struct attn_state *s = state;
    (void)pool;
    const struct lb_attn_shape *sh = &s->s;
    const int d = sh->head_dim, G = sh->n_head / sh->n_head_kv, n = sh->n_ctx;
    const struct lb_qtraits *tr = lb_qtraits_get(s->type);
    const size_t row = lb_attn_row_bytes(sh, s->type);
    /* the copy the last call read (all copies are equal) */
    const char *K = s->K + s->cur * s->cache_bytes, *V = s->V + s->cur * s->cache_bytes;
    float *kr = malloc((size_t)d * sizeof *kr), *vr = malloc((size_t)d * sizeof *vr);
    double *logit = malloc((size_t)n * G * sizeof *logit);
    double *acc = malloc((size_t)d * G * sizeof *acc);
    double *M = malloc((size_t)G * sizeof *M), *den = malloc((size_t)G * sizeof *den);
    double *spread = malloc((size_t)G * sizeof *spread);
    enum lb_status st = LB_OK;
    if (!kr || !vr || !logit || !acc || !M || !den || !spread) {
        st = lb_error_set(err, LB_ENOMEM, "out of memory validating");
        goto done;
    }
    double A = 0, E = 0, vmax = 0, worst = 0, worst_tol = 0;
    int worst_h = -1;
    for (int g = 0; g < sh->n_head_kv; g++) {
        const char *kb = K + (size_t)g * sh->n_ctx_max * row;
        const char *vb = V + (size_t)g * sh->n_ctx_max * row;
        /* pass 1: all logits of the group's heads, and their maxima */
        for (int hh = 0; hh < G; hh++) M[hh] = -INFINITY;
        for (int p = 0; p < n; p++) {
            tr->dequantize(kb + (size_t)p * row, kr, d);
            for (int hh = 0; hh < G; hh++) {
                const float *qh = s->q + (size_t)(g * G + hh) * d;
                double dot = 0, absdot = 0;
                for (int j = 0; j < d; j++) {
                    dot += (double)qh[j] * kr[j];
                    absdot += fabs((double)qh[j] * kr[j]);
                }
                const double l = (double)sh->scale * dot;
                logit[(size_t)p * G + hh] = l;
                A = fmax(A, (double)sh->scale * absdot);
                M[hh] = fmax(M[hh], l);
            }
        }
        /* pass 2: weights and the weighted sum of V */
        for (int hh = 0; hh < G; hh++) den[hh] = spread[hh] = 0;
        memset(acc, 0, (size_t)d * G * sizeof *acc);
        for (int p = 0; p < n; p++) {
            tr->dequantize(vb + (size_t)p * row, vr, d);
            for (int hh = 0; hh < G; hh++) {
                const double w = exp(logit[(size_t)p * G + hh] - M[hh]);
                den[hh] += w;
                spread[hh] += w * (M[hh] - logit[(size_t)p * G + hh]);
                for (int j = 0; j < d; j++) acc[(size_t)hh * d + j] += w * vr[j];
            }
            for (int j = 0; j < d; j++) vmax = fmax(vmax, fabs((double)vr[j]));
        }
        for (int hh = 0; hh < G; hh++) {
            E = fmax(E, spread[hh] / den[hh]);
            const float *o = s->out + (size_t)(g * G + hh) * d;
            for (int j = 0; j < d; j++) {
                const double want = acc[(size_t)hh * d + j] / den[hh];
                const double e = isfinite(o[j]) ? fabs((double)o[j] - want) : INFINITY;
                if (!(e <= worst)) worst = e, worst_h = g * G + hh;
            }
        }
    }
    const double lambda = 8.0;
    worst_tol = vmax * ldexp(1.0, -24) *
                (4.0 * lambda * sqrt(d + 1.0) * A + 2.0 * E + 2.0 * lambda * sqrt(2.0 * n) + 40.0);
    if (!(worst <= worst_tol))
        st = lb_error_set(err, LB_EVALIDATE,
                          "attention output of head %d off by %.3g, tolerance %.3g (%s, %s)",
                          worst_h, worst, worst_tol, lb_qtype_name(s->type), s->k.path);
done:
    free(kr), free(vr), free(logit), free(acc), free(M), free(den), free(spread);
    return st;
}

static double attn_bytes(const void *state)
{
    const struct attn_state *s = state;
    const struct lb_attn_shape *sh = &s->s;
    /* the K and V rows attended, plus q in and o out */
    return 2.0 * (double)sh->n_head_kv * sh->n_ctx * (double)lb_attn_row_bytes(sh, s->type) +
           2.0 * sh->n_head * sh->head_dim * sizeof(float);
}

static double attn_ops(const void *state)
{
    const struct attn_state *s = state;
    /* q.k and w * v: 2 multiply-adds per (head, position, element) */
    return 4.0 * s->s.n_head * (double)s->s.n_ctx * s->s.head_dim;
}

static const char *attn_path(const void *state)
{
    return ((const struct attn_state *)state)->k.path;
}

static const struct lb_bench lb_bench_attention = {
    .name = "attention",
    .description = "decode attention of one token over a KV cache (all heads of one layer): "
                   "partials per context share, then merge",
    .axes = "threads,ctx,kv_type,heads,impl",
    .ceiling = "read",
    .setup = attn_setup,
    .run = attn_run,
    .validate = attn_validate,
    .teardown = attn_teardown,
    .bytes = attn_bytes,
    .ops = attn_ops,
    .ops_unit = "FLOP",
    .path = attn_path,
};

/* ---- the suite ------------------------------------------------------ */

/* 512 (in L2/LLC: latency and overheads), 4096 (a few MiB: the LLC on most
 * machines), 32768 (128 MiB of F16 cache for Llama-3.1-8B: DRAM); f16 is
 * llama.cpp's default cache type, q8_0 its usual quantized one. */
static void attention_axes(const struct lb_hw *hw, struct lb_suite_axes *axes)
{
    lb_axes_default_threads(hw, &axes->threads);
    axes->size_bytes.n = 0;
    lb_axes_set_csv(axes, "ctx", "512,4096,32768");
    lb_axes_set_csv(axes, "kv_type", "f16,q8_0");
    lb_axes_set_csv(axes, "heads", "32/8/128,32/4/128,64/8/64");
    lb_axes_set_csv(axes, "impl", "best");
}

/* --kv-type and --heads values (and --ctx, which main.c already parsed as
 * whole numbers) are checked before anything runs: a typo is bad input,
 * not a column of failed cases. A valid but unsupported combination
 * (q8_0 with head_dim 48) is left to setup, which skips it with the
 * reason. */
static enum lb_status attention_check_axes(const struct lb_hw *hw,
                                           const struct lb_suite_axes *axes,
                                           struct lb_error *err)
{
    (void)hw;
    const struct lb_text_list *l = lb_axes_text(axes, "kv_type");
    for (size_t i = 0; l && i < l->n; i++) {
        enum lb_qtype t;
        struct lb_attn_kernel k;
        if (!lb_qtype_parse(l->v[i], &t) || lb_attn_kernel_init(&k, t, LB_ISA_SCALAR, NULL, NULL))
            return lb_error_set(err, LB_EINVAL,
                                "--kv-type '%s': accepted cache types are f32, f16, bf16, q8_0",
                                l->v[i]);
    }
    l = lb_axes_text(axes, "heads");
    for (size_t i = 0; l && i < l->n; i++) {
        int nh = 0, nkv = 0, hd = 0;
        char tail;
        struct lb_error e2 = {0};
        if (sscanf(l->v[i], "%d/%d/%d%c", &nh, &nkv, &hd, &tail) != 3)
            return lb_error_set(err, LB_EINVAL,
                                "--heads '%s': expected HEADS/KV_HEADS/HEAD_DIM, e.g. 32/8/128",
                                l->v[i]);
        const struct lb_attn_shape sh = {.n_head = nh, .n_head_kv = nkv, .head_dim = hd,
                                         .n_ctx = 1, .n_ctx_max = 1, .scale = 1.0f};
        if (lb_attn_shape_check(&sh, LB_QTYPE_F16, &e2) != LB_OK)
            return lb_error_set(err, LB_EINVAL, "--heads '%s': %s", l->v[i], e2.msg);
    }
    l = lb_axes_text(axes, "ctx");
    for (size_t i = 0; l && i < l->n; i++) {
        long long n;
        if (!parse_ctx(l->v[i], &n) || n > (1ll << 30))
            return lb_error_set(err, LB_EINVAL, "--ctx '%s': expected 1 to 1G positions", l->v[i]);
    }
    return LB_OK;
}

static const struct lb_bench *const attention_benches[] = {&lb_bench_attention};

const struct lb_suite lb_suite_attention = {
    .name = "attention",
    .description = "decode attention over a KV cache per context, cache type, heads, threads; vs read ceiling",
    .benches = attention_benches,
    .n_benches = LB_ARRAY_LEN(attention_benches),
    .default_axes = attention_axes,
    .case_budget_s = 1.0,
    .needs_ceilings = true,
    .check_axes = attention_check_axes,
};
