/* lb-run.h: one `llmbench run`: plan the cases of a suite, measure them in
 * a seeded shuffled order, quote them against ceilings, write the report.
 */
#ifndef LB_RUN_H
#define LB_RUN_H

#include "lb-suite.h"

#ifdef __cplusplus
extern "C" {
#endif

struct lb_run_config {
    const struct lb_suite *suite;
    struct lb_suite_axes axes;   /* filled from the CLI or the suite's defaults */
    struct lb_text_list benches; /* --bench: benchmarks to run; n == 0: all */
    bool threads_given, size_given;
    enum lb_pin pin;
    const char *cpus;            /* NULL or explicit cpu list */
    int numa_node;               /* -1 = none */
    enum lb_cache_mode cache;
    enum lb_isa isa;             /* cap on code paths */
    double budget_s;             /* whole run; 0 = no total budget */
    double case_budget_s;        /* per case; 0 = the suite's default */
    struct lb_measure_config measure;
    unsigned long long seed;
    bool reuse_ceilings;         /* take ceilings from the per-host cache
                                    instead of measuring them in this run */
    bool paired_ceiling;         /* interleave read probes with the samples of
                                    cases quoted against the read ceiling */
    bool quiet;                  /* no per-case progress lines */
    const char *output_path;
    int argc;
    char **argv;
};

/* Plans and measures the run, prints progress and the final table on
 * stdout, and writes the report. Bad combinations of options fail with
 * LB_EINVAL before anything is measured; a failing case never does. */
enum lb_status lb_run(struct lb_run_config *cfg, const struct lb_hw *hw,
                      struct lb_error *err);

/* Builds the report document (bench/run-json.c). */
struct lb_run_record {
    const struct lb_run_config *cfg;
    const struct lb_hw *hw;
    const struct lb_result *results; /* in run order: run_index = position */
    size_t n_results;
    const struct lb_ceilings *ceilings; /* NULL when none */
    double timer_resolution_s;
    char started_at[32];
    double duration_s;
};
cJSON *lb_run_to_json(const struct lb_run_record *rec);

#ifdef __cplusplus
}
#endif
#endif
