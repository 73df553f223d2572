/* lb-suite.h: suites (named lists of benchmarks with default sweeps) and
 * the measured ceilings later suites are quoted against.
 *
 * How to add a suite: write bench/suite-NAME.c with its benchmarks and a
 * `const struct lb_suite lb_suite_NAME`, declare it below, and add it to
 * the table in bench/suites.c. `llmbench suites` lists the table.
 */
#ifndef LB_SUITE_H
#define LB_SUITE_H

#include <cjson/cJSON.h>

#include "lb-harness.h"
#include "lb-params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Text axes (formats, shapes, implementations) by name; a benchmark
 * reads the ones its `axes` string lists. */
/* 16: more than every axis name in use (quant, shape, impl, model, ctx,
 * kv_type, heads, dist, ntok, split) so defaults + flags cannot overflow */
#define LB_MAX_TEXT_AXES 16
struct lb_text_axis {
    char name[32];               /* "quant", "shape", "impl" */
    struct lb_text_list values;
};

struct lb_suite_axes {
    struct lb_sweep threads;
    struct lb_sweep size_bytes;
    int n_text;
    struct lb_text_axis text[LB_MAX_TEXT_AXES];
};

/* Sets (replacing) the values of a text axis. */
void lb_axes_set_text(struct lb_suite_axes *a, const char *name,
                      const struct lb_text_list *values);
/* Sets a text axis from a constant comma list (suite defaults). */
void lb_axes_set_csv(struct lb_suite_axes *a, const char *name, const char *csv);
/* Default thread sweep: 1, 2, 4, ... below the core count, then all cores. */
void lb_axes_default_threads(const struct lb_hw *hw, struct lb_sweep *threads);
/* Values of a text axis, or NULL when the axes have none of that name. */
const struct lb_text_list *lb_axes_text(const struct lb_suite_axes *a,
                                        const char *name);

struct lb_suite {
    const char *name;
    const char *description;
    const struct lb_bench *const *benches;
    size_t n_benches;
    /* default sweeps for this machine (used where the CLI gave none) */
    void (*default_axes)(const struct lb_hw *hw, struct lb_suite_axes *axes);
    /* default per-case stop-rule budget, seconds */
    double case_budget_s;
    /* whether its results are quoted against ceilings (so the run loads
     * or measures them first) */
    bool needs_ceilings;
    /* Optional: checks the axes values (formats, shapes, model names)
     * before anything is measured; LB_EINVAL makes `llmbench run` exit 2
     * with err's message naming the bad value and what is accepted. */
    enum lb_status (*check_axes)(const struct lb_hw *hw,
                                 const struct lb_suite_axes *axes,
                                 struct lb_error *err);
    /* Optional: rewrites a planned case's parameters into the case that
     * will really run (decode: a GGUF file ignores --quant, so its quant
     * becomes the file's own type); the planner then drops cases equal to
     * an earlier one, so no case is measured twice under two names. */
    void (*normalize_case)(struct lb_case *params);
};

extern const struct lb_suite lb_suite_default;
extern const struct lb_suite lb_suite_ceilings;
extern const struct lb_suite lb_suite_pool;
extern const struct lb_suite lb_suite_gemv;
extern const struct lb_suite lb_suite_attention;
extern const struct lb_suite lb_suite_moe;
extern const struct lb_suite lb_suite_decode;

/* NULL-terminated table of all suites, in the order `suites` lists them */
extern const struct lb_suite *const lb_suites[];
const struct lb_suite *lb_suite_find(const char *name);

/* Benchmarks shared between suites */
extern const struct lb_bench lb_bench_read, lb_bench_read_plain,
    lb_bench_copy, lb_bench_triad, lb_bench_fma, lb_bench_dot8,
    lb_bench_pool_latency;

/* Ceilings per thread count, measured by the ceilings benchmarks. */
#define LB_CEIL_MAX_THREADS 64
struct lb_ceiling_row {
    int threads;
    double read_gbs, copy_gbs, triad_gbs; /* 0 = not measured */
    double fma_gflops, dot8_gops;
};
struct lb_ceilings {
    int n;
    struct lb_ceiling_row rows[LB_CEIL_MAX_THREADS];
    char source[16];       /* "measured" (this run) or "cache" */
    char measured_at[32];  /* ISO 8601 UTC */
    char cache_path[512];  /* where they were saved / loaded */
};

/* Folds successful ceilings results into c (best of read variants). */
void lb_ceilings_from_results(struct lb_ceilings *c, const struct lb_result *r,
                              size_t n);
/* The row for `threads`, or NULL. */
const struct lb_ceiling_row *lb_ceilings_row(const struct lb_ceilings *c,
                                             int threads);
/* Adds "pct_of_ceiling" to each result whose benchmark names a ceiling. */
void lb_ceilings_apply(const struct lb_ceilings *c,
                       const struct lb_bench *const *benches,
                       struct lb_result *r, size_t n);
cJSON *lb_ceilings_to_json(const struct lb_ceilings *c);

/* Measures the read, fma and dot8 ceilings for each thread count (one
 * pool per count in pools[threads]) at a size far above the LLC. */
void lb_ceilings_measure(const struct lb_hw *hw, struct lb_pool *const *pools,
                         const struct lb_sweep *threads, enum lb_isa isa,
                         const struct lb_measure_config *mc, bool quiet,
                         struct lb_ceilings *out);

/* Cache per host + build: $XDG_CACHE_HOME/llmbench (or ~/.cache/llmbench,
 * or $LLMBENCH_CACHE_DIR when set). Load returns LB_EIO when absent. */
enum lb_status lb_ceilings_cache_path(const struct lb_hw *hw, char *buf,
                                      size_t len, struct lb_error *err);
enum lb_status lb_ceilings_load(const struct lb_hw *hw, struct lb_ceilings *c,
                                struct lb_error *err);
enum lb_status lb_ceilings_save(const struct lb_hw *hw, struct lb_ceilings *c,
                                struct lb_error *err);

#ifdef __cplusplus
}
#endif
#endif
