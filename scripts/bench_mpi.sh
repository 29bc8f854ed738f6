#!/usr/bin/env bash
# The MPI executor of studies on this machine: coordination overhead per trial and throughput with
# 1, 2 and 4 evaluating ranks (mpirun -np 2, 3, 5; rank 0 coordinates), in one run. Each row: medians
# of 5 repetitions of bench/bench_mpi_study (random search on Branin, 1,000 trials a study).
# Prints a Markdown table for docs/benchmarks.md. Usage: scripts/bench_mpi.sh [REPETITIONS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MAHPO_BUILD_DIR:-$root/build}"
repetitions="${1:-5}"
if [ ! -d "$build" ]; then cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null; fi
cmake --build "$build" --target bench_mpi_study >/dev/null
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(mpirun --version | head -1); $(date -u +%F)"
for ranks in 1 2 4; do
  mpirun --allow-run-as-root --oversubscribe -np $((ranks + 1)) "$build/bench/bench_mpi_study" \
    --benchmark_repetitions="$repetitions" --benchmark_report_aggregates_only=true \
    --benchmark_format=json --benchmark_out="$scratch/ranks-$ranks.json" >/dev/null
done
python3 - "$scratch" <<'PYTHON'
import json, sys
rows = {}
for ranks in (1, 2, 4):
    with open(f"{sys.argv[1]}/ranks-{ranks}.json") as data:
        for bench in json.load(data)["benchmarks"]:
            if bench.get("aggregate_name") == "median":
                rows[(ranks, bench["run_name"])] = bench
def cell(ranks, name, counter):
    return rows[(ranks, name)][counter]
print("| evaluating ranks | thread runner, 1 worker: us/trial | MPI: us/trial | overhead us/trial "
      "| MPI trials/s, instant objective | MPI trials/s, 1 ms objective | thread runner trials/s, 1 ms |")
print("|---|---|---|---|---|---|---|")
for ranks in (1, 2, 4):
    threads = cell(ranks, "BM_Threads/0/real_time", "us_per_trial")
    mpi = cell(ranks, "BM_Mpi/0/real_time", "us_per_trial")
    print(f"| {ranks} | {threads:.1f} | {mpi:.1f} | {mpi - threads:.1f} "
          f"| {cell(ranks, 'BM_Mpi/0/real_time', 'trials_per_s'):,.0f} "
          f"| {cell(ranks, 'BM_Mpi/1000/real_time', 'trials_per_s'):,.0f} "
          f"| {cell(ranks, 'BM_Threads/1000/real_time', 'trials_per_s'):,.0f} |")
PYTHON
