/* harness.c: the measurement core. One case = setup, warm-up, samples
 * until the stop rule holds, validation, teardown (STYLE.md #8, #9).
 *
 * Timing: CLOCK_MONOTONIC around a batch of calls. A batch is sized once,
 * after warm-up, so that one sample lasts at least min_sample_s (default
 * 100 us, i.e. thousands of timer ticks, so timer error stays < 0.1%);
 * a 10 us kernel is thus timed 10 calls at a time, a 30 ms bandwidth sweep
 * one call at a time. Samples are stored per call (batch time / calls).
 */
#include "lb-harness.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double lb_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double lb_timer_resolution_s(void)
{
    /* The smallest non-zero difference between consecutive reads over a
     * few hundred tries: what the clock can actually resolve here (the
     * STREAM checktick idea), not what clock_getres claims. */
    double best = 1.0;
    for (int i = 0; i < 200; i++) {
        double t0 = lb_now_s(), t1;
        do {
            t1 = lb_now_s();
        } while (t1 == t0);
        if (t1 - t0 < best) best = t1 - t0;
    }
    return best;
}

const struct lb_param *lb_case_find(const struct lb_case *c, const char *name)
{
    for (int i = 0; i < c->n_params; i++)
        if (strcmp(c->params[i].name, name) == 0) return &c->params[i];
    return NULL;
}

double lb_case_num(const struct lb_case *c, const char *name, double dflt)
{
    const struct lb_param *p = lb_case_find(c, name);
    return p && !isnan(p->num) ? p->num : dflt;
}

const char *lb_case_text(const struct lb_case *c, const char *name,
                         const char *dflt)
{
    const struct lb_param *p = lb_case_find(c, name);
    return p ? p->text : dflt;
}

void lb_case_set(struct lb_case *c, const char *name, const char *text)
{
    struct lb_param *p = (struct lb_param *)lb_case_find(c, name);
    if (!p) {
        LB_ASSERT(c->n_params < LB_MAX_PARAMS);
        p = &c->params[c->n_params++];
        snprintf(p->name, sizeof p->name, "%s", name);
    }
    snprintf(p->text, sizeof p->text, "%s", text);
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    p->num = (end != text && *end == '\0' && errno == 0) ? v : NAN;
}

void lb_result_add_metric(struct lb_result *r, const char *name,
                          double value, const char *unit)
{
    LB_ASSERT(r->n_metrics < LB_MAX_METRICS);
    struct lb_metric *m = &r->metrics[r->n_metrics++];
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->unit, sizeof m->unit, "%s", unit);
    m->value = value;
}

const struct lb_metric *lb_result_metric(const struct lb_result *r,
                                         const char *name)
{
    for (int i = 0; i < r->n_metrics; i++)
        if (strcmp(r->metrics[i].name, name) == 0) return &r->metrics[i];
    return NULL;
}

void lb_result_clear(struct lb_result *r)
{
    free(r->samples_ns);
    r->samples_ns = NULL;
    free(r->probe_gbs);
    r->probe_gbs = NULL;
    r->n_samples = 0;
}

void lb_measure_config_default(struct lb_measure_config *c)
{
    lb_stop_rule_default(&c->stop);
    c->warmup_s = 0.02;
    c->min_sample_s = 100e-6;
    /* this VM's bandwidth phases last seconds (docs/measurement.md); a
     * probe (two reads of ~1.4 GiB here) costs ~50 ms */
    c->probe_interval_s = 0.5;
}

long long lb_peak_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long long kb = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtoll(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

/* Resets the kernel's RSS high-water mark (Linux >= 4.0: writing 5 to
 * clear_refs), so VmHWM after a case is that case's peak. Best effort. */
static void reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

static void derive_metrics(struct lb_result *r)
{
    double t_s = r->stats.median * 1e-9;
    if (t_s <= 0) return;
    if (r->bytes_per_call > 0)
        lb_result_add_metric(r, "bandwidth", r->bytes_per_call / t_s * 1e-9, "GB/s");
    if (r->ops_per_call > 0) {
        char unit[16];
        snprintf(unit, sizeof unit, "G%s/s", r->ops_unit ? r->ops_unit : "OP");
        lb_result_add_metric(r, "throughput", r->ops_per_call / t_s * 1e-9, unit);
    }
}

/* With probes: the median over samples of (bandwidth of the sample /
 * read GB/s of the probe before it), and the median probe. The per-sample
 * ratio is what makes it robust: a case that straddles a change of the
 * machine's bandwidth is quoted against the phase each sample ran in. */
static void derive_paired(struct lb_result *r)
{
    size_t n = r->n_samples, k = 0;
    double *ratio = malloc((n ? n : 1) * sizeof *ratio), *probe = malloc((n ? n : 1) * sizeof *probe);
    if (ratio && probe) {
        for (size_t i = 0; i < n; i++) {
            if (!(r->samples_ns[i] > 0) || !(r->probe_gbs[i] > 0)) continue;
            probe[k] = r->probe_gbs[i];
            ratio[k++] = r->bytes_per_call / r->samples_ns[i] / r->probe_gbs[i];
        }
        if (k > 0) {
            struct lb_stats sp, sr;
            lb_stats_compute(probe, k, &sp);
            lb_stats_compute(ratio, k, &sr);
            lb_result_add_metric(r, "ceiling_paired", sp.median, "GB/s");
            lb_result_add_metric(r, "pct_of_ceiling_paired", 100.0 * sr.median, "%");
        }
    }
    free(ratio);
    free(probe);
}

void lb_measure_case(const struct lb_bench *b, const struct lb_bench_env *env,
                     const struct lb_measure_config *cfg, struct lb_result *r)
{
    struct lb_error err = {0};
    void *state = NULL;
    struct lb_pool *pool = env->pool;
    size_t cap = cfg->stop.max_samples;
    enum lb_status st;

    reset_peak_rss();
    r->status = LB_RESULT_OK;
    r->ops_unit = b->ops_unit;
    st = b->setup(env, &state, &err);
    if (st != LB_OK) {
        r->status = st == LB_EUNSUPPORTED ? LB_RESULT_SKIPPED : LB_RESULT_FAILED;
        snprintf(r->reason, sizeof r->reason, "%s", err.msg[0] ? err.msg : lb_status_name(st));
        r->peak_rss_bytes = lb_peak_rss_bytes();
        return;
    }
    if (b->path) snprintf(r->path, sizeof r->path, "%s", b->path(state));
    r->bytes_per_call = b->bytes ? b->bytes(state) : 0;
    r->ops_per_call = b->ops ? b->ops(state) : 0;
    if (b->ops_unit_of) r->ops_unit = b->ops_unit_of(state);

    r->samples_ns = malloc(cap * sizeof *r->samples_ns);
    if (!r->samples_ns) {
        r->status = LB_RESULT_FAILED;
        snprintf(r->reason, sizeof r->reason, "out of memory for %zu samples", cap);
        goto out;
    }

    /* Warm-up: at least one call, then until warmup_s has passed. The
     * fastest call seen sizes the batch. */
    uint64_t iter = 0;
    double t_start = lb_now_s(), fastest = INFINITY;
    do {
        double t0 = lb_now_s();
        b->run(state, pool, iter++);
        double dt = lb_now_s() - t0;
        if (dt < fastest) fastest = dt;
    } while (lb_now_s() - t_start < cfg->warmup_s);
    r->warmup_s = lb_now_s() - t_start;

    uint64_t calls = 1;
    if (fastest < cfg->min_sample_s)
        calls = (uint64_t)ceil(cfg->min_sample_s / (fastest > 1e-9 ? fastest : 1e-9));
    r->calls_per_sample = calls;

    /* paired ceiling: a read probe before the first sample and then every
     * probe_interval_s, each followed by one untimed call so the sample
     * after it does not pay for the caches the probe evicted */
    const bool pair = env->probe && b->ceiling && !strcmp(b->ceiling, "read") && r->bytes_per_call > 0;
    if (pair && !(r->probe_gbs = malloc(cap * sizeof *r->probe_gbs))) {
        r->status = LB_RESULT_FAILED;
        snprintf(r->reason, sizeof r->reason, "out of memory for %zu samples", cap);
        goto out;
    }
    double t_probe = -INFINITY, probe_gbs = 0;

    double t_meas = lb_now_s();
    for (;;) {
        if (pair && lb_now_s() - t_probe >= cfg->probe_interval_s) {
            t_probe = lb_now_s();
            probe_gbs = lb_read_probe_gbs(env->probe, pool);
            b->run(state, pool, iter++);
        }
        if (pair) r->probe_gbs[r->n_samples] = probe_gbs;
        double t0 = lb_now_s();
        for (uint64_t k = 0; k < calls; k++) b->run(state, pool, iter++);
        double t1 = lb_now_s();
        r->samples_ns[r->n_samples++] = (t1 - t0) * 1e9 / (double)calls;
        r->stop = lb_stop_check(&cfg->stop, r->samples_ns, r->n_samples, t1 - t_meas);
        if (r->stop != LB_STOP_CONTINUE || r->n_samples >= cap) {
            if (r->stop == LB_STOP_CONTINUE) r->stop = LB_STOP_MAX_SAMPLES;
            break;
        }
    }
    r->elapsed_s = lb_now_s() - t_meas;
    lb_stats_compute(r->samples_ns, r->n_samples, &r->stats);
    derive_metrics(r);
    if (pair) derive_paired(r);
    if (b->metrics) b->metrics(state, r);

    if (b->validate) {
        st = b->validate(state, pool, &err);
        if (st != LB_OK) {
            r->status = LB_RESULT_FAILED;
            snprintf(r->reason, sizeof r->reason, "validation failed: %s", err.msg);
        }
    }
out:
    if (b->teardown) b->teardown(state, pool);
    r->peak_rss_bytes = lb_peak_rss_bytes();
}
