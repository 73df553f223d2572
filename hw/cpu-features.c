/* cpu-features.c: which ISA extensions this CPU has and the OS enables,
 * and the CPU's identity (vendor, family/model/stepping, brand string).
 *
 * CPUID says what the CPU implements; XGETBV (XCR0) says which register
 * state the OS saves on context switch. An AVX instruction with XCR0's
 * YMM bit clear faults (#UD), so each AVX/AVX-512/AMX flag is reported
 * true only when both agree. Compiled without ISA flags (STYLE.md #3):
 * this runs first on every x86-64 and must not itself use AVX.
 *
 * Bit positions: Intel SDM vol. 2A, CPUID leaf 1 / leaf 7; vol. 1 13.3
 * for XCR0. Non-x86 builds get all-false features and "unknown" identity.
 */
#include "lb-hw.h"

#include <ctype.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define LB_X86 1
#else
#define LB_X86 0
#endif

#define BIT(r, n) ((((r) >> (n)) & 1u) != 0)

/* XCR0 state components (SDM vol. 1, 13.1) */
#define XCR0_SSE (1ull << 1)
#define XCR0_YMM (1ull << 2)
#define XCR0_OPMASK (1ull << 5)
#define XCR0_ZMM_HI256 (1ull << 6)
#define XCR0_HI16_ZMM (1ull << 7)
#define XCR0_TILECFG (1ull << 17)
#define XCR0_TILEDATA (1ull << 18)

#if LB_X86
struct cpuid_regs {
    unsigned eax, ebx, ecx, edx;
};

/* Leaf/subleaf, zeros when the leaf is above the CPU's maximum (CPUID
 * would otherwise return the highest basic leaf's data on Intel). */
static struct cpuid_regs cpuid(unsigned leaf, unsigned sub)
{
    struct cpuid_regs r = {0, 0, 0, 0};
    if (!__get_cpuid_count(leaf, sub, &r.eax, &r.ebx, &r.ecx, &r.edx))
        memset(&r, 0, sizeof r);
    return r;
}

static unsigned long long xgetbv0(void)
{
    unsigned lo, hi;
    /* Encoded as bytes so it assembles even where the assembler does not
     * know the mnemonic; ecx = 0 selects XCR0. */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

void lb_cpu_features_detect(struct lb_cpu_features *f)
{
    memset(f, 0, sizeof *f);
#if LB_X86
    unsigned max_leaf = (unsigned)__get_cpuid_max(0, NULL);
    if (max_leaf < 1) return;
    struct cpuid_regs l1 = cpuid(1, 0);
    struct cpuid_regs l7 = max_leaf >= 7 ? cpuid(7, 0) : (struct cpuid_regs){0, 0, 0, 0};
    /* Subleaf 1 exists only when subleaf 0 reports eax >= 1. */
    struct cpuid_regs l71 = (max_leaf >= 7 && l7.eax >= 1) ? cpuid(7, 1)
                                                           : (struct cpuid_regs){0, 0, 0, 0};

    unsigned long long xcr0 = 0;
    bool osxsave = BIT(l1.ecx, 27);
    if (osxsave) xcr0 = xgetbv0();
    f->os_avx = osxsave && (xcr0 & (XCR0_SSE | XCR0_YMM)) == (XCR0_SSE | XCR0_YMM);
    const unsigned long long z = XCR0_OPMASK | XCR0_ZMM_HI256 | XCR0_HI16_ZMM;
    f->os_avx512 = f->os_avx && (xcr0 & z) == z;
    const unsigned long long t = XCR0_TILECFG | XCR0_TILEDATA;
    /* Linux also requires arch_prctl(ARCH_REQ_XCOMP_PERM) before the first
     * AMX instruction; the AMX kernels do that, this only reports XCR0. */
    f->os_amx = osxsave && (xcr0 & t) == t;

    f->sse42 = BIT(l1.ecx, 20);

    bool a = f->os_avx;
    f->avx = a && BIT(l1.ecx, 28);
    f->fma = a && BIT(l1.ecx, 12);
    f->f16c = a && BIT(l1.ecx, 29);
    f->avx2 = a && BIT(l7.ebx, 5);
    f->avx_vnni = a && BIT(l71.eax, 4);

    bool z5 = f->os_avx512;
    f->avx512f = z5 && BIT(l7.ebx, 16);
    f->avx512dq = z5 && BIT(l7.ebx, 17);
    f->avx512_ifma = z5 && BIT(l7.ebx, 21);
    f->avx512cd = z5 && BIT(l7.ebx, 28);
    f->avx512bw = z5 && BIT(l7.ebx, 30);
    f->avx512vl = z5 && BIT(l7.ebx, 31);
    f->avx512_vbmi = z5 && BIT(l7.ecx, 1);
    f->avx512_vnni = z5 && BIT(l7.ecx, 11);
    f->avx512_vpopcntdq = z5 && BIT(l7.ecx, 14);
    f->avx512_fp16 = z5 && BIT(l7.edx, 23);
    f->avx512_bf16 = z5 && BIT(l71.eax, 5);

    bool t5 = f->os_amx;
    f->amx_bf16 = t5 && BIT(l7.edx, 22);
    f->amx_tile = t5 && BIT(l7.edx, 24);
    f->amx_int8 = t5 && BIT(l7.edx, 25);
#endif
}

void lb_cpu_identity_detect(struct lb_hw *hw)
{
    snprintf(hw->cpu_vendor, sizeof hw->cpu_vendor, "unknown");
    snprintf(hw->cpu_model, sizeof hw->cpu_model, "unknown");
    hw->cpu_family = hw->cpu_model_id = hw->cpu_stepping = 0;
#if LB_X86
    struct cpuid_regs l0 = cpuid(0, 0);
    char vendor[13];
    memcpy(vendor + 0, &l0.ebx, 4); /* "Auth" "enti" "cAMD": ebx, edx, ecx */
    memcpy(vendor + 4, &l0.edx, 4);
    memcpy(vendor + 8, &l0.ecx, 4);
    vendor[12] = '\0';
    if (vendor[0]) snprintf(hw->cpu_vendor, sizeof hw->cpu_vendor, "%s", vendor);

    if (l0.eax >= 1) {
        unsigned eax = cpuid(1, 0).eax;
        unsigned fam = (eax >> 8) & 0xf, model = (eax >> 4) & 0xf;
        /* Extended family only adds when family is 0xf; extended model
         * applies for family 6 and 0xf (SDM "Feature information"). */
        if (fam == 0xf) fam += (eax >> 20) & 0xff;
        if (fam == 0x6 || fam >= 0xf) model |= ((eax >> 16) & 0xf) << 4;
        hw->cpu_family = (int)fam;
        hw->cpu_model_id = (int)model;
        hw->cpu_stepping = (int)(eax & 0xf);
    }

    /* clang declares __get_cpuid_max as int, gcc as unsigned */
    if ((unsigned)__get_cpuid_max(0x80000000u, NULL) >= 0x80000004u) {
        unsigned r[12];
        for (unsigned i = 0; i < 3; i++) {
            struct cpuid_regs x = cpuid(0x80000002u + i, 0);
            r[i * 4 + 0] = x.eax;
            r[i * 4 + 1] = x.ebx;
            r[i * 4 + 2] = x.ecx;
            r[i * 4 + 3] = x.edx;
        }
        char brand[49];
        memcpy(brand, r, 48);
        brand[48] = '\0';
        /* Trim leading and trailing blanks as the kernel does for
         * /proc/cpuinfo "model name" (Intel right-justifies the string,
         * AMD pads it on the right); inner spacing is kept. */
        const char *p = brand;
        while (*p && isspace((unsigned char)*p)) p++;
        size_t o = strlen(p);
        while (o > 0 && isspace((unsigned char)p[o - 1])) o--;
        char out[49];
        memcpy(out, p, o);
        out[o] = '\0';
        if (o > 0) snprintf(hw->cpu_model, sizeof hw->cpu_model, "%s", out);
    }
#endif
}
