/* ceil-avx512.c: the AVX-512 level of the ceiling kernels (lb-ceil.h).
 *
 * Compiled with the AVX-512 flags (F/BW/VL/DQ/VNNI/BF16, see CMakeLists),
 * so only reached through lb_ceil_ops_get after lb_isa_best allowed
 * LB_ISA_AVX512. Two tables: lb_ceil_ops_avx512 uses VPDPBUSD for dot8
 * (features->avx512_vnni), lb_ceil_ops_avx512_novnni the AVX512BW
 * VPMADDUBSW + VPMADDWD + VPADDD sequence; everything else is shared.
 *
 * Workload assumptions: bandwidth arrays are 64-byte aligned, far above
 * the last-level cache, and each worker's slice starts on a 64-byte line
 * (lb_split in 16-float blocks), so every full vector access is aligned.
 * Tuned for Zen 4/5 and recent Intel cores: two 512-bit load ports, two
 * 512-bit FMA pipes of 4-cycle latency.
 */
#include "../ceil-impl.h"

#if LB_CEIL_HAVE_X86

#include <immintrin.h>
#include <math.h>

/* 16 floats per zmm */
#define LANES 16
/* read: 8 independent accumulators, one load each per round: covers two
 * loads per cycle times the 3-4 cycle add latency with room to spare. */
#define READ_ACC 8
_Static_assert(LB_CEIL_READ_BLOCK % (READ_ACC * LANES) == 0,
               "read's block loop steps whole rounds and exits on !=");
/* copy/triad: zmm vectors per round, 256 B: enough in flight per round
 * that loop overhead is noise next to the stores. */
#define STORE_UNROLL 4
/* fma: 2 FMA pipes x 4-cycle latency = 8 FMAs in flight to saturate;
 * 12 adds margin for scheduling jitter and fits 32 zmm with room. */
#define FMA_ACC 12
/* dot8: VPDPBUSD issues on 2 pipes with ~4-5 cycles latency (Zen 4/5,
 * Ice Lake and later): 12 chains cover the ~10 in flight. The maddubs
 * path (3 instructions per step, the chain only through a 1-cycle VPADDD)
 * is issue-bound and uses the same count. */
#define DOT8_ACC 12

/* volatile so the compiler cannot fold the peak loops at build time */
static volatile const float fma_consts[3] = {LB_CEIL_FMA_X0, LB_CEIL_FMA_A,
                                             LB_CEIL_FMA_B};
static volatile const int dot8_consts[2] = {LB_CEIL_DOT8_U, LB_CEIL_DOT8_S};

static inline bool aligned64(const void *p) { return ((uintptr_t)p & 63) == 0; }

/* Horizontal sum, widened to double before the lanes are added. */
static inline double hsum_ps_pd(__m512 v)
{
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
    return _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
}

static void read_avx512(const float *a, size_t n, int ith, int nth, double *out_sum)
{
    size_t b, e;
    lb_split(n, 16, ith, nth, &b, &e);
    const float *p = a + b;
    const float *const end = a + e;
    /* end of the whole rounds of READ_ACC vectors */
    const float *const rounds_end = p + (e - b) / (READ_ACC * LANES) * (READ_ACC * LANES);
    LB_ASSERT(aligned64(p));
    double total = 0.0;
    /* Pointer loops that exit on `!=`: on a Zen 5 VM the same loop indexed
     * by a counter and exiting on `<` streamed 1.5-2x slower from DRAM
     * (measured, cause not found; the instructions in the loop were the
     * same but for the counter). This form matches a plain single loop. */
    while (p != rounds_end) {
        const size_t left = (size_t)(rounds_end - p); /* a multiple of the round */
        const float *const block_end = p + (left < LB_CEIL_READ_BLOCK ? left : LB_CEIL_READ_BLOCK);
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        __m512 s4 = s0, s5 = s0, s6 = s0, s7 = s0;
        for (; p != block_end; p += READ_ACC * LANES) {
            s0 = _mm512_add_ps(s0, _mm512_load_ps(p + 0 * LANES));
            s1 = _mm512_add_ps(s1, _mm512_load_ps(p + 1 * LANES));
            s2 = _mm512_add_ps(s2, _mm512_load_ps(p + 2 * LANES));
            s3 = _mm512_add_ps(s3, _mm512_load_ps(p + 3 * LANES));
            s4 = _mm512_add_ps(s4, _mm512_load_ps(p + 4 * LANES));
            s5 = _mm512_add_ps(s5, _mm512_load_ps(p + 5 * LANES));
            s6 = _mm512_add_ps(s6, _mm512_load_ps(p + 6 * LANES));
            s7 = _mm512_add_ps(s7, _mm512_load_ps(p + 7 * LANES));
        }
        s0 = _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3));
        s4 = _mm512_add_ps(_mm512_add_ps(s4, s5), _mm512_add_ps(s6, s7));
        total += hsum_ps_pd(_mm512_add_ps(s0, s4));
    }
    /* under one round left: single vectors, then a masked (still
     * aligned) load when n is not a multiple of 16 */
    __m512 s = _mm512_setzero_ps();
    for (; end - p >= LANES; p += LANES) s = _mm512_add_ps(s, _mm512_load_ps(p));
    if (p != end) {
        __mmask16 k = (__mmask16)((1u << (end - p)) - 1);
        s = _mm512_add_ps(s, _mm512_maskz_load_ps(k, p));
    }
    total += hsum_ps_pd(s);
    out_sum[ith] = total;
}

static void copy_avx512(float *c, const float *a, size_t n, int ith, int nth)
{
    size_t b, e;
    lb_split(n, 16, ith, nth, &b, &e);
    float *dst = c + b;
    const float *src = a + b;
    float *const end = c + e;
    float *const rounds_end = dst + (e - b) / (STORE_UNROLL * LANES) * (STORE_UNROLL * LANES);
    const bool stream = (e - b) * sizeof(float) >= LB_CEIL_STREAM_MIN_BYTES;
    LB_ASSERT(aligned64(dst) && aligned64(src));
    /* pointer loops exiting on `!=`: see read_avx512 */
    if (stream) {
        for (; dst != rounds_end; dst += STORE_UNROLL * LANES, src += STORE_UNROLL * LANES) {
            __m512 v0 = _mm512_load_ps(src + 0 * LANES);
            __m512 v1 = _mm512_load_ps(src + 1 * LANES);
            __m512 v2 = _mm512_load_ps(src + 2 * LANES);
            __m512 v3 = _mm512_load_ps(src + 3 * LANES);
            _mm512_stream_ps(dst + 0 * LANES, v0);
            _mm512_stream_ps(dst + 1 * LANES, v1);
            _mm512_stream_ps(dst + 2 * LANES, v2);
            _mm512_stream_ps(dst + 3 * LANES, v3);
        }
        for (; end - dst >= LANES; dst += LANES, src += LANES)
            _mm512_stream_ps(dst, _mm512_load_ps(src));
    } else {
        for (; dst != rounds_end; dst += STORE_UNROLL * LANES, src += STORE_UNROLL * LANES) {
            __m512 v0 = _mm512_load_ps(src + 0 * LANES);
            __m512 v1 = _mm512_load_ps(src + 1 * LANES);
            __m512 v2 = _mm512_load_ps(src + 2 * LANES);
            __m512 v3 = _mm512_load_ps(src + 3 * LANES);
            _mm512_store_ps(dst + 0 * LANES, v0);
            _mm512_store_ps(dst + 1 * LANES, v1);
            _mm512_store_ps(dst + 2 * LANES, v2);
            _mm512_store_ps(dst + 3 * LANES, v3);
        }
        for (; end - dst >= LANES; dst += LANES, src += LANES)
            _mm512_store_ps(dst, _mm512_load_ps(src));
    }
    if (dst != end) { /* n not a multiple of 16 */
        __mmask16 k = (__mmask16)((1u << (end - dst)) - 1);
        _mm512_mask_store_ps(dst, k, _mm512_maskz_load_ps(k, src));
    }
    /* order the weakly-ordered streaming stores before whatever the
     * caller does next (the pool's barrier, a validation read) */
    if (stream) _mm_sfence();
}

static void triad_avx512(float *a, const float *b, const float *c, float s,
                         size_t n, int ith, int nth)
{
    size_t lo, hi;
    lb_split(n, 16, ith, nth, &lo, &hi);
    float *pa = a + lo;
    const float *pb = b + lo, *pc = c + lo;
    float *const end = a + hi;
    float *const rounds_end = pa + (hi - lo) / (STORE_UNROLL * LANES) * (STORE_UNROLL * LANES);
    const bool stream = (hi - lo) * sizeof(float) >= LB_CEIL_STREAM_MIN_BYTES;
    const __m512 vs = _mm512_set1_ps(s);
    LB_ASSERT(aligned64(pa) && aligned64(pb) && aligned64(pc));
#define TRIAD(j) _mm512_fmadd_ps(vs, _mm512_load_ps(pc + (j) * LANES), \
                                 _mm512_load_ps(pb + (j) * LANES))
#define STEP(k) pa += (k), pb += (k), pc += (k)
    if (stream) {
        for (; pa != rounds_end; STEP(STORE_UNROLL * LANES)) {
            __m512 v0 = TRIAD(0), v1 = TRIAD(1), v2 = TRIAD(2), v3 = TRIAD(3);
            _mm512_stream_ps(pa + 0 * LANES, v0);
            _mm512_stream_ps(pa + 1 * LANES, v1);
            _mm512_stream_ps(pa + 2 * LANES, v2);
            _mm512_stream_ps(pa + 3 * LANES, v3);
        }
        for (; end - pa >= LANES; STEP(LANES)) _mm512_stream_ps(pa, TRIAD(0));
    } else {
        for (; pa != rounds_end; STEP(STORE_UNROLL * LANES)) {
            __m512 v0 = TRIAD(0), v1 = TRIAD(1), v2 = TRIAD(2), v3 = TRIAD(3);
            _mm512_store_ps(pa + 0 * LANES, v0);
            _mm512_store_ps(pa + 1 * LANES, v1);
            _mm512_store_ps(pa + 2 * LANES, v2);
            _mm512_store_ps(pa + 3 * LANES, v3);
        }
        for (; end - pa >= LANES; STEP(LANES)) _mm512_store_ps(pa, TRIAD(0));
    }
#undef TRIAD
#undef STEP
    for (; pa != end; pa++, pb++, pc++) *pa = fmaf(s, *pc, *pb); /* n not a multiple of 16 */
    if (stream) _mm_sfence(); /* see copy_avx512 */
}

static float fma_avx512(uint64_t iters)
{
    const __m512 va = _mm512_set1_ps(fma_consts[1]);
    const __m512 vb = _mm512_set1_ps(fma_consts[2]);
    const __m512 x0 = _mm512_set1_ps(fma_consts[0]);
    __m512 x[FMA_ACC];
    for (int k = 0; k < FMA_ACC; k++) x[k] = x0;
    /* the chains start equal; make them opaque, or value numbering may
     * merge them into one chain that does 1/FMA_ACC of the counted work */
    __asm__("" : "+v"(x[0]), "+v"(x[1]), "+v"(x[2]), "+v"(x[3]), "+v"(x[4]),
            "+v"(x[5]), "+v"(x[6]), "+v"(x[7]), "+v"(x[8]), "+v"(x[9]),
            "+v"(x[10]), "+v"(x[11]));
    for (uint64_t it = 0; it < iters; it++) {
#pragma GCC unroll 12
        for (int k = 0; k < FMA_ACC; k++) x[k] = _mm512_fmadd_ps(x[k], va, vb);
    }
    float lanes[FMA_ACC * LANES];
    for (int k = 0; k < FMA_ACC; k++) _mm512_storeu_ps(lanes + k * LANES, x[k]);
    double sum = 0.0; /* exact: 192 floats need 24 + 8 bits */
    for (int j = 0; j < FMA_ACC * LANES; j++) sum += (double)lanes[j];
    return (float)sum;
}

/* Wrapping int32 sum of every lane of the accumulators. */
static int32_t dot8_reduce(const __m512i *acc)
{
    __m512i t = acc[0];
    for (int k = 1; k < DOT8_ACC; k++) t = _mm512_add_epi32(t, acc[k]);
    uint32_t lanes[LANES];
    _mm512_storeu_si512(lanes, t);
    uint32_t sum = 0;
    for (int j = 0; j < LANES; j++) sum += lanes[j];
    return (int32_t)sum;
}

static int32_t dot8_avx512_vnni(uint64_t iters)
{
    const __m512i vu = _mm512_set1_epi8((char)dot8_consts[0]);
    const __m512i vs = _mm512_set1_epi8((char)dot8_consts[1]);
    __m512i acc[DOT8_ACC];
    for (int k = 0; k < DOT8_ACC; k++) acc[k] = _mm512_setzero_si512();
    /* equal starts: make the chains opaque (see fma_avx512) */
    __asm__("" : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]),
            "+v"(acc[4]), "+v"(acc[5]), "+v"(acc[6]), "+v"(acc[7]),
            "+v"(acc[8]), "+v"(acc[9]), "+v"(acc[10]), "+v"(acc[11]));
    for (uint64_t it = 0; it < iters; it++) {
#pragma GCC unroll 12
        for (int k = 0; k < DOT8_ACC; k++)
            acc[k] = _mm512_dpbusd_epi32(acc[k], vu, vs);
    }
    return dot8_reduce(acc);
}

static int32_t dot8_avx512_maddubs(uint64_t iters)
{
    __m512i vu = _mm512_set1_epi8((char)dot8_consts[0]);
    const __m512i vs = _mm512_set1_epi8((char)dot8_consts[1]);
    const __m512i ones = _mm512_set1_epi16(1); /* VPMADDWD by 1: pair sums */
    __m512i acc[DOT8_ACC];
    for (int k = 0; k < DOT8_ACC; k++) acc[k] = _mm512_setzero_si512();
    __asm__("" : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]),
            "+v"(acc[4]), "+v"(acc[5]), "+v"(acc[6]), "+v"(acc[7]),
            "+v"(acc[8]), "+v"(acc[9]), "+v"(acc[10]), "+v"(acc[11]));
    for (uint64_t it = 0; it < iters; it++) {
#pragma GCC unroll 12
        for (int k = 0; k < DOT8_ACC; k++) {
            /* vu "changes" before every step (no instruction is emitted),
             * so each step's VPMADDUBSW + VPMADDWD is really executed and
             * not hoisted out of the loop or shared between steps */
            __asm__("" : "+v"(vu));
            __m512i p16 = _mm512_maddubs_epi16(vu, vs);
            acc[k] = _mm512_add_epi32(acc[k], _mm512_madd_epi16(p16, ones));
        }
    }
    return dot8_reduce(acc);
}

/* 64 byte pairs per zmm step, 2 ops each (multiply + add) */
#define DOT8_OPS_PER_ITER (DOT8_ACC * 64 * 2)

const struct lb_ceil_ops lb_ceil_ops_avx512 = {
    .read = read_avx512,
    .copy = copy_avx512,
    .triad = triad_avx512,
    .fma = fma_avx512,
    .dot8 = dot8_avx512_vnni,
    .fma_flops_per_iter = FMA_ACC * LANES * 2,
    .dot8_ops_per_iter = DOT8_OPS_PER_ITER,
    .dot8_path = "avx512_vnni",
};

const struct lb_ceil_ops lb_ceil_ops_avx512_novnni = {
    .read = read_avx512,
    .copy = copy_avx512,
    .triad = triad_avx512,
    .fma = fma_avx512,
    .dot8 = dot8_avx512_maddubs,
    .fma_flops_per_iter = FMA_ACC * LANES * 2,
    .dot8_ops_per_iter = DOT8_OPS_PER_ITER,
    .dot8_path = "avx512_maddubs",
};

#endif /* LB_CEIL_HAVE_X86 */
