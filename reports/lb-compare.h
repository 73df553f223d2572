/* lb-compare.h: comparing two llmbench reports, the regression gate of CI
 * (`llmbench compare BASE.json NEW.json`, docs/compare.md).
 *
 * Results are matched by suite + bench + the full params object (a
 * canonical key: keys sorted, values typed, so the order params were
 * written in does not matter). Each matched pair of "ok" results is
 * compared on its raw per-call samples:
 *  - ratio = median(new) / median(base) of the time per call (> 1 is
 *    slower);
 *  - a bootstrap CI of that ratio at level 1 - alpha (percentile method,
 *    fixed seed mixed with the result's key, so output is reproducible);
 *  - a two-sided Mann-Whitney U test with tie correction (exact
 *    permutation distribution for small samples, normal approximation
 *    with continuity correction above LB_MW_EXACT_MAX samples in all).
 * The decision rule, in order (docs/compare.md says why):
 *  1. fewer than min_samples on either side     -> inconclusive;
 *  2. p < alpha, CI above 1, ratio > 1+threshold -> slower (a regression);
 *  3. p < alpha, CI below 1, ratio < 1/(1+threshold) -> faster;
 *  4. the CI lies inside [1/(1+threshold), 1+threshold] -> same;
 *  5. otherwise (too noisy to decide)           -> inconclusive.
 * Only "slower" fails the gate; faster and inconclusive never do. The
 * threshold, not the test, is what guards against the run-level shift of
 * a shared machine: samples of one run are not independent of that run's
 * offset, so any test on them calls a 2% whole-run shift significant.
 *
 * This is reports/ code: it reads cJSON documents only (no kernels, no
 * hardware), so last month's reports compare on any machine.
 */
#ifndef LB_COMPARE_H
#define LB_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "../kernels/lb-base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* version of the --json comparison document */
#define LB_COMPARE_SCHEMA_VERSION 1
/* exact Mann-Whitney distribution up to this many samples in all: the
 * DP costs N * n_a * N^2 / 2 steps, well under a millisecond at 40, and
 * the normal approximation is good to ~0.005 in p from there on */
#define LB_MW_EXACT_MAX 40
/* C(50, 25) ~ 1.3e14 < 2^53: counts stay exact in doubles up to here */
#define LB_MW_EXACT_LIMIT 50

struct lb_compare_opts {
    double threshold;     /* relative: 0.05 = 5%; slower when ratio > 1.05 */
    double alpha;         /* significance level; the CI is at 1 - alpha */
    size_t min_samples;   /* fewer on either side: inconclusive (default 5) */
    unsigned resamples;   /* bootstrap resamples (default 2000) */
    uint64_t seed;        /* bootstrap seed, mixed with each result's key */
    /* --normalize ceiling: each sample is its time times the read GB/s of
     * the probe before it (probe_gbs, `run --paired-ceiling`), i.e. the
     * time it would have taken had the machine streamed at a fixed
     * bandwidth; results without probes are an error (LB_EINVAL). */
    bool normalize_ceiling;
};

enum lb_cmp_class {
    LB_CMP_SAME = 0,
    LB_CMP_FASTER,
    LB_CMP_SLOWER,
    LB_CMP_INCONCLUSIVE,
    LB_CMP_N_CLASSES,
};

enum lb_mw_method {
    LB_MW_AUTO = 0,  /* exact up to LB_MW_EXACT_MAX samples, else normal */
    LB_MW_EXACT,     /* exact permutation distribution (ties by midranks) */
    LB_MW_NORMAL,    /* normal approximation, tie + continuity corrected */
};

/* One side of a comparison: the samples of one result in each of k
 * reports of repeated runs (k = 1: one report). */
struct lb_cmp_side {
    const double *const *runs; /* k arrays of per-call times (ns), > 0 */
    const size_t *n;           /* samples in each run */
    size_t k;                  /* runs, >= 1 */
};

/* One compared pair of sample sets. */
struct lb_cmp_pair {
    enum lb_cmp_class cls;
    bool regression;          /* cls == LB_CMP_SLOWER: fails the gate */
    size_t n_base, n_new;     /* samples on each side, all runs */
    size_t k_base, k_new;     /* runs (reports) on each side */
    double base_median_ns;    /* median of the runs' type-7 medians (one
                               * run: the sample median, as lb_stats) */
    double new_median_ns;
    double ratio;             /* new / base median time: > 1 is slower */
    double ci_lo, ci_hi;      /* bootstrap CI of ratio; NaN if not computed */
    double p_value;           /* two-sided Mann-Whitney; NaN if not computed */
    const char *why;          /* static one-line reason for cls */
};

void lb_compare_opts_default(struct lb_compare_opts *o);
const char *lb_cmp_class_name(enum lb_cmp_class c);

/* Two-sided Mann-Whitney U test of a vs b (any finite values; NaN in the
 * input is LB_EINVAL). *u is U of a (the number of pairs a_i > b_j, ties
 * counting 1/2). na or nb == 0 gives p = 1. LB_MW_EXACT above
 * LB_MW_EXACT_LIMIT samples in all is LB_EINVAL (the subset counts would
 * leave doubles' exact integer range). */
enum lb_status lb_mann_whitney(const double *a, size_t na, const double *b,
                               size_t nb, enum lb_mw_method method,
                               double *p, double *u, struct lb_error *err);

/* Type-7 median of x (n >= 1), on a private sorted copy. NaN on n == 0
 * or allocation failure. */
double lb_cmp_median(const double *x, size_t n);

/* Percentile bootstrap CI of median(new) / median(base) at level conf
 * (0 < conf < 1), resampling each side independently `resamples` times
 * from a generator seeded with seed. All samples must be > 0. */
enum lb_status lb_median_ratio_ci(const double *base, size_t nb,
                                  const double *new_, size_t nn, double conf,
                                  unsigned resamples, uint64_t seed,
                                  double *lo, double *hi,
                                  struct lb_error *err);

/* The same CI over repeated runs: a hierarchical bootstrap (runs drawn
 * with replacement, then each drawn run's samples) of the ratio of the
 * medians of run medians, so run-to-run shifts widen the CI. */
enum lb_status lb_runs_ratio_ci(const struct lb_cmp_side *base,
                                const struct lb_cmp_side *new_, double conf,
                                unsigned resamples, uint64_t seed,
                                double *lo, double *hi, struct lb_error *err);

/* Compares one result's runs under the decision rule above (ratio of the
 * medians of run medians, hierarchical bootstrap CI, Mann-Whitney on the
 * pooled samples), with o->seed as the bootstrap seed. */
enum lb_status lb_compare_runs(const struct lb_cmp_side *base,
                               const struct lb_cmp_side *new_,
                               const struct lb_compare_opts *o,
                               struct lb_cmp_pair *out, struct lb_error *err);

/* Compares two sample sets (per-call times, all > 0 and finite) under the
 * decision rule above, with o->seed as the bootstrap seed: one run a side
 * of lb_compare_runs. */
enum lb_status lb_compare_samples(const double *base, size_t nb,
                                  const double *new_, size_t nn,
                                  const struct lb_compare_opts *o,
                                  struct lb_cmp_pair *out,
                                  struct lb_error *err);

/* Canonical match key of a result: suite, bench and its params sorted by
 * name with typed values. malloc'd; NULL when r lacks suite/bench/params
 * or on allocation failure. */
char *lb_result_key(const cJSON *r);

/* Compares reports (as lb_report_read returns them; checked again here):
 * n_base reports of repeated runs of the base build against n_new of the
 * new one (usually one each). The first report of each side defines its
 * results (order, status, which are on one side only); the others add
 * their runs of the same result. names label the reports in messages and
 * output (paths). *out is the comparison document (docs/compare.md):
 * settings, counts per class, the geometric mean ratio, each compared
 * pair, results not compared (skipped/failed), only in base, only in new,
 * warnings. LB_EINVAL names the result when an "ok" result has missing or
 * bad samples. */
enum lb_status lb_compare_reports(const cJSON *const *base, size_t n_base,
                                  const cJSON *const *new_, size_t n_new,
                                  const char *const *base_names,
                                  const char *const *new_names,
                                  const struct lb_compare_opts *o,
                                  cJSON **out, struct lb_error *err);

/* Number of regressions in a comparison document (0 when malformed). */
int lb_compare_regressions(const cJSON *cmp);

/* Markdown summary of a comparison document for a CI comment: verdict,
 * counts per class, the geometric mean, a table of slower / faster /
 * inconclusive results, the results not compared and those on one side
 * only. *md is malloc'd. */
enum lb_status lb_compare_markdown(const cJSON *cmp, char **md,
                                   struct lb_error *err);

#ifdef __cplusplus
}
#endif
#endif
