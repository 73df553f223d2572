# xy.gp: lines (or scatter) chart of llmbench, drawn by `llmbench report
# --charts DIR` (reports/render-gnuplot.c writes the inputs).
#
# Inputs, given with -e: datafile, varsfile, outfile, term ("pngcairo" or
# "svg"). varsfile (written by llmbench, strings restricted to a safe
# character set) defines:
#   chart_title, x_label, y_label     text
#   xlog, ylog, scatter               0 or 1
#   x_min, x_max, y_min, y_max        axis ranges (data + ceilings)
#   n_series, title_1 .. title_N      series legends
#   n_refs, ref_kind_J (0 = horizontal line y = v, 1 = slope y = v * x),
#   ref_value_J, ref_title_J          reference lines (measured ceilings)
# datafile: one block per series, separated by two blank lines; columns
# x y.
load varsfile
if (term eq "svg") {
    set terminal svg size 960,640 dynamic noenhanced font "sans,11" background rgb "white"
} else {
    set terminal pngcairo size 960,640 noenhanced font "sans,10" background rgb "white"
}
set output outfile
set title chart_title font ",13"
set xlabel x_label
set ylabel y_label
set grid lc rgb "#dddddd"
set key outside below left Left reverse maxrows 12
if (xlog) { set logscale x }
if (ylog) { set logscale y }
set xrange [x_min:x_max]
set yrange [y_min:y_max]
set samples 400
st(i) = value(sprintf("title_%d", i))
rk(j) = value(sprintf("ref_kind_%d", j))
rv(j) = value(sprintf("ref_value_%d", j))
rt(j) = value(sprintf("ref_title_%d", j))
if (scatter) {
    plot for [i=1:n_series] datafile index (i-1) using 1:2 with points pt 7 ps 1.1 title st(i), \
         for [j=1:n_refs] (rk(j) == 1 ? rv(j) * x : rv(j)) with lines dt 2 lw 2 title rt(j)
} else {
    plot for [i=1:n_series] datafile index (i-1) using 1:2 with linespoints pt 7 ps 0.8 lw 2 title st(i), \
         for [j=1:n_refs] (rk(j) == 1 ? rv(j) * x : rv(j)) with lines dt 2 lw 2 title rt(j)
}
set output
