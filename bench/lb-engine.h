/* lb-engine.h: the decode engine, a transformer forward pass on the CPU
 * kernels of kernels/ (GEMV, attention, MoE: the same functions the
 * micro-benchmarks measure, DESIGN.md "one kernel, two uses").
 *
 * Workload: one token at a time (decode) or a few at a time (prefill,
 * speculative), each layer a chain of short parallel phases on the pinned
 * pool: norm, Q/K/V GEMVs, RoPE + KV append, attention (flash-decoding
 * split + merge), output GEMV, norm, FFN (dense SwiGLU or MoE), then the
 * final norm and the LM head; one pool region per chunk of up to
 * LB_GEMV_MAX_BATCH tokens, the phases separated by in-region barriers. Every buffer a step needs (activations, KV
 * cache, attention and MoE scratch) is allocated once at create time.
 *
 * Per architecture (llama.cpp's conventions, so GGUF files from the wild
 * compute what llama.cpp computes):
 *   llama (incl. Mistral, Mixtral): RoPE NORM (pairs 2i, 2i+1), optional
 *     Llama 3 frequency factors (lb_model.rope_freqs); MoE when
 *     hp.moe.present (softmax top-k, weights renormalised);
 *   qwen2: Q/K/V biases, RoPE NEOX (pairs i, i + head_dim/2);
 *   qwen3: per-head RMSNorm of Q and K before RoPE, RoPE NEOX;
 *   qwen3moe: qwen3 attention + MoE FFN (norm_topk_prob from hp).
 * RoPE angle for pair i at position p: p * base^(-2i/head_dim) / f_i (f_i
 * the frequency factor, 1 without), divided again by the linear scaling
 * factor when hp.rope.scaling is LINEAR.
 */
#ifndef LB_ENGINE_H
#define LB_ENGINE_H

#include <stdint.h>

#include "../hw/lb-pool.h"
#include "../kernels/lb-base.h"
#include "../kernels/lb-isa.h"
#include "../kernels/lb-quant.h"
#include "lb-model.h"

#ifdef __cplusplus
extern "C" {
#endif

struct lb_engine_config {
    int n_ctx;                          /* KV positions allocated, >= 1 */
    enum lb_qtype kv_type;              /* F32, F16 (llama.cpp's default), BF16, Q8_0 */
    enum lb_isa isa;                    /* cap on code paths */
    const struct lb_cpu_features *feat; /* NULL: scalar reference paths */
    bool time_ops;                      /* accumulate per-op wall time */
};

/* Where a step's wall time goes (when time_ops is set). A step is one
 * pool region whose phases end at in-region barriers (docs/engine.md);
 * the calling thread (worker 0) reads the clock after each barrier and
 * charges the phase that ended; the buckets add up to the step's wall
 * time. */
enum lb_engine_op {
    LB_ENGINE_OP_MATMUL = 0, /* dense GEMVs: Q/K/V/O, dense FFN, LM head */
    LB_ENGINE_OP_ATTENTION,  /* RoPE, KV append, attention partial + merge */
    LB_ENGINE_OP_MOE,        /* router, routing, expert dispatch */
    LB_ENGINE_OP_OTHER,      /* norms, residual adds, embedding lookup, argmax */
    LB_ENGINE_OP_COUNT
};
const char *lb_engine_op_name(enum lb_engine_op op); /* "matmul", ... */

struct lb_engine;

/* LB_EUNSUPPORTED for a model the engine cannot run (the engine's own
 * check, the same rules as lb_model_check_supported); LB_EINVAL for a bad config; LB_ENOMEM. The model and pool
 * must outlive the engine. */
enum lb_status lb_engine_create(const struct lb_model *m,
                                const struct lb_engine_config *cfg,
                                struct lb_pool *pool, struct lb_engine **out,
                                struct lb_error *err);
void lb_engine_destroy(struct lb_engine *e);

/* Empties the KV cache: the next token goes to position 0. */
void lb_engine_reset(struct lb_engine *e);
/* Tokens in the KV cache (the next token's position). */
int lb_engine_pos(const struct lb_engine *e);
/* Forgets the positions from pos on (0 <= pos <= lb_engine_pos): the next
 * token goes to position pos, the cache rows before it are kept. Lets a
 * benchmark repeat generation from the same depth without refilling. */
void lb_engine_truncate(struct lb_engine *e, int pos);

/* Evaluates tokens[0..n) at positions pos .. pos+n-1, appending their K/V,
 * and points *logits at the last token's logits (hp.vocab_size floats,
 * valid until the next call). n > 1 runs the matrices in batches of up to
 * LB_GEMV_MAX_BATCH tokens (lb_gemv_rows_batch), each weight row read once
 * per batch; attention stays causal. LB_EINVAL when a token id is outside
 * [0, vocab) or pos + n exceeds n_ctx. */
enum lb_status lb_engine_eval(struct lb_engine *e, const int32_t *tokens, int n,
                              const float **logits, struct lb_error *err);

/* Index of the largest logit, the lowest index on ties (greedy decoding). */
int32_t lb_engine_argmax(const float *logits, int64_t n);

/* Appends n positions of synthetic K/V (random values of the magnitude
 * real keys and values have) to every layer's cache, as if n tokens had
 * been evaluated: a context of depth n for decode benchmarks without the
 * prefill's time. LB_EINVAL when pos + n exceeds n_ctx. */
enum lb_status lb_engine_fill_kv(struct lb_engine *e, int n, uint64_t seed,
                                 struct lb_error *err);

/* Accumulated per-op wall time since create or the last reset_times, ns. */
void lb_engine_op_times(const struct lb_engine *e, double ns[LB_ENGINE_OP_COUNT]);
void lb_engine_reset_times(struct lb_engine *e);

/* Bytes one decoded token reads at the current position: the model's
 * weights per token (lb_model_bytes_per_token) plus the K and V cache
 * rows attention streams (per layer: window-limited for sliding layers). */
double lb_engine_bytes_per_token(const struct lb_engine *e);

/* Code path of the matrices, e.g. "avx512_vnni" (for reports). */
const char *lb_engine_path(const struct lb_engine *e);

#ifdef __cplusplus
}
#endif
#endif
