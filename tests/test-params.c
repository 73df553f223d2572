/* test-params.c: sweep lists and ranges parse to exactly the values a
 * user means, and every malformed spec is rejected with a message. */
#include <string.h>

#include "../bench/lb-params.h"
#include "lb-test.h"

static void expect(const char *spec, bool suffix, const double *want, size_t n)
{
    struct lb_sweep s;
    struct lb_error err = {0};
    enum lb_status st = lb_sweep_parse(spec, "--x", suffix, true, 1, &s, &err);
    CHECK_MSG(st == LB_OK, "'%s' rejected: %s", spec, err.msg);
    CHECK_MSG(s.n == n, "'%s': %zu values, want %zu", spec, s.n, n);
    for (size_t i = 0; i < n && i < s.n; i++)
        CHECK_MSG(s.v[i] == want[i], "'%s'[%zu] = %g, want %g", spec, i, s.v[i], want[i]);
}

static void expect_bad(const char *spec, bool suffix, const char *needle)
{
    struct lb_sweep s;
    struct lb_error err = {0};
    enum lb_status st = lb_sweep_parse(spec, "--x", suffix, true, 1, &s, &err);
    CHECK_MSG(st == LB_EINVAL, "'%s' accepted", spec);
    CHECK_MSG(strstr(err.msg, needle) != NULL, "'%s': message '%s' lacks '%s'", spec, err.msg, needle);
}

static void test_lists_and_ranges(void)
{
    expect("1,2", false, (double[]){1, 2}, 2);
    expect("3", false, (double[]){3}, 1);
    expect("1-4", false, (double[]){1, 2, 3, 4}, 4);
    expect("1-16*2", false, (double[]){1, 2, 4, 8, 16}, 5);
    expect("1-20*4", false, (double[]){1, 4, 16}, 3);
    expect("64-256+64", false, (double[]){64, 128, 192, 256}, 4);
    expect("1,4-6,9", false, (double[]){1, 4, 5, 6, 9}, 5);
}

static void test_sizes(void)
{
    const double K = 1024, M = K * K, G = M * K;
    expect("1K", true, (double[]){K}, 1);
    expect("1M-1G*4", true, (double[]){M, 4 * M, 16 * M, 64 * M, 256 * M, G}, 6);
    expect("512MiB,2G", true, (double[]){512 * M, 2 * G}, 2);
    expect("1M-3M+1M", true, (double[]){M, 2 * M, 3 * M}, 3);
    expect("4096", true, (double[]){4096}, 1);
}

static void test_errors(void)
{
    expect_bad("", false, "needs a value");
    expect_bad("1,,2", false, "cannot parse ''");
    expect_bad("x", false, "cannot parse 'x'");
    expect_bad("1M", false, "cannot parse '1M'");
    expect_bad("8-2", false, "ends below its start");
    expect_bad("1-8*1", false, "factor > 1");
    expect_bad("1-8+0", false, "step > 0");
    expect_bad("0", false, "below the minimum");
    expect_bad("1.5", false, "not a whole number");
    expect_bad("12Q", true, "cannot parse '12Q'");
    expect_bad("1-100000", false, "more than");
}

static void test_format_bytes(void)
{
    char b[32];
    lb_format_bytes(512.0 * 1024 * 1024, b, sizeof b);
    CHECK(strcmp(b, "512M") == 0);
    lb_format_bytes(1536.0 * 1024 * 1024, b, sizeof b);
    CHECK(strcmp(b, "1.5G") == 0);
    lb_format_bytes(100, b, sizeof b);
    CHECK(strcmp(b, "100") == 0);
}

int main(void)
{
    LB_RUN(test_lists_and_ranges);
    LB_RUN(test_sizes);
    LB_RUN(test_errors);
    LB_RUN(test_format_bytes);
    return lb_test_finish();
}
