/* lb-model.h: a model's weights in memory, from a GGUF file or synthesized
 * from a profile, for the decode engine (bench/lb-engine.h).
 *
 * Workload: decode streams every active weight once per token, so the
 * model is a set of tensors in their GGUF formats, used in place (a GGUF
 * file is memory-mapped, never converted), plus the shape (struct
 * lb_model_profile, read from the profile JSON or from the GGUF metadata).
 *
 * Tensor names, shapes and metadata keys are llama.cpp's for each
 * architecture (shared/reference/quant-and-gguf.md), so a file written by
 * `llmbench model synth` is what other GGUF tools expect, and a GGUF from
 * the wild loads here:
 *     token_embd.weight          [n_embd, n_vocab]
 *     output_norm.weight         [n_embd]                    f32
 *     output.weight              [n_embd, n_vocab]           absent when tied
 *     rope_freqs.weight          [head_dim/2]                f32, Llama 3 scaling only
 *     blk.N.attn_norm.weight     [n_embd]                    f32
 *     blk.N.attn_q.weight        [n_embd, n_head*head_dim]
 *     blk.N.attn_k.weight        [n_embd, n_head_kv*head_dim]
 *     blk.N.attn_v.weight        [n_embd, n_head_kv*head_dim]
 *     blk.N.attn_output.weight   [n_head*head_dim, n_embd]
 *     blk.N.attn_{q,k,v}.bias    [rows]                      f32, qwen2
 *     blk.N.attn_{q,k}_norm.weight [head_dim]                f32, qwen3, qwen3moe
 *     blk.N.ffn_norm.weight      [n_embd]                    f32
 *     blk.N.ffn_{gate,up}.weight [n_embd, n_ff]              dense layers
 *     blk.N.ffn_down.weight      [n_ff, n_embd]
 *     blk.N.ffn_gate_inp.weight  [n_embd, n_expert]          MoE router
 *     blk.N.ffn_{gate,up}_exps.weight [n_embd, n_ff_expert, n_expert]
 *     blk.N.ffn_down_exps.weight [n_ff_expert, n_embd, n_expert]
 * (ne[0] first, as GGUF stores dims: ne[0] is the row length, so a matrix
 * [cols, rows] is `rows` rows of `cols` elements, lb-gemv.h's W.)
 *
 * Architectures the engine runs: llama (Llama 2/3, Mistral, and Mixtral,
 * i.e. llama with expert_count > 0), qwen2, qwen3, qwen3moe. gpt-oss
 * profiles load for sizing but lb_model_check_supported refuses them with
 * the reason.
 */
#ifndef LB_MODEL_H
#define LB_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../kernels/lb-base.h"
#include "../kernels/lb-quant.h"
#include "lb-profile.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One tensor of the model. data == NULL: absent (optional tensors). */
struct lb_wt {
    enum lb_qtype type;
    int64_t ne[4];      /* GGUF order: ne[0] = row length; unused dims are 1 */
    const void *data;   /* its bytes (in the mapping or the synth buffer) */
    size_t bytes;       /* lb_qtype_row_bytes(type, ne[0]) * ne[1]*ne[2]*ne[3] */
};

struct lb_model_layer {
    struct lb_wt attn_norm;
    struct lb_wt wq, wk, wv, wo;
    struct lb_wt bq, bk, bv;            /* qwen2; absent elsewhere */
    struct lb_wt q_norm, k_norm;        /* qwen3, qwen3moe; absent elsewhere */
    struct lb_wt ffn_norm;
    struct lb_wt ffn_gate, ffn_up, ffn_down;              /* dense layer */
    struct lb_wt ffn_gate_inp;                            /* MoE layer: router */
    struct lb_wt ffn_gate_exps, ffn_up_exps, ffn_down_exps; /* MoE layer */
};

struct lb_model {
    /* Shape and hyper-parameters. From a GGUF file: name = general.name
     * (or the file's base name), path = the file, sources 0. */
    struct lb_model_profile hp;
    char source[1100];           /* "synthetic llama-3.2-1b", or the GGUF path */
    char quant[32];              /* "q4_0"; for a GGUF file the matrices'
                                    most common type, "+" when mixed: "q4_k+" */
    struct lb_wt tok_embd, output_norm, output; /* output == tok_embd when tied */
    /* Llama 3 RoPE scaling: per-pair frequency divisors [head_dim/2] (the
     * GGUF tensor rope_freqs.weight, which llama.cpp's converter writes;
     * synthesized models compute it from the profile the same way).
     * NULL: no per-pair factors. */
    const float *rope_freqs;
    struct lb_model_layer *layers; /* [hp.n_layer] */
    size_t weight_bytes;         /* bytes of all tensors */
    int64_t n_tensors;           /* tensors in the file / synthesized */
    void *impl;                  /* private: mapping / buffers */
};

/* What a synthesized model's tensors are stored in. llama.cpp's "pure"
 * convention: every matrix in one type, norms and the router in f32. A
 * matrix whose row length is not a multiple of the type's block (gpt-oss's
 * 2880 for 256-element K-quants) falls back as llama-quantize does:
 * Q2_K/Q3_K/IQ4_XS -> IQ4_NL, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0. */
struct lb_quant_mix {
    enum lb_qtype matrix;   /* attention, dense FFN and expert matrices */
    enum lb_qtype embed;    /* token_embd */
    enum lb_qtype output;   /* output (LM head) */
};
/* All three = t. */
void lb_quant_mix_pure(struct lb_quant_mix *mix, enum lb_qtype t);
/* The type a row of ne0 elements is stored in for wanted type t (t
 * itself when ne0 is a multiple of its block; the fallback above; F16 as
 * the last resort). */
enum lb_qtype lb_quant_fallback(enum lb_qtype t, int64_t ne0);

/* Loads a GGUF file (memory-mapped, tensors used in place): the shape from
 * the architecture's metadata keys, every tensor checked for presence,
 * shape and type. LB_EINVAL names the file and the key or tensor. */
enum lb_status lb_model_load_gguf(const char *path, struct lb_model **out,
                                  struct lb_error *err);

/* Synthesizes a model in memory: every tensor filled with
 * lb_fill_random_weights (kernels/lb-fill.h) from seed, directly in its
 * format; norm weights near 1. n_layer_max > 0 keeps only the first
 * n_layer_max layers (hp.n_layer is changed to match); 0 keeps all. */
enum lb_status lb_model_synth(const struct lb_model_profile *p,
                              const struct lb_quant_mix *mix, uint64_t seed,
                              int n_layer_max, struct lb_model **out,
                              struct lb_error *err);

/* The tensor layout lb_model_synth would build (names, types, shapes,
 * bytes; every data NULL), without allocating the weights: sizing a model
 * too large to synthesize (`llmbench model info PROFILE`).
 * lb_model_bytes_per_token works on it (it counts bytes, not data). */
enum lb_status lb_model_plan(const struct lb_model_profile *p,
                             const struct lb_quant_mix *mix, int n_layer_max,
                             struct lb_model **out, struct lb_error *err);

/* Writes a synthesized model as GGUF v3 to path (atomically, streaming
 * one tensor at a time: never the whole model in memory), with the
 * architecture's metadata keys, general.file_type, and a tokenizer
 * (tokenizer.ggml.* : a "llama"/SPM vocabulary of hp.vocab_size tokens
 * with the 256 byte tokens) so that llama.cpp-style readers accept it.
 * Reading it back with lb_model_load_gguf gives the same tensors as
 * lb_model_synth with the same arguments, byte for byte. */
enum lb_status lb_model_synth_write(const struct lb_model_profile *p,
                                    const struct lb_quant_mix *mix, uint64_t seed,
                                    const char *path, struct lb_error *err);

/* A GGUF path (ends in ".gguf" or contains '/' and is a file) is loaded;
 * anything else is a profile name, synthesized with mix and seed. */
enum lb_status lb_model_open(const char *name_or_path,
                             const struct lb_quant_mix *mix, uint64_t seed,
                             struct lb_model **out, struct lb_error *err);

void lb_model_free(struct lb_model *m);

/* LB_EUNSUPPORTED with the reason when the engine cannot run this model
 * (architecture, activation, head_dim or width not supported). */
enum lb_status lb_model_check_supported(const struct lb_model *m,
                                        struct lb_error *err);

/* Weight bytes one decoded token reads: every layer's attention and
 * norms, dense FFNs, the router and n_expert_used experts of MoE layers,
 * the final norm and output matrix, and one row of token_embd. */
double lb_model_bytes_per_token(const struct lb_model *m);

#ifdef __cplusplus
}
#endif
#endif
