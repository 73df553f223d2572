/* engine.c: the decode engine (bench/lb-engine.h), a transformer forward
 * pass for llama (incl. Mixtral), qwen2, qwen3 and qwen3moe on the same
 * kernels the micro-benchmarks measure (GEMV, attention, MoE dispatch) and
 * the small ops of kernels/lb-ops.h.
 *
 * Organisation (docs/engine.md has the picture): one pool region per
 * chunk of up to LB_GEMV_MAX_BATCH tokens, i.e. ONE region per decoded
 * token. Inside it the workers walk the layers in lock step, phases
 * separated by lb_barrier_wait (a spinning in-region barrier, ~0.1-1 us)
 * instead of pool dispatches (a futex wake, microseconds on a VM). Per
 * dense layer:
 *   1 attn RMSNorm (each worker the full vector, privately) + its slice
 *     of x quantized for Q/K/V                                      | B
 *   2 Q, K, V GEMV rows (+ qwen2 biases on the worker's rows)       | B
 *   3 per head: QK-norm (qwen3), RoPE; per kv head: KV append       | B
 *   4 attention partials (flash-decoding split of the context)      | B
 *   5 merge (each worker all heads, privately) + its slice of the
 *     output quantized for Wo                                       | B
 *   6 Wo rows, residual add on the same rows                        | B
 *   7 ffn RMSNorm + slice quantized for gate/up                     | B
 *   8 gate/up rows in whole blocks of down's activation format,
 *     SwiGLU and quantization of those h elements                   | B
 *   9 down rows, residual add on the same rows                      | B
 * MoE layers replace 8-9 by: router rows | B, routing + dispatch plan on
 * worker 0 | B, the dispatch's LB_MOE_PHASES phases | B each, residual
 * add | B. Every weight byte is read once per chunk. Work that every
 * worker repeats (the norms, the merge) is O(n_embd) and saves a barrier
 * each: a worker can then quantize its slice without waiting for others.
 *
 * Nothing is allocated per token: activations, act buffers per activation
 * format, per-worker private vectors, attention scratch per chunk token,
 * MoE dispatches and the KV cache are allocated at create time; every
 * struct lb_gemv is initialised there too.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/lb-attn.h"
#include "../kernels/lb-gemv.h"
#include "../kernels/lb-moe.h"
#include "../kernels/lb-ops.h"
#include "lb-engine.h"
#include "lb-harness.h"

_Static_assert((int)LB_ROPE_NORM == (int)LB_MODEL_ROPE_NORM &&
                   (int)LB_ROPE_NEOX == (int)LB_MODEL_ROPE_NEOX,
               "rope modes of lb-ops.h and lb-profile.h agree");

#define MAXB LB_GEMV_MAX_BATCH
/* Activation formats a GEMV can want (vec_dot_type of lb-quant.h): each
 * gets its own act buffer, so Q/K/V of different formats (a mixed GGUF)
 * each find x in theirs. */
enum { SLOT_F32, SLOT_Q8_0, SLOT_Q8_1, SLOT_Q8_K, N_SLOTS };
/* Distinct expert format triples (gate, up, down) among the MoE layers
 * (one lb_moe_ffn and one dispatch each, shared by the layers of that
 * triple). A K-quant _M mix has two (down in Q6_K on the use_more_bits
 * layers, in the base K-quant elsewhere), plus fallbacks for widths that
 * are not a multiple of 256; 8 leaves room. */
#define MAX_MOE_KINDS 8

static int slot_of(enum lb_qtype atype)
{
    switch (atype) {
    case LB_QTYPE_F32: return SLOT_F32;
    case LB_QTYPE_Q8_0: return SLOT_Q8_0;
    case LB_QTYPE_Q8_1: return SLOT_Q8_1;
    case LB_QTYPE_Q8_K: return SLOT_Q8_K;
    default: break;
    }
    LB_ASSERT(!"activation format without an act slot");
    return 0;
}

struct eng_mat {
    struct lb_gemv g;
    const void *w;
};

struct eng_layer {
    const float *attn_norm, *ffn_norm, *q_norm, *k_norm; /* q/k_norm NULL unless qwen3 */
    const float *bq, *bk, *bv;                           /* NULL unless qwen2 */
    struct eng_mat wq, wk, wv, wo;
    bool moe;
    struct eng_mat gate, up, down; /* dense */
    struct eng_mat router;         /* MoE */
    int moe_kind;                  /* index into engine->moe */
    struct lb_moe_weights mw;
    int window;                    /* sliding window, 0 = full attention */
    void *K, *V;                   /* this layer's cache */
};

struct eng_moe {
    struct lb_moe_ffn ffn;
    struct lb_moe_dispatch *d;
};

struct lb_engine {
    const struct lb_model *m;
    struct lb_pool *pool;
    struct lb_engine_config cfg;
    int nth, pos;
    int n_layer, n_embd, n_head, n_head_kv, hd, n_q, n_kv, n_ff_max, n_expert, k_used;
    int64_t vocab;
    float eps;
    enum lb_rope_mode rope_mode;
    double rope_base, freq_scale;
    struct eng_layer *layers;
    struct eng_mat out;
    const float *out_norm;
    struct lb_attn_kernel attn;
    struct lb_attn_shape shape;  /* n_ctx and window set per token */
    struct eng_moe moe[MAX_MOE_KINDS];
    int n_moe_kinds;
    struct lb_moe_router router;
    int ids[MAXB * LB_MOE_MAX_K];
    float wts[MAXB * LB_MOE_MAX_K];

    /* Buffers, [MAXB][...] each (token b at b * width). */
    float *x;          /* residual stream [n_embd] */
    float *xn;         /* normalised FFN input [n_embd] (MoE dispatch reads it) */
    float *q, *k, *v;  /* [n_q], [n_kv], [n_kv] */
    float *o;          /* GEMV / MoE output before the residual add [n_embd] */
    float *g, *u;      /* gate, up, then h in g [n_ff_max] */
    float *rlogits;    /* router logits [n_expert] */
    float *cs;         /* RoPE table [hd] per token */
    float *logits;     /* [vocab], last token of the chunk */
    unsigned char *act_a, *act_h; /* [N_SLOTS][MAXB] x act_stride */
    size_t act_stride;
    float *priv;       /* per worker: [MAXB][priv_w] */
    size_t priv_w, priv_stride;
    unsigned char *scratch; /* attention partials: [MAXB] x scratch_stride */
    size_t scratch_stride;
    unsigned char *kv;
    size_t kv_bytes, cache_bytes;

    struct lb_barrier bar;
    /* the chunk being evaluated */
    const int32_t *tokens;
    int n_b, pos0;
    bool want_logits;
    /* per-op times, seconds (worker 0) */
    double op_s[LB_ENGINE_OP_COUNT];
    double t_last;
    char path[32];
};

static const char *const op_names[LB_ENGINE_OP_COUNT] = {
    [LB_ENGINE_OP_MATMUL] = "matmul",
    [LB_ENGINE_OP_ATTENTION] = "attention",
    [LB_ENGINE_OP_MOE] = "moe",
    [LB_ENGINE_OP_OTHER] = "other",
};

const char *lb_engine_op_name(enum lb_engine_op op)
{
    return (unsigned)op < LB_ENGINE_OP_COUNT ? op_names[op] : "unknown";
}

/* ---- small helpers ------------------------------------------------------ */

static size_t round64(size_t n) { return (n + 63) / 64 * 64; }

static void *zalloc64(size_t bytes)
{
    size_t n = round64(bytes ? bytes : 1);
    void *p = aligned_alloc(64, n);
    if (p) memset(p, 0, n);
    return p;
}

static unsigned char *act_at(const struct lb_engine *e, unsigned char *base, int slot, int b)
{
    return base + ((size_t)slot * MAXB + (size_t)b) * e->act_stride;
}

/* End of a phase: the barrier, then (worker 0, time_ops) the time since
 * the previous phase end goes to op. */
static void sync_op(struct lb_engine *e, int ith, int nth, enum lb_engine_op op)
{
    lb_barrier_wait(&e->bar, nth);
    if (ith == 0 && e->cfg.time_ops) {
        const double t = lb_now_s();
        e->op_s[op] += t - e->t_last;
        e->t_last = t;
    }
}

/* Worker ith's slice of x (full vector, possibly a private copy) quantized
 * for every distinct activation format among mats[0..n). */
static void quant_for(struct lb_engine *e, const struct eng_mat *const *mats, int n,
                      const float *x, unsigned char *base, int b, int ith, int nth)
{
    unsigned done = 0;
    for (int i = 0; i < n; i++) {
        const int s = slot_of(mats[i]->g.atype);
        if (done & (1u << s)) continue;
        done |= 1u << s;
        lb_gemv_quantize_x(&mats[i]->g, x, act_at(e, base, s, b), ith, nth);
    }
}

/* Worker ith's rows of mat for the chunk's n_b tokens: y[b * y_w + r]. */
static void mat_rows(struct lb_engine *e, const struct eng_mat *mt, unsigned char *base,
                     float *y, size_t y_w, int ith, int nth)
{
    const int s = slot_of(mt->g.atype);
    if (e->n_b == 1) {
        lb_gemv_rows(&mt->g, mt->w, act_at(e, base, s, 0), y, ith, nth);
        return;
    }
    const void *acts[MAXB];
    float *ys[MAXB];
    for (int b = 0; b < e->n_b; b++) {
        acts[b] = act_at(e, base, s, b);
        ys[b] = y + (size_t)b * y_w;
    }
    lb_gemv_rows_batch(&mt->g, mt->w, acts, ys, e->n_b, ith, nth);
}

/* Rows [r0, r1) of mat as a GEMV of their own (rows are independent: a
 * copy of the descriptor over the sub-matrix), for the chunk's tokens. */
static void mat_rows_range(struct lb_engine *e, const struct eng_mat *mt, unsigned char *base,
                           float *y, size_t y_w, size_t r0, size_t r1)
{
    struct lb_gemv view = mt->g;
    view.rows = (int64_t)(r1 - r0);
    const char *w = (const char *)mt->w + r0 * mt->g.row_bytes;
    const int s = slot_of(mt->g.atype);
    const void *acts[MAXB];
    float *ys[MAXB];
    for (int b = 0; b < e->n_b; b++) {
        acts[b] = act_at(e, base, s, b);
        ys[b] = y + (size_t)b * y_w + r0;
    }
    lb_gemv_rows_batch(&view, w, acts, ys, e->n_b, 0, 1);
}

/* x[b][r] += y[b][r] (+ bias) over worker ith's rows of an n-row GEMV
 * (the same lb_split the GEMV used, so no other worker touches them). */
static void add_rows(float *x, const float *y, size_t w, int64_t n, int n_b, int ith, int nth)
{
    size_t r0, r1;
    lb_split((size_t)n, 1, ith, nth, &r0, &r1);
    for (int b = 0; b < n_b; b++)
        for (size_t r = r0; r < r1; r++) x[(size_t)b * w + r] += y[(size_t)b * w + r];
}

static void bias_rows(float *y, const float *bias, size_t w, int64_t n, int n_b, int ith, int nth)
{
    if (!bias) return;
    size_t r0, r1;
    lb_split((size_t)n, 1, ith, nth, &r0, &r1);
    for (int b = 0; b < n_b; b++)
        for (size_t r = r0; r < r1; r++) y[(size_t)b * w + r] += bias[r];
}

static struct lb_attn_shape shape_at(const struct lb_engine *e, const struct eng_layer *L, int b)
{
    struct lb_attn_shape s = e->shape;
    s.n_ctx = e->pos0 + b + 1;
    s.window = L->window;
    return s;
}

/* ---- the forward pass (every worker) ------------------------------------- */

/* A phase: every worker RMS-normalises the whole residual row of each
 * token privately (O(n_embd), saves a barrier) and quantizes its own slice
 * of it for the matrices that read it next. */
static void norm_and_quantize(struct lb_engine *e, const float *norm,
                              const struct eng_mat *const *mats, int n_mats, float *priv,
                              int ith, int nth)
{
    const int ne = e->n_embd;
    for (int b = 0; b < e->n_b; b++) {
        float *p = priv + (size_t)b * e->priv_w;
        lb_rms_norm(e->x + (size_t)b * ne, norm, p, ne, e->eps);
        quant_for(e, mats, n_mats, p, e->act_a, b, ith, nth);
    }
    sync_op(e, ith, nth, LB_ENGINE_OP_OTHER);
}

static void layer_attention(struct lb_engine *e, const struct eng_layer *L, float *priv,
                            int ith, int nth)
{
    const int B = e->n_b, ne = e->n_embd, hd = e->hd;
    /* 1: norm + quantize for Q/K/V */
    const struct eng_mat *qkv[3] = {&L->wq, &L->wk, &L->wv};
    norm_and_quantize(e, L->attn_norm, qkv, 3, priv, ith, nth);

    /* 2: Q, K, V */
    mat_rows(e, &L->wq, e->act_a, e->q, (size_t)e->n_q, ith, nth);
    mat_rows(e, &L->wk, e->act_a, e->k, (size_t)e->n_kv, ith, nth);
    mat_rows(e, &L->wv, e->act_a, e->v, (size_t)e->n_kv, ith, nth);
    bias_rows(e->q, L->bq, (size_t)e->n_q, e->n_q, B, ith, nth);
    bias_rows(e->k, L->bk, (size_t)e->n_kv, e->n_kv, B, ith, nth);
    bias_rows(e->v, L->bv, (size_t)e->n_kv, e->n_kv, B, ith, nth);
    sync_op(e, ith, nth, LB_ENGINE_OP_MATMUL);

    /* 3: QK-norm, RoPE, KV append; heads split over the workers. A kv
     * head is appended through a one-kv-head view of the cache (its rows
     * start at g * n_ctx_max rows). */
    size_t h0, h1, g0, g1;
    lb_split((size_t)e->n_head, 1, ith, nth, &h0, &h1);
    lb_split((size_t)e->n_head_kv, 1, ith, nth, &g0, &g1);
    struct lb_attn_shape one = e->shape;
    one.n_head = e->n_head / e->n_head_kv;
    one.n_head_kv = 1;
    const size_t row = lb_attn_row_bytes(&e->shape, e->cfg.kv_type);
    for (int b = 0; b < B; b++) {
        const float *cs = e->cs + (size_t)b * hd;
        float *q = e->q + (size_t)b * e->n_q + h0 * hd;
        if (L->q_norm) lb_rms_norm_heads(q, L->q_norm, (int)(h1 - h0), hd, e->eps);
        lb_rope(q, (int)(h1 - h0), hd, cs, e->rope_mode);
        float *k = e->k + (size_t)b * e->n_kv + g0 * hd;
        const float *v = e->v + (size_t)b * e->n_kv + g0 * hd;
        if (L->k_norm) lb_rms_norm_heads(k, L->k_norm, (int)(g1 - g0), hd, e->eps);
        lb_rope(k, (int)(g1 - g0), hd, cs, e->rope_mode);
        for (size_t g = g0; g < g1; g++) {
            const size_t off = g * (size_t)e->shape.n_ctx_max * row;
            lb_attn_append(&one, e->cfg.kv_type, (char *)L->K + off, (char *)L->V + off,
                           e->pos0 + b, k + (g - g0) * hd, v + (g - g0) * hd);
        }
    }
    sync_op(e, ith, nth, LB_ENGINE_OP_ATTENTION);

    /* 4: partials, token b attending positions [0, pos0 + b] (causal) */
    for (int b = 0; b < B; b++) {
        const struct lb_attn_shape s = shape_at(e, L, b);
        lb_attn_partial(&e->attn, &s, e->q + (size_t)b * e->n_q, L->K, L->V,
                        e->scratch + (size_t)b * e->scratch_stride, ith, nth);
    }
    sync_op(e, ith, nth, LB_ENGINE_OP_ATTENTION);

    /* 5: merge (all heads, privately) + this worker's slice quantized */
    for (int b = 0; b < B; b++) {
        const struct lb_attn_shape s = shape_at(e, L, b);
        float *p = priv + (size_t)b * e->priv_w;
        lb_attn_merge(&s, e->scratch + (size_t)b * e->scratch_stride, nth, p, 0, 1);
        lb_gemv_quantize_x(&L->wo.g, p, act_at(e, e->act_a, slot_of(L->wo.g.atype), b), ith,
                           nth);
    }
    sync_op(e, ith, nth, LB_ENGINE_OP_ATTENTION);

    /* 6: Wo, residual */
    mat_rows(e, &L->wo, e->act_a, e->o, (size_t)ne, ith, nth);
    add_rows(e->x, e->o, (size_t)ne, ne, B, ith, nth);
    sync_op(e, ith, nth, LB_ENGINE_OP_MATMUL);
}

static void layer_ffn_dense(struct lb_engine *e, const struct eng_layer *L, float *priv, int ith,
                            int nth)
{
    const int B = e->n_b, ne = e->n_embd;
    const int64_t n_ff = L->gate.g.rows;
    /* 7: norm + quantize for gate/up */
    const struct eng_mat *gu[2] = {&L->gate, &L->up};
    norm_and_quantize(e, L->ffn_norm, gu, 2, priv, ith, nth);

    /* 8: gate/up rows in whole blocks of down's activation format (at
     * least 64 rows, so workers' outputs stay on separate cache lines),
     * SwiGLU, and those elements of h quantized for down: no barrier
     * between the GEMV and the quantization. */
    const struct lb_qtraits *dt = lb_qtraits_get(L->down.g.atype);
    const size_t be = (size_t)dt->block_elems, bb = (size_t)dt->block_bytes;
    size_t r0, r1;
    lb_split((size_t)n_ff, be < 64 ? 64 : be, ith, nth, &r0, &r1);
    if (r0 < r1) {
        mat_rows_range(e, &L->gate, e->act_a, e->g, (size_t)e->n_ff_max, r0, r1);
        mat_rows_range(e, &L->up, e->act_a, e->u, (size_t)e->n_ff_max, r0, r1);
        const int sd = slot_of(L->down.g.atype);
        for (int b = 0; b < B; b++) {
            float *h = e->g + (size_t)b * e->n_ff_max;
            lb_swiglu(h + r0, e->u + (size_t)b * e->n_ff_max + r0, h + r0, (int64_t)(r1 - r0));
            unsigned char *act = act_at(e, e->act_h, sd, b) + r0 / be * bb;
            if (L->down.g.actq)
                L->down.g.actq(h + r0, act, (int64_t)(r1 - r0));
            else
                memcpy(act, h + r0, (r1 - r0) * sizeof(float));
        }
    }
    sync_op(e, ith, nth, LB_ENGINE_OP_MATMUL);

    /* 9: down, residual */
    mat_rows(e, &L->down, e->act_h, e->o, (size_t)ne, ith, nth);
    add_rows(e->x, e->o, (size_t)ne, ne, B, ith, nth);
    sync_op(e, ith, nth, LB_ENGINE_OP_MATMUL);
}

static void layer_ffn_moe(struct lb_engine *e, const struct eng_layer *L, float *priv, int ith,
                          int nth)
{
    const int B = e->n_b, ne = e->n_embd;
    /* 7: norm; the dispatch reads the normalised x (xn, shared: each
     * worker writes its slice) and quantizes it itself; the router GEMV
     * gets its act here */
    const struct eng_mat *r[1] = {&L->router};
    size_t c0, c1;
    lb_split((size_t)ne, 16, ith, nth, &c0, &c1);
    for (int b = 0; b < B; b++) {
        float *p = priv + (size_t)b * e->priv_w;
        lb_rms_norm(e->x + (size_t)b * ne, L->ffn_norm, p, ne, e->eps);
        memcpy(e->xn + (size_t)b * ne + c0, p + c0, (c1 - c0) * sizeof(float));
        quant_for(e, r, 1, p, e->act_a, b, ith, nth);
    }
    sync_op(e, ith, nth, LB_ENGINE_OP_OTHER);

    /* router */
    mat_rows(e, &L->router, e->act_a, e->rlogits, (size_t)e->n_expert, ith, nth);
    sync_op(e, ith, nth, LB_ENGINE_OP_MOE);

    /* routing + plan: serial on worker 0 (a few us) */
    struct lb_moe_dispatch *d = e->moe[L->moe_kind].d;
    if (ith == 0) {
        for (int b = 0; b < B; b++)
            lb_moe_route(&e->router, e->rlogits + (size_t)b * e->n_expert,
                         e->ids + (size_t)b * e->k_used, e->wts + (size_t)b * e->k_used);
        const struct lb_moe_tokens t = {.n_tok = B, .x = e->xn, .ids = e->ids, .weights = e->wts,
                                        .out = e->o};
        lb_moe_dispatch_plan(d, &L->mw, &t, LB_MOE_SPLIT_AUTO, nth);
    }
    sync_op(e, ith, nth, LB_ENGINE_OP_MOE);
    for (int p = 0; p < LB_MOE_PHASES; p++) {
        lb_moe_dispatch_phase(d, p, ith, nth);
        sync_op(e, ith, nth, LB_ENGINE_OP_MOE);
    }
    add_rows(e->x, e->o, (size_t)ne, ne, B, ith, nth);
    sync_op(e, ith, nth, LB_ENGINE_OP_OTHER);
}

static void forward_task(void *arg, int ith, int nth)
{
    struct lb_engine *e = arg;
    const struct lb_model *m = e->m;
    const int B = e->n_b, ne = e->n_embd;
    float *priv = e->priv + (size_t)ith * e->priv_stride;

    /* embedding rows (split in blocks) and the RoPE tables (token b on
     * worker b % nth) */
    for (int b = 0; b < B; b++)
        lb_get_row(m->tok_embd.type, m->tok_embd.data, ne, e->tokens[b], e->x + (size_t)b * ne,
                   ith, nth);
    for (int b = ith; b < B; b += nth)
        lb_rope_table(e->cs + (size_t)b * e->hd, e->hd, e->pos0 + b, e->rope_base, m->rope_freqs,
                      e->freq_scale);
    sync_op(e, ith, nth, LB_ENGINE_OP_OTHER);

    for (int il = 0; il < e->n_layer; il++) {
        const struct eng_layer *L = &e->layers[il];
        layer_attention(e, L, priv, ith, nth);
        if (L->moe)
            layer_ffn_moe(e, L, priv, ith, nth);
        else
            layer_ffn_dense(e, L, priv, ith, nth);
    }
    if (!e->want_logits) return;

    /* final norm of the last token, LM head */
    const struct eng_mat *o[1] = {&e->out};
    const int b = B - 1;
    lb_rms_norm(e->x + (size_t)b * ne, e->out_norm, priv, ne, e->eps);
    quant_for(e, o, 1, priv, e->act_a, 0, ith, nth);
    sync_op(e, ith, nth, LB_ENGINE_OP_OTHER);
    lb_gemv_rows(&e->out.g, e->out.w, act_at(e, e->act_a, slot_of(e->out.g.atype), 0), e->logits,
                 ith, nth);
    sync_op(e, ith, nth, LB_ENGINE_OP_MATMUL);
}

/* ---- create: checks ----------------------------------------------------- */

/* What the engine can run: lb_model_check_supported (model.c, the one
 * list users see), then the limits of this engine's buffers and kernels. */
static enum lb_status check_supported(const struct lb_model *m, struct lb_error *err)
{
    const struct lb_model_profile *p = &m->hp;
    const char *name = p->name[0] ? p->name : "model";
    enum lb_status st = lb_model_check_supported(m, err);
    if (st != LB_OK) return st;
    if (p->n_layer < 1 || p->n_layer > LB_MODEL_MAX_LAYERS || p->n_embd < 1 || p->n_head < 1 ||
        p->n_head_kv < 1 || p->n_head % p->n_head_kv || p->head_dim < 2 || p->head_dim % 2 ||
        p->head_dim > LB_ATTN_MAX_HEAD_DIM || p->n_head / p->n_head_kv > LB_ATTN_MAX_GROUP ||
        p->vocab_size < 1 || p->n_embd > (1 << 20) || p->n_head * p->head_dim > (1 << 20))
        return lb_error_set(err, LB_EUNSUPPORTED,
                            "%s: shape not supported (n_layer %lld, n_embd %lld, heads %lld/%lld, "
                            "head_dim %lld)",
                            name, (long long)p->n_layer, (long long)p->n_embd,
                            (long long)p->n_head, (long long)p->n_head_kv,
                            (long long)p->head_dim);
    if (p->moe.present) {
        const struct lb_model_moe *o = &p->moe;
        if (o->gating != LB_MODEL_GATING_SOFTMAX_TOPK || o->n_shared_expert > 0 ||
            o->expert_bias || o->router_bias)
            return lb_error_set(err, LB_EUNSUPPORTED,
                                "%s: MoE with %s gating, shared experts or biases is not "
                                "supported (softmax top-k without them is)",
                                name, lb_model_gating_name(o->gating));
        if (o->n_expert < 1 || o->n_expert > LB_MOE_MAX_EXPERTS || o->n_expert_used < 1 ||
            o->n_expert_used > o->n_expert || o->n_expert_used > LB_MOE_MAX_K)
            return lb_error_set(err, LB_EUNSUPPORTED, "%s: %lld of %lld experts not supported",
                                name, (long long)o->n_expert_used, (long long)o->n_expert);
    }
    return LB_OK;
}

/* GGUF name: blk.N.what, or what for a global tensor (il < 0). */
static void tensor_name(char *buf, size_t size, int il, const char *what)
{
    if (il >= 0)
        snprintf(buf, size, "blk.%d.%s", il, what);
    else
        snprintf(buf, size, "%s", what);
}

/* A tensor that must be present with these dims and, when f32_only, F32. */
static enum lb_status check_wt(const struct lb_wt *w, const char *what, int il, int64_t ne0,
                               int64_t ne1, int64_t ne2, bool f32_only, struct lb_error *err)
{
    char where[64];
    tensor_name(where, sizeof where, il, what);
    if (!w->data) return lb_error_set(err, LB_EINVAL, "engine: tensor %s is missing", where);
    if (w->ne[0] != ne0 || w->ne[1] != ne1 || w->ne[2] != ne2 || w->ne[3] != 1)
        return lb_error_set(err, LB_EINVAL,
                            "engine: tensor %s is [%lld, %lld, %lld, %lld], expected [%lld, %lld, "
                            "%lld, 1]",
                            where, (long long)w->ne[0], (long long)w->ne[1], (long long)w->ne[2],
                            (long long)w->ne[3], (long long)ne0, (long long)ne1, (long long)ne2);
    if (f32_only && w->type != LB_QTYPE_F32)
        return lb_error_set(err, LB_EUNSUPPORTED, "engine: tensor %s is %s, only f32 is supported",
                            where, lb_qtype_name(w->type));
    const struct lb_qtraits *tr = lb_qtraits_get(w->type);
    if (!tr || !tr->dequantize)
        return lb_error_set(err, LB_EUNSUPPORTED, "engine: tensor %s has unsupported type %d",
                            where, (int)w->type);
    return LB_OK;
}

static enum lb_status mat_init(struct lb_engine *e, struct eng_mat *mt, const struct lb_wt *w,
                               const char *what, int il, int64_t cols, int64_t rows,
                               struct lb_error *err)
{
    enum lb_status st = check_wt(w, what, il, cols, rows, 1, false, err);
    if (st) return st;
    struct lb_error e2 = {0};
    if ((st = lb_gemv_init(&mt->g, w->type, rows, cols, e->cfg.isa, e->cfg.feat, &e2)))
    {
        char where[64];
        tensor_name(where, sizeof where, il, what);
        return lb_error_set(err, st, "engine: %s: %s", where, e2.msg);
    }
    mt->w = w->data;
    return LB_OK;
}

/* ---- create / destroy ------------------------------------------------------ */

void lb_engine_destroy(struct lb_engine *e)
{
    if (!e) return;
    for (int i = 0; i < e->n_moe_kinds; i++) lb_moe_dispatch_destroy(e->moe[i].d);
    if (e->kv) lb_pool_free(e->pool, e->kv, e->kv_bytes);
    free(e->layers);
    free(e->x);
    free(e->xn);
    free(e->q);
    free(e->k);
    free(e->v);
    free(e->o);
    free(e->g);
    free(e->u);
    free(e->rlogits);
    free(e->cs);
    free(e->logits);
    free(e->act_a);
    free(e->act_h);
    free(e->priv);
    free(e->scratch);
    free(e);
}

static enum lb_status layer_init(struct lb_engine *e, int il, struct lb_error *err)
{
    const struct lb_model *m = e->m;
    const struct lb_model_profile *p = &m->hp;
    const struct lb_model_layer *ml = &m->layers[il];
    struct eng_layer *L = &e->layers[il];
    const int64_t ne = e->n_embd;
    enum lb_status st;
    if ((st = check_wt(&ml->attn_norm, "attn_norm.weight", il, ne, 1, 1, true, err)) ||
        (st = check_wt(&ml->ffn_norm, "ffn_norm.weight", il, ne, 1, 1, true, err)) ||
        (st = mat_init(e, &L->wq, &ml->wq, "attn_q.weight", il, ne, e->n_q, err)) ||
        (st = mat_init(e, &L->wk, &ml->wk, "attn_k.weight", il, ne, e->n_kv, err)) ||
        (st = mat_init(e, &L->wv, &ml->wv, "attn_v.weight", il, ne, e->n_kv, err)) ||
        (st = mat_init(e, &L->wo, &ml->wo, "attn_output.weight", il, e->n_q, ne, err)))
        return st;
    L->attn_norm = ml->attn_norm.data;
    L->ffn_norm = ml->ffn_norm.data;
    if (p->qkv_bias) {
        if ((st = check_wt(&ml->bq, "attn_q.bias", il, e->n_q, 1, 1, true, err)) ||
            (st = check_wt(&ml->bk, "attn_k.bias", il, e->n_kv, 1, 1, true, err)) ||
            (st = check_wt(&ml->bv, "attn_v.bias", il, e->n_kv, 1, 1, true, err)))
            return st;
        L->bq = ml->bq.data;
        L->bk = ml->bk.data;
        L->bv = ml->bv.data;
    }
    if (p->qk_norm) {
        if ((st = check_wt(&ml->q_norm, "attn_q_norm.weight", il, e->hd, 1, 1, true, err)) ||
            (st = check_wt(&ml->k_norm, "attn_k_norm.weight", il, e->hd, 1, 1, true, err)))
            return st;
        L->q_norm = ml->q_norm.data;
        L->k_norm = ml->k_norm.data;
    }
    L->window = lb_model_layer_is_sliding(p, il) ? (int)p->attn.sliding_window : 0;
    L->moe = lb_model_layer_is_moe(p, il);
    if (!L->moe) {
        const int64_t ff = p->n_ff;
        if ((st = mat_init(e, &L->gate, &ml->ffn_gate, "ffn_gate.weight", il, ne, ff, err)) ||
            (st = mat_init(e, &L->up, &ml->ffn_up, "ffn_up.weight", il, ne, ff, err)) ||
            (st = mat_init(e, &L->down, &ml->ffn_down, "ffn_down.weight", il, ff, ne, err)))
            return st;
        return LB_OK;
    }
    const int64_t ff = p->moe.n_ff_expert, nx = p->moe.n_expert;
    if ((st = mat_init(e, &L->router, &ml->ffn_gate_inp, "ffn_gate_inp.weight", il, ne, nx, err)) ||
        (st = check_wt(&ml->ffn_gate_exps, "ffn_gate_exps.weight", il, ne, ff, nx, false, err)) ||
        (st = check_wt(&ml->ffn_up_exps, "ffn_up_exps.weight", il, ne, ff, nx, false, err)) ||
        (st = check_wt(&ml->ffn_down_exps, "ffn_down_exps.weight", il, ff, ne, nx, false, err)))
        return st;
    /* each expert tensor in its own format (mixed GGUF quantizations,
     * kernels/lb-moe.h struct lb_moe_types); the shared-expert fields are
     * unused (no shared experts here) */
    struct lb_moe_types ty = lb_moe_types_uniform(ml->ffn_gate_exps.type);
    ty.up = ml->ffn_up_exps.type;
    ty.down = ml->ffn_down_exps.type;
    int kind = -1;
    for (int i = 0; i < e->n_moe_kinds; i++) {
        const struct lb_moe_types *k = &e->moe[i].ffn.types;
        if (k->gate == ty.gate && k->up == ty.up && k->down == ty.down) kind = i;
    }
    if (kind < 0) {
        if (e->n_moe_kinds == MAX_MOE_KINDS)
            return lb_error_set(err, LB_EUNSUPPORTED,
                                "engine: blk.%d: more than %d distinct expert format triples "
                                "(gate/up/down)",
                                il, MAX_MOE_KINDS);
        kind = e->n_moe_kinds;
        struct eng_moe *mk = &e->moe[kind];
        const struct lb_moe_shape s = {.n_embd = ne, .n_ff = ff, .n_expert = (int)nx};
        struct lb_error e2 = {0};
        if ((st = lb_moe_ffn_init_types(&mk->ffn, &s, &ty, e->cfg.isa, e->cfg.feat, &e2)))
            return lb_error_set(err, st, "engine: blk.%d experts: %s", il, e2.msg);
        if ((st = lb_moe_dispatch_create(&mk->ffn, MAXB, e->k_used, &mk->d, &e2)))
            return lb_error_set(err, st, "engine: %s", e2.msg);
        e->n_moe_kinds++;
    }
    L->moe_kind = kind;
    L->mw = (struct lb_moe_weights){.gate = ml->ffn_gate_exps.data,
                                    .up = ml->ffn_up_exps.data,
                                    .down = ml->ffn_down_exps.data};
    return LB_OK;
}

enum lb_status lb_engine_create(const struct lb_model *m, const struct lb_engine_config *cfg,
                                struct lb_pool *pool, struct lb_engine **out,
                                struct lb_error *err)
{
    *out = NULL;
    enum lb_status st = check_supported(m, err);
    if (st) return st;
    const struct lb_model_profile *p = &m->hp;
    if (cfg->n_ctx < 1)
        return lb_error_set(err, LB_EINVAL, "engine: n_ctx %d must be >= 1", cfg->n_ctx);
    struct lb_engine *e = calloc(1, sizeof *e);
    if (!e) return lb_error_set(err, LB_ENOMEM, "engine: out of memory");
    e->m = m;
    e->pool = pool;
    e->cfg = *cfg;
    e->nth = lb_pool_size(pool);
    e->n_layer = (int)p->n_layer;
    e->n_embd = (int)p->n_embd;
    e->n_head = (int)p->n_head;
    e->n_head_kv = (int)p->n_head_kv;
    e->hd = (int)p->head_dim;
    e->n_q = e->n_head * e->hd;
    e->n_kv = e->n_head_kv * e->hd;
    e->vocab = p->vocab_size;
    e->eps = (float)p->norm_eps;
    e->rope_mode = (enum lb_rope_mode)p->rope.type;
    e->rope_base = p->rope.freq_base > 0 ? p->rope.freq_base : 10000.0;
    e->freq_scale = p->rope.scaling == LB_MODEL_ROPE_SCALING_LINEAR && p->rope.factor > 0
                        ? 1.0 / p->rope.factor
                        : 1.0;
    if (p->moe.present) {
        e->n_expert = (int)p->moe.n_expert;
        e->k_used = (int)p->moe.n_expert_used;
        /* Mixtral always renormalises its top-k (softmax over the k
         * logits); Qwen3-MoE says so in norm_topk_prob */
        e->router = (struct lb_moe_router){
            .kind = LB_MOE_GATING_SOFTMAX,
            .n_expert = e->n_expert,
            .k = e->k_used,
            .norm_topk = p->arch == LB_MODEL_ARCH_LLAMA ? true : p->moe.norm_topk_prob,
            .scaling = p->moe.routed_scaling_factor > 0 ? (float)p->moe.routed_scaling_factor
                                                        : 1.0f,
        };
        if ((st = lb_moe_router_check(&e->router, err))) goto fail;
    }
    e->n_ff_max = (int)p->n_ff;
    if (p->moe.present && p->moe.n_ff_expert > e->n_ff_max) e->n_ff_max = (int)p->moe.n_ff_expert;

    /* attention: kernel and shape (n_ctx, window set per token) */
    e->shape = (struct lb_attn_shape){.n_head = e->n_head, .n_head_kv = e->n_head_kv,
                                      .head_dim = e->hd, .n_ctx = cfg->n_ctx,
                                      .n_ctx_max = cfg->n_ctx,
                                      .scale = 1.0f / sqrtf((float)e->hd)};
    if ((st = lb_attn_shape_check(&e->shape, cfg->kv_type, err)) ||
        (st = lb_attn_kernel_init(&e->attn, cfg->kv_type, cfg->isa, cfg->feat, err)))
        goto fail;

    /* global tensors */
    if ((st = check_wt(&m->tok_embd, "token_embd.weight", -1, e->n_embd, e->vocab, 1, false, err)) ||
        (st = check_wt(&m->output_norm, "output_norm.weight", -1, e->n_embd, 1, 1, true, err)))
        goto fail;
    e->out_norm = m->output_norm.data;
    {
        const struct lb_wt *ow = m->output.data ? &m->output : &m->tok_embd;
        if ((st = mat_init(e, &e->out, ow, "output.weight", -1, e->n_embd, e->vocab, err)))
            goto fail;
    }

    e->layers = calloc((size_t)e->n_layer, sizeof *e->layers);
    if (!e->layers) goto nomem;
    for (int il = 0; il < e->n_layer; il++)
        if ((st = layer_init(e, il, err))) goto fail;
    snprintf(e->path, sizeof e->path, "%s", e->layers[0].wq.g.path);

    /* buffers */
    const size_t ne = (size_t)e->n_embd, nff = (size_t)(e->n_ff_max > 0 ? e->n_ff_max : 1);
    size_t cols_max = ne > (size_t)e->n_q ? ne : (size_t)e->n_q;
    if (nff > cols_max) cols_max = nff;
    e->act_stride = round64(cols_max * sizeof(float)); /* f32 is the widest format */
    e->priv_w = cols_max > 2 * (size_t)e->n_kv ? cols_max : 2 * (size_t)e->n_kv;
    e->priv_stride = round64((size_t)MAXB * e->priv_w * sizeof(float)) / sizeof(float);
    e->scratch_stride = round64(lb_attn_scratch_bytes(&e->shape, e->nth));
    e->x = zalloc64(MAXB * ne * sizeof(float));
    e->xn = zalloc64(MAXB * ne * sizeof(float));
    e->o = zalloc64(MAXB * ne * sizeof(float));
    e->q = zalloc64(MAXB * (size_t)e->n_q * sizeof(float));
    e->k = zalloc64(MAXB * (size_t)e->n_kv * sizeof(float));
    e->v = zalloc64(MAXB * (size_t)e->n_kv * sizeof(float));
    e->g = zalloc64(MAXB * nff * sizeof(float));
    e->u = zalloc64(MAXB * nff * sizeof(float));
    e->rlogits = zalloc64(MAXB * (size_t)(e->n_expert > 0 ? e->n_expert : 1) * sizeof(float));
    e->cs = zalloc64(MAXB * (size_t)e->hd * sizeof(float));
    e->logits = zalloc64((size_t)e->vocab * sizeof(float));
    e->act_a = zalloc64(N_SLOTS * MAXB * e->act_stride);
    e->act_h = zalloc64(N_SLOTS * MAXB * e->act_stride);
    e->priv = zalloc64((size_t)e->nth * e->priv_stride * sizeof(float));
    e->scratch = zalloc64(MAXB * e->scratch_stride);
    if (!e->x || !e->xn || !e->o || !e->q || !e->k || !e->v || !e->g || !e->u || !e->rlogits ||
        !e->cs || !e->logits || !e->act_a || !e->act_h || !e->priv || !e->scratch)
        goto nomem;

    /* KV cache: [layer][K, V], each lb_attn_cache_bytes, page aligned */
    e->cache_bytes = round64(lb_attn_cache_bytes(&e->shape, cfg->kv_type));
    e->kv_bytes = (size_t)e->n_layer * 2 * e->cache_bytes;
    e->kv = lb_pool_alloc(pool, e->kv_bytes);
    if (!e->kv) {
        st = lb_error_set(err, LB_ENOMEM, "engine: out of memory for a KV cache of %.1f MiB",
                          (double)e->kv_bytes / 1048576.0);
        goto fail;
    }
    for (int il = 0; il < e->n_layer; il++) {
        e->layers[il].K = e->kv + (size_t)il * 2 * e->cache_bytes;
        e->layers[il].V = e->kv + ((size_t)il * 2 + 1) * e->cache_bytes;
    }
    *out = e;
    return LB_OK;
nomem:
    st = lb_error_set(err, LB_ENOMEM, "engine: out of memory");
fail:
    lb_engine_destroy(e);
    return st;
}

/* ---- stepping ------------------------------------------------------------- */

void lb_engine_reset(struct lb_engine *e) { e->pos = 0; }

int lb_engine_pos(const struct lb_engine *e) { return e->pos; }

void lb_engine_truncate(struct lb_engine *e, int pos)
{
    LB_ASSERT(pos >= 0 && pos <= e->pos);
    e->pos = pos;
}

enum lb_status lb_engine_eval(struct lb_engine *e, const int32_t *tokens, int n,
                              const float **logits, struct lb_error *err)
{
    if (n < 1) return lb_error_set(err, LB_EINVAL, "engine: %d tokens to evaluate (>= 1)", n);
    if ((int64_t)e->pos + n > e->cfg.n_ctx)
        return lb_error_set(err, LB_EINVAL,
                            "engine: %d tokens at position %d exceed the context of %d", n, e->pos,
                            e->cfg.n_ctx);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= e->vocab)
            return lb_error_set(err, LB_EINVAL, "engine: token %d (id %d) is outside [0, %lld)",
                                i, (int)tokens[i], (long long)e->vocab);
    for (int i0 = 0; i0 < n; i0 += MAXB) {
        e->tokens = tokens + i0;
        e->n_b = n - i0 < MAXB ? n - i0 : MAXB;
        e->pos0 = e->pos;
        e->want_logits = i0 + e->n_b == n;
        /* the dispatch and the wake-up of the pool count as "other" */
        if (e->cfg.time_ops) e->t_last = lb_now_s();
        lb_pool_run(e->pool, forward_task, e);
        if (e->cfg.time_ops) e->op_s[LB_ENGINE_OP_OTHER] += lb_now_s() - e->t_last;
        e->pos += e->n_b;
    }
    if (logits) *logits = e->logits;
    return LB_OK;
}

int32_t lb_engine_argmax(const float *logits, int64_t n)
{
    return (int32_t)lb_argmax_f32(logits, n);
}

/* ---- synthetic KV ------------------------------------------------------- */

struct fill_job {
    struct lb_engine *e;
    int n;
    uint64_t seed;
};

/* Layer il on worker il % nth; each layer's values depend only on (seed,
 * layer, position), not on nth. Uniform in [-sqrt(3), sqrt(3)): unit
 * variance, the magnitude of normalised keys and values. */
static void fill_task(void *arg, int ith, int nth)
{
    const struct fill_job *j = arg;
    struct lb_engine *e = j->e;
    float *kn = e->priv + (size_t)ith * e->priv_stride, *vn = kn + e->n_kv;
    for (int il = ith; il < e->n_layer; il += nth) {
        const struct eng_layer *L = &e->layers[il];
        for (int i = 0; i < j->n; i++) {
            const int p = e->pos + i;
            uint64_t s = lb_mix64(j->seed ^ lb_mix64(((uint64_t)il << 32) | (uint64_t)p));
            for (int t = 0; t < 2 * e->n_kv; t++) {
                s = lb_mix64(s);
                kn[t] = (float)(((double)(s >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0) *
                                1.7320508075688772);
            }
            lb_attn_append(&e->shape, e->cfg.kv_type, L->K, L->V, p, kn, vn);
        }
    }
}

enum lb_status lb_engine_fill_kv(struct lb_engine *e, int n, uint64_t seed, struct lb_error *err)
{
    if (n < 0 || (int64_t)e->pos + n > e->cfg.n_ctx)
        return lb_error_set(err, LB_EINVAL, "engine: fill of %d positions at %d exceeds the context of %d",
                            n, e->pos, e->cfg.n_ctx);
    if (n == 0) return LB_OK;
    struct fill_job j = {e, n, seed};
    lb_pool_run(e->pool, fill_task, &j);
    e->pos += n;
    return LB_OK;
}

/* ---- reports ---------------------------------------------------------------- */

void lb_engine_op_times(const struct lb_engine *e, double ns[LB_ENGINE_OP_COUNT])
{
    for (int i = 0; i < LB_ENGINE_OP_COUNT; i++) ns[i] = e->op_s[i] * 1e9;
}

void lb_engine_reset_times(struct lb_engine *e)
{
    memset(e->op_s, 0, sizeof e->op_s);
}

double lb_engine_bytes_per_token(const struct lb_engine *e)
{
    double b = lb_model_bytes_per_token(e->m);
    const double row = (double)lb_attn_row_bytes(&e->shape, e->cfg.kv_type);
    for (int il = 0; il < e->n_layer; il++) {
        int64_t n = (int64_t)e->pos + 1; /* the next token attends itself too */
        const int w = e->layers[il].window;
        if (w > 0 && n > w) n = w;
        b += 2.0 * (double)e->n_head_kv * (double)n * row;
    }
    return b;
}

const char *lb_engine_path(const struct lb_engine *e) { return e->path; }
