# bench/results.png from build/bench/peers.json: `make bench-plot` (which writes the data files
# below with bench/peers/merge.py plotdata, then runs: gnuplot -e "dir='build/bench'; out='...'").
#
# Three panels, because the units differ and must not share an axis:
#   top left : streaming workloads, million messages per second, higher is better
#   top right: ping-pongs, nanoseconds per round trip, lower is better
#   bottom   : every workload, CPU microseconds (user + system, all threads) per message
#              (per round trip for the ping-pongs), lower is better: spinning cannot pass
#              for speed here
# Speed bars are the median over the repetitions, whiskers the min..max; CPU bars the median.
# All axes are log scale. Engines (columns) come from the data; one an engine did not run
# (the limit ring on rendezvous, capacity 1, unlimited and batches) is a gap.

if (!exists("dir")) dir = "build/bench"
if (!exists("out")) out = "bench/results.png"
engines = system("head -n 1 " . dir . "/plot_engines.txt")
meta = system("sed -n 2p " . dir . "/plot_engines.txt")
nnotes = int(system("tail -n +3 " . dir . "/plot_engines.txt | wc -l"))
NE = words(engines)
reps = word(meta, 1)
mode = word(meta, 2)

col(n) = n eq "kchan-mutex" ? "#1f5fbf" : n eq "kchan-lockfree" ? "#7fb2ff" : \
         n eq "naive-ring" ? "#9a9a9a" : n eq "limit" ? "#3a3a3a" : n eq "crossbeam" ? "#e07b00" : \
         n eq "go" ? "#00a0a0" : "#aa3377"

set terminal pngcairo size 1900,1500 font "DejaVu Sans,11" noenhanced
set output out
set encoding utf8
set multiplot title sprintf("kchan vs peers: median of %s repetitions (%s run) on a shared 2-core machine; compare engines within a workload, whiskers = min..max", reps, mode) font ",13"

set style data histograms
set style histogram errorbars gap 1.5 lw 1
set style fill solid 0.85 border rgb "#333333"
set boxwidth 0.9
set logscale y
set grid ytics mytics lc rgb "#dddddd"
set xtics nomirror scale 0 font ",10"
set ytics nomirror
set key top left horizontal font ",10" samplen 2
set datafile missing "NaN"
set bmargin 6
# one footnote line per peer substitute (W3/W4 on Go, W10 batches on crossbeam and Go)
if (nnotes > 0) set label 100 "peers without a native equivalent:" at screen 0.01, screen 0.01 + 0.013 * nnotes font ",9"
do for [k=1:nnotes] {
    set label 100 + k system(sprintf("sed -n %dp %s/plot_engines.txt", k + 2, dir)) at screen 0.03, screen 0.01 + 0.013 * (nnotes - k) font ",9"
}

set size 0.72, 0.47
set origin 0.0, 0.49
set title "streams: million messages / s (higher is better)"
set ylabel "Mmsg/s (log)"
set yrange [*:*]
plot for [i=1:NE] dir . "/plot_stream.dat" \
    using (column(3*i-1)):(column(3*i)):(column(3*i+1)):xtic(1) title word(engines, i) lc rgb col(word(engines, i))

unset label
set size 0.28, 0.47
set origin 0.72, 0.49
set title "ping-pong: ns per round trip (lower is better)"
set ylabel "ns / round trip (log)"
set key off     # same colours as the left panel
plot for [i=1:NE] dir . "/plot_pingpong.dat" \
    using (column(3*i-1)):(column(3*i)):(column(3*i+1)):xtic(1) notitle lc rgb col(word(engines, i))

set size 1.0, 0.43
set origin 0.0, 0.055
set style histogram clustered gap 1.5
set title "CPU per message: user + system microseconds, all threads (per round trip for W5, W6); lower is better"
set ylabel "CPU µs / message (log)"
set key top left horizontal font ",10" samplen 2
plot for [i=1:NE] dir . "/plot_cpu.dat" using (column(i+1)):xtic(1) title word(engines, i) lc rgb col(word(engines, i))

unset multiplot
