/* ceil.c: the plain-C level of the ceiling kernels (lb-ceil.h) and the
 * dispatch that picks a level's table.
 *
 * Compiled without ISA flags (STYLE.md #3), so it runs on any x86-64 and
 * on other architectures. These loops are the reference the SIMD levels
 * are tested against, and the "plain STREAM-style loop" that the measured
 * read ceiling is checked against: simple C with a few independent
 * accumulators and no intrinsics. The compiler may vectorize them with
 * SSE2; that is expected of a plain loop and counted honestly (flops and
 * ops are what the C source computes, whatever instructions do it).
 */
#include <stdint.h>

#include "../lb-base.h"
#include "ceil-impl.h"

/* Independent float chains in read: 4 hides most of an add's latency
 * behind the next loads, as STREAM-like hand-written loops do. */
#define READ_ACC 4
/* Independent accumulators in fma: 8, as the brief for the plain level
 * sets; an SSE2 build packs them into two 4-lane vectors. */
#define FMA_ACC 8
/* int32 lanes in dot8, each summing 4 byte pairs per round (the shape of
 * one 512-bit VPDPBUSD, so the plain loop does comparable work). */
#define DOT8_LANES 16
#define DOT8_PAIRS 4

/* volatile so the compiler cannot fold the peak loops at build time */
static volatile const float fma_consts[3] = {LB_CEIL_FMA_X0, LB_CEIL_FMA_A,
                                             LB_CEIL_FMA_B};
static volatile const int dot8_consts[2] = {LB_CEIL_DOT8_U, LB_CEIL_DOT8_S};

static void read_scalar(const float *restrict a, size_t n, int ith, int nth,
                        double *out_sum)
{
    size_t b, e;
    lb_split(n, 16, ith, nth, &b, &e);
    double total = 0.0;
    for (size_t blk = b; blk < e; blk += LB_CEIL_READ_BLOCK) {
        size_t end = e - blk < LB_CEIL_READ_BLOCK ? e : blk + LB_CEIL_READ_BLOCK;
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        size_t i = blk;
        for (; i + READ_ACC <= end; i += READ_ACC) {
            s0 += a[i];
            s1 += a[i + 1];
            s2 += a[i + 2];
            s3 += a[i + 3];
        }
        for (; i < end; i++) s0 += a[i];
        total += (double)s0 + (double)s1 + (double)s2 + (double)s3;
    }
    out_sum[ith] = total;
}

static void copy_scalar(float *restrict c, const float *restrict a, size_t n,
                        int ith, int nth)
{
    size_t b, e;
    lb_split(n, 16, ith, nth, &b, &e);
    size_t i = b;
    /* four stores per round: a one-store loop is turned into a memcpy
     * call (-ftree-loop-distribute-patterns), and glibc's memcpy is AVX
     * with its own non-temporal policy, which is not a plain C loop */
    for (; i + 4 <= e; i += 4) {
        c[i] = a[i];
        c[i + 1] = a[i + 1];
        c[i + 2] = a[i + 2];
        c[i + 3] = a[i + 3];
    }
    for (; i < e; i++) c[i] = a[i];
}

static void triad_scalar(float *restrict a, const float *restrict b,
                         const float *restrict c, float s, size_t n, int ith,
                         int nth)
{
    size_t lo, hi;
    lb_split(n, 16, ith, nth, &lo, &hi);
    for (size_t i = lo; i < hi; i++) a[i] = b[i] + s * c[i];
}

static float fma_scalar(uint64_t iters)
{
    const float x0 = fma_consts[0], a = fma_consts[1], b = fma_consts[2];
    float x[FMA_ACC];
    for (int k = 0; k < FMA_ACC; k++) x[k] = x0;
    /* the chains start equal; hide that, or value numbering merges them
     * into one chain and the loop does an eighth of the work it counts */
    lb_do_not_optimize(x);
    for (uint64_t it = 0; it < iters; it++)
        for (int k = 0; k < FMA_ACC; k++) x[k] = x[k] * a + b;
    double sum = 0.0; /* exact: FMA_ACC floats need 24 + 3 bits */
    for (int k = 0; k < FMA_ACC; k++) sum += (double)x[k];
    return (float)sum;
}

static int32_t dot8_scalar(uint64_t iters)
{
    uint8_t u[DOT8_LANES * DOT8_PAIRS];
    int8_t s[DOT8_LANES * DOT8_PAIRS];
    uint32_t acc[DOT8_LANES] = {0}; /* unsigned: wraps like the SIMD lanes */
    for (int j = 0; j < DOT8_LANES * DOT8_PAIRS; j++) {
        u[j] = (uint8_t)dot8_consts[0];
        s[j] = (int8_t)dot8_consts[1];
    }
    for (uint64_t it = 0; it < iters; it++) {
        /* the inputs "change" every round, so the products cannot be
         * hoisted and the loop cannot be folded into one multiply */
        lb_do_not_optimize(u);
        lb_do_not_optimize(s);
        for (int l = 0; l < DOT8_LANES; l++)
            for (int j = 0; j < DOT8_PAIRS; j++)
                acc[l] += (uint32_t)((int32_t)u[l * DOT8_PAIRS + j] *
                                     (int32_t)s[l * DOT8_PAIRS + j]);
    }
    uint32_t sum = 0;
    for (int l = 0; l < DOT8_LANES; l++) sum += acc[l];
    return (int32_t)sum;
}

static const struct lb_ceil_ops ceil_ops_scalar = {
    .read = read_scalar,
    .copy = copy_scalar,
    .triad = triad_scalar,
    .fma = fma_scalar,
    .dot8 = dot8_scalar,
    .fma_flops_per_iter = FMA_ACC * 2,                    /* mul + add */
    .dot8_ops_per_iter = DOT8_LANES * DOT8_PAIRS * 2,     /* mul + add */
    .dot8_path = "scalar",
};

#if LB_CEIL_HAVE_X86
static bool has_avx_vnni(const struct lb_cpu_features *f) { return f->avx_vnni; }
static bool has_avx512_vnni(const struct lb_cpu_features *f) { return f->avx512_vnni; }
#endif

/* One row per ISA level; how to add one: compile its table in a new
 * ceil-<isa>.c, declare it in ceil-impl.h, add the row here. */
static const struct ceil_level {
    const struct lb_ceil_ops *base; /* needs only the level's own ISA */
    const struct lb_ceil_ops *vnni; /* dot8 by VPDPBUSD; NULL when none */
    bool (*has_vnni)(const struct lb_cpu_features *f);
} ceil_levels[LB_ISA_COUNT] = {
    [LB_ISA_SCALAR] = {&ceil_ops_scalar, NULL, NULL},
#if LB_CEIL_HAVE_X86
    [LB_ISA_AVX2] = {&lb_ceil_ops_avx2, &lb_ceil_ops_avx2_vnni, has_avx_vnni},
    [LB_ISA_AVX512] = {&lb_ceil_ops_avx512_novnni, &lb_ceil_ops_avx512,
                       has_avx512_vnni},
#endif
};

const struct lb_ceil_ops *lb_ceil_ops_get(enum lb_isa isa,
                                          const struct lb_cpu_features *f)
{
    LB_ASSERT((unsigned)isa < LB_ISA_COUNT);
    const struct ceil_level *l = &ceil_levels[isa];
    if (l->vnni && f && l->has_vnni(f)) return l->vnni;
    return l->base;
}
