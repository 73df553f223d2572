/* hw.c: lb_hw_discover / lb_hw_free, the machine's topology through hwloc.
 *
 * hwloc gives sockets, cores, PUs, NUMA nodes (local memory, cpu lists)
 * and every cache instance; the topology stays loaded in hw->topology so
 * hw/pool.c can pin threads and bind memory against the same view. The
 * CPU identity, ISA features, environment, GPU and counter probes live in
 * their own files and are called from here; none of them can fail
 * discovery (DESIGN.md: optional parts are discovered at run time).
 *
 * Workload assumptions: called once per run; a few ms of hwloc loading is
 * fine. hwloc 2.x API (Debian 12 ships 2.9). The topology is restricted to
 * the CPUs this process may use (hwloc's default: cgroup cpuset applied).
 */
#include "lb-hw.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hwloc.h>

#include "hw-check.h"


/* Writes set as "0-7,16-23" into buf (size len, always NUL-terminated).
 * A list that does not fit ends in "..." rather than a misleading cut. */
static void cpuset_list(char *buf, size_t len, hwloc_const_cpuset_t set)
{
    buf[0] = '\0';
    if (!set) return;
    int n = hwloc_bitmap_list_snprintf(buf, len, set);
    if (n < 0) {
        snprintf(buf, len, "?");
    } else if ((size_t)n >= len && len > 4) {
        memcpy(buf + len - 4, "...", 4);
    }
}

/* Count of objects of a type; hwloc gives -1 when the type sits at several
 * depths (never for these types in hwloc 2) and 0 when absent. */
static int count_type(hwloc_topology_t topo, hwloc_obj_type_t type)
{
    int n = hwloc_get_nbobjs_by_type(topo, type);
    return n > 0 ? n : 0;
}

static const char *cache_type_name(hwloc_obj_cache_type_t t)
{
    switch (t) {
    case HWLOC_OBJ_CACHE_DATA: return "data";
    case HWLOC_OBJ_CACHE_INSTRUCTION: return "instruction";
    case HWLOC_OBJ_CACHE_UNIFIED: return "unified";
    }
    return "unknown";
}

/* Cache object types in report order: by level, data/unified before
 * instruction at each level. */
static const hwloc_obj_type_t cache_types[] = {
    HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L1ICACHE, HWLOC_OBJ_L2CACHE,
    HWLOC_OBJ_L2ICACHE, HWLOC_OBJ_L3CACHE, HWLOC_OBJ_L3ICACHE,
    HWLOC_OBJ_L4CACHE, HWLOC_OBJ_L5CACHE,
};

/* Data/unified cache types from the last level down, for the LLC. */
static const hwloc_obj_type_t llc_types[] = {
    HWLOC_OBJ_L5CACHE, HWLOC_OBJ_L4CACHE, HWLOC_OBJ_L3CACHE,
    HWLOC_OBJ_L2CACHE, HWLOC_OBJ_L1CACHE,
};

static void read_topology(struct lb_hw *hw, hwloc_topology_t topo)
{
    hw->n_sockets = count_type(topo, HWLOC_OBJ_PACKAGE);
    hw->n_cores = count_type(topo, HWLOC_OBJ_CORE);
    hw->n_pus = count_type(topo, HWLOC_OBJ_PU);
    /* Some VMs/containers expose no Package or Core objects: count what
     * runs code rather than report 0. */
    if (hw->n_sockets == 0) hw->n_sockets = 1;
    if (hw->n_cores == 0) hw->n_cores = hw->n_pus;

    int n_numa = count_type(topo, HWLOC_OBJ_NUMANODE);
    hw->n_numa = 0;
    for (int i = 0; i < n_numa && hw->n_numa < LB_HW_MAX_NUMA; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, (unsigned)i);
        if (!o) continue;
        struct lb_numa_node *nd = &hw->numa[hw->n_numa++];
        nd->os_index = (int)o->os_index;
        nd->mem_bytes = o->attr ? o->attr->numanode.local_memory : 0;
        cpuset_list(nd->cpus, sizeof nd->cpus, o->cpuset);
    }

    hw->n_caches = 0;
    for (size_t t = 0; t < LB_ARRAY_LEN(cache_types); t++) {
        int n = count_type(topo, cache_types[t]);
        for (int i = 0; i < n && hw->n_caches < LB_HW_MAX_CACHES; i++) {
            hwloc_obj_t o = hwloc_get_obj_by_type(topo, cache_types[t], (unsigned)i);
            if (!o || !o->attr) continue;
            struct lb_cache *c = &hw->caches[hw->n_caches++];
            c->level = (int)o->attr->cache.depth;
            snprintf(c->type, sizeof c->type, "%s",
                     cache_type_name(o->attr->cache.type));
            c->size_bytes = o->attr->cache.size;
            c->line_bytes = (int)o->attr->cache.linesize;
            c->ways = o->attr->cache.associativity;
            cpuset_list(c->cpus, sizeof c->cpus, o->cpuset);
        }
    }

    /* LLC straight from hwloc, so it is right even if caches[] overflowed. */
    hw->llc_bytes = hw->llc_total_bytes = 0;
    for (size_t t = 0; t < LB_ARRAY_LEN(llc_types); t++) {
        int n = count_type(topo, llc_types[t]);
        if (n == 0) continue;
        for (int i = 0; i < n; i++) {
            hwloc_obj_t o = hwloc_get_obj_by_type(topo, llc_types[t], (unsigned)i);
            if (!o || !o->attr) continue;
            if (hw->llc_bytes == 0) hw->llc_bytes = o->attr->cache.size;
            hw->llc_total_bytes += o->attr->cache.size;
        }
        break;
    }

    /* Total RAM from the kernel's global count (/proc/meminfo MemTotal),
     * not the sum of NUMA nodes: per-node meminfo can lag memory that was
     * hot-added after boot (seen on a Firecracker VM: node0 4.2 GiB while
     * MemTotal was 23.5 GiB), and "does this model fit" is asked of the
     * total. hwloc's sum is the fallback. */
    hwloc_obj_t root = hwloc_get_root_obj(topo);
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page_size > 0)
        hw->mem_total_bytes = (unsigned long long)pages * (unsigned long long)page_size;
    else
        hw->mem_total_bytes = root ? root->total_memory : 0;
}

enum lb_status lb_hw_discover(struct lb_hw **out, struct lb_error *err)
{
    enum lb_status st = LB_OK;
    hwloc_topology_t topo = NULL;
    struct lb_hw *hw = NULL;

    LB_ASSERT(out);
    *out = NULL;
    hw = calloc(1, sizeof *hw);
    if (!hw) return lb_error_set(err, LB_ENOMEM, "lb_hw_discover: out of memory");

    HWLOC_CHECK(hwloc_topology_init(&topo));
    /* Caches of every kind, instruction caches included (hwloc 2 drops
     * those by default); I/O objects stay off (default) to keep load fast. */
    HWLOC_CHECK(hwloc_topology_set_cache_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_ALL));
    HWLOC_CHECK(hwloc_topology_set_icache_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_ALL));
    HWLOC_CHECK(hwloc_topology_load(topo));
    hw->topology = topo;

    read_topology(hw, topo);
    if (hw->n_pus <= 0) {
        st = lb_error_set(err, LB_EIO, "hwloc: topology has no processing units");
        goto fail;
    }

    lb_cpu_identity_detect(hw);
    lb_cpu_features_detect(&hw->features);
    lb_env_detect(&hw->env);
    lb_gpus_probe(hw);
    lb_counters_probe(hw);

    *out = hw;
    return LB_OK;

fail:
    if (topo) hwloc_topology_destroy(topo);
    free(hw);
    return st;
}

double lb_hw_mem_available_bytes(void)
{
    long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (double)pages * (double)page : 0;
}

void lb_hw_free(struct lb_hw *hw)
{
    if (!hw) return;
    if (hw->topology) hwloc_topology_destroy((hwloc_topology_t)hw->topology);
    free(hw);
}
