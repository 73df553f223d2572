/* render-charts.c: the chart views of a set of reports, built once from
 * the JSON and drawn by both the SVG writer (HTML page) and gnuplot.
 *
 * Views (a view with no data is left out):
 *   decode-tg / decode-pp  tokens/s per quantization level, bars per run,
 *                          error bars from the median's 95% CI
 *   decode-depth           tg tokens/s over context depth (a --depth
 *                          sweep), a line per run and quantization
 *   gemv-bw                GEMV GB/s over weight bytes per call (log x),
 *                          with each run's measured read ceiling as a line
 *   attention-bw           attention GB/s over context length (log x),
 *                          with the read ceiling
 *   threads                thread scaling: throughput relative to the
 *                          fewest threads, per bench (largest case only)
 *   roofline               arithmetic intensity (ops/byte) vs achieved
 *                          G(FL)OP/s, log-log, with bandwidth and compute
 *                          ceilings of each run at its most threads
 * Only results with status "ok" are drawn. Series carry the run tag (R1,
 * R2, ...) so several machines share one chart.
 */
#include "lb-render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* More series than this make a chart unreadable; the rest stay in the
 * tables and the chart's note says so. */
#define MAX_SERIES 16

static bool result_ok(const cJSON *r)
{
    return !strcmp(lb_json_str(r, "status"), "ok");
}

static struct lb_chart *chart_add(struct lb_chart **charts, size_t *n, const char *id)
{
    struct lb_chart *c = realloc(*charts, (*n + 1) * sizeof *c);
    if (!c) return NULL;
    *charts = c;
    c = &c[(*n)++];
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    return c;
}

static void chart_clear(struct lb_chart *c)
{
    for (size_t s = 0; s < c->n_series; s++) {
        free(c->series[s].x);
        free(c->series[s].y);
        free(c->series[s].ylo);
        free(c->series[s].yhi);
    }
    free(c->series);
    free(c->refs);
    free(c->cats);
}

void lb_charts_free(struct lb_chart *charts, size_t n)
{
    for (size_t i = 0; i < n; i++) chart_clear(&charts[i]);
    free(charts);
}

/* Series by label; created when absent (NULL on OOM or past MAX_SERIES,
 * which sets *dropped). */
static struct lb_series *series_get(struct lb_chart *c, const char *label, size_t *dropped)
{
    for (size_t s = 0; s < c->n_series; s++)
        if (!strcmp(c->series[s].label, label)) return &c->series[s];
    if (c->n_series >= MAX_SERIES) {
        (*dropped)++;
        return NULL;
    }
    struct lb_series *ns = realloc(c->series, (c->n_series + 1) * sizeof *ns);
    if (!ns) return NULL;
    c->series = ns;
    ns = &ns[c->n_series++];
    memset(ns, 0, sizeof *ns);
    snprintf(ns->label, sizeof ns->label, "%s", label);
    return ns;
}

static bool series_push(struct lb_series *s, double x, double y, double lo, double hi)
{
    if (!isfinite(x) || !isfinite(y)) return true;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        double *a[4] = {s->x, s->y, s->ylo, s->yhi};
        for (int k = 0; k < 4; k++) {
            double *p = realloc(a[k], cap * sizeof *p);
            if (!p) return false;
            a[k] = p;
            /* keep what was reallocated even if a later one fails */
            if (k == 0) s->x = p;
            else if (k == 1) s->y = p;
            else if (k == 2) s->ylo = p;
            else s->yhi = p;
        }
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->ylo[s->n] = lo;
    s->yhi[s->n] = hi;
    s->n++;
    return true;
}

/* Sorts points by x so lines join neighbours (insertion sort: series are
 * short). */
static void series_sort(struct lb_series *s)
{
    for (size_t i = 1; i < s->n; i++) {
        for (size_t j = i; j > 0 && s->x[j - 1] > s->x[j]; j--) {
            double *a[4] = {s->x, s->y, s->ylo, s->yhi};
            for (int k = 0; k < 4; k++) {
                double t = a[k][j];
                a[k][j] = a[k][j - 1];
                a[k][j - 1] = t;
            }
        }
    }
}

/* Appends a reference line; false on OOM. */
static bool ref_push(struct lb_chart *c, enum lb_ref_kind kind, double value, const char *label)
{
    struct lb_refline *r = realloc(c->refs, (c->n_refs + 1) * sizeof *r);
    if (!r) return false;
    c->refs = r;
    r[c->n_refs].kind = kind;
    r[c->n_refs].value = value;
    snprintf(r[c->n_refs].label, sizeof r->label, "%s", label);
    c->n_refs++;
    return true;
}

/* Adds a reference line "TAG rest". Runs on the same machine share their
 * ceilings (the cache): a line with the same kind, value and rest gets the
 * tag added ("R1,R2 read ceiling ...") instead of a second copy on top. */
static bool ref_add_run(struct lb_chart *c, enum lb_ref_kind kind, double value, const char *tag,
                        const char *rest)
{
    if (!(value > 0) || !isfinite(value)) return true;
    for (size_t i = 0; i < c->n_refs; i++) {
        struct lb_refline *r = &c->refs[i];
        const char *sp = strchr(r->label, ' ');
        if (r->kind != kind || fabs(r->value - value) > 1e-9 * value || !sp || strcmp(sp + 1, rest))
            continue;
        char tags[64];
        snprintf(tags, sizeof tags, "%.*s", (int)(sp - r->label), r->label);
        if (strstr(tags, tag) && strlen(tags) == strlen(tag)) return true;
        char merged[sizeof r->label];
        snprintf(merged, sizeof merged, "%s,%s %s", tags, tag, rest);
        memcpy(r->label, merged, sizeof merged);
        return true;
    }
    char label[160];
    snprintf(label, sizeof label, "%s %s", tag, rest);
    return ref_push(c, kind, value, label);
}

static bool ref_add(struct lb_chart *c, enum lb_ref_kind kind, double value, const char *label)
{
    if (!(value > 0) || !isfinite(value)) return true;
    for (size_t i = 0; i < c->n_refs; i++)
        if (!strcmp(c->refs[i].label, label)) return true;
    return ref_push(c, kind, value, label);
}

static size_t cat_get(struct lb_chart *c, const char *label)
{
    for (size_t i = 0; i < c->n_cats; i++)
        if (!strcmp(c->cats[i], label)) return i;
    char(*nc)[LB_CHART_CAT_LEN] = realloc(c->cats, (c->n_cats + 1) * sizeof *nc);
    if (!nc) return SIZE_MAX;
    c->cats = nc;
    snprintf(nc[c->n_cats], LB_CHART_CAT_LEN, "%s", label);
    return c->n_cats++;
}

/* The ceilings row of a run for a thread count (or, with threads <= 0,
 * the row with the most threads). */
static const cJSON *ceiling_row(const cJSON *doc, double threads)
{
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "ceilings"), "rows");
    const cJSON *row, *best = NULL;
    double best_t = -1;
    cJSON_ArrayForEach(row, rows) {
        double t = lb_json_num(row, "threads");
        if (threads > 0 && t == threads) return row;
        if (threads <= 0 && t > best_t) {
            best_t = t;
            best = row;
        }
    }
    return best;
}

/* Does any result of (suite, bench) in any run have more than one value
 * of parameter name? Decides which parameters a label must name. */
static bool param_varies(const struct lb_run *runs, size_t n, const char *suite,
                         const char *bench, const char *name)
{
    char first[128] = "", v[128];
    bool seen = false;
    for (size_t i = 0; i < n; i++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(runs[i].doc, "results")) {
            if (strcmp(lb_json_str(r, "suite"), suite) || (bench && strcmp(lb_json_str(r, "bench"), bench)))
                continue;
            lb_param_text(cJSON_GetObjectItemCaseSensitive(r, "params"), name, v, sizeof v);
            if (!seen) {
                snprintf(first, sizeof first, "%s", v);
                seen = true;
            } else if (strcmp(first, v)) {
                return true;
            }
        }
    }
    return false;
}

/* Appends " name=value" (or " t=N" for threads) for each listed param that
 * varies across the view; always_names are appended without the name. */
static void label_params(char *buf, size_t len, const cJSON *params, const char *const *names,
                         const bool *varies, size_t nn)
{
    for (size_t k = 0; k < nn; k++) {
        if (!varies[k]) continue;
        char v[96];
        lb_param_text(params, names[k], v, sizeof v);
        if (!v[0]) continue;
        size_t off = strlen(buf);
        if (!strcmp(names[k], "threads")) snprintf(buf + off, len - off, " t=%s", v);
        else snprintf(buf + off, len - off, " %s=%s", names[k], v);
    }
}

/* tokens/s per quantization level, one bar per run, for bench tg or pp */
static enum lb_status view_decode(struct lb_chart **charts, size_t *nc, const struct lb_run *runs,
                                  size_t n, const char *bench, const char *title)
{
    static const char *const extra[] = {"model", "threads", "depth", "n_tokens", "n_gen",
                                        "n_prompt", "kv_type", "kv_fill"};
    bool varies[LB_ARRAY_LEN(extra)];
    bool any = false;
    for (size_t i = 0; i < n && !any; i++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(runs[i].doc, "results"))
            if (!strcmp(lb_json_str(r, "suite"), "decode") && !strcmp(lb_json_str(r, "bench"), bench) && result_ok(r))
                any = true;
    }
    if (!any) return LB_OK;
    for (size_t k = 0; k < LB_ARRAY_LEN(extra); k++)
        varies[k] = param_varies(runs, n, "decode", bench, extra[k]);
    char id[32];
    snprintf(id, sizeof id, "decode-%s", bench);
    struct lb_chart *c = chart_add(charts, nc, id);
    if (!c) return LB_ENOMEM;
    c->kind = LB_CHART_BARS;
    snprintf(c->title, sizeof c->title, "%s", title);
    snprintf(c->xlabel, sizeof c->xlabel, "quantization");
    snprintf(c->ylabel, sizeof c->ylabel, "tokens/s");
    snprintf(c->note, sizeof c->note,
             "Median tokens/s per quantization level; error bars: 95%% CI of the median call time.");
    size_t dropped = 0;
    for (size_t i = 0; i < n; i++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(runs[i].doc, "results")) {
            if (strcmp(lb_json_str(r, "suite"), "decode") || strcmp(lb_json_str(r, "bench"), bench) || !result_ok(r))
                continue;
            const cJSON *params = cJSON_GetObjectItemCaseSensitive(r, "params");
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "stats");
            double med = lb_json_num(st, "median_ns"), lo = lb_json_num(st, "ci95_lo_ns"),
                   hi = lb_json_num(st, "ci95_hi_ns");
            double tok_s = lb_report_metric(r, "tok_s", NULL);
            if (!isfinite(tok_s)) {
                double ntok = lb_json_num(params, "n_tokens");
                tok_s = ntok > 0 && med > 0 ? ntok * 1e9 / med : NAN;
            }
            if (!isfinite(tok_s)) continue;
            /* tok/s is inversely proportional to call time */
            double tlo = hi > 0 && med > 0 ? tok_s * med / hi : NAN;
            double thi = lo > 0 && med > 0 ? tok_s * med / lo : NAN;
            char cat[LB_CHART_CAT_LEN];
            lb_param_text(params, "quant", cat, sizeof cat);
            if (!cat[0]) snprintf(cat, sizeof cat, "?");
            label_params(cat, sizeof cat, params, extra, varies, LB_ARRAY_LEN(extra));
            size_t ci = cat_get(c, cat);
            if (ci == SIZE_MAX) return LB_ENOMEM;
            char label[160];
            snprintf(label, sizeof label, "%s %s", runs[i].tag, runs[i].label);
            struct lb_series *s = series_get(c, label, &dropped);
            if (!s) {
                if (dropped) continue;
                return LB_ENOMEM;
            }
            if (!series_push(s, (double)ci, tok_s, tlo, thi)) return LB_ENOMEM;
        }
    }
    return LB_OK;
}

/* tg tokens/s over the context depth, one line per run + quant (+ the
 * other params that vary); only when some series has two depths */
static enum lb_status view_decode_depth(struct lb_chart **charts, size_t *nc,
                                        const struct lb_run *runs, size_t n)
{
    static const char *const names[] = {"quant", "model", "threads", "kv_type", "n_gen", "kv_fill"};
    if (!param_varies(runs, n, "decode", "tg", "depth")) return LB_OK;
    bool varies[LB_ARRAY_LEN(names)];
    for (size_t k = 0; k < LB_ARRAY_LEN(names); k++)
        varies[k] = k == 0 || param_varies(runs, n, "decode", "tg", names[k]);
    struct lb_chart *c = chart_add(charts, nc, "decode-depth");
    if (!c) return LB_ENOMEM;
    c->kind = LB_CHART_XY;
    snprintf(c->title, sizeof c->title, "Decode tokens/s (tg) over context depth");
    snprintf(c->xlabel, sizeof c->xlabel, "context depth (tokens)");
    snprintf(c->ylabel, sizeof c->ylabel, "tokens/s");
    size_t dropped = 0;
    for (size_t i = 0; i < n; i++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(runs[i].doc, "results")) {
            if (strcmp(lb_json_str(r, "suite"), "decode") || strcmp(lb_json_str(r, "bench"), "tg") ||
                !result_ok(r))
                continue;
            const cJSON *params = cJSON_GetObjectItemCaseSensitive(r, "params");
            double depth = lb_json_num(params, "depth"), tok_s = lb_report_metric(r, "tok_s", NULL);
            if (!(depth >= 0) || !isfinite(tok_s)) continue;
            char label[160];
            snprintf(label, sizeof label, "%s", runs[i].tag);
            label_params(label, sizeof label, params, names, varies, LB_ARRAY_LEN(names));
            struct lb_series *sr = series_get(c, label, &dropped);
            if (!sr) {
                if (dropped) continue;
                return LB_ENOMEM;
            }
            if (!series_push(sr, depth, tok_s, NAN, NAN)) return LB_ENOMEM;
        }
    }
    for (size_t k = 0; k < c->n_series; k++) series_sort(&c->series[k]);
    snprintf(c->note, sizeof c->note,
             "Median tg tokens/s at each context depth: the KV cache read per token grows with "
             "depth.%s", dropped ? " More series than fit: see the tables." : "");
    return LB_OK;
}

/* bandwidth over a numeric x, series per run + the listed params, with
 * each run's read ceiling at the thread counts drawn */
static enum lb_status view_bw(struct lb_chart **charts, size_t *nc, const struct lb_run *runs,
                              size_t n, const char *suite, const char *id, const char *title,
                              const char *xparam, const char *xlabel,
                              const char *const *names, size_t nn)
{
    bool any = false;
    for (size_t i = 0; i < n && !any; i++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(runs[i].doc, "results"))
            if (!strcmp(lb_json_str(r, "suite"), suite) && result_ok(r) &&
                isfinite(lb_report_metric(r, "bandwidth", "GB/s")))
                any = true;
    }
    if (!any) return LB_OK;
    bool varies[8] = {0};
    LB_ASSERT(nn <= LB_ARRAY_LEN(varies));
    for (size_t k = 0; k < nn; k++) varies[k] = param_varies(runs, n, suite, NULL, names[k]);
    struct lb_chart *c = chart_add(charts, nc, id);
    if (!c) return LB_ENOMEM;
    c->kind = LB_CHART_XY;
    c->xlog = true;
    snprintf(c->title, sizeof c->title, "%s", title);
    snprintf(c->xlabel, sizeof c->xlabel, "%s", xlabel);
    snprintf(c->ylabel, sizeof c->ylabel, "bandwidth (GB/s)");
    size_t dropped = 0;
    for (size_t i = 0; i < n; i++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(runs[i].doc, "results")) {
            if (strcmp(lb_json_str(r, "suite"), suite) || !result_ok(r)) continue;
            double gbs = lb_report_metric(r, "bandwidth", "GB/s");
            const cJSON *params = cJSON_GetObjectItemCaseSensitive(r, "params");
            double x = xparam ? lb_json_num(params, xparam)
                              : lb_json_num(cJSON_GetObjectItemCaseSensitive(r, "work"), "bytes_per_call");
            if (!isfinite(gbs) || !(x > 0)) continue;
            char label[160];
            snprintf(label, sizeof label, "%s", runs[i].tag);
            label_params(label, sizeof label, params, names, varies, nn);
            char impl[64];
            lb_param_text(params, "impl", impl, sizeof impl);
            if (impl[0] && strcmp(impl, "best")) {
                size_t off = strlen(label);
                snprintf(label + off, sizeof label - off, " %s", impl);
            }
            struct lb_series *s = series_get(c, label, &dropped);
            if (!s) {
                if (dropped) continue;
                return LB_ENOMEM;
            }
            if (!series_push(s, x, gbs, NAN, NAN)) return LB_ENOMEM;
            double t = lb_json_num(params, "threads");
            double ceil_gbs = lb_json_num(ceiling_row(runs[i].doc, t), "read_gbs");
            char rl[160];
            snprintf(rl, sizeof rl, "read ceiling, %g thread%s", t, t == 1 ? "" : "s");
            if (!ref_add_run(c, LB_REF_HLINE, ceil_gbs, runs[i].tag, rl)) return LB_ENOMEM;
        }
    }
    for (size_t s = 0; s < c->n_series; s++) series_sort(&c->series[s]);
    snprintf(c->note, sizeof c->note,
             "Median GB/s per case; dashed lines: the measured read bandwidth ceiling of each run "
             "at that thread count.%s",
             dropped ? " More series than fit: see the tables." : "");
    return LB_OK;
}

/* The value a thread-scaling series uses: tokens/s, else GB/s, else
 * G(FL)OP/s, else calls/s. */
static double primary_rate(const cJSON *r)
{
    double v = lb_report_metric(r, "tok_s", NULL);
    if (!isfinite(v)) v = lb_report_metric(r, "bandwidth", "GB/s");
    if (!isfinite(v)) v = lb_report_metric(r, "throughput", NULL);
    if (!isfinite(v)) {
        double med = lb_json_num(cJSON_GetObjectItemCaseSensitive(r, "stats"), "median_ns");
        v = med > 0 ? 1e9 / med : NAN;
    }
    return v;
}

/* params without threads as one key string */
static void key_without_threads(const cJSON *params, char *buf, size_t len)
{
    const cJSON *p;
    size_t off = 0;
    buf[0] = '\0';
    cJSON_ArrayForEach(p, params) {
        if (!p->string || !strcmp(p->string, "threads") || off >= len) continue;
        char v[96];
        lb_param_text(params, p->string, v, sizeof v);
        int w = snprintf(buf + off, len - off, "%s%s=%s", off ? " " : "", p->string, v);
        if (w > 0) off += (size_t)w;
    }
}

static enum lb_status view_threads(struct lb_chart **charts, size_t *nc, const struct lb_run *runs, size_t n)
{
    struct lb_chart tmp = {0};
    size_t dropped = 0;
    double tmin_all = -1;
    bool same_tmin = true;
    for (size_t i = 0; i < n; i++) {
        const cJSON *results = cJSON_GetObjectItemCaseSensitive(runs[i].doc, "results"), *r;
        /* per (suite, bench): the parameter key of its largest case */
        cJSON_ArrayForEach(r, results) {
            if (!result_ok(r)) continue;
            const char *suite = lb_json_str(r, "suite"), *bench = lb_json_str(r, "bench");
            /* handle each (suite, bench) once: at its first ok result */
            bool first = true;
            const cJSON *q;
            cJSON_ArrayForEach(q, results) {
                if (q == r) break;
                if (result_ok(q) && !strcmp(lb_json_str(q, "suite"), suite) && !strcmp(lb_json_str(q, "bench"), bench)) {
                    first = false;
                    break;
                }
            }
            if (!first) continue;
            /* the key with the most bytes per call among keys seen at 2+ thread counts */
            char best_key[512] = "";
            double best_bytes = -1;
            cJSON_ArrayForEach(q, results) {
                if (!result_ok(q) || strcmp(lb_json_str(q, "suite"), suite) || strcmp(lb_json_str(q, "bench"), bench))
                    continue;
                char key[512], key2[512];
                const cJSON *qp = cJSON_GetObjectItemCaseSensitive(q, "params");
                key_without_threads(qp, key, sizeof key);
                double tq = lb_json_num(qp, "threads");
                bool multi = false;
                const cJSON *o;
                cJSON_ArrayForEach(o, results) {
                    if (!result_ok(o) || strcmp(lb_json_str(o, "suite"), suite) || strcmp(lb_json_str(o, "bench"), bench))
                        continue;
                    const cJSON *op = cJSON_GetObjectItemCaseSensitive(o, "params");
                    key_without_threads(op, key2, sizeof key2);
                    if (!strcmp(key, key2) && lb_json_num(op, "threads") != tq) {
                        multi = true;
                        break;
                    }
                }
                double bytes = lb_json_num(cJSON_GetObjectItemCaseSensitive(q, "work"), "bytes_per_call");
                if (!isfinite(bytes)) bytes = 0;
                if (multi && bytes > best_bytes) {
                    best_bytes = bytes;
                    snprintf(best_key, sizeof best_key, "%s", key);
                }
            }
            if (best_bytes < 0) continue;
            char label[160];
            snprintf(label, sizeof label, "%s %s/%s%s%.100s", runs[i].tag, suite, bench,
                     best_key[0] ? " " : "", best_key);
            struct lb_series *s = series_get(&tmp, label, &dropped);
            if (!s) {
                if (dropped) continue;
                chart_clear(&tmp);
                return LB_ENOMEM;
            }
            cJSON_ArrayForEach(q, results) {
                if (!result_ok(q) || strcmp(lb_json_str(q, "suite"), suite) || strcmp(lb_json_str(q, "bench"), bench))
                    continue;
                char key[512];
                const cJSON *qp = cJSON_GetObjectItemCaseSensitive(q, "params");
                key_without_threads(qp, key, sizeof key);
                if (strcmp(key, best_key)) continue;
                if (!series_push(s, lb_json_num(qp, "threads"), primary_rate(q), NAN, NAN)) {
                    chart_clear(&tmp);
                    return LB_ENOMEM;
                }
            }
            series_sort(s);
            /* relative to the fewest threads: one axis for GB/s, tok/s, GFLOP/s */
            double base = s->n ? s->y[0] : NAN;
            for (size_t k = 0; k < s->n; k++) s->y[k] = base > 0 ? s->y[k] / base : NAN;
            if (s->n) {
                if (tmin_all < 0) tmin_all = s->x[0];
                else if (tmin_all != s->x[0]) same_tmin = false;
            }
        }
    }
    if (!tmp.n_series) return LB_OK;
    struct lb_chart *c = chart_add(charts, nc, "threads");
    if (!c) {
        chart_clear(&tmp);
        return LB_ENOMEM;
    }
    c->series = tmp.series;
    c->n_series = tmp.n_series;
    c->kind = LB_CHART_XY;
    snprintf(c->title, sizeof c->title, "Thread scaling");
    snprintf(c->xlabel, sizeof c->xlabel, "threads");
    snprintf(c->ylabel, sizeof c->ylabel, "throughput relative to fewest threads (x)");
    if (same_tmin && tmin_all > 0 && !ref_add(c, LB_REF_SLOPE, 1.0 / tmin_all, "linear scaling"))
        return LB_ENOMEM;
    snprintf(c->note, sizeof c->note,
             "Per bench, its largest case measured at several thread counts: tokens/s, GB/s or "
             "G(FL)OP/s divided by the value at the fewest threads.%s",
             dropped ? " More series than fit: see the tables." : "");
    return LB_OK;
}

static enum lb_status view_roofline(struct lb_chart **charts, size_t *nc, const struct lb_run *runs, size_t n)
{
    bool any = false;
    for (size_t i = 0; i < n && !any; i++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(runs[i].doc, "results")) {
            const cJSON *w = cJSON_GetObjectItemCaseSensitive(r, "work");
            if (result_ok(r) && lb_json_num(w, "ops_per_call") > 0 && lb_json_num(w, "bytes_per_call") > 0)
                any = true;
        }
    }
    if (!any) return LB_OK;
    struct lb_chart *c = chart_add(charts, nc, "roofline");
    if (!c) return LB_ENOMEM;
    c->kind = LB_CHART_XY;
    c->xlog = c->ylog = c->scatter = true;
    snprintf(c->title, sizeof c->title, "Roofline");
    snprintf(c->xlabel, sizeof c->xlabel, "arithmetic intensity (ops/byte)");
    snprintf(c->ylabel, sizeof c->ylabel, "achieved G(FL)OP/s");
    size_t dropped = 0;
    for (size_t i = 0; i < n; i++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(runs[i].doc, "results")) {
            const cJSON *w = cJSON_GetObjectItemCaseSensitive(r, "work");
            double ops = lb_json_num(w, "ops_per_call"), bytes = lb_json_num(w, "bytes_per_call");
            double med = lb_json_num(cJSON_GetObjectItemCaseSensitive(r, "stats"), "median_ns");
            if (!result_ok(r) || !(ops > 0) || !(bytes > 0) || !(med > 0)) continue;
            char label[160];
            snprintf(label, sizeof label, "%s %s (%s)", runs[i].tag, lb_json_str(r, "suite"),
                     lb_json_str(w, "ops_unit"));
            struct lb_series *s = series_get(c, label, &dropped);
            if (!s) {
                if (dropped) continue;
                return LB_ENOMEM;
            }
            /* ops per ns = G ops per s */
            if (!series_push(s, ops / bytes, ops / med, NAN, NAN)) return LB_ENOMEM;
        }
        const cJSON *row = ceiling_row(runs[i].doc, 0);
        if (!row) continue;
        double t = lb_json_num(row, "threads");
        char rl[160];
        snprintf(rl, sizeof rl, "read %.3g GB/s (%g thr)", lb_json_num(row, "read_gbs"), t);
        if (!ref_add_run(c, LB_REF_SLOPE, lb_json_num(row, "read_gbs"), runs[i].tag, rl)) return LB_ENOMEM;
        snprintf(rl, sizeof rl, "FP32 FMA %.4g GFLOP/s", lb_json_num(row, "fma_gflops"));
        if (!ref_add_run(c, LB_REF_HLINE, lb_json_num(row, "fma_gflops"), runs[i].tag, rl)) return LB_ENOMEM;
        snprintf(rl, sizeof rl, "int8 dot %.4g GOP/s", lb_json_num(row, "dot8_gops"));
        if (!ref_add_run(c, LB_REF_HLINE, lb_json_num(row, "dot8_gops"), runs[i].tag, rl)) return LB_ENOMEM;
    }
    snprintf(c->note, sizeof c->note,
             "One point per result (ops/byte from the declared work, ops/s from the median); "
             "slanted line: read bandwidth x intensity; flat lines: compute peaks, all at each "
             "run's most threads.%s",
             dropped ? " More series than fit: see the tables." : "");
    return LB_OK;
}

enum lb_status lb_charts_build(const struct lb_run *runs, size_t n_runs,
                               struct lb_chart **out, size_t *n_out,
                               struct lb_error *err)
{
    struct lb_chart *c = NULL;
    size_t nc = 0;
    static const char *const gemv_names[] = {"quant", "threads"};
    static const char *const attn_names[] = {"kv_type", "threads", "heads"};
    enum lb_status st = view_decode(&c, &nc, runs, n_runs, "tg", "Decode tokens/s (tg) per quantization");
    if (!st) st = view_decode(&c, &nc, runs, n_runs, "pp", "Prompt processing tokens/s (pp) per quantization");
    if (!st) st = view_decode_depth(&c, &nc, runs, n_runs);
    if (!st)
        st = view_bw(&c, &nc, runs, n_runs, "gemv", "gemv-bw", "GEMV bandwidth over weight size", NULL,
                     "weight bytes per call (B)", gemv_names, LB_ARRAY_LEN(gemv_names));
    if (!st)
        st = view_bw(&c, &nc, runs, n_runs, "attention", "attention-bw",
                     "Attention bandwidth over context length", "ctx", "context length (tokens)",
                     attn_names, LB_ARRAY_LEN(attn_names));
    if (!st) st = view_threads(&c, &nc, runs, n_runs);
    if (!st) st = view_roofline(&c, &nc, runs, n_runs);
    if (st) {
        lb_charts_free(c, nc);
        *out = NULL;
        *n_out = 0;
        return lb_error_set(err, st, "out of memory building charts");
    }
    *out = c;
    *n_out = nc;
    return LB_OK;
}
