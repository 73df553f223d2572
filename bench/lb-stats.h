/* lb-stats.h: sample statistics and the stop rule of the measurement core.
 *
 * Samples are per-call times in nanoseconds (any positive unit works).
 * Quantiles use linear interpolation between order statistics (Hyndman &
 * Fan type 7, the default of R and numpy). The 95% confidence interval of
 * the median is distribution-free: order statistics x(j), x(k) chosen from
 * the Binomial(n, 1/2) distribution so that P(x(j) <= median <= x(k)) >=
 * conf; it needs n >= 6 for 95% and is reported as [min, max] below that.
 * With 1-based ranks r < s and B ~ Binomial(n, 1/2),
 *     P(x(r) <= median < x(s)) = sum_{i=r}^{s-1} C(n,i) 2^-n;
 * s = n+1-r and r is the largest with coverage >= conf. For 95%:
 * n = 6 -> (1,6), 10 -> (2,9), 20 -> (6,15), 100 -> (40,61).
 *
 * Order used throughout: ascending, -0.0 == +0.0, NaN after all numbers
 * (a NaN sample makes mean/stddev NaN and becomes the max).
 */
#ifndef LB_STATS_H
#define LB_STATS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct lb_stats {
    size_t n;
    double min, max, mean, median;
    double stddev;       /* sample standard deviation (n-1), 0 when n < 2 */
    double cv;           /* stddev / mean, 0 when mean == 0 */
    double p10, p90;     /* type-7 quantiles */
    double ci_lo, ci_hi; /* 95% CI of the median (order statistics) */
    double ci_rel;       /* (ci_hi - ci_lo) / 2 / |median|: relative
                          * half-width, 0 when median == 0 */
};

/* x is not modified. n == 0 (or x == NULL) gives all zeros. Works on a
 * sorted private copy; if that cannot be allocated, the same order
 * statistics are selected from x in place without allocating (slower,
 * 65 O(n) passes per statistic), so the result never depends on malloc. */
void lb_stats_compute(const double *x, size_t n, struct lb_stats *out);
/* sorted ascending, n >= 1, q in [0,1] (clamped; NaN q, n == 0 or
 * sorted == NULL give NaN) */
double lb_quantile_sorted(const double *sorted, size_t n, double q);
/* 0-based indices lo <= hi of the order statistics bounding the median
 * with coverage >= conf (e.g. 0.95); lo = 0, hi = n-1 when n is too small
 * (and when conf >= 1 or NaN); conf <= 0 gives the narrowest pair. n == 0
 * gives 0, 0. Exact binomial sums evaluated in log space, O(sqrt n) time,
 * accurate up to n = 2^53 (far beyond any array that fits in memory). */
void lb_median_ci_ranks(size_t n, double conf, size_t *lo, size_t *hi);

/* When to stop taking samples (STYLE.md #8). lb_stop_check(r, samples, n,
 * elapsed_s) applies these rules in order, the first that matches wins:
 *  1. elapsed_s >= budget_s and n >= 3                -> BUDGET
 *     (budget is a hard cap, even before min_samples or min_time_s; only a
 *     floor of 3 samples survives it, so a slow case still has a median);
 *  2. n >= max_samples                                 -> MAX_SAMPLES;
 *  3. n >= max(min_samples, 1) and elapsed_s >= min_time_s and the
 *     relative half-width of the median's 95% CI (ci_rel of the n samples,
 *     see lb_stats) <= target_ci_rel                   -> CONVERGED;
 *  4. otherwise                                        -> CONTINUE.
 * So it never converges before min_samples AND min_time_s. The CI costs a
 * copy and sort of the n samples per call (computed only when rule 3's
 * sample and time conditions hold). */
struct lb_stop_rule {
    size_t min_samples;   /* default 10 */
    size_t max_samples;   /* default 1000 */
    double min_time_s;    /* default 0.05 */
    double target_ci_rel; /* default 0.01 (1%) */
    double budget_s;      /* default 2.0 per case */
};

enum lb_stop_reason {
    LB_STOP_CONTINUE = 0,
    LB_STOP_CONVERGED,
    LB_STOP_BUDGET,
    LB_STOP_MAX_SAMPLES,
};

void lb_stop_rule_default(struct lb_stop_rule *r);
enum lb_stop_reason lb_stop_check(const struct lb_stop_rule *r,
                                  const double *samples, size_t n,
                                  double elapsed_s);
const char *lb_stop_reason_name(enum lb_stop_reason r);

#ifdef __cplusplus
}
#endif
#endif
