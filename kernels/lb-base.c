/* lb-base.c: error helpers shared by every layer. */
#include "lb-base.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

enum lb_status lb_error_set(struct lb_error *err, enum lb_status s,
                            const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = s;
    }
    return s;
}

const char *lb_status_name(enum lb_status s)
{
    static const char *const names[] = {
        [LB_OK] = "ok",
        [LB_EINVAL] = "invalid input",
        [LB_ENOMEM] = "out of memory",
        [LB_EIO] = "i/o error",
        [LB_EUNSUPPORTED] = "unsupported",
        [LB_EVALIDATE] = "validation failed",
    };
    if ((unsigned)s < LB_ARRAY_LEN(names) && names[s]) return names[s];
    return "unknown status";
}

void lb_assert_fail(const char *expr, const char *file, int line,
                    const char *func)
{
    fprintf(stderr, "llmbench: internal error: assertion '%s' failed at %s:%d (%s)\n",
            expr, file, line, func);
    abort();
}
