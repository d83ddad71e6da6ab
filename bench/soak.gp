# The soak's samples over time (bench/soak.py):
#   gnuplot -e "datafile='soak.dat'; outfile='soak.png'; title='...'" bench/soak.gp
# soak.dat holds two blocks, the syslog relay then the GELF relay; columns: minutes, RSS MiB,
# open descriptors, spool MiB, journal MiB, CPU % of a core, thousand msgs/s received by this
# relay (its counters) and delivered by both (the stand-in's records).

set terminal pngcairo size 1200,800 font "sans,10" noenhanced
set output outfile
set datafile commentschars "#"
set key top left
set grid
set xlabel "minutes"
set yrange [0:*]
set xrange [0:*]
set autoscale xfix
set multiplot layout 2,2 title title

set title "resident set (VmRSS)"
set ylabel "MiB"
plot datafile index 0 using 1:2 with lines lw 2 title "syslog relay", \
     datafile index 1 using 1:2 with lines lw 2 title "GELF relay"

set title "open descriptors (clients connected included)"
set ylabel "descriptors"
plot datafile index 0 using 1:3 with lines lw 2 title "syslog relay", \
     datafile index 1 using 1:3 with lines lw 2 title "GELF relay"

set title "spool depth: record files and journal"
set ylabel "MiB"
plot datafile index 0 using 1:4 with lines lw 2 title "syslog records", \
     datafile index 1 using 1:4 with lines lw 2 title "GELF records", \
     datafile index 0 using 1:5 with lines lw 1 dt 2 title "syslog journal", \
     datafile index 1 using 1:5 with lines lw 1 dt 2 title "GELF journal"

set title "CPU (user+sys) and messages"
set ylabel "% of one core"
set y2label "thousand msgs/s"
set y2tics
set y2range [0:*]
plot datafile index 0 using 1:6 with lines lw 2 title "syslog relay CPU", \
     datafile index 1 using 1:6 with lines lw 2 title "GELF relay CPU", \
     datafile index 0 using 1:7 axes x1y2 with lines lw 1 title "received, syslog", \
     datafile index 1 using 1:7 axes x1y2 with lines lw 1 title "received, GELF", \
     datafile index 0 using 1:8 axes x1y2 with lines lw 1 dt 2 title "delivered, both"

unset multiplot
