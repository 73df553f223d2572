/* render-csv.c: one CSV table of every result of every run, for
 * spreadsheets and scripts. One header row, then one row per result; the
 * columns are the union over all results (parameters by name, metrics by
 * name and unit), so every row has the same number of fields and a cell
 * is empty where a result has no such parameter or metric. Units are in
 * the headers ("median (ns)", "bandwidth (GB/s)"); times stay in ns so no
 * precision is lost to a display unit.
 *
 * The table is built by lb_table_all_results (render-table.c).
 *
 * Quoting follows RFC 4180: a field containing a comma, quote, CR or LF
 * is quoted and its quotes doubled; records end with CRLF.
 */
#include "lb-render.h"

#include <math.h>
#include <string.h>

static void csv_field(struct lb_sbuf *b, const char *s, bool first)
{
    if (!first) lb_sbuf_puts(b, ",");
    if (!s || !s[0]) return;
    if (!strpbrk(s, ",\"\r\n")) {
        lb_sbuf_puts(b, s);
        return;
    }
    lb_sbuf_puts(b, "\"");
    for (const char *p = s; *p; p++) {
        if (*p == '"') lb_sbuf_puts(b, "\"\"");
        else {
            char one[2] = {*p, 0};
            lb_sbuf_puts(b, one);
        }
    }
    lb_sbuf_puts(b, "\"");
}

/* Full precision (%.10g), unlike the %.4g of md and HTML: CSV is for
 * scripts and spreadsheets. */
static void csv_num(struct lb_sbuf *b, double v, bool first)
{
    if (!first) lb_sbuf_puts(b, ",");
    if (isfinite(v)) lb_sbuf_printf(b, "%.10g", v);
}

void lb_render_csv(struct lb_sbuf *b, const struct lb_run *runs, size_t n)
{
    struct lb_table t;
    if (lb_table_all_results(runs, n, &t) != LB_OK) {
        b->oom = true;
        return;
    }
    for (size_t c = 0; c < t.n_cols; c++) csv_field(b, t.headers[c], c == 0);
    lb_sbuf_puts(b, "\r\n");
    for (size_t r = 0; r < t.n_rows; r++) {
        for (size_t c = 0; c < t.n_cols; c++) {
            const struct lb_cell *cell = &t.cells[r * t.n_cols + c];
            if (t.num_col[c]) csv_num(b, cell->num, c == 0);
            else csv_field(b, cell->text, c == 0);
        }
        lb_sbuf_puts(b, "\r\n");
    }
    lb_table_free(&t);
}
