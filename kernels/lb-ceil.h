/* lb-ceil.h: the kernels behind measured ceilings (DESIGN.md: ceilings are
 * measured, not quoted).
 *
 * Each op is split over workers by (ith, nth) with lb_split on 64-byte
 * lines, so a pool runs it in parallel; the caller times the whole region.
 * Bandwidth kernels stream float arrays of n elements (n a multiple of 16);
 * they are meant for sizes far above the last-level cache. Arrays must be
 * 64-byte aligned (the SIMD levels use aligned and streaming accesses and
 * assert it); the arrays of one call must not overlap.
 *   read:  s += a[i]            (bytes counted: 4n)
 *   copy:  c[i] = a[i]          (bytes counted: 8n, read + write)
 *   triad: a[i] = b[i] + s*c[i] (bytes counted: 12n)
 * The SIMD levels store with non-temporal (streaming) stores when a
 * worker's slice of the output is at least 1 MiB, regular stores below.
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

/* read accumulates in float vectors over blocks of this many elements
 * (64 KiB) and adds each block's sum into a double, so rounding grows with
 * the block, not with n: a 1 GiB read is still accurate to ~1e-5. */
#define LB_CEIL_READ_BLOCK 16384

/* What the peak kernels compute, so a caller can check them exactly.
 * fma: every lane of every accumulator starts at X0 and runs
 *   x = x * A + B   (fused in the SIMD levels; the plain-C level rounds
 *                    after the multiply unless the build contracts it)
 * `iters` times; the result is (float) of the double sum over all
 * fma_flops_per_iter / 2 lanes, i.e. (float)(lanes * (double)x). A < 1
 * pulls x toward the fixed point B / (1 - A) = 1, so it stays in [X0, 1]
 * for any iters: never inf, NaN or denormal. Both are exact in binary. */
#define LB_CEIL_FMA_X0 0.5f
#define LB_CEIL_FMA_A 0.9990234375f /* 1 - 2^-10 */
#define LB_CEIL_FMA_B 0.0009765625f /* 2^-10 */
/* dot8: every byte pair is U (as u8) times S (as s8), accumulated into
 * int32 lanes that wrap modulo 2^32; the result is the wrapping int32 sum
 * of all lanes: iters * (dot8_ops_per_iter / 2) * U * S mod 2^32. The
 * values keep VPMADDUBSW's int16 pair sums (2 * 3 * -2) far from
 * saturation, so every path gives the same number. */
#define LB_CEIL_DOT8_U 3
#define LB_CEIL_DOT8_S (-2)

struct lb_ceil_ops {
    /* returns a value derived from every element so loads cannot be
     * elided; partial sums per worker go to out_sum[ith] */
    void (*read)(const float *a, size_t n, int ith, int nth, double *out_sum);
    void (*copy)(float *c, const float *a, size_t n, int ith, int nth);
    void (*triad)(float *a, const float *b, const float *c, float s, size_t n,
                  int ith, int nth);
    /* flops per call = iters * fma_flops_per_iter */
    float (*fma)(uint64_t iters);
    /* ops per call = iters * dot8_ops_per_iter */
    int32_t (*dot8)(uint64_t iters);
    double fma_flops_per_iter; /* accumulators x lanes x 2 */
    double dot8_ops_per_iter;  /* accumulators x byte pairs x 2 */
    /* "avx512_vnni", "avx512_maddubs", "avx_vnni", "avx2_maddubs", "scalar" */
    const char *dot8_path;
};

/* The ops for an ISA level; NULL when that level was not compiled in.
 * The caller must only pass a level lb_isa_best() allows on this CPU.
 * f picks the dot8 path within a level (avx512_vnni, avx_vnni); f == NULL
 * picks the path that needs no VNNI. */
const struct lb_ceil_ops *lb_ceil_ops_get(enum lb_isa isa,
                                          const struct lb_cpu_features *f);

#ifdef __cplusplus
}
#endif
#endif
