#!/usr/bin/env bash
# mahpo's CPU trainer and PyTorch side by side, in one run on this machine: the same networks
# (classic_lenet5 and paper_lenet's largest config), batches (32 and 256) and thread count (1),
# training and evaluation, in alternating rounds.
#
# PyTorch runs in one of two modes per process (Debian's 1.13 seen at 3,000-4,000 and 13,000-21,000
# images/s for classic_lenet5 batch 32 on the same core): in its slow mode glibc's malloc hands the
# step's freed buffers back to the kernel and every step faults them in again (~18 minor page faults
# an image against ~0.2); which mode a process gets depends on its heap's layout (random under ASLR;
# fixed by `setarch -R` and then set by the environment's size). So each round starts PyTorch in
# PROCESSES fresh processes (default 5), prints every process's rate and page faults, splits them
# into the two modes by their page faults (at most 0.5 an image: fast), and gives the ratio against
# PyTorch's fast mode (what a user who restarts gets) beside the ratio against all processes.
# MAHPO_PYTORCH_MALLOC=padded runs PyTorch with GLIBC_TUNABLES=glibc.malloc.top_pad=67108864, which
# keeps 64 MiB at the heap's top and puts every process in the fast mode (the cause, shown).
# Installs Debian's python3-torch if it is missing (not part of setup.sh); builds bench_trainer.
# Usage: scripts/bench_vs_pytorch.sh [--quick]   (--quick: 2 rounds of 0.3 s per measurement)
#        PROCESSES=8 scripts/bench_vs_pytorch.sh
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
processes="${PROCESSES:-5}"
malloc_env=()
[ "${MAHPO_PYTORCH_MALLOC:-}" = padded ] && malloc_env=(GLIBC_TUNABLES=glibc.malloc.top_pad=67108864)
for round in $(seq "$repetitions"); do
  echo "round $round of $repetitions: PyTorch in $processes fresh processes, then mahpo"
  for process in $(seq "$processes"); do
    env OMP_NUM_THREADS=1 "${malloc_env[@]}" "$python" "$root/tools/bench_pytorch.py" --threads 1 --repetitions 1 \
      --seconds "$seconds" > "$scratch/pytorch.$round.$process.jsonl"
  done
  "$build/bench/bench_trainer" --benchmark_filter='^(train|evaluate)/.*/batch:(32|256)/' \
    --benchmark_min_time="$seconds" --benchmark_format=json > "$scratch/mahpo.$round.json" 2>/dev/null
done
"$python" - "$scratch" "$repetitions" "$processes" "${MAHPO_PYTORCH_MALLOC:-default}" <<'PY'
import json, statistics, sys
scratch, rounds, processes, malloc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
pytorch, faults, mahpo, version, isa = {}, {}, {}, "?", "?"
for r in range(1, rounds + 1):
    for p in range(1, processes + 1):
        for line in open(f"{scratch}/pytorch.{r}.{p}.jsonl"):
            x = json.loads(line)
            pytorch.setdefault((x["network"], x["batch"], x["mode"]), []).append(x["images_per_second"])
            faults.setdefault((x["network"], x["batch"], x["mode"]), []).append(x["minor_faults_per_image"])
            version = x["version"]
    for b in json.load(open(f"{scratch}/mahpo.{r}.json"))["benchmarks"]:
        mode, network, batch = b["run_name"].split("/")[:3]
        mahpo.setdefault((network, int(batch.split(":")[1]), mode), []).append(b["images_per_second"])
        isa = b.get("label", isa)


def modes(rates, page_faults):
    """(slow, fast): the fast mode is the processes that fault at most 0.5 pages an image (the slow
    one faults 16-19; a process that changes mode while measured falls between)."""
    fast = sorted(r for r, f in zip(rates, page_faults) if f <= 0.5)
    slow = sorted(r for r, f in zip(rates, page_faults) if f > 0.5)
    return (slow, fast) if fast else ([], sorted(rates))


print(f"PyTorch {version} (malloc: {malloc}), {processes} processes x {rounds} rounds; mahpo kernels: {isa}")
print("every PyTorch process's rate, images/s (minor page faults an image):")
for key in sorted(pytorch):
    print(f"  {key[0]} batch {key[1]} {key[2]}: "
          + ", ".join(f"{v:,.0f} ({f:.1f})" for v, f in zip(pytorch[key], faults[key])))
print(f"\n{'network':<22}{'batch':>6}  {'mode':<9}{'PyTorch fast':>13}{'slow (n)':>15}{'mahpo':>9}"
      f"{'vs fast':>9}{'vs all':>8}")
for key in sorted(pytorch, key=lambda k: (k[0], k[2] != "train", k[1])):
    if key not in mahpo:
        continue
    slow, fast = modes(pytorch[key], faults[key])
    ours = statistics.median(mahpo[key])
    slow_text = f"{statistics.median(slow):,.0f} ({len(slow)})" if slow else "none"
    print(f"{key[0]:<22}{key[1]:>6}  {key[2]:<9}{statistics.median(fast):>13,.0f}{slow_text:>15}{ours:>9,.0f}"
          f"{ours / statistics.median(fast):>8.2f}x{ours / statistics.median(pytorch[key]):>7.2f}x")
print("fast: the median of the processes that fault <= 0.5 pages an image (all of them when none "
      "does); slow: the others; mahpo: the median of its rounds")
for network in sorted({k[0] for k in mahpo}):
    for batch in (32, 256):
        t, e = mahpo.get((network, batch, "train")), mahpo.get((network, batch, "evaluate"))
        if t and e:
            print(f"mahpo {network} batch {batch}: evaluation runs at "
                  f"{statistics.median(e) / statistics.median(t):.2f}x training's rate")
PY
