/* gemv-k-avx2.c: the AVX2 level of the 256-element super-block formats'
 * row dot products (Q2_K..Q6_K, IQ4_XS against Q8_K) and of the Q8_K
 * activation quantizer (kernels/lb-gemv.h).
 *
 * Compiled with -mavx2 -mfma -mf16c only, so every entry requires nothing
 * beyond the level (no AVX-VNNI: the integer products are VPMADDUBSW +
 * VPMADDWD, which any AVX2 CPU has).
 *
 * Workload: decode GEMV, weights streamed once from DRAM, the activation
 * row hot in L1. Per super-block and 32-element ymm of quants:
 *  - quants are made unsigned bytes in element order (nibble split, high
 *    bits ORed in), so the activation is loaded straight from Q8_K;
 *  - VPMADDUBSW (u8 x s8 -> int16 pair sums; no saturation, |q| * 127 * 2
 *    < 32767 for every format here) then VPMADDWD by the sub-block scale
 *    broadcast per int16 lane (VPSHUFB from the decoded scales) gives
 *    int32 lanes, added up exactly in int32 per super-block;
 *  - offsets (Q3_K's -4, Q6_K's -32) and the mins of Q2_K/Q4_K/Q5_K come
 *    from Q8_K's bsums; IQ4_XS multiplies |table value| by the activation
 *    with the value's sign (VPSIGNB);
 *  - each super-block's int32 lanes are scaled by d * act.d in f32 and
 *    summed in f32 lanes; lanes are added at the end. Lanes stay below
 *    2^24 (exact in f32) except for Q6_K with extreme inputs (< 2^26, one
 *    f32 rounding, relative 6e-8).
 */
#include "../gemv-impl.h"

#if LB_GEMV_HAVE_X86

#include <immintrin.h>
#include <string.h>

#include "../../quant/lb-blocks.h"


/* ---- shared helpers -------------------------------------------------- */

static inline float fp16_to_f32(uint16_t h)
{
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

static inline float hsum256_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256i loadu256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* VPSHUFB control that spreads byte k of each 128-bit lane over all 8
 * int16 lanes, zero-extended (0x80 zeroes the high byte). */
static inline __m256i spread_u8(int k_lo, int k_hi)
{
    return _mm256_setr_epi8(k_lo, -128, k_lo, -128, k_lo, -128, k_lo, -128,
                            k_lo, -128, k_lo, -128, k_lo, -128, k_lo, -128,
                            k_hi, -128, k_hi, -128, k_hi, -128, k_hi, -128,
                            k_hi, -128, k_hi, -128, k_hi, -128, k_hi, -128);
}

/* Same for int16 word k of each lane (already sign-extended scales). */
static inline __m256i spread_w16(int k_lo, int k_hi)
{
    const int a = 2 * k_lo, b = 2 * k_lo + 1, c = 2 * k_hi, e = 2 * k_hi + 1;
    return _mm256_setr_epi8(a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b,
                            c, e, c, e, c, e, c, e, c, e, c, e, c, e, c, e);
}

/* Q4_K/Q5_K: the 12 packed scale bytes -> [sc0..sc7, mn0..mn7], one byte
 * each (layout in kernels/quant/lb-blocks.h), by scalar 64-bit ops. */
static inline __m128i k4_scales_mins(const uint8_t *s)
{
    uint64_t lo;
    uint32_t hi;
    memcpy(&lo, s, 8);
    memcpy(&hi, s + 8, 4);
    const uint64_t top = (lo >> 6) & 0x0303030303030303ull;
    const uint64_t low6 = lo & 0x3F3F3F3F3F3F3F3Full;
    const uint32_t sc47 = (hi & 0x0F0F0F0Fu) | ((uint32_t)top << 4);
    const uint32_t mn47 = ((hi >> 4) & 0x0F0F0F0Fu) | ((uint32_t)(top >> 32) << 4);
    const uint64_t sc = (low6 & 0xFFFFFFFFull) | (uint64_t)sc47 << 32;
    const uint64_t mn = (low6 >> 32) | (uint64_t)mn47 << 32;
    return _mm_set_epi64x((long long)mn, (long long)sc);
}

/* ---- Q4_K ------------------------------------------------------------ */

/* |q| <= 15: pair sums <= 3810; int32 lane per block <= 8 * 2 * 3810 * 63 */
static float dot_q4_k_q8_k(int64_t n, const void *w, const void *act)
{
    const struct lb_block_q4_k *x = w;
    const struct lb_block_q8_k *a = act;
    const int64_t nb = n / LB_QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256 accf = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t ib = 0; ib < nb; ib++) {
        const struct lb_block_q4_k *b = &x[ib];
        const int8_t *q8 = a[ib].qs;
        const __m128i sm = k4_scales_mins(b->scales);
        const __m256i scb = _mm256_broadcastsi128_si256(sm);
        __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i q = loadu256(b->qs + 32 * c);
            const __m256i lo = _mm256_and_si256(q, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            const __m256i plo = _mm256_maddubs_epi16(lo, loadu256(q8 + 64 * c));
            const __m256i phi = _mm256_maddubs_epi16(hi, loadu256(q8 + 64 * c + 32));
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(plo, _mm256_shuffle_epi8(scb, spread_u8(2 * c, 2 * c))));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(phi, _mm256_shuffle_epi8(scb, spread_u8(2 * c + 1, 2 * c + 1))));
        }
        /* mins: m[k] * (bsums[2k] + bsums[2k+1]); mn byte k at 8 + k */
        const __m256i mins = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm));
        const __m256i sm8 = _mm256_madd_epi16(mins, loadu256(a[ib].bsums));

        const float ad = a[ib].d;
        const float d = fp16_to_f32(b->d) * ad, dmin = fp16_to_f32(b->dmin) * ad;
        accf = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), _mm256_set1_ps(d), accf);
        accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sm8), _mm256_set1_ps(dmin), accm);
    }
    return hsum256_ps(_mm256_sub_ps(accf, accm));
}

/* ---- Q6_K ------------------------------------------------------------ */

/* q = ql | qh << 4 in [0, 63] (reference q + 32): pair sums <= 2 * 63 *
 * 127 = 16002; int32 lane per block <= 8 * 2 * 16002 * 128 + 2 * 2032 *
 * 4096 < 2^26 (see the file comment). Offset -32 * sum_k sc_k bsums_k. */
static float dot_q6_k_q8_k(int64_t n, const void *w, const void *act)
{
    const struct lb_block_q6_k *x = w;
    const struct lb_block_q8_k *a = act;
    const int64_t nb = n / LB_QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
    __m256 accf = _mm256_setzero_ps();
    for (int64_t ib = 0; ib < nb; ib++) {
        const struct lb_block_q6_k *b = &x[ib];
        const int8_t *q8 = a[ib].qs;
        const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
        /* [sc0..7 | sc0..7] and [sc8..15 | sc8..15] */
        const __m256i sclo = _mm256_permute2x128_si256(sc, sc, 0x00);
        const __m256i schi = _mm256_permute2x128_si256(sc, sc, 0x11);
        __m256i s0 = _mm256_slli_epi32(_mm256_madd_epi16(sc, loadu256(a[ib].bsums)), 5);
        __m256i s1 = _mm256_setzero_si256();
        s0 = _mm256_sub_epi32(_mm256_setzero_si256(), s0);
        for (int h = 0; h < 2; h++) {
            const __m256i l0 = loadu256(b->ql + 64 * h);
            const __m256i l1 = loadu256(b->ql + 64 * h + 32);
            const __m256i qh = loadu256(b->qh + 32 * h);
            const __m256i w0 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
            const __m256i w1 = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
            const __m256i w2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m30));
            const __m256i w3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
            const int8_t *q = q8 + 128 * h;
            const __m256i p0 = _mm256_maddubs_epi16(w0, loadu256(q + 0));
            const __m256i p1 = _mm256_maddubs_epi16(w1, loadu256(q + 32));
            const __m256i p2 = _mm256_maddubs_epi16(w2, loadu256(q + 64));
            const __m256i p3 = _mm256_maddubs_epi16(w3, loadu256(q + 96));
            /* ymm j of the half: sub-blocks 8h + 2j (lane 0), 8h + 2j + 1 */
            const __m256i sv = h ? schi : sclo;
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p0, _mm256_shuffle_epi8(sv, spread_w16(0, 1))));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p1, _mm256_shuffle_epi8(sv, spread_w16(2, 3))));
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p2, _mm256_shuffle_epi8(sv, spread_w16(4, 5))));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p3, _mm256_shuffle_epi8(sv, spread_w16(6, 7))));
        }
        const float d = fp16_to_f32(b->d) * a[ib].d;
        accf = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), _mm256_set1_ps(d), accf);
    }
    return hsum256_ps(accf);
}

/* ---- Q2_K ------------------------------------------------------------ */

/* q in [0, 3], sc, m in [0, 15]: pair sums <= 2 * 3 * 127; int32 lanes
 * per block <= 8 * 2 * 762 * 15. Mins: m_k * bsums_k. */
static float dot_q2_k_q8_k(int64_t n, const void *w, const void *act)
{
    const struct lb_block_q2_k *x = w;
    const struct lb_block_q8_k *a = act;
    const int64_t nb = n / LB_QK_K;
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m128i m4 = _mm_set1_epi8(0x0F);
    __m256 accf = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t ib = 0; ib < nb; ib++) {
        const struct lb_block_q2_k *b = &x[ib];
        const int8_t *q8 = a[ib].qs;
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)b->scales);
        const __m256i scb = _mm256_broadcastsi128_si256(_mm_and_si128(sc8, m4));
        const __m256i mn = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), m4));
        __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            /* element 128h + 32j + l: bits 2j.. of qs[32h + l]; ymm j holds
             * sub-blocks 8h + 2j (lane 0) and 8h + 2j + 1 (lane 1) */
            const __m256i q = loadu256(b->qs + 32 * h);
            const int8_t *qa = q8 + 128 * h;
            const __m256i p0 = _mm256_maddubs_epi16(_mm256_and_si256(q, m3), loadu256(qa));
            const __m256i p1 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 2), m3), loadu256(qa + 32));
            const __m256i p2 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 4), m3), loadu256(qa + 64));
            const __m256i p3 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 6), m3), loadu256(qa + 96));
            const int k = 8 * h;
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p0, _mm256_shuffle_epi8(scb, spread_u8(k + 0, k + 1))));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p1, _mm256_shuffle_epi8(scb, spread_u8(k + 2, k + 3))));
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p2, _mm256_shuffle_epi8(scb, spread_u8(k + 4, k + 5))));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p3, _mm256_shuffle_epi8(scb, spread_u8(k + 6, k + 7))));
        }
        const __m256i sm8 = _mm256_madd_epi16(mn, loadu256(a[ib].bsums));
        const float ad = a[ib].d;
        const float d = fp16_to_f32(b->d) * ad, dmin = fp16_to_f32(b->dmin) * ad;
        accf = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), _mm256_set1_ps(d), accf);
        accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sm8), _mm256_set1_ps(dmin), accm);
    }
    return hsum256_ps(_mm256_sub_ps(accf, accm));
}

/* ---- Q3_K ------------------------------------------------------------ */

/* The 16 six-bit scales minus 32, as int8 (layout in lb-blocks.h). p is
 * the block's byte 94: 16 bytes from there end at the block's end and
 * hold qs[62..63], scales[0..11], d. */
static inline __m128i q3_k_scales(const uint8_t *p)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)p);
    __m128i lo = _mm_shuffle_epi8(v, _mm_setr_epi8(2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5, 6, 7, 8, 9));
    lo = _mm_and_si128(_mm_srlv_epi64(lo, _mm_set_epi64x(4, 0)), _mm_set1_epi8(0x0F));
    __m128i hi = _mm_shuffle_epi8(v, _mm_setr_epi8(10, 11, 12, 13, 10, 11, 12, 13, 10, 11, 12, 13, 10, 11, 12, 13));
    hi = _mm_and_si128(_mm_srlv_epi32(hi, _mm_setr_epi32(0, 2, 4, 6)), _mm_set1_epi8(3));
    return _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi32(hi, 4)), _mm_set1_epi8(32));
}

/* bit b of every byte of v moved to bit t (16-bit lane shifts; |b - t| <=
 * 7 keeps each byte's bit inside its byte for the bits read here) */
static inline __m256i bit_to(__m256i v, int b, int t)
{
    return b > t ? _mm256_srli_epi16(v, b - t) : b < t ? _mm256_slli_epi16(v, t - b) : v;
}

/* u = q + 4 in [0, 7], scales sc - 32: pair sums <= 2 * 7 * 127; int32
 * lane per block <= 8 * 2 * 1778 * 32 + 2 * 2032 * 128. Offset: -4 *
 * sum_k (sc_k - 32) bsums_k. */
static float dot_q3_k_q8_k(int64_t n, const void *w, const void *act)
{
    const struct lb_block_q3_k *x = w;
    const struct lb_block_q8_k *a = act;
    const int64_t nb = n / LB_QK_K;
    const __m256i m3 = _mm256_set1_epi8(3), m4 = _mm256_set1_epi8(4);
    __m256 accf = _mm256_setzero_ps();
    for (int64_t ib = 0; ib < nb; ib++) {
        const struct lb_block_q3_k *b = &x[ib];
        const int8_t *q8 = a[ib].qs;
        const __m256i sc = _mm256_cvtepi8_epi16(q3_k_scales((const uint8_t *)b + 94));
        const __m256i sclo = _mm256_permute2x128_si256(sc, sc, 0x00);
        const __m256i schi = _mm256_permute2x128_si256(sc, sc, 0x11);
        __m256i s0 = _mm256_slli_epi32(_mm256_madd_epi16(sc, loadu256(a[ib].bsums)), 2);
        __m256i s1 = _mm256_setzero_si256();
        s0 = _mm256_sub_epi32(_mm256_setzero_si256(), s0);
        const __m256i hm = loadu256(b->hmask);
        for (int h = 0; h < 2; h++) {
            const __m256i q = loadu256(b->qs + 32 * h);
            const int8_t *qa = q8 + 128 * h;
            /* element 128h + 32j + l: bits 2j.. of qs[32h + l], high bit
             * 4h + j of hmask[l] */
            const __m256i u0 = _mm256_or_si256(_mm256_and_si256(q, m3), _mm256_and_si256(bit_to(hm, 4 * h + 0, 2), m4));
            const __m256i u1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2), m3), _mm256_and_si256(bit_to(hm, 4 * h + 1, 2), m4));
            const __m256i u2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m3), _mm256_and_si256(bit_to(hm, 4 * h + 2, 2), m4));
            const __m256i u3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 6), m3), _mm256_and_si256(bit_to(hm, 4 * h + 3, 2), m4));
            const __m256i p0 = _mm256_maddubs_epi16(u0, loadu256(qa));
            const __m256i p1 = _mm256_maddubs_epi16(u1, loadu256(qa + 32));
            const __m256i p2 = _mm256_maddubs_epi16(u2, loadu256(qa + 64));
            const __m256i p3 = _mm256_maddubs_epi16(u3, loadu256(qa + 96));
            const __m256i sv = h ? schi : sclo;
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p0, _mm256_shuffle_epi8(sv, spread_w16(0, 1))));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p1, _mm256_shuffle_epi8(sv, spread_w16(2, 3))));
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p2, _mm256_shuffle_epi8(sv, spread_w16(4, 5))));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p3, _mm256_shuffle_epi8(sv, spread_w16(6, 7))));
        }
        const float d = fp16_to_f32(b->d) * a[ib].d;
        accf = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), _mm256_set1_ps(d), accf);
    }
    return hsum256_ps(accf);
}

/* ---- Q5_K ------------------------------------------------------------ */

/* q in [0, 31]: pair sums <= 2 * 31 * 127; int32 lane per block <= 8 * 2
 * * 7874 * 63 < 2^24. */
static float dot_q5_k_q8_k(int64_t n, const void *w, const void *act)
{
    const struct lb_block_q5_k *x = w;
    const struct lb_block_q8_k *a = act;
    const int64_t nb = n / LB_QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m16 = _mm256_set1_epi8(0x10);
    __m256 accf = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t ib = 0; ib < nb; ib++) {
        const struct lb_block_q5_k *b = &x[ib];
        const int8_t *q8 = a[ib].qs;
        const __m128i sm = k4_scales_mins(b->scales);
        const __m256i scb = _mm256_broadcastsi128_si256(sm);
        const __m256i hm = loadu256(b->qh);
        __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            /* fifth bit of element 64c + l: bit 2c of qh[l]; of 64c + 32 + l:
             * bit 2c + 1 */
            const __m256i q = loadu256(b->qs + 32 * c);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), _mm256_and_si256(bit_to(hm, 2 * c, 4), m16));
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
                                               _mm256_and_si256(bit_to(hm, 2 * c + 1, 4), m16));
            const __m256i plo = _mm256_maddubs_epi16(lo, loadu256(q8 + 64 * c));
            const __m256i phi = _mm256_maddubs_epi16(hi, loadu256(q8 + 64 * c + 32));
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(plo, _mm256_shuffle_epi8(scb, spread_u8(2 * c, 2 * c))));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(phi, _mm256_shuffle_epi8(scb, spread_u8(2 * c + 1, 2 * c + 1))));
        }
        const __m256i mins = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm));
        const __m256i sm8 = _mm256_madd_epi16(mins, loadu256(a[ib].bsums));
        const float ad = a[ib].d;
        const float d = fp16_to_f32(b->d) * ad, dmin = fp16_to_f32(b->dmin) * ad;
        accf = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), _mm256_set1_ps(d), accf);
        accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sm8), _mm256_set1_ps(dmin), accm);
    }
    return hsum256_ps(_mm256_sub_ps(accf, accm));
}

/* ---- IQ4_XS ---------------------------------------------------------- */

/* ls - 32 of the 8 sub-blocks as int8, by scalar bit spreading: nibble k
 * of scales_l and 2-bit field k of scales_h to byte k. */
static inline __m128i iq4_xs_scales(const struct lb_block_iq4_xs *b)
{
    uint32_t l;
    memcpy(&l, b->scales_l, 4);
    uint64_t y = l;
    y = (y | y << 16) & 0x0000FFFF0000FFFFull;
    y = (y | y << 8) & 0x00FF00FF00FF00FFull;
    y = (y | y << 4) & 0x0F0F0F0F0F0F0F0Full;
    uint64_t z = b->scales_h;
    z = (z | z << 24) & 0x000000FF000000FFull;
    z = (z | z << 12) & 0x000F000F000F000Full;
    z = (z | z << 6) & 0x0303030303030303ull;
    return _mm_sub_epi8(_mm_cvtsi64_si128((long long)(y | z << 4)), _mm_set1_epi8(32));
}

/* t = kvalues[nibble] (int8): maddubs(|t|, a * sign(t)): pair sums <= 2 *
 * 127 * 127; int32 lane per block <= 8 * 2 * 32258 * 32 < 2^24. */
static float dot_iq4_xs_q8_k(int64_t n, const void *w, const void *act)
{
    const struct lb_block_iq4_xs *x = w;
    const struct lb_block_q8_k *a = act;
    const int64_t nb = n / LB_QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i tab = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)lb_kvalues_iq4nl));
    __m256 accf = _mm256_setzero_ps();
    for (int64_t ib = 0; ib < nb; ib++) {
        const struct lb_block_iq4_xs *b = &x[ib];
        const int8_t *q8 = a[ib].qs;
        /* scales as int16, [ls0..7 | ls0..7] */
        const __m256i scb = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(iq4_xs_scales(b)));
        __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            /* sub-blocks 2c, 2c+1: bytes 32c..; sub-block k's 32 elements
             * are [low nibbles, high nibbles] of its 16 bytes */
            const __m256i q = loadu256(b->qs + 32 * c);
            const __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            const __m256i t0 = _mm256_shuffle_epi8(tab, _mm256_permute2x128_si256(lo, hi, 0x20));
            const __m256i t1 = _mm256_shuffle_epi8(tab, _mm256_permute2x128_si256(lo, hi, 0x31));
            const __m256i p0 = _mm256_maddubs_epi16(_mm256_abs_epi8(t0), _mm256_sign_epi8(loadu256(q8 + 64 * c), t0));
            const __m256i p1 = _mm256_maddubs_epi16(_mm256_abs_epi8(t1), _mm256_sign_epi8(loadu256(q8 + 64 * c + 32), t1));
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p0, _mm256_shuffle_epi8(scb, spread_w16(2 * c, 2 * c))));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p1, _mm256_shuffle_epi8(scb, spread_w16(2 * c + 1, 2 * c + 1))));
        }
        const float d = fp16_to_f32(b->d) * a[ib].d;
        accf = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), _mm256_set1_ps(d), accf);
    }
    return hsum256_ps(accf);
}

/* ---- Q8_K activation quantizer ---------------------------------------- */

/* Byte-identical to lb_quantize_q8_k_ref (see gemv-k-avx512.c for the
 * argument): max |x|, d = amax / 127 in f32, q = floor(x / d + 0.5) in
 * double, clamp [-127, 127]; packs are exact after the clamp. */
static void quantize_q8_k(const float *x, void *blocks, int64_t n)
{
    struct lb_block_q8_k *y = blocks;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    const __m256d half = _mm256_set1_pd(0.5), lo = _mm256_set1_pd(-127.0), hi = _mm256_set1_pd(127.0);
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        const float *xb = x + ib * LB_QK_K;
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < LB_QK_K; j += 8)
            m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(xb + j), absmask));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float d = _mm_cvtss_f32(m4) / 127.0f;
        y[ib].d = d;
        if (d == 0) {
            memset(y[ib].qs, 0, sizeof y[ib].qs);
            memset(y[ib].bsums, 0, sizeof y[ib].bsums);
            continue;
        }
        const __m256d dv = _mm256_set1_pd((double)d);
        for (int k = 0; k < LB_QK_K / 16; k++) {
            __m128i q[4];
            for (int i = 0; i < 4; i++) {
                __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(xb + 16 * k + 4 * i));
                v = _mm256_floor_pd(_mm256_add_pd(_mm256_div_pd(v, dv), half));
                v = _mm256_min_pd(_mm256_max_pd(v, lo), hi);
                q[i] = _mm256_cvtpd_epi32(v);
            }
            const __m128i w01 = _mm_packs_epi32(q[0], q[1]), w23 = _mm_packs_epi32(q[2], q[3]);
            _mm_storeu_si128((__m128i *)(y[ib].qs + 16 * k), _mm_packs_epi16(w01, w23));
            __m128i s = _mm_add_epi32(_mm_add_epi32(q[0], q[1]), _mm_add_epi32(q[2], q[3]));
            s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
            s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
            y[ib].bsums[k] = (int16_t)_mm_cvtsi128_si32(s);
        }
    }
}

/* ---- the table --------------------------------------------------------- */

static const struct lb_dot_impl dots[] = {
    {LB_QTYPE_Q4_K, LB_ISA_AVX2, LB_REQ_NONE, "avx2", dot_q4_k_q8_k},
    {LB_QTYPE_Q6_K, LB_ISA_AVX2, LB_REQ_NONE, "avx2", dot_q6_k_q8_k},
    {LB_QTYPE_Q5_K, LB_ISA_AVX2, LB_REQ_NONE, "avx2", dot_q5_k_q8_k},
    {LB_QTYPE_Q3_K, LB_ISA_AVX2, LB_REQ_NONE, "avx2", dot_q3_k_q8_k},
    {LB_QTYPE_Q2_K, LB_ISA_AVX2, LB_REQ_NONE, "avx2", dot_q2_k_q8_k},
    {LB_QTYPE_IQ4_XS, LB_ISA_AVX2, LB_REQ_NONE, "avx2", dot_iq4_xs_q8_k},
    {LB_QTYPE_COUNT, LB_ISA_AVX2, 0, NULL, NULL},
};

static const struct lb_actq_impl actqs[] = {
    {LB_QTYPE_Q8_K, LB_ISA_AVX2, LB_REQ_NONE, quantize_q8_k},
    {LB_QTYPE_COUNT, LB_ISA_AVX2, 0, NULL},
};

const struct lb_dot_table lb_gemv_table_k_avx2 = {dots, actqs};

#endif /* x86 */
