#!/bin/bash
# Issue 39 target 2, second attempt: TPE + the median pruner with 3 reports an epoch,
# capped at 40 % of plain TPE's wall time, on one core (the other runs the curve collection).
set -e
B=/work/real39/search_lenet_bin
for seed in 10000 10001 10002; do
  plain=$(python3 -c "import json;print(max(json.loads(l).get('elapsed',0) for l in open('tpe-plain-$seed.jsonl')))")
  cap=$(python3 -c "print($plain*0.4)")
  [ -f tpe-median3-$seed.done ] || { rm -f tpe-median3-$seed.jsonl; rm -rf tpe-median3-$seed.jsonl.states; taskset -c 1 $B --searcher tpe --dataset mnist --epochs 3 --trials 0 --seconds $cap --pruner median --reports-per-epoch 3 --seed $seed --journal tpe-median3-$seed.jsonl > tpe-median3-$seed.log 2>&1 && touch tpe-median3-$seed.done; }
  python3 /work/main/tools/time_to_best.py tpe-plain-$seed.jsonl tpe-median3-$seed.jsonl > time-to-best-median3-$seed.txt
done
