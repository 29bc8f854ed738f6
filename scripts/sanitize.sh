#!/usr/bin/env bash
# The sanitizer part of CI (.ci/run calls it after scripts/test.sh), in two clang build folders:
#   build-asan: AddressSanitizer + UndefinedBehaviorSanitizer; the unit and RL tests, of the search
#               tests the laws (every searcher asked, told, replaced), the journal's and the study
#               runner's, and a short run of each libFuzzer target (fuzz/, docs/fuzzing.md)
#   build-tsan: ThreadSanitizer; the study runner's tests (worker threads, journal, resume)
# Any report fails the run: -fno-sanitize-recover=all and halt_on_error. Each step prints its wall
# time. Usage: bash scripts/sanitize.sh [asan|tsan]... (default: both).
# clang 19, not 14: Real's bounds are double template arguments, which clang supports from 18 on.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="${MAHPO_JOBS:-$(nproc)}"
cxx="${MAHPO_SANITIZE_CXX:-clang++-19}"
fuzz_seconds="${MAHPO_FUZZ_SECONDS:-10}"
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(asan tsan)

# Cheap to compile, fast enough to run; -fno-relaxed-template-template-args: clang 19's default
# otherwise makes xtensor 0.24's rebind_container ambiguous.
common_flags="-O1 -gline-tables-only -fno-omit-frame-pointer -fno-relaxed-template-template-args"
common_flags+=" -Wno-deprecated-no-relaxed-template-template-args"

# The search tests built under ASan: the rest (each searcher's own behaviour and search quality) take
# ~1,000 s of compiling more there and run every searcher through the same code paths as the laws.
asan_search_tests='search/test_(laws|laws_models|journal|study)\.cpp$'

# Named explicitly: the sanitizer runtime of Debian's clang 19 does not find llvm-symbolizer on PATH by itself.
symbolizer="$(command -v llvm-symbolizer-19 || command -v llvm-symbolizer || true)"
symbolize="${symbolizer:+:external_symbolizer_path=$symbolizer}"
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_string_checks=1$symbolize"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1$symbolize"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1$symbolize"

timed() {  # timed NAME COMMAND...: runs the command and prints its wall time
  local name="$1" start=$SECONDS
  shift
  "$@"
  printf 'sanitize: %s took %d s\n' "$name" $((SECONDS - start))
}

configure() {  # configure FOLDER FLAGS CMAKE-OPTIONS...
  local folder="$1" flags="$2" generator=()
  shift 2
  # Ninja builds the test programs and fuzz targets side by side (make builds named targets one
  # after another); a folder configured earlier keeps its generator.
  if [ ! -f "$folder/CMakeCache.txt" ] && command -v ninja >/dev/null; then generator=(-G Ninja); fi
  cmake -S "$root" -B "$folder" "${generator[@]}" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Sanitize \
    -DCMAKE_CXX_FLAGS="$common_flags $flags" -DMAHPO_BUILD_BENCHMARKS=OFF -DMAHPO_BUILD_EXAMPLES=OFF \
    -DMAHPO_ENABLE_CUDA=OFF "$@" >/dev/null
}

asan() {
  local build="$root/build-asan"
  timed "asan: configure" configure "$build" "-fsanitize=address,undefined -fno-sanitize-recover=all" \
    -DMAHPO_FUZZ=ON -DMAHPO_FUZZ_SECONDS="$fuzz_seconds" -DMAHPO_SEARCH_TESTS="$asan_search_tests"
  timed "asan: build" cmake --build "$build" --parallel "$jobs" --target \
    mahpo_tests mahpo_search_tests mahpo_rl_tests fuzz_idx fuzz_config fuzz_journal
  timed "asan: unit, search and RL tests" ctest --test-dir "$build" --output-on-failure --parallel "$jobs" \
    -L '^(unit|search|rl)$'
  timed "asan: fuzz smoke runs (${fuzz_seconds} s each)" ctest --test-dir "$build" --output-on-failure \
    --parallel "$jobs" -L '^fuzz$'
}

tsan() {
  local build="$root/build-tsan"
  timed "tsan: configure" configure "$build" "-fsanitize=thread"
  timed "tsan: build" cmake --build "$build" --parallel "$jobs" --target mahpo_study_tests
  # OpenBLAS's own threads are not instrumented: TSan would report races inside them.
  timed "tsan: study tests" env OPENBLAS_NUM_THREADS=1 "$build/tests/mahpo_study_tests"
}

for step in "${steps[@]}"; do
  case "$step" in
    asan | tsan) "$step" ;;
    *) echo "sanitize: unknown step '$step' (asan, tsan)" >&2; exit 2 ;;
  esac
done
