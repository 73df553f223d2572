/* lb-harness.h: how one benchmark case is declared, measured and recorded.
 *
 * A benchmark (STYLE.md #7) declares its parameter axes, sets up a case
 * from one point of the sweep, runs one call of the measured operation,
 * validates after timing, and says how many bytes and operations one call
 * does. The harness alone turns times into GB/s, GFLOP/s and % of ceiling,
 * so every efficiency figure is computed the same way.
 *
 * How to add a benchmark: write a `const struct lb_bench` in a suite file
 * (bench/suite-*.c), list it in that suite's table, and declare the axes it
 * reads with lb_case_get_*; the registry in bench/suites.c lists suites.
 */
#ifndef LB_HARNESS_H
#define LB_HARNESS_H

#include <stdint.h>

#include "../hw/lb-hw.h"
#include "../hw/lb-pool.h"
#include "../kernels/lb-base.h"
#include "../kernels/lb-isa.h"
#include "lb-params.h"
#include "lb-stats.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LB_MAX_PARAMS 16
#define LB_MAX_METRICS 16

enum lb_cache_mode {
    LB_CACHE_HOT = 0, /* same buffers every call: cache-resident when they fit */
    LB_CACHE_COLD,    /* rotate among copies whose total exceeds the LLC */
};

/* One parameter of a case: name and value as text (what the report
 * shows), and as a number when it is one. */
struct lb_param {
    char name[32];
    char text[LB_TEXT_MAX]; /* 255 bytes: a model file path */
    double num;   /* NaN when text is not numeric */
};

struct lb_case {
    int n_params;
    struct lb_param params[LB_MAX_PARAMS];
};

const struct lb_param *lb_case_find(const struct lb_case *c, const char *name);
/* value of a numeric parameter, or dflt when absent */
double lb_case_num(const struct lb_case *c, const char *name, double dflt);
const char *lb_case_text(const struct lb_case *c, const char *name,
                         const char *dflt);
void lb_case_set(struct lb_case *c, const char *name, const char *text);

struct lb_read_probe;

/* What a benchmark's setup gets. */
struct lb_bench_env {
    const struct lb_hw *hw;
    struct lb_pool *pool;       /* already created for this case's threads */
    enum lb_isa isa;            /* highest level the run allows */
    enum lb_cache_mode cache;
    const struct lb_case *params;
    /* Optional (run --paired-ceiling): a read-ceiling probe the harness
     * interleaves with the samples of a case quoted against "read". */
    struct lb_read_probe *probe;
};

struct lb_result;

struct lb_bench {
    const char *name;           /* "read", "pool_latency" */
    const char *description;
    /* Parameter axes this benchmark reads, comma separated, from
     * "threads", "size_bytes" (bytes per buffer); others are ignored so that a
     * sweep does not multiply cases that would not differ. */
    const char *axes;
    /* Which measured ceiling its efficiency is quoted against: "read"
     * (bandwidth metric vs read GB/s), "fma" (GFLOP/s), "dot8" (GOP/s),
     * or NULL for none. */
    const char *ceiling;
    /* Allocate and initialise a case. Return LB_EUNSUPPORTED to skip the
     * case (err->msg says why), any other error to record a failure. */
    enum lb_status (*setup)(const struct lb_bench_env *env, void **state,
                            struct lb_error *err);
    /* One call of the measured operation. `iter` counts calls from 0; a
     * cold-cache benchmark uses it to pick the buffer copy. */
    void (*run)(void *state, struct lb_pool *pool, uint64_t iter);
    /* Optional: compare the last output with the reference; runs after
     * timing, its failure marks the result failed (STYLE.md #9). */
    enum lb_status (*validate)(void *state, struct lb_pool *pool,
                               struct lb_error *err);
    void (*teardown)(void *state, struct lb_pool *pool);
    /* Work per call. bytes: memory traffic the op must do (NULL: none);
     * ops: arithmetic operations (NULL: none), counted in ops_unit
     * ("FLOP" or "OP" for integer multiply-adds counted as 2). */
    double (*bytes)(const void *state);
    double (*ops)(const void *state);
    const char *ops_unit;
    /* Optional: the unit of this case's ops when it depends on the case
     * (gemv: "FLOP" for float weights, "OP" for integer dots); overrides
     * ops_unit. Must return a static string. */
    const char *(*ops_unit_of)(const void *state);
    /* Optional: which code path ran ("avx512", "avx512_vnni"). */
    const char *(*path)(const void *state);
    /* Optional: adds benchmark-specific metrics (with units) to r after
     * the harness derived its own, e.g. MoE load balance. */
    void (*metrics)(const void *state, struct lb_result *r);
};

struct lb_metric {
    char name[32];              /* "bandwidth", "throughput", "pct_of_ceiling" */
    double value;
    char unit[16];              /* "GB/s", "GFLOP/s", "%", "ns" */
};

enum lb_result_status { LB_RESULT_OK = 0, LB_RESULT_SKIPPED, LB_RESULT_FAILED };

struct lb_result {
    char suite[32];
    char bench[48];
    struct lb_case params;
    enum lb_result_status status;
    char reason[512];           /* why skipped / failed */
    char path[32];              /* code path that ran */
    double *samples_ns;         /* per-call times, owned, n_samples long */
    /* With a read probe: the read GB/s of the probe that preceded each
     * sample (owned, n_samples long), else NULL. */
    double *probe_gbs;
    size_t n_samples;
    uint64_t calls_per_sample;  /* calls timed together for one sample */
    struct lb_stats stats;      /* of samples_ns */
    enum lb_stop_reason stop;
    double elapsed_s;           /* measuring time, warm-up excluded */
    double warmup_s;
    double bytes_per_call, ops_per_call;
    const char *ops_unit;
    int n_metrics;
    struct lb_metric metrics[LB_MAX_METRICS];
    long long peak_rss_bytes;   /* process high-water mark after the case */
};

void lb_result_add_metric(struct lb_result *r, const char *name,
                          double value, const char *unit);
const struct lb_metric *lb_result_metric(const struct lb_result *r,
                                         const char *name);
void lb_result_clear(struct lb_result *r);

struct lb_measure_config {
    struct lb_stop_rule stop;
    /* With a read probe: a probe runs before the first sample and then
     * before each sample that starts this long after the previous probe. */
    double probe_interval_s;
    double warmup_s;            /* time spent calling before sampling */
    double min_sample_s;        /* calls are batched until one sample takes this long */
};

void lb_measure_config_default(struct lb_measure_config *c);

/* Seconds on CLOCK_MONOTONIC. */
double lb_now_s(void);
/* Resolution of the timer as observed (smallest non-zero step), seconds. */
double lb_timer_resolution_s(void);

/* Sets up, warms up, samples until the stop rule holds, validates and
 * tears down one case; fills r (its suite/bench/params must be set by the
 * caller). Never fails the sweep: problems land in r->status/reason. */
void lb_measure_case(const struct lb_bench *b, const struct lb_bench_env *env,
                     const struct lb_measure_config *cfg, struct lb_result *r);

/* The read-ceiling probe: one streaming read (the best ISA read kernel
 * of the ceilings suite) over a buffer far above the LLC, the size the
 * ceilings are measured at, on whatever pool it is given. It exists
 * because a shared machine's bandwidth can move by tens of % for seconds
 * at a time (docs/measurement.md): a sample quoted against a probe taken
 * a moment before it compares like with like, where a ceiling from the
 * start of the run may come from another phase. NULL on failure (err). */
struct lb_read_probe *lb_read_probe_new(const struct lb_hw *hw, struct lb_pool *pool,
                                        enum lb_isa isa, struct lb_error *err);
/* One timed read of the whole buffer on pool (any pool of at most
 * LB_CEIL_MAX_THREADS workers), GB/s. */
double lb_read_probe_gbs(struct lb_read_probe *p, struct lb_pool *pool);
void lb_read_probe_free(struct lb_read_probe *p, struct lb_pool *pool);

/* Peak resident set size of this process so far (VmHWM), bytes; -1 if
 * unknown. */
long long lb_peak_rss_bytes(void);

#ifdef __cplusplus
}
#endif
#endif
