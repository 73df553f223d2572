/* lb-isa.h: which x86 instruction-set extensions the kernels may use.
 *
 * kernels/ does not probe the machine (DESIGN.md: hw/ knows the machine).
 * hw/cpu-features.c fills struct lb_cpu_features from CPUID + XGETBV, and
 * bench/ hands it to the kernels' dispatch (lb_isa_best). A user can cap
 * the level (--isa avx2) to compare paths on one machine.
 */
#ifndef LB_ISA_H
#define LB_ISA_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

struct lb_cpu_features {
    /* each flag is true only when the CPU reports it AND the OS saves the
     * register state (XGETBV XCR0), i.e. the instructions will not fault. */
    bool sse42, avx, f16c, fma, avx2;
    bool avx_vnni;                     /* VEX-encoded VPDPBUSD (ymm) */
    bool avx512f, avx512bw, avx512vl, avx512dq, avx512cd;
    bool avx512_vnni, avx512_bf16, avx512_vbmi, avx512_ifma,
         avx512_vpopcntdq, avx512_fp16;
    bool amx_tile, amx_int8, amx_bf16;
    bool os_avx, os_avx512, os_amx;    /* XCR0 state bits */
};

/* Code paths, ordered: a higher level may use everything a lower one does.
 * Each ISA file in kernels/cpu/x86 is compiled for exactly one level. */
enum lb_isa {
    LB_ISA_SCALAR = 0, /* plain C, always compiled: the reference */
    LB_ISA_AVX2,       /* AVX2 + FMA + F16C */
    LB_ISA_AVX512,     /* F+BW+VL+DQ, plus VNNI and BF16 where reported */
    LB_ISA_COUNT
};

const char *lb_isa_name(enum lb_isa isa);
/* Parses "scalar|avx2|avx512"; returns false on anything else. */
bool lb_isa_parse(const char *s, enum lb_isa *out);
/* Highest level the features allow. */
enum lb_isa lb_isa_best(const struct lb_cpu_features *f);

#ifdef __cplusplus
}
#endif
#endif
