/* test-model.c: models in memory (bench/lb-model.h).
 *
 *  - round trip: for tiny shapes of every architecture (llama with Llama 3
 *    RoPE scaling, qwen2 with biases and a width that forces K-quant
 *    fallbacks, qwen3, qwen3moe, llama+experts) and a random quant mix,
 *    lb_model_synth and lb_model_synth_write + lb_model_load_gguf give the
 *    same shape fields and byte-identical tensors;
 *  - --layers: a truncated synth keeps the first layers' bytes;
 *  - loader errors on GGUF files built here with lb_gguf_writer (our own
 *    list of keys and tensors, not the model code's): a missing tensor, a
 *    wrong shape, a wrong type, a missing key, an unknown architecture
 *    each give LB_EINVAL naming the file and the tensor or key;
 *  - bytes per token against a count written here for a dense and an MoE
 *    model; weight_bytes against the sum of tensor sizes;
 *  - rope_freqs against a float64 recomputation in Meta's apply_scaling
 *    form (new frequency, not the converter's divisor);
 *  - the fallback table, the ftype and what check_supported refuses;
 *  - a Mixtral-style file whose expert tensors are in different formats
 *    from each other and per layer (as llama.cpp's Q4_K_M writes them:
 *    Q6_K ffn_down_exps beside Q4_K gate/up), built here with
 *    lb_gguf_writer: it loads with each tensor's own type and bytes, is
 *    supported, counts each tensor's own bytes per token, and the decode
 *    engine runs it (finite logits; the numbers are test-engine's job).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../bench/lb-engine.h"
#include "../bench/lb-gguf.h"
#include "../bench/lb-model.h"
#include "../hw/lb-hw.h"
#include "../hw/lb-pool.h"
#include "../kernels/lb-fill.h"
#include "lb-test.h"

static char dir[256];
static unsigned long long rng;

/* ---- tiny profiles ---------------------------------------------------------- */

static void base_profile(struct lb_model_profile *p, enum lb_model_arch arch, const char *name)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->display_name, sizeof p->display_name, "tiny %s", name);
    p->arch = arch;
    p->arch_name = lb_model_arch_name(arch);
    p->n_layer = 2;
    p->n_embd = 256;
    p->n_head = 4;
    p->n_head_kv = 2;
    p->head_dim = 64;
    p->n_ff = 512;
    p->vocab_size = 300 + (int64_t)(lb_test_rand_u64(&rng) % 50);
    p->context_length = 4096;
    p->rope.type = arch == LB_MODEL_ARCH_LLAMA ? LB_MODEL_ROPE_NORM : LB_MODEL_ROPE_NEOX;
    p->rope.freq_base = 10000.0;
    p->rope.factor = 1.0;
    p->norm_eps = 1e-6;
    for (int il = 0; il < LB_MODEL_MAX_LAYERS; il++) p->layer_dense[il] = 1;
}

static void make_moe(struct lb_model_profile *p, int64_t n_expert, int64_t used, int64_t ff)
{
    p->moe.present = true;
    p->moe.n_expert = n_expert;
    p->moe.n_expert_used = used;
    p->moe.n_ff_expert = ff;
    p->moe.gating = LB_MODEL_GATING_SOFTMAX_TOPK;
    p->moe.norm_topk_prob = true;
    p->moe.routed_scaling_factor = 1.0;
    p->n_ff = 0;
    for (int il = 0; il < LB_MODEL_MAX_LAYERS; il++) p->layer_dense[il] = 0;
}

enum { N_PROFILES = 5 };

static void profile_n(int i, struct lb_model_profile *p)
{
    switch (i) {
    case 0: /* Llama 3: llama3 RoPE scaling, tied embeddings */
        base_profile(p, LB_MODEL_ARCH_LLAMA, "tiny-llama3");
        p->rope.freq_base = 500000.0;
        p->rope.scaling = LB_MODEL_ROPE_SCALING_LLAMA3;
        p->rope.factor = 32.0;
        p->rope.low_freq_factor = 1.0;
        p->rope.high_freq_factor = 4.0;
        p->rope.original_context_length = 512;
        p->tied_embeddings = true;
        p->n_layer = 3;
        break;
    case 1: /* qwen2: biases; 96 wide: K-quants fall back */
        base_profile(p, LB_MODEL_ARCH_QWEN2, "tiny-qwen2");
        p->n_embd = 96;
        p->n_head = 3;
        p->n_head_kv = 1;
        p->head_dim = 32;
        p->n_ff = 160;
        p->qkv_bias = true;
        p->rope.freq_base = 1e6;
        break;
    case 2:
        base_profile(p, LB_MODEL_ARCH_QWEN3, "tiny-qwen3");
        p->qk_norm = true;
        p->n_head = 8;
        p->head_dim = 64; /* q_dim 512 != n_embd 256, as in Qwen3 */
        break;
    case 3:
        base_profile(p, LB_MODEL_ARCH_QWEN3MOE, "tiny-qwen3moe");
        p->qk_norm = true;
        make_moe(p, 8, 2, 64);
        break;
    default: /* Mixtral: llama with experts */
        base_profile(p, LB_MODEL_ARCH_LLAMA, "tiny-mixtral");
        make_moe(p, 4, 2, 512);
        p->rope.freq_base = 1e6;
        break;
    }
    lb_model_param_counts(p, &p->params);
}

static const enum lb_qtype mix_types[] = {
    LB_QTYPE_F32,  LB_QTYPE_F16,  LB_QTYPE_BF16, LB_QTYPE_Q4_0, LB_QTYPE_Q4_1,
    LB_QTYPE_Q5_0, LB_QTYPE_Q5_1, LB_QTYPE_Q8_0, LB_QTYPE_Q2_K, LB_QTYPE_Q3_K,
    LB_QTYPE_Q4_K, LB_QTYPE_Q5_K, LB_QTYPE_Q6_K, LB_QTYPE_IQ4_NL, LB_QTYPE_IQ4_XS,
    LB_QTYPE_MXFP4,
};

static enum lb_qtype rand_type(void)
{
    return mix_types[lb_test_rand_u64(&rng) % LB_ARRAY_LEN(mix_types)];
}

/* ---- walking a model's tensors ---------------------------------------------- */

struct named_wt {
    char name[64];
    const struct lb_wt *w;
};

static int collect(const struct lb_model *m, struct named_wt *out, int cap)
{
    int n = 0;
#define ADD(nm, wt)                                                     \
    do {                                                                \
        LB_ASSERT(n < cap);                                             \
        snprintf(out[n].name, sizeof out[n].name, "%s", nm);            \
        out[n++].w = (wt);                                              \
    } while (0)
    ADD("token_embd", &m->tok_embd);
    ADD("output_norm", &m->output_norm);
    ADD("output", &m->output);
    for (int64_t il = 0; il < m->hp.n_layer; il++) {
        const struct lb_model_layer *y = &m->layers[il];
        const struct lb_wt *f[] = {&y->attn_norm, &y->wq, &y->wk, &y->wv, &y->wo, &y->bq, &y->bk,
                                   &y->bv, &y->q_norm, &y->k_norm, &y->ffn_norm, &y->ffn_gate,
                                   &y->ffn_up, &y->ffn_down, &y->ffn_gate_inp, &y->ffn_gate_exps,
                                   &y->ffn_up_exps, &y->ffn_down_exps};
        for (size_t k = 0; k < LB_ARRAY_LEN(f); k++) {
            char nm[64];
            snprintf(nm, sizeof nm, "blk.%lld.field%zu", (long long)il, k);
            ADD(nm, f[k]);
        }
    }
#undef ADD
    return n;
}

static void check_same_model(const struct lb_model *a, const struct lb_model *b, const char *what)
{
    const struct lb_model_profile *p = &a->hp, *q = &b->hp;
    CHECK_MSG(p->arch == q->arch, "%s: arch", what);
    CHECK_INT_EQ(p->n_layer, q->n_layer);
    CHECK_INT_EQ(p->n_embd, q->n_embd);
    CHECK_INT_EQ(p->n_head, q->n_head);
    CHECK_INT_EQ(p->n_head_kv, q->n_head_kv);
    CHECK_INT_EQ(p->head_dim, q->head_dim);
    CHECK_INT_EQ(p->n_ff, q->n_ff);
    CHECK_INT_EQ(p->vocab_size, q->vocab_size);
    CHECK_INT_EQ(p->context_length, q->context_length);
    CHECK_INT_EQ(p->rope.type, q->rope.type);
    CHECK_INT_EQ(p->rope.scaling, q->rope.scaling);
    CHECK_NEAR(p->rope.freq_base, q->rope.freq_base, 1e-6 * p->rope.freq_base);
    CHECK_NEAR(p->norm_eps, q->norm_eps, 1e-6 * p->norm_eps);
    if (p->rope.scaling != LB_MODEL_ROPE_SCALING_LLAMA3) /* llama3: only rope_freqs is stored */
        CHECK_NEAR(p->rope.factor, q->rope.factor, 1e-6);
    CHECK_INT_EQ(p->qkv_bias, q->qkv_bias);
    CHECK_INT_EQ(p->qk_norm, q->qk_norm);
    CHECK_INT_EQ(p->tied_embeddings, q->tied_embeddings);
    CHECK_INT_EQ(p->moe.present, q->moe.present);
    CHECK_INT_EQ(p->moe.n_expert, q->moe.n_expert);
    CHECK_INT_EQ(p->moe.n_expert_used, q->moe.n_expert_used);
    CHECK_INT_EQ(p->moe.n_ff_expert, q->moe.n_ff_expert);
    CHECK_INT_EQ(p->moe.gating, q->moe.gating);
    CHECK_INT_EQ(p->moe.norm_topk_prob, q->moe.norm_topk_prob);
    for (int64_t il = 0; il < p->n_layer; il++)
        CHECK_INT_EQ(lb_model_layer_is_moe(p, il), lb_model_layer_is_moe(q, il));
    CHECK_INT_EQ(p->params.total, q->params.total);
    CHECK_INT_EQ(p->params.active, q->params.active);
    CHECK_INT_EQ(a->weight_bytes, b->weight_bytes);
    CHECK_INT_EQ(a->n_tensors, b->n_tensors);
    CHECK_MSG(!strcmp(a->quant, b->quant), "%s: quant %s vs %s", what, a->quant, b->quant);
    CHECK_NEAR(lb_model_bytes_per_token(a), lb_model_bytes_per_token(b), 0);

    static struct named_wt ta[2048], tb[2048];
    int na = collect(a, ta, 2048), nb = collect(b, tb, 2048);
    CHECK_INT_EQ(na, nb);
    for (int i = 0; i < na && i < nb; i++) {
        const struct lb_wt *x = ta[i].w, *y = tb[i].w;
        CHECK_MSG((x->data == NULL) == (y->data == NULL), "%s: %s presence", what, ta[i].name);
        if (!x->data || !y->data) continue;
        CHECK_MSG(x->type == y->type && !memcmp(x->ne, y->ne, sizeof x->ne) && x->bytes == y->bytes,
                  "%s: %s type/shape: %s vs %s", what, ta[i].name, lb_qtype_name(x->type),
                  lb_qtype_name(y->type));
        if (x->bytes == y->bytes)
            CHECK_MSG(!memcmp(x->data, y->data, x->bytes), "%s: %s bytes differ", what, ta[i].name);
        CHECK_INT_EQ(x->bytes, lb_qtype_row_bytes(x->type, x->ne[0]) * (size_t)(x->ne[1] * x->ne[2] * x->ne[3]));
    }
    CHECK_MSG((a->rope_freqs == NULL) == (b->rope_freqs == NULL), "%s: rope_freqs presence", what);
    if (a->rope_freqs && b->rope_freqs)
        CHECK(!memcmp(a->rope_freqs, b->rope_freqs, sizeof(float) * (size_t)(p->head_dim / 2)));
}

/* ---- independent counts --------------------------------------------------------- */

static double rb(enum lb_qtype t, int64_t ne0, int64_t rows)
{
    return (double)lb_qtype_row_bytes(lb_quant_fallback(t, ne0), ne0) * (double)rows;
}

/* weight bytes and bytes per token from the shape alone */
static void expected_bytes(const struct lb_model_profile *p, enum lb_qtype t, double *total,
                           double *per_token)
{
    const int64_t d = p->n_embd, q = p->n_head * p->head_dim, kv = p->n_head_kv * p->head_dim;
    double layer = d * 4.0 * 2 /* attn_norm, ffn_norm */ + rb(t, d, q) + 2 * rb(t, d, kv) + rb(t, q, d);
    if (p->qkv_bias) layer += 4.0 * (q + 2 * kv);
    if (p->qk_norm) layer += 4.0 * 2 * p->head_dim;
    double experts = 0, used = 0;
    if (p->moe.present) {
        const int64_t e = p->moe.n_expert, f = p->moe.n_ff_expert;
        layer += 4.0 * d * e; /* f32 router */
        experts = (2 * rb(t, d, f) + rb(t, f, d)) * (double)e;
        used = experts * (double)p->moe.n_expert_used / (double)e;
    } else {
        layer += 2 * rb(t, d, p->n_ff) + rb(t, p->n_ff, d);
    }
    double embed = rb(t, d, p->vocab_size), out = embed;
    double rope = p->rope.scaling == LB_MODEL_ROPE_SCALING_LLAMA3 ? 4.0 * (double)(p->head_dim / 2) : 0;
    *total = (layer + experts) * (double)p->n_layer + embed + (p->tied_embeddings ? 0 : out) + 4.0 * d + rope;
    *per_token = (layer + used) * (double)p->n_layer + out + 4.0 * d + embed / (double)p->vocab_size;
}

/* ---- tests --------------------------------------------------------------------------- */

static void test_round_trip(void)
{
    for (int i = 0; i < N_PROFILES; i++) {
        struct lb_model_profile p;
        profile_n(i, &p);
        struct lb_quant_mix mix;
        lb_quant_mix_pure(&mix, rand_type());
        if (lb_test_rand_u64(&rng) % 2) mix.output = rand_type();
        if (lb_test_rand_u64(&rng) % 2) mix.embed = rand_type();
        uint64_t seed = lb_test_rand_u64(&rng);
        char path[400], what[200];
        snprintf(path, sizeof path, "%s/%s.gguf", dir, p.name);
        snprintf(what, sizeof what, "%s %s/%s/%s", p.name, lb_qtype_name(mix.matrix),
                 lb_qtype_name(mix.embed), lb_qtype_name(mix.output));
        struct lb_model *a = NULL, *b = NULL;
        struct lb_error err = {0};
        CHECK_MSG(lb_model_synth(&p, &mix, seed, 0, &a, &err) == LB_OK, "%s: synth: %s", what, err.msg);
        CHECK_MSG(lb_model_synth_write(&p, &mix, seed, path, &err) == LB_OK, "%s: write: %s", what, err.msg);
        CHECK_MSG(lb_model_load_gguf(path, &b, &err) == LB_OK, "%s: load: %s", what, err.msg);
        if (a && b) check_same_model(a, b, what);
        if (a) {
            /* a different seed gives different matrices */
            struct lb_model *c = NULL;
            CHECK(lb_model_synth(&p, &mix, seed + 1, 0, &c, &err) == LB_OK);
            if (c) CHECK(memcmp(a->layers[0].wq.data, c->layers[0].wq.data, a->layers[0].wq.bytes) != 0);
            lb_model_free(c);
            /* sizes against the shape alone */
            if (mix.embed == mix.matrix && mix.output == mix.matrix) {
                double total, per_token;
                expected_bytes(&p, mix.matrix, &total, &per_token);
                CHECK_NEAR((double)a->weight_bytes, total, 0);
                CHECK_NEAR(lb_model_bytes_per_token(a), per_token, 0);
            }
            /* alignment and norms near 1 */
            CHECK(((uintptr_t)a->layers[0].wq.data & 63) == 0);
            const float *nw = a->layers[0].attn_norm.data;
            for (int64_t k = 0; k < p.n_embd; k++) CHECK_MSG(nw[k] >= 0.9f && nw[k] <= 1.1f, "norm %g", nw[k]);
            if (p.moe.present) CHECK_INT_EQ(a->layers[0].ffn_gate_inp.type, LB_QTYPE_F32);
            CHECK_INT_EQ(lb_model_check_supported(a, &err), LB_OK);
        }
        /* keeping the first layer changes none of its bytes */
        struct lb_model *t = NULL;
        CHECK(lb_model_synth(&p, &mix, seed, 1, &t, &err) == LB_OK);
        if (t && a) {
            CHECK_INT_EQ(t->hp.n_layer, 1);
            CHECK(!memcmp(t->layers[0].wo.data, a->layers[0].wo.data, a->layers[0].wo.bytes));
            CHECK(!memcmp(t->tok_embd.data, a->tok_embd.data, a->tok_embd.bytes));
        }
        lb_model_free(t);
        lb_model_free(a);
        lb_model_free(b);
        unlink(path);
    }
}

static void test_fallbacks(void)
{
    /* the header's table; a width that divides keeps the type */
    CHECK_INT_EQ(lb_quant_fallback(LB_QTYPE_Q4_K, 2880), LB_QTYPE_Q5_0);
    CHECK_INT_EQ(lb_quant_fallback(LB_QTYPE_Q5_K, 2880), LB_QTYPE_Q5_1);
    CHECK_INT_EQ(lb_quant_fallback(LB_QTYPE_Q6_K, 2880), LB_QTYPE_Q8_0);
    CHECK_INT_EQ(lb_quant_fallback(LB_QTYPE_Q2_K, 2880), LB_QTYPE_IQ4_NL);
    CHECK_INT_EQ(lb_quant_fallback(LB_QTYPE_Q3_K, 2880), LB_QTYPE_IQ4_NL);
    CHECK_INT_EQ(lb_quant_fallback(LB_QTYPE_IQ4_XS, 2880), LB_QTYPE_IQ4_NL);
    CHECK_INT_EQ(lb_quant_fallback(LB_QTYPE_Q4_K, 4096), LB_QTYPE_Q4_K);
    CHECK_INT_EQ(lb_quant_fallback(LB_QTYPE_Q4_0, 48), LB_QTYPE_F16);
    CHECK_INT_EQ(lb_quant_fallback(LB_QTYPE_Q4_K, 48), LB_QTYPE_F16);
    CHECK_INT_EQ(lb_quant_fallback(LB_QTYPE_F32, 7), LB_QTYPE_F32);
    struct lb_quant_mix mix;
    lb_quant_mix_pure(&mix, LB_QTYPE_Q6_K);
    CHECK(mix.matrix == LB_QTYPE_Q6_K && mix.embed == LB_QTYPE_Q6_K && mix.output == LB_QTYPE_Q6_K);

    /* tiny qwen2 (96 wide) at q4_k: matrices q5_0 except ffn_down (row 160: f16) */
    struct lb_model_profile p;
    profile_n(1, &p);
    lb_quant_mix_pure(&mix, LB_QTYPE_Q4_K);
    struct lb_model *m = NULL;
    struct lb_error err;
    CHECK(lb_model_synth(&p, &mix, 1, 0, &m, &err) == LB_OK);
    if (m) {
        CHECK_INT_EQ(m->layers[0].wq.type, LB_QTYPE_Q5_0);
        CHECK_INT_EQ(m->layers[0].ffn_down.type, LB_QTYPE_Q5_0);
        CHECK_INT_EQ(m->layers[0].bq.type, LB_QTYPE_F32);
        CHECK(!strcmp(m->quant, "q5_0"));
    }
    lb_model_free(m);
}

/* Meta's apply_scaling (llama3 reference): the new frequency per pair;
 * the stored factor is old / new. */
static void test_rope_freqs(void)
{
    struct lb_model_profile p;
    profile_n(0, &p);
    /* Llama-3.2-1B's numbers, and a random variation */
    for (int rep = 0; rep < 2; rep++) {
        p.head_dim = 64;
        p.n_head = 4;
        if (rep == 1) {
            p.rope.factor = 2 + 30 * lb_test_rand_uniform(&rng);
            p.rope.high_freq_factor = 2 + 6 * lb_test_rand_uniform(&rng);
            p.rope.original_context_length = 256 << (lb_test_rand_u64(&rng) % 6);
            p.head_dim = 128;
            p.n_embd = 512;
        } else {
            p.rope.original_context_length = 8192;
        }
        struct lb_quant_mix mix;
        lb_quant_mix_pure(&mix, LB_QTYPE_Q8_0);
        struct lb_model *m = NULL;
        struct lb_error err;
        CHECK(lb_model_synth(&p, &mix, 5, 1, &m, &err) == LB_OK);
        if (!m) return;
        CHECK(m->rope_freqs != NULL);
        const double lo_wl = p.rope.original_context_length / p.rope.low_freq_factor;
        const double hi_wl = p.rope.original_context_length / p.rope.high_freq_factor;
        int n_one = 0, n_full = 0;
        for (int64_t i = 0; m->rope_freqs && i < p.head_dim / 2; i++) {
            double freq = 1.0 / pow(p.rope.freq_base, (double)(2 * i) / (double)p.head_dim);
            double wavelen = 2 * M_PI / freq, nf;
            if (wavelen < hi_wl) nf = freq;
            else if (wavelen > lo_wl) nf = freq / p.rope.factor;
            else {
                double smooth = (p.rope.original_context_length / wavelen - p.rope.low_freq_factor) /
                                (p.rope.high_freq_factor - p.rope.low_freq_factor);
                nf = (1 - smooth) * freq / p.rope.factor + smooth * freq;
            }
            double want = freq / nf;
            CHECK_NEAR(m->rope_freqs[i], want, 1e-6 * want);
            n_one += want == 1.0;
            n_full += fabs(want - p.rope.factor) < 1e-9;
        }
        if (rep == 0) {
            CHECK(n_one > 0 && n_full > 0); /* all three bands present */
            CHECK_NEAR(m->rope_freqs[0], 1.0, 0);
            CHECK_NEAR(m->rope_freqs[31], 32.0, 1e-5);
        }
        lb_model_free(m);
    }
}

/* ---- loader errors on files built here ------------------------------------------------- */

enum variant { V_OK, V_MISSING_TENSOR, V_WRONG_SHAPE, V_WRONG_TYPE, V_MISSING_KEY, V_UNKNOWN_ARCH,
               V_COUNT };

/* A 2-layer llama (d 64, 4 heads of 16, 2 KV heads, ff 128, vocab 260,
 * untied) with zero weights, from our own list of names. */
static void write_tiny(const char *path, enum variant v)
{
    static unsigned char zeros[1 << 16];
    struct lb_gguf_writer *w;
    struct lb_error err;
    CHECK(lb_gguf_writer_new(&w, &err) == LB_OK);
    lb_gguf_writer_add_str(w, "general.architecture", v == V_UNKNOWN_ARCH ? "mamba9" : "llama");
    lb_gguf_writer_add_u32(w, "llama.context_length", 2048);
    if (v != V_MISSING_KEY) lb_gguf_writer_add_u32(w, "llama.embedding_length", 64);
    lb_gguf_writer_add_u32(w, "llama.block_count", 2);
    lb_gguf_writer_add_u32(w, "llama.feed_forward_length", 128);
    lb_gguf_writer_add_u32(w, "llama.attention.head_count", 4);
    lb_gguf_writer_add_u32(w, "llama.attention.head_count_kv", 2);
    lb_gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    const char *toks[260];
    char buf[260][12];
    for (int i = 0; i < 260; i++) {
        snprintf(buf[i], sizeof buf[i], "t%d", i);
        toks[i] = buf[i];
    }
    lb_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, 260);
    struct { const char *name; int nd; int64_t ne[2]; enum lb_qtype t; } g[] = {
        {"token_embd.weight", 2, {64, 260}, LB_QTYPE_Q8_0},
        {"output_norm.weight", 1, {64, 1}, LB_QTYPE_F32},
        {"output.weight", 2, {64, 260}, LB_QTYPE_Q4_0},
    };
    for (size_t i = 0; i < LB_ARRAY_LEN(g); i++)
        lb_gguf_writer_add_tensor(w, g[i].name, g[i].t, (uint32_t)g[i].nd, g[i].ne, zeros);
    for (int il = 0; il < 2; il++) {
        struct { const char *n; int nd; int64_t ne[2]; enum lb_qtype t; } b[] = {
            {"attn_norm.weight", 1, {64, 1}, LB_QTYPE_F32},
            {"attn_q.weight", 2, {64, 64}, LB_QTYPE_Q4_0},
            {"attn_k.weight", 2, {64, 32}, LB_QTYPE_Q4_0},
            {"attn_v.weight", 2, {64, 32}, LB_QTYPE_Q4_0},
            {"attn_output.weight", 2, {64, 64}, LB_QTYPE_Q4_0},
            {"ffn_norm.weight", 1, {64, 1}, LB_QTYPE_F32},
            {"ffn_gate.weight", 2, {64, 128}, LB_QTYPE_F16},
            {"ffn_up.weight", 2, {64, 128}, LB_QTYPE_F16},
            {"ffn_down.weight", 2, {128, 64}, LB_QTYPE_F16},
        };
        for (size_t i = 0; i < LB_ARRAY_LEN(b); i++) {
            char nm[64];
            snprintf(nm, sizeof nm, "blk.%d.%s", il, b[i].n);
            int64_t ne[2] = {b[i].ne[0], b[i].ne[1]};
            enum lb_qtype t = b[i].t;
            if (v == V_MISSING_TENSOR && !strcmp(nm, "blk.1.ffn_up.weight")) continue;
            if (v == V_WRONG_SHAPE && !strcmp(nm, "blk.0.attn_k.weight")) ne[1] = 48;
            if (v == V_WRONG_TYPE && !strcmp(nm, "blk.1.attn_norm.weight")) t = LB_QTYPE_F16;
            lb_gguf_writer_add_tensor(w, nm, t, (uint32_t)b[i].nd, ne, zeros);
        }
    }
    CHECK_MSG(lb_gguf_writer_write(w, path, NULL, NULL, &err) == LB_OK, "%s", err.msg);
    lb_gguf_writer_free(w);
}

static void test_loader_errors(void)
{
    static const char *const want[V_COUNT] = {
        [V_MISSING_TENSOR] = "blk.1.ffn_up.weight",
        [V_WRONG_SHAPE] = "blk.0.attn_k.weight",
        [V_WRONG_TYPE] = "blk.1.attn_norm.weight",
        [V_MISSING_KEY] = "llama.embedding_length",
        [V_UNKNOWN_ARCH] = "mamba9",
    };
    for (int v = 0; v < V_COUNT; v++) {
        char path[400];
        snprintf(path, sizeof path, "%s/v%d.gguf", dir, v);
        write_tiny(path, (enum variant)v);
        struct lb_model *m = NULL;
        struct lb_error err = {0};
        enum lb_status st = lb_model_load_gguf(path, &m, &err);
        if (v == V_OK) {
            CHECK_MSG(st == LB_OK, "good file: %s", err.msg);
            if (m) {
                CHECK_INT_EQ(m->hp.n_layer, 2);
                CHECK_INT_EQ(m->hp.head_dim, 16); /* default: n_embd / n_head */
                CHECK_INT_EQ(m->hp.n_head_kv, 2);
                CHECK_INT_EQ(m->hp.vocab_size, 260); /* from the tokenizer */
                CHECK_NEAR(m->hp.rope.freq_base, 10000.0, 0); /* llama.cpp's default */
                CHECK_INT_EQ(m->hp.rope.type, LB_MODEL_ROPE_NORM);
                CHECK(!m->hp.tied_embeddings);
                CHECK_INT_EQ(m->layers[1].ffn_down.type, LB_QTYPE_F16);
                /* by elements: f16 49152 (FFN), q4_0 41216, q8_0 16640 */
                CHECK_MSG(!strcmp(m->quant, "f16+"), "quant %s", m->quant);
                CHECK_INT_EQ(m->n_tensors, 21);
                /* in place: the data pointers lie in one mapping */
                CHECK((const char *)m->layers[1].wq.data > (const char *)m->tok_embd.data);
                /* head_dim 16 is refused by the engine */
                CHECK_INT_EQ(lb_model_check_supported(m, &err), LB_EUNSUPPORTED);
                CHECK(strstr(err.msg, "head_dim") != NULL);
            }
        } else {
            CHECK_MSG(st == LB_EINVAL, "variant %d: status %d", v, (int)st);
            CHECK_MSG(strstr(err.msg, want[v]) && strstr(err.msg, path),
                      "variant %d: message '%s' should name %s and the file", v, err.msg, want[v]);
            CHECK(m == NULL);
        }
        lb_model_free(m);
        unlink(path);
    }
    struct lb_model *m = NULL;
    struct lb_error err;
    char path[400];
    snprintf(path, sizeof path, "%s/absent.gguf", dir);
    CHECK(lb_model_load_gguf(path, &m, &err) != LB_OK && m == NULL);
}

/* ---- a mixed-format MoE file ------------------------------------------------------------ */

enum { MX_D = 256, MX_FF = 256, MX_EXP = 4, MX_VOCAB = 260, MX_LAYERS = 2 };

struct mx_tensor {
    char name[64];
    enum lb_qtype type;
    int nd;
    int64_t ne[3];
    void *data;
    size_t bytes;
};

static void mx_add(struct mx_tensor *t, int *n, const char *name, int il, enum lb_qtype type,
                   int nd, int64_t ne0, int64_t ne1, int64_t ne2)
{
    struct mx_tensor *x = &t[(*n)++];
    if (il >= 0)
        snprintf(x->name, sizeof x->name, "blk.%d.%s", il, name);
    else
        snprintf(x->name, sizeof x->name, "%s", name);
    x->type = type;
    x->nd = nd;
    x->ne[0] = ne0, x->ne[1] = ne1, x->ne[2] = ne2;
    x->bytes = lb_qtype_row_bytes(type, ne0) * (size_t)(ne1 * ne2);
    x->data = malloc(x->bytes);
    LB_ASSERT(x->data);
    if (type == LB_QTYPE_F32) { /* norms: around 1 */
        float *f = x->data;
        for (int64_t i = 0; i < ne0 * ne1 * ne2; i++)
            f[i] = (float)(0.8 + 0.4 * lb_test_rand_uniform(&rng));
    } else {
        lb_fill_random_weights(type, x->data, ne0 * ne1 * ne2, lb_test_rand_u64(&rng));
    }
}

static void test_mixed_moe_file(void)
{
    /* expert formats {gate, up, down} per layer: Q4_K_M's use_more_bits
     * layer, then a layer of 32-element formats with gate and up in
     * different activation formats' families */
    static const enum lb_qtype xt[MX_LAYERS][3] = {
        {LB_QTYPE_Q4_K, LB_QTYPE_Q4_K, LB_QTYPE_Q6_K},
        {LB_QTYPE_Q4_K, LB_QTYPE_Q5_0, LB_QTYPE_Q8_0},
    };
    struct mx_tensor t[4 + 12 * MX_LAYERS];
    int n = 0;
    mx_add(t, &n, "token_embd.weight", -1, LB_QTYPE_Q8_0, 2, MX_D, MX_VOCAB, 1);
    mx_add(t, &n, "output_norm.weight", -1, LB_QTYPE_F32, 1, MX_D, 1, 1);
    mx_add(t, &n, "output.weight", -1, LB_QTYPE_Q6_K, 2, MX_D, MX_VOCAB, 1);
    for (int il = 0; il < MX_LAYERS; il++) {
        mx_add(t, &n, "attn_norm.weight", il, LB_QTYPE_F32, 1, MX_D, 1, 1);
        mx_add(t, &n, "attn_q.weight", il, LB_QTYPE_Q4_K, 2, MX_D, MX_D, 1);
        mx_add(t, &n, "attn_k.weight", il, LB_QTYPE_Q4_K, 2, MX_D, 128, 1);
        mx_add(t, &n, "attn_v.weight", il, LB_QTYPE_Q6_K, 2, MX_D, 128, 1);
        mx_add(t, &n, "attn_output.weight", il, LB_QTYPE_Q4_K, 2, MX_D, MX_D, 1);
        mx_add(t, &n, "ffn_norm.weight", il, LB_QTYPE_F32, 1, MX_D, 1, 1);
        mx_add(t, &n, "ffn_gate_inp.weight", il, LB_QTYPE_F32, 2, MX_D, MX_EXP, 1);
        mx_add(t, &n, "ffn_gate_exps.weight", il, xt[il][0], 3, MX_D, MX_FF, MX_EXP);
        mx_add(t, &n, "ffn_up_exps.weight", il, xt[il][1], 3, MX_D, MX_FF, MX_EXP);
        mx_add(t, &n, "ffn_down_exps.weight", il, xt[il][2], 3, MX_FF, MX_D, MX_EXP);
    }
    struct lb_gguf_writer *w;
    struct lb_error err = {0};
    CHECK(lb_gguf_writer_new(&w, &err) == LB_OK);
    lb_gguf_writer_add_str(w, "general.architecture", "llama");
    lb_gguf_writer_add_u32(w, "llama.context_length", 2048);
    lb_gguf_writer_add_u32(w, "llama.embedding_length", MX_D);
    lb_gguf_writer_add_u32(w, "llama.block_count", MX_LAYERS);
    lb_gguf_writer_add_u32(w, "llama.feed_forward_length", MX_FF);
    lb_gguf_writer_add_u32(w, "llama.attention.head_count", 4);
    lb_gguf_writer_add_u32(w, "llama.attention.head_count_kv", 2);
    lb_gguf_writer_add_u32(w, "llama.expert_count", MX_EXP);
    lb_gguf_writer_add_u32(w, "llama.expert_used_count", 2);
    lb_gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    const char *toks[MX_VOCAB];
    char buf[MX_VOCAB][12];
    for (int i = 0; i < MX_VOCAB; i++) {
        snprintf(buf[i], sizeof buf[i], "t%d", i);
        toks[i] = buf[i];
    }
    lb_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, MX_VOCAB);
    for (int i = 0; i < n; i++)
        lb_gguf_writer_add_tensor(w, t[i].name, t[i].type, (uint32_t)t[i].nd, t[i].ne, t[i].data);
    char path[400];
    snprintf(path, sizeof path, "%s/mixed-moe.gguf", dir);
    CHECK_MSG(lb_gguf_writer_write(w, path, NULL, NULL, &err) == LB_OK, "%s", err.msg);
    lb_gguf_writer_free(w);

    struct lb_model *m = NULL;
    CHECK_MSG(lb_model_load_gguf(path, &m, &err) == LB_OK, "mixed MoE file: %s", err.msg);
    if (m) {
        CHECK(m->hp.moe.present);
        CHECK_INT_EQ(m->hp.moe.n_ff_expert, MX_FF);
        double bpt = 0; /* bytes per token, counted here: k / n_expert of the experts */
        for (int il = 0; il < MX_LAYERS; il++) {
            const struct lb_model_layer *L = &m->layers[il];
            const struct lb_wt *x[3] = {&L->ffn_gate_exps, &L->ffn_up_exps, &L->ffn_down_exps};
            for (int j = 0; j < 3; j++) {
                CHECK_MSG(x[j]->type == xt[il][j], "blk.%d expert tensor %d: type %s, written %s",
                          il, j, lb_qtype_name(x[j]->type), lb_qtype_name(xt[il][j]));
                bpt += 0.5 * (double)x[j]->bytes;
            }
            bpt += (double)(L->attn_norm.bytes + L->wq.bytes + L->wk.bytes + L->wv.bytes +
                            L->wo.bytes + L->ffn_norm.bytes + L->ffn_gate_inp.bytes);
        }
        bpt += (double)(m->output_norm.bytes + m->output.bytes) +
               (double)m->tok_embd.bytes / MX_VOCAB;
        /* every tensor's bytes as written, in place */
        for (int i = 0; i < n; i++) {
            const struct lb_wt *wt = NULL;
            int il = -1;
            char what[64] = "";
            if (sscanf(t[i].name, "blk.%d.%63s", &il, what) != 2) il = -1;
            if (il >= 0 && !strcmp(what, "ffn_gate_exps.weight")) wt = &m->layers[il].ffn_gate_exps;
            if (il >= 0 && !strcmp(what, "ffn_up_exps.weight")) wt = &m->layers[il].ffn_up_exps;
            if (il >= 0 && !strcmp(what, "ffn_down_exps.weight")) wt = &m->layers[il].ffn_down_exps;
            if (il >= 0 && !strcmp(what, "attn_v.weight")) wt = &m->layers[il].wv;
            if (!strcmp(t[i].name, "output.weight")) wt = &m->output;
            if (!wt) continue;
            CHECK_MSG(wt->bytes == t[i].bytes && !memcmp(wt->data, t[i].data, t[i].bytes),
                      "%s: bytes differ after loading", t[i].name);
        }
        CHECK_NEAR(lb_model_bytes_per_token(m), bpt, 0.5);
        /* most elements: Q4_K (attention + layer 0's gate/up + layer 1's gate) */
        CHECK_MSG(!strcmp(m->quant, "q4_k+"), "quant %s", m->quant);
        CHECK_MSG(lb_model_check_supported(m, &err) == LB_OK, "%s", err.msg);

        /* the engine runs it */
        struct lb_hw *hw = NULL;
        struct lb_pool *pool = NULL;
        struct lb_engine *e = NULL;
        struct lb_pool_config pc = {.n_threads = 1, .pin = LB_PIN_NONE, .numa_node = -1};
        if (lb_hw_discover(&hw, &err) == LB_OK && lb_pool_create(hw, &pc, &pool, &err) == LB_OK) {
            struct lb_engine_config cfg = {.n_ctx = 8, .kv_type = LB_QTYPE_F16,
                                           .isa = lb_isa_best(&hw->features),
                                           .feat = &hw->features};
            CHECK_MSG(lb_engine_create(m, &cfg, pool, &e, &err) == LB_OK, "engine: %s", err.msg);
            const int32_t toks2[3] = {5, 77, 259};
            const float *lg = NULL;
            if (e && lb_engine_eval(e, toks2, 3, &lg, &err) == LB_OK) {
                bool finite = true;
                for (int i = 0; i < MX_VOCAB; i++) finite = finite && isfinite(lg[i]);
                CHECK(finite);
            } else {
                CHECK_MSG(!e, "eval: %s", err.msg);
            }
        } else {
            CHECK_MSG(0, "hw/pool: %s", err.msg);
        }
        lb_engine_destroy(e);
        lb_pool_destroy(pool);
        lb_hw_free(hw);
    }
    lb_model_free(m);
    unlink(path);
    for (int i = 0; i < n; i++) free(t[i].data);
}

static void test_supported_and_open(void)
{
    struct lb_error err;
    struct lb_model *m = NULL;
    /* gpt-oss plans (sizing) but the engine refuses it; the profile file
     * is the shipped one */
    struct lb_model_profile p;
    if (lb_model_profile_load("gpt-oss-20b", &p, &err) == LB_OK) {
        struct lb_quant_mix mix;
        lb_quant_mix_pure(&mix, LB_QTYPE_Q4_K);
        CHECK(lb_model_plan(&p, &mix, 0, &m, &err) == LB_OK);
        if (m) {
            CHECK_INT_EQ(lb_model_check_supported(m, &err), LB_EUNSUPPORTED);
            CHECK(strstr(err.msg, "gpt-oss") != NULL);
            CHECK_INT_EQ(m->layers[0].wq.type, LB_QTYPE_Q5_0); /* 2880 wide */
            CHECK(m->layers[0].wq.data == NULL && m->layers[0].wq.bytes > 0);
            /* the plan's total matches the profile's parameter count at ~5.5 bits */
            CHECK(m->weight_bytes > (size_t)(p.params.total / 2));
        }
        lb_model_free(m);
        m = NULL;
    } else {
        CHECK_MSG(0, "gpt-oss-20b profile: %s", err.msg);
    }
    /* lb_model_open by profile name (the shipped qwen2.5-0.5b) */
    struct lb_quant_mix mix;
    lb_quant_mix_pure(&mix, LB_QTYPE_Q4_0);
    CHECK_MSG(lb_model_open("qwen2.5-0.5b", &mix, 3, &m, &err) == LB_OK, "%s", err.msg);
    if (m) {
        CHECK_INT_EQ(m->hp.arch, LB_MODEL_ARCH_QWEN2);
        CHECK(m->layers[0].bq.data != NULL);
        CHECK(m->output.data == m->tok_embd.data); /* tied */
        CHECK_INT_EQ(lb_model_check_supported(m, &err), LB_OK);
    }
    lb_model_free(m);
    CHECK(lb_model_open("no-such-model", &mix, 3, &m, &err) == LB_EINVAL);
    CHECK(strstr(err.msg, "llama-3.2-1b") != NULL); /* lists the names */
}

int main(void)
{
    rng = lb_test_seed();
    snprintf(dir, sizeof dir, "/tmp/lb-test-model-%d", (int)getpid());
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        perror(dir);
        return 1;
    }
    LB_RUN(test_fallbacks);
    LB_RUN(test_rope_freqs);
    LB_RUN(test_round_trip);
    LB_RUN(test_loader_errors);
    LB_RUN(test_supported_and_open);
    LB_RUN(test_mixed_moe_file);
    rmdir(dir);
    return lb_test_finish();
}
