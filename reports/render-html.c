/* render-html.c: one self-contained HTML page for one or more runs:
 * machine, ceilings, the chart views (inline SVG from svg.c) and a table
 * per suite+bench. No scripts, no external CSS, fonts or images, and a
 * Content-Security-Policy that forbids fetching anything, so the page is
 * the same offline, in a mail attachment or a CI artifact viewer.
 *
 * A report is untrusted input: every string from it goes through
 * lb_sbuf_put_html (a param value "<script>" shows as text). The tables
 * are built in render-table.c; this file only writes their markup.
 */
#include "lb-render.h"

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

static void html_cell(struct lb_sbuf *b, const char *tag, const char *s)
{
    lb_sbuf_printf(b, "<%s>", tag);
    lb_sbuf_put_html(b, s);
    lb_sbuf_printf(b, "</%s>", tag);
}

/* <table>, a header row, a row per table row; numbers right-aligned
 * (td.n), the row-naming first column as <th>. */
static void html_table(struct lb_sbuf *b, const struct lb_table *t)
{
    lb_sbuf_puts(b, "<table><tr>");
    for (size_t c = 0; c < t->n_cols; c++) html_cell(b, "th", t->headers[c]);
    lb_sbuf_puts(b, "</tr>\n");
    for (size_t r = 0; r < t->n_rows; r++) {
        lb_sbuf_puts(b, "<tr>");
        for (size_t c = 0; c < t->n_cols; c++) {
            const struct lb_cell *cell = &t->cells[r * t->n_cols + c];
            char num[32];
            if (!t->num_col[c]) {
                html_cell(b, c == 0 && t->row_headers ? "th" : "td", cell->text);
                continue;
            }
            lb_table_num_text(cell->num, num, sizeof num);
            lb_sbuf_printf(b, "<td class=\"n\">%s</td>", num);
        }
        lb_sbuf_puts(b, "</tr>\n");
    }
    lb_sbuf_puts(b, "</table>");
}

/* <section id=ID><h2>heading</h2>, the table built by make (after an
 * optional note; or the empty line when it has no rows), </section>. */
static void html_section(struct lb_sbuf *b, const char *id, const char *heading, const char *note,
                         const char *empty_line,
                         enum lb_status (*make)(const struct lb_run *, size_t, struct lb_table *),
                         const struct lb_run *runs, size_t n)
{
    struct lb_table t;
    if (make(runs, n, &t) != LB_OK) {
        b->oom = true;
        return;
    }
    lb_sbuf_printf(b, "<section id=\"%s\"><h2>%s</h2>", id, heading);
    if (!t.n_rows && empty_line) {
        lb_sbuf_printf(b, "\n<p class=\"empty\">%s</p>", empty_line);
    } else {
        if (note) lb_sbuf_printf(b, "\n<p class=\"note\">%s</p>", note);
        html_table(b, &t);
    }
    lb_sbuf_puts(b, "</section>\n");
    lb_table_free(&t);
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
    html_section(b, "runs", "Runs", NULL, NULL, lb_table_runs, runs, n);
    if (o && o->charts_note) {
        lb_sbuf_puts(b, "<p class=\"note\">");
        lb_sbuf_put_html(b, o->charts_note);
        lb_sbuf_puts(b, "</p>\n");
    }
    html_section(b, "machine", "Machine", NULL, NULL, lb_table_machine, runs, n);
    html_section(b, "ceilings", "Ceilings",
                 "Measured on the machine itself (best of the ceilings benchmarks per thread "
                 "count); efficiency figures in the tables are quoted against these.",
                 "No results of this kind: these reports carry no ceilings.", lb_table_ceilings, runs, n);
    html_chart_section(b, "decode", "Decode tokens/s per quantization", "decode-", charts, n_charts);
    html_chart_section(b, "gemv", "GEMV bandwidth over matrix size", "gemv-", charts, n_charts);
    html_chart_section(b, "attention", "Attention bandwidth over context length", "attention-", charts,
                       n_charts);
    html_chart_section(b, "threads", "Thread scaling", "threads", charts, n_charts);
    html_chart_section(b, "roofline", "Roofline", "roofline", charts, n_charts);

    lb_sbuf_puts(b, "<section id=\"tables\"><h2>Results</h2>\n");
    struct lb_table *t;
    size_t nt;
    if (lb_tables_results(runs, n, &t, &nt) != LB_OK) {
        b->oom = true;
        return;
    }
    if (!nt) lb_sbuf_puts(b, "<p class=\"empty\">No results in these reports.</p>\n");
    for (size_t k = 0; k < nt; k++) {
        html_cell(b, "h3", t[k].title);
        lb_sbuf_puts(b, "\n");
        html_table(b, &t[k]);
        lb_sbuf_puts(b, "\n");
    }
    lb_tables_free(t, nt);
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
