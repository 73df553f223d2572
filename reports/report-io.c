/* report-io.c: atomic writes and checked reads of JSON documents. */
#include "lb-report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reports with raw samples of a long sweep stay well under this; a larger
 * file is refused rather than read into memory. */
#define LB_JSON_MAX_BYTES (256u * 1024 * 1024)

enum lb_status lb_outfile_open(struct lb_outfile *f, const char *path,
                               struct lb_error *err)
{
    f->fd = -1;
    f->tmp[0] = '\0';
    if (!path || !*path) return lb_error_set(err, LB_EINVAL, "empty output path");
    if (strlen(path) >= sizeof f->path)
        return lb_error_set(err, LB_EINVAL, "output path too long (%zu bytes)", strlen(path));
    snprintf(f->path, sizeof f->path, "%s", path);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return lb_error_set(err, LB_EINVAL, "output path %s is a directory; give a file name", path);
    /* temp file in the same directory so rename() is atomic */
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(f->tmp, sizeof f->tmp, "%.*s.%s.tmp.XXXXXX", (int)(slash - path + 1), path, slash + 1);
    else
        snprintf(f->tmp, sizeof f->tmp, ".%s.tmp.XXXXXX", path);
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0) {
        int e = errno;
        f->tmp[0] = '\0';
        return lb_error_set(err, LB_EINVAL, "cannot write output %s: %s", path, strerror(e));
    }
    fchmod(f->fd, 0644);
    return LB_OK;
}

void lb_outfile_abort(struct lb_outfile *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    if (f->tmp[0]) {
        unlink(f->tmp);
        f->tmp[0] = '\0';
    }
}

enum lb_status lb_outfile_commit(struct lb_outfile *f, const char *text,
                                 struct lb_error *err)
{
    return lb_outfile_commit_bytes(f, text, strlen(text), err);
}

enum lb_status lb_outfile_commit_bytes(struct lb_outfile *f, const void *data, size_t len,
                                       struct lb_error *err)
{
    const char *bytes = data;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(f->fd, bytes + off, len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            lb_outfile_abort(f);
            return lb_error_set(err, LB_EIO, "writing %s: %s", f->path, strerror(e));
        }
        off += (size_t)w;
    }
    if (fsync(f->fd) != 0 || close(f->fd) != 0) {
        int e = errno;
        f->fd = -1;
        lb_outfile_abort(f);
        return lb_error_set(err, LB_EIO, "writing %s: %s", f->path, strerror(e));
    }
    f->fd = -1;
    if (rename(f->tmp, f->path) != 0) {
        int e = errno;
        lb_outfile_abort(f);
        return lb_error_set(err, LB_EIO, "renaming into %s: %s", f->path, strerror(e));
    }
    f->tmp[0] = '\0';
    return LB_OK;
}

enum lb_status lb_json_write_atomic(const cJSON *doc, const char *path,
                                    struct lb_error *err)
{
    struct lb_outfile f;
    enum lb_status st = lb_outfile_open(&f, path, err);
    if (st) return st;
    char *text = cJSON_Print(doc);
    if (!text) {
        lb_outfile_abort(&f);
        return lb_error_set(err, LB_ENOMEM, "out of memory printing JSON for %s", path);
    }
    size_t n = strlen(text);
    char *withnl = realloc(text, n + 2);
    if (withnl) {
        text = withnl;
        text[n] = '\n';
        text[n + 1] = '\0';
    }
    st = lb_outfile_commit(&f, text, err);
    free(text);
    return st;
}

enum lb_status lb_json_read_file(const char *path, cJSON **out,
                                 struct lb_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lb_error_set(err, LB_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lb_error_set(err, LB_EINVAL, "%s is not a regular file", path);
    }
    if ((unsigned long long)st.st_size > LB_JSON_MAX_BYTES) {
        close(fd);
        return lb_error_set(err, LB_EINVAL, "%s is %lld bytes; JSON inputs are limited to %u",
                            path, (long long)st.st_size, LB_JSON_MAX_BYTES);
    }
    size_t len = (size_t)st.st_size, off = 0;
    char *buf = malloc(len + 1);
    if (!buf) {
        close(fd);
        return lb_error_set(err, LB_ENOMEM, "out of memory reading %s", path);
    }
    while (off < len) {
        ssize_t r = read(fd, buf + off, len - off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        off += (size_t)r;
    }
    close(fd);
    buf[off] = '\0';
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(buf, off, &end, 0);
    if (!doc) {
        size_t at = end && end >= buf ? (size_t)(end - buf) : 0;
        free(buf);
        return lb_error_set(err, LB_EINVAL, "%s is not valid JSON (parse error near byte %zu)",
                            path, at);
    }
    free(buf);
    *out = doc;
    return LB_OK;
}

enum lb_status lb_report_read(const char *path, cJSON **out,
                              struct lb_error *err)
{
    cJSON *doc;
    enum lb_status st = lb_json_read_file(path, &doc, err);
    if (st) return st;
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(doc, "schema_version");
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(doc, "results");
    if (!cJSON_IsObject(doc) || !cJSON_IsNumber(ver)) {
        st = lb_error_set(err, LB_EINVAL, "%s is not an llmbench report: no schema_version", path);
        goto fail;
    }
    if (ver->valueint != LB_REPORT_SCHEMA_VERSION) {
        st = lb_error_set(err, LB_EINVAL, "%s has schema_version %d; this llmbench reads version %d",
                          path, ver->valueint, LB_REPORT_SCHEMA_VERSION);
        goto fail;
    }
    if (!cJSON_IsArray(results)) {
        st = lb_error_set(err, LB_EINVAL, "%s: \"results\" is missing or not an array", path);
        goto fail;
    }
    int i = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, results) {
        static const char *const need[] = {"suite", "bench", "status"};
        for (size_t k = 0; k < LB_ARRAY_LEN(need); k++) {
            if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, need[k]))) {
                st = lb_error_set(err, LB_EINVAL, "%s: results[%d] has no string \"%s\"", path, i,
                                  need[k]);
                goto fail;
            }
        }
        if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(r, "params"))) {
            st = lb_error_set(err, LB_EINVAL, "%s: results[%d] has no \"params\" object", path, i);
            goto fail;
        }
        i++;
    }
    *out = doc;
    return LB_OK;
fail:
    cJSON_Delete(doc);
    return st;
}
