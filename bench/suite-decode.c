/* suite-decode.c: the `decode` suite: end-to-end tokens per second of a
 * whole model on the decode engine (bench/lb-engine.h), per model,
 * quantization level, context depth and thread count.
 *
 * Benchmarks (llama-bench's tests, with the harness's statistics):
 *  - tg: text generation. One call = ONE greedy token at a position in
 *    [depth, depth + n_gen): the calls cycle through those n_gen positions
 *    and rewind to depth (lb_engine_truncate) after the last, so the
 *    median per-token time is tg<n_gen> at depth <depth> and every sample
 *    is one token (hundreds of samples: tight CIs for `compare`).
 *  - pp: prompt processing. One call = n_prompt tokens evaluated from
 *    depth, batched through the small-batch GEMV (the engine's prefill).
 *  - ttft: time to first token: an empty context, n_prompt prompt tokens,
 *    and the first generated token's argmax.
 * Context of depth D: the KV cache is filled synthetically by default
 * (lb_engine_fill_kv: random rows, the same bytes to stream as real ones)
 * or, with --kv-fill prefill, by a real prefill of D tokens (slow at large
 * D; tests/test-decode.sh checks both give the same tg within noise).
 *
 * Work per call (bytes, quoted against the read ceiling, so the harness's
 * pct_of_ceiling IS the % of the bandwidth roofline): the weights one token
 * reads (lb_model_bytes_per_token: active matrices, one embedding row)
 * plus the K and V rows attention streams: per layer 2 x n_head_kv rows
 * of head_dim elements in the cache type for every attended position. A
 * tg token at position p attends p + 1 positions, so a tg call's bytes are
 * the mean over the cycle (p + 1 averaged over [depth, depth + n_gen)).
 * pp reads the weights once per batch of LB_GEMV_MAX_BATCH tokens.
 * Metrics: tok_s, bytes_per_token, op_*_pct (where a token's time goes:
 * lb_engine_op_times), and after ceilings roofline_tok_s, pct_of_roofline
 * (bench/suites.c lb_ceilings_apply).
 *
 * Models: a profile name (synthesized in memory with lb_model_synth at the
 * case's quant, seed fixed so every run decodes the same model) or a GGUF
 * file (quant axis ignored: the file's types are used and reported).
 * Synthesizing Llama-3.2-1B takes seconds, so models are kept between
 * cases (the run shuffles cases) in a small cache bounded by memory.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../kernels/lb-gemv.h"
#include "lb-engine.h"
#include "lb-model.h"
#include "lb-suite.h"

/* Seed of synthesized models: fixed, so two runs (and two machines)
 * decode the same weights and `compare` matches like with like. */
#define MODEL_SEED 0x6c6c6d62656e6368ull /* "llmbench" */
/* Models kept between cases; bounded by count and by memory (below). */
#define CACHE_SLOTS 8
/* The model cache may hold this share of the memory available when a
 * model is added; older models are dropped to make room. */
#define CACHE_MEM_SHARE 0.6
/* The token tg starts from (any id < vocab; 1 is BOS in SPM vocabularies). */
#define START_TOKEN 1

/* ---- model cache -------------------------------------------------------- */

struct model_slot {
    char key[300];          /* "name|quant" */
    struct lb_model *m;
    uint64_t last_use;
};
static struct model_slot g_cache[CACHE_SLOTS];
static uint64_t g_clock;

static void cache_drop(struct model_slot *s)
{
    lb_model_free(s->m);
    memset(s, 0, sizeof *s);
}

static void cache_free_all(void)
{
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (g_cache[i].m) cache_drop(&g_cache[i]);
}

/* A model axis value is a GGUF file when it ends in ".gguf" or is a path
 * not ending in ".json"; anything else is a profile (a name, or a path to
 * a profile's .json). The same rule as lb_model_open. */
static bool is_gguf_path(const char *s)
{
    size_t n = strlen(s);
    bool json = n > 5 && !strcmp(s + n - 5, ".json");
    return (n > 5 && !strcmp(s + n - 5, ".gguf")) || (strchr(s, '/') && !json);
}

/* Bytes of a synthesized model before building it (lb_model_plan lays
 * the tensors out without data), to refuse one that cannot fit: an
 * overcommitted malloc would succeed and the fill be OOM-killed. */
static enum lb_status model_bytes(const struct lb_model_profile *p, const struct lb_quant_mix *mix,
                                  double *out, struct lb_error *err)
{
    struct lb_model *plan = NULL;
    enum lb_status st = lb_model_plan(p, mix, 0, &plan, err);
    if (st != LB_OK) return st;
    *out = (double)plan->weight_bytes;
    lb_model_free(plan);
    return LB_OK;
}

static enum lb_status cache_get(const char *name, const char *quant, struct lb_model **out,
                                struct lb_error *err)
{
    static bool registered;
    if (!registered) registered = !atexit(cache_free_all);
    char key[300];
    snprintf(key, sizeof key, "%s|%s", name, is_gguf_path(name) ? "" : quant);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (g_cache[i].m && !strcmp(g_cache[i].key, key)) {
            g_cache[i].last_use = ++g_clock;
            *out = g_cache[i].m;
            return LB_OK;
        }
    }
    struct lb_quant_mix mix;
    enum lb_qtype t = LB_QTYPE_F16;
    if (!is_gguf_path(name)) {
        if (!lb_qtype_parse(quant, &t))
            return lb_error_set(err, LB_EINVAL, "unknown quant '%s'", quant);
        struct lb_model_profile p;
        double need = 0;
        lb_quant_mix_pure(&mix, t);
        enum lb_status st = lb_model_profile_load(name, &p, err);
        if (st == LB_OK) st = model_bytes(&p, &mix, &need, err);
        if (st != LB_OK) return st;
        /* drop cached models (least recently used first) until it fits */
        for (;;) {
            if (need < CACHE_MEM_SHARE * lb_hw_mem_available_bytes()) break;
            int lru = -1;
            for (int i = 0; i < CACHE_SLOTS; i++)
                if (g_cache[i].m && (lru < 0 || g_cache[i].last_use < g_cache[lru].last_use)) lru = i;
            if (lru < 0)
                return lb_error_set(err, LB_EUNSUPPORTED,
                                    "%s at %s needs about %.1f GB; %.1f GB of memory is available",
                                    name, quant, need * 1e-9, lb_hw_mem_available_bytes() * 1e-9);
            cache_drop(&g_cache[lru]);
        }
    }
    lb_quant_mix_pure(&mix, t);
    int slot = -1;
    for (int i = 0; i < CACHE_SLOTS && slot < 0; i++)
        if (!g_cache[i].m) slot = i;
    if (slot < 0) {
        slot = 0;
        for (int i = 1; i < CACHE_SLOTS; i++)
            if (g_cache[i].last_use < g_cache[slot].last_use) slot = i;
        cache_drop(&g_cache[slot]);
    }
    struct lb_model *m = NULL;
    enum lb_status st = lb_model_open(name, &mix, MODEL_SEED, &m, err);
    if (st != LB_OK) return st;
    snprintf(g_cache[slot].key, sizeof g_cache[slot].key, "%s", key);
    g_cache[slot].m = m;
    g_cache[slot].last_use = ++g_clock;
    *out = m;
    return LB_OK;
}

/* ---- state ---------------------------------------------------------------- */

enum decode_kind { KIND_TG, KIND_PP, KIND_TTFT };

struct decode_state {
    enum decode_kind kind;
    const struct lb_model *m;     /* borrowed from the cache */
    struct lb_engine *e;
    int depth, n_gen, n_prompt;
    int32_t *prompt;              /* [n_prompt] tokens */
    int32_t next;                 /* tg: the next input token */
    int step;                     /* tg: tokens since the last rewind */
    double tokens_per_call;
    double bytes_per_call;
    const float *logits;          /* last logits */
    bool failed;
    struct lb_error run_err;      /* first error a timed call hit */
};

/* K + V bytes one attended position costs over all layers. */
static double kv_bytes_per_pos(const struct lb_model *m, enum lb_qtype kv)
{
    return 2.0 * (double)m->hp.n_layer * (double)m->hp.n_head_kv *
           (double)lb_qtype_row_bytes(kv, m->hp.head_dim);
}

static void decode_teardown(void *state, struct lb_pool *pool)
{
    (void)pool;
    struct decode_state *s = state;
    if (!s) return;
    lb_engine_destroy(s->e);
    free(s->prompt);
    free(s);
}

static enum lb_status decode_setup_kind(const struct lb_bench_env *env, void **state,
                                        struct lb_error *err, enum decode_kind kind)
{
    const char *name = lb_case_text(env->params, "model", "llama-3.2-1b");
    const char *quant = lb_case_text(env->params, "quant", "q4_0");
    const char *kvname = lb_case_text(env->params, "kv_type", "f16");
    const char *fill = lb_case_text(env->params, "kv_fill", "synthetic");
    struct decode_state *s = calloc(1, sizeof *s);
    if (!s) return lb_error_set(err, LB_ENOMEM, "out of memory");
    *state = s;
    s->kind = kind;
    s->depth = kind == KIND_TTFT ? 0 : (int)lb_case_num(env->params, "depth", 0);
    s->n_gen = (int)lb_case_num(env->params, "n_gen", 128);
    s->n_prompt = (int)lb_case_num(env->params, "n_prompt", 512);

    enum lb_qtype kv;
    if (!lb_qtype_parse(kvname, &kv)) return lb_error_set(err, LB_EINVAL, "unknown kv_type '%s'", kvname);
    struct lb_model *m = NULL;
    enum lb_status st = cache_get(name, quant, &m, err);
    if (st != LB_OK) return st;
    s->m = m;
    if ((st = lb_model_check_supported(m, err)) != LB_OK) return st;

    int n_new = kind == KIND_TG ? s->n_gen : s->n_prompt;
    if ((int64_t)s->depth + n_new > m->hp.context_length && m->hp.context_length > 0)
        return lb_error_set(err, LB_EUNSUPPORTED, "depth %d + %d tokens exceeds %s's context of %lld",
                            s->depth, n_new, m->hp.name, (long long)m->hp.context_length);
    struct lb_engine_config ec = {
        .n_ctx = s->depth + n_new,
        .kv_type = kv,
        .isa = env->isa,
        .feat = &env->hw->features,
        .time_ops = true,
    };
    if ((st = lb_engine_create(m, &ec, env->pool, &s->e, err)) != LB_OK) return st;

    /* prompt tokens: random ids past the byte tokens, fixed seed */
    int n_tok = s->n_prompt > s->depth ? s->n_prompt : s->depth;
    s->prompt = malloc(((size_t)n_tok + 1) * sizeof *s->prompt);
    if (!s->prompt) return lb_error_set(err, LB_ENOMEM, "out of memory");
    uint64_t r = MODEL_SEED;
    int64_t vocab = m->hp.vocab_size;
    for (int i = 0; i < n_tok; i++) {
        r = lb_mix64(r);
        s->prompt[i] = (int32_t)(vocab > 300 ? 259 + (int64_t)(r % (uint64_t)(vocab - 259))
                                             : (int64_t)(r % (uint64_t)vocab));
    }

    if (s->depth > 0) {
        if (!strcmp(fill, "prefill")) {
            if ((st = lb_engine_eval(s->e, s->prompt, s->depth, &s->logits, err)) != LB_OK) return st;
        } else if (!strcmp(fill, "synthetic")) {
            if ((st = lb_engine_fill_kv(s->e, s->depth, MODEL_SEED, err)) != LB_OK) return st;
        } else {
            return lb_error_set(err, LB_EINVAL, "kv_fill '%s': expected synthetic or prefill", fill);
        }
    }

    double w = lb_model_bytes_per_token(m), kvp = kv_bytes_per_pos(m, kv);
    switch (kind) {
    case KIND_TG:
        s->tokens_per_call = 1;
        /* positions depth .. depth+n_gen-1 attend p+1 positions each */
        s->bytes_per_call = w + kvp * ((double)s->depth + (double)(s->n_gen + 1) / 2.0);
        s->next = START_TOKEN < vocab ? START_TOKEN : 0;
        break;
    case KIND_PP:
    case KIND_TTFT: {
        double batches = ceil((double)s->n_prompt / LB_GEMV_MAX_BATCH);
        double attended = (double)s->n_prompt * ((double)s->depth + (double)(s->n_prompt + 1) / 2.0);
        s->tokens_per_call = s->n_prompt;
        s->bytes_per_call = w * batches + kvp * attended;
        break;
    }
    }
    lb_engine_reset_times(s->e);
    return LB_OK;
}

static enum lb_status tg_setup(const struct lb_bench_env *env, void **state, struct lb_error *err)
{
    return decode_setup_kind(env, state, err, KIND_TG);
}
static enum lb_status pp_setup(const struct lb_bench_env *env, void **state, struct lb_error *err)
{
    return decode_setup_kind(env, state, err, KIND_PP);
}
static enum lb_status ttft_setup(const struct lb_bench_env *env, void **state, struct lb_error *err)
{
    return decode_setup_kind(env, state, err, KIND_TTFT);
}

/* ---- run -------------------------------------------------------------------- */

static void decode_run(void *state, struct lb_pool *pool, uint64_t iter)
{
    (void)pool;
    (void)iter;
    struct decode_state *s = state;
    if (s->failed) return;
    enum lb_status st = LB_OK;
    switch (s->kind) {
    case KIND_TG:
        if (s->step == s->n_gen) {
            lb_engine_truncate(s->e, s->depth);
            s->step = 0;
        }
        st = lb_engine_eval(s->e, &s->next, 1, &s->logits, &s->run_err);
        if (st == LB_OK) s->next = lb_engine_argmax(s->logits, s->m->hp.vocab_size);
        s->step++;
        break;
    case KIND_PP:
        lb_engine_truncate(s->e, s->depth);
        st = lb_engine_eval(s->e, s->prompt, s->n_prompt, &s->logits, &s->run_err);
        break;
    case KIND_TTFT:
        lb_engine_truncate(s->e, 0);
        st = lb_engine_eval(s->e, s->prompt, s->n_prompt, &s->logits, &s->run_err);
        if (st == LB_OK) s->next = lb_engine_argmax(s->logits, s->m->hp.vocab_size);
        break;
    }
    if (st != LB_OK) s->failed = true;
}

/* The engine's own correctness is tests/test-engine.c's job (float64
 * reference); here: no call failed, the logits are finite and the token
 * is in the vocabulary (a NaN from a broken path fails the case). */
static enum lb_status decode_validate(void *state, struct lb_pool *pool, struct lb_error *err)
{
    (void)pool;
    struct decode_state *s = state;
    if (s->failed) return lb_error_set(err, LB_EINVAL, "%s", s->run_err.msg);
    if (!s->logits) return lb_error_set(err, LB_EINVAL, "no logits were produced");
    for (int64_t i = 0; i < s->m->hp.vocab_size; i++)
        if (!isfinite(s->logits[i]))
            return lb_error_set(err, LB_EINVAL, "logit %lld is %g", (long long)i, (double)s->logits[i]);
    int32_t t = lb_engine_argmax(s->logits, s->m->hp.vocab_size);
    if (t < 0 || t >= s->m->hp.vocab_size) return lb_error_set(err, LB_EINVAL, "argmax %d out of range", t);
    return LB_OK;
}

static double decode_bytes(const void *state)
{
    return ((const struct decode_state *)state)->bytes_per_call;
}

static const char *decode_path(const void *state)
{
    return lb_engine_path(((const struct decode_state *)state)->e);
}

static void decode_metrics(const void *state, struct lb_result *r)
{
    const struct decode_state *s = state;
    double t_s = r->stats.median * 1e-9;
    if (t_s > 0) lb_result_add_metric(r, "tok_s", s->tokens_per_call / t_s, "tok/s");
    if (s->kind == KIND_TTFT && t_s > 0) lb_result_add_metric(r, "ttft_ms", t_s * 1e3, "ms");
    lb_result_add_metric(r, "bytes_per_token", s->bytes_per_call / s->tokens_per_call, "B");
    double ns[LB_ENGINE_OP_COUNT], total = 0;
    lb_engine_op_times(s->e, ns);
    for (int i = 0; i < LB_ENGINE_OP_COUNT; i++) total += ns[i];
    for (int i = 0; i < LB_ENGINE_OP_COUNT && total > 0; i++) {
        char name[32];
        snprintf(name, sizeof name, "op_%s_pct", lb_engine_op_name((enum lb_engine_op)i));
        lb_result_add_metric(r, name, 100.0 * ns[i] / total, "%");
    }
}

#define DECODE_BENCH(NAME, DESC, AXES, SETUP)                                   \
    {                                                                           \
        .name = NAME, .description = DESC, .axes = AXES, .ceiling = "read",     \
        .setup = SETUP, .run = decode_run, .validate = decode_validate,         \
        .teardown = decode_teardown, .bytes = decode_bytes, .path = decode_path, \
        .metrics = decode_metrics,                                              \
    }

static const struct lb_bench lb_bench_tg = DECODE_BENCH(
    "tg", "text generation: one greedy token per call, cycling positions depth .. depth+n_gen-1",
    "threads,model,quant,kv_type,depth,n_gen,kv_fill", tg_setup);
static const struct lb_bench lb_bench_pp = DECODE_BENCH(
    "pp", "prompt processing: n_prompt tokens from depth, batched GEMVs",
    "threads,model,quant,kv_type,depth,n_prompt,kv_fill", pp_setup);
static const struct lb_bench lb_bench_ttft = DECODE_BENCH(
    "ttft", "time to first token: n_prompt prompt tokens from an empty context + the first token",
    "threads,model,quant,kv_type,n_prompt", ttft_setup);

/* ---- the suite ------------------------------------------------------------ */

/* llama-bench's defaults (tg128, pp512) at depth 0 and 4096; all cores
 * (decode thread scaling is a --threads sweep away); Q4_0 and Q8_0, the
 * two formats the roofline target names; F16 cache, llama.cpp's
 * default. */
static void decode_axes(const struct lb_hw *hw, struct lb_suite_axes *axes)
{
    struct lb_sweep all;
    lb_axes_default_threads(hw, &all); /* its last value is all cores */
    axes->threads.n = 1;
    axes->threads.v[0] = all.n ? all.v[all.n - 1] : 1;
    axes->size_bytes.n = 0;
    lb_axes_set_csv(axes, "model", "llama-3.2-1b");
    lb_axes_set_csv(axes, "quant", "q4_0,q8_0");
    lb_axes_set_csv(axes, "kv_type", "f16");
    lb_axes_set_csv(axes, "depth", "0,4096");
    lb_axes_set_csv(axes, "n_gen", "128");
    lb_axes_set_csv(axes, "n_prompt", "512");
    lb_axes_set_csv(axes, "kv_fill", "synthetic");
}

static enum lb_status decode_check_axes(const struct lb_hw *hw, const struct lb_suite_axes *axes,
                                        struct lb_error *err)
{
    (void)hw;
    const struct lb_text_list *l = lb_axes_text(axes, "model");
    for (size_t i = 0; l && i < l->n; i++) {
        if (is_gguf_path(l->v[i])) {
            /* parsed now (a mapping: cheap), so a malformed or truncated
             * file is bad input before anything is measured */
            struct lb_model *m = NULL;
            struct lb_error e2 = {0};
            if (access(l->v[i], R_OK) != 0)
                return lb_error_set(err, LB_EINVAL, "--model '%s': cannot read the file", l->v[i]);
            if (lb_model_load_gguf(l->v[i], &m, &e2) != LB_OK)
                return lb_error_set(err, LB_EINVAL, "--model: %s", e2.msg);
            lb_model_free(m);
            continue;
        }
        struct lb_model_profile p;
        struct lb_error e2 = {0};
        if (lb_model_profile_load(l->v[i], &p, &e2) != LB_OK)
            return lb_error_set(err, LB_EINVAL, "--model: %s", e2.msg);
    }
    l = lb_axes_text(axes, "quant");
    for (size_t i = 0; l && i < l->n; i++) {
        enum lb_qtype t;
        const struct lb_qtraits *tr;
        if (!lb_qtype_parse(l->v[i], &t) || !(tr = lb_qtraits_get(t)) || t == LB_QTYPE_Q8_1 ||
            t == LB_QTYPE_Q8_K)
            return lb_error_set(err, LB_EINVAL,
                                "--quant '%s': accepted weight formats are f32, f16, bf16, q8_0, q4_0, "
                                "q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs, mxfp4",
                                l->v[i]);
    }
    l = lb_axes_text(axes, "kv_type");
    for (size_t i = 0; l && i < l->n; i++) {
        enum lb_qtype t;
        if (!lb_qtype_parse(l->v[i], &t) ||
            (t != LB_QTYPE_F32 && t != LB_QTYPE_F16 && t != LB_QTYPE_BF16 && t != LB_QTYPE_Q8_0))
            return lb_error_set(err, LB_EINVAL, "--kv-type '%s': accepted cache types are f32, f16, bf16, q8_0",
                                l->v[i]);
    }
    l = lb_axes_text(axes, "kv_fill");
    for (size_t i = 0; l && i < l->n; i++)
        if (strcmp(l->v[i], "synthetic") && strcmp(l->v[i], "prefill"))
            return lb_error_set(err, LB_EINVAL, "--kv-fill '%s': accepted: synthetic, prefill", l->v[i]);
    static const char *const counts[] = {"n_gen", "n_prompt"};
    for (size_t k = 0; k < LB_ARRAY_LEN(counts); k++) {
        l = lb_axes_text(axes, counts[k]);
        for (size_t i = 0; l && i < l->n; i++) {
            long v = strtol(l->v[i], NULL, 10);
            if (v < 1 || v > (1 << 20))
                return lb_error_set(err, LB_EINVAL, "--%s '%s': expected 1 to 1M tokens",
                                    k == 0 ? "n-gen" : "n-prompt", l->v[i]);
        }
    }
    l = lb_axes_text(axes, "depth");
    for (size_t i = 0; l && i < l->n; i++) {
        long v = strtol(l->v[i], NULL, 10);
        if (v < 0 || v > (1 << 24))
            return lb_error_set(err, LB_EINVAL, "--depth '%s': expected 0 to 16M positions", l->v[i]);
    }
    return LB_OK;
}

static const struct lb_bench *const decode_benches[] = {&lb_bench_tg, &lb_bench_pp, &lb_bench_ttft};

/* A GGUF file's tensors have their own types: its cases carry the file's
 * main type (lb_model's quant, "+" when mixed) whatever --quant said, and
 * the planner keeps one case per file. */
static void decode_normalize_case(struct lb_case *c)
{
    const char *name = lb_case_text(c, "model", "");
    if (!is_gguf_path(name)) return;
    struct lb_model *m = NULL;
    struct lb_error e = {0};
    if (lb_model_load_gguf(name, &m, &e) == LB_OK) lb_case_set(c, "quant", m->quant);
    lb_model_free(m);
}

const struct lb_suite lb_suite_decode = {
    .name = "decode",
    .description = "end-to-end decode of a model: tg (tok/s), pp (prefill tok/s), time to first "
                   "token; vs the bandwidth roofline",
    .benches = decode_benches,
    .n_benches = LB_ARRAY_LEN(decode_benches),
    .default_axes = decode_axes,
    .case_budget_s = 6.0,
    .needs_ceilings = true,
    .check_axes = decode_check_axes,
    .normalize_case = decode_normalize_case,
};
