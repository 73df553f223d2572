/* render-table.c: the tables of a report, built once from the JSON as
 * `struct lb_table` (headers with units, cells as text or number) so the
 * markdown, HTML and CSV writers only add markup and escaping. Before,
 * each writer walked the documents itself and the walks drifted apart.
 *
 * Reports are untrusted input: a missing or wrongly typed field gives an
 * empty cell, and every string is copied, so a table outlives nothing.
 */
#include "lb-render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *dup_str(const char *s)
{
    size_t n = strlen(s ? s : "");
    char *d = malloc(n + 1);
    if (d) memcpy(d, s ? s : "", n + 1);
    return d;
}

/* Adds a column; all columns come before the first row. */
static void col_add(struct lb_table *t, const char *header, bool num)
{
    if (t->oom) return;
    LB_ASSERT(t->n_rows == 0);
    char **h = realloc(t->headers, (t->n_cols + 1) * sizeof *h);
    if (h) t->headers = h;
    bool *nc = h ? realloc(t->num_col, (t->n_cols + 1) * sizeof *nc) : NULL;
    if (nc) t->num_col = nc;
    char *s = nc ? dup_str(header) : NULL;
    if (!s) {
        t->oom = true;
        return;
    }
    h[t->n_cols] = s;
    nc[t->n_cols] = num;
    t->n_cols++;
}

/* Starts a row; its cells are filled left to right by cell_text/cell_num. */
static void row_add(struct lb_table *t)
{
    if (t->oom) return;
    LB_ASSERT(t->filled == t->n_rows * t->n_cols);
    struct lb_cell *c = realloc(t->cells, (t->n_rows + 1) * t->n_cols * sizeof *c);
    if (!c) {
        t->oom = true;
        return;
    }
    t->cells = c;
    for (size_t k = 0; k < t->n_cols; k++) c[t->n_rows * t->n_cols + k] = (struct lb_cell){NULL, NAN};
    t->n_rows++;
}

static void cell_text(struct lb_table *t, const char *s)
{
    if (t->oom) return;
    LB_ASSERT(t->filled < t->n_rows * t->n_cols && !t->num_col[t->filled % t->n_cols]);
    struct lb_cell *c = &t->cells[t->filled++];
    if (!(c->text = dup_str(s))) t->oom = true;
}

static void cell_num(struct lb_table *t, double v)
{
    if (t->oom) return;
    LB_ASSERT(t->filled < t->n_rows * t->n_cols && t->num_col[t->filled % t->n_cols]);
    t->cells[t->filled++].num = v;
}

static enum lb_status table_done(struct lb_table *t)
{
    if (!t->oom) return LB_OK;
    lb_table_free(t);
    return LB_ENOMEM;
}

void lb_table_free(struct lb_table *t)
{
    for (size_t k = 0; k < t->n_cols; k++) free(t->headers[k]);
    for (size_t i = 0; t->cells && i < t->n_rows * t->n_cols; i++) free(t->cells[i].text);
    free(t->headers);
    free(t->num_col);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

void lb_table_num_text(double v, char *buf, size_t len)
{
    if (isfinite(v)) snprintf(buf, len, "%.4g", v);
    else if (len) buf[0] = '\0';
}

enum lb_status lb_table_runs(const struct lb_run *runs, size_t n, struct lb_table *t)
{
    memset(t, 0, sizeof *t);
    static const char *const head[] = {"run", "host, cpu, timestamp", "suite", "argv", "file"};
    for (size_t k = 0; k < LB_ARRAY_LEN(head); k++) col_add(t, head[k], false);
    for (size_t i = 0; i < n && !t->oom; i++) {
        const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(runs[i].doc, "config");
        struct lb_sbuf argv = {0};
        const cJSON *a;
        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(runs[i].doc, "argv")) {
            if (!cJSON_IsString(a)) continue;
            if (argv.len) lb_sbuf_puts(&argv, " ");
            lb_sbuf_puts(&argv, a->valuestring);
        }
        if (argv.oom) t->oom = true;
        row_add(t);
        cell_text(t, runs[i].tag);
        cell_text(t, runs[i].label);
        cell_text(t, lb_json_str(cfg, "suite"));
        cell_text(t, argv.s);
        cell_text(t, runs[i].source);
        lb_sbuf_free(&argv);
    }
    return table_done(t);
}

enum lb_status lb_table_machine(const struct lb_run *runs, size_t n, struct lb_table *t)
{
    memset(t, 0, sizeof *t);
    t->row_headers = true;
    col_add(t, "", false);
    for (size_t i = 0; i < n; i++) col_add(t, runs[i].tag, false);
    /* the keys are the same for every run; the first run's name the rows */
    struct lb_kv first[16];
    size_t nk = n ? lb_machine_facts(runs[0].doc, first, LB_ARRAY_LEN(first)) : 0;
    for (size_t k = 0; k < nk && !t->oom; k++) {
        row_add(t);
        cell_text(t, first[k].key);
        for (size_t i = 0; i < n; i++) {
            struct lb_kv kv[16];
            size_t m = lb_machine_facts(runs[i].doc, kv, LB_ARRAY_LEN(kv));
            cell_text(t, k < m ? kv[k].val : "");
        }
    }
    return table_done(t);
}

enum lb_status lb_table_ceilings(const struct lb_run *runs, size_t n, struct lb_table *t)
{
    memset(t, 0, sizeof *t);
    col_add(t, "run", false);
    col_add(t, "source", false);
    col_add(t, "measured at", false);
    col_add(t, "threads", true);
    for (size_t k = 0; k < LB_ARRAY_LEN(lb_ceiling_cols); k++) col_add(t, lb_ceiling_cols[k].header, true);
    for (size_t i = 0; i < n; i++) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(runs[i].doc, "ceilings"), *row;
        cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(c, "rows")) {
            row_add(t);
            cell_text(t, runs[i].tag);
            cell_text(t, lb_json_str(c, "source"));
            cell_text(t, lb_json_str(c, "measured_at"));
            cell_num(t, lb_json_num(row, "threads"));
            for (size_t k = 0; k < LB_ARRAY_LEN(lb_ceiling_cols); k++)
                cell_num(t, lb_json_num(row, lb_ceiling_cols[k].key));
        }
    }
    return table_done(t);
}

static void metric_header(struct lb_table *t, const struct lb_metric_col *m)
{
    char h[160];
    snprintf(h, sizeof h, "%s (%s)", m->name, m->unit[0] ? m->unit : "1");
    col_add(t, h, true);
}

static bool in_group(const cJSON *r, const struct lb_group *g)
{
    return !strncmp(lb_json_str(r, "suite"), g->suite, sizeof g->suite - 1) &&
           !strncmp(lb_json_str(r, "bench"), g->bench, sizeof g->bench - 1);
}

enum lb_status lb_table_group(const struct lb_run *runs, size_t n, const struct lb_group *g,
                              struct lb_table *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->title, sizeof t->title, "%s / %s", g->suite, g->bench);
    double div;
    const char *tu = lb_time_unit(g->min_median_ns, &div);
    char h[64];
    col_add(t, "run", false);
    for (size_t p = 0; p < g->n_params; p++) col_add(t, g->params[p], false);
    if (g->any_path) col_add(t, "path", false);
    col_add(t, "status", false);
    col_add(t, "n", true);
    snprintf(h, sizeof h, "median (%s)", tu);
    col_add(t, h, true);
    snprintf(h, sizeof h, "ci95 lo (%s)", tu);
    col_add(t, h, true);
    snprintf(h, sizeof h, "ci95 hi (%s)", tu);
    col_add(t, h, true);
    for (size_t m = 0; m < g->n_metrics; m++) metric_header(t, &g->metrics[m]);
    if (g->any_reason) col_add(t, "reason", false);
    for (size_t i = 0; i < n; i++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(runs[i].doc, "results")) {
            if (!in_group(r, g)) continue;
            const cJSON *params = cJSON_GetObjectItemCaseSensitive(r, "params");
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "stats");
            row_add(t);
            cell_text(t, runs[i].tag);
            for (size_t p = 0; p < g->n_params; p++) {
                char v[256];
                lb_param_text(params, g->params[p], v, sizeof v);
                cell_text(t, v);
            }
            if (g->any_path) cell_text(t, lb_json_str(r, "path"));
            cell_text(t, lb_json_str(r, "status"));
            cell_num(t, lb_json_num(st, "n"));
            cell_num(t, lb_json_num(st, "median_ns") / div);
            cell_num(t, lb_json_num(st, "ci95_lo_ns") / div);
            cell_num(t, lb_json_num(st, "ci95_hi_ns") / div);
            for (size_t m = 0; m < g->n_metrics; m++)
                cell_num(t, lb_report_metric(r, g->metrics[m].name, g->metrics[m].unit));
            if (g->any_reason) cell_text(t, lb_json_str(r, "reason"));
        }
    }
    return table_done(t);
}

enum lb_status lb_tables_results(const struct lb_run *runs, size_t n, struct lb_table **out,
                                 size_t *n_out)
{
    struct lb_group *g;
    size_t ng;
    *out = NULL;
    *n_out = 0;
    if (lb_groups_collect(runs, n, &g, &ng) != LB_OK) return LB_ENOMEM;
    struct lb_table *t = calloc(ng ? ng : 1, sizeof *t);
    enum lb_status st = t ? LB_OK : LB_ENOMEM;
    size_t k = 0;
    for (; k < ng && st == LB_OK; k++) st = lb_table_group(runs, n, &g[k], &t[k]);
    lb_groups_free(g, ng);
    if (st != LB_OK) {
        lb_tables_free(t, k);
        return st;
    }
    *out = t;
    *n_out = ng;
    return LB_OK;
}

void lb_tables_free(struct lb_table *t, size_t n)
{
    for (size_t k = 0; t && k < n; k++) lb_table_free(&t[k]);
    free(t);
}

/* CSV keeps every statistic, in ns (no display unit loses precision). */
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

enum lb_status lb_table_all_results(const struct lb_run *runs, size_t n, struct lb_table *t)
{
    memset(t, 0, sizeof *t);
    struct lb_group *all;
    if (lb_groups_union(runs, n, &all) != LB_OK) return LB_ENOMEM;
    static const char *const head[] = {"run", "run label", "source", "suite", "bench",
                                       "status", "reason", "path"};
    for (size_t k = 0; k < LB_ARRAY_LEN(head); k++) col_add(t, head[k], false);
    for (size_t p = 0; p < all->n_params; p++) {
        char h[80];
        snprintf(h, sizeof h, "param %s", all->params[p]);
        col_add(t, h, false);
    }
    for (size_t s = 0; s < LB_ARRAY_LEN(stat_cols); s++) col_add(t, stat_cols[s][1], true);
    col_add(t, "bytes per call (B)", true);
    col_add(t, "ops per call", true);
    col_add(t, "ops unit", false);
    for (size_t m = 0; m < all->n_metrics; m++) metric_header(t, &all->metrics[m]);
    for (size_t i = 0; i < n; i++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(runs[i].doc, "results")) {
            const cJSON *params = cJSON_GetObjectItemCaseSensitive(r, "params");
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "stats");
            const cJSON *work = cJSON_GetObjectItemCaseSensitive(r, "work");
            row_add(t);
            cell_text(t, runs[i].tag);
            cell_text(t, runs[i].label);
            cell_text(t, runs[i].source);
            for (size_t k = 3; k < LB_ARRAY_LEN(head); k++) cell_text(t, lb_json_str(r, head[k]));
            for (size_t p = 0; p < all->n_params; p++) {
                char v[256];
                lb_param_text(params, all->params[p], v, sizeof v);
                cell_text(t, v);
            }
            for (size_t s = 0; s < LB_ARRAY_LEN(stat_cols); s++) cell_num(t, lb_json_num(st, stat_cols[s][0]));
            cell_num(t, lb_json_num(work, "bytes_per_call"));
            cell_num(t, lb_json_num(work, "ops_per_call"));
            cell_text(t, lb_json_str(work, "ops_unit"));
            for (size_t m = 0; m < all->n_metrics; m++)
                cell_num(t, lb_report_metric(r, all->metrics[m].name, all->metrics[m].unit));
        }
    }
    lb_groups_free(all, 1);
    return table_done(t);
}
