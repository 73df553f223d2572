/* lb-ops.h: the small elementwise operations of a transformer forward pass
 * (RMSNorm, per-head RMSNorm, RoPE, SwiGLU, residual add, embedding row
 * lookup, argmax), used by the decode engine (bench/engine.c).
 *
 * Workload: per token and layer these touch a few thousand floats (n_embd,
 * n_head x head_dim, n_ff), microseconds next to the GEMVs that stream the
 * weights, so they are plain C without ISA files. Pure compute: whoever
 * calls them splits the work (ranges of heads, rows, blocks); the few that
 * take (ith, nth) split their own range with lb_split.
 *
 * Arithmetic follows ggml's CPU ops where that matters for agreement with
 * llama.cpp: RMSNorm sums squares in double and scales by
 * 1 / sqrtf(mean + eps) in float; SwiGLU is silu(g) * u with
 * silu(v) = v / (1 + exp(-v)).
 */
#ifndef LB_OPS_H
#define LB_OPS_H

#include <stdint.h>

#include "lb-base.h"
#include "lb-quant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ggml's rope modes (the same values as lb-profile.h's enum
 * lb_model_rope_type): NORM rotates (x[2i], x[2i+1]) (Llama); NEOX rotates
 * (x[i], x[i + head_dim/2]) (Qwen, GPT-NeoX). */
enum lb_rope_mode { LB_ROPE_NORM = 0, LB_ROPE_NEOX = 1 };

/* y[i] = x[i] * w[i] / sqrt(mean(x^2) + eps), n elements; w NULL means
 * all ones. y may equal x. */
void lb_rms_norm(const float *x, const float *w, float *y, int64_t n, float eps);

/* In place, each of n_heads rows of head_dim elements normalised on its
 * own and multiplied by w[head_dim] (Qwen3's q_norm / k_norm). */
void lb_rms_norm_heads(float *x, const float *w, int n_heads, int head_dim, float eps);

/* The rotation table of one position: cs[2i] = cos(theta_i),
 * cs[2i+1] = sin(theta_i) for the head_dim/2 pairs, with
 *     theta_i = pos * base^(-2i / head_dim) / factors[i] * freq_scale
 * (factors NULL: 1; freq_scale = 1 / linear scaling factor, 1 without).
 * Angles in double so that long positions keep their precision. */
void lb_rope_table(float *cs, int head_dim, int64_t pos, double base,
                   const float *factors, double freq_scale);

/* Rotates n_heads rows of head_dim elements in place with a table from
 * lb_rope_table, pairs chosen by mode. */
void lb_rope(float *x, int n_heads, int head_dim, const float *cs,
             enum lb_rope_mode mode);

/* h[i] = silu(g[i]) * u[i], silu(v) = v / (1 + exp(-v)); h may alias g or u. */
void lb_swiglu(const float *g, const float *u, float *h, int64_t n);

/* x[i] += y[i]. */
void lb_add(float *x, const float *y, int64_t n);

/* Row `row` of a [n_rows x ne0] table in format type, elements
 * lb_split(ne0, block, ith, nth) of it dequantized into out[0..ne0) (out
 * is the whole row; each worker fills its part). The format's traits
 * dequantize, so a GGUF table decodes as ggml decodes it. */
void lb_get_row(enum lb_qtype type, const void *table, int64_t ne0,
                int64_t row, float *out, int ith, int nth);

/* Index of the largest element, the lowest index on ties; NaN never wins
 * (an all-NaN input gives 0). n >= 1. */
int64_t lb_argmax_f32(const float *x, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
