/* model-synth.c: synthetic models (bench/lb-model.h): random weights for
 * a profile's shape, generated directly in each tensor's format, either in
 * memory (lb_model_synth, for benchmarks) or streamed to a GGUF file
 * (lb_model_synth_write, `llmbench model synth`).
 *
 * Workload: a benchmark needs valid blocks at GB/s, not a distribution
 * (kernels/lb-fill.h says why). Llama-3.2-1B at q4_0 is ~0.8 GB, a
 * Qwen3-30B-A3B ~17 GB: no float copy is ever made, and the writer holds
 * one chunk (CHUNK_BYTES) at a time, never a whole tensor or model.
 *
 * Determinism, the property the tests rely on: every tensor is cut into
 * chunks of whole rows (rows_per_chunk() depends only on the type and row
 * length), and chunk c of tensor NAME is filled from
 *     seed_c = mix(mix(seed, fnv1a(NAME)), c)
 * so the in-memory model and the written file are byte-identical, and
 * dropping layers (--layers) leaves the kept tensors unchanged.
 *
 * Values: matrices, embeddings and the router from lb_fill_random_weights;
 * RMSNorm weights f32 uniform in [0.9, 1.1] (trained norms sit near 1; a
 * random sign would flip whole channels); biases and sinks lb_fill's small
 * f32 (|x| < 0.125); rope_freqs computed from the profile (Llama 3).
 */
#include "model-impl.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../hw/lb-pool.h"
#include "../kernels/lb-fill.h"

/* A chunk of a tensor is about this many bytes (whole rows, at least
 * one): big enough that per-chunk overhead vanishes, small enough for the
 * writer's buffer. Changing it changes every synthesized byte. */
#define CHUNK_BYTES ((size_t)4 << 20)
#define ALIGN 64 /* tensor start alignment in memory: a cache line, AVX-512 */

static uint64_t tensor_seed(uint64_t seed, const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
    for (const unsigned char *s = (const unsigned char *)name; *s; s++) h = (h ^ *s) * 0x100000001b3ull;
    return lb_mix64(seed ^ lb_mix64(h));
}

static int64_t rows_per_chunk(const struct lb_wt *w)
{
    size_t rb = lb_qtype_row_bytes(w->type, w->ne[0]);
    int64_t r = (int64_t)(CHUNK_BYTES / rb);
    return r < 1 ? 1 : r;
}

static int64_t n_rows(const struct lb_wt *w)
{
    return w->ne[1] * w->ne[2] * w->ne[3];
}

/* Llama 3 RoPE frequency factors (Meta's apply_scaling in the llama3
 * reference, and llama.cpp's converter, which stores them as divisors of
 * the rotation frequency): for pair i, freq = base^(-2i/d), wavelength
 * 2 pi / freq. Short wavelengths (< original_ctx / high_freq_factor) keep
 * their frequency (factor 1), long ones (> original_ctx / low_freq_factor)
 * are slowed by `factor`, and those between are interpolated with
 * smooth = (original_ctx / wavelength - low) / (high - low). */
static void llama3_rope_freqs(const struct lb_model_rope *r, int64_t head_dim, float *out)
{
    const double orig = (double)r->original_context_length;
    const double lo_wl = orig / r->low_freq_factor, hi_wl = orig / r->high_freq_factor;
    for (int64_t i = 0; i < head_dim / 2; i++) {
        double freq = pow(r->freq_base, -(double)(2 * i) / (double)head_dim);
        double wl = 2.0 * M_PI / freq, f;
        if (wl < hi_wl) f = 1.0;
        else if (wl > lo_wl) f = r->factor;
        else {
            double smooth = (orig / wl - r->low_freq_factor) / (r->high_freq_factor - r->low_freq_factor);
            f = 1.0 / ((1.0 - smooth) / r->factor + smooth);
        }
        out[i] = (float)f;
    }
}

/* Fills chunk c of tensor t (rows [c*rpc, c*rpc + nr)) into dst. */
static void fill_chunk(const struct lb_model_profile *p, const struct lb_tdesc *t, uint64_t tseed,
                       int64_t c, int64_t nr, void *dst)
{
    const struct lb_wt *w = t->slot;
    const int64_t n = nr * w->ne[0];
    uint64_t s = lb_mix64(tseed + 0x632be59bd9b4e019ull * (uint64_t)(c + 1));
    switch (t->kind) {
    case LB_TD_NORM: {
        float *f = dst;
        for (int64_t i = 0; i < n; i++) {
            s = lb_mix64(s);
            f[i] = 0.9f + 0.2f * (float)((double)(s >> 11) * 0x1.0p-53);
        }
        break;
    }
    case LB_TD_ROPE_FREQS:
        LB_ASSERT(c == 0 && nr == 1);
        llama3_rope_freqs(&p->rope, p->head_dim, dst);
        break;
    default: lb_fill_random_weights(w->type, dst, n, s); break;
    }
}

/* The model with every slot typed and sized, no data: the common start of
 * plan, synth and write. */
static enum lb_status prepare(const struct lb_model_profile *p, const struct lb_quant_mix *mix,
                              int n_layer_max, struct lb_model **out, struct lb_error *err)
{
    LB_ASSERT(p && mix && out);
    *out = NULL;
    const enum lb_qtype tys[3] = {mix->matrix, mix->embed, mix->output};
    for (int i = 0; i < 3; i++)
        if (!lb_model_weight_type_ok(tys[i]))
            return lb_error_set(err, LB_EINVAL,
                                "quant mix: type id %d is not a weight format (accepted: f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs, mxfp4)",
                                (int)tys[i]);
    struct lb_model *m = calloc(1, sizeof *m);
    struct lb_model_impl *im = calloc(1, sizeof *im);
    if (!m || !im) {
        free(m);
        free(im);
        return lb_error_set(err, LB_ENOMEM, "out of memory");
    }
    m->impl = im;
    m->hp = *p;
    if (n_layer_max > 0 && n_layer_max < m->hp.n_layer) {
        m->hp.n_layer = n_layer_max;
        if (m->hp.moe.present) {
            m->hp.moe.n_dense_layers = 0;
            for (int il = 0; il < n_layer_max; il++) m->hp.moe.n_dense_layers += m->hp.layer_dense[il];
        }
    }
    enum lb_status st = lb_model_hp_check(&m->hp, p->name[0] ? p->name : "model profile", err);
    if (!st) st = lb_model_layout_build(m, &im->layout, err);
    if (st) {
        lb_model_free(m);
        return st;
    }
    const struct lb_model_layout *L = &im->layout;
    for (int i = 0; i < L->n; i++) {
        const struct lb_tdesc *t = &L->t[i];
        struct lb_wt *w = t->slot;
        w->type = lb_model_td_type(t, mix);
        memcpy(w->ne, t->ne, sizeof t->ne);
        w->bytes = lb_qtype_row_bytes(w->type, w->ne[0]) * (size_t)n_rows(w);
        m->weight_bytes += w->bytes;
    }
    m->n_tensors = L->n;
    snprintf(m->source, sizeof m->source, "synthetic %s", p->name);
    *out = m;
    return LB_OK;
}

enum lb_status lb_model_plan(const struct lb_model_profile *p, const struct lb_quant_mix *mix,
                             int n_layer_max, struct lb_model **out, struct lb_error *err)
{
    enum lb_status st = prepare(p, mix, n_layer_max, out, err);
    if (!st) lb_model_finish(*out, &((struct lb_model_impl *)(*out)->impl)->layout);
    return st;
}

enum lb_status lb_model_synth(const struct lb_model_profile *p, const struct lb_quant_mix *mix,
                              uint64_t seed, int n_layer_max, struct lb_model **out,
                              struct lb_error *err)
{
    struct lb_model *m;
    enum lb_status st = prepare(p, mix, n_layer_max, &m, err);
    if (st) return st;
    struct lb_model_impl *im = m->impl;
    const struct lb_model_layout *L = &im->layout;
    size_t total = 0;
    for (int i = 0; i < L->n; i++) total += (L->t[i].slot->bytes + ALIGN - 1) / ALIGN * ALIGN;
    /* huge pages: decode streams every byte once per token */
    im->buf_bytes = total ? total : ALIGN;
    im->buf = lb_mem_map(im->buf_bytes);
    if (!im->buf) {
        lb_model_free(m);
        return lb_error_set(err, LB_ENOMEM, "%s: cannot allocate %.2f GiB for the synthetic weights",
                            p->name, (double)total / (1u << 30));
    }
    size_t off = 0;
    for (int i = 0; i < L->n; i++) {
        const struct lb_tdesc *t = &L->t[i];
        struct lb_wt *w = t->slot;
        unsigned char *dst = (unsigned char *)im->buf + off;
        const uint64_t ts = tensor_seed(seed, t->name);
        const int64_t rpc = rows_per_chunk(w), nr = n_rows(w);
        const size_t rb = lb_qtype_row_bytes(w->type, w->ne[0]);
        for (int64_t c = 0, r = 0; r < nr; c++, r += rpc)
            fill_chunk(&m->hp, t, ts, c, nr - r < rpc ? nr - r : rpc, dst + (size_t)r * rb);
        w->data = dst;
        off += (w->bytes + ALIGN - 1) / ALIGN * ALIGN;
    }
    lb_model_finish(m, L);
    *out = m;
    return LB_OK;
}

/* ---- GGUF writing ------------------------------------------------------------------ */

struct write_ctx {
    const struct lb_model *m;
    uint64_t seed;
    unsigned char *buf; /* one chunk */
};

static enum lb_status write_tensor(void *user, int64_t ti, const struct lb_gguf_tensor *gt,
                                   struct lb_gguf_sink *sink, struct lb_error *err)
{
    (void)gt;
    const struct write_ctx *wc = user;
    const struct lb_model_impl *im = wc->m->impl;
    LB_ASSERT(ti >= 0 && ti < im->layout.n);
    const struct lb_tdesc *t = &im->layout.t[ti];
    const struct lb_wt *w = t->slot;
    const uint64_t ts = tensor_seed(wc->seed, t->name);
    const int64_t rpc = rows_per_chunk(w), nr = n_rows(w);
    const size_t rb = lb_qtype_row_bytes(w->type, w->ne[0]);
    for (int64_t c = 0, r = 0; r < nr; c++, r += rpc) {
        int64_t k = nr - r < rpc ? nr - r : rpc;
        fill_chunk(&wc->m->hp, t, ts, c, k, wc->buf);
        enum lb_status st = lb_gguf_sink_write(sink, wc->buf, (size_t)k * rb, err);
        if (st) return st;
    }
    return LB_OK;
}

/* Tokenizer: a "llama" (SentencePiece) vocabulary as llama.cpp's converter
 * writes one: <unk> (0), <s> (1), </s> (2), the 256 byte tokens <0x00> ..
 * <0xFF> (SPM byte fallback: any text can be tokenized), then "[PADi]"
 * placeholders up to the vocabulary size, as the converter pads a
 * vocabulary shorter than the embedding. Token types are llama.cpp's
 * (1 normal, 2 unknown, 3 control, 5 unused, 6 byte). */
#define TOK_SPECIAL 3
#define TOK_FIXED (TOK_SPECIAL + 256)

static void add_tokenizer(struct lb_gguf_writer *w, int64_t n_vocab)
{
    char s[32];
    lb_gguf_writer_add_str(w, "tokenizer.ggml.model", "llama");
    lb_gguf_writer_arr_begin(w, "tokenizer.ggml.tokens", LB_GGUF_STR, (uint64_t)n_vocab);
    for (int64_t i = 0; i < n_vocab; i++) {
        if (i == 0) snprintf(s, sizeof s, "<unk>");
        else if (i == 1) snprintf(s, sizeof s, "<s>");
        else if (i == 2) snprintf(s, sizeof s, "</s>");
        else if (i < TOK_FIXED) snprintf(s, sizeof s, "<0x%02X>", (unsigned)(i - TOK_SPECIAL));
        else snprintf(s, sizeof s, "[PAD%" PRId64 "]", i);
        lb_gguf_writer_add_str(w, NULL, s);
    }
    lb_gguf_writer_arr_end(w);
    lb_gguf_writer_arr_begin(w, "tokenizer.ggml.scores", LB_GGUF_F32, (uint64_t)n_vocab);
    for (int64_t i = 0; i < n_vocab; i++)
        lb_gguf_writer_add_f32(w, NULL, i < TOK_FIXED ? 0.0f : -1000.0f);
    lb_gguf_writer_arr_end(w);
    lb_gguf_writer_arr_begin(w, "tokenizer.ggml.token_type", LB_GGUF_I32, (uint64_t)n_vocab);
    for (int64_t i = 0; i < n_vocab; i++)
        lb_gguf_writer_add_i32(w, NULL, i == 0 ? 2 : i < TOK_SPECIAL ? 3 : i < TOK_FIXED ? 6 : 5);
    lb_gguf_writer_arr_end(w);
    lb_gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 1);
    lb_gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 2);
    lb_gguf_writer_add_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    lb_gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", true);
}

/* The metadata keys llama.cpp's converter writes for the architecture
 * (gguf-py constants.py Keys.LLM / Keys.Attention / Keys.Rope). */
static void add_metadata(struct lb_gguf_writer *w, const struct lb_model *m,
                         const struct lb_quant_mix *mix, uint64_t seed)
{
    const struct lb_model_profile *p = &m->hp;
    const char *a = p->arch_name;
    char k[128], desc[256];
#define KEY(suffix) (snprintf(k, sizeof k, "%s." suffix, a), k)
    lb_gguf_writer_add_str(w, "general.architecture", a);
    lb_gguf_writer_add_str(w, "general.type", "model");
    lb_gguf_writer_add_str(w, "general.name", p->name);
    snprintf(desc, sizeof desc, "llmbench synthetic model: random weights, shape of profile %s (%s), seed %" PRIu64,
             p->name, p->display_name, seed);
    lb_gguf_writer_add_str(w, "general.description", desc);
    lb_gguf_writer_add_u32(w, "general.file_type", (uint32_t)lb_model_ftype(mix->matrix));
    lb_gguf_writer_add_u32(w, "general.quantization_version", 2); /* ggml GGML_QNT_VERSION */

    lb_gguf_writer_add_u32(w, KEY("vocab_size"), (uint32_t)p->vocab_size);
    lb_gguf_writer_add_u32(w, KEY("context_length"), (uint32_t)p->context_length);
    lb_gguf_writer_add_u32(w, KEY("embedding_length"), (uint32_t)p->n_embd);
    lb_gguf_writer_add_u32(w, KEY("block_count"), (uint32_t)p->n_layer);
    /* Mixtral (llama + experts): llama.cpp sizes the experts from
     * feed_forward_length */
    int64_t ff = p->n_ff;
    if (p->moe.present && p->arch == LB_MODEL_ARCH_LLAMA) ff = p->moe.n_ff_expert;
    if (ff > 0) lb_gguf_writer_add_u32(w, KEY("feed_forward_length"), (uint32_t)ff);
    lb_gguf_writer_add_u32(w, KEY("attention.head_count"), (uint32_t)p->n_head);
    lb_gguf_writer_add_u32(w, KEY("attention.head_count_kv"), (uint32_t)p->n_head_kv);
    lb_gguf_writer_add_u32(w, KEY("attention.key_length"), (uint32_t)p->head_dim);
    lb_gguf_writer_add_u32(w, KEY("attention.value_length"), (uint32_t)p->head_dim);
    lb_gguf_writer_add_f32(w, KEY("attention.layer_norm_rms_epsilon"), (float)p->norm_eps);
    lb_gguf_writer_add_f32(w, KEY("rope.freq_base"), (float)p->rope.freq_base);
    lb_gguf_writer_add_u32(w, KEY("rope.dimension_count"), (uint32_t)p->head_dim);
    /* Llama 3 scaling is the rope_freqs tensor, not a key (llama.cpp knows
     * no "llama3" scaling type and would refuse one) */
    if (p->rope.scaling == LB_MODEL_ROPE_SCALING_LINEAR) {
        lb_gguf_writer_add_str(w, KEY("rope.scaling.type"), "linear");
        lb_gguf_writer_add_f32(w, KEY("rope.scaling.factor"), (float)p->rope.factor);
    } else if (p->rope.scaling == LB_MODEL_ROPE_SCALING_YARN) {
        lb_gguf_writer_add_str(w, KEY("rope.scaling.type"), "yarn");
        lb_gguf_writer_add_f32(w, KEY("rope.scaling.factor"), (float)p->rope.factor);
        lb_gguf_writer_add_u32(w, KEY("rope.scaling.original_context_length"),
                               (uint32_t)p->rope.original_context_length);
        lb_gguf_writer_add_f32(w, KEY("rope.scaling.yarn_beta_fast"), (float)p->rope.beta_fast);
        lb_gguf_writer_add_f32(w, KEY("rope.scaling.yarn_beta_slow"), (float)p->rope.beta_slow);
    }
    if (p->moe.present) {
        lb_gguf_writer_add_u32(w, KEY("expert_count"), (uint32_t)p->moe.n_expert);
        lb_gguf_writer_add_u32(w, KEY("expert_used_count"), (uint32_t)p->moe.n_expert_used);
        if (p->arch != LB_MODEL_ARCH_LLAMA)
            lb_gguf_writer_add_u32(w, KEY("expert_feed_forward_length"), (uint32_t)p->moe.n_ff_expert);
    }
    if (p->arch == LB_MODEL_ARCH_GPT_OSS && p->attn.sliding_window > 0)
        lb_gguf_writer_add_u32(w, KEY("attention.sliding_window"), (uint32_t)p->attn.sliding_window);
#undef KEY
    add_tokenizer(w, p->vocab_size);
}

enum lb_status lb_model_synth_write(const struct lb_model_profile *p, const struct lb_quant_mix *mix,
                                    uint64_t seed, const char *path, struct lb_error *err)
{
    LB_ASSERT(path);
    struct lb_model *m = NULL;
    struct lb_gguf_writer *w = NULL;
    struct write_ctx wc = {.seed = seed};
    enum lb_status st = prepare(p, mix, 0, &m, err);
    if (st) return st;
    wc.m = m;
    if (m->hp.vocab_size < TOK_FIXED) {
        st = lb_error_set(err, LB_EINVAL, "%s: vocab_size %" PRId64 " is below the %d tokens of the synthetic tokenizer (3 special + 256 bytes)",
                          p->name, m->hp.vocab_size, TOK_FIXED);
        goto done;
    }
    if (lb_model_ftype(mix->matrix) < 0) {
        st = lb_error_set(err, LB_EINVAL, "%s: no llama.cpp file type for matrices in %s", p->name,
                          lb_qtype_name(mix->matrix));
        goto done;
    }
    const struct lb_model_layout *L = &((struct lb_model_impl *)m->impl)->layout;
    size_t maxchunk = 0;
    for (int i = 0; i < L->n; i++) {
        const struct lb_wt *s = L->t[i].slot;
        int64_t rpc = rows_per_chunk(s), nr = n_rows(s);
        size_t b = lb_qtype_row_bytes(s->type, s->ne[0]) * (size_t)(rpc < nr ? rpc : nr);
        if (b > maxchunk) maxchunk = b;
    }
    wc.buf = malloc(maxchunk ? maxchunk : 1);
    if (!wc.buf) {
        st = lb_error_set(err, LB_ENOMEM, "out of memory");
        goto done;
    }
    if ((st = lb_gguf_writer_new(&w, err))) goto done;
    add_metadata(w, m, mix, seed);
    for (int i = 0; i < L->n; i++) {
        const struct lb_tdesc *t = &L->t[i];
        lb_gguf_writer_add_tensor(w, t->name, t->slot->type, (uint32_t)t->n_dims, t->ne, NULL);
    }
    st = lb_gguf_writer_write(w, path, write_tensor, &wc, err);
done:
    lb_gguf_writer_free(w);
    free(wc.buf);
    lb_model_free(m);
    return st;
}
