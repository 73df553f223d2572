/* quant.c: the traits table of llmbench's quant formats, the float formats
 * (F32, F16, BF16), the activation quantizers (Q8_0, Q8_1, Q8_K), the
 * fp16/bf16 conversions and the scale searches the reference quantizers
 * share.
 *
 * Workload assumptions: this is reference code. It runs once per weight
 * tensor when a synthetic model is made, and as the oracle of the fast
 * paths, so it favors clarity and accuracy (double accumulation, exact
 * per-block integer sums) over speed. The 32-element legacy formats are in
 * quant-legacy.c, the 256-element K-quants in quant-k.c.
 */
#include "../lb-quant.h"

#include <math.h>
#include <string.h>

#include "../lb-base.h"
#include "lb-blocks.h"

/* ---- fp16 / bf16 ----------------------------------------------------- */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t lb_f32_to_fp16(float f)
{
    uint32_t x = f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;

    if (ax > 0x7f800000u) /* NaN: keep the top 10 payload bits, set quiet */
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    /* 65520 = halfway between 65504 (largest fp16, odd mantissa) and 2^16:
     * the tie goes to the even neighbour, which is Inf. */
    if (ax >= 0x477ff000u)
        return (uint16_t)(sign | 0x7c00u);
    if (ax >= 0x38800000u) { /* >= 2^-14: normal fp16 */
        uint32_t mant = ax & 0x7fffffu;
        /* rebias the exponent 127 -> 15; the carry of the rounding
         * increment below may ripple into the exponent, which is right */
        uint32_t h = ((ax >> 23) - 112u) << 10 | (mant >> 13);
        uint32_t rem = mant & 0x1fffu; /* the 13 dropped bits */
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
            h++;
        return (uint16_t)(sign | h);
    }
    /* 2^-25 is halfway between 0 and the smallest subnormal 2^-24: ties
     * to even is 0, and everything below rounds to 0 too. */
    if (ax <= 0x33000000u)
        return (uint16_t)sign;
    /* fp16 subnormal: value = mant * 2^(e - 150) = (mant >> shift) * 2^-24
     * with shift = 126 - e, in [14, 24] here. */
    uint32_t e = ax >> 23;
    uint32_t mant = (ax & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e;
    uint32_t h = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (h & 1u)))
        h++; /* may become 0x400, the smallest normal: also right */
    return (uint16_t)(sign | h);
}

float lb_fp16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu;
    uint32_t m = h & 0x3ffu;
    uint32_t x;

    if (e == 0x1fu) { /* Inf / NaN, payload kept */
        x = sign | 0x7f800000u | (m << 13);
    } else if (e != 0) {
        x = sign | ((e + 112u) << 23) | (m << 13);
    } else if (m == 0) {
        x = sign;
    } else { /* subnormal m * 2^-24: normalize the mantissa */
        uint32_t exp = 113u; /* f32 biased exponent of 2^-14 */
        while (!(m & 0x400u)) {
            m <<= 1;
            exp--;
        }
        x = sign | (exp << 23) | ((m & 0x3ffu) << 13);
    }
    return f32_from_bits(x);
}

uint16_t lb_f32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) /* NaN: truncate, force quiet */
        return (uint16_t)((x >> 16) | 0x0040u);
    /* round to nearest even on the 16 dropped bits; bf16 shares f32's
     * exponent, so subnormals and overflow to Inf come out right */
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

float lb_bf16_to_f32(uint16_t h)
{
    return f32_from_bits((uint32_t)h << 16);
}

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

/* ---- grids ----------------------------------------------------------- */

const int8_t lb_kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                     1,    13,   25,  38,  53,  69,  89,  113};
const int8_t lb_kvalues_mxfp4[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                     0, -1, -2, -3, -4, -6, -8, -12};

float lb_e8m0_to_f32_half(uint8_t e)
{
    /* 2^(e-128): for e >= 2 a normal f32 with biased exponent e - 1; for
     * e = 0, 1 the f32 subnormals 2^-128 (bit 21) and 2^-127 (bit 22). */
    uint32_t bits = e >= 2 ? (uint32_t)(e - 1) << 23 : 0x00200000u << e;
    return f32_from_bits(bits);
}

/* ---- scale searches -------------------------------------------------- */

/* Sub-blocks are at most 32 values; 64 leaves room for a future format. */
#define QSEARCH_MAX_N 64

/* Best d for fixed L (least squares) and the squared error it leaves;
 * sxx = sum x^2. */
static double sym_fit(const float *x, int n, const int8_t *L, double sxx, double *d)
{
    double sxl = 0, sll = 0;
    for (int i = 0; i < n; i++) {
        sxl += (double)x[i] * L[i];
        sll += (double)L[i] * L[i];
    }
    if (sll == 0) {
        *d = 0;
        return sxx;
    }
    *d = sxl / sll;
    return sxx - sxl * sxl / sll;
}

/* How many times the winning candidate is re-rounded against its own
 * refit scale (stops early when that no longer helps; 1-2 usually do). */
#define QSEARCH_REFINE 4

float lb_qsearch_sym(const float *x, int n, int qmin, int qmax, int8_t *L)
{
    LB_ASSERT(n > 0 && n <= QSEARCH_MAX_N && qmin < 0 && qmax > 0);
    float amax = 0, vmax = 0;
    double sxx = 0;
    for (int i = 0; i < n; i++) {
        sxx += (double)x[i] * x[i];
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            vmax = x[i];
        }
    }
    if (amax == 0) {
        memset(L, 0, (size_t)n);
        return 0;
    }
    int8_t cand[QSEARCH_MAX_N];
    double best_err = INFINITY, best_d = 0;
    /* Map the largest-magnitude value near either end of the grid: from
     * 0.5 beyond it (finer steps, that value clipped) to 1.5 inside
     * (coarser steps, headroom), in 0.1 steps; each candidate's scale is
     * refit in closed form for its rounded values. */
    for (int side = 0; side < 2; side++) {
        for (int k = -5; k <= 15; k++) {
            double t = side == 0 ? qmin + 0.1 * k : qmax - 0.1 * k;
            double inv_d = t / vmax;
            for (int i = 0; i < n; i++)
                cand[i] = (int8_t)round_clamp(x[i] * inv_d, qmin, qmax);
            double d, err = sym_fit(x, n, cand, sxx, &d);
            if (err < best_err) {
                best_err = err;
                best_d = d;
                memcpy(L, cand, (size_t)n);
            }
        }
    }
    for (int it = 0; it < QSEARCH_REFINE && best_d != 0; it++) {
        for (int i = 0; i < n; i++) cand[i] = (int8_t)round_clamp(x[i] / best_d, qmin, qmax);
        double d, err = sym_fit(x, n, cand, sxx, &d);
        if (!(err < best_err)) break;
        best_err = err;
        best_d = d;
        memcpy(L, cand, (size_t)n);
    }
    return (float)best_d;
}

/* Best (s, b) for fixed L and the squared error it leaves (closed form
 * from the sums; sxx = sum x^2); see lb_qsearch_asym. */
static double asym_fit(const float *x, int n, const uint8_t *L, double sxx,
                       bool b_nonpositive, double *s, double *b)
{
    double sl = 0, sll = 0, sx = 0, sxl = 0;
    for (int i = 0; i < n; i++) {
        sl += L[i];
        sll += (double)L[i] * L[i];
        sx += x[i];
        sxl += (double)x[i] * L[i];
    }
    double det = n * sll - sl * sl;
    *s = det > 0 ? (n * sxl - sl * sx) / det : 0;
    if (*s < 0) *s = 0;
    *b = (sx - *s * sl) / n;
    if (b_nonpositive && *b > 0) {
        *b = 0;
        *s = sll > 0 && sxl > 0 ? sxl / sll : 0;
    }
    /* sum (x - s L - b)^2 expanded; clamped at 0 against cancellation */
    double err = sxx - 2 * *s * sxl - 2 * *b * sx + *s * *s * sll + 2 * *s * *b * sl +
                 n * *b * *b;
    return err > 0 ? err : 0;
}

float lb_qsearch_asym(const float *x, int n, int qmax, bool b_nonpositive,
                      float *b, uint8_t *L)
{
    LB_ASSERT(n > 0 && n <= QSEARCH_MAX_N && qmax > 0);
    float xmin = x[0], xmax = x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < xmin) xmin = x[i];
        if (x[i] > xmax) xmax = x[i];
    }
    if (b_nonpositive && xmin > 0) xmin = 0;
    double sxx = 0;
    for (int i = 0; i < n; i++) sxx += (double)x[i] * x[i];
    if (!(xmax > xmin)) { /* constant block: the offset says it all */
        memset(L, 0, (size_t)n);
        *b = xmin;
        return 0;
    }
    uint8_t cand[QSEARCH_MAX_N];
    double best_err = INFINITY, best_s = 0, best_b = xmin;
    /* Steps from range/(qmax - 1) to range/(qmax + 1) around the min-max
     * fit; for each, s and b are refit in closed form. */
    for (int k = -10; k <= 10; k++) {
        double inv_s = (qmax + 0.1 * k) / ((double)xmax - xmin);
        for (int i = 0; i < n; i++)
            cand[i] = (uint8_t)round_clamp(((double)x[i] - xmin) * inv_s, 0, qmax);
        double s, bb, err = asym_fit(x, n, cand, sxx, b_nonpositive, &s, &bb);
        if (err < best_err) {
            best_err = err;
            best_s = s;
            best_b = bb;
            memcpy(L, cand, (size_t)n);
        }
        /* with few levels (Q2_K's 4) re-rounding every candidate against
         * its refit (s, b) finds better codes (-1.5% rms error; < 0.5%
         * for 16+ levels, not worth doubling the search there) */
        if (qmax <= 3 && s > 0) {
            for (int i = 0; i < n; i++)
                cand[i] = (uint8_t)round_clamp(((double)x[i] - bb) / s, 0, qmax);
            err = asym_fit(x, n, cand, sxx, b_nonpositive, &s, &bb);
            if (err < best_err) {
                best_err = err;
                best_s = s;
                best_b = bb;
                memcpy(L, cand, (size_t)n);
            }
        }
    }
    for (int it = 0; it < QSEARCH_REFINE && best_s > 0; it++) {
        for (int i = 0; i < n; i++)
            cand[i] = (uint8_t)round_clamp(((double)x[i] - best_b) / best_s, 0, qmax);
        double s, bb, err = asym_fit(x, n, cand, sxx, b_nonpositive, &s, &bb);
        if (!(err < best_err)) break;
        best_err = err;
        best_s = s;
        best_b = bb;
        memcpy(L, cand, (size_t)n);
    }
    *b = (float)best_b;
    return (float)best_s;
}

int lb_qtable_nearest(const int8_t *table, int n_table, float v)
{
    /* count the midpoints below v: branch-free (the searches call this
     * for every value and candidate scale, on data a branch predictor
     * cannot learn); a tie (v on a midpoint) counts as not below. */
    int idx = 0;
    for (int k = 0; k + 1 < n_table; k++)
        idx += v > 0.5f * (float)(table[k] + table[k + 1]);
    return idx;
}

static double table_fit(const float *x, int n, const int8_t *table,
                        const uint8_t *L, double sxx, double *d)
{
    double sxt = 0, stt = 0;
    for (int i = 0; i < n; i++) {
        double t = table[L[i]];
        sxt += x[i] * t;
        stt += t * t;
    }
    if (stt == 0) {
        *d = 0;
        return sxx;
    }
    *d = sxt / stt;
    return sxx - sxt * sxt / stt;
}

float lb_qsearch_table(const float *x, int n, const int8_t *table,
                       int n_table, uint8_t *L)
{
    LB_ASSERT(n > 0 && n <= QSEARCH_MAX_N && n_table >= 2);
    float amax = 0, vmax = 0;
    double sxx = 0;
    for (int i = 0; i < n; i++) {
        sxx += (double)x[i] * x[i];
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            vmax = x[i];
        }
    }
    if (amax == 0) {
        memset(L, (uint8_t)lb_qtable_nearest(table, n_table, 0), (size_t)n);
        return 0;
    }
    uint8_t cand[QSEARCH_MAX_N];
    double best_err = INFINITY, best_d = 0;
    /* The grid is not symmetric, so both signs of d: the largest value
     * mapped near the most negative and near the most positive grid
     * point, from 12% beyond to 20% inside, each scale refit. */
    for (int side = 0; side < 2; side++) {
        double end = side == 0 ? table[0] : table[n_table - 1];
        for (int k = -6; k <= 10; k++) {
            double inv_d = end * (1.0 - 0.02 * k) / vmax;
            for (int i = 0; i < n; i++)
                cand[i] = (uint8_t)lb_qtable_nearest(table, n_table, (float)(x[i] * inv_d));
            double d, err = table_fit(x, n, table, cand, sxx, &d);
            if (err < best_err) {
                best_err = err;
                best_d = d;
                memcpy(L, cand, (size_t)n);
            }
        }
    }
    for (int it = 0; it < QSEARCH_REFINE && best_d != 0; it++) {
        for (int i = 0; i < n; i++)
            cand[i] = (uint8_t)lb_qtable_nearest(table, n_table, (float)(x[i] / best_d));
        double d, err = table_fit(x, n, table, cand, sxx, &d);
        if (!(err < best_err)) break;
        best_err = err;
        best_d = d;
        memcpy(L, cand, (size_t)n);
    }
    return (float)best_d;
}

/* ---- float formats --------------------------------------------------- */

void lb_quantize_f32_ref(const float *x, void *blocks, int64_t n)
{
    LB_ASSERT(n >= 0);
    memcpy(blocks, x, (size_t)n * sizeof(float));
}

void lb_dequantize_f32(const void *blocks, float *y, int64_t n)
{
    LB_ASSERT(n >= 0);
    memcpy(y, blocks, (size_t)n * sizeof(float));
}

float lb_vec_dot_f32_f32_ref(int64_t n, const void *w, const void *act)
{
    const float *a = act, *x = w;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)x[i] * a[i];
    return (float)sum;
}

void lb_quantize_f16_ref(const float *x, void *blocks, int64_t n)
{
    uint16_t *h = blocks;
    for (int64_t i = 0; i < n; i++) h[i] = lb_f32_to_fp16(x[i]);
}

void lb_dequantize_f16(const void *blocks, float *y, int64_t n)
{
    const uint16_t *h = blocks;
    for (int64_t i = 0; i < n; i++) y[i] = lb_fp16_to_f32(h[i]);
}

float lb_vec_dot_f16_f32_ref(int64_t n, const void *w, const void *act)
{
    const uint16_t *h = w;
    const float *a = act;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)lb_fp16_to_f32(h[i]) * a[i];
    return (float)sum;
}

void lb_quantize_bf16_ref(const float *x, void *blocks, int64_t n)
{
    uint16_t *h = blocks;
    for (int64_t i = 0; i < n; i++) h[i] = lb_f32_to_bf16(x[i]);
}

void lb_dequantize_bf16(const void *blocks, float *y, int64_t n)
{
    const uint16_t *h = blocks;
    for (int64_t i = 0; i < n; i++) y[i] = lb_bf16_to_f32(h[i]);
}

float lb_vec_dot_bf16_f32_ref(int64_t n, const void *w, const void *act)
{
    const uint16_t *h = w;
    const float *a = act;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)lb_bf16_to_f32(h[i]) * a[i];
    return (float)sum;
}

/* ---- activation quantizers ------------------------------------------- */

/* Q8_0 / Q8_1 / Q8_K all use the symmetric [-127, 127] range, never -128:
 * SIMD paths multiply by the activation's sign (vpsignb) and |-128| does
 * not fit int8; ggml made the same choice for Q8_K. Values are rounded
 * against the scale as stored (fp16 for Q8_0/Q8_1), so that d * q is the
 * nearest grid point to x for the scale the dot product will use. */

/* Rounds block of 32 against the fp16 scale amax/127; returns the stored
 * fp16 bits and fills qs; *sum gets the sum of qs. */
static uint16_t q8_block32(const float *x, int8_t *qs, int *sum)
{
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
    uint16_t dh = lb_f32_to_fp16(amax / 127.0f);
    float d = lb_fp16_to_f32(dh);
    *sum = 0;
    for (int j = 0; j < 32; j++) {
        qs[j] = d != 0 ? (int8_t)round_clamp((double)x[j] / d, -127, 127) : 0;
        *sum += qs[j];
    }
    return dh;
}

void lb_quantize_q8_0_ref(const float *x, void *blocks, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK8_0 == 0);
    struct lb_block_q8_0 *y = blocks;
    for (int64_t ib = 0; ib < n / LB_QK8_0; ib++) {
        int sum;
        y[ib].d = q8_block32(x + ib * LB_QK8_0, y[ib].qs, &sum);
    }
}

void lb_quantize_q8_1_ref(const float *x, void *blocks, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK8_1 == 0);
    struct lb_block_q8_1 *y = blocks;
    for (int64_t ib = 0; ib < n / LB_QK8_1; ib++) {
        int sum;
        y[ib].d = q8_block32(x + ib * LB_QK8_1, y[ib].qs, &sum);
        /* ggml multiplies by the unrounded d; the stored one makes s the
         * (fp16-rounded) sum of the dequantized values */
        y[ib].s = lb_f32_to_fp16(lb_fp16_to_f32(y[ib].d) * (float)sum);
    }
}

void lb_dequantize_q8_1(const void *blocks, float *y, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK8_1 == 0);
    const struct lb_block_q8_1 *x = blocks;
    for (int64_t ib = 0; ib < n / LB_QK8_1; ib++) {
        const float d = lb_fp16_to_f32(x[ib].d);
        for (int j = 0; j < LB_QK8_1; j++) y[ib * LB_QK8_1 + j] = x[ib].qs[j] * d;
    }
}

float lb_vec_dot_q8_1_q8_1_ref(int64_t n, const void *w, const void *act)
{
    LB_ASSERT(n >= 0 && n % LB_QK8_1 == 0);
    const struct lb_block_q8_1 *x = w, *a = act;
    double sum = 0;
    for (int64_t ib = 0; ib < n / LB_QK8_1; ib++) {
        int32_t sumi = 0; /* |sumi| <= 32 * 128 * 128 */
        for (int j = 0; j < LB_QK8_1; j++) sumi += x[ib].qs[j] * a[ib].qs[j];
        sum += (double)lb_fp16_to_f32(x[ib].d) * lb_fp16_to_f32(a[ib].d) * sumi;
    }
    return (float)sum;
}

void lb_quantize_q8_k_ref(const float *x, void *blocks, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    struct lb_block_q8_k *y = blocks;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        const float *xb = x + ib * LB_QK_K;
        float amax = 0;
        for (int j = 0; j < LB_QK_K; j++) amax = fmaxf(amax, fabsf(xb[j]));
        const float d = amax / 127.0f; /* kept in f32: no extra rounding */
        y[ib].d = d;
        for (int j = 0; j < LB_QK_K; j++)
            y[ib].qs[j] = d != 0 ? (int8_t)round_clamp((double)xb[j] / d, -127, 127) : 0;
        for (int k = 0; k < LB_QK_K / 16; k++) {
            int s = 0; /* |s| <= 16 * 127 fits int16 */
            for (int j = 0; j < 16; j++) s += y[ib].qs[16 * k + j];
            y[ib].bsums[k] = (int16_t)s;
        }
    }
}

void lb_dequantize_q8_k(const void *blocks, float *y, int64_t n)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    const struct lb_block_q8_k *x = blocks;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++)
        for (int j = 0; j < LB_QK_K; j++) y[ib * LB_QK_K + j] = x[ib].d * x[ib].qs[j];
}

float lb_vec_dot_q8_k_q8_k_ref(int64_t n, const void *w, const void *act)
{
    LB_ASSERT(n >= 0 && n % LB_QK_K == 0);
    const struct lb_block_q8_k *x = w, *a = act;
    double sum = 0;
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        int32_t sumi = 0; /* |sumi| <= 256 * 128 * 128 */
        for (int j = 0; j < LB_QK_K; j++) sumi += x[ib].qs[j] * a[ib].qs[j];
        sum += (double)x[ib].d * a[ib].d * sumi;
    }
    return (float)sum;
}

/* ---- the traits table ------------------------------------------------ */

/* Indexed by ggml type id; a row with block_elems == 0 is an id without
 * an implementation. bits_per_weight is written out (from the reference
 * table in the docs) rather than computed, so the test cross-checks it. */
#define LB_ROW(T, name, gname, elems, bytes, bpw, quantized, dot_type, fn, dotfn) \
    [LB_QTYPE_##T] = {LB_QTYPE_##T, name, gname, elems, bytes, bpw, quantized,   \
                      LB_QTYPE_##dot_type, lb_quantize_##fn##_ref,                 \
                      lb_dequantize_##fn, lb_vec_dot_##dotfn##_ref}

static const struct lb_qtraits qtraits[LB_QTYPE_COUNT] = {
    LB_ROW(F32, "f32", "F32", 1, 4, 32.0, false, F32, f32, f32_f32),
    LB_ROW(F16, "f16", "F16", 1, 2, 16.0, false, F32, f16, f16_f32),
    LB_ROW(BF16, "bf16", "BF16", 1, 2, 16.0, false, F32, bf16, bf16_f32),
    LB_ROW(Q4_0, "q4_0", "Q4_0", 32, 18, 4.5, true, Q8_0, q4_0, q4_0_q8_0),
    LB_ROW(Q4_1, "q4_1", "Q4_1", 32, 20, 5.0, true, Q8_1, q4_1, q4_1_q8_1),
    LB_ROW(Q5_0, "q5_0", "Q5_0", 32, 22, 5.5, true, Q8_0, q5_0, q5_0_q8_0),
    LB_ROW(Q5_1, "q5_1", "Q5_1", 32, 24, 6.0, true, Q8_1, q5_1, q5_1_q8_1),
    LB_ROW(Q8_0, "q8_0", "Q8_0", 32, 34, 8.5, true, Q8_0, q8_0, q8_0_q8_0),
    LB_ROW(Q8_1, "q8_1", "Q8_1", 32, 36, 9.0, true, Q8_1, q8_1, q8_1_q8_1),
    LB_ROW(Q2_K, "q2_k", "Q2_K", 256, 84, 2.625, true, Q8_K, q2_k, q2_k_q8_k),
    LB_ROW(Q3_K, "q3_k", "Q3_K", 256, 110, 3.4375, true, Q8_K, q3_k, q3_k_q8_k),
    LB_ROW(Q4_K, "q4_k", "Q4_K", 256, 144, 4.5, true, Q8_K, q4_k, q4_k_q8_k),
    LB_ROW(Q5_K, "q5_k", "Q5_K", 256, 176, 5.5, true, Q8_K, q5_k, q5_k_q8_k),
    LB_ROW(Q6_K, "q6_k", "Q6_K", 256, 210, 6.5625, true, Q8_K, q6_k, q6_k_q8_k),
    LB_ROW(Q8_K, "q8_k", "Q8_K", 256, 292, 9.125, true, Q8_K, q8_k, q8_k_q8_k),
    LB_ROW(IQ4_NL, "iq4_nl", "IQ4_NL", 32, 18, 4.5, true, Q8_0, iq4_nl, iq4_nl_q8_0),
    LB_ROW(IQ4_XS, "iq4_xs", "IQ4_XS", 256, 136, 4.25, true, Q8_K, iq4_xs, iq4_xs_q8_k),
    LB_ROW(MXFP4, "mxfp4", "MXFP4", 32, 17, 4.25, true, Q8_0, mxfp4, mxfp4_q8_0),
};

#undef LB_ROW

const struct lb_qtraits *lb_qtraits_get(enum lb_qtype type)
{
    if ((unsigned)type >= LB_QTYPE_COUNT || qtraits[type].block_elems == 0)
        return NULL;
    return &qtraits[type];
}

static bool ascii_eq_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char ca = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char cb = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (ca != cb) return false;
    }
    return *a == *b;
}

bool lb_qtype_parse(const char *name, enum lb_qtype *out)
{
    if (!name) return false;
    for (int t = 0; t < LB_QTYPE_COUNT; t++) {
        const struct lb_qtraits *q = lb_qtraits_get((enum lb_qtype)t);
        if (q && (ascii_eq_nocase(name, q->name) || ascii_eq_nocase(name, q->ggml_name))) {
            *out = (enum lb_qtype)t;
            return true;
        }
    }
    return false;
}

const char *lb_qtype_name(enum lb_qtype type)
{
    const struct lb_qtraits *q = lb_qtraits_get(type);
    return q ? q->name : "unknown";
}

size_t lb_qtype_row_bytes(enum lb_qtype type, int64_t n_elems)
{
    const struct lb_qtraits *q = lb_qtraits_get(type);
    LB_ASSERT(q != NULL);
    LB_ASSERT(n_elems >= 0 && n_elems % q->block_elems == 0);
    return (size_t)(n_elems / q->block_elems) * (size_t)q->block_bytes;
}
