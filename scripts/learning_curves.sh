#!/bin/bash
# Records the learning-curve benchmark's data (issue 39): 300 random configs of paper_lenet per data
# set (search_lenet's random searcher, seed 39), each trained 9 epochs on the CPU trainer with the
# validation accuracy after every epoch, into journals that a later run resumes:
#
#   scripts/learning_curves.sh [OUTPUT_FOLDER]     # default curves/; about 27 s a config on one core
#   WORKERS=2 scripts/learning_curves.sh            # two configs at once (one core each)
#   tools/learning_curves_csv.py curves/mnist.jsonl > bench/data/learning_curves_mnist.csv
#   tools/learning_curves_csv.py curves/fashion-mnist.jsonl > bench/data/learning_curves_fashion.csv
#
# Kill it at any time; run it again to go on (finished configs are kept, a running one is redone).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-curves}
search=${SEARCH_LENET:-$here/build/examples/search_lenet}
mkdir -p "$out"
for dataset in mnist fashion-mnist; do
  resume=()
  [ -s "$out/$dataset.jsonl" ] && resume=(--resume)
  "$search" --searcher random --dataset "$dataset" --epochs 9 --trials "${TRIALS:-300}" --seed 39 \
    --workers "${WORKERS:-1}" \
    --journal "$out/$dataset.jsonl" "${resume[@]}" --csv "$out/$dataset.csv"
done
