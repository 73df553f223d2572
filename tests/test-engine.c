/* test-engine.c: the decode engine (bench/lb-engine.h) against a plain
 * float64 reference forward pass written here.
 *
 * Tiny models (2-3 layers, n_embd 256, head_dim 32 or 64, GQA group 2,
 * vocab 300) of each architecture the engine runs, built here by filling
 * struct lb_model directly (no model.c): llama (RoPE NORM, Llama-3
 * frequency factors, one sliding-window layer), llama-MoE (Mixtral-style
 * softmax top-2 of 8, renormalised; linear RoPE scaling), qwen2 (Q/K/V
 * biases, NEOX, tied embeddings), qwen3 (QK-norm, NEOX, n_head x head_dim
 * = 2 x n_embd), qwen3moe (QK-norm, top-2 of 4 without renormalisation).
 * Fresh random weights each run (seed printed; LB_TEST_SEED reproduces).
 * The reference dequantizes the stored weights with the traits and does
 * textbook math in double: RMSNorm, RoPE with the architecture's pairing,
 * causal GQA attention (query head h reads kv head h / G), SwiGLU, MoE
 * routing, LM head.
 *
 * What is checked, per architecture and weight format:
 *  (1) F32 weights + F32 KV: logits within TOL_F32 of the reference
 *      (max |diff| over the RMS of the reference logits) after a 3-token
 *      prompt and at each of 16 greedy steps;
 *  (2) Q8_0, Q4_0 and Q4_K weights + F16 KV (and BF16, Q8_0 caches once),
 *      and MoE models whose expert tensors are in other formats than the
 *      rest and than each other (test_mixed_experts: Q4_K_M's Q6_K down;
 *      gate / up with different activation formats; F32/F16/BF16 triples
 *      that differ per layer, at the F32 tolerance):
 *      within TOL_QUANT of the exact reference (the error of the 8-bit
 *      activation quantization the GEMVs do), and within TOL_MIMIC of a
 *      second reference that rounds every matrix input and K/V row as the
 *      kernels do (see the constants for why that is not ~1e-6);
 *  (3) greedy tokens identical at every step to the second reference's
 *      (where its top-2 margin is within 2 x TOL_MIMIC of the logit RMS,
 *      either is accepted, printed; both continue with the reference's
 *      token);
 *  (4) batched prefill (all 19 tokens in one lb_engine_eval: chunks of
 *      8 + 8 + 3) gives the logits of token-by-token evaluation;
 *  (5) lb_engine_fill_kv advances pos and changes what attention sees;
 *      bad input (token ids outside the vocabulary, n_ctx overflow, n < 1)
 *      is LB_EINVAL; gpt-oss is LB_EUNSUPPORTED; bytes per token grows by
 *      the KV rows (window-limited on sliding layers);
 *  (6) 1 and 2 threads give the same logits (F32: to 1e-5, float rounding
 *      of the different attention context split; quantized: TOL_MIMIC,
 *      since that rounding can flip an activation's quantization).
 * The weights are sized so that RoPE (base 500, positions up to 19: most
 * pairs turn by a good fraction of a radian per step), GQA mapping and QK-norm
 * change the logits far beyond the tolerances; test_mistakes_matter
 * checks that a reference with NORM and NEOX swapped, or with the other
 * GQA mapping, is more than 2 x TOL_QUANT away from the correct one
 * (measured: 1.4 .. 5 x the logit RMS).
 *
 * MoE and near ties: a router whose k-th and (k+1)-th logits are closer
 * than the activation error may pick different experts in the engine and
 * the reference. The quantized runs therefore use MoE models whose MoE
 * layer is the last (earlier layers dense), so a near tie changes only
 * that step's logits, and the step is skipped (printed). The F32 runs use
 * MoE in every layer; their router tolerance is 1e-4.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/lb-engine.h"
#include "hw/lb-hw.h"
#include "hw/lb-pool.h"
#include "kernels/lb-attn.h"
#include "kernels/lb-isa.h"
#include "kernels/lb-quant.h"
#include "tests/lb-test.h"

/* F32 weights and cache: the engine's float arithmetic against double;
 * measured errors are ~1e-6 of the logit RMS. */
#define TOL_F32 1e-4
/* Quantized weights: the engine quantizes every matrix input to 8 bits
 * (Q8_0 / Q8_K, ~0.4% of a block's largest value per element) and stores
 * K/V as fp16; the exact reference uses the same dequantized weights with
 * exact activations. Measured: 5e-2 .. 2.8e-1 of the logit RMS (Q4_K's
 * 256-element Q8_K blocks the most) over 25 seeds; this is the bound. */
#define TOL_QUANT 0.4
/* Against the reference that rounds activations and K/V as the kernels
 * do: most runs agree to ~1e-6, but an activation that lands within float
 * rounding of a quantization boundary rounds the other way (one quantum
 * of one element, ~1% of a block's largest value) and moves the logits by
 * up to a few % of their RMS; measured up to 1.4e-1 over 25 seeds. */
#define TOL_MIMIC 0.25
/* Routers: a step whose reference k-th / (k+1)-th router logits are
 * closer than this (relative to the router logits' RMS) is not compared:
 * the engine may rightly pick the other expert. */
#define ROUTER_TOL_F32 1e-4
#define ROUTER_TOL_EXACT 0.1
#define ROUTER_TOL_MIMIC 0.02
/* Tokens / steps */
#define N_PROMPT 3
#define N_GEN 16
#define N_ALL (N_PROMPT + N_GEN)
#define MAXL 4

static struct lb_hw *hw;
static struct lb_pool *pool1, *pool2;
static unsigned long long rng;

/* ---- model spec and construction --------------------------------------- */

struct spec {
    const char *name;
    enum lb_model_arch arch;
    int n_layer, n_embd, n_head, n_head_kv, hd, n_ff, vocab;
    int n_expert, k, n_ff_exp; /* n_expert 0: dense */
    bool norm_topk, qkv_bias, qk_norm, tied, rope_freqs;
    double linear_scale;       /* 0: none */
    int window, sliding_layer; /* window > 0: layer sliding_layer is sliding */
};

static const struct spec specs[] = {
    {"llama", LB_MODEL_ARCH_LLAMA, 3, 256, 4, 2, 64, 512, 300, 0, 0, 0, false, false, false,
     false, true, 0, 6, 1},
    {"llama-moe", LB_MODEL_ARCH_LLAMA, 2, 256, 4, 2, 64, 512, 300, 8, 2, 256, true, false, false,
     false, false, 2.0, 0, 0},
    {"qwen2", LB_MODEL_ARCH_QWEN2, 2, 256, 8, 4, 32, 512, 300, 0, 0, 0, false, true, false, true,
     false, 0, 0, 0},
    {"qwen3", LB_MODEL_ARCH_QWEN3, 2, 256, 8, 4, 64, 512, 300, 0, 0, 0, false, false, true, false,
     false, 0, 0, 0},
    {"qwen3moe", LB_MODEL_ARCH_QWEN3MOE, 2, 256, 8, 4, 32, 512, 300, 4, 2, 256, false, false, true,
     false, false, 0, 0, 0},
};

/* reference weights of one layer, double, row-major [rows][cols] */
struct rlayer {
    double *attn_norm, *ffn_norm, *q_norm, *k_norm, *bq, *bk, *bv;
    double *wq, *wk, *wv, *wo, *gate, *up, *down, *router, *gexp, *uexp, *dexp;
};

/* Expert tensor formats per layer, {gate, up, down}: mixed GGUF
 * quantizations (Q4_K_M's Q6_K ffn_down_exps beside Q4_K gate/up). */
typedef enum lb_qtype exp_types[MAXL][3];

struct tmodel {
    struct spec sp;
    exp_types xt;          /* the expert tensors' formats, per layer */
    struct lb_model m;
    struct lb_model_layer layers[MAXL];
    float rope_freqs[LB_ATTN_MAX_HEAD_DIM / 2];
    struct rlayer rl[MAXL];
    double *embd, *out_norm, *out;
    void *allocs[256];
    int n_allocs;
};

static void *talloc(struct tmodel *t, size_t bytes)
{
    LB_ASSERT(t->n_allocs < (int)LB_ARRAY_LEN(t->allocs));
    void *p = calloc(1, bytes ? bytes : 1);
    LB_ASSERT(p);
    t->allocs[t->n_allocs++] = p;
    return p;
}

static void tmodel_free(struct tmodel *t)
{
    for (int i = 0; i < t->n_allocs; i++) free(t->allocs[i]);
    free(t);
}

enum wkind { W_GAUSS, W_NORM };

/* A tensor of ne0 x ne1 x ne2 in `type`: random master values (Gaussian
 * of std, or norm weights uniform in [0.7, 1.3]) quantized with the
 * format's reference quantizer; *ref gets the dequantized values, so the
 * reference computes with exactly what the engine reads. */
static void make_wt(struct tmodel *t, struct lb_wt *w, enum lb_qtype type, int64_t ne0,
                    int64_t ne1, int64_t ne2, enum wkind kind, double std, double **ref)
{
    const struct lb_qtraits *tr = lb_qtraits_get(type);
    const int64_t n = ne0 * ne1 * ne2;
    float *f = malloc((size_t)n * sizeof *f);
    LB_ASSERT(f);
    for (int64_t i = 0; i < n; i++)
        f[i] = kind == W_NORM ? (float)(0.7 + 0.6 * lb_test_rand_uniform(&rng))
                              : (float)(std * lb_test_rand_normal(&rng));
    w->type = type;
    w->ne[0] = ne0;
    w->ne[1] = ne1;
    w->ne[2] = ne2;
    w->ne[3] = 1;
    w->bytes = lb_qtype_row_bytes(type, ne0) * (size_t)(ne1 * ne2);
    void *data = talloc(t, w->bytes);
    tr->quantize_ref(f, data, n);
    tr->dequantize(data, f, n);
    double *r = talloc(t, (size_t)n * sizeof *r);
    for (int64_t i = 0; i < n; i++) r[i] = f[i];
    free(f);
    w->data = data;
    if (ref) *ref = r;
}

/* moe_last_only: earlier layers dense, the last one MoE (see the file
 * comment). xt: the expert tensors' formats per layer (NULL: wt). */
static struct tmodel *tmodel_build(const struct spec *sp, enum lb_qtype wt, bool moe_last_only,
                                   const exp_types *xt)
{
    struct tmodel *t = calloc(1, sizeof *t);
    LB_ASSERT(t && sp->n_layer <= MAXL);
    t->sp = *sp;
    for (int il = 0; il < MAXL; il++)
        for (int j = 0; j < 3; j++) t->xt[il][j] = xt ? (*xt)[il][j] : wt;
    struct lb_model *m = &t->m;
    struct lb_model_profile *p = &m->hp;
    snprintf(p->name, sizeof p->name, "tiny-%s", sp->name);
    p->arch = sp->arch;
    p->arch_name = lb_model_arch_name(sp->arch);
    p->n_layer = sp->n_layer;
    p->n_embd = sp->n_embd;
    p->n_head = sp->n_head;
    p->n_head_kv = sp->n_head_kv;
    p->head_dim = sp->hd;
    p->n_ff = sp->n_ff;
    p->vocab_size = sp->vocab;
    p->context_length = 4096;
    p->rope.type = sp->arch == LB_MODEL_ARCH_LLAMA ? LB_MODEL_ROPE_NORM : LB_MODEL_ROPE_NEOX;
    /* a small base turns most pairs by a good fraction of a radian per
     * position, so that a wrong pairing shows at positions < 20 */
    p->rope.freq_base = 500.0;
    p->rope.factor = 1.0;
    if (sp->linear_scale > 0) {
        p->rope.scaling = LB_MODEL_ROPE_SCALING_LINEAR;
        p->rope.factor = sp->linear_scale;
    }
    p->norm_eps = 1e-5;
    p->act.type = LB_MODEL_FFN_SWIGLU;
    p->qkv_bias = sp->qkv_bias;
    p->qk_norm = sp->qk_norm;
    p->tied_embeddings = sp->tied;
    if (sp->window > 0) {
        p->attn.sliding_window = sp->window;
        p->attn.n_pattern = sp->n_layer;
        p->attn.pattern_sliding[sp->sliding_layer] = true;
    }
    if (sp->n_expert > 0) {
        p->moe.present = true;
        p->moe.n_expert = sp->n_expert;
        p->moe.n_expert_used = sp->k;
        p->moe.n_ff_expert = sp->n_ff_exp;
        p->moe.gating = LB_MODEL_GATING_SOFTMAX_TOPK;
        p->moe.norm_topk_prob = sp->norm_topk;
        p->moe.routed_scaling_factor = 1.0;
    }
    for (int il = 0; il < sp->n_layer; il++)
        p->layer_dense[il] = sp->n_expert == 0 || (moe_last_only && il < sp->n_layer - 1);
    if (sp->rope_freqs) {
        /* Llama-3-like: high-frequency pairs 1, low-frequency ones up to 8 */
        for (int i = 0; i < sp->hd / 2; i++)
            t->rope_freqs[i] = (float)(1.0 + 7.0 * i / (sp->hd / 2 - 1) *
                                                 lb_test_rand_uniform(&rng));
        m->rope_freqs = t->rope_freqs;
    }
    m->layers = t->layers;
    const int ne = sp->n_embd, nq = sp->n_head * sp->hd, nkv = sp->n_head_kv * sp->hd;
    /* std 1/sqrt(cols) keeps activations O(1); x1.5 on Q and K makes the
     * attention scores O(1-3), so the weights are far from uniform */
    const double s_in = 1.0 / sqrt(ne);
    make_wt(t, &m->tok_embd, wt, ne, sp->vocab, 1, W_GAUSS, 1.0, &t->embd);
    make_wt(t, &m->output_norm, LB_QTYPE_F32, ne, 1, 1, W_NORM, 0, &t->out_norm);
    if (sp->tied) {
        m->output = m->tok_embd;
        t->out = t->embd;
    } else {
        make_wt(t, &m->output, wt, ne, sp->vocab, 1, W_GAUSS, 2.0 * s_in, &t->out);
    }
    for (int il = 0; il < sp->n_layer; il++) {
        struct lb_model_layer *L = &t->layers[il];
        struct rlayer *R = &t->rl[il];
        make_wt(t, &L->attn_norm, LB_QTYPE_F32, ne, 1, 1, W_NORM, 0, &R->attn_norm);
        make_wt(t, &L->ffn_norm, LB_QTYPE_F32, ne, 1, 1, W_NORM, 0, &R->ffn_norm);
        make_wt(t, &L->wq, wt, ne, nq, 1, W_GAUSS, 1.5 * s_in, &R->wq);
        make_wt(t, &L->wk, wt, ne, nkv, 1, W_GAUSS, 1.5 * s_in, &R->wk);
        make_wt(t, &L->wv, wt, ne, nkv, 1, W_GAUSS, s_in, &R->wv);
        make_wt(t, &L->wo, wt, nq, ne, 1, W_GAUSS, 1.0 / sqrt(nq), &R->wo);
        if (sp->qkv_bias) {
            make_wt(t, &L->bq, LB_QTYPE_F32, nq, 1, 1, W_GAUSS, 0.5, &R->bq);
            make_wt(t, &L->bk, LB_QTYPE_F32, nkv, 1, 1, W_GAUSS, 0.5, &R->bk);
            make_wt(t, &L->bv, LB_QTYPE_F32, nkv, 1, 1, W_GAUSS, 0.5, &R->bv);
        }
        if (sp->qk_norm) {
            make_wt(t, &L->q_norm, LB_QTYPE_F32, sp->hd, 1, 1, W_NORM, 0, &R->q_norm);
            make_wt(t, &L->k_norm, LB_QTYPE_F32, sp->hd, 1, 1, W_NORM, 0, &R->k_norm);
        }
        if (p->layer_dense[il]) {
            make_wt(t, &L->ffn_gate, wt, ne, sp->n_ff, 1, W_GAUSS, 1.5 * s_in, &R->gate);
            make_wt(t, &L->ffn_up, wt, ne, sp->n_ff, 1, W_GAUSS, 1.5 * s_in, &R->up);
            make_wt(t, &L->ffn_down, wt, sp->n_ff, ne, 1, W_GAUSS, 1.0 / sqrt(sp->n_ff), &R->down);
        } else {
            const int ff = sp->n_ff_exp, nx = sp->n_expert;
            make_wt(t, &L->ffn_gate_inp, LB_QTYPE_F32, ne, nx, 1, W_GAUSS, 2.0 * s_in, &R->router);
            const enum lb_qtype *x = t->xt[il];
            make_wt(t, &L->ffn_gate_exps, x[0], ne, ff, nx, W_GAUSS, 1.5 * s_in, &R->gexp);
            make_wt(t, &L->ffn_up_exps, x[1], ne, ff, nx, W_GAUSS, 1.5 * s_in, &R->uexp);
            make_wt(t, &L->ffn_down_exps, x[2], ff, ne, nx, W_GAUSS, 2.0 / sqrt(ff), &R->dexp);
        }
    }
    return t;
}

/* ---- float64 reference ---------------------------------------------------- */

/* What the reference may be told to get wrong (test_mistakes_matter). */
struct ref_opts {
    bool swap_rope;   /* NORM <-> NEOX */
    bool gqa_modulo;  /* query head h reads kv head h % n_head_kv */
    /* Mimic the kernels' number formats: every matrix input rounded
     * through the weight format's activation format (Q8_0 / Q8_K: the
     * reference quantizer, then dequantized), K and V rows through the
     * cache type. The rest stays double, so what is left is float
     * rounding (and the rare value at a rounding boundary). */
    bool mimic;
    enum lb_qtype wtype, kv_type;
};

/* x rounded through format t (quantize_ref, then dequantize): what
 * lb_attn_append stores for a cache of type t */
static void qround(double *x, int n, enum lb_qtype t)
{
    const struct lb_qtraits *at = lb_qtraits_get(t);
    float *f = malloc((size_t)n * sizeof *f);
    void *blk = malloc(lb_qtype_row_bytes(at->type, n));
    for (int i = 0; i < n; i++) f[i] = (float)x[i];
    at->quantize_ref(f, blk, n);
    at->dequantize(blk, f, n);
    for (int i = 0; i < n; i++) x[i] = f[i];
    free(f);
    free(blk);
}

/* x rounded through the activation format GEMVs of wtype quantize it to */
static void qact_if(const struct ref_opts *o, double *x, int n, enum lb_qtype wtype)
{
    if (o->mimic) qround(x, n, lb_qtraits_get(wtype)->vec_dot_type);
}

struct rstate {
    double *K[MAXL], *V[MAXL]; /* [pos][n_kv] */
    int pos;
    double router_margin;      /* smallest relative k/k+1 router gap this step */
    int margin_layer;          /* its layer */
};

static void rstate_init(struct rstate *s, const struct spec *sp)
{
    memset(s, 0, sizeof *s);
    for (int il = 0; il < sp->n_layer; il++) {
        s->K[il] = calloc((size_t)N_ALL * 2 * sp->n_head_kv * sp->hd, sizeof(double));
        s->V[il] = calloc((size_t)N_ALL * 2 * sp->n_head_kv * sp->hd, sizeof(double));
    }
}

static void rstate_free(struct rstate *s, const struct spec *sp)
{
    for (int il = 0; il < sp->n_layer; il++) {
        free(s->K[il]);
        free(s->V[il]);
    }
}

static void rms(const double *x, const double *w, double *y, int n, double eps)
{
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    const double sc = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) y[i] = x[i] * sc * w[i];
}

/* y[r] = sum_c W[r][c] x[c] */
static void matvec(const double *W, const double *x, double *y, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        double acc = 0;
        for (int c = 0; c < cols; c++) acc += W[(size_t)r * cols + c] * x[c];
        y[r] = acc;
    }
}

static void rope_ref(double *x, int n_heads, int hd, int pos, const struct lb_model *m, bool neox)
{
    const struct lb_model_profile *p = &m->hp;
    for (int h = 0; h < n_heads; h++) {
        double *r = x + (size_t)h * hd;
        for (int i = 0; i < hd / 2; i++) {
            double th = pos * pow(p->rope.freq_base, -2.0 * i / hd);
            if (m->rope_freqs) th /= m->rope_freqs[i];
            if (p->rope.scaling == LB_MODEL_ROPE_SCALING_LINEAR) th /= p->rope.factor;
            const int a = neox ? i : 2 * i, b = neox ? i + hd / 2 : 2 * i + 1;
            const double x0 = r[a], x1 = r[b];
            r[a] = x0 * cos(th) - x1 * sin(th);
            r[b] = x0 * sin(th) + x1 * cos(th);
        }
    }
}

static double silu(double v) { return v / (1.0 + exp(-v)); }

/* out = down . (silu(gate . x) * (up . x)) for one expert's matrices,
 * in formats ty {gate, up, down} (what mimic rounds x and h through: gate
 * and up may each want their own activation format) */
static void ffn_ref(const double *G, const double *U, const double *D, const double *x, double *out,
                    int ne, int ff, const struct ref_opts *o, const enum lb_qtype ty[3])
{
    double *g = malloc((size_t)ff * sizeof *g), *u = malloc((size_t)ff * sizeof *u);
    double *xq = malloc((size_t)ne * sizeof *xq);
    memcpy(xq, x, (size_t)ne * sizeof *xq);
    qact_if(o, xq, ne, ty[0]);
    matvec(G, xq, g, ff, ne);
    memcpy(xq, x, (size_t)ne * sizeof *xq);
    qact_if(o, xq, ne, ty[1]);
    matvec(U, xq, u, ff, ne);
    for (int i = 0; i < ff; i++) g[i] = silu(g[i]) * u[i];
    qact_if(o, g, ff, ty[2]);
    matvec(D, g, out, ne, ff);
    free(xq);
    free(g);
    free(u);
}

/* One token at s->pos; logits [vocab]. */
static void ref_step(const struct tmodel *t, struct rstate *s, int tok, double *logits,
                     const struct ref_opts *o)
{
    const struct spec *sp = &t->sp;
    const struct lb_model_profile *p = &t->m.hp;
    const int ne = sp->n_embd, hd = sp->hd, nh = sp->n_head, nkv = sp->n_head_kv;
    const int nq = nh * hd, nk = nkv * hd, G = nh / nkv, pos = s->pos;
    const double eps = p->norm_eps;
    const bool neox = (p->rope.type == LB_MODEL_ROPE_NEOX) != o->swap_rope;
    double *x = malloc(ne * sizeof *x), *xn = malloc(ne * sizeof *xn);
    double *q = malloc(nq * sizeof *q), *att = malloc(nq * sizeof *att);
    double *y = malloc(ne * sizeof *y), *sc = malloc(N_ALL * 2 * sizeof *sc);
    s->router_margin = INFINITY;
    s->margin_layer = -1;
    for (int i = 0; i < ne; i++) x[i] = t->embd[(size_t)tok * ne + i];
    for (int il = 0; il < sp->n_layer; il++) {
        const struct rlayer *R = &t->rl[il];
        double *k = s->K[il] + (size_t)pos * nk, *v = s->V[il] + (size_t)pos * nk;
        rms(x, R->attn_norm, xn, ne, eps);
        qact_if(o, xn, ne, o->wtype);
        matvec(R->wq, xn, q, nq, ne);
        matvec(R->wk, xn, k, nk, ne);
        matvec(R->wv, xn, v, nk, ne);
        if (R->bq)
            for (int i = 0; i < nq; i++) q[i] += R->bq[i];
        if (R->bk)
            for (int i = 0; i < nk; i++) k[i] += R->bk[i], v[i] += R->bv[i];
        if (R->q_norm) {
            for (int h = 0; h < nh; h++) rms(q + h * hd, R->q_norm, q + h * hd, hd, eps);
            for (int h = 0; h < nkv; h++) rms(k + h * hd, R->k_norm, k + h * hd, hd, eps);
        }
        rope_ref(q, nh, hd, pos, &t->m, neox);
        rope_ref(k, nkv, hd, pos, &t->m, neox);
        if (o->mimic)
            for (int h = 0; h < nkv; h++) {
                qround(k + h * hd, hd, o->kv_type);
                qround(v + h * hd, hd, o->kv_type);
            }
        const bool sliding = p->attn.sliding_window > 0 && p->attn.pattern_sliding[il];
        const int lo = sliding && pos + 1 > p->attn.sliding_window
                           ? pos + 1 - (int)p->attn.sliding_window
                           : 0;
        for (int h = 0; h < nh; h++) {
            const int g = o->gqa_modulo ? h % nkv : h / G;
            double mx = -INFINITY, sum = 0;
            for (int j = lo; j <= pos; j++) {
                double d = 0;
                const double *kj = s->K[il] + (size_t)j * nk + g * hd;
                for (int c = 0; c < hd; c++) d += q[h * hd + c] * kj[c];
                sc[j] = d / sqrt(hd);
                if (sc[j] > mx) mx = sc[j];
            }
            for (int j = lo; j <= pos; j++) sum += (sc[j] = exp(sc[j] - mx));
            for (int c = 0; c < hd; c++) {
                double a = 0;
                for (int j = lo; j <= pos; j++) a += sc[j] * s->V[il][(size_t)j * nk + g * hd + c];
                att[h * hd + c] = a / sum;
            }
        }
        qact_if(o, att, nq, o->wtype);
        matvec(R->wo, att, y, ne, nq);
        for (int i = 0; i < ne; i++) x[i] += y[i];
        rms(x, R->ffn_norm, xn, ne, eps);
        if (p->layer_dense[il]) {
            const enum lb_qtype dense[3] = {o->wtype, o->wtype, o->wtype};
            ffn_ref(R->gate, R->up, R->down, xn, y, ne, sp->n_ff, o, dense);
            for (int i = 0; i < ne; i++) x[i] += y[i];
            continue;
        }
        const int nx = sp->n_expert, ff = sp->n_ff_exp;
        double lg[64], pr[64], mxl = -INFINITY, sum = 0, l2 = 0;
        matvec(R->router, xn, lg, nx, ne);
        for (int e = 0; e < nx; e++) mxl = lg[e] > mxl ? lg[e] : mxl, l2 += lg[e] * lg[e];
        for (int e = 0; e < nx; e++) sum += (pr[e] = exp(lg[e] - mxl));
        int sel[64];
        bool used[64] = {0};
        for (int j = 0; j <= sp->k && j < nx; j++) { /* k + 1 best: the margin */
            int b = -1;
            for (int e = 0; e < nx; e++)
                if (!used[e] && (b < 0 || lg[e] > lg[b])) b = e;
            used[b] = true;
            sel[j] = b;
        }
        if (sp->k < nx) {
            const double margin = (lg[sel[sp->k - 1]] - lg[sel[sp->k]]) / sqrt(l2 / nx);
            if (margin < s->router_margin) {
                s->router_margin = margin;
                s->margin_layer = il;
            }
        }
        double wsum = 0;
        for (int j = 0; j < sp->k; j++) wsum += pr[sel[j]];
        for (int j = 0; j < sp->k; j++) {
            const int e = sel[j];
            const double w = pr[e] / (sp->norm_topk ? wsum : sum);
            const size_t gsz = (size_t)ff * ne;
            ffn_ref(R->gexp + e * gsz, R->uexp + e * gsz, R->dexp + e * gsz, xn, y, ne, ff, o,
                    t->xt[il]);
            for (int i = 0; i < ne; i++) x[i] += w * y[i];
        }
    }
    rms(x, t->out_norm, xn, ne, eps);
    qact_if(o, xn, ne, o->wtype);
    matvec(t->out, xn, logits, sp->vocab, ne);
    s->pos++;
    free(x);
    free(xn);
    free(q);
    free(att);
    free(y);
    free(sc);
}

/* ---- comparisons ------------------------------------------------------------ */

static double rms_of(const double *r, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += r[i] * r[i];
    return sqrt(s / n);
}

/* max |a - r| / RMS(r) */
static double rel_err(const float *a, const double *r, int n)
{
    double mx = 0;
    for (int i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - r[i]);
        if (!(d <= mx)) mx = d; /* NaN wins */
    }
    return mx / rms_of(r, n);
}

static double rel_err_ff(const float *a, const float *b, int n)
{
    double s = 0, mx = 0;
    for (int i = 0; i < n; i++) {
        s += (double)b[i] * b[i];
        const double d = fabs((double)a[i] - b[i]);
        if (!(d <= mx)) mx = d;
    }
    return mx / sqrt(s / n);
}

static int top2_ref(const double *r, int n, double *margin)
{
    int a = 0;
    for (int i = 1; i < n; i++)
        if (r[i] > r[a]) a = i;
    double second = -INFINITY;
    for (int i = 0; i < n; i++)
        if (i != a && r[i] > second) second = r[i];
    *margin = r[a] - second;
    return a;
}

static struct lb_engine *engine_new(const struct lb_model *m, struct lb_pool *pool,
                                    enum lb_qtype kv, bool scalar, int n_ctx)
{
    struct lb_engine_config cfg = {
        .n_ctx = n_ctx,
        .kv_type = kv,
        .isa = scalar ? LB_ISA_SCALAR : lb_isa_best(&hw->features),
        .feat = scalar ? NULL : &hw->features,
        .time_ops = true,
    };
    struct lb_engine *e = NULL;
    struct lb_error err = {0};
    enum lb_status st = lb_engine_create(m, &cfg, pool, &e, &err);
    CHECK_MSG(st == LB_OK, "lb_engine_create(%s): %s", m->hp.name, err.msg);
    return st == LB_OK ? e : NULL;
}

/* ---- the main comparison ------------------------------------------------------ */

/* One reference run beside the engine: its state, tolerance and tallies. */
struct refrun {
    const char *label;       /* "exact" or "mimic" */
    struct ref_opts o;
    struct rstate s;
    double tol, router_tol;  /* logits; relative router k/k+1 gap */
    double *logits;          /* [vocab] of the last step */
    double max_err;
    int checked, skipped;
    bool diverged;           /* a non-last MoE layer was a near tie */
};

/* Feeds toks[at .. at+n) to the reference; returns whether this step's
 * logits are comparable (no router near tie now or before). */
static bool refrun_step(struct refrun *r, const struct tmodel *t, const int32_t *toks, int at,
                        int n, int step)
{
    bool skip = false;
    for (int i = 0; i < n; i++) {
        ref_step(t, &r->s, toks[at + i], r->logits, &r->o);
        if (r->s.router_margin < r->router_tol) {
            if (r->s.margin_layer < t->sp.n_layer - 1) r->diverged = true;
            skip = true;
            printf("  %s/%s %s step %d: router near tie (gap %.2g of the logit RMS in layer "
                   "%d)%s\n",
                   t->sp.name, lb_qtype_name(r->o.wtype), r->label, step, r->s.router_margin,
                   r->s.margin_layer,
                   r->diverged ? ": later steps not compared" : ": step skipped");
        }
    }
    if (skip || r->diverged) {
        r->skipped++;
        return false;
    }
    r->checked++;
    return true;
}

static void refrun_check(struct refrun *r, const struct tmodel *t, const float *lg, int step)
{
    const double er = rel_err(lg, r->logits, t->sp.vocab);
    if (er > r->max_err) r->max_err = er;
    CHECK_MSG(er <= r->tol, "%s/%s step %d: logits %.3g of their RMS off the %s reference (tol %g)",
              t->sp.name, lb_qtype_name(r->o.wtype), step, er, r->label, r->tol);
}

/* Runs (1)-(4) and (6) for one model: the 2-thread engine step by step
 * (prompt batched) beside two references, the exact one (tolerance
 * tol_exact) and the one mimicking the kernels' number formats
 * (tol_mimic; greedy tokens follow it), then a 1-thread engine over the
 * same tokens, then one batched eval of all tokens. */
static void run_case(const struct spec *sp, enum lb_qtype wt, const exp_types *xt, enum lb_qtype kv,
                     double tol_exact, double tol_mimic, bool scalar)
{
    struct tmodel *t = tmodel_build(sp, wt, wt != LB_QTYPE_F32, xt);
    const int V = sp->vocab;
    int32_t toks[N_ALL];
    for (int i = 0; i < N_PROMPT; i++) toks[i] = (int32_t)(lb_test_rand_u64(&rng) % (unsigned)V);

    struct lb_engine *e2 = engine_new(&t->m, pool2, kv, scalar, 64);
    struct lb_engine *e1 = engine_new(&t->m, pool1, kv, scalar, 64);
    if (!e2 || !e1) goto done;
    struct refrun rr[2] = {
        {.label = "exact", .o = {.wtype = wt, .kv_type = kv}, .tol = tol_exact},
        {.label = "mimic", .o = {.mimic = true, .wtype = wt, .kv_type = kv}, .tol = tol_mimic},
    };
    for (int i = 0; i < 2; i++) {
        rstate_init(&rr[i].s, sp);
        rr[i].logits = malloc(V * sizeof(double));
        rr[i].router_tol = wt == LB_QTYPE_F32 ? ROUTER_TOL_F32
                           : i == 0           ? ROUTER_TOL_EXACT
                                              : ROUTER_TOL_MIMIC;
    }
    struct refrun *gr = &rr[1]; /* the greedy tokens' reference */
    float *lg2 = malloc((size_t)(N_GEN + 1) * V * sizeof *lg2); /* 2-thread logits per step */
    int ties = 0;
    struct lb_error err = {0};

    for (int step = 0; step <= N_GEN; step++) {
        /* step 0: the prompt (batched in the engine); then one token */
        const int n = step == 0 ? N_PROMPT : 1, at = step == 0 ? 0 : N_PROMPT + step - 1;
        const float *lg = NULL;
        enum lb_status st = lb_engine_eval(e2, toks + at, n, &lg, &err);
        CHECK_MSG(st == LB_OK, "eval: %s", err.msg);
        if (st) break;
        memcpy(lg2 + (size_t)step * V, lg, V * sizeof *lg);
        for (int i = 0; i < 2; i++)
            if (refrun_step(&rr[i], t, toks, at, n, step)) refrun_check(&rr[i], t, lg, step);
        CHECK_INT_EQ(lb_engine_pos(e2), rr[0].s.pos);
        double margin;
        const int rtok = top2_ref(gr->logits, V, &margin);
        const int etok = lb_engine_argmax(lg, V);
        if (etok != rtok && !gr->diverged) {
            const bool near = margin <= 2 * gr->tol * rms_of(gr->logits, V);
            if (near) {
                ties++;
                printf("  %s/%s step %d: engine picks %d, reference %d, top-2 margin %.3g "
                       "within tolerance: accepted, continuing with %d\n",
                       sp->name, lb_qtype_name(wt), step, etok, rtok, margin, rtok);
            }
            CHECK_MSG(near, "%s/%s step %d: greedy token %d != reference %d (margin %.3g)",
                      sp->name, lb_qtype_name(wt), step, etok, rtok, margin);
        }
        if (step < N_GEN) toks[N_PROMPT + step] = rtok;
    }
    printf("  %-9s %-5s%s kv %-4s %s: max err / logit RMS: exact %.2e (%d steps), mimic %.2e "
           "(%d steps); %d near ties\n",
           sp->name, lb_qtype_name(wt), xt ? "+mixed experts" : "", lb_qtype_name(kv),
           scalar ? "scalar" : "best  ",
           rr[0].max_err, rr[0].checked, rr[1].max_err, rr[1].checked, ties);
    /* router near ties may skip steps, never most of them */
    CHECK(rr[1].checked >= N_GEN / 4);

    /* (6) one thread over the same tokens */
    double max_thr = 0;
    for (int step = 0; step <= N_GEN; step++) {
        const int n = step == 0 ? N_PROMPT : 1, at = step == 0 ? 0 : N_PROMPT + step - 1;
        const float *lg = NULL;
        if (lb_engine_eval(e1, toks + at, n, &lg, &err)) {
            CHECK_MSG(0, "eval 1 thread: %s", err.msg);
            break;
        }
        const double er = rel_err_ff(lg, lg2 + (size_t)step * V, V);
        if (er > max_thr) max_thr = er;
    }
    /* F32: float rounding only (the context split differs); quantized:
     * that rounding can flip an activation's quantization (TOL_MIMIC) */
    const double tol_thr = wt == LB_QTYPE_F32 ? 1e-5 : TOL_MIMIC;
    CHECK_MSG(max_thr <= tol_thr, "%s/%s: 1 and 2 threads differ by %.3g of the logit RMS",
              sp->name, lb_qtype_name(wt), max_thr);

    /* (4) all tokens in one call (chunks 8 + 8 + 3) vs token by token, both
     * on 2 threads: the same GEMV rows and attention splits, so the same
     * logits up to the compiler's float evaluation */
    lb_engine_reset(e2);
    CHECK_INT_EQ(lb_engine_pos(e2), 0);
    const float *lgb = NULL;
    if (lb_engine_eval(e2, toks, N_ALL, &lgb, &err) == LB_OK) {
        CHECK_INT_EQ(lb_engine_pos(e2), N_ALL);
        const double er = rel_err_ff(lgb, lg2 + (size_t)N_GEN * V, V);
        CHECK_MSG(er <= 1e-6, "%s/%s: batched prefill differs by %.3g of the logit RMS",
                  sp->name, lb_qtype_name(wt), er);
    } else {
        CHECK_MSG(0, "batched eval: %s", err.msg);
    }
    free(lg2);
    for (int i = 0; i < 2; i++) {
        free(rr[i].logits);
        rstate_free(&rr[i].s, sp);
    }
done:
    lb_engine_destroy(e1);
    lb_engine_destroy(e2);
    tmodel_free(t);
}

static void test_f32(void)
{
    for (size_t i = 0; i < LB_ARRAY_LEN(specs); i++)
        run_case(&specs[i], LB_QTYPE_F32, NULL, LB_QTYPE_F32, TOL_F32, TOL_F32, false);
    /* the scalar reference paths of every kernel, once */
    run_case(&specs[0], LB_QTYPE_F32, NULL, LB_QTYPE_F32, TOL_F32, TOL_F32, true);
}

static void test_quant(void)
{
    const enum lb_qtype types[] = {LB_QTYPE_Q8_0, LB_QTYPE_Q4_0, LB_QTYPE_Q4_K};
    for (size_t j = 0; j < LB_ARRAY_LEN(types); j++)
        for (size_t i = 0; i < LB_ARRAY_LEN(specs); i++)
            run_case(&specs[i], types[j], NULL, LB_QTYPE_F16, TOL_QUANT, TOL_MIMIC, false);
    /* the other cache types once */
    run_case(&specs[3], LB_QTYPE_Q8_0, NULL, LB_QTYPE_BF16, TOL_QUANT, TOL_MIMIC, false);
    run_case(&specs[2], LB_QTYPE_Q8_0, NULL, LB_QTYPE_Q8_0, TOL_QUANT, TOL_MIMIC, false);
    run_case(&specs[1], LB_QTYPE_Q4_K, NULL, LB_QTYPE_Q8_0, TOL_QUANT, TOL_MIMIC, true);
}

/* Expert tensors in formats other than the rest of the model and than
 * each other, as llama.cpp's mixes write them (the engine refused these
 * files before): Q4_K_M's layers with Q6_K ffn_down_exps beside Q4_K
 * gate/up; gate and up wanting different activation formats (Q4_K: Q8_K,
 * Q5_0: Q8_0); and, with MoE in every layer (F32 runs), two layers with
 * different format triples (two MoE kinds in the engine), in float formats
 * so the tolerance stays TOL_F32. */
static void test_mixed_experts(void)
{
    static const exp_types q4_k_m = {{LB_QTYPE_Q4_K, LB_QTYPE_Q4_K, LB_QTYPE_Q6_K},
                                     {LB_QTYPE_Q4_K, LB_QTYPE_Q4_K, LB_QTYPE_Q6_K},
                                     {LB_QTYPE_Q4_K, LB_QTYPE_Q4_K, LB_QTYPE_Q6_K},
                                     {LB_QTYPE_Q4_K, LB_QTYPE_Q4_K, LB_QTYPE_Q6_K}};
    static const exp_types acts = {{LB_QTYPE_Q4_K, LB_QTYPE_Q5_0, LB_QTYPE_Q8_0},
                                   {LB_QTYPE_Q4_K, LB_QTYPE_Q5_0, LB_QTYPE_Q8_0},
                                   {LB_QTYPE_Q4_K, LB_QTYPE_Q5_0, LB_QTYPE_Q8_0},
                                   {LB_QTYPE_Q4_K, LB_QTYPE_Q5_0, LB_QTYPE_Q8_0}};
    static const exp_types floats = {{LB_QTYPE_F32, LB_QTYPE_F16, LB_QTYPE_BF16},
                                     {LB_QTYPE_BF16, LB_QTYPE_F32, LB_QTYPE_F16},
                                     {LB_QTYPE_F16, LB_QTYPE_BF16, LB_QTYPE_F32},
                                     {LB_QTYPE_F32, LB_QTYPE_F16, LB_QTYPE_BF16}};
    run_case(&specs[4], LB_QTYPE_Q4_K, &q4_k_m, LB_QTYPE_F16, TOL_QUANT, TOL_MIMIC, false);
    run_case(&specs[1], LB_QTYPE_Q8_0, &acts, LB_QTYPE_F16, TOL_QUANT, TOL_MIMIC, false);
    run_case(&specs[1], LB_QTYPE_Q4_K, &q4_k_m, LB_QTYPE_F16, TOL_QUANT, TOL_MIMIC, true);
    run_case(&specs[4], LB_QTYPE_F32, &floats, LB_QTYPE_F32, TOL_F32, TOL_F32, false);
    run_case(&specs[1], LB_QTYPE_F32, &floats, LB_QTYPE_F32, TOL_F32, TOL_F32, false);
}

/* The mistakes the comparison must catch: a reference with the RoPE
 * pairing swapped, or the other GQA head mapping, is more than
 * 2 x TOL_QUANT (and so TOL_F32) away from the correct one on these
 * models. */
static void test_mistakes_matter(void)
{
    const struct ref_opts wrong[2] = {{.swap_rope = true}, {.gqa_modulo = true}};
    for (size_t i = 0; i < LB_ARRAY_LEN(specs); i++) {
        const struct spec *sp = &specs[i];
        struct tmodel *t = tmodel_build(sp, LB_QTYPE_F32, false, NULL);
        for (int w = 0; w < 2; w++) {
            struct rstate a, b;
            rstate_init(&a, sp);
            rstate_init(&b, sp);
            double *ra = malloc(sp->vocab * sizeof *ra), *rb = malloc(sp->vocab * sizeof *rb);
            const struct ref_opts none = {0};
            double worst = 0;
            for (int p = 0; p < 8; p++) {
                const int tok = (int)(lb_test_rand_u64(&rng) % (unsigned)sp->vocab);
                ref_step(t, &a, tok, ra, &none);
                ref_step(t, &b, tok, rb, &wrong[w]);
                double mx = 0;
                for (int j = 0; j < sp->vocab; j++) mx = fmax(mx, fabs(ra[j] - rb[j]));
                worst = fmax(worst, mx / rms_of(ra, sp->vocab));
            }
            if (getenv("LB_ENGINE_TEST_VERBOSE"))
                printf("  %s: %s changes the logits by %.3g of their RMS\n", sp->name,
                       w ? "GQA h % n_kv" : "swapped RoPE pairing", worst);
            CHECK_MSG(worst > 2 * TOL_QUANT, "%s: %s changes the logits by only %.3g", sp->name,
                      w ? "GQA h %% n_kv" : "swapped RoPE pairing", worst);
            free(ra);
            free(rb);
            rstate_free(&a, sp);
            rstate_free(&b, sp);
        }
        tmodel_free(t);
    }
}

/* (5) fill_kv, bad input, unsupported models, bytes per token, op times */
static void test_api(void)
{
    const struct spec *sp = &specs[0]; /* llama, a sliding layer of window 6 */
    struct tmodel *t = tmodel_build(sp, LB_QTYPE_Q8_0, false, NULL);
    const int n_ctx = 32;
    struct lb_engine *e = engine_new(&t->m, pool2, LB_QTYPE_F16, false, n_ctx);
    if (!e) {
        tmodel_free(t);
        return;
    }
    struct lb_error err = {0};
    const float *lg = NULL;
    const int32_t tok = 7, bad_hi = (int32_t)sp->vocab, bad_lo = -1;
    float *base = malloc(sp->vocab * sizeof *base);

    /* bytes per token: the test's own sum of the weights plus KV rows */
    double wbytes = (double)t->m.output_norm.bytes + (double)t->m.output.bytes +
                    (double)lb_qtype_row_bytes(t->m.tok_embd.type, sp->n_embd);
    for (int il = 0; il < sp->n_layer; il++) {
        const struct lb_model_layer *L = &t->layers[il];
        wbytes += (double)(L->attn_norm.bytes + L->ffn_norm.bytes + L->wq.bytes + L->wk.bytes +
                           L->wv.bytes + L->wo.bytes + L->ffn_gate.bytes + L->ffn_up.bytes +
                           L->ffn_down.bytes);
    }
    const double kv_row = 2.0 * sp->n_head_kv * sp->hd * 2; /* K + V, fp16, per position */
    CHECK_NEAR(lb_engine_bytes_per_token(e), wbytes + sp->n_layer * kv_row, 0.5);

    /* fresh engine: one token's logits */
    CHECK_INT_EQ(lb_engine_eval(e, &tok, 1, &lg, &err), LB_OK);
    memcpy(base, lg, sp->vocab * sizeof *base);
    CHECK_INT_EQ(lb_engine_pos(e), 1);
    lb_engine_reset(e);
    CHECK_INT_EQ(lb_engine_pos(e), 0);

    /* fill_kv: advances pos; the same token now sees 10 more positions */
    CHECK_INT_EQ(lb_engine_fill_kv(e, 10, 42, &err), LB_OK);
    CHECK_INT_EQ(lb_engine_pos(e), 10);
    /* 11 positions attended; the sliding layer sees 6 */
    CHECK_NEAR(lb_engine_bytes_per_token(e), wbytes + kv_row * (2 * 11 + 6), 0.5);
    CHECK_INT_EQ(lb_engine_eval(e, &tok, 1, &lg, &err), LB_OK);
    CHECK_INT_EQ(lb_engine_pos(e), 11);
    bool finite = true;
    for (int i = 0; i < sp->vocab; i++) finite = finite && isfinite(lg[i]);
    CHECK(finite);
    CHECK(rel_err_ff(lg, base, sp->vocab) > 1e-3); /* the filled context matters */
    CHECK_INT_EQ(lb_engine_fill_kv(e, 0, 1, &err), LB_OK);
    CHECK_INT_EQ(lb_engine_fill_kv(e, n_ctx - 11 + 1, 1, &err), LB_EINVAL);
    CHECK(strlen(err.msg) > 0);
    CHECK_INT_EQ(lb_engine_pos(e), 11);

    /* bad tokens and overflow: LB_EINVAL, nothing evaluated */
    CHECK_INT_EQ(lb_engine_eval(e, &bad_hi, 1, &lg, &err), LB_EINVAL);
    CHECK_INT_EQ(lb_engine_eval(e, &bad_lo, 1, &lg, &err), LB_EINVAL);
    const int32_t mixed[3] = {1, 2, bad_hi};
    CHECK_INT_EQ(lb_engine_eval(e, mixed, 3, &lg, &err), LB_EINVAL);
    CHECK_INT_EQ(lb_engine_eval(e, mixed, 0, &lg, &err), LB_EINVAL);
    CHECK_INT_EQ(lb_engine_pos(e), 11);
    CHECK_INT_EQ(lb_engine_fill_kv(e, n_ctx - 11, 3, &err), LB_OK);
    CHECK_INT_EQ(lb_engine_pos(e), n_ctx);
    CHECK_INT_EQ(lb_engine_eval(e, &tok, 1, &lg, &err), LB_EINVAL);
    CHECK_INT_EQ(lb_engine_pos(e), n_ctx);

    /* op times were accounted (no value asserted beyond > 0) */
    double ns[LB_ENGINE_OP_COUNT];
    lb_engine_op_times(e, ns);
    CHECK(ns[LB_ENGINE_OP_MATMUL] > 0 && ns[LB_ENGINE_OP_ATTENTION] > 0);
    lb_engine_reset_times(e);
    lb_engine_op_times(e, ns);
    CHECK(ns[LB_ENGINE_OP_MATMUL] == 0);
    CHECK(strcmp(lb_engine_op_name(LB_ENGINE_OP_MOE), "moe") == 0);
    CHECK(strlen(lb_engine_path(e)) > 0);
    lb_engine_destroy(e);

    /* argmax: lowest index on ties */
    const float v[5] = {1, 3, 2, 3, -1};
    CHECK_INT_EQ(lb_engine_argmax(v, 5), 1);

    /* unsupported / invalid configurations */
    struct lb_engine_config cfg = {.n_ctx = 16, .kv_type = LB_QTYPE_F16, .isa = LB_ISA_SCALAR};
    struct lb_engine *x = NULL;
    t->m.hp.arch = LB_MODEL_ARCH_GPT_OSS;
    CHECK_INT_EQ(lb_engine_create(&t->m, &cfg, pool1, &x, &err), LB_EUNSUPPORTED);
    CHECK(strstr(err.msg, "gpt-oss") != NULL);
    CHECK(x == NULL);
    t->m.hp.arch = LB_MODEL_ARCH_LLAMA;
    cfg.kv_type = LB_QTYPE_Q4_0;
    CHECK_INT_EQ(lb_engine_create(&t->m, &cfg, pool1, &x, &err), LB_EINVAL);
    cfg.kv_type = LB_QTYPE_F16;
    cfg.n_ctx = 0;
    CHECK_INT_EQ(lb_engine_create(&t->m, &cfg, pool1, &x, &err), LB_EINVAL);
    cfg.n_ctx = 16;
    const void *keep = t->layers[1].wk.data;
    t->layers[1].wk.data = NULL;
    CHECK_INT_EQ(lb_engine_create(&t->m, &cfg, pool1, &x, &err), LB_EINVAL);
    CHECK(strstr(err.msg, "blk.1.attn_k.weight") != NULL);
    t->layers[1].wk.data = keep;
    CHECK_INT_EQ(lb_engine_create(&t->m, &cfg, pool1, &x, &err), LB_OK);
    lb_engine_destroy(x);
    free(base);
    tmodel_free(t);
}

int main(void)
{
    rng = lb_test_seed();
    struct lb_error err = {0};
    if (lb_hw_discover(&hw, &err) != LB_OK) {
        fprintf(stderr, "hw: %s\n", err.msg);
        return 1;
    }
    struct lb_pool_config pc = {.n_threads = 1, .pin = LB_PIN_NONE, .numa_node = -1};
    if (lb_pool_create(hw, &pc, &pool1, &err) != LB_OK) {
        fprintf(stderr, "pool: %s\n", err.msg);
        return 1;
    }
    pc.n_threads = 2;
    if (lb_pool_create(hw, &pc, &pool2, &err) != LB_OK) {
        fprintf(stderr, "pool: %s\n", err.msg);
        return 1;
    }
    LB_RUN(test_mistakes_matter);
    LB_RUN(test_f32);
    LB_RUN(test_quant);
    LB_RUN(test_mixed_experts);
    LB_RUN(test_api);
    lb_pool_destroy(pool2);
    lb_pool_destroy(pool1);
    lb_hw_free(hw);
    return lb_test_finish();
}
