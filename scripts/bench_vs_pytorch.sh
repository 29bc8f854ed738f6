#!/usr/bin/env bash
# mahpo's CPU trainer and PyTorch side by side, in one run on this machine: the same networks
# (classic_lenet5 and paper_lenet's largest config), batches (32 and 256) and thread count (1),
# training and evaluation, one after the other. Prints both rates (medians of 5 runs) and the ratio.
# Installs Debian's python3-torch if it is missing (not part of setup.sh); builds bench_trainer.
# Usage: scripts/bench_vs_pytorch.sh [--quick]   (--quick: 2 repetitions of 0.3 s each)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MAHPO_BUILD_DIR:-$root/build}"
repetitions=5 seconds=1
[ "${1:-}" = "--quick" ] && repetitions=2 seconds=0.3
python=/usr/bin/python3  # Debian's interpreter: the one that sees python3-torch

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "bench_vs_pytorch: installing Debian's python3-torch"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-torch >/dev/null
fi
if [ ! -d "$build" ]; then cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null; fi
cmake --build "$build" --target bench_trainer >/dev/null

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; one thread each; $(date -u +%F)"
echo "running PyTorch ..."
OMP_NUM_THREADS=1 "$python" "$root/tools/bench_pytorch.py" --threads 1 --repetitions "$repetitions" \
  --seconds "$seconds" > "$scratch/pytorch.jsonl"
echo "running mahpo ..."
OPENBLAS_NUM_THREADS=1 "$build/bench/bench_trainer" --benchmark_filter='^(train|evaluate)/.*/batch:(32|256)/' \
  --benchmark_repetitions="$repetitions" --benchmark_min_time="$seconds" --benchmark_report_aggregates_only=true \
  --benchmark_format=json > "$scratch/mahpo.json" 2>/dev/null
"$python" - "$scratch/pytorch.jsonl" "$scratch/mahpo.json" <<'PY'
import json, sys
pytorch = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    pytorch[(r["network"], r["batch"], r["mode"])] = r["images_per_second"]
    version = r["version"]
report = json.load(open(sys.argv[2]))
mahpo, isa = {}, "?"
for b in report["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    mode, network, batch = b["run_name"].split("/")[:3]
    mahpo[(network, int(batch.split(":")[1]), "train" if mode == "train" else "evaluate")] = b["images_per_second"]
    isa = b.get("label", isa)
print(f"PyTorch {version}; mahpo kernels: {isa}")
print(f"{'network':<22}{'batch':>6}  {'mode':<9}{'PyTorch img/s':>15}{'mahpo img/s':>13}{'ratio':>8}")
for key in sorted(pytorch, key=lambda k: (k[0], k[2] != "train", k[1])):
    if key in mahpo:
        print(f"{key[0]:<22}{key[1]:>6}  {key[2]:<9}{pytorch[key]:>15,.0f}{mahpo[key]:>13,.0f}{mahpo[key] / pytorch[key]:>7.2f}x")
for network in sorted({k[0] for k in mahpo}):
    for batch in (32, 256):
        t, e = mahpo.get((network, batch, "train")), mahpo.get((network, batch, "evaluate"))
        if t and e:
            print(f"mahpo {network} batch {batch}: evaluation runs at {e / t:.2f}x training's rate")
PY
