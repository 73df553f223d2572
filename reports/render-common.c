/* render-common.c: what the md, csv and html renderers share: a growable
 * text buffer with escaping, run labels, the grouping of results by
 * suite+bench with the union of their parameter and metric columns, and
 * the machine facts. The tables built from these are in render-table.c.
 *
 * Reports are untrusted input: every lookup tolerates a missing or
 * wrongly typed field (it renders as empty), and every copied string is
 * bounded.
 */
#include "lb-render.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static bool sbuf_reserve(struct lb_sbuf *b, size_t extra)
{
    if (b->oom) return false;
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = true;
        return false;
    }
    b->s = s;
    b->cap = cap;
    return true;
}

void lb_sbuf_printf(struct lb_sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[512];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0 || !sbuf_reserve(b, (size_t)n)) return;
    if ((size_t)n < sizeof small) {
        memcpy(b->s + b->len, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void lb_sbuf_puts(struct lb_sbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (!sbuf_reserve(b, n)) return;
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

void lb_sbuf_free(struct lb_sbuf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

void lb_sbuf_put_html(struct lb_sbuf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': lb_sbuf_puts(b, "&amp;"); break;
        case '<': lb_sbuf_puts(b, "&lt;"); break;
        case '>': lb_sbuf_puts(b, "&gt;"); break;
        case '"': lb_sbuf_puts(b, "&quot;"); break;
        case '\'': lb_sbuf_puts(b, "&#39;"); break;
        default: {
            /* control characters are not allowed in XML 1.0 (SVG is XML) */
            unsigned char c = (unsigned char)*s;
            char one[2] = {(char)(c < 0x20 && c != '\t' && c != '\n' ? '?' : c), 0};
            lb_sbuf_puts(b, one);
        }
        }
    }
}

double lb_json_num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

const char *lb_json_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

void lb_runs_label(struct lb_run *runs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const cJSON *doc = runs[i].doc;
        const cJSON *env = cJSON_GetObjectItemCaseSensitive(doc, "environment");
        const cJSON *hw = cJSON_GetObjectItemCaseSensitive(doc, "hw");
        const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(hw, "cpu");
        snprintf(runs[i].tag, sizeof runs[i].tag, "R%zu", i + 1);
        const char *host = lb_json_str(env, "hostname"), *model = lb_json_str(cpu, "model");
        const char *ts = lb_json_str(doc, "timestamp");
        snprintf(runs[i].label, sizeof runs[i].label, "%s, %s, %s", host[0] ? host : "unknown host",
                 model[0] ? model : "unknown cpu", ts[0] ? ts : "no timestamp");
    }
}

double lb_report_metric(const cJSON *r, const char *name, const char *unit)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(r, "metrics")) {
        if (!strcmp(lb_json_str(m, "name"), name) && (!unit || !strcmp(lb_json_str(m, "unit"), unit)))
            return lb_json_num(m, "value");
    }
    return NAN;
}

void lb_param_text(const cJSON *params, const char *name, char *buf, size_t len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, name);
    if (cJSON_IsString(v) && v->valuestring) snprintf(buf, len, "%s", v->valuestring);
    else if (cJSON_IsNumber(v)) snprintf(buf, len, "%.10g", v->valuedouble);
    else if (len) buf[0] = '\0';
}

const char *lb_time_unit(double min_ns, double *div)
{
    if (!(min_ns > 0) || min_ns < 1e4) {
        *div = 1;
        return "ns";
    }
    if (min_ns < 1e7) {
        *div = 1e3;
        return "us";
    }
    if (min_ns < 1e10) {
        *div = 1e6;
        return "ms";
    }
    *div = 1e9;
    return "s";
}

/* Appends name to a (char[64]) list unless present; false on OOM. */
static bool name_add(char (**list)[64], size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*list)[i], name)) return true;
    char(*l)[64] = realloc(*list, (*n + 1) * sizeof **list);
    if (!l) return false;
    *list = l;
    snprintf(l[*n], 64, "%s", name);
    (*n)++;
    return true;
}

static bool metric_add(struct lb_group *g, const char *name, const char *unit)
{
    for (size_t i = 0; i < g->n_metrics; i++)
        if (!strcmp(g->metrics[i].name, name) && !strcmp(g->metrics[i].unit, unit)) return true;
    struct lb_metric_col *m = realloc(g->metrics, (g->n_metrics + 1) * sizeof *m);
    if (!m) return false;
    g->metrics = m;
    snprintf(m[g->n_metrics].name, sizeof m->name, "%s", name);
    snprintf(m[g->n_metrics].unit, sizeof m->unit, "%s", unit);
    g->n_metrics++;
    return true;
}

enum lb_status lb_groups_collect(const struct lb_run *runs, size_t n,
                                 struct lb_group **out, size_t *n_out)
{
    struct lb_group *g = NULL;
    size_t ng = 0;
    for (size_t ri = 0; ri < n; ri++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(runs[ri].doc, "results")) {
            const char *suite = lb_json_str(r, "suite"), *bench = lb_json_str(r, "bench");
            size_t k = 0;
            while (k < ng && !(!strncmp(g[k].suite, suite, sizeof g->suite - 1) &&
                               !strncmp(g[k].bench, bench, sizeof g->bench - 1)))
                k++;
            if (k == ng) {
                struct lb_group *ng2 = realloc(g, (ng + 1) * sizeof *g);
                if (!ng2) goto oom;
                g = ng2;
                memset(&g[ng], 0, sizeof *g);
                snprintf(g[ng].suite, sizeof g->suite, "%s", suite);
                snprintf(g[ng].bench, sizeof g->bench, "%s", bench);
                ng++;
            }
            struct lb_group *gr = &g[k];
            const cJSON *p;
            cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(r, "params")) {
                if (p->string && !name_add(&gr->params, &gr->n_params, p->string)) goto oom;
            }
            const cJSON *m;
            cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(r, "metrics")) {
                const char *mn = lb_json_str(m, "name");
                if (mn[0] && !metric_add(gr, mn, lb_json_str(m, "unit"))) goto oom;
            }
            if (lb_json_str(r, "reason")[0]) gr->any_reason = true;
            if (lb_json_str(r, "path")[0]) gr->any_path = true;
            double med = lb_json_num(cJSON_GetObjectItemCaseSensitive(r, "stats"), "median_ns");
            if (med > 0 && (!(gr->min_median_ns > 0) || med < gr->min_median_ns))
                gr->min_median_ns = med;
        }
    }
    *out = g;
    *n_out = ng;
    return LB_OK;
oom:
    lb_groups_free(g, ng);
    *out = NULL;
    *n_out = 0;
    return LB_ENOMEM;
}

enum lb_status lb_groups_union(const struct lb_run *runs, size_t n, struct lb_group **out)
{
    struct lb_group *g, *all = calloc(1, sizeof *all);
    size_t ng;
    *out = NULL;
    if (!all) return LB_ENOMEM;
    if (lb_groups_collect(runs, n, &g, &ng) != LB_OK) {
        free(all);
        return LB_ENOMEM;
    }
    bool ok = true;
    for (size_t k = 0; k < ng && ok; k++) {
        for (size_t p = 0; p < g[k].n_params && ok; p++)
            ok = name_add(&all->params, &all->n_params, g[k].params[p]);
        for (size_t m = 0; m < g[k].n_metrics && ok; m++)
            ok = metric_add(all, g[k].metrics[m].name, g[k].metrics[m].unit);
    }
    lb_groups_free(g, ng);
    if (!ok) {
        lb_groups_free(all, 1);
        return LB_ENOMEM;
    }
    *out = all;
    return LB_OK;
}

void lb_groups_free(struct lb_group *g, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(g[i].params);
        free(g[i].metrics);
    }
    free(g);
}

const struct lb_ceiling_col lb_ceiling_cols[5] = {
    {"read_gbs", "read (GB/s)"},         {"copy_gbs", "copy (GB/s)"},
    {"triad_gbs", "triad (GB/s)"},       {"fma_gflops", "FP32 FMA (GFLOP/s)"},
    {"dot8_gops", "int8 dot (GOP/s)"},
};

static void fmt_size(double bytes, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, len, "%.4g %s", bytes, units[u]);
}

static struct lb_kv *kv_add(struct lb_kv *kv, size_t *n, size_t max, const char *key)
{
    if (*n >= max) return NULL;
    struct lb_kv *e = &kv[(*n)++];
    snprintf(e->key, sizeof e->key, "%s", key);
    e->val[0] = '\0';
    return e;
}

/* "L1d 48 KiB x2, L2 1 MiB x2": distinct (level, type, size) with counts,
 * at most 8 kinds (a report's cache list is untrusted and may be long). */
static void caches_text(const cJSON *caches, char *buf, size_t len)
{
    struct { int level; char type; double size; int count; } kinds[8];
    size_t nk = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, caches) {
        double lv = lb_json_num(c, "level"), sz = lb_json_num(c, "size_bytes");
        if (!(lv >= 0 && lv < 10) || !(sz >= 0)) continue;
        const char *t = lb_json_str(c, "type");
        char tc = !strcmp(t, "data") ? 'd' : !strcmp(t, "instruction") ? 'i' : ' ';
        size_t k = 0;
        while (k < nk && !(kinds[k].level == (int)lv && kinds[k].type == tc && kinds[k].size == sz)) k++;
        if (k == nk) {
            if (nk == LB_ARRAY_LEN(kinds)) continue;
            kinds[nk].level = (int)lv;
            kinds[nk].type = tc;
            kinds[nk].size = sz;
            kinds[nk].count = 0;
            nk++;
        }
        kinds[k].count++;
    }
    size_t off = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < nk && off < len; k++) {
        char sz[32];
        fmt_size(kinds[k].size, sz, sizeof sz);
        int w = snprintf(buf + off, len - off, "%sL%d%s %s x%d", k ? ", " : "", kinds[k].level,
                         kinds[k].type == 'd' ? "d" : kinds[k].type == 'i' ? "i" : "", sz,
                         kinds[k].count);
        if (w > 0) off += (size_t)w;
    }
    if (!nk) snprintf(buf, len, "unknown");
}

size_t lb_machine_facts(const cJSON *doc, struct lb_kv *kv, size_t max)
{
    size_t n = 0;
    struct lb_kv *e;
    const cJSON *hw = cJSON_GetObjectItemCaseSensitive(doc, "hw");
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(hw, "cpu");
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(doc, "environment");
    const cJSON *build = cJSON_GetObjectItemCaseSensitive(doc, "build");
    const cJSON *tool = cJSON_GetObjectItemCaseSensitive(doc, "tool");
    if ((e = kv_add(kv, &n, max, "host")))
        snprintf(e->val, sizeof e->val, "%s", lb_json_str(env, "hostname"));
    if ((e = kv_add(kv, &n, max, "cpu")))
        snprintf(e->val, sizeof e->val, "%s (%s)", lb_json_str(cpu, "model"), lb_json_str(cpu, "vendor"));
    if ((e = kv_add(kv, &n, max, "sockets / cores / threads")))
        snprintf(e->val, sizeof e->val, "%.0f / %.0f / %.0f", lb_json_num(cpu, "sockets"),
                 lb_json_num(cpu, "cores"), lb_json_num(cpu, "threads"));
    if ((e = kv_add(kv, &n, max, "best ISA")))
        snprintf(e->val, sizeof e->val, "%s", lb_json_str(hw, "isa_best"));
    if ((e = kv_add(kv, &n, max, "caches")))
        caches_text(cJSON_GetObjectItemCaseSensitive(hw, "caches"), e->val, sizeof e->val);
    if ((e = kv_add(kv, &n, max, "memory"))) {
        char sz[32];
        fmt_size(lb_json_num(hw, "mem_total_bytes"), sz, sizeof sz);
        int nodes = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(hw, "numa"));
        double mts = lb_json_num(env, "mem_speed_mts");
        if (mts > 0)
            snprintf(e->val, sizeof e->val, "%s, %d NUMA node(s), %.0f MT/s", sz, nodes, mts);
        else
            snprintf(e->val, sizeof e->val, "%s, %d NUMA node(s), speed unknown", sz, nodes);
    }
    if ((e = kv_add(kv, &n, max, "GPUs"))) {
        const cJSON *gpus = cJSON_GetObjectItemCaseSensitive(hw, "gpus");
        const cJSON *d;
        size_t off = 0;
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(gpus, "devices")) {
            int w = snprintf(e->val + off, sizeof e->val - off, "%s%s (%s)", off ? ", " : "",
                             lb_json_str(d, "name"), lb_json_str(d, "runtime"));
            if (w > 0) off += (size_t)w;
            if (off >= sizeof e->val) break;
        }
        if (!off) snprintf(e->val, sizeof e->val, "none found");
    }
    if ((e = kv_add(kv, &n, max, "kernel / virtualization")))
        snprintf(e->val, sizeof e->val, "%s / %s", lb_json_str(env, "kernel"),
                 lb_json_str(env, "virtualization"));
    if ((e = kv_add(kv, &n, max, "governor / boost / THP")))
        snprintf(e->val, sizeof e->val, "%s / %s / %s", lb_json_str(env, "governor"),
                 lb_json_str(env, "boost"), lb_json_str(env, "thp"));
    if ((e = kv_add(kv, &n, max, "build"))) {
        const cJSON *dirty = cJSON_GetObjectItemCaseSensitive(tool, "git_dirty");
        snprintf(e->val, sizeof e->val, "llmbench %s, commit %.12s%s, %s %s", lb_json_str(tool, "version"),
                 lb_json_str(tool, "git_commit"), cJSON_IsTrue(dirty) ? " (dirty)" : "",
                 lb_json_str(build, "compiler"), lb_json_str(build, "build_type"));
    }
    if ((e = kv_add(kv, &n, max, "warnings"))) {
        const cJSON *w;
        size_t off = 0;
        cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(doc, "warnings")) {
            if (!cJSON_IsString(w)) continue;
            int k = snprintf(e->val + off, sizeof e->val - off, "%s%s", off ? "; " : "", w->valuestring);
            if (k > 0) off += (size_t)k;
            if (off >= sizeof e->val) break;
        }
        if (!off) snprintf(e->val, sizeof e->val, "none");
    }
    return n;
}
