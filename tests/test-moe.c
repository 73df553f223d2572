/* test-moe.c: unit tests of MoE routing and expert dispatch
 * (kernels/lb-moe.h) and of the random weight filler (kernels/lb-fill.h).
 *
 * Inputs are fresh random values each run (seed printed; LB_TEST_SEED
 * reproduces). What is checked:
 *  - every gating variant against a float64 reference written here, on
 *    random logits with deliberate exact ties (equal logits, and for
 *    DeepSeek equal biases / whole equal groups): the same experts in the
 *    same order (ties -> lower index), weights within 1e-6;
 *  - DeepSeek-V3 group-limited selection on a hand-built case (the best
 *    single expert sits in a losing group; a bias changes the selection
 *    but not the weights);
 *  - router_check's errors;
 *  - batched dispatch (n_tok tokens, buckets over 8 tokens, a duplicated
 *    id) equals n_tok single-token dispatches bit for bit, for ROWS and
 *    EXPERTS and nth = 1..3 workers (phases run worker by worker: a legal
 *    schedule, since phases are separated by barriers), in every format,
 *    and in mixed layers (gate, up, down and the shared expert's matrices
 *    each in their own format, as llama.cpp's Q4_K_M-style mixes: e.g.
 *    Q4_K gate/up with Q6_K down; gate and up with different activation
 *    formats);
 *  - single-token dispatch against a float64 FFN over the dequantized
 *    weights: with the original x, within the 8-bit activation
 *    quantization error (8% of the output norm; 1e-5 for float weights,
 *    whose activations stay f32), and within 2% (typically 1e-7) when
 *    the reference also quantizes x and h the way the kernel does (the
 *    comment at the check says what is left);
 *  - lb_fill_random_weights: deterministic per seed, different across
 *    seeds, every dequantized value finite and of sane size, int8 quants
 *    in [-127, 127], Q8_K bsums consistent.
 */
#include "hw/lb-hw.h"
#include "kernels/lb-fill.h"
#include "kernels/lb-moe.h"
#include "kernels/quant/lb-blocks.h"
#include "tests/lb-test.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

static struct lb_cpu_features cpu;
static unsigned long long rng;

/* ---- float64 routing reference -------------------------------------- */

/* rank order: higher score first, lower index on equal scores */
static bool ref_before(const double *sc, int a, int b)
{
    return sc[a] > sc[b] || (sc[a] == sc[b] && a < b);
}

/* indices of the k best of sc[] among allowed (NULL: all), by a full
 * selection sort: slow and obviously right */
static void ref_topk(const double *sc, int n, int k, const bool *allowed, int *out)
{
    bool used[LB_MOE_MAX_EXPERTS] = {0};
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            if (used[i] || (allowed && !allowed[i])) continue;
            if (best < 0 || ref_before(sc, i, best)) best = i;
        }
        LB_ASSERT(best >= 0);
        used[best] = true;
        out[j] = best;
    }
}

/* Smallest non-zero gap between the score ranked k-th and any score
 * ranked after it (among allowed): float vs double rounding may reorder
 * two values closer than ~1e-7 relative, so a case with such a gap at a
 * selection boundary is regenerated. Exact ties are fine: they come from
 * identical inputs and stay exact in both precisions. */
static double boundary_gap(const double *sc, int n, int k, const bool *allowed)
{
    int ids[LB_MOE_MAX_EXPERTS];
    int m = 0;
    for (int i = 0; i < n; i++) m += !allowed || allowed[i];
    if (k >= m) return INFINITY;
    ref_topk(sc, n, m, allowed, ids);
    double gap = INFINITY;
    for (int j = 0; j < m; j++)
        for (int i = 0; i < m; i++) {
            /* pairs that straddle the boundary, or that are in rank
             * order within the selection (the output order) */
            if (i == j) continue;
            double g = fabs(sc[ids[i]] - sc[ids[j]]);
            if ((j < k || i < k) && g > 0 && g < gap) gap = g;
        }
    return gap;
}

/* Reference route; returns false when the case has a near-tie. */
static bool ref_route(const struct lb_moe_router *r, const float *logits, int *ids, double *w)
{
    const int n = r->n_expert, k = r->k;
    double sc[LB_MOE_MAX_EXPERTS] = {0}, s[LB_MOE_MAX_EXPERTS] = {0};
    for (int i = 0; i < n; i++) sc[i] = logits[i];
    if (r->kind == LB_MOE_GATING_SOFTMAX || r->kind == LB_MOE_GATING_TOPK_SOFTMAX) {
        /* ranking compares the float logits exactly: no near-tie issue */
        ref_topk(sc, n, k, NULL, ids);
        double mx = sc[ids[0]], all = 0, sel = 0;
        for (int i = 0; i < n; i++) all += exp(sc[i] - mx);
        for (int j = 0; j < k; j++) sel += exp(sc[ids[j]] - mx);
        bool norm = r->kind == LB_MOE_GATING_TOPK_SOFTMAX || r->norm_topk;
        for (int j = 0; j < k; j++) w[j] = exp(sc[ids[j]] - mx) / (norm ? sel : all) * r->scaling;
        return true;
    }
    for (int i = 0; i < n; i++) {
        s[i] = 1.0 / (1.0 + exp(-(double)logits[i]));
        sc[i] = s[i] + (r->bias ? (double)r->bias[i] : 0.0);
    }
    bool allowed[LB_MOE_MAX_EXPERTS];
    const bool *mask = NULL;
    if (r->n_group > 1) {
        int gs = n / r->n_group, keep[LB_MOE_MAX_GROUPS], top2[2];
        double gsc[LB_MOE_MAX_GROUPS];
        for (int g = 0; g < r->n_group; g++) {
            ref_topk(sc + g * gs, gs, 2, NULL, top2);
            gsc[g] = sc[g * gs + top2[0]] + sc[g * gs + top2[1]];
        }
        if (boundary_gap(gsc, r->n_group, r->topk_group, NULL) < 1e-5) return false;
        ref_topk(gsc, r->n_group, r->topk_group, NULL, keep);
        memset(allowed, 0, sizeof allowed);
        for (int j = 0; j < r->topk_group; j++)
            for (int i = 0; i < gs; i++) allowed[keep[j] * gs + i] = true;
        mask = allowed;
    }
    if (boundary_gap(sc, n, k, mask) < 1e-5) return false;
    ref_topk(sc, n, k, mask, ids);
    double sum = 0;
    for (int j = 0; j < k; j++) sum += s[ids[j]];
    for (int j = 0; j < k; j++) w[j] = s[ids[j]] / (r->norm_topk ? sum : 1.0) * r->scaling;
    return true;
}

/* random logits N(0, 2) with deliberate ties: copies of a value to other
 * indices, including the k-th largest (so that the tie sits right on the
 * selection boundary) */
static void random_logits(float *l, float *bias, int n, int k)
{
    for (int i = 0; i < n; i++) {
        l[i] = (float)(2.0 * lb_test_rand_normal(&rng));
        if (bias) bias[i] = (float)(0.05 * lb_test_rand_normal(&rng));
    }
    int n_dup = 1 + n / 16;
    for (int j = 0; j < n_dup; j++) {
        int a = (int)(lb_test_rand_u64(&rng) % (unsigned)n), b = (int)(lb_test_rand_u64(&rng) % (unsigned)n);
        l[b] = l[a];
        if (bias) bias[b] = bias[a];
    }
    if (k < n) { /* the k-th largest, duplicated below and above it */
        double sc[LB_MOE_MAX_EXPERTS];
        int ids[LB_MOE_MAX_EXPERTS];
        for (int i = 0; i < n; i++) sc[i] = l[i];
        ref_topk(sc, n, k, NULL, ids);
        int kth = ids[k - 1];
        for (int t = 0; t < 2; t++) {
            int b = (int)(lb_test_rand_u64(&rng) % (unsigned)n);
            l[b] = l[kth];
            if (bias) bias[b] = bias[kth];
        }
    }
}

static void check_route(const struct lb_moe_router *r, const float *logits, const char *what)
{
    int ids[LB_MOE_MAX_K], rids[LB_MOE_MAX_K];
    float w[LB_MOE_MAX_K];
    double rw[LB_MOE_MAX_K];
    CHECK(ref_route(r, logits, rids, rw));
    lb_moe_route(r, logits, ids, w);
    for (int j = 0; j < r->k; j++) {
        CHECK_MSG(ids[j] == rids[j], "%s n=%d k=%d: slot %d expert %d, reference %d", what,
                  r->n_expert, r->k, j, ids[j], rids[j]);
        CHECK_NEAR(w[j], rw[j], 1e-6);
    }
}

static void test_route_softmax(void)
{
    static const int shapes[][2] = {{8, 2}, {8, 1}, {32, 4}, {60, 4}, {128, 8}, {512, 22}, {5, 5}};
    float l[LB_MOE_MAX_EXPERTS];
    for (size_t s = 0; s < LB_ARRAY_LEN(shapes); s++)
        for (int rep = 0; rep < 40; rep++) {
            int n = shapes[s][0], k = shapes[s][1];
            random_logits(l, NULL, n, k);
            for (int norm = 0; norm < 2; norm++) {
                struct lb_moe_router r = {LB_MOE_GATING_SOFTMAX, n, k, norm, 0, 0, 1.0f, NULL};
                check_route(&r, l, norm ? "softmax+norm" : "softmax");
            }
            struct lb_moe_router r = {LB_MOE_GATING_TOPK_SOFTMAX, n, k, false, 0, 0, 1.0f, NULL};
            check_route(&r, l, "topk_softmax");
            /* gpt-oss == Mixtral-style renormalised softmax */
            struct lb_moe_router m = {LB_MOE_GATING_SOFTMAX, n, k, true, 0, 0, 1.0f, NULL};
            int i1[LB_MOE_MAX_K], i2[LB_MOE_MAX_K];
            float w1[LB_MOE_MAX_K], w2[LB_MOE_MAX_K];
            lb_moe_route(&r, l, i1, w1);
            lb_moe_route(&m, l, i2, w2);
            for (int j = 0; j < k; j++) {
                CHECK_INT_EQ(i1[j], i2[j]);
                CHECK_NEAR(w1[j], w2[j], 1e-6);
            }
        }
    /* all equal: the first k indices, equal weights */
    for (int i = 0; i < 16; i++) l[i] = 0.5f;
    struct lb_moe_router r = {LB_MOE_GATING_SOFTMAX, 16, 4, true, 0, 0, 1.0f, NULL};
    int ids[4];
    float w[4];
    lb_moe_route(&r, l, ids, w);
    for (int j = 0; j < 4; j++) {
        CHECK_INT_EQ(ids[j], j);
        CHECK_NEAR(w[j], 0.25, 1e-7);
    }
}

static void test_route_sigmoid_group(void)
{
    /* {n_expert, k, n_group, topk_group} */
    static const int shapes[][4] = {
        {256, 8, 8, 4}, /* DeepSeek-V3 */
        {64, 6, 8, 3},  {16, 3, 4, 2}, {128, 8, 1, 1}, /* no group limit */
        {32, 4, 16, 2}, /* groups of 2: group score = both */
    };
    float l[LB_MOE_MAX_EXPERTS], bias[LB_MOE_MAX_EXPERTS];
    int regenerated = 0, done = 0;
    for (size_t s = 0; s < LB_ARRAY_LEN(shapes); s++)
        for (int rep = 0; rep < 40; rep++) {
            const int n = shapes[s][0], k = shapes[s][1], ng = shapes[s][2], tg = shapes[s][3];
            for (int use_bias = 0; use_bias < 2; use_bias++) {
                struct lb_moe_router r = {LB_MOE_GATING_SIGMOID_GROUP, n, k, rep % 3 != 0, ng, tg,
                                          rep % 2 ? 2.5f : 1.0f, use_bias ? bias : NULL};
                CHECK(lb_moe_router_check(&r, NULL) == LB_OK);
                int ids[LB_MOE_MAX_K];
                double w[LB_MOE_MAX_K];
                for (int tries = 0;; tries++) {
                    random_logits(l, bias, n, k);
                    if (ng > 1 && rep % 4 == 1) { /* an exact copy of group 0 into the last group */
                        int gs = n / ng;
                        memcpy(l + (ng - 1) * gs, l, (size_t)gs * sizeof *l);
                        memcpy(bias + (ng - 1) * gs, bias, (size_t)gs * sizeof *bias);
                    }
                    if (ref_route(&r, l, ids, w)) break;
                    regenerated++;
                    LB_ASSERT(tries < 1000);
                }
                check_route(&r, l, "sigmoid_group");
                done++;
            }
        }
    printf("  sigmoid_group: %d cases, %d regenerated for near-ties\n", done, regenerated);
}

static float logit_of(double p) { return (float)log(p / (1.0 - p)); }

/* DeepSeek-V3 grouping by hand: 16 experts in 4 groups of 4, keep 2
 * groups, pick 3. Sigmoid scores (bias 0 unless said):
 *   group 0: 0.99 0.01 0.01 0.01  -> top-2 sum 1.00
 *   group 1: 0.60 0.60 0.02 0.02  -> 1.20
 *   group 2: 0.02 0.55 0.55 0.02  -> 1.10
 *   group 3: 0.50 0.50 0.05 0.05  -> 1.00
 * Groups 1 and 2 win, so expert 0 (0.99) is NOT picked; experts 4, 5
 * (0.60 each, tie -> 4 first), then 9 and 10 tie at 0.55 -> 9. */
static void test_route_group_by_hand(void)
{
    static const double p[16] = {0.99, 0.01, 0.01, 0.01, 0.60, 0.60, 0.02, 0.02,
                                 0.02, 0.55, 0.55, 0.02, 0.50, 0.50, 0.05, 0.05};
    float l[16], bias[16] = {0};
    for (int i = 0; i < 16; i++) l[i] = logit_of(p[i]);
    struct lb_moe_router r = {LB_MOE_GATING_SIGMOID_GROUP, 16, 3, true, 4, 2, 2.5f, NULL};
    int ids[3];
    float w[3];
    lb_moe_route(&r, l, ids, w);
    CHECK_INT_EQ(ids[0], 4);
    CHECK_INT_EQ(ids[1], 5);
    CHECK_INT_EQ(ids[2], 9);
    double s4 = 1 / (1 + exp(-(double)l[4])), s9 = 1 / (1 + exp(-(double)l[9]));
    CHECK_NEAR(w[0], 2.5 * s4 / (2 * s4 + s9), 1e-6);
    CHECK_NEAR(w[2], 2.5 * s9 / (2 * s4 + s9), 1e-6);
    /* without groups the 0.99 expert wins */
    r.n_group = 1;
    lb_moe_route(&r, l, ids, w);
    CHECK_INT_EQ(ids[0], 0);
    /* a bias of +0.25 on expert 13 (0.50) lifts group 3 to 1.25 and
     * expert 13 to 0.75: groups 3 and 1 are kept, group 2 (1.10) is not,
     * the picks are 13, 4, 5, and 13's weight stays its unbiased 0.50. */
    r.n_group = 4;
    bias[13] = 0.25f;
    r.bias = bias;
    lb_moe_route(&r, l, ids, w);
    CHECK_INT_EQ(ids[0], 13);
    CHECK_INT_EQ(ids[1], 4);
    CHECK_INT_EQ(ids[2], 5);
    double s13 = 1 / (1 + exp(-(double)l[13]));
    CHECK_NEAR(w[0], 2.5 * s13 / (s13 + 2 * s4), 1e-6);
    /* without normalisation: the raw sigmoid times the scaling */
    r.norm_topk = false;
    lb_moe_route(&r, l, ids, w);
    CHECK_NEAR(w[0], 2.5 * s13, 1e-6);
}

static void test_router_check(void)
{
    struct lb_error err;
    struct lb_moe_router ok = {LB_MOE_GATING_SIGMOID_GROUP, 256, 8, true, 8, 4, 2.5f, NULL};
    CHECK(lb_moe_router_check(&ok, &err) == LB_OK);
    struct lb_moe_router r = ok;
    r.n_expert = 513;
    CHECK(lb_moe_router_check(&r, &err) == LB_EINVAL);
    r = ok, r.k = 0;
    CHECK(lb_moe_router_check(&r, &err) == LB_EINVAL);
    r = ok, r.k = 33;
    CHECK(lb_moe_router_check(&r, &err) == LB_EINVAL);
    r = ok, r.n_group = 7; /* does not divide 256 */
    CHECK(lb_moe_router_check(&r, &err) == LB_EINVAL);
    r = ok, r.topk_group = 0;
    CHECK(lb_moe_router_check(&r, &err) == LB_EINVAL);
    r = ok, r.n_group = 64, r.topk_group = 1; /* keeps 4 experts < k = 8 */
    CHECK(lb_moe_router_check(&r, &err) == LB_EINVAL);
    r = ok, r.scaling = 0;
    CHECK(lb_moe_router_check(&r, &err) == LB_EINVAL);
    CHECK(strstr(err.msg, "scaling") != NULL);
}

/* ---- dispatch ------------------------------------------------------- */

#define T_EMBD 256
#define T_FF 512
#define T_FF_SH 256
#define T_EXPERTS 6
#define T_K 2
#define T_TOK 20

struct layer {
    struct lb_moe_ffn ffn;
    struct lb_moe_weights w;
    void *buf;
    float *dg, *du, *dd, *dsg, *dsu, *dsd; /* dequantized */
};

/* n random weights of type t at dst (seed), dequantized into a new array */
static float *fill_dequant(enum lb_qtype t, void *dst, int64_t n, uint64_t seed)
{
    lb_fill_random_weights(t, dst, n, seed);
    float *f = malloc(sizeof(float) * (size_t)n);
    LB_ASSERT(f);
    lb_qtraits_get(t)->dequantize(dst, f, n);
    return f;
}

static bool layer_init(struct layer *L, const struct lb_moe_types *ty, bool shared, enum lb_isa isa)
{
    memset(L, 0, sizeof *L);
    struct lb_moe_shape sh = {T_EMBD, T_FF, T_EXPERTS, shared ? T_FF_SH : 0};
    struct lb_error err;
    char tn[48];
    if (lb_moe_ffn_init_types(&L->ffn, &sh, ty, isa, isa == LB_ISA_SCALAR ? NULL : &cpu, &err) !=
        LB_OK) {
        CHECK_MSG(0, "%s: %s", lb_moe_types_name(ty, tn, sizeof tn), err.msg);
        return false;
    }
    const struct lb_moe_ffn *f = &L->ffn;
    /* each matrix's bytes from its own format, independently of the ffn */
    const int64_t m = (int64_t)T_FF * T_EMBD, ms = (int64_t)T_FF_SH * T_EMBD;
    CHECK_INT_EQ(f->gate_bytes, lb_qtype_row_bytes(ty->gate, T_EMBD) * T_FF);
    CHECK_INT_EQ(f->up_bytes, lb_qtype_row_bytes(ty->up, T_EMBD) * T_FF);
    CHECK_INT_EQ(f->down_bytes, lb_qtype_row_bytes(ty->down, T_FF) * T_EMBD);
    size_t eg = f->gate_bytes * T_EXPERTS, eu = f->up_bytes * T_EXPERTS,
           ed = f->down_bytes * T_EXPERTS;
    CHECK_INT_EQ(lb_moe_ffn_layer_bytes(f),
                 eg + eu + ed + f->sh_gate_bytes + f->sh_up_bytes + f->sh_down_bytes);
    L->buf = malloc(eg + eu + ed + f->sh_gate_bytes + f->sh_up_bytes + f->sh_down_bytes + 64);
    char *p = L->buf;
    L->w.gate = p, p += eg;
    L->w.up = p, p += eu;
    L->w.down = p, p += ed;
    uint64_t seed = lb_test_rand_u64(&rng);
    L->dg = fill_dequant(ty->gate, (void *)L->w.gate, T_EXPERTS * m, seed);
    L->du = fill_dequant(ty->up, (void *)L->w.up, T_EXPERTS * m, seed + 1);
    L->dd = fill_dequant(ty->down, (void *)L->w.down, T_EXPERTS * m, seed + 2);
    if (shared) {
        L->w.sh_gate = p, p += f->sh_gate_bytes;
        L->w.sh_up = p, p += f->sh_up_bytes;
        L->w.sh_down = p;
        L->dsg = fill_dequant(ty->sh_gate, (void *)L->w.sh_gate, ms, seed + 3);
        L->dsu = fill_dequant(ty->sh_up, (void *)L->w.sh_up, ms, seed + 4);
        L->dsd = fill_dequant(ty->sh_down, (void *)L->w.sh_down, ms, seed + 5);
    }
    return true;
}

static void layer_free(struct layer *L)
{
    free(L->buf);
    free(L->dg), free(L->du), free(L->dd), free(L->dsg), free(L->dsu), free(L->dsd);
}

static void dispatch_serial(struct lb_moe_dispatch *d, const struct lb_moe_weights *w,
                            const struct lb_moe_tokens *t, enum lb_moe_split split, int nth)
{
    lb_moe_dispatch_plan(d, w, t, split, nth);
    for (int p = 0; p < LB_MOE_PHASES; p++)
        for (int ith = 0; ith < nth; ith++) lb_moe_dispatch_phase(d, p, ith, nth);
}

/* y (double) = W . x for a dequantized [rows x cols] matrix */
static void ref_gemv(const float *W, int rows, int cols, const double *x, double *y)
{
    for (int r = 0; r < rows; r++) {
        double s = 0;
        for (int c = 0; c < cols; c++) s += (double)W[(size_t)r * cols + c] * x[c];
        y[r] = s;
    }
}

/* x through the activation format and back (what the kernel's dots see) */
static void act_roundtrip(enum lb_qtype atype, const double *in, double *out, int n)
{
    float f[T_FF > T_EMBD ? T_FF : T_EMBD], g[T_FF > T_EMBD ? T_FF : T_EMBD];
    for (int i = 0; i < n; i++) f[i] = (float)in[i];
    if (atype == LB_QTYPE_F32) {
        for (int i = 0; i < n; i++) out[i] = f[i];
        return;
    }
    const struct lb_qtraits *q = lb_qtraits_get(atype);
    unsigned char blocks[sizeof(struct lb_block_q8_k) * (T_FF / 32 + 1)];
    q->quantize_ref(f, blocks, n);
    q->dequantize(blocks, g, n);
    for (int i = 0; i < n; i++) out[i] = g[i];
}

static double silu_d(double v) { return v / (1.0 + exp(-v)); }

/* float64 FFN of one expert (dequantized weights), added with weight w;
 * quant_act: pass x and h through the activation formats like the kernel
 * (x through gate's and up's each, h through down's) */
static void ref_expert(const float *G, const float *U, const float *D, int n_ff, const float *x,
                       double w, bool quant_act, const struct lb_gemv *gg,
                       const struct lb_gemv *gu, const struct lb_gemv *gd, double *out)
{
    double xg[T_EMBD], xu[T_EMBD], g[T_FF], u[T_FF], h[T_FF], y[T_EMBD];
    for (int i = 0; i < T_EMBD; i++) xg[i] = xu[i] = x[i];
    if (quant_act) {
        act_roundtrip(gg->atype, xg, xg, T_EMBD);
        act_roundtrip(gu->atype, xu, xu, T_EMBD);
    }
    ref_gemv(G, n_ff, T_EMBD, xg, g);
    ref_gemv(U, n_ff, T_EMBD, xu, u);
    for (int i = 0; i < n_ff; i++) h[i] = silu_d(g[i]) * u[i];
    if (quant_act) act_roundtrip(gd->atype, h, h, n_ff);
    ref_gemv(D, T_EMBD, n_ff, h, y);
    for (int i = 0; i < T_EMBD; i++) out[i] += w * y[i];
}

static void ref_ffn(const struct layer *L, const float *x, const int *ids, const float *w,
                    bool quant_act, double *out)
{
    const size_t m = (size_t)T_FF * T_EMBD;
    const struct lb_moe_ffn *f = &L->ffn;
    memset(out, 0, sizeof(double) * T_EMBD);
    for (int j = 0; j < T_K; j++)
        ref_expert(L->dg + ids[j] * m, L->du + ids[j] * m, L->dd + ids[j] * m, T_FF, x, w[j],
                   quant_act, &f->gate, &f->up, &f->down, out);
    if (f->shape.n_ff_shared)
        ref_expert(L->dsg, L->dsu, L->dsd, T_FF_SH, x, 1.0, quant_act, &f->sh_gate, &f->sh_up,
                   &f->sh_down, out);
}

static double rel_err(const float *a, const double *ref, int n)
{
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) {
        num += (a[i] - ref[i]) * (a[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

static void test_dispatch_types(const struct lb_moe_types *ty, bool shared, enum lb_isa isa)
{
    struct layer L;
    if (!layer_init(&L, ty, shared, isa)) return;
    char tn[48];
    lb_moe_types_name(ty, tn, sizeof tn);
    if (shared && (ty->sh_gate != ty->gate || ty->sh_up != ty->up || ty->sh_down != ty->down))
        snprintf(tn + strlen(tn), sizeof tn - strlen(tn), "+sh %s/%s/%s", lb_qtype_name(ty->sh_gate),
                 lb_qtype_name(ty->sh_up), lb_qtype_name(ty->sh_down));
    float *x = malloc(sizeof(float) * T_TOK * T_EMBD);
    float *wts = malloc(sizeof(float) * T_TOK * T_K);
    int *ids = malloc(sizeof(int) * T_TOK * T_K);
    float *out_b = malloc(sizeof(float) * T_TOK * T_EMBD);
    float *out_1 = malloc(sizeof(float) * T_TOK * T_EMBD);
    for (int i = 0; i < T_TOK * T_EMBD; i++) x[i] = (float)lb_test_rand_normal(&rng);
    /* expert 1 in slot 0 of most tokens (a bucket of > 8 tokens), a
     * random other expert in slot 1; token 3 names expert 2 twice */
    for (int t = 0; t < T_TOK; t++) {
        ids[t * T_K] = t % 5 ? 1 : (int)(lb_test_rand_u64(&rng) % T_EXPERTS);
        do ids[t * T_K + 1] = (int)(lb_test_rand_u64(&rng) % T_EXPERTS);
        while (ids[t * T_K + 1] == ids[t * T_K]);
        for (int j = 0; j < T_K; j++) wts[t * T_K + j] = (float)(0.2 + lb_test_rand_uniform(&rng));
    }
    ids[3 * T_K] = ids[3 * T_K + 1] = 2;

    struct lb_moe_dispatch *db, *d1;
    struct lb_error err;
    LB_ASSERT(lb_moe_dispatch_create(&L.ffn, T_TOK, T_K, &db, &err) == LB_OK);
    LB_ASSERT(lb_moe_dispatch_create(&L.ffn, 1, T_K, &d1, &err) == LB_OK);

    /* per-token reference: one token per call, ROWS, one worker */
    for (int t = 0; t < T_TOK; t++) {
        struct lb_moe_tokens tk = {1, x + t * T_EMBD, ids + t * T_K, wts + t * T_K, out_1 + t * T_EMBD};
        dispatch_serial(d1, &L.w, &tk, LB_MOE_SPLIT_ROWS, 1);
    }
    /* batched, every split and worker count: bit-identical */
    static const enum lb_moe_split splits[] = {LB_MOE_SPLIT_ROWS, LB_MOE_SPLIT_EXPERTS, LB_MOE_SPLIT_AUTO};
    for (size_t s = 0; s < LB_ARRAY_LEN(splits); s++)
        for (int nth = 1; nth <= 3; nth++) {
            for (int i = 0; i < T_TOK * T_EMBD; i++) out_b[i] = NAN;
            struct lb_moe_tokens tk = {T_TOK, x, ids, wts, out_b};
            dispatch_serial(db, &L.w, &tk, splits[s], nth);
            CHECK_MSG(memcmp(out_b, out_1, sizeof(float) * T_TOK * T_EMBD) == 0,
                      "%s%s isa %s: batched %s nth=%d differs from per-token dispatch", tn,
                      shared ? "+shared" : "", lb_isa_name(isa), lb_moe_split_name(splits[s]), nth);
            /* and single-token EXPERTS over nth workers */
            float o[T_EMBD];
            struct lb_moe_tokens t1 = {1, x + 7 * T_EMBD, ids + 7 * T_K, wts + 7 * T_K, o};
            dispatch_serial(d1, &L.w, &t1, splits[s], nth);
            CHECK_MSG(memcmp(o, out_1 + 7 * T_EMBD, sizeof o) == 0, "%s: single token %s nth=%d", tn,
                      lb_moe_split_name(splits[s]), nth);
        }

    /* against float64 */
    const struct lb_moe_ffn *f = &L.ffn;
    bool float_act = f->gate.atype == LB_QTYPE_F32 && f->up.atype == LB_QTYPE_F32 &&
                     f->down.atype == LB_QTYPE_F32;
    if (shared)
        float_act = float_act && f->sh_gate.atype == LB_QTYPE_F32 &&
                    f->sh_up.atype == LB_QTYPE_F32 && f->sh_down.atype == LB_QTYPE_F32;
    double ref[T_EMBD], worst_x = 0, worst_q = 0;
    for (int t = 0; t < T_TOK; t++) {
        if (ids[t * T_K] == ids[t * T_K + 1]) continue; /* ref_ffn handles it, skip anyway */
        ref_ffn(&L, x + t * T_EMBD, ids + t * T_K, wts + t * T_K, false, ref);
        double e = rel_err(out_1 + t * T_EMBD, ref, T_EMBD);
        if (e > worst_x) worst_x = e;
        ref_ffn(&L, x + t * T_EMBD, ids + t * T_K, wts + t * T_K, true, ref);
        e = rel_err(out_1 + t * T_EMBD, ref, T_EMBD);
        if (e > worst_q) worst_q = e;
    }
    /* Exact x: what quantizing x and h to 8 bits costs, at most ~1.6% of
     * the output norm with 32-element activation blocks and ~3.3% with
     * Q8_K's 256 (over 20 runs: h = silu(g) * u is heavy-tailed, so a
     * long block's scale is set by a few large values); 8% bounds it.
     * Quantized x and h in the reference too: what is left is f32
     * rounding in the dots (~1e-7), plus rare h elements that round to
     * the other side of a quantization step because the kernel's f32 h
     * differs from the reference's in the last bit (one step in one
     * element is ~2e-3 of the output norm at these sizes), plus, for
     * Q4_1 / Q5_1, Q8_1's s = d * sum(q) stored as fp16 (2^-11 relative)
     * that their dots use for the offset term and the dequantized
     * reference cannot see (~5e-3). Float formats keep f32 activations:
     * f32 rounding only. */
    CHECK_MSG(worst_x < (float_act ? 1e-5 : 0.08), "%s%s: %.3g of the output norm off float64",
              tn, shared ? "+shared" : "", worst_x);
    CHECK_MSG(worst_q < (float_act ? 1e-5 : 2e-2),
              "%s%s: %.3g off float64 with quantized activations", tn, shared ? "+shared" : "",
              worst_q);
    printf("  %-34s %-7s %-6s vs float64: %.2e (exact x), %.2e (quantized x, h)\n", tn,
           shared ? "+shared" : "", lb_isa_name(isa), worst_x, worst_q);

    lb_moe_dispatch_destroy(db);
    lb_moe_dispatch_destroy(d1);
    free(x), free(wts), free(ids), free(out_b), free(out_1);
    layer_free(&L);
}

static bool weight_type(enum lb_qtype t)
{
    /* every format with traits, the activation-only Q8_1 / Q8_K included
     * (the GEMV dots them with themselves) */
    return lb_qtraits_get(t) != NULL;
}

static void test_dispatch_type(enum lb_qtype type, bool shared, enum lb_isa isa)
{
    const struct lb_moe_types ty = lb_moe_types_uniform(type);
    test_dispatch_types(&ty, shared, isa);
}

static void test_dispatch(void)
{
    enum lb_isa best = lb_isa_best(&cpu);
    for (int t = 0; t < LB_QTYPE_COUNT; t++) {
        if (!weight_type((enum lb_qtype)t)) continue;
        test_dispatch_type((enum lb_qtype)t, t % 2 == 0, best);
    }
    /* the scalar path, and both shared settings, on a few formats */
    test_dispatch_type(LB_QTYPE_Q4_K, true, LB_ISA_SCALAR);
    test_dispatch_type(LB_QTYPE_Q4_0, false, LB_ISA_SCALAR);
    test_dispatch_type(LB_QTYPE_Q4_K, false, best);
    test_dispatch_type(LB_QTYPE_Q4_0, true, best);
}

/* Layers whose matrices are in different formats, as llama.cpp's mixes
 * store them: every matrix of a layer gets its own format, and gate / up
 * may want different activation formats (Q8_K vs Q8_0 vs Q8_1 vs F32),
 * so phase 0 quantizes x several ways; the shared expert's down may cut h
 * in other blocks than the routed down (32 vs 256 elements). */
static void test_dispatch_mixed(void)
{
    enum lb_isa best = lb_isa_best(&cpu);
    /* {gate, up, down, sh_gate, sh_up, sh_down} */
    static const struct lb_moe_types mixes[] = {
        /* Q4_K_M's use_more_bits layers */
        {LB_QTYPE_Q4_K, LB_QTYPE_Q4_K, LB_QTYPE_Q6_K, LB_QTYPE_Q4_K, LB_QTYPE_Q4_K, LB_QTYPE_Q6_K},
        /* Q5_K_M likewise, shared expert in Q8_0 */
        {LB_QTYPE_Q5_K, LB_QTYPE_Q5_K, LB_QTYPE_Q6_K, LB_QTYPE_Q8_0, LB_QTYPE_Q8_0, LB_QTYPE_Q8_0},
        /* 32-element formats, a dot of its own per matrix; x in Q8_0
         * (routed) and Q8_1 (shared gate / up) */
        {LB_QTYPE_Q8_0, LB_QTYPE_Q4_0, LB_QTYPE_Q5_0, LB_QTYPE_Q4_1, LB_QTYPE_Q5_1, LB_QTYPE_IQ4_NL},
        /* gate Q8_K activations, up Q8_0/Q8_1, down Q8_0; shared down Q8_K */
        {LB_QTYPE_Q4_K, LB_QTYPE_Q5_0, LB_QTYPE_Q8_0, LB_QTYPE_Q4_1, LB_QTYPE_IQ4_XS, LB_QTYPE_Q3_K},
        /* float gate (f32 activation), quantized up, F16 down; shared all
         * different again */
        {LB_QTYPE_F32, LB_QTYPE_Q4_K, LB_QTYPE_F16, LB_QTYPE_BF16, LB_QTYPE_Q4_1, LB_QTYPE_Q2_K},
        /* down in a 32-block format below a K-quant gate/up (llama-quantize's
         * fallback when n_ff is not a multiple of 256) */
        {LB_QTYPE_Q3_K, LB_QTYPE_Q3_K, LB_QTYPE_Q5_0, LB_QTYPE_Q3_K, LB_QTYPE_Q3_K, LB_QTYPE_Q5_0},
    };
    for (size_t i = 0; i < LB_ARRAY_LEN(mixes); i++) {
        test_dispatch_types(&mixes[i], i % 2 == 0, best);
        test_dispatch_types(&mixes[i], i % 2 == 1, best);
    }
    test_dispatch_types(&mixes[0], true, LB_ISA_SCALAR);
    test_dispatch_types(&mixes[3], true, LB_ISA_SCALAR);

    /* bytes and the error naming the matrix */
    struct lb_moe_ffn f;
    struct lb_error err;
    const struct lb_moe_shape s = {2048, 768, 128, 0}; /* Qwen3-30B-A3B */
    CHECK(lb_moe_ffn_init_types(&f, &s, &mixes[0], LB_ISA_SCALAR, NULL, &err) == LB_OK);
    CHECK_INT_EQ(lb_moe_ffn_expert_bytes(&f),
                 2 * 768 * (2048 / 256) * 144 + 2048 * (768 / 256) * 210);
    char buf[48];
    CHECK(strcmp(lb_moe_types_name(&f.types, buf, sizeof buf), "q4_k/q4_k/q6_k") == 0);
    CHECK(!lb_moe_types_pure(&f.types));
    const struct lb_moe_shape oss = {2880, 2880, 32, 0}; /* gpt-oss: not a multiple of 256 */
    struct lb_moe_types bad = lb_moe_types_uniform(LB_QTYPE_Q8_0);
    bad.down = LB_QTYPE_Q4_K;
    CHECK(lb_moe_ffn_init_types(&f, &oss, &bad, LB_ISA_SCALAR, NULL, &err) == LB_EINVAL);
    CHECK_MSG(strstr(err.msg, "ffn_down_exps") != NULL, "error names the matrix: %s", err.msg);
    bad = lb_moe_types_uniform(LB_QTYPE_Q8_0);
    bad.up = LB_QTYPE_Q4_K;
    CHECK(lb_moe_ffn_init_types(&f, &oss, &bad, LB_ISA_SCALAR, NULL, &err) == LB_EINVAL);
    CHECK_MSG(strstr(err.msg, "ffn_up_exps") != NULL, "error names the matrix: %s", err.msg);
}

static void test_dispatch_errors(void)
{
    struct lb_moe_ffn f;
    struct lb_error err;
    struct lb_moe_shape gptoss = {2880, 2880, 32, 0};
    CHECK(lb_moe_ffn_init(&f, &gptoss, LB_QTYPE_Q4_K, LB_ISA_SCALAR, NULL, &err) == LB_EINVAL);
    CHECK(lb_moe_ffn_init(&f, &gptoss, LB_QTYPE_MXFP4, LB_ISA_SCALAR, NULL, &err) == LB_OK);
    CHECK_INT_EQ(lb_moe_ffn_expert_bytes(&f), 3 * 2880 * 2880 / 32 * 17);
    struct lb_moe_shape big = {64, 64, 600, 0};
    CHECK(lb_moe_ffn_init(&f, &big, LB_QTYPE_Q8_0, LB_ISA_SCALAR, NULL, &err) == LB_EINVAL);
    enum lb_moe_split s;
    CHECK(lb_moe_split_parse("experts", &s) && s == LB_MOE_SPLIT_EXPERTS);
    CHECK(!lb_moe_split_parse("cols", &s));
}

/* ---- filler --------------------------------------------------------- */

static void test_fill(void)
{
    const int64_t n = 4096;
    for (int ti = 0; ti < LB_QTYPE_COUNT; ti++) {
        const struct lb_qtraits *q = lb_qtraits_get((enum lb_qtype)ti);
        if (!q) continue;
        size_t bytes = lb_qtype_row_bytes(q->type, n);
        unsigned char *a = malloc(bytes), *b = malloc(bytes), *c = malloc(bytes);
        float *v = malloc(sizeof(float) * (size_t)n);
        uint64_t seed = lb_test_rand_u64(&rng);
        lb_fill_random_weights(q->type, a, n, seed);
        lb_fill_random_weights(q->type, b, n, seed);
        lb_fill_random_weights(q->type, c, n, seed + 1);
        CHECK_MSG(memcmp(a, b, bytes) == 0, "%s: same seed, different bytes", q->name);
        CHECK_MSG(memcmp(a, c, bytes) != 0, "%s: different seeds, same bytes", q->name);
        q->dequantize(a, v, n);
        double ss = 0, mx = 0;
        bool finite = true;
        for (int64_t i = 0; i < n; i++) {
            finite &= isfinite(v[i]) != 0;
            ss += (double)v[i] * v[i];
            if (fabs(v[i]) > mx) mx = fabs(v[i]);
        }
        double rms = sqrt(ss / (double)n);
        CHECK_MSG(finite, "%s: non-finite value", q->name);
        /* largest decoded value ~ LB_FILL_WEIGHT_MAX; min terms and
         * offsets can add as much again */
        CHECK_MSG(mx <= 2.0 * LB_FILL_WEIGHT_MAX && rms > LB_FILL_WEIGHT_MAX / 100,
                  "%s: max %g rms %g", q->name, mx, rms);
        int64_t nb = n / q->block_elems;
        if (q->type == LB_QTYPE_Q8_0 || q->type == LB_QTYPE_Q8_K || q->type == LB_QTYPE_Q8_1) {
            bool in_range = true, sums = true;
            for (int64_t i = 0; i < nb; i++) {
                const int8_t *qs;
                int len;
                if (q->type == LB_QTYPE_Q8_0) qs = ((struct lb_block_q8_0 *)a)[i].qs, len = 32;
                else if (q->type == LB_QTYPE_Q8_1) qs = ((struct lb_block_q8_1 *)a)[i].qs, len = 32;
                else {
                    const struct lb_block_q8_k *k = &((struct lb_block_q8_k *)a)[i];
                    qs = k->qs, len = 256;
                    for (int j = 0; j < 16; j++) {
                        int s = 0;
                        for (int l = 0; l < 16; l++) s += k->qs[16 * j + l];
                        sums &= s == k->bsums[j];
                    }
                }
                for (int j = 0; j < len; j++) in_range &= qs[j] != -128;
            }
            CHECK_MSG(in_range, "%s: -128 in an int8 quant", q->name);
            CHECK_MSG(sums, "%s: bsums inconsistent", q->name);
        }
        free(a), free(b), free(c), free(v);
    }
    /* speed, for information (not checked: shared machines vary) */
    const int64_t big = 64ll << 20;
    void *buf = malloc(lb_qtype_row_bytes(LB_QTYPE_Q4_K, big));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lb_fill_random_weights(LB_QTYPE_Q4_K, buf, big, 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("  fill q4_K: %.2f GB/s (%.1f ns per 256 weights)\n",
           (double)lb_qtype_row_bytes(LB_QTYPE_Q4_K, big) / s * 1e-9, s / (double)(big / 256) * 1e9);
    free(buf);
}

int main(void)
{
    rng = lb_test_seed();
    lb_cpu_features_detect(&cpu);
    LB_RUN(test_route_softmax);
    LB_RUN(test_route_sigmoid_group);
    LB_RUN(test_route_group_by_hand);
    LB_RUN(test_router_check);
    LB_RUN(test_fill);
    LB_RUN(test_dispatch_errors);
    LB_RUN(test_dispatch);
    LB_RUN(test_dispatch_mixed);
    return lb_test_finish();
}
