/* stats.c: sample statistics and the stop rule of the measurement core
 * (contract in lb-stats.h).
 *
 * lb_stats_compute sorts a private copy of the samples and reads every
 * order statistic from it. When that copy cannot be allocated it does not
 * give up: each order statistic is then found in the caller's array without
 * any allocation (bisection over the ordered bit patterns of the doubles,
 * 65 counting passes per statistic), so the result is the same as with the
 * sorted copy, only slower, and x is still never modified.
 *
 * Ordering: all sorting and selection use one total preorder: numbers
 * ascending, -0.0 equal to +0.0, every NaN after every number and equal to
 * the other NaNs. NaN samples therefore never corrupt the sort; they make
 * mean/stddev NaN and show up as the max (and as upper quantiles).
 */
#include "lb-stats.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The budget only stops a case once it has at least this many samples (or
 * max_samples caps it first), so a slow case still gets a median of 3. */
#define LB_STOP_BUDGET_MIN_SAMPLES 3

/* ------------------------------------------------------------------ */
/* ordering                                                             */

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    if (a < b) return -1;
    if (a > b) return 1;
    /* equal, or at least one NaN: NaN sorts last, NaN == NaN */
    return (isnan(a) != 0) - (isnan(b) != 0);
}

/* Monotone map from the ordering above to uint64: key(a) < key(b) iff a
 * sorts before b, equal keys iff the two compare equal. */
static uint64_t order_key(double d)
{
    uint64_t u;
    if (isnan(d)) return UINT64_MAX;
    if (d == 0.0) d = 0.0; /* -0.0 -> +0.0 */
    memcpy(&u, &d, sizeof u);
    return (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
}

/* k-th smallest (0-based) of x[0..n) without allocating or modifying x:
 * the smallest key K with #{i : key(x_i) <= K} >= k+1 is the key of the
 * answer; found by bisection over [0, UINT64_MAX]. */
static double select_kth_noalloc(const double *x, size_t n, size_t k)
{
    uint64_t lo = 0, hi = UINT64_MAX;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        size_t cnt = 0;
        for (size_t i = 0; i < n; i++) cnt += order_key(x[i]) <= mid;
        if (cnt >= k + 1)
            hi = mid;
        else
            lo = mid + 1;
    }
    for (size_t i = 0; i < n; i++)
        if (order_key(x[i]) == lo) return x[i];
    return NAN; /* unreachable: lo is the key of some x_i */
}

/* Order statistics of a sample: from a sorted copy when there is one,
 * else selected from the unsorted original. */
struct ostat {
    const double *sorted; /* NULL: use x */
    const double *x;
    size_t n;
};

/* -0.0 is reported as +0.0: the two are equal in the order, so which one a
 * sort puts first must not show in the result */
static double ostat_get(const struct ostat *o, size_t k)
{
    double v = o->sorted ? o->sorted[k] : select_kth_noalloc(o->x, o->n, k);
    return v == 0.0 ? 0.0 : v;
}

/* Hyndman & Fan type 7: h = (n-1) q, x[floor h] + frac(h) (x[floor h + 1]
 * - x[floor h]) with 0-based x. q outside [0,1] is clamped; NaN q gives
 * NaN. */
static double ostat_quantile(const struct ostat *o, double q)
{
    if (isnan(q)) return NAN;
    if (q <= 0.0) return ostat_get(o, 0);
    if (q >= 1.0) return ostat_get(o, o->n - 1);
    double h = (double)(o->n - 1) * q;
    double fl = floor(h);
    size_t lo = (size_t)fl;
    double frac = h - fl;
    double a = ostat_get(o, lo);
    if (frac <= 0.0 || lo + 1 >= o->n) return a;
    double b = ostat_get(o, lo + 1);
    if (a == b) return a; /* also keeps inf/inf from becoming NaN */
    return a + frac * (b - a);
}

double lb_quantile_sorted(const double *sorted, size_t n, double q)
{
    if (!sorted || n == 0) return NAN;
    struct ostat o = {sorted, sorted, n};
    return ostat_quantile(&o, q);
}

/* ------------------------------------------------------------------ */
/* confidence interval of the median                                    */

/* Stirling-series error stirlerr(x) = ln x! - ((x+1/2) ln x - x +
 * ln sqrt(2 pi)); only used for x >= 2^18, where two terms reach 1e-24. */
static double stirlerr_large(double x)
{
    return (1.0 / 12.0 - 1.0 / (360.0 * x * x)) / x;
}

/* bd0(x, m) = x ln(x/m) + m - x without cancellation, for |x-m| < 0.1 (x+m)
 * (Loader's series: v = (x-m)/(x+m), bd0 = (x-m) v + 2x sum v^(2j+1)/(2j+1),
 * j >= 1). */
static double bd0_near(double x, double m)
{
    double v = (x - m) / (x + m), s = (x - m) * v, ej = 2.0 * x * v;
    v *= v;
    for (int j = 1; j < 200; j++) {
        ej *= v;
        double s1 = s + ej / (2 * j + 1);
        if (s1 == s) break;
        s = s1;
    }
    return s;
}

/* ln( C(n,k) 2^-n ). For n <= 2^20 from lgamma (absolute error ~1e-9);
 * above, where lgamma(n+1) - lgamma(k+1) - lgamma(n-k+1) would cancel
 * catastrophically (error ~ n ln n * 1e-16), by Loader's saddle-point form
 *   stirlerr(n) - stirlerr(k) - stirlerr(n-k) - bd0(k, n/2)
 *   - bd0(n-k, n/2) + 1/2 ln(n / (2 pi k (n-k))),
 * valid here because |k - n/2| <= 6 sqrt(n) + 1 << 0.1 n. */
static double log_pmf_half(double n, double k)
{
    if (n <= 1048576.0)
        return lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0) - n * log(2.0);
    double m = n / 2.0;
    return stirlerr_large(n) - stirlerr_large(k) - stirlerr_large(n - k) -
           bd0_near(k, m) - bd0_near(n - k, m) +
           0.5 * log(n / (6.283185307179586 * k * (n - k)));
}

/* With B ~ Binomial(n, 1/2) the number of samples below the population
 * median, for 1-based order statistics r < s:
 *     P(x(r) <= median < x(s)) = sum_{i=r}^{s-1} C(n,i) 2^-n.
 * With the symmetric choice s = n+1-r this is 1 - 2 P(B <= r-1), so the
 * narrowest interval with coverage >= conf uses the largest r in
 * [1, floor(n/2)] with P(B <= r-1) <= (1-conf)/2 (r < s holds there).
 * Returned 0-based: lo = r-1, hi = n-r. r = 1 is [min, max]; it is also the
 * answer when even r = 1 falls short (n < 6 for 95%), and for conf >= 1 or
 * NaN. conf <= 0 gives the narrowest pair, r = floor(n/2).
 *
 * The pmf terms are computed in log space (log_pmf_half for the first,
 * then the ratio C(n,k+1)/C(n,k) = (n-k)/(k+1)), so large n neither
 * overflows nor underflows to all zeros. Summation starts 6 sqrt(n) below
 * n/2: by Hoeffding, P(B <= n/2 - t) <= exp(-2t^2/n) = exp(-72) = 5e-32
 * there, 1e-15 of the smallest tail (1-conf)/2 > 5.5e-17 that a double
 * conf < 1 can ask for, so the skipped terms cannot change the answer and
 * the loop is O(sqrt(n)). Accurate (coverage to ~1e-8 relative or
 * better) up to n = 2^53.
 * A relative slack of 1e-12 lets coverage that equals conf exactly (e.g.
 * n = 6, conf = 0.96875) count as reaching it despite rounding. */
void lb_median_ci_ranks(size_t n, double conf, size_t *lo, size_t *hi)
{
    size_t r_best = 1;
    if (n == 0) {
        *lo = *hi = 0;
        return;
    }
    if (n >= 2 && !isnan(conf) && conf < 1.0) {
        size_t r_max = n / 2;
        if (conf <= 0.0) {
            r_best = r_max;
        } else {
            double tail = (1.0 - conf) / 2.0 * (1.0 + 1e-12);
            double dn = (double)n;
            double start = dn / 2.0 - 6.0 * sqrt(dn);
            size_t k = start > 0.0 ? (size_t)start : 0;
            double lp = log_pmf_half(dn, (double)k);
            double cdf = 0.0;
            /* invariant: cdf = P(B <= k-1) (up to the negligible skipped
             * head); r = k+1 is admissible iff P(B <= k) <= tail */
            for (; k + 1 <= r_max; k++) {
                cdf += exp(lp);
                if (cdf > tail) break;
                r_best = k + 1;
                lp += log((dn - (double)k) / ((double)k + 1.0));
            }
        }
    }
    *lo = r_best - 1;
    *hi = n - r_best;
}

/* ------------------------------------------------------------------ */
/* summary statistics                                                   */

/* median and its 95% CI (ci_lo, ci_hi, ci_rel) from order statistics */
static void median_ci(const struct ostat *o, struct lb_stats *s)
{
    size_t lo, hi;
    s->median = ostat_quantile(o, 0.5);
    lb_median_ci_ranks(o->n, 0.95, &lo, &hi);
    s->ci_lo = ostat_get(o, lo);
    s->ci_hi = ostat_get(o, hi);
    s->ci_rel = s->median != 0.0 ? (s->ci_hi - s->ci_lo) / 2.0 / fabs(s->median) : 0.0;
}

/* Sorted private copy of x, or NULL when it cannot be allocated. */
static double *sorted_copy(const double *x, size_t n)
{
    if (n > SIZE_MAX / sizeof(double)) return NULL;
    double *c = malloc(n * sizeof *c);
    if (!c) return NULL;
    memcpy(c, x, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_double);
    return c;
}

void lb_stats_compute(const double *x, size_t n, struct lb_stats *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0 || !x) return;
    out->n = n;

    double *sorted = sorted_copy(x, n);
    struct ostat o = {sorted, x, n};

    /* mean: Neumaier-compensated sum */
    double sum = 0.0, c = 0.0;
    for (size_t i = 0; i < n; i++) {
        double t = sum + x[i];
        if (fabs(sum) >= fabs(x[i]))
            c += (sum - t) + x[i];
        else
            c += (x[i] - t) + sum;
        sum = t;
    }
    out->mean = (sum + c) / (double)n;

    /* stddev: corrected two-pass, sum d^2 - (sum d)^2 / n over d = x - mean
     * (the second term removes the rounding error left in the mean) */
    if (n >= 2) {
        double s1 = 0.0, s2 = 0.0;
        for (size_t i = 0; i < n; i++) {
            double d = x[i] - out->mean;
            s1 += d;
            s2 += d * d;
        }
        double var = (s2 - s1 * s1 / (double)n) / (double)(n - 1);
        out->stddev = var > 0.0 ? sqrt(var) : (isnan(var) ? NAN : 0.0);
    }
    out->cv = out->mean != 0.0 ? out->stddev / out->mean : 0.0;

    out->min = ostat_get(&o, 0);
    out->max = ostat_get(&o, n - 1);
    out->p10 = ostat_quantile(&o, 0.10);
    out->p90 = ostat_quantile(&o, 0.90);
    median_ci(&o, out);

    free(sorted);
}

/* ------------------------------------------------------------------ */
/* stop rule                                                            */

void lb_stop_rule_default(struct lb_stop_rule *r)
{
    r->min_samples = 10;
    r->max_samples = 1000;
    r->min_time_s = 0.05;
    r->target_ci_rel = 0.01;
    r->budget_s = 2.0;
}

enum lb_stop_reason lb_stop_check(const struct lb_stop_rule *r,
                                  const double *samples, size_t n,
                                  double elapsed_s)
{
    if (elapsed_s >= r->budget_s && n >= LB_STOP_BUDGET_MIN_SAMPLES)
        return LB_STOP_BUDGET;
    if (n >= r->max_samples) return LB_STOP_MAX_SAMPLES;
    if (n == 0 || !samples || n < r->min_samples || !(elapsed_s >= r->min_time_s))
        return LB_STOP_CONTINUE;

    /* only the median and its CI are needed: skip mean/stddev */
    struct lb_stats s;
    memset(&s, 0, sizeof s);
    double *sorted = sorted_copy(samples, n);
    struct ostat o = {sorted, samples, n};
    median_ci(&o, &s);
    free(sorted);
    return s.ci_rel <= r->target_ci_rel ? LB_STOP_CONVERGED : LB_STOP_CONTINUE;
}

const char *lb_stop_reason_name(enum lb_stop_reason r)
{
    switch (r) {
    case LB_STOP_CONTINUE: return "continue";
    case LB_STOP_CONVERGED: return "converged";
    case LB_STOP_BUDGET: return "budget";
    case LB_STOP_MAX_SAMPLES: return "max_samples";
    }
    return "unknown";
}
