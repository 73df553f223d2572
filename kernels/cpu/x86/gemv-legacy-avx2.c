/* gemv-legacy-avx2.c: the AVX2 level of the row dot products of the
 * 32-element formats (Q8_0, Q4_0, Q5_0, IQ4_NL, MXFP4 against Q8_0
 * activations; Q4_1, Q5_1 against Q8_1) and of the Q8_0 / Q8_1 activation
 * quantizers (lb-gemv.h).
 *
 * Compiled with -mavx2 -mfma -mf16c (CMakeLists). Two sets of dots:
 *  - "avx2": VPMADDUBSW + VPMADDWD, any AVX2 CPU (requires 0);
 *  - "avx_vnni": VEX VPDPBUSD on ymm (Alder Lake and later, Zen 5),
 *    built per function with target("avxvnni") since the file's flags do
 *    not include it; only reached when the CPU reports AVX-VNNI
 *    (LB_REQ_AVX_VNNI).
 *
 * Workload assumptions: as the AVX-512 level (gemv-legacy-avx512.c): one
 * weight row streamed from DRAM per call, the activation row in L1/L2; the
 * per-block instruction count sets the speed.
 *
 * One ymm is one block, its 32 bytes the block's elements in row order.
 * 4-bit weights: the 16 bytes of qs are broadcast to both halves and
 * shifted right by 0 / 4 bits (VPSRLVD), then masked to nibbles.
 *
 * Integer sums, exact in every path:
 *  - VPMADDUBSW multiplies u8 by s8 and adds pairs with int16 saturation,
 *    so each path keeps 2 |u| |s| <= 32767: Q4_0 / Q5_0 use the stored q
 *    (<= 31) and subtract maddubs(c, a) (c = 8 / 16) in int16 before the
 *    widening VPMADDWD; Q8_0, IQ4_NL and MXFP4 use |w| and sign(a, w)
 *    (|w| <= 128, |a| <= 127 since the activation quantizer never writes
 *    -128: 2 * 128 * 127 = 32512; VPABSB of -128 is 0x80 = 128 as u8);
 *    Q4_1 / Q5_1 are unsigned already.
 *  - VPDPBUSD has no saturation: the same offsets, or |w| / sign(a, w).
 * Per block, the int32 lanes are converted to float and FMA'd with the
 * block's scale d_w * d_a (four blocks' scales from one VCVTPH2PS) into
 * float accumulators, so results differ from the reference only by float
 * rounding. Leftover blocks (nb % 4) take a scalar step.
 *
 * MXFP4 scales are 2^(e - 128) times the fp16 activation scale, formed in
 * float: see gemv-legacy-avx512.c for the (unreachable in practice) range
 * limit.
 */
#include "../gemv-impl.h"

#if LB_GEMV_HAVE_X86

#include <immintrin.h>
#include <string.h>

#include "../../quant/lb-blocks.h"

#define VNNI __attribute__((target("avxvnni")))

/* ---- helpers ---------------------------------------------------------- */

/* Four 16-bit fields of consecutive blocks, packed low to high. */
#define PACK4(p, i, f)                                                        \
    ((uint64_t)(p)[(i)].f | (uint64_t)(p)[(i) + 1].f << 16 |                 \
     (uint64_t)(p)[(i) + 2].f << 32 | (uint64_t)(p)[(i) + 3].f << 48)

/* lo[k] * hi[k] for four fp16 pairs: the scales of four blocks. */
static inline __m128 mul_fp16x4(uint64_t lo, uint64_t hi)
{
    __m256 f = _mm256_cvtph_ps(_mm_set_epi64x((long long)hi, (long long)lo));
    return _mm_mul_ps(_mm256_castps256_ps128(f), _mm256_extractf128_ps(f, 1));
}

/* A block's qs[16] as 32 nibbles in row order: [qs & 15 | qs >> 4]. */
static inline __m256i nib1(const uint8_t *qs)
{
    const __m256i shift = _mm256_set_epi32(4, 4, 4, 4, 0, 0, 0, 0);
    __m256i q = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    return _mm256_and_si256(_mm256_srlv_epi32(q, shift), _mm256_set1_epi8(15));
}

static inline __m256i ld256(const int8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* Fifth bits of a Q5 block (bit j of qh = element j) as 0x10 in byte j. */
static inline __m256i qh_bytes(const uint8_t *qh)
{
    uint32_t h;
    memcpy(&h, qh, sizeof h);
    /* byte j takes byte j / 8 of h, then tests bit j % 8 by OR-ing all the
     * other bits in and comparing with all-ones */
    const __m256i pick = _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL,
                                           0x0101010101010101LL, 0);
    const __m256i bit = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfeLL);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)h), pick);
    v = _mm256_cmpeq_epi8(_mm256_or_si256(v, bit), _mm256_set1_epi64x(-1));
    return _mm256_and_si256(v, _mm256_set1_epi8(16));
}

/* 16-entry int8 grid in both 128-bit lanes, for VPSHUFB. */
static inline __m256i grid_s8(const int8_t *grid)
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)grid));
}

static inline float fp16(uint16_t h) { return _cvtsh_ss(h); }

/* 2^(e - 128) as lb_e8m0_to_f32_half: e >= 2 normal, e = 0, 1 subnormal */
static inline __m128 e8m0x4(uint32_t e4)
{
    __m128i e = _mm_cvtepu8_epi32(_mm_cvtsi32_si128((int)e4));
    __m128i norm = _mm_slli_epi32(_mm_sub_epi32(e, _mm_set1_epi32(1)), 23);
    __m128i sub = _mm_sllv_epi32(_mm_set1_epi32(0x00200000), e);
    __m128i big = _mm_cmpgt_epi32(e, _mm_set1_epi32(1));
    return _mm_castsi128_ps(_mm_blendv_epi8(sub, norm, big));
}

static inline float e8m0(uint8_t e)
{
    uint32_t bits = e >= 2 ? (uint32_t)(e - 1) << 23 : 0x00200000u << e;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* ---- integer sums of one block: int32 lanes whose sum is exact -------- */

/* maddubs: (u - c) . a with u <= 31, c <= 16: both products fit int16 */
static inline __m256i mad_off(__m256i u, __m256i a, __m256i c)
{
    __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(u, a), _mm256_maddubs_epi16(c, a));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

static inline __m256i mad_u(__m256i u, __m256i a)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), _mm256_set1_epi16(1));
}

/* signed w . a as |w| . sign(a, w) */
static inline __m256i mad_s(__m256i w, __m256i a)
{
    return mad_u(_mm256_abs_epi8(w), _mm256_sign_epi8(a, w));
}

VNNI static inline __m256i vnni_off(__m256i u, __m256i a, __m256i c)
{
    const __m256i z = _mm256_setzero_si256();
    return _mm256_sub_epi32(_mm256_dpbusd_avx_epi32(z, u, a), _mm256_dpbusd_avx_epi32(z, c, a));
}

VNNI static inline __m256i vnni_u(__m256i u, __m256i a)
{
    return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), u, a);
}

VNNI static inline __m256i vnni_s(__m256i w, __m256i a)
{
    return vnni_u(_mm256_abs_epi8(w), _mm256_sign_epi8(a, w));
}

/* ---- scalar steps for the leftover blocks ----------------------------- */

static inline int32_t sum_nib_q8(const uint8_t *qs, const int8_t *a, int off)
{
    int32_t s = 0;
    for (int j = 0; j < 16; j++)
        s += ((qs[j] & 15) - off) * a[j] + ((qs[j] >> 4) - off) * a[j + 16];
    return s;
}

static inline int32_t sum_grid_q8(const uint8_t *qs, const int8_t *a, const int8_t *grid)
{
    int32_t s = 0;
    for (int j = 0; j < 16; j++) s += grid[qs[j] & 15] * a[j] + grid[qs[j] >> 4] * a[j + 16];
    return s;
}

static inline int32_t sum_q5_q8(const uint8_t *qs, const uint8_t *qh, const int8_t *a, int off)
{
    uint32_t h;
    memcpy(&h, qh, sizeof h);
    int32_t s = 0;
    for (int j = 0; j < 16; j++) {
        int lo = (qs[j] & 15) | (int)((h >> j) & 1) << 4;
        int hi = (qs[j] >> 4) | (int)((h >> (j + 16)) & 1) << 4;
        s += (lo - off) * a[j] + (hi - off) * a[j + 16];
    }
    return s;
}

static inline int32_t sum_q8_q8(const int8_t *w, const int8_t *a)
{
    int32_t s = 0;
    for (int j = 0; j < 32; j++) s += w[j] * a[j];
    return s;
}

/* ---- the dot loops ---------------------------------------------------- */

/* DOT_BODY: four blocks per step; IBLK(k) is block ib + k's int32 lanes,
 * SCALES the four scales (__m128), MS the m * s term of four blocks
 * (__m128, zero for the symmetric formats), TAIL one leftover block's
 * float term. One body, two instantiations per format (maddubs, VNNI). */
#define DOT_BODY(WT, AT, QK, IBLK, SCALES, MS, TAIL)                          \
    const WT *x = vw;                                                         \
    const AT *y = va;                                                         \
    const int64_t nb = n / (QK);                                              \
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0; \
    __m128 accm = _mm_setzero_ps();                                           \
    int64_t ib = 0;                                                           \
    for (; ib + 4 <= nb; ib += 4) {                                           \
        /* the scales go through memory: VBROADCASTSS from memory is a    \
         * plain load, cheaper than a lane permute per block */           \
        float s4[4];                                                          \
        _mm_storeu_ps(s4, (SCALES));                                          \
        accm = _mm_add_ps(accm, (MS));                                        \
        acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(IBLK(0)), _mm256_broadcast_ss(&s4[0]), acc0); \
        acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(IBLK(1)), _mm256_broadcast_ss(&s4[1]), acc1); \
        acc2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(IBLK(2)), _mm256_broadcast_ss(&s4[2]), acc2); \
        acc3 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(IBLK(3)), _mm256_broadcast_ss(&s4[3]), acc3); \
    }                                                                         \
    __m256 acc = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)); \
    __m128 h = _mm_add_ps(_mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1)), accm); \
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));                                   \
    h = _mm_add_ss(h, _mm_movehdup_ps(h));                                    \
    float sum = _mm_cvtss_f32(h);                                             \
    for (; ib < nb; ib++) sum += (TAIL);                                      \
    return sum;

#define SC_D4 mul_fp16x4(PACK4(x, ib, d), PACK4(y, ib, d))
#define MS_NONE _mm_setzero_ps()
#define MS_MS mul_fp16x4(PACK4(x, ib, m), PACK4(y, ib, s))
#define SC_E8 _mm_mul_ps(e8m0x4((uint32_t)x[ib].e | (uint32_t)x[ib + 1].e << 8 |          \
                                (uint32_t)x[ib + 2].e << 16 | (uint32_t)x[ib + 3].e << 24), \
                         _mm_cvtph_ps(_mm_cvtsi64_si128((long long)PACK4(y, ib, d))))

#define TAIL_D(isum) (fp16(x[ib].d) * fp16(y[ib].d) * (float)(isum))
#define TAIL_DM(isum) (fp16(x[ib].d) * fp16(y[ib].d) * (float)(isum) + fp16(x[ib].m) * fp16(y[ib].s))

/* block ib + k's weights / activation */
#define W_NIB(k) nib1(x[ib + (k)].qs)
#define W_Q5(k) _mm256_or_si256(nib1(x[ib + (k)].qs), qh_bytes(x[ib + (k)].qh))
#define A_QS(k) ld256(y[ib + (k)].qs)

/* Q4_0 */
#define I_Q4_0_MAD(k) mad_off(W_NIB(k), A_QS(k), _mm256_set1_epi8(8))
#define I_Q4_0_VNNI(k) vnni_off(W_NIB(k), A_QS(k), _mm256_set1_epi8(8))
static float dot_q4_0_avx2(int64_t n, const void *vw, const void *va)
{
    DOT_BODY(struct lb_block_q4_0, struct lb_block_q8_0, LB_QK4_0, I_Q4_0_MAD, SC_D4, MS_NONE,
             TAIL_D(sum_nib_q8(x[ib].qs, y[ib].qs, 8)))
}
VNNI static float dot_q4_0_vnni(int64_t n, const void *vw, const void *va)
{
    DOT_BODY(struct lb_block_q4_0, struct lb_block_q8_0, LB_QK4_0, I_Q4_0_VNNI, SC_D4, MS_NONE,
             TAIL_D(sum_nib_q8(x[ib].qs, y[ib].qs, 8)))
}

/* Q5_0 */
#define I_Q5_0_MAD(k) mad_off(W_Q5(k), A_QS(k), _mm256_set1_epi8(16))
#define I_Q5_0_VNNI(k) vnni_off(W_Q5(k), A_QS(k), _mm256_set1_epi8(16))
static float dot_q5_0_avx2(int64_t n, const void *vw, const void *va)
{
    DOT_BODY(struct lb_block_q5_0, struct lb_block_q8_0, LB_QK5_0, I_Q5_0_MAD, SC_D4, MS_NONE,
             TAIL_D(sum_q5_q8(x[ib].qs, x[ib].qh, y[ib].qs, 16)))
}
VNNI static float dot_q5_0_vnni(int64_t n, const void *vw, const void *va)
{
    DOT_BODY(struct lb_block_q5_0, struct lb_block_q8_0, LB_QK5_0, I_Q5_0_VNNI, SC_D4, MS_NONE,
             TAIL_D(sum_q5_q8(x[ib].qs, x[ib].qh, y[ib].qs, 16)))
}

/* Q8_0 */
#define I_Q8_0_MAD(k) mad_s(ld256(x[ib + (k)].qs), A_QS(k))
#define I_Q8_0_VNNI(k) vnni_s(ld256(x[ib + (k)].qs), A_QS(k))
static float dot_q8_0_avx2(int64_t n, const void *vw, const void *va)
{
    DOT_BODY(struct lb_block_q8_0, struct lb_block_q8_0, LB_QK8_0, I_Q8_0_MAD, SC_D4, MS_NONE,
             TAIL_D(sum_q8_q8(x[ib].qs, y[ib].qs)))
}
VNNI static float dot_q8_0_vnni(int64_t n, const void *vw, const void *va)
{
    DOT_BODY(struct lb_block_q8_0, struct lb_block_q8_0, LB_QK8_0, I_Q8_0_VNNI, SC_D4, MS_NONE,
             TAIL_D(sum_q8_q8(x[ib].qs, y[ib].qs)))
}

/* IQ4_NL and MXFP4: nibble -> signed grid value by VPSHUFB */
#define I_GRID_MAD(k) mad_s(_mm256_shuffle_epi8(grid, W_NIB(k)), A_QS(k))
#define I_GRID_VNNI(k) vnni_s(_mm256_shuffle_epi8(grid, W_NIB(k)), A_QS(k))
static float dot_iq4_nl_avx2(int64_t n, const void *vw, const void *va)
{
    const __m256i grid = grid_s8(lb_kvalues_iq4nl);
    DOT_BODY(struct lb_block_iq4_nl, struct lb_block_q8_0, LB_QK4_NL, I_GRID_MAD, SC_D4, MS_NONE,
             TAIL_D(sum_grid_q8(x[ib].qs, y[ib].qs, lb_kvalues_iq4nl)))
}
VNNI static float dot_iq4_nl_vnni(int64_t n, const void *vw, const void *va)
{
    const __m256i grid = grid_s8(lb_kvalues_iq4nl);
    DOT_BODY(struct lb_block_iq4_nl, struct lb_block_q8_0, LB_QK4_NL, I_GRID_VNNI, SC_D4, MS_NONE,
             TAIL_D(sum_grid_q8(x[ib].qs, y[ib].qs, lb_kvalues_iq4nl)))
}
static float dot_mxfp4_avx2(int64_t n, const void *vw, const void *va)
{
    const __m256i grid = grid_s8(lb_kvalues_mxfp4);
    DOT_BODY(struct lb_block_mxfp4, struct lb_block_q8_0, LB_QK_MXFP4, I_GRID_MAD, SC_E8, MS_NONE,
             e8m0(x[ib].e) * fp16(y[ib].d) * (float)sum_grid_q8(x[ib].qs, y[ib].qs, lb_kvalues_mxfp4))
}
VNNI static float dot_mxfp4_vnni(int64_t n, const void *vw, const void *va)
{
    const __m256i grid = grid_s8(lb_kvalues_mxfp4);
    DOT_BODY(struct lb_block_mxfp4, struct lb_block_q8_0, LB_QK_MXFP4, I_GRID_VNNI, SC_E8, MS_NONE,
             e8m0(x[ib].e) * fp16(y[ib].d) * (float)sum_grid_q8(x[ib].qs, y[ib].qs, lb_kvalues_mxfp4))
}

/* Q4_1, Q5_1 against Q8_1: d_w d_a sum(q a) + m s */
#define I_Q4_1_MAD(k) mad_u(W_NIB(k), A_QS(k))
#define I_Q4_1_VNNI(k) vnni_u(W_NIB(k), A_QS(k))
#define I_Q5_1_MAD(k) mad_u(W_Q5(k), A_QS(k))
#define I_Q5_1_VNNI(k) vnni_u(W_Q5(k), A_QS(k))
static float dot_q4_1_avx2(int64_t n, const void *vw, const void *va)
{
    DOT_BODY(struct lb_block_q4_1, struct lb_block_q8_1, LB_QK4_1, I_Q4_1_MAD, SC_D4, MS_MS,
             TAIL_DM(sum_nib_q8(x[ib].qs, y[ib].qs, 0)))
}
VNNI static float dot_q4_1_vnni(int64_t n, const void *vw, const void *va)
{
    DOT_BODY(struct lb_block_q4_1, struct lb_block_q8_1, LB_QK4_1, I_Q4_1_VNNI, SC_D4, MS_MS,
             TAIL_DM(sum_nib_q8(x[ib].qs, y[ib].qs, 0)))
}
static float dot_q5_1_avx2(int64_t n, const void *vw, const void *va)
{
    DOT_BODY(struct lb_block_q5_1, struct lb_block_q8_1, LB_QK5_1, I_Q5_1_MAD, SC_D4, MS_MS,
             TAIL_DM(sum_q5_q8(x[ib].qs, x[ib].qh, y[ib].qs, 0)))
}
VNNI static float dot_q5_1_vnni(int64_t n, const void *vw, const void *va)
{
    DOT_BODY(struct lb_block_q5_1, struct lb_block_q8_1, LB_QK5_1, I_Q5_1_VNNI, SC_D4, MS_MS,
             TAIL_DM(sum_q5_q8(x[ib].qs, x[ib].qh, y[ib].qs, 0)))
}

/* ---- activation quantizers -------------------------------------------- */
/* Bit-exact with quant.c's q8_block32: d = fp16(amax / 127) (VCVTPS2PH
 * with round-to-nearest-even is lb_f32_to_fp16 for every finite input),
 * q = floor(x / d + 0.5) clamped to [-127, 127], with x / d and + 0.5
 * in double as the reference does (a float quotient can round onto a .5
 * tie the double one is below). */

static inline uint16_t q8_block32(const float *x, int8_t *qs, int32_t *sum)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[4];
    __m256 m = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[k]));
    }
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const float amax = _mm_cvtss_f32(h);
    const uint16_t dh = (uint16_t)_cvtss_sh(amax / 127.0f, _MM_FROUND_TO_NEAREST_INT);
    const float d = _cvtsh_ss(dh);
    if (d == 0) {
        memset(qs, 0, 32);
        *sum = 0;
        return dh;
    }
    const __m256d dd = _mm256_set1_pd((double)d), half = _mm256_set1_pd(0.5);
    const __m256d lo = _mm256_set1_pd(-127.0), hi = _mm256_set1_pd(127.0);
    __m128i q[8];
    for (int k = 0; k < 8; k++) {
        __m128 f = k & 1 ? _mm256_extractf128_ps(v[k / 2], 1) : _mm256_castps256_ps128(v[k / 2]);
        __m256d a = _mm256_add_pd(_mm256_div_pd(_mm256_cvtps_pd(f), dd), half);
        a = _mm256_round_pd(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        a = _mm256_min_pd(_mm256_max_pd(a, lo), hi);
        q[k] = _mm256_cvtpd_epi32(a); /* whole numbers in range: exact */
    }
    /* int32 -> int8: the values fit, so the saturating packs are exact */
    __m128i w0 = _mm_packs_epi32(q[0], q[1]), w1 = _mm_packs_epi32(q[2], q[3]);
    __m128i w2 = _mm_packs_epi32(q[4], q[5]), w3 = _mm_packs_epi32(q[6], q[7]);
    _mm_storeu_si128((__m128i *)qs, _mm_packs_epi16(w0, w1));
    _mm_storeu_si128((__m128i *)(qs + 16), _mm_packs_epi16(w2, w3));
    __m128i s = _mm_add_epi32(_mm_madd_epi16(_mm_add_epi16(w0, w1), _mm_set1_epi16(1)),
                              _mm_madd_epi16(_mm_add_epi16(w2, w3), _mm_set1_epi16(1)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    *sum = _mm_cvtsi128_si32(s);
    return dh;
}

static void quantize_q8_0(const float *x, void *blocks, int64_t n)
{
    struct lb_block_q8_0 *y = blocks;
    for (int64_t ib = 0; ib < n / LB_QK8_0; ib++) {
        int32_t sum;
        y[ib].d = q8_block32(x + ib * LB_QK8_0, y[ib].qs, &sum);
    }
}

static void quantize_q8_1(const float *x, void *blocks, int64_t n)
{
    struct lb_block_q8_1 *y = blocks;
    for (int64_t ib = 0; ib < n / LB_QK8_1; ib++) {
        int32_t sum;
        y[ib].d = q8_block32(x + ib * LB_QK8_1, y[ib].qs, &sum);
        /* s as the reference: fp16(fp16(d) * (float)sum) */
        y[ib].s = (uint16_t)_cvtss_sh(_cvtsh_ss(y[ib].d) * (float)sum,
                                      _MM_FROUND_TO_NEAREST_INT);
    }
}

/* ---- table ------------------------------------------------------------ */

#define AVX2_ROW(T, fn) {LB_QTYPE_##T, LB_ISA_AVX2, LB_REQ_NONE, "avx2", fn}
#define VNNI_ROW(T, fn) {LB_QTYPE_##T, LB_ISA_AVX2, LB_REQ_AVX_VNNI, "avx_vnni", fn}

static const struct lb_dot_impl dots[] = {
    AVX2_ROW(Q8_0, dot_q8_0_avx2),     VNNI_ROW(Q8_0, dot_q8_0_vnni),
    AVX2_ROW(Q4_0, dot_q4_0_avx2),     VNNI_ROW(Q4_0, dot_q4_0_vnni),
    AVX2_ROW(Q5_0, dot_q5_0_avx2),     VNNI_ROW(Q5_0, dot_q5_0_vnni),
    AVX2_ROW(Q4_1, dot_q4_1_avx2),     VNNI_ROW(Q4_1, dot_q4_1_vnni),
    AVX2_ROW(Q5_1, dot_q5_1_avx2),     VNNI_ROW(Q5_1, dot_q5_1_vnni),
    AVX2_ROW(IQ4_NL, dot_iq4_nl_avx2), VNNI_ROW(IQ4_NL, dot_iq4_nl_vnni),
    AVX2_ROW(MXFP4, dot_mxfp4_avx2),   VNNI_ROW(MXFP4, dot_mxfp4_vnni),
    {LB_QTYPE_F32, LB_ISA_AVX2, 0, NULL, NULL},
};

static const struct lb_actq_impl actqs[] = {
    {LB_QTYPE_Q8_0, LB_ISA_AVX2, LB_REQ_NONE, quantize_q8_0},
    {LB_QTYPE_Q8_1, LB_ISA_AVX2, LB_REQ_NONE, quantize_q8_1},
    {LB_QTYPE_F32, LB_ISA_AVX2, 0, NULL},
};

const struct lb_dot_table lb_gemv_table_legacy_avx2 = {dots, actqs};

#endif /* LB_GEMV_HAVE_X86 */
