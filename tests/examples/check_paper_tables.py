#!/usr/bin/env python3
"""Checks what `paper_tables --quick` wrote: every method present for every data set, accuracies in
[0, 1], kappa and accuracy equal to what the confusion matrix gives, every CSV parseable, Hyperband
and BOHB held to the same training budget, best-so-far curves that never fall, and (when gnuplot is
installed) the PNGs that scripts/plot_paper_tables.sh draws.

usage: check_paper_tables.py DIR --datasets mnist,fashion-mnist --seeds 2 --episodes 10 --epochs 0.5
                             --test-images 500 [--plot-script scripts/plot_paper_tables.sh]
"""
import argparse
import csv
import json
import math
import os
import shutil
import subprocess
import sys

METHODS = ["random", "anneal", "tpe", "hyperband", "bohb", "mappo"]
LABELS = {"random": "RS", "anneal": "Anneal", "tpe": "TPE", "hyperband": "Hyperband", "bohb": "BOHB", "mappo": "MAPPO"}
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    check(rows, f"{path}: no rows")
    return rows


def kappa(confusion):
    total = sum(map(sum, confusion))
    observed = sum(confusion[k][k] for k in range(len(confusion))) / total
    expected = sum(sum(confusion[k]) * sum(row[k] for row in confusion) for k in range(len(confusion))) / total**2
    return 1.0 if expected == 1.0 else (observed - expected) / (1.0 - expected)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--datasets", default="mnist,fashion-mnist")
    parser.add_argument("--seeds", type=int, required=True)
    parser.add_argument("--episodes", type=int, required=True)
    parser.add_argument("--epochs", type=float, required=True)
    parser.add_argument("--test-images", type=int, required=True)
    parser.add_argument("--plot-script")
    args = parser.parse_args()
    out = args.dir
    datasets = args.datasets.split(",")

    runs = read_csv(os.path.join(out, "runs.csv"))
    check(len(runs) == len(datasets) * len(METHODS) * args.seeds,
          f"runs.csv: {len(runs)} rows, expected {len(datasets) * len(METHODS) * args.seeds}")
    for dataset in datasets:
        for method in METHODS:
            seeds = sorted(int(r["seed"]) for r in runs if r["dataset"] == dataset and r["method"] == method)
            check(seeds == list(range(args.seeds)), f"runs.csv: {dataset} {method} has seeds {seeds}")

    for run in runs:
        name = f"{run['dataset']} {run['method']} seed {run['seed']}"
        accuracy, validation, run_kappa = float(run["test_accuracy"]), float(run["validation_accuracy"]), float(run["test_kappa"])
        check(0.0 <= accuracy <= 1.0 and 0.0 <= validation <= 1.0, f"{name}: accuracy {accuracy} / {validation} outside [0, 1]")
        check(float(run["search_seconds"]) > 0.0, f"{name}: no search time")
        confusion = json.loads(run["test_confusion"])
        if check(len(confusion) == 10 and all(len(row) == 10 for row in confusion), f"{name}: confusion is not 10 x 10"):
            check(all(isinstance(c, int) and c >= 0 for row in confusion for c in row), f"{name}: confusion counts not counts")
            total = sum(map(sum, confusion))
            check(total == args.test_images, f"{name}: confusion counts {total} images, expected {args.test_images}")
            trace = sum(confusion[k][k] for k in range(10))
            check(math.isclose(accuracy, trace / total, abs_tol=1e-9), f"{name}: accuracy {accuracy} but confusion gives {trace / total}")
            check(math.isclose(run_kappa, kappa(confusion), abs_tol=1e-9), f"{name}: kappa {run_kappa} but confusion gives {kappa(confusion)}")

        stem = f"{run['dataset']}-{run['method']}-seed{run['seed']}"
        trials = read_csv(os.path.join(out, "trials", stem + ".csv"))
        check(len(trials) == int(run["trials"]), f"{stem}.csv: {len(trials)} rows, runs.csv says {run['trials']}")
        for trial in trials:
            check(trial["status"] in ("ok", "failed", "diverged"), f"{stem}.csv: trial {trial['id']} status {trial['status']}")
            check(0.0 <= float(trial["value"]) <= 1.0, f"{stem}.csv: trial {trial['id']} value {trial['value']}")
            if trial["status"] == "ok":
                check(0.0 <= float(trial["test_accuracy"]) <= 1.0, f"{stem}.csv: trial {trial['id']} test accuracy {trial['test_accuracy']}")
        best = max((t for t in trials if t["status"] == "ok"), key=lambda t: float(t["value"]), default=None)
        if check(best is not None, f"{stem}: no trial finished ok"):
            check(math.isclose(float(best["value"]), validation, abs_tol=1e-12), f"{stem}: best validation is {best['value']}, runs.csv says {validation}")
        epochs = sum(float(t["budget_epochs"]) for t in trials)
        budget = args.episodes * args.epochs
        if run["method"] in ("hyperband", "bohb"):  # the same total training budget, overshooting by at most one trial
            check(budget - 1e-9 <= epochs < budget + args.epochs + 1e-9, f"{stem}: {epochs} epochs trained, budget {budget}")
        else:
            check(len(trials) == args.episodes and math.isclose(epochs, budget), f"{stem}: {len(trials)} trials, {epochs} epochs")

    summary = read_csv(os.path.join(out, "summary.csv"))
    check(len(summary) == len(datasets) * len(METHODS), f"summary.csv: {len(summary)} rows")
    for row in summary:
        mine = [float(r["test_accuracy"]) for r in runs if r["dataset"] == row["dataset"] and r["method"] == row["method"]]
        check(math.isclose(float(row["accuracy_mean"]), sum(mine) / len(mine), abs_tol=1e-9), f"summary.csv: {row['dataset']} {row['method']} mean")
        check(float(row["hours_mean"]) > 0.0, f"summary.csv: {row['dataset']} {row['method']} no search time")

    with open(os.path.join(out, "table.md")) as f:
        table = f.read()
    for method in METHODS:
        check(table.count(f"| {LABELS[method]} |") == len(datasets), f"table.md: {LABELS[method]} is not in every table")

    for dataset in datasets:
        for method in METHODS:
            path = os.path.join(out, "curves", dataset, method + ".dat")
            # One block per seed, blocks separated by blank lines; in each, time and best never fall.
            blocks, block = [], []
            for line in open(path):
                if line.startswith("#"):
                    continue
                if line.strip():
                    block.append(tuple(map(float, line.split())))
                elif block:
                    blocks.append(block)
                    block = []
            if block:
                blocks.append(block)
            check(len(blocks) == args.seeds, f"{path}: {len(blocks)} curves, expected one per seed ({args.seeds})")
            for k, curve in enumerate(blocks):
                check(all(0.0 <= best <= 1.0 for _, best in curve), f"{path}: curve {k}: accuracy outside [0, 1]")
                check(all(a[0] <= b[0] for a, b in zip(curve, curve[1:])), f"{path}: curve {k}: time goes back")
                check(all(a[1] <= b[1] for a, b in zip(curve, curve[1:])), f"{path}: curve {k}: best-so-far falls")

    if args.plot_script:
        if shutil.which("gnuplot") is None:
            print("gnuplot is not installed: the plots were not checked")
        else:
            subprocess.run(["bash", args.plot_script, out], check=True)
            for png in ("search_time.png", "best_so_far.png"):
                path = os.path.join(out, png)
                with open(path, "rb") as f:
                    check(f.read(8) == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG")

    if failures:
        print("\n".join(f"FAIL {message}" for message in failures))
        return 1
    print(f"paper_tables outputs check out: {len(runs)} runs, {len(datasets)} data sets x {len(METHODS)} methods x {args.seeds} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
