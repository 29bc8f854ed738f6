#!/bin/bash
# Issue 20's real MNIST runs again (seventh session): FABOLAS with its cost = training + evaluation seconds,
# beside Hyperband, BOHB (issue 17) and Hyperband-GP (sixth session), journals replayed; finals of 20 epochs.
cd /work/runs
echo "=== $(date +%T) mf20b start ($(cat bin/paper_tables_fab.commit))"
OPENBLAS_NUM_THREADS=1 bin/paper_tables_fab --datasets mnist --seeds 1 --methods hyperband,bohb,hyperband_gp,fabolas \
  --final-epochs 20 --time-scale /work/runs/mf20b/time_scale.csv --output /work/runs/mf20b --resume 2>&1 | grep -v '^\s*$' | grep -E '^\[|error|trials in|final'
echo "=== $(date +%T) mf20b done"
