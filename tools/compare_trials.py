#!/usr/bin/env python3
"""Compares trial CSVs written by two builds (study reports, `search_lenet --csv`): the same trials,
configs, budgets, statuses, values and metrics, ignoring wall-clock columns. For refactors that must
not change what a searcher does.

usage: compare_trials.py OLD_DIR NEW_DIR      (pairs files of the same name; exit 1 on a difference)
"""
import csv
import os
import sys

TIMES = {"started", "ended", "seconds", "training_seconds", "evaluation_seconds", "seconds_per_100_iterations",
         "peak_resident_bytes"}


def rows(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMES} for row in csv.DictReader(f)]


def main():
    old_dir, new_dir = sys.argv[1], sys.argv[2]
    names = sorted(n for n in os.listdir(old_dir) if n.endswith(".csv"))
    different = 0
    for name in names:
        old, new = rows(os.path.join(old_dir, name)), rows(os.path.join(new_dir, name))
        if old == new:
            continue
        different += 1
        first = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
        print(f"{name}: differs from trial {first} ({len(old)} rows before, {len(new)} now)")
    print(f"{len(names) - different} of {len(names)} trial files identical")
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
