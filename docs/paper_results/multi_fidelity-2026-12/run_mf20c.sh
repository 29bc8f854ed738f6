#!/bin/bash
# Issue 20's real MNIST FABOLAS run again (eighth session): FABOLAS's loss GP on normal scores (its new default),
# beside Hyperband, BOHB and Hyperband-GP (journals and finals of the seventh session's run, replayed); final of 20 epochs.
cd /work/runs
echo "=== $(date +%T) mf20c start ($(cat bin/paper_tables_eighth.commit))"
OPENBLAS_NUM_THREADS=1 bin/paper_tables_eighth --datasets mnist --seeds 1 --methods hyperband,bohb,hyperband_gp,fabolas \
  --final-epochs 20 --time-scale /work/runs/mf20c/time_scale.csv --output /work/runs/mf20c --resume 2>&1 | grep -v '^\s*$' | grep -E '^\[|error|trials in|final'
echo "=== $(date +%T) mf20c done"
