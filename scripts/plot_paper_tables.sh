#!/usr/bin/env bash
# Draws the paper-tables PNGs with gnuplot (Debian package gnuplot-nox, installed by
# scripts/setup.sh) from what examples/paper_tables writes:
#   search_time.png  mean search hours per method and data set, with the sd over seeds (the paper's Figure 2)
#   best_so_far.png  best validation accuracy found so far against wall-clock hours, a panel per
#                    data set, a colour per method: the mean over seeds with a band of +- 1 sd
#                    (curves/D/M.band.dat; the y axis starts at the worst best-so-far after ten trials)
# Usage: scripts/plot_paper_tables.sh DIR   (DIR holds search_time.dat and curves/)
set -euo pipefail
dir="${1:?usage: plot_paper_tables.sh DIR (the --output folder of paper_tables)}"
[[ -f "$dir/search_time.dat" && -d "$dir/curves" ]] || {
  echo "plot_paper_tables: $dir/search_time.dat or $dir/curves/ is missing (run examples/paper_tables first)" >&2
  exit 1
}
# Exit status 77 (ctest's "skipped") when gnuplot is missing.
command -v gnuplot >/dev/null || { echo "plot_paper_tables: gnuplot is not installed (scripts/setup.sh installs it)" >&2; exit 77; }

# The header of search_time.dat names the data sets: "method D1 sd D2 sd ...".
read -r -a header < "$dir/search_time.dat"
datasets=()
for ((k = 1; k < ${#header[@]}; k += 2)); do datasets+=("${header[k]}"); done
methods=(random anneal tpe hyperband bohb mappo mappo_paper gp_bo ppo_lstm hyperband_gp fabolas)
declare -A label=([random]=RS [anneal]=Anneal [tpe]=TPE [hyperband]=Hyperband [bohb]=BOHB [mappo]=MAPPO
                  [mappo_paper]="MAPPO (paper)" [gp_bo]=GP-BO [ppo_lstm]=PPO-LSTM [hyperband_gp]="Hyperband-GP"
                  [fabolas]=FABOLAS)
declare -A color=([random]='#7f7f7f' [anneal]='#2ca02c' [tpe]='#1f77b4' [hyperband]='#ff7f0e' [bohb]='#9467bd'
                  [mappo]='#d62728' [mappo_paper]='#8c564b' [gp_bo]='#17becf' [ppo_lstm]='#e377c2'
                  [hyperband_gp]='#bcbd22' [fabolas]='#000000')

# Figure 2: clustered bars, one cluster per method, one bar per data set.
bars=""
for ((k = 0; k < ${#datasets[@]}; ++k)); do
  mean=$((2 * k + 2)) sd=$((2 * k + 3))
  [[ -n "$bars" ]] && bars+=", "
  if ((k == 0)); then
    bars+="'$dir/search_time.dat' every ::1 using $mean:$sd:xtic(1) title '${datasets[k]}'"
  else
    bars+="'' every ::1 using $mean:$sd title '${datasets[k]}'"
  fi
done

# Best-so-far curves: a panel per data set; per method the mean over seeds and a +- sd band.
panels=""
for dataset in "${datasets[@]}"; do
  # The y axis starts just below the worst best-so-far after ten trials, so the methods' differences show.
  low=$(awk '/^[0-9]/ { n++; if (n == 10 && (lo == "" || $2 < lo)) lo = $2 } /^$/ { n = 0 }
             END { print (lo == "" ? 0 : (lo > 0.01 ? lo - 0.01 : 0)) }' \
        $(find "$dir/curves/$dataset" -name '*.dat' ! -name '*.band.dat' | sort))
  panels+="set yrange [$low:*]; set title 'Best validation accuracy so far: $dataset'; plot "
  first=1
  for method in "${methods[@]}"; do
    file="$dir/curves/$dataset/$method.band.dat"
    if [[ -s "$file" ]] && grep -q '^[0-9]' "$file"; then
      ((first)) || panels+=", "
      panels+="'$file' using 1:(\$2-\$3):(\$2+\$3) with filledcurves fs transparent solid 0.15 noborder"
      panels+=" lc rgb '${color[$method]}' notitle, "
      panels+="'$file' using 1:2 with lines lw 2 lc rgb '${color[$method]}' title '${label[$method]}'"
      first=0
    fi
  done
  ((first)) && panels+="0 notitle"
  panels+=$'\n'
done

gnuplot <<GNUPLOT
set terminal pngcairo size 900,500 font ",11"
set output "$dir/search_time.png"
set title "Search time per method (hours, mean and sd over seeds)"
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.8 border -1
set ylabel "search time (h)"
set yrange [0:*]
set key top right
set xtics rotate by -25 offset -1,0
plot $bars

reset
set terminal pngcairo size $((600 * ${#datasets[@]})),500 font ",10"
set output "$dir/best_so_far.png"
set multiplot layout 1,${#datasets[@]}
set xlabel "wall-clock time (h)"
set ylabel "best validation accuracy (mean, +- sd over seeds)"
set key bottom right
set grid
$panels
unset multiplot
GNUPLOT
echo "plot_paper_tables: wrote $dir/search_time.png, $dir/best_so_far.png"
