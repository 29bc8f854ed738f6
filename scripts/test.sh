#!/usr/bin/env bash
# Sets everything up, builds mahpo's tests, benchmarks and examples, and runs the test suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MAHPO_BUILD_DIR:-$root/build}"
jobs="${MAHPO_JOBS:-$(nproc)}"

bash "$root/scripts/setup.sh"
# Ninja when it is installed (setup.sh installs it) and the folder is new: it keeps both cores busy to
# the end and its .ninja_log says what each file took to build.
generator=()
if [ ! -f "$build/CMakeCache.txt" ] && command -v ninja >/dev/null; then generator=(-G Ninja); fi
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" --parallel "$jobs"
# The JUnit report names every skipped test (exit 77: no GPU, no MPI, ...); its reasons are printed last.
status=0
ctest --test-dir "$build" --output-on-failure --parallel "$jobs" --output-junit ctest-junit.xml "$@" || status=$?
if [ -f "$build/ctest-junit.xml" ]; then python3 "$root/tests/summarize_skips.py" "$build/ctest-junit.xml"; fi
exit "$status"
