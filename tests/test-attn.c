/* test-attn.c: decode attention (kernels/lb-attn.h): every implementation
 * this CPU runs, for every cache type, against a float64 reference.
 *
 * The reference is written here, independently of the kernels: the cache
 * rows are dequantized to double (the format's definition), the logits of
 * ALL attended positions are computed, and a plain two-pass softmax
 * (max, then sum) gives the output; no online rescaling, no split. The
 * kernels are run for nth = 1..3 with each worker's share computed in turn
 * on this thread, then merged (also with a split merge).
 *
 * Inputs are fresh random values each run (seed printed; LB_TEST_SEED
 * reproduces). The cache is filled through lb_attn_append, so the append
 * is exercised on every case and separately checked byte for byte.
 *
 * Tolerance. Dequantized F16, BF16 and Q8_0 values are exact in f32 (fp16
 * and bf16 widen exactly; a Q8_0 value is an 11-bit fp16 scale times a
 * 7-bit integer, 18 significant bits), so the reference sees exactly the
 * values the kernels see and the only error is f32 rounding, with the
 * same bound for every cache type. Let u = 2^-24, A = max over (head,
 * position) of scale * sum_j |q_j k_j|, n the attended positions, vmax =
 * max |v|, M the max logit, D the softmax denominator and E = sum_p
 * w_p |s_p - M| / D (the weighted spread of the logits).
 *  - A logit is a sum of d + 1 rounded terms: |ds| <= g(d + 1) A.
 *  - A weight exp(s - m) then has relative error <= 2 g(d + 1) A (s and
 *    the max both move) + u |s - m| (the subtraction) + ~3u (exp); a
 *    relative weight error e_p moves o = sum w v / D by at most
 *    sum_p w_p e_p 2 vmax / D, i.e. 2 vmax (2 g(d + 1) A + u E + 3u).
 *  - The running numerator and denominator are sums of n terms with up
 *    to n rescales: relative g(2n) each, so 2 g(2n) vmax on o.
 *  - The merge adds a few u.
 * Worst-case analysis has g(k) = k u (Higham's gamma_k), which for n =
 * 1000 is too loose to see one missing position. The test uses the
 * probabilistic bound g(k) = lambda sqrt(k) u (Higham & Mary, SIAM J.
 * Sci. Comput. 41(5), 2019: rounding errors as independent mean-zero
 * variables; it holds with probability >= 1 - 2k exp(-lambda^2 / 2)),
 * with lambda = 8 (failure odds ~1e-13 per sum):
 *     tol = vmax u (4 lambda sqrt(d + 1) A + 2E + 2 lambda sqrt(2n) + 40).
 * At head_dim 128 with A ~ 20 it is ~5e-4 of vmax, below the rounding
 * of one bf16 value (2^-9); test_bound_detects checks that it catches a
 * dropped worker share (1000 positions) and one missing position (33).
 * Observed errors are ~1/300 of it (printed at the end): the bound takes
 * every weight error with the worst sign.
 */
#include "hw/lb-hw.h"
#include "kernels/lb-attn.h"
#include "kernels/quant/lb-blocks.h"
#include "tests/lb-test.h"

#include <float.h>
#include <stdint.h>
#include <string.h>

#define MAX_NTH 3

static struct lb_cpu_features cpu;
static unsigned long long rng;

static const enum lb_qtype types[] = {LB_QTYPE_F32, LB_QTYPE_F16, LB_QTYPE_BF16, LB_QTYPE_Q8_0};

static void *xalloc(size_t bytes)
{
    bytes = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

static float rnd_normal(void) { return (float)lb_test_rand_normal(&rng); }

/* ---- one case --------------------------------------------------------- */

struct tcase {
    enum lb_qtype type;
    int n_head, n_head_kv, head_dim, n_ctx, window;
    bool sinks;
    float q_mul; /* 1, or 1e3 for the large-logits case */
};

struct fixture {
    struct lb_attn_shape s;
    enum lb_qtype type;
    void *K, *V;
    float *q, *sinks;
    double *kd, *vd; /* dequantized [n_head_kv][n_ctx][d] */
    double *want;    /* [n_head][d] */
    double tol;
};

static void fixture_free(struct fixture *f)
{
    free(f->K), free(f->V), free(f->q), free(f->sinks);
    free(f->kd), free(f->vd), free(f->want);
}

/* Plain softmax in double over all attended positions (the oracle). */
static void reference(struct fixture *f)
{
    const struct lb_attn_shape *s = &f->s;
    const int d = s->head_dim, G = s->n_head / s->n_head_kv;
    const int lo = s->window > 0 && s->n_ctx > s->window ? s->n_ctx - s->window : 0;
    const int n = s->n_ctx - lo;
    double *logit = malloc(((size_t)n + 1) * sizeof *logit);
    double A = 0, vmax = 0, E = 0;
    for (size_t i = 0; i < (size_t)s->n_head_kv * s->n_ctx * d; i++)
        vmax = fmax(vmax, fabs(f->vd[i]));
    for (int h = 0; h < s->n_head; h++) {
        const int g = h / G;
        const float *qh = f->q + (size_t)h * d;
        double M = f->sinks ? (double)f->sinks[h] : -INFINITY;
        for (int i = 0; i < n; i++) {
            const double *k = f->kd + ((size_t)g * s->n_ctx + lo + i) * d;
            double dot = 0, absdot = 0;
            for (int j = 0; j < d; j++) {
                dot += (double)qh[j] * k[j];
                absdot += fabs((double)qh[j] * k[j]);
            }
            logit[i] = (double)s->scale * dot;
            A = fmax(A, (double)s->scale * absdot);
            M = fmax(M, logit[i]);
        }
        double den = f->sinks ? exp((double)f->sinks[h] - M) : 0, spread = 0;
        double *o = f->want + (size_t)h * d;
        for (int j = 0; j < d; j++) o[j] = 0;
        for (int i = 0; i < n; i++) {
            const double w = exp(logit[i] - M);
            const double *v = f->vd + ((size_t)g * s->n_ctx + lo + i) * d;
            den += w;
            spread += w * (M - logit[i]);
            for (int j = 0; j < d; j++) o[j] += w * v[j];
        }
        if (n > 0) {
            for (int j = 0; j < d; j++) o[j] /= den;
            E = fmax(E, spread / den);
        }
    }
    const double u = ldexp(1.0, -24), lambda = 8.0;
    f->tol = vmax * u *
             (4.0 * lambda * sqrt(d + 1.0) * A + 2.0 * E + 2.0 * lambda * sqrt(2.0 * n) + 40.0);
    free(logit);
}

static void fixture_init(struct fixture *f, const struct tcase *c)
{
    memset(f, 0, sizeof *f);
    struct lb_attn_shape *s = &f->s;
    s->n_head = c->n_head;
    s->n_head_kv = c->n_head_kv;
    s->head_dim = c->head_dim;
    s->n_ctx = c->n_ctx;
    s->n_ctx_max = c->n_ctx + 3; /* the layout stride is n_ctx_max, not n_ctx */
    s->window = c->window;
    s->scale = 1.0f / sqrtf((float)c->head_dim);
    f->type = c->type;
    struct lb_error err;
    CHECK_MSG(lb_attn_shape_check(s, c->type, &err) == LB_OK, "%s", err.msg);
    const int d = s->head_dim;
    const size_t cache = lb_attn_cache_bytes(s, c->type), row = lb_attn_row_bytes(s, c->type);
    f->K = xalloc(cache);
    f->V = xalloc(cache);
    /* unused rows poisoned: a kernel that reads past n_ctx sees NaN */
    memset(f->K, 0xff, cache);
    memset(f->V, 0xff, cache);
    f->q = xalloc((size_t)s->n_head * d * sizeof(float));
    for (int i = 0; i < s->n_head * d; i++) f->q[i] = rnd_normal() * c->q_mul;
    if (c->sinks) {
        f->sinks = xalloc((size_t)s->n_head * sizeof(float));
        for (int h = 0; h < s->n_head; h++) f->sinks[h] = 2.0f * rnd_normal();
        f->sinks[0] = 15.0f; /* one head where the sink dominates */
        s->sinks = f->sinks;
    }
    f->kd = xalloc((size_t)s->n_head_kv * s->n_ctx * d * sizeof(double));
    f->vd = xalloc((size_t)s->n_head_kv * s->n_ctx * d * sizeof(double));
    f->want = xalloc((size_t)s->n_head * d * sizeof(double));
    float *kn = xalloc((size_t)s->n_head_kv * d * sizeof(float));
    float *vn = xalloc((size_t)s->n_head_kv * d * sizeof(float));
    float *tmp = xalloc((size_t)d * sizeof(float));
    const struct lb_qtraits *tr = lb_qtraits_get(c->type);
    for (int p = 0; p < s->n_ctx; p++) {
        /* per-row magnitudes vary (as K/V of real models do), so Q8_0
         * blocks have different scales */
        const float km = 0.5f + (float)lb_test_rand_uniform(&rng) * 2.0f;
        for (int i = 0; i < s->n_head_kv * d; i++) {
            kn[i] = km * rnd_normal();
            vn[i] = rnd_normal();
        }
        lb_attn_append(s, c->type, f->K, f->V, p, kn, vn);
        for (int g = 0; g < s->n_head_kv; g++) {
            const size_t off = ((size_t)g * s->n_ctx_max + p) * row;
            double *kd = f->kd + ((size_t)g * s->n_ctx + p) * d;
            double *vd = f->vd + ((size_t)g * s->n_ctx + p) * d;
            tr->dequantize((const char *)f->K + off, tmp, d);
            for (int j = 0; j < d; j++) kd[j] = tmp[j];
            tr->dequantize((const char *)f->V + off, tmp, d);
            for (int j = 0; j < d; j++) vd[j] = tmp[j];
        }
    }
    free(kn), free(vn), free(tmp);
    reference(f);
}

/* Runs one implementation with nth workers (sequentially), merges with
 * merge_nth merge workers, returns max |got - want| (inf if not finite). */
static double run_impl(const struct fixture *f, const struct lb_attn_impl *impl, int nth,
                       int merge_nth)
{
    const struct lb_attn_shape *s = &f->s;
    struct lb_attn_kernel k = {.cache_type = f->type, .isa = impl->isa, .partial = impl->partial};
    snprintf(k.path, sizeof k.path, "%s", impl->path);
    const size_t sb = lb_attn_scratch_bytes(s, nth);
    void *scratch = xalloc(sb);
    memset(scratch, 0xff, sb); /* NaN: every part must be written */
    const size_t on = (size_t)s->n_head * s->head_dim;
    float *out = xalloc(on * sizeof(float));
    memset(out, 0xff, on * sizeof(float));
    for (int ith = 0; ith < nth; ith++) lb_attn_partial(&k, s, f->q, f->K, f->V, scratch, ith, nth);
    for (int ith = 0; ith < merge_nth; ith++) lb_attn_merge(s, scratch, nth, out, ith, merge_nth);
    double err = 0;
    for (size_t i = 0; i < on; i++) {
        if (!isfinite(out[i])) {
            err = INFINITY;
            break;
        }
        err = fmax(err, fabs((double)out[i] - f->want[i]));
    }
    free(scratch);
    free(out);
    return err;
}

static double worst_ratio; /* max err / tol seen, reported at the end */

static void check_case(const struct tcase *c)
{
    struct fixture f;
    fixture_init(&f, c);
    const struct lb_attn_impl *impls[64];
    const size_t n_impls = lb_attn_impls_all(impls, LB_ARRAY_LEN(impls));
    for (size_t i = 0; i < n_impls; i++) {
        if (impls[i]->cache_type != c->type || !lb_attn_impl_usable(impls[i], &cpu)) continue;
        for (int nth = 1; nth <= MAX_NTH; nth++) {
            const double err = run_impl(&f, impls[i], nth, nth == 3 ? 2 : 1);
            if (f.tol > 0) worst_ratio = fmax(worst_ratio, err / f.tol);
            CHECK_MSG(err <= f.tol,
                      "%s %s: heads %d/%d d %d ctx %d window %d sinks %d qx%g nth %d: "
                      "max err %.3g > tol %.3g",
                      impls[i]->path, lb_qtype_name(c->type), c->n_head, c->n_head_kv,
                      c->head_dim, c->n_ctx, c->window, (int)c->sinks, (double)c->q_mul, nth,
                      err, f.tol);
        }
    }
    fixture_free(&f);
}

/* ---- tests -------------------------------------------------------------- */

static void test_matrix(void)
{
    /* 1, 7, 33: single / partial tiles; 517: 33 split blocks, uneven over
     * 2 workers and ending in a partial tile; 1000: several tiles per
     * worker, not a multiple of the 16-position tile */
    static const int ctxs[] = {1, 7, 33, 517, 1000};
    static const int groups[] = {1, 4, 8};
    static const int dims[] = {64, 128, 256};
    for (size_t t = 0; t < LB_ARRAY_LEN(types); t++)
        for (size_t ci = 0; ci < LB_ARRAY_LEN(ctxs); ci++)
            for (size_t gi = 0; gi < LB_ARRAY_LEN(groups); gi++)
                for (size_t di = 0; di < LB_ARRAY_LEN(dims); di++)
                    for (int ws = 0; ws < 4; ws++) {
                        const int n = ctxs[ci];
                        struct tcase c = {
                            .type = types[t], .n_head_kv = 2, .n_head = 2 * groups[gi],
                            .head_dim = dims[di], .n_ctx = n,
                            .window = (ws & 1) ? 1 + n / 2 : 0, .sinks = (ws & 2) != 0,
                            .q_mul = 1.0f,
                        };
                        check_case(&c);
                    }
}

static void test_window_edges(void)
{
    /* window 1 (only the newest position), window >= n_ctx (everything),
     * GQA ratios not a multiple of the SIMD head blocks (3, 7) */
    for (size_t t = 0; t < LB_ARRAY_LEN(types); t++) {
        struct tcase c = {.type = types[t], .n_head = 7, .n_head_kv = 1, .head_dim = 64,
                          .n_ctx = 100, .window = 1, .sinks = true, .q_mul = 1.0f};
        check_case(&c);
        c.window = 100;
        check_case(&c);
        c.window = 1000;
        c.n_head = 6, c.n_head_kv = 2;
        c.head_dim = 96; /* 6 chunks of 16: a partial block of chunks */
        check_case(&c);
    }
    /* large groups: 16 (one block of 16 heads), 12 (8 + 4), 32 (2 x 16,
     * multi-query) */
    static const int big[][2] = {{32, 2}, {24, 2}, {32, 1}};
    for (size_t t = 0; t < LB_ARRAY_LEN(types); t++)
        for (size_t i = 0; i < LB_ARRAY_LEN(big); i++) {
            struct tcase c = {.type = types[t], .n_head = big[i][0], .n_head_kv = big[i][1],
                              .head_dim = 64, .n_ctx = 77, .window = 0, .sinks = true,
                              .q_mul = 1.0f};
            check_case(&c);
        }
}

/* Logits of order 1e3-1e4: the online softmax must rescale, not
 * overflow: outputs finite and still within the bound. */
static void test_large_logits(void)
{
    for (size_t t = 0; t < LB_ARRAY_LEN(types); t++) {
        struct tcase c = {.type = types[t], .n_head = 8, .n_head_kv = 2, .head_dim = 128,
                          .n_ctx = 1000, .window = 0, .sinks = true, .q_mul = 1e3f};
        check_case(&c);
    }
}

/* Max |out - want| over all heads after nth partials merged from the
 * first n_merge parts (n_merge < nth drops shares). */
static double err_of(const struct fixture *f, const struct lb_attn_shape *s, int nth,
                     int n_merge)
{
    struct lb_attn_kernel k;
    struct lb_error err;
    CHECK(lb_attn_kernel_init(&k, f->type, LB_ISA_AVX512, &cpu, &err) == LB_OK);
    const size_t on = (size_t)s->n_head * s->head_dim;
    float *out = xalloc(on * sizeof(float));
    void *scratch = xalloc(lb_attn_scratch_bytes(s, nth));
    for (int ith = 0; ith < nth; ith++) lb_attn_partial(&k, s, f->q, f->K, f->V, scratch, ith, nth);
    lb_attn_merge(s, scratch, n_merge, out, 0, 1);
    double e = 0;
    for (size_t i = 0; i < on; i++) e = fmax(e, fabs((double)out[i] - f->want[i]));
    free(out);
    free(scratch);
    return e;
}

/* The bound is tight enough to see real bugs: a dropped worker share at
 * 1000 positions, one missing position at 33. */
static void test_bound_detects(void)
{
    struct tcase c = {.type = LB_QTYPE_F16, .n_head = 8, .n_head_kv = 2, .head_dim = 128,
                      .n_ctx = 1000, .window = 0, .sinks = false, .q_mul = 1.0f};
    struct fixture f;
    fixture_init(&f, &c);
    const double ok = err_of(&f, &f.s, 2, 2), e1 = err_of(&f, &f.s, 2, 1);
    CHECK_MSG(ok <= f.tol && e1 > 10 * f.tol,
              "1000 positions: error %.3g, with a share dropped %.3g, tol %.3g", ok, e1, f.tol);
    printf("  1000 positions: tol %.3g, error %.3g, one share dropped %.3g\n", f.tol, ok, e1);
    fixture_free(&f);

    c.n_ctx = 33;
    fixture_init(&f, &c);
    struct lb_attn_shape s1 = f.s;
    s1.n_ctx -= 1; /* the newest position missing */
    const double ok2 = err_of(&f, &f.s, 1, 1), e2 = err_of(&f, &s1, 1, 1);
    CHECK_MSG(ok2 <= f.tol && e2 > 10 * f.tol,
              "33 positions: error %.3g, with one missing %.3g, tol %.3g", ok2, e2, f.tol);
    printf("  33 positions: tol %.3g, error %.3g, one position missing %.3g\n", f.tol, ok2, e2);
    fixture_free(&f);
}

/* n_ctx = 0: o = 0, with or without sinks, and the merge of empty parts */
static void test_empty(void)
{
    float sinks[4] = {1, 2, 3, 4};
    struct lb_attn_shape s = {.n_head = 4, .n_head_kv = 2, .head_dim = 32, .n_ctx = 0,
                              .n_ctx_max = 16, .scale = 0.125f};
    const struct lb_attn_impl *impls[64];
    const size_t n_impls = lb_attn_impls_all(impls, LB_ARRAY_LEN(impls));
    float q[4 * 32], out[4 * 32];
    for (int i = 0; i < 4 * 32; i++) q[i] = 1.0f;
    void *K = xalloc(lb_attn_cache_bytes(&s, LB_QTYPE_Q8_0) + 4096);
    void *V = xalloc(lb_attn_cache_bytes(&s, LB_QTYPE_Q8_0) + 4096);
    for (int with_sinks = 0; with_sinks < 2; with_sinks++) {
        s.sinks = with_sinks ? sinks : NULL;
        for (size_t i = 0; i < n_impls; i++) {
            if (!lb_attn_impl_usable(impls[i], &cpu)) continue;
            struct lb_attn_kernel k = {.cache_type = impls[i]->cache_type, .isa = impls[i]->isa,
                                       .partial = impls[i]->partial};
            void *scratch = xalloc(lb_attn_scratch_bytes(&s, 2));
            for (int ith = 0; ith < 2; ith++) lb_attn_partial(&k, &s, q, K, V, scratch, ith, 2);
            memset(out, 0xff, sizeof out);
            lb_attn_merge(&s, scratch, 2, out, 0, 1);
            bool zero = true;
            for (int j = 0; j < 4 * 32; j++) zero = zero && out[j] == 0.0f;
            CHECK_MSG(zero, "%s %s: n_ctx 0 does not give o = 0", impls[i]->path,
                      lb_qtype_name(impls[i]->cache_type));
            free(scratch);
        }
    }
    free(K), free(V);
}

/* The append stores exactly what the reference quantizers produce, at the
 * documented offset, and touches nothing else. */
static void test_append(void)
{
    for (size_t t = 0; t < LB_ARRAY_LEN(types); t++) {
        const enum lb_qtype type = types[t];
        struct lb_attn_shape s = {.n_head = 8, .n_head_kv = 4, .head_dim = 128, .n_ctx = 0,
                                  .n_ctx_max = 5, .scale = 0.1f};
        const size_t cache = lb_attn_cache_bytes(&s, type), row = lb_attn_row_bytes(&s, type);
        CHECK_INT_EQ(row, lb_qtype_row_bytes(type, 128));
        unsigned char *K = xalloc(cache), *V = xalloc(cache);
        memset(K, 0xa5, cache);
        memset(V, 0x5a, cache);
        float kn[4 * 128], vn[4 * 128];
        for (int i = 0; i < 4 * 128; i++) {
            kn[i] = rnd_normal() * (i % 37 == 0 ? 100.0f : 1.0f); /* Q8_0 outliers */
            vn[i] = rnd_normal();
        }
        const int pos = 3;
        lb_attn_append(&s, type, K, V, pos, kn, vn);
        unsigned char want[4 * 128 * 4];
        bool k_ok = true, v_ok = true, untouched = true;
        for (int g = 0; g < 4; g++) {
            const size_t off = ((size_t)g * s.n_ctx_max + pos) * row;
            switch (type) {
            case LB_QTYPE_Q8_0: lb_quantize_q8_0_ref(kn + g * 128, want, 128); break;
            case LB_QTYPE_F16:
                for (int j = 0; j < 128; j++) {
                    uint16_t h = lb_f32_to_fp16(kn[g * 128 + j]);
                    memcpy(want + 2 * j, &h, 2);
                }
                break;
            case LB_QTYPE_BF16:
                for (int j = 0; j < 128; j++) {
                    uint16_t h = lb_f32_to_bf16(kn[g * 128 + j]);
                    memcpy(want + 2 * j, &h, 2);
                }
                break;
            default: memcpy(want, kn + g * 128, 128 * sizeof(float)); break;
            }
            k_ok = k_ok && memcmp(K + off, want, row) == 0;
            const struct lb_qtraits *tr = lb_qtraits_get(type);
            tr->quantize_ref(vn + g * 128, want, 128);
            v_ok = v_ok && memcmp(V + off, want, row) == 0;
        }
        for (size_t i = 0; i < cache; i++) {
            const size_t r = i / row;
            if ((int)(r % (size_t)s.n_ctx_max) == pos) continue;
            untouched = untouched && K[i] == 0xa5 && V[i] == 0x5a;
        }
        CHECK_MSG(k_ok, "%s: appended K rows differ from the reference quantizer",
                  lb_qtype_name(type));
        CHECK_MSG(v_ok, "%s: appended V rows differ from the reference quantizer",
                  lb_qtype_name(type));
        CHECK_MSG(untouched, "%s: append wrote outside position %d", lb_qtype_name(type), pos);
        free(K), free(V);
    }
}

static void test_shape_check(void)
{
    struct lb_error err;
    struct lb_attn_shape s = {.n_head = 32, .n_head_kv = 8, .head_dim = 128, .n_ctx = 10,
                              .n_ctx_max = 16, .scale = 0.1f};
    CHECK(lb_attn_shape_check(&s, LB_QTYPE_Q8_0, &err) == LB_OK);
    s.head_dim = 48; /* multiple of 16, not 32 */
    CHECK(lb_attn_shape_check(&s, LB_QTYPE_F16, &err) == LB_OK);
    CHECK(lb_attn_shape_check(&s, LB_QTYPE_Q8_0, &err) == LB_EINVAL);
    s.head_dim = 128;
    CHECK(lb_attn_shape_check(&s, LB_QTYPE_Q4_0, &err) == LB_EINVAL);
    s.n_head = 30;
    CHECK(lb_attn_shape_check(&s, LB_QTYPE_F16, &err) == LB_EINVAL);
    s.n_head = 32, s.n_ctx = 17;
    CHECK(lb_attn_shape_check(&s, LB_QTYPE_F16, &err) == LB_EINVAL);
    s.n_ctx = 10, s.head_dim = 512;
    CHECK(lb_attn_shape_check(&s, LB_QTYPE_F32, &err) == LB_EINVAL);
}

static void test_split(void)
{
    /* shares cover [lo, n_ctx) once, in order, in whole 16-position blocks */
    struct lb_attn_shape s = {.n_head = 1, .n_head_kv = 1, .head_dim = 16, .n_ctx = 1000,
                              .n_ctx_max = 1000, .window = 300, .scale = 1};
    for (int nth = 1; nth <= 5; nth++) {
        size_t prev = 700;
        for (int ith = 0; ith < nth; ith++) {
            size_t b, e;
            lb_attn_split(&s, ith, nth, &b, &e);
            CHECK_INT_EQ(b, prev);
            CHECK(e >= b && (e == 1000 || (e - 700) % LB_ATTN_SPLIT_ALIGN == 0));
            prev = e;
        }
        CHECK_INT_EQ(prev, 1000);
    }
}

static void test_dispatch(void)
{
    struct lb_error err;
    struct lb_attn_kernel k;
    for (size_t t = 0; t < LB_ARRAY_LEN(types); t++) {
        CHECK(lb_attn_kernel_init(&k, types[t], LB_ISA_SCALAR, &cpu, &err) == LB_OK);
        CHECK(strcmp(k.path, "scalar") == 0 && k.isa == LB_ISA_SCALAR);
        CHECK(lb_attn_kernel_init(&k, types[t], LB_ISA_AVX512, NULL, &err) == LB_OK);
        CHECK(k.isa == LB_ISA_SCALAR); /* no features: the reference */
        const enum lb_isa best = lb_isa_best(&cpu);
        CHECK(lb_attn_kernel_init(&k, types[t], LB_ISA_AVX512, &cpu, &err) == LB_OK);
        CHECK_INT_EQ(k.isa, best);
        CHECK(strcmp(k.path, lb_isa_name(best)) == 0);
    }
    CHECK(lb_attn_kernel_init(&k, LB_QTYPE_Q4_K, LB_ISA_AVX512, &cpu, &err) == LB_EINVAL);
    /* every (type, level) is compiled in on x86-64 */
    const struct lb_attn_impl *impls[64];
    const size_t n = lb_attn_impls_all(impls, LB_ARRAY_LEN(impls));
    CHECK_INT_EQ(n, 4 * LB_ISA_COUNT);
}

int main(void)
{
    rng = lb_test_seed();
    lb_cpu_features_detect(&cpu);
    printf("best ISA level here: %s\n", lb_isa_name(lb_isa_best(&cpu)));
    LB_RUN(test_shape_check);
    LB_RUN(test_split);
    LB_RUN(test_dispatch);
    LB_RUN(test_append);
    LB_RUN(test_empty);
    LB_RUN(test_bound_detects);
    LB_RUN(test_matrix);
    LB_RUN(test_window_edges);
    LB_RUN(test_large_logits);
    printf("largest error / tolerance: %.3g\n", worst_ratio);
    return lb_test_finish();
}
