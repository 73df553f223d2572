# bars.gp: grouped bars with error bars (tokens/s per quantization level)
# for `llmbench report --charts DIR` (reports/render-gnuplot.c).
#
# Inputs, given with -e: datafile, varsfile, outfile, term ("pngcairo" or
# "svg"). varsfile defines chart_title, x_label, y_label, y_max, n_series,
# title_1 .. title_N, tilt (1: slant category labels).
# datafile: one row per category: "category" then, per series, y lo hi
# ("?" where a series has no value for that category).
load varsfile
if (term eq "svg") {
    set terminal svg size 960,600 dynamic noenhanced font "sans,11" background rgb "white"
} else {
    set terminal pngcairo size 960,600 noenhanced font "sans,10" background rgb "white"
}
set output outfile
set title chart_title font ",13"
set xlabel x_label
set ylabel y_label
set grid ytics lc rgb "#dddddd"
set key outside below left Left reverse
set datafile missing "?"
set style data histogram
set style histogram errorbars gap 2 lw 1.5
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:y_max]
if (tilt) { set xtics rotate by 30 right }
st(i) = value(sprintf("title_%d", i))
plot for [i=1:n_series] datafile using (column(3*i-1)):(column(3*i)):(column(3*i+1)):xtic(1) title st(i)
set output
