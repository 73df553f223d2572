/* env.c: the environment that moves benchmark results, for the report.
 *
 * A result is only comparable with another taken under the same frequency
 * governor, turbo setting, THP mode and memory speed, and on the same kind
 * of host (bare metal or which hypervisor). Everything here is read from
 * /proc, /sys, uname and CPUID; every source is optional: an absent or
 * unreadable file leaves "unknown" (or 0) rather than failing, and the
 * DIMM speed records why it could not be read (the raw SMBIOS tables are
 * root-only on most distributions).
 */
#include "lb-hw.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define LB_X86 1
#else
#define LB_X86 0
#endif

/* Reads the first line of a small text file into buf without its newline.
 * Returns false (buf = "") when the file cannot be opened or is empty. */
static bool read_line(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return false;
    bool ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    if (!ok) {
        buf[0] = '\0';
        return false;
    }
    buf[strcspn(buf, "\n")] = '\0';
    return buf[0] != '\0';
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    size_t i = 0;
    while (s[i] && isspace((unsigned char)s[i])) i++;
    if (i) memmove(s, s + i, n - i + 1);
}

/* Turbo/boost: the generic cpufreq knob (acpi-cpufreq, amd-pstate in
 * passive mode), the per-policy knob newer amd-pstate kernels expose, then
 * intel_pstate's inverted no_turbo. */
static void read_boost(char *out, size_t len)
{
    char buf[32];
    snprintf(out, len, "unknown");
    if (read_line("/sys/devices/system/cpu/cpufreq/boost", buf, sizeof buf) ||
        read_line("/sys/devices/system/cpu/cpufreq/policy0/boost", buf, sizeof buf)) {
        trim(buf);
        if (strcmp(buf, "1") == 0) snprintf(out, len, "on");
        else if (strcmp(buf, "0") == 0) snprintf(out, len, "off");
        return;
    }
    if (read_line("/sys/devices/system/cpu/intel_pstate/no_turbo", buf, sizeof buf)) {
        trim(buf);
        if (strcmp(buf, "1") == 0) snprintf(out, len, "off");
        else if (strcmp(buf, "0") == 0) snprintf(out, len, "on");
    }
}

/* "always [madvise] never" -> "madvise" */
static void read_thp(char *out, size_t len)
{
    char buf[128];
    snprintf(out, len, "unknown");
    if (!read_line("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof buf)) return;
    char *a = strchr(buf, '['), *b = a ? strchr(a, ']') : NULL;
    if (a && b && b > a + 1) snprintf(out, len, "%.*s", (int)(b - a - 1), a + 1);
}

/* CPUID leaf 1 ecx bit 31 is the "hypervisor present" bit (reserved as 0
 * on bare metal); leaf 0x40000000 then holds the 12-byte vendor id. */
static void read_virtualization(char *out, size_t len)
{
    snprintf(out, len, "unknown");
#if LB_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    if (!(c & (1u << 31))) {
        snprintf(out, len, "none");
        return;
    }
    /* Leaves above 0x40000000 are outside __get_cpuid's range checks. */
    __cpuid(0x40000000u, a, b, c, d);
    char id[13];
    memcpy(id + 0, &b, 4);
    memcpy(id + 4, &c, 4);
    memcpy(id + 8, &d, 4);
    id[12] = '\0';
    static const struct {
        const char *id, *name;
    } known[] = {
        {"KVMKVMKVM", "kvm"},        {"Microsoft Hv", "hyperv"},
        {"VMwareVMware", "vmware"},  {"XenVMMXenVMM", "xen"},
        {"TCGTCGTCGTCG", "qemu-tcg"}, {"bhyve bhyve ", "bhyve"},
        {"ACRNACRNACRN", "acrn"},    {"QNXQVMBSQG", "qnx"},
        {"VBoxVBoxVBox", "virtualbox"},
    };
    for (size_t i = 0; i < LB_ARRAY_LEN(known); i++) {
        /* KVM pads its id with NULs: compare the printable prefix. */
        if (strcmp(id, known[i].id) == 0) {
            snprintf(out, len, "%s", known[i].name);
            return;
        }
    }
    /* Unknown hypervisor: its raw id, printable characters only. */
    char raw[13];
    size_t n = 0;
    for (size_t i = 0; i < 12 && id[i]; i++)
        raw[n++] = isprint((unsigned char)id[i]) ? id[i] : '?';
    raw[n] = '\0';
    trim(raw);
    snprintf(out, len, "%s", raw[0] ? raw : "unknown hypervisor");
#endif
}

static unsigned rd16(const unsigned char *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }
static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* SMBIOS type 17 (Memory Device) speed of one DIMM in MT/s, 0 when the
 * structure does not say. Offsets from DMTF DSP0134: 0x15 Speed (2.3+),
 * 0x20 Configured Memory Speed (2.7+, what the DIMM actually runs at),
 * 0x54/0x58 their 32-bit extensions (3.3+) used when the 16-bit field
 * holds 0xFFFF. 0 means unknown; 0x0C Size 0 means an empty slot. */
static unsigned dimm_speed(const unsigned char *s, size_t n)
{
    if (n < 0x17 || s[0] != 17) return 0;
    unsigned len = s[1];
    if (len > n) len = (unsigned)n;
    if (len >= 0x0E && rd16(s + 0x0C) == 0) return 0; /* no module installed */
    if (len >= 0x22) {
        unsigned v = rd16(s + 0x20);
        if (v == 0xFFFF && len >= 0x5C) {
            uint32_t x = rd32(s + 0x58);
            if (x != 0) return x;
        } else if (v != 0 && v != 0xFFFF) {
            return v;
        }
    }
    unsigned v = rd16(s + 0x15);
    if (v == 0xFFFF && len >= 0x58) {
        uint32_t x = rd32(s + 0x54);
        if (x != 0) return x;
    } else if (v != 0 && v != 0xFFFF) {
        return v;
    }
    return 0;
}

/* The memory bus runs at the slowest populated DIMM: report the minimum. */
static void read_mem_speed(struct lb_env *env)
{
    env->mem_speed_mts = 0;
    glob_t g;
    int rc = glob("/sys/firmware/dmi/entries/17-*/raw", 0, NULL, &g);
    if (rc != 0) {
        if (rc == GLOB_NOMATCH)
            snprintf(env->mem_speed_reason, sizeof env->mem_speed_reason,
                     "no SMBIOS type 17 entries in /sys/firmware/dmi/entries");
        else
            snprintf(env->mem_speed_reason, sizeof env->mem_speed_reason,
                     "glob /sys/firmware/dmi/entries failed (%d)", rc);
        return;
    }
    unsigned best = 0;
    int n_unreadable = 0, first_errno = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        FILE *f = fopen(g.gl_pathv[i], "rb");
        if (!f) {
            if (n_unreadable++ == 0) first_errno = errno;
            continue;
        }
        unsigned char buf[256];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        unsigned v = dimm_speed(buf, n);
        if (v && (best == 0 || v < best)) best = v;
    }
    size_t n_paths = g.gl_pathc;
    globfree(&g);

    if (best) {
        env->mem_speed_mts = (int)best;
        env->mem_speed_reason[0] = '\0';
    } else if (n_unreadable == (int)n_paths) {
        snprintf(env->mem_speed_reason, sizeof env->mem_speed_reason,
                 "/sys/firmware/dmi/entries/17-*/raw: %s%s", strerror(first_errno),
                 first_errno == EACCES ? " (needs root)" : "");
    } else {
        snprintf(env->mem_speed_reason, sizeof env->mem_speed_reason,
                 "SMBIOS type 17 entries report no speed");
    }
}

void lb_env_detect(struct lb_env *env)
{
    memset(env, 0, sizeof *env);
    snprintf(env->hostname, sizeof env->hostname, "unknown");
    snprintf(env->kernel, sizeof env->kernel, "unknown");

    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(env->hostname, sizeof env->hostname, "%s", u.nodename);
        snprintf(env->kernel, sizeof env->kernel, "%s", u.release);
    }

    if (!read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor",
                   env->governor, sizeof env->governor))
        snprintf(env->governor, sizeof env->governor, "unknown");
    trim(env->governor);

    read_boost(env->boost, sizeof env->boost);
    read_thp(env->thp, sizeof env->thp);
    read_virtualization(env->virtualization, sizeof env->virtualization);
    read_mem_speed(env);

    char buf[64];
    if (read_line("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", buf, sizeof buf)) {
        char *end;
        double khz = strtod(buf, &end);
        if (end != buf && khz > 0) env->cpu_mhz_max = khz / 1000.0;
    }
}
