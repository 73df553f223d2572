/* test-stats.c: unit tests of bench/stats.c (lb-stats.h): summary
 * statistics on hand-computed inputs, type-7 quantiles, the exact binomial
 * ranks of the median's CI, the allocation-free fallback, and a randomized
 * comparison with naive O(n^2) reimplementations.
 */
#include "bench/lb-stats.h"
#include "tests/lb-test.h"

#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* malloc that can be made to fail, to reach lb_stats_compute's
 * allocation-free path. Only where glibc's own allocator is reachable
 * under its internal name and no sanitizer owns malloc. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LB_NO_MALLOC_HOOK 1
#endif
#endif
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(LB_NO_MALLOC_HOOK)
#define LB_MALLOC_HOOK 1
extern void *__libc_malloc(size_t size);
static volatile int fail_malloc, failed_mallocs;
void *malloc(size_t size)
{
    if (fail_malloc) {
        failed_mallocs++;
        return NULL;
    }
    return __libc_malloc(size);
}
#endif

#define TOL 1e-12

static void shuffle(double *x, size_t n, unsigned long long *st)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(lb_test_rand_u64(st) % i);
        double t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
}

/* Bitwise equality of two results (NaN == NaN, -0 != +0 on purpose). */
static int stats_identical(const struct lb_stats *a, const struct lb_stats *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* ------------------------------------------------------------------ */

static void test_four(void)
{
    /* x = {1,2,3,4}, given unsorted.
     * mean = 10/4 = 2.5
     * deviations -1.5 -0.5 0.5 1.5, squares 2.25+0.25+0.25+2.25 = 5,
     * stddev = sqrt(5/(4-1)) = sqrt(5/3) = 1.2909944487358056
     * cv = sqrt(5/3) / 2.5
     * type 7, h = (n-1) q = 3q on sorted 0-based {1,2,3,4}:
     *   median h = 1.5 -> 2 + 0.5 (3-2) = 2.5
     *   p10    h = 0.3 -> 1 + 0.3 (2-1) = 1.3
     *   p90    h = 2.7 -> 3 + 0.7 (4-3) = 3.7
     * n = 4 < 6: the CI is [min, max] = [1, 4],
     *   ci_rel = (4-1)/2/2.5 = 0.6 */
    double x[4] = {4, 1, 3, 2};
    const double orig[4] = {4, 1, 3, 2};
    struct lb_stats s;
    lb_stats_compute(x, 4, &s);
    CHECK(memcmp(x, orig, sizeof x) == 0); /* input not modified */
    CHECK_INT_EQ(s.n, 4);
    CHECK(s.min == 1.0);
    CHECK(s.max == 4.0);
    CHECK_NEAR(s.mean, 2.5, TOL);
    CHECK_NEAR(s.median, 2.5, TOL);
    CHECK_NEAR(s.stddev, sqrt(5.0 / 3.0), TOL);
    CHECK_NEAR(s.cv, sqrt(5.0 / 3.0) / 2.5, TOL);
    CHECK_NEAR(s.p10, 1.3, TOL);
    CHECK_NEAR(s.p90, 3.7, TOL);
    CHECK(s.ci_lo == 1.0);
    CHECK(s.ci_hi == 4.0);
    CHECK_NEAR(s.ci_rel, 0.6, TOL);
}

static void test_single(void)
{
    /* n = 1: every location statistic is the sample, spread is 0 */
    double x[1] = {5};
    struct lb_stats s;
    lb_stats_compute(x, 1, &s);
    CHECK_INT_EQ(s.n, 1);
    CHECK(s.min == 5 && s.max == 5 && s.mean == 5 && s.median == 5);
    CHECK(s.p10 == 5 && s.p90 == 5);
    CHECK(s.stddev == 0 && s.cv == 0);
    CHECK(s.ci_lo == 5 && s.ci_hi == 5 && s.ci_rel == 0);
}

static void test_empty(void)
{
    struct lb_stats s, zero;
    double x[1] = {7};
    memset(&zero, 0, sizeof zero);
    memset(&s, 0xA5, sizeof s);
    lb_stats_compute(x, 0, &s);
    CHECK(stats_identical(&s, &zero));
    memset(&s, 0xA5, sizeof s);
    lb_stats_compute(NULL, 0, &s);
    CHECK(stats_identical(&s, &zero));
    CHECK(isnan(lb_quantile_sorted(x, 0, 0.5)));
}

static void test_outlier(void)
{
    /* nine 10s and one 1000 (placed first):
     * mean = (9*10 + 1000)/10 = 109
     * deviations: -99 (x9), 891; 9*9801 + 793881 = 882090;
     *   stddev = sqrt(882090/9) = sqrt(98010) = 313.06548835...
     * sorted 0-based: x[0..8] = 10, x[9] = 1000
     *   median h = 4.5 -> 10;  p10 h = 0.9 -> 10
     *   p90    h = 8.1 -> 10 + 0.1 (1000-10) = 109
     * n = 10: CI ranks (2,9) 1-based = 0-based (1,8) -> [10, 10], ci_rel 0:
     * the outlier moves the mean by 10x and leaves the median and its CI. */
    double x[10] = {1000, 10, 10, 10, 10, 10, 10, 10, 10, 10};
    struct lb_stats s;
    lb_stats_compute(x, 10, &s);
    CHECK(s.min == 10 && s.max == 1000);
    CHECK_NEAR(s.mean, 109, TOL);
    CHECK_NEAR(s.stddev, sqrt(98010.0), 1e-9);
    CHECK_NEAR(s.cv, sqrt(98010.0) / 109, TOL);
    CHECK(s.median == 10);
    CHECK(s.p10 == 10);
    CHECK_NEAR(s.p90, 109, 1e-9);
    CHECK(s.ci_lo == 10 && s.ci_hi == 10 && s.ci_rel == 0);

    /* 1..9 and 100, shuffled: median h = 4.5 -> (5+6)/2 = 5.5;
     * mean = (45+100)/10 = 14.5; CI 0-based (1,8) -> [2, 9],
     * ci_rel = (9-2)/2/5.5 = 0.636363...;
     * p10 h = 0.9 -> 1 + 0.9 = 1.9; p90 h = 8.1 -> 9 + 0.1*91 = 18.1 */
    double y[10] = {7, 100, 3, 1, 9, 5, 2, 8, 6, 4};
    lb_stats_compute(y, 10, &s);
    CHECK_NEAR(s.median, 5.5, TOL);
    CHECK_NEAR(s.mean, 14.5, TOL);
    CHECK(s.ci_lo == 2 && s.ci_hi == 9);
    CHECK_NEAR(s.ci_rel, 3.5 / 5.5, TOL);
    CHECK_NEAR(s.p10, 1.9, TOL);
    CHECK_NEAR(s.p90, 18.1, 1e-9);
}

static void test_quantile_sorted(void)
{
    const double x[5] = {10, 20, 30, 40, 50};
    /* h = 4q: q=0.25 -> x[1] = 20; q=0.1 -> h=0.4 -> 10 + 0.4*10 = 14;
     * q=0.9 -> h=3.6 -> 40 + 0.6*10 = 46 */
    CHECK(lb_quantile_sorted(x, 5, 0.0) == 10);
    CHECK(lb_quantile_sorted(x, 5, 1.0) == 50);
    CHECK(lb_quantile_sorted(x, 5, 0.5) == 30);
    CHECK(lb_quantile_sorted(x, 5, 0.25) == 20);
    CHECK_NEAR(lb_quantile_sorted(x, 5, 0.1), 14, TOL);
    CHECK_NEAR(lb_quantile_sorted(x, 5, 0.9), 46, TOL);
    CHECK(lb_quantile_sorted(x, 5, -1.0) == 10); /* clamped */
    CHECK(lb_quantile_sorted(x, 5, 2.0) == 50);
    CHECK(isnan(lb_quantile_sorted(x, 5, NAN)));
    CHECK(lb_quantile_sorted(x, 1, 0.7) == 10);
    const double inf[3] = {1, INFINITY, INFINITY};
    CHECK(lb_quantile_sorted(inf, 3, 0.75) == INFINITY); /* not inf-inf */
}

/* Coverage of the 0-based pair (lo, hi) = 1-based (lo+1, hi+1):
 * sum_{i=lo+1}^{hi} C(n,i) 2^-n, from Pascal's triangle with each row
 * halved (exact in double for small n, accurate far beyond). */
static double coverage_pascal(size_t n, size_t lo, size_t hi)
{
    static double row[2048];
    static size_t row_n = (size_t)-1; /* row[] holds row row_n */
    if (n >= 2048) return NAN;
    if (row_n != n) {
        row[0] = 1.0;
        for (size_t m = 1; m <= n; m++) {
            row[m] = 0.0;
            for (size_t i = m; i > 0; i--) row[i] = (row[i] + row[i - 1]) * 0.5;
            row[0] *= 0.5;
        }
        row_n = n;
    }
    double c = 0.0;
    for (size_t i = lo + 1; i <= hi; i++) c += row[i];
    return c;
}

static void test_ci_ranks(void)
{
    /* 1-based (r, s = n+1-r); coverage sum_{i=r}^{s-1} C(n,i)/2^n
     * = 1 - 2 sum_{i<r} C(n,i)/2^n, checked with exact integers:
     *   n=5:  r=1 -> 1 - 2/32 = 0.9375 < 0.95: fallback (1,5) = [min,max]
     *   n=6:  r=1 -> 1 - 2/64 = 0.96875
     *   n=9:  r=2 -> 1 - 2(1+9)/512 = 0.9609375; r=3 -> 0.8203125
     *   n=10: r=2 -> 1 - 2(1+10)/1024 = 1002/1024 = 0.978515625;
     *         r=3 -> 1 - 2(1+10+45)/1024 = 0.890625
     *   n=20: r=6 -> 1 - 2(1+20+190+1140+4845+15504)/2^20
     *              = 1 - 43400/1048576 = 0.95861053...;
     *         r=7 adds 2*38760/2^20 -> 0.88468
     * larger n from exact big-integer sums (n <= 1001) and 50-digit mpmath
     * sums walking out from the centre (n >= 1e6); expected values below
     * are 0-based (r-1, n-r). */
    static const struct {
        size_t n;
        double conf;
        size_t lo, hi;
    } t[] = {
        {0, 0.95, 0, 0},       {1, 0.95, 0, 0},          {2, 0.95, 0, 1},
        {5, 0.95, 0, 4},       {6, 0.95, 0, 5},          {7, 0.95, 0, 6},
        {8, 0.95, 0, 7},       {9, 0.95, 1, 7},          {10, 0.95, 1, 8},
        {11, 0.95, 1, 9},      {12, 0.95, 2, 9},         {13, 0.95, 2, 10},
        {20, 0.95, 5, 14},     {21, 0.95, 5, 15},        {30, 0.95, 9, 20},
        {50, 0.95, 17, 32},    {100, 0.95, 39, 60},      {101, 0.95, 40, 60},
        {1000, 0.95, 468, 531}, {1001, 0.95, 469, 531},
        {1000000, 0.95, 499019, 500980}, {1000001, 0.95, 499020, 500980},
        /* either side of the switch from lgamma to Loader's form (2^20) */
        {1048576, 0.95, 523283, 525292}, {1048577, 0.95, 523284, 525292},
        {1048578, 0.95, 523284, 525293}, {10000000, 0.95, 4996900, 5003099},
        {1000000000, 0.95, 499969009, 500030990},
#if SIZE_MAX > 0xffffffffu
        {4294967296u, 0.95, 2147419423u, 2147547872u},
        {4294967297u, 0.95, 2147419423u, 2147547873u},
#endif
        {8, 0.99, 0, 7},       {9, 0.99, 0, 8},          {12, 0.99, 1, 10},
        {20, 0.99, 3, 16},     {100, 0.99, 36, 63},
        /* coverage exactly equal to conf counts as reaching it */
        {6, 0.96875, 0, 5},    {10, 0.978515625, 1, 8},  {10, 0.9786, 0, 9},
        /* conf >= 1: [min, max]; conf <= 0: narrowest pair */
        {10, 1.0, 0, 9},       {10, 0.0, 4, 5},          {11, -1.0, 4, 6},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        size_t lo = 99, hi = 99;
        lb_median_ci_ranks(t[i].n, t[i].conf, &lo, &hi);
        CHECK_MSG(lo == t[i].lo && hi == t[i].hi,
                  "n=%zu conf=%g: got (%zu,%zu), want (%zu,%zu)", t[i].n,
                  t[i].conf, lo, hi, t[i].lo, t[i].hi);
    }
    CHECK_NEAR(coverage_pascal(10, 1, 8), 0.978515625, 1e-15);
    CHECK_NEAR(coverage_pascal(20, 5, 14), 1.0 - 43400.0 / 1048576.0, 1e-15);
    CHECK_NEAR(coverage_pascal(6, 0, 5), 0.96875, 1e-15);

    /* maximality against the independent Pascal coverage: the chosen pair
     * reaches conf and the next narrower symmetric pair does not */
    static const double confs[] = {0.5, 0.9, 0.95, 0.99};
    for (size_t c = 0; c < 4; c++) {
        for (size_t n = 1; n <= 400; n++) {
            size_t lo, hi;
            double conf = confs[c];
            lb_median_ci_ranks(n, conf, &lo, &hi);
            CHECK_MSG(lo <= hi && hi < n && lo + hi == n - 1,
                      "n=%zu: (%zu,%zu) not symmetric", n, lo, hi);
            /* lo == 0 is [min, max], also the fallback when it falls short */
            double cov = coverage_pascal(n, lo, hi);
            if (lo > 0)
                CHECK_MSG(cov >= conf * (1 - 1e-12), "n=%zu conf=%g cov=%g", n,
                          conf, cov);
            /* next narrower pair, 1-based r+1 = lo+2 <= floor(n/2) */
            if (lo + 2 <= n / 2) {
                double narrower = coverage_pascal(n, lo + 1, hi - 1);
                CHECK_MSG(narrower < conf, "n=%zu conf=%g: (%zu,%zu) also ok",
                          n, conf, lo + 1, hi - 1);
            }
        }
    }
}

static void test_ci_in_stats(void)
{
    /* 1..20 shuffled: median h = 9.5 -> 10.5; CI 0-based (5,14) -> [6,15];
     * ci_rel = (15-6)/2/10.5 = 4.5/10.5 */
    unsigned long long st = 12345;
    double x[20];
    for (int i = 0; i < 20; i++) x[i] = i + 1;
    shuffle(x, 20, &st);
    struct lb_stats s;
    lb_stats_compute(x, 20, &s);
    CHECK_NEAR(s.median, 10.5, TOL);
    CHECK(s.ci_lo == 6 && s.ci_hi == 15);
    CHECK_NEAR(s.ci_rel, 4.5 / 10.5, TOL);

    /* median 0 -> ci_rel 0 by definition */
    double z[3] = {-1, 0, 1};
    lb_stats_compute(z, 3, &s);
    CHECK(s.median == 0 && s.ci_rel == 0 && s.cv == 0);
}

static void test_precision(void)
{
    /* large offset, small spread: 1e9 + {1,2,3,4}; a one-pass
     * sum-of-squares would lose the variance entirely */
    double x[4] = {1e9 + 4, 1e9 + 1, 1e9 + 3, 1e9 + 2};
    struct lb_stats s;
    lb_stats_compute(x, 4, &s);
    CHECK_NEAR(s.mean, 1e9 + 2.5, 1e-6);
    CHECK_NEAR(s.stddev, sqrt(5.0 / 3.0), 1e-6);
    /* compensated mean: a plain left-to-right sum gives 0 here */
    double y[3] = {1e100, 1.0, -1e100};
    lb_stats_compute(y, 3, &s);
    CHECK_NEAR(s.mean, 1.0 / 3.0, 1e-15);
}

static void test_nan_order(void)
{
    /* NaN sorts after every number; the total order keeps qsort sane */
    double x[6] = {3, NAN, 1, -0.0, 2, 0.0};
    struct lb_stats s;
    lb_stats_compute(x, 6, &s);
    CHECK(s.min == 0.0);
    CHECK(isnan(s.max));
    CHECK(isnan(s.mean));
    /* sorted {-0,0,1,2,3,NaN}: median h = 2.5 -> 1.5 */
    CHECK_NEAR(s.median, 1.5, TOL);
}

/* ---------- naive references: O(n^2), no sorting ---------- */

/* k-th smallest (0-based): the x_i with #{x_j < x_i} <= k < #{x_j <= x_i}
 * (inputs here have no NaN) */
static double naive_kth(const double *x, size_t n, size_t k)
{
    for (size_t i = 0; i < n; i++) {
        size_t less = 0, leq = 0;
        for (size_t j = 0; j < n; j++) {
            less += x[j] < x[i];
            leq += x[j] <= x[i];
        }
        if (less <= k && k < leq) return x[i];
    }
    return NAN;
}

static double naive_quantile(const double *x, size_t n, double q)
{
    long double h = (long double)(n - 1) * q;
    size_t j = (size_t)h;
    long double g = h - (long double)j;
    long double a = naive_kth(x, n, j);
    if (j + 1 >= n) return (double)a;
    long double b = naive_kth(x, n, j + 1);
    return (double)((1.0L - g) * a + g * b);
}

static void check_against_naive(const double *x, size_t n, const struct lb_stats *s)
{
    long double sum = 0, ss = 0;
    for (size_t i = 0; i < n; i++) sum += x[i];
    long double mean = sum / n;
    for (size_t i = 0; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
    double sd = n > 1 ? (double)sqrtl(ss / (n - 1)) : 0.0;
    double scale = fabs((double)mean) + sd + 1.0;

    /* CI ranks: the largest r whose symmetric pair has coverage >= 0.95
     * (coverage falls as r grows), by the Pascal-triangle coverage */
    size_t lo = 0, hi = n - 1;
    for (size_t r = 1; r <= n / 2; r++)
        if (n >= 2 && coverage_pascal(n, r - 1, n - r) >= 0.95) lo = r - 1, hi = n - r;

    CHECK_INT_EQ(s->n, n);
    CHECK_NEAR(s->mean, (double)mean, 1e-12 * scale);
    CHECK_NEAR(s->stddev, sd, 1e-9 * scale);
    CHECK(s->min == naive_kth(x, n, 0));
    CHECK(s->max == naive_kth(x, n, n - 1));
    CHECK_NEAR(s->median, naive_quantile(x, n, 0.5), 1e-12 * scale);
    CHECK_NEAR(s->p10, naive_quantile(x, n, 0.1), 1e-12 * scale);
    CHECK_NEAR(s->p90, naive_quantile(x, n, 0.9), 1e-12 * scale);
    CHECK(s->ci_lo == naive_kth(x, n, lo));
    CHECK(s->ci_hi == naive_kth(x, n, hi));
}

static void test_random_vs_naive(void)
{
    unsigned long long st = lb_test_seed();
    enum { MAXN = 400 };
    static double x[MAXN], copy[MAXN];
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 1 + (size_t)(lb_test_rand_u64(&st) % MAXN);
        int kind = (int)(lb_test_rand_u64(&st) % 4);
        for (size_t i = 0; i < n; i++) {
            double v = lb_test_rand_normal(&st);
            switch (kind) {
            case 0: x[i] = 1000.0 * (1.0 + 0.05 * v); break;      /* timings */
            case 1: x[i] = floor(4.0 * lb_test_rand_uniform(&st)); break; /* ties */
            case 2: x[i] = exp(3.0 * v); break;                   /* heavy tail */
            default: x[i] = 1e6 * v; break;                       /* signed */
            }
        }
        memcpy(copy, x, n * sizeof x[0]);
        struct lb_stats s;
        lb_stats_compute(x, n, &s);
        CHECK(memcmp(copy, x, n * sizeof x[0]) == 0);
        int before = lb_test_failures;
        check_against_naive(x, n, &s);
        if (lb_test_failures != before) {
            fprintf(stderr, "  trial %d: n=%zu kind=%d\n", trial, n, kind);
            break;
        }
    }
}

static void test_no_alloc_fallback(void)
{
#ifdef LB_MALLOC_HOOK
    /* With malloc failing, lb_stats_compute must select the same order
     * statistics from the unsorted input: results are bit-identical. */
    unsigned long long st = lb_test_seed() ^ 0x5eedull;
    static double x[257];
    for (int trial = 0; trial < 40; trial++) {
        size_t n = 1 + (size_t)(lb_test_rand_u64(&st) % 257);
        for (size_t i = 0; i < n; i++) {
            double v = lb_test_rand_normal(&st);
            x[i] = trial % 3 == 0 ? floor(3 * v) : 100.0 + v;
        }
        if (trial % 5 == 1) x[0] = -0.0;
        if (trial % 5 == 2 && n > 1) x[n / 2] = INFINITY;
        if (trial % 5 == 3) x[n - 1] = -INFINITY;
        struct lb_stats a, b;
        lb_stats_compute(x, n, &a);
        failed_mallocs = 0;
        fail_malloc = 1;
        lb_stats_compute(x, n, &b);
        fail_malloc = 0;
        CHECK(failed_mallocs > 0);
        CHECK_MSG(stats_identical(&a, &b), "trial %d n=%zu: fallback differs", trial, n);
    }
    /* with NaN present the NaN-ness must also agree */
    double y[5] = {2, NAN, 1, 3, NAN};
    struct lb_stats a, b;
    lb_stats_compute(y, 5, &a);
    fail_malloc = 1;
    lb_stats_compute(y, 5, &b);
    fail_malloc = 0;
    CHECK(a.min == b.min && a.median == b.median && isnan(a.max) && isnan(b.max));
    CHECK(a.ci_lo == b.ci_lo && isnan(a.ci_hi) && isnan(b.ci_hi));
#else
    CHECK(1); /* malloc cannot be hooked in this build */
    printf("note: allocation-failure path not exercised (no malloc hook)\n");
#endif
}

int main(void)
{
    LB_RUN(test_four);
    LB_RUN(test_single);
    LB_RUN(test_empty);
    LB_RUN(test_outlier);
    LB_RUN(test_quantile_sorted);
    LB_RUN(test_ci_ranks);
    LB_RUN(test_ci_in_stats);
    LB_RUN(test_precision);
    LB_RUN(test_nan_order);
    LB_RUN(test_random_vs_naive);
    LB_RUN(test_no_alloc_fallback);
    return lb_test_finish();
}
