# msgs/s and relay CPU seconds per million messages against workers, one line per compression
# level, and per journal setting when the harness measured both. Called by bench/harness.py:
#   gnuplot -e "datafile='sweep.dat'; outfile='plot.png'; levels='1 6 1 6'; \
#               journals='on on off off'; title='...'" bench/plot.gp
# sweep.dat holds one block per series (in the order of `levels`), blocks separated by two blank
# lines; columns: workers, msgs/s, CPU s per million messages. `journals` names each block's
# journal setting, or is empty when only one setting was measured (the legend then leaves it
# out). One colour per level; journal off is dashed.

set terminal pngcairo size 1100,450 font "sans,10" noenhanced dashed
set output outfile
set datafile commentschars "#"
set key bottom right
set grid
set xlabel "workers (--workers)"
set xtics 1
set autoscale xfix
set offsets 0.3, 0.3, graph 0.1, 0
set multiplot layout 1,2 title title

label(i) = (journals eq "") ? sprintf("level %s", word(levels, i)) \
    : sprintf("level %s, journal %s", word(levels, i), word(journals, i))
dashes(i) = (journals ne "" && word(journals, i) eq "off") ? 2 : 1
colour(i) = int(word(levels, i))

set title "throughput, load start to last delivery"
set ylabel "thousand msgs/s"
set yrange [0:*]
set format y "%.0f"
plot for [i=1:words(levels)] datafile index (i-1) using 1:($2/1000) with linespoints lw 2 pt 7 \
     lc colour(i) dt dashes(i) title label(i)

set title "relay CPU (user+sys) per million messages"
set ylabel "CPU seconds"
set format y "%.2f"
plot for [i=1:words(levels)] datafile index (i-1) using 1:3 with linespoints lw 2 pt 7 \
     lc colour(i) dt dashes(i) title label(i)

unset multiplot
