/* lb-gemv.h: quantized matrix-vector products, y = W . x, the kernel that
 * sets decode speed (every weight byte is streamed once per token).
 *
 * W is [rows x cols] row-major in any format of lb-quant.h; each row is
 * lb_qtype_row_bytes(type, cols) bytes, rows contiguous. x is f32 [cols].
 * Per call, x is quantized ONCE into the weight format's vec_dot_type
 * (Q8_0, Q8_1 or Q8_K; F32 formats keep x as is), then every row is an
 * integer (or float) dot product with it. Rows are split over workers
 * with lb_split (kernels know (ith, nth), not the pool).
 *
 * Code paths: every format has the scalar reference (lb_qtraits.vec_dot_ref).
 * ISA files add implementations through tables of struct lb_dot_impl
 * (kernels/cpu/x86/gemv-*-avx2.c, gemv-*-avx512.c); dispatch picks, per
 * format, the best one the ISA cap and the CPU's features allow. An
 * implementation must return the same value as the reference up to float
 * rounding of the final per-block sums (integer parts exact).
 *
 * How to add an ISA path for a format: write the dot (and, if the
 * activation format needs one, the activation quantizer) in the ISA's
 * file, add a row to that file's table, list the table in gemv.c's
 * registry if the file is new. Tests compare every row of every table with
 * the reference. Optionally add a multi-row form of the dot (struct
 * lb_dot_rows_impl) to the file's rows table (kernels/cpu/gemv-impl.h);
 * tests check it against its single-row dot bit for bit.
 */
#ifndef LB_GEMV_H
#define LB_GEMV_H

#include "lb-base.h"
#include "lb-isa.h"
#include "lb-quant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CPU features an implementation needs beyond its ISA level's baseline
 * (the level's file is compiled with all of them, so the table must say
 * which instructions a function really uses). */
enum lb_dot_requires {
    LB_REQ_NONE = 0,
    LB_REQ_AVX512_VNNI = 1u << 0, /* VPDPBUSD/VPDPWSSD on zmm */
    LB_REQ_AVX512_BF16 = 1u << 1, /* VDPBF16PS */
    LB_REQ_AVX_VNNI = 1u << 2,    /* VEX VPDPBUSD on ymm */
};

/* One ISA implementation of a row dot product. */
struct lb_dot_impl {
    enum lb_qtype type;      /* weight format */
    enum lb_isa isa;         /* level whose file defines it */
    unsigned requires;       /* enum lb_dot_requires bits */
    const char *path;        /* shown in reports: "avx512_vnni", "avx2" */
    lb_vec_dot_fn dot;       /* (n, weight row, activation in vec_dot_type) */
};

/* Consecutive rows against one activation: y[r] = W[r] . act for
 * 0 <= r < n_rows (n_rows >= 1), row r at w + r * row_bytes. Work that
 * depends only on the activation (a reordered, aligned copy of its quants,
 * its block sums as the format needs them) is done once for all the rows,
 * which are then read one after another (one stream from memory), so a
 * memory-bound GEMV executes fewer instructions per weight byte. Each
 * y[r] must equal, bit for bit, what the single-row dot it is paired with
 * (struct lb_dot_rows_impl) returns for that row, whatever n_rows is:
 * callers rely on lb_gemv_rows_batch returning what lb_gemv_rows returns
 * for each row, and on any split of rows over workers giving the same y. */
typedef void (*lb_dot_rows_fn)(int64_t n, const void *w, size_t row_bytes,
                               const void *act, float *y, int n_rows);

/* A multi-row implementation paired with one single-row dot (the pairing
 * is by function: a rows entry is used only together with exactly that
 * dot, which is what makes the bit-for-bit contract checkable). Listed in
 * a table of its own per ISA file (kernels/cpu/gemv-impl.h), so the dot
 * tables keep their layout. */
/* Consecutive rows against n_b activations (1 <= n_b <=
 * LB_GEMV_MAX_BATCH): y[k][r] = W[r] . act[k]. Each row is read once and
 * its unpacked weights meet all n_b activations while in registers, so a
 * prefill batch costs a fraction of n_b single-activation passes in
 * instructions as well as in memory traffic. y[k][r] must equal, bit for
 * bit, what the paired dot_rows returns for act[k]. */
typedef void (*lb_dot_batch_fn)(int64_t n, const void *w, size_t row_bytes,
                                const void *const *act, float *const *y, int n_b,
                                int n_rows);

struct lb_dot_rows_impl {
    lb_vec_dot_fn dot;        /* the single-row dot it matches */
    lb_dot_rows_fn dot_rows;  /* NULL ends a table */
    lb_dot_batch_fn dot_batch; /* optional (NULL): the batch form */
};

/* One ISA implementation of an activation quantizer (f32 -> Q8_0/Q8_1/Q8_K).
 * Must produce exactly the reference's blocks (same rounding), so that a
 * SIMD GEMV equals the reference GEMV. */
struct lb_actq_impl {
    enum lb_qtype act_type;
    enum lb_isa isa;
    unsigned requires;
    lb_quantize_fn quantize;
};

/* Tables exported by ISA files; each ends with an entry whose dot /
 * quantize is NULL. Registry in kernels/cpu/gemv.c. */
struct lb_dot_table {
    const struct lb_dot_impl *dots;
    const struct lb_actq_impl *actqs;
};

/* A GEMV prepared for one format, shape and code path. */
struct lb_gemv {
    enum lb_qtype wtype, atype;   /* weight format, its vec_dot_type */
    int64_t rows, cols;
    size_t row_bytes;             /* bytes of one weight row */
    size_t act_bytes;             /* bytes of x quantized in atype */
    lb_vec_dot_fn dot;
    lb_quantize_fn actq;          /* NULL when atype is F32 (x used as is) */
    enum lb_isa isa;              /* level of the chosen dot */
    char path[32];                /* "scalar", "avx512_vnni", ... */
    /* the multi-row form of dot, or NULL (then rows go one by one) */
    lb_dot_rows_fn dot_rows;
    /* its batch form, or NULL (then lb_gemv_rows_batch groups rows) */
    lb_dot_batch_fn dot_batch;
};

/* Chooses the best implementation allowed by isa_cap and f (f may be NULL
 * for the scalar reference). LB_EINVAL when cols is not a multiple of the
 * format's block size or the type has no traits. */
enum lb_status lb_gemv_init(struct lb_gemv *g, enum lb_qtype wtype,
                            int64_t rows, int64_t cols, enum lb_isa isa_cap,
                            const struct lb_cpu_features *f,
                            struct lb_error *err);

/* Quantizes x into act (act_bytes; f32 formats copy x). Splits blocks over
 * (ith, nth) so a pool can share it; call it on all workers, then a
 * barrier (end of the pool region), then lb_gemv_rows. */
void lb_gemv_quantize_x(const struct lb_gemv *g, const float *x, void *act,
                        int ith, int nth);
/* y[r] = W[r] . act for the rows lb_split(rows, 1, ith, nth) gives ith. */
void lb_gemv_rows(const struct lb_gemv *g, const void *w, const void *act,
                  float *y, int ith, int nth);
/* Small batch (speculative / batched decode): n_b activations act[b]
 * (each act_bytes) against the same rows; y[b][r]. Each weight row is read
 * from memory once for all n_b (1 <= n_b <= LB_GEMV_MAX_BATCH). y[b][r]
 * is bit for bit what lb_gemv_rows gives for act[b]. */
#define LB_GEMV_MAX_BATCH 8
void lb_gemv_rows_batch(const struct lb_gemv *g, const void *w,
                        const void *const *act, float *const *y, int n_b,
                        int ith, int nth);

/* All implementations compiled in, for tests: fills up to max entries,
 * returns the count. */
size_t lb_dot_impls_all(const struct lb_dot_impl **out, size_t max);
size_t lb_actq_impls_all(const struct lb_actq_impl **out, size_t max);
size_t lb_dot_rows_impls_all(const struct lb_dot_rows_impl **out, size_t max);
/* Whether the CPU has what impl->requires and its level needs. */
bool lb_dot_impl_usable(enum lb_isa isa, unsigned requires,
                        const struct lb_cpu_features *f);

#ifdef __cplusplus
}
#endif
#endif
