/* compare.c: the statistics and matching of `llmbench compare` (the CI
 * regression gate): Mann-Whitney U, a bootstrap CI of the ratio of
 * medians, the decision rule, matching two reports by result key, and the
 * markdown summary. See lb-compare.h for the rule and docs/compare.md for
 * why it is this rule and how its false-alarm rate was measured.
 *
 * Workload: a report holds up to a few thousand results of up to ~1000
 * samples each; matching is a sort of the keys, the bootstrap is O(n) per
 * resample (a count per sorted sample, not a sort), so a whole comparison
 * takes well under a second.
 */
#define _GNU_SOURCE /* open_memstream */
#include "lb-compare.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lb_compare_opts_default(struct lb_compare_opts *o)
{
    o->threshold = 0.05;
    o->alpha = 0.05;
    /* below 5 samples the median's CI is the whole range and the exact
     * Mann-Whitney test cannot reach p < 0.05 with 4+4 samples anyway */
    o->min_samples = 5;
    /* 2000 percentile-bootstrap resamples put the 2.5% / 97.5% quantiles
     * within ~0.2% of their limits for the ratios seen here; more costs
     * time on reports with hundreds of results and moves nothing */
    o->resamples = 2000;
    o->seed = 0x6c62636f6d70ull; /* "lbcomp": fixed, so output repeats */
    o->normalize_ceiling = false;
}

const char *lb_cmp_class_name(enum lb_cmp_class c)
{
    static const char *const names[LB_CMP_N_CLASSES] = {
        [LB_CMP_SAME] = "same",
        [LB_CMP_FASTER] = "faster",
        [LB_CMP_SLOWER] = "slower",
        [LB_CMP_INCONCLUSIVE] = "inconclusive",
    };
    return (unsigned)c < LB_CMP_N_CLASSES ? names[c] : "?";
}

/* ---- small helpers ---------------------------------------------------- */

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* type-7 quantile of sorted x[0..n) (n >= 1) */
static double quantile7(const double *x, size_t n, double q)
{
    double h = (double)(n - 1) * q;
    size_t i = (size_t)floor(h);
    if (i + 1 >= n) return x[n - 1];
    return x[i] + (h - (double)i) * (x[i + 1] - x[i]);
}

double lb_cmp_median(const double *x, size_t n)
{
    if (!x || n == 0) return NAN;
    double *s = malloc(n * sizeof *s);
    if (!s) return NAN;
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    double m = quantile7(s, n, 0.5);
    free(s);
    return m;
}

/* uniform in [0, n) by multiply-shift (bias < n / 2^64, negligible) */
static size_t rand_below(uint64_t *s, size_t n)
{
    return (size_t)(((unsigned __int128)lb_splitmix64(s) * n) >> 64);
}

/* ---- Mann-Whitney U --------------------------------------------------- */

struct mw_item {
    double v;
    int from_a;
};

static int cmp_item(const void *pa, const void *pb)
{
    const struct mw_item *a = pa, *b = pb;
    return (a->v > b->v) - (a->v < b->v);
}

/* Exact two-sided p: all C(N, na) ways to label na of the pooled items
 * "a" are equally likely under H0; count, by dynamic programming over the
 * items, the labelings whose doubled rank sum is at least as far from its
 * mean as the observed one. Doubled midranks are integers, so ties are
 * handled exactly. cnt is (na+1) x (smax+1). */
static enum lb_status mw_exact(const long *r2, size_t n, size_t na, long w2,
                               double *p, struct lb_error *err)
{
    long smax = 0;
    for (size_t i = 0; i < n; i++) smax += r2[i];
    size_t width = (size_t)smax + 1;
    double *cnt = calloc((na + 1) * width, sizeof *cnt);
    if (!cnt) return lb_error_set(err, LB_ENOMEM, "out of memory in the exact Mann-Whitney test");
    cnt[0] = 1.0;
    for (size_t i = 0; i < n; i++) {
        size_t kmax = i + 1 < na ? i + 1 : na;
        for (size_t k = kmax; k >= 1; k--) {
            double *dst = cnt + k * width;
            const double *src = cnt + (k - 1) * width;
            for (long s = smax; s >= r2[i]; s--) dst[s] += src[s - r2[i]];
        }
    }
    /* mean of the doubled rank sum: na * (N + 1) */
    long mean2 = (long)na * (long)(n + 1);
    long d_obs = labs(w2 - mean2);
    double total = 0, tail = 0;
    const double *row = cnt + na * width;
    for (long s = 0; s <= smax; s++) {
        total += row[s];
        if (labs(s - mean2) >= d_obs) tail += row[s];
    }
    free(cnt);
    *p = total > 0 ? tail / total : 1.0;
    if (*p > 1.0) *p = 1.0;
    return LB_OK;
}

enum lb_status lb_mann_whitney(const double *a, size_t na, const double *b,
                               size_t nb, enum lb_mw_method method,
                               double *p, double *u, struct lb_error *err)
{
    *p = 1.0;
    if (u) *u = NAN;
    if (na == 0 || nb == 0) return LB_OK;
    size_t n = na + nb;
    if (method == LB_MW_EXACT && n > LB_MW_EXACT_LIMIT)
        return lb_error_set(err, LB_EINVAL, "exact Mann-Whitney test limited to %d samples, got %zu",
                            LB_MW_EXACT_LIMIT, n);
    struct mw_item *it = malloc(n * sizeof *it);
    long *r2 = malloc(n * sizeof *r2);
    if (!it || !r2) {
        free(it);
        free(r2);
        return lb_error_set(err, LB_ENOMEM, "out of memory in the Mann-Whitney test");
    }
    enum lb_status st = LB_OK;
    for (size_t i = 0; i < n; i++) {
        it[i].v = i < na ? a[i] : b[i - na];
        it[i].from_a = i < na;
        if (isnan(it[i].v)) {
            st = lb_error_set(err, LB_EINVAL, "NaN sample in the Mann-Whitney test");
            goto done;
        }
    }
    qsort(it, n, sizeof *it, cmp_item);
    /* doubled midranks: a tie group at sorted positions i..j (0-based)
     * shares rank (i+1 + j+1)/2, doubled i+j+2; tie_term sums t^3 - t */
    long w2 = 0;
    double tie_term = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && it[j + 1].v == it[i].v) j++;
        double t = (double)(j - i + 1);
        tie_term += t * t * t - t;
        for (size_t k = i; k <= j; k++) {
            r2[k] = (long)(i + j + 2);
            if (it[k].from_a) w2 += r2[k];
        }
        i = j + 1;
    }
    double dna = (double)na, dnb = (double)nb, dn = (double)n;
    double ua = (double)w2 / 2.0 - dna * (dna + 1) / 2.0;
    if (u) *u = ua;
    if (method == LB_MW_EXACT || (method == LB_MW_AUTO && n <= LB_MW_EXACT_MAX)) {
        st = mw_exact(r2, n, na, w2, p, err);
        goto done;
    }
    double var = dna * dnb / 12.0 * ((dn + 1) - tie_term / (dn * (dn - 1)));
    if (!(var > 0)) { /* all values tied: no evidence of a difference */
        *p = 1.0;
        goto done;
    }
    double z = (fabs(ua - dna * dnb / 2.0) - 0.5) / sqrt(var);
    if (z < 0) z = 0;
    *p = erfc(z / sqrt(2.0));
    if (*p > 1.0) *p = 1.0;
done:
    free(it);
    free(r2);
    return st;
}

/* ---- bootstrap CI of the ratio of medians ----------------------------- */

/* Median of one resample of sorted x[0..n): draw n indices, count how
 * often each order statistic was drawn, and walk the counts to the
 * resample's middle positions, which is O(n) instead of a sort. */
static double resample_median(const double *x, size_t n, unsigned *counts, uint64_t *rng)
{
    memset(counts, 0, n * sizeof *counts);
    for (size_t i = 0; i < n; i++) counts[rand_below(rng, n)]++;
    size_t k1 = (n - 1) / 2, k2 = n / 2; /* type-7 median positions */
    double v1 = x[n - 1], v2 = x[n - 1];
    size_t seen = 0;
    int have1 = 0;
    for (size_t i = 0; i < n; i++) {
        seen += counts[i];
        if (!have1 && seen > k1) {
            v1 = x[i];
            have1 = 1;
        }
        if (seen > k2) {
            v2 = x[i];
            break;
        }
    }
    return 0.5 * (v1 + v2);
}

/* One side's runs, each sorted, in one buffer. */
struct sorted_side {
    double *x;      /* all samples, run after run, each run ascending */
    size_t *off;    /* k + 1 offsets into x */
    size_t k, nmax; /* runs, largest run */
    double *meds;   /* k scratch medians of one resample */
};

/* Leaves s zeroed, so freeing again (a caller's cleanup after a failed
 * init) is harmless. */
static void sorted_side_free(struct sorted_side *s)
{
    free(s->x);
    free(s->off);
    free(s->meds);
    memset(s, 0, sizeof *s);
}

static enum lb_status sorted_side_init(struct sorted_side *s, const struct lb_cmp_side *in,
                                       struct lb_error *err)
{
    memset(s, 0, sizeof *s);
    s->k = in->k;
    size_t total = 0;
    for (size_t r = 0; r < in->k; r++) {
        if (in->n[r] == 0) return lb_error_set(err, LB_EINVAL, "bootstrap: a run has no samples");
        total += in->n[r];
        if (in->n[r] > s->nmax) s->nmax = in->n[r];
    }
    s->x = malloc((total ? total : 1) * sizeof *s->x);
    s->off = malloc((in->k + 1) * sizeof *s->off);
    s->meds = malloc((in->k ? in->k : 1) * sizeof *s->meds);
    if (!s->x || !s->off || !s->meds) {
        sorted_side_free(s);
        return lb_error_set(err, LB_ENOMEM, "out of memory in the bootstrap");
    }
    s->off[0] = 0;
    for (size_t r = 0; r < in->k; r++) {
        double *d = s->x + s->off[r];
        memcpy(d, in->runs[r], in->n[r] * sizeof *d);
        qsort(d, in->n[r], sizeof *d, cmp_double);
        s->off[r + 1] = s->off[r] + in->n[r];
        if (!(d[0] > 0) || !isfinite(d[in->n[r] - 1])) {
            sorted_side_free(s);
            return lb_error_set(err, LB_EINVAL, "bootstrap samples must be finite and > 0");
        }
    }
    return LB_OK;
}

/* Point estimate of a side: the median of its runs' medians (with one
 * run, just the sample median). */
static double side_location(const struct sorted_side *s)
{
    for (size_t r = 0; r < s->k; r++)
        s->meds[r] = quantile7(s->x + s->off[r], s->off[r + 1] - s->off[r], 0.5);
    qsort(s->meds, s->k, sizeof *s->meds, cmp_double);
    return quantile7(s->meds, s->k, 0.5);
}

/* One hierarchical resample: k runs drawn with replacement, then each
 * drawn run's samples resampled. With one run it is the plain bootstrap;
 * with several, the run-to-run spread (the shared machine's whole-run
 * shifts) widens the CI as it should. */
static double side_resample(const struct sorted_side *s, unsigned *counts, uint64_t *rng)
{
    for (size_t j = 0; j < s->k; j++) {
        size_t r = s->k > 1 ? rand_below(rng, s->k) : 0;
        s->meds[j] = resample_median(s->x + s->off[r], s->off[r + 1] - s->off[r], counts, rng);
    }
    if (s->k == 1) return s->meds[0];
    qsort(s->meds, s->k, sizeof *s->meds, cmp_double);
    return quantile7(s->meds, s->k, 0.5);
}

enum lb_status lb_runs_ratio_ci(const struct lb_cmp_side *base, const struct lb_cmp_side *new_,
                                double conf, unsigned resamples, uint64_t seed, double *lo,
                                double *hi, struct lb_error *err)
{
    *lo = *hi = NAN;
    if (base->k == 0 || new_->k == 0 || resamples < 2 || !(conf > 0 && conf < 1))
        return lb_error_set(err, LB_EINVAL,
                            "bootstrap needs samples on both sides, >= 2 resamples and 0 < conf < 1");
    struct sorted_side sb = {0}, sn = {0};
    double *ratios = NULL;
    unsigned *counts = NULL;
    enum lb_status st = sorted_side_init(&sb, base, err);
    if (!st) st = sorted_side_init(&sn, new_, err);
    if (st) goto done;
    size_t nmax = sb.nmax > sn.nmax ? sb.nmax : sn.nmax;
    ratios = malloc((size_t)resamples * sizeof *ratios);
    counts = malloc(nmax * sizeof *counts);
    if (!ratios || !counts) {
        st = lb_error_set(err, LB_ENOMEM, "out of memory in the bootstrap");
        goto done;
    }
    uint64_t rng = seed;
    for (unsigned r = 0; r < resamples; r++) {
        double mb = side_resample(&sb, counts, &rng);
        double mn = side_resample(&sn, counts, &rng);
        ratios[r] = mn / mb;
    }
    qsort(ratios, resamples, sizeof *ratios, cmp_double);
    *lo = quantile7(ratios, resamples, (1 - conf) / 2);
    *hi = quantile7(ratios, resamples, 1 - (1 - conf) / 2);
done:
    free(ratios);
    free(counts);
    sorted_side_free(&sb);
    sorted_side_free(&sn);
    return st;
}

enum lb_status lb_median_ratio_ci(const double *base, size_t nb,
                                  const double *new_, size_t nn, double conf,
                                  unsigned resamples, uint64_t seed,
                                  double *lo, double *hi,
                                  struct lb_error *err)
{
    const struct lb_cmp_side sb = {&base, &nb, 1}, sn = {&new_, &nn, 1};
    if (nb == 0 || nn == 0) {
        *lo = *hi = NAN;
        return lb_error_set(err, LB_EINVAL, "bootstrap needs samples on both sides");
    }
    return lb_runs_ratio_ci(&sb, &sn, conf, resamples, seed, lo, hi, err);
}

/* ---- the decision rule ------------------------------------------------ */

/* all samples of a side in one array (for the rank test) */
static double *side_pool(const struct lb_cmp_side *s, size_t *n)
{
    *n = 0;
    for (size_t r = 0; r < s->k; r++) *n += s->n[r];
    double *x = malloc((*n ? *n : 1) * sizeof *x);
    if (!x) return NULL;
    size_t at = 0;
    for (size_t r = 0; r < s->k; r++) {
        memcpy(x + at, s->runs[r], s->n[r] * sizeof *x);
        at += s->n[r];
    }
    return x;
}

enum lb_status lb_compare_runs(const struct lb_cmp_side *base, const struct lb_cmp_side *new_,
                               const struct lb_compare_opts *o, struct lb_cmp_pair *out,
                               struct lb_error *err)
{
    LB_ASSERT(o->threshold > 0 && o->alpha > 0 && o->alpha < 1);
    LB_ASSERT(base->k >= 1 && new_->k >= 1);
    memset(out, 0, sizeof *out);
    out->k_base = base->k;
    out->k_new = new_->k;
    out->ci_lo = out->ci_hi = out->p_value = out->ratio = NAN;
    out->base_median_ns = out->new_median_ns = NAN;
    size_t nb, nn;
    double *pb = side_pool(base, &nb), *pn = side_pool(new_, &nn);
    struct sorted_side sb = {0}, sn = {0};
    enum lb_status st = LB_OK;
    if (!pb || !pn) {
        st = lb_error_set(err, LB_ENOMEM, "out of memory comparing samples");
        goto done;
    }
    out->n_base = nb;
    out->n_new = nn;
    if (nb == 0 || nn == 0) {
        out->cls = LB_CMP_INCONCLUSIVE;
        out->why = "too few samples to test";
        goto done;
    }
    st = sorted_side_init(&sb, base, err);
    if (!st) st = sorted_side_init(&sn, new_, err);
    if (st) goto done;
    out->base_median_ns = side_location(&sb);
    out->new_median_ns = side_location(&sn);
    out->ratio = out->new_median_ns / out->base_median_ns;
    if (nb < o->min_samples || nn < o->min_samples) {
        out->cls = LB_CMP_INCONCLUSIVE;
        out->why = "too few samples to test";
        goto done;
    }
    st = lb_mann_whitney(pn, nn, pb, nb, LB_MW_AUTO, &out->p_value, NULL, err);
    if (!st)
        st = lb_runs_ratio_ci(base, new_, 1 - o->alpha, o->resamples, o->seed, &out->ci_lo,
                              &out->ci_hi, err);
    if (st) goto done;
    double up = 1 + o->threshold, down = 1 / (1 + o->threshold);
    /* Significance: the rank test, and with repeated runs also the CI
     * (the rank test pools samples as if independent, only the run-level
     * bootstrap sees run-to-run shifts). With one run a side both treat
     * samples as independent and the percentile bootstrap of a median is
     * coarse at 10 samples (it caught 60% of true 10% slowdowns where the
     * exact test caught 88%, docs/compare.md), so the test decides. */
    bool multi = base->k > 1 || new_->k > 1;
    bool sig = out->p_value < o->alpha;
    if (sig && (!multi || out->ci_lo > 1) && out->ratio > up) {
        out->cls = LB_CMP_SLOWER;
        out->regression = true;
        out->why = "significant and beyond the threshold";
    } else if (sig && (!multi || out->ci_hi < 1) && out->ratio < down) {
        out->cls = LB_CMP_FASTER;
        out->why = "significant and beyond the threshold";
    } else if (out->ci_lo >= down && out->ci_hi <= up) {
        out->cls = LB_CMP_SAME;
        out->why = "CI within the threshold";
    } else if (out->ratio > up || out->ratio < down) {
        out->cls = LB_CMP_INCONCLUSIVE;
        out->why = "beyond the threshold but not significant";
    } else {
        out->cls = LB_CMP_INCONCLUSIVE;
        out->why = "CI reaches beyond the threshold";
    }
done:
    free(pb);
    free(pn);
    sorted_side_free(&sb);
    sorted_side_free(&sn);
    return st;
}

enum lb_status lb_compare_samples(const double *base, size_t nb,
                                  const double *new_, size_t nn,
                                  const struct lb_compare_opts *o,
                                  struct lb_cmp_pair *out,
                                  struct lb_error *err)
{
    const struct lb_cmp_side sb = {&base, &nb, 1}, sn = {&new_, &nn, 1};
    return lb_compare_runs(&sb, &sn, o, out, err);
}

/* ---- matching --------------------------------------------------------- */

struct strbuf {
    char *s;
    size_t len, cap;
    int oom;
};

static void sb_add(struct strbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 128;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_str(struct strbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* a JSON string literal of s: unambiguous separators in the key */
static void sb_quoted(struct strbuf *b, const char *s)
{
    cJSON *tmp = cJSON_CreateString(s);
    char *q = tmp ? cJSON_PrintUnformatted(tmp) : NULL;
    if (q) sb_str(b, q);
    else b->oom = 1;
    free(q);
    cJSON_Delete(tmp);
}

static int cmp_item_name(const void *pa, const void *pb)
{
    const cJSON *a = *(const cJSON *const *)pa, *b = *(const cJSON *const *)pb;
    return strcmp(a->string ? a->string : "", b->string ? b->string : "");
}

char *lb_result_key(const cJSON *r)
{
    const cJSON *suite = cJSON_GetObjectItemCaseSensitive(r, "suite");
    const cJSON *bench = cJSON_GetObjectItemCaseSensitive(r, "bench");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(r, "params");
    if (!cJSON_IsString(suite) || !cJSON_IsString(bench) || !cJSON_IsObject(params)) return NULL;
    size_t np = (size_t)cJSON_GetArraySize(params);
    const cJSON **items = malloc((np ? np : 1) * sizeof *items);
    if (!items) return NULL;
    size_t k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, params) items[k++] = it;
    qsort(items, k, sizeof *items, cmp_item_name);
    struct strbuf b = {0};
    sb_quoted(&b, suite->valuestring);
    sb_str(&b, "/");
    sb_quoted(&b, bench->valuestring);
    for (size_t i = 0; i < k; i++) {
        sb_str(&b, i ? "," : "{");
        sb_quoted(&b, items[i]->string ? items[i]->string : "");
        sb_str(&b, ":");
        if (cJSON_IsNumber(items[i])) {
            /* %.17g round-trips: 1048576 and 1048576.0 give one key, a
             * string "1048576" stays a string (quoted) */
            char num[40];
            snprintf(num, sizeof num, "%.17g", items[i]->valuedouble);
            sb_str(&b, num);
        } else {
            char *v = cJSON_PrintUnformatted(items[i]);
            if (v) sb_str(&b, v);
            else b.oom = 1;
            free(v);
        }
    }
    sb_str(&b, k ? "}" : "{}");
    free(items);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

struct keyed {
    char *key;
    const cJSON *r;
    size_t index;   /* position in the report's results */
    int matched;
};

static int cmp_keyed(const void *pa, const void *pb)
{
    const struct keyed *a = pa, *b = pb;
    int c = strcmp(a->key, b->key);
    if (c) return c;
    return (a->index > b->index) - (a->index < b->index);
}

static void keyed_free(struct keyed *k, size_t n)
{
    if (!k) return;
    for (size_t i = 0; i < n; i++) free(k[i].key);
    free(k);
}

/* keys of all results, sorted by key then position */
static enum lb_status keyed_build(const cJSON *doc, const char *name, struct keyed **out,
                                  size_t *n_out, struct lb_error *err)
{
    *out = NULL;
    *n_out = 0;
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(doc, "results");
    if (!cJSON_IsObject(doc) || !cJSON_IsArray(results))
        return lb_error_set(err, LB_EINVAL, "%s is not an llmbench report: no \"results\" array", name);
    size_t n = (size_t)cJSON_GetArraySize(results);
    struct keyed *k = calloc(n ? n : 1, sizeof *k);
    if (!k) return lb_error_set(err, LB_ENOMEM, "out of memory matching %s", name);
    size_t i = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, results) {
        k[i].r = r;
        k[i].index = i;
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "status"))) {
            keyed_free(k, i);
            return lb_error_set(err, LB_EINVAL, "%s: results[%zu] has no string \"status\"", name, i);
        }
        k[i].key = lb_result_key(r);
        if (!k[i].key) {
            keyed_free(k, i);
            return lb_error_set(err, LB_EINVAL,
                                "%s: results[%zu] needs string suite and bench and a params object",
                                name, i);
        }
        i++;
    }
    qsort(k, n, sizeof *k, cmp_keyed);
    *out = k;
    *n_out = n;
    return LB_OK;
}

static struct keyed *keyed_find(struct keyed *k, size_t n, const char *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) { /* first entry with key >= key */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(k[mid].key, key) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && strcmp(k[lo].key, key) == 0 ? &k[lo] : NULL;
}

/* probe_gbs of an "ok" result (n entries, each finite and > 0) into p */
static enum lb_status probes_get(const cJSON *r, const char *name, size_t index, size_t n, double *p,
                                 struct lb_error *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(r, "probe_gbs");
    const char *bench = cJSON_GetObjectItemCaseSensitive(r, "bench")->valuestring;
    if (!cJSON_IsArray(a))
        return lb_error_set(err, LB_EINVAL,
                            "%s: results[%zu] (%s) has no probe_gbs, which --normalize ceiling needs: run it with `llmbench run --paired-ceiling`",
                            name, index, bench);
    if ((size_t)cJSON_GetArraySize(a) != n)
        return lb_error_set(err, LB_EINVAL, "%s: results[%zu] (%s) has %d probe_gbs for %zu samples_ns", name,
                            index, bench, cJSON_GetArraySize(a), n);
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a) {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || !(v->valuedouble > 0))
            return lb_error_set(err, LB_EINVAL, "%s: results[%zu] (%s) probe_gbs[%zu] is not a number > 0", name,
                                index, bench, i);
        p[i++] = v->valuedouble;
    }
    return LB_OK;
}

/* the samples of an "ok" result, checked: every one a finite number > 0;
 * normalized, each times its probe's GB/s (bytes at the probe's rate) */
static enum lb_status samples_get(const cJSON *r, const char *name, size_t index, bool normalize,
                                  double **out, size_t *n_out, struct lb_error *err)
{
    *out = NULL;
    *n_out = 0;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(r, "samples_ns");
    const char *bench = cJSON_GetObjectItemCaseSensitive(r, "bench")->valuestring;
    if (!cJSON_IsArray(s) || cJSON_GetArraySize(s) < 1)
        return lb_error_set(err, LB_EINVAL,
                            "%s: results[%zu] (%s) has status ok but no samples_ns array", name,
                            index, bench);
    size_t n = (size_t)cJSON_GetArraySize(s), i = 0;
    double *x = malloc(n * sizeof *x);
    if (!x) return lb_error_set(err, LB_ENOMEM, "out of memory reading samples of %s", name);
    const cJSON *v;
    cJSON_ArrayForEach(v, s) {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || !(v->valuedouble > 0)) {
            free(x);
            return lb_error_set(err, LB_EINVAL,
                                "%s: results[%zu] (%s) samples_ns[%zu] is not a number > 0", name,
                                index, bench, i);
        }
        x[i++] = v->valuedouble;
    }
    if (normalize) {
        double *p = malloc(n * sizeof *p);
        enum lb_status st = p ? probes_get(r, name, index, n, p, err)
                              : lb_error_set(err, LB_ENOMEM, "out of memory reading samples of %s", name);
        for (i = 0; !st && i < n; i++) x[i] *= p[i];
        free(p);
        if (st) {
            free(x);
            return st;
        }
    }
    *out = x;
    *n_out = n;
    return LB_OK;
}

/* a JSON number, or null for NaN/inf (JSON has no NaN) */
static cJSON *num_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

/* suite, bench, params (as written) and key of a result */
static cJSON *entry_new(const struct keyed *k)
{
    cJSON *e = cJSON_CreateObject();
    if (!e) return NULL;
    cJSON_AddStringToObject(e, "suite", cJSON_GetObjectItemCaseSensitive(k->r, "suite")->valuestring);
    cJSON_AddStringToObject(e, "bench", cJSON_GetObjectItemCaseSensitive(k->r, "bench")->valuestring);
    cJSON_AddItemToObject(e, "params",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(k->r, "params"), 1));
    cJSON_AddStringToObject(e, "key", k->key);
    return e;
}

static void add_status(cJSON *e, const char *field, const cJSON *r)
{
    cJSON *o = cJSON_AddObjectToObject(e, field);
    if (!o) return;
    cJSON_AddStringToObject(o, "status", cJSON_GetObjectItemCaseSensitive(r, "status")->valuestring);
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(r, "reason");
    cJSON_AddStringToObject(o, "reason", cJSON_IsString(reason) ? reason->valuestring : "");
}

/* FNV-1a of the key: each result gets its own bootstrap stream, so its CI
 * does not depend on which other results the reports hold */
static uint64_t key_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static const char *str_at(const cJSON *doc, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(doc, a);
    if (b) x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

static cJSON *side_info(const cJSON *doc, const char *name)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "path", name);
    const char *v;
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "hw"), "cpu");
    v = str_at(doc, "tool", "git_commit");
    cJSON_AddStringToObject(o, "git_commit", v ? v : "");
    const cJSON *dirty = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "tool"), "git_dirty");
    cJSON_AddBoolToObject(o, "git_dirty", cJSON_IsTrue(dirty));
    v = str_at(doc, "timestamp", NULL);
    cJSON_AddStringToObject(o, "timestamp", v ? v : "");
    v = str_at(doc, "environment", "hostname");
    cJSON_AddStringToObject(o, "hostname", v ? v : "");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(cpu, "model");
    cJSON_AddStringToObject(o, "cpu", cJSON_IsString(model) ? model->valuestring : "");
    return o;
}

static void warn(cJSON *warnings, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(cJSON *warnings, const char *fmt, ...)
{
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    cJSON_AddItemToArray(warnings, cJSON_CreateString(line));
}

/* one side's results whose key appeared before in the same report: only
 * the first is compared, the others are named in a warning */
static void warn_duplicates(const struct keyed *k, size_t n, const char *name, cJSON *warnings)
{
    for (size_t i = 1; i < n; i++)
        if (strcmp(k[i].key, k[i - 1].key) == 0)
            warn(warnings, "%s: results[%zu] repeats the key of results[%zu] (%s); only the first is compared",
                 name, k[i].index, k[i - 1].index, k[i].key);
}

/* one side of a comparison: its reports, their sorted keys */
struct side {
    size_t k;
    const cJSON *const *docs;
    const char *const *names;
    struct keyed **keys; /* k arrays */
    size_t *n;           /* results per report */
    double **runs;       /* k sample arrays of the result being compared */
    size_t *run_n;
};

static void side_free(struct side *s)
{
    if (s->keys && s->n)
        for (size_t d = 0; d < s->k; d++) keyed_free(s->keys[d], s->n[d]);
    free(s->keys);
    free(s->n);
    if (s->runs)
        for (size_t d = 0; d < s->k; d++) free(s->runs[d]);
    free(s->runs);
    free(s->run_n);
}

static enum lb_status side_init(struct side *s, const cJSON *const *docs, const char *const *names,
                                size_t k, struct lb_error *err)
{
    memset(s, 0, sizeof *s);
    s->k = k;
    s->docs = docs;
    s->names = names;
    s->keys = calloc(k, sizeof *s->keys);
    s->n = calloc(k, sizeof *s->n);
    s->runs = calloc(k, sizeof *s->runs);
    s->run_n = calloc(k, sizeof *s->run_n);
    if (!s->keys || !s->n || !s->runs || !s->run_n)
        return lb_error_set(err, LB_ENOMEM, "out of memory comparing reports");
    for (size_t d = 0; d < k; d++) {
        enum lb_status st = keyed_build(docs[d], names[d], &s->keys[d], &s->n[d], err);
        if (st) return st;
    }
    return LB_OK;
}

/* Samples of key in every report of the side where it is "ok"; the runs
 * are packed into s->runs[0..*k). */
static enum lb_status side_gather(struct side *s, const char *key, bool normalize, size_t *k_out,
                                  struct lb_error *err)
{
    *k_out = 0;
    for (size_t d = 0; d < s->k; d++) {
        free(s->runs[d]);
        s->runs[d] = NULL;
    }
    for (size_t d = 0; d < s->k; d++) {
        struct keyed *m = keyed_find(s->keys[d], s->n[d], key);
        if (!m || strcmp(cJSON_GetObjectItemCaseSensitive(m->r, "status")->valuestring, "ok")) continue;
        enum lb_status st = samples_get(m->r, s->names[d], m->index, normalize, &s->runs[*k_out],
                                        &s->run_n[*k_out], err);
        if (st) return st;
        (*k_out)++;
    }
    return LB_OK;
}

static void warn_machines(cJSON *warnings, const cJSON *a, const char *an, const cJSON *b,
                          const char *bn)
{
    const char *ha = str_at(a, "environment", "hostname"), *hb = str_at(b, "environment", "hostname");
    const cJSON *ca = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(a, "hw"), "cpu");
    const cJSON *cb = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(b, "hw"), "cpu");
    const cJSON *ma = cJSON_GetObjectItemCaseSensitive(ca, "model");
    const cJSON *mb = cJSON_GetObjectItemCaseSensitive(cb, "model");
    if (cJSON_IsString(ma) && cJSON_IsString(mb) && strcmp(ma->valuestring, mb->valuestring))
        warn(warnings, "%s and %s ran on different CPUs (%s vs %s): differences include the machine",
             an, bn, ma->valuestring, mb->valuestring);
    else if (ha && hb && strcmp(ha, hb))
        warn(warnings, "%s and %s ran on different hosts (%s vs %s): machine-to-machine spread adds to any difference",
             an, bn, ha, hb);
}

enum lb_status lb_compare_reports(const cJSON *const *base, size_t n_base,
                                  const cJSON *const *new_, size_t n_new,
                                  const char *const *base_names,
                                  const char *const *new_names,
                                  const struct lb_compare_opts *o,
                                  cJSON **out, struct lb_error *err)
{
    LB_ASSERT(n_base >= 1 && n_new >= 1);
    *out = NULL;
    struct side sb, sn;
    cJSON *doc = NULL;
    struct keyed **order = NULL;
    enum lb_status st = side_init(&sb, base, base_names, n_base, err);
    if (!st) st = side_init(&sn, new_, new_names, n_new, err);
    else memset(&sn, 0, sizeof sn);
    if (st) goto fail;
    /* the first report of each side defines its list of results */
    struct keyed *kb = sb.keys[0], *kn = sn.keys[0];
    size_t nb = sb.n[0], nn = sn.n[0];

    doc = cJSON_CreateObject();
    if (!doc) goto oom;
    cJSON_AddNumberToObject(doc, "compare_schema_version", LB_COMPARE_SCHEMA_VERSION);
    cJSON_AddItemToObject(doc, "base", side_info(base[0], base_names[0]));
    cJSON_AddItemToObject(doc, "new", side_info(new_[0], new_names[0]));
    cJSON_AddNumberToObject(doc, "base_reports", (double)n_base);
    cJSON_AddNumberToObject(doc, "new_reports", (double)n_new);
    cJSON *set = cJSON_AddObjectToObject(doc, "settings");
    if (!set) goto oom;
    cJSON_AddNumberToObject(set, "threshold", o->threshold);
    cJSON_AddNumberToObject(set, "alpha", o->alpha);
    cJSON_AddNumberToObject(set, "min_samples", (double)o->min_samples);
    cJSON_AddNumberToObject(set, "resamples", o->resamples);
    char seed[24];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    cJSON_AddStringToObject(set, "seed", seed);
    cJSON_AddStringToObject(set, "normalize", o->normalize_ceiling ? "ceiling" : "none");
    cJSON_AddStringToObject(set, "ratio",
                            o->normalize_ceiling
                                ? "median of time per call x read GB/s of the probe before it (median of run medians), new / base; > 1 is slower"
                                : "median time per call (median of run medians), new / base; > 1 is slower");
    cJSON_AddStringToObject(set, "test", "two-sided Mann-Whitney U on the pooled samples (tie-corrected)");
    cJSON_AddStringToObject(set, "ci", "percentile bootstrap of the ratio at 1 - alpha (runs, then samples)");
    cJSON *counts = cJSON_AddObjectToObject(doc, "counts");
    cJSON *results = cJSON_AddArrayToObject(doc, "results");
    cJSON *notc = cJSON_AddArrayToObject(doc, "not_compared");
    cJSON *only_b = cJSON_AddArrayToObject(doc, "only_in_base");
    cJSON *only_n = cJSON_AddArrayToObject(doc, "only_in_new");
    cJSON *warnings = cJSON_AddArrayToObject(doc, "warnings");
    if (!counts || !results || !notc || !only_b || !only_n || !warnings) goto oom;

    warn_machines(warnings, base[0], base_names[0], new_[0], new_names[0]);
    for (size_t d = 1; d < n_base; d++) warn_machines(warnings, base[0], base_names[0], base[d], base_names[d]);
    for (size_t d = 1; d < n_new; d++) warn_machines(warnings, new_[0], new_names[0], new_[d], new_names[d]);
    warn_duplicates(kb, nb, base_names[0], warnings);
    warn_duplicates(kn, nn, new_names[0], warnings);

    /* walk base results in report order so the output follows the run */
    size_t nmax = nb > nn ? nb : nn;
    order = malloc((nmax ? nmax : 1) * sizeof *order);
    if (!order) goto oom;
    for (size_t i = 0; i < nb; i++) order[kb[i].index] = &kb[i];
    int n_cls[LB_CMP_N_CLASSES] = {0};
    int n_compared = 0, n_regress = 0;
    double log_sum = 0;
    for (size_t oi = 0; oi < nb; oi++) {
        struct keyed *b = order[oi];
        /* a repeated key: the first occurrence (lowest index) is kept */
        if (b > kb && strcmp(b[-1].key, b->key) == 0) continue;
        struct keyed *m = keyed_find(kn, nn, b->key);
        cJSON *e = entry_new(b);
        if (!e) goto oom;
        if (!m) {
            add_status(e, "base", b->r);
            cJSON_AddItemToArray(only_b, e);
            continue;
        }
        m->matched = 1;
        const char *stb = cJSON_GetObjectItemCaseSensitive(b->r, "status")->valuestring;
        const char *stn = cJSON_GetObjectItemCaseSensitive(m->r, "status")->valuestring;
        if (strcmp(stb, "ok") || strcmp(stn, "ok")) {
            add_status(e, "base", b->r);
            add_status(e, "new", m->r);
            cJSON_AddItemToArray(notc, e);
            continue;
        }
        size_t kb_runs = 0, kn_runs = 0;
        st = side_gather(&sb, b->key, o->normalize_ceiling, &kb_runs, err);
        if (!st) st = side_gather(&sn, b->key, o->normalize_ceiling, &kn_runs, err);
        if (!st && o->normalize_ceiling && kb_runs > 0) {
            /* back to nanoseconds at one reference bandwidth, the same for
             * both sides (the median probe of base's first run), so the
             * medians read as times; the ratio does not depend on it */
            double ref = NAN;
            const struct keyed *b0 = keyed_find(sb.keys[0], sb.n[0], b->key);
            size_t n0 = sb.run_n[0];
            double *p = malloc((n0 ? n0 : 1) * sizeof *p);
            if (!p) st = lb_error_set(err, LB_ENOMEM, "out of memory comparing reports");
            else if (b0 && !probes_get(b0->r, sb.names[0], b0->index, n0, p, err)) ref = lb_cmp_median(p, n0);
            free(p);
            for (size_t d = 0; !st && isfinite(ref) && ref > 0 && d < kb_runs; d++)
                for (size_t i = 0; i < sb.run_n[d]; i++) sb.runs[d][i] /= ref;
            for (size_t d = 0; !st && isfinite(ref) && ref > 0 && d < kn_runs; d++)
                for (size_t i = 0; i < sn.run_n[d]; i++) sn.runs[d][i] /= ref;
        }
        struct lb_cmp_pair pr;
        struct lb_compare_opts ko = *o;
        ko.seed = o->seed ^ key_hash(b->key);
        const struct lb_cmp_side cb = {(const double *const *)sb.runs, sb.run_n, kb_runs};
        const struct lb_cmp_side cn = {(const double *const *)sn.runs, sn.run_n, kn_runs};
        if (!st) st = lb_compare_runs(&cb, &cn, &ko, &pr, err);
        if (st) {
            cJSON_Delete(e);
            goto fail;
        }
        n_cls[pr.cls]++;
        n_regress += pr.regression;
        n_compared++;
        log_sum += log(pr.ratio);
        cJSON_AddStringToObject(e, "class", lb_cmp_class_name(pr.cls));
        cJSON_AddBoolToObject(e, "regression", pr.regression);
        cJSON_AddStringToObject(e, "why", pr.why);
        cJSON_AddItemToObject(e, "ratio", num_or_null(pr.ratio));
        cJSON_AddItemToObject(e, "speed_change", num_or_null(1 / pr.ratio - 1));
        cJSON_AddItemToObject(e, "ci_lo", num_or_null(pr.ci_lo));
        cJSON_AddItemToObject(e, "ci_hi", num_or_null(pr.ci_hi));
        cJSON_AddItemToObject(e, "p_value", num_or_null(pr.p_value));
        cJSON_AddNumberToObject(e, "base_median_ns", pr.base_median_ns);
        cJSON_AddNumberToObject(e, "new_median_ns", pr.new_median_ns);
        cJSON_AddNumberToObject(e, "base_n", (double)pr.n_base);
        cJSON_AddNumberToObject(e, "new_n", (double)pr.n_new);
        cJSON_AddNumberToObject(e, "base_runs", (double)pr.k_base);
        cJSON_AddNumberToObject(e, "new_runs", (double)pr.k_new);
        cJSON_AddItemToArray(results, e);
    }
    /* results of new that matched nothing, in the new report's order */
    for (size_t i = 0; i < nn; i++) order[kn[i].index] = &kn[i];
    for (size_t oi = 0; oi < nn; oi++) {
        struct keyed *k = order[oi];
        if (k->matched || (k > kn && strcmp(k[-1].key, k->key) == 0)) continue;
        cJSON *e = entry_new(k);
        if (!e) goto oom;
        add_status(e, "new", k->r);
        cJSON_AddItemToArray(only_n, e);
    }
    for (int c = 0; c < LB_CMP_N_CLASSES; c++)
        cJSON_AddNumberToObject(counts, lb_cmp_class_name((enum lb_cmp_class)c), n_cls[c]);
    cJSON_AddNumberToObject(counts, "not_compared", cJSON_GetArraySize(notc));
    cJSON_AddNumberToObject(counts, "only_in_base", cJSON_GetArraySize(only_b));
    cJSON_AddNumberToObject(counts, "only_in_new", cJSON_GetArraySize(only_n));
    cJSON_AddNumberToObject(doc, "compared", n_compared);
    cJSON_AddNumberToObject(doc, "regressions", n_regress);
    cJSON_AddItemToObject(doc, "geomean_ratio",
                          n_compared ? num_or_null(exp(log_sum / n_compared)) : cJSON_CreateNull());
    free(order);
    side_free(&sb);
    side_free(&sn);
    *out = doc;
    return LB_OK;
oom:
    st = lb_error_set(err, LB_ENOMEM, "out of memory comparing %s and %s", base_names[0], new_names[0]);
fail:
    free(order);
    side_free(&sb);
    side_free(&sn);
    cJSON_Delete(doc);
    return st;
}

int lb_compare_regressions(const cJSON *cmp)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(cmp, "regressions");
    return cJSON_IsNumber(r) ? r->valueint : 0;
}

/* ---- markdown --------------------------------------------------------- */

static double num_at(const cJSON *o, const char *name)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

/* markdown table cells: '|' would end the cell, newlines the row */
static void md_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", f);
        else if (*s == '\n' || *s == '\r') fputc(' ', f);
        else fputc(*s, f);
    }
}

static void md_params(FILE *f, const cJSON *params)
{
    const cJSON *p;
    int first = 1;
    cJSON_ArrayForEach(p, params) {
        if (!first) fputc(' ', f);
        first = 0;
        md_text(f, p->string ? p->string : "");
        fputc('=', f);
        if (cJSON_IsString(p)) {
            md_text(f, p->valuestring);
        } else if (cJSON_IsNumber(p)) {
            fprintf(f, "%.15g", p->valuedouble);
        } else {
            char *v = cJSON_PrintUnformatted(p);
            md_text(f, v ? v : "?");
            free(v);
        }
    }
    if (first) fputs("-", f);
}

static void md_time(FILE *f, double ns)
{
    if (!isfinite(ns)) fputs("-", f);
    else if (ns < 1e3) fprintf(f, "%.3g ns", ns);
    else if (ns < 1e6) fprintf(f, "%.4g us", ns / 1e3);
    else if (ns < 1e9) fprintf(f, "%.4g ms", ns / 1e6);
    else fprintf(f, "%.4g s", ns / 1e9);
}

static void md_side(FILE *f, const char *label, const cJSON *side)
{
    const char *path = str_at(side, "path", NULL), *commit = str_at(side, "git_commit", NULL);
    const char *ts = str_at(side, "timestamp", NULL), *cpu = str_at(side, "cpu", NULL);
    const char *host = str_at(side, "hostname", NULL);
    fprintf(f, "- %s: `", label);
    md_text(f, path ? path : "?");
    fprintf(f, "` (commit %.12s%s, %s, %s on %s)\n", commit && *commit ? commit : "?",
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(side, "git_dirty")) ? " dirty" : "",
            ts && *ts ? ts : "?", cpu && *cpu ? cpu : "?", host && *host ? host : "?");
}

static void md_changed_row(FILE *f, const cJSON *e)
{
    const char *cls = str_at(e, "class", NULL);
    double ratio = num_at(e, "ratio"), lo = num_at(e, "ci_lo"), hi = num_at(e, "ci_hi");
    double p = num_at(e, "p_value");
    fprintf(f, "| %s%s | ", cls ? cls : "?",
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "regression")) ? " **(regression)**" : "");
    md_text(f, str_at(e, "suite", NULL));
    fputc('/', f);
    md_text(f, str_at(e, "bench", NULL));
    fputs(" | ", f);
    md_params(f, cJSON_GetObjectItemCaseSensitive(e, "params"));
    fputs(" | ", f);
    md_time(f, num_at(e, "base_median_ns"));
    fputs(" | ", f);
    md_time(f, num_at(e, "new_median_ns"));
    fprintf(f, " | %.3f | %+.1f%% | ", ratio, (1 / ratio - 1) * 100);
    if (isfinite(lo) && isfinite(hi)) fprintf(f, "[%.3f, %.3f]", lo, hi);
    else fputs("-", f);
    if (isfinite(p)) fprintf(f, p < 1e-4 ? " | %.1e" : " | %.4f", p);
    else fputs(" | -", f);
    double rb = num_at(e, "base_runs"), rn = num_at(e, "new_runs");
    if (rb > 1 || rn > 1) fprintf(f, " | %.0f / %.0f in %.0f / %.0f runs", num_at(e, "base_n"), num_at(e, "new_n"), rb, rn);
    else fprintf(f, " | %.0f / %.0f", num_at(e, "base_n"), num_at(e, "new_n"));
    fprintf(f, " | %s |\n",
            str_at(e, "why", NULL) ? str_at(e, "why", NULL) : "");
}

/* changed rows first by how much they changed: regressions at the top */
static int cmp_rows(const void *pa, const void *pb)
{
    const cJSON *a = *(const cJSON *const *)pa, *b = *(const cJSON *const *)pb;
    static const char *const rank[] = {"slower", "faster", "inconclusive"};
    int ra = 3, rb = 3;
    for (int i = 0; i < 3; i++) {
        if (!strcmp(str_at(a, "class", NULL), rank[i])) ra = i;
        if (!strcmp(str_at(b, "class", NULL), rank[i])) rb = i;
    }
    if (ra != rb) return ra - rb;
    double da = fabs(log(num_at(a, "ratio"))), db = fabs(log(num_at(b, "ratio")));
    return (da < db) - (da > db);
}

static void md_list(FILE *f, const char *title, const cJSON *arr, int both)
{
    int n = cJSON_GetArraySize(arr);
    if (n == 0) return;
    fprintf(f, "\n### %s (%d)\n\n", title, n);
    fputs(both ? "| suite/bench | params | base | new |\n|---|---|---|---|\n"
               : "| suite/bench | params | status |\n|---|---|---|\n", f);
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        fputs("| ", f);
        md_text(f, str_at(e, "suite", NULL));
        fputc('/', f);
        md_text(f, str_at(e, "bench", NULL));
        fputs(" | ", f);
        md_params(f, cJSON_GetObjectItemCaseSensitive(e, "params"));
        static const char *const sides[] = {"base", "new"};
        for (int s = 0; s < 2; s++) {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, sides[s]);
            if (!st) continue;
            const char *status = str_at(st, "status", NULL), *reason = str_at(st, "reason", NULL);
            fputs(" | ", f);
            md_text(f, status ? status : "?");
            if (reason && *reason) {
                fputs(": ", f);
                md_text(f, reason);
            }
        }
        fputs(" |\n", f);
    }
}

enum lb_status lb_compare_markdown(const cJSON *cmp, char **md, struct lb_error *err)
{
    *md = NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return lb_error_set(err, LB_ENOMEM, "out of memory rendering markdown");
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(cmp, "counts");
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(cmp, "settings");
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(cmp, "results");
    int nreg = lb_compare_regressions(cmp);
    fputs("## llmbench compare\n\n", f);
    if (nreg)
        fprintf(f, "**%d regression%s** beyond the %.3g%% threshold: the gate fails.\n\n", nreg,
                nreg == 1 ? "" : "s", num_at(set, "threshold") * 100);
    else
        fprintf(f, "**No regression** beyond the %.3g%% threshold.\n\n", num_at(set, "threshold") * 100);
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(set, "normalize");
    if (cJSON_IsString(norm) && !strcmp(norm->valuestring, "ceiling"))
        fputs("Normalized by the read ceiling: each sample's time is weighted by the read bandwidth "
              "probed just before it (`--normalize ceiling`), so a change of the machine's "
              "bandwidth between runs is not counted as a change of the code.\n\n",
              f);
    md_side(f, "base", cJSON_GetObjectItemCaseSensitive(cmp, "base"));
    md_side(f, "new", cJSON_GetObjectItemCaseSensitive(cmp, "new"));
    double kb = num_at(cmp, "base_reports"), kn = num_at(cmp, "new_reports");
    if (kb > 1 || kn > 1)
        fprintf(f, "- runs: %.0f base and %.0f new reports; ratios are of the medians of run medians\n", kb, kn);
    fprintf(f,
            "- rule: slower = Mann-Whitney p < %.3g and the %.3g%% bootstrap CI of the median-time "
            "ratio above 1 and the ratio beyond the %.3g%% threshold (docs/compare.md)\n",
            num_at(set, "alpha"), (1 - num_at(set, "alpha")) * 100, num_at(set, "threshold") * 100);

    fputs("\n| class | results |\n|---|---:|\n", f);
    static const char *const rows[][2] = {
        {"slower", "slower (regression)"}, {"faster", "faster"},
        {"same", "same"}, {"inconclusive", "inconclusive"},
        {"not_compared", "not compared (skipped/failed)"},
        {"only_in_base", "only in base"}, {"only_in_new", "only in new"},
    };
    for (size_t i = 0; i < LB_ARRAY_LEN(rows); i++)
        fprintf(f, "| %s | %.0f |\n", rows[i][1], num_at(counts, rows[i][0]));

    double gm = num_at(cmp, "geomean_ratio");
    if (isfinite(gm))
        fprintf(f, "\nGeometric mean of the time ratios (new / base) over %.0f matched results: "
                   "**%.4f** (%+.2f%% speed).\n",
                num_at(cmp, "compared"), gm, (1 / gm - 1) * 100);
    else
        fputs("\nNo matched results to compare.\n", f);

    int n = cJSON_GetArraySize(results), nrows = 0;
    const cJSON **changed = malloc((n ? (size_t)n : 1) * sizeof *changed);
    if (!changed) {
        fclose(f);
        free(buf);
        return lb_error_set(err, LB_ENOMEM, "out of memory rendering markdown");
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, results) {
        const char *cls = str_at(e, "class", NULL);
        if (cls && strcmp(cls, "same")) changed[nrows++] = e;
    }
    qsort(changed, (size_t)nrows, sizeof *changed, cmp_rows);
    if (nrows) {
        fprintf(f, "\n### Slower, faster, inconclusive (%d)\n\n", nrows);
        fputs("| class | suite/bench | params | base median | new median | time new/base | speed | CI of ratio | p | n base / new | why |\n"
              "|---|---|---|---:|---:|---:|---:|---|---:|---:|---|\n", f);
        for (int i = 0; i < nrows; i++) md_changed_row(f, changed[i]);
    }
    free(changed);
    md_list(f, "Not compared: skipped or failed on a side", cJSON_GetObjectItemCaseSensitive(cmp, "not_compared"), 1);
    md_list(f, "Only in base", cJSON_GetObjectItemCaseSensitive(cmp, "only_in_base"), 0);
    md_list(f, "Only in new", cJSON_GetObjectItemCaseSensitive(cmp, "only_in_new"), 0);
    const cJSON *warnings = cJSON_GetObjectItemCaseSensitive(cmp, "warnings");
    if (cJSON_GetArraySize(warnings)) {
        fputs("\n### Warnings\n\n", f);
        cJSON_ArrayForEach(e, warnings) {
            fputs("- ", f);
            md_text(f, cJSON_IsString(e) ? e->valuestring : "?");
            fputc('\n', f);
        }
    }
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return lb_error_set(err, LB_ENOMEM, "out of memory rendering markdown");
    }
    *md = buf;
    return LB_OK;
}
