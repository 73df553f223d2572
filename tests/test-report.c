/* test-report.c: the report document: built from a run record, written
 * atomically, read back identical, valid against the JSON Schema (checked
 * by Debian's python3-jsonschema), and malformed or wrong-version files
 * rejected with messages that name the problem. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../bench/lb-run.h"
#include "../reports/lb-report.h"
#include "lb-test.h"

static char dir[256];
static struct lb_hw *hw;

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static int count_files(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' || strstr(e->d_name, ".tmp.")) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static cJSON *make_report(void)
{
    static char *argv[] = {"llmbench", "run", "--suite", "ceilings"};
    static struct lb_run_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.suite = &lb_suite_ceilings;
    cfg.pin = LB_PIN_COMPACT;
    cfg.numa_node = -1;
    cfg.seed = 42;
    cfg.argc = 4;
    cfg.argv = argv;
    lb_measure_config_default(&cfg.measure);
    cfg.axes.threads.n = 1;
    cfg.axes.threads.v[0] = 1;
    cfg.axes.size_bytes.n = 1;
    cfg.axes.size_bytes.v[0] = 1 << 20;

    static double samples[] = {1000, 1100, 900, 1050, 950, 1000, 990, 1010, 1020, 980};
    static struct lb_result r[2];
    memset(r, 0, sizeof r);
    snprintf(r[0].suite, sizeof r[0].suite, "ceilings");
    snprintf(r[0].bench, sizeof r[0].bench, "read");
    lb_case_set(&r[0].params, "threads", "1");
    lb_case_set(&r[0].params, "size_bytes", "1048576");
    r[0].samples_ns = samples;
    r[0].n_samples = LB_ARRAY_LEN(samples);
    r[0].calls_per_sample = 3;
    lb_stats_compute(samples, r[0].n_samples, &r[0].stats);
    r[0].stop = LB_STOP_CONVERGED;
    r[0].bytes_per_call = 1 << 20;
    snprintf(r[0].path, sizeof r[0].path, "avx512");
    lb_result_add_metric(&r[0], "bandwidth", 1.048576, "GB/s");
    r[0].peak_rss_bytes = 123456789;
    r[1] = r[0];
    r[1].samples_ns = NULL;
    r[1].n_samples = 0;
    r[1].n_metrics = 0;
    r[1].status = LB_RESULT_SKIPPED;
    snprintf(r[1].bench, sizeof r[1].bench, "fma");
    snprintf(r[1].reason, sizeof r[1].reason, "no avx512 ceiling kernels in this build");

    static struct lb_ceilings c;
    memset(&c, 0, sizeof c);
    lb_ceilings_from_results(&c, r, 2);
    struct lb_run_record rec = {
        .cfg = &cfg, .hw = hw, .results = r, .n_results = 2,
        .ceilings = &c, .timer_resolution_s = 20e-9, .duration_s = 1.5,
    };
    snprintf(rec.started_at, sizeof rec.started_at, "2026-11-25T06:00:00Z");
    return lb_run_to_json(&rec);
}

static void test_roundtrip_and_schema(void)
{
    struct lb_error err = {0};
    char path[512], cmd[1024];
    cJSON *doc = make_report();
    CHECK(doc != NULL);
    snprintf(path, sizeof path, "%s/r.json", dir);
    CHECK_INT_EQ(lb_json_write_atomic(doc, path, &err), LB_OK);
    CHECK_INT_EQ(count_files(), 1); /* no temp file left */
    cJSON *back = NULL;
    CHECK_MSG(lb_report_read(path, &back, &err) == LB_OK, "%s", err.msg);
    CHECK(back && cJSON_Compare(doc, back, 1));
    /* values survive: samples, metric with unit, skipped reason */
    const cJSON *res = cJSON_GetObjectItem(back, "results");
    const cJSON *r0 = cJSON_GetArrayItem(res, 0);
    CHECK_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(r0, "samples_ns")), 10);
    CHECK_NEAR(cJSON_GetObjectItem(cJSON_GetObjectItem(r0, "stats"), "median_ns")->valuedouble, 1000, 0);
    CHECK_INT_EQ(cJSON_GetObjectItem(r0, "run_index")->valueint, 0);
    CHECK_INT_EQ(cJSON_GetObjectItem(cJSON_GetArrayItem(res, 1), "run_index")->valueint, 1);
    const cJSON *ceil = cJSON_GetObjectItem(back, "ceilings");
    const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(ceil, "rows"), 0);
    CHECK_NEAR(cJSON_GetObjectItem(row, "read_gbs")->valuedouble, 1.048576, 1e-12);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(row, "fma_gflops")));

    const char *src = getenv("LB_SOURCE_DIR");
    if (src && access("/usr/bin/python3", X_OK) == 0) {
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/validate-report.py %s %s/reports/schema/report.schema.json",
                 src, path, src);
        CHECK_MSG(system(cmd) == 0, "schema validation failed: %s", cmd);
        /* and the validator is not a rubber stamp: a report without its
         * hw section, and one with a unitless metric, are invalid */
        cJSON *bad = cJSON_Duplicate(doc, 1);
        cJSON_DeleteItemFromObject(bad, "hw");
        snprintf(path, sizeof path, "%s/bad.json", dir);
        lb_json_write_atomic(bad, path, &err);
        cJSON_Delete(bad);
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/validate-report.py %s %s/reports/schema/report.schema.json >/dev/null",
                 src, path, src);
        CHECK(system(cmd) != 0);
        bad = cJSON_Duplicate(doc, 1);
        cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(bad, "results"), 0), "metrics"), 0);
        cJSON_ReplaceItemInObject(m, "unit", cJSON_CreateString(""));
        lb_json_write_atomic(bad, path, &err);
        cJSON_Delete(bad);
        CHECK(system(cmd) != 0);
        unlink(path);
    } else {
        lb_test_fail(__FILE__, __LINE__, "LB_SOURCE_DIR or /usr/bin/python3 missing: run through ctest");
    }
    snprintf(path, sizeof path, "%s/r.json", dir);
    unlink(path);
    cJSON_Delete(doc);
    cJSON_Delete(back);
}

static void expect_reject(const char *text, const char *needle)
{
    char path[512];
    struct lb_error err = {0};
    cJSON *doc = NULL;
    snprintf(path, sizeof path, "%s/in.json", dir);
    write_text(path, text);
    CHECK_MSG(lb_report_read(path, &doc, &err) == LB_EINVAL, "accepted: %s", text);
    CHECK_MSG(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
    CHECK(doc == NULL);
    unlink(path);
}

static void test_rejects(void)
{
    expect_reject("{\"schema_version\": 1, \"results\": [", "not valid JSON");
    expect_reject("", "not valid JSON");
    expect_reject("[1,2]", "no schema_version");
    expect_reject("{\"schema_version\": 99, \"results\": []}", "schema_version 99");
    expect_reject("{\"schema_version\": 1}", "\"results\" is missing");
    expect_reject("{\"schema_version\": 1, \"results\": [{\"suite\":\"s\",\"status\":\"ok\",\"params\":{}}]}",
                  "results[0] has no string \"bench\"");
    expect_reject("{\"schema_version\": 1, \"results\": [{\"suite\":\"s\",\"bench\":\"b\",\"status\":\"ok\"}]}",
                  "no \"params\" object");
    struct lb_error err = {0};
    cJSON *doc;
    CHECK_INT_EQ(lb_report_read("/nonexistent/x.json", &doc, &err), LB_EIO);
    CHECK(strstr(err.msg, "/nonexistent/x.json") != NULL);
    CHECK_INT_EQ(lb_report_read(dir, &doc, &err), LB_EINVAL); /* a directory */
}

static void test_outfile(void)
{
    struct lb_outfile f;
    struct lb_error err = {0};
    char path[512];
    CHECK_INT_EQ(lb_outfile_open(&f, "/nonexistent-dir/x.json", &err), LB_EINVAL);
    CHECK(strstr(err.msg, "cannot write output /nonexistent-dir/x.json") != NULL);
    snprintf(path, sizeof path, "%s/o.json", dir);
    CHECK_INT_EQ(lb_outfile_open(&f, path, &err), LB_OK);
    CHECK_INT_EQ(count_files(), 1); /* the reserved temp file */
    lb_outfile_abort(&f);
    CHECK_INT_EQ(count_files(), 0);
    CHECK(access(path, F_OK) != 0);
    CHECK_INT_EQ(lb_outfile_open(&f, path, &err), LB_OK);
    CHECK_INT_EQ(lb_outfile_commit(&f, "{}\n", &err), LB_OK);
    CHECK_INT_EQ(count_files(), 1);
    CHECK(access(path, F_OK) == 0);
    unlink(path);
}

int main(void)
{
    struct lb_error err = {0};
    snprintf(dir, sizeof dir, "/tmp/lb-test-report-XXXXXX");
    if (!mkdtemp(dir) || lb_hw_discover(&hw, &err) != LB_OK) {
        fprintf(stderr, "setup failed: %s\n", err.msg);
        return 1;
    }
    LB_RUN(test_roundtrip_and_schema);
    LB_RUN(test_rejects);
    LB_RUN(test_outfile);
    lb_hw_free(hw);
    rmdir(dir);
    return lb_test_finish();
}
