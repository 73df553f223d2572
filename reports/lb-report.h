/* lb-report.h: reading, writing and rendering llmbench's JSON reports.
 *
 * JSON is the source of truth (DESIGN.md): every table is rendered from
 * the JSON document, never from in-memory benchmark structs, so a report
 * from last month renders the same today. reports/ never calls a kernel
 * or probes hardware.
 *
 * Files are written whole or not at all: a temp file beside the target,
 * fsync, rename. A run reserves its output at start (lb_outfile_open), so
 * an unwritable path fails before a minute of measuring, and an
 * interrupted run leaves nothing half-written.
 */
#ifndef LB_REPORT_H
#define LB_REPORT_H

#include <stdio.h>
#include <cjson/cJSON.h>

#include "../kernels/lb-base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LB_REPORT_SCHEMA_VERSION 1

struct lb_outfile {
    char path[1024];
    char tmp[1040];
    int fd;             /* -1 when closed */
};

enum lb_status lb_outfile_open(struct lb_outfile *f, const char *path,
                               struct lb_error *err);
/* Writes text, fsyncs, renames over path. Closes f either way. */
enum lb_status lb_outfile_commit(struct lb_outfile *f, const char *text,
                                 struct lb_error *err);
/* The same for len raw bytes (binary files: logits dumps). */
enum lb_status lb_outfile_commit_bytes(struct lb_outfile *f, const void *data, size_t len,
                                       struct lb_error *err);
/* Removes the temp file; safe to call twice and from a signal handler. */
void lb_outfile_abort(struct lb_outfile *f);

enum lb_status lb_json_write_atomic(const cJSON *doc, const char *path,
                                    struct lb_error *err);
/* Reads and parses a JSON file (size-capped); the error names the path and
 * the byte offset where parsing stopped. */
enum lb_status lb_json_read_file(const char *path, cJSON **out,
                                 struct lb_error *err);

/* Reads a report and checks what renderers rely on: an object with a
 * known schema_version, a "results" array whose items have suite, bench,
 * params and status. */
enum lb_status lb_report_read(const char *path, cJSON **out,
                              struct lb_error *err);

/* Human table of a report: one row per result with its parameters, the
 * median time with its CI, and derived metrics with units. */
void lb_report_print_table(FILE *out, const cJSON *report);

#ifdef __cplusplus
}
#endif
#endif
