/* render-md.c: markdown report: runs, machine, ceilings, then one table
 * per suite+bench with a row per result of every run (the "run" column
 * puts machines side by side). Units sit in the headers, never in cells,
 * so a column can be pasted into a spreadsheet. The tables themselves are
 * built in render-table.c; this file only writes their markdown.
 *
 * Cells are escaped: '|' would split a cell, a newline would end the
 * table, and '<' '&' would be read as inline HTML by most viewers.
 */
#include "lb-render.h"

#include <string.h>

static void md_cell(struct lb_sbuf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '|': lb_sbuf_puts(b, "\\|"); break;
        case '\\': lb_sbuf_puts(b, "\\\\"); break;
        case '<': lb_sbuf_puts(b, "&lt;"); break;
        case '>': lb_sbuf_puts(b, "&gt;"); break;
        case '&': lb_sbuf_puts(b, "&amp;"); break;
        case '`': lb_sbuf_puts(b, "\\`"); break;
        case '\n': case '\r': case '\t': lb_sbuf_puts(b, " "); break;
        default: {
            char one[2] = {(unsigned char)*s < 0x20 ? '?' : *s, 0};
            lb_sbuf_puts(b, one);
        }
        }
    }
}

/* " text |": one cell after the row's opening or the previous cell's '|'. */
static void md_text(struct lb_sbuf *b, const char *s)
{
    lb_sbuf_puts(b, " ");
    md_cell(b, s);
    lb_sbuf_puts(b, " |");
}

/* Header line, alignment line (numbers right-aligned, as in the HTML) and
 * a line per row. An empty number is " |", an empty text "  |", an empty
 * header (the machine table's corner) " |". */
static void md_table(struct lb_sbuf *b, const struct lb_table *t)
{
    lb_sbuf_puts(b, "|");
    for (size_t c = 0; c < t->n_cols; c++) {
        if (t->headers[c][0]) md_text(b, t->headers[c]);
        else lb_sbuf_puts(b, " |");
    }
    lb_sbuf_puts(b, "\n|");
    for (size_t c = 0; c < t->n_cols; c++) lb_sbuf_puts(b, t->num_col[c] ? "---:|" : "---|");
    lb_sbuf_puts(b, "\n");
    for (size_t r = 0; r < t->n_rows; r++) {
        lb_sbuf_puts(b, "|");
        for (size_t c = 0; c < t->n_cols; c++) {
            const struct lb_cell *cell = &t->cells[r * t->n_cols + c];
            char num[32];
            if (!t->num_col[c]) {
                md_text(b, cell->text);
                continue;
            }
            lb_table_num_text(cell->num, num, sizeof num);
            lb_sbuf_printf(b, num[0] ? " %s |" : " |", num);
        }
        lb_sbuf_puts(b, "\n");
    }
}

/* "## heading\n\n", the table built by make (or empty_line when it has no
 * rows), then a blank line. */
static void md_section(struct lb_sbuf *b, const char *heading, const char *empty_line,
                       enum lb_status (*make)(const struct lb_run *, size_t, struct lb_table *),
                       const struct lb_run *runs, size_t n)
{
    struct lb_table t;
    if (make(runs, n, &t) != LB_OK) {
        b->oom = true;
        return;
    }
    lb_sbuf_printf(b, "## %s\n\n", heading);
    if (!t.n_rows && empty_line) lb_sbuf_printf(b, "%s\n", empty_line);
    else md_table(b, &t);
    lb_sbuf_puts(b, "\n");
    lb_table_free(&t);
}

void lb_render_md(struct lb_sbuf *b, const struct lb_run *runs, size_t n,
                  const struct lb_render_opts *o)
{
    lb_sbuf_puts(b, "# llmbench report\n\n");
    md_section(b, "Runs", NULL, lb_table_runs, runs, n);
    if (o && o->charts_note) {
        lb_sbuf_puts(b, "## Charts\n\n");
        md_cell(b, o->charts_note);
        lb_sbuf_puts(b, "\n\n");
        if (o->chart_files && o->chart_files->s) {
            /* links relative to the charts directory as given */
            const char *s = o->chart_files->s;
            while (*s) {
                const char *nl = strchr(s, '\n');
                size_t len = nl ? (size_t)(nl - s) : strlen(s);
                if (len > 4 && !strncmp(s + len - 4, ".png", 4)) {
                    char name[256];
                    snprintf(name, sizeof name, "%.*s", (int)len, s);
                    lb_sbuf_puts(b, "![");
                    md_cell(b, name);
                    lb_sbuf_puts(b, "](");
                    md_cell(b, o->charts_dir);
                    lb_sbuf_puts(b, "/");
                    md_cell(b, name);
                    lb_sbuf_puts(b, ")\n");
                }
                s += len + (nl ? 1 : 0);
            }
            lb_sbuf_puts(b, "\n");
        }
    }
    md_section(b, "Machine", NULL, lb_table_machine, runs, n);
    md_section(b, "Ceilings", "No ceilings in these reports.", lb_table_ceilings, runs, n);
    lb_sbuf_puts(b, "## Results\n\n");
    struct lb_table *t;
    size_t nt;
    if (lb_tables_results(runs, n, &t, &nt) != LB_OK) {
        b->oom = true;
        return;
    }
    if (!nt) lb_sbuf_puts(b, "No results in these reports.\n");
    for (size_t k = 0; k < nt; k++) {
        lb_sbuf_puts(b, "### ");
        md_cell(b, t[k].title);
        lb_sbuf_puts(b, "\n\n");
        md_table(b, &t[k]);
        lb_sbuf_puts(b, "\n");
    }
    lb_tables_free(t, nt);
}
