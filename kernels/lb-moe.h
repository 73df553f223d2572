/* lb-moe.h: mixture-of-experts routing and expert dispatch, the FFN of
 * Qwen3-MoE, Mixtral, gpt-oss and DeepSeek-V3 decoder layers.
 *
 * Workload (decode): per token and layer, a router GEMV (n_expert x
 * n_embd, tiny) picks k of n_expert experts; each picked expert is a
 * SwiGLU FFN of three quantized matrices, i.e. three GEMVs
 * (kernels/lb-gemv.h) over weights that were, for most experts, last read
 * one token or more ago. So a token streams k x 3 expert matrices: the
 * same bytes-per-token problem as a dense GEMV, cut into k x 3 smaller
 * matrices picked at run time. Batched (n_tok tokens: speculative or
 * batched decode, prefill) each expert's weights are read once for all of
 * its tokens.
 *
 * Routing: lb_moe_route, one token, plain C (n_expert <= 512: the cost is
 * a few us at most, next to 10-100 MB of expert weights).
 * Dispatch: lb_moe_ffn (shapes + the GEMVs, per format and ISA) and an
 * lb_moe_dispatch (plan + scratch), run as LB_MOE_PHASES parallel phases
 * with a barrier between them (pool regions; kernels know only (ith,
 * nth)): phase 0 quantizes x once per token (per activation format the
 * gate/up matrices need), phase 1 the gate/up GEMVs and SwiGLU, phase 2
 * the down GEMVs (or their reduction). See kernels/cpu/moe.c for the work
 * split, and docs/moe.md for measured numbers.
 */
#ifndef LB_MOE_H
#define LB_MOE_H

#include "lb-base.h"
#include "lb-gemv.h"
#include "lb-isa.h"
#include "lb-quant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bounds: 512 experts covers Nemotron 3 Super (512, the largest in
 * shared/reference/models.md); k <= 32 covers its top-22; 64 groups is
 * 8x DeepSeek-V3's. Fixed so that routing needs no allocation. */
#define LB_MOE_MAX_EXPERTS 512
#define LB_MOE_MAX_K 32
#define LB_MOE_MAX_GROUPS 64

/* ---- routing ----------------------------------------------------------
 * Gating variants, as the models' public reference code computes them
 * (citations in kernels/cpu/moe.c):
 *  SOFTMAX: p = softmax(logits) over all experts, top-k of p, and with
 *    norm_topk w = p_sel / sum(p_sel) (Qwen3-MoE norm_topk_prob = true;
 *    Mixtral's softmax over the top-k logits is the same number), else
 *    w = p_sel (Qwen2-MoE norm_topk_prob = false).
 *  SIGMOID_GROUP (DeepSeek-V3): s = sigmoid(logits); selection score
 *    c = s + bias (bias used ONLY for selection); with n_group > 1, each
 *    group of n_expert / n_group consecutive experts scores the sum of its
 *    two largest c, the topk_group best groups are kept, and top-k of c is
 *    taken among their experts only; w = s_sel (unbiased), divided by
 *    their sum when norm_topk.
 *  TOPK_SOFTMAX (gpt-oss): top-k of the logits, w = softmax over those k
 *    logits. Mathematically SOFTMAX with norm_topk, without the
 *    exponentials of the n_expert - k unpicked experts.
 * Every variant then multiplies w by `scaling` (DeepSeek-V3's
 * routed_scaling_factor 2.5; 1 elsewhere).
 *
 * Selection order and ties: experts are ranked by selection score, higher
 * first, and on equal scores the LOWER expert index first (groups alike:
 * lower group index first). ids[] comes out in that rank order. SOFTMAX
 * and TOPK_SOFTMAX rank by the logits themselves (the softmax is
 * monotonic; ranking the rounded probabilities could tie two distinct
 * logits). NaN logits are a programmer error (unchecked). */
enum lb_moe_gating {
    LB_MOE_GATING_SOFTMAX = 0,
    LB_MOE_GATING_SIGMOID_GROUP,
    LB_MOE_GATING_TOPK_SOFTMAX,
    LB_MOE_GATING_COUNT,
};

struct lb_moe_router {
    enum lb_moe_gating kind;
    int n_expert;        /* routed experts, 1..LB_MOE_MAX_EXPERTS */
    int k;               /* experts per token, 1..min(n_expert, LB_MOE_MAX_K) */
    bool norm_topk;      /* SOFTMAX, SIGMOID_GROUP: weights / their sum */
    int n_group;         /* SIGMOID_GROUP: groups (<= 1: no group limit);
                            divides n_expert, >= 2 experts per group */
    int topk_group;      /* groups kept, 1..n_group; k <= topk_group x group size */
    float scaling;       /* multiplies the final weights; 1 = none; > 0 */
    const float *bias;   /* SIGMOID_GROUP: [n_expert] selection-only bias
                            (e_score_correction_bias), NULL = zeros */
};

const char *lb_moe_gating_name(enum lb_moe_gating g);
/* LB_EINVAL with a message when a field is out of the ranges above. */
enum lb_status lb_moe_router_check(const struct lb_moe_router *r, struct lb_error *err);
/* One token: logits [n_expert] (the router GEMV's output, any router bias
 * already added) -> ids [k] (distinct, rank order) and weights [k].
 * LB_ASSERTs what lb_moe_router_check checks cheaply. */
void lb_moe_route(const struct lb_moe_router *r, const float *logits, int *ids,
                  float *weights);

/* ---- expert FFN ------------------------------------------------------- */

/* One MoE layer's shapes. An expert is out = W_down . (silu(W_gate . x) *
 * (W_up . x)) (SwiGLU, as Qwen, Mixtral and DeepSeek; gpt-oss's clamped
 * variant with alpha 1.702 differs only in this elementwise step, which
 * costs nothing next to the weight traffic). */
struct lb_moe_shape {
    int64_t n_embd;      /* hidden size: x, out; cols of gate/up, rows of down */
    int64_t n_ff;        /* one routed expert's width: rows of gate/up, cols of down */
    int n_expert;        /* routed experts in the layer */
    /* Shared expert (Qwen2-MoE, DeepSeek), 0 = none: width of the one
     * always-on SwiGLU expert (DeepSeek-V3: n_shared_experts x
     * moe_inter_dim = 2048). It is added with weight 1: DeepSeek adds it
     * ungated; Qwen2-MoE's extra sigmoid(shared_expert_gate . x) factor is
     * a 1-row GEMV, left out here. */
    int64_t n_ff_shared;
};

/* Weights of one layer in GGUF's layout: ggml's 3-D ffn_gate_exps /
 * ffn_up_exps (ne = [n_embd, n_ff, n_expert]) and ffn_down_exps (ne =
 * [n_ff, n_embd, n_expert]) are expert-major, so expert e's gate matrix is
 * n_ff rows of n_embd elements starting at gate + e * ffn->gate_bytes
 * (up: e * ffn->up_bytes; down: e * ffn->down_bytes; each tensor in its
 * own format, struct lb_moe_types). */
struct lb_moe_weights {
    const void *gate, *up;          /* [n_expert][n_ff][n_embd] */
    const void *down;               /* [n_expert][n_embd][n_ff] */
    const void *sh_gate, *sh_up;    /* [n_ff_shared][n_embd]; NULL if none */
    const void *sh_down;            /* [n_embd][n_ff_shared] */
};

/* The weight format of each matrix of a layer. llama.cpp's mixes store
 * them differently: Q4_K_M / Q5_K_M / Q3_K_M quantize ffn_down_exps with
 * more bits than gate/up in some layers (llama-quantize's use_more_bits:
 * Q6_K down beside Q4_K gate/up), row widths that are not a multiple of
 * 256 fall back to a 32-element format per tensor (Q5_0, Q8_0, IQ4_NL),
 * and nothing stops gate and up from differing too. Each matrix then has
 * its own GEMV, and gate and up may want different activation formats
 * (Q4_K dots Q8_K, Q5_0 dots Q8_0): the dispatch quantizes x once per
 * token for each distinct one. */
struct lb_moe_types {
    enum lb_qtype gate, up, down;          /* routed experts */
    enum lb_qtype sh_gate, sh_up, sh_down; /* shared expert (unused without one) */
};
/* Every matrix in t: the pure mixes (--quant in the moe suite). */
static inline struct lb_moe_types lb_moe_types_uniform(enum lb_qtype t)
{
    struct lb_moe_types r = {t, t, t, t, t, t};
    return r;
}

/* A layer's GEMVs, one per matrix (formats in types), for one code path. */
struct lb_moe_ffn {
    struct lb_moe_shape shape;
    struct lb_moe_types types;
    struct lb_gemv gate, up;  /* one expert's gate, up: n_ff x n_embd */
    struct lb_gemv down;      /* one expert's down: n_embd x n_ff */
    struct lb_gemv sh_gate, sh_up, sh_down; /* shared expert; zeroed when none */
    size_t gate_bytes;        /* one expert's gate matrix, bytes */
    size_t up_bytes;          /* one expert's up matrix, bytes */
    size_t down_bytes;        /* one expert's down matrix, bytes */
    size_t sh_gate_bytes, sh_up_bytes, sh_down_bytes;
};

/* LB_EINVAL (the message names the matrix) when a width is not a multiple
 * of a matrix's format (or its activation format's) block, e.g. K-quants
 * need multiples of 256 (gpt-oss's 2880 is not), or a shape is empty /
 * n_expert out of range. lb_moe_ffn_init: every matrix in wtype. */
enum lb_status lb_moe_ffn_init_types(struct lb_moe_ffn *f, const struct lb_moe_shape *s,
                                     const struct lb_moe_types *types, enum lb_isa isa_cap,
                                     const struct lb_cpu_features *feat, struct lb_error *err);
enum lb_status lb_moe_ffn_init(struct lb_moe_ffn *f, const struct lb_moe_shape *s,
                               enum lb_qtype wtype, enum lb_isa isa_cap,
                               const struct lb_cpu_features *feat, struct lb_error *err);
/* Whether the routed gate, up and down formats are all the same. */
bool lb_moe_types_pure(const struct lb_moe_types *t);
/* "q4_k" when pure, else "q4_k/q4_k/q6_k" (gate/up/down) into buf. */
const char *lb_moe_types_name(const struct lb_moe_types *t, char *buf, size_t size);
/* Bytes of the whole layer (all experts + shared), per weights buffer set. */
size_t lb_moe_ffn_layer_bytes(const struct lb_moe_ffn *f);
/* Bytes of one routed expert (gate + up + down) and of the shared one. */
size_t lb_moe_ffn_expert_bytes(const struct lb_moe_ffn *f);
size_t lb_moe_ffn_shared_bytes(const struct lb_moe_ffn *f);

/* How the workers share a dispatch:
 *  ROWS: every worker takes a slice of every expert: phase 1 splits the
 *    concatenated gate/up rows of all picked experts (in whole activation
 *    blocks, so each worker also quantizes its own slice of h), phase 2
 *    splits the n_embd output rows (each worker runs every expert's down
 *    GEMV over its rows and owns those output elements).
 *  EXPERTS: worker ith takes whole experts (items ith, ith + nth, ...):
 *    gate, up, SwiGLU, down of one expert at a time, into a per-token-slot
 *    buffer; phase 2 sums those per output row.
 *  AUTO: the faster one as measured on the development machine (see
 *    docs/moe.md and moe.c's choose_split). */
enum lb_moe_split {
    LB_MOE_SPLIT_AUTO = 0,
    LB_MOE_SPLIT_ROWS,
    LB_MOE_SPLIT_EXPERTS,
};
const char *lb_moe_split_name(enum lb_moe_split s);
bool lb_moe_split_parse(const char *s, enum lb_moe_split *out);

/* The tokens of one dispatch call. */
struct lb_moe_tokens {
    int n_tok;              /* 1..n_tok_max of the dispatch */
    const float *x;         /* [n_tok][n_embd] */
    const int *ids;         /* [n_tok][k] expert ids in [0, n_expert) */
    const float *weights;   /* [n_tok][k] routing weights */
    float *out;             /* [n_tok][n_embd], overwritten */
};

/* Plan + scratch for calls of up to n_tok_max tokens with k experts each
 * (owned by the caller; not shared between concurrent calls). */
struct lb_moe_dispatch;
enum lb_status lb_moe_dispatch_create(const struct lb_moe_ffn *f, int n_tok_max, int k,
                                      struct lb_moe_dispatch **out, struct lb_error *err);
void lb_moe_dispatch_destroy(struct lb_moe_dispatch *d);

/* Serial, on the calling thread, before phase 0: buckets the tokens by
 * expert (a counting sort, stable in token order), resolves AUTO for nth
 * workers, and points the phases at w and t (which must stay valid until
 * the last phase returns). */
void lb_moe_dispatch_plan(struct lb_moe_dispatch *d, const struct lb_moe_weights *w,
                          const struct lb_moe_tokens *t, enum lb_moe_split split, int nth);
/* Phase p (0 .. LB_MOE_PHASES-1) for worker ith of nth (the nth given to
 * plan): run it on all workers, then a barrier, then the next phase. */
#define LB_MOE_PHASES 3
void lb_moe_dispatch_phase(struct lb_moe_dispatch *d, int phase, int ith, int nth);
/* The split the last plan resolved to (ROWS or EXPERTS). */
enum lb_moe_split lb_moe_dispatch_split(const struct lb_moe_dispatch *d);

/* Result contract. out[t] = sum over t's k picks of weight x expert(x_t),
 * plus the shared expert, summed in ascending expert id (equal ids in slot
 * order), the shared expert last, starting from 0.0f. The sum order and
 * every GEMV row are the same whatever n_tok, split or nth, so a batched
 * call equals n_tok single-token calls BIT FOR BIT, and ROWS equals
 * EXPERTS, given that lb_gemv_rows_batch returns what lb_gemv_rows returns
 * for each row (true of kernels/cpu/gemv.c, which calls the same dot;
 * tests/test-moe.c checks it). */

#ifdef __cplusplus
}
#endif
#endif
