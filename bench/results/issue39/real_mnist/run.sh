#!/bin/bash
# Issue 39 real-MNIST runs (one core): Hyperband continued vs from scratch; TPE plain vs TPE + ASHA.
set -e
B=/work/main/build/examples/search_lenet
for seed in 10000 10001 10002; do
  [ -f hb-continued-$seed.jsonl ] || $B --searcher hyperband --dataset mnist --epochs 1 --min-epochs 0.1111111111111111 --trials 22 --seed $seed --journal hb-continued-$seed.jsonl > hb-continued-$seed.log 2>&1
  [ -f hb-scratch-$seed.jsonl ] || $B --searcher hyperband --restart --dataset mnist --epochs 1 --min-epochs 0.1111111111111111 --trials 22 --seed $seed --journal hb-scratch-$seed.jsonl > hb-scratch-$seed.log 2>&1
done
for seed in 10000 10001 10002; do
  [ -f tpe-plain-$seed.done ] || { $B --searcher tpe --dataset mnist --epochs 3 --trials 100 --seed $seed --journal tpe-plain-$seed.jsonl $( [ -f tpe-plain-$seed.jsonl ] && echo --resume ) > tpe-plain-$seed.log 2>&1 && touch tpe-plain-$seed.done; }
  plain=$(python3 -c "import json;print(max(json.loads(l).get('elapsed',0) for l in open('tpe-plain-$seed.jsonl')))")
  half=$(python3 -c "print($plain*0.5)")
  [ -f tpe-asha-$seed.done ] || { $B --searcher tpe --dataset mnist --epochs 3 --trials 0 --seconds $half --pruner asha --seed $seed --journal tpe-asha-$seed.jsonl $( [ -f tpe-asha-$seed.jsonl ] && echo --resume ) > tpe-asha-$seed.log 2>&1 && touch tpe-asha-$seed.done; }
  python3 /work/main/tools/time_to_best.py tpe-plain-$seed.jsonl tpe-asha-$seed.jsonl > time-to-best-$seed.txt
done
