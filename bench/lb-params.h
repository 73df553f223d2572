/* lb-params.h: parameter sweeps from the command line.
 *
 * A sweep is a comma-separated list of items; each item is a value or a
 * range:
 *   1,2,4           values
 *   1-8             integers 1..8 step +1
 *   1-16*2          geometric: 1,2,4,8,16
 *   1M-1G*4         sizes with binary suffixes K, M, G, T (1K = 1024)
 *   64-256+64       arithmetic: 64,128,192,256
 * Text axes (--pin, --quant later) are plain comma lists.
 * Errors name the offending item and the accepted forms.
 */
#ifndef LB_PARAMS_H
#define LB_PARAMS_H

#include <stddef.h>

#include "../kernels/lb-base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LB_SWEEP_MAX 256

struct lb_sweep {
    size_t n;
    double v[LB_SWEEP_MAX];
};

/* what: the flag name for messages ("--threads"); allow_suffix: K/M/G/T
 * accepted; integer: values must be whole numbers; min_value: smallest
 * accepted value. */
enum lb_status lb_sweep_parse(const char *spec, const char *what,
                              bool allow_suffix, bool integer,
                              double min_value, struct lb_sweep *out,
                              struct lb_error *err);

/* Formats a byte count the way users type it back: "512M", "1.5G". */
void lb_format_bytes(double bytes, char *buf, size_t len);

/* Bytes of one text item incl. NUL: 255 fit a model file path. */
#define LB_TEXT_MAX 256
struct lb_text_list {
    size_t n;
    char v[32][LB_TEXT_MAX];
};

enum lb_status lb_text_list_parse(const char *spec, const char *what,
                                  struct lb_text_list *out,
                                  struct lb_error *err);

#ifdef __cplusplus
}
#endif
#endif
