/* cmd-generate.c: `llmbench model generate`: greedy decoding from a list
 * of prompt token ids, so other tools (llama.cpp, a Python reference) can
 * cross-check the engine on the same GGUF file:
 *
 *   llmbench model generate --model M --tokens 1,5,9 --n 16 [--logits FILE]
 *
 * The last stdout line is the generated ids, comma-separated ("12,7,99");
 * progress and timing go to stderr so that line is easy to take. --logits
 * writes the logits of the last step (the ones the last generated token
 * was the argmax of) as vocab_size raw little-endian float32 values,
 * atomically. M is a GGUF file or a profile name (synthesized with --quant
 * and --seed, as `model synth` would write it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../hw/lb-pool.h"
#include "../reports/lb-report.h"
#include "lb-cmd.h"
#include "lb-engine.h"
#include "lb-harness.h"
#include "lb-model.h"

#define MAX_PROMPT 4096

static const char generate_help[] =
    "usage: llmbench model generate --model M --tokens IDS --n N [options]\n"
    "  --model M       GGUF file, or a profile name (synthesized with --quant, --seed)\n"
    "  --tokens IDS    prompt token ids, comma-separated, e.g. 1,5,9\n"
    "  --n N           tokens to generate (greedy), >= 1\n"
    "  --logits FILE   write the last step's logits (raw little-endian float32)\n"
    "  --quant TYPE    weight format of a synthesized model (default q4_0)\n"
    "  --seed S        seed of a synthesized model (default 1, as `model synth`)\n"
    "  --threads N     worker threads (default: all cores)\n"
    "  --kv-type T     KV cache type: f32, f16 (default), bf16, q8_0\n"
    "  --isa LEVEL     cap code paths: scalar | avx2 | avx512\n"
    "The last stdout line is the generated ids, comma-separated.\n";

static int gen_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int gen_usage(const char *fmt, ...)
{
    va_list ap;
    fputs("llmbench: model generate: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return LB_EXIT_USAGE;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static int parse_tokens(const char *s, int32_t *out, int *n)
{
    *n = 0;
    const char *p = s;
    for (;;) {
        char item[32];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof item) return -1;
        memcpy(item, p, len);
        item[len] = '\0';
        long v;
        if (!parse_long(item, 0, INT32_MAX, &v) || *n >= MAX_PROMPT) return -1;
        out[(*n)++] = (int32_t)v;
        if (!p[len]) return 0;
        p += len + 1;
    }
}

int lb_cmd_model_generate(int argc, char **argv)
{
    const char *model = NULL, *tokens = NULL, *logits_path = NULL, *quant = "q4_0";
    const char *kvname = "f16", *isaname = NULL;
    long n_gen = -1, seed = 1, threads = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "help") || !strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(generate_help, stdout);
            return LB_EXIT_OK;
        }
        if (i + 1 >= argc) return gen_usage("'%s' needs a value or is unknown (see `llmbench model generate --help`)", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--tokens")) tokens = v;
        else if (!strcmp(a, "--logits")) logits_path = v;
        else if (!strcmp(a, "--quant")) quant = v;
        else if (!strcmp(a, "--kv-type")) kvname = v;
        else if (!strcmp(a, "--isa")) isaname = v;
        else if (!strcmp(a, "--n")) {
            if (!parse_long(v, 1, 1 << 20, &n_gen)) return gen_usage("--n '%s': expected 1 to 1048576 tokens", v);
        } else if (!strcmp(a, "--seed")) {
            if (!parse_long(v, 0, LONG_MAX, &seed)) return gen_usage("--seed '%s': expected a non-negative integer", v);
        } else if (!strcmp(a, "--threads")) {
            if (!parse_long(v, 1, 1024, &threads)) return gen_usage("--threads '%s': expected 1 to 1024", v);
        } else {
            return gen_usage("unknown option '%s' (accepted: --model, --tokens, --n, --logits, --quant, "
                             "--seed, --threads, --kv-type, --isa)", a);
        }
    }
    if (!model) return gen_usage("--model is required (a GGUF file or a profile name)");
    if (!tokens) return gen_usage("--tokens is required, e.g. --tokens 1,5,9");
    if (n_gen < 0) return gen_usage("--n is required, e.g. --n 16");

    static int32_t prompt[MAX_PROMPT];
    int n_prompt = 0;
    if (parse_tokens(tokens, prompt, &n_prompt) != 0)
        return gen_usage("--tokens '%s': expected 1 to %d comma-separated token ids >= 0", tokens, MAX_PROMPT);
    enum lb_qtype qt, kv;
    if (!lb_qtype_parse(quant, &qt) || !lb_qtraits_get(qt) || qt == LB_QTYPE_Q8_1 || qt == LB_QTYPE_Q8_K)
        return gen_usage("--quant '%s': accepted weight formats are f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, "
                         "q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs, mxfp4", quant);
    if (!lb_qtype_parse(kvname, &kv) ||
        (kv != LB_QTYPE_F32 && kv != LB_QTYPE_F16 && kv != LB_QTYPE_BF16 && kv != LB_QTYPE_Q8_0))
        return gen_usage("--kv-type '%s': accepted cache types are f32, f16, bf16, q8_0", kvname);

    struct lb_error err = {0};
    struct lb_hw *hw = NULL;
    struct lb_pool *pool = NULL;
    struct lb_model *m = NULL;
    struct lb_engine *e = NULL;
    struct lb_outfile out = {.fd = -1};
    int rc = LB_EXIT_FAILED;
    enum lb_status st;

    if ((st = lb_hw_discover(&hw, &err)) != LB_OK) goto fail;
    enum lb_isa isa = lb_isa_best(&hw->features);
    if (isaname) {
        enum lb_isa want;
        if (!lb_isa_parse(isaname, &want)) {
            rc = gen_usage("--isa '%s': accepted: scalar, avx2, avx512", isaname);
            goto done;
        }
        if (want > isa) {
            rc = gen_usage("--isa %s is not supported by this CPU (best: %s)", isaname, lb_isa_name(isa));
            goto done;
        }
        isa = want;
    }
    /* reserve the logits file first: a bad path fails before the work */
    if (logits_path && (st = lb_outfile_open(&out, logits_path, &err)) != LB_OK) goto fail;

    struct lb_quant_mix mix;
    lb_quant_mix_pure(&mix, qt);
    if ((st = lb_model_open(model, &mix, (uint64_t)seed, &m, &err)) != LB_OK) goto fail;
    for (int i = 0; i < n_prompt; i++) {
        if (prompt[i] >= m->hp.vocab_size) {
            rc = gen_usage("--tokens: id %d is outside the vocabulary [0, %lld) of %s", prompt[i],
                           (long long)m->hp.vocab_size, m->hp.name);
            goto done;
        }
    }
    struct lb_pool_config pc = {.n_threads = threads > 0 ? (int)threads : (hw->n_cores > 0 ? hw->n_cores : 1),
                                .pin = LB_PIN_COMPACT, .numa_node = -1};
    if ((st = lb_pool_create(hw, &pc, &pool, &err)) != LB_OK) goto fail;
    struct lb_engine_config ec = {.n_ctx = n_prompt + (int)n_gen, .kv_type = kv, .isa = isa,
                                  .feat = &hw->features};
    if ((st = lb_engine_create(m, &ec, pool, &e, &err)) != LB_OK) goto fail;

    int32_t *gen = malloc((size_t)n_gen * sizeof *gen);
    if (!gen) {
        st = lb_error_set(&err, LB_ENOMEM, "out of memory");
        goto fail;
    }
    const float *logits = NULL;
    double t0 = lb_now_s();
    st = lb_engine_eval(e, prompt, n_prompt, &logits, &err);
    double t1 = lb_now_s();
    for (long i = 0; st == LB_OK && i < n_gen; i++) {
        gen[i] = lb_engine_argmax(logits, m->hp.vocab_size);
        if (i + 1 < n_gen) st = lb_engine_eval(e, &gen[i], 1, &logits, &err);
    }
    double t2 = lb_now_s();
    if (st != LB_OK) {
        free(gen);
        goto fail;
    }
    fprintf(stderr, "%s (%s, %s): prompt %d tokens in %.3f s, %ld tokens in %.3f s (%.2f tok/s), %d threads, %s\n",
            m->hp.name, m->quant, m->source, n_prompt, t1 - t0, n_gen, t2 - t1,
            n_gen > 1 ? (double)(n_gen - 1) / (t2 - t1) : 0.0, lb_pool_size(pool), lb_engine_path(e));
    if (logits_path) {
        /* x86-64 and every host the GGUF reader accepts are little-endian */
        if ((st = lb_outfile_commit_bytes(&out, logits, (size_t)m->hp.vocab_size * sizeof(float), &err)) != LB_OK) {
            free(gen);
            goto fail;
        }
        fprintf(stderr, "logits: %s (%lld float32)\n", logits_path, (long long)m->hp.vocab_size);
    }
    for (long i = 0; i < n_gen; i++) printf(i ? ",%d" : "%d", gen[i]);
    printf("\n");
    free(gen);
    rc = LB_EXIT_OK;
    goto done;
fail:
    fprintf(stderr, "llmbench: model generate: %s\n", err.msg[0] ? err.msg : lb_status_name(st));
    rc = (st == LB_EINVAL || st == LB_EUNSUPPORTED || st == LB_EIO) ? LB_EXIT_USAGE : LB_EXIT_FAILED;
done:
    lb_outfile_abort(&out);
    lb_engine_destroy(e);
    lb_model_free(m);
    lb_pool_destroy(pool);
    lb_hw_free(hw);
    return rc;
}
