/* lb-base.h: the few things every layer of llmbench shares.
 *
 * Two tiers of errors (STYLE.md #11):
 *  - programmer errors: LB_ASSERT, always on (also in Release), prints
 *    file:line and aborts;
 *  - recoverable errors (bad input, missing device, malformed file,
 *    allocation failure): functions return an lb_status and fill a
 *    caller-owned struct lb_error with one human line. Only bench/main.c
 *    turns a status into an exit code.
 */
#ifndef LB_BASE_H
#define LB_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

enum lb_status {
    LB_OK = 0,
    LB_EINVAL,       /* bad input from the user: flag, value, file contents */
    LB_ENOMEM,       /* allocation failed */
    LB_EIO,          /* file or OS call failed */
    LB_EUNSUPPORTED, /* this machine/build cannot do it (no ISA, no GPU) */
    LB_EVALIDATE,    /* a kernel's output did not match the reference */
};

struct lb_error {
    enum lb_status status;
    char msg[512]; /* one line, no trailing newline */
};

/* Sets err (when not NULL) and returns s, so callers can write
 * `return lb_error_set(err, LB_EINVAL, "bad --threads '%s'", v);` */
enum lb_status lb_error_set(struct lb_error *err, enum lb_status s,
                            const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

const char *lb_status_name(enum lb_status s);

_Noreturn void lb_assert_fail(const char *expr, const char *file, int line,
                              const char *func);

#define LB_ASSERT(x)                                                          \
    do {                                                                      \
        if (!(x)) lb_assert_fail(#x, __FILE__, __LINE__, __func__);           \
    } while (0)

#define LB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Keeps the compiler from proving a computed value dead (STYLE.md #8). */
static inline void lb_do_not_optimize(const void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

/* Static split of n items over nth workers: [*begin, *end) for ith,
 * in whole `align`-item blocks; the first (blocks % nth) workers take one
 * block more, and the last range is clipped to n. Shared by kernels and
 * pool alike so a buffer is first-touched in the same split that reads it. */
static inline void lb_split(size_t n, size_t align, int ith, int nth,
                            size_t *begin, size_t *end)
{
    size_t blocks = (n + align - 1) / align;
    size_t per = blocks / (size_t)nth, extra = blocks % (size_t)nth;
    size_t b = (size_t)ith * per + ((size_t)ith < extra ? (size_t)ith : extra);
    size_t e = b + per + ((size_t)ith < extra ? 1 : 0);
    b *= align;
    e *= align;
    *begin = b < n ? b : n;
    *end = e < n ? e : n;
}

/* splitmix64 (Steele, Lea, Flood 2014): lb_mix64 is its output function
 * of z + the golden gamma, a cheap 64-bit hash for deriving seeds;
 * lb_splitmix64 steps a state and returns the next value. One copy for
 * every seeded stream (weights, case order, bootstrap), identical on
 * every platform, so fixed seeds give the same bytes everywhere. */
static inline uint64_t lb_mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t lb_splitmix64(uint64_t *s)
{
    uint64_t z = lb_mix64(*s);
    *s += 0x9e3779b97f4a7c15ull;
    return z;
}

#ifdef __cplusplus
}
#endif
#endif
