#!/usr/bin/env python3
"""Checks what `paper_tables --quick` wrote: every method present for every data set, accuracies in
[0, 1], kappa and accuracy equal to what the confusion matrix gives (of the search's best trial and of
its final training), every CSV parseable, Hyperband and BOHB held to the same training budget,
best-so-far curves that never fall and their sd bands, the pairing with MAPPO, the final recipe kept
with each final, the runs at equal time (each study cut at --equal-seconds: the trials it had asked
by then, its best among them, that config's final) and (when gnuplot is installed) the PNGs that
scripts/plot_paper_tables.sh draws.

usage: check_paper_tables.py DIR --datasets mnist,fashion-mnist --seeds 2 --episodes 10 --epochs 0.5
                             --final-epochs 1 --test-images 500 [--equal-seconds T]
                             [--plot-script scripts/plot_paper_tables.sh]
"""
import argparse
import csv
import json
import math
import os
import shutil
import subprocess
import sys

METHODS = ["random", "anneal", "tpe", "hyperband", "bohb", "mappo", "mappo_paper", "gp_bo", "ppo_lstm"]
LABELS = {"random": "RS", "anneal": "Anneal", "tpe": "TPE", "hyperband": "Hyperband", "bohb": "BOHB", "mappo": "MAPPO",
          "mappo_paper": "MAPPO (paper preset)", "gp_bo": "GP-BO", "ppo_lstm": "PPO-LSTM"}
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


def check_confusion(name, confusion, accuracy, run_kappa, images):
    if check(len(confusion) == 10 and all(len(row) == 10 for row in confusion), f"{name}: confusion is not 10 x 10"):
        check(all(isinstance(c, int) and c >= 0 for row in confusion for c in row), f"{name}: confusion counts not counts")
        total = sum(map(sum, confusion))
        check(total == images, f"{name}: confusion counts {total} images, expected {images}")
        trace = sum(confusion[k][k] for k in range(10))
        check(math.isclose(accuracy, trace / total, abs_tol=1e-9), f"{name}: accuracy {accuracy} but confusion gives {trace / total}")
        check(math.isclose(run_kappa, kappa(confusion), abs_tol=1e-9), f"{name}: kappa {run_kappa} but confusion gives {kappa(confusion)}")


def check_equal_time(out, runs, datasets, args):
    """Each run cut at T: the trials asked before T (started, printed to the millisecond), their best."""
    t = args.equal_seconds
    suffix = f"-at-{t:g}s"
    cut = {(r["dataset"], r["method"], r["seed"]): r for r in read_csv(os.path.join(out, f"runs{suffix}.csv"))}
    check(len(cut) == len(runs), f"runs{suffix}.csv: {len(cut)} rows, expected {len(runs)}")
    cut_short = 0
    for run in runs:
        key = (run["dataset"], run["method"], run["seed"])
        name = f"{' '.join(key)} at {t:g} s"
        if not check(key in cut, f"runs{suffix}.csv: no row for {name}"):
            continue
        row = cut[key]
        stem = f"{run['dataset']}-{run['method']}-seed{run['seed']}"
        trials = read_csv(os.path.join(out, "trials", stem + ".csv"))
        whole = float(run["search_seconds"]) <= t
        surely = [x for x in trials if whole or float(x["started"]) < t - 0.0005]
        maybe = [x for x in trials if whole or float(x["started"]) < t + 0.0005]
        check(len(surely) <= int(row["trials"]) <= len(maybe),
              f"{name}: {row['trials']} trials, but {len(surely)}-{len(maybe)} were asked by then")
        cut_short += int(row["trials"]) < len(trials)
        check(float(row["search_seconds"]) <= float(run["search_seconds"]) + 1e-6, f"{name}: longer than the run")
        ok = [float(x["value"]) for x in surely if x["status"] == "ok"]
        if len(surely) == len(maybe) and ok:  # no trial started within a millisecond of T
            check(math.isclose(float(row["validation_accuracy"]), max(ok), abs_tol=1e-12),
                  f"{name}: best validation {row['validation_accuracy']}, the trials asked by then give {max(ok)}")
        final_accuracy = float(row["final_test_accuracy"])
        check_confusion(name + " final", json.loads(row["final_test_confusion"]), final_accuracy, float(row["final_test_kappa"]),
                        args.test_images)
        with open(os.path.join(out, "finals", stem + suffix + ".json")) as f:
            kept = json.load(f)
        check(kept["final"]["test_accuracy"] == final_accuracy, f"finals/{stem}{suffix}.json does not hold the final")
        if row["config"] == run["config"]:  # the same choice: the full run's final serves
            check(final_accuracy == float(run["final_test_accuracy"]), f"{name}: same config, another final")
    check(cut_short > 0, f"--equal-seconds {t:g} cut no run short: choose a smaller time")
    summary = read_csv(os.path.join(out, f"summary{suffix}.csv"))
    check(len(summary) == len(datasets) * len(METHODS), f"summary{suffix}.csv: {len(summary)} rows")
    with open(os.path.join(out, "table.md")) as f:
        check(f.read().count(f"at equal time: every study as it stood {t:g} s in") == len(datasets),
              "table.md: a table at equal time is missing")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--datasets", default="mnist,fashion-mnist")
    parser.add_argument("--seeds", type=int, required=True)
    parser.add_argument("--episodes", type=int, required=True)
    parser.add_argument("--epochs", type=float, required=True)
    parser.add_argument("--final-epochs", type=float, required=True)
    parser.add_argument("--test-images", type=int, required=True)
    parser.add_argument("--equal-seconds", type=float, default=0.0)
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
        check_confusion(name, json.loads(run["test_confusion"]), accuracy, run_kappa, args.test_images)

        # The final training of the chosen config: its own test confusion, and the file --resume keeps.
        stem = f"{run['dataset']}-{run['method']}-seed{run['seed']}"
        check(math.isclose(float(run["final_epochs"]), args.final_epochs), f"{name}: final training of {run['final_epochs']} epochs")
        check(float(run["final_seconds"]) > 0.0, f"{name}: no final training time")
        final_accuracy, final_kappa = float(run["final_test_accuracy"]), float(run["final_test_kappa"])
        check(0.0 <= final_accuracy <= 1.0, f"{name}: final accuracy {final_accuracy} outside [0, 1]")
        check_confusion(name + " final", json.loads(run["final_test_confusion"]), final_accuracy, final_kappa, args.test_images)
        with open(os.path.join(out, "finals", stem + ".json")) as f:
            kept = json.load(f)
        check(kept["final"]["test_accuracy"] == final_accuracy and kept["best_trial"] == int(run["best_trial"]),
              f"finals/{stem}.json does not hold the run's final training")
        recipe = kept.get("recipe", {})
        check(recipe.get("epochs") == args.final_epochs and recipe.get("schedule") in ("cosine", "inv")
              and recipe.get("weight_decay", -1) >= 0, f"finals/{stem}.json: recipe {recipe}")

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
        finals = [float(r["final_test_accuracy"]) for r in runs if r["dataset"] == row["dataset"] and r["method"] == row["method"]]
        check(math.isclose(float(row["final_accuracy_mean"]), sum(finals) / len(finals), abs_tol=1e-9),
              f"summary.csv: {row['dataset']} {row['method']} final mean")

    with open(os.path.join(out, "table.md")) as f:
        table = f.read()
    tables = len(datasets) * (2 if args.equal_seconds > 0 else 1)  # and again at equal time
    for method in METHODS:  # a row in each data set's table, and one in its pairing with MAPPO (but MAPPO's)
        rows = 1 if method == "mappo" else 2
        check(table.count(f"| {LABELS[method]} |") == rows * tables, f"table.md: {LABELS[method]} is not in every table")
    check(table.count("Paired with MAPPO") == tables, "table.md: a pairing with MAPPO is missing")

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
            # The band: mean and sd over the seeds that have a value by then; at the end, every seed's last.
            band_path = os.path.join(out, "curves", dataset, method + ".band.dat")
            band = [tuple(map(float, line.split())) for line in open(band_path) if line.strip() and not line.startswith("#")]
            if check(band, f"{band_path}: empty"):
                check(all(a[0] <= b[0] for a, b in zip(band, band[1:])), f"{band_path}: time goes back")
                check(all(0.0 <= mean <= 1.0 and sd >= 0.0 and 1 <= n <= args.seeds for _, mean, sd, n in band), f"{band_path}: a value out of range")
                lasts = [curve[-1][1] for curve in blocks]
                check(band[-1][3] == len(lasts) and math.isclose(band[-1][1], sum(lasts) / len(lasts), abs_tol=1e-9),
                      f"{band_path}: the last point is not the mean of every seed's best")

    if args.equal_seconds > 0:
        check_equal_time(out, runs, datasets, args)

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
    print(f"paper_tables outputs check out: {len(runs)} runs, {len(datasets)} data sets x {len(METHODS)} methods x {args.seeds} seeds"
          + (f", and each cut at {args.equal_seconds:g} s" if args.equal_seconds > 0 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
