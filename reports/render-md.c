/* render-md.c: markdown report: runs, machine, ceilings, then one table
 * per suite+bench with a row per result of every run (the "run" column
 * puts machines side by side). Units sit in the headers, never in cells,
 * so a column can be pasted into a spreadsheet.
 *
 * Cells are escaped: '|' would split a cell, a newline would end the
 * table, and '<' '&' would be read as inline HTML by most viewers.
 */
#include "lb-render.h"

#include <math.h>
#include <string.h>

static void md_cell(struct lb_sbuf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '|': lb_sbuf_puts(b, "\\|"); break;
        case '\\': lb_sbuf_puts(b, "\\\\"); break;
        case '<': lb_sbuf_puts(b, "&lt;"); break;
        case '>': lb_sbuf_puts(b, "&gt;"); break;
        case '&': lb_sbuf_puts(b, "&amp;"); break;
        case '`': lb_sbuf_puts(b, "\\`"); break;
        case '\n': case '\r': case '\t': lb_sbuf_puts(b, " "); break;
        default: {
            char one[2] = {(unsigned char)*s < 0x20 ? '?' : *s, 0};
            lb_sbuf_puts(b, one);
        }
        }
    }
}

static void md_num(struct lb_sbuf *b, double v)
{
    if (isnan(v)) lb_sbuf_puts(b, " |");
    else lb_sbuf_printf(b, " %.4g |", v);
}

static void md_runs(struct lb_sbuf *b, const struct lb_run *runs, size_t n)
{
    lb_sbuf_puts(b, "## Runs\n\n| run | host, cpu, timestamp | suite | file |\n|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(runs[i].doc, "config");
        lb_sbuf_printf(b, "| %s | ", runs[i].tag);
        md_cell(b, runs[i].label);
        lb_sbuf_puts(b, " | ");
        md_cell(b, lb_json_str(cfg, "suite"));
        lb_sbuf_puts(b, " | ");
        md_cell(b, runs[i].source);
        lb_sbuf_puts(b, " |\n");
    }
    lb_sbuf_puts(b, "\n");
}

static void md_machine(struct lb_sbuf *b, const struct lb_run *runs, size_t n)
{
    lb_sbuf_puts(b, "## Machine\n\n| |");
    for (size_t i = 0; i < n; i++) lb_sbuf_printf(b, " %s |", runs[i].tag);
    lb_sbuf_puts(b, "\n|---|");
    for (size_t i = 0; i < n; i++) lb_sbuf_puts(b, "---|");
    lb_sbuf_puts(b, "\n");
    struct lb_kv first[16];
    size_t nk = lb_machine_facts(runs[0].doc, first, LB_ARRAY_LEN(first));
    for (size_t k = 0; k < nk; k++) {
        lb_sbuf_puts(b, "| ");
        md_cell(b, first[k].key);
        lb_sbuf_puts(b, " |");
        for (size_t i = 0; i < n; i++) {
            struct lb_kv kv[16];
            size_t m = lb_machine_facts(runs[i].doc, kv, LB_ARRAY_LEN(kv));
            lb_sbuf_puts(b, " ");
            if (k < m) md_cell(b, kv[k].val);
            lb_sbuf_puts(b, " |");
        }
        lb_sbuf_puts(b, "\n");
    }
    lb_sbuf_puts(b, "\n");
}

static void md_ceilings(struct lb_sbuf *b, const struct lb_run *runs, size_t n)
{
    lb_sbuf_puts(b, "## Ceilings\n\n");
    size_t rows = 0;
    for (size_t i = 0; i < n; i++) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(runs[i].doc, "ceilings");
        rows += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "rows"));
    }
    if (!rows) {
        lb_sbuf_puts(b, "No ceilings in these reports.\n\n");
        return;
    }
    lb_sbuf_puts(b, "| run | source | threads |");
    for (size_t k = 0; k < LB_ARRAY_LEN(lb_ceiling_cols); k++)
        lb_sbuf_printf(b, " %s |", lb_ceiling_cols[k].header);
    lb_sbuf_puts(b, "\n|---|---|---:|");
    for (size_t k = 0; k < LB_ARRAY_LEN(lb_ceiling_cols); k++) lb_sbuf_puts(b, "---:|");
    lb_sbuf_puts(b, "\n");
    for (size_t i = 0; i < n; i++) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(runs[i].doc, "ceilings"), *row;
        cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(c, "rows")) {
            lb_sbuf_printf(b, "| %s | ", runs[i].tag);
            md_cell(b, lb_json_str(c, "source"));
            lb_sbuf_puts(b, " |");
            md_num(b, lb_json_num(row, "threads"));
            for (size_t k = 0; k < LB_ARRAY_LEN(lb_ceiling_cols); k++)
                md_num(b, lb_json_num(row, lb_ceiling_cols[k].key));
            lb_sbuf_puts(b, "\n");
        }
    }
    lb_sbuf_puts(b, "\n");
}

static void md_group(struct lb_sbuf *b, const struct lb_run *runs, size_t n, const struct lb_group *g)
{
    double div;
    const char *tu = lb_time_unit(g->min_median_ns, &div);
    lb_sbuf_puts(b, "### ");
    md_cell(b, g->suite);
    lb_sbuf_puts(b, " / ");
    md_cell(b, g->bench);
    lb_sbuf_puts(b, "\n\n| run |");
    size_t ncol = 1;
    for (size_t p = 0; p < g->n_params; p++, ncol++) {
        lb_sbuf_puts(b, " ");
        md_cell(b, g->params[p]);
        lb_sbuf_puts(b, " |");
    }
    if (g->any_path) {
        lb_sbuf_puts(b, " path |");
        ncol++;
    }
    lb_sbuf_printf(b, " status | n | median (%s) | ci95 lo (%s) | ci95 hi (%s) |", tu, tu, tu);
    ncol += 5;
    for (size_t m = 0; m < g->n_metrics; m++, ncol++) {
        lb_sbuf_puts(b, " ");
        md_cell(b, g->metrics[m].name);
        lb_sbuf_puts(b, " (");
        md_cell(b, g->metrics[m].unit[0] ? g->metrics[m].unit : "1");
        lb_sbuf_puts(b, ") |");
    }
    if (g->any_reason) {
        lb_sbuf_puts(b, " reason |");
        ncol++;
    }
    lb_sbuf_puts(b, "\n|");
    for (size_t c = 0; c < ncol; c++) lb_sbuf_puts(b, "---|");
    lb_sbuf_puts(b, "\n");
    for (size_t i = 0; i < n; i++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(runs[i].doc, "results")) {
            if (strncmp(lb_json_str(r, "suite"), g->suite, sizeof g->suite - 1) ||
                strncmp(lb_json_str(r, "bench"), g->bench, sizeof g->bench - 1))
                continue;
            const cJSON *params = cJSON_GetObjectItemCaseSensitive(r, "params");
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "stats");
            lb_sbuf_printf(b, "| %s |", runs[i].tag);
            for (size_t p = 0; p < g->n_params; p++) {
                char v[256];
                lb_param_text(params, g->params[p], v, sizeof v);
                lb_sbuf_puts(b, " ");
                md_cell(b, v);
                lb_sbuf_puts(b, " |");
            }
            if (g->any_path) {
                lb_sbuf_puts(b, " ");
                md_cell(b, lb_json_str(r, "path"));
                lb_sbuf_puts(b, " |");
            }
            lb_sbuf_puts(b, " ");
            md_cell(b, lb_json_str(r, "status"));
            lb_sbuf_puts(b, " |");
            md_num(b, lb_json_num(st, "n"));
            md_num(b, lb_json_num(st, "median_ns") / div);
            md_num(b, lb_json_num(st, "ci95_lo_ns") / div);
            md_num(b, lb_json_num(st, "ci95_hi_ns") / div);
            for (size_t m = 0; m < g->n_metrics; m++)
                md_num(b, lb_report_metric(r, g->metrics[m].name, g->metrics[m].unit));
            if (g->any_reason) {
                lb_sbuf_puts(b, " ");
                md_cell(b, lb_json_str(r, "reason"));
                lb_sbuf_puts(b, " |");
            }
            lb_sbuf_puts(b, "\n");
        }
    }
    lb_sbuf_puts(b, "\n");
}

void lb_render_md(struct lb_sbuf *b, const struct lb_run *runs, size_t n,
                  const struct lb_render_opts *o)
{
    lb_sbuf_puts(b, "# llmbench report\n\n");
    md_runs(b, runs, n);
    if (o && o->charts_note) {
        lb_sbuf_puts(b, "## Charts\n\n");
        md_cell(b, o->charts_note);
        lb_sbuf_puts(b, "\n\n");
        if (o->chart_files && o->chart_files->s) {
            /* links relative to the charts directory as given */
            const char *s = o->chart_files->s;
            while (*s) {
                const char *nl = strchr(s, '\n');
                size_t len = nl ? (size_t)(nl - s) : strlen(s);
                if (len > 4 && !strncmp(s + len - 4, ".png", 4)) {
                    char name[256];
                    snprintf(name, sizeof name, "%.*s", (int)len, s);
                    lb_sbuf_puts(b, "![");
                    md_cell(b, name);
                    lb_sbuf_puts(b, "](");
                    md_cell(b, o->charts_dir);
                    lb_sbuf_puts(b, "/");
                    md_cell(b, name);
                    lb_sbuf_puts(b, ")\n");
                }
                s += len + (nl ? 1 : 0);
            }
            lb_sbuf_puts(b, "\n");
        }
    }
    md_machine(b, runs, n);
    md_ceilings(b, runs, n);
    lb_sbuf_puts(b, "## Results\n\n");
    struct lb_group *g;
    size_t ng;
    if (lb_groups_collect(runs, n, &g, &ng) != LB_OK) {
        b->oom = true;
        return;
    }
    if (!ng) lb_sbuf_puts(b, "No results in these reports.\n");
    for (size_t k = 0; k < ng; k++) md_group(b, runs, n, &g[k]);
    lb_groups_free(g, ng);
}
