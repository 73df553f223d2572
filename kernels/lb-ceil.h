/* lb-ceil.h: the kernels behind measured ceilings (DESIGN.md: ceilings are
 * measured, not quoted).
 *
 * Each op is split over workers by (ith, nth) with lb_split on 64-byte
 * lines, so a pool runs it in parallel; the caller times the whole region.
 * Bandwidth kernels stream float arrays of n elements (n a multiple of 16);
 * they are meant for sizes far above the last-level cache.
 *   read:  s += a[i]            (bytes counted: 4n)
 *   copy:  c[i] = a[i]          (bytes counted: 8n, read + write)
 *   triad: a[i] = b[i] + s*c[i] (bytes counted: 12n)
 * Peak kernels run `iters` rounds on registers only:
 *   fma:   FP32 fused multiply-add, flops counted 2 per lane per FMA
 *   dot8:  int8 dot product (u8 x s8 -> s32, VPDPBUSD where present),
 *          ops counted 2 per byte pair (multiply + add)
 * Every ISA level fills the same table; LB_ISA_SCALAR is plain C compiled
 * without ISA flags, and is also the "plain STREAM-style loop" the read
 * ceiling is checked against.
 */
#ifndef LB_CEIL_H
#define LB_CEIL_H

#include "lb-base.h"
#include "lb-isa.h"

#ifdef __cplusplus
extern "C" {
#endif

struct lb_ceil_ops {
    /* returns a value derived from every element so loads cannot be
     * elided; partial sums per worker go to out_sum[ith] */
    void (*read)(const float *a, size_t n, int ith, int nth, double *out_sum);
    void (*copy)(float *c, const float *a, size_t n, int ith, int nth);
    void (*triad)(float *a, const float *b, const float *c, float s, size_t n,
                  int ith, int nth);
    /* flops per call = iters * lb_ceil_fma_flops_per_iter(isa) */
    float (*fma)(uint64_t iters);
    /* ops per call = iters * lb_ceil_dot8_ops_per_iter(isa) */
    int32_t (*dot8)(uint64_t iters);
    double fma_flops_per_iter;
    double dot8_ops_per_iter;
    const char *dot8_path; /* "avx512_vnni", "avx_vnni", "avx2_maddubs", "scalar" */
};

/* The ops for an ISA level; NULL when that level was not compiled in.
 * The caller must only pass a level lb_isa_best() allows on this CPU. */
const struct lb_ceil_ops *lb_ceil_ops_get(enum lb_isa isa,
                                          const struct lb_cpu_features *f);

#ifdef __cplusplus
}
#endif
#endif
