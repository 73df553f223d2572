/* test-pool.c: the worker pool (hw/pool.c): pinning, exact results over
 * many regions (including the spin-to-sleep transition, where a lost
 * wake-up would hang), error paths, buffer allocation, and a printed (not
 * asserted: the test machine is shared and noisy) dispatch + barrier
 * latency. A lost wake-up shows as a hang; alarm() turns it into a
 * failure well before ctest's timeout. */
#define _GNU_SOURCE
#include "hw/lb-pool.h"
#include "tests/lb-test.h"

#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hwloc.h>

/* Watchdog, s: the whole test takes ~10-30 s on 2 cores; ctest kills at 600. */
#define WATCHDOG_S 400

static struct lb_hw *hw;
static unsigned long long rng;

/* LB_TEST_RUNS_SCALE (e.g. 0.05) shortens the loops for sanitizer and
 * valgrind builds; 1 by default. */
static long scaled(long runs)
{
    const char *s = getenv("LB_TEST_RUNS_SCALE");
    double f = s && *s ? atof(s) : 1.0;
    long n = (long)((double)runs * (f > 0 ? f : 1.0));
    return n > 0 ? n : 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_ns(long ns)
{
    struct timespec ts = {ns / 1000000000, ns % 1000000000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Busy-waits: unlike nanosleep, lands within ~1 us of the target, so the
 * gap between regions can be placed right at the spin/sleep boundary. */
static void busy_wait_ns(long ns)
{
    double end = now_s() + (double)ns * 1e-9;
    while (now_s() < end) {
    }
}

static struct lb_pool *make_pool(int n, enum lb_pin pin, const char *cpus, int numa)
{
    struct lb_pool_config cfg = {.n_threads = n, .pin = pin, .cpus = cpus,
                                 .numa_node = numa};
    struct lb_pool *pool = NULL;
    struct lb_error err = {0};
    enum lb_status st = lb_pool_create(hw, &cfg, &pool, &err);
    CHECK_MSG(st == LB_OK, "lb_pool_create(%d, %s, %s, %d): %s", n, lb_pin_name(pin),
              cpus ? cpus : "-", numa, err.msg);
    return st == LB_OK ? pool : NULL;
}

static void test_pin_names(void)
{
    for (int p = LB_PIN_COMPACT; p <= LB_PIN_NONE; p++) {
        enum lb_pin back = LB_PIN_NONE;
        CHECK(lb_pin_parse(lb_pin_name((enum lb_pin)p), &back));
        CHECK_INT_EQ(back, p);
    }
    enum lb_pin x;
    CHECK(!lb_pin_parse("Compact", &x));
    CHECK(!lb_pin_parse("", &x));
    CHECK(!lb_pin_parse(NULL, &x));
}

static void check_observed(struct lb_pool *pool, const char *what)
{
    int n = lb_pool_size(pool);
    int cpus[LB_HW_MAX_CACHES];
    LB_ASSERT(n <= (int)LB_ARRAY_LEN(cpus));
    for (int rep = 0; rep < 5; rep++) {
        lb_pool_observe_cpus(pool, cpus);
        for (int i = 0; i < n; i++)
            CHECK_MSG(cpus[i] == lb_pool_cpu_of(pool, i),
                      "%s: worker %d observed cpu %d, bound to %d", what, i, cpus[i],
                      lb_pool_cpu_of(pool, i));
    }
}

static void test_pinning(void)
{
    cpu_set_t before, during, after;
    CHECK_INT_EQ(sched_getaffinity(0, sizeof before, &before), 0);
    int n = hw->n_pus;
    if (n > LB_HW_MAX_CACHES) n = LB_HW_MAX_CACHES;

    for (int p = LB_PIN_COMPACT; p <= LB_PIN_SPREAD; p++) {
        struct lb_pool *pool = make_pool(n, (enum lb_pin)p, NULL, -1);
        if (!pool) continue;
        check_observed(pool, lb_pin_name((enum lb_pin)p));
        /* every PU used once */
        cpu_set_t used;
        CPU_ZERO(&used);
        for (int i = 0; i < n; i++) {
            int c = lb_pool_cpu_of(pool, i);
            CHECK(c >= 0);
            if (c < 0) continue;
            CHECK_MSG(!CPU_ISSET(c, &used), "cpu %d used twice", c);
            CPU_SET(c, &used);
        }
        /* worker 0 is the caller and is bound while the pool lives */
        CHECK_INT_EQ(sched_getaffinity(0, sizeof during, &during), 0);
        CHECK_INT_EQ(CPU_COUNT(&during), 1);
        CHECK(CPU_ISSET(lb_pool_cpu_of(pool, 0), &during));
        lb_pool_destroy(pool);
        CHECK_INT_EQ(sched_getaffinity(0, sizeof after, &after), 0);
        CHECK_MSG(CPU_EQUAL(&before, &after), "caller binding not restored (%s)",
                  lb_pin_name((enum lb_pin)p));
    }

    if (hw->n_pus >= 2) {
        struct lb_pool *pool = make_pool(1, LB_PIN_COMPACT, "1", -1);
        if (pool) {
            int cpu = -1;
            for (int rep = 0; rep < 5; rep++) {
                lb_pool_observe_cpus(pool, &cpu);
                CHECK_INT_EQ(cpu, 1);
            }
            CHECK_INT_EQ(lb_pool_cpu_of(pool, 0), 1);
            lb_pool_destroy(pool);
        }
        pool = make_pool(2, LB_PIN_COMPACT, "1,0", -1);
        if (pool) {
            CHECK_INT_EQ(lb_pool_cpu_of(pool, 0), 1);
            CHECK_INT_EQ(lb_pool_cpu_of(pool, 1), 0);
            check_observed(pool, "--cpus 1,0");
            lb_pool_destroy(pool);
        }
    }

    struct lb_pool *pool = make_pool(n, LB_PIN_NONE, NULL, -1);
    if (pool) {
        int cpus[LB_HW_MAX_CACHES];
        lb_pool_observe_cpus(pool, cpus);
        for (int i = 0; i < n; i++) {
            CHECK_INT_EQ(lb_pool_cpu_of(pool, i), -1);
            CHECK(cpus[i] >= 0);
        }
        lb_pool_destroy(pool);
    }
    CHECK_INT_EQ(sched_getaffinity(0, sizeof after, &after), 0);
    CHECK(CPU_EQUAL(&before, &after));
}

/* Placement on a synthetic Zen-like machine: 2 packages, each one NUMA
 * node with 2 L3 domains (CCDs) of 3 SMT-2 cores; OS index = logical. */
static void test_plan_synthetic(void)
{
    hwloc_topology_t topo;
    LB_ASSERT(hwloc_topology_init(&topo) == 0);
    LB_ASSERT(hwloc_topology_set_synthetic(topo, "pack:2 [numa] l3:2 core:3 pu:2") == 0);
    LB_ASSERT(hwloc_topology_load(topo) == 0);
    struct lb_hw *fake = calloc(1, sizeof *fake);
    LB_ASSERT(fake);
    fake->topology = topo;
    fake->n_pus = 24;

    static const struct {
        enum lb_pin pin;
        const char *cpus;
        int numa, n;
        int want[24];
    } cases[] = {
        /* cores first in logical order, then their SMT siblings */
        {LB_PIN_COMPACT, NULL, -1, 24, {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22,
                                        1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23}},
        /* L3 order 0 (node 0), 2 (node 1), 1 (node 0), 3 (node 1) */
        {LB_PIN_SPREAD, NULL, -1, 24, {0, 12, 6, 18, 2, 14, 8, 20, 4, 16, 10, 22,
                                       1, 13, 7, 19, 3, 15, 9, 21, 5, 17, 11, 23}},
        {LB_PIN_SPREAD, NULL, -1, 2, {0, 12}},
        {LB_PIN_COMPACT, NULL, 1, 7, {12, 14, 16, 18, 20, 22, 13}},
        {LB_PIN_SPREAD, NULL, 1, 4, {12, 18, 14, 20}},
        {LB_PIN_NONE, NULL, -1, 3, {0}},  /* all -1 */
        {LB_PIN_NONE, NULL, 0, 30, {0}},  /* all -1; oversubscribed: allowed */
        {LB_PIN_COMPACT, "5,0-2,23", -1, 5, {5, 0, 1, 2, 23}},
        {LB_PIN_SPREAD, "12-13", 1, 2, {12, 13}},
    };
    int got[32];
    for (size_t k = 0; k < LB_ARRAY_LEN(cases); k++) {
        struct lb_pool_config cfg = {.n_threads = cases[k].n, .pin = cases[k].pin,
                                     .cpus = cases[k].cpus, .numa_node = cases[k].numa};
        struct lb_error err = {0};
        enum lb_status st = lb_pool_plan(fake, &cfg, got, &err);
        CHECK_MSG(st == LB_OK, "case %zu: %s", k, err.msg);
        if (st != LB_OK) continue;
        int shown = cases[k].n < 24 ? cases[k].n : 24;
        bool unbound = cases[k].pin == LB_PIN_NONE && !cases[k].cpus;
        for (int i = 0; i < (unbound ? cases[k].n : shown); i++)
            CHECK_MSG(got[i] == (unbound ? -1 : cases[k].want[i]), "case %zu (%s, numa %d): worker %d on %d, "
                      "want %d", k, lb_pin_name(cases[k].pin), cases[k].numa, i, got[i],
                      cases[k].want[i]);
    }

    static const struct {
        int n;
        enum lb_pin pin;
        const char *cpus;
        int numa;
        const char *needle;
    } bad[] = {
        {25, LB_PIN_COMPACT, NULL, -1, "--threads 25 exceeds the 24 CPUs available"},
        {13, LB_PIN_SPREAD, NULL, 0, "--threads 13 exceeds the 12 CPUs available"},
        {1, LB_PIN_COMPACT, NULL, 2, "NUMA nodes 0-1"},
        {1, LB_PIN_COMPACT, "0", 1, "cpu 0 is not on NUMA node 1"},
        {1, LB_PIN_COMPACT, "24", -1, "cpu 24 does not exist"},
        {1, LB_PIN_COMPACT, "0-30", -1, "cpu 24 does not exist"},
        {1, LB_PIN_COMPACT, "3,1-2,2", -1, "cpu 2 is listed twice"},
    };
    for (size_t k = 0; k < LB_ARRAY_LEN(bad); k++) {
        struct lb_pool_config cfg = {.n_threads = bad[k].n, .pin = bad[k].pin,
                                     .cpus = bad[k].cpus, .numa_node = bad[k].numa};
        struct lb_error err = {0};
        enum lb_status st = lb_pool_plan(fake, &cfg, got, &err);
        CHECK_MSG(st == LB_EINVAL, "bad case %zu: status %s", k, lb_status_name(st));
        CHECK_MSG(strstr(err.msg, bad[k].needle), "bad case %zu: '%s' lacks '%s'", k,
                  err.msg, bad[k].needle);
    }
    hwloc_topology_destroy(topo);
    free(fake);
}

/* ---- exact results over many regions ------------------------------------ */

#define SUM_N (1 << 16) /* 512 KiB of u64: a few us of work per region */

struct partial {
    _Alignas(64) uint64_t v; /* one line per worker */
};

struct sum_ctx {
    const uint64_t *a;
    struct partial *part;
};

static void sum_task(void *arg, int ith, int nth)
{
    struct sum_ctx *c = arg;
    size_t b, e;
    uint64_t s = 0;
    lb_split(SUM_N, 16, ith, nth, &b, &e);
    for (size_t i = b; i < e; i++) s += c->a[i];
    c->part[ith].v = s;
}

/* `runs` regions; before each, the caller changes one element (a write the
 * workers must see) and after it checks the total (writes the caller must
 * see). Gaps: mostly none, sometimes a sleep or a busy wait around the
 * spin window, so workers go to sleep between regions. */
static void sum_runs(struct lb_pool *pool, long runs, const char *what)
{
    int nth = lb_pool_size(pool);
    uint64_t *a = malloc(SUM_N * sizeof *a);
    struct partial *part = aligned_alloc(64, (size_t)nth * sizeof *part);
    LB_ASSERT(a && part);
    uint64_t expect = 0;
    for (size_t i = 0; i < SUM_N; i++) {
        a[i] = lb_test_rand_u64(&rng) >> 20;
        expect += a[i];
    }
    struct sum_ctx c = {a, part};
    long bad = 0, sleeps = 0;
    for (long r = 0; r < runs; r++) {
        size_t k = (size_t)r % SUM_N;
        a[k] += 3;
        expect += 3;
        for (int i = 0; i < nth; i++) part[i].v = UINT64_MAX; /* poison */
        double u = lb_test_rand_uniform(&rng);
        if (u < 0.0005) { /* across the boundary: 0.5x .. 3x the window */
            sleep_ns((long)(LB_POOL_SPIN_NS * (0.5 + 2.5 * lb_test_rand_uniform(&rng))));
            sleeps++;
        } else if (u < 0.001) { /* right at the boundary, +-20% */
            busy_wait_ns((long)(LB_POOL_SPIN_NS * (0.8 + 0.4 * lb_test_rand_uniform(&rng))));
            sleeps++;
        } else if (r % 20000 == 19999) { /* well past the window */
            sleep_ns(20 * LB_POOL_SPIN_NS);
            sleeps++;
        }
        lb_pool_run(pool, sum_task, &c);
        uint64_t got = 0;
        for (int i = 0; i < nth; i++) got += part[i].v;
        if (got != expect && bad++ < 5)
            CHECK_MSG(0, "%s: run %ld: sum %llu, expected %llu", what, r,
                      (unsigned long long)got, (unsigned long long)expect);
    }
    CHECK_MSG(bad == 0, "%s: %ld of %ld runs wrong", what, bad, runs);
    printf("  %s: %ld runs, %ld with a gap near/after the spin window\n", what, runs,
           sleeps);
    free(a);
    free(part);
}

static void test_sum(void)
{
    char what[64];
    for (int nth = 1; nth <= hw->n_pus && nth <= 64; nth++) {
        struct lb_pool *pool = make_pool(nth, LB_PIN_COMPACT, NULL, -1);
        if (!pool) continue;
        snprintf(what, sizeof what, "compact nth=%d", nth);
        sum_runs(pool, scaled(100000), what);
        lb_pool_destroy(pool);
    }
    /* Oversubscribed (more threads than CPUs): slow, so fewer runs. */
    int over = 2 * hw->n_pus + 1;
    struct lb_pool *pool = make_pool(over, LB_PIN_NONE, NULL, -1);
    if (pool) {
        snprintf(what, sizeof what, "none nth=%d (oversubscribed)", over);
        sum_runs(pool, scaled(3000), what);
        lb_pool_destroy(pool);
    }
}

/* Regions separated by gaps placed exactly around the spin window: each
 * one is a chance for the sleeper/waker race. */
static void test_wake_boundary(void)
{
    struct lb_pool *pool = make_pool(hw->n_pus, LB_PIN_COMPACT, NULL, -1);
    if (!pool) return;
    char what[64];
    snprintf(what, sizeof what, "boundary nth=%d", hw->n_pus);
    int nth = lb_pool_size(pool);
    uint64_t *a = calloc(SUM_N, sizeof *a);
    struct partial *part = aligned_alloc(64, (size_t)nth * sizeof *part);
    LB_ASSERT(a && part);
    struct sum_ctx c = {a, part};
    long runs = scaled(5000), bad = 0;
    for (long r = 0; r < runs; r++) {
        a[(size_t)r % SUM_N] += 1;
        busy_wait_ns((long)(LB_POOL_SPIN_NS * (0.9 + 0.2 * lb_test_rand_uniform(&rng))));
        lb_pool_run(pool, sum_task, &c);
        uint64_t got = 0;
        for (int i = 0; i < nth; i++) got += part[i].v;
        bad += got != (uint64_t)(r + 1);
    }
    CHECK_MSG(bad == 0, "%s: %ld of %ld wrong", what, bad, runs);
    printf("  %s: %ld runs\n", what, runs);
    free(a);
    free(part);
    lb_pool_destroy(pool);
}

struct count {
    _Alignas(64) uint64_t n;
};

static void count_task(void *arg, int ith, int nth)
{
    ((struct count *)arg)[ith].n++;
}

/* Millions of back-to-back empty regions: every worker runs every one. */
static void test_many_runs(void)
{
    struct lb_pool *pool = make_pool(hw->n_pus, LB_PIN_COMPACT, NULL, -1);
    if (!pool) return;
    int nth = lb_pool_size(pool);
    struct count *cnt = aligned_alloc(64, (size_t)nth * sizeof *cnt);
    LB_ASSERT(cnt);
    memset(cnt, 0, (size_t)nth * sizeof *cnt);
    const long runs = scaled(2000000);
    for (long r = 0; r < runs; r++) lb_pool_run(pool, count_task, cnt);
    for (int i = 0; i < nth; i++)
        CHECK_MSG(cnt[i].n == (uint64_t)runs, "worker %d ran %llu of %ld", i,
                  (unsigned long long)cnt[i].n, runs);
    free(cnt);
    lb_pool_destroy(pool);
}

/* ---- errors ------------------------------------------------------------- */

static void expect_einval(int n, enum lb_pin pin, const char *cpus, int numa,
                          const char *needle)
{
    struct lb_pool_config cfg = {.n_threads = n, .pin = pin, .cpus = cpus,
                                 .numa_node = numa};
    struct lb_pool *pool = NULL;
    struct lb_error err = {0};
    enum lb_status st = lb_pool_create(hw, &cfg, &pool, &err);
    CHECK_MSG(st == LB_EINVAL, "threads %d cpus %s numa %d: status %s, want EINVAL", n,
              cpus ? cpus : "-", numa, lb_status_name(st));
    CHECK(pool == NULL);
    CHECK(err.msg[0] != '\0');
    CHECK_MSG(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
    if (pool) lb_pool_destroy(pool);
}

static void test_errors(void)
{
    cpu_set_t before, after;
    CHECK_INT_EQ(sched_getaffinity(0, sizeof before, &before), 0);
    char beyond[32], over[32];
    snprintf(beyond, sizeof beyond, "0,%d", hw->n_pus + 1000);
    snprintf(over, sizeof over, "--threads %d exceeds", hw->n_pus + 1);

    expect_einval(0, LB_PIN_COMPACT, NULL, -1, "--threads 0");
    expect_einval(-3, LB_PIN_NONE, NULL, -1, "--threads -3");
    expect_einval(1, LB_PIN_COMPACT, "0,x", -1, "'x'");
    expect_einval(1, LB_PIN_COMPACT, beyond, -1, beyond + 2);
    expect_einval(1, LB_PIN_COMPACT, NULL, 99, "99");
    expect_einval(hw->n_pus + 1, LB_PIN_COMPACT, NULL, -1, over);
    expect_einval(hw->n_pus + 1, LB_PIN_SPREAD, NULL, -1, "available for pinning");
    expect_einval(2, LB_PIN_COMPACT, "0", -1, "exceeds the 1 CPUs");
    expect_einval(1, LB_PIN_COMPACT, "", -1, "empty");
    expect_einval(1, LB_PIN_COMPACT, "0,", -1, "empty");
    expect_einval(1, LB_PIN_COMPACT, ",0", -1, "empty");
    expect_einval(1, LB_PIN_COMPACT, "0, 1", -1, "' 1'");
    expect_einval(1, LB_PIN_COMPACT, "0-", -1, "'0-'");
    expect_einval(1, LB_PIN_COMPACT, "-1", -1, "'-1'");
    expect_einval(1, LB_PIN_COMPACT, "1-2-3", -1, "'1-2-3'");
    expect_einval(1, LB_PIN_COMPACT, "0x1", -1, "'0x1'");
    expect_einval(1, LB_PIN_COMPACT, "99999999999999999999", -1, "does not exist");
    if (hw->n_pus >= 2) {
        expect_einval(1, LB_PIN_COMPACT, "1-0", -1, "reversed");
        expect_einval(1, LB_PIN_COMPACT, "0,1,0", -1, "twice");
    }
    /* a failed create leaves the caller as it was */
    CHECK_INT_EQ(sched_getaffinity(0, sizeof after, &after), 0);
    CHECK(CPU_EQUAL(&before, &after));
}

/* ---- memory ------------------------------------------------------------- */

static void check_alloc(struct lb_pool *pool, int numa)
{
    static const size_t sizes[] = {1, 3 * 4096 + 5, (size_t)2 << 20,
                                   ((size_t)8 << 20) + 123};
    hwloc_topology_t topo = hw->topology;
    for (size_t k = 0; k < LB_ARRAY_LEN(sizes); k++) {
        size_t n = sizes[k];
        unsigned char *p = lb_pool_alloc(pool, n);
        CHECK_MSG(p != NULL, "lb_pool_alloc(%zu) failed", n);
        if (!p) continue;
        size_t align = n >= ((size_t)2 << 20) ? ((size_t)2 << 20) : 4096;
        CHECK_MSG((uintptr_t)p % align == 0, "%p not %zu-aligned", (void *)p, align);
        size_t nonzero = 0;
        for (size_t i = 0; i < n; i++) nonzero += p[i] != 0;
        CHECK_INT_EQ(nonzero, 0);
        memset(p, 0xa5, n);
        CHECK(p[n - 1] == 0xa5);
        if (numa >= 0) {
            hwloc_bitmap_t where = hwloc_bitmap_alloc();
            LB_ASSERT(where);
            int rc = hwloc_get_area_memlocation(topo, p, n, where, HWLOC_MEMBIND_BYNODESET);
            CHECK_INT_EQ(rc, 0);
            CHECK_MSG(rc != 0 || hwloc_bitmap_isset(where, (unsigned)numa),
                      "buffer of %zu bytes not on node %d", n, numa);
            hwloc_bitmap_free(where);
        }
        lb_pool_free(pool, p, n);
    }
    CHECK(lb_pool_alloc(pool, 0) == NULL);
    CHECK(lb_pool_alloc(pool, SIZE_MAX - 100) == NULL);
}

static void test_alloc(void)
{
    struct lb_pool *pool = make_pool(hw->n_pus, LB_PIN_COMPACT, NULL, -1);
    if (pool) {
        check_alloc(pool, -1);
        lb_pool_destroy(pool);
    }
    if (hw->n_numa > 0) {
        hwloc_topology_t topo = hw->topology;
        hwloc_bitmap_t nodes_before = hwloc_bitmap_alloc(), nodes_after = hwloc_bitmap_alloc();
        hwloc_membind_policy_t pol_before = HWLOC_MEMBIND_MIXED, pol_after = HWLOC_MEMBIND_MIXED;
        const int flags = HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET;
        LB_ASSERT(nodes_before && nodes_after);
        CHECK_INT_EQ(hwloc_get_membind(topo, nodes_before, &pol_before, flags), 0);
        int node = hw->numa[0].os_index;
        pool = make_pool(1, LB_PIN_COMPACT, NULL, node);
        if (pool) {
            check_alloc(pool, node);
            lb_pool_destroy(pool);
        }
        pool = make_pool(hw->n_pus, LB_PIN_NONE, NULL, node);
        if (pool) {
            hwloc_membind_policy_t pol = HWLOC_MEMBIND_MIXED;
            CHECK_INT_EQ(hwloc_get_membind(topo, nodes_after, &pol, flags), 0);
            CHECK_INT_EQ(pol, HWLOC_MEMBIND_BIND); /* the caller is worker 0 */
            check_alloc(pool, node);
            lb_pool_destroy(pool);
        }
        /* the caller's memory policy is back */
        CHECK_INT_EQ(hwloc_get_membind(topo, nodes_after, &pol_after, flags), 0);
        CHECK_INT_EQ(pol_after, pol_before);
        CHECK(hwloc_bitmap_isequal(nodes_before, nodes_after));
        hwloc_bitmap_free(nodes_before);
        hwloc_bitmap_free(nodes_after);
    }
}

/* ---- latency (printed only) --------------------------------------------- */

static void empty_task(void *arg, int ith, int nth)
{
    ((struct count *)arg)[ith].n = (uint64_t)ith;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* 200 batches of 1000 regions: the mean over all 200000, and the median
 * batch, which a few preempted batches on a shared machine do not move. */
static void print_latency(int nth)
{
    enum { BATCHES = 200, PER_BATCH = 1000, WARM = 20000 };
    struct lb_pool *pool = make_pool(nth, LB_PIN_COMPACT, NULL, -1);
    if (!pool) return;
    struct count *slots = aligned_alloc(64, (size_t)nth * sizeof *slots);
    double batch_ns[BATCHES], total_s = 0;
    LB_ASSERT(slots);
    for (long r = 0; r < scaled(WARM); r++) lb_pool_run(pool, empty_task, slots);
    for (int b = 0; b < BATCHES; b++) {
        double t0 = now_s();
        for (int r = 0; r < PER_BATCH; r++) lb_pool_run(pool, empty_task, slots);
        double dt = now_s() - t0;
        total_s += dt;
        batch_ns[b] = dt * 1e9 / PER_BATCH;
    }
    qsort(batch_ns, BATCHES, sizeof *batch_ns, cmp_double);
    printf("  dispatch + barrier, %d thread%s (compact): mean %.0f ns over %d runs, "
           "median batch %.0f ns, best batch %.0f ns\n", nth, nth > 1 ? "s" : "",
           total_s * 1e9 / (BATCHES * PER_BATCH), BATCHES * PER_BATCH,
           batch_ns[BATCHES / 2], batch_ns[0]);
    free(slots);
    lb_pool_destroy(pool);
}

static void test_latency(void)
{
    print_latency(1);
    if (hw->n_pus > 1) print_latency(hw->n_pus);
    CHECK(1); /* printed, not asserted */
}

int main(void)
{
    struct lb_error err = {0};
    alarm(WATCHDOG_S); /* a hang (lost wake-up) ends the test with SIGALRM */
    rng = lb_test_seed();
    if (lb_hw_discover(&hw, &err) != LB_OK) {
        lb_test_skip("lb_hw_discover: %s", err.msg);
        return lb_test_finish();
    }
    LB_RUN(test_pin_names);
    LB_RUN(test_errors);
    LB_RUN(test_plan_synthetic);
    LB_RUN(test_pinning);
    LB_RUN(test_alloc);
    LB_RUN(test_sum);
    LB_RUN(test_wake_boundary);
    LB_RUN(test_many_runs);
    LB_RUN(test_latency);
    lb_hw_free(hw);
    return lb_test_finish();
}
