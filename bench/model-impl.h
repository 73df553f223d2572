/* model-impl.h: internals shared by bench/model.c (layout, GGUF loading)
 * and bench/model-synth.c (random weights, GGUF writing). Not a public
 * interface: everything here may change with them.
 */
#ifndef LB_MODEL_IMPL_H
#define LB_MODEL_IMPL_H

#include "lb-gguf.h"
#include "lb-model.h"

/* What a tensor is, which decides its type in a mix and how it is filled. */
enum lb_td_kind {
    LB_TD_MATRIX,     /* attention, dense FFN, expert matrices: mix->matrix */
    LB_TD_EMBED,      /* token_embd: mix->embed */
    LB_TD_OUTPUT,     /* output (LM head): mix->output */
    LB_TD_ROUTER,     /* ffn_gate_inp: f32 */
    LB_TD_NORM,       /* RMSNorm weights: f32 near 1 */
    LB_TD_BIAS,       /* biases, attention sinks: small f32 */
    LB_TD_ROPE_FREQS, /* Llama 3 per-pair frequency factors: f32, computed */
};

/* One tensor of the table: llama.cpp's name and shape for the
 * architecture, and the lb_wt it fills. */
struct lb_tdesc {
    char name[LB_GGUF_MAX_NAME];
    enum lb_td_kind kind;
    int n_dims;
    int64_t ne[4];       /* unused dims 1 */
    struct lb_wt *slot;  /* a field of struct lb_model / lb_model_layer, or an extra */
};

struct lb_model_layout {
    struct lb_tdesc *t;
    int n, cap;
    struct lb_wt *extra;    /* slots of tensors the struct has no field for */
    int n_extra;
    struct lb_wt rope_freqs; /* its slot (lb_model exposes the float pointer) */
};

/* lb_model.impl */
struct lb_model_impl {
    struct lb_gguf_ctx *gguf;      /* loaded: the mapping */
    void *buf;                     /* synthesized: every tensor, 64-byte aligned (lb_mem_map) */
    size_t buf_bytes;              /* its length for lb_mem_unmap */
    struct lb_model_layout layout;
};

/* Sanity of a shape (from a profile, a hand-filled struct or a file's
 * metadata): dimensions in range, heads dividing, MoE counts consistent.
 * LB_EINVAL "WHAT: field ..."; LB_EUNSUPPORTED for shared experts. */
enum lb_status lb_model_hp_check(const struct lb_model_profile *p, const char *what,
                                 struct lb_error *err);
/* Allocates m->layers and lists every tensor of m->hp's architecture. */
enum lb_status lb_model_layout_build(struct lb_model *m, struct lb_model_layout *L,
                                     struct lb_error *err);
void lb_model_layout_free(struct lb_model_layout *L);
/* The stored type of t in mix (fallbacks applied; f32 for 1-D and router). */
enum lb_qtype lb_model_td_type(const struct lb_tdesc *t, const struct lb_quant_mix *mix);
/* After the slots are filled: tied output, rope_freqs, quant, params. */
void lb_model_finish(struct lb_model *m, const struct lb_model_layout *L);
/* A type weights may be stored in (traits, not an activation format). */
bool lb_model_weight_type_ok(enum lb_qtype t);
/* llama.h llama_ftype for a pure mix of t; -1 when there is none. */
int lb_model_ftype(enum lb_qtype t);

#endif
