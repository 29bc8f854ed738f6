#!/usr/bin/env python3
"""Fits the LeNet surrogates on real paper_lenet trials and writes
include/mahpo/problems/lenet_surrogate_data.hpp (Python 3 standard library only).

    python3 tools/fit_lenet_surrogate.py            # regenerate the header
    python3 tools/fit_lenet_surrogate.py --check    # fail when the header is stale
    python3 tools/fit_lenet_surrogate.py --holdout  # judge the model on real trials held out of its fit

Each takes about 35 s of one core (pure Python kernel sums over ~1,000 trials); ctest runs the last
two (tests/surrogate). --holdout refits the whole model (chance level, bandwidths, kernel sums) three
times per data set, each time without one group of sources (uniform random; anneal and TPE;
Hyperband, BOHB and MAPPO), predicts the group's trials, and fails when the rank correlation, the
accuracy error or the divergence Brier score over them passes the limits HOLDOUT_MINIMUM and
HOLDOUT_MAXIMUM below.

Input: every trial CSV in docs/paper_results/trials (the paper_tables runs) and docs/surrogate/trials
(extra uniform random trials), named DATASET-METHOD-seedS.csv. Trials with the same config and budget
are kept once (the real objective trains with a fixed seed, so a repeat gives the same value).

The model, per data set (surrogate benchmarks after HPOBench, Eggensperger et al. 2021, and YAHPO Gym,
Pfisterer et al. 2022; here a kernel model, so the shipped data are the trials themselves):
  * diverged: a full-budget (1 epoch) trial whose validation accuracy is below 0.15 (chance level:
    a diverged LeNet predicts one class, 0.106 on MNIST's and about 0.1 on Fashion-MNIST's 5,000
    validation images);
  * accuracy: Nadaraya-Watson regression (Nadaraya 1964, Watson 1964) with a Gaussian product kernel
    in the unit cube over the non-diverged full-budget trials, one bandwidth per coordinate;
  * divergence probability: the kernel-weighted share of diverged trials among all full-budget
    trials, with its own bandwidths;
  * bandwidths: those with the least squared error (Brier score for divergence) when each source's
    trials (random, anneal, TPE, ..., extra random) are predicted from the other sources' trials, so
    the model is chosen to generalize to where a new searcher goes, not to one searcher's clusters;
  * noise: the semivariogram at small lag (half the squared difference of the values of nearly
    equal configs, Matheron 1963; from the median, so outliers don't count) measures the real objective's roughness; its part beyond the
    binomial noise of 5,000 validation images is the training noise;
  * budgets below 1 epoch: the median ratio (value(b) - chance) / (value(1) - chance) over configs
    Hyperband and BOHB ran at both budgets, interpolated in log budget.
"""
import argparse
import array
import csv
import functools
import math
import operator
import pathlib
import random
import statistics
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TRIAL_FOLDERS = [ROOT / "docs" / "paper_results" / "trials", ROOT / "docs" / "surrogate" / "trials"]
TARGET = ROOT / "include" / "mahpo" / "problems" / "lenet_surrogate_data.hpp"
DATASETS = [("mnist", "mnist"), ("fashion-mnist", "fashion_mnist")]
# Sources in a fixed order; a config seen by several keeps the first.
SOURCES = ["random", "anneal", "tpe", "hyperband", "bohb", "mappo", "extra_random"]
COLUMNS = ["conv1.conv_size", "conv2.conv_size", "fc1.hidden_size", "fc1.dropout_rate", "training.batch_size",
           "training.learning_rate"]
DIVERGED_BELOW = 0.15
VALIDATION_IMAGES = 5000


def unit_cube(raw):
    """paper_lenet's space::to_unit_cube: an integer owns an equal share (its centre), the learning rate is log."""
    conv1, conv2, hidden, dropout, batch, learning_rate = raw
    return [(conv1 - 2 + 0.5) / 6.0, (conv2 - 2 + 0.5) / 6.0, (hidden - 124 + 0.5) / 901.0, (dropout - 0.5) / 0.4,
            (batch - 16 + 0.5) / 17.0, (math.log(learning_rate) - math.log(1e-4)) / (math.log(0.1) - math.log(1e-4))]


def rounded_config(row):
    """The config as the header stores it (dropout and learning rate to 6 significant digits)."""
    return (int(row["conv1.conv_size"]), int(row["conv2.conv_size"]), int(row["fc1.hidden_size"]),
            float(f"{float(row['fc1.dropout_rate']):.6g}"), int(row["training.batch_size"]),
            float(f"{float(row['training.learning_rate']):.6g}"))


def read_trials(file_prefix):
    """(source, raw config, budget, value) per distinct (config, budget), all folders."""
    trials, seen = [], set()
    files = []
    for folder in TRIAL_FOLDERS:
        for path in sorted(folder.glob(f"{file_prefix}-*-seed*.csv")):
            method = path.stem[len(file_prefix) + 1:].rsplit("-seed", 1)[0]
            if method not in SOURCES[:-1]:
                continue
            source = "extra_random" if folder != TRIAL_FOLDERS[0] else method
            files.append((SOURCES.index(source), path))
    for source_index, path in sorted(files):
        with path.open() as handle:
            for row in csv.DictReader(handle):
                if row["status"] != "ok" or row["value"] in ("", "nan"):
                    continue
                raw = rounded_config(row)
                budget = float(row["budget_epochs"])
                key = (raw, round(budget, 6))
                if key in seen:
                    continue
                seen.add(key)
                trials.append((source_index, raw, budget, float(row["value"])))
    return trials


class KernelModel:
    """Nadaraya-Watson regression with a Gaussian product kernel; a prior weight keeps far points at the mean."""

    prior_weight = 1e-3

    def __init__(self, points, targets, groups):
        self.columns = [array.array("d", [p[k] for p in points]) for k in range(6)]
        self.groups = array.array("i", groups)
        self.targets = array.array("d", targets)
        self.mean = statistics.fmean(targets)
        self.neighbours = {}  # per loss subset: each trial's squared differences to the other sources' trials

    # The sums below run in list comprehensions (2-3 times faster than a loop) and give the same numbers as a
    # loop that skips the weights below exp(-30): adding 0 changes no sum, and the order of the terms is kept.
    def weighted_mean(self, exponents, targets):
        weights = [math.exp(-s) if s < 30.0 else 0.0 for s in exponents]
        total_weight = functools.reduce(operator.add, weights, self.prior_weight)
        total = functools.reduce(operator.add, map(operator.mul, weights, targets), self.prior_weight * self.mean)
        return total / total_weight

    def predict(self, x, bandwidths):
        x0, x1, x2, x3, x4, x5 = x
        c0, c1, c2, c3, c4, c5 = (0.5 / (h * h) for h in bandwidths)
        return self.weighted_mean([(x0 - a0) ** 2 * c0 + (x1 - a1) ** 2 * c1 + (x2 - a2) ** 2 * c2 +
                                   (x3 - a3) ** 2 * c3 + (x4 - a4) ** 2 * c4 + (x5 - a5) ** 2 * c5
                                   for a0, a1, a2, a3, a4, a5 in zip(*self.columns)], self.targets)

    def predict_from(self, differences, targets, bandwidths):
        """predict() from the squared coordinate differences to the trials used and their targets."""
        c0, c1, c2, c3, c4, c5 = (0.5 / (h * h) for h in bandwidths)
        return self.weighted_mean([d0 * c0 + d1 * c1 + d2 * c2 + d3 * c3 + d4 * c4 + d5 * c5
                                   for d0, d1, d2, d3, d4, d5 in zip(*differences)], targets)

    def differences(self, x, skip_group):
        kept = [j for j, g in enumerate(self.groups) if g != skip_group]
        return [[(x[k] - self.columns[k][j]) ** 2 for j in kept] for k in range(6)], [self.targets[j] for j in kept]

    def loo_loss(self, bandwidths, subset):
        """Mean squared error over the subset, each trial predicted without its source's trials."""
        key = tuple(subset)
        if key not in self.neighbours:
            self.neighbours[key] = [(self.targets[i], self.differences([c[i] for c in self.columns], self.groups[i]))
                                    for i in subset]
        return statistics.fmean((self.predict_from(*neighbours, bandwidths) - target) ** 2
                                for target, neighbours in self.neighbours[key])


def fit_bandwidths(model, label):
    """Coordinate search on log bandwidths; the loss of every third trial predicted without its source's trials."""
    subset = range(0, len(model.targets), 3)
    bandwidths = [0.15] * 6
    best = model.loo_loss(bandwidths, subset)
    for factor in (2.0, 1.41, 1.19):
        improved = True
        while improved:
            improved = False
            for k in range(6):
                for f in (factor, 1.0 / factor):
                    trial = list(bandwidths)
                    trial[k] = min(max(trial[k] * f, 0.01), 4.0)
                    loss = model.loo_loss(trial, subset)
                    if loss < best - 1e-12:
                        best, bandwidths, improved = loss, trial, True
    print(f"  {label}: bandwidths {', '.join(f'{h:.3g}' for h in bandwidths)}; leave-one-source-out loss {best:.5g}",
          file=sys.stderr)
    return bandwidths


def training_noise(points, values):
    """Training noise sd: the semivariogram of nearly equal configs less the binomial validation noise."""
    differences, binomial = [], []
    n = len(points)
    for i in range(n):
        for j in range(i + 1, n):
            a, b = points[i], points[j]
            if a[0] != b[0] or a[1] != b[1] or a[4] != b[4]:
                continue
            if abs(a[2] - b[2]) < 0.03 and abs(a[3] - b[3]) < 0.05 and abs(a[5] - b[5]) < 0.03:
                differences.append((values[i] - values[j]) ** 2)
                p = 0.5 * (values[i] + values[j])
                binomial.append(p * (1 - p) / VALIDATION_IMAGES)
    if len(differences) < 10:
        return 0.0, len(differences), float("nan")
    nugget = 0.5 * statistics.median(differences) / 0.4549  # median of a chi-square(1) is 0.4549: robust to outliers
    training = max(0.0, nugget - statistics.fmean(binomial))
    return math.sqrt(training), len(differences), math.sqrt(nugget)


def budget_ratios(trials, chance):
    """Median (value(b) - chance) / (value(1) - chance) per budget below 1, over configs run at both."""
    full = {raw: value for _, raw, budget, value in trials if abs(budget - 1.0) < 1e-9 and value >= DIVERGED_BELOW}
    ratios = {}
    for _, raw, budget, value in trials:
        if budget < 1.0 - 1e-9 and raw in full:
            ratios.setdefault(round(budget, 6), []).append((value - chance) / (full[raw] - chance))
    return sorted((budget, statistics.median(r), len(r)) for budget, r in ratios.items())


class FullBudgetModel:
    """The noiseless model at 1 epoch, fitted on full-budget trials (source, raw config, budget, value)."""

    def __init__(self, full, label=""):
        points = [unit_cube(t[1]) for t in full]
        values = [t[3] for t in full]
        self.diverged = [1.0 if v < DIVERGED_BELOW else 0.0 for v in values]
        self.chance_values = sorted(v for v in values if v < DIVERGED_BELOW)
        self.chance = statistics.median(self.chance_values)
        self.ok_points = [p for p, d in zip(points, self.diverged) if not d]
        self.ok_values = [v for v, d in zip(values, self.diverged) if not d]
        sources = [t[0] for t in full]
        ok_sources = [g for g, d in zip(sources, self.diverged) if not d]
        self.accuracy = KernelModel(self.ok_points, self.ok_values, ok_sources)
        self.accuracy_bandwidths = fit_bandwidths(self.accuracy, f"{label}accuracy")
        self.divergence = KernelModel(points, self.diverged, sources)
        self.divergence_bandwidths = fit_bandwidths(self.divergence, f"{label}divergence")

    def divergence_probability(self, raw):
        return self.divergence.predict(unit_cube(raw), self.divergence_bandwidths)

    def mean_accuracy(self, raw):
        return self.accuracy.predict(unit_cube(raw), self.accuracy_bandwidths)

    def expected(self, raw):
        p = self.divergence_probability(raw)
        return (1 - p) * self.mean_accuracy(raw) + p * self.chance


def fit(file_prefix):
    trials = read_trials(file_prefix)
    full = [t for t in trials if abs(t[2] - 1.0) < 1e-9]
    values = [t[3] for t in full]
    print(f"{file_prefix}: {len(full)} full-budget trials ({sum(v < DIVERGED_BELOW for v in values)} diverged), "
          f"{len(trials) - len(full)} below 1 epoch", file=sys.stderr)
    model = FullBudgetModel(full)
    noise_sd, pairs, nugget = training_noise(model.ok_points, model.ok_values)
    print(f"  training noise sd {noise_sd:.4f} (nugget sd {nugget:.4f} from {pairs} close pairs)", file=sys.stderr)
    ratios = budget_ratios(trials, model.chance)
    print(f"  budget ratios {ratios}", file=sys.stderr)

    # The best noiseless value: over the trials' configs and seeded uniform random configs.
    rng = random.Random(20261201)
    candidates = [t[1] for t in full]
    for _ in range(4000):
        candidates.append((rng.randint(2, 7), rng.randint(2, 7), rng.randint(124, 1024),
                           float(f"{rng.uniform(0.5, 0.9):.6g}"), rng.randint(16, 32),
                           float(f"{math.exp(rng.uniform(math.log(1e-4), math.log(0.1))):.6g}")))
    best = max(candidates, key=model.expected)
    print(f"  best expected {model.expected(best):.5f} at {best}; best real {max(values)}", file=sys.stderr)
    return dict(full=full, diverged=model.diverged, chance=model.chance, chance_values=model.chance_values,
                accuracy_bandwidths=model.accuracy_bandwidths, divergence_bandwidths=model.divergence_bandwidths,
                noise_sd=noise_sd, pairs=pairs, ratios=ratios, best=best, best_expected=model.expected(best))


# --holdout: 3-fold cross-validation over groups of sources, so that whole searchers are held out (a new
# searcher's trials are what the surrogate must predict); each fold refits everything (chance level,
# bandwidths, kernel sums) without its trials.
HOLDOUT_FOLDS = [("uniform random", ("random", "extra_random")), ("anneal and TPE", ("anneal", "tpe")),
                 ("Hyperband, BOHB and MAPPO", ("hyperband", "bohb", "mappo"))]
# Limits per data set, a margin from the measured figures (docs/surrogate/README.md): Spearman's rho of
# expected() and the real value, over all held-out trials and within each fold; rho, RMSE and MAE of the
# accuracy on the trials that did not diverge; Brier score of the divergence probability, which must
# also beat the constant forecast (the divergence share of the fold's training trials).
HOLDOUT_MINIMUM = {"rho": 0.70, "rho_fold": 0.25, "rho_trained": 0.70}
HOLDOUT_MAXIMUM = {"rmse": 0.10, "mae": 0.035, "brier": 0.055}


def ranks(values):
    """Ranks from 1, ties sharing their mean rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    rank = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            rank[order[k]] = 0.5 * (start + end) + 1.0
        start = end + 1
    return rank


def spearman(x, y):
    """Spearman's rho: Pearson's correlation of the ranks (Spearman 1904)."""
    return statistics.correlation(ranks(x), ranks(y))


def holdout(file_prefix):
    """Predictions of every full-budget trial by the model fitted without its fold; returns the figures."""
    full = [t for t in read_trials(file_prefix) if abs(t[2] - 1.0) < 1e-9]
    print(f"{file_prefix}: {len(full)} full-budget trials", file=sys.stderr)
    rows = []  # (fold, real value, diverged, divergence probability, accuracy, expected, fold's divergence share)
    for fold, (name, members) in enumerate(HOLDOUT_FOLDS):
        held = {SOURCES.index(m) for m in members}
        model = FullBudgetModel([t for t in full if t[0] not in held], label=f"without {name}: ")
        share = statistics.fmean(model.diverged)
        for _, raw, _, value in (t for t in full if t[0] in held):
            p, m = model.divergence_probability(raw), model.mean_accuracy(raw)
            rows.append((fold, value, value < DIVERGED_BELOW, p, m, (1 - p) * m + p * model.chance, share))
    trained = [r for r in rows if not r[2]]
    errors = [r[4] - r[1] for r in trained]
    real_trained = [r[1] for r in trained]
    figures = dict(
        trials=len(rows), diverged=len(rows) - len(trained),
        rho=spearman([r[5] for r in rows], [r[1] for r in rows]),
        rho_trained=spearman([r[4] for r in trained], real_trained),
        rmse=math.sqrt(statistics.fmean(e * e for e in errors)),
        mae=statistics.fmean(abs(e) for e in errors),
        sd=statistics.pstdev(real_trained),
        brier=statistics.fmean((r[3] - r[2]) ** 2 for r in rows),
        brier_share=statistics.fmean((r[6] - r[2]) ** 2 for r in rows),
        folds=[(name, sum(r[0] == fold for r in rows), spearman([r[5] for r in rows if r[0] == fold],
                                                                 [r[1] for r in rows if r[0] == fold]))
               for fold, (name, _) in enumerate(HOLDOUT_FOLDS)])
    return figures


def report_holdout(results):
    """Prints the held-out figures as Markdown; returns the failed thresholds."""
    print("| data set | held-out trials (diverged) | rho, all | rho, not diverged | accuracy RMSE (MAE; sd) | "
          "divergence Brier (fold's share) | rho per fold |")
    print("|---|---:|---:|---:|---:|---:|---|")
    failures = []
    for prefix, f in results:
        per_fold = "; ".join(f"{name} {count}: {rho:.3f}" for name, count, rho in f["folds"])
        print(f"| {prefix} | {f['trials']} ({f['diverged']}) | {f['rho']:.3f} | {f['rho_trained']:.3f} | "
              f"{f['rmse']:.4f} ({f['mae']:.4f}; {f['sd']:.4f}) | {f['brier']:.4f} ({f['brier_share']:.4f}) | "
              f"{per_fold} |")
        f["rho_fold"] = min(rho for _, _, rho in f["folds"])
        failures += [f"{prefix}: {key} {f[key]:.4f} below {limit}" for key, limit in HOLDOUT_MINIMUM.items()
                     if not f[key] >= limit]
        failures += [f"{prefix}: {key} {f[key]:.4f} above {limit}" for key, limit in HOLDOUT_MAXIMUM.items()
                     if not f[key] <= limit]
        if not f["brier"] < f["brier_share"]:
            failures.append(f"{prefix}: divergence Brier {f['brier']:.4f} no better than the fold's share "
                            f"{f['brier_share']:.4f}")
    return failures


def number(x):
    return f"{x:.6g}"


def render(models):
    out = ["#pragma once",
           "// GENERATED by tools/fit_lenet_surrogate.py from the trial CSVs in docs/paper_results/trials and",
           "// docs/surrogate/trials; do not edit. Regenerate: python3 tools/fit_lenet_surrogate.py",
           "// The model is described in include/mahpo/problems/lenet_surrogate.hpp.",
           "",
           "#include <array>",
           "#include <cstdint>",
           "",
           "namespace mahpo::problems::surrogate_data {",
           "",
           "// One real full-budget (1 epoch) trial: its config, validation accuracy and who proposed it.",
           "struct Trial {",
           "  std::int32_t conv1_size, conv2_size, hidden_size;",
           "  double dropout_rate;",
           "  std::int32_t batch_size;",
           "  double learning_rate, value;",
           "  std::uint8_t source;  // index into sources",
           "};",
           "",
           "// A budget below 1 epoch and the share of (value - chance) it keeps.",
           "struct BudgetRatio {",
           "  double epochs, ratio;",
           "};",
           "",
           f"inline constexpr std::array<const char*, {len(SOURCES)}> sources{{"
           + ", ".join(f'"{s}"' for s in SOURCES) + "};",
           f"inline constexpr double diverged_below = {DIVERGED_BELOW};",
           f"inline constexpr double validation_images = {VALIDATION_IMAGES};",
           ""]
    for (prefix, ident), model in zip(DATASETS, models):
        full = model["full"]
        best = model["best"]
        out += [f"// {prefix}: {len(full)} trials, {int(sum(model['diverged']))} diverged; training noise from "
                f"{model['pairs']} close pairs.",
                f"struct {ident} {{",
                f"  static constexpr std::array<double, 6> accuracy_bandwidths{{"
                + ", ".join(number(h) for h in model["accuracy_bandwidths"]) + "};",
                f"  static constexpr std::array<double, 6> divergence_bandwidths{{"
                + ", ".join(number(h) for h in model["divergence_bandwidths"]) + "};",
                f"  static constexpr double chance = {number(model['chance'])};  // median diverged value",
                f"  static constexpr double training_noise_sd = {number(model['noise_sd'])};",
                f"  static constexpr double best_expected = {model['best_expected']!r};",
                f"  static constexpr std::array<double, 6> best_config{{"
                + ", ".join(repr(float(v)) for v in best) + "};",
                f"  static constexpr std::array<double, {len(model['chance_values'])}> chance_values{{"
                + ", ".join(number(v) for v in model["chance_values"]) + "};",
                f"  static constexpr std::array<BudgetRatio, {len(model['ratios'])}> budget_ratios{{{{"
                + ", ".join(f"{{{number(b)}, {number(r)}}}" for b, r, _ in model["ratios"]) + "}};",
                f"  static constexpr std::array<Trial, {len(full)}> trials{{{{"]
        for source, raw, _, value in full:
            out.append(f"      {{{raw[0]}, {raw[1]}, {raw[2]}, {number(raw[3])}, {raw[4]}, {number(raw[5])}, "
                       f"{number(value)}, {source}}},")
        out += ["  }};", "};", ""]
    out += ["}  // namespace mahpo::problems::surrogate_data", ""]
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="compare with the header instead of writing it")
    mode.add_argument("--holdout", action="store_true",
                      help="judge the fit on real trials held out of it; fail below the thresholds")
    parser.add_argument("--output", type=pathlib.Path, default=TARGET, help="where to write the header (default: %(default)s)")
    args = parser.parse_args()
    if args.holdout:
        failures = report_holdout([(prefix, holdout(prefix)) for prefix, _ in DATASETS])
        if failures:
            sys.exit("fit_lenet_surrogate --holdout: " + "; ".join(failures))
        return
    text = render([fit(prefix) for prefix, _ in DATASETS])
    if args.check:
        if not args.output.is_file() or args.output.read_text() != text:
            sys.exit(f"fit_lenet_surrogate: {args.output} is stale; run python3 tools/fit_lenet_surrogate.py")
        return
    args.output.write_text(text)
    print(f"wrote {args.output} ({len(text) // 1024} KiB)", file=sys.stderr)


if __name__ == "__main__":
    main()
