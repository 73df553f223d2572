/* lb-hw.h: what this machine is (hwloc + CPUID + /proc + /sys), what GPUs
 * and counter sources it has, and the environment that moves results.
 *
 * Filled once per run by lb_hw_discover; read-only afterwards. Optional
 * parts (GPU runtimes, PAPI) never fail discovery: they record why they
 * are missing (DESIGN.md: optional parts are discovered at run time).
 */
#ifndef LB_HW_H
#define LB_HW_H

#include <stdio.h>
#include <cjson/cJSON.h>

#include "../kernels/lb-base.h"
#include "../kernels/lb-isa.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LB_HW_MAX_NUMA 64
#define LB_HW_MAX_CACHES 512 /* every cache instance, all levels */
#define LB_HW_MAX_GPUS 16
#define LB_HW_MAX_COMPONENTS 32
#define LB_HW_CPUSET_LEN 256 /* list form "0-7,16-23" */

struct lb_numa_node {
    int os_index;
    unsigned long long mem_bytes; /* local memory of the node */
    char cpus[LB_HW_CPUSET_LEN];  /* OS cpu indices in list form */
};

struct lb_cache {
    int level;                    /* 1, 2, 3 (4 for L4/eDRAM)         */
    char type[12];                /* "data", "instruction", "unified" */
    unsigned long long size_bytes;/* of this one instance              */
    int line_bytes;
    int ways;                     /* associativity, -1 = full, 0 = unknown */
    char cpus[LB_HW_CPUSET_LEN];  /* PUs sharing this instance (Zen: one L3 = one CCD/CCX) */
};

struct lb_gpu {
    char runtime[8];              /* "cuda" | "hip" */
    int index;
    char name[128];
    char arch[32];                /* "sm_90", "gfx1201" */
    unsigned long long mem_bytes;
    int multiprocessors;          /* SMs or CUs */
    int clock_khz;                /* max core clock, 0 = unknown */
    int mem_bus_bits;             /* 0 = unknown */
};

struct lb_runtime_probe {
    bool available;               /* runtime loaded and initialised */
    int n_devices;
    char reason[256];             /* why not available, in the runtime's words */
};

struct lb_counter_component {
    char name[64];                /* PAPI component, e.g. "perf_event" */
    bool enabled;
    char reason[256];             /* PAPI's disabled_reason when not enabled */
};

struct lb_env {
    char hostname[128];
    char kernel[128];             /* uname -r */
    char governor[32];            /* cpufreq scaling_governor or "unknown" */
    char boost[16];               /* "on" / "off" / "unknown" */
    char thp[32];                 /* transparent_hugepage/enabled selection */
    char virtualization[64];      /* hypervisor name, "none" or "unknown" */
    int mem_speed_mts;            /* configured DIMM speed, 0 = not readable */
    char mem_speed_reason[128];   /* why not readable */
    double cpu_mhz_max;           /* cpuinfo_max_freq, 0 = unknown */
};

struct lb_hw {
    /* CPU identity */
    char cpu_vendor[16];          /* "AuthenticAMD" */
    char cpu_model[128];          /* brand string, trimmed */
    int cpu_family, cpu_model_id, cpu_stepping;
    int n_sockets, n_cores, n_pus;
    struct lb_cpu_features features;

    int n_numa;
    struct lb_numa_node numa[LB_HW_MAX_NUMA];
    int n_caches;
    struct lb_cache caches[LB_HW_MAX_CACHES];
    unsigned long long llc_bytes;       /* one last-level cache instance */
    unsigned long long llc_total_bytes; /* all last-level instances together */
    unsigned long long mem_total_bytes;

    struct lb_runtime_probe cuda, hip;
    int n_gpus;
    struct lb_gpu gpus[LB_HW_MAX_GPUS];

    bool papi_built;              /* compiled with PAPI */
    struct lb_runtime_probe papi; /* PAPI_library_init result */
    int n_components;
    struct lb_counter_component components[LB_HW_MAX_COMPONENTS];

    struct lb_env env;

    void *topology;               /* hwloc_topology_t, owned; for hw/pool.c */
};

/* Discovers everything above. Fails only when hwloc itself cannot load a
 * topology; optional parts record their reason instead. */
enum lb_status lb_hw_discover(struct lb_hw **out, struct lb_error *err);
void lb_hw_free(struct lb_hw *hw);
/* Memory available now (free pages, _SC_AVPHYS_PAGES), bytes; 0 when
 * unknown. Benchmarks size buffer copies and refuse cases from it, so it
 * is read at setup time, not at discovery. */
double lb_hw_mem_available_bytes(void);

/* CPUID + XGETBV only (no hwloc); safe on any x86-64. */
void lb_cpu_features_detect(struct lb_cpu_features *f);

/* The parts of lb_hw_discover that do not need hwloc, callable alone (a
 * report header, a test). None of them fails: what cannot be read is left
 * "unknown"/0 or explained in a reason field. */
/* cpu_vendor, cpu_model (CPUID brand string), family/model/stepping. */
void lb_cpu_identity_detect(struct lb_hw *hw);
/* hostname, kernel, governor, boost, THP, hypervisor, DIMM speed, max MHz. */
void lb_env_detect(struct lb_env *env);
/* cuda, hip, n_gpus, gpus[] through dlopen of the vendor driver libraries. */
void lb_gpus_probe(struct lb_hw *hw);
/* papi_built, papi, n_components, components[]. */
void lb_counters_probe(struct lb_hw *hw);

/* The "hw" object of the report (schema: reports/schema/report.schema.json). */
cJSON *lb_hw_to_json(const struct lb_hw *hw);
/* The report's top-level "environment" object (also nested in the "hw"
 * object as "environment"); NULL on allocation failure. */
cJSON *lb_env_to_json(const struct lb_env *env);
/* Human-readable description for `llmbench hw`. */
void lb_hw_print(FILE *out, const struct lb_hw *hw);

#ifdef __cplusplus
}
#endif
#endif
