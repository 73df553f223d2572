/* gpu.c: which GPUs this machine has, found at run time through the
 * vendor driver libraries, with no build dependency on CUDA or ROCm.
 *
 * One llmbench binary must run on a CPU-only box, an NVIDIA box and an AMD
 * box (STYLE.md #6: a GPU backend missing at run time is reported, never
 * fatal). So the CUDA driver API (libcuda.so.1, installed with the NVIDIA
 * driver) and the HIP runtime (libamdhip64.so) are dlopen'ed, a handful of
 * entry points are looked up with their documented C signatures declared
 * here, and every failure becomes a reason in the runtime's own words:
 * dlerror() text, or "cuInit: CUDA_ERROR_NO_DEVICE (...)".
 *
 * Only calls with plain scalar/char* arguments are used. Struct-returning
 * calls (cudaGetDeviceProperties, hipGetDeviceProperties) change layout
 * between releases, so they are avoided; the AMD gfx name, which HIP only
 * gives inside hipDeviceProp_t, is read from the KFD topology in /sys.
 *
 * The libraries are never dlclose'd once a call went into them: both
 * start threads and register exit handlers, and unloading them under a
 * live process is a known crash; the backends dlopen the same handle.
 */
#include "lb-hw.h"

#include <dlfcn.h>
#include <glob.h>
#include <string.h>

/* ---- CUDA driver API (cuda.h), declared by hand ----------------------- */
typedef int lb_cu_result;  /* CUresult, an enum: 0 = CUDA_SUCCESS */
typedef int lb_cu_device;  /* CUdevice */
typedef lb_cu_result (*lb_cu_init_fn)(unsigned int flags);
typedef lb_cu_result (*lb_cu_device_get_count_fn)(int *count);
typedef lb_cu_result (*lb_cu_device_get_fn)(lb_cu_device *dev, int ordinal);
typedef lb_cu_result (*lb_cu_device_get_name_fn)(char *name, int len, lb_cu_device dev);
typedef lb_cu_result (*lb_cu_device_total_mem_fn)(size_t *bytes, lb_cu_device dev);
typedef lb_cu_result (*lb_cu_device_get_attribute_fn)(int *value, int attrib, lb_cu_device dev);
typedef lb_cu_result (*lb_cu_get_error_fn)(lb_cu_result err, const char **str);

/* CUdevice_attribute values (cuda.h; stable since CUDA 2.x/5.x). */
enum {
    LB_CU_ATTR_CLOCK_RATE = 13,              /* kHz */
    LB_CU_ATTR_MULTIPROCESSOR_COUNT = 16,
    LB_CU_ATTR_GLOBAL_MEMORY_BUS_WIDTH = 37, /* bits */
    LB_CU_ATTR_CC_MAJOR = 75,
    LB_CU_ATTR_CC_MINOR = 76,
};

/* ---- HIP runtime API (hip_runtime_api.h), declared by hand ------------ */
typedef int lb_hip_error;  /* hipError_t: 0 = hipSuccess */
typedef int lb_hip_device; /* hipDevice_t */
typedef lb_hip_error (*lb_hip_init_fn)(unsigned int flags);
typedef lb_hip_error (*lb_hip_get_device_count_fn)(int *count);
typedef lb_hip_error (*lb_hip_device_get_fn)(lb_hip_device *dev, int ordinal);
typedef lb_hip_error (*lb_hip_device_get_name_fn)(char *name, int len, lb_hip_device dev);
typedef lb_hip_error (*lb_hip_device_total_mem_fn)(size_t *bytes, lb_hip_device dev);
typedef lb_hip_error (*lb_hip_device_get_attribute_fn)(int *value, int attr, int device);
typedef lb_hip_error (*lb_hip_device_get_pci_bus_id_fn)(char *bus_id, int len, int device);
typedef lb_hip_error (*lb_hip_runtime_get_version_fn)(int *version);
typedef const char *(*lb_hip_error_str_fn)(lb_hip_error err);

/* hipDeviceAttribute_t values of the ROCm 5.0+ enum (alphabetical within
 * the "CUDA compatible" block; later releases only append or rename to
 * hipDeviceAttributeUnusedN, so these stay put). ROCm 4.x used another
 * order, hence the version check before using them. */
enum {
    LB_HIP_ATTR_CLOCK_RATE = 5,             /* kHz */
    LB_HIP_ATTR_MEMORY_BUS_WIDTH = 59,      /* bits */
    LB_HIP_ATTR_MULTIPROCESSOR_COUNT = 63,  /* CUs (WGPs in WGP mode) */
};
#define LB_HIP_VERSION_5_0 50000000 /* HIP_VERSION = major*1e7 + minor*1e5 + patch */

/* dlsym into a typed pointer; returns false and writes the reason when
 * the symbol is missing (an old driver without cuDeviceTotalMem_v2, say). */
static bool load_sym(void *lib, const char *name, void *fnptr, char *reason, size_t len)
{
    dlerror();
    void *p = dlsym(lib, name);
    const char *e = dlerror();
    if (!p || e) {
        snprintf(reason, len, "%s", e ? e : name);
        return false;
    }
    memcpy(fnptr, &p, sizeof p); /* object -> function pointer, POSIX-sanctioned */
    return true;
}

static void probe_clear(struct lb_runtime_probe *p)
{
    p->available = false;
    p->n_devices = 0;
    p->reason[0] = '\0';
}

/* ---- CUDA ------------------------------------------------------------- */

struct cuda_api {
    lb_cu_init_fn init;
    lb_cu_device_get_count_fn device_get_count;
    lb_cu_device_get_fn device_get;
    lb_cu_device_get_name_fn device_get_name;
    lb_cu_device_total_mem_fn device_total_mem;
    lb_cu_device_get_attribute_fn device_get_attribute;
    lb_cu_get_error_fn get_error_name, get_error_string; /* may be NULL */
};

/* "cuInit: CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)" */
static void cuda_reason(const struct cuda_api *cu, const char *call, lb_cu_result r,
                        char *out, size_t len)
{
    const char *name = NULL, *desc = NULL;
    if (cu->get_error_name && cu->get_error_name(r, &name) != 0) name = NULL;
    if (cu->get_error_string && cu->get_error_string(r, &desc) != 0) desc = NULL;
    if (name && desc)
        snprintf(out, len, "%s: %s (%s)", call, name, desc);
    else if (name)
        snprintf(out, len, "%s: %s", call, name);
    else
        snprintf(out, len, "%s: CUresult %d", call, r);
}

static int cuda_attr(const struct cuda_api *cu, int attr, lb_cu_device dev)
{
    int v = 0;
    return cu->device_get_attribute(&v, attr, dev) == 0 ? v : 0; /* 0 = unknown */
}

static void probe_cuda(struct lb_hw *hw)
{
    struct lb_runtime_probe *p = &hw->cuda;
    probe_clear(p);

    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *e = dlerror();
        snprintf(p->reason, sizeof p->reason, "%s", e ? e : "libcuda.so.1: dlopen failed");
        return;
    }
    struct cuda_api cu = {0};
    if (!load_sym(lib, "cuInit", &cu.init, p->reason, sizeof p->reason) ||
        !load_sym(lib, "cuDeviceGetCount", &cu.device_get_count, p->reason, sizeof p->reason) ||
        !load_sym(lib, "cuDeviceGet", &cu.device_get, p->reason, sizeof p->reason) ||
        !load_sym(lib, "cuDeviceGetName", &cu.device_get_name, p->reason, sizeof p->reason) ||
        !load_sym(lib, "cuDeviceTotalMem_v2", &cu.device_total_mem, p->reason, sizeof p->reason) ||
        !load_sym(lib, "cuDeviceGetAttribute", &cu.device_get_attribute, p->reason, sizeof p->reason)) {
        dlclose(lib); /* nothing was called yet: safe to unload */
        return;
    }
    char ignore[8];
    if (!load_sym(lib, "cuGetErrorName", &cu.get_error_name, ignore, sizeof ignore))
        cu.get_error_name = NULL;
    if (!load_sym(lib, "cuGetErrorString", &cu.get_error_string, ignore, sizeof ignore))
        cu.get_error_string = NULL;

    lb_cu_result r = cu.init(0);
    if (r != 0) {
        cuda_reason(&cu, "cuInit", r, p->reason, sizeof p->reason);
        return;
    }
    int n = 0;
    r = cu.device_get_count(&n);
    if (r != 0) {
        cuda_reason(&cu, "cuDeviceGetCount", r, p->reason, sizeof p->reason);
        return;
    }
    if (n <= 0) {
        snprintf(p->reason, sizeof p->reason, "cuDeviceGetCount: no devices");
        return;
    }
    p->available = true;
    p->n_devices = n;

    for (int i = 0; i < n && hw->n_gpus < LB_HW_MAX_GPUS; i++) {
        lb_cu_device dev;
        r = cu.device_get(&dev, i);
        if (r != 0) {
            /* Keep the runtime usable; say which device did not answer. */
            cuda_reason(&cu, "cuDeviceGet", r, p->reason, sizeof p->reason);
            continue;
        }
        struct lb_gpu *g = &hw->gpus[hw->n_gpus++];
        memset(g, 0, sizeof *g);
        snprintf(g->runtime, sizeof g->runtime, "cuda");
        g->index = i;
        if (cu.device_get_name(g->name, (int)sizeof g->name, dev) != 0)
            snprintf(g->name, sizeof g->name, "unknown");
        g->name[sizeof g->name - 1] = '\0';
        size_t bytes = 0;
        if (cu.device_total_mem(&bytes, dev) == 0) g->mem_bytes = bytes;
        int major = cuda_attr(&cu, LB_CU_ATTR_CC_MAJOR, dev);
        int minor = cuda_attr(&cu, LB_CU_ATTR_CC_MINOR, dev);
        if (major > 0) snprintf(g->arch, sizeof g->arch, "sm_%d%d", major, minor);
        g->multiprocessors = cuda_attr(&cu, LB_CU_ATTR_MULTIPROCESSOR_COUNT, dev);
        g->clock_khz = cuda_attr(&cu, LB_CU_ATTR_CLOCK_RATE, dev);
        g->mem_bus_bits = cuda_attr(&cu, LB_CU_ATTR_GLOBAL_MEMORY_BUS_WIDTH, dev);
    }
}

/* ---- HIP -------------------------------------------------------------- */

struct hip_api {
    lb_hip_init_fn init;
    lb_hip_get_device_count_fn get_device_count;
    lb_hip_device_get_fn device_get;
    lb_hip_device_get_name_fn device_get_name;
    lb_hip_device_total_mem_fn device_total_mem;
    lb_hip_device_get_attribute_fn device_get_attribute;
    lb_hip_device_get_pci_bus_id_fn device_get_pci_bus_id; /* may be NULL */
    lb_hip_runtime_get_version_fn runtime_get_version;     /* may be NULL */
    lb_hip_error_str_fn get_error_name, get_error_string;  /* may be NULL */
};

/* "hipGetDeviceCount: hipErrorNoDevice (no ROCm-capable device is detected)" */
static void hip_reason(const struct hip_api *h, const char *call, lb_hip_error r,
                       char *out, size_t len)
{
    const char *name = h->get_error_name ? h->get_error_name(r) : NULL;
    const char *desc = h->get_error_string ? h->get_error_string(r) : NULL;
    if (name && desc && strcmp(name, desc) != 0)
        snprintf(out, len, "%s: %s (%s)", call, name, desc);
    else if (name || desc)
        snprintf(out, len, "%s: %s", call, name ? name : desc);
    else
        snprintf(out, len, "%s: hipError_t %d", call, r);
}

static int hip_attr(const struct hip_api *h, int attr, int dev)
{
    int v = 0;
    return h->device_get_attribute(&v, attr, dev) == 0 ? v : 0; /* 0 = unknown */
}

/* gfx name of the KFD node at PCI domain:bus:dev.fn. KFD's properties file
 * has "domain N", "location_id (bus << 8 | dev << 3 | fn)" and
 * "gfx_target_version major*10000 + minor*100 + stepping", which LLVM
 * spells gfx<major><minor hex><stepping hex> (90010 -> gfx90a). */
static void kfd_arch(unsigned domain, unsigned bus, unsigned dev, unsigned fn, char *out,
                     size_t len)
{
    glob_t g;
    if (glob("/sys/class/kfd/kfd/topology/nodes/*/properties", 0, NULL, &g) != 0) return;
    unsigned long long want_loc = (bus << 8) | (dev << 3) | fn;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        FILE *f = fopen(g.gl_pathv[i], "r");
        if (!f) continue;
        unsigned long long dom = ~0ull, loc = ~0ull, gfx = 0;
        char key[64];
        unsigned long long val;
        char line[256];
        while (fgets(line, sizeof line, f)) {
            if (sscanf(line, "%63s %llu", key, &val) != 2) continue;
            if (strcmp(key, "domain") == 0) dom = val;
            else if (strcmp(key, "location_id") == 0) loc = val;
            else if (strcmp(key, "gfx_target_version") == 0) gfx = val;
        }
        fclose(f);
        if (gfx && loc == want_loc && (dom == ~0ull || dom == domain)) {
            snprintf(out, len, "gfx%llu%llx%llx", gfx / 10000, (gfx / 100) % 100,
                     gfx % 100);
            break;
        }
    }
    globfree(&g);
}

static void *dlopen_hip(char *reason, size_t len)
{
    /* The unversioned name comes with the -dev package; the versioned ones
     * with the runtime alone. The reason quotes the first attempt. */
    static const char *const names[] = {"libamdhip64.so", "libamdhip64.so.7",
                                        "libamdhip64.so.6", "libamdhip64.so.5"};
    for (size_t i = 0; i < LB_ARRAY_LEN(names); i++) {
        void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (lib) return lib;
        const char *e = dlerror();
        if (i == 0) snprintf(reason, len, "%s", e ? e : "libamdhip64.so: dlopen failed");
    }
    return NULL;
}

static void probe_hip(struct lb_hw *hw)
{
    struct lb_runtime_probe *p = &hw->hip;
    probe_clear(p);

    void *lib = dlopen_hip(p->reason, sizeof p->reason);
    if (!lib) return;
    struct hip_api h = {0};
    if (!load_sym(lib, "hipInit", &h.init, p->reason, sizeof p->reason) ||
        !load_sym(lib, "hipGetDeviceCount", &h.get_device_count, p->reason, sizeof p->reason) ||
        !load_sym(lib, "hipDeviceGet", &h.device_get, p->reason, sizeof p->reason) ||
        !load_sym(lib, "hipDeviceGetName", &h.device_get_name, p->reason, sizeof p->reason) ||
        !load_sym(lib, "hipDeviceTotalMem", &h.device_total_mem, p->reason, sizeof p->reason) ||
        !load_sym(lib, "hipDeviceGetAttribute", &h.device_get_attribute, p->reason, sizeof p->reason)) {
        dlclose(lib);
        return;
    }
    char ignore[8];
    if (!load_sym(lib, "hipDeviceGetPCIBusId", &h.device_get_pci_bus_id, ignore, sizeof ignore))
        h.device_get_pci_bus_id = NULL;
    if (!load_sym(lib, "hipRuntimeGetVersion", &h.runtime_get_version, ignore, sizeof ignore))
        h.runtime_get_version = NULL;
    if (!load_sym(lib, "hipGetErrorName", &h.get_error_name, ignore, sizeof ignore))
        h.get_error_name = NULL;
    if (!load_sym(lib, "hipGetErrorString", &h.get_error_string, ignore, sizeof ignore))
        h.get_error_string = NULL;

    lb_hip_error r = h.init(0);
    if (r != 0) {
        hip_reason(&h, "hipInit", r, p->reason, sizeof p->reason);
        return;
    }
    int n = 0;
    r = h.get_device_count(&n);
    if (r != 0) {
        hip_reason(&h, "hipGetDeviceCount", r, p->reason, sizeof p->reason);
        return;
    }
    if (n <= 0) {
        snprintf(p->reason, sizeof p->reason, "hipGetDeviceCount: no devices");
        return;
    }
    p->available = true;
    p->n_devices = n;

    int version = 0;
    bool attrs_ok = h.runtime_get_version && h.runtime_get_version(&version) == 0 &&
                    version >= LB_HIP_VERSION_5_0;

    for (int i = 0; i < n && hw->n_gpus < LB_HW_MAX_GPUS; i++) {
        lb_hip_device dev;
        r = h.device_get(&dev, i);
        if (r != 0) {
            hip_reason(&h, "hipDeviceGet", r, p->reason, sizeof p->reason);
            continue;
        }
        struct lb_gpu *g = &hw->gpus[hw->n_gpus++];
        memset(g, 0, sizeof *g);
        snprintf(g->runtime, sizeof g->runtime, "hip");
        g->index = i;
        if (h.device_get_name(g->name, (int)sizeof g->name, dev) != 0)
            snprintf(g->name, sizeof g->name, "unknown");
        g->name[sizeof g->name - 1] = '\0';
        size_t bytes = 0;
        if (h.device_total_mem(&bytes, dev) == 0) g->mem_bytes = bytes;
        if (attrs_ok) {
            g->multiprocessors = hip_attr(&h, LB_HIP_ATTR_MULTIPROCESSOR_COUNT, i);
            g->clock_khz = hip_attr(&h, LB_HIP_ATTR_CLOCK_RATE, i);
            g->mem_bus_bits = hip_attr(&h, LB_HIP_ATTR_MEMORY_BUS_WIDTH, i);
        }
        char bus_id[32] = "";
        unsigned d0, b0, s0, f0;
        if (h.device_get_pci_bus_id &&
            h.device_get_pci_bus_id(bus_id, (int)sizeof bus_id, i) == 0) {
            bus_id[sizeof bus_id - 1] = '\0';
            if (sscanf(bus_id, "%x:%x:%x.%x", &d0, &b0, &s0, &f0) == 4)
                kfd_arch(d0, b0, s0, f0, g->arch, sizeof g->arch);
        }
    }
}

void lb_gpus_probe(struct lb_hw *hw)
{
    hw->n_gpus = 0;
    probe_cuda(hw);
    probe_hip(hw);
}
