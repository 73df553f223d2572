/* test-profile.c: model profiles (bench/profile.c, profiles/models/).
 *
 * Every shipped profile loads and passes the loader's consistency checks
 * and the JSON Schema (Debian's python3-jsonschema); derived parameter
 * counts match the published totals within 3%; malformed files are
 * rejected with a message naming the file and the field (and the schema
 * rejects the ones a schema can express); an unknown name lists the
 * available ones; $LLMBENCH_PROFILES_DIR redirects lookups.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../bench/lb-profile.h"
#include "lb-test.h"

static char tmp[256];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        lb_test_fail(__FILE__, __LINE__, "cannot write %s", path);
        return;
    }
    fputs(text, f);
    fclose(f);
}

static cJSON *read_shipped(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/profiles/models/%s.json", LLMBENCH_SOURCE_DIR, name);
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return cJSON_Parse(buf);
}

static bool contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

/* The names the task asked for, plus the extras shipped beside them. */
static const char *const required_names[] = {
    "llama-3.2-1b", "llama-3.1-8b", "qwen2.5-7b", "qwen3-8b", "qwen3-30b-a3b",
    "mixtral-8x7b", "gpt-oss-20b", "qwen3-235b-a22b", "qwen2.5-0.5b",
};

static void test_shipped_profiles(void)
{
    static char names[LB_MODEL_MAX_PROFILES][LB_MODEL_NAME_MAX];
    int n = lb_model_profile_list(names, LB_MODEL_MAX_PROFILES);
    CHECK_MSG(n >= (int)LB_ARRAY_LEN(required_names), "listed %d profiles", n);
    for (size_t r = 0; r < LB_ARRAY_LEN(required_names); r++) {
        bool found = false;
        for (int i = 0; i < n; i++) found |= strcmp(names[i], required_names[r]) == 0;
        CHECK_MSG(found, "profile %s is not shipped", required_names[r]);
    }
    for (int i = 1; i < n; i++) CHECK_MSG(strcmp(names[i - 1], names[i]) < 0, "list not sorted");

    for (int i = 0; i < n; i++) {
        struct lb_model_profile p;
        struct lb_error err = {0};
        enum lb_status st = lb_model_profile_load(names[i], &p, &err);
        CHECK_MSG(st == LB_OK, "%s: %s", names[i], err.msg);
        if (st) continue;
        CHECK(strcmp(p.name, names[i]) == 0);
        CHECK(p.display_name[0] && p.hf_repo[0] && p.arch_name);
        CHECK(p.n_head % p.n_head_kv == 0);
        CHECK(p.params.total > 0 && p.params.active > 0 && p.params.active <= p.params.total);
        CHECK(p.n_sources > 0);
        if (p.n_unverified) printf("  %s: %d source entries marked unverified\n", p.name, p.n_unverified);
        printf("  %-16s %-9s %3lld layers  total %8.3fB  active %7.3fB  (matmul %7.3fB)\n", p.name,
               p.arch_name, (long long)p.n_layer, p.params.total / 1e9, p.params.active / 1e9,
               p.params.active_matmul / 1e9);
        /* the same file by path */
        struct lb_model_profile q;
        st = lb_model_profile_load(p.path, &q, &err);
        CHECK_MSG(st == LB_OK && q.params.total == p.params.total, "%s by path: %s", p.path, err.msg);
    }
}

/* Published totals. Sources (also in each profile's notes):
 *  llama-3.1-8b 8.03B, llama-3.2-1b 1.24B, llama-3.1-70b 70.55B,
 *    qwen2.5-0.5b 0.49B, qwen3-8b 8.2B: shared/reference/models.md
 *    (meta-llama/llama-models sku_list.py [P]; Qwen config copies [C]);
 *  qwen2.5-7b 7.61B: Qwen2.5-7B model card ("7.61B", non-embedding
 *    6.53B); 7.62B in models.md; the count is 7.616B;
 *  qwen3-30b-a3b 30.5B / 3.3B activated, 29.9B non-embedding: Qwen3-30B-A3B
 *    model card (copy: hf-p-cfw.fyan.top/unsloth/Qwen3-30B-A3B-bnb-4bit);
 *  qwen3-235b-a22b 235B / 22B: Qwen3-235B-A22B model card (models.md);
 *  mixtral-8x7b 46.7B / 12.9B: Mistral's "Mixtral of experts" post as
 *    quoted by ajkdrag.in (arXiv 2401.04088 rounds to 47B / 13B);
 *  gpt-oss-20b 20.9B / 3.6B and gpt-oss-120b 116.8B / 5.1B: OpenAI
 *    gpt-oss model card (arXiv 2508.10925) as quoted by lephongphu.site;
 *    OpenAI's active count omits the input embedding table (derived: only
 *    then does 3.61B come out; with it the count would be 4.19B), so it is
 *    compared with active_matmul. */
static const struct {
    const char *name;
    double total, active; /* active 0: dense */
    bool active_is_matmul;
} published[] = {
    {"llama-3.1-8b", 8.03e9, 0, false},
    {"llama-3.2-1b", 1.24e9, 0, false},
    {"llama-3.1-70b", 70.55e9, 0, false},
    {"qwen2.5-0.5b", 0.49e9, 0, false},
    {"qwen2.5-7b", 7.61e9, 0, false},
    {"qwen3-8b", 8.2e9, 0, false},
    {"qwen3-30b-a3b", 30.5e9, 3.3e9, false},
    {"qwen3-235b-a22b", 235e9, 22e9, false},
    {"mixtral-8x7b", 46.7e9, 12.9e9, false},
    {"gpt-oss-20b", 20.9e9, 3.6e9, true},
    {"gpt-oss-120b", 116.8e9, 5.1e9, true},
};

static void test_param_counts(void)
{
    for (size_t i = 0; i < LB_ARRAY_LEN(published); i++) {
        struct lb_model_profile p;
        struct lb_error err = {0};
        if (lb_model_profile_load(published[i].name, &p, &err) != LB_OK) {
            lb_test_fail(__FILE__, __LINE__, "%s", err.msg);
            continue;
        }
        int64_t total, active;
        lb_model_params(&p, &total, &active);
        CHECK_INT_EQ(total, p.params.total);
        double rel = total / published[i].total - 1;
        CHECK_MSG(fabs(rel) <= 0.03, "%s: total %.4gB vs published %.4gB (%+.1f%%)", p.name,
                  total / 1e9, published[i].total / 1e9, rel * 100);
        if (published[i].active > 0) {
            double a = published[i].active_is_matmul ? (double)p.params.active_matmul : (double)active;
            rel = a / published[i].active - 1;
            CHECK_MSG(fabs(rel) <= 0.03, "%s: active %.4gB vs published %.4gB (%+.1f%%)", p.name,
                      a / 1e9, published[i].active / 1e9, rel * 100);
            CHECK(active < total);
        } else {
            CHECK_INT_EQ(active, total);
        }
    }

    /* pin the formula on exact arithmetic, not only on 3% */
    struct lb_model_profile p;
    struct lb_error err = {0};
    if (lb_model_profile_load("llama-3.1-8b", &p, &err) == LB_OK) {
        /* 2 x 128256 x 4096 + 32 x (2 x 4096^2 + 2 x 4096 x 1024 + 3 x 4096 x 14336
         *  + 2 x 4096) + 4096 */
        CHECK_INT_EQ(p.params.total, 8030261248LL);
        CHECK_INT_EQ(p.params.embed, 525336576LL);
    }
    if (lb_model_profile_load("qwen3-30b-a3b", &p, &err) == LB_OK) {
        /* model card: 29.9B non-embedding */
        double non_emb = (double)(p.params.total - p.params.embed - p.params.output);
        CHECK_NEAR(non_emb / 29.9e9, 1.0, 0.03);
        CHECK_INT_EQ(p.params.experts, 48LL * 128 * 3 * 2048 * 768);
        CHECK_INT_EQ(p.params.experts_active, 48LL * 8 * 3 * 2048 * 768);
    }
    if (lb_model_profile_load("gpt-oss-20b", &p, &err) == LB_OK) {
        /* biases, sinks and the 64 x 64 = 4096-wide q/o projections count */
        int64_t attn_layer = 2880LL * 4096 * 2 + 2880LL * 512 * 2 + (4096 + 2 * 512) + 2880 + 64;
        CHECK_INT_EQ(p.params.attn, 24 * attn_layer);
        CHECK_INT_EQ(p.params.router, 24LL * (2880 * 32 + 32));
    }
    if (lb_model_profile_load("qwen2.5-7b", &p, &err) == LB_OK) {
        double non_emb = (double)(p.params.total - p.params.embed - p.params.output);
        CHECK_NEAR(non_emb / 6.53e9, 1.0, 0.03);
    }
}

static void test_layers(void)
{
    struct lb_model_profile p;
    struct lb_error err = {0};
    if (lb_model_profile_load("gpt-oss-20b", &p, &err) == LB_OK) {
        CHECK(p.arch == LB_MODEL_ARCH_GPT_OSS && strcmp(p.arch_name, "gpt-oss") == 0);
        CHECK(p.attn.sliding_window == 128 && p.attn.sinks);
        CHECK(lb_model_layer_is_sliding(&p, 0) && !lb_model_layer_is_sliding(&p, 1));
        CHECK(lb_model_layer_is_sliding(&p, 22) && !lb_model_layer_is_sliding(&p, 23));
        for (int64_t il = 0; il < p.n_layer; il++) CHECK(lb_model_layer_is_moe(&p, il));
        CHECK(p.moe.gating == LB_MODEL_GATING_TOPK_SOFTMAX && p.moe.expert_bias && p.moe.router_bias);
        CHECK(p.rope.scaling == LB_MODEL_ROPE_SCALING_YARN && p.rope.factor == 32.0);
        CHECK(p.rope.original_context_length == 4096 && p.rope.type == LB_MODEL_ROPE_NEOX);
        CHECK(p.act.type == LB_MODEL_FFN_SWIGLU_OAI && p.act.limit == 7.0 && p.act.alpha == 1.702);
    } else {
        lb_test_fail(__FILE__, __LINE__, "%s", err.msg);
    }
    if (lb_model_profile_load("llama-3.1-8b", &p, &err) == LB_OK) {
        CHECK(p.rope.type == LB_MODEL_ROPE_NORM && p.rope.scaling == LB_MODEL_ROPE_SCALING_LLAMA3);
        CHECK(p.rope.factor == 8.0 && p.rope.original_context_length == 8192);
        CHECK(!p.moe.present && !lb_model_layer_is_moe(&p, 0) && !lb_model_layer_is_sliding(&p, 31));
    }
    if (lb_model_profile_load("qwen3-8b", &p, &err) == LB_OK)
        CHECK(p.qk_norm && !p.qkv_bias && p.rope.type == LB_MODEL_ROPE_NEOX && !p.tied_embeddings);
    if (lb_model_profile_load("qwen2.5-0.5b", &p, &err) == LB_OK)
        CHECK(p.qkv_bias && !p.attn_out_bias && p.tied_embeddings && p.params.output == 0);
    if (lb_model_profile_load("mixtral-8x7b", &p, &err) == LB_OK) {
        CHECK(p.arch == LB_MODEL_ARCH_LLAMA && p.moe.present && p.moe.n_expert_used == 2);
        CHECK(lb_model_layer_is_moe(&p, 0) && lb_model_layer_is_moe(&p, 31));
    }
    CHECK(strcmp(lb_model_gating_name(LB_MODEL_GATING_SIGMOID_GROUP), "sigmoid_group") == 0);
    CHECK(strcmp(lb_model_rope_scaling_name(LB_MODEL_ROPE_SCALING_LLAMA3), "llama3") == 0);
}

/* ---- malformed profiles ---- */

static cJSON *path_parent(cJSON *root, const char *path, const char **leaf)
{
    /* "rope.type" -> (root.rope, "type") */
    static char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    cJSON *o = root;
    char *s = buf, *dot;
    while ((dot = strchr(s, '.'))) {
        *dot = '\0';
        o = cJSON_GetObjectItemCaseSensitive(o, s);
        s = dot + 1;
    }
    *leaf = path + (s - buf);
    return o;
}

static void set_item(cJSON *root, const char *path, cJSON *v)
{
    const char *leaf;
    cJSON *o = path_parent(root, path, &leaf);
    if (cJSON_GetObjectItemCaseSensitive(o, leaf)) cJSON_ReplaceItemInObjectCaseSensitive(o, leaf, v);
    else cJSON_AddItemToObject(o, leaf, v);
}

static void del_item(cJSON *root, const char *path)
{
    const char *leaf;
    cJSON *o = path_parent(root, path, &leaf);
    cJSON_DeleteItemFromObjectCaseSensitive(o, leaf);
}

enum op { SET_NUM, SET_STR, SET_BOOL, SET_NULL, DELETE, RAW };

static const struct bad_case {
    const char *base;   /* shipped profile mutated */
    enum op op;
    const char *path;
    double num;
    const char *str;    /* SET_STR value, or RAW file text */
    const char *expect; /* substring of the error */
    bool schema_too;    /* a schema can express it: python must reject too */
} bad_cases[] = {
    {"qwen2.5-0.5b", DELETE, "n_layer", 0, NULL, "missing required field n_layer", true},
    {"qwen2.5-0.5b", SET_STR, "n_layer", 0, "24", "n_layer must be an integer, got the string \"24\"", true},
    {"qwen2.5-0.5b", SET_NUM, "n_layer", 24.5, NULL, "n_layer must be an integer, got 24.5", true},
    {"llama-3.1-8b", SET_NUM, "n_head_kv", 5, NULL, "n_head_kv 5 does not divide n_head 32", false},
    {"qwen2.5-0.5b", SET_NUM, "n_embd", -896, NULL, "n_embd -896 must be >= 1", true},
    {"qwen2.5-0.5b", SET_NUM, "head_dim", 0, NULL, "head_dim 0 must be >= 1", true},
    {"qwen2.5-0.5b", SET_NUM, "vocab_size", -1, NULL, "vocab_size -1 must be >= 1", true},
    {"qwen2.5-0.5b", RAW, NULL, 0, "{\"schema_version\": 1, \"name\": \"x\",,}", "is not valid JSON", true},
    {"qwen2.5-0.5b", RAW, NULL, 0, "[1, 2, 3]", "must be a JSON object", true},
    {"qwen2.5-0.5b", SET_NUM, "n_heads", 14, NULL, "unknown field n_heads", true},
    {"qwen2.5-0.5b", SET_STR, "norm_eps", 0, "1e-6", "norm_eps must be a number", true},
    {"qwen2.5-0.5b", SET_STR, "qkv_bias", 0, "yes", "qkv_bias must be true or false", true},
    {"qwen2.5-0.5b", SET_NUM, "schema_version", 2, NULL, "schema_version 2 is not supported", true},
    {"qwen2.5-0.5b", SET_STR, "architecture", 0, "qwen9", "architecture must be one of", true},
    {"qwen2.5-0.5b", SET_STR, "rope.type", 0, "norm", "rope.type \"norm\" does not match architecture \"qwen2\"", false},
    {"qwen2.5-0.5b", SET_STR, "rope.type", 0, "gptj", "rope.type must be one of \"norm\", \"neox\"", true},
    {"qwen2.5-0.5b", DELETE, "rope.freq_base", 0, NULL, "missing required field rope.freq_base", true},
    {"llama-3.1-8b", SET_NUM, "rope.scaling.factor", 0.5, NULL, "rope.scaling.factor 0.5 must be >= 1", true},
    {"llama-3.1-8b", DELETE, "rope.scaling.high_freq_factor", 0, NULL, "missing required field rope.scaling.high_freq_factor", true},
    {"qwen3-30b-a3b", SET_NUM, "moe.n_expert_used", 200, NULL, "moe.n_expert_used 200 exceeds moe.n_expert 128", false},
    {"qwen3-30b-a3b", SET_NUM, "moe.n_ff_expert", -768, NULL, "moe.n_ff_expert -768 must be >= 1", true},
    {"qwen3-30b-a3b", SET_STR, "moe.gating", 0, "softmax", "moe.gating must be one of", true},
    {"qwen3-30b-a3b", SET_NULL, "moe", 0, NULL, "architecture \"qwen3moe\" is mixture-of-experts: moe must not be null", false},
    {"qwen3-30b-a3b", SET_NUM, "n_ff", 6144, NULL, "n_ff 6144 is unused", false},
    {"qwen2.5-0.5b", SET_NUM, "n_ff", 0, NULL, "n_ff 0: a dense model needs its FFN width", false},
    {"gpt-oss-20b", SET_NULL, "attention.sliding_pattern", 0, NULL, "attention.sliding_window 128 needs attention.sliding_pattern", false},
    {"gpt-oss-20b", DELETE, "activation.limit", 0, NULL, "missing required field activation.limit", true},
    {"qwen2.5-0.5b", DELETE, "sources", 0, NULL, "missing required field sources", true},
    {"qwen2.5-0.5b", DELETE, "sources.moe, attention", 0, NULL, "attention.sliding_window has no entry in sources", false},
    {"qwen2.5-0.5b", SET_STR, "sources.n_layerz", 0, "x", "\"n_layerz\" is not a profile field", true},
    {"qwen2.5-0.5b", SET_STR, "sources.architecture.tag", 0, "X", "sources[\"architecture\"].tag must be one of", true},
    {"qwen2.5-0.5b", DELETE, "sources.architecture.url", 0, NULL, "tag \"P\" needs a url", true},
    {"qwen2.5-0.5b", SET_STR, "name", 0, "Qwen 0.5B", "name \"Qwen 0.5B\" must be lower case", true},
};

static void test_malformed(void)
{
    char files[LB_ARRAY_LEN(bad_cases)][300];
    char cmd[16384];
    int n_schema = 0;
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/check.py %s/profiles/schema/model.schema.json invalid",
             tmp, LLMBENCH_SOURCE_DIR);
    for (size_t i = 0; i < LB_ARRAY_LEN(bad_cases); i++) {
        const struct bad_case *b = &bad_cases[i];
        snprintf(files[i], sizeof files[i], "%s/bad/case-%02zu.json", tmp, i);
        if (b->op == RAW) {
            write_text(files[i], b->str);
        } else {
            cJSON *doc = read_shipped(b->base);
            if (!doc) {
                lb_test_fail(__FILE__, __LINE__, "cannot read shipped %s", b->base);
                continue;
            }
            switch (b->op) {
            case SET_NUM: set_item(doc, b->path, cJSON_CreateNumber(b->num)); break;
            case SET_STR: set_item(doc, b->path, cJSON_CreateString(b->str)); break;
            case SET_BOOL: set_item(doc, b->path, cJSON_CreateBool(b->num != 0)); break;
            case SET_NULL: set_item(doc, b->path, cJSON_CreateNull()); break;
            case DELETE:
                if (strncmp(b->path, "sources.", 8) == 0) {
                    /* source keys contain dots and commas: address them whole */
                    cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, "sources");
                    const char *rest = b->path + 8, *dot = strrchr(rest, '.');
                    if (dot && cJSON_GetObjectItemCaseSensitive(s, rest) == NULL) {
                        char key[128];
                        snprintf(key, sizeof key, "%.*s", (int)(dot - rest), rest);
                        cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(s, key), dot + 1);
                    } else {
                        cJSON_DeleteItemFromObjectCaseSensitive(s, rest);
                    }
                } else {
                    del_item(doc, b->path);
                }
                break;
            case RAW: break;
            }
            char *text = cJSON_Print(doc);
            write_text(files[i], text);
            free(text);
            cJSON_Delete(doc);
        }
        struct lb_model_profile p;
        struct lb_error err = {0};
        enum lb_status st = lb_model_profile_load(files[i], &p, &err);
        CHECK_MSG(st == LB_EINVAL, "case %zu (%s %s): status %s, want EINVAL", i, b->base,
                  b->path ? b->path : "raw", lb_status_name(st));
        CHECK_MSG(contains(err.msg, files[i]), "case %zu: message does not name the file: %s", i, err.msg);
        CHECK_MSG(contains(err.msg, b->expect), "case %zu: message \"%s\" lacks \"%s\"", i, err.msg, b->expect);
        CHECK_MSG(p.name[0] == '\0' && p.n_layer == 0, "case %zu: output not cleared on error", i);
        printf("  case %02zu: %s\n", i, err.msg + (contains(err.msg, tmp) ? strlen(tmp) + 1 : 0));
        if (b->schema_too && strlen(cmd) + strlen(files[i]) + 2 < sizeof cmd) {
            strcat(cmd, " ");
            strcat(cmd, files[i]);
            n_schema++;
        }
    }
    /* the schema rejects every case it can express: the two agree */
    CHECK_MSG(system(cmd) == 0, "the schema accepted malformed profiles: %s", cmd);
    CHECK(n_schema > 20);
}

/* DeepSeek-style routing and leading dense layers: no shipped profile has
 * them yet, so a synthetic one (Mixtral's shape, "llama" allows experts). */
static enum lb_status load_variant(const char *file, int n_group, const char *dense_json,
                                   struct lb_model_profile *p, struct lb_error *err)
{
    cJSON *doc = read_shipped("mixtral-8x7b");
    if (!doc) return lb_error_set(err, LB_EIO, "cannot read mixtral-8x7b");
    cJSON *moe = cJSON_GetObjectItemCaseSensitive(doc, "moe");
    cJSON_ReplaceItemInObjectCaseSensitive(moe, "gating", cJSON_CreateString("sigmoid_group"));
    cJSON_AddNumberToObject(moe, "n_group", n_group);
    cJSON_AddNumberToObject(moe, "topk_group", 2);
    cJSON_AddNumberToObject(moe, "routed_scaling_factor", 2.5);
    cJSON_ReplaceItemInObjectCaseSensitive(moe, "dense_layers", cJSON_Parse(dense_json));
    cJSON_ReplaceItemInObjectCaseSensitive(doc, "n_ff", cJSON_CreateNumber(14336));
    cJSON *src = cJSON_CreateObject();
    cJSON_AddStringToObject(src, "tag", "unverified");
    cJSON_AddStringToObject(src, "note", "synthetic test profile");
    cJSON_AddItemToObject(cJSON_GetObjectItemCaseSensitive(doc, "sources"),
                          "moe.n_group, moe.topk_group, moe.routed_scaling_factor", src);
    char path[400];
    snprintf(path, sizeof path, "%s/bad/%s", tmp, file);
    char *text = cJSON_Print(doc);
    write_text(path, text);
    free(text);
    cJSON_Delete(doc);
    return lb_model_profile_load(path, p, err);
}

static void test_grouped_routing_and_dense_layers(void)
{
    struct lb_model_profile p;
    struct lb_error err = {0};
    enum lb_status st = load_variant("ds-ok.json", 4, "[0, 1]", &p, &err);
    CHECK_MSG(st == LB_OK, "%s", err.msg);
    if (st == LB_OK) {
        CHECK(p.moe.gating == LB_MODEL_GATING_SIGMOID_GROUP && p.moe.n_group == 4 && p.moe.topk_group == 2);
        CHECK(p.moe.routed_scaling_factor == 2.5 && p.moe.n_dense_layers == 2 && p.n_unverified == 1);
        CHECK(!lb_model_layer_is_moe(&p, 0) && !lb_model_layer_is_moe(&p, 1) && lb_model_layer_is_moe(&p, 2));
        CHECK_INT_EQ(p.params.ffn_dense, 2LL * 3 * 4096 * 14336);
        CHECK_INT_EQ(p.params.experts, 30LL * 8 * 3 * 4096 * 14336);
        CHECK_INT_EQ(p.params.router, 30LL * 4096 * 8);
    }
    st = load_variant("ds-group.json", 3, "[0]", &p, &err);
    CHECK_MSG(st == LB_EINVAL && contains(err.msg, "moe.n_group 3 does not divide moe.n_expert 8"), "%s", err.msg);
    st = load_variant("ds-order.json", 4, "[1, 0]", &p, &err);
    CHECK_MSG(st == LB_EINVAL && contains(err.msg, "moe.dense_layers[1] 0: indices must be strictly increasing"),
              "%s", err.msg);
    st = load_variant("ds-range.json", 4, "[32]", &p, &err);
    CHECK_MSG(st == LB_EINVAL && contains(err.msg, "moe.dense_layers[0] 32 is not a layer index"), "%s", err.msg);
}

static void test_schema_accepts_shipped(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s/check.py %s/profiles/schema/model.schema.json valid %s/profiles/models/*.json",
             tmp, LLMBENCH_SOURCE_DIR, LLMBENCH_SOURCE_DIR);
    CHECK_MSG(system(cmd) == 0, "schema validation of shipped profiles failed: %s", cmd);
}

static void test_unknown_name(void)
{
    struct lb_model_profile p;
    struct lb_error err = {0};
    enum lb_status st = lb_model_profile_load("no-such-model", &p, &err);
    CHECK(st == LB_EINVAL);
    CHECK_MSG(contains(err.msg, "unknown model profile 'no-such-model'"), "%s", err.msg);
    CHECK_MSG(contains(err.msg, "available:") && contains(err.msg, "llama-3.1-8b") &&
                  contains(err.msg, "qwen3-30b-a3b") && contains(err.msg, "gpt-oss-20b"),
              "%s", err.msg);

    st = lb_model_profile_load("Llama 3", &p, &err);
    CHECK_MSG(st == LB_EINVAL && contains(err.msg, "bad model profile name"), "%s", err.msg);

    char path[512];
    snprintf(path, sizeof path, "%s/missing.json", tmp);
    st = lb_model_profile_load(path, &p, &err);
    CHECK_MSG(st == LB_EIO && contains(err.msg, path), "%s", err.msg);
}

static void test_profiles_dir_env(void)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/alt/models", tmp);
    cJSON *doc = read_shipped("qwen2.5-0.5b");
    if (!doc) {
        lb_test_fail(__FILE__, __LINE__, "cannot read qwen2.5-0.5b");
        return;
    }
    cJSON_ReplaceItemInObjectCaseSensitive(doc, "name", cJSON_CreateString("tiny"));
    char *text = cJSON_Print(doc);
    snprintf(path, sizeof path, "%s/tiny.json", dir);
    write_text(path, text);
    snprintf(path, sizeof path, "%s/other.json", dir); /* name inside says "tiny" */
    write_text(path, text);
    free(text);
    cJSON_Delete(doc);

    char env[512];
    snprintf(env, sizeof env, "%s/alt", tmp);
    setenv("LLMBENCH_PROFILES_DIR", env, 1);
    char got[1024];
    CHECK(strcmp(lb_model_profiles_dir(got, sizeof got), dir) == 0);

    struct lb_model_profile p;
    struct lb_error err = {0};
    CHECK_MSG(lb_model_profile_load("tiny", &p, &err) == LB_OK, "%s", err.msg);
    CHECK(strcmp(p.name, "tiny") == 0 && p.n_layer == 24);

    enum lb_status st = lb_model_profile_load("other", &p, &err);
    CHECK_MSG(st == LB_EINVAL && contains(err.msg, "does not match the file name other.json"), "%s", err.msg);

    char names[8][LB_MODEL_NAME_MAX];
    int n = lb_model_profile_list(names, 8);
    CHECK_INT_EQ(n, 2);
    if (n == 2) CHECK(strcmp(names[0], "other") == 0 && strcmp(names[1], "tiny") == 0);
    CHECK_INT_EQ(lb_model_profile_list(names, 1), 1);
    CHECK(strcmp(names[0], "other") == 0); /* the first in sorted order */

    st = lb_model_profile_load("llama-3.1-8b", &p, &err);
    CHECK_MSG(st == LB_EINVAL && contains(err.msg, "available: other, tiny"), "%s", err.msg);

    setenv("LLMBENCH_PROFILES_DIR", "/nonexistent/llmbench-profiles", 1);
    CHECK_INT_EQ(lb_model_profile_list(names, 8), -1);
    unsetenv("LLMBENCH_PROFILES_DIR");
}

static const char check_py[] =
    "import json, sys\n"
    "import jsonschema\n"
    "schema = json.load(open(sys.argv[1]))\n"
    "jsonschema.Draft202012Validator.check_schema(schema)\n"
    "v = jsonschema.Draft202012Validator(schema)\n"
    "mode, bad = sys.argv[2], 0\n"
    "for f in sys.argv[3:]:\n"
    "    try:\n"
    "        errs = [f\"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}\"\n"
    "                for e in v.iter_errors(json.load(open(f)))]\n"
    "    except ValueError as e:\n"
    "        errs = [f'not JSON: {e}']\n"
    "    if mode == 'valid' and errs:\n"
    "        bad += 1\n"
    "        print(f, *errs, sep='\\n  ')\n"
    "    if mode == 'invalid' and not errs:\n"
    "        bad += 1\n"
    "        print(f, 'was accepted by the schema')\n"
    "print(f'{len(sys.argv) - 3} file(s) checked ({mode}), {bad} problem(s)')\n"
    "sys.exit(1 if bad else 0)\n";

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/lb-test-profile-XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    char d[400];
    snprintf(d, sizeof d, "%s/bad", tmp);
    mkdir(d, 0700);
    snprintf(d, sizeof d, "%s/alt", tmp);
    mkdir(d, 0700);
    snprintf(d, sizeof d, "%s/alt/models", tmp);
    mkdir(d, 0700);
    snprintf(d, sizeof d, "%s/check.py", tmp);
    write_text(d, check_py);
    unsetenv("LLMBENCH_PROFILES_DIR"); /* the shipped set, whatever the caller's environment */

    bool have_py = access("/usr/bin/python3", X_OK) == 0 &&
                   system("/usr/bin/python3 -c 'import jsonschema' 2>/dev/null") == 0;

    LB_RUN(test_shipped_profiles);
    LB_RUN(test_param_counts);
    LB_RUN(test_layers);
    LB_RUN(test_grouped_routing_and_dense_layers);
    if (have_py) {
        LB_RUN(test_schema_accepts_shipped);
        LB_RUN(test_malformed);
    } else {
        lb_test_fail(__FILE__, __LINE__,
                     "/usr/bin/python3 with jsonschema is missing (Debian: python3-jsonschema); "
                     "scripts/install-deps.sh installs it");
    }
    LB_RUN(test_unknown_name);
    LB_RUN(test_profiles_dir_env);

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return lb_test_finish();
}
