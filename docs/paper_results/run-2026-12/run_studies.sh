#!/bin/bash
# Issue 17's studies, one study per process (no finals: they are trained afterwards by one
# paper_tables --resume over every journal), so that the machine can be used between studies:
# pauses before the next study while $RUNS/PAUSE exists, stops there when $RUNS/STOP exists.
# PAPER_TABLES: a paper_tables binary copied aside, so that rebuilding the tree does not change it
# mid-run. Usage: RUNS=/work/runs PAPER_TABLES=/work/runs/bin/paper_tables_studies DATASETS="mnist" run_studies.sh
RUNS=${RUNS:-/work/runs}
OUT=$RUNS/paper17
# A session's machine speed: with CALIBRATION=name, random search's first 60 trials of seeds 0 and 1
# (the same configs as the journals' random studies of those seeds) run first into
# $RUNS/calibration/name, so that the trials' training seconds can be compared config by config.
if [ -n "$CALIBRATION" ]; then
  for seed in 0 1; do
    echo "=== $(date +%T) calibration $CALIBRATION random seed $seed (60 trials)"
    OPENBLAS_NUM_THREADS=1 ${PAPER_TABLES:-$RUNS/bin/paper_tables_studies} --datasets mnist --first-seed $seed --seeds 1 \
      --methods random --episodes 60 --final-epochs 0 --output $RUNS/calibration/$CALIBRATION --resume 2>&1 | grep -v '^\s*$' | grep -E '^\[|error|trials in'
  done
fi
for dataset in ${DATASETS:-mnist}; do
for seed in 0 1 2; do
  for method in mappo random anneal tpe hyperband bohb mappo_paper gp_bo ppo_lstm; do
    while [ -e $RUNS/PAUSE ]; do sleep 5; done
    [ -e $RUNS/STOP ] && { echo "stopped before $dataset $method $seed"; exit 0; }
    echo "=== $(date +%T) $dataset $method seed $seed"
    OPENBLAS_NUM_THREADS=1 ${PAPER_TABLES:-$RUNS/bin/paper_tables_studies} --datasets $dataset --first-seed $seed --seeds 1 \
      --methods $method --final-epochs 0 --output $OUT --resume 2>&1 | grep -v '^\s*$' | grep -E '^\[|error|trials in' 
  done
done
done
echo "=== all done $(date +%T)"
