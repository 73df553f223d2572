/* render-gnuplot.c: PNG (pngcairo) and SVG charts through gnuplot, for
 * reports that go where HTML does not (a wiki page, a slide, a PR).
 *
 * gnuplot is optional at run time (DESIGN.md): it is looked up on PATH and,
 * when missing, the caller still writes its tables and says "charts
 * skipped: gnuplot not found on PATH". The plotting logic is in the
 * scripts of reports/gnuplot (xy.gp, bars.gp); this file writes each
 * chart's data and variables and runs gnuplot once per chart and format.
 *
 * Safety: report strings reach gnuplot only through a variables file, as
 * double-quoted literals restricted to [A-Za-z0-9 ._:,/=+()%-]. gnuplot
 * can run shell commands (system(), backquotes), so a quote, backquote,
 * '@' (macros), '$' or backslash from a hostile report must never reach
 * it. gnuplot runs with its working directory in a private temp directory
 * inside DIR, and each output is renamed into place only when gnuplot
 * exited 0 and wrote a non-empty file.
 */
#include "lb-render.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void gp_str(char *dst, size_t len, const char *src)
{
    size_t o = 0;
    for (; src && *src && o + 1 < len; src++) {
        char c = *src;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c && strchr(" ._:,/=+()%-", c));
        dst[o++] = ok ? c : '_';
    }
    dst[o] = '\0';
}

static void vars_str(FILE *f, const char *name, const char *val)
{
    char s[256];
    gp_str(s, sizeof s, val);
    fprintf(f, "%s = \"%s\"\n", name, s);
}

/* Finds an executable gnuplot on PATH; false when there is none. */
static bool find_gnuplot(char *out, size_t len)
{
    const char *path = getenv("PATH");
    if (!path || !*path) return false;
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t dl = colon ? (size_t)(colon - path) : strlen(path);
        if (dl) {
            snprintf(out, len, "%.*s/gnuplot", (int)dl, path);
            struct stat st;
            if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0) return true;
        }
        path += dl + (colon ? 1 : 0);
    }
    return false;
}

static bool script_dir_ok(const char *dir, char *out, size_t len)
{
    char probe[PATH_MAX + 16];
    snprintf(probe, sizeof probe, "%s/xy.gp", dir);
    if (access(probe, R_OK) != 0) return false;
    snprintf(probe, sizeof probe, "%s/bars.gp", dir);
    if (access(probe, R_OK) != 0) return false;
    char *real = realpath(dir, NULL);
    if (!real) return false;
    snprintf(out, len, "%s", real);
    free(real);
    return true;
}

/* $LLMBENCH_GNUPLOT_DIR, the source tree this binary was built from,
 * then beside the binary (../reports/gnuplot, ../share/llmbench/gnuplot). */
static bool find_scripts(char *out, size_t len)
{
    const char *env = getenv("LLMBENCH_GNUPLOT_DIR");
    if (env && *env) return script_dir_ok(env, out, len);
#ifdef LLMBENCH_SOURCE_DIR
    if (script_dir_ok(LLMBENCH_SOURCE_DIR "/reports/gnuplot", out, len)) return true;
#endif
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char cand[PATH_MAX + 32];
            snprintf(cand, sizeof cand, "%s/../reports/gnuplot", exe);
            if (script_dir_ok(cand, out, len)) return true;
            snprintf(cand, sizeof cand, "%s/../share/llmbench/gnuplot", exe);
            if (script_dir_ok(cand, out, len)) return true;
        }
    }
    return false;
}

static bool okv(double v, bool log)
{
    return isfinite(v) && (!log || v > 0);
}

/* Writes data.dat and vars.gp for a chart into tmp; returns the script. */
static const char *write_inputs(const struct lb_chart *c, const char *tmp, struct lb_error *err,
                                enum lb_status *st)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/data.dat", tmp);
    FILE *d = fopen(path, "w");
    snprintf(path, sizeof path, "%s/vars.gp", tmp);
    FILE *v = fopen(path, "w");
    if (!d || !v) {
        if (d) fclose(d);
        if (v) fclose(v);
        *st = lb_error_set(err, LB_EIO, "cannot write gnuplot inputs in %s: %s", tmp, strerror(errno));
        return NULL;
    }
    vars_str(v, "chart_title", c->title);
    vars_str(v, "x_label", c->xlabel);
    vars_str(v, "y_label", c->ylabel);
    fprintf(v, "n_series = %zu\n", c->n_series);
    for (size_t s = 0; s < c->n_series; s++) {
        char name[32];
        snprintf(name, sizeof name, "title_%zu", s + 1);
        vars_str(v, name, c->series[s].label);
    }
    const char *script;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t s = 0; s < c->n_series; s++) {
        const struct lb_series *se = &c->series[s];
        for (size_t i = 0; i < se->n; i++) {
            if (!okv(se->x[i], c->xlog) || !okv(se->y[i], c->ylog)) continue;
            xlo = fmin(xlo, se->x[i]);
            xhi = fmax(xhi, se->x[i]);
            ylo = fmin(ylo, se->y[i]);
            yhi = fmax(yhi, fmax(se->y[i], isfinite(se->yhi[i]) ? se->yhi[i] : se->y[i]));
        }
    }
    for (size_t r = 0; r < c->n_refs; r++) {
        if (c->refs[r].kind != LB_REF_HLINE || !okv(c->refs[r].value, c->ylog)) continue;
        ylo = fmin(ylo, c->refs[r].value);
        yhi = fmax(yhi, c->refs[r].value);
    }
    if (!isfinite(yhi)) ylo = 1, yhi = 10;
    if (!isfinite(xhi)) xlo = 1, xhi = 10;
    if (c->kind == LB_CHART_BARS) {
        script = "bars.gp";
        fprintf(v, "y_max = %.17g\n", yhi > 0 ? yhi * 1.15 : 1);
        fprintf(v, "tilt = %d\n", c->n_cats > 6);
        for (size_t k = 0; k < c->n_cats; k++) {
            char cat[LB_CHART_CAT_LEN];
            gp_str(cat, sizeof cat, c->cats[k]);
            fprintf(d, "\"%s\"", cat);
            for (size_t s = 0; s < c->n_series; s++) {
                const struct lb_series *se = &c->series[s];
                size_t i = 0;
                while (i < se->n && se->x[i] != (double)k) i++;
                if (i == se->n || !isfinite(se->y[i])) {
                    fprintf(d, " ? ? ?");
                    continue;
                }
                double lo = isfinite(se->ylo[i]) ? se->ylo[i] : se->y[i];
                double hi = isfinite(se->yhi[i]) ? se->yhi[i] : se->y[i];
                fprintf(d, " %.17g %.17g %.17g", se->y[i], lo, hi);
            }
            fprintf(d, "\n");
        }
    } else {
        script = "xy.gp";
        fprintf(v, "xlog = %d\nylog = %d\nscatter = %d\n", c->xlog, c->ylog, c->scatter);
        if (c->xlog) fprintf(v, "x_min = %.17g\nx_max = %.17g\n", xlo / 1.5, xhi * 1.5);
        else {
            double span = xhi - xlo > 0 ? xhi - xlo : 1;
            fprintf(v, "x_min = %.17g\nx_max = %.17g\n", xlo >= 0 ? 0 : xlo - 0.05 * span, xhi + 0.05 * span);
        }
        if (c->ylog) fprintf(v, "y_min = %.17g\ny_max = %.17g\n", ylo / 2, yhi * 2);
        else fprintf(v, "y_min = %.17g\ny_max = %.17g\n", ylo >= 0 ? 0 : ylo * 1.1, yhi > 0 ? yhi * 1.1 : 1);
        fprintf(v, "n_refs = %zu\n", c->n_refs);
        for (size_t r = 0; r < c->n_refs; r++) {
            char name[32];
            fprintf(v, "ref_kind_%zu = %d\nref_value_%zu = %.17g\n", r + 1,
                    c->refs[r].kind == LB_REF_SLOPE, r + 1, c->refs[r].value);
            snprintf(name, sizeof name, "ref_title_%zu", r + 1);
            vars_str(v, name, c->refs[r].label);
        }
        for (size_t s = 0; s < c->n_series; s++) {
            const struct lb_series *se = &c->series[s];
            if (s) fprintf(d, "\n\n");
            fprintf(d, "# series %zu\n", s + 1);
            size_t written = 0;
            for (size_t i = 0; i < se->n; i++) {
                if (!okv(se->x[i], c->xlog) || !okv(se->y[i], c->ylog)) continue;
                fprintf(d, "%.17g %.17g\n", se->x[i], se->y[i]);
                written++;
            }
            /* an empty block would shift the index of every later series */
            if (!written) fprintf(d, "%.17g NaN\n", xlo);
        }
    }
    bool bad = ferror(d) || ferror(v);
    bad |= fclose(d) != 0;
    bad |= fclose(v) != 0;
    if (bad) {
        *st = lb_error_set(err, LB_EIO, "cannot write gnuplot inputs in %s", tmp);
        return NULL;
    }
    *st = LB_OK;
    return script;
}

/* Runs gnuplot in tmp; true when it exited 0. On failure, why holds the
 * first line gnuplot printed. */
static bool run_gnuplot(const char *gnuplot, const char *tmp, const char *script, const char *term,
                        const char *outname, char *why, size_t why_len)
{
    char expr[256];
    snprintf(expr, sizeof expr, "datafile='data.dat'; varsfile='vars.gp'; outfile='%s'; term='%s'",
             outname, term);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, why_len, "fork failed: %s", strerror(errno));
        return false;
    }
    if (pid == 0) {
        if (chdir(tmp) != 0) _exit(126);
        int in = open("/dev/null", O_RDONLY);
        int log = open("gnuplot.log", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || log < 0) _exit(126);
        dup2(in, 0);
        dup2(log, 1);
        dup2(log, 2);
        execl(gnuplot, "gnuplot", "-e", expr, script, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
    char logp[PATH_MAX + 16];
    snprintf(logp, sizeof logp, "%s/gnuplot.log", tmp);
    FILE *f = fopen(logp, "r");
    char line[200] = "";
    /* gnuplot echoes the failing command first; its message is the line
     * that starts with a quote or contains "error" */
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "rror") || strstr(line, "arning")) break;
    if (f) fclose(f);
    line[strcspn(line, "\n")] = '\0';
    snprintf(why, why_len, "gnuplot failed (status %d)%s%s", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
             line[0] ? ": " : "", line);
    return false;
}

static void remove_tmp(const char *tmp)
{
    static const char *const names[] = {"data.dat", "vars.gp", "gnuplot.log", "out.png", "out.svg"};
    char p[PATH_MAX + 32];
    for (size_t i = 0; i < LB_ARRAY_LEN(names); i++) {
        snprintf(p, sizeof p, "%s/%s", tmp, names[i]);
        unlink(p);
    }
    rmdir(tmp);
}

enum lb_status lb_gnuplot_charts(const struct lb_chart *charts, size_t n,
                                 const char *dir, struct lb_sbuf *files,
                                 size_t *n_written, char *note, size_t note_len,
                                 struct lb_error *err)
{
    *n_written = 0;
    char gnuplot[PATH_MAX], scripts[PATH_MAX];
    if (!find_gnuplot(gnuplot, sizeof gnuplot)) {
        snprintf(note, note_len, "charts skipped: gnuplot not found on PATH (install gnuplot-nox)");
        return LB_EUNSUPPORTED;
    }
    if (!find_scripts(scripts, sizeof scripts)) {
        snprintf(note, note_len, "charts skipped: gnuplot scripts (xy.gp, bars.gp) not found; "
                                 "set LLMBENCH_GNUPLOT_DIR to reports/gnuplot");
        return LB_EUNSUPPORTED;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return lb_error_set(err, LB_EIO, "cannot create charts directory %s: %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return lb_error_set(err, LB_EINVAL, "--charts %s is not a directory", dir);
    if (strlen(dir) > PATH_MAX - 64) return lb_error_set(err, LB_EINVAL, "--charts path too long");
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/.llmbench-charts.XXXXXX", dir);
    if (!mkdtemp(tmp))
        return lb_error_set(err, LB_EIO, "cannot create a temp directory in %s: %s", dir, strerror(errno));
    char why[256] = "";
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        const struct lb_chart *c = &charts[i];
        if (!c->n_series) continue;
        enum lb_status s;
        const char *script = write_inputs(c, tmp, err, &s);
        if (!script) {
            remove_tmp(tmp);
            return s;
        }
        char script_path[PATH_MAX + 16];
        snprintf(script_path, sizeof script_path, "%s/%s", scripts, script);
        static const char *const terms[][2] = {{"pngcairo", "png"}, {"svg", "svg"}};
        for (size_t t = 0; t < LB_ARRAY_LEN(terms); t++) {
            char outname[16], from[PATH_MAX + 16], to[PATH_MAX + 64];
            snprintf(outname, sizeof outname, "out.%s", terms[t][1]);
            snprintf(from, sizeof from, "%s/%s", tmp, outname);
            snprintf(to, sizeof to, "%s/%s.%s", dir, c->id, terms[t][1]);
            if (!run_gnuplot(gnuplot, tmp, script_path, terms[t][0], outname, why, sizeof why)) {
                unlink(from);
                failed++;
                continue;
            }
            if (stat(from, &st) != 0 || st.st_size == 0) {
                snprintf(why, sizeof why, "gnuplot wrote no %s for %s", terms[t][1], c->id);
                failed++;
                continue;
            }
            if (rename(from, to) != 0) {
                snprintf(why, sizeof why, "cannot rename into %s: %s", to, strerror(errno));
                unlink(from);
                failed++;
                continue;
            }
            lb_sbuf_printf(files, "%s.%s\n", c->id, terms[t][1]);
            (*n_written)++;
        }
    }
    remove_tmp(tmp);
    if (failed)
        snprintf(note, note_len, "charts: %zu files written to %s, %zu failed (%s)", *n_written, dir,
                 failed, why);
    else
        snprintf(note, note_len, "charts: %zu files written to %s (gnuplot: %s)", *n_written, dir, gnuplot);
    return LB_OK;
}
