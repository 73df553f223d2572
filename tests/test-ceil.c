/* test-ceil.c: unit tests of the ceiling kernels (kernels/lb-ceil.h) at
 * every ISA level this CPU runs, and at both dot8 paths (VNNI and the
 * maddubs fallback) of the levels that have two.
 *
 * Inputs are fresh random arrays each run (seed printed; LB_TEST_SEED
 * reproduces). Every worker slice is run by calling the kernel for
 * ith = 0..nth-1 in turn on this thread, for nth = 1..3, with odd multiples
 * of 16 for n so slices are uneven. Sizes are kept small (the largest
 * array is 3 MiB, just large enough that every slice of it takes the
 * streaming-store path) so the whole test runs in well under a second.
 */
#include "hw/lb-hw.h"
#include "kernels/lb-ceil.h"
#include "tests/lb-test.h"

#include <stdint.h>
#include <string.h>

/* Odd multiples of 16: one line; several lines; more than one read block
 * (LB_CEIL_READ_BLOCK) per worker with a partial last block; and a size
 * whose every slice for nth <= 3 is >= 1 MiB (3 x 16385 lines of 64 B),
 * so copy and triad take their streaming-store path. Plus one n that is
 * not a multiple of 16: lb-ceil.h does not promise those work, but the
 * kernels have tails for them, and a tail that is there must be right. */
#define N_BIG ((size_t)16 * 49153)
static const size_t sizes[] = {16, 16 * 7, 16 * 1001, 16 * 4099, N_BIG, 16 * 1001 + 9};
/* Elements past n that must never be written (one 64-byte line). */
#define GUARD 16
#define MAX_NTH 3

static struct lb_cpu_features cpu;     /* as detected */
static unsigned long long rng;         /* test input stream */

/* the variant under test, set by main before each LB_RUN */
static struct {
    enum lb_isa isa;
    const struct lb_ceil_ops *ops;
    const char *want_dot8_path;
} cur;

/* 64-byte aligned, as lb-ceil.h requires; n + GUARD floats */
static float *alloc_floats(size_t n)
{
    size_t bytes = (n + GUARD) * sizeof(float);
    bytes = (bytes + 63) / 64 * 64; /* aligned_alloc: size a multiple of alignment */
    float *p = aligned_alloc(64, bytes);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

/* uniform in [-1, 1): mixed signs and full 24-bit significands, without
 * the transcendental cost of normal deviates on megabyte arrays */
static void fill_random(float *a, size_t n)
{
    for (size_t i = 0; i < n; i++) a[i] = (float)(2.0 * lb_test_rand_uniform(&rng) - 1.0);
}

/* k / 4 for k a random non-zero integer in [-32, 32]: every partial sum
 * of up to 2^19 such terms is a multiple of 1/4 below 2^22 in magnitude,
 * so it fits float's 24-bit significand and any summation order is exact.
 * Non-zero, so a skipped or doubled element always changes the sum. */
static void fill_dyadic(float *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int k = (int)(lb_test_rand_u64(&rng) % 64) - 32; /* [-32, 31] */
        if (k >= 0) k++;                                 /* [-32, 32] \ {0} */
        a[i] = (float)k * 0.25f;
    }
}

static void poison(float *a, size_t n) { memset(a, 0xff, n * sizeof(float)); }

static bool is_poison(const float *a, size_t i)
{
    uint32_t bits;
    memcpy(&bits, &a[i], sizeof bits);
    return bits == 0xffffffffu;
}

/* Checks that elements [from, to) of a are still poison; reports the first
 * one that is not. */
static void check_untouched(const float *a, size_t from, size_t to, const char *what,
                            size_t n, int ith, int nth)
{
    for (size_t i = from; i < to; i++) {
        if (!is_poison(a, i)) {
            CHECK_MSG(false, "%s %s n=%zu ith=%d nth=%d wrote element %zu outside its slice",
                      lb_isa_name(cur.isa), what, n, ith, nth, i);
            return;
        }
    }
    CHECK(true);
}

/* ---- read ---------------------------------------------------------- */

static void test_read(void)
{
    for (size_t si = 0; si < LB_ARRAY_LEN(sizes); si++) {
        const size_t n = sizes[si];
        float *a = alloc_floats(n);
        for (int pass = 0; pass < 2; pass++) {
            const bool dyadic = pass == 1;
            if (dyadic) fill_dyadic(a, n);
            else fill_random(a, n);
            for (int nth = 1; nth <= MAX_NTH; nth++) {
                double sums[MAX_NTH];
                for (int ith = 0; ith < nth; ith++) sums[ith] = NAN;
                for (int ith = 0; ith < nth; ith++) cur.ops->read(a, n, ith, nth, sums);
                for (int ith = 0; ith < nth; ith++) {
                    size_t b, e;
                    lb_split(n, 16, ith, nth, &b, &e);
                    double ref = 0.0, abs_sum = 0.0;
                    for (size_t i = b; i < e; i++) {
                        ref += (double)a[i];
                        abs_sum += fabs((double)a[i]);
                    }
                    /* Dyadic inputs: exact (see fill_dyadic). Random inputs:
                     * the rigorous bound for recursive summation,
                     * |error| <= k * u * sum|a_i| with u = 2^-24 and k the
                     * most float additions any term passes through. Each
                     * level sums a block of LB_CEIL_READ_BLOCK elements in
                     * >= 4 independent float chains (the plain level has
                     * exactly 4), reduces them in <= 8 more float adds, and
                     * adds blocks in double (its error, ~2^-53 per add, is
                     * covered by the margin). Exceeding this bound is a
                     * wrong kernel, not bad luck. */
                    double tol = dyadic ? 0.0
                                        : (LB_CEIL_READ_BLOCK / 4 + 8) * 0x1p-24 * abs_sum;
                    CHECK_MSG(fabs(sums[ith] - ref) <= tol,
                              "%s read %s n=%zu ith=%d nth=%d: %.17g vs %.17g (tol %g)",
                              lb_isa_name(cur.isa), dyadic ? "dyadic" : "random", n, ith,
                              nth, sums[ith], ref, tol);
                }
            }
        }
        free(a);
    }
}

/* ---- copy ---------------------------------------------------------- */

static void test_copy(void)
{
    for (size_t si = 0; si < LB_ARRAY_LEN(sizes); si++) {
        const size_t n = sizes[si];
        float *a = alloc_floats(n), *c = alloc_floats(n);
        fill_random(a, n + GUARD);
        for (int nth = 1; nth <= MAX_NTH; nth++) {
            poison(c, n + GUARD);
            for (int ith = 0; ith < nth; ith++) {
                size_t b, e;
                lb_split(n, 16, ith, nth, &b, &e);
                cur.ops->copy(c, a, n, ith, nth);
                /* workers ith' > ith have not run: their slices and the
                 * guard line must still be poison */
                check_untouched(c, e, n + GUARD, "copy", n, ith, nth);
            }
            CHECK_MSG(memcmp(c, a, n * sizeof(float)) == 0,
                      "%s copy n=%zu nth=%d: arrays differ", lb_isa_name(cur.isa), n, nth);
        }
        free(a);
        free(c);
    }
}

/* ---- triad --------------------------------------------------------- */

static float mul_add_unfused(float s, float c, float b)
{
    volatile float p = s * c; /* the store rounds the product: no contraction */
    return b + p;
}

static void test_triad(void)
{
    for (size_t si = 0; si < LB_ARRAY_LEN(sizes); si++) {
        const size_t n = sizes[si];
        float *a = alloc_floats(n), *b = alloc_floats(n), *c = alloc_floats(n);
        fill_random(b, n + GUARD);
        fill_random(c, n + GUARD);
        for (int nth = 1; nth <= MAX_NTH; nth++) {
            const float s = (float)lb_test_rand_normal(&rng);
            poison(a, n + GUARD);
            for (int ith = 0; ith < nth; ith++) {
                size_t lo, hi;
                lb_split(n, 16, ith, nth, &lo, &hi);
                cur.ops->triad(a, b, c, s, n, ith, nth);
                check_untouched(a, hi, n + GUARD, "triad", n, ith, nth);
            }
            /* SIMD levels use FMA, one rounding: exactly fmaf (glibc's is
             * correctly rounded). The plain-C level rounds the product
             * unless the build contracts it into an FMA (-march=native), so
             * either result is right there, and nothing else. */
            size_t bad = 0, first = 0;
            for (size_t i = 0; i < n; i++) {
                float fused = fmaf(s, c[i], b[i]);
                bool ok = a[i] == fused ||
                          (cur.isa == LB_ISA_SCALAR && a[i] == mul_add_unfused(s, c[i], b[i]));
                if (!ok && bad++ == 0) first = i;
            }
            CHECK_MSG(bad == 0,
                      "%s triad n=%zu nth=%d: %zu wrong, first a[%zu] = %.9g, fmaf gives %.9g",
                      lb_isa_name(cur.isa), n, nth, bad, first, (double)a[first],
                      (double)fmaf(s, c[first], b[first]));
        }
        free(a);
        free(b);
        free(c);
    }
}

/* ---- fma ----------------------------------------------------------- */

static void test_fma(void)
{
    const double per_iter = cur.ops->fma_flops_per_iter;
    const double lanes = per_iter / 2; /* every lane does one FMA (2 flops) per round */
    CHECK(per_iter > 0 && lanes == floor(lanes));
    /* 0 and 1 rounds; a few; enough to reach the fixed point 1.0; and
     * one large count (still ~10 ms at the plain level) */
    static const uint64_t iters_list[] = {0, 1, 7, 1000, 20000, 1000003};
    /* one lane's x after iters rounds; computed once for all variants */
    static float ref_fused[LB_ARRAY_LEN(iters_list)], ref_unfused[LB_ARRAY_LEN(iters_list)];
    static bool have_ref;
    if (!have_ref) {
        float fused = LB_CEIL_FMA_X0, unfused = LB_CEIL_FMA_X0;
        uint64_t done = 0; /* iters_list is ascending: continue from the last */
        for (size_t t = 0; t < LB_ARRAY_LEN(iters_list); t++) {
            for (; done < iters_list[t]; done++) {
                fused = fmaf(fused, LB_CEIL_FMA_A, LB_CEIL_FMA_B);
                unfused = mul_add_unfused(LB_CEIL_FMA_A, unfused, LB_CEIL_FMA_B);
            }
            ref_fused[t] = fused;
            ref_unfused[t] = unfused;
        }
        have_ref = true;
    }
    for (size_t t = 0; t < LB_ARRAY_LEN(iters_list); t++) {
        const uint64_t iters = iters_list[t];
        const float fused = ref_fused[t], unfused = ref_unfused[t];
        /* the kernel sums its lanes in double, exactly (all lanes equal,
         * <= 2^10 of them), then rounds once to float */
        const float want_fused = (float)(lanes * (double)fused);
        const float want_unfused = (float)(lanes * (double)unfused);
        const float got = cur.ops->fma(iters);
        CHECK_MSG(isfinite(got), "%s fma(%llu) = %g is not finite", lb_isa_name(cur.isa),
                  (unsigned long long)iters, (double)got);
        bool ok = got == want_fused || (cur.isa == LB_ISA_SCALAR && got == want_unfused);
        CHECK_MSG(ok, "%s fma(%llu) = %.9g, want %.9g (fused) or, plain C only, %.9g",
                  lb_isa_name(cur.isa), (unsigned long long)iters, (double)got,
                  (double)want_fused, (double)want_unfused);
    }
}

/* ---- dot8 ---------------------------------------------------------- */

static void test_dot8(void)
{
    const double per_iter = cur.ops->dot8_ops_per_iter;
    const double pairs = per_iter / 2; /* 2 ops (multiply + add) per byte pair */
    CHECK(per_iter > 0 && pairs == floor(pairs));
    CHECK(cur.ops->dot8_path && strcmp(cur.ops->dot8_path, cur.want_dot8_path) == 0);
    /* the last count wraps int32 on every path: iters * pairs * 6 passes
     * 2^31 from 5.6M rounds at 64 pairs per round (the plain level's, the
     * fewest) */
    static const uint64_t iters_list[] = {0, 1, 3, 1000, 6000011};
    for (size_t t = 0; t < LB_ARRAY_LEN(iters_list); t++) {
        const uint64_t iters = iters_list[t];
        /* wrapping int32 arithmetic, as the kernel's lanes do */
        uint32_t want = (uint32_t)(iters * (uint64_t)pairs) *
                        (uint32_t)(LB_CEIL_DOT8_U * LB_CEIL_DOT8_S);
        int32_t got = cur.ops->dot8(iters);
        CHECK_MSG((uint32_t)got == want, "%s dot8(%llu) via %s = %ld, want %ld",
                  lb_isa_name(cur.isa), (unsigned long long)iters, cur.ops->dot8_path,
                  (long)got, (long)(int32_t)want);
    }
}

/* ---- dispatch ------------------------------------------------------ */

static void test_dispatch(void)
{
    /* every level is compiled in on x86-64; NULL features pick the path
     * that needs no VNNI */
    static const char *const no_vnni[LB_ISA_COUNT] = {
        [LB_ISA_SCALAR] = "scalar",
        [LB_ISA_AVX2] = "avx2_maddubs",
        [LB_ISA_AVX512] = "avx512_maddubs",
    };
    for (int isa = 0; isa < LB_ISA_COUNT; isa++) {
        const struct lb_ceil_ops *ops = lb_ceil_ops_get((enum lb_isa)isa, NULL);
        CHECK_MSG(ops != NULL, "no %s ceiling kernels", lb_isa_name((enum lb_isa)isa));
        if (ops) CHECK(strcmp(ops->dot8_path, no_vnni[isa]) == 0);
    }
    struct lb_cpu_features all = {0};
    all.avx_vnni = all.avx512_vnni = true;
    CHECK(strcmp(lb_ceil_ops_get(LB_ISA_AVX2, &all)->dot8_path, "avx_vnni") == 0);
    CHECK(strcmp(lb_ceil_ops_get(LB_ISA_AVX512, &all)->dot8_path, "avx512_vnni") == 0);
    CHECK(strcmp(lb_ceil_ops_get(LB_ISA_SCALAR, &all)->dot8_path, "scalar") == 0);
}

/* ---- variants ------------------------------------------------------ */

static void run_variant(enum lb_isa isa, const struct lb_cpu_features *f,
                        const char *want_dot8_path)
{
    cur.isa = isa;
    cur.ops = lb_ceil_ops_get(isa, f);
    cur.want_dot8_path = want_dot8_path;
    if (!cur.ops) {
        CHECK_MSG(false, "no %s ceiling kernels", lb_isa_name(isa));
        return;
    }
    printf("-- %s (dot8 via %s)\n", lb_isa_name(isa), cur.ops->dot8_path);
    LB_RUN(test_read);
    LB_RUN(test_copy);
    LB_RUN(test_triad);
    LB_RUN(test_fma);
    LB_RUN(test_dot8);
}

int main(void)
{
    rng = lb_test_seed();
    lb_cpu_features_detect(&cpu);
    const enum lb_isa best = lb_isa_best(&cpu);
    LB_RUN(test_dispatch);
    for (int i = 0; i < LB_ISA_COUNT; i++) {
        const enum lb_isa isa = (enum lb_isa)i;
        if (isa > best) {
            /* the other levels still ran; the test passes on what it could check */
            printf("skipped: %s not supported by this CPU\n", lb_isa_name(isa));
            continue;
        }
        struct lb_cpu_features f = cpu;
        switch (isa) {
        case LB_ISA_SCALAR:
            run_variant(isa, &f, "scalar");
            break;
        case LB_ISA_AVX2:
            /* the maddubs fallback runs everywhere; VNNI where present */
            f.avx_vnni = false;
            run_variant(isa, &f, "avx2_maddubs");
            if (cpu.avx_vnni) run_variant(isa, &cpu, "avx_vnni");
            else printf("skipped: avx_vnni dot8 path not supported by this CPU\n");
            break;
        case LB_ISA_AVX512:
            f.avx512_vnni = false;
            run_variant(isa, &f, "avx512_maddubs");
            if (cpu.avx512_vnni) run_variant(isa, &cpu, "avx512_vnni");
            else printf("skipped: avx512_vnni dot8 path not supported by this CPU\n");
            break;
        default:
            CHECK_MSG(false, "no test for ISA level %s", lb_isa_name(isa));
        }
    }
    return lb_test_finish();
}
