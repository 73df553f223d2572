/* render-csv.c: one CSV table of every result of every run, for
 * spreadsheets and scripts. One header row, then one row per result; the
 * columns are the union over all results (parameters by name, metrics by
 * name and unit), so every row has the same number of fields and a cell
 * is empty where a result has no such parameter or metric. Units are in
 * the headers ("median (ns)", "bandwidth (GB/s)"); times stay in ns so no
 * precision is lost to a display unit.
 *
 * Quoting follows RFC 4180: a field containing a comma, quote, CR or LF
 * is quoted and its quotes doubled; records end with CRLF.
 */
#include "lb-render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void csv_field(struct lb_sbuf *b, const char *s, bool first)
{
    if (!first) lb_sbuf_puts(b, ",");
    if (!s || !s[0]) return;
    if (!strpbrk(s, ",\"\r\n")) {
        lb_sbuf_puts(b, s);
        return;
    }
    lb_sbuf_puts(b, "\"");
    for (const char *p = s; *p; p++) {
        if (*p == '"') lb_sbuf_puts(b, "\"\"");
        else {
            char one[2] = {*p, 0};
            lb_sbuf_puts(b, one);
        }
    }
    lb_sbuf_puts(b, "\"");
}

static void csv_num(struct lb_sbuf *b, double v)
{
    if (isnan(v) || isinf(v)) lb_sbuf_puts(b, ",");
    else lb_sbuf_printf(b, ",%.10g", v);
}

static const char *const stat_cols[][2] = {
    {"n", "n"},
    {"median_ns", "median (ns)"},
    {"ci95_lo_ns", "ci95 lo (ns)"},
    {"ci95_hi_ns", "ci95 hi (ns)"},
    {"mean_ns", "mean (ns)"},
    {"min_ns", "min (ns)"},
    {"max_ns", "max (ns)"},
    {"stddev_ns", "stddev (ns)"},
};

void lb_render_csv(struct lb_sbuf *b, const struct lb_run *runs, size_t n)
{
    struct lb_group *g;
    size_t ng;
    if (lb_groups_collect(runs, n, &g, &ng) != LB_OK) {
        b->oom = true;
        return;
    }
    /* union of params and metrics over all groups, first-seen order */
    struct lb_group all = {0};
    bool oom = false;
    for (size_t k = 0; k < ng && !oom; k++) {
        for (size_t p = 0; p < g[k].n_params && !oom; p++) {
            size_t i = 0;
            while (i < all.n_params && strcmp(all.params[i], g[k].params[p])) i++;
            if (i < all.n_params) continue;
            char(*np)[64] = realloc(all.params, (all.n_params + 1) * sizeof *np);
            if (!np) {
                oom = true;
                break;
            }
            all.params = np;
            memcpy(np[all.n_params++], g[k].params[p], 64);
        }
        for (size_t m = 0; m < g[k].n_metrics && !oom; m++) {
            size_t i = 0;
            while (i < all.n_metrics && (strcmp(all.metrics[i].name, g[k].metrics[m].name) ||
                                         strcmp(all.metrics[i].unit, g[k].metrics[m].unit)))
                i++;
            if (i < all.n_metrics) continue;
            struct lb_metric_col *nm = realloc(all.metrics, (all.n_metrics + 1) * sizeof *nm);
            if (!nm) {
                oom = true;
                break;
            }
            all.metrics = nm;
            nm[all.n_metrics++] = g[k].metrics[m];
        }
    }
    lb_groups_free(g, ng);
    if (oom) {
        b->oom = true;
        goto done;
    }

    static const char *const head[] = {"run", "run label", "source", "suite", "bench",
                                       "status", "reason", "path"};
    for (size_t i = 0; i < LB_ARRAY_LEN(head); i++) csv_field(b, head[i], i == 0);
    for (size_t p = 0; p < all.n_params; p++) {
        char h[80];
        snprintf(h, sizeof h, "param %s", all.params[p]);
        csv_field(b, h, false);
    }
    for (size_t s = 0; s < LB_ARRAY_LEN(stat_cols); s++) csv_field(b, stat_cols[s][1], false);
    csv_field(b, "bytes per call (B)", false);
    csv_field(b, "ops per call", false);
    csv_field(b, "ops unit", false);
    for (size_t m = 0; m < all.n_metrics; m++) {
        char h[128];
        snprintf(h, sizeof h, "%s (%s)", all.metrics[m].name,
                 all.metrics[m].unit[0] ? all.metrics[m].unit : "1");
        csv_field(b, h, false);
    }
    lb_sbuf_puts(b, "\r\n");

    for (size_t i = 0; i < n; i++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(runs[i].doc, "results")) {
            const cJSON *params = cJSON_GetObjectItemCaseSensitive(r, "params");
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "stats");
            const cJSON *work = cJSON_GetObjectItemCaseSensitive(r, "work");
            csv_field(b, runs[i].tag, true);
            csv_field(b, runs[i].label, false);
            csv_field(b, runs[i].source, false);
            static const char *const keys[] = {"suite", "bench", "status", "reason", "path"};
            for (size_t k = 0; k < LB_ARRAY_LEN(keys); k++) csv_field(b, lb_json_str(r, keys[k]), false);
            for (size_t p = 0; p < all.n_params; p++) {
                char v[256];
                lb_param_text(params, all.params[p], v, sizeof v);
                csv_field(b, v, false);
            }
            for (size_t s = 0; s < LB_ARRAY_LEN(stat_cols); s++) csv_num(b, lb_json_num(st, stat_cols[s][0]));
            csv_num(b, lb_json_num(work, "bytes_per_call"));
            csv_num(b, lb_json_num(work, "ops_per_call"));
            csv_field(b, lb_json_str(work, "ops_unit"), false);
            for (size_t m = 0; m < all.n_metrics; m++)
                csv_num(b, lb_report_metric(r, all.metrics[m].name, all.metrics[m].unit));
            lb_sbuf_puts(b, "\r\n");
        }
    }
done:
    free(all.params);
    free(all.metrics);
}
