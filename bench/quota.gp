# The quota scenario's send rate over time (bench/quota.py). Called as
#   gnuplot -e "datafile='quota.dat'; outfile='quota.png'; runs='1 3'; quota=1; title='...'" quota.gp
# quota.dat holds one block per run (1 stream, then N streams), blocks separated by two blank
# lines; columns: second since the load started, MiB/s sent to Firehose (all PutRecordBatch
# record bytes, accepted or not), MiB/s Firehose accepted, throttled requests in that second.

set terminal pngcairo size 1100,700 font "sans,10" noenhanced
set output outfile
set datafile commentschars "#"
set key top right
set grid
set xlabel "seconds since the load started"
set yrange [0:*]
set multiplot layout words(runs),1 title title
do for [i=1:words(runs)] {
  n = word(runs, i)
  set title sprintf("%s stream(s): quota %.2f MiB/s in total", n, quota * n)
  set ylabel "MiB/s"
  set y2label "throttled requests/s"
  set y2tics
  set y2range [0:*]
  plot datafile index (i-1) using 1:2 with steps lw 1.5 title "sent (the send rate)", \
       datafile index (i-1) using 1:3 with steps lw 1.5 title "accepted", \
       quota * n with lines dt 2 lc rgb "black" title "quota", \
       datafile index (i-1) using 1:4 axes x1y2 with impulses lc rgb "red" title "throttled requests"
}
unset multiplot
