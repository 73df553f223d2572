/* gemv-impl.h: internal to kernels/cpu: the registry of GEMV dot-product
 * tables (kernels/lb-gemv.h) that gemv.c's lb_gemv_init chooses from.
 *
 * Declarations only: every function body lives in the .c file compiled
 * for its ISA (STYLE.md #3), so nothing here can carry ISA code into a
 * file built without ISA flags.
 *
 * How to add a table: write kernels/cpu/x86/gemv-NAME-<isa>.c exporting
 * `const struct lb_dot_table lb_gemv_table_NAME_<isa>` (entries ending
 * with a NULL dot / quantize), declare it below with LB_GEMV_TABLE_DECL,
 * and list it in gemv.c's registry. Selection per format (gemv.c): among
 * the usable entries at or below the ISA cap, the one requiring the most
 * lb_dot_requires features (a VNNI dot over its level's fallback), then
 * the higher ISA level, then the one listed first.
 *
 * All tables are plain strong externs: lbcore is a static archive, and a
 * strong reference is what makes the linker pull each ISA file's member
 * in (a weak one would silently leave a compiled table out of every
 * binary). tests/test-gemv.c checks that every table file in the source
 * tree is registered.
 */
#ifndef LB_GEMV_IMPL_H
#define LB_GEMV_IMPL_H

#include "../lb-gemv.h"

#if defined(__x86_64__) || defined(__i386__)
#define LB_GEMV_HAVE_X86 1
#else
#define LB_GEMV_HAVE_X86 0
#endif

#if LB_GEMV_HAVE_X86

/* gemv-float-avx2.c: F32 / F16 (F16C) / BF16 (shift) dots, f32 activations */
extern const struct lb_dot_table lb_gemv_table_float_avx2;
/* gemv-float-avx512.c: the same on zmm; no VNNI/BF16 instructions */
extern const struct lb_dot_table lb_gemv_table_float_avx512;

/* gemv-legacy-avx2.c / -avx512.c: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL,
 * MXFP4 and their activation quantizers */
extern const struct lb_dot_table lb_gemv_table_legacy_avx2;
extern const struct lb_dot_table lb_gemv_table_legacy_avx512;

/* gemv-k-avx2.c / -avx512.c: Q2_K .. Q6_K, IQ4_XS and the Q8_K quantizer */
extern const struct lb_dot_table lb_gemv_table_k_avx2;
extern const struct lb_dot_table lb_gemv_table_k_avx512;

/* Multi-row dots (struct lb_dot_rows_impl), each paired with one dot of
 * its file's table; a table ends with a NULL dot_rows. Registered in
 * gemv.c's rows_registry. */
extern const struct lb_dot_rows_impl lb_gemv_rows_k_avx512[];
/* gemv-legacy-avx512.c: Q4_0, IQ4_NL, Q5_0, MXFP4 against a prepared
 * Q8_0 activation */
extern const struct lb_dot_rows_impl lb_gemv_rows_legacy_avx512[];

#endif /* LB_GEMV_HAVE_X86 */

/* ---- the batch forms' common driver (lb_dot_batch_fn) -----------------
 * Every batch form goes over groups of LB_BATCH_ROWS rows, and for each
 * group over the row's units (steps, blocks) chunk by chunk, so that one
 * chunk of the n_b activations (at most LB_BATCH_CHUNK_BYTES, L1) is read
 * by all the rows of the group; the (row, activation) accumulators wait in
 * a buffer between chunks. Measured (docs/gemv.md): whole rows at once
 * were 0.6-0.7x of n_b single passes at 8192 columns; chunks of 16 KiB
 * beat 12, 24 and 32.
 *
 * units[n_b - 1] runs units [u0, u1) of rows [0, g) at w for n_b
 * activations (a constant in it, so its accumulators stay in registers);
 * acc holds g x n_b accumulator records of acc_size bytes (<=
 * LB_BATCH_ACC_MAX, 64-byte aligned, zeroed before a group), record
 * r n_b + k for row r and activation k. finish turns a group's records
 * into y[k][r0 + r] (LB_BATCH_FINISH builds it from a one-record
 * function, inlined: one call per group, not per record). ctx is the format's (its prepared or raw activations). Plain C
 * (gemv.c), so it carries no ISA code into the ISA files. */
#define LB_BATCH_ROWS 8
#define LB_BATCH_CHUNK_BYTES (16 * 1024)
#define LB_BATCH_ACC_MAX 192
typedef void (*lb_batch_units_fn)(const char *w, size_t rb, int g, const void *ctx, int64_t u0, int64_t u1,
                                  void *acc);
typedef void (*lb_batch_finish_fn)(const void *acc, const char *w, size_t rb, int g, int n_b, float *const *y,
                                   int r0, const void *ctx);
void lb_gemv_batch_run(const lb_batch_units_fn units[LB_GEMV_MAX_BATCH], lb_batch_finish_fn finish,
                       const void *ctx, const void *w, size_t rb, float *const *y, int n_b, int n_rows,
                       int64_t n_units, int64_t chunk_units, size_t acc_size);
/* Units per chunk for n_b activations of unit_bytes each: at least
 * min_units, rounded down to a multiple of multiple. */
int64_t lb_gemv_batch_chunk(int n_b, size_t unit_bytes, int64_t multiple);

/* The group finish from ONE(record, row, k, ctx) -> y, records of
 * REC_SIZE bytes. */
#define LB_BATCH_FINISH(name, REC_SIZE, ONE)                                                        \
    static void name(const void *acc, const char *w, size_t rb, int g, int n_b, float *const *y, int r0, \
                     const void *ctx)                                                               \
    {                                                                                               \
        for (int r = 0; r < g; r++)                                                                 \
            for (int k = 0; k < n_b; k++)                                                           \
                y[k][r0 + r] = ONE((const char *)acc + ((size_t)r * (size_t)n_b + (size_t)k) * (REC_SIZE), \
                                   w + (size_t)r * rb, k, ctx);                                     \
    }

/* Eight instantiations of an inline units body for n_b = 1..8, as the
 * table lb_gemv_batch_run takes: BODY(NB, w, rb, g, ctx, u0, u1, acc). */
#define LB_BATCH_UNITS_TABLE(name, BODY)                                                            \
    LB_BATCH_UNITS_1(name, BODY, 1) LB_BATCH_UNITS_1(name, BODY, 2) LB_BATCH_UNITS_1(name, BODY, 3)  \
    LB_BATCH_UNITS_1(name, BODY, 4) LB_BATCH_UNITS_1(name, BODY, 5) LB_BATCH_UNITS_1(name, BODY, 6)  \
    LB_BATCH_UNITS_1(name, BODY, 7) LB_BATCH_UNITS_1(name, BODY, 8)                                   \
    static const lb_batch_units_fn name[LB_GEMV_MAX_BATCH] = {name##_1, name##_2, name##_3, name##_4, \
                                                               name##_5, name##_6, name##_7, name##_8};
#define LB_BATCH_UNITS_1(name, BODY, NB)                                                            \
    static void name##_##NB(const char *w, size_t rb, int g, const void *ctx, int64_t u0, int64_t u1, \
                            void *acc)                                                              \
    {                                                                                               \
        BODY(NB, w, rb, g, ctx, u0, u1, acc);                                                       \
    }

/* A dot_rows that is its dot row by row: what a batch form is paired with
 * when the format has no multi-row form of its own (Q8_0's batch pairs
 * with a real one). */
#define LB_ROWS_BY_DOT(rows_fn, dot_fn)                                                             \
    static void rows_fn(int64_t n, const void *w, size_t rb, const void *act, float *y, int n_rows) \
    {                                                                                               \
        for (int r = 0; r < n_rows; r++) y[r] = dot_fn(n, (const char *)w + (size_t)r * rb, act);  \
    }

/* The registry as gemv.c walks it, for tests: file is the table's source
 * file relative to kernels/cpu ("x86/gemv-k-avx2.c"). */
struct lb_gemv_registry_entry {
    const char *file;
    const struct lb_dot_table *table;
};
/* Fills up to max entries; returns how many the registry has. */
size_t lb_gemv_registry(struct lb_gemv_registry_entry *out, size_t max);

#endif
