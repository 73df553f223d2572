/* gemv-float-avx2.c: the AVX2 level of the float-weight GEMV dots
 * (kernels/lb-gemv.h): F32, F16 and BF16 weight rows against an f32
 * activation row.
 *
 * Compiled with -mavx2 -mfma -mf16c (CMakeLists), reached only through
 * lb_gemv_init after lb_dot_impl_usable allowed LB_ISA_AVX2; all three are
 * in the level's baseline, so no entry requires more:
 *  - F16: VCVTPH2PS (F16C) widens 8 halves to 8 floats, exactly;
 *  - BF16: VPMOVZXWD + VPSLLD 16, which is the bf16 -> f32 conversion,
 *    exactly (no rounding of the activation to bf16: lb-quant.h).
 * The products are FMAs with x in f32, so a dot differs from the reference
 * (a double sum) only by f32 rounding of the FMA chains.
 *
 * Workload: as gemv-float-avx512.c. Eight independent accumulators of 8
 * lanes cover 2 FMA pipes x 4-5 cycles of latency; a round is 64
 * elements (128 B of F16 weights, two cache lines).
 */
#include "../gemv-impl.h"

#if LB_GEMV_HAVE_X86

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* floats per ymm */
#define LANES 8
/* independent accumulators; see the file comment */
#define ACC 8
#define ROUND (ACC * LANES)

/* 8 weights at p (any alignment) as 8 floats */
static inline __m256 ld_f32(const float *p) { return _mm256_loadu_ps(p); }
static inline __m256 ld_f16(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}
static inline __m256 ld_bf16(const uint16_t *p)
{
    return _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

/* One dot per weight type: whole rounds, single vectors, then the last
 * n % 8 elements through a zero-padded copy (AVX2 has no 16-bit masked
 * load), so the tail is the same vector code and never reads past the
 * row. Pointer loops exiting on `!=`: see gemv-float-avx512.c. */
#define LB_DEFINE_DOT(NAME, T, LD)                                                 \
    static float NAME(int64_t n, const void *w, const void *act)                  \
    {                                                                              \
        const T *wp = w;                                                           \
        const float *xp = act;                                                     \
        const T *const end = wp + n;                                               \
        const T *const rounds_end = wp + n / ROUND * ROUND;                        \
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                \
        __m256 s4 = s0, s5 = s0, s6 = s0, s7 = s0;                                 \
        for (; wp != rounds_end; wp += ROUND, xp += ROUND) {                       \
            s0 = _mm256_fmadd_ps(LD(wp + 0 * LANES), _mm256_loadu_ps(xp + 0 * LANES), s0); \
            s1 = _mm256_fmadd_ps(LD(wp + 1 * LANES), _mm256_loadu_ps(xp + 1 * LANES), s1); \
            s2 = _mm256_fmadd_ps(LD(wp + 2 * LANES), _mm256_loadu_ps(xp + 2 * LANES), s2); \
            s3 = _mm256_fmadd_ps(LD(wp + 3 * LANES), _mm256_loadu_ps(xp + 3 * LANES), s3); \
            s4 = _mm256_fmadd_ps(LD(wp + 4 * LANES), _mm256_loadu_ps(xp + 4 * LANES), s4); \
            s5 = _mm256_fmadd_ps(LD(wp + 5 * LANES), _mm256_loadu_ps(xp + 5 * LANES), s5); \
            s6 = _mm256_fmadd_ps(LD(wp + 6 * LANES), _mm256_loadu_ps(xp + 6 * LANES), s6); \
            s7 = _mm256_fmadd_ps(LD(wp + 7 * LANES), _mm256_loadu_ps(xp + 7 * LANES), s7); \
        }                                                                          \
        for (; end - wp >= LANES; wp += LANES, xp += LANES)                        \
            s0 = _mm256_fmadd_ps(LD(wp), _mm256_loadu_ps(xp), s0);                 \
        if (wp != end) {                                                           \
            T tw[LANES];                                                           \
            float tx[LANES];                                                       \
            memset(tw, 0, sizeof tw);                                              \
            memset(tx, 0, sizeof tx);                                              \
            memcpy(tw, wp, (size_t)(end - wp) * sizeof(T));                        \
            memcpy(tx, xp, (size_t)(end - wp) * sizeof(float));                    \
            s1 = _mm256_fmadd_ps(LD(tw), _mm256_loadu_ps(tx), s1);                 \
        }                                                                          \
        s0 = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));          \
        s4 = _mm256_add_ps(_mm256_add_ps(s4, s5), _mm256_add_ps(s6, s7));          \
        s0 = _mm256_add_ps(s0, s4);                                                \
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1)); \
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));                                    \
        h = _mm_add_ss(h, _mm_movehdup_ps(h));                                     \
        return _mm_cvtss_f32(h);                                                   \
    }

LB_DEFINE_DOT(dot_f32_avx2, float, ld_f32)
LB_DEFINE_DOT(dot_f16_avx2, uint16_t, ld_f16)
LB_DEFINE_DOT(dot_bf16_avx2, uint16_t, ld_bf16)

#undef LB_DEFINE_DOT

static const struct lb_dot_impl dots[] = {
    {LB_QTYPE_F32, LB_ISA_AVX2, LB_REQ_NONE, "avx2", dot_f32_avx2},
    {LB_QTYPE_F16, LB_ISA_AVX2, LB_REQ_NONE, "avx2", dot_f16_avx2},
    {LB_QTYPE_BF16, LB_ISA_AVX2, LB_REQ_NONE, "avx2", dot_bf16_avx2},
    {LB_QTYPE_F32, LB_ISA_AVX2, LB_REQ_NONE, NULL, NULL},
};

/* f32 activations need no quantizer */
static const struct lb_actq_impl actqs[] = {
    {LB_QTYPE_F32, LB_ISA_AVX2, LB_REQ_NONE, NULL},
};

const struct lb_dot_table lb_gemv_table_float_avx2 = {dots, actqs};

#endif /* LB_GEMV_HAVE_X86 */
