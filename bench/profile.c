/* profile.c: model profiles read from profiles/models/NAME.json
 * (see lb-profile.h; the file format is profiles/schema/model.schema.json
 * and profiles/README.md).
 *
 * The loader is strict on purpose: an unknown field is an error (a typo
 * such as "n_heads" would otherwise silently leave a default), every
 * number must be an integer where a size is meant, and every field must
 * be covered by an entry in "sources". Messages name the file and the
 * field path ("rope.scaling.factor") so a profile author can fix the file
 * without reading this code.
 *
 * How to add an architecture: a row in arch_traits[] (and the enum in
 * lb-profile.h, and the "architecture" enum in the schema).
 */
#include "lb-profile.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "../reports/lb-report.h"

#ifndef LLMBENCH_SOURCE_DIR
#define LLMBENCH_SOURCE_DIR "."
#endif

/* ---- enum tables (JSON spellings) --------------------------------------- */

enum moe_rule { MOE_FORBIDDEN, MOE_OPTIONAL, MOE_REQUIRED };

/* What the GGUF architecture implies. rope: the mode llama.cpp's
 * llama_model_rope_type() uses for it (src/llama-model.cpp); a profile
 * that disagrees would rotate the wrong pairs. moe: whether the
 * architecture has experts (Mixtral is "llama" with experts). */
static const struct {
    const char *name;
    enum lb_model_rope_type rope;
    enum moe_rule moe;
} arch_traits[LB_MODEL_ARCH_COUNT] = {
    [LB_MODEL_ARCH_LLAMA] = {"llama", LB_MODEL_ROPE_NORM, MOE_OPTIONAL},
    [LB_MODEL_ARCH_QWEN2] = {"qwen2", LB_MODEL_ROPE_NEOX, MOE_FORBIDDEN},
    [LB_MODEL_ARCH_QWEN3] = {"qwen3", LB_MODEL_ROPE_NEOX, MOE_FORBIDDEN},
    [LB_MODEL_ARCH_QWEN3MOE] = {"qwen3moe", LB_MODEL_ROPE_NEOX, MOE_REQUIRED},
    [LB_MODEL_ARCH_GPT_OSS] = {"gpt-oss", LB_MODEL_ROPE_NEOX, MOE_REQUIRED},
};

static const char *const rope_type_names[LB_MODEL_ROPE_TYPE_COUNT] = {
    [LB_MODEL_ROPE_NORM] = "norm", [LB_MODEL_ROPE_NEOX] = "neox"};
static const char *const rope_scaling_names[LB_MODEL_ROPE_SCALING_COUNT] = {
    [LB_MODEL_ROPE_SCALING_NONE] = "none", [LB_MODEL_ROPE_SCALING_LLAMA3] = "llama3",
    [LB_MODEL_ROPE_SCALING_YARN] = "yarn", [LB_MODEL_ROPE_SCALING_LINEAR] = "linear"};
static const char *const ffn_act_names[LB_MODEL_FFN_ACT_COUNT] = {
    [LB_MODEL_FFN_SWIGLU] = "swiglu", [LB_MODEL_FFN_SWIGLU_OAI] = "swiglu_oai"};
static const char *const gating_names[LB_MODEL_GATING_COUNT] = {
    [LB_MODEL_GATING_SOFTMAX_TOPK] = "softmax_topk",
    [LB_MODEL_GATING_TOPK_SOFTMAX] = "topk_softmax",
    [LB_MODEL_GATING_SIGMOID_GROUP] = "sigmoid_group"};

const char *lb_model_arch_name(enum lb_model_arch a)
{
    return (unsigned)a < LB_MODEL_ARCH_COUNT ? arch_traits[a].name : "?";
}
const char *lb_model_rope_type_name(enum lb_model_rope_type t)
{
    return (unsigned)t < LB_MODEL_ROPE_TYPE_COUNT ? rope_type_names[t] : "?";
}
const char *lb_model_rope_scaling_name(enum lb_model_rope_scaling s)
{
    return (unsigned)s < LB_MODEL_ROPE_SCALING_COUNT ? rope_scaling_names[s] : "?";
}
const char *lb_model_gating_name(enum lb_model_gating g)
{
    return (unsigned)g < LB_MODEL_GATING_COUNT ? gating_names[g] : "?";
}
const char *lb_model_ffn_act_name(enum lb_model_ffn_act a)
{
    return (unsigned)a < LB_MODEL_FFN_ACT_COUNT ? ffn_act_names[a] : "?";
}

/* ---- parse context and typed getters ------------------------------------ */

struct pctx {
    const char *path;
    struct lb_error *err;
};

static enum lb_status fail(struct pctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum lb_status fail(struct pctx *c, const char *fmt, ...)
{
    char buf[440];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return lb_error_set(c->err, LB_EINVAL, "%s: %s", c->path, buf);
}

/* "a string", "a boolean", "null", "32.5" ... for "got ..." messages */
static const char *describe(const cJSON *v, char *buf, size_t n)
{
    if (cJSON_IsString(v)) snprintf(buf, n, "the string \"%.40s\"", v->valuestring);
    else if (cJSON_IsBool(v)) snprintf(buf, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNull(v)) snprintf(buf, n, "null");
    else if (cJSON_IsObject(v)) snprintf(buf, n, "an object");
    else if (cJSON_IsArray(v)) snprintf(buf, n, "an array");
    else if (cJSON_IsNumber(v)) snprintf(buf, n, "%.17g", v->valuedouble);
    else snprintf(buf, n, "an invalid value");
    return buf;
}

/* obj[key], case-sensitive; required fields report "missing". */
static const cJSON *field(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static enum lb_status need(struct pctx *c, const cJSON *obj, const char *pre,
                           const char *key, const cJSON **out)
{
    *out = field(obj, key);
    if (!*out) return fail(c, "missing required field %s%s", pre, key);
    return LB_OK;
}

/* Largest integer a double holds exactly: cJSON stores numbers as double. */
#define EXACT_INT_MAX 9007199254740992.0

static enum lb_status get_int(struct pctx *c, const cJSON *obj, const char *pre,
                              const char *key, int64_t min, int64_t *out)
{
    const cJSON *v;
    char d[80];
    enum lb_status st = need(c, obj, pre, key, &v);
    if (st) return st;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        fabs(v->valuedouble) > EXACT_INT_MAX)
        return fail(c, "%s%s must be an integer, got %s", pre, key, describe(v, d, sizeof d));
    int64_t x = (int64_t)v->valuedouble;
    if (x < min)
        return fail(c, "%s%s %lld must be >= %lld", pre, key, (long long)x, (long long)min);
    *out = x;
    return LB_OK;
}

/* A number in (min_excl, max]; max may be INFINITY. */
static enum lb_status get_num(struct pctx *c, const cJSON *obj, const char *pre,
                              const char *key, double min_excl, double max,
                              double *out)
{
    const cJSON *v;
    char d[80];
    enum lb_status st = need(c, obj, pre, key, &v);
    if (st) return st;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return fail(c, "%s%s must be a number, got %s", pre, key, describe(v, d, sizeof d));
    if (!(v->valuedouble > min_excl) || v->valuedouble > max) {
        if (isinf(max))
            return fail(c, "%s%s %g must be > %g", pre, key, v->valuedouble, min_excl);
        return fail(c, "%s%s %g must be in (%g, %g]", pre, key, v->valuedouble, min_excl, max);
    }
    *out = v->valuedouble;
    return LB_OK;
}

static enum lb_status get_bool(struct pctx *c, const cJSON *obj, const char *pre,
                               const char *key, bool *out)
{
    const cJSON *v;
    char d[80];
    enum lb_status st = need(c, obj, pre, key, &v);
    if (st) return st;
    if (!cJSON_IsBool(v))
        return fail(c, "%s%s must be true or false, got %s", pre, key, describe(v, d, sizeof d));
    *out = cJSON_IsTrue(v);
    return LB_OK;
}

static enum lb_status get_str(struct pctx *c, const cJSON *obj, const char *pre,
                              const char *key, char *out, size_t size)
{
    const cJSON *v;
    char d[80];
    enum lb_status st = need(c, obj, pre, key, &v);
    if (st) return st;
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return fail(c, "%s%s must be a non-empty string, got %s", pre, key, describe(v, d, sizeof d));
    if (strlen(v->valuestring) >= size)
        return fail(c, "%s%s is longer than %zu characters", pre, key, size - 1);
    snprintf(out, size, "%s", v->valuestring);
    return LB_OK;
}

/* A string that must be one of names[0..n); error lists the accepted ones. */
static enum lb_status get_enum(struct pctx *c, const cJSON *obj, const char *pre,
                               const char *key, const char *const *names, int n,
                               int first, int *out)
{
    const cJSON *v;
    char d[80];
    enum lb_status st = need(c, obj, pre, key, &v);
    if (st) return st;
    if (cJSON_IsString(v))
        for (int i = first; i < n; i++)
            if (names[i] && strcmp(v->valuestring, names[i]) == 0) {
                *out = i;
                return LB_OK;
            }
    char accepted[200] = "";
    for (int i = first; i < n; i++)
        if (names[i])
            snprintf(accepted + strlen(accepted), sizeof accepted - strlen(accepted),
                     "%s\"%s\"", i > first ? ", " : "", names[i]);
    return fail(c, "%s%s must be one of %s, got %s", pre, key, accepted,
                describe(v, d, sizeof d));
}

static enum lb_status need_object(struct pctx *c, const cJSON *v, const char *what)
{
    char d[80];
    if (!cJSON_IsObject(v))
        return fail(c, "%s must be an object, got %s", what, describe(v, d, sizeof d));
    return LB_OK;
}

/* Rejects members of obj not in known[] (NULL-terminated). */
static enum lb_status only_known(struct pctx *c, const cJSON *obj, const char *pre,
                                 const char *const *known)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        bool ok = false;
        for (const char *const *k = known; *k && !ok; k++) ok = strcmp(it->string, *k) == 0;
        if (!ok) return fail(c, "unknown field %s%s", pre, it->string);
    }
    return LB_OK;
}

/* ---- sections ------------------------------------------------------------ */

static enum lb_status parse_rope(struct pctx *c, const cJSON *root,
                                 struct lb_model_rope *r)
{
    static const char *const known[] = {"type", "freq_base", "scaling", NULL};
    const cJSON *o, *s;
    enum lb_status st;
    int t = 0;
    memset(r, 0, sizeof *r);
    r->factor = 1.0;
    if ((st = need(c, root, "", "rope", &o)) || (st = need_object(c, o, "rope")) ||
        (st = only_known(c, o, "rope.", known)) ||
        (st = get_enum(c, o, "rope.", "type", rope_type_names, LB_MODEL_ROPE_TYPE_COUNT, 0, &t)) ||
        (st = get_num(c, o, "rope.", "freq_base", 0, INFINITY, &r->freq_base)) ||
        (st = need(c, o, "rope.", "scaling", &s)))
        return st;
    r->type = (enum lb_model_rope_type)t;
    if (cJSON_IsNull(s)) return LB_OK;
    if ((st = need_object(c, s, "rope.scaling (null for none)")) ||
        (st = get_enum(c, s, "rope.scaling.", "type", rope_scaling_names,
                       LB_MODEL_ROPE_SCALING_COUNT, LB_MODEL_ROPE_SCALING_LLAMA3, &t)) ||
        (st = get_num(c, s, "rope.scaling.", "factor", 0, INFINITY, &r->factor)))
        return st;
    r->scaling = (enum lb_model_rope_scaling)t;
    if (r->factor < 1.0)
        return fail(c, "rope.scaling.factor %g must be >= 1 (it extends the context)", r->factor);
    const char *pre = "rope.scaling.";
    switch (r->scaling) {
    case LB_MODEL_ROPE_SCALING_LLAMA3: {
        static const char *const k3[] = {"type", "factor", "low_freq_factor", "high_freq_factor",
                                         "original_context_length", NULL};
        if ((st = only_known(c, s, pre, k3)) ||
            (st = get_num(c, s, pre, "low_freq_factor", 0, INFINITY, &r->low_freq_factor)) ||
            (st = get_num(c, s, pre, "high_freq_factor", 0, INFINITY, &r->high_freq_factor)) ||
            (st = get_int(c, s, pre, "original_context_length", 1, &r->original_context_length)))
            return st;
        if (!(r->high_freq_factor > r->low_freq_factor))
            return fail(c, "rope.scaling.high_freq_factor %g must exceed low_freq_factor %g",
                        r->high_freq_factor, r->low_freq_factor);
        break;
    }
    case LB_MODEL_ROPE_SCALING_YARN: {
        static const char *const ky[] = {"type", "factor", "original_context_length",
                                         "beta_fast", "beta_slow", "truncate", NULL};
        if ((st = only_known(c, s, pre, ky)) ||
            (st = get_int(c, s, pre, "original_context_length", 1, &r->original_context_length)) ||
            (st = get_num(c, s, pre, "beta_fast", 0, INFINITY, &r->beta_fast)) ||
            (st = get_num(c, s, pre, "beta_slow", 0, INFINITY, &r->beta_slow)))
            return st;
        if (field(s, "truncate") && (st = get_bool(c, s, pre, "truncate", &r->truncate)))
            return st;
        if (!(r->beta_fast > r->beta_slow))
            return fail(c, "rope.scaling.beta_fast %g must exceed beta_slow %g",
                        r->beta_fast, r->beta_slow);
        break;
    }
    case LB_MODEL_ROPE_SCALING_LINEAR: {
        static const char *const kl[] = {"type", "factor", NULL};
        if ((st = only_known(c, s, pre, kl))) return st;
        break;
    }
    default:
        LB_ASSERT(0);
    }
    return LB_OK;
}

static enum lb_status parse_activation(struct pctx *c, const cJSON *root,
                                       struct lb_model_activation *a)
{
    static const char *const known[] = {"type", "alpha", "limit", NULL};
    const cJSON *o;
    enum lb_status st;
    int t = 0;
    memset(a, 0, sizeof *a);
    if ((st = need(c, root, "", "activation", &o)) || (st = need_object(c, o, "activation")) ||
        (st = only_known(c, o, "activation.", known)) ||
        (st = get_enum(c, o, "activation.", "type", ffn_act_names, LB_MODEL_FFN_ACT_COUNT, 0, &t)))
        return st;
    a->type = (enum lb_model_ffn_act)t;
    if (a->type == LB_MODEL_FFN_SWIGLU_OAI) {
        if ((st = get_num(c, o, "activation.", "alpha", 0, INFINITY, &a->alpha)) ||
            (st = get_num(c, o, "activation.", "limit", 0, INFINITY, &a->limit)))
            return st;
    }
    return LB_OK;
}

static enum lb_status parse_moe(struct pctx *c, const cJSON *root,
                                struct lb_model_profile *p)
{
    static const char *const known[] = {
        "n_expert", "n_expert_used", "n_ff_expert", "n_shared_expert", "n_ff_shared",
        "gating", "norm_topk_prob", "expert_bias", "router_bias", "dense_layers",
        "n_group", "topk_group", "routed_scaling_factor", NULL};
    struct lb_model_moe *m = &p->moe;
    const cJSON *o, *dl;
    enum lb_status st;
    const char *pre = "moe.";
    int g = 0;
    char d[80];
    memset(m, 0, sizeof *m);
    for (int64_t il = 0; il < p->n_layer; il++) p->layer_dense[il] = 1;
    if ((st = need(c, root, "", "moe", &o))) return fail(c, "missing required field moe (null for a dense model)");
    if (cJSON_IsNull(o)) return LB_OK;
    if ((st = need_object(c, o, "moe (null for a dense model)")) ||
        (st = only_known(c, o, pre, known)) ||
        (st = get_int(c, o, pre, "n_expert", 1, &m->n_expert)) ||
        (st = get_int(c, o, pre, "n_expert_used", 1, &m->n_expert_used)) ||
        (st = get_int(c, o, pre, "n_ff_expert", 1, &m->n_ff_expert)) ||
        (st = get_int(c, o, pre, "n_shared_expert", 0, &m->n_shared_expert)) ||
        (st = get_int(c, o, pre, "n_ff_shared", 0, &m->n_ff_shared)) ||
        (st = get_enum(c, o, pre, "gating", gating_names, LB_MODEL_GATING_COUNT, 0, &g)) ||
        (st = get_bool(c, o, pre, "norm_topk_prob", &m->norm_topk_prob)) ||
        (st = get_bool(c, o, pre, "expert_bias", &m->expert_bias)) ||
        (st = get_bool(c, o, pre, "router_bias", &m->router_bias)) ||
        (st = need(c, o, pre, "dense_layers", &dl)))
        return st;
    m->present = true;
    m->gating = (enum lb_model_gating)g;
    m->routed_scaling_factor = 1.0;
    if (m->n_expert < 2)
        return fail(c, "moe.n_expert %lld must be >= 2 (use \"moe\": null for a dense model)",
                    (long long)m->n_expert);
    if (m->n_expert_used > m->n_expert)
        return fail(c, "moe.n_expert_used %lld exceeds moe.n_expert %lld",
                    (long long)m->n_expert_used, (long long)m->n_expert);
    if ((m->n_shared_expert > 0) != (m->n_ff_shared > 0))
        return fail(c, "moe.n_shared_expert %lld and moe.n_ff_shared %lld must both be 0 or both > 0",
                    (long long)m->n_shared_expert, (long long)m->n_ff_shared);
    if (field(o, "routed_scaling_factor") &&
        (st = get_num(c, o, pre, "routed_scaling_factor", 0, INFINITY, &m->routed_scaling_factor)))
        return st;
    if (m->gating == LB_MODEL_GATING_SIGMOID_GROUP) {
        if ((st = get_int(c, o, pre, "n_group", 1, &m->n_group)) ||
            (st = get_int(c, o, pre, "topk_group", 1, &m->topk_group)))
            return st;
        if (m->n_expert % m->n_group)
            return fail(c, "moe.n_group %lld does not divide moe.n_expert %lld",
                        (long long)m->n_group, (long long)m->n_expert);
        if (m->topk_group > m->n_group)
            return fail(c, "moe.topk_group %lld exceeds moe.n_group %lld",
                        (long long)m->topk_group, (long long)m->n_group);
    } else if (field(o, "n_group") || field(o, "topk_group")) {
        return fail(c, "moe.n_group/topk_group only apply to gating \"sigmoid_group\", not \"%s\"",
                    gating_names[m->gating]);
    }
    /* dense_layers: strictly increasing layer indices */
    if (!cJSON_IsArray(dl))
        return fail(c, "moe.dense_layers must be an array of layer indices ([] when every layer is MoE), got %s",
                    describe(dl, d, sizeof d));
    for (int64_t il = 0; il < p->n_layer; il++) p->layer_dense[il] = 0;
    const cJSON *it;
    int64_t prev = -1;
    int i = 0;
    cJSON_ArrayForEach(it, dl) {
        if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble))
            return fail(c, "moe.dense_layers[%d] must be an integer, got %s", i, describe(it, d, sizeof d));
        double x = it->valuedouble;
        if (x < 0 || x >= (double)p->n_layer)
            return fail(c, "moe.dense_layers[%d] %g is not a layer index in [0, n_layer %lld)",
                        i, x, (long long)p->n_layer);
        if ((int64_t)x <= prev)
            return fail(c, "moe.dense_layers[%d] %g: indices must be strictly increasing", i, x);
        prev = (int64_t)x;
        p->layer_dense[prev] = 1;
        m->n_dense_layers++;
        i++;
    }
    if (m->n_dense_layers == p->n_layer)
        return fail(c, "moe.dense_layers lists every layer: the model has no MoE layer (use \"moe\": null)");
    return LB_OK;
}

static enum lb_status parse_attention(struct pctx *c, const cJSON *root,
                                      struct lb_model_attention *a)
{
    static const char *const known[] = {"sliding_window", "sliding_pattern", "sinks", NULL};
    const cJSON *o, *w, *pat;
    enum lb_status st;
    char d[80];
    memset(a, 0, sizeof *a);
    if ((st = need(c, root, "", "attention", &o)) || (st = need_object(c, o, "attention")) ||
        (st = only_known(c, o, "attention.", known)) ||
        (st = need(c, o, "attention.", "sliding_window", &w)) ||
        (st = need(c, o, "attention.", "sliding_pattern", &pat)) ||
        (st = get_bool(c, o, "attention.", "sinks", &a->sinks)))
        return st;
    if (!cJSON_IsNull(w) && (st = get_int(c, o, "attention.", "sliding_window", 1, &a->sliding_window)))
        return st;
    if (cJSON_IsNull(pat)) {
        if (a->sliding_window)
            return fail(c, "attention.sliding_window %lld needs attention.sliding_pattern (which layers slide)",
                        (long long)a->sliding_window);
        return LB_OK;
    }
    if (!a->sliding_window)
        return fail(c, "attention.sliding_pattern is given but attention.sliding_window is null");
    if (!cJSON_IsArray(pat))
        return fail(c, "attention.sliding_pattern must be null or an array of \"sliding\"/\"full\", got %s",
                    describe(pat, d, sizeof d));
    int n = cJSON_GetArraySize(pat);
    if (n < 1 || n > LB_MODEL_MAX_PATTERN)
        return fail(c, "attention.sliding_pattern has %d entries; 1 to %d are accepted", n, LB_MODEL_MAX_PATTERN);
    bool any = false;
    for (int i = 0; i < n; i++) {
        const cJSON *it = cJSON_GetArrayItem(pat, i);
        if (cJSON_IsString(it) && strcmp(it->valuestring, "sliding") == 0) a->pattern_sliding[i] = any = true;
        else if (cJSON_IsString(it) && strcmp(it->valuestring, "full") == 0) a->pattern_sliding[i] = false;
        else
            return fail(c, "attention.sliding_pattern[%d] must be \"sliding\" or \"full\", got %s",
                        i, describe(it, d, sizeof d));
    }
    if (!any) return fail(c, "attention.sliding_pattern has no \"sliding\" entry (use null for full attention)");
    a->n_pattern = n;
    return LB_OK;
}

/* ---- sources ------------------------------------------------------------- */

/* Field paths a sources key may name (a key also covers descendants). */
static const char *const source_paths[] = {
    "architecture", "n_layer", "n_embd", "n_head", "n_head_kv", "head_dim", "n_ff",
    "vocab_size", "context_length", "rope", "rope.type", "rope.freq_base", "rope.scaling",
    "norm_eps", "activation", "qkv_bias", "attn_out_bias", "qk_norm", "tied_embeddings",
    "moe", "moe.n_expert", "moe.n_expert_used", "moe.n_ff_expert", "moe.n_shared_expert",
    "moe.n_ff_shared", "moe.gating", "moe.norm_topk_prob", "moe.expert_bias",
    "moe.router_bias", "moe.dense_layers", "moe.n_group", "moe.topk_group",
    "moe.routed_scaling_factor", "attention", "attention.sliding_window",
    "attention.sliding_pattern", "attention.sinks", NULL};

/* Leaves every profile must cite; then "moe" (a dense model: the claim
 * that it has no experts) or every moe.* leaf (an MoE model). */
static const char *const required_dense[] = {
    "architecture", "n_layer", "n_embd", "n_head", "n_head_kv", "head_dim", "n_ff",
    "vocab_size", "context_length", "rope.type", "rope.freq_base", "rope.scaling",
    "norm_eps", "activation", "qkv_bias", "attn_out_bias", "qk_norm", "tied_embeddings",
    "attention.sliding_window", "attention.sliding_pattern", "attention.sinks", NULL};
static const char *const required_moe[] = {
    "moe.n_expert", "moe.n_expert_used", "moe.n_ff_expert", "moe.n_shared_expert",
    "moe.n_ff_shared", "moe.gating", "moe.norm_topk_prob", "moe.expert_bias",
    "moe.router_bias", "moe.dense_layers", NULL};

/* Is key (an ancestor-or-self path) covering path? */
static bool path_covers(const char *key, size_t klen, const char *path)
{
    return strncmp(key, path, klen) == 0 && (path[klen] == '\0' || path[klen] == '.');
}

static bool known_source_path(const char *k, size_t klen)
{
    char buf[128];
    if (klen >= sizeof buf) return false;
    memcpy(buf, k, klen);
    buf[klen] = '\0';
    for (const char *const *p = source_paths; *p; p++) /* *p is buf or an ancestor */
        if (path_covers(*p, strlen(*p), buf)) return true;
    return false;
}

static bool sources_cover(const cJSON *sources, const char *path)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, sources) {
        const char *k = it->string;
        while (*k) {
            const char *e = k + strcspn(k, ",");
            while (*k == ' ') k++;
            size_t len = (size_t)(e - k);
            while (len && k[len - 1] == ' ') len--;
            if (len && path_covers(k, len, path)) return true;
            k = *e ? e + 1 : e;
        }
    }
    return false;
}

static enum lb_status parse_sources(struct pctx *c, const cJSON *root,
                                    struct lb_model_profile *p)
{
    static const char *const tags[] = {"C", "P", "3P", "D", "unverified", NULL};
    static const char *const known[] = {"url", "urls", "tag", "note", NULL};
    const cJSON *s, *it;
    enum lb_status st;
    char d[80];
    if ((st = need(c, root, "", "sources", &s))) return st;
    if (!cJSON_IsObject(s) || !s->child)
        return fail(c, "sources must be a non-empty object mapping fields to {url, tag, note}, got %s",
                    describe(s, d, sizeof d));
    p->n_sources = p->n_unverified = 0;
    cJSON_ArrayForEach(it, s) {
        const char *key = it->string;
        /* every part of the key must name a known field path */
        const char *k = key;
        while (*k) {
            const char *e = k + strcspn(k, ",");
            while (*k == ' ') k++;
            size_t len = (size_t)(e - k);
            while (len && k[len - 1] == ' ') len--;
            if (!len || !known_source_path(k, len))
                return fail(c, "sources key \"%s\": \"%.*s\" is not a profile field", key,
                            (int)len, k);
            k = *e ? e + 1 : e;
        }
        char pre[160];
        snprintf(pre, sizeof pre, "sources[\"%.120s\"].", key);
        if (!cJSON_IsObject(it))
            return fail(c, "sources[\"%s\"] must be an object {url, tag, note}, got %s", key,
                        describe(it, d, sizeof d));
        if ((st = only_known(c, it, pre, known))) return st;
        int tag = 0;
        if ((st = get_enum(c, it, pre, "tag", tags, 5, 0, &tag))) return st;
        const cJSON *url = field(it, "url"), *urls = field(it, "urls"), *note = field(it, "note");
        if (url && (!cJSON_IsString(url) || strncmp(url->valuestring, "http", 4) != 0))
            return fail(c, "%surl must be an http(s) URL string, got %s", pre, describe(url, d, sizeof d));
        if (urls) {
            if (!cJSON_IsArray(urls) || !urls->child)
                return fail(c, "%surls must be a non-empty array of URLs, got %s", pre, describe(urls, d, sizeof d));
            const cJSON *u;
            cJSON_ArrayForEach(u, urls)
                if (!cJSON_IsString(u) || strncmp(u->valuestring, "http", 4) != 0)
                    return fail(c, "%surls holds %s, not an http(s) URL", pre, describe(u, d, sizeof d));
        }
        if (note && (!cJSON_IsString(note) || !note->valuestring[0]))
            return fail(c, "%snote must be a non-empty string, got %s", pre, describe(note, d, sizeof d));
        if (tag <= 2 && !url && !urls)
            return fail(c, "%stag \"%s\" needs a url (where the number was read)", pre, tags[tag]);
        if (tag >= 3 && !note)
            return fail(c, "%stag \"%s\" needs a note (the arithmetic, or why it is unverified)", pre, tags[tag]);
        p->n_sources++;
        if (tag == 4) p->n_unverified++;
    }
    for (const char *const *r = required_dense; *r; r++)
        if (!sources_cover(s, *r))
            return fail(c, "%s has no entry in sources (cite where the number comes from)", *r);
    if (!p->moe.present && !sources_cover(s, "moe"))
        return fail(c, "moe has no entry in sources (cite where the number comes from)");
    if (p->moe.present) {
        for (const char *const *r = required_moe; *r; r++)
            if (!sources_cover(s, *r))
                return fail(c, "%s has no entry in sources (cite where the number comes from)", *r);
        if (p->moe.gating == LB_MODEL_GATING_SIGMOID_GROUP &&
            (!sources_cover(s, "moe.n_group") || !sources_cover(s, "moe.topk_group")))
            return fail(c, "moe.n_group / moe.topk_group have no entry in sources");
    }
    return LB_OK;
}

/* ---- the whole document -------------------------------------------------- */

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= LB_MODEL_NAME_MAX) return false;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9'))) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
              ch == '-'))
            return false;
    }
    return true;
}

static enum lb_status parse_profile(struct pctx *c, const cJSON *root,
                                    struct lb_model_profile *p)
{
    static const char *const known[] = {
        "schema_version", "name", "display_name", "hf_repo", "architecture", "n_layer",
        "n_embd", "n_head", "n_head_kv", "head_dim", "n_ff", "vocab_size", "context_length",
        "rope", "norm_eps", "activation", "qkv_bias", "attn_out_bias", "qk_norm",
        "tied_embeddings", "moe", "attention", "notes", "sources", NULL};
    enum lb_status st;
    int64_t ver;
    int arch = 0;
    char d[80];

    if (!cJSON_IsObject(root))
        return fail(c, "a model profile must be a JSON object, got %s", describe(root, d, sizeof d));
    if ((st = only_known(c, root, "", known))) return st;
    if ((st = get_int(c, root, "", "schema_version", 0, &ver))) return st;
    if (ver != LB_PROFILE_SCHEMA_VERSION)
        return fail(c, "schema_version %lld is not supported (this build reads %d)", (long long)ver,
                    LB_PROFILE_SCHEMA_VERSION);
    if ((st = get_str(c, root, "", "name", p->name, sizeof p->name))) return st;
    if (!valid_name(p->name))
        return fail(c, "name \"%s\" must be lower case letters, digits, '.', '_' or '-'", p->name);
    if ((st = get_str(c, root, "", "display_name", p->display_name, sizeof p->display_name)))
        return st;
    if (field(root, "hf_repo") &&
        (st = get_str(c, root, "", "hf_repo", p->hf_repo, sizeof p->hf_repo)))
        return st;
    const char *arch_names[LB_MODEL_ARCH_COUNT];
    for (int i = 0; i < LB_MODEL_ARCH_COUNT; i++) arch_names[i] = arch_traits[i].name;
    if ((st = get_enum(c, root, "", "architecture", arch_names, LB_MODEL_ARCH_COUNT, 0, &arch)))
        return st;
    p->arch = (enum lb_model_arch)arch;
    p->arch_name = arch_traits[arch].name;

    if ((st = get_int(c, root, "", "n_layer", 1, &p->n_layer)) ||
        (st = get_int(c, root, "", "n_embd", 1, &p->n_embd)) ||
        (st = get_int(c, root, "", "n_head", 1, &p->n_head)) ||
        (st = get_int(c, root, "", "n_head_kv", 1, &p->n_head_kv)) ||
        (st = get_int(c, root, "", "head_dim", 1, &p->head_dim)) ||
        (st = get_int(c, root, "", "n_ff", 0, &p->n_ff)) ||
        (st = get_int(c, root, "", "vocab_size", 1, &p->vocab_size)) ||
        (st = get_int(c, root, "", "context_length", 1, &p->context_length)))
        return st;
    if (p->n_layer > LB_MODEL_MAX_LAYERS)
        return fail(c, "n_layer %lld exceeds the %d layers this build supports", (long long)p->n_layer,
                    LB_MODEL_MAX_LAYERS);
    if (p->n_head % p->n_head_kv)
        return fail(c, "n_head_kv %lld does not divide n_head %lld", (long long)p->n_head_kv,
                    (long long)p->n_head);
    if (p->head_dim % 2)
        return fail(c, "head_dim %lld must be even (RoPE rotates pairs)", (long long)p->head_dim);

    if ((st = parse_rope(c, root, &p->rope)) ||
        (st = get_num(c, root, "", "norm_eps", 0, 1e-2, &p->norm_eps)) ||
        (st = parse_activation(c, root, &p->act)) ||
        (st = get_bool(c, root, "", "qkv_bias", &p->qkv_bias)) ||
        (st = get_bool(c, root, "", "attn_out_bias", &p->attn_out_bias)) ||
        (st = get_bool(c, root, "", "qk_norm", &p->qk_norm)) ||
        (st = get_bool(c, root, "", "tied_embeddings", &p->tied_embeddings)) ||
        (st = parse_moe(c, root, p)) || (st = parse_attention(c, root, &p->attn)))
        return st;

    const cJSON *notes = field(root, "notes");
    if (notes) {
        const cJSON *it;
        if (!cJSON_IsArray(notes))
            return fail(c, "notes must be an array of strings, got %s", describe(notes, d, sizeof d));
        cJSON_ArrayForEach(it, notes)
            if (!cJSON_IsString(it))
                return fail(c, "notes must hold strings only, found %s", describe(it, d, sizeof d));
    }

    /* cross-field consistency */
    if (p->rope.original_context_length > p->context_length)
        return fail(c, "rope.scaling.original_context_length %lld exceeds context_length %lld",
                    (long long)p->rope.original_context_length, (long long)p->context_length);
    if (p->rope.type != arch_traits[arch].rope)
        return fail(c, "rope.type \"%s\" does not match architecture \"%s\" (llama.cpp uses \"%s\" for it)",
                    rope_type_names[p->rope.type], p->arch_name,
                    rope_type_names[arch_traits[arch].rope]);
    if (arch_traits[arch].moe == MOE_REQUIRED && !p->moe.present)
        return fail(c, "architecture \"%s\" is mixture-of-experts: moe must not be null", p->arch_name);
    if (arch_traits[arch].moe == MOE_FORBIDDEN && p->moe.present)
        return fail(c, "architecture \"%s\" has no experts: moe must be null", p->arch_name);
    if (!p->moe.present && p->n_ff == 0)
        return fail(c, "n_ff 0: a dense model needs its FFN width");
    if (p->moe.present && p->moe.n_dense_layers > 0 && p->n_ff == 0)
        return fail(c, "n_ff 0 but moe.dense_layers lists %lld dense layers that need it",
                    (long long)p->moe.n_dense_layers);
    if (p->moe.present && p->moe.n_dense_layers == 0 && p->n_ff != 0)
        return fail(c, "n_ff %lld is unused: every layer is MoE (moe.dense_layers is []); set n_ff to 0",
                    (long long)p->n_ff);
    if (p->attn.n_pattern > p->n_layer)
        return fail(c, "attention.sliding_pattern has %d entries for %lld layers", p->attn.n_pattern,
                    (long long)p->n_layer);

    if ((st = parse_sources(c, root, p))) return st;
    lb_model_param_counts(p, &p->params);
    return LB_OK;
}

/* ---- directory, lookup, listing ------------------------------------------ */

const char *lb_model_profiles_dir(char *buf, size_t size)
{
    const char *env = getenv("LLMBENCH_PROFILES_DIR");
    if (env && *env) snprintf(buf, size, "%s/models", env);
    else snprintf(buf, size, "%s/profiles/models", LLMBENCH_SOURCE_DIR);
    return buf;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

int lb_model_profile_list(char (*names)[LB_MODEL_NAME_MAX], int max)
{
    char dir[1024];
    lb_model_profiles_dir(dir, sizeof dir);
    DIR *dp = opendir(dir);
    if (!dp) return -1;
    /* collect all, sort, then hand out the first max: a short buffer gets
     * the alphabetically first names, not readdir's arbitrary order */
    char (*all)[LB_MODEL_NAME_MAX] = malloc(sizeof(*all) * LB_MODEL_MAX_PROFILES);
    if (!all) {
        closedir(dp);
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)) && n < LB_MODEL_MAX_PROFILES) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
        if (len - 5 >= LB_MODEL_NAME_MAX) continue;
        memcpy(all[n], e->d_name, len - 5);
        all[n][len - 5] = '\0';
        if (valid_name(all[n])) n++;
    }
    closedir(dp);
    qsort(all, (size_t)n, sizeof all[0], cmp_names);
    if (n > max) n = max < 0 ? 0 : max;
    memcpy(names, all, sizeof all[0] * (size_t)n);
    free(all);
    return n;
}

static bool is_path(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') || (n >= 5 && strcmp(s + n - 5, ".json") == 0);
}

/* "unknown model profile 'x' ...; available: a, b, c" */
static enum lb_status unknown_name(const char *name, const char *dir, struct lb_error *err)
{
    char names[LB_MODEL_MAX_PROFILES][LB_MODEL_NAME_MAX];
    char list[360] = "";
    int n = lb_model_profile_list(names, LB_MODEL_MAX_PROFILES);
    if (n < 0)
        return lb_error_set(err, LB_EIO, "unknown model profile '%s': cannot read profile directory %s: %s",
                            name, dir, strerror(errno));
    for (int i = 0; i < n; i++) {
        size_t used = strlen(list);
        if (used + strlen(names[i]) + 8 >= sizeof list) {
            snprintf(list + used, sizeof list - used, ", ...");
            break;
        }
        snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", names[i]);
    }
    return lb_error_set(err, LB_EINVAL, "unknown model profile '%s' (no %s.json in %s); available: %s",
                        name, name, dir, n ? list : "none");
}

enum lb_status lb_model_profile_load(const char *name_or_path,
                                     struct lb_model_profile *out,
                                     struct lb_error *err)
{
    LB_ASSERT(name_or_path && out);
    memset(out, 0, sizeof *out);
    char path[1024];
    bool by_name = !is_path(name_or_path);
    if (by_name) {
        char dir[1024];
        lb_model_profiles_dir(dir, sizeof dir);
        if (!valid_name(name_or_path))
            return lb_error_set(err, LB_EINVAL,
                                "bad model profile name '%s': names are lower case letters, digits, '.', '_', '-' (or give a path to a .json file)",
                                name_or_path);
        snprintf(path, sizeof path, "%s/%s.json", dir, name_or_path);
        struct stat sb;
        if (stat(path, &sb) != 0 && errno == ENOENT) return unknown_name(name_or_path, dir, err);
    } else {
        if (strlen(name_or_path) >= sizeof path)
            return lb_error_set(err, LB_EINVAL, "model profile path is too long: %.100s...", name_or_path);
        snprintf(path, sizeof path, "%s", name_or_path);
    }

    cJSON *doc = NULL;
    enum lb_status st = lb_json_read_file(path, &doc, err);
    if (st) return st;
    struct pctx c = {.path = path, .err = err};
    st = parse_profile(&c, doc, out);
    cJSON_Delete(doc);
    if (st == LB_OK && by_name && strcmp(out->name, name_or_path) != 0)
        st = fail(&c, "name \"%s\" does not match the file name %s.json", out->name, name_or_path);
    if (st == LB_OK) snprintf(out->path, sizeof out->path, "%s", path);
    else {
        memset(out, 0, sizeof *out);
    }
    return st;
}

/* ---- derived numbers ----------------------------------------------------- */

void lb_model_param_counts(const struct lb_model_profile *p,
                           struct lb_model_param_counts *o)
{
    memset(o, 0, sizeof *o);
    const int64_t d = p->n_embd, hd = p->head_dim;
    const int64_t q_dim = p->n_head * hd, kv_dim = p->n_head_kv * hd;

    o->embed = p->vocab_size * d;
    o->output = p->tied_embeddings ? 0 : p->vocab_size * d;

    int64_t attn = d * q_dim + 2 * d * kv_dim + q_dim * d; /* q, k, v, o */
    if (p->qkv_bias) attn += q_dim + 2 * kv_dim;
    if (p->attn_out_bias) attn += d;
    if (p->qk_norm) attn += 2 * hd; /* one head_dim weight for q, one for k */
    if (p->attn.sinks) attn += p->n_head;

    const struct lb_model_moe *m = &p->moe;
    int64_t expert = 0, router = 0, shared = 0;
    if (m->present) {
        expert = 3 * d * m->n_ff_expert; /* gate, up, down */
        if (m->expert_bias) expert += 2 * m->n_ff_expert + d;
        router = d * m->n_expert + (m->router_bias ? m->n_expert : 0);
        shared = m->n_shared_expert * 3 * d * m->n_ff_shared;
    }
    for (int64_t il = 0; il < p->n_layer; il++) {
        o->attn += attn;
        o->norm += 2 * d; /* pre-attention and pre-FFN RMSNorm */
        if (lb_model_layer_is_moe(p, il)) {
            o->experts += m->n_expert * expert;
            o->experts_active += m->n_expert_used * expert;
            o->router += router;
            o->shared_experts += shared;
        } else {
            o->ffn_dense += 3 * d * p->n_ff;
        }
    }
    o->norm += d; /* final norm */
    int64_t common = o->embed + o->output + o->attn + o->ffn_dense + o->shared_experts +
                     o->router + o->norm;
    o->total = common + o->experts;
    o->active = common + o->experts_active;
    o->active_matmul = p->tied_embeddings ? o->active : o->active - o->embed;
}

void lb_model_params(const struct lb_model_profile *p, int64_t *total,
                     int64_t *active)
{
    struct lb_model_param_counts c;
    lb_model_param_counts(p, &c);
    if (total) *total = c.total;
    if (active) *active = c.active;
}

bool lb_model_layer_is_moe(const struct lb_model_profile *p, int64_t il)
{
    LB_ASSERT(il >= 0 && il < p->n_layer);
    return p->moe.present && !p->layer_dense[il];
}

bool lb_model_layer_is_sliding(const struct lb_model_profile *p, int64_t il)
{
    LB_ASSERT(il >= 0 && il < p->n_layer);
    return p->attn.sliding_window > 0 && p->attn.n_pattern > 0 &&
           p->attn.pattern_sliding[il % p->attn.n_pattern];
}
