/* test-harness.c: the measurement core on fake benchmarks whose work and
 * behaviour are known: derived metrics follow the declared work, failures
 * and skips are recorded (not fatal), every call is counted, validation
 * runs after timing, and the per-case peak RSS sees the case's memory. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../bench/lb-harness.h"
#include "lb-test.h"

struct fake {
    uint64_t calls, last_iter;
    bool fail_validate;
    char *big;
    size_t big_bytes;
    volatile double sink;
};

static enum lb_status fake_setup(const struct lb_bench_env *env, void **state,
                                 struct lb_error *err)
{
    const char *mode = lb_case_text(env->params, "mode", "ok");
    if (!strcmp(mode, "skip")) return lb_error_set(err, LB_EUNSUPPORTED, "no such ISA here");
    if (!strcmp(mode, "fail")) return lb_error_set(err, LB_ENOMEM, "cannot allocate 1 TiB");
    struct fake *f = calloc(1, sizeof *f);
    f->fail_validate = !strcmp(mode, "badvalid");
    f->big_bytes = (size_t)lb_case_num(env->params, "touch_bytes", 0);
    if (f->big_bytes) {
        f->big = malloc(f->big_bytes);
        memset(f->big, 1, f->big_bytes);
    }
    *state = f;
    return LB_OK;
}

static void fake_run(void *state, struct lb_pool *pool, uint64_t iter)
{
    struct fake *f = state;
    double x = 0;
    for (int i = 0; i < 2000; i++) x += sqrt((double)i + (double)iter);
    f->sink = x;
    f->calls++;
    f->last_iter = iter;
}

static enum lb_status fake_validate(void *state, struct lb_pool *pool, struct lb_error *err)
{
    struct fake *f = state;
    if (f->fail_validate) return lb_error_set(err, LB_EVALIDATE, "element 3 is 7, expected 5");
    return LB_OK;
}

static struct fake last_state;
static void fake_teardown(void *state, struct lb_pool *pool)
{
    struct fake *f = state;
    last_state = *f;
    free(f->big);
    free(f);
}

static double fake_bytes(const void *s) { return 1e6; }
static double fake_ops(const void *s) { return 3e6; }
static const char *fake_path(const void *s) { return "fakeisa"; }

static const struct lb_bench fake = {
    .name = "fake", .axes = "threads", .setup = fake_setup, .run = fake_run,
    .validate = fake_validate, .teardown = fake_teardown, .bytes = fake_bytes,
    .ops = fake_ops, .ops_unit = "FLOP", .path = fake_path,
};

static struct lb_hw *hw;
static struct lb_pool *pool;

static void measure(const char *mode, double touch, struct lb_result *r,
                    struct lb_measure_config *mc)
{
    struct lb_case c = {0};
    char t[32];
    lb_case_set(&c, "threads", "1");
    lb_case_set(&c, "mode", mode);
    snprintf(t, sizeof t, "%.0f", touch);
    lb_case_set(&c, "touch_bytes", t);
    struct lb_bench_env env = {.hw = hw, .pool = pool, .isa = LB_ISA_SCALAR, .params = &c};
    memset(r, 0, sizeof *r);
    r->params = c;
    memset(&last_state, 0, sizeof last_state);
    lb_measure_case(&fake, &env, mc, r);
}

static void test_ok_case(void)
{
    struct lb_measure_config mc;
    lb_measure_config_default(&mc);
    mc.stop.budget_s = 0.3;
    struct lb_result r;
    measure("ok", 0, &r, &mc);
    CHECK_INT_EQ(r.status, LB_RESULT_OK);
    CHECK(r.n_samples >= 3);
    CHECK(r.calls_per_sample >= 1);
    CHECK(strcmp(r.path, "fakeisa") == 0);
    /* every call was made through run(), iter counts them from 0 */
    CHECK(last_state.calls >= r.n_samples * r.calls_per_sample);
    CHECK_INT_EQ(last_state.last_iter + 1, last_state.calls);
    /* statistics are those of the stored samples */
    struct lb_stats st;
    lb_stats_compute(r.samples_ns, r.n_samples, &st);
    CHECK_NEAR(st.median, r.stats.median, 0);
    CHECK(r.stop != LB_STOP_CONTINUE);
    /* metrics follow the declared work per call and the median time */
    const struct lb_metric *bw = lb_result_metric(&r, "bandwidth");
    const struct lb_metric *tp = lb_result_metric(&r, "throughput");
    CHECK(bw && !strcmp(bw->unit, "GB/s"));
    CHECK(tp && !strcmp(tp->unit, "GFLOP/s"));
    if (bw) CHECK_NEAR(bw->value, 1e6 / r.stats.median, 1e-9 * bw->value);
    if (tp) CHECK_NEAR(tp->value, 3e6 / r.stats.median, 1e-9 * tp->value);
    lb_result_clear(&r);
}

static void test_skip_fail_validate(void)
{
    struct lb_measure_config mc;
    lb_measure_config_default(&mc);
    mc.stop.budget_s = 0.05;
    struct lb_result r;
    measure("skip", 0, &r, &mc);
    CHECK_INT_EQ(r.status, LB_RESULT_SKIPPED);
    CHECK(strstr(r.reason, "no such ISA") != NULL);
    CHECK_INT_EQ(r.n_samples, 0);
    measure("fail", 0, &r, &mc);
    CHECK_INT_EQ(r.status, LB_RESULT_FAILED);
    CHECK(strstr(r.reason, "1 TiB") != NULL);
    measure("badvalid", 0, &r, &mc);
    CHECK_INT_EQ(r.status, LB_RESULT_FAILED);
    CHECK(strstr(r.reason, "validation failed: element 3") != NULL);
    CHECK(r.n_samples > 0); /* timing happened before validation */
    lb_result_clear(&r);
}

static void test_peak_rss(void)
{
    struct lb_measure_config mc;
    lb_measure_config_default(&mc);
    mc.stop.budget_s = 0.05;
    struct lb_result r;
    const double big = 96.0 * 1024 * 1024;
    measure("ok", big, &r, &mc);
    CHECK_MSG(r.peak_rss_bytes >= (long long)big, "peak rss %lld < %.0f", r.peak_rss_bytes, big);
    lb_result_clear(&r);
    /* the next case without the buffer sees a lower peak: reset works */
    measure("ok", 0, &r, &mc);
    if (r.peak_rss_bytes >= (long long)big)
        printf("note: peak RSS reset not supported by this kernel\n");
    else
        CHECK(r.peak_rss_bytes < (long long)big);
    lb_result_clear(&r);
}

static void test_timer(void)
{
    double res = lb_timer_resolution_s();
    CHECK(res > 0 && res < 1e-3);
    double a = lb_now_s(), b = lb_now_s();
    CHECK(b >= a);
}

int main(void)
{
    struct lb_error err = {0};
    if (lb_hw_discover(&hw, &err) != LB_OK) {
        fprintf(stderr, "hw: %s\n", err.msg);
        return 1;
    }
    struct lb_pool_config pc = {.n_threads = 1, .pin = LB_PIN_NONE, .numa_node = -1};
    if (lb_pool_create(hw, &pc, &pool, &err) != LB_OK) {
        fprintf(stderr, "pool: %s\n", err.msg);
        return 1;
    }
    LB_RUN(test_ok_case);
    LB_RUN(test_skip_fail_validate);
    LB_RUN(test_peak_rss);
    LB_RUN(test_timer);
    lb_pool_destroy(pool);
    lb_hw_free(hw);
    return lb_test_finish();
}
