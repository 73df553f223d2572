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
 * Why the declarations are conditional. The ISA files of a format family
 * are written in parallel and may not exist in every checkout, so a
 * missing one must still link: its table is then declared weak and its
 * address is NULL, which the registry skips. But a weak undefined symbol
 * does NOT make the linker pull a member out of a static archive (GNU ld
 * and lld alike; lbcore is a static library), so a weak declaration would
 * leave a table that IS compiled out of every binary, silently. Hence:
 * when the table's source file is in the tree at compile time
 * (__has_include, relative to this header), the declaration is a plain
 * strong extern, which pulls the member in; only when the file is absent
 * is it weak. tests/test-gemv.c checks that every table whose file exists
 * in the source tree is registered (catching an object of gemv.c compiled
 * before the file appeared: rebuild gemv.c then).
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

#if defined(__has_include)
#define LB_GEMV_HAS_FILE(f) __has_include(f)
#else
#define LB_GEMV_HAS_FILE(f) 0
#endif

/* gemv-float-avx2.c: F32 / F16 (F16C) / BF16 (shift) dots, f32 activations */
extern const struct lb_dot_table lb_gemv_table_float_avx2;
/* gemv-float-avx512.c: the same on zmm; no VNNI/BF16 instructions */
extern const struct lb_dot_table lb_gemv_table_float_avx512;

/* gemv-legacy-avx2.c / -avx512.c: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL,
 * MXFP4 and their activation quantizers */
#if LB_GEMV_HAS_FILE("x86/gemv-legacy-avx2.c")
#define LB_GEMV_LEGACY_AVX2_FILE 1
extern const struct lb_dot_table lb_gemv_table_legacy_avx2;
#else
#define LB_GEMV_LEGACY_AVX2_FILE 0
extern const struct lb_dot_table lb_gemv_table_legacy_avx2 __attribute__((weak));
#endif
#if LB_GEMV_HAS_FILE("x86/gemv-legacy-avx512.c")
#define LB_GEMV_LEGACY_AVX512_FILE 1
extern const struct lb_dot_table lb_gemv_table_legacy_avx512;
#else
#define LB_GEMV_LEGACY_AVX512_FILE 0
extern const struct lb_dot_table lb_gemv_table_legacy_avx512 __attribute__((weak));
#endif

/* gemv-k-avx2.c / -avx512.c: Q2_K .. Q6_K, IQ4_XS and the Q8_K quantizer */
#if LB_GEMV_HAS_FILE("x86/gemv-k-avx2.c")
#define LB_GEMV_K_AVX2_FILE 1
extern const struct lb_dot_table lb_gemv_table_k_avx2;
#else
#define LB_GEMV_K_AVX2_FILE 0
extern const struct lb_dot_table lb_gemv_table_k_avx2 __attribute__((weak));
#endif
#if LB_GEMV_HAS_FILE("x86/gemv-k-avx512.c")
#define LB_GEMV_K_AVX512_FILE 1
extern const struct lb_dot_table lb_gemv_table_k_avx512;
#else
#define LB_GEMV_K_AVX512_FILE 0
extern const struct lb_dot_table lb_gemv_table_k_avx512 __attribute__((weak));
#endif

#endif /* LB_GEMV_HAVE_X86 */

/* The registry as gemv.c walks it, for tests: name is the table's source
 * file relative to kernels/cpu ("x86/gemv-k-avx2.c"); table is NULL when
 * that file was not linked in. */
struct lb_gemv_registry_entry {
    const char *file;
    const struct lb_dot_table *table;
};
/* Fills up to max entries; returns how many the registry has. */
size_t lb_gemv_registry(struct lb_gemv_registry_entry *out, size_t max);

#endif
