/* hw-json.c: struct lb_hw as the report's "hw" object, and as the text of
 * `llmbench hw`.
 *
 * The JSON is the source of truth (DESIGN.md), so it carries everything
 * discovery found, including the reasons for what is missing; the text is
 * a readable summary of the same. Sizes are bytes in JSON and binary units
 * (KiB/MiB/GiB) in text. Feature names come from one table so JSON keys,
 * text and tests agree (STYLE.md #1).
 */
#include "lb-hw.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Every struct lb_cpu_features flag by its report name. Names follow the
 * Linux /proc/cpuinfo spelling where one exists (avx512_vnni, avx512f). */
static const struct {
    const char *name;
    size_t offset;
} feature_table[] = {
#define F(field) {#field, offsetof(struct lb_cpu_features, field)}
    F(sse42),        F(avx),         F(f16c),           F(fma),
    F(avx2),         F(avx_vnni),    F(avx512f),        F(avx512bw),
    F(avx512vl),     F(avx512dq),    F(avx512cd),       F(avx512_vnni),
    F(avx512_bf16),  F(avx512_vbmi), F(avx512_ifma),    F(avx512_vpopcntdq),
    F(avx512_fp16),  F(amx_tile),    F(amx_int8),       F(amx_bf16),
    F(os_avx),       F(os_avx512),   F(os_amx),
#undef F
};

static bool feature_get(const struct lb_cpu_features *f, size_t i)
{
    bool v;
    memcpy(&v, (const char *)f + feature_table[i].offset, sizeof v);
    return v;
}

/* ---- JSON ------------------------------------------------------------- */

/* cJSON's Add* return NULL on allocation failure; one flag per object
 * tree keeps the build-up readable and still catches every failure. */
struct jb {
    bool ok;
};

static cJSON *jadd(struct jb *b, cJSON *parent, const char *key, cJSON *item)
{
    if (!item) {
        b->ok = false;
        return NULL;
    }
    if (!parent) {
        cJSON_Delete(item);
        b->ok = false;
        return NULL;
    }
    if (key) {
        if (!cJSON_AddItemToObject(parent, key, item)) {
            cJSON_Delete(item);
            b->ok = false;
            return NULL;
        }
    } else if (!cJSON_AddItemToArray(parent, item)) {
        cJSON_Delete(item);
        b->ok = false;
        return NULL;
    }
    return item;
}

static void jnum(struct jb *b, cJSON *o, const char *key, double v)
{
    jadd(b, o, key, cJSON_CreateNumber(v));
}
static void jstr(struct jb *b, cJSON *o, const char *key, const char *s)
{
    jadd(b, o, key, cJSON_CreateString(s));
}
static void jbool(struct jb *b, cJSON *o, const char *key, bool v)
{
    jadd(b, o, key, cJSON_CreateBool(v));
}

static void probe_json(struct jb *b, cJSON *parent, const char *key,
                       const struct lb_runtime_probe *p)
{
    cJSON *o = jadd(b, parent, key, cJSON_CreateObject());
    jbool(b, o, "available", p->available);
    jnum(b, o, "n_devices", p->n_devices);
    if (p->reason[0]) jstr(b, o, "reason", p->reason);
    else jadd(b, o, "reason", cJSON_CreateNull());
}

cJSON *lb_env_to_json(const struct lb_env *e)
{
    struct jb b = {true};
    cJSON *env = cJSON_CreateObject();
    if (!env) return NULL;
    jstr(&b, env, "hostname", e->hostname);
    jstr(&b, env, "kernel", e->kernel);
    jstr(&b, env, "governor", e->governor);
    jstr(&b, env, "boost", e->boost);
    jstr(&b, env, "thp", e->thp);
    jstr(&b, env, "virtualization", e->virtualization);
    if (e->mem_speed_mts > 0) jnum(&b, env, "mem_speed_mts", e->mem_speed_mts);
    else jadd(&b, env, "mem_speed_mts", cJSON_CreateNull());
    /* always a string (schema): "" when the speed was read */
    jstr(&b, env, "mem_speed_reason", e->mem_speed_reason);
    jnum(&b, env, "cpu_mhz_max", e->cpu_mhz_max);
    if (!b.ok) {
        cJSON_Delete(env);
        return NULL;
    }
    return env;
}

cJSON *lb_hw_to_json(const struct lb_hw *hw)
{
    struct jb b = {true};
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;

    cJSON *cpu = jadd(&b, root, "cpu", cJSON_CreateObject());
    jstr(&b, cpu, "vendor", hw->cpu_vendor);
    jstr(&b, cpu, "model", hw->cpu_model);
    jnum(&b, cpu, "family", hw->cpu_family);
    jnum(&b, cpu, "model_id", hw->cpu_model_id);
    jnum(&b, cpu, "stepping", hw->cpu_stepping);
    jnum(&b, cpu, "sockets", hw->n_sockets);
    jnum(&b, cpu, "cores", hw->n_cores);
    jnum(&b, cpu, "threads", hw->n_pus);

    cJSON *feat = jadd(&b, root, "features", cJSON_CreateObject());
    for (size_t i = 0; i < LB_ARRAY_LEN(feature_table); i++)
        jbool(&b, feat, feature_table[i].name, feature_get(&hw->features, i));
    jstr(&b, root, "isa_best", lb_isa_name(lb_isa_best(&hw->features)));

    cJSON *numa = jadd(&b, root, "numa", cJSON_CreateArray());
    for (int i = 0; i < hw->n_numa; i++) {
        const struct lb_numa_node *n = &hw->numa[i];
        cJSON *o = jadd(&b, numa, NULL, cJSON_CreateObject());
        jnum(&b, o, "os_index", n->os_index);
        jnum(&b, o, "mem_bytes", (double)n->mem_bytes);
        jstr(&b, o, "cpus", n->cpus);
    }

    cJSON *caches = jadd(&b, root, "caches", cJSON_CreateArray());
    for (int i = 0; i < hw->n_caches; i++) {
        const struct lb_cache *c = &hw->caches[i];
        cJSON *o = jadd(&b, caches, NULL, cJSON_CreateObject());
        jnum(&b, o, "level", c->level);
        jstr(&b, o, "type", c->type);
        jnum(&b, o, "size_bytes", (double)c->size_bytes);
        jnum(&b, o, "line_bytes", c->line_bytes);
        jnum(&b, o, "ways", c->ways);
        jstr(&b, o, "cpus", c->cpus);
    }
    jnum(&b, root, "llc_bytes", (double)hw->llc_bytes);
    jnum(&b, root, "llc_total_bytes", (double)hw->llc_total_bytes);
    jnum(&b, root, "mem_total_bytes", (double)hw->mem_total_bytes);

    cJSON *gpus = jadd(&b, root, "gpus", cJSON_CreateObject());
    probe_json(&b, gpus, "cuda", &hw->cuda);
    probe_json(&b, gpus, "hip", &hw->hip);
    cJSON *devs = jadd(&b, gpus, "devices", cJSON_CreateArray());
    for (int i = 0; i < hw->n_gpus; i++) {
        const struct lb_gpu *g = &hw->gpus[i];
        cJSON *o = jadd(&b, devs, NULL, cJSON_CreateObject());
        jstr(&b, o, "runtime", g->runtime);
        jnum(&b, o, "index", g->index);
        jstr(&b, o, "name", g->name);
        jstr(&b, o, "arch", g->arch);
        jnum(&b, o, "mem_bytes", (double)g->mem_bytes);
        jnum(&b, o, "multiprocessors", g->multiprocessors);
        jnum(&b, o, "clock_khz", g->clock_khz);
        jnum(&b, o, "mem_bus_bits", g->mem_bus_bits);
    }

    cJSON *ctr = jadd(&b, root, "counters", cJSON_CreateObject());
    jbool(&b, ctr, "papi_built", hw->papi_built);
    cJSON *papi = jadd(&b, ctr, "papi", cJSON_CreateObject());
    jbool(&b, papi, "available", hw->papi.available);
    if (hw->papi.reason[0]) jstr(&b, papi, "reason", hw->papi.reason);
    else jadd(&b, papi, "reason", cJSON_CreateNull());
    cJSON *comps = jadd(&b, ctr, "components", cJSON_CreateArray());
    for (int i = 0; i < hw->n_components; i++) {
        const struct lb_counter_component *c = &hw->components[i];
        cJSON *o = jadd(&b, comps, NULL, cJSON_CreateObject());
        jstr(&b, o, "name", c->name);
        jbool(&b, o, "enabled", c->enabled);
        if (c->reason[0]) jstr(&b, o, "reason", c->reason);
        else jadd(&b, o, "reason", cJSON_CreateNull());
    }

    jadd(&b, root, "environment", lb_env_to_json(&hw->env));

    if (!b.ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* ---- text ------------------------------------------------------------- */

/* 49152 -> "48 KiB", 532676608 -> "508 MiB"; one decimal when not whole. */
static const char *fmt_bytes(char *buf, size_t len, unsigned long long v)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double x = (double)v;
    size_t u = 0;
    while (x >= 1024.0 && u + 1 < LB_ARRAY_LEN(units)) {
        x /= 1024.0;
        u++;
    }
    if (x == (double)(unsigned long long)x)
        snprintf(buf, len, "%llu %s", (unsigned long long)x, units[u]);
    else
        snprintf(buf, len, "%.1f %s", x, units[u]);
    return buf;
}

/* Number of cpus in a list "0-3,8,10-11" (7); -1 when it was cut short. */
static int cpulist_count(const char *s)
{
    int n = 0;
    while (*s) {
        char *end;
        long a = strtol(s, &end, 10);
        if (end == s) return -1; /* "..." or "?" */
        long b = a;
        s = end;
        if (*s == '-') {
            b = strtol(s + 1, &end, 10);
            if (end == s + 1) return -1;
            s = end;
        }
        n += (int)(b - a + 1);
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return n;
}

static const char *cache_short(const struct lb_cache *c)
{
    if (strcmp(c->type, "data") == 0) return "d";
    if (strcmp(c->type, "instruction") == 0) return "i";
    return "";
}

/* One line per (level, type, size): "L3: 32 MiB x 1 (shared by cpus 0-15)". */
static void print_caches(FILE *out, const struct lb_hw *hw)
{
    bool done[LB_HW_MAX_CACHES] = {false};
    for (int i = 0; i < hw->n_caches; i++) {
        if (done[i]) continue;
        const struct lb_cache *c = &hw->caches[i];
        int count = 0;
        bool same_share = true;
        int share = cpulist_count(c->cpus);
        for (int j = i; j < hw->n_caches; j++) {
            const struct lb_cache *d = &hw->caches[j];
            if (done[j] || d->level != c->level || strcmp(d->type, c->type) != 0 ||
                d->size_bytes != c->size_bytes)
                continue;
            done[j] = true;
            count++;
            if (cpulist_count(d->cpus) != share) same_share = false;
        }
        char sz[32];
        fprintf(out, "  L%d%s: %s x %d", c->level, cache_short(c),
                fmt_bytes(sz, sizeof sz, c->size_bytes), count);
        if (count == 1)
            fprintf(out, " (shared by cpus %s)", c->cpus);
        else if (same_share && share > 0)
            fprintf(out, " (each shared by %d cpu%s)", share, share == 1 ? "" : "s");
        fprintf(out, ", %d B lines", c->line_bytes);
        if (c->ways > 0) fprintf(out, ", %d-way", c->ways);
        else if (c->ways == -1) fprintf(out, ", fully associative");
        fputc('\n', out);
    }
}

static void print_probe(FILE *out, const char *label, const char *runtime,
                        const struct lb_runtime_probe *p, const struct lb_hw *hw)
{
    if (!p->available) {
        fprintf(out, "  %s: none: %s\n", label, p->reason[0] ? p->reason : "unknown");
        return;
    }
    fprintf(out, "  %s: %d device%s\n", label, p->n_devices, p->n_devices == 1 ? "" : "s");
    for (int i = 0; i < hw->n_gpus; i++) {
        const struct lb_gpu *g = &hw->gpus[i];
        if (strcmp(g->runtime, runtime) != 0) continue;
        char mem[32];
        fprintf(out, "    [%d] %s (%s), %s, %d %s", g->index, g->name,
                g->arch[0] ? g->arch : "arch unknown",
                fmt_bytes(mem, sizeof mem, g->mem_bytes), g->multiprocessors,
                strcmp(runtime, "cuda") == 0 ? "SMs" : "CUs");
        if (g->clock_khz > 0) fprintf(out, ", %d MHz", g->clock_khz / 1000);
        if (g->mem_bus_bits > 0) fprintf(out, ", %d-bit bus", g->mem_bus_bits);
        fputc('\n', out);
    }
}

void lb_hw_print(FILE *out, const struct lb_hw *hw)
{
    char b1[32];

    fprintf(out, "CPU: %s (%s, family %d model %d stepping %d)\n", hw->cpu_model,
            hw->cpu_vendor, hw->cpu_family, hw->cpu_model_id, hw->cpu_stepping);
    fprintf(out, "  %d socket%s, %d core%s, %d thread%s\n", hw->n_sockets,
            hw->n_sockets == 1 ? "" : "s", hw->n_cores, hw->n_cores == 1 ? "" : "s",
            hw->n_pus, hw->n_pus == 1 ? "" : "s");

    fprintf(out, "Memory: %s in %d NUMA node%s\n",
            fmt_bytes(b1, sizeof b1, hw->mem_total_bytes), hw->n_numa,
            hw->n_numa == 1 ? "" : "s");
    unsigned long long numa_sum = 0;
    for (int i = 0; i < hw->n_numa; i++) {
        fprintf(out, "  node %d: %s, cpus %s\n", hw->numa[i].os_index,
                fmt_bytes(b1, sizeof b1, hw->numa[i].mem_bytes), hw->numa[i].cpus);
        numa_sum += hw->numa[i].mem_bytes;
    }
    /* Per-node counts can lag hot-added memory (see hw.c); say so rather
     * than let the two figures silently disagree. */
    if (hw->n_numa > 0 && (numa_sum < hw->mem_total_bytes / 100 * 95 ||
                           numa_sum > hw->mem_total_bytes / 100 * 105))
        fprintf(out, "  note: NUMA nodes account for %s of the total\n",
                fmt_bytes(b1, sizeof b1, numa_sum));

    fprintf(out, "Caches:\n");
    if (hw->n_caches == 0) fprintf(out, "  none reported\n");
    print_caches(out, hw);
    char b2[32];
    fprintf(out, "  last level: %s per instance, %s in all\n",
            fmt_bytes(b1, sizeof b1, hw->llc_bytes),
            fmt_bytes(b2, sizeof b2, hw->llc_total_bytes));

    fprintf(out, "ISA: kernels use %s; features:", lb_isa_name(lb_isa_best(&hw->features)));
    int n_on = 0;
    for (size_t i = 0; i < LB_ARRAY_LEN(feature_table); i++) {
        /* os_* are XCR0 states, shown below, not instruction sets */
        if (strncmp(feature_table[i].name, "os_", 3) == 0) continue;
        if (feature_get(&hw->features, i)) {
            fprintf(out, " %s", feature_table[i].name);
            n_on++;
        }
    }
    fprintf(out, "%s\n", n_on ? "" : " none");
    fprintf(out, "  OS saves: AVX %s, AVX-512 %s, AMX %s\n",
            hw->features.os_avx ? "yes" : "no", hw->features.os_avx512 ? "yes" : "no",
            hw->features.os_amx ? "yes" : "no");

    fprintf(out, "GPUs:\n");
    print_probe(out, "CUDA", "cuda", &hw->cuda, hw);
    print_probe(out, "HIP", "hip", &hw->hip, hw);

    fprintf(out, "Counters:\n");
    if (!hw->papi_built) {
        fprintf(out, "  PAPI: none: %s\n", hw->papi.reason);
    } else {
        if (hw->papi.available)
            fprintf(out, "  PAPI: initialised, %d of %d components enabled\n",
                    hw->papi.n_devices, hw->n_components);
        else fprintf(out, "  PAPI: none: %s\n", hw->papi.reason);
        for (int i = 0; i < hw->n_components; i++) {
            const struct lb_counter_component *c = &hw->components[i];
            if (c->enabled) fprintf(out, "    %s: enabled\n", c->name);
            else fprintf(out, "    %s: disabled: %s\n", c->name,
                         c->reason[0] ? c->reason : "no reason given");
        }
    }

    const struct lb_env *e = &hw->env;
    fprintf(out, "Environment:\n");
    fprintf(out, "  host %s, kernel %s, virtualization %s\n", e->hostname, e->kernel,
            e->virtualization);
    fprintf(out, "  governor %s, boost %s, THP %s", e->governor, e->boost, e->thp);
    if (e->cpu_mhz_max > 0) fprintf(out, ", max %.0f MHz", e->cpu_mhz_max);
    fputc('\n', out);
    if (e->mem_speed_mts > 0)
        fprintf(out, "  memory speed %d MT/s\n", e->mem_speed_mts);
    else
        fprintf(out, "  memory speed unknown: %s\n",
                e->mem_speed_reason[0] ? e->mem_speed_reason : "not readable");
}
