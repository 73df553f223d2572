/* suite-moe.c: the `moe` suite: mixture-of-experts routing and expert
 * FFNs of real models' MoE layers (kernels/lb-moe.h).
 *
 * Benchmarks:
 *  - moe_route: one token's routing: the router GEMV (F32 weights
 *    [n_expert x n_embd], as llama.cpp keeps ffn_gate_inp unquantized)
 *    and the model's gating. Its time is the routing latency per token.
 *  - moe_ffn: one decode token through one MoE layer: x quantized once,
 *    k experts' gate/up/down GEMVs, SwiGLU, weighted sum (+ the shared
 *    expert). bytes = the expert weights read: k x (gate + up + down)
 *    (+ shared), quoted against the read ceiling, so it compares with the
 *    dense `gemv` suite of the same format.
 *  - moe_batch: n_tok tokens (--ntok) through one layer, bucketed per
 *    expert, each expert read once for all its tokens; routing drawn from
 *    a controlled distribution (--dist): uniform, zipf (expert of
 *    popularity rank r drawn with probability ~ r^-1.2) or hot (a fixed
 *    set of 2k experts gets 90% of the picks). bytes = the distinct
 *    experts' weights a batch reads (mean over the routing sequence).
 *
 * Models (axis "model"): a profile name (profiles/models/NAME.json, read
 * with lb_model_profile_load: qwen3-30b-a3b, mixtral-8x7b, gpt-oss-20b,
 * ...), or "deepseek-v3-layer", one DeepSeek-V3 MoE layer from
 * shared/reference/models.md, built in because the profile loader has no
 * DeepSeek architecture. One case holds ONE layer: all n_expert experts
 * (Qwen3-30B-A3B at Q4_K: 128 x 3 x 768 x 2048 weights = 340 MiB;
 * Mixtral: 8 x 3 x 14336 x 4096 = 792 MiB; DeepSeek-V3: 6.3 GiB), so
 * successive tokens pick different experts of a realistic working set. A
 * layer over 1/3 of the memory available at setup is skipped with the
 * sizes in the reason (no scaled-down stand-in: its numbers would not be
 * the model's).
 *
 * Weights: lb_fill_random_weights (valid random blocks at GB/s; the
 * reference quantizers would take minutes per layer), GGUF's expert-major
 * layout (lb-moe.h). Cache: hot = one copy of the layer, experts picked
 * per call from a pre-generated routing sequence (consecutive tokens hit
 * different experts, so only a layer that fits in the LLC is served from
 * it); cold = enough copies that a copy is reused only after >= 2x all
 * LLCs were touched (capped at 1/16 of available memory, as the other
 * suites).
 *
 * One call = one pool region: the dispatch's phases separated by a
 * spinning barrier inside the region (as suite-gemv.c: a second pool
 * region costs a dispatch + futex wake, microseconds on a VM). The plan
 * (bucketing) runs on the calling thread before the region and is timed.
 */
#define _GNU_SOURCE
#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../kernels/lb-fill.h"
#include "../kernels/lb-moe.h"
#include "lb-profile.h"
#include "lb-suite.h"

_Static_assert((int)LB_MODEL_GATING_SOFTMAX_TOPK == (int)LB_MOE_GATING_SOFTMAX &&
                   (int)LB_MODEL_GATING_SIGMOID_GROUP == (int)LB_MOE_GATING_SIGMOID_GROUP &&
                   (int)LB_MODEL_GATING_TOPK_SOFTMAX == (int)LB_MOE_GATING_TOPK_SOFTMAX,
               "profile gating values double as lb_moe_gating");

/* Tokens in moe_ffn's routing sequence: 256 x k picks cycle through all
 * of a 128-expert layer several times before repeating. */
#define FFN_SEQ 256
/* Batches in moe_batch's routing sequence. */
#define BATCH_SEQ 16
/* Distinct x vectors cycled through (their values do not change the
 * work; a few keep the branch predictor honest). */
#define N_X 8
/* A layer may use this fraction of the memory available at setup. */
#define LAYER_MEM_FRACTION (1.0 / 3.0)
/* Largest --ntok: 64 x k assignments per expert bucket pass; bigger
 * batches are prefill, a GEMM problem. */
#define MAX_NTOK 512
/* validation: |out - reference| over the output norm (see moe_ffn_validate) */
#define FFN_REL_TOL 1e-2

/* ---- barrier (as suite-gemv.c's) ------------------------------------- */

/* ---- small helpers ---------------------------------------------------- */

static double unif(uint64_t *s)
{
    *s = lb_mix64(*s);
    return (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

static double normal(uint64_t *s)
{
    double u1 = unif(s), u2 = unif(s);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static void *zalloc64(size_t bytes)
{
    size_t n = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, n ? n : 64);
    if (p) memset(p, 0, n ? n : 64);
    return p;
}

static void fill_normal(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) x[i] = (float)normal(&s);
}

/* Copies for a cold-cache rotation of `bytes`-sized sets (see the file
 * comment); 1 when hot. */
static size_t cold_copies(const struct lb_bench_env *env, double bytes)
{
    if (env->cache != LB_CACHE_COLD || bytes <= 0) return 1;
    const double cap = lb_hw_mem_available_bytes() / 16;
    double want = 2.0 * (double)env->hw->llc_total_bytes;
    if (cap > 0 && want > cap) want = cap;
    size_t c = (size_t)ceil(want / bytes);
    if (cap > 0 && (double)c * bytes > cap) c = (size_t)floor(cap / bytes);
    return c < 1 ? 1 : c;
}

/* ---- models ----------------------------------------------------------- */

struct moe_model {
    char name[LB_MODEL_NAME_MAX];
    struct lb_moe_shape shape;
    struct lb_moe_router router; /* bias: set by the state that owns one */
    bool selection_bias;         /* DeepSeek's e_score_correction_bias */
    bool router_bias;            /* logits + bias (gpt-oss) */
};

static enum lb_status model_get(const char *name, struct moe_model *m, struct lb_error *err)
{
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    if (!strcmp(name, "deepseek-v3-layer")) {
        /* shared/reference/models.md: hidden 7168, 256 routed experts of
         * FFN 2048, 8 used, 1 shared (2048); sigmoid + correction bias,
         * 8 groups, top-4 groups, renormalised, x2.5 */
        m->shape = (struct lb_moe_shape){7168, 2048, 256, 2048};
        m->router = (struct lb_moe_router){LB_MOE_GATING_SIGMOID_GROUP, 256, 8, true, 8, 4, 2.5f, NULL};
        m->selection_bias = true;
        return LB_OK;
    }
    struct lb_model_profile *p = malloc(sizeof *p);
    if (!p) return lb_error_set(err, LB_ENOMEM, "out of memory");
    enum lb_status st = lb_model_profile_load(name, p, err);
    if (st) {
        free(p);
        return st;
    }
    if (!p->moe.present) {
        free(p);
        return lb_error_set(err, LB_EUNSUPPORTED, "model %s is dense (no MoE layer)", name);
    }
    const struct lb_model_moe *e = &p->moe;
    m->shape = (struct lb_moe_shape){p->n_embd, e->n_ff_expert, (int)e->n_expert,
                                     e->n_shared_expert * e->n_ff_shared};
    m->router = (struct lb_moe_router){(enum lb_moe_gating)e->gating, (int)e->n_expert,
                                       (int)e->n_expert_used, e->norm_topk_prob, (int)e->n_group,
                                       (int)e->topk_group,
                                       e->routed_scaling_factor > 0 ? (float)e->routed_scaling_factor : 1.0f,
                                       NULL};
    m->selection_bias = e->gating == LB_MODEL_GATING_SIGMOID_GROUP;
    m->router_bias = e->router_bias;
    free(p);
    return lb_moe_router_check(&m->router, err);
}

/* ---- one layer's weights ------------------------------------------------ */

struct moe_layer {
    struct lb_moe_ffn ffn;
    size_t layer_bytes;          /* one copy: experts + shared */
    size_t copies;
    unsigned char *buf;          /* copies x layer_bytes, lb_pool_alloc */
    struct lb_moe_weights w[1];  /* flexible: [copies] (allocated with the layer) */
};

static void layer_free(struct moe_layer *L, struct lb_pool *pool)
{
    if (!L) return;
    if (L->buf) lb_pool_free(pool, L->buf, L->layer_bytes * L->copies);
    free(L);
}

struct fill_job {
    const struct moe_layer *L;
    uint64_t seed;
};

/* Matrix m of copy c: 0..n_expert-1 gate, then up, then down, then the
 * shared gate, up, down. Workers take matrices round-robin; every copy
 * gets the same bytes (seeds do not depend on c). */
static void fill_task(void *arg, int ith, int nth)
{
    const struct fill_job *j = arg;
    const struct moe_layer *L = j->L;
    const struct lb_moe_ffn *f = &L->ffn;
    const int ne = f->shape.n_expert;
    const int n_mat = 3 * ne + (f->shape.n_ff_shared > 0 ? 3 : 0);
    const int64_t mat_elems = f->shape.n_ff * f->shape.n_embd;
    const int64_t sh_elems = f->shape.n_ff_shared * f->shape.n_embd;
    size_t idx = 0;
    for (size_t c = 0; c < L->copies; c++) {
        const struct lb_moe_weights *w = &L->w[c];
        for (int m = 0; m < n_mat; m++, idx++) {
            if ((int)(idx % (size_t)nth) != ith) continue;
            void *dst;
            int64_t n;
            enum lb_qtype ty;
            if (m < 3 * ne) {
                const int e = m % ne, t = m / ne;
                const void *base = t == 0 ? w->gate : t == 1 ? w->up : w->down;
                dst = (char *)base + (size_t)e * (t == 0   ? f->gate_bytes
                                                  : t == 1 ? f->up_bytes
                                                           : f->down_bytes);
                ty = t == 0 ? f->types.gate : t == 1 ? f->types.up : f->types.down;
                n = mat_elems;
            } else {
                const int t = m - 3 * ne;
                dst = (void *)(t == 0 ? w->sh_gate : t == 1 ? w->sh_up : w->sh_down);
                ty = t == 0 ? f->types.sh_gate : t == 1 ? f->types.sh_up : f->types.sh_down;
                n = sh_elems;
            }
            lb_fill_random_weights(ty, dst, n, lb_mix64(j->seed ^ (uint64_t)m));
        }
    }
}

/* Allocates and fills the layer (cold: its copies). Errors: a format the
 * shapes cannot use is a skip; a layer over the memory budget is a skip. */
static enum lb_status layer_setup(const struct lb_bench_env *env, const struct moe_model *m,
                                  const struct lb_moe_types *t, enum lb_isa cap,
                                  struct moe_layer **out, struct lb_error *err)
{
    *out = NULL;
    struct lb_moe_ffn ffn;
    struct lb_error e2 = {0};
    char tn[48];
    lb_moe_types_name(t, tn, sizeof tn);
    if (lb_moe_ffn_init_types(&ffn, &m->shape, t, cap, &env->hw->features, &e2) != LB_OK)
        return lb_error_set(err, LB_EUNSUPPORTED, "%s at %s: %s", m->name, tn, e2.msg);
    const size_t layer = lb_moe_ffn_layer_bytes(&ffn);
    const size_t copies = cold_copies(env, (double)layer);
    const double avail = lb_hw_mem_available_bytes(), need = (double)layer * (double)copies;
    if (avail > 0 && need > avail * LAYER_MEM_FRACTION)
        return lb_error_set(err, LB_EUNSUPPORTED,
                            "one %s layer at %s is %.2f GiB (x%zu copies), over 1/3 of the %.2f GiB "
                            "available",
                            m->name, tn, (double)layer / (1 << 30), copies,
                            avail / (1 << 30));
    struct moe_layer *L = calloc(1, sizeof *L + copies * sizeof L->w[0]);
    if (!L) return lb_error_set(err, LB_ENOMEM, "out of memory");
    L->ffn = ffn;
    L->layer_bytes = layer;
    L->copies = copies;
    L->buf = lb_pool_alloc(env->pool, layer * copies);
    if (!L->buf) {
        free(L);
        return lb_error_set(err, LB_ENOMEM, "cannot allocate %zu x %zu bytes of expert weights",
                            copies, layer);
    }
    const size_t ne = (size_t)m->shape.n_expert;
    for (size_t c = 0; c < copies; c++) {
        unsigned char *p = L->buf + c * layer;
        struct lb_moe_weights *w = &L->w[c];
        w->gate = p, p += ne * ffn.gate_bytes;
        w->up = p, p += ne * ffn.up_bytes;
        w->down = p, p += ne * ffn.down_bytes;
        if (m->shape.n_ff_shared > 0) {
            w->sh_gate = p, p += ffn.sh_gate_bytes;
            w->sh_up = p, p += ffn.sh_up_bytes;
            w->sh_down = p;
        }
    }
    struct fill_job job = {L, hash_str(m->name) ^ hash_str(tn)};
    lb_pool_run(env->pool, fill_task, &job);
    *out = L;
    return LB_OK;
}

/* ---- dispatch in one pool region ----------------------------------------- */

struct moe_region {
    struct lb_barrier bar;
    struct lb_moe_dispatch *d;
};

static void moe_task(void *arg, int ith, int nth)
{
    struct moe_region *r = arg;
    for (int p = 0; p < LB_MOE_PHASES; p++) {
        lb_moe_dispatch_phase(r->d, p, ith, nth);
        if (p + 1 < LB_MOE_PHASES) lb_barrier_wait(&r->bar, nth);
    }
}

/* The reference for validation: the scalar GEMVs, one worker. */
static void dispatch_serial(struct lb_moe_dispatch *d, const struct lb_moe_weights *w,
                            const struct lb_moe_tokens *t, enum lb_moe_split split)
{
    lb_moe_dispatch_plan(d, w, t, split, 1);
    for (int p = 0; p < LB_MOE_PHASES; p++) lb_moe_dispatch_phase(d, p, 0, 1);
}

static double rel_err(const float *a, const float *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
        den += (double)ref[i] * ref[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

/* The layer's formats: "quant" for every matrix (the pure mix), unless
 * "quant_down" names another one for ffn_down_exps (and the shared
 * down): a K-quant _M file's use_more_bits layers, e.g. q4_k with
 * quant_down q6_k. */
static enum lb_status parse_common(const struct lb_bench_env *env, struct lb_moe_types *t,
                                   enum lb_moe_split *split, struct moe_model *m,
                                   struct lb_error *err)
{
    const char *qname = lb_case_text(env->params, "quant", "q4_k");
    enum lb_qtype q;
    if (t && !lb_qtype_parse(qname, &q))
        return lb_error_set(err, LB_EINVAL, "unknown weight format '%s'", qname);
    if (t) {
        *t = lb_moe_types_uniform(q);
        const char *dname = lb_case_text(env->params, "quant_down", qname);
        if (!lb_qtype_parse(dname, &q))
            return lb_error_set(err, LB_EINVAL, "unknown weight format '%s' for quant_down", dname);
        t->down = t->sh_down = q;
    }
    const char *sname = lb_case_text(env->params, "split", "auto");
    if (split && !lb_moe_split_parse(sname, split))
        return lb_error_set(err, LB_EINVAL, "split '%s': expected auto, rows or experts", sname);
    return model_get(lb_case_text(env->params, "model", "qwen3-30b-a3b"), m, err);
}

/* ---- moe_ffn ---------------------------------------------------------------- */

struct ffn_state {
    struct moe_region region;    /* first: 64-byte aligned state */
    struct moe_model model;
    struct moe_layer *L;
    enum lb_moe_split split;
    int nth;
    float *x;                    /* [N_X][n_embd] */
    int *ids;                    /* [FFN_SEQ][k] */
    float *wts;                  /* [FFN_SEQ][k] */
    float *out;                  /* [n_embd] */
    float *sel_bias;             /* [n_expert] or NULL */
    uint64_t last_iter;
    char path[32];
};

static void ffn_teardown(void *state, struct lb_pool *pool)
{
    struct ffn_state *s = state;
    if (!s) return;
    lb_moe_dispatch_destroy(s->region.d);
    layer_free(s->L, pool);
    free(s->x), free(s->ids), free(s->wts), free(s->out), free(s->sel_bias);
    free(s);
}

/* Routes n random tokens through the model's router (random logits; the
 * selection bias and router bias, when the model has them, random too),
 * the sequence every moe_ffn call walks through. */
static void route_sequence(const struct moe_model *m, float *sel_bias, int n, uint64_t seed,
                           int *ids, float *wts)
{
    struct lb_moe_router r = m->router;
    uint64_t s = seed;
    float logits[LB_MOE_MAX_EXPERTS], lbias[LB_MOE_MAX_EXPERTS];
    if (sel_bias) {
        for (int i = 0; i < r.n_expert; i++) sel_bias[i] = (float)(0.05 * normal(&s));
        r.bias = sel_bias;
    }
    for (int i = 0; i < r.n_expert; i++) lbias[i] = m->router_bias ? (float)(0.5 * normal(&s)) : 0;
    for (int t = 0; t < n; t++) {
        for (int i = 0; i < r.n_expert; i++) logits[i] = (float)normal(&s) + lbias[i];
        lb_moe_route(&r, logits, ids + (size_t)t * (size_t)r.k, wts + (size_t)t * (size_t)r.k);
    }
}

static enum lb_status ffn_setup(const struct lb_bench_env *env, void **state, struct lb_error *err)
{
    struct lb_moe_types t;
    enum lb_moe_split split;
    struct moe_model m;
    enum lb_status st = parse_common(env, &t, &split, &m, err);
    if (st) return st;
    struct ffn_state *s = zalloc64(sizeof *s);
    if (!s) return lb_error_set(err, LB_ENOMEM, "out of memory");
    s->model = m;
    s->split = split;
    s->nth = lb_pool_size(env->pool);
    if ((st = layer_setup(env, &m, &t, env->isa, &s->L, err))) goto fail;
    const int k = m.router.k;
    const size_t n_embd = (size_t)m.shape.n_embd;
    s->x = malloc(sizeof(float) * N_X * n_embd);
    s->ids = malloc(sizeof(int) * FFN_SEQ * (size_t)k);
    s->wts = malloc(sizeof(float) * FFN_SEQ * (size_t)k);
    s->out = malloc(sizeof(float) * n_embd);
    if (m.selection_bias) s->sel_bias = malloc(sizeof(float) * (size_t)m.shape.n_expert);
    if (!s->x || !s->ids || !s->wts || !s->out || (m.selection_bias && !s->sel_bias)) {
        st = lb_error_set(err, LB_ENOMEM, "out of memory");
        goto fail;
    }
    if ((st = lb_moe_dispatch_create(&s->L->ffn, 1, k, &s->region.d, err))) goto fail;
    fill_normal(s->x, N_X * n_embd, 0x5eed);
    route_sequence(&m, s->sel_bias, FFN_SEQ, hash_str(m.name), s->ids, s->wts);
    for (size_t i = 0; i < n_embd; i++) s->out[i] = NAN; /* poison */
    /* resolve AUTO for the report's path (the same for every token:
     * every token has k experts) */
    struct lb_moe_tokens tk = {1, s->x, s->ids, s->wts, s->out};
    lb_moe_dispatch_plan(s->region.d, &s->L->w[0], &tk, split, s->nth);
    snprintf(s->path, sizeof s->path, "%s/%s", s->L->ffn.gate.path,
             lb_moe_split_name(lb_moe_dispatch_split(s->region.d)));
    *state = s;
    return LB_OK;
fail:
    ffn_teardown(s, env->pool);
    return st;
}

static void ffn_run(void *state, struct lb_pool *pool, uint64_t iter)
{
    struct ffn_state *s = state;
    const size_t k = (size_t)s->model.router.k, tok = (size_t)(iter % FFN_SEQ);
    struct lb_moe_tokens tk = {1, s->x + (iter % N_X) * (size_t)s->model.shape.n_embd,
                               s->ids + tok * k, s->wts + tok * k, s->out};
    lb_moe_dispatch_plan(s->region.d, &s->L->w[iter % s->L->copies], &tk, s->split, s->nth);
    lb_pool_run(pool, moe_task, &s->region);
    s->last_iter = iter;
}

/* The last call's token again through the scalar reference GEMVs (same
 * weights, one worker). The two differ by f32 rounding in the dots (the
 * SIMD activation quantizers write the reference's bytes) and by the
 * rare h element that rounds to the other 8-bit step because its f32
 * value differs in the last bit (one step in one element is ~1e-3 of the
 * output norm at these widths): 1e-2 of the norm. A wrong expert, block
 * or slice is O(1). */
static enum lb_status ffn_validate(void *state, struct lb_pool *pool, struct lb_error *err)
{
    struct ffn_state *s = state;
    (void)pool;
    const size_t n_embd = (size_t)s->model.shape.n_embd, k = (size_t)s->model.router.k;
    for (size_t i = 0; i < n_embd; i++)
        if (!isfinite(s->out[i]))
            return lb_error_set(err, LB_EVALIDATE, "out[%zu] = %g: not computed", i, (double)s->out[i]);
    struct lb_moe_ffn ref;
    struct lb_moe_dispatch *d = NULL;
    float *want = malloc(sizeof(float) * n_embd);
    enum lb_status st = lb_moe_ffn_init_types(&ref, &s->model.shape, &s->L->ffn.types,
                                              LB_ISA_SCALAR, NULL, err);
    if (!st && !want) st = lb_error_set(err, LB_ENOMEM, "out of memory validating");
    if (!st) st = lb_moe_dispatch_create(&ref, 1, (int)k, &d, err);
    if (!st) {
        const uint64_t it = s->last_iter;
        const size_t tok = (size_t)(it % FFN_SEQ);
        struct lb_moe_tokens tk = {1, s->x + (it % N_X) * n_embd, s->ids + tok * k, s->wts + tok * k, want};
        dispatch_serial(d, &s->L->w[it % s->L->copies], &tk, LB_MOE_SPLIT_ROWS);
        double e = rel_err(s->out, want, n_embd);
        char tn[48];
        if (!(e <= FFN_REL_TOL))
            st = lb_error_set(err, LB_EVALIDATE,
                              "%s %s: output %.3g of its norm off the scalar reference (tolerance %g)",
                              s->model.name, lb_moe_types_name(&s->L->ffn.types, tn, sizeof tn), e,
                              FFN_REL_TOL);
    }
    lb_moe_dispatch_destroy(d);
    free(want);
    return st;
}

static double ffn_bytes(const void *state)
{
    const struct ffn_state *s = state;
    return (double)s->model.router.k * (double)lb_moe_ffn_expert_bytes(&s->L->ffn) +
           (double)lb_moe_ffn_shared_bytes(&s->L->ffn);
}

static double ffn_ops(const void *state)
{
    const struct ffn_state *s = state;
    const struct lb_moe_shape *sh = &s->model.shape;
    /* 3 matrices per expert, a multiply and an add per weight */
    return 2.0 * 3.0 * (double)sh->n_embd * ((double)s->model.router.k * (double)sh->n_ff + (double)sh->n_ff_shared);
}

static const char *ffn_path(const void *state)
{
    return ((const struct ffn_state *)state)->path;
}

/* ---- moe_batch -------------------------------------------------------------- */

enum route_dist { DIST_UNIFORM, DIST_ZIPF, DIST_HOT };

/* Zipf exponent of the "zipf" distribution: measured expert popularity in
 * MoE models falls off roughly as a power law; 1.2 puts ~30% of the picks
 * on the top 5% of 128 experts. */
#define ZIPF_S 1.2
/* "hot": 2k experts take this share of the picks. */
#define HOT_SHARE 0.9

struct batch_state {
    struct moe_region region;
    struct moe_model model;
    struct moe_layer *L;
    enum lb_moe_split split;
    int nth, n_tok;
    float *x;                    /* [n_tok][n_embd] */
    int *ids;                    /* [BATCH_SEQ][n_tok][k] */
    float *wts;                  /* [BATCH_SEQ][n_tok][k] */
    float *out;                  /* [n_tok][n_embd] */
    double distinct_bytes;       /* mean over the sequence of the distinct experts' bytes */
    double load_balance;         /* mean of max tokens per expert / mean tokens per expert */
    double active_experts;       /* mean distinct experts per batch */
    uint64_t last_iter;
    char path[32];
};

static void batch_teardown(void *state, struct lb_pool *pool)
{
    struct batch_state *s = state;
    if (!s) return;
    lb_moe_dispatch_destroy(s->region.d);
    layer_free(s->L, pool);
    free(s->x), free(s->ids), free(s->wts), free(s->out);
    free(s);
}

/* One token's k distinct experts drawn from the distribution. perm: a
 * random permutation of the experts (popularity rank -> expert); cdf: the
 * zipf CDF over ranks. */
static void draw_token(enum route_dist dist, int n_expert, int k, const int *perm,
                       const double *cdf, uint64_t *rs, int *ids)
{
    for (int j = 0; j < k; j++) {
        int e;
        bool dup;
        do {
            double u = unif(rs);
            if (dist == DIST_UNIFORM) {
                e = (int)(u * n_expert);
            } else if (dist == DIST_ZIPF) {
                int lo = 0, hi = n_expert - 1; /* first rank with cdf > u */
                while (lo < hi) {
                    int mid = (lo + hi) / 2;
                    if (cdf[mid] > u) hi = mid;
                    else lo = mid + 1;
                }
                e = perm[lo];
            } else {
                const int n_hot = 2 * k < n_expert ? 2 * k : n_expert;
                double v = unif(rs);
                e = u < HOT_SHARE || n_hot == n_expert ? perm[(int)(v * n_hot)]
                                                       : perm[n_hot + (int)(v * (n_expert - n_hot))];
            }
            if (e >= n_expert) e = n_expert - 1;
            dup = false;
            for (int i = 0; i < j; i++) dup |= ids[i] == e;
        } while (dup);
        ids[j] = e;
    }
}

static enum lb_status batch_setup(const struct lb_bench_env *env, void **state, struct lb_error *err)
{
    struct lb_moe_types t;
    enum lb_moe_split split;
    struct moe_model m;
    enum lb_status st = parse_common(env, &t, &split, &m, err);
    if (st) return st;
    const char *dname = lb_case_text(env->params, "dist", "uniform");
    enum route_dist dist;
    if (!strcmp(dname, "uniform")) dist = DIST_UNIFORM;
    else if (!strcmp(dname, "zipf")) dist = DIST_ZIPF;
    else if (!strcmp(dname, "hot")) dist = DIST_HOT;
    else return lb_error_set(err, LB_EINVAL, "dist '%s': expected uniform, zipf or hot", dname);
    const double ntok = lb_case_num(env->params, "ntok", 16);
    if (!(ntok >= 1 && ntok <= MAX_NTOK) || ntok != floor(ntok))
        return lb_error_set(err, LB_EINVAL, "ntok %g: expected a whole number in 1..%d", ntok, MAX_NTOK);

    struct batch_state *s = zalloc64(sizeof *s);
    if (!s) return lb_error_set(err, LB_ENOMEM, "out of memory");
    s->model = m;
    s->split = split;
    s->nth = lb_pool_size(env->pool);
    s->n_tok = (int)ntok;
    if ((st = layer_setup(env, &m, &t, env->isa, &s->L, err))) goto fail;
    const int k = m.router.k, ne = m.shape.n_expert, nt = s->n_tok;
    const size_t n_embd = (size_t)m.shape.n_embd, per_batch = (size_t)nt * (size_t)k;
    s->x = malloc(sizeof(float) * (size_t)nt * n_embd);
    s->ids = malloc(sizeof(int) * BATCH_SEQ * per_batch);
    s->wts = malloc(sizeof(float) * BATCH_SEQ * per_batch);
    s->out = malloc(sizeof(float) * (size_t)nt * n_embd);
    if (!s->x || !s->ids || !s->wts || !s->out) {
        st = lb_error_set(err, LB_ENOMEM, "out of memory");
        goto fail;
    }
    if ((st = lb_moe_dispatch_create(&s->L->ffn, nt, k, &s->region.d, err))) goto fail;
    fill_normal(s->x, (size_t)nt * n_embd, 0x5eed);
    for (size_t i = 0; i < (size_t)nt * n_embd; i++) s->out[i] = NAN;

    /* the routing sequence, deterministic per (model, dist, ntok) */
    uint64_t rs = hash_str(m.name) ^ lb_mix64((uint64_t)dist * 1000 + (uint64_t)nt);
    int perm[LB_MOE_MAX_EXPERTS];
    double cdf[LB_MOE_MAX_EXPERTS], z = 0;
    for (int i = 0; i < ne; i++) perm[i] = i;
    for (int i = ne - 1; i > 0; i--) { /* Fisher-Yates */
        int j = (int)(unif(&rs) * (i + 1));
        int tmp = perm[i];
        perm[i] = perm[j], perm[j] = tmp;
    }
    for (int i = 0; i < ne; i++) cdf[i] = (z += pow(i + 1.0, -ZIPF_S));
    for (int i = 0; i < ne; i++) cdf[i] /= z;
    double bytes_sum = 0, lb_sum = 0, act_sum = 0;
    const double eb = (double)lb_moe_ffn_expert_bytes(&s->L->ffn);
    for (int b = 0; b < BATCH_SEQ; b++) {
        int count[LB_MOE_MAX_EXPERTS] = {0};
        for (int tt = 0; tt < nt; tt++) {
            int *ids = s->ids + (size_t)b * per_batch + (size_t)tt * (size_t)k;
            float *w = s->wts + (size_t)b * per_batch + (size_t)tt * (size_t)k;
            draw_token(dist, ne, k, perm, cdf, &rs, ids);
            double sum = 0;
            for (int j = 0; j < k; j++) sum += (w[j] = (float)(0.5 + unif(&rs)));
            for (int j = 0; j < k; j++) {
                w[j] = (float)(w[j] / sum * m.router.scaling);
                count[ids[j]]++;
            }
        }
        int distinct = 0, mx = 0;
        for (int e = 0; e < ne; e++) {
            distinct += count[e] > 0;
            if (count[e] > mx) mx = count[e];
        }
        act_sum += distinct;
        bytes_sum += distinct * eb;
        lb_sum += mx / ((double)per_batch / ne);
    }
    s->distinct_bytes = bytes_sum / BATCH_SEQ + (double)lb_moe_ffn_shared_bytes(&s->L->ffn);
    s->load_balance = lb_sum / BATCH_SEQ;
    s->active_experts = act_sum / BATCH_SEQ;
    struct lb_moe_tokens tk = {nt, s->x, s->ids, s->wts, s->out};
    lb_moe_dispatch_plan(s->region.d, &s->L->w[0], &tk, split, s->nth);
    snprintf(s->path, sizeof s->path, "%s/%s", s->L->ffn.gate.path,
             lb_moe_split_name(lb_moe_dispatch_split(s->region.d)));
    *state = s;
    return LB_OK;
fail:
    batch_teardown(s, env->pool);
    return st;
}

static void batch_run(void *state, struct lb_pool *pool, uint64_t iter)
{
    struct batch_state *s = state;
    const size_t per_batch = (size_t)s->n_tok * (size_t)s->model.router.k, b = (size_t)(iter % BATCH_SEQ);
    struct lb_moe_tokens tk = {s->n_tok, s->x, s->ids + b * per_batch, s->wts + b * per_batch, s->out};
    lb_moe_dispatch_plan(s->region.d, &s->L->w[iter % s->L->copies], &tk, s->split, s->nth);
    lb_pool_run(pool, moe_task, &s->region);
    s->last_iter = iter;
}

/* The last batch again, one token per call, same GEMVs, one worker: the
 * result contract of lb-moe.h makes the two equal bit for bit (same dots,
 * same summation order), so any difference is a dispatch bug. */
static enum lb_status batch_validate(void *state, struct lb_pool *pool, struct lb_error *err)
{
    struct batch_state *s = state;
    (void)pool;
    const size_t n_embd = (size_t)s->model.shape.n_embd, k = (size_t)s->model.router.k;
    const uint64_t it = s->last_iter;
    const size_t b = (size_t)(it % BATCH_SEQ), per_batch = (size_t)s->n_tok * k;
    struct lb_moe_dispatch *d = NULL;
    float *want = malloc(sizeof(float) * n_embd);
    enum lb_status st = want ? lb_moe_dispatch_create(&s->L->ffn, 1, (int)k, &d, err)
                             : lb_error_set(err, LB_ENOMEM, "out of memory validating");
    for (int tt = 0; !st && tt < s->n_tok; tt++) {
        struct lb_moe_tokens tk = {1, s->x + (size_t)tt * n_embd,
                                   s->ids + b * per_batch + (size_t)tt * k,
                                   s->wts + b * per_batch + (size_t)tt * k, want};
        dispatch_serial(d, &s->L->w[it % s->L->copies], &tk, LB_MOE_SPLIT_ROWS);
        if (memcmp(want, s->out + (size_t)tt * n_embd, sizeof(float) * n_embd) != 0) {
            size_t i = 0;
            while (i < n_embd && !memcmp(&want[i], &s->out[(size_t)tt * n_embd + i], sizeof(float))) i++;
            st = lb_error_set(err, LB_EVALIDATE,
                              "batched out[%d][%zu] = %.9g, single-token dispatch %.9g (must be equal)",
                              tt, i, (double)s->out[(size_t)tt * n_embd + i], (double)want[i]);
        }
    }
    lb_moe_dispatch_destroy(d);
    free(want);
    return st;
}

static double batch_bytes(const void *state)
{
    return ((const struct batch_state *)state)->distinct_bytes;
}

static double batch_ops(const void *state)
{
    const struct batch_state *s = state;
    const struct lb_moe_shape *sh = &s->model.shape;
    return 2.0 * 3.0 * (double)sh->n_embd * (double)s->n_tok *
           ((double)s->model.router.k * (double)sh->n_ff + (double)sh->n_ff_shared);
}

static const char *batch_path(const void *state)
{
    return ((const struct batch_state *)state)->path;
}

/* Load balance and active experts of the routing sequence, for the
 * report (struct lb_bench.metrics). */
static void batch_metrics(const void *state, struct lb_result *r)
{
    const struct batch_state *s = state;
    lb_result_add_metric(r, "load_balance", s->load_balance, "max/mean");
    lb_result_add_metric(r, "active_experts", s->active_experts, "experts");
}

/* ---- moe_route -------------------------------------------------------------- */

struct route_state {
    struct moe_model model;
    struct lb_gemv g;            /* router: F32 [n_expert x n_embd] */
    size_t w_bytes, copies;
    unsigned char *w;            /* copies x w_bytes */
    float *x;                    /* [N_X][n_embd] */
    float *logits;               /* [n_expert] */
    float *logit_bias;           /* [n_expert] or NULL (gpt-oss router bias) */
    float *sel_bias;             /* [n_expert] or NULL (DeepSeek) */
    int ids[LB_MOE_MAX_K];
    float wts[LB_MOE_MAX_K];
    uint64_t cur;                /* iteration of the last call */
};

static void route_task(void *arg, int ith, int nth)
{
    struct route_state *s = arg;
    const size_t copy = (size_t)(s->cur % s->copies);
    lb_gemv_rows(&s->g, s->w + copy * s->w_bytes,
                 s->x + (size_t)(s->cur % N_X) * (size_t)s->model.shape.n_embd, s->logits, ith, nth);
}

static void route_teardown(void *state, struct lb_pool *pool)
{
    struct route_state *s = state;
    if (!s) return;
    if (s->w) lb_pool_free(pool, s->w, s->w_bytes * s->copies);
    free(s->x), free(s->logits), free(s->logit_bias), free(s->sel_bias);
    free(s);
}

static enum lb_status route_setup(const struct lb_bench_env *env, void **state, struct lb_error *err)
{
    struct moe_model m;
    enum lb_status st = parse_common(env, NULL, NULL, &m, err);
    if (st) return st;
    struct route_state *s = calloc(1, sizeof *s);
    if (!s) return lb_error_set(err, LB_ENOMEM, "out of memory");
    s->model = m;
    const int ne = m.shape.n_expert;
    const size_t n_embd = (size_t)m.shape.n_embd;
    if ((st = lb_gemv_init(&s->g, LB_QTYPE_F32, ne, m.shape.n_embd, env->isa, &env->hw->features, err)))
        goto fail;
    s->w_bytes = (size_t)ne * s->g.row_bytes;
    s->copies = cold_copies(env, (double)s->w_bytes);
    s->w = lb_pool_alloc(env->pool, s->w_bytes * s->copies);
    s->x = malloc(sizeof(float) * N_X * n_embd);
    s->logits = malloc(sizeof(float) * (size_t)ne);
    if (m.router_bias) s->logit_bias = malloc(sizeof(float) * (size_t)ne);
    if (m.selection_bias) s->sel_bias = malloc(sizeof(float) * (size_t)ne);
    if (!s->w || !s->x || !s->logits || (m.router_bias && !s->logit_bias) ||
        (m.selection_bias && !s->sel_bias)) {
        st = lb_error_set(err, LB_ENOMEM, "out of memory for %zu router copies", s->copies);
        goto fail;
    }
    for (size_t c = 0; c < s->copies; c++)
        lb_fill_random_weights(LB_QTYPE_F32, s->w + c * s->w_bytes, (int64_t)ne * m.shape.n_embd,
                               hash_str(m.name));
    fill_normal(s->x, N_X * n_embd, 0x5eed);
    uint64_t rs = 0xb1a5;
    for (int i = 0; i < ne; i++) {
        if (s->logit_bias) s->logit_bias[i] = (float)(0.5 * normal(&rs));
        if (s->sel_bias) s->sel_bias[i] = (float)(0.05 * normal(&rs));
    }
    s->model.router.bias = s->sel_bias;
    for (int i = 0; i < ne; i++) s->logits[i] = NAN;
    *state = s;
    return LB_OK;
fail:
    route_teardown(s, env->pool);
    return st;
}

static void route_run(void *state, struct lb_pool *pool, uint64_t iter)
{
    struct route_state *s = state;
    s->cur = iter;
    lb_pool_run(pool, route_task, s);
    if (s->logit_bias)
        for (int i = 0; i < s->model.shape.n_expert; i++) s->logits[i] += s->logit_bias[i];
    lb_moe_route(&s->model.router, s->logits, s->ids, s->wts);
}

static enum lb_status route_validate(void *state, struct lb_pool *pool, struct lb_error *err)
{
    struct route_state *s = state;
    (void)pool;
    const int ne = s->model.shape.n_expert, k = s->model.router.k;
    const int64_t n_embd = s->model.shape.n_embd;
    const float *x = s->x + (size_t)(s->cur % N_X) * (size_t)n_embd;
    const unsigned char *w = s->w + (size_t)(s->cur % s->copies) * s->w_bytes;
    /* logits against the scalar dot; 1e-5 x sum |w x| as suite-gemv.c */
    for (int r = 0; r < ne; r++) {
        const float *row = (const float *)(w + (size_t)r * s->g.row_bytes);
        double want = lb_vec_dot_f32_f32_ref(n_embd, row, x), mag = 0;
        for (int64_t i = 0; i < n_embd; i++) mag += fabs((double)row[i] * x[i]);
        if (s->logit_bias) want += s->logit_bias[r];
        if (!(fabs(s->logits[r] - want) <= 1e-5 * mag + 1e-6))
            return lb_error_set(err, LB_EVALIDATE, "logit %d = %.9g, reference %.9g", r,
                                (double)s->logits[r], want);
    }
    /* the route: distinct in-range experts, finite positive weights,
     * summing to the scaling when normalised */
    double sum = 0;
    for (int j = 0; j < k; j++) {
        if (s->ids[j] < 0 || s->ids[j] >= ne || !(s->wts[j] > 0) || !isfinite(s->wts[j]))
            return lb_error_set(err, LB_EVALIDATE, "route slot %d: expert %d weight %g", j, s->ids[j],
                                (double)s->wts[j]);
        for (int i = 0; i < j; i++)
            if (s->ids[i] == s->ids[j])
                return lb_error_set(err, LB_EVALIDATE, "expert %d picked twice", s->ids[j]);
        sum += s->wts[j];
    }
    const bool norm = s->model.router.norm_topk || s->model.router.kind == LB_MOE_GATING_TOPK_SOFTMAX;
    if (norm && fabs(sum - s->model.router.scaling) > 1e-5 * s->model.router.scaling)
        return lb_error_set(err, LB_EVALIDATE, "weights sum to %.9g, expected %g", sum,
                            (double)s->model.router.scaling);
    return LB_OK;
}

static double route_bytes(const void *state)
{
    return (double)((const struct route_state *)state)->w_bytes;
}

static const char *route_path(const void *state)
{
    return ((const struct route_state *)state)->g.path;
}

/* ---- the suite ---------------------------------------------------------------- */

static const struct lb_bench lb_bench_moe_route = {
    .name = "moe_route",
    .description = "routing latency of one token: router GEMV (F32) + the model's gating (top-k)",
    .axes = "threads,model",
    .setup = route_setup,
    .run = route_run,
    .validate = route_validate,
    .teardown = route_teardown,
    .bytes = route_bytes,
    .path = route_path,
};

static const struct lb_bench lb_bench_moe_ffn = {
    .name = "moe_ffn",
    .description = "one decode token through one MoE layer: k experts' gate/up/down (+ shared); "
                   "bytes = expert weights read",
    .axes = "threads,model,quant,quant_down,split",
    .ceiling = "read",
    .setup = ffn_setup,
    .run = ffn_run,
    .validate = ffn_validate,
    .teardown = ffn_teardown,
    .bytes = ffn_bytes,
    .ops = ffn_ops,
    .ops_unit = "OP",
    .path = ffn_path,
};

static const struct lb_bench lb_bench_moe_batch = {
    .name = "moe_batch",
    .description = "ntok tokens through one MoE layer, bucketed per expert, routing drawn from dist; "
                   "bytes = distinct experts' weights",
    .axes = "threads,model,quant,quant_down,dist,ntok,split",
    .ceiling = "read",
    .setup = batch_setup,
    .run = batch_run,
    .validate = batch_validate,
    .teardown = batch_teardown,
    .bytes = batch_bytes,
    .ops = batch_ops,
    .ops_unit = "OP",
    .path = batch_path,
    .metrics = batch_metrics,
};

/* Defaults: four MoE layer shapes of different character (many small
 * experts; few huge ones; mid-size with a K-quant-incompatible width;
 * 256 experts + shared expert + group routing), Q4_K (the llama.cpp
 * default family; gpt-oss's 2880 is skipped) and MXFP4 (gpt-oss's own
 * format), a small decode batch and a prefill-sized chunk. */
static void moe_axes(const struct lb_hw *hw, struct lb_suite_axes *axes)
{
    lb_axes_default_threads(hw, &axes->threads);
    axes->size_bytes.n = 0;
    lb_axes_set_csv(axes, "model", "qwen3-30b-a3b,gpt-oss-20b,mixtral-8x7b,deepseek-v3-layer");
    lb_axes_set_csv(axes, "quant", "q4_k,mxfp4");
    lb_axes_set_csv(axes, "dist", "uniform,zipf,hot");
    lb_axes_set_csv(axes, "ntok", "8,64");
    /* "split" (auto | rows | experts) is read when given; without it
     * cases run with auto. "quant_down" likewise: without it the down
     * matrices are in "quant" too. */
}

/* Model names, distributions, batch sizes and splits before anything is
 * measured, so a typo fails the run at once instead of every case. */
static enum lb_status moe_check_axes(const struct lb_hw *hw, const struct lb_suite_axes *axes,
                                     struct lb_error *err)
{
    (void)hw;
    const struct lb_text_list *l;
    if ((l = lb_axes_text(axes, "model")))
        for (size_t i = 0; i < l->n; i++) {
            struct moe_model m;
            struct lb_error e2 = {0};
            if (model_get(l->v[i], &m, &e2) != LB_OK)
                return lb_error_set(err, LB_EINVAL, "--model %s: %s (MoE models: the MoE profiles in "
                                    "profiles/models, or deepseek-v3-layer)", l->v[i], e2.msg);
        }
    if ((l = lb_axes_text(axes, "dist")))
        for (size_t i = 0; i < l->n; i++)
            if (strcmp(l->v[i], "uniform") && strcmp(l->v[i], "zipf") && strcmp(l->v[i], "hot"))
                return lb_error_set(err, LB_EINVAL, "--dist %s: expected uniform, zipf or hot", l->v[i]);
    if ((l = lb_axes_text(axes, "ntok")))
        for (size_t i = 0; i < l->n; i++) {
            char *end;
            long v = strtol(l->v[i], &end, 10);
            if (*end || v < 1 || v > MAX_NTOK)
                return lb_error_set(err, LB_EINVAL, "--ntok %s: expected 1..%d tokens", l->v[i], MAX_NTOK);
        }
    if ((l = lb_axes_text(axes, "quant_down")))
        for (size_t i = 0; i < l->n; i++) {
            enum lb_qtype q;
            if (!lb_qtype_parse(l->v[i], &q) || q == LB_QTYPE_Q8_1 || q == LB_QTYPE_Q8_K)
                return lb_error_set(err, LB_EINVAL, "--quant-down %s: expected a weight format "
                                    "(as --quant)", l->v[i]);
        }
    if ((l = lb_axes_text(axes, "split")))
        for (size_t i = 0; i < l->n; i++) {
            enum lb_moe_split sp;
            if (!lb_moe_split_parse(l->v[i], &sp))
                return lb_error_set(err, LB_EINVAL, "--split %s: expected auto, rows or experts", l->v[i]);
        }
    return LB_OK;
}

static const struct lb_bench *const moe_benches[] = {
    &lb_bench_moe_route, &lb_bench_moe_ffn, &lb_bench_moe_batch,
};

const struct lb_suite lb_suite_moe = {
    .name = "moe",
    .description = "MoE routing latency, one-token expert FFN and batched expert dispatch per model layer; vs read ceiling",
    .benches = moe_benches,
    .n_benches = LB_ARRAY_LEN(moe_benches),
    .default_axes = moe_axes,
    .case_budget_s = 1.0,
    .needs_ceilings = true,
    .check_axes = moe_check_axes,
};
