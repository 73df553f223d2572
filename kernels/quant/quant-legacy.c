/* quant-legacy.c: reference code of the 32-element GGUF formats: Q4_0,
 * Q4_1, Q5_0, Q5_1, Q8_0 (dequantize and dot; its quantizer is the
 * activation quantizer in quant.c), IQ4_NL and MXFP4.
 *
 * All seven share one nibble layout: byte j of qs holds element j in its
 * low nibble and element j + 16 in its high nibble (Q5_x add a fifth bit
 * from a 32-bit mask). Dequantization repeats ggml's arithmetic exactly
 * (int * float, then + m), so GGUF weights decode to the same floats.
 * Dot products take the activation quantized to Q8_0 (Q8_1 for Q4_1,
 * Q5_1), sum integer products per block in int32 and apply the block's
 * scales in double. Quantizers search the scale (quant.c) and re-round
 * the values against the scale as stored in fp16.
 */
#include "../lb-quant.h"

#include <math.h>
#include <string.h>

#include "../lb-base.h"
#include "lb-blocks.h"

/* floor(v + 0.5) clamped to [lo, hi] (nearest, halves up; NaN gives lo),
 * without a libm call: floor() is one on baseline x86-64, and this sits
 * in the quantizers' inner loops. SIMD quantizers that must match the
 * reference byte for byte compute the same floor(v + 0.5) in double. */
static int round_clamp(double v, int lo, int hi)
{
    if (!(v > lo)) return lo;
    if (v >= hi) return hi;
    double r = v + 0.5;
    int i = (int)r;           /* truncates toward zero */
    return i > r ? i - 1 : i; /* floor for negative r too */
}

/* q[32] (each in 0..15) -> qs[16] in the split-half nibble layout. */
static void pack_nibbles(const uint8_t *q, uint8_t *qs)
{
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)((q[j] & 15) | (q[j + 16] & 15) << 4);
}

static void unpack_nibbles(const uint8_t *qs, uint8_t *q)
{
    for (int j = 0; j < 16; j++) {
        q[j] = qs[j] & 15;
        q[j + 16] = qs[j] >> 4;
    }
}

/* Fifth bits: bit j of the little-endian uint32 qh is bit 4 of q[j]. */
static void pack_qh(const uint8_t *q, uint8_t *qh)
{
    uint32_t h = 0;
    for (int j = 0; j < 32; j++) h |= (uint32_t)((q[j] >> 4) & 1) << j;
    for (int k = 0; k < 4; k++) qh[k] = (uint8_t)(h >> (8 * k));
}

static void unpack_q5(const uint8_t *qs, const uint8_t *qh, uint8_t *q)
{
    uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 |
                 (uint32_t)qh[3] << 24;
    unpack_nibbles(qs, q);
    for (int j = 0; j < 32; j++) q[j] |= (uint8_t)(((h >> j) & 1) << 4);
}

/* ---- symmetric: Q4_0, Q5_0 ------------------------------------------- */

/* Scale search on [qmin, qmax], then q + offset re-rounded against the
 * fp16 scale. Returns the fp16 bits of d. */
static uint16_t quantize_sym32(const float *x, int qmin, int qmax, uint8_t *q)
{
    int8_t L[32];
    uint16_t dh = lb_f32_to_fp16(lb_qsearch_sym(x, 32, qmin, qmax, L));
    float d = lb_fp16_to_f32(dh);
    for (int j = 0; j < 32; j++)
        q[j] = (uint8_t)((d != 0 ? round_clamp((double)x[j] / d, qmin, qmax) : 0) - qmin);
    return dh;
}

void lb_quantize_q4_0_ref(const float *x, void *blocks, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK4_0 == 0);
    struct lb_block_q4_0 *y = blocks;
    for (int64_t ib = 0; ib < n / LB_QK4_0; ib++) {
        uint8_t q[32];
        y[ib].d = quantize_sym32(x + ib * LB_QK4_0, -8, 7, q);
        pack_nibbles(q, y[ib].qs);
    }
}

void lb_dequantize_q4_0(const void *blocks, float *y, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK4_0 == 0);
    const struct lb_block_q4_0 *x = blocks;
    for (int64_t ib = 0; ib < n / LB_QK4_0; ib++) {
        const float d = lb_fp16_to_f32(x[ib].d);
        uint8_t q[32];
        unpack_nibbles(x[ib].qs, q);
        for (int j = 0; j < 32; j++) y[ib * 32 + j] = (q[j] - 8) * d;
    }
}

float lb_vec_dot_q4_0_q8_0_ref(int64_t n, const void *w, const void *act)
{
    LB_ASSERT(n >= 0 && n % LB_QK4_0 == 0);
    const struct lb_block_q4_0 *x = w;
    const struct lb_block_q8_0 *a = act;
    double sum = 0;
    for (int64_t ib = 0; ib < n / LB_QK4_0; ib++) {
        uint8_t q[32];
        unpack_nibbles(x[ib].qs, q);
        int32_t sumi = 0; /* |sumi| <= 32 * 8 * 127 */
        for (int j = 0; j < 32; j++) sumi += (q[j] - 8) * a[ib].qs[j];
        sum += (double)lb_fp16_to_f32(x[ib].d) * lb_fp16_to_f32(a[ib].d) * sumi;
    }
    return (float)sum;
}

void lb_quantize_q5_0_ref(const float *x, void *blocks, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK5_0 == 0);
    struct lb_block_q5_0 *y = blocks;
    for (int64_t ib = 0; ib < n / LB_QK5_0; ib++) {
        uint8_t q[32];
        y[ib].d = quantize_sym32(x + ib * LB_QK5_0, -16, 15, q);
        pack_nibbles(q, y[ib].qs);
        pack_qh(q, y[ib].qh);
    }
}

void lb_dequantize_q5_0(const void *blocks, float *y, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK5_0 == 0);
    const struct lb_block_q5_0 *x = blocks;
    for (int64_t ib = 0; ib < n / LB_QK5_0; ib++) {
        const float d = lb_fp16_to_f32(x[ib].d);
        uint8_t q[32];
        unpack_q5(x[ib].qs, x[ib].qh, q);
        for (int j = 0; j < 32; j++) y[ib * 32 + j] = (q[j] - 16) * d;
    }
}

float lb_vec_dot_q5_0_q8_0_ref(int64_t n, const void *w, const void *act)
{
    LB_ASSERT(n >= 0 && n % LB_QK5_0 == 0);
    const struct lb_block_q5_0 *x = w;
    const struct lb_block_q8_0 *a = act;
    double sum = 0;
    for (int64_t ib = 0; ib < n / LB_QK5_0; ib++) {
        uint8_t q[32];
        unpack_q5(x[ib].qs, x[ib].qh, q);
        int32_t sumi = 0; /* |sumi| <= 32 * 16 * 127 */
        for (int j = 0; j < 32; j++) sumi += (q[j] - 16) * a[ib].qs[j];
        sum += (double)lb_fp16_to_f32(x[ib].d) * lb_fp16_to_f32(a[ib].d) * sumi;
    }
    return (float)sum;
}

/* ---- with offset: Q4_1, Q5_1 ----------------------------------------- */

/* x ~ d * q + m with any-sign m; d and m as stored in fp16. */
static void quantize_asym32(const float *x, int qmax, uint16_t *dh, uint16_t *mh,
                            uint8_t *q)
{
    uint8_t L[32];
    float b;
    float s = lb_qsearch_asym(x, 32, qmax, false, &b, L);
    *dh = lb_f32_to_fp16(s);
    *mh = lb_f32_to_fp16(b);
    float d = lb_fp16_to_f32(*dh), m = lb_fp16_to_f32(*mh);
    for (int j = 0; j < 32; j++)
        q[j] = (uint8_t)(d != 0 ? round_clamp(((double)x[j] - m) / d, 0, qmax) : 0);
}

void lb_quantize_q4_1_ref(const float *x, void *blocks, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK4_1 == 0);
    struct lb_block_q4_1 *y = blocks;
    for (int64_t ib = 0; ib < n / LB_QK4_1; ib++) {
        uint8_t q[32];
        quantize_asym32(x + ib * LB_QK4_1, 15, &y[ib].d, &y[ib].m, q);
        pack_nibbles(q, y[ib].qs);
    }
}

void lb_dequantize_q4_1(const void *blocks, float *y, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK4_1 == 0);
    const struct lb_block_q4_1 *x = blocks;
    for (int64_t ib = 0; ib < n / LB_QK4_1; ib++) {
        const float d = lb_fp16_to_f32(x[ib].d), m = lb_fp16_to_f32(x[ib].m);
        uint8_t q[32];
        unpack_nibbles(x[ib].qs, q);
        for (int j = 0; j < 32; j++) y[ib * 32 + j] = q[j] * d + m;
    }
}

/* sum_j (d q_j + m)(da a_j) = d da sum q_j a_j + m s, s = da sum a_j. */
float lb_vec_dot_q4_1_q8_1_ref(int64_t n, const void *w, const void *act)
{
    LB_ASSERT(n >= 0 && n % LB_QK4_1 == 0);
    const struct lb_block_q4_1 *x = w;
    const struct lb_block_q8_1 *a = act;
    double sum = 0;
    for (int64_t ib = 0; ib < n / LB_QK4_1; ib++) {
        uint8_t q[32];
        unpack_nibbles(x[ib].qs, q);
        int32_t sumi = 0; /* |sumi| <= 32 * 15 * 127 */
        for (int j = 0; j < 32; j++) sumi += q[j] * a[ib].qs[j];
        sum += (double)lb_fp16_to_f32(x[ib].d) * lb_fp16_to_f32(a[ib].d) * sumi +
               (double)lb_fp16_to_f32(x[ib].m) * lb_fp16_to_f32(a[ib].s);
    }
    return (float)sum;
}

void lb_quantize_q5_1_ref(const float *x, void *blocks, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK5_1 == 0);
    struct lb_block_q5_1 *y = blocks;
    for (int64_t ib = 0; ib < n / LB_QK5_1; ib++) {
        uint8_t q[32];
        quantize_asym32(x + ib * LB_QK5_1, 31, &y[ib].d, &y[ib].m, q);
        pack_nibbles(q, y[ib].qs);
        pack_qh(q, y[ib].qh);
    }
}

void lb_dequantize_q5_1(const void *blocks, float *y, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK5_1 == 0);
    const struct lb_block_q5_1 *x = blocks;
    for (int64_t ib = 0; ib < n / LB_QK5_1; ib++) {
        const float d = lb_fp16_to_f32(x[ib].d), m = lb_fp16_to_f32(x[ib].m);
        uint8_t q[32];
        unpack_q5(x[ib].qs, x[ib].qh, q);
        for (int j = 0; j < 32; j++) y[ib * 32 + j] = q[j] * d + m;
    }
}

float lb_vec_dot_q5_1_q8_1_ref(int64_t n, const void *w, const void *act)
{
    LB_ASSERT(n >= 0 && n % LB_QK5_1 == 0);
    const struct lb_block_q5_1 *x = w;
    const struct lb_block_q8_1 *a = act;
    double sum = 0;
    for (int64_t ib = 0; ib < n / LB_QK5_1; ib++) {
        uint8_t q[32];
        unpack_q5(x[ib].qs, x[ib].qh, q);
        int32_t sumi = 0; /* |sumi| <= 32 * 31 * 127 */
        for (int j = 0; j < 32; j++) sumi += q[j] * a[ib].qs[j];
        sum += (double)lb_fp16_to_f32(x[ib].d) * lb_fp16_to_f32(a[ib].d) * sumi +
               (double)lb_fp16_to_f32(x[ib].m) * lb_fp16_to_f32(a[ib].s);
    }
    return (float)sum;
}

/* ---- Q8_0 (quantizer in quant.c) ------------------------------------- */

void lb_dequantize_q8_0(const void *blocks, float *y, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK8_0 == 0);
    const struct lb_block_q8_0 *x = blocks;
    for (int64_t ib = 0; ib < n / LB_QK8_0; ib++) {
        const float d = lb_fp16_to_f32(x[ib].d);
        for (int j = 0; j < 32; j++) y[ib * 32 + j] = x[ib].qs[j] * d;
    }
}

float lb_vec_dot_q8_0_q8_0_ref(int64_t n, const void *w, const void *act)
{
    LB_ASSERT(n >= 0 && n % LB_QK8_0 == 0);
    const struct lb_block_q8_0 *x = w, *a = act;
    double sum = 0;
    for (int64_t ib = 0; ib < n / LB_QK8_0; ib++) {
        int32_t sumi = 0; /* |sumi| <= 32 * 128 * 128 */
        for (int j = 0; j < 32; j++) sumi += x[ib].qs[j] * a[ib].qs[j];
        sum += (double)lb_fp16_to_f32(x[ib].d) * lb_fp16_to_f32(a[ib].d) * sumi;
    }
    return (float)sum;
}

/* ---- IQ4_NL ---------------------------------------------------------- */

void lb_quantize_iq4_nl_ref(const float *x, void *blocks, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK4_NL == 0);
    struct lb_block_iq4_nl *y = blocks;
    const int8_t *T = lb_kvalues_iq4nl;
    for (int64_t ib = 0; ib < n / LB_QK4_NL; ib++) {
        const float *xb = x + ib * LB_QK4_NL;
        uint8_t L[32];
        y[ib].d = lb_f32_to_fp16(lb_qsearch_table(xb, 32, T, 16, L));
        const float d = lb_fp16_to_f32(y[ib].d);
        for (int j = 0; j < 32; j++)
            L[j] = (uint8_t)lb_qtable_nearest(T, 16, d != 0 ? xb[j] / d : 0.0f);
        pack_nibbles(L, y[ib].qs);
    }
}

void lb_dequantize_iq4_nl(const void *blocks, float *y, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK4_NL == 0);
    const struct lb_block_iq4_nl *x = blocks;
    for (int64_t ib = 0; ib < n / LB_QK4_NL; ib++) {
        const float d = lb_fp16_to_f32(x[ib].d);
        uint8_t q[32];
        unpack_nibbles(x[ib].qs, q);
        for (int j = 0; j < 32; j++) y[ib * 32 + j] = d * lb_kvalues_iq4nl[q[j]];
    }
}

float lb_vec_dot_iq4_nl_q8_0_ref(int64_t n, const void *w, const void *act)
{
    LB_ASSERT(n >= 0 && n % LB_QK4_NL == 0);
    const struct lb_block_iq4_nl *x = w;
    const struct lb_block_q8_0 *a = act;
    double sum = 0;
    for (int64_t ib = 0; ib < n / LB_QK4_NL; ib++) {
        uint8_t q[32];
        unpack_nibbles(x[ib].qs, q);
        int32_t sumi = 0; /* |sumi| <= 32 * 127 * 127 */
        for (int j = 0; j < 32; j++) sumi += lb_kvalues_iq4nl[q[j]] * a[ib].qs[j];
        sum += (double)lb_fp16_to_f32(x[ib].d) * lb_fp16_to_f32(a[ib].d) * sumi;
    }
    return (float)sum;
}

/* ---- MXFP4 ----------------------------------------------------------- */

/* Nearest code of ggml's doubled E2M1 grid: codes 0..7 are the magnitudes
 * {0,1,2,3,4,6,8,12}, codes 8..15 their negatives. Ties go to the smaller
 * magnitude (ggml's linear scan keeps the first best too). */
static uint8_t mxfp4_nearest(float v)
{
    float a = fabsf(v);
    int best = 0;
    for (int k = 1; k < 8; k++)
        if (fabsf(a - lb_kvalues_mxfp4[k]) < fabsf(a - lb_kvalues_mxfp4[best])) best = k;
    return (uint8_t)(v < 0 && best != 0 ? best + 8 : best);
}

void lb_quantize_mxfp4_ref(const float *x, void *blocks, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK_MXFP4 == 0);
    struct lb_block_mxfp4 *y = blocks;
    for (int64_t ib = 0; ib < n / LB_QK_MXFP4; ib++) {
        const float *xb = x + ib * LB_QK_MXFP4;
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(xb[j]));
        /* ggml's exponent puts amax / scale in [8, 16): the top of the
         * grid (12) then clips values above 12 * scale. One step coarser
         * fits every value; one finer clips more. Try all three and keep
         * the smallest squared error (ggml's choice wins ties). */
        int e0 = 0;
        if (amax > 0) {
            int ex;
            frexpf(amax, &ex); /* amax = f * 2^ex, f in [0.5, 1) */
            e0 = (ex - 1) - 2 + 127;
        }
        double best_err = INFINITY;
        int best_e = 0;
        for (int k = 0; k < 3; k++) {
            int e = e0 + (k == 0 ? 0 : k == 1 ? 1 : -1);
            if (e < 0 || e > 255) continue;
            const float d = lb_e8m0_to_f32_half((uint8_t)e);
            double err = 0;
            for (int j = 0; j < 32; j++) {
                double r = xb[j] - (double)lb_kvalues_mxfp4[mxfp4_nearest(xb[j] / d)] * d;
                err += r * r;
            }
            if (err < best_err) {
                best_err = err;
                best_e = e;
            }
        }
        const float d = lb_e8m0_to_f32_half((uint8_t)best_e);
        uint8_t q[32];
        for (int j = 0; j < 32; j++) q[j] = mxfp4_nearest(xb[j] / d);
        y[ib].e = (uint8_t)best_e;
        pack_nibbles(q, y[ib].qs);
    }
}

void lb_dequantize_mxfp4(const void *blocks, float *y, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK_MXFP4 == 0);
    const struct lb_block_mxfp4 *x = blocks;
    for (int64_t ib = 0; ib < n / LB_QK_MXFP4; ib++) {
        const float d = lb_e8m0_to_f32_half(x[ib].e);
        uint8_t q[32];
        unpack_nibbles(x[ib].qs, q);
        for (int j = 0; j < 32; j++) y[ib * 32 + j] = lb_kvalues_mxfp4[q[j]] * d;
    }
}

float lb_vec_dot_mxfp4_q8_0_ref(int64_t n, const void *w, const void *act)
{
    LB_ASSERT(n >= 0 && n % LB_QK_MXFP4 == 0);
    const struct lb_block_mxfp4 *x = w;
    const struct lb_block_q8_0 *a = act;
    double sum = 0;
    for (int64_t ib = 0; ib < n / LB_QK_MXFP4; ib++) {
        uint8_t q[32];
        unpack_nibbles(x[ib].qs, q);
        int32_t sumi = 0; /* |sumi| <= 32 * 12 * 127 */
        for (int j = 0; j < 32; j++) sumi += lb_kvalues_mxfp4[q[j]] * a[ib].qs[j];
        sum += (double)lb_e8m0_to_f32_half(x[ib].e) * lb_fp16_to_f32(a[ib].d) * sumi;
    }
    return (float)sum;
}
