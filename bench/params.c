/* params.c: parsing of sweep lists and ranges (see lb-params.h). */
#include "lb-params.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMS "a value, a list 1,2,4, a range 1-8, 1-16*2 (geometric) or 64-256+64 (step)"

static bool parse_value(const char *s, size_t len, bool allow_suffix,
                        double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf) return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end == buf || errno != 0 || !isfinite(v)) return false;
    if (*end && allow_suffix) {
        static const char suffixes[] = "KMGT";
        const char *p = strchr(suffixes, *end >= 'a' ? *end - 32 : *end);
        if (!p || !*p) return false;
        v *= pow(1024.0, (double)(p - suffixes + 1));
        end++;
        if (*end == 'i' && end[1] == 'B') end += 2; /* "MiB" */
        else if (*end == 'B' || *end == 'b') end++;  /* "MB" read as MiB */
    }
    if (*end) return false;
    *out = v;
    return true;
}

static enum lb_status push(struct lb_sweep *out, double v, const char *what,
                           const char *spec, struct lb_error *err)
{
    if (out->n >= LB_SWEEP_MAX)
        return lb_error_set(err, LB_EINVAL, "%s '%s': more than %d values",
                            what, spec, LB_SWEEP_MAX);
    out->v[out->n++] = v;
    return LB_OK;
}

enum lb_status lb_sweep_parse(const char *spec, const char *what,
                              bool allow_suffix, bool integer,
                              double min_value, struct lb_sweep *out,
                              struct lb_error *err)
{
    out->n = 0;
    if (!spec || !*spec)
        return lb_error_set(err, LB_EINVAL, "%s needs a value: %s", what, FORMS);
    const char *item = spec;
    for (;;) {
        size_t len = strcspn(item, ",");
        char txt[96];
        snprintf(txt, sizeof txt, "%.*s", (int)(len < 90 ? len : 90), item);
        /* a range "a-b[*k|+k]"; the '-' must not be a leading sign */
        const char *dash = len > 1 ? memchr(item + 1, '-', len - 1) : NULL;
        double a, b, step = 0;
        char op = 0;
        if (dash) {
            const char *stop = item + len;
            const char *mod = NULL;
            for (const char *p = dash + 1; p < stop; p++)
                if (*p == '*' || *p == '+') { mod = p; break; }
            if (!parse_value(item, (size_t)(dash - item), allow_suffix, &a) ||
                !parse_value(dash + 1, (size_t)((mod ? mod : stop) - dash - 1),
                             allow_suffix, &b) ||
                (mod && !parse_value(mod + 1, (size_t)(stop - mod - 1), allow_suffix && *mod == '+', &step)))
                return lb_error_set(err, LB_EINVAL, "%s: cannot parse '%s': expected %s%s",
                                    what, txt, FORMS, allow_suffix ? ", sizes with K/M/G suffixes" : "");
            op = mod ? *mod : '+';
            if (!mod) step = 1;
            if (b < a)
                return lb_error_set(err, LB_EINVAL, "%s: range '%s' ends below its start", what, txt);
            if ((op == '*' && step <= 1) || (op == '+' && step <= 0))
                return lb_error_set(err, LB_EINVAL, "%s: range '%s' needs a step %s", what, txt,
                                    op == '*' ? "factor > 1" : "> 0");
            for (double v = a; v <= b * (1 + 1e-12); v = op == '*' ? v * step : v + step) {
                enum lb_status s = push(out, v, what, spec, err);
                if (s) return s;
            }
        } else {
            if (!parse_value(item, len, allow_suffix, &a))
                return lb_error_set(err, LB_EINVAL, "%s: cannot parse '%s': expected %s%s",
                                    what, txt, FORMS, allow_suffix ? ", sizes with K/M/G suffixes" : "");
            enum lb_status s = push(out, a, what, spec, err);
            if (s) return s;
        }
        if (item[len] == '\0') break;
        item += len + 1;
    }
    for (size_t i = 0; i < out->n; i++) {
        if (integer && out->v[i] != floor(out->v[i]))
            return lb_error_set(err, LB_EINVAL, "%s: %g is not a whole number", what, out->v[i]);
        if (out->v[i] < min_value)
            return lb_error_set(err, LB_EINVAL, "%s: %g is below the minimum %g", what,
                                out->v[i], min_value);
    }
    return LB_OK;
}

void lb_format_bytes(double bytes, char *buf, size_t len)
{
    static const char *const units[] = {"", "K", "M", "G", "T"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    if (bytes == floor(bytes)) snprintf(buf, len, "%.0f%s", bytes, units[u]);
    else snprintf(buf, len, "%.3g%s", bytes, units[u]);
}

enum lb_status lb_text_list_parse(const char *spec, const char *what,
                                  struct lb_text_list *out,
                                  struct lb_error *err)
{
    out->n = 0;
    if (!spec || !*spec)
        return lb_error_set(err, LB_EINVAL, "%s needs a value", what);
    const char *item = spec;
    for (;;) {
        size_t len = strcspn(item, ",");
        if (len == 0 || len >= sizeof out->v[0])
            return lb_error_set(err, LB_EINVAL, "%s: empty or too long item in '%s'", what, spec);
        if (out->n >= LB_ARRAY_LEN(out->v))
            return lb_error_set(err, LB_EINVAL, "%s: too many items in '%s'", what, spec);
        memcpy(out->v[out->n], item, len);
        out->v[out->n++][len] = '\0';
        if (item[len] == '\0') break;
        item += len + 1;
    }
    return LB_OK;
}
