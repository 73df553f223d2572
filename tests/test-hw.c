/* test-hw.c: hardware discovery checked against sources it does not use.
 *
 * Each fact lb_hw_discover reports is compared with an independent reading
 * of the same machine: sysconf for PU count and L1d line size,
 * /proc/cpuinfo for identity and ISA flags (the kernel's own CPUID
 * decoding, with OS support already folded in), sysfs topology for the
 * core count, /proc/meminfo for RAM, and dlopen / device nodes for GPUs.
 * The test runs on any Linux x86-64 box, GPU or not; facts a machine cannot
 * expose (a cpuset-restricted container, no cpufreq) loosen the check and
 * print a note instead of failing.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "hw/lb-hw.h"
#include "tests/lb-test.h"

#include <dlfcn.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hwloc.h>

static struct lb_hw *hw;

/* Value of the first "key\t: value" line of /proc/cpuinfo; false when absent. */
static bool cpuinfo_value(const char *key, char *out, size_t len)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return false;
    char line[8192];
    bool found = false;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) != 0) continue;
        const char *p = line + klen;
        while (*p == ' ' || *p == '\t') p++;
        if (*p != ':') continue;
        p++;
        while (*p == ' ') p++;
        snprintf(out, len, "%s", p);
        out[strcspn(out, "\n")] = '\0';
        found = true;
        break;
    }
    fclose(f);
    return found;
}

static bool has_flag(const char *flags, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = flags; (p = strstr(p, name)) != NULL; p += n) {
        bool start = p == flags || p[-1] == ' ';
        bool end = p[n] == '\0' || p[n] == ' ';
        if (start && end) return true;
    }
    return false;
}

static void trim_right(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
}

/* CPUs this process may run on: hwloc hides the others (cgroup cpuset). */
static int allowed_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    return CPU_COUNT(&set);
}

static void test_discover(void)
{
    struct lb_error err = {0};
    enum lb_status st = lb_hw_discover(&hw, &err);
    CHECK_MSG(st == LB_OK, "lb_hw_discover: %s", err.msg);
    CHECK(hw != NULL);
    if (hw) CHECK(hw->topology != NULL);
}

static void test_counts(void)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int allowed = allowed_cpus();
    if (allowed > 0 && allowed != online) {
        printf("note: process is restricted to %d of %ld online cpus\n", allowed, online);
        CHECK_INT_EQ(hw->n_pus, allowed);
    } else {
        CHECK_INT_EQ(hw->n_pus, online);
    }
    CHECK(hw->n_sockets >= 1);
    CHECK(hw->n_cores >= 1 && hw->n_cores <= hw->n_pus);

    /* Cores from sysfs: distinct (package, core) pairs over online cpus. */
    long pairs[1024][2];
    int n_pairs = 0;
    bool sysfs_ok = allowed == online;
    for (long cpu = 0; cpu < 4096 && sysfs_ok && n_pairs < 1024; cpu++) {
        char path[128], buf[32];
        long pkg = -1, core = -1;
        snprintf(path, sizeof path,
                 "/sys/devices/system/cpu/cpu%ld/topology/physical_package_id", cpu);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(buf, sizeof buf, f)) pkg = strtol(buf, NULL, 10);
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/core_id", cpu);
        f = fopen(path, "r");
        if (!f) continue;
        if (fgets(buf, sizeof buf, f)) core = strtol(buf, NULL, 10);
        fclose(f);
        bool seen = false;
        for (int i = 0; i < n_pairs; i++)
            if (pairs[i][0] == pkg && pairs[i][1] == core) seen = true;
        if (!seen) {
            pairs[n_pairs][0] = pkg;
            pairs[n_pairs][1] = core;
            n_pairs++;
        }
    }
    if (sysfs_ok && n_pairs > 0) CHECK_INT_EQ(hw->n_cores, n_pairs);

    CHECK(hw->n_numa >= 1);
    for (int i = 0; i < hw->n_numa; i++) CHECK(hw->numa[i].cpus[0] != '\0');

    /* RAM against /proc/meminfo MemTotal, 2% slack for rounding. */
    FILE *f = fopen("/proc/meminfo", "r");
    CHECK(f != NULL);
    if (f) {
        char line[256];
        unsigned long long kb = 0;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) break;
        fclose(f);
        CHECK(kb > 0);
        double ratio = (double)hw->mem_total_bytes / ((double)kb * 1024.0);
        CHECK_MSG(ratio > 0.98 && ratio < 1.02, "mem_total_bytes %llu vs MemTotal %llu kB",
                  hw->mem_total_bytes, kb);
    }
}

static void test_identity(void)
{
    char want[256];
    CHECK(cpuinfo_value("vendor_id", want, sizeof want));
    CHECK_MSG(strcmp(hw->cpu_vendor, want) == 0, "vendor '%s' vs '%s'", hw->cpu_vendor, want);
    if (cpuinfo_value("cpu family", want, sizeof want))
        CHECK_INT_EQ(hw->cpu_family, atoi(want));
    if (cpuinfo_value("model", want, sizeof want))
        CHECK_INT_EQ(hw->cpu_model_id, atoi(want));
    if (cpuinfo_value("stepping", want, sizeof want))
        CHECK_INT_EQ(hw->cpu_stepping, atoi(want));

    CHECK(cpuinfo_value("model name", want, sizeof want));
    trim_right(want);
    if (strcmp(hw->cpu_model, want) == 0) return;

    /* The kernel reads the brand string once at boot. A VM restored from
     * a snapshot on another host (seen: Firecracker guest now served by
     * bhyve) keeps the old name in /proc/cpuinfo while CPUID returns the
     * new one. hwloc's x86 backend reads CPUID with its own code: accept
     * the CPUID brand when hwloc agrees, and say so. */
    hwloc_obj_t pkg = hwloc_get_obj_by_type((hwloc_topology_t)hw->topology,
                                            HWLOC_OBJ_PACKAGE, 0);
    const char *hw_model = pkg ? hwloc_obj_get_info_by_name(pkg, "CPUModel") : NULL;
    char hm[256] = "";
    if (hw_model) {
        snprintf(hm, sizeof hm, "%s", hw_model);
        trim_right(hm);
    }
    CHECK_MSG(strcmp(hw->cpu_model, hm) == 0,
              "brand '%s' matches neither /proc/cpuinfo '%s' nor hwloc CPUModel '%s'",
              hw->cpu_model, want, hm);
    printf("note: /proc/cpuinfo model name '%s' differs from CPUID brand '%s' "
           "(hwloc agrees with CPUID)\n", want, hw->cpu_model);
}

static void test_features(void)
{
    char flags[8192];
    CHECK(cpuinfo_value("flags", flags, sizeof flags));
    const struct lb_cpu_features *f = &hw->features;
    static const char *const names[] = {"avx2", "avx512f", "avx512_vnni", "avx512_bf16",
                                        "fma", "f16c", "avx512bw", "avx512vl", "avx512dq"};
    const bool got[] = {f->avx2, f->avx512f, f->avx512_vnni, f->avx512_bf16,
                        f->fma,  f->f16c,    f->avx512bw,    f->avx512vl, f->avx512dq};
    _Static_assert(LB_ARRAY_LEN(names) == LB_ARRAY_LEN(got), "one value per name");
    for (size_t i = 0; i < LB_ARRAY_LEN(names); i++)
        CHECK_MSG(got[i] == has_flag(flags, names[i]), "%s: discovery %d, /proc/cpuinfo %d",
                  names[i], got[i], has_flag(flags, names[i]));

    /* OS-support invariants: no AVX flag without the XCR0 state. */
    if (f->avx2 || f->fma || f->avx) CHECK(f->os_avx);
    if (f->avx512f || f->avx512_vnni || f->avx512_bf16) CHECK(f->os_avx512);
    if (f->amx_tile) CHECK(f->os_amx);
    if (f->os_avx512) CHECK(f->os_avx);

    /* Standalone detection agrees with discovery. */
    struct lb_cpu_features again;
    lb_cpu_features_detect(&again);
    CHECK(memcmp(&again, f, sizeof again) == 0);
}

static void test_caches(void)
{
    CHECK(hw->n_caches > 0);
    long line = sysconf(_SC_LEVEL1_DCACHE_LINESIZE);
    const struct lb_cache *l1d = NULL;
    int max_level = 0;
    for (int i = 0; i < hw->n_caches; i++) {
        const struct lb_cache *c = &hw->caches[i];
        CHECK(c->level >= 1 && c->level <= 5);
        CHECK(c->size_bytes > 0);
        CHECK(c->cpus[0] != '\0');
        CHECK(strcmp(c->type, "data") == 0 || strcmp(c->type, "instruction") == 0 ||
              strcmp(c->type, "unified") == 0);
        if (!l1d && c->level == 1 && strcmp(c->type, "instruction") != 0) l1d = c;
        if (strcmp(c->type, "instruction") != 0 && c->level > max_level) max_level = c->level;
    }
    CHECK(l1d != NULL);
    if (l1d && line > 0) CHECK_INT_EQ(l1d->line_bytes, line);
    if (l1d) {
        long size = sysconf(_SC_LEVEL1_DCACHE_SIZE);
        if (size > 0) CHECK_INT_EQ(l1d->size_bytes, size);
    }

    /* LLC: one instance of the highest data/unified level; the total is a
     * whole number of instances. */
    CHECK(hw->llc_bytes > 0);
    CHECK(hw->llc_total_bytes >= hw->llc_bytes);
    unsigned long long sum = 0;
    for (int i = 0; i < hw->n_caches; i++)
        if (hw->caches[i].level == max_level && strcmp(hw->caches[i].type, "instruction") != 0)
            sum += hw->caches[i].size_bytes;
    CHECK_INT_EQ(sum, hw->llc_total_bytes);
}

static void check_key(const cJSON *o, const char *path, const char *key)
{
    CHECK_MSG(cJSON_HasObjectItem(o, key), "JSON %s lacks \"%s\"", path, key);
}

static void test_json(void)
{
    cJSON *j = lb_hw_to_json(hw);
    CHECK(j != NULL);
    if (!j) return;
    static const char *const top[] = {"cpu", "features", "isa_best", "numa", "caches",
                                       "llc_bytes", "llc_total_bytes", "mem_total_bytes",
                                       "gpus", "counters", "environment"};
    for (size_t i = 0; i < LB_ARRAY_LEN(top); i++) check_key(j, "hw", top[i]);

    const cJSON *cpu = cJSON_GetObjectItem(j, "cpu");
    static const char *const cpu_keys[] = {"vendor", "model", "family", "model_id",
                                           "stepping", "sockets", "cores", "threads"};
    for (size_t i = 0; i < LB_ARRAY_LEN(cpu_keys); i++) check_key(cpu, "cpu", cpu_keys[i]);
    const cJSON *threads = cJSON_GetObjectItem(cpu, "threads");
    CHECK(cJSON_IsNumber(threads) && threads->valueint == hw->n_pus);

    const cJSON *feat = cJSON_GetObjectItem(j, "features");
    const cJSON *v = cJSON_GetObjectItem(feat, "avx512_vnni");
    CHECK(cJSON_IsBool(v) && cJSON_IsTrue(v) == hw->features.avx512_vnni);
    v = cJSON_GetObjectItem(feat, "avx2");
    CHECK(cJSON_IsBool(v) && cJSON_IsTrue(v) == hw->features.avx2);

    const cJSON *isa = cJSON_GetObjectItem(j, "isa_best");
    CHECK(cJSON_IsString(isa) &&
          strcmp(isa->valuestring, lb_isa_name(lb_isa_best(&hw->features))) == 0);

    const cJSON *numa = cJSON_GetObjectItem(j, "numa");
    CHECK(cJSON_IsArray(numa) && cJSON_GetArraySize(numa) == hw->n_numa);
    const cJSON *n0 = cJSON_GetArrayItem(numa, 0);
    check_key(n0, "numa[0]", "os_index");
    check_key(n0, "numa[0]", "mem_bytes");
    check_key(n0, "numa[0]", "cpus");

    const cJSON *caches = cJSON_GetObjectItem(j, "caches");
    CHECK(cJSON_IsArray(caches) && cJSON_GetArraySize(caches) == hw->n_caches);
    static const char *const cache_keys[] = {"level", "type", "size_bytes", "line_bytes",
                                             "ways", "cpus"};
    for (size_t i = 0; i < LB_ARRAY_LEN(cache_keys); i++)
        check_key(cJSON_GetArrayItem(caches, 0), "caches[0]", cache_keys[i]);

    const cJSON *gpus = cJSON_GetObjectItem(j, "gpus");
    check_key(gpus, "gpus", "cuda");
    check_key(gpus, "gpus", "hip");
    check_key(gpus, "gpus", "devices");
    check_key(cJSON_GetObjectItem(gpus, "cuda"), "gpus.cuda", "available");
    check_key(cJSON_GetObjectItem(gpus, "cuda"), "gpus.cuda", "reason");

    const cJSON *ctr = cJSON_GetObjectItem(j, "counters");
    check_key(ctr, "counters", "papi_built");
    check_key(ctr, "counters", "papi");
    check_key(ctr, "counters", "components");

    const cJSON *env = cJSON_GetObjectItem(j, "environment");
    static const char *const env_keys[] = {"hostname", "kernel", "governor", "boost", "thp",
                                           "virtualization", "mem_speed_mts",
                                           "mem_speed_reason", "cpu_mhz_max"};
    for (size_t i = 0; i < LB_ARRAY_LEN(env_keys); i++)
        check_key(env, "environment", env_keys[i]);
    const cJSON *speed = cJSON_GetObjectItem(env, "mem_speed_mts");
    CHECK(hw->env.mem_speed_mts > 0 ? cJSON_IsNumber(speed) : cJSON_IsNull(speed));
    CHECK(cJSON_IsString(cJSON_GetObjectItem(env, "mem_speed_reason")));
    cJSON *env_alone = lb_env_to_json(&hw->env);
    CHECK(env_alone != NULL && cJSON_Compare(env_alone, env, true));
    cJSON_Delete(env_alone);

    /* Round trip through text, as a report file would. */
    char *text = cJSON_PrintUnformatted(j);
    CHECK(text != NULL);
    cJSON *back = text ? cJSON_Parse(text) : NULL;
    CHECK(back != NULL);
    cJSON_Delete(back);
    free(text);
    cJSON_Delete(j);
}

/* Expectation from the machine itself: no device node, no available GPU;
 * no loadable driver library, a reason that names it. */
static void check_runtime(const struct lb_runtime_probe *p, const char *runtime,
                          const char *lib, const char *dev_node)
{
    void *h = dlopen(lib, RTLD_LAZY | RTLD_LOCAL);
    bool loadable = h != NULL;
    /* Not dlclose'd: a driver library loaded by discovery stays loaded. */
    (void)h;
    bool node = access(dev_node, F_OK) == 0;

    if (!p->available) {
        CHECK_MSG(p->reason[0] != '\0', "%s unavailable without a reason", runtime);
        CHECK_INT_EQ(p->n_devices, 0);
        if (!loadable)
            CHECK_MSG(strstr(p->reason, "libcuda") || strstr(p->reason, "libamdhip64"),
                      "%s reason does not name the library: %s", runtime, p->reason);
        printf("note: %s unavailable: %s\n", runtime, p->reason);
    } else {
        CHECK(loadable);
        CHECK(node);
        CHECK(p->n_devices > 0);
        int n = 0;
        for (int i = 0; i < hw->n_gpus; i++) {
            if (strcmp(hw->gpus[i].runtime, runtime) != 0) continue;
            n++;
            CHECK(hw->gpus[i].name[0] != '\0');
            CHECK(hw->gpus[i].mem_bytes > 0);
        }
        CHECK(n > 0);
    }
    if (!node) CHECK_MSG(!p->available, "%s available but %s is absent", runtime, dev_node);
}

static void test_gpus(void)
{
    check_runtime(&hw->cuda, "cuda", "libcuda.so.1", "/dev/nvidiactl");
    check_runtime(&hw->hip, "hip", "libamdhip64.so", "/dev/kfd");
    CHECK(hw->n_gpus >= 0 && hw->n_gpus <= LB_HW_MAX_GPUS);
}

static void test_counters_env(void)
{
    if (hw->papi_built) {
        if (hw->papi.available) CHECK(hw->n_components > 0);
        else CHECK(hw->papi.reason[0] != '\0');
        for (int i = 0; i < hw->n_components; i++) {
            CHECK(hw->components[i].name[0] != '\0');
            if (!hw->components[i].enabled) CHECK(hw->components[i].reason[0] != '\0');
        }
    } else {
        CHECK(strcmp(hw->papi.reason, "built without PAPI") == 0);
    }

    char host[256];
    if (gethostname(host, sizeof host) == 0) {
        host[sizeof host - 1] = '\0';
        CHECK_MSG(strcmp(hw->env.hostname, host) == 0, "hostname %s vs %s", hw->env.hostname,
                  host);
    }
    CHECK(hw->env.kernel[0] != '\0');
    CHECK(hw->env.governor[0] != '\0');
    CHECK(strcmp(hw->env.boost, "on") == 0 || strcmp(hw->env.boost, "off") == 0 ||
          strcmp(hw->env.boost, "unknown") == 0);
    CHECK(hw->env.virtualization[0] != '\0');
    char flags[8192];
    if (cpuinfo_value("flags", flags, sizeof flags))
        CHECK((strcmp(hw->env.virtualization, "none") == 0) == !has_flag(flags, "hypervisor"));
    if (hw->env.mem_speed_mts == 0) CHECK(hw->env.mem_speed_reason[0] != '\0');
}

static void test_print(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    if (!f) return;
    lb_hw_print(f, hw);
    fclose(f);
    CHECK(buf && strstr(buf, "CPU: ") != NULL);
    CHECK(buf && strstr(buf, "L1d: ") != NULL);
    CHECK(buf && strstr(buf, "CUDA: ") != NULL);
    if (buf) fputs(buf, stdout);
    free(buf);
}

int main(void)
{
    LB_RUN(test_discover);
    if (!hw) return lb_test_finish();
    LB_RUN(test_counts);
    LB_RUN(test_identity);
    LB_RUN(test_features);
    LB_RUN(test_caches);
    LB_RUN(test_json);
    LB_RUN(test_gpus);
    LB_RUN(test_counters_env);
    LB_RUN(test_print);
    lb_hw_free(hw);
    return lb_test_finish();
}
