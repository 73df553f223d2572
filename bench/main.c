/* main.c: the `llmbench` command line. The only place that calls exit():
 * status 0 = success, 1 = a measured case failed (validation mismatch,
 * allocation failure), 2 = bad input (flag, value, file), with one line on
 * stderr naming what was wrong and what is accepted.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../kernels/lb-quant.h"
#include "build-info.h"
#include "lb-cmd.h"
#include "lb-run.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: llmbench <command> [options]\n"
    "\n"
    "commands:\n"
    "  run       measure a suite on this machine and write a JSON report\n"
    "  hw        describe this machine (--json for the report's hw section)\n"
    "  suites    list the suites and their benchmarks\n"
    "  model     synthesize, inspect and run models (`llmbench model help`)\n"
    "  report    render reports as md, csv, html (`llmbench report help`)\n"
    "  compare   compare two reports; exit 1 on a regression (`llmbench compare help`)\n"
    "  version   print version and build\n"
    "  help      this text\n"
    "\n"
    "run options:\n"
    "  --suite NAME          suite to run (default: default; see `llmbench suites`)\n"
    "  --bench LIST          only these benchmarks of the suite, e.g. tg (see `llmbench suites`)\n"
    "  --threads LIST        thread counts, e.g. 1,2 or 1-16*2 (default: 1,2,4.. and all cores)\n"
    "  --pin MODE            compact | spread | none (default: compact)\n"
    "  --cpus LIST           explicit OS cpu list for workers, e.g. 0,2,4-7\n"
    "  --numa NODE           run on NUMA node NODE and bind memory there\n"
    "  --size LIST           bytes per buffer: 64M,1G or 1M-1G*4 (suffixes K M G T, binary)\n"
    "  --cache MODE          hot | cold (default: hot)\n"
    "  --quant LIST          weight formats, e.g. q4_0,q4_k,q8_0 (suites gemv, ...)\n"
    "  --shape LIST          matrix shapes ROWSxCOLS, e.g. 4096x4096,14336x4096\n"
    "  --ref                 also run the scalar reference path of each kernel\n"
    "  --model LIST          model profiles (profiles/models) or GGUF files, e.g. llama-3.2-1b\n"
    "  --ctx LIST            context lengths, e.g. 512,4096,32K or 512-128K*4\n"
    "  --kv-type LIST        KV cache formats: f32, f16, bf16, q8_0\n"
    "  --heads LIST          attention head layouts HEADS/KV_HEADS/HEAD_DIM, e.g. 32/8/128\n"
    "  --dist LIST           MoE routing distributions: uniform, zipf, hot\n"
    "  --ntok LIST           tokens per batch, e.g. 1,8,64\n"
    "  --split LIST          MoE work split: auto, rows, experts\n"
    "  --quant-down LIST     MoE: format of the down matrices (default: --quant), e.g. q6_k\n"
    "  --depth LIST          decode: context depth filled before measuring, e.g. 0,4096\n"
    "  --n-gen LIST          decode: tokens generated per tg cycle (default 128)\n"
    "  --n-prompt LIST       decode: prompt tokens of pp and ttft (default 512)\n"
    "  --kv-fill MODE        decode: synthetic | prefill (how the depth is filled)\n"
    "  --isa LEVEL           cap code paths: scalar | avx2 | avx512 (default: best available)\n"
    "  --budget SECONDS      time budget for the whole run\n"
    "  --case-budget SECONDS time budget per case (default: the suite's)\n"
    "  --min-samples N       samples before the stop rule may stop (default 10)\n"
    "  --max-samples N       cap on samples per case (default 1000)\n"
    "  --target-ci PCT       stop when the median's 95%% CI half-width is within PCT%% (default 1)\n"
    "  --seed N              seed of the case order shuffle (default: from the clock)\n"
    "  --reuse-ceilings      quote against the cached ceilings of an earlier run instead of\n"
    "                        measuring them in this one (faster; only on a quiet machine)\n"
    "  --remeasure-ceilings  measure the ceilings in this run (the default; kept for scripts)\n"
    "  --paired-ceiling      also quote each case against read probes taken between its\n"
    "                        samples (pct_of_ceiling_paired): for machines whose bandwidth\n"
    "                        moves during a run; costs up to ~20%% more time\n"
    "  -o, --output FILE     report path (default: llmbench-results/<suite>-<time>.json)\n"
    "  -q, --quiet           no per-case progress lines\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "llmbench: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return EXIT_USAGE;
}

static int fail_status(const struct lb_error *err, enum lb_status st)
{
    fprintf(stderr, "llmbench: %s\n", err->msg[0] ? err->msg : lb_status_name(st));
    return st == LB_EINVAL ? EXIT_USAGE : EXIT_FAILED;
}

static int cmd_hw(int argc, char **argv)
{
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = true;
        else return usage_error("hw: unknown option '%s' (accepted: --json)", argv[i]);
    }
    struct lb_error err = {0};
    struct lb_hw *hw;
    enum lb_status st = lb_hw_discover(&hw, &err);
    if (st) return fail_status(&err, st);
    if (json) {
        cJSON *j = lb_hw_to_json(hw);
        char *s = cJSON_Print(j);
        puts(s ? s : "{}");
        free(s);
        cJSON_Delete(j);
    } else {
        lb_hw_print(stdout, hw);
    }
    lb_hw_free(hw);
    return 0;
}

static int cmd_suites(void)
{
    for (size_t i = 0; lb_suites[i]; i++) {
        const struct lb_suite *s = lb_suites[i];
        printf("%-10s %s\n", s->name, s->description);
        for (size_t b = 0; b < s->n_benches; b++)
            printf("    %-14s %s\n", s->benches[b]->name, s->benches[b]->description);
    }
    return 0;
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v >= lo && v <= hi)) return false;
    *out = v;
    return true;
}

static bool parse_ull(const char *s, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (*s == '-') return false;
    unsigned long long v = strtoull(s, &end, 0);
    if (end == s || *end || errno) return false;
    *out = v;
    return true;
}

static int cmd_run(int argc, char **argv, int full_argc, char **full_argv)
{
    struct lb_run_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.suite = &lb_suite_default;
    cfg.pin = LB_PIN_COMPACT;
    cfg.numa_node = -1;
    cfg.cache = LB_CACHE_HOT;
    lb_measure_config_default(&cfg.measure);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    cfg.seed = (unsigned long long)ts.tv_sec * 1000003ull ^ (unsigned long long)ts.tv_nsec;
    cfg.argc = full_argc;
    cfg.argv = full_argv;
    bool isa_given = false;
    struct lb_error err = {0};
    enum lb_status st;

    for (int i = 0; i < argc; i++) {
        char *arg = argv[i], *val = NULL, name[64];
        char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
        if (eq) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - arg), arg);
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", arg);
        }
        /* flags without a value */
        if (!strcmp(name, "--remeasure-ceilings")) { cfg.reuse_ceilings = false; continue; }
        if (!strcmp(name, "--reuse-ceilings")) { cfg.reuse_ceilings = true; continue; }
        if (!strcmp(name, "--paired-ceiling")) { cfg.paired_ceiling = true; continue; }
        if (!strcmp(name, "-q") || !strcmp(name, "--quiet")) { cfg.quiet = true; continue; }
        if (!strcmp(name, "--ref")) {
            struct lb_text_list impl = {.n = 2};
            snprintf(impl.v[0], sizeof impl.v[0], "best");
            snprintf(impl.v[1], sizeof impl.v[1], "ref");
            lb_axes_set_text(&cfg.axes, "impl", &impl);
            continue;
        }
        static const char *const with_value[] = {
            "--suite", "--threads", "--pin", "--cpus", "--numa", "--size", "--cache", "--isa",
            "--budget", "--case-budget", "--min-samples", "--max-samples", "--target-ci",
            "--seed", "-o", "--output", "--quant", "--shape", "--model", "--ctx", "--kv-type",
            "--heads", "--dist", "--ntok", "--split", "--quant-down", "--bench", "--depth", "--n-gen", "--n-prompt", "--kv-fill",
        };
        bool known = false;
        for (size_t k = 0; k < LB_ARRAY_LEN(with_value); k++) known |= !strcmp(name, with_value[k]);
        if (!known)
            return usage_error("run: unknown option '%s'; see `llmbench help` for the accepted ones",
                               arg);
        if (!val) {
            if (i + 1 >= argc) return usage_error("run: %s needs a value", name);
            val = argv[++i];
        }
        if (!strcmp(name, "--suite")) {
            cfg.suite = lb_suite_find(val);
            if (!cfg.suite) {
                char names[256] = "";
                for (size_t k = 0; lb_suites[k]; k++) {
                    strncat(names, k ? ", " : "", sizeof names - strlen(names) - 1);
                    strncat(names, lb_suites[k]->name, sizeof names - strlen(names) - 1);
                }
                return usage_error("run: unknown suite '%s' (accepted: %s)", val, names);
            }
        } else if (!strcmp(name, "--bench")) {
            if ((st = lb_text_list_parse(val, name, &cfg.benches, &err))) return fail_status(&err, st);
        } else if (!strcmp(name, "--threads")) {
            if ((st = lb_sweep_parse(val, "--threads", false, true, 1, &cfg.axes.threads, &err)))
                return fail_status(&err, st);
            for (size_t k = 0; k < cfg.axes.threads.n; k++)
                if (cfg.axes.threads.v[k] > 1024)
                    return usage_error("run: --threads %s: at most 1024 threads", val);
            cfg.threads_given = true;
        } else if (!strcmp(name, "--size")) {
            if ((st = lb_sweep_parse(val, "--size", true, true, 1024, &cfg.axes.size_bytes, &err)))
                return fail_status(&err, st);
            cfg.size_given = true;
        } else if (!strcmp(name, "--pin")) {
            if (!lb_pin_parse(val, &cfg.pin))
                return usage_error("run: unknown --pin '%s' (accepted: compact, spread, none)", val);
        } else if (!strcmp(name, "--cpus")) {
            cfg.cpus = val;
        } else if (!strcmp(name, "--numa")) {
            double v;
            if (!parse_double(val, 0, 4095, &v) || v != (int)v)
                return usage_error("run: --numa '%s': expected a NUMA node number (see `llmbench hw`)",
                                   val);
            cfg.numa_node = (int)v;
        } else if (!strcmp(name, "--cache")) {
            if (!strcmp(val, "hot")) cfg.cache = LB_CACHE_HOT;
            else if (!strcmp(val, "cold")) cfg.cache = LB_CACHE_COLD;
            else return usage_error("run: unknown --cache '%s' (accepted: hot, cold)", val);
        } else if (!strcmp(name, "--isa")) {
            if (!lb_isa_parse(val, &cfg.isa))
                return usage_error("run: unknown --isa '%s' (accepted: scalar, avx2, avx512)", val);
            isa_given = true;
        } else if (!strcmp(name, "--budget")) {
            if (!parse_double(val, 0.01, 1e7, &cfg.budget_s))
                return usage_error("run: --budget '%s': expected seconds, e.g. 30 or 0.5", val);
        } else if (!strcmp(name, "--case-budget")) {
            if (!parse_double(val, 0.001, 1e6, &cfg.case_budget_s))
                return usage_error("run: --case-budget '%s': expected seconds, e.g. 2", val);
        } else if (!strcmp(name, "--min-samples") || !strcmp(name, "--max-samples")) {
            double v;
            if (!parse_double(val, 1, 1e7, &v) || v != (double)(size_t)v)
                return usage_error("run: %s '%s': expected a whole number >= 1", name, val);
            if (!strcmp(name, "--min-samples")) cfg.measure.stop.min_samples = (size_t)v;
            else cfg.measure.stop.max_samples = (size_t)v;
        } else if (!strcmp(name, "--target-ci")) {
            double v;
            if (!parse_double(val, 0.001, 100, &v))
                return usage_error("run: --target-ci '%s': expected a percentage in (0, 100]", val);
            cfg.measure.stop.target_ci_rel = v / 100.0;
        } else if (!strcmp(name, "--seed")) {
            if (!parse_ull(val, &cfg.seed))
                return usage_error("run: --seed '%s': expected a non-negative integer", val);
        } else if (!strcmp(name, "--quant")) {
            struct lb_text_list q;
            if ((st = lb_text_list_parse(val, "--quant", &q, &err))) return fail_status(&err, st);
            for (size_t k = 0; k < q.n; k++) {
                enum lb_qtype t;
                if (!lb_qtype_parse(q.v[k], &t) || t == LB_QTYPE_Q8_1 || t == LB_QTYPE_Q8_K) {
                    char names[400] = "";
                    for (int id = 0; id < LB_QTYPE_COUNT; id++) {
                        const struct lb_qtraits *tr = lb_qtraits_get((enum lb_qtype)id);
                        if (!tr || id == LB_QTYPE_Q8_1 || id == LB_QTYPE_Q8_K) continue;
                        strncat(names, names[0] ? ", " : "", sizeof names - strlen(names) - 1);
                        strncat(names, tr->name, sizeof names - strlen(names) - 1);
                    }
                    return usage_error("run: unknown --quant '%s' (accepted: %s)", q.v[k], names);
                }
                snprintf(q.v[k], sizeof q.v[k], "%s", lb_qtype_name(t)); /* canonical */
            }
            lb_axes_set_text(&cfg.axes, "quant", &q);
        } else if (!strcmp(name, "--shape")) {
            struct lb_text_list sh;
            if ((st = lb_text_list_parse(val, "--shape", &sh, &err))) return fail_status(&err, st);
            for (size_t k = 0; k < sh.n; k++) {
                long long r = 0, c = 0;
                char tail;
                if (sscanf(sh.v[k], "%lldx%lld%c", &r, &c, &tail) != 2 || r < 1 || c < 1 ||
                    r > (1ll << 31) || c > (1ll << 31))
                    return usage_error("run: --shape '%s': expected ROWSxCOLS with positive whole "
                                       "numbers, e.g. 4096x14336", sh.v[k]);
            }
            lb_axes_set_text(&cfg.axes, "shape", &sh);
        } else if (!strcmp(name, "--ctx") || !strcmp(name, "--ntok") || !strcmp(name, "--depth") ||
                   !strcmp(name, "--n-gen") || !strcmp(name, "--n-prompt")) {
            /* numeric text axes: sweeps with K suffixes, stored as integers */
            struct lb_sweep sw;
            struct lb_text_list tl = {0};
            char axis[32];
            /* --depth takes 0 (an empty context); the others count from 1 */
            double lo = strcmp(name, "--depth") ? 1 : 0;
            if ((st = lb_sweep_parse(val, name, true, true, lo, &sw, &err))) return fail_status(&err, st);
            if (sw.n > LB_ARRAY_LEN(tl.v))
                return usage_error("run: %s '%s': at most %zu values", name, val, LB_ARRAY_LEN(tl.v));
            for (size_t k = 0; k < sw.n; k++) snprintf(tl.v[tl.n++], sizeof tl.v[0], "%.0f", sw.v[k]);
            snprintf(axis, sizeof axis, "%s", name + 2);
            for (char *c = axis; *c; c++)
                if (*c == '-') *c = '_';
            lb_axes_set_text(&cfg.axes, axis, &tl);
        } else if (!strcmp(name, "--model") || !strcmp(name, "--kv-type") ||
                   !strcmp(name, "--heads") || !strcmp(name, "--dist") || !strcmp(name, "--split") ||
                   !strcmp(name, "--kv-fill") || !strcmp(name, "--quant-down")) {
            /* text axes checked by the suite (check_axes) before measuring */
            struct lb_text_list tl;
            char axis[32];
            if ((st = lb_text_list_parse(val, name, &tl, &err))) return fail_status(&err, st);
            snprintf(axis, sizeof axis, "%s", name + 2);
            for (char *c = axis; *c; c++)
                if (*c == '-') *c = '_';
            lb_axes_set_text(&cfg.axes, axis, &tl);
        } else if (!strcmp(name, "-o") || !strcmp(name, "--output")) {
            cfg.output_path = val;
        }
    }
    if (cfg.measure.stop.min_samples > cfg.measure.stop.max_samples)
        return usage_error("run: --min-samples is above --max-samples");
    for (size_t i = 0; i < cfg.benches.n; i++) {
        bool found = false;
        char names[512] = "";
        for (size_t b = 0; b < cfg.suite->n_benches; b++) {
            found |= !strcmp(cfg.benches.v[i], cfg.suite->benches[b]->name);
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", b ? ", " : "",
                     cfg.suite->benches[b]->name);
        }
        if (!found)
            return usage_error("run: --bench '%s' is not in suite %s (accepted: %s)", cfg.benches.v[i],
                               cfg.suite->name, names);
    }

    struct lb_hw *hw;
    if ((st = lb_hw_discover(&hw, &err))) return fail_status(&err, st);
    enum lb_isa best = lb_isa_best(&hw->features);
    if (!isa_given) {
        cfg.isa = best;
    } else if (cfg.isa > best) {
        lb_hw_free(hw);
        return usage_error("run: --isa %s is not supported by this CPU (best: %s)",
                           lb_isa_name(cfg.isa), lb_isa_name(best));
    }

    char default_path[256];
    if (!cfg.output_path) {
        char stamp[32];
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        if (mkdir("llmbench-results", 0755) != 0 && errno != EEXIST) {
            lb_hw_free(hw);
            return usage_error("run: cannot create llmbench-results/: %s (use -o FILE)",
                               strerror(errno));
        }
        snprintf(default_path, sizeof default_path, "llmbench-results/%s-%s.json",
                 cfg.suite->name, stamp);
        cfg.output_path = default_path;
    }

    st = lb_run(&cfg, hw, &err);
    lb_hw_free(hw);
    if (st) return fail_status(&err, st);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("llmbench %s (%s%s) %s %s, %s\n", LB_VERSION, LB_GIT_COMMIT,
               LB_GIT_DIRTY ? "-dirty" : "", LB_BUILD_TYPE, LB_C_COMPILER, LB_C_FLAGS);
        return 0;
    }
    if (!strcmp(cmd, "run")) return cmd_run(argc - 2, argv + 2, argc, argv);
    if (!strcmp(cmd, "hw")) return cmd_hw(argc - 2, argv + 2);
    if (!strcmp(cmd, "suites")) {
        if (argc > 2) return usage_error("suites: unexpected argument '%s'", argv[2]);
        return cmd_suites();
    }
    if (!strcmp(cmd, "model")) return lb_cmd_model(argc - 2, argv + 2);
    if (!strcmp(cmd, "report")) return lb_cmd_report(argc - 2, argv + 2);
    if (!strcmp(cmd, "compare")) return lb_cmd_compare(argc - 2, argv + 2);
    return usage_error("unknown command '%s' (accepted: run, hw, suites, model, report, compare, "
                       "version, help)", cmd);
}
