#!/bin/bash
# Issue 39 target 2, second attempt: TPE (hyperopt rules) + ASHA with 3 reports an epoch, the best fixed pair of the learning-curve benchmark,
# capped at 40 % of plain TPE's wall time, on one core (the other runs the curve collection).
set -e
B=/work/real39/search_lenet_bin
for seed in 10000 10001 10002; do
  plain=$(python3 -c "import json;print(max(json.loads(l).get('elapsed',0) for l in open('tpe-plain-$seed.jsonl')))")
  cap=$(python3 -c "print($plain*0.4)")
  [ -f tpe-hyperopt-asha3-$seed.done ] || { rm -f tpe-hyperopt-asha3-$seed.jsonl; rm -rf tpe-hyperopt-asha3-$seed.jsonl.states; taskset -c 1 $B --searcher tpe_hyperopt --dataset mnist --epochs 3 --trials 0 --seconds $cap --pruner asha --reports-per-epoch 3 --seed $seed --journal tpe-hyperopt-asha3-$seed.jsonl > tpe-hyperopt-asha3-$seed.log 2>&1 && touch tpe-hyperopt-asha3-$seed.done; }
  python3 /work/main/tools/time_to_best.py tpe-plain-$seed.jsonl tpe-hyperopt-asha3-$seed.jsonl > time-to-best-hyperopt-asha3-$seed.txt
done
