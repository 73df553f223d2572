/* run.c: plan, shuffle, measure, quote against ceilings, report.
 *
 * Cases are the cartesian product of a suite's benchmarks with the axes
 * each benchmark reads (threads x size_bytes ...). They run in an order
 * shuffled by --seed (Fisher-Yates on splitmix64) so that run order, and
 * whatever drifts with it (thermal state, page cache, other tenants),
 * cannot bias one case against another; the order is in the report.
 * One pinned pool is kept per thread count and reused across cases.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <errno.h>
#include <sys/stat.h>

#include "../reports/lb-render.h"
#include "../reports/lb-report.h"
#include "lb-run.h"

struct planned {
    const struct lb_bench *bench;
    struct lb_case params;
};

static bool same_case(const struct lb_case *a, const struct lb_case *b)
{
    if (a->n_params != b->n_params) return false;
    for (int i = 0; i < a->n_params; i++)
        if (strcmp(a->params[i].name, b->params[i].name) || strcmp(a->params[i].text, b->params[i].text))
            return false;
    return true;
}

static bool uses_axis(const struct lb_bench *b, const char *axis)
{
    const char *a = b->axes ? b->axes : "threads";
    size_t n = strlen(axis);
    while (*a) {
        size_t len = strcspn(a, ",");
        if (len == n && strncmp(a, axis, n) == 0) return true;
        a += len + (a[len] == ',');
    }
    return false;
}

/* One axis of a benchmark's sweep, as the text values its params get. */
struct axis_values {
    const char *name;
    size_t n;
    char (*v)[LB_TEXT_MAX];
};

/* --bench LIST: only these benchmarks of the suite (all when empty). */
static bool bench_selected(const struct lb_run_config *cfg, const char *name)
{
    if (cfg->benches.n == 0) return true;
    for (size_t i = 0; i < cfg->benches.n; i++)
        if (!strcmp(cfg->benches.v[i], name)) return true;
    return false;
}

static enum lb_status plan(const struct lb_run_config *cfg, struct planned **out,
                           size_t *n_out, struct lb_error *err)
{
    const struct lb_suite *s = cfg->suite;
    static char threads_txt[LB_SWEEP_MAX][LB_TEXT_MAX], sizes_txt[LB_SWEEP_MAX][LB_TEXT_MAX];
    for (size_t i = 0; i < cfg->axes.threads.n; i++)
        snprintf(threads_txt[i], sizeof threads_txt[i], "%.0f", cfg->axes.threads.v[i]);
    for (size_t i = 0; i < cfg->axes.size_bytes.n; i++)
        snprintf(sizes_txt[i], sizeof sizes_txt[i], "%.0f", cfg->axes.size_bytes.v[i]);

    /* per benchmark: the axes it reads, with their values */
    struct axis_values ax[LB_MAX_TEXT_AXES + 2];
    size_t cap = 0, n = 0;
    struct planned *p = NULL;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t b = 0; b < s->n_benches; b++) {
            const struct lb_bench *bench = s->benches[b];
            if (!bench_selected(cfg, bench->name)) continue;
            size_t n_ax = 0, total = 1;
            ax[n_ax++] = (struct axis_values){"threads", cfg->axes.threads.n, threads_txt};
            if (uses_axis(bench, "size_bytes") && cfg->axes.size_bytes.n)
                ax[n_ax++] = (struct axis_values){"size_bytes", cfg->axes.size_bytes.n, sizes_txt};
            for (int t = 0; t < cfg->axes.n_text; t++) {
                const struct lb_text_axis *ta = &cfg->axes.text[t];
                if (uses_axis(bench, ta->name) && ta->values.n)
                    ax[n_ax++] = (struct axis_values){ta->name, ta->values.n,
                                                      (char (*)[LB_TEXT_MAX])ta->values.v};
            }
            for (size_t a = 0; a < n_ax; a++) total *= ax[a].n;
            if (pass == 0) {
                cap += total;
                continue;
            }
            /* odometer over the axes: every combination once */
            size_t idx[LB_MAX_TEXT_AXES + 2] = {0};
            for (size_t k = 0; k < total; k++) {
                struct planned *c = &p[n++];
                c->bench = bench;
                for (size_t a = 0; a < n_ax; a++) lb_case_set(&c->params, ax[a].name, ax[a].v[idx[a]]);
                for (size_t a = n_ax; a-- > 0;) {
                    if (++idx[a] < ax[a].n) break;
                    idx[a] = 0;
                }
                if (s->normalize_case) {
                    s->normalize_case(&c->params);
                    for (size_t j = 0; j + 1 < n; j++)
                        if (p[j].bench == bench && same_case(&p[j].params, &c->params)) {
                            memset(c, 0, sizeof *c);
                            n--;
                            break;
                        }
                }
            }
        }
        if (pass == 0) {
            p = calloc(cap ? cap : 1, sizeof *p);
            if (!p) return lb_error_set(err, LB_ENOMEM, "out of memory planning %zu cases", cap);
        }
    }
    /* seeded Fisher-Yates */
    uint64_t st = cfg->seed;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(lb_splitmix64(&st) % i);
        struct planned tmp = p[i - 1];
        p[i - 1] = p[j];
        p[j] = tmp;
    }
    *out = p;
    *n_out = n;
    return LB_OK;
}

/* Ctrl-C during a run: drop the temp report, keep nothing half-written. */
static struct lb_outfile *volatile g_outfile;
static void on_signal(int sig)
{
    if (g_outfile) lb_outfile_abort((struct lb_outfile *)g_outfile);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void iso_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The decode suite's chart (tok/s per quantization level, CI error bars)
 * and the other views of the report, through gnuplot into
 * <report without .json>-charts/. Rendered from the JSON document, as
 * `llmbench report --charts` would; without gnuplot it says why and the
 * run goes on. Returns the one-line note to print. */
static void write_charts(const cJSON *doc, const char *report_path, char *note, size_t len)
{
    struct lb_run run = {.source = report_path, .doc = doc};
    struct lb_chart *charts = NULL;
    size_t n_charts = 0, n_written = 0;
    struct lb_error e2 = {0};
    struct lb_sbuf files = {0};
    char dir[1100];
    size_t n = strlen(report_path);
    if (n > 5 && !strcmp(report_path + n - 5, ".json")) n -= 5;
    snprintf(dir, sizeof dir, "%.*s-charts", (int)n, report_path);
    lb_runs_label(&run, 1);
    if (lb_charts_build(&run, 1, &charts, &n_charts, &e2) != LB_OK) {
        snprintf(note, len, "charts skipped: %s", e2.msg);
        return;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        snprintf(note, len, "charts skipped: cannot create %s: %s", dir, strerror(errno));
    } else if (lb_gnuplot_charts(charts, n_charts, dir, &files, &n_written, note, len, &e2) != LB_OK &&
               !note[0]) {
        snprintf(note, len, "charts skipped: %s", e2.msg);
    }
    lb_sbuf_free(&files);
    lb_charts_free(charts, n_charts);
}

static void print_progress(size_t i, size_t n, const struct lb_result *r)
{
    char params[160] = "";
    size_t off = 0;
    for (int k = 0; k < r->params.n_params && off < sizeof params; k++) {
        const struct lb_param *p = &r->params.params[k];
        char v[32];
        if (!strcmp(p->name, "size_bytes")) lb_format_bytes(p->num, v, sizeof v);
        else snprintf(v, sizeof v, "%s", p->text);
        int w = snprintf(params + off, sizeof params - off, "%s%s=%s", off ? " " : "",
                         !strcmp(p->name, "size_bytes") ? "size" : p->name, v);
        if (w > 0) off += (size_t)w;
    }
    printf("[%3zu/%zu] %-13s %-22s ", i + 1, n, r->bench, params);
    if (r->status == LB_RESULT_SKIPPED) {
        printf("skipped: %s\n", r->reason);
    } else if (r->status == LB_RESULT_FAILED && r->n_samples == 0) {
        printf("FAILED: %s\n", r->reason);
    } else {
        double med = r->stats.median;
        if (med < 1e3) printf("%8.0f ns", med);
        else if (med < 1e6) printf("%8.2f us", med / 1e3);
        else printf("%8.2f ms", med / 1e6);
        printf(" +-%4.1f%% n=%-4zu", 100 * r->stats.ci_rel, r->n_samples);
        for (int k = 0; k < r->n_metrics; k++)
            if (strcmp(r->metrics[k].name, "pct_of_ceiling"))
                printf(" %9.2f %s", r->metrics[k].value, r->metrics[k].unit);
        if (r->path[0]) printf(" [%s]", r->path);
        if (r->status == LB_RESULT_FAILED) printf(" FAILED: %s", r->reason);
        putchar('\n');
    }
    fflush(stdout);
}

static enum lb_status get_pool(struct lb_pool **pools, const struct lb_run_config *cfg,
                               const struct lb_hw *hw, int threads, struct lb_error *err)
{
    if (pools[threads]) return LB_OK;
    struct lb_pool_config pc = {
        .n_threads = threads, .pin = cfg->pin, .cpus = cfg->cpus, .numa_node = cfg->numa_node,
    };
    return lb_pool_create(hw, &pc, &pools[threads], err);
}

enum lb_status lb_run(struct lb_run_config *cfg, const struct lb_hw *hw,
                      struct lb_error *err)
{
    enum lb_status st = LB_OK;
    struct planned *cases = NULL;
    struct lb_result *results = NULL;
    const struct lb_bench **benches = NULL;
    size_t n = 0;
    struct lb_pool **pools = NULL;
    cJSON *doc = NULL;
    char *text = NULL;
    struct lb_outfile out = {.fd = -1};
    int max_threads = 0;
    struct lb_read_probe *probe = NULL;
    struct lb_pool *probe_pool = NULL;

    struct lb_suite_axes dflt;
    memset(&dflt, 0, sizeof dflt);
    cfg->suite->default_axes(hw, &dflt);
    if (!cfg->threads_given) cfg->axes.threads = dflt.threads;
    if (!cfg->size_given) cfg->axes.size_bytes = dflt.size_bytes;
    /* text axes: the suite's defaults, then what the command line gave */
    struct lb_suite_axes given = cfg->axes;
    cfg->axes.n_text = 0;
    for (int i = 0; i < dflt.n_text; i++)
        lb_axes_set_text(&cfg->axes, dflt.text[i].name, &dflt.text[i].values);
    for (int i = 0; i < given.n_text; i++)
        lb_axes_set_text(&cfg->axes, given.text[i].name, &given.text[i].values);
    for (size_t i = 0; i < cfg->axes.threads.n; i++) {
        int t = (int)cfg->axes.threads.v[i];
        if (t > max_threads) max_threads = t;
    }
    if (cfg->pin != LB_PIN_NONE && !cfg->cpus && max_threads > hw->n_pus) {
        return lb_error_set(err, LB_EINVAL,
                            "--threads %d exceeds the %d CPUs of this machine (use --pin none to oversubscribe)",
                            max_threads, hw->n_pus);
    }

    if (cfg->suite->check_axes && (st = cfg->suite->check_axes(hw, &cfg->axes, err))) return st;

    /* reserve the output first: a bad path fails before any measuring */
    if ((st = lb_outfile_open(&out, cfg->output_path, err))) return st;
    g_outfile = &out;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    if ((st = plan(cfg, &cases, &n, err))) goto done;
    results = calloc(n ? n : 1, sizeof *results);
    benches = calloc(n ? n : 1, sizeof *benches);
    pools = calloc((size_t)max_threads + 1, sizeof *pools);
    if (!results || !benches || !pools) {
        st = lb_error_set(err, LB_ENOMEM, "out of memory for %zu cases", n);
        goto done;
    }

    /* all pools up front: a bad --cpus / --numa / thread count is bad
     * input (exit 2) before anything is measured, not n failed cases */
    for (size_t i = 0; i < cfg->axes.threads.n; i++)
        if ((st = get_pool(pools, cfg, hw, (int)cfg->axes.threads.v[i], err))) goto done;

    /* ceilings this run is quoted against */
    struct lb_ceilings ceil;
    memset(&ceil, 0, sizeof ceil);
    bool have_ceil = false;
    if (cfg->suite->needs_ceilings) {
        struct lb_error e2 = {0};
        /* measured in this run unless --reuse-ceilings: a ceiling from
         * another hour of a shared machine (this VM's bandwidth moves
         * between ~37 and ~70 GB/s) would make "% of ceiling" meaningless */
        if (cfg->reuse_ceilings) have_ceil = lb_ceilings_load(hw, &ceil, &e2) == LB_OK;
        /* the cache must cover every thread count of this run */
        for (size_t i = 0; have_ceil && i < cfg->axes.threads.n; i++)
            have_ceil = lb_ceilings_row(&ceil, (int)cfg->axes.threads.v[i]) != NULL;
        if (have_ceil) {
            if (!cfg->quiet)
                printf("ceilings: reusing %s (measured %s; --reuse-ceilings given)\n",
                       ceil.cache_path, ceil.measured_at);
        } else {
            struct lb_measure_config mc = cfg->measure;
            mc.stop.budget_s = 1.0;
            lb_ceilings_measure(hw, pools, &cfg->axes.threads, cfg->isa, &mc, cfg->quiet, &ceil);
            have_ceil = ceil.n > 0;
            if (have_ceil && lb_ceilings_save(hw, &ceil, &e2) != LB_OK)
                fprintf(stderr, "llmbench: warning: ceilings not cached: %s\n", e2.msg);
        }
    }

    /* --paired-ceiling: one probe buffer for the run, first touched by
     * the largest pool */
    if (cfg->paired_ceiling && cfg->suite->needs_ceilings) {
        probe_pool = pools[max_threads]; /* created above for every thread count */
        if (!(probe = lb_read_probe_new(hw, probe_pool, cfg->isa, err))) {
            st = err->status ? err->status : LB_ENOMEM;
            goto done;
        }
    }

    char started[32];
    iso_now(started, sizeof started);
    double res = lb_timer_resolution_s();
    double case_budget = cfg->case_budget_s > 0 ? cfg->case_budget_s : cfg->suite->case_budget_s;
    double t_run = lb_now_s();
    if (!cfg->quiet)
        printf("llmbench run: suite %s, %zu cases, seed %llu, timer resolution %.0f ns\n",
               cfg->suite->name, n, cfg->seed, res * 1e9);

    for (size_t i = 0; i < n; i++) {
        struct lb_result *r = &results[i];
        benches[i] = cases[i].bench;
        snprintf(r->suite, sizeof r->suite, "%s", cfg->suite->name);
        snprintf(r->bench, sizeof r->bench, "%s", cases[i].bench->name);
        r->params = cases[i].params;

        struct lb_measure_config mc = cfg->measure;
        mc.stop.budget_s = case_budget;
        if (cfg->budget_s > 0) {
            /* share what is left of the total budget among the cases left;
             * a floor keeps min_samples affordable for short kernels */
            double left = cfg->budget_s - (lb_now_s() - t_run);
            double share = left / (double)(n - i);
            if (share < 0.05) share = 0.05;
            if (share < mc.stop.budget_s) mc.stop.budget_s = share;
            if (mc.warmup_s > share / 4) mc.warmup_s = share / 4;
            if (mc.stop.min_time_s > share / 2) mc.stop.min_time_s = share / 2;
        }

        int threads = (int)lb_case_num(&r->params, "threads", 1);
        struct lb_bench_env env = {
            .hw = hw, .pool = pools[threads], .isa = cfg->isa, .cache = cfg->cache,
            .params = &r->params, .probe = probe,
        };
        lb_measure_case(cases[i].bench, &env, &mc, r);
        if (!cfg->quiet) print_progress(i, n, r);
    }

    /* ceilings: this run's own where it measured them, else the cache */
    struct lb_ceilings mine;
    memset(&mine, 0, sizeof mine);
    lb_ceilings_from_results(&mine, results, n);
    if (mine.n > 0) {
        ceil = mine;
        have_ceil = true;
        struct lb_error e2 = {0};
        if (lb_ceilings_save(hw, &ceil, &e2) != LB_OK)
            fprintf(stderr, "llmbench: warning: ceilings not cached: %s\n", e2.msg);
    }
    if (have_ceil) lb_ceilings_apply(&ceil, benches, results, n);

    struct lb_run_record rec = {
        .cfg = cfg, .hw = hw, .results = results, .n_results = n,
        .ceilings = have_ceil ? &ceil : NULL, .timer_resolution_s = res,
        .duration_s = lb_now_s() - t_run,
    };
    snprintf(rec.started_at, sizeof rec.started_at, "%s", started);
    doc = lb_run_to_json(&rec);
    text = doc ? cJSON_Print(doc) : NULL;
    if (!text) {
        st = lb_error_set(err, LB_ENOMEM, "out of memory writing the report");
        goto done;
    }
    if (!cfg->quiet) putchar('\n');
    lb_report_print_table(stdout, doc);
    size_t tl = strlen(text);
    char *t2 = realloc(text, tl + 2);
    if (t2) {
        text = t2;
        memcpy(text + tl, "\n", 2);
    }
    if ((st = lb_outfile_commit(&out, text, err))) goto done;
    if (!strcmp(cfg->suite->name, "decode")) {
        char note[512] = "";
        write_charts(doc, cfg->output_path, note, sizeof note);
        printf("%s\n", note);
    }
    size_t n_failed = 0, n_skipped = 0;
    for (size_t i = 0; i < n; i++) {
        n_failed += results[i].status == LB_RESULT_FAILED;
        n_skipped += results[i].status == LB_RESULT_SKIPPED;
    }
    printf("\n%zu cases: %zu ok, %zu skipped, %zu failed in %.1f s\nreport: %s\n", n,
           n - n_failed - n_skipped, n_skipped, n_failed, rec.duration_s, cfg->output_path);
    if (n_failed)
        st = lb_error_set(err, LB_EVALIDATE, "%zu case(s) failed; reasons are in the report", n_failed);

done:
    lb_outfile_abort(&out);
    g_outfile = NULL;
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    free(text);
    cJSON_Delete(doc);
    lb_read_probe_free(probe, probe_pool);
    if (pools) {
        for (int t = 0; t <= max_threads; t++)
            if (pools[t]) lb_pool_destroy(pools[t]);
        free(pools);
    }
    if (results)
        for (size_t i = 0; i < n; i++) lb_result_clear(&results[i]);
    free(results);
    free(benches);
    free(cases);
    return st;
}
