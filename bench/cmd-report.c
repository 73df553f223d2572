/* cmd-report.c: `llmbench report RUN.json [RUN2.json ...] [--format
 * md|csv|html|json] [-o FILE|DIR] [--charts DIR]`: renders one or more
 * JSON reports (several machines side by side) for people and tools.
 * Everything is rendered from the JSON (reports/lb-render.h); this file
 * only parses arguments, reads the inputs and writes the output whole
 * (temp file + rename) or not at all.
 *
 * Exit status: 0 rendered (also when gnuplot is missing: the charts are
 * skipped and the output says so), 1 an output could not be written,
 * 2 bad input (flag, missing file, malformed JSON, not a report).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../reports/lb-render.h"
#include "lb-cmd.h"

static const char report_usage[] =
    "usage: llmbench report RUN.json [RUN2.json ...] [--format md|csv|html|json]\n"
    "                       [-o FILE|DIR] [--charts DIR]\n"
    "\n"
    "Renders llmbench JSON reports; several runs (machines) go side by side.\n"
    "  --format FMT   md (default): markdown tables per suite/bench, units in headers\n"
    "                 csv: one RFC 4180 table, one row per result\n"
    "                 html: one self-contained page with inline SVG charts\n"
    "                 json: the reports bundled as they are, with run tags and labels\n"
    "  -o FILE|DIR    write there (a directory gets report.<fmt>); default: stdout\n"
    "  --charts DIR   also draw PNG and SVG charts into DIR with gnuplot (skipped,\n"
    "                 with a note, when gnuplot is not on PATH)\n"
    "exit status: 0 rendered, 1 an output could not be written, 2 bad input\n";

enum fmt { FMT_MD, FMT_CSV, FMT_HTML, FMT_JSON };
static const char *const fmt_names[] = {"md", "csv", "html", "json"};

static int usage(const char *what, const char *arg)
{
    fprintf(stderr, "llmbench: report: %s '%s' (usage: llmbench report RUN.json [...] "
                    "[--format md|csv|html|json] [-o FILE|DIR] [--charts DIR])\n",
            what, arg);
    return LB_EXIT_USAGE;
}

/* "--opt VALUE" or "--opt=VALUE"; NULL when argv[*i] is not opt. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt, bool *missing)
{
    size_t n = strlen(opt);
    if (strncmp(argv[*i], opt, n)) return NULL;
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (argv[*i][n] != '\0') return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

int lb_cmd_report(int argc, char **argv)
{
    if (argc >= 1 && (!strcmp(argv[0], "help") || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        fputs(report_usage, stdout);
        return LB_EXIT_OK;
    }
    enum fmt fmt = FMT_MD;
    const char *out_path = NULL, *charts_dir = NULL;
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    size_t n_in = 0;
    if (!inputs) {
        fprintf(stderr, "llmbench: report: out of memory\n");
        return LB_EXIT_FAILED;
    }
    for (int i = 0; i < argc; i++) {
        bool missing = false;
        const char *v;
        if ((v = opt_value(argc, argv, &i, "--format", &missing)) || missing) {
            if (missing) {
                free(inputs);
                return usage("missing value after", "--format");
            }
            size_t k = 0;
            while (k < LB_ARRAY_LEN(fmt_names) && strcmp(fmt_names[k], v)) k++;
            if (k == LB_ARRAY_LEN(fmt_names)) {
                free(inputs);
                fprintf(stderr, "llmbench: report: unknown --format '%s' (accepted: md, csv, html, json)\n", v);
                return LB_EXIT_USAGE;
            }
            fmt = (enum fmt)k;
        } else if ((v = opt_value(argc, argv, &i, "-o", &missing)) ||
                   (!missing && (v = opt_value(argc, argv, &i, "--output", &missing))) || missing) {
            if (missing) {
                free(inputs);
                return usage("missing value after", argv[i]);
            }
            out_path = v;
        } else if ((v = opt_value(argc, argv, &i, "--charts", &missing)) || missing) {
            if (missing) {
                free(inputs);
                return usage("missing directory after", "--charts");
            }
            charts_dir = v;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            free(inputs);
            return usage("unknown option", argv[i]);
        } else {
            inputs[n_in++] = argv[i];
        }
    }
    if (!n_in) {
        free(inputs);
        fprintf(stderr, "llmbench: report: no report given (usage: llmbench report RUN.json [...] "
                        "[--format md|csv|html|json] [-o FILE|DIR] [--charts DIR])\n");
        return LB_EXIT_USAGE;
    }

    int rc = LB_EXIT_OK;
    struct lb_error err = {0};
    struct lb_run *runs = calloc(n_in, sizeof *runs);
    cJSON **docs = calloc(n_in, sizeof *docs);
    struct lb_chart *charts = NULL;
    size_t n_charts = 0;
    struct lb_sbuf text = {0}, chart_files = {0};
    char chart_note[512] = "";
    char *json_text = NULL;
    struct lb_outfile of = {.fd = -1};
    bool of_open = false;
    if (!runs || !docs) {
        fprintf(stderr, "llmbench: report: out of memory\n");
        rc = LB_EXIT_FAILED;
        goto done;
    }
    for (size_t i = 0; i < n_in; i++) {
        if (lb_report_read(inputs[i], &docs[i], &err) != LB_OK) {
            fprintf(stderr, "llmbench: report: %s\n", err.msg);
            rc = LB_EXIT_USAGE;
            goto done;
        }
        runs[i].source = inputs[i];
        runs[i].doc = docs[i];
    }
    lb_runs_label(runs, n_in);

    /* reserve the output before the slow part, so a bad path fails first */
    char out_file[1200];
    if (out_path) {
        struct stat st;
        if (stat(out_path, &st) == 0 && S_ISDIR(st.st_mode))
            snprintf(out_file, sizeof out_file, "%s/report.%s", out_path, fmt_names[fmt]);
        else
            snprintf(out_file, sizeof out_file, "%s", out_path);
        enum lb_status s = lb_outfile_open(&of, out_file, &err);
        if (s) {
            fprintf(stderr, "llmbench: report: %s\n", err.msg);
            rc = s == LB_EINVAL ? LB_EXIT_USAGE : LB_EXIT_FAILED;
            goto done;
        }
        of_open = true;
    }

    if (fmt == FMT_HTML || charts_dir) {
        if (lb_charts_build(runs, n_in, &charts, &n_charts, &err) != LB_OK) {
            fprintf(stderr, "llmbench: report: %s\n", err.msg);
            rc = LB_EXIT_FAILED;
            goto done;
        }
    }
    if (charts_dir) {
        size_t n_written = 0;
        enum lb_status s = lb_gnuplot_charts(charts, n_charts, charts_dir, &chart_files, &n_written,
                                             chart_note, sizeof chart_note, &err);
        if (s == LB_EUNSUPPORTED) {
            fprintf(stderr, "llmbench: report: %s\n", chart_note);
        } else if (s != LB_OK) {
            fprintf(stderr, "llmbench: report: %s\n", err.msg);
            rc = s == LB_EINVAL ? LB_EXIT_USAGE : LB_EXIT_FAILED;
            goto done;
        } else {
            fprintf(stderr, "llmbench: report: %s\n", chart_note);
        }
    }
    struct lb_render_opts opts = {
        .charts_dir = charts_dir,
        .charts_note = charts_dir ? chart_note : NULL,
        .chart_files = &chart_files,
    };
    const char *out_text = NULL;
    switch (fmt) {
    case FMT_MD:
        lb_render_md(&text, runs, n_in, &opts);
        break;
    case FMT_CSV:
        lb_render_csv(&text, runs, n_in);
        break;
    case FMT_HTML:
        lb_render_html(&text, runs, n_in, charts, n_charts, &opts);
        break;
    case FMT_JSON:
        json_text = lb_render_json(runs, n_in);
        if (!json_text) text.oom = true;
        else lb_sbuf_printf(&text, "%s\n", json_text);
        break;
    }
    if (text.oom || !text.s) {
        fprintf(stderr, "llmbench: report: out of memory rendering %s\n", fmt_names[fmt]);
        rc = LB_EXIT_FAILED;
        goto done;
    }
    out_text = text.s;
    if (of_open) {
        of_open = false;
        if (lb_outfile_commit(&of, out_text, &err) != LB_OK) {
            fprintf(stderr, "llmbench: report: %s\n", err.msg);
            rc = LB_EXIT_FAILED;
            goto done;
        }
        fprintf(stderr, "llmbench: report: wrote %s\n", out_file);
    } else {
        fputs(out_text, stdout);
        if (fflush(stdout) != 0) rc = LB_EXIT_FAILED;
    }
done:
    if (of_open) lb_outfile_abort(&of);
    free(json_text);
    lb_sbuf_free(&text);
    lb_sbuf_free(&chart_files);
    lb_charts_free(charts, n_charts);
    for (size_t i = 0; docs && i < n_in; i++) cJSON_Delete(docs[i]);
    free(docs);
    free(runs);
    free(inputs);
    return rc;
}
