/* svg.c: a small SVG chart writer for the HTML report: grouped bars with
 * error bars, lines/scatter on linear or log axes, horizontal reference
 * lines (ceilings) and slanted ones (the roofline's bandwidth roof).
 *
 * Output is static SVG 1.1 inline in HTML: no scripts, no external fonts
 * or stylesheets, so the page renders the same offline and without
 * JavaScript. Every label comes from a report and is escaped.
 */
#include "lb-render.h"

#include <math.h>
#include <string.h>

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                      "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};
static const char *const ref_colors[] = {"#333333", "#b8860b", "#006d5b", "#8b0000", "#4b0082"};

#define ML 78   /* left margin: y tick labels + axis title */
#define MR 24
#define MT 34   /* title */
#define MB 52   /* x tick labels + axis title */
#define LEGEND_ROW 17

struct axis {
    bool log;
    double lo, hi;          /* data range after rounding (log: decades) */
    double px0, px1;        /* pixel range */
};

static double axis_map(const struct axis *a, double v)
{
    double t;
    if (a->log) t = (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
    else t = (v - a->lo) / (a->hi - a->lo);
    return a->px0 + t * (a->px1 - a->px0);
}

static double nice_step(double range, int target)
{
    double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

static void axis_fit(struct axis *a, double lo, double hi, bool from_zero)
{
    if (a->log) {
        if (!(lo > 0)) lo = hi > 0 ? hi / 10 : 1;
        if (!(hi > 0)) hi = 10;
        a->lo = pow(10, floor(log10(lo)));
        a->hi = pow(10, ceil(log10(hi)));
        if (a->hi <= a->lo) a->hi = a->lo * 10;
        return;
    }
    if (from_zero && lo > 0) lo = 0;
    if (!(hi > lo)) {
        hi = lo + (lo != 0 ? fabs(lo) : 1);
    }
    double step = nice_step(hi - lo, 6);
    a->lo = floor(lo / step) * step;
    a->hi = ceil(hi / step) * step;
    if (a->hi == hi && !from_zero) a->hi += step;
    if (a->hi <= a->lo) a->hi = a->lo + step;
}

/* 1.5k, 20M, 3G for ticks; plain below 10000 */
static void tick_text(double v, char *buf, size_t len)
{
    static const char *const sfx[] = {"", "k", "M", "G", "T", "P"};
    double a = fabs(v);
    int k = 0;
    if (a >= 1e4) {
        while (a >= 1000 && k < 5) {
            a /= 1000;
            v /= 1000;
            k++;
        }
    }
    snprintf(buf, len, "%g%s", v, sfx[k]);
}

static void text(struct lb_sbuf *b, double x, double y, const char *anchor, const char *extra,
                 const char *s)
{
    lb_sbuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s>", x, y, anchor, extra);
    lb_sbuf_put_html(b, s);
    lb_sbuf_puts(b, "</text>");
}

/* Ticks and grid of an axis; horizontal = x axis. */
static void axis_draw(struct lb_sbuf *b, const struct axis *a, bool horizontal, double cross0,
                      double cross1, int max_ticks)
{
    double vals[64];
    size_t nv = 0;
    if (a->log) {
        int d0 = (int)lround(log10(a->lo)), d1 = (int)lround(log10(a->hi));
        bool minor = d1 - d0 <= 2;
        int stride = (d1 - d0) / max_ticks + 1;
        for (int d = d0; d <= d1 && nv < LB_ARRAY_LEN(vals) - 3; d++) {
            if ((d - d0) % stride == 0) vals[nv++] = pow(10, d);
            if (minor && d < d1) {
                vals[nv++] = 2 * pow(10, d);
                vals[nv++] = 5 * pow(10, d);
            }
        }
    } else {
        double step = nice_step(a->hi - a->lo, max_ticks);
        for (double v = a->lo; v <= a->hi + step * 1e-9 && nv < LB_ARRAY_LEN(vals); v += step)
            vals[nv++] = fabs(v) < step * 1e-9 ? 0 : v;
    }
    for (size_t i = 0; i < nv; i++) {
        double p = axis_map(a, vals[i]);
        char t[32];
        tick_text(vals[i], t, sizeof t);
        if (horizontal) {
            lb_sbuf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>",
                           p, cross0, p, cross1);
            text(b, p, cross0 + 15, "middle", "", t);
        } else {
            lb_sbuf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>",
                           cross0, p, cross1, p);
            text(b, cross0 - 5, p + 4, "end", "", t);
        }
    }
}

static bool usable(const struct axis *a, double v)
{
    return isfinite(v) && (!a->log || v > 0);
}

void lb_svg_chart(struct lb_sbuf *b, const struct lb_chart *c, int width, int height)
{
    size_t n_legend = c->n_series + c->n_refs;
    bool tilt = c->kind == LB_CHART_BARS && c->n_cats > 6;
    /* slanted category labels need room above the axis title */
    int mb = tilt ? MB + 40 : MB;
    int total_h = height + (int)n_legend * LEGEND_ROW + 8;
    double x0 = ML, x1 = width - MR, y0 = height - mb, y1 = MT;
    struct axis ax = {.log = c->xlog, .px0 = x0, .px1 = x1};
    struct axis ay = {.log = c->ylog, .px0 = y0, .px1 = y1};

    /* data ranges: points, error bars, horizontal reference lines */
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t s = 0; s < c->n_series; s++) {
        const struct lb_series *se = &c->series[s];
        for (size_t i = 0; i < se->n; i++) {
            double ys[3] = {se->y[i], se->ylo[i], se->yhi[i]};
            if (!usable(&ax, se->x[i])) continue;
            xlo = fmin(xlo, se->x[i]);
            xhi = fmax(xhi, se->x[i]);
            for (int k = 0; k < 3; k++) {
                if (!usable(&ay, ys[k])) continue;
                ylo = fmin(ylo, ys[k]);
                yhi = fmax(yhi, ys[k]);
            }
        }
    }
    for (size_t r = 0; r < c->n_refs; r++) {
        if (c->refs[r].kind != LB_REF_HLINE || !usable(&ay, c->refs[r].value)) continue;
        ylo = fmin(ylo, c->refs[r].value);
        yhi = fmax(yhi, c->refs[r].value * (ay.log ? 1 : 1.05));
    }
    if (c->kind == LB_CHART_BARS) {
        ax.log = false;
        ax.lo = -0.5;
        ax.hi = (double)c->n_cats - 0.5;
        if (c->n_cats == 0) ax.hi = 0.5;
    } else {
        axis_fit(&ax, isfinite(xlo) ? xlo : 1, isfinite(xhi) ? xhi : 10, !ax.log);
    }
    axis_fit(&ay, isfinite(ylo) ? ylo : 1, isfinite(yhi) ? yhi : 10, true);

    lb_sbuf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"%d\" "
                      "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
                   width, total_h, width, total_h);
    lb_sbuf_put_html(b, c->title);
    lb_sbuf_puts(b, "\"><title>");
    lb_sbuf_put_html(b, c->title);
    lb_sbuf_printf(b, "</title><rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>",
                   width, total_h);
    text(b, width / 2.0, 20, "middle", " class=\"ttl\"", c->title);
    lb_sbuf_printf(b, "<defs><clipPath id=\"clip-%s\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                      "height=\"%.1f\"/></clipPath></defs>",
                   c->id, x0, y1, x1 - x0, y0 - y1);

    axis_draw(b, &ay, false, x0, x1, 6);
    if (c->kind == LB_CHART_XY) axis_draw(b, &ax, true, y0, y1, 8);
    lb_sbuf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"frame\"/>",
                   x0, y1, x1 - x0, y0 - y1);
    text(b, (x0 + x1) / 2, height - 12, "middle", "", c->xlabel);
    char rot[96];
    snprintf(rot, sizeof rot, " transform=\"rotate(-90 16 %.1f)\"", (y0 + y1) / 2);
    text(b, 16, (y0 + y1) / 2, "middle", rot, c->ylabel);

    lb_sbuf_printf(b, "<g clip-path=\"url(#clip-%s)\">", c->id);
    if (c->kind == LB_CHART_BARS) {
        double gw = (x1 - x0) / (c->n_cats ? (double)c->n_cats : 1);
        double bw = gw * 0.8 / (c->n_series ? (double)c->n_series : 1);
        for (size_t s = 0; s < c->n_series; s++) {
            const struct lb_series *se = &c->series[s];
            const char *col = palette[s % LB_ARRAY_LEN(palette)];
            for (size_t i = 0; i < se->n; i++) {
                if (!usable(&ay, se->y[i])) continue;
                double cx = axis_map(&ax, se->x[i]) - gw * 0.4 + bw * ((double)s + 0.5);
                double py = axis_map(&ay, se->y[i]), base = axis_map(&ay, ay.lo);
                lb_sbuf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                                  "fill=\"%s\"><title>",
                               cx - bw / 2, py, bw * 0.92, base - py, col);
                char tip[256];
                snprintf(tip, sizeof tip, "%s: %.4g", se->label, se->y[i]);
                lb_sbuf_put_html(b, tip);
                lb_sbuf_puts(b, "</title></rect>");
                if (usable(&ay, se->ylo[i]) && usable(&ay, se->yhi[i])) {
                    double pl = axis_map(&ay, se->ylo[i]), ph = axis_map(&ay, se->yhi[i]);
                    double cap = fmin(bw * 0.25, 6), mx = cx - bw * 0.04;
                    lb_sbuf_printf(b, "<path class=\"err\" d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f "
                                      "%.1fH%.1f\"/>",
                                   mx, pl, ph, mx - cap, pl, mx + cap, mx - cap, ph, mx + cap);
                }
            }
        }
    } else {
        for (size_t s = 0; s < c->n_series; s++) {
            const struct lb_series *se = &c->series[s];
            const char *col = palette[s % LB_ARRAY_LEN(palette)];
            if (!c->scatter && se->n > 1) {
                lb_sbuf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", col,
                               s >= LB_ARRAY_LEN(palette) ? " stroke-dasharray=\"3 3\"" : "");
                for (size_t i = 0; i < se->n; i++)
                    if (usable(&ax, se->x[i]) && usable(&ay, se->y[i]))
                        lb_sbuf_printf(b, "%.1f,%.1f ", axis_map(&ax, se->x[i]), axis_map(&ay, se->y[i]));
                lb_sbuf_puts(b, "\"/>");
            }
            for (size_t i = 0; i < se->n; i++) {
                if (!usable(&ax, se->x[i]) || !usable(&ay, se->y[i])) continue;
                lb_sbuf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\"/>",
                               axis_map(&ax, se->x[i]), axis_map(&ay, se->y[i]),
                               c->scatter ? "4" : "3", col);
            }
        }
    }
    double placed[32];
    size_t n_placed = 0;
    for (size_t r = 0; r < c->n_refs; r++) {
        const struct lb_refline *rf = &c->refs[r];
        const char *col = ref_colors[r % LB_ARRAY_LEN(ref_colors)];
        if (rf->kind == LB_REF_HLINE) {
            if (!usable(&ay, rf->value)) continue;
            double py = axis_map(&ay, rf->value);
            lb_sbuf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                              "class=\"ref\"/>",
                           x0, py, x1, py, col);
            /* lines close together: move the next label down a row */
            /* label above its line, else below it, else further down */
            double ty = py - 4;
            for (int attempt = 0; attempt < 8; attempt++) {
                bool clash = false;
                for (size_t k = 0; k < n_placed; k++) clash |= fabs(placed[k] - ty) < 12;
                if (!clash) break;
                ty = attempt == 0 ? py + 13 : ty + 12;
            }
            if (n_placed < LB_ARRAY_LEN(placed)) placed[n_placed++] = ty;
            text(b, x1 - 4, ty, "end", " class=\"reflbl\"", rf->label);
        } else {
            /* y = value * x sampled along the x axis; the clip path trims it */
            lb_sbuf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" class=\"ref\" points=\"", col);
            for (int k = 0; k <= 64; k++) {
                double xv = ax.log ? ax.lo * pow(ax.hi / ax.lo, k / 64.0) : ax.lo + (ax.hi - ax.lo) * k / 64.0;
                double yv = rf->value * xv;
                if (!usable(&ay, yv)) continue;
                double py = axis_map(&ay, yv);
                py = fmax(fmin(py, y0 + 4000), y1 - 4000); /* keep numbers sane for far-off points */
                lb_sbuf_printf(b, "%.1f,%.1f ", axis_map(&ax, xv), py);
            }
            lb_sbuf_puts(b, "\"/>");
        }
    }
    lb_sbuf_puts(b, "</g>");

    if (c->kind == LB_CHART_BARS) {
        for (size_t i = 0; i < c->n_cats; i++) {
            double px = axis_map(&ax, (double)i);
            char tr[96];
            snprintf(tr, sizeof tr, " transform=\"rotate(-20 %.1f %.1f)\"", px, y0 + 15);
            text(b, px, y0 + 15, tilt ? "end" : "middle", tilt ? tr : "", c->cats[i]);
        }
    }

    /* legend: one row per series and reference line, below the plot */
    double ly = height + 4;
    for (size_t s = 0; s < c->n_series; s++, ly += LEGEND_ROW) {
        const char *col = palette[s % LB_ARRAY_LEN(palette)];
        if (c->kind == LB_CHART_BARS)
            lb_sbuf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" fill=\"%s\"/>", x0, ly, col);
        else
            lb_sbuf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                              "stroke-width=\"3\"%s/><circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>",
                           x0, ly + 5, x0 + 16, ly + 5, col,
                           s >= LB_ARRAY_LEN(palette) ? " stroke-dasharray=\"3 2\"" : "", x0 + 8, ly + 5, col);
        text(b, x0 + 22, ly + 10, "start", "", c->series[s].label);
    }
    for (size_t r = 0; r < c->n_refs; r++, ly += LEGEND_ROW) {
        lb_sbuf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" class=\"ref\"/>",
                       x0, ly + 5, x0 + 16, ly + 5, ref_colors[r % LB_ARRAY_LEN(ref_colors)]);
        text(b, x0 + 22, ly + 10, "start", "", c->refs[r].label);
    }
    lb_sbuf_puts(b, "</svg>\n");
}
