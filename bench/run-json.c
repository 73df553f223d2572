/* run-json.c: the report document of one run (schema:
 * reports/schema/report.schema.json, version LB_REPORT_SCHEMA_VERSION).
 * Self-describing (STYLE.md #10): tool and build identity, argv, the
 * machine and its environment, the run's configuration, and per result
 * its parameters, raw samples, statistics and derived metrics with units.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../reports/lb-report.h"
#include "build-info.h"
#include "lb-run.h"

static cJSON *sweep_json(const struct lb_sweep *s)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < s->n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(s->v[i]));
    return a;
}

static void add_num_or_null(cJSON *o, const char *k, double v)
{
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

static cJSON *result_json(const struct lb_result *r, size_t run_index)
{
    static const char *const status[] = {"ok", "skipped", "failed"};
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "suite", r->suite);
    cJSON_AddStringToObject(o, "bench", r->bench);
    cJSON *p = cJSON_AddObjectToObject(o, "params");
    for (int i = 0; i < r->params.n_params; i++) {
        const struct lb_param *pp = &r->params.params[i];
        if (isnan(pp->num)) cJSON_AddStringToObject(p, pp->name, pp->text);
        else cJSON_AddNumberToObject(p, pp->name, pp->num);
    }
    cJSON_AddStringToObject(o, "status", status[r->status]);
    cJSON_AddStringToObject(o, "reason", r->reason);
    cJSON_AddNumberToObject(o, "run_index", (double)run_index);
    if (r->path[0]) cJSON_AddStringToObject(o, "path", r->path);
    if (r->n_samples > 0) {
        cJSON *samples = cJSON_AddArrayToObject(o, "samples_ns");
        for (size_t i = 0; i < r->n_samples; i++)
            cJSON_AddItemToArray(samples, cJSON_CreateNumber(r->samples_ns[i]));
        if (r->probe_gbs) {
            cJSON *pg = cJSON_AddArrayToObject(o, "probe_gbs");
            for (size_t i = 0; i < r->n_samples; i++)
                cJSON_AddItemToArray(pg, cJSON_CreateNumber(r->probe_gbs[i]));
        }
        cJSON_AddNumberToObject(o, "calls_per_sample", (double)r->calls_per_sample);
        cJSON *s = cJSON_AddObjectToObject(o, "stats");
        cJSON_AddNumberToObject(s, "n", (double)r->stats.n);
        add_num_or_null(s, "min_ns", r->stats.min);
        add_num_or_null(s, "max_ns", r->stats.max);
        add_num_or_null(s, "mean_ns", r->stats.mean);
        add_num_or_null(s, "median_ns", r->stats.median);
        add_num_or_null(s, "stddev_ns", r->stats.stddev);
        add_num_or_null(s, "cv", r->stats.cv);
        add_num_or_null(s, "p10_ns", r->stats.p10);
        add_num_or_null(s, "p90_ns", r->stats.p90);
        add_num_or_null(s, "ci95_lo_ns", r->stats.ci_lo);
        add_num_or_null(s, "ci95_hi_ns", r->stats.ci_hi);
        add_num_or_null(s, "ci_rel", r->stats.ci_rel);
        cJSON_AddStringToObject(o, "stop_reason", lb_stop_reason_name(r->stop));
        cJSON_AddNumberToObject(o, "elapsed_s", r->elapsed_s);
        cJSON_AddNumberToObject(o, "warmup_s", r->warmup_s);
    }
    cJSON *w = cJSON_AddObjectToObject(o, "work");
    cJSON_AddNumberToObject(w, "bytes_per_call", r->bytes_per_call);
    cJSON_AddNumberToObject(w, "ops_per_call", r->ops_per_call);
    cJSON_AddStringToObject(w, "ops_unit", r->ops_unit ? r->ops_unit : "");
    cJSON *m = cJSON_AddArrayToObject(o, "metrics");
    for (int i = 0; i < r->n_metrics; i++) {
        cJSON *mm = cJSON_CreateObject();
        cJSON_AddStringToObject(mm, "name", r->metrics[i].name);
        add_num_or_null(mm, "value", r->metrics[i].value);
        cJSON_AddStringToObject(mm, "unit", r->metrics[i].unit);
        cJSON_AddItemToArray(m, mm);
    }
    if (r->peak_rss_bytes >= 0) cJSON_AddNumberToObject(o, "peak_rss_bytes", (double)r->peak_rss_bytes);
    else cJSON_AddNullToObject(o, "peak_rss_bytes");
    /* room for hardware counters (PAPI, CUPTI, rocprof) per result */
    cJSON_AddObjectToObject(o, "counters");
    return o;
}

static void add_warnings(cJSON *arr, const struct lb_run_record *rec)
{
    const struct lb_env *e = &rec->hw->env;
    char buf[256];
    if (strcmp(LB_BUILD_TYPE, "Release") != 0) {
        snprintf(buf, sizeof buf, "build type is %s, not Release: kernels may be slow", LB_BUILD_TYPE);
        cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
    }
    if (LB_GIT_DIRTY)
        cJSON_AddItemToArray(arr, cJSON_CreateString("built from a work tree with uncommitted changes"));
    if (strcmp(e->governor, "performance") != 0) {
        snprintf(buf, sizeof buf, "CPU frequency governor is '%s', not 'performance': clocks may vary",
                 e->governor);
        cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
    }
    if (strcmp(e->boost, "on") == 0)
        cJSON_AddItemToArray(arr, cJSON_CreateString("CPU boost is on: results depend on thermal headroom"));
    if (strcmp(e->virtualization, "none") != 0) {
        snprintf(buf, sizeof buf, "running under virtualization (%s): other tenants may share the memory bus",
                 e->virtualization);
        cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
    }
    if (rec->timer_resolution_s > 1e-6) {
        snprintf(buf, sizeof buf, "coarse timer: resolution %.0f ns", rec->timer_resolution_s * 1e9);
        cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
    }
    if (rec->cfg->pin == LB_PIN_NONE)
        cJSON_AddItemToArray(arr, cJSON_CreateString("threads are not pinned (--pin none)"));
}

cJSON *lb_run_to_json(const struct lb_run_record *rec)
{
    const struct lb_run_config *cfg = rec->cfg;
    cJSON *doc = cJSON_CreateObject();
    if (!doc) return NULL;
    cJSON_AddNumberToObject(doc, "schema_version", LB_REPORT_SCHEMA_VERSION);

    cJSON *tool = cJSON_AddObjectToObject(doc, "tool");
    cJSON_AddStringToObject(tool, "name", "llmbench");
    cJSON_AddStringToObject(tool, "version", LB_VERSION);
    cJSON_AddStringToObject(tool, "git_commit", LB_GIT_COMMIT);
    cJSON_AddBoolToObject(tool, "git_dirty", LB_GIT_DIRTY);

    cJSON *argv = cJSON_AddArrayToObject(doc, "argv");
    for (int i = 0; i < cfg->argc; i++) cJSON_AddItemToArray(argv, cJSON_CreateString(cfg->argv[i]));

    cJSON *build = cJSON_AddObjectToObject(doc, "build");
    cJSON_AddStringToObject(build, "compiler", LB_C_COMPILER);
    cJSON_AddStringToObject(build, "flags", LB_C_FLAGS);
    cJSON_AddStringToObject(build, "build_type", LB_BUILD_TYPE);
    cJSON_AddBoolToObject(build, "native", LLMBENCH_NATIVE);
    cJSON_AddBoolToObject(build, "papi", LLMBENCH_HAVE_PAPI);

    cJSON_AddStringToObject(doc, "timestamp", rec->started_at);
    cJSON_AddNumberToObject(doc, "duration_s", rec->duration_s);

    /* the environment that moves results is top-level, beside hw */
    cJSON *hw = lb_hw_to_json(rec->hw);
    cJSON *env = cJSON_DetachItemFromObjectCaseSensitive(hw, "environment");
    cJSON_AddItemToObject(doc, "hw", hw);
    cJSON_AddItemToObject(doc, "environment", env ? env : cJSON_CreateObject());

    cJSON *c = cJSON_AddObjectToObject(doc, "config");
    cJSON_AddStringToObject(c, "suite", cfg->suite->name);
    cJSON_AddItemToObject(c, "threads", sweep_json(&cfg->axes.threads));
    cJSON_AddItemToObject(c, "size_bytes", sweep_json(&cfg->axes.size_bytes));
    for (int i = 0; i < cfg->axes.n_text; i++) {
        cJSON *a = cJSON_AddArrayToObject(c, cfg->axes.text[i].name);
        for (size_t k = 0; k < cfg->axes.text[i].values.n; k++)
            cJSON_AddItemToArray(a, cJSON_CreateString(cfg->axes.text[i].values.v[k]));
    }
    cJSON_AddStringToObject(c, "pin", lb_pin_name(cfg->pin));
    if (cfg->cpus) cJSON_AddStringToObject(c, "cpus", cfg->cpus);
    else cJSON_AddNullToObject(c, "cpus");
    if (cfg->numa_node >= 0) cJSON_AddNumberToObject(c, "numa_node", cfg->numa_node);
    else cJSON_AddNullToObject(c, "numa_node");
    cJSON_AddStringToObject(c, "cache", cfg->cache == LB_CACHE_COLD ? "cold" : "hot");
    cJSON_AddStringToObject(c, "isa", lb_isa_name(cfg->isa));
    cJSON_AddNumberToObject(c, "seed", (double)cfg->seed);
    cJSON_AddNumberToObject(c, "budget_s", cfg->budget_s);
    cJSON_AddNumberToObject(c, "case_budget_s",
                            cfg->case_budget_s > 0 ? cfg->case_budget_s : cfg->suite->case_budget_s);
    cJSON *stop = cJSON_AddObjectToObject(c, "stop_rule");
    cJSON_AddNumberToObject(stop, "min_samples", (double)cfg->measure.stop.min_samples);
    cJSON_AddNumberToObject(stop, "max_samples", (double)cfg->measure.stop.max_samples);
    cJSON_AddNumberToObject(stop, "min_time_s", cfg->measure.stop.min_time_s);
    cJSON_AddNumberToObject(stop, "target_ci_rel", cfg->measure.stop.target_ci_rel);
    cJSON_AddNumberToObject(c, "warmup_s", cfg->measure.warmup_s);
    cJSON_AddNumberToObject(c, "min_sample_s", cfg->measure.min_sample_s);
    cJSON_AddNumberToObject(c, "timer_resolution_ns", rec->timer_resolution_s * 1e9);

    if (rec->ceilings) cJSON_AddItemToObject(doc, "ceilings", lb_ceilings_to_json(rec->ceilings));
    else cJSON_AddNullToObject(doc, "ceilings");

    cJSON *results = cJSON_AddArrayToObject(doc, "results");
    for (size_t i = 0; i < rec->n_results; i++)
        cJSON_AddItemToArray(results, result_json(&rec->results[i], i));

    add_warnings(cJSON_AddArrayToObject(doc, "warnings"), rec);
    return doc;
}
