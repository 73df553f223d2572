/* gemv-float-avx512.c: the AVX-512 level of the float-weight GEMV dots
 * (kernels/lb-gemv.h): F32, F16 and BF16 weight rows against an f32
 * activation row.
 *
 * Compiled with the AVX-512 level's flags (CMakeLists), reached only
 * through lb_gemv_init after lb_dot_impl_usable allowed LB_ISA_AVX512.
 * Only F+BW+VL instructions are used (BW/VL for the masked 16-bit tail
 * loads), so every entry requires nothing beyond the level:
 *  - F16: VCVTPH2PS (AVX-512F) widens 16 halves to 16 floats, exactly;
 *  - BF16: zero-extend to 32 bits and shift left 16 (VPMOVZXWD + VPSLLD),
 *    which IS the bf16 -> f32 conversion, exactly. VDPBF16PS would need
 *    the activation rounded to bf16, which changes results (lb-quant.h:
 *    the reference keeps x in f32), so it is not used and LB_REQ_AVX512_BF16
 *    is not claimed.
 * The products are then FMAs with x in f32, so a dot differs from the
 * reference (a double sum) only by f32 rounding of the FMA chains.
 *
 * Workload: a GEMV streams each weight row once from memory; x (cols
 * floats, <= 56 KiB at 14336 columns) stays in L1/L2. Eight independent
 * accumulators of 16 lanes: 8 FMA chains cover 2 FMA pipes x 4 cycles of
 * latency, and 128 elements per round (256 B of F16 weights, four cache
 * lines) keep several line fills in flight per iteration.
 */
#include "../gemv-impl.h"

#if LB_GEMV_HAVE_X86

#include <immintrin.h>
#include <stdint.h>

/* floats per zmm */
#define LANES 16
/* independent accumulators; see the file comment */
#define ACC 8
#define ROUND (ACC * LANES)

/* 16 weights at p (any alignment) as 16 floats; the _mask forms read only
 * the first elements selected by k and zero the rest (no access past k). */
static inline __m512 ld_f32(const float *p) { return _mm512_loadu_ps(p); }
static inline __m512 ld_f32_mask(__mmask16 k, const float *p) { return _mm512_maskz_loadu_ps(k, p); }
static inline __m512 ld_f16(const uint16_t *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}
static inline __m512 ld_f16_mask(__mmask16 k, const uint16_t *p)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, p));
}
static inline __m512 bf16_widen(__m256i h)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
static inline __m512 ld_bf16(const uint16_t *p)
{
    return bf16_widen(_mm256_loadu_si256((const __m256i *)p));
}
static inline __m512 ld_bf16_mask(__mmask16 k, const uint16_t *p)
{
    return bf16_widen(_mm256_maskz_loadu_epi16(k, p));
}

/* One dot per weight type. Pointer loops exiting on `!=`, as the ceiling
 * kernels (ceil-avx512.c: an index loop exiting on `<` streamed slower on
 * a Zen 5 VM). Whole rounds, then single vectors, then one masked vector
 * for n % 16. */
#define LB_DEFINE_DOT(NAME, T, LD, LD_MASK)                                        \
    static float NAME(int64_t n, const void *w, const void *act)                  \
    {                                                                              \
        const T *wp = w;                                                           \
        const float *xp = act;                                                     \
        const T *const end = wp + n;                                               \
        const T *const rounds_end = wp + n / ROUND * ROUND;                        \
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                \
        __m512 s4 = s0, s5 = s0, s6 = s0, s7 = s0;                                 \
        for (; wp != rounds_end; wp += ROUND, xp += ROUND) {                       \
            s0 = _mm512_fmadd_ps(LD(wp + 0 * LANES), _mm512_loadu_ps(xp + 0 * LANES), s0); \
            s1 = _mm512_fmadd_ps(LD(wp + 1 * LANES), _mm512_loadu_ps(xp + 1 * LANES), s1); \
            s2 = _mm512_fmadd_ps(LD(wp + 2 * LANES), _mm512_loadu_ps(xp + 2 * LANES), s2); \
            s3 = _mm512_fmadd_ps(LD(wp + 3 * LANES), _mm512_loadu_ps(xp + 3 * LANES), s3); \
            s4 = _mm512_fmadd_ps(LD(wp + 4 * LANES), _mm512_loadu_ps(xp + 4 * LANES), s4); \
            s5 = _mm512_fmadd_ps(LD(wp + 5 * LANES), _mm512_loadu_ps(xp + 5 * LANES), s5); \
            s6 = _mm512_fmadd_ps(LD(wp + 6 * LANES), _mm512_loadu_ps(xp + 6 * LANES), s6); \
            s7 = _mm512_fmadd_ps(LD(wp + 7 * LANES), _mm512_loadu_ps(xp + 7 * LANES), s7); \
        }                                                                          \
        for (; end - wp >= LANES; wp += LANES, xp += LANES)                        \
            s0 = _mm512_fmadd_ps(LD(wp), _mm512_loadu_ps(xp), s0);                 \
        if (wp != end) {                                                           \
            const __mmask16 k = (__mmask16)((1u << (end - wp)) - 1);               \
            s1 = _mm512_fmadd_ps(LD_MASK(k, wp), _mm512_maskz_loadu_ps(k, xp), s1); \
        }                                                                          \
        s0 = _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3));          \
        s4 = _mm512_add_ps(_mm512_add_ps(s4, s5), _mm512_add_ps(s6, s7));          \
        return _mm512_reduce_add_ps(_mm512_add_ps(s0, s4));                        \
    }

LB_DEFINE_DOT(dot_f32_avx512, float, ld_f32, ld_f32_mask)
LB_DEFINE_DOT(dot_f16_avx512, uint16_t, ld_f16, ld_f16_mask)
LB_DEFINE_DOT(dot_bf16_avx512, uint16_t, ld_bf16, ld_bf16_mask)

#undef LB_DEFINE_DOT

static const struct lb_dot_impl dots[] = {
    {LB_QTYPE_F32, LB_ISA_AVX512, LB_REQ_NONE, "avx512", dot_f32_avx512},
    {LB_QTYPE_F16, LB_ISA_AVX512, LB_REQ_NONE, "avx512", dot_f16_avx512},
    {LB_QTYPE_BF16, LB_ISA_AVX512, LB_REQ_NONE, "avx512", dot_bf16_avx512},
    {LB_QTYPE_F32, LB_ISA_AVX512, LB_REQ_NONE, NULL, NULL},
};

/* f32 activations need no quantizer */
static const struct lb_actq_impl actqs[] = {
    {LB_QTYPE_F32, LB_ISA_AVX512, LB_REQ_NONE, NULL},
};

const struct lb_dot_table lb_gemv_table_float_avx512 = {dots, actqs};

#endif /* LB_GEMV_HAVE_X86 */
