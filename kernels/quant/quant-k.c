/* quant-k.c: reference code of the 256-element GGUF super-block formats:
 * the K-quants Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, and IQ4_XS.
 *
 * Each format has an unpack (block -> integer per element, and per
 * sub-block scales) and a pack (the inverse) that spell the bit layout out
 * once, element by element (see kernels/quant/lb-blocks.h); dequantize and
 * the dot product both go through unpack, and dequantize then repeats
 * ggml's float arithmetic exactly (e.g. Q4_K: (d * sc) * q - dmin * m).
 *
 * Quantizers (ours, not ggml's): a least-squares scale search per
 * sub-block (quant.c: lb_qsearch_*), the sub-block scales quantized
 * against a super-block scale stored in fp16 (largest scale -> end of the
 * scale grid; Q2_K's 4-bit grid also tries finer steps), then every value
 * re-rounded against the scales exactly as they will be decoded. Like
 * ggml's _ref quantizers they take no importance weights (imatrix).
 *
 * Dot products take the activation in Q8_K: per super-block, int32 sums
 * of products per sub-block, weighted by the integer sub-block scales;
 * the min terms of Q2_K/Q4_K/Q5_K use Q8_K's bsums. Only then the float
 * scales are applied (in double).
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

/* Index of the largest |v[k]|, k < n. */
static int argmax_abs(const float *v, int n)
{
    int best = 0;
    for (int k = 1; k < n; k++)
        if (fabsf(v[k]) > fabsf(v[best])) best = k;
    return best;
}

static float max_of(const float *v, int n)
{
    float m = 0;
    for (int k = 0; k < n; k++) m = fmaxf(m, v[k]);
    return m;
}

/* ---- Q2_K ------------------------------------------------------------ */

/* element i: bits 2j..2j+1 of qs[32h + l], h = i/128, j = (i%128)/32 */
static void q2_k_unpack(const struct lb_block_q2_k *b, uint8_t *q)
{
    for (int i = 0; i < LB_QK_K; i++) {
        int h = i / 128, j = (i % 128) / 32, l = i % 32;
        q[i] = (b->qs[32 * h + l] >> (2 * j)) & 3;
    }
}

static void q2_k_pack(const uint8_t *q, struct lb_block_q2_k *b)
{
    memset(b->qs, 0, sizeof b->qs);
    for (int i = 0; i < LB_QK_K; i++) {
        int h = i / 128, j = (i % 128) / 32, l = i % 32;
        b->qs[32 * h + l] |= (uint8_t)((q[i] & 3) << (2 * j));
    }
}

/* Given sub-block scales s[16] and mins m[16] (floats) and the fp16
 * super-block scales, quantizes them to 4 bits and re-rounds q against the
 * result; returns the block's squared error. */
static double q2_k_encode(const float *xb, const float *s, const float *m,
                          uint16_t dh, uint16_t dminh, uint8_t *scales, uint8_t *q)
{
    const float d = lb_fp16_to_f32(dh), dmin = lb_fp16_to_f32(dminh);
    double err = 0;
    for (int k = 0; k < 16; k++) {
        int sc = d > 0 ? round_clamp(s[k] / d, 0, 15) : 0;
        int mn = dmin > 0 ? round_clamp(m[k] / dmin, 0, 15) : 0;
        scales[k] = (uint8_t)(sc | mn << 4);
        const float dl = d * sc, ml = dmin * mn; /* as dequantize */
        for (int i = 16 * k; i < 16 * k + 16; i++) {
            q[i] = (uint8_t)(dl > 0 ? round_clamp(((double)xb[i] + ml) / dl, 0, 3) : 0);
            double r = (double)(dl * q[i] - ml) - xb[i];
            err += r * r;
        }
    }
    return err;
}

void lb_quantize_q2_k_ref(const float *x, void *blocks, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    struct lb_block_q2_k *y = blocks;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        const float *xb = x + ib * LB_QK_K;
        float s[16], m[16];
        uint8_t q[LB_QK_K], qc[LB_QK_K], scc[16];
        for (int k = 0; k < 16; k++) {
            float b;
            s[k] = lb_qsearch_asym(xb + 16 * k, 16, 3, true, &b, q + 16 * k);
            m[k] = -b; /* stored as an unsigned min */
        }
        /* 4-bit sub-block scales and mins are coarse: besides the plain
         * largest -> 15, try super-block steps that put the largest at 16
         * or 17 (it clips to 15, the small ones get finer steps), and keep
         * the pair with the smallest error over the whole block. */
        const float smax = max_of(s, 16), mmax = max_of(m, 16);
        double best = INFINITY;
        for (int fs = 0; fs < 3; fs++) {
            for (int fm = 0; fm < 3; fm++) {
                uint16_t dh = lb_f32_to_fp16(smax / (float)(15 + fs));
                uint16_t dminh = lb_f32_to_fp16(mmax / (float)(15 + fm));
                double err = q2_k_encode(xb, s, m, dh, dminh, scc, qc);
                if ((fs == 0 && fm == 0) || err < best) {
                    best = err;
                    y[ib].d = dh;
                    y[ib].dmin = dminh;
                    memcpy(y[ib].scales, scc, 16);
                    memcpy(q, qc, sizeof q);
                }
            }
        }
        q2_k_pack(q, &y[ib]);
    }
}

void lb_dequantize_q2_k(const void *blocks, float *y, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    const struct lb_block_q2_k *x = blocks;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        const float d = lb_fp16_to_f32(x[ib].d), min = lb_fp16_to_f32(x[ib].dmin);
        uint8_t q[LB_QK_K];
        q2_k_unpack(&x[ib], q);
        for (int k = 0; k < 16; k++) {
            const float dl = d * (x[ib].scales[k] & 0xF);
            const float ml = min * (x[ib].scales[k] >> 4);
            for (int i = 16 * k; i < 16 * k + 16; i++) *y++ = dl * q[i] - ml;
        }
    }
}

float lb_vec_dot_q2_k_q8_k_ref(int64_t n, const void *w, const void *act)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    const struct lb_block_q2_k *x = w;
    const struct lb_block_q8_k *a = act;
    double sum = 0;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        uint8_t q[LB_QK_K];
        q2_k_unpack(&x[ib], q);
        /* |sumi| <= 256 * 15 * 3 * 127; |summ| <= 16 * 15 * 16 * 127 */
        int32_t sumi = 0, summ = 0;
        for (int k = 0; k < 16; k++) {
            int32_t s = 0;
            for (int i = 16 * k; i < 16 * k + 16; i++) s += q[i] * a[ib].qs[i];
            sumi += (x[ib].scales[k] & 0xF) * s;
            summ += (x[ib].scales[k] >> 4) * a[ib].bsums[k];
        }
        sum += (double)a[ib].d * ((double)lb_fp16_to_f32(x[ib].d) * sumi -
                                  (double)lb_fp16_to_f32(x[ib].dmin) * summ);
    }
    return (float)sum;
}

/* ---- Q3_K ------------------------------------------------------------ */

/* 6-bit scale k of 16 (before the -32). */
static int q3_k_scale(const uint8_t *s, int k)
{
    int lo = k < 8 ? s[k] & 15 : s[k - 8] >> 4;
    int hi = (s[8 + k % 4] >> (2 * (k / 4))) & 3;
    return lo | hi << 4;
}

static void q3_k_pack_scales(const uint8_t *v, uint8_t *s)
{
    memset(s, 0, LB_K_SCALE_BYTES);
    for (int k = 0; k < 16; k++) {
        if (k < 8) s[k] |= v[k] & 15;
        else s[k - 8] |= (uint8_t)((v[k] & 15) << 4);
        s[8 + k % 4] |= (uint8_t)(((v[k] >> 4) & 3) << (2 * (k / 4)));
    }
}

/* q[i] in [-4, 3]: low 2 bits from qs, minus 4 unless the hmask bit is set */
static void q3_k_unpack(const struct lb_block_q3_k *b, int8_t *q)
{
    for (int i = 0; i < LB_QK_K; i++) {
        int h = i / 128, j = (i % 128) / 32, l = i % 32;
        int low = (b->qs[32 * h + l] >> (2 * j)) & 3;
        int hbit = (b->hmask[l] >> (4 * h + j)) & 1;
        q[i] = (int8_t)(low - (hbit ? 0 : 4));
    }
}

static void q3_k_pack(const int8_t *q, struct lb_block_q3_k *b)
{
    memset(b->qs, 0, sizeof b->qs);
    memset(b->hmask, 0, sizeof b->hmask);
    for (int i = 0; i < LB_QK_K; i++) {
        int h = i / 128, j = (i % 128) / 32, l = i % 32;
        int v = q[i] + 4; /* 0..7 */
        b->qs[32 * h + l] |= (uint8_t)((v & 3) << (2 * j));
        b->hmask[l] |= (uint8_t)((v >> 2) << (4 * h + j));
    }
}

void lb_quantize_q3_k_ref(const float *x, void *blocks, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    struct lb_block_q3_k *y = blocks;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        const float *xb = x + ib * LB_QK_K;
        float s[16];
        int8_t q[LB_QK_K];
        for (int k = 0; k < 16; k++) s[k] = lb_qsearch_sym(xb + 16 * k, 16, -4, 3, q + 16 * k);
        /* the largest-magnitude scale maps to -32, the wide end of the
         * 6-bit grid [-32, 31] */
        y[ib].d = lb_f32_to_fp16(s[argmax_abs(s, 16)] / -32);
        const float d = lb_fp16_to_f32(y[ib].d);
        uint8_t v[16];
        for (int k = 0; k < 16; k++) {
            v[k] = (uint8_t)((d != 0 ? round_clamp(s[k] / d, -32, 31) : 0) + 32);
            const float dl = d * (v[k] - 32); /* as dequantize */
            for (int i = 16 * k; i < 16 * k + 16; i++)
                q[i] = (int8_t)(dl != 0 ? round_clamp(xb[i] / dl, -4, 3) : 0);
        }
        q3_k_pack_scales(v, y[ib].scales);
        q3_k_pack(q, &y[ib]);
    }
}

void lb_dequantize_q3_k(const void *blocks, float *y, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    const struct lb_block_q3_k *x = blocks;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        const float d_all = lb_fp16_to_f32(x[ib].d);
        int8_t q[LB_QK_K];
        q3_k_unpack(&x[ib], q);
        for (int k = 0; k < 16; k++) {
            const float dl = d_all * (q3_k_scale(x[ib].scales, k) - 32);
            for (int i = 16 * k; i < 16 * k + 16; i++) *y++ = dl * q[i];
        }
    }
}

float lb_vec_dot_q3_k_q8_k_ref(int64_t n, const void *w, const void *act)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    const struct lb_block_q3_k *x = w;
    const struct lb_block_q8_k *a = act;
    double sum = 0;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        int8_t q[LB_QK_K];
        q3_k_unpack(&x[ib], q);
        int32_t sumi = 0; /* |sumi| <= 256 * 32 * 4 * 127 */
        for (int k = 0; k < 16; k++) {
            int32_t s = 0;
            for (int i = 16 * k; i < 16 * k + 16; i++) s += q[i] * a[ib].qs[i];
            sumi += (q3_k_scale(x[ib].scales, k) - 32) * s;
        }
        sum += (double)lb_fp16_to_f32(x[ib].d) * a[ib].d * sumi;
    }
    return (float)sum;
}

/* ---- Q4_K, Q5_K: shared scale packing -------------------------------- */

/* Sub-block k of 8: 6-bit scale and 6-bit min from the 12 packed bytes
 * (what ggml's get_scale_min_k4 decodes). */
static void k4_scale_min(const uint8_t *s, int k, int *sc, int *mn)
{
    if (k < 4) {
        *sc = s[k] & 63;
        *mn = s[k + 4] & 63;
    } else {
        *sc = (s[k + 4] & 15) | (s[k - 4] >> 6) << 4;
        *mn = (s[k + 4] >> 4) | (s[k] >> 6) << 4;
    }
}

static void k4_pack_scale_min(const uint8_t *sc, const uint8_t *mn, uint8_t *s)
{
    memset(s, 0, LB_K_SCALE_BYTES);
    for (int k = 0; k < 4; k++) {
        s[k] = sc[k] & 63;
        s[k + 4] = mn[k] & 63;
    }
    for (int k = 4; k < 8; k++) {
        s[k + 4] = (uint8_t)((sc[k] & 15) | (mn[k] & 15) << 4);
        s[k - 4] |= (uint8_t)(((sc[k] >> 4) & 3) << 6);
        s[k] |= (uint8_t)(((mn[k] >> 4) & 3) << 6);
    }
}

/* Shared quantizer: 8 sub-blocks of 32, q in [0, qmax], x ~ d*sc*q -
 * dmin*mn. Fills d, dmin, the 12 scale bytes and q[256]. */
static void quantize_k4(const float *xb, int qmax, uint16_t *dh, uint16_t *dminh,
                        uint8_t *scales, uint8_t *q)
{
    float s[8], m[8];
    for (int k = 0; k < 8; k++) {
        float b;
        s[k] = lb_qsearch_asym(xb + 32 * k, 32, qmax, true, &b, q + 32 * k);
        m[k] = -b;
    }
    *dh = lb_f32_to_fp16(max_of(s, 8) / 63);
    *dminh = lb_f32_to_fp16(max_of(m, 8) / 63);
    const float d = lb_fp16_to_f32(*dh), dmin = lb_fp16_to_f32(*dminh);
    uint8_t sc[8], mn[8];
    for (int k = 0; k < 8; k++) {
        sc[k] = (uint8_t)(d > 0 ? round_clamp(s[k] / d, 0, 63) : 0);
        mn[k] = (uint8_t)(dmin > 0 ? round_clamp(m[k] / dmin, 0, 63) : 0);
        const float d1 = d * sc[k], m1 = dmin * mn[k]; /* as dequantize */
        for (int i = 32 * k; i < 32 * k + 32; i++)
            q[i] = (uint8_t)(d1 > 0 ? round_clamp(((double)xb[i] + m1) / d1, 0, qmax) : 0);
    }
    k4_pack_scale_min(sc, mn, scales);
}

/* Shared dequantize/dot given q[256] and the block's d, dmin, scales. */
static void dequantize_k4(const uint8_t *q, uint16_t dh, uint16_t dminh,
                          const uint8_t *scales, float *y)
{
    const float d = lb_fp16_to_f32(dh), min = lb_fp16_to_f32(dminh);
    for (int k = 0; k < 8; k++) {
        int sc, mn;
        k4_scale_min(scales, k, &sc, &mn);
        const float d1 = d * sc, m1 = min * mn;
        for (int i = 32 * k; i < 32 * k + 32; i++) y[i] = d1 * q[i] - m1;
    }
}

static double dot_k4(const uint8_t *q, uint16_t dh, uint16_t dminh,
                     const uint8_t *scales, const struct lb_block_q8_k *a)
{
    /* |sumi| <= 256 * 63 * 31 * 127; |summ| <= 8 * 63 * 32 * 127 */
    int32_t sumi = 0, summ = 0;
    for (int k = 0; k < 8; k++) {
        int sc, mn;
        k4_scale_min(scales, k, &sc, &mn);
        int32_t s = 0;
        for (int i = 32 * k; i < 32 * k + 32; i++) s += q[i] * a->qs[i];
        sumi += sc * s;
        summ += mn * (a->bsums[2 * k] + a->bsums[2 * k + 1]);
    }
    return (double)a->d * ((double)lb_fp16_to_f32(dh) * sumi -
                           (double)lb_fp16_to_f32(dminh) * summ);
}

/* ---- Q4_K ------------------------------------------------------------ */

/* element 64c + r: low nibble of qs[32c + r] for r < 32, high nibble of
 * qs[32c + r - 32] for r >= 32 */
static void q4_k_unpack(const struct lb_block_q4_k *b, uint8_t *q)
{
    for (int i = 0; i < LB_QK_K; i++) {
        int c = i / 64, r = i % 64;
        q[i] = r < 32 ? b->qs[32 * c + r] & 15 : b->qs[32 * c + r - 32] >> 4;
    }
}

void lb_quantize_q4_k_ref(const float *x, void *blocks, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    struct lb_block_q4_k *y = blocks;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        uint8_t q[LB_QK_K];
        quantize_k4(x + ib * LB_QK_K, 15, &y[ib].d, &y[ib].dmin, y[ib].scales, q);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                y[ib].qs[32 * c + l] = (uint8_t)(q[64 * c + l] | q[64 * c + 32 + l] << 4);
    }
}

void lb_dequantize_q4_k(const void *blocks, float *y, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    const struct lb_block_q4_k *x = blocks;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        uint8_t q[LB_QK_K];
        q4_k_unpack(&x[ib], q);
        dequantize_k4(q, x[ib].d, x[ib].dmin, x[ib].scales, y + ib * LB_QK_K);
    }
}

float lb_vec_dot_q4_k_q8_k_ref(int64_t n, const void *w, const void *act)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    const struct lb_block_q4_k *x = w;
    const struct lb_block_q8_k *a = act;
    double sum = 0;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        uint8_t q[LB_QK_K];
        q4_k_unpack(&x[ib], q);
        sum += dot_k4(q, x[ib].d, x[ib].dmin, x[ib].scales, &a[ib]);
    }
    return (float)sum;
}

/* ---- Q5_K ------------------------------------------------------------ */

/* low 4 bits as Q4_K; fifth bit of 64c + r is bit 2c + (r >= 32) of
 * qh[r % 32] */
static void q5_k_unpack(const struct lb_block_q5_k *b, uint8_t *q)
{
    for (int i = 0; i < LB_QK_K; i++) {
        int c = i / 64, r = i % 64, l = r % 32;
        int low = r < 32 ? b->qs[32 * c + l] & 15 : b->qs[32 * c + l] >> 4;
        int hbit = (b->qh[l] >> (2 * c + (r >= 32))) & 1;
        q[i] = (uint8_t)(low | hbit << 4);
    }
}

void lb_quantize_q5_k_ref(const float *x, void *blocks, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    struct lb_block_q5_k *y = blocks;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        uint8_t q[LB_QK_K];
        quantize_k4(x + ib * LB_QK_K, 31, &y[ib].d, &y[ib].dmin, y[ib].scales, q);
        memset(y[ib].qh, 0, sizeof y[ib].qh);
        for (int i = 0; i < LB_QK_K; i++) {
            int c = i / 64, r = i % 64, l = r % 32;
            if (r < 32) y[ib].qs[32 * c + l] = q[i] & 15;
            else y[ib].qs[32 * c + l] |= (uint8_t)((q[i] & 15) << 4);
            y[ib].qh[l] |= (uint8_t)((q[i] >> 4) << (2 * c + (r >= 32)));
        }
    }
}

void lb_dequantize_q5_k(const void *blocks, float *y, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    const struct lb_block_q5_k *x = blocks;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        uint8_t q[LB_QK_K];
        q5_k_unpack(&x[ib], q);
        dequantize_k4(q, x[ib].d, x[ib].dmin, x[ib].scales, y + ib * LB_QK_K);
    }
}

float lb_vec_dot_q5_k_q8_k_ref(int64_t n, const void *w, const void *act)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    const struct lb_block_q5_k *x = w;
    const struct lb_block_q8_k *a = act;
    double sum = 0;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        uint8_t q[LB_QK_K];
        q5_k_unpack(&x[ib], q);
        sum += dot_k4(q, x[ib].d, x[ib].dmin, x[ib].scales, &a[ib]);
    }
    return (float)sum;
}

/* ---- Q6_K ------------------------------------------------------------ */

/* q[i] in [-32, 31]: low 4 bits in ql[64h + l + 32(j & 1)] (low nibble for
 * j < 2, high for j >= 2), upper 2 bits at 2j in qh[32h + l] */
static void q6_k_unpack(const struct lb_block_q6_k *b, int8_t *q)
{
    for (int i = 0; i < LB_QK_K; i++) {
        int h = i / 128, j = (i % 128) / 32, l = i % 32;
        uint8_t lb = b->ql[64 * h + l + 32 * (j & 1)];
        int low = j < 2 ? lb & 15 : lb >> 4;
        int hi = (b->qh[32 * h + l] >> (2 * j)) & 3;
        q[i] = (int8_t)((low | hi << 4) - 32);
    }
}

static void q6_k_pack(const int8_t *q, struct lb_block_q6_k *b)
{
    memset(b->ql, 0, sizeof b->ql);
    memset(b->qh, 0, sizeof b->qh);
    for (int i = 0; i < LB_QK_K; i++) {
        int h = i / 128, j = (i % 128) / 32, l = i % 32;
        int v = q[i] + 32; /* 0..63 */
        b->ql[64 * h + l + 32 * (j & 1)] |= (uint8_t)((v & 15) << (j < 2 ? 0 : 4));
        b->qh[32 * h + l] |= (uint8_t)((v >> 4) << (2 * j));
    }
}

void lb_quantize_q6_k_ref(const float *x, void *blocks, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    struct lb_block_q6_k *y = blocks;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        const float *xb = x + ib * LB_QK_K;
        float s[16];
        int8_t q[LB_QK_K];
        for (int k = 0; k < 16; k++) s[k] = lb_qsearch_sym(xb + 16 * k, 16, -32, 31, q + 16 * k);
        /* largest-magnitude scale -> -128, the wide end of int8 */
        y[ib].d = lb_f32_to_fp16(s[argmax_abs(s, 16)] / -128);
        const float d = lb_fp16_to_f32(y[ib].d);
        for (int k = 0; k < 16; k++) {
            y[ib].scales[k] = (int8_t)(d != 0 ? round_clamp(s[k] / d, -128, 127) : 0);
            const float dl = d * y[ib].scales[k]; /* as dequantize */
            for (int i = 16 * k; i < 16 * k + 16; i++)
                q[i] = (int8_t)(dl != 0 ? round_clamp(xb[i] / dl, -32, 31) : 0);
        }
        q6_k_pack(q, &y[ib]);
    }
}

void lb_dequantize_q6_k(const void *blocks, float *y, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    const struct lb_block_q6_k *x = blocks;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        const float d = lb_fp16_to_f32(x[ib].d);
        int8_t q[LB_QK_K];
        q6_k_unpack(&x[ib], q);
        for (int i = 0; i < LB_QK_K; i++) *y++ = d * x[ib].scales[i / 16] * q[i];
    }
}

float lb_vec_dot_q6_k_q8_k_ref(int64_t n, const void *w, const void *act)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    const struct lb_block_q6_k *x = w;
    const struct lb_block_q8_k *a = act;
    double sum = 0;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        int8_t q[LB_QK_K];
        q6_k_unpack(&x[ib], q);
        int32_t sumi = 0; /* |sumi| <= 256 * 128 * 32 * 127 */
        for (int k = 0; k < 16; k++) {
            int32_t s = 0;
            for (int i = 16 * k; i < 16 * k + 16; i++) s += q[i] * a[ib].qs[i];
            sumi += x[ib].scales[k] * s;
        }
        sum += (double)lb_fp16_to_f32(x[ib].d) * a[ib].d * sumi;
    }
    return (float)sum;
}

/* ---- IQ4_XS ---------------------------------------------------------- */

/* 6-bit ls of sub-block k (before the -32) */
static int iq4_xs_ls(const struct lb_block_iq4_xs *b, int k)
{
    return ((b->scales_l[k / 2] >> (4 * (k % 2))) & 15) | ((b->scales_h >> (2 * k)) & 3) << 4;
}

/* table index of element 32k + l: byte 16k + l % 16, low nibble for l < 16 */
static void iq4_xs_unpack(const struct lb_block_iq4_xs *b, uint8_t *q)
{
    for (int i = 0; i < LB_QK_K; i++) {
        int k = i / 32, l = i % 32;
        uint8_t v = b->qs[16 * k + l % 16];
        q[i] = l < 16 ? v & 15 : v >> 4;
    }
}

void lb_quantize_iq4_xs_ref(const float *x, void *blocks, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    struct lb_block_iq4_xs *y = blocks;
    const int8_t *T = lb_kvalues_iq4nl;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        const float *xb = x + ib * LB_QK_K;
        float s[8];
        uint8_t q[LB_QK_K];
        for (int k = 0; k < 8; k++) s[k] = lb_qsearch_table(xb + 32 * k, 32, T, 16, q + 32 * k);
        /* largest-magnitude scale -> -32, the wide end of [-32, 31] */
        y[ib].d = lb_f32_to_fp16(s[argmax_abs(s, 8)] / -32);
        const float d = lb_fp16_to_f32(y[ib].d);
        y[ib].scales_h = 0;
        memset(y[ib].scales_l, 0, sizeof y[ib].scales_l);
        for (int k = 0; k < 8; k++) {
            int ls = (d != 0 ? round_clamp(s[k] / d, -32, 31) : 0) + 32;
            y[ib].scales_l[k / 2] |= (uint8_t)((ls & 15) << (4 * (k % 2)));
            y[ib].scales_h |= (uint16_t)(((ls >> 4) & 3) << (2 * k));
            const float dl = d * (ls - 32); /* as dequantize */
            for (int i = 32 * k; i < 32 * k + 32; i++)
                q[i] = (uint8_t)lb_qtable_nearest(T, 16, dl != 0 ? xb[i] / dl : 0.0f);
        }
        for (int k = 0; k < 8; k++)
            for (int l = 0; l < 16; l++)
                y[ib].qs[16 * k + l] = (uint8_t)(q[32 * k + l] | q[32 * k + 16 + l] << 4);
    }
}

void lb_dequantize_iq4_xs(const void *blocks, float *y, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    const struct lb_block_iq4_xs *x = blocks;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        const float d = lb_fp16_to_f32(x[ib].d);
        uint8_t q[LB_QK_K];
        iq4_xs_unpack(&x[ib], q);
        for (int k = 0; k < 8; k++) {
            const float dl = d * (iq4_xs_ls(&x[ib], k) - 32);
            for (int i = 32 * k; i < 32 * k + 32; i++) *y++ = dl * lb_kvalues_iq4nl[q[i]];
        }
    }
}

float lb_vec_dot_iq4_xs_q8_k_ref(int64_t n, const void *w, const void *act)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    const struct lb_block_iq4_xs *x = w;
    const struct lb_block_q8_k *a = act;
    double sum = 0;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        uint8_t q[LB_QK_K];
        iq4_xs_unpack(&x[ib], q);
        int32_t sumi = 0; /* |sumi| <= 256 * 32 * 127 * 127 */
        for (int k = 0; k < 8; k++) {
            int32_t s = 0;
            for (int i = 32 * k; i < 32 * k + 32; i++) s += lb_kvalues_iq4nl[q[i]] * a[ib].qs[i];
            sumi += (iq4_xs_ls(&x[ib], k) - 32) * s;
        }
        sum += (double)lb_fp16_to_f32(x[ib].d) * a[ib].d * sumi;
    }
    return (float)sum;
}
