#!/usr/bin/env bash
# Sets everything up, builds the examples and runs the main job: a MAPPO search of the MAPPO
# paper's LeNet space (paper_lenet) on MNIST.
#
# The default budget finishes in a few minutes on 2 cores: 64 episodes of half an epoch each, two
# at a time. The paper's full search: scripts/demo.sh --trials 200 --epochs 1
# Any search_lenet flag may be added (see build/examples/search_lenet --help).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MAHPO_BUILD_DIR:-$root/build}"
jobs="${MAHPO_JOBS:-$(nproc)}"

bash "$root/scripts/setup.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --parallel "$jobs" --target search_lenet
mkdir -p "$build/demo"
stamp="$(date +%Y%m%d-%H%M%S)"
"$build/examples/search_lenet" --searcher mappo --dataset mnist --epochs 0.5 --trials 64 --workers 2 --progress \
  --journal "$build/demo/mappo-$stamp.jsonl" --csv "$build/demo/mappo-$stamp.csv" \
  --report "$build/demo/report-$stamp" "$@"
echo "demo: the study's report: $build/demo/report-$stamp/index.html (open it in a browser)"
