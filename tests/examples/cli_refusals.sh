#!/usr/bin/env bash
# search_lenet refuses what would crash, hang or lie, with an error that says why and a non-zero exit
# (never a signal): usage: cli_refusals.sh PATH/TO/search_lenet
set -uo pipefail
search_lenet="$1"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failures=0

# expect_refusal NAME REGEX ARGS...: the run must exit 1..127 with REGEX in its output.
expect_refusal() {
  local name="$1" regex="$2"
  shift 2
  local output rc
  output="$(timeout 60 "$search_lenet" "$@" 2>&1)"
  rc=$?
  if [ "$rc" -eq 0 ] || [ "$rc" -ge 124 ] || ! grep -Eq -- "$regex" <<<"$output"; then
    printf 'FAIL %s: exit %s, output:\n%s\n' "$name" "$rc" "$output"
    failures=$((failures + 1))
  else
    printf 'ok   %s (exit %s): %s\n' "$name" "$rc" "$(grep -E -m1 -- "$regex" <<<"$output")"
  fi
}

branin=(--problem branin --searcher random)
expect_refusal "--trials -1" "--trials" "${branin[@]}" --trials -1
expect_refusal "--epochs nan" "--epochs.*finite number above 0" "${branin[@]}" --epochs nan
expect_refusal "--epochs inf" "--epochs.*finite" "${branin[@]}" --epochs inf
expect_refusal "--trials 0 --seconds nan" "--seconds.*finite number" "${branin[@]}" --trials 0 --seconds nan
expect_refusal "--workers 1000000000" "--workers" "${branin[@]}" --trials 5 --workers 1000000000
expect_refusal "--resume on a missing journal" "nothing to resume" "${branin[@]}" --trials 5 \
  --journal "$scratch/typo.jsonl" --resume

# A study run at 0.2 epochs per trial is not resumed at 0.9.
"$search_lenet" "${branin[@]}" --trials 3 --epochs 0.2 --journal "$scratch/study.jsonl" >/dev/null || failures=$((failures + 1))
expect_refusal "resume with another budget" "belongs to another study: budget.epochs 0.2 in the journal, 0.9 in this study" "${branin[@]}" --trials 5 \
  --epochs 0.9 --journal "$scratch/study.jsonl" --resume
expect_refusal "resume with another searcher" "belongs to another study: searcher" --problem branin \
  --searcher tpe --trials 5 --epochs 0.2 --journal "$scratch/study.jsonl" --resume

if [ "$failures" -gt 0 ]; then
  echo "$failures refusal(s) missing"
  exit 1
fi
echo "all refusals hold"
