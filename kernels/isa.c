/* isa.c: naming and choosing a kernel ISA level (no ISA flags here:
 * this file runs on every x86-64, STYLE.md #3). */
#include "lb-isa.h"

#include <string.h>

static const char *const isa_names[LB_ISA_COUNT] = {
    [LB_ISA_SCALAR] = "scalar",
    [LB_ISA_AVX2] = "avx2",
    [LB_ISA_AVX512] = "avx512",
};

const char *lb_isa_name(enum lb_isa isa)
{
    return (unsigned)isa < LB_ISA_COUNT ? isa_names[isa] : "?";
}

bool lb_isa_parse(const char *s, enum lb_isa *out)
{
    for (int i = 0; i < LB_ISA_COUNT; i++) {
        if (strcmp(s, isa_names[i]) == 0) {
            *out = (enum lb_isa)i;
            return true;
        }
    }
    return false;
}

enum lb_isa lb_isa_best(const struct lb_cpu_features *f)
{
    if (f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq && f->fma &&
        f->f16c)
        return LB_ISA_AVX512;
    if (f->avx2 && f->fma && f->f16c) return LB_ISA_AVX2;
    return LB_ISA_SCALAR;
}
