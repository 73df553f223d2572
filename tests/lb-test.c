/* lb-test.c: implementation of the unit-test kit (see lb-test.h). */
#include "lb-test.h"

#include <stdarg.h>
#include <time.h>

int lb_test_checks, lb_test_failures;
static int skipped;

void lb_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    lb_test_failures++;
    fprintf(stderr, "%s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void lb_test_skip(const char *fmt, ...)
{
    va_list ap;
    skipped = 1;
    printf("skipped: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

int lb_test_finish(void)
{
    printf("%d checks, %d failed\n", lb_test_checks, lb_test_failures);
    if (lb_test_failures) return 1;
    if (skipped) return 77;
    if (lb_test_checks == 0) {
        fprintf(stderr, "no checks ran\n");
        return 1;
    }
    return 0;
}

unsigned long long lb_test_seed(void)
{
    const char *s = getenv("LB_TEST_SEED");
    unsigned long long seed;
    if (s && *s) {
        seed = strtoull(s, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (unsigned long long)ts.tv_sec * 1000000007ull ^ (unsigned long long)ts.tv_nsec;
    }
    printf("seed: LB_TEST_SEED=%llu\n", seed);
    return seed;
}

unsigned long long lb_test_rand_u64(unsigned long long *state)
{
    unsigned long long z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double lb_test_rand_uniform(unsigned long long *state)
{
    return (double)(lb_test_rand_u64(state) >> 11) * (1.0 / 9007199254740992.0);
}

double lb_test_rand_normal(unsigned long long *state)
{
    double u1 = lb_test_rand_uniform(state), u2 = lb_test_rand_uniform(state);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
