#!/usr/bin/env bash
# mahpo's TPE beside Optuna's TPESampler (bench/tpe_vs_optuna.py): the same histories piece by
# piece, the proposals' distributions, median best over 30 seeds on Branin, Hartmann-6 and the LeNet
# quadratic, mahpo drawing Optuna's random numbers trial by trial, and the cost of an ask + tell with
# its ratio, all in one run. Two anchors: Debian's Optuna 3.1 (the default), or the newest Optuna's
# source with --optuna-source DIR (a `git archive HEAD optuna` of github:optuna/optuna, fetched
# beforehand: nothing is fetched here; docs/tpe_vs_optuna.md used commit 1d8ce7bb6f3c).
# Installs Debian's python3-optuna if it is missing (not part of setup.sh); builds tpe_vs_optuna and
# bench_searchers. Usage: scripts/bench_vs_optuna.sh [--optuna-source DIR] [--seeds N] [--first-seed F]
#   [pieces|proposals|runs|stream|cost ...] (see bench/tpe_vs_optuna.py --help)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MAHPO_BUILD_DIR:-$root/build}"
python=/usr/bin/python3  # Debian's interpreter: the one that sees python3-optuna

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! "$python" -c 'import optuna' 2>/dev/null; then
  echo "bench_vs_optuna: installing Debian's python3-optuna" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-optuna >/dev/null
fi
if [ ! -d "$build" ]; then cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null; fi
cmake --build "$build" --target tpe_vs_optuna bench_searchers >/dev/null
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F)"
exec "$python" "$root/bench/tpe_vs_optuna.py" --build "$build" "$@"
