/* cmd-model.c: `llmbench model synth|info|generate|help` (bench/lb-cmd.h).
 *
 *   model synth --model PROFILE --quant TYPE [--layers N] [--seed S] -o FILE.gguf
 *       writes a synthetic GGUF (random weights in the profile's shape;
 *       bench/model-synth.c, docs/synth.md)
 *   model info FILE.gguf|PROFILE [--quant TYPE] [--layers N]
 *       architecture, shape, tensor count, weight bytes, bytes per token of
 *       a GGUF file, or of a profile at a quant (sized, nothing allocated)
 *   model generate ...   (greedy decode: bench/cmd-generate.c)
 *
 * Bad input exits 2 with one line naming what was wrong and what is
 * accepted; a failed write leaves no file (the GGUF writer writes a temp
 * file and renames it).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lb-cmd.h"
#include "lb-model.h"
#include "model-impl.h"

#define MIB (1024.0 * 1024.0)

static int usage(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage(const char *sub, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "llmbench: model%s%s: ", sub ? " " : "", sub ? sub : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return LB_EXIT_USAGE;
}

/* "f32, f16, ..." : the types --quant accepts (weight formats with traits) */
static const char *accepted_quants(void)
{
    static char buf[256];
    if (buf[0]) return buf;
    size_t u = 0;
    for (int t = 0; t < LB_QTYPE_COUNT; t++) {
        if (!lb_model_weight_type_ok((enum lb_qtype)t) || lb_model_ftype((enum lb_qtype)t) < 0) continue;
        u += (size_t)snprintf(buf + u, sizeof buf - u, "%s%s", u ? ", " : "", lb_qtype_name((enum lb_qtype)t));
    }
    return buf;
}

static bool parse_quant(const char *sub, const char *v, enum lb_qtype *out, int *rc)
{
    enum lb_qtype t;
    if (!lb_qtype_parse(v, &t) || !lb_model_weight_type_ok(t) || lb_model_ftype(t) < 0) {
        *rc = usage(sub, "unknown --quant '%s' (accepted: %s)", v, accepted_quants());
        return false;
    }
    *out = t;
    return true;
}

static bool parse_u64(const char *v, uint64_t *out)
{
    char *end;
    if (!*v || *v == '-') return false;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 0);
    if (errno || *end) return false;
    *out = x;
    return true;
}

/* Option scanner: "--name value" or "--name=value". */
struct opts {
    const char *model, *quant, *layers, *seed, *out, *positional;
};

static int scan(const char *sub, int argc, char **argv, struct opts *o, const char *accepted,
                bool allow_positional)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        char name[32];
        if (a[0] != '-' || !a[1]) {
            if (!allow_positional || o->positional)
                return usage(sub, "unexpected argument '%s' (options: %s)", a, accepted);
            o->positional = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        if (n >= sizeof name) return usage(sub, "unknown option '%s' (accepted: %s)", a, accepted);
        memcpy(name, a, n);
        name[n] = '\0';
        const char **slot = NULL;
        if (!strcmp(name, "--model") && strstr(accepted, "--model")) slot = &o->model;
        else if (!strcmp(name, "--quant")) slot = &o->quant;
        else if (!strcmp(name, "--layers")) slot = &o->layers;
        else if (!strcmp(name, "--seed") && strstr(accepted, "--seed")) slot = &o->seed;
        else if ((!strcmp(name, "-o") || !strcmp(name, "--output")) && strstr(accepted, "-o")) slot = &o->out;
        else return usage(sub, "unknown option '%s' (accepted: %s)", name, accepted);
        if (eq) val = eq + 1;
        else if (i + 1 < argc) val = argv[++i];
        else return usage(sub, "option %s needs a value (options: %s)", name, accepted);
        *slot = val;
    }
    return 0;
}

static bool is_gguf_path(const char *s)
{
    size_t n = strlen(s);
    struct stat sb;
    if (n >= 5 && !strcmp(s + n - 5, ".gguf")) return true;
    return strchr(s, '/') && !(n >= 5 && !strcmp(s + n - 5, ".json")) && stat(s, &sb) == 0 &&
           S_ISREG(sb.st_mode);
}

/* --layers N: 1 .. the profile's layer count */
static bool parse_layers(const char *sub, const char *v, int64_t n_layer, int *out, int *rc)
{
    uint64_t x;
    char lim[32];
    snprintf(lim, sizeof lim, "%" PRId64, n_layer);
    if (!parse_u64(v, &x) || x < 1 || x > (uint64_t)n_layer) {
        *rc = usage(sub, "bad --layers '%s' (accepted: 1 .. %s, the profile's layer count)", v, lim);
        return false;
    }
    *out = (int)x;
    return true;
}

/* ---- synth -------------------------------------------------------------------- */

static int cmd_synth(int argc, char **argv)
{
    const char *sub = "synth";
    const char *acc = "--model PROFILE, --quant TYPE, --layers N, --seed S, -o FILE.gguf";
    struct opts o;
    int rc = scan(sub, argc, argv, &o, acc, false);
    if (rc) return rc;
    if (!o.model) return usage(sub, "missing --model PROFILE (a name from profiles/models, or a .json path)");
    if (!o.quant) return usage(sub, "missing --quant TYPE (accepted: %s)", accepted_quants());
    if (!o.out) return usage(sub, "missing -o FILE.gguf (where to write the model)");
    enum lb_qtype qt;
    if (!parse_quant(sub, o.quant, &qt, &rc)) return rc;
    uint64_t seed = 1;
    if (o.seed && !parse_u64(o.seed, &seed))
        return usage(sub, "bad --seed '%s' (accepted: an unsigned integer)", o.seed);

    struct lb_model_profile *p = malloc(sizeof *p);
    struct lb_error err = {0};
    if (!p) return LB_EXIT_FAILED;
    if (lb_model_profile_load(o.model, p, &err)) {
        free(p);
        return usage(sub, "--model: %s", err.msg);
    }
    int layers = 0;
    if (o.layers && !parse_layers(sub, o.layers, p->n_layer, &layers, &rc)) {
        free(p);
        return rc;
    }
    /* keep the first N layers: the same tensors as lb_model_synth with
     * n_layer_max N (seeds are per tensor name) */
    if (layers > 0) {
        p->n_layer = layers;
        if (p->moe.present) {
            p->moe.n_dense_layers = 0;
            for (int il = 0; il < layers; il++) p->moe.n_dense_layers += p->layer_dense[il];
        }
        lb_model_param_counts(p, &p->params);
    }
    struct lb_quant_mix mix;
    lb_quant_mix_pure(&mix, qt);
    enum lb_status st = lb_model_synth_write(p, &mix, seed, o.out, &err);
    if (st) {
        fprintf(stderr, "llmbench: model synth: %s\n", err.msg);
        free(p);
        return st == LB_EINVAL || st == LB_EIO || st == LB_EUNSUPPORTED ? LB_EXIT_USAGE : LB_EXIT_FAILED;
    }
    struct lb_model *plan = NULL;
    if (!lb_model_plan(p, &mix, 0, &plan, &err)) {
        printf("wrote %s: %s, %s, %" PRId64 " layers, %" PRId64 " tensors, %.1f MiB of weights, seed %" PRIu64 "\n",
               o.out, p->name, plan->quant, plan->hp.n_layer, plan->n_tensors,
               (double)plan->weight_bytes / MIB, seed);
        lb_model_free(plan);
    }
    free(p);
    return LB_EXIT_OK;
}

/* ---- info ------------------------------------------------------------------------ */

static void print_info(const struct lb_model *m)
{
    const struct lb_model_profile *p = &m->hp;
    const struct lb_model_impl *im = m->impl;
    printf("source:          %s\n", m->source);
    printf("name:            %s\n", p->name);
    printf("architecture:    %s\n", p->arch_name);
    printf("layers:          %" PRId64 "\n", p->n_layer);
    printf("n_embd:          %" PRId64 "\n", p->n_embd);
    printf("heads:           %" PRId64 " q, %" PRId64 " kv, head_dim %" PRId64 "\n", p->n_head,
           p->n_head_kv, p->head_dim);
    printf("n_ff:            %" PRId64 "\n", p->n_ff);
    if (p->moe.present)
        printf("experts:         %" PRId64 ", %" PRId64 " used, n_ff_expert %" PRId64 ", %s\n",
               p->moe.n_expert, p->moe.n_expert_used, p->moe.n_ff_expert,
               lb_model_gating_name(p->moe.gating));
    else
        printf("experts:         none\n");
    printf("vocab_size:      %" PRId64 "\n", p->vocab_size);
    printf("context_length:  %" PRId64 "\n", p->context_length);
    printf("rope:            %s, base %g, scaling %s%s\n", lb_model_rope_type_name(p->rope.type),
           p->rope.freq_base, lb_model_rope_scaling_name(p->rope.scaling),
           m->rope_freqs ? " (rope_freqs factors)" : "");
    printf("norm_eps:        %g\n", p->norm_eps);
    printf("features:        %s%s%s%s\n", p->qkv_bias ? "qkv_bias " : "", p->qk_norm ? "qk_norm " : "",
           p->tied_embeddings ? "tied_embeddings" : "untied_embeddings",
           p->attn.sinks ? " sinks" : "");
    printf("quant:           %s\n", m->quant);
    /* tensors per type */
    int64_t count[LB_QTYPE_COUNT] = {0};
    if (im && im->gguf) {
        for (int64_t i = 0; i < lb_gguf_n_tensors(im->gguf); i++) count[lb_gguf_tensor(im->gguf, i)->type]++;
    } else if (im) {
        for (int i = 0; i < im->layout.n; i++) count[im->layout.t[i].slot->type]++;
    }
    printf("tensors:         %" PRId64 " (", m->n_tensors);
    for (int t = 0, first = 1; t < LB_QTYPE_COUNT; t++)
        if (count[t]) {
            printf("%s%s x %" PRId64, first ? "" : ", ", lb_qtype_name((enum lb_qtype)t), count[t]);
            first = 0;
        }
    printf(")\n");
    printf("params:          %" PRId64 " total, %" PRId64 " active\n", p->params.total, p->params.active);
    printf("weight_bytes:    %zu (%.1f MiB)\n", m->weight_bytes, (double)m->weight_bytes / MIB);
    double bpt = lb_model_bytes_per_token(m);
    printf("bytes_per_token: %.0f (%.1f MiB)\n", bpt, bpt / MIB);
    struct lb_error err = {0};
    if (lb_model_check_supported(m, &err)) printf("engine:          not supported: %s\n", err.msg);
    else printf("engine:          supported\n");
}

static int cmd_info(int argc, char **argv)
{
    const char *sub = "info";
    const char *acc = "FILE.gguf or PROFILE, --quant TYPE, --layers N";
    struct opts o;
    int rc = scan(sub, argc, argv, &o, acc, true);
    if (rc) return rc;
    if (!o.positional) return usage(sub, "missing FILE.gguf or PROFILE (a name from profiles/models)");
    struct lb_error err = {0};
    struct lb_model *m = NULL;
    if (is_gguf_path(o.positional)) {
        if (o.quant || o.layers)
            return usage(sub, "--quant and --layers apply to a profile, not to the GGUF file %s", o.positional);
        enum lb_status st = lb_model_load_gguf(o.positional, &m, &err);
        if (st) {
            fprintf(stderr, "llmbench: model info: %s\n", err.msg);
            return st == LB_ENOMEM ? LB_EXIT_FAILED : LB_EXIT_USAGE;
        }
    } else {
        enum lb_qtype qt = LB_QTYPE_Q4_0; /* the size people usually ask about */
        if (o.quant && !parse_quant(sub, o.quant, &qt, &rc)) return rc;
        struct lb_model_profile *p = malloc(sizeof *p);
        if (!p) return LB_EXIT_FAILED;
        if (lb_model_profile_load(o.positional, p, &err)) {
            free(p);
            return usage(sub, "%s", err.msg);
        }
        int layers = 0;
        if (o.layers && !parse_layers(sub, o.layers, p->n_layer, &layers, &rc)) {
            free(p);
            return rc;
        }
        struct lb_quant_mix mix;
        lb_quant_mix_pure(&mix, qt);
        enum lb_status st = lb_model_plan(p, &mix, layers, &m, &err);
        free(p);
        if (st) {
            fprintf(stderr, "llmbench: model info: %s\n", err.msg);
            return LB_EXIT_USAGE;
        }
        snprintf(m->source, sizeof m->source, "profile %s at %s (sized, not allocated)", m->hp.name,
                 lb_qtype_name(qt));
    }
    print_info(m);
    lb_model_free(m);
    return LB_EXIT_OK;
}

static void help(FILE *f)
{
    fprintf(f,
            "usage: llmbench model COMMAND ...\n"
            "  synth --model PROFILE --quant TYPE [--layers N] [--seed S] -o FILE.gguf\n"
            "        write a GGUF with random weights in the profile's shape (pure mix:\n"
            "        every matrix in TYPE, norms and router f32; docs/synth.md)\n"
            "  info FILE.gguf|PROFILE [--quant TYPE] [--layers N]\n"
            "        architecture, shape, tensors, weight bytes and bytes per token\n"
            "  generate --model M --tokens IDS --n N [--logits FILE] ...\n"
            "        greedy decode; last stdout line: the generated ids (`model generate --help`)\n"
            "  help           this text\n"
            "TYPE: %s\n",
            accepted_quants());
}

int lb_cmd_model(int argc, char **argv)
{
    if (argc < 1) {
        help(stderr);
        return LB_EXIT_USAGE;
    }
    const char *sub = argv[0];
    if (!strcmp(sub, "synth")) return cmd_synth(argc - 1, argv + 1);
    if (!strcmp(sub, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(sub, "help") || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        help(stdout);
        return LB_EXIT_OK;
    }
    if (!strcmp(sub, "generate")) return lb_cmd_model_generate(argc - 1, argv + 1);
    return usage(NULL, "unknown command '%s' (accepted: synth, info, generate, help)", sub);
}
