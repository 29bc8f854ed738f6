#!/bin/bash
# Issue 20's real MNIST runs: Hyperband-GP and FABOLAS, seed 0, beside issue 17's Hyperband and BOHB seed 0
# (their journals replayed), one paper_tables process, machine quiet.
cd "${RUNS:-/work/runs}"
echo "=== $(date +%T) mf20 start ($(cat bin/paper_tables_main.commit))"
OPENBLAS_NUM_THREADS=1 bin/paper_tables_main --datasets mnist --seeds 1 --methods hyperband,bohb,hyperband_gp,fabolas \
  --final-epochs 0 --output /work/runs/mf20 --resume 2>&1 | grep -v '^\s*$' | grep -E '^\[|error|trials in'
echo "=== $(date +%T) mf20 done"
