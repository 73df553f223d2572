/* lb-fill.h: fast random weights in any format of lb-quant.h, for
 * benchmarks that need hundreds of MiB to GiBs of valid weights.
 *
 * Why not quantize random floats: the reference quantizers search scales
 * (~100 ns per element), so one Qwen3-30B-A3B MoE layer (604M weights)
 * would take a minute to set up. A benchmark that streams weights needs
 * blocks that are valid and decode to sane values, not a particular
 * distribution: this writes random bytes for the quants (every bit
 * pattern of a nibble / 2-bit / 6-bit field is a valid code) and draws
 * each block's scale fields from a small table of sane values, at GB/s.
 *
 * What "valid and sane" means here, per field kind:
 *  - fp16 scales (d, dmin): finite non-zero fp16 (Q6_K's and IQ4_XS's
 *    smallest are fp16 subnormals, as in real files), magnitude in
 *    [max/2, max] where max makes the block's largest possible decoded
 *    value about LB_FILL_WEIGHT_MAX (a weight scale of real checkpoints);
 *    signed where ggml's quantizers write either sign (d of Q4_0, Q5_0,
 *    Q8_0, Q3_K, Q6_K, IQ4_*), positive where they never write a negative
 *    (Q4_1/Q5_1 d; d and dmin of Q2_K/Q4_K/Q5_K);
 *  - offsets are centred: Q4_1/Q5_1's m and the mins of Q2_K/Q4_K/Q5_K
 *    sub-blocks are set so that the middle code decodes near zero (x 0.9
 *    .. 1.1), as a quantizer sets them for zero-centred weights; random
 *    ones would put whole blocks above or below zero;
 *  - MXFP4's E8M0 exponent: 2^(e-128) * 12 near LB_FILL_WEIGHT_MAX;
 *  - int8 quants (Q8_0, Q8_1, Q8_K): in [-127, 127], as ggml's quantizers
 *    write them (-128 never occurs in a real file);
 *  - derived fields are made consistent: Q8_1's s = d * sum(q), Q8_K's
 *    bsums; Q8_K's d is an f32;
 *  - F32 / F16 / BF16: random sign, mantissa and a small exponent range,
 *    magnitudes in [2^-7, 2^-3): finite, no subnormals.
 * Deterministic: the same (type, n_elems, seed) gives the same bytes on
 * every machine (splitmix64 stream, fixed consumption order).
 */
#ifndef LB_FILL_H
#define LB_FILL_H

#include <stdint.h>

#include "lb-quant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest decoded magnitude the scales aim at (about; a block's actual
 * maximum depends on its random quants): real checkpoints have most
 * weights below 0.1 with outliers near 1. */
#define LB_FILL_WEIGHT_MAX 0.25f

/* Writes n_elems elements of `type` (a multiple of its block size; a type
 * with traits) to dst, lb_qtype_row_bytes(type, n_elems) bytes. Single
 * threaded; callers fill slices in parallel with their own seeds. */
void lb_fill_random_weights(enum lb_qtype type, void *dst, int64_t n_elems,
                            uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
