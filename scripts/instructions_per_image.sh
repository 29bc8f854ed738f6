#!/usr/bin/env bash
# Instructions per image of the CPU trainer, counted by callgrind (noise cannot move them): the
# instructions of LONG steps minus those of SHORT steps, over (LONG - SHORT) x BATCH images, so the
# setup cancels out. Usage: scripts/instructions_per_image.sh [NETWORK] [BATCH] [train|evaluate]
# (defaults: classic_lenet5 32 train). MAHPO_ISA=sse2|avx2 picks the kernels (callgrind runs no
# AVX-512). Needs valgrind and a built build/bench/trainer_steps (MAHPO_TRAINER_STEPS names another
# build of it, e.g. one of an older commit, for a before/after comparison).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
program="${MAHPO_TRAINER_STEPS:-${MAHPO_BUILD_DIR:-$root/build}/bench/trainer_steps}"
network="${1:-classic_lenet5}" batch="${2:-32}" mode="${3:-train}"
short=5 long=25
[ -x "$program" ] || { echo "build $program first (cmake --build build --target trainer_steps)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install valgrind" >&2; exit 1; }
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
count() {
  valgrind --tool=callgrind --callgrind-out-file="$scratch/out.$1" "$program" "$network" "$batch" "$mode" "$1" \
    > "$scratch/log.$1" 2>&1
  grep -m1 '^summary:' "$scratch/out.$1" | awk '{print $2}'
}
a="$(count $short)"
b="$(count $long)"
grep -m1 'steps of' "$scratch/log.$long" || true
awk -v a="$a" -v b="$b" -v n="$(( (long - short) * batch ))" -v net="$network" -v batch="$batch" -v mode="$mode" \
  'BEGIN { printf "%s batch %d %s: %.0f instructions per image\n", net, batch, mode, (b - a) / n }'
