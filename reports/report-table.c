/* report-table.c: the human table of a report, rendered from its JSON. */
#include "lb-report.h"

#include <math.h>
#include <string.h>

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static void fmt_time(double ns, char *buf, size_t len)
{
    if (!(ns > 0)) snprintf(buf, len, "-");
    else if (ns < 1e3) snprintf(buf, len, "%.0f ns", ns);
    else if (ns < 1e6) snprintf(buf, len, "%.2f us", ns / 1e3);
    else if (ns < 1e9) snprintf(buf, len, "%.2f ms", ns / 1e6);
    else snprintf(buf, len, "%.3f s", ns / 1e9);
}

static void fmt_bytes(double b, char *buf, size_t len)
{
    static const char *const units[] = {"", "K", "M", "G", "T"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        u++;
    }
    snprintf(buf, len, b == floor(b) ? "%.0f%s" : "%.3g%s", b, units[u]);
}

static void fmt_params(const cJSON *params, char *buf, size_t len)
{
    size_t off = 0;
    const cJSON *p;
    buf[0] = '\0';
    cJSON_ArrayForEach(p, params) {
        const char *v = cJSON_IsString(p) ? p->valuestring : NULL;
        char num[32];
        if (!v && cJSON_IsNumber(p)) {
            snprintf(num, sizeof num, "%g", p->valuedouble);
            v = num;
        }
        if (!v || off >= len) continue;
        size_t nl = strlen(p->string);
        if (cJSON_IsNumber(p) && nl > 6 && !strcmp(p->string + nl - 6, "_bytes")) {
            fmt_bytes(p->valuedouble, num, sizeof num);
            v = num;
        }
        int w = snprintf(buf + off, len - off, "%s%s=%s", off ? " " : "", p->string, v);
        if (w > 0) off += (size_t)w;
    }
}

void lb_report_print_table(FILE *out, const cJSON *report)
{
    const cJSON *results = get(report, "results"), *r;
    fprintf(out, "%-14s %-26s %-12s %11s %7s %12s %9s  %s\n", "bench", "params", "path",
            "median", "ci95", "result", "% ceil", "status");
    cJSON_ArrayForEach(r, results) {
        const cJSON *st = get(r, "stats"), *metrics = get(r, "metrics"), *m;
        const char *status = cJSON_IsString(get(r, "status")) ? get(r, "status")->valuestring : "?";
        const cJSON *path = get(r, "path");
        char params[128], tbuf[32], ci[16] = "-", main_metric[32] = "-", pct[16] = "-";
        fmt_params(get(r, "params"), params, sizeof params);
        double median = st && cJSON_IsNumber(get(st, "median_ns")) ? get(st, "median_ns")->valuedouble : 0;
        fmt_time(median, tbuf, sizeof tbuf);
        if (st && cJSON_IsNumber(get(st, "ci_rel")))
            snprintf(ci, sizeof ci, "%.1f%%", 100 * get(st, "ci_rel")->valuedouble);
        cJSON_ArrayForEach(m, metrics) {
            const cJSON *name = get(m, "name"), *v = get(m, "value"), *u = get(m, "unit");
            if (!cJSON_IsString(name) || !cJSON_IsNumber(v)) continue;
            if (!strcmp(name->valuestring, "pct_of_ceiling"))
                snprintf(pct, sizeof pct, "%.1f", v->valuedouble);
            else if (!strcmp(main_metric, "-"))
                snprintf(main_metric, sizeof main_metric, "%.4g %s", v->valuedouble,
                         cJSON_IsString(u) ? u->valuestring : "");
        }
        fprintf(out, "%-14s %-26s %-12s %11s %7s %12s %9s  %s",
                cJSON_IsString(get(r, "bench")) ? get(r, "bench")->valuestring : "?", params,
                cJSON_IsString(path) && path->valuestring[0] ? path->valuestring : "-",
                tbuf, ci, main_metric, pct, status);
        const cJSON *reason = get(r, "reason");
        if (cJSON_IsString(reason) && reason->valuestring[0])
            fprintf(out, " (%s)", reason->valuestring);
        fputc('\n', out);
    }
}
