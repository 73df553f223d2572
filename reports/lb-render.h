/* lb-render.h: renderers of one or more JSON reports for people and tools:
 * markdown and CSV tables, a self-contained HTML page with inline SVG
 * charts, a merged JSON bundle, and PNG/SVG charts through gnuplot.
 *
 * Everything here reads only the JSON documents (lb_report_read has
 * checked their skeleton), so a report from another machine or last month
 * renders the same. Every string in a report is untrusted: renderers
 * escape it for their format (HTML entities, RFC 4180 quotes, markdown
 * pipes) and the gnuplot path passes only a whitelisted character set.
 *
 * The charts exist once, as `struct lb_chart` (render-charts.c builds
 * them from the documents); the SVG writer (svg.c) and gnuplot
 * (render-gnuplot.c + reports/gnuplot/ *.gp) draw the same views.
 */
#ifndef LB_RENDER_H
#define LB_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "lb-report.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Growable text buffer. A failed allocation sets oom and drops further
 * output, so callers check once at the end instead of after every line. */
struct lb_sbuf {
    char *s;
    size_t len, cap;
    bool oom;
};

void lb_sbuf_printf(struct lb_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lb_sbuf_puts(struct lb_sbuf *b, const char *s);
void lb_sbuf_free(struct lb_sbuf *b);
/* Escapes for HTML/XML text and attribute values (& < > " '). */
void lb_sbuf_put_html(struct lb_sbuf *b, const char *s);

/* One input report. tag is "R1", "R2", ... in command-line order; label
 * says where and when it ran ("host, cpu model, timestamp"). */
struct lb_run {
    const char *source;     /* path it was read from */
    const cJSON *doc;       /* borrowed; checked by lb_report_read */
    char tag[8];
    char label[256];
};

/* Fills tag and label of runs[0..n). */
void lb_runs_label(struct lb_run *runs, size_t n);

/* ---- charts ---- */

enum lb_chart_kind {
    LB_CHART_XY,    /* lines with points; x numeric */
    LB_CHART_BARS,  /* grouped bars over categories; x = category index */
};

enum lb_ref_kind {
    LB_REF_HLINE,   /* y = value over the whole x range */
    LB_REF_SLOPE,   /* y = value * x (roofline bandwidth roof) */
};

struct lb_series {
    char label[160];
    size_t n, cap;
    double *x, *y;
    double *ylo, *yhi;  /* error bar ends; NAN when there is none */
};

struct lb_refline {
    enum lb_ref_kind kind;
    double value;       /* y value (HLINE) or slope (SLOPE), in the y unit */
    char label[160];
};

#define LB_CHART_CAT_LEN 96

struct lb_chart {
    char id[32];            /* file stem for gnuplot output, [a-z0-9-] */
    char title[160], xlabel[96], ylabel[96];
    enum lb_chart_kind kind;
    bool xlog, ylog;
    bool scatter;           /* points only (roofline), no connecting lines */
    char (*cats)[LB_CHART_CAT_LEN];   /* bar categories, n_cats of them */
    size_t n_cats;
    struct lb_series *series;
    size_t n_series;
    struct lb_refline *refs;
    size_t n_refs;
    char note[256];         /* one line under the chart: what it shows */
};

/* The views of a set of runs, in page order: decode tok/s per quant
 * (bars with CI error bars), GEMV GB/s over weight size with the read
 * ceiling, attention GB/s over context, thread scaling, roofline. A view
 * with no data is left out. */
enum lb_status lb_charts_build(const struct lb_run *runs, size_t n_runs,
                               struct lb_chart **out, size_t *n_out,
                               struct lb_error *err);
void lb_charts_free(struct lb_chart *charts, size_t n);

/* Inline SVG of one chart (width x height px), readable without scripts. */
void lb_svg_chart(struct lb_sbuf *b, const struct lb_chart *c, int width, int height);

/* Draws each chart to DIR/<id>.png (pngcairo) and DIR/<id>.svg through
 * gnuplot found on PATH, with the scripts of reports/gnuplot (looked up
 * in $LLMBENCH_GNUPLOT_DIR, then the source tree). Returns LB_OK with
 * *n_written files and a one-line summary in note; when gnuplot or the
 * scripts are missing returns LB_EUNSUPPORTED with note = "charts
 * skipped: <why>". Files appear whole (temp name + rename). */
enum lb_status lb_gnuplot_charts(const struct lb_chart *charts, size_t n,
                                 const char *dir, struct lb_sbuf *files,
                                 size_t *n_written, char *note, size_t note_len,
                                 struct lb_error *err);

/* ---- documents ---- */

struct lb_render_opts {
    const char *charts_dir;     /* where gnuplot charts went; NULL: none */
    const char *charts_note;    /* "charts: N files in DIR" or "charts skipped: ..." */
    const struct lb_sbuf *chart_files; /* newline-separated file names in charts_dir */
};

void lb_render_md(struct lb_sbuf *b, const struct lb_run *runs, size_t n,
                  const struct lb_render_opts *o);
void lb_render_csv(struct lb_sbuf *b, const struct lb_run *runs, size_t n);
void lb_render_html(struct lb_sbuf *b, const struct lb_run *runs, size_t n,
                    const struct lb_chart *charts, size_t n_charts,
                    const struct lb_render_opts *o);
/* {"format": "llmbench-report-bundle", "runs": [{"tag", "label", "source",
 * "report"}]} with each report passed through unchanged. */
char *lb_render_json(const struct lb_run *runs, size_t n);

/* ---- helpers shared by the table renderers (render-common.c) ---- */

/* Result groups: the results of all runs with the same suite and bench,
 * in first-seen order, with the union of their parameter names and of
 * their metric (name, unit) pairs. */
struct lb_metric_col {
    char name[64];
    char unit[32];
};

struct lb_group {
    char suite[64], bench[64];
    char (*params)[64];
    size_t n_params;
    struct lb_metric_col *metrics;
    size_t n_metrics;
    bool any_reason, any_path;
    double min_median_ns;   /* smallest positive median; picks the time unit */
};

enum lb_status lb_groups_collect(const struct lb_run *runs, size_t n,
                                 struct lb_group **out, size_t *n_out);
/* One group (suite and bench left empty) whose params and metrics are the
 * union over all groups, in group order then first-seen order: the
 * columns of the CSV. Free with lb_groups_free(*out, 1). */
enum lb_status lb_groups_union(const struct lb_run *runs, size_t n, struct lb_group **out);
void lb_groups_free(struct lb_group *g, size_t n);

/* Time unit for a column whose smallest value is min_ns: "ns", "us",
 * "ms", "s" and its divisor. */
const char *lb_time_unit(double min_ns, double *div);
/* Value of metric (name, unit) of a result, NAN when absent or null. */
double lb_report_metric(const cJSON *r, const char *name, const char *unit);
/* Parameter value as text ("" when absent); numbers with %.10g. */
void lb_param_text(const cJSON *params, const char *name, char *buf, size_t len);
/* Number from o[k], NAN when absent or not a number. */
double lb_json_num(const cJSON *o, const char *k);
const char *lb_json_str(const cJSON *o, const char *k);

/* Machine facts of a run as (key, value) lines for the machine section:
 * cpu, cores, ISA, caches, memory, NUMA, GPUs, environment, build.
 * Returns how many of max were filled. */
struct lb_kv {
    char key[48];
    char val[512];
};
size_t lb_machine_facts(const cJSON *doc, struct lb_kv *kv, size_t max);

/* Ceiling columns of a report's "ceilings.rows" items: JSON key, header. */
struct lb_ceiling_col {
    const char *key, *header;
};
extern const struct lb_ceiling_col lb_ceiling_cols[5];

/* ---- tables (render-table.c) ----
 *
 * Every table of a report exists once, as rows of cells built from the
 * JSON; the md, HTML and CSV writers only add markup and escaping. Column
 * headers carry the units; a column holds either text or numbers (NAN: an
 * empty cell). */
struct lb_cell {
    char *text;     /* owned; text columns (never NULL once filled) */
    double num;     /* number columns */
};

struct lb_table {
    char title[160];        /* heading of a result table ("suite / bench"), else "" */
    size_t n_cols, n_rows;
    char **headers;         /* n_cols, owned */
    bool *num_col;          /* n_cols: the column holds numbers (right-aligned) */
    bool row_headers;       /* the first column names its row (machine facts) */
    struct lb_cell *cells;  /* n_rows * n_cols, row after row */
    size_t filled;          /* cells filled so far (building) */
    bool oom;
};

/* Builders: LB_OK with *t filled, or LB_ENOMEM with *t empty. */
enum lb_status lb_table_runs(const struct lb_run *runs, size_t n, struct lb_table *t);
/* Machine facts: a row per fact, a column per run. */
enum lb_status lb_table_machine(const struct lb_run *runs, size_t n, struct lb_table *t);
/* Ceiling rows of every run; no rows when the reports carry none. */
enum lb_status lb_table_ceilings(const struct lb_run *runs, size_t n, struct lb_table *t);
/* One suite+bench group: a row per result of every run, times in the
 * group's display unit (lb_time_unit). */
enum lb_status lb_table_group(const struct lb_run *runs, size_t n, const struct lb_group *g,
                              struct lb_table *t);
/* The result tables: lb_table_group of each group of lb_groups_collect,
 * in its order. Free with lb_tables_free. */
enum lb_status lb_tables_results(const struct lb_run *runs, size_t n, struct lb_table **out,
                                 size_t *n_out);
void lb_tables_free(struct lb_table *t, size_t n);
/* Every result of every run in one table (the CSV): the union of all
 * params and metrics as columns, every statistic in ns, declared work. */
enum lb_status lb_table_all_results(const struct lb_run *runs, size_t n, struct lb_table *t);
void lb_table_free(struct lb_table *t);
/* A number as md and HTML show it: %.4g, "" when NAN or infinite. */
void lb_table_num_text(double v, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
