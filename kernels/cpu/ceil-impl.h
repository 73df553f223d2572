/* ceil-impl.h: internal to kernels/cpu: the per-ISA tables of ceiling
 * kernels (lb-ceil.h) that ceil.c's lb_ceil_ops_get chooses from, and the
 * tuning constants the ceil*.c files share.
 *
 * Declarations and macros only: every function body lives in the .c file
 * compiled for its ISA (STYLE.md #3), so nothing here can carry ISA code
 * into a file built without ISA flags.
 */
#ifndef LB_CEIL_IMPL_H
#define LB_CEIL_IMPL_H

#include "../lb-ceil.h"

#if defined(__x86_64__) || defined(__i386__)
#define LB_CEIL_HAVE_X86 1
/* ceil-avx2.c: dot8 by VPMADDUBSW + VPMADDWD + VPADDD (any AVX2 CPU) */
extern const struct lb_ceil_ops lb_ceil_ops_avx2;
/* ceil-avx2.c: dot8 by VEX VPDPBUSD; only when features->avx_vnni */
extern const struct lb_ceil_ops lb_ceil_ops_avx2_vnni;
/* ceil-avx512.c: dot8 by EVEX VPDPBUSD; only when features->avx512_vnni */
extern const struct lb_ceil_ops lb_ceil_ops_avx512;
/* ceil-avx512.c: dot8 by 512-bit VPMADDUBSW + VPMADDWD + VPADDD */
extern const struct lb_ceil_ops lb_ceil_ops_avx512_novnni;
#else
#define LB_CEIL_HAVE_X86 0
#endif

/* Output slices at least this large are written with non-temporal stores:
 * 1 MiB is the L2 of one Zen 4/5 core (and above most Intel L2s), so a
 * slice this size would be evicted before reuse anyway, and streaming it
 * past the caches saves the read-for-ownership of every destination line
 * (a third of copy's traffic). Smaller slices keep regular stores, which
 * stay cache-resident for the next call. */
#define LB_CEIL_STREAM_MIN_BYTES ((size_t)1 << 20)

#endif
