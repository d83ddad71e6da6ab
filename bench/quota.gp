# The quota scenario's send rate over time (bench/quota.py). Called as
#   gnuplot -e "datafile='quota.dat'; ratefile='quota-rate.dat'; outfile='quota.png'; \
#               runs='1 3'; quota=1; title='...'" bench/quota.gp
# quota.dat: one block per run (1 stream, then N streams), blocks separated by two blank lines;
# columns: second since the load started, MiB/s sent to Firehose (record bytes of every
# PutRecordBatch, accepted or not), MiB/s Firehose accepted, throttled requests that second.
# quota-rate.dat: one block per stream of each run, in run order: second, the send rate the
# relay allowed that stream (MiB/s; from its --debug lines; none before the first throttle).

set terminal pngcairo size 1100,760 font "sans,10" noenhanced
set output outfile
set datafile commentschars "#"
set key top right
set grid
set xlabel "seconds since the load started"
set yrange [0:*]
set y2tics
set y2range [0:*]
set multiplot layout words(runs),1 title title
off = 0
do for [i=1:words(runs)] {
  n = int(word(runs, i))
  set title sprintf("%d stream(s) of %.2f MiB/s each", n, quota)
  set ylabel "MiB/s"
  set y2label "throttled requests/s"
  plot datafile index (i-1) using 1:3 with steps lw 1 lc rgb "#1b9e77" title "accepted (all streams, per second)", \
       for [j=0:n-1] ratefile index (off+j) using 1:2 with steps lw 2 \
         title sprintf("send rate allowed, stream %d (the sawtooth)", j+1), \
       quota with lines dt 2 lc rgb "black" title "one stream's quota", \
       datafile index (i-1) using 1:4 axes x1y2 with impulses lw 2 lc rgb "red" title "throttled requests"
  off = off + n
}
unset multiplot
