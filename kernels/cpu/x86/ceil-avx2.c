/* ceil-avx2.c: the AVX2 level of the ceiling kernels (lb-ceil.h).
 *
 * Compiled with -mavx2 -mfma -mf16c only (CMakeLists), so only reached
 * through lb_ceil_ops_get after lb_isa_best allowed LB_ISA_AVX2. Two
 * tables: lb_ceil_ops_avx2 computes dot8 with VPMADDUBSW + VPMADDWD +
 * VPADDD (every AVX2 CPU); lb_ceil_ops_avx2_vnni with VEX VPDPBUSD
 * (features->avx_vnni: Alder Lake and later, Zen 5). That one function is
 * built with target("avxvnni") so the rest of the file stays plain AVX2.
 *
 * Workload assumptions: as ceil-avx512.c (64-byte aligned arrays far above
 * the last-level cache, slices on 64-byte lines); tuned for cores with two
 * 256-bit load ports and two FMA pipes of 4-5 cycle latency.
 */
#include "../ceil-impl.h"

#if LB_CEIL_HAVE_X86

#include <immintrin.h>
#include <math.h>

/* 8 floats per ymm */
#define LANES 8
/* read: 8 independent accumulators, one load each per round: two loads
 * per cycle times a 3-4 cycle add latency, with margin. */
#define READ_ACC 8
_Static_assert(LB_CEIL_READ_BLOCK % (READ_ACC * LANES) == 0,
               "read's block loop steps whole rounds and exits on !=");
/* copy/triad: ymm vectors per round (128 B, two lines) */
#define STORE_UNROLL 4
/* fma: 2 pipes x 4-5 cycle latency needs 8-10 in flight; 12 chains plus
 * the two constants use 14 of the 16 ymm registers, so nothing spills. */
#define FMA_ACC 12
/* dot8 by VPDPBUSD: as fma, 12 chains + 2 inputs in 16 registers. */
#define DOT8_VNNI_ACC 12
/* dot8 by maddubs: each step needs two temporaries besides the 3 inputs
 * (u, s, ones), so 8 chains keep all 16 registers free of spills; the
 * chain itself is a 1-cycle VPADDD, so 8 is far above its latency. */
#define DOT8_MADDUBS_ACC 8

/* volatile so the compiler cannot fold the peak loops at build time */
static volatile const float fma_consts[3] = {LB_CEIL_FMA_X0, LB_CEIL_FMA_A,
                                             LB_CEIL_FMA_B};
static volatile const int dot8_consts[2] = {LB_CEIL_DOT8_U, LB_CEIL_DOT8_S};

static inline bool aligned32(const void *p) { return ((uintptr_t)p & 31) == 0; }

/* Horizontal sum, widened to double before adding lanes. */
static inline double hsum_ps_pd(__m256 v)
{
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    __m256d s = _mm256_add_pd(lo, hi);
    __m128d t = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    return _mm_cvtsd_f64(_mm_add_sd(t, _mm_unpackhi_pd(t, t)));
}

static void read_avx2(const float *a, size_t n, int ith, int nth, double *out_sum)
{
    size_t b, e;
    lb_split(n, 16, ith, nth, &b, &e);
    const float *p = a + b;
    const float *const end = a + e;
    /* end of the whole rounds of READ_ACC vectors */
    const float *const rounds_end = p + (e - b) / (READ_ACC * LANES) * (READ_ACC * LANES);
    LB_ASSERT(aligned32(p));
    double total = 0.0;
    /* pointer loops exiting on `!=`: see read_avx512 in ceil-avx512.c */
    while (p != rounds_end) {
        const size_t left = (size_t)(rounds_end - p); /* a multiple of the round */
        const float *const block_end = p + (left < LB_CEIL_READ_BLOCK ? left : LB_CEIL_READ_BLOCK);
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        __m256 s4 = s0, s5 = s0, s6 = s0, s7 = s0;
        for (; p != block_end; p += READ_ACC * LANES) {
            s0 = _mm256_add_ps(s0, _mm256_load_ps(p + 0 * LANES));
            s1 = _mm256_add_ps(s1, _mm256_load_ps(p + 1 * LANES));
            s2 = _mm256_add_ps(s2, _mm256_load_ps(p + 2 * LANES));
            s3 = _mm256_add_ps(s3, _mm256_load_ps(p + 3 * LANES));
            s4 = _mm256_add_ps(s4, _mm256_load_ps(p + 4 * LANES));
            s5 = _mm256_add_ps(s5, _mm256_load_ps(p + 5 * LANES));
            s6 = _mm256_add_ps(s6, _mm256_load_ps(p + 6 * LANES));
            s7 = _mm256_add_ps(s7, _mm256_load_ps(p + 7 * LANES));
        }
        s0 = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
        s4 = _mm256_add_ps(_mm256_add_ps(s4, s5), _mm256_add_ps(s6, s7));
        total += hsum_ps_pd(_mm256_add_ps(s0, s4));
    }
    /* under one round left: single vectors, then scalars when n is not
     * a multiple of 16 */
    __m256 s = _mm256_setzero_ps();
    for (; end - p >= LANES; p += LANES) s = _mm256_add_ps(s, _mm256_load_ps(p));
    total += hsum_ps_pd(s);
    for (; p != end; p++) total += (double)*p;
    out_sum[ith] = total;
}

static void copy_avx2(float *c, const float *a, size_t n, int ith, int nth)
{
    size_t b, e;
    lb_split(n, 16, ith, nth, &b, &e);
    float *dst = c + b;
    const float *src = a + b;
    float *const end = c + e;
    float *const rounds_end = dst + (e - b) / (STORE_UNROLL * LANES) * (STORE_UNROLL * LANES);
    const bool stream = (e - b) * sizeof(float) >= LB_CEIL_STREAM_MIN_BYTES;
    LB_ASSERT(aligned32(dst) && aligned32(src));
    /* pointer loops exiting on `!=`: see read_avx2 */
    if (stream) {
        for (; dst != rounds_end; dst += STORE_UNROLL * LANES, src += STORE_UNROLL * LANES) {
            __m256 v0 = _mm256_load_ps(src + 0 * LANES);
            __m256 v1 = _mm256_load_ps(src + 1 * LANES);
            __m256 v2 = _mm256_load_ps(src + 2 * LANES);
            __m256 v3 = _mm256_load_ps(src + 3 * LANES);
            _mm256_stream_ps(dst + 0 * LANES, v0);
            _mm256_stream_ps(dst + 1 * LANES, v1);
            _mm256_stream_ps(dst + 2 * LANES, v2);
            _mm256_stream_ps(dst + 3 * LANES, v3);
        }
        for (; end - dst >= LANES; dst += LANES, src += LANES)
            _mm256_stream_ps(dst, _mm256_load_ps(src));
    } else {
        for (; dst != rounds_end; dst += STORE_UNROLL * LANES, src += STORE_UNROLL * LANES) {
            __m256 v0 = _mm256_load_ps(src + 0 * LANES);
            __m256 v1 = _mm256_load_ps(src + 1 * LANES);
            __m256 v2 = _mm256_load_ps(src + 2 * LANES);
            __m256 v3 = _mm256_load_ps(src + 3 * LANES);
            _mm256_store_ps(dst + 0 * LANES, v0);
            _mm256_store_ps(dst + 1 * LANES, v1);
            _mm256_store_ps(dst + 2 * LANES, v2);
            _mm256_store_ps(dst + 3 * LANES, v3);
        }
        for (; end - dst >= LANES; dst += LANES, src += LANES)
            _mm256_store_ps(dst, _mm256_load_ps(src));
    }
    for (; dst != end; dst++, src++) *dst = *src; /* n not a multiple of 16 */
    /* order the weakly-ordered streaming stores before whatever the
     * caller does next (the pool's barrier, a validation read) */
    if (stream) _mm_sfence();
}

static void triad_avx2(float *a, const float *b, const float *c, float s,
                         size_t n, int ith, int nth)
{
    size_t lo, hi;
    lb_split(n, 16, ith, nth, &lo, &hi);
    float *pa = a + lo;
    const float *pb = b + lo, *pc = c + lo;
    float *const end = a + hi;
    float *const rounds_end = pa + (hi - lo) / (STORE_UNROLL * LANES) * (STORE_UNROLL * LANES);
    const bool stream = (hi - lo) * sizeof(float) >= LB_CEIL_STREAM_MIN_BYTES;
    const __m256 vs = _mm256_set1_ps(s);
    LB_ASSERT(aligned32(pa) && aligned32(pb) && aligned32(pc));
#define TRIAD(j) _mm256_fmadd_ps(vs, _mm256_load_ps(pc + (j) * LANES), \
                                 _mm256_load_ps(pb + (j) * LANES))
#define STEP(k) pa += (k), pb += (k), pc += (k)
    if (stream) {
        for (; pa != rounds_end; STEP(STORE_UNROLL * LANES)) {
            __m256 v0 = TRIAD(0), v1 = TRIAD(1), v2 = TRIAD(2), v3 = TRIAD(3);
            _mm256_stream_ps(pa + 0 * LANES, v0);
            _mm256_stream_ps(pa + 1 * LANES, v1);
            _mm256_stream_ps(pa + 2 * LANES, v2);
            _mm256_stream_ps(pa + 3 * LANES, v3);
        }
        for (; end - pa >= LANES; STEP(LANES)) _mm256_stream_ps(pa, TRIAD(0));
    } else {
        for (; pa != rounds_end; STEP(STORE_UNROLL * LANES)) {
            __m256 v0 = TRIAD(0), v1 = TRIAD(1), v2 = TRIAD(2), v3 = TRIAD(3);
            _mm256_store_ps(pa + 0 * LANES, v0);
            _mm256_store_ps(pa + 1 * LANES, v1);
            _mm256_store_ps(pa + 2 * LANES, v2);
            _mm256_store_ps(pa + 3 * LANES, v3);
        }
        for (; end - pa >= LANES; STEP(LANES)) _mm256_store_ps(pa, TRIAD(0));
    }
#undef TRIAD
#undef STEP
    for (; pa != end; pa++, pb++, pc++) *pa = fmaf(s, *pc, *pb); /* n not a multiple of 16 */
    if (stream) _mm_sfence(); /* see copy_avx2 */
}

static float fma_avx2(uint64_t iters)
{
    const __m256 va = _mm256_set1_ps(fma_consts[1]);
    const __m256 vb = _mm256_set1_ps(fma_consts[2]);
    const __m256 x0 = _mm256_set1_ps(fma_consts[0]);
    __m256 x[FMA_ACC];
    for (int k = 0; k < FMA_ACC; k++) x[k] = x0;
    /* the chains start equal; make them opaque, or value numbering may
     * merge them into one chain that does 1/FMA_ACC of the counted work */
    __asm__("" : "+x"(x[0]), "+x"(x[1]), "+x"(x[2]), "+x"(x[3]), "+x"(x[4]),
            "+x"(x[5]), "+x"(x[6]), "+x"(x[7]), "+x"(x[8]), "+x"(x[9]),
            "+x"(x[10]), "+x"(x[11]));
    for (uint64_t it = 0; it < iters; it++) {
#pragma GCC unroll 12
        for (int k = 0; k < FMA_ACC; k++) x[k] = _mm256_fmadd_ps(x[k], va, vb);
    }
    float lanes[FMA_ACC * LANES];
    for (int k = 0; k < FMA_ACC; k++) _mm256_storeu_ps(lanes + k * LANES, x[k]);
    double sum = 0.0; /* exact: 96 floats need 24 + 7 bits */
    for (int j = 0; j < FMA_ACC * LANES; j++) sum += (double)lanes[j];
    return (float)sum;
}

/* Wrapping int32 sum of every lane of n accumulators. */
static int32_t dot8_reduce(const __m256i *acc, int n)
{
    __m256i t = acc[0];
    for (int k = 1; k < n; k++) t = _mm256_add_epi32(t, acc[k]);
    uint32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, t);
    uint32_t sum = 0;
    for (int j = 0; j < 8; j++) sum += lanes[j];
    return (int32_t)sum;
}

static int32_t dot8_avx2_maddubs(uint64_t iters)
{
    __m256i vu = _mm256_set1_epi8((char)dot8_consts[0]);
    const __m256i vs = _mm256_set1_epi8((char)dot8_consts[1]);
    const __m256i ones = _mm256_set1_epi16(1); /* VPMADDWD by 1: pair sums */
    __m256i acc[DOT8_MADDUBS_ACC];
    for (int k = 0; k < DOT8_MADDUBS_ACC; k++) acc[k] = _mm256_setzero_si256();
    /* equal starts: make the chains opaque (see fma_avx2) */
    __asm__("" : "+x"(acc[0]), "+x"(acc[1]), "+x"(acc[2]), "+x"(acc[3]),
            "+x"(acc[4]), "+x"(acc[5]), "+x"(acc[6]), "+x"(acc[7]));
    for (uint64_t it = 0; it < iters; it++) {
#pragma GCC unroll 8
        for (int k = 0; k < DOT8_MADDUBS_ACC; k++) {
            /* vu "changes" before every step (no instruction is emitted),
             * so each step's VPMADDUBSW + VPMADDWD is really executed and
             * not hoisted out of the loop or shared between steps */
            __asm__("" : "+x"(vu));
            __m256i p16 = _mm256_maddubs_epi16(vu, vs);
            acc[k] = _mm256_add_epi32(acc[k], _mm256_madd_epi16(p16, ones));
        }
    }
    return dot8_reduce(acc, DOT8_MADDUBS_ACC);
}

__attribute__((target("avxvnni"))) static int32_t dot8_avx_vnni(uint64_t iters)
{
    const __m256i vu = _mm256_set1_epi8((char)dot8_consts[0]);
    const __m256i vs = _mm256_set1_epi8((char)dot8_consts[1]);
    __m256i acc[DOT8_VNNI_ACC];
    for (int k = 0; k < DOT8_VNNI_ACC; k++) acc[k] = _mm256_setzero_si256();
    __asm__("" : "+x"(acc[0]), "+x"(acc[1]), "+x"(acc[2]), "+x"(acc[3]),
            "+x"(acc[4]), "+x"(acc[5]), "+x"(acc[6]), "+x"(acc[7]),
            "+x"(acc[8]), "+x"(acc[9]), "+x"(acc[10]), "+x"(acc[11]));
    for (uint64_t it = 0; it < iters; it++) {
#pragma GCC unroll 12
        for (int k = 0; k < DOT8_VNNI_ACC; k++)
            acc[k] = _mm256_dpbusd_avx_epi32(acc[k], vu, vs);
    }
    return dot8_reduce(acc, DOT8_VNNI_ACC);
}

/* 32 byte pairs per ymm step, 2 ops each (multiply + add) */
const struct lb_ceil_ops lb_ceil_ops_avx2 = {
    .read = read_avx2,
    .copy = copy_avx2,
    .triad = triad_avx2,
    .fma = fma_avx2,
    .dot8 = dot8_avx2_maddubs,
    .fma_flops_per_iter = FMA_ACC * LANES * 2,
    .dot8_ops_per_iter = DOT8_MADDUBS_ACC * 32 * 2,
    .dot8_path = "avx2_maddubs",
};

const struct lb_ceil_ops lb_ceil_ops_avx2_vnni = {
    .read = read_avx2,
    .copy = copy_avx2,
    .triad = triad_avx2,
    .fma = fma_avx2,
    .dot8 = dot8_avx_vnni,
    .fma_flops_per_iter = FMA_ACC * LANES * 2,
    .dot8_ops_per_iter = DOT8_VNNI_ACC * 32 * 2,
    .dot8_path = "avx_vnni",
};

#endif /* LB_CEIL_HAVE_X86 */
