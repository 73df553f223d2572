/* lb-attn.h: decode attention over a KV cache (one query position) and the
 * cache append, the kernels that set decode speed at long context.
 *
 * Workload: one new token attends to n_ctx cached positions. Per layer the
 * whole K and V cache is streamed once (2 x n_head_kv x n_ctx rows), so at
 * 32K+ context attention is a bandwidth kernel like GEMV; the arithmetic
 * (4 x n_head x n_ctx x head_dim FLOP) is 2 x G FLOP per cached element,
 * G = n_head / n_head_kv (GQA group), which must stay under the bandwidth.
 *
 * Cache layout, per layer, for K and for V separately:
 *     [n_head_kv][n_ctx_max][head_dim]
 * i.e. each kv head's positions are contiguous, one row of head_dim
 * elements per position in the cache type: F32, F16, BF16 (row bytes
 * 4 or 2 x head_dim) or Q8_0 (head_dim / 32 blocks of 34 bytes, ggml's
 * block_q8_0; head_dim a multiple of 32). Row p of kv head g starts at
 *     g * n_ctx_max * row_bytes + p * row_bytes.
 * Contiguous positions per head is what makes the context split below
 * stream disjoint, sequential byte ranges per worker.
 *
 * Semantics (query head h reads kv head h / G):
 *     s_p = scale * q_h . K[g][p]            for p in [lo, n_ctx)
 *     lo  = window ? max(0, n_ctx - window) : 0   (the last `window` attend)
 *     o_h = sum_p exp(s_p - M) V[g][p] / (sum_p exp(s_p - M) + exp(sink_h - M))
 * with M = max(max_p s_p, sink_h); the sink term (gpt-oss: a learned logit
 * per head) only enlarges the denominator and is absent when sinks == NULL.
 * n_ctx == 0 (or an empty window) gives o = 0.
 *
 * Work split (flash-decoding): worker (ith, nth) of lb_attn_partial takes
 * the contiguous positions lb_split(n_ctx - lo, LB_ATTN_SPLIT_ALIGN, ith,
 * nth) (offset by lo) for ALL heads, so workers stream disjoint parts of
 * the cache. Each writes, per query head, a partial (running max m, sum l,
 * unnormalised accumulator acc[head_dim]) of an online softmax into its
 * part of a caller-provided scratch. After a barrier (the end of the pool
 * region), lb_attn_merge combines the n_parts partials per head; it splits
 * the heads over its own (ith, nth), so it can be a second pool region.
 *
 * Accuracy: cached values are dequantized exactly to f32 (fp16, bf16 and
 * fp16 scale x int8 all fit f32's significand), so every path differs from
 * an exact softmax only by f32 rounding of the dot products, exp and sums;
 * tests/test-attn.c bounds that against a float64 reference. q is not
 * quantized for Q8_0 caches (docs/attention.md: why).
 *
 * Code paths: a scalar reference (always compiled) and ISA tables
 * (kernels/cpu/x86/attn-avx2.c, attn-avx512.c); lb_attn_kernel_init picks
 * the best one allowed by the ISA cap and the CPU features. How to add a
 * path: write the partial function in the ISA's file, add a row to that
 * file's table; kernels/cpu/attn.c lists the tables; tests run every row.
 */
#ifndef LB_ATTN_H
#define LB_ATTN_H

#include <stddef.h>
#include <stdint.h>

#include "lb-base.h"
#include "lb-isa.h"
#include "lb-quant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Positions per block of the context split: a whole number of the SIMD
 * paths' 16-position tiles, so only the last worker has a partial tile. */
#define LB_ATTN_SPLIT_ALIGN 16
/* Largest head_dim the kernels accept (their per-tile stack buffers are
 * sized for it): 256 covers every model in shared/reference/models.md. */
#define LB_ATTN_MAX_HEAD_DIM 256
/* Largest GQA group n_head / n_head_kv (stack buffers of the SIMD paths
 * hold one 16-position tile of weights per head of a group): 128 covers
 * multi-query attention of every model in the reference list. */
#define LB_ATTN_MAX_GROUP 128

struct lb_attn_shape {
    int n_head;          /* query heads, a multiple of n_head_kv */
    int n_head_kv;       /* kv heads */
    int head_dim;        /* elements per row; multiple of 16 (32 for Q8_0),
                            <= LB_ATTN_MAX_HEAD_DIM */
    int n_ctx;           /* cached positions attended now, <= n_ctx_max */
    int n_ctx_max;       /* positions allocated per kv head (layout stride) */
    int window;          /* sliding window in positions; 0 = none */
    const float *sinks;  /* [n_head] sink logits (same units as scale*q.k),
                            or NULL */
    float scale;         /* logit scale, usually 1 / sqrt(head_dim) */
};

/* Partial of one worker over its positions [begin, end), all heads: for
 * query head h, part + h * lb_attn_part_stride(s) floats holds
 * [0] = m (running max, -INFINITY when no position), [1] = l (sum of
 * exp(s_p - m)), [LB_ATTN_ACC_OFFSET ..] = acc[head_dim]. */
typedef void (*lb_attn_partial_fn)(const struct lb_attn_shape *s,
                                   const float *q, const void *K,
                                   const void *V, float *part, size_t begin,
                                   size_t end);

/* Floats before acc in a head's record: one 64-byte line, so acc is
 * aligned for full-width vector access. */
#define LB_ATTN_ACC_OFFSET 16

/* CPU features an implementation needs beyond its ISA level's baseline. */
enum lb_attn_requires {
    LB_ATTN_REQ_NONE = 0,
};

struct lb_attn_impl {
    enum lb_qtype cache_type;
    enum lb_isa isa;            /* level whose file defines it */
    unsigned requires;          /* enum lb_attn_requires bits */
    const char *path;           /* shown in reports: "avx512", "scalar" */
    lb_attn_partial_fn partial;
};

/* An attention kernel chosen for one cache type and code path. */
struct lb_attn_kernel {
    enum lb_qtype cache_type;
    enum lb_isa isa;
    lb_attn_partial_fn partial;
    char path[32];
};

/* Picks the best implementation for cache_type allowed by isa_cap and f
 * (f may be NULL: scalar reference). LB_EINVAL for a cache type other
 * than F32, F16, BF16, Q8_0. */
enum lb_status lb_attn_kernel_init(struct lb_attn_kernel *k,
                                   enum lb_qtype cache_type,
                                   enum lb_isa isa_cap,
                                   const struct lb_cpu_features *f,
                                   struct lb_error *err);

/* Checks a shape against a cache type (recoverable: LB_EINVAL with the
 * reason); the other entry points LB_ASSERT what this checks. */
enum lb_status lb_attn_shape_check(const struct lb_attn_shape *s,
                                   enum lb_qtype cache_type,
                                   struct lb_error *err);

/* Bytes of one cache row (one position of one kv head). */
size_t lb_attn_row_bytes(const struct lb_attn_shape *s, enum lb_qtype cache_type);
/* Bytes of the whole K (or V) cache: n_head_kv x n_ctx_max rows. */
size_t lb_attn_cache_bytes(const struct lb_attn_shape *s, enum lb_qtype cache_type);

/* Floats per head record in a partial (see lb_attn_partial_fn). */
size_t lb_attn_part_stride(const struct lb_attn_shape *s);
/* Scratch bytes for n_parts partials (one per worker of lb_attn_partial).
 * The scratch must be 64-byte aligned. */
size_t lb_attn_scratch_bytes(const struct lb_attn_shape *s, int n_parts);

/* Positions worker ith of nth covers: [*begin, *end), absolute. */
void lb_attn_split(const struct lb_attn_shape *s, int ith, int nth,
                   size_t *begin, size_t *end);

/* Worker ith of nth: its share of the context, all heads, into part ith
 * of scratch. q: [n_head][head_dim] f32. K, V: caches in k->cache_type
 * with the layout above. Every part is written, also for an empty share. */
void lb_attn_partial(const struct lb_attn_kernel *k,
                     const struct lb_attn_shape *s, const float *q,
                     const void *K, const void *V, void *scratch, int ith,
                     int nth);

/* Combines n_parts partials into out [n_head][head_dim], for the heads
 * lb_split(n_head, 1, ith, nth) gives ith; applies the sinks. Plain C:
 * n_parts x n_head x head_dim work, small next to the partials. */
void lb_attn_merge(const struct lb_attn_shape *s, const void *scratch,
                   int n_parts, float *out, int ith, int nth);

/* Writes position pos (< n_ctx_max) of every kv head: k_new, v_new are
 * [n_head_kv][head_dim] f32, stored with the format's reference quantizer
 * (lb_quantize_q8_0_ref for Q8_0: byte-identical blocks; lb_f32_to_fp16 /
 * lb_f32_to_bf16 round to nearest even). */
void lb_attn_append(const struct lb_attn_shape *s, enum lb_qtype cache_type,
                    void *K, void *V, int pos, const float *k_new,
                    const float *v_new);

/* ---- implementation tables (dispatch and tests) --------------------- */

/* Every implementation compiled in, scalar first: fills up to max
 * entries, returns the count. */
size_t lb_attn_impls_all(const struct lb_attn_impl **out, size_t max);
/* Whether this CPU runs impl (its level and its requires bits). */
bool lb_attn_impl_usable(const struct lb_attn_impl *impl,
                         const struct lb_cpu_features *f);
/* The scalar reference partial, shared by every cache type. */
void lb_attn_partial_ref(const struct lb_attn_shape *s, const float *q,
                         const void *K, const void *V, float *part,
                         size_t begin, size_t end, enum lb_qtype cache_type);

/* Tables of the ISA files, each ending with a row whose partial is NULL. */
extern const struct lb_attn_impl lb_attn_impls_avx2[];
extern const struct lb_attn_impl lb_attn_impls_avx512[];

#ifdef __cplusplus
}
#endif
#endif
