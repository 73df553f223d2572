/* render-html.c: one self-contained HTML page for one or more runs:
 * machine, ceilings, the chart views (inline SVG from svg.c) and a table
 * per suite+bench. No scripts, no external CSS, fonts or images, and a
 * Content-Security-Policy that forbids fetching anything, so the page is
 * the same offline, in a mail attachment or a CI artifact viewer.
 *
 * A report is untrusted input: every string from it goes through
 * lb_sbuf_put_html (a param value "<script>" shows as text).
 */
#include "lb-render.h"

#include <math.h>
#include <string.h>

#define CHART_W 900
#define CHART_H 420

static const char css[] =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:1400px}"
    "h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}"
    "table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}"
    "th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "th{background:#f2f2f2}"
    ".note{color:#555;font-size:13px;max-width:900px}"
    ".empty{color:#777;font-style:italic}"
    "svg.chart{display:block;margin:8px 0;font-size:12px;font-family:sans-serif}"
    "svg .grid{stroke:#e3e3e3;stroke-width:1}"
    "svg .frame{fill:none;stroke:#444;stroke-width:1}"
    "svg .err{stroke:#000;stroke-width:1.3;fill:none}"
    "svg .ref{stroke-width:1.8;stroke-dasharray:7 4;fill:none}"
    "svg .ttl{font-size:15px;font-weight:bold}"
    "svg .reflbl{font-size:11px;fill:#333}";

static void td_text(struct lb_sbuf *b, const char *s)
{
    lb_sbuf_puts(b, "<td>");
    lb_sbuf_put_html(b, s);
    lb_sbuf_puts(b, "</td>");
}

static void td_num(struct lb_sbuf *b, double v)
{
    if (isnan(v) || isinf(v)) lb_sbuf_puts(b, "<td class=\"n\"></td>");
    else lb_sbuf_printf(b, "<td class=\"n\">%.4g</td>", v);
}

static void th_text(struct lb_sbuf *b, const char *s)
{
    lb_sbuf_puts(b, "<th>");
    lb_sbuf_put_html(b, s);
    lb_sbuf_puts(b, "</th>");
}

static void html_runs(struct lb_sbuf *b, const struct lb_run *runs, size_t n)
{
    lb_sbuf_puts(b, "<section id=\"runs\"><h2>Runs</h2><table><tr><th>run</th><th>host, cpu, "
                    "timestamp</th><th>suite</th><th>argv</th><th>file</th></tr>\n");
    for (size_t i = 0; i < n; i++) {
        const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(runs[i].doc, "config");
        lb_sbuf_puts(b, "<tr>");
        td_text(b, runs[i].tag);
        td_text(b, runs[i].label);
        td_text(b, lb_json_str(cfg, "suite"));
        lb_sbuf_puts(b, "<td>");
        const cJSON *a;
        bool first = true;
        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(runs[i].doc, "argv")) {
            if (!cJSON_IsString(a)) continue;
            if (!first) lb_sbuf_puts(b, " ");
            lb_sbuf_put_html(b, a->valuestring);
            first = false;
        }
        lb_sbuf_puts(b, "</td>");
        td_text(b, runs[i].source);
        lb_sbuf_puts(b, "</tr>\n");
    }
    lb_sbuf_puts(b, "</table></section>\n");
}

static void html_machine(struct lb_sbuf *b, const struct lb_run *runs, size_t n)
{
    lb_sbuf_puts(b, "<section id=\"machine\"><h2>Machine</h2><table><tr><th></th>");
    for (size_t i = 0; i < n; i++) th_text(b, runs[i].tag);
    lb_sbuf_puts(b, "</tr>\n");
    struct lb_kv first[16];
    size_t nk = lb_machine_facts(runs[0].doc, first, LB_ARRAY_LEN(first));
    for (size_t k = 0; k < nk; k++) {
        lb_sbuf_puts(b, "<tr>");
        th_text(b, first[k].key);
        for (size_t i = 0; i < n; i++) {
            struct lb_kv kv[16];
            size_t m = lb_machine_facts(runs[i].doc, kv, LB_ARRAY_LEN(kv));
            td_text(b, k < m ? kv[k].val : "");
        }
        lb_sbuf_puts(b, "</tr>\n");
    }
    lb_sbuf_puts(b, "</table></section>\n");
}

static void html_ceilings(struct lb_sbuf *b, const struct lb_run *runs, size_t n)
{
    lb_sbuf_puts(b, "<section id=\"ceilings\"><h2>Ceilings</h2>\n");
    size_t rows = 0;
    for (size_t i = 0; i < n; i++) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(runs[i].doc, "ceilings");
        rows += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "rows"));
    }
    if (!rows) {
        lb_sbuf_puts(b, "<p class=\"empty\">No results of this kind: these reports carry no ceilings.</p></section>\n");
        return;
    }
    lb_sbuf_puts(b, "<p class=\"note\">Measured on the machine itself (best of the ceilings "
                    "benchmarks per thread count); efficiency figures in the tables are quoted "
                    "against these.</p><table><tr><th>run</th><th>source</th><th>measured at</th><th>threads</th>");
    for (size_t k = 0; k < LB_ARRAY_LEN(lb_ceiling_cols); k++) th_text(b, lb_ceiling_cols[k].header);
    lb_sbuf_puts(b, "</tr>\n");
    for (size_t i = 0; i < n; i++) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(runs[i].doc, "ceilings"), *row;
        cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(c, "rows")) {
            lb_sbuf_puts(b, "<tr>");
            td_text(b, runs[i].tag);
            td_text(b, lb_json_str(c, "source"));
            td_text(b, lb_json_str(c, "measured_at"));
            td_num(b, lb_json_num(row, "threads"));
            for (size_t k = 0; k < LB_ARRAY_LEN(lb_ceiling_cols); k++)
                td_num(b, lb_json_num(row, lb_ceiling_cols[k].key));
            lb_sbuf_puts(b, "</tr>\n");
        }
    }
    lb_sbuf_puts(b, "</table></section>\n");
}

/* A section holding the charts whose id starts with prefix, or a line
 * saying there is nothing of this kind. */
static void html_chart_section(struct lb_sbuf *b, const char *id, const char *heading,
                               const char *prefix, const struct lb_chart *charts, size_t nc)
{
    lb_sbuf_printf(b, "<section id=\"%s\"><h2>", id);
    lb_sbuf_put_html(b, heading);
    lb_sbuf_puts(b, "</h2>\n");
    bool any = false;
    for (size_t i = 0; i < nc; i++) {
        if (strncmp(charts[i].id, prefix, strlen(prefix))) continue;
        any = true;
        lb_svg_chart(b, &charts[i], CHART_W, CHART_H);
        lb_sbuf_puts(b, "<p class=\"note\">");
        lb_sbuf_put_html(b, charts[i].note);
        lb_sbuf_puts(b, "</p>\n");
    }
    if (!any) lb_sbuf_puts(b, "<p class=\"empty\">No results of this kind in these reports.</p>\n");
    lb_sbuf_puts(b, "</section>\n");
}

static void html_group(struct lb_sbuf *b, const struct lb_run *runs, size_t n, const struct lb_group *g)
{
    double div;
    const char *tu = lb_time_unit(g->min_median_ns, &div);
    lb_sbuf_puts(b, "<h3>");
    lb_sbuf_put_html(b, g->suite);
    lb_sbuf_puts(b, " / ");
    lb_sbuf_put_html(b, g->bench);
    lb_sbuf_puts(b, "</h3>\n<table><tr><th>run</th>");
    for (size_t p = 0; p < g->n_params; p++) th_text(b, g->params[p]);
    if (g->any_path) th_text(b, "path");
    lb_sbuf_printf(b, "<th>status</th><th>n</th><th>median (%s)</th><th>ci95 lo (%s)</th><th>ci95 hi (%s)</th>",
                   tu, tu, tu);
    for (size_t m = 0; m < g->n_metrics; m++) {
        char h[128];
        snprintf(h, sizeof h, "%s (%s)", g->metrics[m].name, g->metrics[m].unit[0] ? g->metrics[m].unit : "1");
        th_text(b, h);
    }
    if (g->any_reason) th_text(b, "reason");
    lb_sbuf_puts(b, "</tr>\n");
    for (size_t i = 0; i < n; i++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(runs[i].doc, "results")) {
            if (strncmp(lb_json_str(r, "suite"), g->suite, sizeof g->suite - 1) ||
                strncmp(lb_json_str(r, "bench"), g->bench, sizeof g->bench - 1))
                continue;
            const cJSON *params = cJSON_GetObjectItemCaseSensitive(r, "params");
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "stats");
            lb_sbuf_puts(b, "<tr>");
            td_text(b, runs[i].tag);
            for (size_t p = 0; p < g->n_params; p++) {
                char v[256];
                lb_param_text(params, g->params[p], v, sizeof v);
                td_text(b, v);
            }
            if (g->any_path) td_text(b, lb_json_str(r, "path"));
            td_text(b, lb_json_str(r, "status"));
            td_num(b, lb_json_num(st, "n"));
            td_num(b, lb_json_num(st, "median_ns") / div);
            td_num(b, lb_json_num(st, "ci95_lo_ns") / div);
            td_num(b, lb_json_num(st, "ci95_hi_ns") / div);
            for (size_t m = 0; m < g->n_metrics; m++)
                td_num(b, lb_report_metric(r, g->metrics[m].name, g->metrics[m].unit));
            if (g->any_reason) td_text(b, lb_json_str(r, "reason"));
            lb_sbuf_puts(b, "</tr>\n");
        }
    }
    lb_sbuf_puts(b, "</table>\n");
}

void lb_render_html(struct lb_sbuf *b, const struct lb_run *runs, size_t n,
                    const struct lb_chart *charts, size_t n_charts,
                    const struct lb_render_opts *o)
{
    lb_sbuf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                      "style-src 'unsafe-inline'\">"
                      "<meta name=\"viewport\" content=\"width=device-width\">"
                      "<title>llmbench report</title><style>%s</style></head><body>\n"
                      "<h1>llmbench report</h1>\n",
                   css);
    html_runs(b, runs, n);
    if (o && o->charts_note) {
        lb_sbuf_puts(b, "<p class=\"note\">");
        lb_sbuf_put_html(b, o->charts_note);
        lb_sbuf_puts(b, "</p>\n");
    }
    html_machine(b, runs, n);
    html_ceilings(b, runs, n);
    html_chart_section(b, "decode", "Decode tokens/s per quantization", "decode-", charts, n_charts);
    html_chart_section(b, "gemv", "GEMV bandwidth over matrix size", "gemv-", charts, n_charts);
    html_chart_section(b, "attention", "Attention bandwidth over context length", "attention-", charts,
                       n_charts);
    html_chart_section(b, "threads", "Thread scaling", "threads", charts, n_charts);
    html_chart_section(b, "roofline", "Roofline", "roofline", charts, n_charts);

    lb_sbuf_puts(b, "<section id=\"tables\"><h2>Results</h2>\n");
    struct lb_group *g;
    size_t ng;
    if (lb_groups_collect(runs, n, &g, &ng) != LB_OK) {
        b->oom = true;
        return;
    }
    if (!ng) lb_sbuf_puts(b, "<p class=\"empty\">No results in these reports.</p>\n");
    for (size_t k = 0; k < ng; k++) html_group(b, runs, n, &g[k]);
    lb_groups_free(g, ng);
    lb_sbuf_puts(b, "</section>\n</body></html>\n");
}

char *lb_render_json(const struct lb_run *runs, size_t n)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddStringToObject(root, "format", "llmbench-report-bundle");
    cJSON_AddNumberToObject(root, "schema_version", LB_REPORT_SCHEMA_VERSION);
    cJSON *arr = cJSON_AddArrayToObject(root, "runs");
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "tag", runs[i].tag);
        cJSON_AddStringToObject(o, "label", runs[i].label);
        cJSON_AddStringToObject(o, "source", runs[i].source);
        cJSON_AddItemToObject(o, "report", cJSON_Duplicate(runs[i].doc, 1));
    }
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    return s;
}
