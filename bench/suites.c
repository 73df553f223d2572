/* suites.c: the suite registry and the measured ceilings (fold from
 * results, apply as "% of ceiling", cache per host + build).
 *
 * How to add a suite: see lb-suite.h; add it to lb_suites[] below.
 */
#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../reports/lb-report.h"
#include "build-info.h"
#include "lb-pool-latency.h"
#include "lb-suite.h"

/* ---- pool latency as a benchmark ----------------------------------- */

const struct lb_bench lb_bench_pool_latency = {
    .name = "pool_latency",
    .description = "dispatch + barrier of an empty parallel region on the pinned pool",
    .axes = "threads",
    .setup = lb_pool_latency_setup,
    .run = lb_pool_latency_run,
    .validate = lb_pool_latency_validate,
    .teardown = lb_pool_latency_teardown,
};

/* ---- registry ------------------------------------------------------ */

const struct lb_suite *const lb_suites[] = {
    &lb_suite_default,
    &lb_suite_ceilings,
    &lb_suite_pool,
    &lb_suite_gemv,
    &lb_suite_attention,
    &lb_suite_moe,
    &lb_suite_decode,
    NULL,
};

const struct lb_suite *lb_suite_find(const char *name)
{
    for (size_t i = 0; lb_suites[i]; i++)
        if (strcmp(lb_suites[i]->name, name) == 0) return lb_suites[i];
    return NULL;
}

void lb_axes_set_text(struct lb_suite_axes *a, const char *name,
                      const struct lb_text_list *values)
{
    struct lb_text_axis *t = (struct lb_text_axis *)lb_axes_text(a, name);
    if (t) {
        t = (struct lb_text_axis *)((char *)t - offsetof(struct lb_text_axis, values));
    } else {
        LB_ASSERT(a->n_text < LB_MAX_TEXT_AXES);
        t = &a->text[a->n_text++];
        snprintf(t->name, sizeof t->name, "%s", name);
    }
    t->values = *values;
}

void lb_axes_set_csv(struct lb_suite_axes *a, const char *name, const char *csv)
{
    struct lb_text_list l;
    struct lb_error err;
    enum lb_status st = lb_text_list_parse(csv, name, &l, &err);
    LB_ASSERT(st == LB_OK); /* suite defaults are constants */
    lb_axes_set_text(a, name, &l);
}

void lb_axes_default_threads(const struct lb_hw *hw, struct lb_sweep *t)
{
    t->n = 0;
    int n = hw->n_cores > 0 ? hw->n_cores : 1;
    for (int k = 1; k < n && t->n < LB_SWEEP_MAX - 1; k *= 2) t->v[t->n++] = k;
    t->v[t->n++] = n;
}

const struct lb_text_list *lb_axes_text(const struct lb_suite_axes *a,
                                        const char *name)
{
    for (int i = 0; i < a->n_text; i++)
        if (!strcmp(a->text[i].name, name)) return &a->text[i].values;
    return NULL;
}

/* ---- ceilings ------------------------------------------------------ */

static struct lb_ceiling_row *row_get(struct lb_ceilings *c, int threads)
{
    for (int i = 0; i < c->n; i++)
        if (c->rows[i].threads == threads) return &c->rows[i];
    if (c->n >= LB_CEIL_MAX_THREADS) return NULL;
    struct lb_ceiling_row *r = &c->rows[c->n++];
    memset(r, 0, sizeof *r);
    r->threads = threads;
    return r;
}

const struct lb_ceiling_row *lb_ceilings_row(const struct lb_ceilings *c,
                                             int threads)
{
    for (int i = 0; i < c->n; i++)
        if (c->rows[i].threads == threads) return &c->rows[i];
    return NULL;
}

static void iso_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void lb_ceilings_from_results(struct lb_ceilings *c, const struct lb_result *r,
                              size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (r[i].status != LB_RESULT_OK) continue;
        int threads = (int)lb_case_num(&r[i].params, "threads", 1);
        const struct lb_metric *bw = lb_result_metric(&r[i], "bandwidth");
        const struct lb_metric *tp = lb_result_metric(&r[i], "throughput");
        double *slot = NULL, v = 0;
        struct lb_ceiling_row *row;
        const char *b = r[i].bench;
        if (!strcmp(b, "read") || !strcmp(b, "read_plain")) {
            if (!bw || !(row = row_get(c, threads))) continue;
            slot = &row->read_gbs, v = bw->value;
        } else if (!strcmp(b, "copy") || !strcmp(b, "triad")) {
            if (!bw || !(row = row_get(c, threads))) continue;
            slot = !strcmp(b, "copy") ? &row->copy_gbs : &row->triad_gbs, v = bw->value;
        } else if (!strcmp(b, "fma") || !strcmp(b, "dot8")) {
            if (!tp || !(row = row_get(c, threads))) continue;
            slot = !strcmp(b, "fma") ? &row->fma_gflops : &row->dot8_gops, v = tp->value;
        }
        /* the ceiling is the best any variant reached */
        if (slot && v > *slot) *slot = v;
    }
    snprintf(c->source, sizeof c->source, "measured");
    iso_now(c->measured_at, sizeof c->measured_at);
}

void lb_ceilings_apply(const struct lb_ceilings *c,
                       const struct lb_bench *const *benches,
                       struct lb_result *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct lb_bench *b = benches[i];
        if (r[i].status != LB_RESULT_OK || !b->ceiling) continue;
        const struct lb_ceiling_row *row =
            lb_ceilings_row(c, (int)lb_case_num(&r[i].params, "threads", 1));
        if (!row) continue;
        const struct lb_metric *m = NULL;
        double ceil = 0;
        if (!strcmp(b->ceiling, "read")) {
            m = lb_result_metric(&r[i], "bandwidth"), ceil = row->read_gbs;
        } else if (!strcmp(b->ceiling, "fma")) {
            m = lb_result_metric(&r[i], "throughput"), ceil = row->fma_gflops;
        } else if (!strcmp(b->ceiling, "dot8")) {
            m = lb_result_metric(&r[i], "throughput"), ceil = row->dot8_gops;
        }
        if (m && ceil > 0) lb_result_add_metric(&r[i], "pct_of_ceiling", 100.0 * m->value / ceil, "%");
        /* A result in tokens/s against the read ceiling: its bytes per
         * token over the ceiling is the bandwidth roofline, and % of the
         * ceiling is % of that roofline. */
        const struct lb_metric *tok = lb_result_metric(&r[i], "tok_s");
        if (tok && m && ceil > 0 && m->value > 0 && !strcmp(b->ceiling, "read")) {
            lb_result_add_metric(&r[i], "roofline_tok_s", tok->value * ceil / m->value, "tok/s");
            lb_result_add_metric(&r[i], "pct_of_roofline", 100.0 * m->value / ceil, "%");
        }
        /* A bandwidth kernel's arithmetic against the compute ceiling of
         * its unit: what bounds it when the weights sit in cache. */
        const struct lb_metric *t = lb_result_metric(&r[i], "throughput");
        if (!strcmp(b->ceiling, "read") && t && r[i].ops_unit) {
            double peak = !strcmp(r[i].ops_unit, "FLOP") ? row->fma_gflops
                        : !strcmp(r[i].ops_unit, "OP")   ? row->dot8_gops : 0;
            if (peak > 0) lb_result_add_metric(&r[i], "pct_of_compute", 100.0 * t->value / peak, "%");
        }
    }
}

cJSON *lb_ceilings_to_json(const struct lb_ceilings *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "source", c->source);
    cJSON_AddStringToObject(o, "measured_at", c->measured_at);
    if (c->cache_path[0]) cJSON_AddStringToObject(o, "cache_path", c->cache_path);
    cJSON *rows = cJSON_AddArrayToObject(o, "rows");
    for (int i = 0; i < c->n; i++) {
        const struct lb_ceiling_row *r = &c->rows[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "threads", r->threads);
#define ADD(key, v)                                                           \
    if ((v) > 0) cJSON_AddNumberToObject(j, key, v);                          \
    else cJSON_AddNullToObject(j, key)
        ADD("read_gbs", r->read_gbs);
        ADD("copy_gbs", r->copy_gbs);
        ADD("triad_gbs", r->triad_gbs);
        ADD("fma_gflops", r->fma_gflops);
        ADD("dot8_gops", r->dot8_gops);
#undef ADD
        cJSON_AddItemToArray(rows, j);
    }
    return o;
}

/* FNV-1a: a stable short key, not security */
static unsigned long long fnv1a(unsigned long long h, const char *s)
{
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static void cache_key(const struct lb_hw *hw, char *buf, size_t len)
{
    char pus[32], mem[32];
    snprintf(pus, sizeof pus, "%d", hw->n_pus);
    snprintf(mem, sizeof mem, "%llu", hw->mem_total_bytes);
    unsigned long long h = 0xcbf29ce484222325ull;
    const char *parts[] = {hw->env.hostname, hw->cpu_model, pus, mem, LB_VERSION,
                           LB_GIT_COMMIT, LB_C_COMPILER, LB_C_FLAGS, LB_BUILD_TYPE};
    for (size_t i = 0; i < LB_ARRAY_LEN(parts); i++) h = fnv1a(fnv1a(h, parts[i]), "|");
    snprintf(buf, len, "%016llx", h);
}

enum lb_status lb_ceilings_cache_path(const struct lb_hw *hw, char *buf,
                                      size_t len, struct lb_error *err)
{
    char dir[400];
    const char *d = getenv("LLMBENCH_CACHE_DIR"), *x = getenv("XDG_CACHE_HOME"),
               *home = getenv("HOME");
    if (d && *d) snprintf(dir, sizeof dir, "%s", d);
    else if (x && *x) snprintf(dir, sizeof dir, "%s/llmbench", x);
    else if (home && *home) snprintf(dir, sizeof dir, "%s/.cache/llmbench", home);
    else return lb_error_set(err, LB_EIO, "no cache directory: set LLMBENCH_CACHE_DIR or HOME");
    char key[32];
    cache_key(hw, key, sizeof key);
    snprintf(buf, len, "%s/ceilings-%s.json", dir, key);
    return LB_OK;
}

static enum lb_status mkdir_p(const char *path, struct lb_error *err)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return lb_error_set(err, LB_EIO, "cannot create %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return lb_error_set(err, LB_EIO, "cannot create %s: %s", tmp, strerror(errno));
    return LB_OK;
}

enum lb_status lb_ceilings_save(const struct lb_hw *hw, struct lb_ceilings *c,
                                struct lb_error *err)
{
    enum lb_status st = lb_ceilings_cache_path(hw, c->cache_path, sizeof c->cache_path, err);
    if (st) return st;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", c->cache_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    if ((st = mkdir_p(dir, err))) return st;
    cJSON *o = lb_ceilings_to_json(c);
    cJSON_AddNumberToObject(o, "cache_version", 1);
    st = lb_json_write_atomic(o, c->cache_path, err);
    cJSON_Delete(o);
    return st;
}

enum lb_status lb_ceilings_load(const struct lb_hw *hw, struct lb_ceilings *c,
                                struct lb_error *err)
{
    char path[512];
    enum lb_status st = lb_ceilings_cache_path(hw, path, sizeof path, err);
    if (st) return st;
    cJSON *o = NULL;
    if ((st = lb_json_read_file(path, &o, err))) return st;
    memset(c, 0, sizeof *c);
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(o, "rows");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(o, "measured_at");
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(row, "threads");
        if (!cJSON_IsNumber(t) || c->n >= LB_CEIL_MAX_THREADS) continue;
        struct lb_ceiling_row *r = &c->rows[c->n++];
        r->threads = t->valueint;
#define GET(key, field)                                                       \
    do {                                                                      \
        const cJSON *v_ = cJSON_GetObjectItemCaseSensitive(row, key);         \
        r->field = cJSON_IsNumber(v_) ? v_->valuedouble : 0;                  \
    } while (0)
        GET("read_gbs", read_gbs);
        GET("copy_gbs", copy_gbs);
        GET("triad_gbs", triad_gbs);
        GET("fma_gflops", fma_gflops);
        GET("dot8_gops", dot8_gops);
#undef GET
    }
    snprintf(c->source, sizeof c->source, "cache");
    snprintf(c->measured_at, sizeof c->measured_at, "%s",
             cJSON_IsString(at) ? at->valuestring : "unknown");
    snprintf(c->cache_path, sizeof c->cache_path, "%s", path);
    cJSON_Delete(o);
    if (c->n == 0) return lb_error_set(err, LB_EIO, "%s holds no ceilings", path);
    return LB_OK;
}
