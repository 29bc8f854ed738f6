#!/usr/bin/env python3
"""Optuna's TPE with its pruners on mahpo's learning-curve benchmark, at equal total epochs: the peer
of bench/pruning_quality (same curves, same nearest-config replay, same seeds, same budgets).

    /usr/bin/python3 tools/pruning_vs_optuna.py bench/data/learning_curves_mnist.csv
    PYTHONPATH=/path/to/optuna-source /usr/bin/python3 tools/pruning_vs_optuna.py ...   # another Optuna

A config is replayed as the recorded config nearest to it in mahpo's unit cube (mahpo's encoding:
an integer v in [lo, hi] at (v - lo + 0.5) / (hi - lo + 1), a real linearly or in log). Each trial
reports the recorded accuracy after each of its 9 epochs and asks should_prune(); a run stops asking
once it has trained the epochs given. Result: the best accuracy of its complete (9-epoch) trials;
each row: the median over the seeds (mean) and the mean regret against the best recorded."""
import argparse
import csv
import math
import statistics
import sys

import optuna

SPACE = [  # name, kind, low, high (mahpo's paper_lenet)
    ("conv1.conv_size", "int", 2, 7), ("conv2.conv_size", "int", 2, 7), ("fc1.hidden_size", "int", 124, 1024),
    ("fc1.dropout_rate", "real", 0.5, 0.9), ("training.batch_size", "int", 16, 32),
    ("training.learning_rate", "log", 1e-4, 0.1)]


def encode(config):
    point = []
    for name, kind, low, high in SPACE:
        value = float(config[name])
        if kind == "int":
            point.append((value - low + 0.5) / (high - low + 1))
        elif kind == "log":
            point.append((math.log(value) - math.log(low)) / (math.log(high) - math.log(low)))
        else:
            point.append((value - low) / (high - low))
    return point


def load(path):
    rows = []
    with open(path) as handle:
        for row in csv.DictReader(handle):
            curve = [float(row[k]) for k in row if k.startswith("epoch_") and row[k] != ""]
            rows.append((encode(row), curve, row["status"] == "diverged"))
    return rows


def nearest(rows, point):
    return min(rows, key=lambda row: sum((a - b) ** 2 for a, b in zip(row[0], point)))


def run(rows, seed, pruner, epochs_given, epochs=9):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=pruner)
    spent = [0]

    def objective(trial):
        config = {}
        for name, kind, low, high in SPACE:
            if kind == "int":
                config[name] = trial.suggest_int(name, low, high)
            else:
                config[name] = trial.suggest_float(name, low, high, log=kind == "log")
        _, curve, _ = nearest(rows, encode(config))
        value = 0.0
        for epoch in range(1, epochs + 1):
            spent[0] += 1
            if epoch > len(curve):  # the recorded run diverged
                return 0.0
            value = curve[epoch - 1]
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    while spent[0] < epochs_given:
        study.optimize(objective, n_trials=1)
    complete = [t.value for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    return max(complete, default=0.0), len(study.trials), pruned


PRUNERS = {
    "optuna_tpe": lambda: optuna.pruners.NopPruner(),
    "optuna_tpe+median": lambda: optuna.pruners.MedianPruner(),
    "optuna_tpe+successive_halving": lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=1,
                                                                                    reduction_factor=3),
    "optuna_tpe+hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1, max_resource=9,
                                                                   reduction_factor=3),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("curves", nargs="+")
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--first-seed", type=int, default=10000)
    parser.add_argument("--epochs", default="180,540")
    parser.add_argument("--rows", default=",".join(PRUNERS))
    args = parser.parse_args()
    budgets = [float(b) for b in args.epochs.split(",")]
    for path in args.curves:
        rows = load(path)
        best = max(curve[-1] for _, curve, diverged in rows if not diverged and len(curve) == 9)
        print(f"\n## {path}: {len(rows)} recorded configs; Optuna {optuna.__version__}; best recorded {best:.4f}")
        print(f"seeds {args.first_seed}-{args.first_seed + args.seeds - 1}\n")
        print("| method |" + "".join(f" {b:g} epochs | regret | trials (pruned) |" for b in budgets))
        print("|---|" + "---|---|---|" * len(budgets))
        for name in args.rows.split(","):
            cells = []
            for budget in budgets:
                results = [run(rows, seed, PRUNERS[name](), budget)
                           for seed in range(args.first_seed, args.first_seed + args.seeds)]
                values = [r[0] for r in results]
                mean = statistics.mean(values)
                cells.append(f" {statistics.median(values):.4f} ({mean:.4f}) | {best - mean:.4f} | "
                             f"{statistics.mean(r[1] for r in results):.1f} "
                             f"({statistics.mean(r[2] for r in results):.1f}) |")
            print(f"| {name} |" + "".join(cells))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
