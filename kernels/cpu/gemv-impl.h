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

/* The registry as gemv.c walks it, for tests: file is the table's source
 * file relative to kernels/cpu ("x86/gemv-k-avx2.c"). */
struct lb_gemv_registry_entry {
    const char *file;
    const struct lb_dot_table *table;
};
/* Fills up to max entries; returns how many the registry has. */
size_t lb_gemv_registry(struct lb_gemv_registry_entry *out, size_t max);

#endif
