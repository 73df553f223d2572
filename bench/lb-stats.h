/* lb-stats.h: sample statistics and the stop rule of the measurement core.
 *
 * Samples are per-call times in nanoseconds (any positive unit works).
 * Quantiles use linear interpolation between order statistics (Hyndman &
 * Fan type 7, the default of R and numpy). The 95% confidence interval of
 * the median is distribution-free: order statistics x(j), x(k) chosen from
 * the Binomial(n, 1/2) distribution so that P(x(j) <= median <= x(k)) >=
 * conf; it needs n >= 6 for 95% and is reported as [min, max] below that.
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
    double cv;           /* stddev / mean */
    double p10, p90;     /* type-7 quantiles */
    double ci_lo, ci_hi; /* 95% CI of the median (order statistics) */
    double ci_rel;       /* (ci_hi - ci_lo) / 2 / median: relative half-width */
};

/* x is not modified. n == 0 gives all zeros. */
void lb_stats_compute(const double *x, size_t n, struct lb_stats *out);
/* sorted ascending, n >= 1, q in [0,1] */
double lb_quantile_sorted(const double *sorted, size_t n, double q);
/* 0-based indices lo <= hi of the order statistics bounding the median
 * with coverage >= conf (e.g. 0.95); lo = 0, hi = n-1 when n is too small. */
void lb_median_ci_ranks(size_t n, double conf, size_t *lo, size_t *hi);

/* When to stop taking samples (STYLE.md #8). Rules, in order:
 *  - never before min_samples AND min_time_s;
 *  - stop when the relative half-width of the median's 95% CI is at or
 *    below target_ci_rel (CONVERGED);
 *  - stop when elapsed >= budget_s (BUDGET) or n >= max_samples (MAX). */
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
