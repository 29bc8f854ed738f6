#!/usr/bin/env bash
# mahpo's CPU trainer and PyTorch side by side, in one run on this machine: the same networks
# (classic_lenet5 and paper_lenet's largest config), batches (32 and 256) and thread count (1),
# training and evaluation, in alternating rounds. Prints both rates (medians of 5 rounds of 1 s per
# measurement) and the ratio.
# Installs Debian's python3-torch if it is missing (not part of setup.sh); builds bench_trainer.
# Usage: scripts/bench_vs_pytorch.sh [--quick]   (--quick: 2 rounds of 0.3 s per measurement)
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
# Rounds alternate the two frameworks, so that a shared machine's drifting load hits both alike.
for round in $(seq "$repetitions"); do
  echo "round $round of $repetitions: PyTorch, then mahpo"
  OMP_NUM_THREADS=1 "$python" "$root/tools/bench_pytorch.py" --threads 1 --repetitions 1 --seconds "$seconds" \
    > "$scratch/pytorch.$round.jsonl"
  "$build/bench/bench_trainer" --benchmark_filter='^(train|evaluate)/.*/batch:(32|256)/' \
    --benchmark_min_time="$seconds" --benchmark_format=json > "$scratch/mahpo.$round.json" 2>/dev/null
done
"$python" - "$scratch" "$repetitions" <<'PY'
import json, statistics, sys
scratch, rounds = sys.argv[1], int(sys.argv[2])
pytorch, mahpo, version, isa = {}, {}, "?", "?"
for r in range(1, rounds + 1):
    for line in open(f"{scratch}/pytorch.{r}.jsonl"):
        x = json.loads(line)
        pytorch.setdefault((x["network"], x["batch"], x["mode"]), []).append(x["images_per_second"])
        version = x["version"]
    for b in json.load(open(f"{scratch}/mahpo.{r}.json"))["benchmarks"]:
        mode, network, batch = b["run_name"].split("/")[:3]
        mahpo.setdefault((network, int(batch.split(":")[1]), mode), []).append(b["images_per_second"])
        isa = b.get("label", isa)
print(f"PyTorch {version}; mahpo kernels: {isa}; medians of {rounds} rounds (ratio: median of the rounds' ratios)")
print(f"{'network':<22}{'batch':>6}  {'mode':<9}{'PyTorch img/s':>15}{'mahpo img/s':>13}{'ratio':>8}")
for key in sorted(pytorch, key=lambda k: (k[0], k[2] != "train", k[1])):
    if key not in mahpo:
        continue
    ratio = statistics.median(m / p for m, p in zip(mahpo[key], pytorch[key]))
    print(f"{key[0]:<22}{key[1]:>6}  {key[2]:<9}{statistics.median(pytorch[key]):>15,.0f}"
          f"{statistics.median(mahpo[key]):>13,.0f}{ratio:>7.2f}x")
for network in sorted({k[0] for k in mahpo}):
    for batch in (32, 256):
        t, e = mahpo.get((network, batch, "train")), mahpo.get((network, batch, "evaluate"))
        if t and e:
            print(f"mahpo {network} batch {batch}: evaluation runs at "
                  f"{statistics.median(e) / statistics.median(t):.2f}x training's rate")
PY
