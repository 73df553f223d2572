/* counters.c: which hardware-counter sources PAPI offers on this machine.
 *
 * PAPI is optional at build time (LLMBENCH_HAVE_PAPI, set by CMake when
 * libpapi is found) and at run time: perf_event may be disabled by
 * kernel.perf_event_paranoid, a VM may expose no PMU, a component may lack
 * its driver. Each component is listed with PAPI's own disabled_reason so
 * the report says why counters are missing instead of silently printing
 * none (DESIGN.md: optional parts are discovered at run time).
 *
 * PAPI stays initialised afterwards: bench/ reads counters through the
 * same library instance, and re-initialising after PAPI_shutdown is not
 * reliably supported across PAPI versions.
 */
#include "lb-hw.h"

#include <string.h>

#if LLMBENCH_HAVE_PAPI
#include <papi.h>

/* PAPI_strerror returns NULL for codes it does not know. */
static const char *papi_err(int rc)
{
    const char *s = PAPI_strerror(rc);
    return s ? s : "unknown PAPI error";
}

/* STYLE.md #12: PAPI calls name themselves in the recorded reason. */
#define PAPI_REASON(probe, stmt, rc)                                          \
    snprintf((probe)->reason, sizeof (probe)->reason, "%s: %s (%s:%d)",      \
             stmt, papi_err(rc), __FILE__, __LINE__)

void lb_counters_probe(struct lb_hw *hw)
{
    hw->papi_built = true;
    memset(&hw->papi, 0, sizeof hw->papi);
    hw->n_components = 0;

    if (PAPI_is_initialized() == PAPI_NOT_INITED) {
        int rc = PAPI_library_init(PAPI_VER_CURRENT);
        if (rc != PAPI_VER_CURRENT) {
            /* A positive rc is a header/library version mismatch. */
            if (rc > 0)
                snprintf(hw->papi.reason, sizeof hw->papi.reason,
                         "PAPI_library_init: library version %d.%d does not match "
                         "headers %d.%d",
                         PAPI_VERSION_MAJOR(rc), PAPI_VERSION_MINOR(rc),
                         PAPI_VERSION_MAJOR(PAPI_VER_CURRENT),
                         PAPI_VERSION_MINOR(PAPI_VER_CURRENT));
            else
                PAPI_REASON(&hw->papi, "PAPI_library_init(PAPI_VER_CURRENT)", rc);
            return;
        }
    }

    int n = PAPI_num_components();
    if (n < 0) {
        PAPI_REASON(&hw->papi, "PAPI_num_components()", n);
        return;
    }
    int n_enabled = 0;
    for (int i = 0; i < n && hw->n_components < LB_HW_MAX_COMPONENTS; i++) {
        const PAPI_component_info_t *ci = PAPI_get_component_info(i);
        if (!ci) continue;
        struct lb_counter_component *c = &hw->components[hw->n_components++];
        snprintf(c->name, sizeof c->name, "%s", ci->name);
        c->enabled = ci->disabled == 0;
        if (c->enabled) {
            c->reason[0] = '\0';
            n_enabled++;
        } else if (ci->disabled_reason[0]) {
            snprintf(c->reason, sizeof c->reason, "%s", ci->disabled_reason);
        } else {
            snprintf(c->reason, sizeof c->reason, "disabled: %s",
                     papi_err(ci->disabled));
        }
    }
    /* available = the library initialised (lb-hw.h); which components can
     * count is in components[], and n_devices says how many are enabled. */
    hw->papi.available = true;
    hw->papi.n_devices = n_enabled;
}

#else /* !LLMBENCH_HAVE_PAPI */

void lb_counters_probe(struct lb_hw *hw)
{
    hw->papi_built = false;
    memset(&hw->papi, 0, sizeof hw->papi);
    snprintf(hw->papi.reason, sizeof hw->papi.reason, "built without PAPI");
    hw->n_components = 0;
}

#endif
