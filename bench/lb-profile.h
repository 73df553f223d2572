/* lb-profile.h: model profiles, the shape of an LLM read from JSON.
 *
 * A profile is profiles/models/NAME.json (schema:
 * profiles/schema/model.schema.json, field guide: profiles/README.md):
 * layer count, widths, heads, RoPE, MoE routing, sliding-window layout,
 * and for every number the URL it came from. The planner, `llmbench
 * size` and the decode engine read shapes from here instead of carrying
 * their own tables, so a new model is a new JSON file, not code.
 *
 * Loading checks what the schema cannot: n_head % n_head_kv == 0,
 * n_expert_used <= n_expert, the RoPE mode matching the GGUF
 * architecture's ggml convention, every field covered by a source, and so
 * on. Errors are LB_EINVAL with one line naming the file and the field:
 *   "profiles/models/x.json: n_head_kv 5 does not divide n_head 32".
 *
 * Parameter counts are derived here (lb_model_params). Bytes per token
 * for a quantization mix are not: that depends on the quant formats and
 * lives with them.
 */
#ifndef LB_PROFILE_H
#define LB_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "../kernels/lb-base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LB_PROFILE_SCHEMA_VERSION 1
#define LB_MODEL_NAME_MAX 64      /* profile name incl. NUL */
#define LB_MODEL_MAX_LAYERS 512   /* largest shipped: 94 (Qwen3-235B) */
#define LB_MODEL_MAX_PATTERN 16   /* sliding_pattern period */
#define LB_MODEL_MAX_PROFILES 256 /* what one directory scan returns */

/* GGUF general.architecture values this loader knows (llama.cpp names). */
enum lb_model_arch {
    LB_MODEL_ARCH_LLAMA,    /* "llama": Llama 2/3, Mistral, Mixtral */
    LB_MODEL_ARCH_QWEN2,    /* "qwen2": Qwen2, Qwen2.5 */
    LB_MODEL_ARCH_QWEN3,    /* "qwen3" */
    LB_MODEL_ARCH_QWEN3MOE, /* "qwen3moe" */
    LB_MODEL_ARCH_GPT_OSS,  /* "gpt-oss" (llama.cpp LLM_ARCH_OPENAI_MOE) */
    LB_MODEL_ARCH_COUNT
};

/* ggml rope modes: NORM rotates (x[2i], x[2i+1]); NEOX rotates
 * (x[i], x[i + head_dim/2]). */
enum lb_model_rope_type { LB_MODEL_ROPE_NORM, LB_MODEL_ROPE_NEOX, LB_MODEL_ROPE_TYPE_COUNT };

enum lb_model_rope_scaling {
    LB_MODEL_ROPE_SCALING_NONE,
    LB_MODEL_ROPE_SCALING_LLAMA3, /* Llama 3.1+ frequency-band scaling */
    LB_MODEL_ROPE_SCALING_YARN,   /* gpt-oss */
    LB_MODEL_ROPE_SCALING_LINEAR,
    LB_MODEL_ROPE_SCALING_COUNT
};

enum lb_model_ffn_act {
    LB_MODEL_FFN_SWIGLU,     /* down(silu(gate x) * up x) */
    LB_MODEL_FFN_SWIGLU_OAI, /* gpt-oss: clamped, g*sigmoid(alpha g) * (u + 1) */
    LB_MODEL_FFN_ACT_COUNT
};

/* MoE routing. Same order (and meaning) as kernels/lb-moe.h's enum
 * lb_moe_gating (SOFTMAX, SIGMOID_GROUP, TOPK_SOFTMAX), so a profile's
 * gating casts to the router kind the MoE kernel takes. */
enum lb_model_gating {
    LB_MODEL_GATING_SOFTMAX_TOPK = 0,  /* softmax over all, top-k, optional renormalise */
    LB_MODEL_GATING_SIGMOID_GROUP = 1, /* sigmoid, group-limited top-k (DeepSeek-V3) */
    LB_MODEL_GATING_TOPK_SOFTMAX = 2,  /* top-k logits, softmax over the k (gpt-oss) */
    LB_MODEL_GATING_COUNT
};

struct lb_model_rope {
    enum lb_model_rope_type type;
    double freq_base;                /* rope_theta */
    enum lb_model_rope_scaling scaling;
    double factor;                   /* context extension factor; 1 when none */
    double low_freq_factor;          /* llama3 */
    double high_freq_factor;         /* llama3 */
    int64_t original_context_length; /* llama3 / yarn; 0 when none */
    double beta_fast, beta_slow;     /* yarn */
    bool truncate;                   /* yarn (HF "truncate"; false for gpt-oss) */
};

struct lb_model_moe {
    bool present;            /* false: dense model, the rest is zero */
    int64_t n_expert;        /* routed experts per MoE layer */
    int64_t n_expert_used;   /* top-k per token */
    int64_t n_ff_expert;     /* inner width of one routed expert */
    int64_t n_shared_expert; /* always-on experts per MoE layer */
    int64_t n_ff_shared;     /* inner width of one shared expert */
    enum lb_model_gating gating;
    bool norm_topk_prob;     /* renormalise the k chosen weights */
    bool expert_bias;        /* expert projections carry biases */
    bool router_bias;
    int64_t n_group, topk_group;  /* sigmoid_group only; else 0 */
    double routed_scaling_factor; /* 1 unless given */
    int64_t n_dense_layers;       /* layers using the dense FFN instead */
};

struct lb_model_attention {
    int64_t sliding_window; /* tokens; 0 = every layer full attention */
    int n_pattern;          /* period of the layer pattern; 0 when none */
    bool pattern_sliding[LB_MODEL_MAX_PATTERN]; /* true = sliding layer */
    bool sinks;             /* learned sink logit per head */
};

struct lb_model_activation {
    enum lb_model_ffn_act type;
    double alpha, limit; /* swiglu_oai; 0 otherwise */
};

/* Parameter counts (elements, not bytes), by part. "active" counts what one
 * token uses: everything except the routed experts it was not sent to;
 * embedding and output matrices included, the convention of the Qwen and
 * Mistral model cards. OpenAI's gpt-oss card also leaves out the input
 * embedding (a row lookup, not a matmul): that is active_matmul. */
struct lb_model_param_counts {
    int64_t embed;          /* vocab_size x n_embd */
    int64_t output;         /* vocab_size x n_embd; 0 when tied */
    int64_t attn;           /* q, k, v, o (+ biases, QK-norm, sinks), all layers */
    int64_t ffn_dense;      /* gated dense FFNs, all dense layers */
    int64_t experts;        /* every routed expert (+ biases), all MoE layers */
    int64_t experts_active; /* n_expert_used experts per MoE layer */
    int64_t shared_experts; /* shared experts, all MoE layers */
    int64_t router;         /* router weights (+ bias), all MoE layers */
    int64_t norm;           /* RMSNorm weights: 2 per layer + final */
    int64_t total;
    int64_t active;
    int64_t active_matmul;  /* active without the (untied) embedding table */
};

struct lb_model_profile {
    char name[LB_MODEL_NAME_MAX];
    char display_name[128];
    char hf_repo[128];        /* "" when absent */
    char path[1024];          /* the file it was read from */
    enum lb_model_arch arch;
    const char *arch_name;    /* static GGUF name, e.g. "qwen3moe" */

    int64_t n_layer;
    int64_t n_embd;           /* hidden size */
    int64_t n_head;           /* query heads */
    int64_t n_head_kv;        /* key/value heads */
    int64_t head_dim;
    int64_t n_ff;             /* dense FFN width; 0 when every layer is MoE */
    int64_t vocab_size;
    int64_t context_length;   /* max positions of the shipped config */
    struct lb_model_rope rope;
    double norm_eps;
    struct lb_model_activation act;
    bool qkv_bias;            /* Q/K/V projections biased (Qwen2, gpt-oss) */
    bool attn_out_bias;       /* output projection biased (gpt-oss) */
    bool qk_norm;             /* per-head RMSNorm on Q and K (Qwen3) */
    bool tied_embeddings;
    struct lb_model_moe moe;
    struct lb_model_attention attn;
    /* per layer: 1 when layer il runs the dense FFN (every layer of a dense
     * model, moe.dense_layers of an MoE one), 0 when it runs experts */
    uint8_t layer_dense[LB_MODEL_MAX_LAYERS];

    int n_sources;            /* entries in "sources" */
    int n_unverified;         /* of those, tagged "unverified" */
    struct lb_model_param_counts params; /* filled by the loader */
};

/* The directory bare names resolve in: $LLMBENCH_PROFILES_DIR/models when
 * that is set, else LLMBENCH_SOURCE_DIR "/profiles/models" (the source
 * tree, a CMake compile definition). Writes into buf and returns it. */
const char *lb_model_profiles_dir(char *buf, size_t size);

/* Loads one profile. name_or_path containing '/' or ending in ".json" is
 * read as a file; anything else is a profile name looked up in
 * lb_model_profiles_dir(). An unknown name is LB_EINVAL listing the
 * available names; a missing/unreadable file is LB_EIO; a malformed or
 * inconsistent file is LB_EINVAL naming the file and the field. */
enum lb_status lb_model_profile_load(const char *name_or_path,
                                     struct lb_model_profile *out,
                                     struct lb_error *err);

/* Names of the profiles in lb_model_profiles_dir() (files NAME.json with a
 * valid NAME), sorted; the first max of them. Returns how many were
 * written, or -1 when the directory cannot be read. Does not parse the
 * files: a listed profile may still fail to load. */
int lb_model_profile_list(char (*names)[LB_MODEL_NAME_MAX], int max);

/* Total and per-token active parameter counts (see struct
 * lb_model_param_counts); either pointer may be NULL. */
void lb_model_params(const struct lb_model_profile *p, int64_t *total,
                     int64_t *active);
void lb_model_param_counts(const struct lb_model_profile *p,
                           struct lb_model_param_counts *out);

/* Layer queries; il in [0, n_layer). */
bool lb_model_layer_is_moe(const struct lb_model_profile *p, int64_t il);
bool lb_model_layer_is_sliding(const struct lb_model_profile *p, int64_t il);

/* Static names for enum values: the JSON spellings. */
const char *lb_model_arch_name(enum lb_model_arch a);
const char *lb_model_rope_type_name(enum lb_model_rope_type t);
const char *lb_model_rope_scaling_name(enum lb_model_rope_scaling s);
const char *lb_model_gating_name(enum lb_model_gating g);
const char *lb_model_ffn_act_name(enum lb_model_ffn_act a);

#ifdef __cplusplus
}
#endif
#endif
