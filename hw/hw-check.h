/* hw-check.h: internal to hw/. The check macro every fallible hwloc call
 * goes through (STYLE.md #12), so the message names the statement,
 * function, file and line. hwloc returns -1 with errno set on failure.
 * Expects `enum lb_status st`, `struct lb_error *err` and a `fail:` label
 * in the calling function. */
#ifndef LB_HW_CHECK_H
#define LB_HW_CHECK_H

#include <errno.h>
#include <string.h>

#include "../kernels/lb-base.h"

#define HWLOC_CHECK(stmt)                                                     \
    do {                                                                      \
        if ((stmt) < 0) {                                                     \
            st = lb_error_set(err, LB_EIO, "hwloc: %s failed: %s (%s:%d %s)", \
                              #stmt, strerror(errno), __FILE__, __LINE__,     \
                              __func__);                                      \
            goto fail;                                                        \
        }                                                                     \
    } while (0)

#endif
