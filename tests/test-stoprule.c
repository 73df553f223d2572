/* test-stoprule.c: unit tests of the sampling stop rule (lb_stop_check in
 * bench/stats.c): defaults, names, and each rule of lb-stats.h in turn,
 * driven the way the harness drives it (one call per new sample).
 */
#include "bench/lb-stats.h"
#include "tests/lb-test.h"

#include <string.h>

enum { NMAX = 1200 };
static double samples[NMAX];

/* Feeds samples[0..] one at a time with elapsed = dt * n after n samples,
 * as the harness does; returns the first non-CONTINUE n (or 0 when none up
 * to limit) and the reason in *why. */
static size_t drive(const struct lb_stop_rule *r, double dt, size_t limit,
                    enum lb_stop_reason *why)
{
    for (size_t n = 1; n <= limit; n++) {
        enum lb_stop_reason s = lb_stop_check(r, samples, n, dt * (double)n);
        if (s != LB_STOP_CONTINUE) {
            *why = s;
            return n;
        }
    }
    *why = LB_STOP_CONTINUE;
    return 0;
}

static void test_defaults_and_names(void)
{
    struct lb_stop_rule r;
    memset(&r, 0xff, sizeof r);
    lb_stop_rule_default(&r);
    CHECK_INT_EQ(r.min_samples, 10);
    CHECK_INT_EQ(r.max_samples, 1000);
    CHECK(r.min_time_s == 0.05);
    CHECK(r.target_ci_rel == 0.01);
    CHECK(r.budget_s == 2.0);
    CHECK(strcmp(lb_stop_reason_name(LB_STOP_CONTINUE), "continue") == 0);
    CHECK(strcmp(lb_stop_reason_name(LB_STOP_CONVERGED), "converged") == 0);
    CHECK(strcmp(lb_stop_reason_name(LB_STOP_BUDGET), "budget") == 0);
    CHECK(strcmp(lb_stop_reason_name(LB_STOP_MAX_SAMPLES), "max_samples") == 0);
    CHECK(strcmp(lb_stop_reason_name((enum lb_stop_reason)42), "unknown") == 0);
}

static void test_constant_converges_at_min_samples(void)
{
    /* constant samples: CI [c, c], ci_rel 0 from the first sample on.
     * dt = 0.01: min_time 0.05 holds from n = 5, min_samples from n = 10,
     * so the first stop is CONVERGED at exactly n = 10. */
    struct lb_stop_rule r;
    enum lb_stop_reason why;
    lb_stop_rule_default(&r);
    for (size_t i = 0; i < NMAX; i++) samples[i] = 123.0;
    CHECK_INT_EQ(drive(&r, 0.01, NMAX, &why), 10);
    CHECK_INT_EQ(why, LB_STOP_CONVERGED);

    /* dt = 0.001: min_samples holds at 10 but min_time 0.05 only from
     * n = 50 (50 * 0.001 = 0.05 in double); converges exactly there */
    CHECK(50 * 0.001 >= 0.05 && 49 * 0.001 < 0.05);
    CHECK_INT_EQ(drive(&r, 0.001, NMAX, &why), 50);
    CHECK_INT_EQ(why, LB_STOP_CONVERGED);
}

static void test_below_min_time_continues(void)
{
    /* perfect samples but no time has passed: CONTINUE up to the cap */
    struct lb_stop_rule r;
    enum lb_stop_reason why;
    lb_stop_rule_default(&r);
    for (size_t i = 0; i < NMAX; i++) samples[i] = 5.0;
    CHECK_INT_EQ(lb_stop_check(&r, samples, 999, 0.0), LB_STOP_CONTINUE);
    CHECK_INT_EQ(lb_stop_check(&r, samples, 500, 0.0499), LB_STOP_CONTINUE);
    CHECK_INT_EQ(lb_stop_check(&r, samples, 500, 0.05), LB_STOP_CONVERGED);
    CHECK_INT_EQ(drive(&r, 0.0, NMAX, &why), 1000);
    CHECK_INT_EQ(why, LB_STOP_MAX_SAMPLES);
    /* enough time, too few samples */
    CHECK_INT_EQ(lb_stop_check(&r, samples, 9, 1.0), LB_STOP_CONTINUE);
    /* never converges on zero samples, even with min_samples = 0 */
    r.min_samples = 0;
    CHECK_INT_EQ(lb_stop_check(&r, samples, 0, 1.0), LB_STOP_CONTINUE);
    CHECK_INT_EQ(lb_stop_check(&r, samples, 1, 1.0), LB_STOP_CONVERGED);
}

static void test_noisy_never_converges(void)
{
    /* alternating 1, 2: for even n >= 6 the CI (0-based ranks lo <= n/2-1
     * < n/2 <= hi of n/2 ones and n/2 twos) is [1, 2], median 1.5,
     * ci_rel = 0.5/1.5 = 1/3; odd n has median 1 or 2 with CI [1, 2],
     * ci_rel >= 1/4. Far above 1%: never CONVERGED. */
    struct lb_stop_rule r;
    enum lb_stop_reason why;
    lb_stop_rule_default(&r);
    for (size_t i = 0; i < NMAX; i++) samples[i] = (i % 2) ? 2.0 : 1.0;

    /* fast samples: 1000 * 1e-4 = 0.1 s < budget -> MAX_SAMPLES at 1000 */
    CHECK_INT_EQ(drive(&r, 1e-4, NMAX, &why), 1000);
    CHECK_INT_EQ(why, LB_STOP_MAX_SAMPLES);

    /* slow samples: elapsed = n / 100 reaches budget 2.0 at n = 200 */
    CHECK_INT_EQ(drive(&r, 0.01, NMAX, &why), 200);
    CHECK_INT_EQ(why, LB_STOP_BUDGET);
    CHECK(199 * 0.01 < 2.0 && 200 * 0.01 >= 2.0);
}

static void test_budget(void)
{
    struct lb_stop_rule r;
    lb_stop_rule_default(&r);
    /* distinct values: for n = 500 the CI spans ~45 ranks, ci_rel ~ 9% */
    for (size_t i = 0; i < NMAX; i++) samples[i] = 10.0 + (double)i;
    /* past budget: BUDGET from 3 samples on, before min_samples/min_time
     * matter and whatever the CI */
    CHECK_INT_EQ(lb_stop_check(&r, samples, 1, 5.0), LB_STOP_CONTINUE);
    CHECK_INT_EQ(lb_stop_check(&r, samples, 2, 5.0), LB_STOP_CONTINUE);
    CHECK_INT_EQ(lb_stop_check(&r, samples, 3, 5.0), LB_STOP_BUDGET);
    CHECK_INT_EQ(lb_stop_check(&r, samples, 5, 2.0), LB_STOP_BUDGET);
    CHECK_INT_EQ(lb_stop_check(&r, samples, 500, 2.0), LB_STOP_BUDGET);
    CHECK_INT_EQ(lb_stop_check(&r, samples, 500, 1.999), LB_STOP_CONTINUE);
    /* budget is checked before max_samples */
    CHECK_INT_EQ(lb_stop_check(&r, samples, 1000, 2.5), LB_STOP_BUDGET);
    CHECK_INT_EQ(lb_stop_check(&r, samples, 1000, 1.5), LB_STOP_MAX_SAMPLES);
    /* ... and before convergence */
    for (size_t i = 0; i < 20; i++) samples[i] = 7.0;
    CHECK_INT_EQ(lb_stop_check(&r, samples, 20, 3.0), LB_STOP_BUDGET);
    CHECK_INT_EQ(lb_stop_check(&r, samples, 20, 1.0), LB_STOP_CONVERGED);
    /* a tiny max_samples caps even under the 3-sample budget floor */
    r.max_samples = 2;
    CHECK_INT_EQ(lb_stop_check(&r, samples, 2, 5.0), LB_STOP_MAX_SAMPLES);
    r.max_samples = 0;
    CHECK_INT_EQ(lb_stop_check(&r, samples, 0, 0.0), LB_STOP_MAX_SAMPLES);
}

static void test_target_boundary(void)
{
    /* n = 10, 95% CI = 0-based order statistics (1, 8).
     * sorted {90, 99, 100 x6, 101, 110}: median 100, CI [99, 101],
     * ci_rel = (101-99)/2/100 = 0.01 = target -> CONVERGED (at or below) */
    struct lb_stop_rule r;
    lb_stop_rule_default(&r);
    double a[10] = {100, 110, 99, 100, 100, 90, 101, 100, 100, 100};
    CHECK_INT_EQ(lb_stop_check(&r, a, 10, 0.1), LB_STOP_CONVERGED);
    /* x(8) = 101.5: ci_rel = 2.5/2/100 = 0.0125 > 0.01 -> CONTINUE */
    a[6] = 101.5;
    CHECK_INT_EQ(lb_stop_check(&r, a, 10, 0.1), LB_STOP_CONTINUE);
    /* the looser target 0.0125 is met */
    r.target_ci_rel = 0.0125;
    CHECK_INT_EQ(lb_stop_check(&r, a, 10, 0.1), LB_STOP_CONVERGED);
    /* the outliers 90 and 110 are outside the CI ranks and do not matter */
    a[5] = 1.0;
    a[1] = 1e9;
    CHECK_INT_EQ(lb_stop_check(&r, a, 10, 0.1), LB_STOP_CONVERGED);
}

static void test_agrees_with_stats(void)
{
    /* randomized: a harness-like loop on 5% Gaussian noise; the decision
     * at every step matches the rule applied to lb_stats_compute's ci_rel,
     * and with ~0.12/sqrt(n) relative half-width it converges near
     * n = 150, long before max_samples or the budget */
    struct lb_stop_rule r;
    lb_stop_rule_default(&r);
    unsigned long long st = lb_test_seed();
    enum lb_stop_reason why = LB_STOP_CONTINUE;
    size_t n = 0;
    while (why == LB_STOP_CONTINUE && n < NMAX) {
        samples[n] = 1000.0 * (1.0 + 0.05 * lb_test_rand_normal(&st));
        n++;
        double elapsed = 0.001 * (double)n;
        why = lb_stop_check(&r, samples, n, elapsed);
        struct lb_stats s;
        lb_stats_compute(samples, n, &s);
        enum lb_stop_reason want = LB_STOP_CONTINUE;
        if (n >= r.min_samples && elapsed >= r.min_time_s && s.ci_rel <= r.target_ci_rel)
            want = LB_STOP_CONVERGED;
        CHECK_MSG(why == want, "n=%zu: got %s, want %s (ci_rel %g)", n,
                  lb_stop_reason_name(why), lb_stop_reason_name(want), s.ci_rel);
        if (why != want) break;
    }
    CHECK_INT_EQ(why, LB_STOP_CONVERGED);
    CHECK_MSG(n >= 50 && n < 1000, "converged at n=%zu", n);
}

int main(void)
{
    LB_RUN(test_defaults_and_names);
    LB_RUN(test_constant_converges_at_min_samples);
    LB_RUN(test_below_min_time_continues);
    LB_RUN(test_noisy_never_converges);
    LB_RUN(test_budget);
    LB_RUN(test_target_boundary);
    LB_RUN(test_agrees_with_stats);
    return lb_test_finish();
}
