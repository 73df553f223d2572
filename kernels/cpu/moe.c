/* moe.c: MoE routing and expert dispatch (kernels/lb-moe.h).
 *
 * Plain C, no ISA flags (STYLE.md #3): the SIMD is in the GEMV dots this
 * file calls through struct lb_gemv; what is here is routing arithmetic
 * over <= 512 floats, bookkeeping, SwiGLU over n_ff floats and a few
 * axpys over n_embd floats, all small next to the weight traffic.
 *
 * Workload assumptions. Decode: 1 token, k = 2..8 experts of 4-45 MiB
 * each (3 matrices) picked from a layer of 0.3-6 GiB, so the weights come
 * from DRAM and the job is to keep both cores streaming. Batched: up to a
 * few hundred tokens, bucketed per expert so each expert's rows are read
 * from memory once per call for all its tokens (lb_gemv_rows_batch, <= 8
 * activations at a time).
 *
 * Sources of the gating math (public reference code):
 *  - Qwen3-MoE / Qwen2-MoE: transformers Qwen3MoeSparseMoeBlock.forward:
 *    softmax(router_logits, dtype=float) -> torch.topk(top_k) -> if
 *    norm_topk_prob: /= sum. Mixtral (MixtralSparseMoeBlock): the same with
 *    the renormalisation always on.
 *  - DeepSeek-V3: deepseek-ai/DeepSeek-V3 inference/model.py Gate.forward:
 *    scores = sigmoid(logits); original_scores = scores; scores += bias;
 *    group_scores = scores.view(n_groups, -1).topk(2)[0].sum(-1);
 *    top topk_groups groups kept, the others masked to -inf; indices =
 *    topk(scores, topk); weights = original_scores.gather(indices);
 *    weights /= weights.sum(); weights *= route_scale. (transformers'
 *    DeepseekV3TopkRouter masks with 0.0 instead of -inf: the same unless
 *    every kept expert has a negative biased score.)
 *  - gpt-oss: openai/gpt-oss gpt_oss/torch/model.py MLPBlock.forward:
 *    experts = torch.topk(gate(x), k, sorted=True); expert_weights =
 *    softmax(experts.values).
 * torch.topk does not specify an order among equal values; llmbench
 * breaks ties towards the lower index, so results are reproducible.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lb-moe.h"

/* ---- routing ------------------------------------------------------------ */

static const char *const gating_names[LB_MOE_GATING_COUNT] = {
    [LB_MOE_GATING_SOFTMAX] = "softmax_topk",
    [LB_MOE_GATING_SIGMOID_GROUP] = "sigmoid_group_topk",
    [LB_MOE_GATING_TOPK_SOFTMAX] = "topk_softmax",
};

const char *lb_moe_gating_name(enum lb_moe_gating g)
{
    return (unsigned)g < LB_MOE_GATING_COUNT ? gating_names[g] : "unknown";
}

enum lb_status lb_moe_router_check(const struct lb_moe_router *r, struct lb_error *err)
{
    if ((unsigned)r->kind >= LB_MOE_GATING_COUNT)
        return lb_error_set(err, LB_EINVAL, "moe router: unknown gating %d", (int)r->kind);
    if (r->n_expert < 1 || r->n_expert > LB_MOE_MAX_EXPERTS)
        return lb_error_set(err, LB_EINVAL, "moe router: n_expert %d outside 1..%d", r->n_expert,
                            LB_MOE_MAX_EXPERTS);
    if (r->k < 1 || r->k > r->n_expert || r->k > LB_MOE_MAX_K)
        return lb_error_set(err, LB_EINVAL, "moe router: k %d outside 1..min(n_expert %d, %d)",
                            r->k, r->n_expert, LB_MOE_MAX_K);
    if (!(r->scaling > 0) || !isfinite(r->scaling))
        return lb_error_set(err, LB_EINVAL, "moe router: scaling %g is not a positive number",
                            (double)r->scaling);
    if (r->kind == LB_MOE_GATING_SIGMOID_GROUP && r->n_group > 1) {
        if (r->n_group > LB_MOE_MAX_GROUPS || r->n_expert % r->n_group != 0 ||
            r->n_expert / r->n_group < 2)
            return lb_error_set(err, LB_EINVAL,
                                "moe router: %d groups must divide %d experts into groups of >= 2 "
                                "(at most %d groups)",
                                r->n_group, r->n_expert, LB_MOE_MAX_GROUPS);
        if (r->topk_group < 1 || r->topk_group > r->n_group ||
            r->k > r->topk_group * (r->n_expert / r->n_group))
            return lb_error_set(err, LB_EINVAL,
                                "moe router: topk_group %d must be 1..%d and keep >= k = %d experts",
                                r->topk_group, r->n_group, r->k);
    }
    return LB_OK;
}

/* Indices of the m (<= k) best scores among those with allowed[i] (NULL:
 * all), best first; equal scores: lower index first. Insertion into a
 * sorted list of <= k: O(n) when most scores lose against the k-th, O(n k)
 * at worst (k <= 32, n <= 512). Scanning i upwards and moving an entry
 * only past strictly smaller scores is what puts lower indices first. */
static int topk_indices(const float *score, int n, int k, const bool *allowed, int *out)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (allowed && !allowed[i]) continue;
        const float s = score[i];
        if (m == k && !(s > score[out[k - 1]])) continue;
        int j = m < k ? m++ : k - 1;
        while (j > 0 && s > score[out[j - 1]]) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = i;
    }
    return m;
}

void lb_moe_route(const struct lb_moe_router *r, const float *logits, int *ids, float *weights)
{
    const int n = r->n_expert, k = r->k;
    LB_ASSERT(n >= 1 && n <= LB_MOE_MAX_EXPERTS && k >= 1 && k <= n && k <= LB_MOE_MAX_K);
    double sum_sel = 0;
    switch (r->kind) {
    case LB_MOE_GATING_SOFTMAX: {
        /* ranks by logit; p_i = exp(l_i - max) / sum_all; renormalised:
         * exp(l_i - max) / sum_sel (sums in double: 512 terms) */
        topk_indices(logits, n, k, NULL, ids);
        const float mx = logits[ids[0]];
        double sum_all = 0;
        for (int i = 0; i < n; i++) sum_all += (double)expf(logits[i] - mx);
        for (int j = 0; j < k; j++) {
            weights[j] = expf(logits[ids[j]] - mx);
            sum_sel += (double)weights[j];
        }
        const double den = r->norm_topk ? sum_sel : sum_all;
        for (int j = 0; j < k; j++) weights[j] = (float)((double)weights[j] / den * (double)r->scaling);
        return;
    }
    case LB_MOE_GATING_TOPK_SOFTMAX: {
        topk_indices(logits, n, k, NULL, ids);
        const float mx = logits[ids[0]];
        for (int j = 0; j < k; j++) {
            weights[j] = expf(logits[ids[j]] - mx);
            sum_sel += (double)weights[j];
        }
        for (int j = 0; j < k; j++)
            weights[j] = (float)((double)weights[j] / sum_sel * (double)r->scaling);
        return;
    }
    case LB_MOE_GATING_SIGMOID_GROUP: {
        float s[LB_MOE_MAX_EXPERTS], c[LB_MOE_MAX_EXPERTS];
        for (int i = 0; i < n; i++) {
            s[i] = 1.0f / (1.0f + expf(-logits[i]));
            c[i] = r->bias ? s[i] + r->bias[i] : s[i];
        }
        bool allowed[LB_MOE_MAX_EXPERTS];
        const bool *mask = NULL;
        if (r->n_group > 1) {
            const int ng = r->n_group, gs = n / ng;
            LB_ASSERT(ng <= LB_MOE_MAX_GROUPS && n % ng == 0 && gs >= 2 && r->topk_group >= 1 &&
                      r->topk_group <= ng);
            float gscore[LB_MOE_MAX_GROUPS];
            for (int g = 0; g < ng; g++) {
                int top2[2];
                topk_indices(c + g * gs, gs, 2, NULL, top2);
                gscore[g] = c[g * gs + top2[0]] + c[g * gs + top2[1]];
            }
            int keep[LB_MOE_MAX_GROUPS];
            topk_indices(gscore, ng, r->topk_group, NULL, keep);
            memset(allowed, 0, (size_t)n * sizeof allowed[0]);
            for (int j = 0; j < r->topk_group; j++)
                for (int i = 0; i < gs; i++) allowed[keep[j] * gs + i] = true;
            mask = allowed;
        }
        const int m = topk_indices(c, n, k, mask, ids);
        LB_ASSERT(m == k); /* the kept groups hold >= k experts */
        for (int j = 0; j < k; j++) sum_sel += (double)s[ids[j]];
        for (int j = 0; j < k; j++) {
            double w = (double)s[ids[j]];
            if (r->norm_topk) w /= sum_sel;
            weights[j] = (float)(w * (double)r->scaling);
        }
        return;
    }
    case LB_MOE_GATING_COUNT: break;
    }
    LB_ASSERT(!"unknown gating kind");
}

/* ---- FFN shapes --------------------------------------------------------- */

bool lb_moe_types_pure(const struct lb_moe_types *t)
{
    return t->gate == t->up && t->up == t->down;
}

const char *lb_moe_types_name(const struct lb_moe_types *t, char *buf, size_t size)
{
    if (lb_moe_types_pure(t))
        snprintf(buf, size, "%s", lb_qtype_name(t->gate));
    else
        snprintf(buf, size, "%s/%s/%s", lb_qtype_name(t->gate), lb_qtype_name(t->up),
                 lb_qtype_name(t->down));
    return buf;
}

/* One matrix's GEMV; an error names the matrix and its format. */
static enum lb_status mat_init(struct lb_gemv *g, const char *what, enum lb_qtype type,
                               int64_t rows, int64_t cols, enum lb_isa isa_cap,
                               const struct lb_cpu_features *feat, struct lb_error *err)
{
    struct lb_error e2 = {0};
    enum lb_status st = lb_gemv_init(g, type, rows, cols, isa_cap, feat, &e2);
    if (st) return lb_error_set(err, st, "moe %s (%s): %s", what, lb_qtype_name(type), e2.msg);
    /* phase 1 quantizes h in pieces of H_SUB (256) elements: whole blocks
     * of every activation format (block sizes 1, 32, 256) */
    LB_ASSERT(256 % lb_qtraits_get(g->atype)->block_elems == 0);
    return LB_OK;
}

enum lb_status lb_moe_ffn_init_types(struct lb_moe_ffn *f, const struct lb_moe_shape *s,
                                     const struct lb_moe_types *t, enum lb_isa isa_cap,
                                     const struct lb_cpu_features *feat, struct lb_error *err)
{
    memset(f, 0, sizeof *f);
    if (s->n_embd < 1 || s->n_ff < 1 || s->n_ff_shared < 0)
        return lb_error_set(err, LB_EINVAL, "moe: empty shape n_embd %lld n_ff %lld",
                            (long long)s->n_embd, (long long)s->n_ff);
    if (s->n_expert < 1 || s->n_expert > LB_MOE_MAX_EXPERTS)
        return lb_error_set(err, LB_EINVAL, "moe: n_expert %d outside 1..%d", s->n_expert,
                            LB_MOE_MAX_EXPERTS);
    f->shape = *s;
    f->types = *t;
    enum lb_status st;
    if ((st = mat_init(&f->gate, "ffn_gate_exps", t->gate, s->n_ff, s->n_embd, isa_cap, feat, err)) ||
        (st = mat_init(&f->up, "ffn_up_exps", t->up, s->n_ff, s->n_embd, isa_cap, feat, err)) ||
        (st = mat_init(&f->down, "ffn_down_exps", t->down, s->n_embd, s->n_ff, isa_cap, feat, err)))
        return st;
    if (s->n_ff_shared > 0) {
        const int64_t ffs = s->n_ff_shared;
        if ((st = mat_init(&f->sh_gate, "ffn_gate_shexp", t->sh_gate, ffs, s->n_embd, isa_cap, feat,
                           err)) ||
            (st = mat_init(&f->sh_up, "ffn_up_shexp", t->sh_up, ffs, s->n_embd, isa_cap, feat, err)) ||
            (st = mat_init(&f->sh_down, "ffn_down_shexp", t->sh_down, s->n_embd, ffs, isa_cap, feat,
                           err)))
            return st;
        f->sh_gate_bytes = (size_t)ffs * f->sh_gate.row_bytes;
        f->sh_up_bytes = (size_t)ffs * f->sh_up.row_bytes;
        f->sh_down_bytes = (size_t)s->n_embd * f->sh_down.row_bytes;
    }
    f->gate_bytes = (size_t)s->n_ff * f->gate.row_bytes;
    f->up_bytes = (size_t)s->n_ff * f->up.row_bytes;
    f->down_bytes = (size_t)s->n_embd * f->down.row_bytes;
    return LB_OK;
}

enum lb_status lb_moe_ffn_init(struct lb_moe_ffn *f, const struct lb_moe_shape *s,
                               enum lb_qtype wtype, enum lb_isa isa_cap,
                               const struct lb_cpu_features *feat, struct lb_error *err)
{
    const struct lb_moe_types t = lb_moe_types_uniform(wtype);
    return lb_moe_ffn_init_types(f, s, &t, isa_cap, feat, err);
}

size_t lb_moe_ffn_expert_bytes(const struct lb_moe_ffn *f)
{
    return f->gate_bytes + f->up_bytes + f->down_bytes;
}

size_t lb_moe_ffn_shared_bytes(const struct lb_moe_ffn *f)
{
    return f->sh_gate_bytes + f->sh_up_bytes + f->sh_down_bytes;
}

size_t lb_moe_ffn_layer_bytes(const struct lb_moe_ffn *f)
{
    return (size_t)f->shape.n_expert * lb_moe_ffn_expert_bytes(f) + lb_moe_ffn_shared_bytes(f);
}

/* ---- dispatch ----------------------------------------------------------- */

static const char *const split_names[] = {"auto", "rows", "experts"};

const char *lb_moe_split_name(enum lb_moe_split s)
{
    return (unsigned)s < LB_ARRAY_LEN(split_names) ? split_names[s] : "unknown";
}

bool lb_moe_split_parse(const char *s, enum lb_moe_split *out)
{
    for (size_t i = 0; i < LB_ARRAY_LEN(split_names); i++)
        if (!strcmp(s, split_names[i])) {
            *out = (enum lb_moe_split)i;
            return true;
        }
    return false;
}

/* Elements of h computed and quantized together in phase 1 (a multiple of
 * every activation block): 256 gate + 256 up rows are 2 x 256 x 2.3 KiB =
 * 1.2 MiB at Q4_K x 4096 columns, so the rows of one piece are still in
 * L2/L3 when the next <= 8 tokens of the same expert need them. */
#define H_SUB 256
/* Output rows of a down GEMV per piece: 64 rows x 8 KiB (Q4_K x 14336)
 * = 0.5 MiB, L2-resident across an expert's token chunks. */
#define R_SUB 64

/* One expert's share of a call: the tokens routed to it (or all tokens,
 * for the shared expert). */
struct moe_item {
    int expert;      /* routed expert id, or -1 for the shared expert */
    int first;       /* positions [first, first + count) in the plan arrays */
    int count;
    int blk_first;   /* its first block in phase 1's block space */
    int n_blk;       /* n_ff / its down's activation block */
};

/* Distinct activation formats x is quantized to in phase 0: gate, up,
 * shared gate, shared up (Q8_0, Q8_1, Q8_K, F32 are all there are). */
#define MAX_XQ 4

struct lb_moe_dispatch {
    const struct lb_moe_ffn *f;
    int n_tok_max, k;
    /* the current plan */
    const struct lb_moe_weights *w;
    struct lb_moe_tokens t;
    enum lb_moe_split split;
    int nth;
    int n_assign;           /* n_tok * k routed (token, slot) pairs */
    int n_items, n_blk;     /* items; phase 1 blocks over all items */
    /* h's activation block (down's activation format), elements, and its
     * bytes: routed experts [0], shared expert [1] (formats may differ,
     * so a phase 1 block is an item's own block) */
    int ab[2];
    size_t abb[2];
    /* x in each distinct activation format: xq[i] quantizes it (any GEMV
     * of that format over n_embd columns writes the same bytes) to offset
     * xq_off[i] of a token's act_x row; x_off_* are the offsets each
     * matrix reads. */
    int n_xq;
    const struct lb_gemv *xq[MAX_XQ];
    size_t xq_off[MAX_XQ];
    size_t x_off_gate, x_off_up, x_off_sh_gate, x_off_sh_up;
    struct moe_item items[LB_MOE_MAX_EXPERTS + 1];
    /* Positions: routed pairs sorted by expert (stable by token, slot),
     * then the shared expert's n_tok entries. */
    int *tok_of;            /* [n_pos] token of each position */
    float *w_of;            /* [n_pos] its weight */
    int *tok_pos;           /* [n_tok][k + 1] a token's positions, ascending */
    unsigned char *act_x;   /* [n_tok][x_stride] x quantized for gate/up,
                               every format of xq[] one after another */
    unsigned char *act_h;   /* [n_assign][h_stride] h quantized for down */
    unsigned char *act_hs;  /* [n_tok][hs_stride] shared expert's h */
    size_t x_stride, h_stride, hs_stride;
    float *ys;              /* EXPERTS: [n_pos][n_embd] expert outputs;
                               ROWS: [LB_GEMV_MAX_BATCH][n_embd] scratch */
};

static size_t round64(size_t n) { return (n + 63) / 64 * 64; }

static void *alloc64(size_t bytes)
{
    return aligned_alloc(64, round64(bytes > 0 ? bytes : 1));
}

void lb_moe_dispatch_destroy(struct lb_moe_dispatch *d)
{
    if (!d) return;
    free(d->tok_of);
    free(d->w_of);
    free(d->tok_pos);
    free(d->act_x);
    free(d->act_h);
    free(d->act_hs);
    free(d->ys);
    free(d);
}

enum lb_status lb_moe_dispatch_create(const struct lb_moe_ffn *f, int n_tok_max, int k,
                                      struct lb_moe_dispatch **out, struct lb_error *err)
{
    *out = NULL;
    if (n_tok_max < 1 || k < 1 || k > LB_MOE_MAX_K || k > f->shape.n_expert)
        return lb_error_set(err, LB_EINVAL, "moe dispatch: n_tok_max %d, k %d out of range",
                            n_tok_max, k);
    struct lb_moe_dispatch *d = calloc(1, sizeof *d);
    if (!d) return lb_error_set(err, LB_ENOMEM, "moe dispatch: out of memory");
    d->f = f;
    d->n_tok_max = n_tok_max;
    d->k = k;
    const bool shared = f->shape.n_ff_shared > 0;
    for (int i = 0; i < 2; i++) {
        const struct lb_qtraits *at = lb_qtraits_get(i ? f->sh_down.atype : f->down.atype);
        d->ab[i] = i && !shared ? 1 : at->block_elems;
        d->abb[i] = i && !shared ? 0 : (size_t)at->block_bytes;
    }
    /* x's formats: the first GEMV wanting each one quantizes it */
    const struct lb_gemv *xg[4] = {&f->gate, &f->up, &f->sh_gate, &f->sh_up};
    size_t *xo[4] = {&d->x_off_gate, &d->x_off_up, &d->x_off_sh_gate, &d->x_off_sh_up};
    for (int m = 0; m < (shared ? 4 : 2); m++) {
        int i = 0;
        while (i < d->n_xq && d->xq[i]->atype != xg[m]->atype) i++;
        if (i == d->n_xq) {
            d->xq[i] = xg[m];
            d->xq_off[i] = d->x_stride;
            d->x_stride += round64(xg[m]->act_bytes);
            d->n_xq++;
        }
        *xo[m] = d->xq_off[i];
    }
    const size_t n_assign = (size_t)n_tok_max * (size_t)k;
    const size_t n_pos = n_assign + (shared ? (size_t)n_tok_max : 0);
    d->h_stride = round64(f->down.act_bytes);
    d->hs_stride = shared ? round64(f->sh_down.act_bytes) : 0;
    const size_t ys_rows = n_pos > LB_GEMV_MAX_BATCH ? n_pos : LB_GEMV_MAX_BATCH;
    d->tok_of = alloc64(n_pos * sizeof *d->tok_of);
    d->w_of = alloc64(n_pos * sizeof *d->w_of);
    d->tok_pos = alloc64((size_t)n_tok_max * (size_t)(k + 1) * sizeof *d->tok_pos);
    d->act_x = alloc64((size_t)n_tok_max * d->x_stride);
    d->act_h = alloc64(n_assign * d->h_stride);
    d->act_hs = alloc64((size_t)n_tok_max * d->hs_stride);
    d->ys = alloc64(ys_rows * (size_t)f->shape.n_embd * sizeof *d->ys);
    if (!d->tok_of || !d->w_of || !d->tok_pos || !d->act_x || !d->act_h || !d->act_hs || !d->ys) {
        lb_moe_dispatch_destroy(d);
        return lb_error_set(err, LB_ENOMEM, "moe dispatch: out of memory for %d tokens", n_tok_max);
    }
    *out = d;
    return LB_OK;
}

enum lb_moe_split lb_moe_dispatch_split(const struct lb_moe_dispatch *d)
{
    return d->split;
}

/* AUTO. On the development machine (2 workers, docs/moe.md), one token
 * of Qwen3-30B-A3B at Q4_K ran 3-10% faster with whole experts per
 * worker (each worker streams one 0.9 MiB matrix at a time), Mixtral and
 * gpt-oss the same either way. Whole experts need as many experts as
 * workers in equal shares, or a worker idles at the end (the shared
 * expert makes DeepSeek's 9 items uneven); batched calls have uneven
 * buckets (a hot expert holds many tokens), so they always split rows. */
static enum lb_moe_split choose_split(const struct lb_moe_dispatch *d, int nth)
{
    if (nth > 1 && d->t.n_tok == 1 && d->n_items % nth == 0 && d->f->shape.n_ff_shared == 0)
        return LB_MOE_SPLIT_EXPERTS;
    return LB_MOE_SPLIT_ROWS;
}

void lb_moe_dispatch_plan(struct lb_moe_dispatch *d, const struct lb_moe_weights *w,
                          const struct lb_moe_tokens *t, enum lb_moe_split split, int nth)
{
    const struct lb_moe_ffn *f = d->f;
    const int k = d->k, n_tok = t->n_tok, n_expert = f->shape.n_expert;
    LB_ASSERT(n_tok >= 1 && n_tok <= d->n_tok_max && nth >= 1);
    LB_ASSERT(w->gate && w->up && w->down);
    LB_ASSERT(f->shape.n_ff_shared == 0 || (w->sh_gate && w->sh_up && w->sh_down));
    d->w = w;
    d->t = *t;
    d->nth = nth;
    d->n_assign = n_tok * k;

    /* counting sort of the (token, slot) pairs by expert; scanning pairs
     * in (token, slot) order makes it stable */
    int count[LB_MOE_MAX_EXPERTS], cursor[LB_MOE_MAX_EXPERTS];
    memset(count, 0, (size_t)n_expert * sizeof count[0]);
    for (int a = 0; a < d->n_assign; a++) {
        const int e = t->ids[a];
        LB_ASSERT(e >= 0 && e < n_expert);
        count[e]++;
    }
    d->n_items = 0;
    int pos = 0;
    for (int e = 0; e < n_expert; e++) {
        cursor[e] = pos;
        if (count[e]) d->items[d->n_items++] = (struct moe_item){e, pos, count[e], 0, 0};
        pos += count[e];
    }
    for (int tt = 0; tt < n_tok; tt++) {
        int *tp = d->tok_pos + (size_t)tt * (size_t)(k + 1);
        for (int s = 0; s < k; s++) {
            const int a = tt * k + s, p = cursor[t->ids[a]]++;
            d->tok_of[p] = tt;
            d->w_of[p] = t->weights[a];
            /* insertion: a token's positions ascending = its experts in
             * ascending id, equal ids in slot order */
            int j = s;
            while (j > 0 && tp[j - 1] > p) {
                tp[j] = tp[j - 1];
                j--;
            }
            tp[j] = p;
        }
    }
    if (f->shape.n_ff_shared > 0) {
        d->items[d->n_items++] = (struct moe_item){-1, d->n_assign, n_tok, 0, 0};
        for (int tt = 0; tt < n_tok; tt++) {
            d->tok_of[d->n_assign + tt] = tt;
            d->w_of[d->n_assign + tt] = 1.0f;
            d->tok_pos[(size_t)tt * (size_t)(k + 1) + (size_t)k] = d->n_assign + tt;
        }
    }
    d->n_blk = 0;
    for (int i = 0; i < d->n_items; i++) {
        struct moe_item *it = &d->items[i];
        const int64_t n_ff = it->expert < 0 ? f->shape.n_ff_shared : f->shape.n_ff;
        it->n_blk = (int)(n_ff / d->ab[it->expert < 0]);
        it->blk_first = d->n_blk;
        d->n_blk += it->n_blk;
    }
    d->split = split == LB_MOE_SPLIT_AUTO ? choose_split(d, nth) : split;
}

static inline float silu(float v)
{
    return v / (1.0f + expf(-v));
}

/* out[i] += w * y[i]. Not inlined, so that every accumulation of every
 * path (ROWS, EXPERTS, any n_tok) runs the same machine code: a compiler
 * that contracts a*b+c into an FMA in one copy and not another would
 * break the bit-exact equality of lb-moe.h's result contract. */
__attribute__((noinline)) static void axpy(float *restrict out, const float *restrict y, float w,
                                           int64_t n)
{
    for (int64_t i = 0; i < n; i++) out[i] += w * y[i];
}

/* Rows [r0, r1) of g's matrix w against n_b activations: y[b][0 .. r1-r0).
 * A copy of the descriptor with rows = r1 - r0 over the sub-matrix is a
 * GEMV of its own (rows are independent), so the per-row dots are the
 * GEMV's own, chosen once by lb_gemv_init. */
static void rows_view(const struct lb_gemv *g, const void *w, int64_t r0, int64_t r1,
                      const void *const *act, float *const *y, int n_b)
{
    if (r1 <= r0) return;
    struct lb_gemv v = *g;
    v.rows = r1 - r0;
    const char *wv = (const char *)w + (size_t)r0 * g->row_bytes;
    if (n_b == 1) lb_gemv_rows(&v, wv, act[0], y[0], 0, 1);
    else lb_gemv_rows_batch(&v, wv, act, y, n_b, 0, 1);
}

static const struct lb_gemv *item_down(const struct lb_moe_dispatch *d, const struct moe_item *it)
{
    return it->expert < 0 ? &d->f->sh_down : &d->f->down;
}

static unsigned char *act_of(const struct lb_moe_dispatch *d, int pos)
{
    return pos < d->n_assign ? d->act_h + (size_t)pos * d->h_stride
                             : d->act_hs + (size_t)(pos - d->n_assign) * d->hs_stride;
}

/* Phase 1 work on one item: gate and up rows [blk0, blk1) x ab for each of
 * its tokens, h = silu(gate) * up, quantized into the tokens' h
 * activations (whole blocks of the item's down activation format, so a
 * worker's slice is exactly the bytes lb_gemv_quantize_x would write for
 * it). Gate and up each read x in their own activation format. */
static void gate_up_blocks(const struct lb_moe_dispatch *d, const struct moe_item *it, int blk0,
                           int blk1)
{
    const struct lb_moe_ffn *f = d->f;
    const bool sh = it->expert < 0;
    const struct lb_gemv *gg = sh ? &f->sh_gate : &f->gate;
    const struct lb_gemv *gu = sh ? &f->sh_up : &f->up;
    const struct lb_gemv *gd = item_down(d, it);
    const int ab = d->ab[sh];
    const size_t abb = d->abb[sh];
    const size_t xog = sh ? d->x_off_sh_gate : d->x_off_gate;
    const size_t xou = sh ? d->x_off_sh_up : d->x_off_up;
    const void *wg = sh ? d->w->sh_gate
                        : (const char *)d->w->gate + (size_t)it->expert * f->gate_bytes;
    const void *wu = sh ? d->w->sh_up : (const char *)d->w->up + (size_t)it->expert * f->up_bytes;
    float gbuf[LB_GEMV_MAX_BATCH][H_SUB], ubuf[LB_GEMV_MAX_BATCH][H_SUB];
    float *gp[LB_GEMV_MAX_BATCH], *up[LB_GEMV_MAX_BATCH];
    const void *acts_g[LB_GEMV_MAX_BATCH], *acts_u[LB_GEMV_MAX_BATCH];
    for (int j = 0; j < LB_GEMV_MAX_BATCH; j++) gp[j] = gbuf[j], up[j] = ubuf[j];
    const int64_t e_end = (int64_t)blk1 * ab;
    for (int64_t e0 = (int64_t)blk0 * ab; e0 < e_end; e0 += H_SUB) {
        const int64_t e1 = e0 + H_SUB < e_end ? e0 + H_SUB : e_end, len = e1 - e0;
        for (int c = 0; c < it->count; c += LB_GEMV_MAX_BATCH) {
            const int nb = it->count - c < LB_GEMV_MAX_BATCH ? it->count - c : LB_GEMV_MAX_BATCH;
            for (int j = 0; j < nb; j++) {
                const unsigned char *xa =
                    d->act_x + (size_t)d->tok_of[it->first + c + j] * d->x_stride;
                acts_g[j] = xa + xog;
                acts_u[j] = xa + xou;
            }
            rows_view(gg, wg, e0, e1, acts_g, gp, nb);
            rows_view(gu, wu, e0, e1, acts_u, up, nb);
            for (int j = 0; j < nb; j++) {
                float *h = gbuf[j];
                for (int64_t i = 0; i < len; i++) h[i] = silu(h[i]) * ubuf[j][i];
                unsigned char *dst = act_of(d, it->first + c + j);
                if (gd->actq) gd->actq(h, dst + (size_t)(e0 / ab) * abb, len);
                else memcpy(dst + (size_t)e0 * sizeof(float), h, (size_t)len * sizeof(float));
            }
        }
    }
}

/* One item's down GEMV over output rows [r0, r1) for each of its tokens:
 * store: into ys[pos] (EXPERTS); else into the scratch rows and then
 * accumulated into out[token] (ROWS: this worker owns rows [r0, r1)). */
static void down_rows(const struct lb_moe_dispatch *d, const struct moe_item *it, int64_t r0,
                      int64_t r1, bool store)
{
    const struct lb_moe_ffn *f = d->f;
    const int64_t n_embd = f->shape.n_embd;
    const struct lb_gemv *gd = item_down(d, it);
    const void *wd = it->expert < 0 ? d->w->sh_down
                                    : (const char *)d->w->down + (size_t)it->expert * f->down_bytes;
    const void *acts[LB_GEMV_MAX_BATCH];
    float *ys[LB_GEMV_MAX_BATCH];
    for (int64_t s0 = r0; s0 < r1; s0 += R_SUB) {
        const int64_t s1 = s0 + R_SUB < r1 ? s0 + R_SUB : r1;
        for (int c = 0; c < it->count; c += LB_GEMV_MAX_BATCH) {
            const int nb = it->count - c < LB_GEMV_MAX_BATCH ? it->count - c : LB_GEMV_MAX_BATCH;
            for (int j = 0; j < nb; j++) {
                const int p = it->first + c + j;
                acts[j] = act_of(d, p);
                ys[j] = d->ys + (size_t)(store ? p : j) * (size_t)n_embd + (size_t)s0;
            }
            rows_view(gd, wd, s0, s1, acts, ys, nb);
            if (store) continue;
            for (int j = 0; j < nb; j++) {
                const int p = it->first + c + j;
                axpy(d->t.out + (size_t)d->tok_of[p] * (size_t)n_embd + (size_t)s0, ys[j],
                     d->w_of[p], s1 - s0);
            }
        }
    }
}

static void zero_rows(const struct lb_moe_dispatch *d, size_t b, size_t e)
{
    const size_t n_embd = (size_t)d->f->shape.n_embd;
    for (int tt = 0; tt < d->t.n_tok; tt++)
        memset(d->t.out + (size_t)tt * n_embd + b, 0, (e - b) * sizeof(float));
}

void lb_moe_dispatch_phase(struct lb_moe_dispatch *d, int phase, int ith, int nth)
{
    LB_ASSERT(nth == d->nth && ith >= 0 && ith < nth);
    const struct lb_moe_ffn *f = d->f;
    const size_t n_embd = (size_t)f->shape.n_embd;
    switch (phase) {
    case 0: /* x of every token, quantized once per activation format
               the gate/up matrices (shared expert's included) want */
        for (int tt = 0; tt < d->t.n_tok; tt++)
            for (int i = 0; i < d->n_xq; i++)
                lb_gemv_quantize_x(d->xq[i], d->t.x + (size_t)tt * n_embd,
                                   d->act_x + (size_t)tt * d->x_stride + d->xq_off[i], ith, nth);
        return;
    case 1:
        if (d->split == LB_MOE_SPLIT_EXPERTS) {
            for (int i = ith; i < d->n_items; i += nth) {
                gate_up_blocks(d, &d->items[i], 0, d->items[i].n_blk);
                down_rows(d, &d->items[i], 0, f->shape.n_embd, true);
            }
        } else {
            /* a contiguous range of the blocks of all items: balanced to
             * one block, and a worker reads whole rows of few experts (a
             * block is an item's own: with a shared expert whose down is
             * in another format, its blocks may be 8x smaller or larger
             * than the routed ones; one item of k + 1, so the imbalance
             * is at most that item's share) */
            size_t b, e;
            lb_split((size_t)d->n_blk, 1, ith, nth, &b, &e);
            for (int i = 0; i < d->n_items && b < e; i++) {
                const struct moe_item *it = &d->items[i];
                const size_t ib = (size_t)it->blk_first, ie = ib + (size_t)it->n_blk;
                if (ie <= b || ib >= e) continue;
                gate_up_blocks(d, it, (int)((b > ib ? b : ib) - ib), (int)((e < ie ? e : ie) - ib));
            }
        }
        return;
    case 2: {
        size_t b, e;
        lb_split(n_embd, 1, ith, nth, &b, &e);
        if (b >= e) return;
        zero_rows(d, b, e);
        if (d->split == LB_MOE_SPLIT_EXPERTS) {
            const int per_tok = d->k + (f->shape.n_ff_shared > 0 ? 1 : 0);
            for (int tt = 0; tt < d->t.n_tok; tt++) {
                const int *tp = d->tok_pos + (size_t)tt * (size_t)(d->k + 1);
                float *o = d->t.out + (size_t)tt * n_embd + b;
                for (int j = 0; j < per_tok; j++)
                    axpy(o, d->ys + (size_t)tp[j] * n_embd + b, d->w_of[tp[j]], (int64_t)(e - b));
            }
        } else {
            for (int i = 0; i < d->n_items; i++)
                down_rows(d, &d->items[i], (int64_t)b, (int64_t)e, false);
        }
        return;
    }
    default: LB_ASSERT(!"moe dispatch phase out of range");
    }
}
