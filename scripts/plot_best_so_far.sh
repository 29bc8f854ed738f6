#!/usr/bin/env bash
# Best validation accuracy so far against the trial number, one line per run, a colour per method,
# from a paper_tables output folder's trials/DATASET-METHOD-seedS.csv:
#   scripts/plot_best_so_far.sh DIR [DATASET]     writes DIR/best_so_far_trials[_DATASET].png
set -euo pipefail
dir="${1:?usage: plot_best_so_far.sh DIR [DATASET]}"
dataset="${2:-mnist}"
[[ -d "$dir/trials" ]] || { echo "plot_best_so_far.sh: no $dir/trials folder" >&2; exit 1; }
command -v gnuplot > /dev/null || { echo "plot_best_so_far.sh: gnuplot is missing (scripts/setup.sh installs it)" >&2; exit 1; }
work="$dir/curves_trials/$dataset"
mkdir -p "$work"
declare -A color=([random]='#7f7f7f' [anneal]='#2ca02c' [tpe]='#1f77b4' [hyperband]='#ff7f0e' [bohb]='#9467bd'
                  [mappo]='#d62728' [mappo_paper]='#8c564b')
plots=""
declare -A titled=()
for file in "$dir/trials/$dataset"-*-seed*.csv; do
  [[ -e "$file" ]] || continue
  name="$(basename "$file" .csv)"
  method="${name#"$dataset"-}"
  method="${method%-seed*}"
  # Column 3 is the value (validation accuracy); rows are in trial-id order.
  awk -F, 'NR > 1 { if ($3 + 0 > best) best = $3 + 0; print NR - 1, best }' "$file" > "$work/$name.dat"
  title="notitle"
  if [[ -z "${titled[$method]:-}" ]]; then title="title '$method'"; titled[$method]=1; fi
  [[ -n "$plots" ]] && plots+=", "
  plots+="'$work/$name.dat' using 1:2 with steps lw 1.5 lc rgb '${color[$method]:-#000000}' $title"
done
[[ -n "$plots" ]] || { echo "plot_best_so_far.sh: no $dataset trials in $dir/trials" >&2; exit 1; }
suffix=""
[[ "$dataset" == mnist ]] || suffix="_$dataset"
gnuplot <<GNUPLOT
set terminal pngcairo size 900,520 font ",11"
set output "$dir/best_so_far_trials$suffix.png"
set title "Best validation accuracy so far, $dataset (one line per seed)"
set xlabel "trial"
set ylabel "best validation accuracy"
set key bottom right
set grid
set yrange [0.95:*]
plot $plots
GNUPLOT
echo "wrote $dir/best_so_far_trials$suffix.png"
