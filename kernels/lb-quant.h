/* lb-quant.h: quantization formats of llmbench, bit-compatible with
 * GGUF/ggml, behind one traits table (STYLE.md #1).
 *
 * Type ids equal ggml's (enum ggml_type), so a GGUF tensor's type field
 * indexes the table directly. Block layouts live in
 * kernels/quant/lb-blocks.h. Every format has scalar reference code,
 * always compiled: the test oracle and the `--ref` baseline (STYLE.md #2):
 *  - quantize_ref: f32 -> blocks. Our own quantizers (scale searches in
 *    quant.c); they are not bitwise ggml's, but every block they write is a
 *    valid block of the format.
 *  - dequantize: blocks -> f32, exactly ggml's formula and arithmetic
 *    order (GGUF files from the wild decode to the same floats).
 *  - vec_dot_ref: one weight row . one activation row that was quantized
 *    in the row's vec_dot_type. Quantized formats use the integer dot
 *    products ggml uses (a block's int32 sum of products times its
 *    scales), so SIMD paths can match the integer part exactly; blocks are
 *    summed in double, so the reference differs from a float SIMD path
 *    only by that path's float rounding.
 *
 * vec_dot_type, i.e. the activation format a weight row is dotted with:
 *  - Q4_0, Q5_0, Q8_0, IQ4_NL, MXFP4: Q8_0 (32-element blocks line up with
 *    the weight blocks; one int8 x int8 or table x int8 sum per block);
 *  - Q4_1, Q5_1: Q8_1, whose s = d * sum(q) turns the weight's offset m
 *    into one multiply per block (as ggml);
 *  - Q2_K .. Q6_K, IQ4_XS: Q8_K (256-element blocks, f32 scale; bsums give
 *    the min terms of Q2_K/Q4_K/Q5_K per sub-block without touching qs);
 *  - Q8_1, Q8_K (activation formats; a dot with themselves is defined so
 *    that every row of the table is testable): themselves;
 *  - F32, F16, BF16: F32, the activation row left unquantized. ggml
 *    converts activations to F16/BF16 for these; llmbench's reference keeps
 *    f32 (a SIMD path converts the weights, not the activation).
 *
 * Inputs of quantize_ref must be finite; n is a multiple of block_elems
 * (checked with LB_ASSERT). Scales are stored as fp16 where ggml does, so
 * a block whose scale exceeds 65504 saturates to Inf, as in ggml.
 *
 * How to add a format: see kernels/quant/lb-blocks.h.
 */
#ifndef LB_QUANT_H
#define LB_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Values are ggml's type ids. Ids not listed (i-quants other than IQ4_*,
 * integer tensors, ternary formats, removed ids 4-5, 31-33, 36-38) have no
 * traits: lb_qtraits_get returns NULL for them. */
enum lb_qtype {
    LB_QTYPE_F32 = 0,
    LB_QTYPE_F16 = 1,
    LB_QTYPE_Q4_0 = 2,
    LB_QTYPE_Q4_1 = 3,
    LB_QTYPE_Q5_0 = 6,
    LB_QTYPE_Q5_1 = 7,
    LB_QTYPE_Q8_0 = 8,
    LB_QTYPE_Q8_1 = 9,   /* activation format */
    LB_QTYPE_Q2_K = 10,
    LB_QTYPE_Q3_K = 11,
    LB_QTYPE_Q4_K = 12,
    LB_QTYPE_Q5_K = 13,
    LB_QTYPE_Q6_K = 14,
    LB_QTYPE_Q8_K = 15,  /* activation format */
    LB_QTYPE_IQ4_NL = 20,
    LB_QTYPE_IQ4_XS = 23,
    LB_QTYPE_BF16 = 30,
    LB_QTYPE_MXFP4 = 39,
    LB_QTYPE_COUNT = 40, /* one past the largest id; table size */
};

/* n: elements, a multiple of the format's block_elems. */
typedef void (*lb_quantize_fn)(const float *x, void *blocks, int64_t n);
typedef void (*lb_dequantize_fn)(const void *blocks, float *y, int64_t n);
/* Dot product of n elements: w_blocks in the row's format, act_blocks in
 * its vec_dot_type (an f32 array when that is F32). */
typedef float (*lb_vec_dot_fn)(int64_t n, const void *w_blocks,
                               const void *act_blocks);

struct lb_qtraits {
    enum lb_qtype type;
    const char *name;           /* llmbench CLI name, lower case: "q4_k" */
    const char *ggml_name;      /* ggml's type name: "Q4_K" */
    int32_t block_elems;        /* elements per block (1 for float types) */
    int32_t block_bytes;        /* bytes per block = sizeof(block struct) */
    double bits_per_weight;     /* 8 * block_bytes / block_elems */
    bool is_quantized;          /* false for F32, F16, BF16 */
    enum lb_qtype vec_dot_type; /* activation format of vec_dot_ref */
    lb_quantize_fn quantize_ref;
    lb_dequantize_fn dequantize;
    lb_vec_dot_fn vec_dot_ref;
};

/* NULL for ids without an implementation (see enum lb_qtype). */
const struct lb_qtraits *lb_qtraits_get(enum lb_qtype type);
/* "q4_k" (CLI name) or "Q4_K" (ggml name), case-insensitive. Returns false
 * and leaves *out alone when the name is unknown. */
bool lb_qtype_parse(const char *name, enum lb_qtype *out);
/* CLI name, or "unknown" when there are no traits. */
const char *lb_qtype_name(enum lb_qtype type);
/* Bytes of a row of n_elems elements; LB_ASSERTs a known type and n_elems
 * a non-negative multiple of the block size. */
size_t lb_qtype_row_bytes(enum lb_qtype type, int64_t n_elems);

/* ---- IEEE binary16 and bfloat16 <-> f32, portable C ------------------
 * f32 -> 16 bit rounds to nearest, ties to even, including into and out of
 * the fp16 subnormal range and up to Inf (|x| >= 65520 becomes fp16 Inf).
 * NaN stays NaN (quieted; the top payload bits are kept). 16 bit -> f32 is
 * exact. No dependence on the FPU's rounding mode or on F16C. */
uint16_t lb_f32_to_fp16(float f);
float lb_fp16_to_f32(uint16_t h);
uint16_t lb_f32_to_bf16(float f);
float lb_bf16_to_f32(uint16_t h);

/* ---- Per-format reference entry points ------------------------------
 * The same functions the traits table points at; named so that SIMD files
 * and tests can call one format directly. vec_dot's activation format is
 * the one the name ends with. */
void lb_quantize_f32_ref(const float *x, void *blocks, int64_t n);
void lb_dequantize_f32(const void *blocks, float *y, int64_t n);
float lb_vec_dot_f32_f32_ref(int64_t n, const void *w, const void *act);
void lb_quantize_f16_ref(const float *x, void *blocks, int64_t n);
void lb_dequantize_f16(const void *blocks, float *y, int64_t n);
float lb_vec_dot_f16_f32_ref(int64_t n, const void *w, const void *act);
void lb_quantize_bf16_ref(const float *x, void *blocks, int64_t n);
void lb_dequantize_bf16(const void *blocks, float *y, int64_t n);
float lb_vec_dot_bf16_f32_ref(int64_t n, const void *w, const void *act);

void lb_quantize_q8_0_ref(const float *x, void *blocks, int64_t n);
void lb_dequantize_q8_0(const void *blocks, float *y, int64_t n);
float lb_vec_dot_q8_0_q8_0_ref(int64_t n, const void *w, const void *act);
void lb_quantize_q8_1_ref(const float *x, void *blocks, int64_t n);
void lb_dequantize_q8_1(const void *blocks, float *y, int64_t n);
float lb_vec_dot_q8_1_q8_1_ref(int64_t n, const void *w, const void *act);
void lb_quantize_q8_k_ref(const float *x, void *blocks, int64_t n);
void lb_dequantize_q8_k(const void *blocks, float *y, int64_t n);
float lb_vec_dot_q8_k_q8_k_ref(int64_t n, const void *w, const void *act);

void lb_quantize_q4_0_ref(const float *x, void *blocks, int64_t n);
void lb_dequantize_q4_0(const void *blocks, float *y, int64_t n);
float lb_vec_dot_q4_0_q8_0_ref(int64_t n, const void *w, const void *act);
void lb_quantize_q4_1_ref(const float *x, void *blocks, int64_t n);
void lb_dequantize_q4_1(const void *blocks, float *y, int64_t n);
float lb_vec_dot_q4_1_q8_1_ref(int64_t n, const void *w, const void *act);
void lb_quantize_q5_0_ref(const float *x, void *blocks, int64_t n);
void lb_dequantize_q5_0(const void *blocks, float *y, int64_t n);
float lb_vec_dot_q5_0_q8_0_ref(int64_t n, const void *w, const void *act);
void lb_quantize_q5_1_ref(const float *x, void *blocks, int64_t n);
void lb_dequantize_q5_1(const void *blocks, float *y, int64_t n);
float lb_vec_dot_q5_1_q8_1_ref(int64_t n, const void *w, const void *act);
void lb_quantize_iq4_nl_ref(const float *x, void *blocks, int64_t n);
void lb_dequantize_iq4_nl(const void *blocks, float *y, int64_t n);
float lb_vec_dot_iq4_nl_q8_0_ref(int64_t n, const void *w, const void *act);
void lb_quantize_mxfp4_ref(const float *x, void *blocks, int64_t n);
void lb_dequantize_mxfp4(const void *blocks, float *y, int64_t n);
float lb_vec_dot_mxfp4_q8_0_ref(int64_t n, const void *w, const void *act);

void lb_quantize_q2_k_ref(const float *x, void *blocks, int64_t n);
void lb_dequantize_q2_k(const void *blocks, float *y, int64_t n);
float lb_vec_dot_q2_k_q8_k_ref(int64_t n, const void *w, const void *act);
void lb_quantize_q3_k_ref(const float *x, void *blocks, int64_t n);
void lb_dequantize_q3_k(const void *blocks, float *y, int64_t n);
float lb_vec_dot_q3_k_q8_k_ref(int64_t n, const void *w, const void *act);
void lb_quantize_q4_k_ref(const float *x, void *blocks, int64_t n);
void lb_dequantize_q4_k(const void *blocks, float *y, int64_t n);
float lb_vec_dot_q4_k_q8_k_ref(int64_t n, const void *w, const void *act);
void lb_quantize_q5_k_ref(const float *x, void *blocks, int64_t n);
void lb_dequantize_q5_k(const void *blocks, float *y, int64_t n);
float lb_vec_dot_q5_k_q8_k_ref(int64_t n, const void *w, const void *act);
void lb_quantize_q6_k_ref(const float *x, void *blocks, int64_t n);
void lb_dequantize_q6_k(const void *blocks, float *y, int64_t n);
float lb_vec_dot_q6_k_q8_k_ref(int64_t n, const void *w, const void *act);
void lb_quantize_iq4_xs_ref(const float *x, void *blocks, int64_t n);
void lb_dequantize_iq4_xs(const void *blocks, float *y, int64_t n);
float lb_vec_dot_iq4_xs_q8_k_ref(int64_t n, const void *w, const void *act);

/* ---- Building blocks of the reference quantizers (quant.c) -----------
 * Least-squares scale searches over one (sub-)block of n <= 64 values,
 * unweighted (they minimize the plain squared error). Each rounds the
 * values for a range of candidate scales, refits the scale (and offset)
 * in closed form for each set of integers, keeps the smallest squared
 * error, then re-rounds the winner against its refit scale while that
 * helps. The caller stores the scale in its format's precision and
 * re-rounds the integers against the stored value. */

/* x ~ d * L, L in [qmin, qmax] (qmin < 0 < qmax). Returns d (any sign;
 * 0 for an all-zero block). */
float lb_qsearch_sym(const float *x, int n, int qmin, int qmax, int8_t *L);
/* x ~ s * L + b, L in [0, qmax], s >= 0. With b_nonpositive, b is
 * constrained to <= 0 (K-quants store -b as an unsigned "min"). Returns s,
 * writes b. */
float lb_qsearch_asym(const float *x, int n, int qmax, bool b_nonpositive,
                      float *b, uint8_t *L);
/* x ~ d * table[L] for an ascending table of n_table int8 values (the
 * IQ4 grid). Returns d (any sign). */
float lb_qsearch_table(const float *x, int n, const int8_t *table,
                       int n_table, uint8_t *L);
/* Index of the table value nearest to v (ascending table; on a tie the
 * lower index). */
int lb_qtable_nearest(const int8_t *table, int n_table, float v);

/* The IQ4_NL / IQ4_XS grid (ggml's kvalues_iq4nl) and ggml's doubled
 * E2M1 grid of MXFP4 (kvalues_mxfp4), index = the stored nibble. */
extern const int8_t lb_kvalues_iq4nl[16];
extern const int8_t lb_kvalues_mxfp4[16];
/* MXFP4 scale: 2^(e - 128) as ggml computes it (e = 0 and 1 give the
 * f32 subnormals 2^-128 and 2^-127; e = 255 gives 2^127, finite: ggml
 * does not treat 0xFF as the OCP spec's NaN). */
float lb_e8m0_to_f32_half(uint8_t e);

#ifdef __cplusplus
}
#endif
#endif
