/* model.c: a model's tensors in memory (bench/lb-model.h): the tensor
 * layout of each architecture, the GGUF loader, the quant mix and its
 * fallbacks, and the per-token byte count. Synthesis (random weights from
 * a profile, in memory or streamed to a GGUF file) is bench/model-synth.c.
 *
 * One table of tensors drives everything: build_layout() lists, for a
 * shape (struct lb_model_profile), every tensor llama.cpp expects for that
 * architecture (name, kind, shape) and the lb_wt slot it lands in. The
 * loader checks a file against that list; synthesis fills it; `model info`
 * sizes it. So the names and shapes exist in one place only.
 *
 * Loading copies nothing: tensor data pointers point into the read-only
 * mapping of bench/gguf.c, which has already checked every offset and size
 * against the file. What is checked here is that the file is a model we
 * understand: the architecture's metadata keys (types, ranges, agreement
 * with each other) and that every tensor of the table is present with the
 * exact shape and a usable type.
 */
#include "model-impl.h"
#include "../hw/lb-pool.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- quant mix ------------------------------------------------------------ */

void lb_quant_mix_pure(struct lb_quant_mix *mix, enum lb_qtype t)
{
    mix->matrix = mix->embed = mix->output = t;
}

enum lb_qtype lb_quant_fallback(enum lb_qtype t, int64_t ne0)
{
    const struct lb_qtraits *tr = lb_qtraits_get(t);
    LB_ASSERT(tr && ne0 > 0);
    if (ne0 % tr->block_elems == 0) return t;
    /* llama-quantize's fallbacks for rows that are not a multiple of 256
     * (llama_tensor_get_type, src/llama-quant.cpp): a 32-element format of
     * about the same size */
    enum lb_qtype f;
    switch (t) {
    case LB_QTYPE_Q2_K:
    case LB_QTYPE_Q3_K:
    case LB_QTYPE_IQ4_XS: f = LB_QTYPE_IQ4_NL; break;
    case LB_QTYPE_Q4_K: f = LB_QTYPE_Q5_0; break;
    case LB_QTYPE_Q5_K: f = LB_QTYPE_Q5_1; break;
    case LB_QTYPE_Q6_K: f = LB_QTYPE_Q8_0; break;
    default: f = LB_QTYPE_F16; break;
    }
    if (ne0 % lb_qtraits_get(f)->block_elems) f = LB_QTYPE_F16;
    return f;
}

bool lb_model_weight_type_ok(enum lb_qtype t)
{
    /* Q8_1 and Q8_K are activation formats: no file stores weights in them */
    return lb_qtraits_get(t) && t != LB_QTYPE_Q8_1 && t != LB_QTYPE_Q8_K;
}

int lb_model_ftype(enum lb_qtype t)
{
    /* llama.h enum llama_ftype. For K-quants the "_M" mix, which is what
     * llama.cpp's loader guesses for a file whose most common type is that
     * K-quant (llama_model_loader, ftype from type_max). */
    switch (t) {
    case LB_QTYPE_F32: return 0;     /* ALL_F32 */
    case LB_QTYPE_F16: return 1;     /* MOSTLY_F16 */
    case LB_QTYPE_Q4_0: return 2;
    case LB_QTYPE_Q4_1: return 3;
    case LB_QTYPE_Q8_0: return 7;
    case LB_QTYPE_Q5_0: return 8;
    case LB_QTYPE_Q5_1: return 9;
    case LB_QTYPE_Q2_K: return 10;
    case LB_QTYPE_Q3_K: return 12;   /* Q3_K_M */
    case LB_QTYPE_Q4_K: return 15;   /* Q4_K_M */
    case LB_QTYPE_Q5_K: return 17;   /* Q5_K_M */
    case LB_QTYPE_Q6_K: return 18;
    case LB_QTYPE_IQ4_NL: return 25;
    case LB_QTYPE_IQ4_XS: return 30;
    case LB_QTYPE_BF16: return 32;
    case LB_QTYPE_MXFP4: return 38;  /* MXFP4_MOE */
    default: return -1;
    }
}

/* ---- shape checks ---------------------------------------------------------- */

/* Widths above this are no model of today (the largest hidden size is
 * ~16k, vocabularies ~256k); the cap keeps every product of two of them
 * far from int64 overflow when a file's metadata is hostile. */
#define DIM_MAX (INT64_C(1) << 24)

enum lb_status lb_model_hp_check(const struct lb_model_profile *p, const char *what,
                                 struct lb_error *err)
{
#define BAD(...) return lb_error_set(err, LB_EINVAL, __VA_ARGS__)
    const struct { const char *name; int64_t v, lo; } dims[] = {
        {"n_layer", p->n_layer, 1},       {"n_embd", p->n_embd, 1},
        {"n_head", p->n_head, 1},         {"n_head_kv", p->n_head_kv, 1},
        {"head_dim", p->head_dim, 2},     {"n_ff", p->n_ff, 0},
        {"vocab_size", p->vocab_size, 1}, {"context_length", p->context_length, 1},
    };
    for (size_t i = 0; i < LB_ARRAY_LEN(dims); i++)
        if (dims[i].v < dims[i].lo || dims[i].v > DIM_MAX)
            BAD("%s: %s %" PRId64 " is outside [%" PRId64 ", %" PRId64 "]", what, dims[i].name,
                dims[i].v, dims[i].lo, DIM_MAX);
    if (p->n_layer > LB_MODEL_MAX_LAYERS)
        BAD("%s: n_layer %" PRId64 " exceeds the %d layers this build supports", what,
            p->n_layer, LB_MODEL_MAX_LAYERS);
    if (p->n_head % p->n_head_kv)
        BAD("%s: n_head_kv %" PRId64 " does not divide n_head %" PRId64, what, p->n_head_kv,
            p->n_head);
    if (p->head_dim % 2) BAD("%s: head_dim %" PRId64 " must be even", what, p->head_dim);
    if ((unsigned)p->arch >= LB_MODEL_ARCH_COUNT) BAD("%s: bad architecture id %d", what, (int)p->arch);
    if (p->moe.present) {
        const struct lb_model_moe *m = &p->moe;
        if (m->n_expert < 2 || m->n_expert > 4096)
            BAD("%s: expert count %" PRId64 " is outside [2, 4096]", what, m->n_expert);
        if (m->n_expert_used < 1 || m->n_expert_used > m->n_expert)
            BAD("%s: experts used %" PRId64 " is outside [1, expert count %" PRId64 "]", what,
                m->n_expert_used, m->n_expert);
        if (m->n_ff_expert < 1 || m->n_ff_expert > DIM_MAX)
            BAD("%s: expert FFN width %" PRId64 " is outside [1, %" PRId64 "]", what,
                m->n_ff_expert, DIM_MAX);
        if (m->n_shared_expert > 0)
            return lb_error_set(err, LB_EUNSUPPORTED,
                                "%s: shared experts are not in llmbench's tensor table yet", what);
        if (m->n_dense_layers > 0 && p->n_ff < 1)
            BAD("%s: dense layers need n_ff", what);
    } else if (p->n_ff < 1) {
        BAD("%s: a dense model needs n_ff >= 1", what);
    }
    return LB_OK;
#undef BAD
}

/* ---- the tensor table ------------------------------------------------------- */

static void td_add(struct lb_model_layout *L, enum lb_td_kind kind, struct lb_wt *slot,
                   int n_dims, int64_t ne0, int64_t ne1, int64_t ne2, const char *name, int il)
{
    LB_ASSERT(L->n < L->cap);
    struct lb_tdesc *t = &L->t[L->n++];
    memset(t, 0, sizeof *t);
    /* il >= 0: "blk.IL.NAME"; -1: a model-wide NAME */
    if (il >= 0) snprintf(t->name, sizeof t->name, "blk.%d.%s", il, name);
    else snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = kind;
    t->n_dims = n_dims;
    t->ne[0] = ne0;
    t->ne[1] = n_dims > 1 ? ne1 : 1;
    t->ne[2] = n_dims > 2 ? ne2 : 1;
    t->ne[3] = 1;
    t->slot = slot;
}

/* The slot of a tensor the struct has no field for (gpt-oss extras). */
static struct lb_wt *extra(struct lb_model_layout *L)
{
    LB_ASSERT(L->n_extra < L->cap);
    return &L->extra[L->n_extra++];
}

/* Upper bound of tensors per layer in the table below. */
#define TD_PER_LAYER 24

enum lb_status lb_model_layout_build(struct lb_model *m, struct lb_model_layout *L,
                                     struct lb_error *err)
{
    const struct lb_model_profile *p = &m->hp;
    const int64_t d = p->n_embd, hd = p->head_dim, nl = p->n_layer;
    const int64_t q_dim = p->n_head * hd, kv_dim = p->n_head_kv * hd;
    const bool oss = p->arch == LB_MODEL_ARCH_GPT_OSS;

    memset(L, 0, sizeof *L);
    L->cap = (int)(TD_PER_LAYER * nl + 8);
    L->t = calloc((size_t)L->cap, sizeof *L->t);
    L->extra = calloc((size_t)L->cap, sizeof *L->extra);
    m->layers = calloc((size_t)nl, sizeof *m->layers);
    if (!L->t || !L->extra || !m->layers)
        return lb_error_set(err, LB_ENOMEM, "out of memory for the tensor table of %" PRId64 " layers", nl);

    if (p->rope.scaling == LB_MODEL_ROPE_SCALING_LLAMA3)
        td_add(L, LB_TD_ROPE_FREQS, &L->rope_freqs, 1, hd / 2, 0, 0, "rope_freqs.weight", -1);
    td_add(L, LB_TD_EMBED, &m->tok_embd, 2, d, p->vocab_size, 0, "token_embd.weight", -1);
    for (int il = 0; il < nl; il++) {
        struct lb_model_layer *y = &m->layers[il];
        td_add(L, LB_TD_NORM, &y->attn_norm, 1, d, 0, 0, "attn_norm.weight", il);
        td_add(L, LB_TD_MATRIX, &y->wq, 2, d, q_dim, 0, "attn_q.weight", il);
        td_add(L, LB_TD_MATRIX, &y->wk, 2, d, kv_dim, 0, "attn_k.weight", il);
        td_add(L, LB_TD_MATRIX, &y->wv, 2, d, kv_dim, 0, "attn_v.weight", il);
        td_add(L, LB_TD_MATRIX, &y->wo, 2, q_dim, d, 0, "attn_output.weight", il);
        if (p->qkv_bias) {
            td_add(L, LB_TD_BIAS, &y->bq, 1, q_dim, 0, 0, "attn_q.bias", il);
            td_add(L, LB_TD_BIAS, &y->bk, 1, kv_dim, 0, 0, "attn_k.bias", il);
            td_add(L, LB_TD_BIAS, &y->bv, 1, kv_dim, 0, 0, "attn_v.bias", il);
        }
        if (p->attn_out_bias)
            td_add(L, LB_TD_BIAS, extra(L), 1, d, 0, 0, "attn_output.bias", il);
        if (p->qk_norm) {
            td_add(L, LB_TD_NORM, &y->q_norm, 1, hd, 0, 0, "attn_q_norm.weight", il);
            td_add(L, LB_TD_NORM, &y->k_norm, 1, hd, 0, 0, "attn_k_norm.weight", il);
        }
        if (p->attn.sinks)
            td_add(L, LB_TD_BIAS, extra(L), 1, p->n_head, 0, 0, "attn_sinks.weight", il);
        /* gpt-oss calls the pre-FFN norm post_attention_norm (llama.cpp
         * LLM_TENSOR_ATTN_POST_NORM); it is the same RMSNorm */
        td_add(L, LB_TD_NORM, &y->ffn_norm, 1, d, 0, 0,
               oss ? "post_attention_norm.weight" : "ffn_norm.weight", il);
        if (lb_model_layer_is_moe(p, il)) {
            const struct lb_model_moe *e = &p->moe;
            const int64_t ff = e->n_ff_expert, ne = e->n_expert;
            td_add(L, LB_TD_ROUTER, &y->ffn_gate_inp, 2, d, ne, 0, "ffn_gate_inp.weight", il);
            if (e->router_bias)
                td_add(L, LB_TD_BIAS, extra(L), 1, ne, 0, 0, "ffn_gate_inp.bias", il);
            td_add(L, LB_TD_MATRIX, &y->ffn_gate_exps, 3, d, ff, ne, "ffn_gate_exps.weight", il);
            td_add(L, LB_TD_MATRIX, &y->ffn_up_exps, 3, d, ff, ne, "ffn_up_exps.weight", il);
            td_add(L, LB_TD_MATRIX, &y->ffn_down_exps, 3, ff, d, ne, "ffn_down_exps.weight", il);
            if (e->expert_bias) {
                td_add(L, LB_TD_BIAS, extra(L), 2, ff, ne, 0, "ffn_gate_exps.bias", il);
                td_add(L, LB_TD_BIAS, extra(L), 2, ff, ne, 0, "ffn_up_exps.bias", il);
                td_add(L, LB_TD_BIAS, extra(L), 2, d, ne, 0, "ffn_down_exps.bias", il);
            }
        } else {
            td_add(L, LB_TD_MATRIX, &y->ffn_gate, 2, d, p->n_ff, 0, "ffn_gate.weight", il);
            td_add(L, LB_TD_MATRIX, &y->ffn_up, 2, d, p->n_ff, 0, "ffn_up.weight", il);
            td_add(L, LB_TD_MATRIX, &y->ffn_down, 2, p->n_ff, d, 0, "ffn_down.weight", il);
        }
    }
    td_add(L, LB_TD_NORM, &m->output_norm, 1, d, 0, 0, "output_norm.weight", -1);
    if (!p->tied_embeddings)
        td_add(L, LB_TD_OUTPUT, &m->output, 2, d, p->vocab_size, 0, "output.weight", -1);
    return LB_OK;
}

enum lb_qtype lb_model_td_type(const struct lb_tdesc *t, const struct lb_quant_mix *mix)
{
    switch (t->kind) {
    case LB_TD_MATRIX: return lb_quant_fallback(mix->matrix, t->ne[0]);
    case LB_TD_EMBED: return lb_quant_fallback(mix->embed, t->ne[0]);
    case LB_TD_OUTPUT: return lb_quant_fallback(mix->output, t->ne[0]);
    /* llama-quantize never quantizes the router (ffn_gate_inp) nor 1-D
     * tensors; the converter writes them f32 */
    default: return LB_QTYPE_F32;
    }
}

void lb_model_layout_free(struct lb_model_layout *L)
{
    free(L->t);
    free(L->extra);
    memset(L, 0, sizeof *L);
}

/* After the slots are filled: tied output, rope_freqs, quant name, bytes. */
void lb_model_finish(struct lb_model *m, const struct lb_model_layout *L)
{
    if (m->hp.tied_embeddings) m->output = m->tok_embd;
    m->rope_freqs = L->rope_freqs.bytes ? (const float *)L->rope_freqs.data : NULL;
    /* quant: the type holding most elements among the weight matrices
     * (the router is f32 by convention in every file, so it is left out) */
    int64_t elems[LB_QTYPE_COUNT] = {0};
    int best = -1, n_types = 0;
    for (int i = 0; i < L->n; i++) {
        const struct lb_tdesc *t = &L->t[i];
        if (t->kind != LB_TD_MATRIX && t->kind != LB_TD_EMBED && t->kind != LB_TD_OUTPUT) continue;
        if (!elems[t->slot->type]) n_types++;
        elems[t->slot->type] += t->ne[0] * t->ne[1] * t->ne[2];
    }
    for (int ty = 0; ty < LB_QTYPE_COUNT; ty++)
        if (elems[ty] && (best < 0 || elems[ty] > elems[best])) best = ty;
    snprintf(m->quant, sizeof m->quant, "%s%s", best < 0 ? "none" : lb_qtype_name((enum lb_qtype)best),
             n_types > 1 ? "+" : "");
    lb_model_param_counts(&m->hp, &m->hp.params);
}

/* ---- GGUF loading ------------------------------------------------------------ */

struct loadctx {
    const char *path;
    struct lb_gguf_ctx *g;
    const char *arch;
    struct lb_error *err;
};

static bool is_int_type(enum lb_gguf_type t)
{
    return t == LB_GGUF_U8 || t == LB_GGUF_I8 || t == LB_GGUF_U16 || t == LB_GGUF_I16 ||
           t == LB_GGUF_U32 || t == LB_GGUF_I32 || t == LB_GGUF_U64 || t == LB_GGUF_I64;
}

static bool value_int(struct lb_gguf_value v, int64_t *out)
{
    switch (v.type) {
    case LB_GGUF_U8: *out = v.v.u8; return true;
    case LB_GGUF_I8: *out = v.v.i8; return true;
    case LB_GGUF_U16: *out = v.v.u16; return true;
    case LB_GGUF_I16: *out = v.v.i16; return true;
    case LB_GGUF_U32: *out = v.v.u32; return true;
    case LB_GGUF_I32: *out = v.v.i32; return true;
    case LB_GGUF_I64: *out = v.v.i64; return true;
    case LB_GGUF_U64:
        if (v.v.u64 > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)v.v.u64;
        return true;
    default: return false;
    }
}

/* "{arch}.suffix", or suffix itself when it starts with "general." /
 * "tokenizer.". */
static void key_name(const struct loadctx *c, const char *suffix, char *buf, size_t n)
{
    if (!strncmp(suffix, "general.", 8) || !strncmp(suffix, "tokenizer.", 10))
        snprintf(buf, n, "%s", suffix);
    else
        snprintf(buf, n, "%s.%s", c->arch, suffix);
}

/* An integer key (any integer type; llama.cpp writes u32). Per-layer keys
 * may be arrays (llama.cpp's get_key_or_arr): accepted when every element
 * is the same, since the struct holds one value. *found false and *out =
 * def when absent and not required. */
static enum lb_status key_int(struct loadctx *c, const char *suffix, bool required, int64_t def,
                              int64_t *out)
{
    char key[160];
    key_name(c, suffix, key, sizeof key);
    int64_t i = lb_gguf_find_key(c->g, key);
    *out = def;
    if (i < 0) {
        if (!required) return LB_OK;
        return lb_error_set(c->err, LB_EINVAL, "%s: required key %s is missing", c->path, key);
    }
    struct lb_gguf_value v = lb_gguf_kv_value(c->g, i);
    int64_t x = 0;
    if (v.type == LB_GGUF_ARR) {
        const struct lb_gguf_array *a = &v.v.arr;
        if (a->count == 0 || !is_int_type(a->elem_type))
            return lb_error_set(c->err, LB_EINVAL, "%s: key %s is an array of %" PRIu64 " %s, expected an integer",
                                c->path, key, a->count, lb_gguf_type_name(a->elem_type));
        for (uint64_t k = 0; k < a->count; k++) {
            int64_t y;
            if (!value_int(lb_gguf_arr_elem(c->g, a, k), &y))
                return lb_error_set(c->err, LB_EINVAL, "%s: key %s[%" PRIu64 "] is out of range", c->path, key, k);
            if (k == 0) x = y;
            else if (y != x)
                return lb_error_set(c->err, LB_EINVAL,
                                    "%s: key %s varies per layer (%" PRId64 " vs %" PRId64 "): not supported",
                                    c->path, key, x, y);
        }
    } else if (!value_int(v, &x)) {
        return lb_error_set(c->err, LB_EINVAL, "%s: key %s has type %s, expected an integer (u32)",
                            c->path, key, lb_gguf_type_name(v.type));
    }
    if (x < 0 || x > DIM_MAX)
        return lb_error_set(c->err, LB_EINVAL, "%s: key %s = %" PRId64 " is outside [0, %" PRId64 "]",
                            c->path, key, x, DIM_MAX);
    *out = x;
    return LB_OK;
}

static enum lb_status key_float(struct loadctx *c, const char *suffix, bool required, double def,
                                double lo, double hi, double *out)
{
    char key[160];
    key_name(c, suffix, key, sizeof key);
    int64_t i = lb_gguf_find_key(c->g, key);
    *out = def;
    if (i < 0) {
        if (!required) return LB_OK;
        return lb_error_set(c->err, LB_EINVAL, "%s: required key %s is missing", c->path, key);
    }
    struct lb_gguf_value v = lb_gguf_kv_value(c->g, i);
    double x;
    if (v.type == LB_GGUF_F32) x = v.v.f32;
    else if (v.type == LB_GGUF_F64) x = v.v.f64;
    else
        return lb_error_set(c->err, LB_EINVAL, "%s: key %s has type %s, expected f32", c->path, key,
                            lb_gguf_type_name(v.type));
    if (!(x >= lo && x <= hi))
        return lb_error_set(c->err, LB_EINVAL, "%s: key %s = %g is outside [%g, %g]", c->path, key, x, lo, hi);
    *out = x;
    return LB_OK;
}

/* A string key into buf; "" when absent and not required. */
static enum lb_status key_str(struct loadctx *c, const char *suffix, bool required, char *buf,
                              size_t n)
{
    char key[160];
    key_name(c, suffix, key, sizeof key);
    int64_t i = lb_gguf_find_key(c->g, key);
    buf[0] = '\0';
    if (i < 0) {
        if (!required) return LB_OK;
        return lb_error_set(c->err, LB_EINVAL, "%s: required key %s is missing", c->path, key);
    }
    struct lb_gguf_value v = lb_gguf_kv_value(c->g, i);
    if (v.type != LB_GGUF_STR)
        return lb_error_set(c->err, LB_EINVAL, "%s: key %s has type %s, expected a string", c->path, key,
                            lb_gguf_type_name(v.type));
    lb_gguf_str_copy(v.v.str, buf, n);
    return LB_OK;
}

/* The shape from the metadata. Defaults are llama.cpp's
 * (llama_model::load_hparams, src/llama-model.cpp): head_count_kv =
 * head_count, key_length = embedding_length / head_count, rope.freq_base
 * 10000, rope.dimension_count = key_length, rope scaling "linear" with
 * factor 1 (i.e. none), expert counts 0, qwen3moe's expert width
 * feed_forward_length / expert_used_count, Mixtral's (llama + experts)
 * expert width feed_forward_length. Required as in llama.cpp:
 * context_length, embedding_length, block_count, head_count and the RMS
 * epsilon; the vocabulary size comes from {arch}.vocab_size or else the
 * tokenizer's token count. */
static enum lb_status load_hparams(struct loadctx *c, struct lb_model_profile *p)
{
    enum lb_status st;
    char s[256];
    int64_t v;

    if ((st = key_str(c, "general.architecture", true, s, sizeof s))) return st;
    int a;
    for (a = 0; a < LB_MODEL_ARCH_COUNT; a++)
        if (!strcmp(s, lb_model_arch_name((enum lb_model_arch)a))) break;
    if (a == LB_MODEL_ARCH_COUNT)
        return lb_error_set(c->err, LB_EINVAL,
                            "%s: general.architecture '%.64s' is not supported (accepted: llama, qwen2, qwen3, qwen3moe, gpt-oss)",
                            c->path, s);
    p->arch = (enum lb_model_arch)a;
    p->arch_name = lb_model_arch_name(p->arch);
    c->arch = p->arch_name;

    if ((st = key_str(c, "general.name", false, s, sizeof s))) return st;
    if (!s[0]) {
        const char *b = strrchr(c->path, '/');
        snprintf(s, sizeof s, "%s", b ? b + 1 : c->path);
    }
    snprintf(p->name, sizeof p->name, "%s", s);
    snprintf(p->display_name, sizeof p->display_name, "%s", s);
    snprintf(p->path, sizeof p->path, "%s", c->path);

    if ((st = key_int(c, "block_count", true, 0, &p->n_layer)) ||
        (st = key_int(c, "context_length", true, 0, &p->context_length)) ||
        (st = key_int(c, "embedding_length", true, 0, &p->n_embd)) ||
        (st = key_int(c, "attention.head_count", true, 0, &p->n_head)))
        return st;
    if (p->n_head < 1)
        return lb_error_set(c->err, LB_EINVAL, "%s: key %s.attention.head_count is 0", c->path, c->arch);
    if ((st = key_int(c, "attention.head_count_kv", false, p->n_head, &p->n_head_kv)) ||
        (st = key_int(c, "attention.key_length", false, p->n_embd / p->n_head, &p->head_dim)) ||
        (st = key_int(c, "attention.value_length", false, p->head_dim, &v)))
        return st;
    if (v != p->head_dim)
        return lb_error_set(c->err, LB_EINVAL, "%s: %s.attention.value_length %" PRId64 " differs from key_length %" PRId64 ": not supported",
                            c->path, c->arch, v, p->head_dim);
    if ((st = key_int(c, "rope.dimension_count", false, p->head_dim, &v))) return st;
    if (v != p->head_dim)
        return lb_error_set(c->err, LB_EINVAL, "%s: %s.rope.dimension_count %" PRId64 " differs from head_dim %" PRId64 " (partial RoPE): not supported",
                            c->path, c->arch, v, p->head_dim);
    if ((st = key_int(c, "feed_forward_length", false, 0, &p->n_ff))) return st;
    if ((st = key_float(c, "attention.layer_norm_rms_epsilon", true, 0, 0, 1e-2, &p->norm_eps)))
        return st;

    /* vocabulary */
    if ((st = key_int(c, "vocab_size", false, 0, &p->vocab_size))) return st;
    if (p->vocab_size == 0) {
        struct lb_gguf_array tok;
        struct lb_error e2;
        if (lb_gguf_get_arr(c->g, "tokenizer.ggml.tokens", LB_GGUF_ANY, &tok, &e2))
            return lb_error_set(c->err, LB_EINVAL, "%s: neither %s.vocab_size nor tokenizer.ggml.tokens is present: the vocabulary size is unknown",
                                c->path, c->arch);
        p->vocab_size = tok.count > (uint64_t)DIM_MAX ? DIM_MAX + 1 : (int64_t)tok.count;
    }

    /* RoPE */
    p->rope.type = (p->arch == LB_MODEL_ARCH_LLAMA) ? LB_MODEL_ROPE_NORM : LB_MODEL_ROPE_NEOX;
    if ((st = key_float(c, "rope.freq_base", false, 10000.0, 1e-3, 1e12, &p->rope.freq_base)) ||
        (st = key_str(c, "rope.scaling.type", false, s, sizeof s)) ||
        (st = key_float(c, "rope.scaling.factor", false, 1.0, 1e-3, 1e6, &p->rope.factor)) ||
        (st = key_int(c, "rope.scaling.original_context_length", false, 0, &p->rope.original_context_length)))
        return st;
    if (!s[0] || !strcmp(s, "linear")) {
        p->rope.scaling = p->rope.factor != 1.0 ? LB_MODEL_ROPE_SCALING_LINEAR : LB_MODEL_ROPE_SCALING_NONE;
    } else if (!strcmp(s, "none")) {
        p->rope.scaling = LB_MODEL_ROPE_SCALING_NONE;
        p->rope.factor = 1.0;
    } else if (!strcmp(s, "yarn")) {
        p->rope.scaling = LB_MODEL_ROPE_SCALING_YARN;
        /* llama.cpp's defaults for the YaRN ramp */
        if ((st = key_float(c, "rope.scaling.yarn_beta_fast", false, 32.0, 0, 1e6, &p->rope.beta_fast)) ||
            (st = key_float(c, "rope.scaling.yarn_beta_slow", false, 1.0, 0, 1e6, &p->rope.beta_slow)))
            return st;
    } else {
        return lb_error_set(c->err, LB_EINVAL, "%s: %s.rope.scaling.type '%.64s' is not supported (accepted: none, linear, yarn)",
                            c->path, c->arch, s);
    }
    /* Llama 3 scaling is not in the metadata: the converter writes the
     * per-pair factors as the tensor rope_freqs.weight */
    if (lb_gguf_find_tensor(c->g, "rope_freqs.weight")) {
        if (p->rope.scaling != LB_MODEL_ROPE_SCALING_NONE)
            return lb_error_set(c->err, LB_EINVAL, "%s: tensor rope_freqs.weight together with rope.scaling.type %s: not supported",
                                c->path, lb_model_rope_scaling_name(p->rope.scaling));
        p->rope.scaling = LB_MODEL_ROPE_SCALING_LLAMA3;
    }

    /* experts */
    int64_t n_exp, n_used, ff_exp;
    if ((st = key_int(c, "expert_count", false, 0, &n_exp)) ||
        (st = key_int(c, "expert_used_count", false, 0, &n_used)) ||
        (st = key_int(c, "expert_feed_forward_length", false, 0, &ff_exp)))
        return st;
    if ((p->arch == LB_MODEL_ARCH_QWEN3MOE || p->arch == LB_MODEL_ARCH_GPT_OSS) && n_exp == 0)
        return lb_error_set(c->err, LB_EINVAL, "%s: required key %s.expert_count is missing or 0", c->path, c->arch);
    if ((p->arch == LB_MODEL_ARCH_QWEN2 || p->arch == LB_MODEL_ARCH_QWEN3) && n_exp > 0)
        return lb_error_set(c->err, LB_EINVAL, "%s: %s.expert_count %" PRId64 ": architecture %s has no experts",
                            c->path, c->arch, n_exp, c->arch);
    for (int64_t il = 0; il < p->n_layer && il < LB_MODEL_MAX_LAYERS; il++) p->layer_dense[il] = n_exp == 0;
    if (n_exp > 0) {
        struct lb_model_moe *e = &p->moe;
        e->present = true;
        e->n_expert = n_exp;
        e->n_expert_used = n_used;
        if (!ff_exp) {
            if (p->arch == LB_MODEL_ARCH_LLAMA) ff_exp = p->n_ff;
            else if (n_used > 0) ff_exp = p->n_ff / n_used;
        }
        e->n_ff_expert = ff_exp;
        e->gating = p->arch == LB_MODEL_ARCH_GPT_OSS ? LB_MODEL_GATING_TOPK_SOFTMAX
                                                      : LB_MODEL_GATING_SOFTMAX_TOPK;
        /* llama.cpp's build_moe_ffn normalises the top-k weights for llama
         * (Mixtral) and qwen3moe */
        e->norm_topk_prob = p->arch != LB_MODEL_ARCH_GPT_OSS;
        e->routed_scaling_factor = 1.0;
        p->n_ff = 0; /* every layer is MoE in these architectures */
    }

    /* per-architecture features */
    switch (p->arch) {
    case LB_MODEL_ARCH_QWEN2: p->qkv_bias = true; break;
    case LB_MODEL_ARCH_QWEN3:
    case LB_MODEL_ARCH_QWEN3MOE: p->qk_norm = true; break;
    case LB_MODEL_ARCH_LLAMA:
        /* llama.cpp's llama loads optional biases (some fine-tunes have them) */
        p->qkv_bias = lb_gguf_find_tensor(c->g, "blk.0.attn_q.bias") != NULL;
        p->attn_out_bias = lb_gguf_find_tensor(c->g, "blk.0.attn_output.bias") != NULL;
        break;
    case LB_MODEL_ARCH_GPT_OSS:
        p->qkv_bias = p->attn_out_bias = true;
        p->attn.sinks = true;
        p->moe.router_bias = p->moe.expert_bias = true;
        /* llama.cpp hard-codes gpt-oss's clamped SwiGLU (alpha 1.702,
         * limit 7) and its alternating sliding-window layers (even layers
         * sliding: set_swa_pattern(2)) */
        p->act.type = LB_MODEL_FFN_SWIGLU_OAI;
        p->act.alpha = 1.702;
        p->act.limit = 7.0;
        if ((st = key_int(c, "attention.sliding_window", false, 0, &p->attn.sliding_window))) return st;
        if (p->attn.sliding_window > 0) {
            p->attn.n_pattern = 2;
            p->attn.pattern_sliding[0] = true;
        }
        break;
    default: break;
    }
    p->tied_embeddings = lb_gguf_find_tensor(c->g, "output.weight") == NULL;
    return lb_model_hp_check(p, c->path, c->err);
}

static void fmt_shape(char *buf, size_t n, const int64_t *ne, int n_dims)
{
    size_t u = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < n_dims && u < n; i++)
        u += (size_t)snprintf(buf + u, n - u, "%s%" PRId64, i ? ", " : "", ne[i]);
    if (u < n) snprintf(buf + u, n - u, "]");
}

enum lb_status lb_model_load_gguf(const char *path, struct lb_model **out, struct lb_error *err)
{
    LB_ASSERT(path && out);
    *out = NULL;
    struct lb_model *m = calloc(1, sizeof *m);
    struct lb_model_impl *im = calloc(1, sizeof *im);
    if (!m || !im) {
        free(m);
        free(im);
        return lb_error_set(err, LB_ENOMEM, "out of memory loading %s", path);
    }
    m->impl = im;
    enum lb_status st = lb_gguf_open(path, &im->gguf, err);
    if (st) goto fail;
    struct loadctx c = {.path = path, .g = im->gguf, .arch = "?", .err = err};
    if ((st = load_hparams(&c, &m->hp))) goto fail;
    if ((st = lb_model_layout_build(m, &im->layout, err))) goto fail;

    const struct lb_model_layout *L = &im->layout;
    for (int i = 0; i < L->n; i++) {
        const struct lb_tdesc *t = &L->t[i];
        const struct lb_gguf_tensor *g = lb_gguf_find_tensor(im->gguf, t->name);
        char want[96], got[96];
        if (!g) {
            st = lb_error_set(err, LB_EINVAL, "%s: tensor %s is missing (architecture %s with this metadata needs it)",
                              path, t->name, m->hp.arch_name);
            goto fail;
        }
        if (memcmp(g->ne, t->ne, sizeof t->ne) != 0) {
            fmt_shape(want, sizeof want, t->ne, t->n_dims);
            fmt_shape(got, sizeof got, g->ne, g->n_dims ? (int)g->n_dims : 1);
            st = lb_error_set(err, LB_EINVAL, "%s: tensor %s has shape %s, the metadata implies %s",
                              path, t->name, got, want);
            goto fail;
        }
        bool f32_only = t->kind == LB_TD_NORM || t->kind == LB_TD_BIAS || t->kind == LB_TD_ROPE_FREQS;
        if (f32_only && g->type != LB_QTYPE_F32) {
            st = lb_error_set(err, LB_EINVAL, "%s: tensor %s has type %s, expected f32 (norms, biases and rope factors are f32)",
                              path, t->name, lb_qtype_name(g->type));
            goto fail;
        }
        if (!lb_model_weight_type_ok(g->type)) {
            st = lb_error_set(err, LB_EINVAL, "%s: tensor %s has type %s, which is not a weight format",
                              path, t->name, lb_qtype_name(g->type));
            goto fail;
        }
        t->slot->type = g->type;
        memcpy(t->slot->ne, g->ne, sizeof g->ne);
        t->slot->data = g->data;
        t->slot->bytes = (size_t)g->size_bytes;
    }
    m->n_tensors = lb_gguf_n_tensors(im->gguf);
    for (int64_t i = 0; i < m->n_tensors; i++) m->weight_bytes += lb_gguf_tensor(im->gguf, i)->size_bytes;
    snprintf(m->source, sizeof m->source, "%s", path);
    lb_model_finish(m, L);
    *out = m;
    return LB_OK;
fail:
    lb_model_free(m);
    return st;
}

/* ---- open / free ---------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcmp(s + n - k, suf);
}

enum lb_status lb_model_open(const char *name_or_path, const struct lb_quant_mix *mix,
                             uint64_t seed, struct lb_model **out, struct lb_error *err)
{
    struct stat sb;
    if (ends_with(name_or_path, ".gguf") ||
        (strchr(name_or_path, '/') && !ends_with(name_or_path, ".json") &&
         stat(name_or_path, &sb) == 0 && S_ISREG(sb.st_mode)))
        return lb_model_load_gguf(name_or_path, out, err);
    struct lb_model_profile *p = malloc(sizeof *p);
    if (!p) return lb_error_set(err, LB_ENOMEM, "out of memory");
    enum lb_status st = lb_model_profile_load(name_or_path, p, err);
    if (!st) st = lb_model_synth(p, mix, seed, 0, out, err);
    free(p);
    return st;
}

void lb_model_free(struct lb_model *m)
{
    if (!m) return;
    struct lb_model_impl *im = m->impl;
    if (im) {
        lb_gguf_close(im->gguf);
        lb_mem_unmap(im->buf, im->buf_bytes);
        lb_model_layout_free(&im->layout);
        free(im);
    }
    free(m->layers);
    free(m);
}

/* ---- what the engine can run ------------------------------------------------------ */

enum lb_status lb_model_check_supported(const struct lb_model *m, struct lb_error *err)
{
    const struct lb_model_profile *p = &m->hp;
#define NO(...) return lb_error_set(err, LB_EUNSUPPORTED, __VA_ARGS__)
    if (p->arch == LB_MODEL_ARCH_GPT_OSS)
        NO("%s: architecture gpt-oss is not supported by the decode engine (attention sinks, sliding-window layers, clamped SwiGLU, biased experts); it loads for sizing only",
           p->name);
    if (p->act.type != LB_MODEL_FFN_SWIGLU)
        NO("%s: activation %s is not supported (the engine runs swiglu)", p->name,
           lb_model_ffn_act_name(p->act.type));
    if (p->head_dim % 32 || p->head_dim > 256)
        NO("%s: head_dim %" PRId64 " is not supported (a multiple of 32, at most 256)", p->name, p->head_dim);
    if (p->attn_out_bias || p->attn.sinks)
        NO("%s: output-projection bias and attention sinks are not supported", p->name);
    if (p->rope.scaling == LB_MODEL_ROPE_SCALING_YARN)
        NO("%s: YaRN RoPE scaling is not supported", p->name);
    const struct lb_model_impl *im = m->impl;
    /* a plan (lb_model_plan) has the tensor but no data */
    if (p->rope.scaling == LB_MODEL_ROPE_SCALING_LLAMA3 && !m->rope_freqs &&
        !(im && im->layout.rope_freqs.bytes))
        NO("%s: Llama 3 RoPE scaling without rope_freqs factors", p->name);
    if (p->moe.present &&
        (p->moe.gating != LB_MODEL_GATING_SOFTMAX_TOPK || p->moe.expert_bias || p->moe.router_bias ||
         p->moe.n_shared_expert > 0))
        NO("%s: MoE routing %s%s is not supported (softmax top-k without biases or shared experts)",
           p->name, lb_model_gating_name(p->moe.gating),
           p->moe.expert_bias || p->moe.router_bias ? " with biases" : "");
    /* activations are quantized to Q8_0 (32-element blocks) for the
     * quantized dot products: every matrix input width must be a multiple */
    const struct { const char *name; int64_t v; } w[] = {
        {"n_embd", p->n_embd},
        {"n_head*head_dim", p->n_head * p->head_dim},
        {"n_ff", p->n_ff},
        {"n_ff_expert", p->moe.n_ff_expert},
    };
    for (size_t i = 0; i < LB_ARRAY_LEN(w); i++)
        if (w[i].v % 32)
            NO("%s: %s %" PRId64 " is not a multiple of 32 (the Q8_0 activation block)", p->name,
               w[i].name, w[i].v);
    for (int i = 0; im && i < im->layout.n; i++) {
        const struct lb_tdesc *t = &im->layout.t[i];
        if (t->kind != LB_TD_MATRIX && t->kind != LB_TD_OUTPUT && t->kind != LB_TD_ROUTER) continue;
        if (!lb_model_weight_type_ok(t->slot->type))
            NO("%s: tensor %s has type %s, not a weight format", p->name, t->name,
               lb_qtype_name(t->slot->type));
    }
    return LB_OK;
#undef NO
}

/* ---- bytes per token ------------------------------------------------------------------ */

double lb_model_bytes_per_token(const struct lb_model *m)
{
    const struct lb_model_profile *p = &m->hp;
    double b = 0;
    for (int64_t il = 0; il < p->n_layer; il++) {
        const struct lb_model_layer *y = &m->layers[il];
        const struct lb_wt *all[] = {&y->attn_norm, &y->wq, &y->wk, &y->wv, &y->wo,
                                     &y->bq, &y->bk, &y->bv, &y->q_norm, &y->k_norm,
                                     &y->ffn_norm, &y->ffn_gate, &y->ffn_up, &y->ffn_down,
                                     &y->ffn_gate_inp};
        for (size_t i = 0; i < LB_ARRAY_LEN(all); i++) b += (double)all[i]->bytes;
        if (p->moe.present && y->ffn_gate_exps.bytes) {
            /* n_expert_used of the n_expert slices along ne[2] */
            double frac = (double)p->moe.n_expert_used / (double)p->moe.n_expert;
            b += frac * (double)(y->ffn_gate_exps.bytes + y->ffn_up_exps.bytes + y->ffn_down_exps.bytes);
        }
    }
    b += (double)m->output_norm.bytes + (double)m->output.bytes;
    if (m->tok_embd.bytes) b += (double)m->tok_embd.bytes / (double)m->tok_embd.ne[1];
    return b;
}
