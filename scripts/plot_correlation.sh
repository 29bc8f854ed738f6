#!/usr/bin/env bash
# Draws the batch-size / learning-rate study's PNGs with gnuplot (Debian package gnuplot-nox,
# installed by scripts/setup.sh) from the CSVs that examples/correlation_study writes:
#   accuracy.png  training and test accuracy every 100 iterations, one panel per CASE
#   time.png      seconds per 100 iterations per CASE
#   memory.png    MiB held by the trainer per CASE
# Usage: scripts/plot_correlation.sh DIR   (DIR holds curves.csv and cases.csv)
set -euo pipefail
dir="${1:?usage: plot_correlation.sh DIR (with curves.csv and cases.csv)}"
for file in curves.csv cases.csv; do
  [[ -f "$dir/$file" ]] || { echo "plot_correlation: $dir/$file is missing" >&2; exit 1; }
done
# Exit status 77 (ctest's "skipped") when gnuplot is missing.
command -v gnuplot >/dev/null || { echo "plot_correlation: gnuplot is not installed (scripts/setup.sh installs it)" >&2; exit 77; }

gnuplot <<GNUPLOT
set datafile separator ","
set terminal pngcairo size 1500,1200 font ",10"
set output "$dir/accuracy.png"
set multiplot layout 3,3 title "LeNet on MNIST: training and test accuracy per CASE (SGD, inv policy)"
set yrange [0:1]
set key bottom right
do for [c=1:9] {
  set title sprintf("CASE %d", c)
  plot "$dir/curves.csv" using (\$1 == c ? \$2 : 1/0):3 every ::1 with linespoints title "train", \
       "$dir/curves.csv" using (\$1 == c ? \$2 : 1/0):4 every ::1 with linespoints title "test"
}
unset multiplot

set terminal pngcairo size 900,500 font ",10"
set style data histograms
set style fill solid 0.8
set boxwidth 0.8
unset key
set yrange [0:*]
set xlabel "CASE (batch / base learning rate)"
set output "$dir/time.png"
set title "Seconds per 100 training iterations"
plot "$dir/cases.csv" using 4:xtic(sprintf("%d\\n%d / %g", \$1, \$2, \$3)) every ::1
set output "$dir/memory.png"
set title "Memory held by the trainer (MiB)"
plot "$dir/cases.csv" using 5:xtic(sprintf("%d\\n%d / %g", \$1, \$2, \$3)) every ::1
GNUPLOT
echo "plot_correlation: wrote $dir/accuracy.png, $dir/time.png, $dir/memory.png"
