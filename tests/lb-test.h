/* lb-test.h: the tiny assertion kit of llmbench's unit tests.
 *
 * A test file defines test functions and calls them through LB_RUN from
 * main, then returns lb_test_finish(). Each failed check prints file:line
 * and the values; the process exits 1 when any check failed, 77 (ctest's
 * SKIP_RETURN_CODE) when lb_test_skip was called with nothing failed.
 */
#ifndef LB_TEST_H
#define LB_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

extern int lb_test_checks, lb_test_failures;

void lb_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Marks the whole test executable as skipped, with the reason printed as
 * "skipped: <reason>". */
void lb_test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int lb_test_finish(void);
/* Deterministic but fresh-per-run seed: LB_TEST_SEED env or time; printed
 * so that a failure can be reproduced. */
unsigned long long lb_test_seed(void);
/* splitmix64-based generator for test inputs */
unsigned long long lb_test_rand_u64(unsigned long long *state);
double lb_test_rand_uniform(unsigned long long *state); /* [0,1) */
double lb_test_rand_normal(unsigned long long *state);

#define CHECK(cond)                                                           \
    do {                                                                      \
        lb_test_checks++;                                                     \
        if (!(cond)) lb_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);    \
    } while (0)

#define CHECK_MSG(cond, ...)                                                  \
    do {                                                                      \
        lb_test_checks++;                                                     \
        if (!(cond)) lb_test_fail(__FILE__, __LINE__, __VA_ARGS__);           \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                    \
    do {                                                                      \
        long long _a = (long long)(a), _b = (long long)(b);                   \
        lb_test_checks++;                                                     \
        if (_a != _b)                                                         \
            lb_test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a,    \
                         #b, _a, _b);                                         \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                 \
    do {                                                                      \
        double _a = (double)(a), _b = (double)(b), _t = (double)(tol);        \
        lb_test_checks++;                                                     \
        if (!(fabs(_a - _b) <= _t))                                           \
            lb_test_fail(__FILE__, __LINE__, "%s ~ %s: %.17g vs %.17g (tol %g)", \
                         #a, #b, _a, _b, _t);                                 \
    } while (0)

#define LB_RUN(fn)                                                            \
    do {                                                                      \
        int _before = lb_test_failures;                                       \
        fn();                                                                 \
        printf("%s %s\n", lb_test_failures == _before ? "ok  " : "FAIL", #fn); \
    } while (0)

#endif
