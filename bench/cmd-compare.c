/* cmd-compare.c: `llmbench compare BASE.json NEW.json`, the regression
 * gate of CI. Parses flags, reads both reports, runs the comparison
 * (reports/compare.c) and writes the markdown summary and, on request, the
 * comparison JSON. Exit status: 1 when any result regressed, 0 otherwise,
 * 2 on bad input, so a pipeline fails on exactly the regressions
 * (nvbench's compare exits 0 on them; docs/compare.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb-cmd.h"
#include "../reports/lb-compare.h"
#include "../reports/lb-report.h"

static const char lb_compare_usage[] =
    "usage: llmbench compare BASE.json NEW.json [options]\n"
    "       llmbench compare BASE1.json,BASE2.json,... NEW1.json,NEW2.json,... [options]\n"
    "\n"
    "Matches the results of two reports by suite, bench and all params, and\n"
    "classifies each pair as slower / faster / same / inconclusive from the raw\n"
    "samples (ratio of median times, bootstrap CI of the ratio, Mann-Whitney U).\n"
    "A regression is significant AND slower than the threshold; improvements\n"
    "never fail. Exit status: 1 on any regression, 0 otherwise, 2 on bad input.\n"
    "Comma-separated lists are repeated runs of one build (best interleaved:\n"
    "base, new, base, new, ...): the CI then includes the run-to-run spread.\n"
    "\n"
    "options:\n"
    "  --threshold PCT   slowdown that counts as a regression, percent, e.g. 5%\n"
    "                    or 5 (default 5%; accepted: > 0 and < 1000)\n"
    "  --alpha A         significance level, 0 < A <= 0.5 (default 0.05); the CI\n"
    "                    of the ratio is at 1 - A\n"
    "  --normalize MODE  none (default) or ceiling: weight each sample by the read\n"
    "                    GB/s probed before it (reports from `run --paired-ceiling`),\n"
    "                    for machines whose bandwidth moves between runs\n"
    "  --md FILE         write the markdown summary to FILE (default: stdout)\n"
    "  --json FILE       write the comparison as JSON to FILE\n"
    "\n"
    "See docs/compare.md for the decision rule and its measured false-alarm rate.\n";

/* "5%", "5" and "2.5%" are percent; anything else is refused */
static int parse_threshold(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s) return -1;
    if (*end == '%') end++;
    if (*end != '\0' || !isfinite(v) || !(v > 0) || !(v < 1000)) return -1;
    *out = v / 100;
    return 0;
}

static int parse_alpha(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !(v > 0) || !(v <= 0.5)) return -1;
    *out = v;
    return 0;
}

/* writes text atomically to path */
static int write_text(const char *path, const char *text)
{
    struct lb_outfile f;
    struct lb_error err = {0};
    if (lb_outfile_open(&f, path, &err) || lb_outfile_commit(&f, text, &err)) {
        fprintf(stderr, "llmbench: compare: %s\n", err.msg);
        return -1;
    }
    return 0;
}

int lb_cmd_compare(int argc, char **argv)
{
    if (argc >= 1 && (!strcmp(argv[0], "help") || !strcmp(argv[0], "--help") ||
                      !strcmp(argv[0], "-h"))) {
        fputs(lb_compare_usage, stdout);
        return LB_EXIT_OK;
    }
    struct lb_compare_opts opts;
    lb_compare_opts_default(&opts);
    const char *files[2] = {NULL, NULL}, *md_path = NULL, *json_path = NULL;
    int nfiles = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        static const char *const with_value[] = {"--threshold", "--alpha", "--md", "--json", "--normalize"};
        int opt = -1;
        for (int k = 0; k < 5; k++) {
            size_t n = strlen(with_value[k]);
            if (!strncmp(a, with_value[k], n) && (a[n] == '\0' || a[n] == '=')) {
                opt = k;
                if (a[n] == '=') {
                    val = a + n + 1;
                } else if (i + 1 < argc) {
                    val = argv[++i];
                } else {
                    fprintf(stderr, "llmbench: compare: %s needs a value; see `llmbench compare help`\n",
                            with_value[k]);
                    return LB_EXIT_USAGE;
                }
                break;
            }
        }
        if (opt == 0) {
            if (parse_threshold(val, &opts.threshold)) {
                fprintf(stderr,
                        "llmbench: compare: bad --threshold '%s'; accepted: a percentage > 0 and < 1000, e.g. 5%% or 2.5\n",
                        val);
                return LB_EXIT_USAGE;
            }
        } else if (opt == 1) {
            if (parse_alpha(val, &opts.alpha)) {
                fprintf(stderr,
                        "llmbench: compare: bad --alpha '%s'; accepted: a number with 0 < alpha <= 0.5, e.g. 0.05\n",
                        val);
                return LB_EXIT_USAGE;
            }
        } else if (opt == 4) {
            if (!strcmp(val, "ceiling")) opts.normalize_ceiling = true;
            else if (!strcmp(val, "none")) opts.normalize_ceiling = false;
            else {
                fprintf(stderr, "llmbench: compare: bad --normalize '%s'; accepted: none, ceiling\n", val);
                return LB_EXIT_USAGE;
            }
        } else if (opt == 2 || opt == 3) {
            if (!*val) {
                fprintf(stderr, "llmbench: compare: %s needs a file name\n", with_value[opt]);
                return LB_EXIT_USAGE;
            }
            if (opt == 2) md_path = val;
            else json_path = val;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr,
                    "llmbench: compare: unknown option '%s'; accepted: --threshold, --alpha, --normalize, --md, --json (see `llmbench compare help`)\n",
                    a);
            return LB_EXIT_USAGE;
        } else if (nfiles < 2) {
            files[nfiles++] = a;
        } else {
            fprintf(stderr, "llmbench: compare: unexpected argument '%s'; give exactly BASE.json NEW.json\n", a);
            return LB_EXIT_USAGE;
        }
    }
    if (nfiles != 2) {
        fprintf(stderr, "llmbench: compare: need two reports, BASE.json NEW.json (got %d); see `llmbench compare help`\n",
                nfiles);
        return LB_EXIT_USAGE;
    }

    int rc = LB_EXIT_USAGE;
    struct lb_error err = {0};
    /* each side: one report or a comma-separated list of repeated runs */
    enum { MAX_RUNS = 64 };
    char *lists[2] = {NULL, NULL};
    const char *names[2][MAX_RUNS];
    cJSON *docs[2][MAX_RUNS];
    size_t ndocs[2] = {0, 0};
    cJSON *cmp = NULL;
    char *md = NULL;
    for (int s = 0; s < 2; s++) {
        lists[s] = strdup(files[s]);
        if (!lists[s]) {
            fprintf(stderr, "llmbench: compare: out of memory\n");
            goto done;
        }
        char *save = NULL;
        for (char *t = strtok_r(lists[s], ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (ndocs[s] == MAX_RUNS) {
                fprintf(stderr, "llmbench: compare: more than %d reports for %s; accepted: 1 to %d\n",
                        MAX_RUNS, s ? "NEW" : "BASE", MAX_RUNS);
                goto done;
            }
            names[s][ndocs[s]] = t;
            if (lb_report_read(t, &docs[s][ndocs[s]], &err)) {
                fprintf(stderr, "llmbench: compare: %s\n", err.msg);
                goto done;
            }
            ndocs[s]++;
        }
        if (ndocs[s] == 0) {
            fprintf(stderr, "llmbench: compare: empty %s report list '%s'\n", s ? "NEW" : "BASE", files[s]);
            goto done;
        }
    }
    if (lb_compare_reports((const cJSON *const *)docs[0], ndocs[0], (const cJSON *const *)docs[1],
                           ndocs[1], names[0], names[1], &opts, &cmp, &err) ||
        lb_compare_markdown(cmp, &md, &err)) {
        fprintf(stderr, "llmbench: compare: %s\n", err.msg);
        goto done;
    }
    /* outputs are written before the verdict: a CI job posts the markdown
     * of a failing comparison too */
    if (json_path && lb_json_write_atomic(cmp, json_path, &err)) {
        fprintf(stderr, "llmbench: compare: %s\n", err.msg);
        goto done;
    }
    if (md_path) {
        if (write_text(md_path, md)) goto done;
    } else {
        fputs(md, stdout);
    }
    int nreg = lb_compare_regressions(cmp);
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(cmp, "counts");
    fprintf(stderr, "llmbench: compare: %d regression%s (%d faster, %d same, %d inconclusive, %d only in base, %d only in new)\n",
            nreg, nreg == 1 ? "" : "s",
            cJSON_GetObjectItemCaseSensitive(counts, "faster")->valueint,
            cJSON_GetObjectItemCaseSensitive(counts, "same")->valueint,
            cJSON_GetObjectItemCaseSensitive(counts, "inconclusive")->valueint,
            cJSON_GetObjectItemCaseSensitive(counts, "only_in_base")->valueint,
            cJSON_GetObjectItemCaseSensitive(counts, "only_in_new")->valueint);
    rc = nreg ? LB_EXIT_FAILED : LB_EXIT_OK;
done:
    free(md);
    cJSON_Delete(cmp);
    for (int s = 0; s < 2; s++) {
        for (size_t d = 0; d < ndocs[s]; d++) cJSON_Delete(docs[s][d]);
        free(lists[s]);
    }
    return rc;
}
