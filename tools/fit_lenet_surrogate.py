#!/usr/bin/env python3
"""Fits the LeNet surrogates on real paper_lenet trials and writes
include/mahpo/problems/lenet_surrogate_data.hpp (Python 3 standard library only).

    python3 tools/fit_lenet_surrogate.py            # regenerate the header
    python3 tools/fit_lenet_surrogate.py --check    # fail when the header is stale

Either takes about 3 minutes of one core (pure Python kernel sums over ~1,000 trials).

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
import math
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

    def predict(self, x, bandwidths, skip_group=-1):
        scales = [0.5 / (h * h) for h in bandwidths]
        c0, c1, c2, c3, c4, c5 = self.columns
        total_weight, total = self.prior_weight, self.prior_weight * self.mean
        for a0, a1, a2, a3, a4, a5, y, g in zip(c0, c1, c2, c3, c4, c5, self.targets, self.groups):
            if g == skip_group:
                continue
            s = ((x[0] - a0) ** 2 * scales[0] + (x[1] - a1) ** 2 * scales[1] + (x[2] - a2) ** 2 * scales[2] +
                 (x[3] - a3) ** 2 * scales[3] + (x[4] - a4) ** 2 * scales[4] + (x[5] - a5) ** 2 * scales[5])
            if s < 30.0:
                w = math.exp(-s)
                total_weight += w
                total += w * y
        return total / total_weight

    def loo_loss(self, bandwidths, subset):
        return statistics.fmean(
            (self.predict([c[i] for c in self.columns], bandwidths, self.groups[i]) - self.targets[i]) ** 2
            for i in subset)


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


def fit(file_prefix):
    trials = read_trials(file_prefix)
    full = [t for t in trials if abs(t[2] - 1.0) < 1e-9]
    points = [unit_cube(t[1]) for t in full]
    values = [t[3] for t in full]
    diverged = [1.0 if v < DIVERGED_BELOW else 0.0 for v in values]
    chance_values = sorted(v for v in values if v < DIVERGED_BELOW)
    chance = statistics.median(chance_values)
    ok_points = [p for p, d in zip(points, diverged) if not d]
    ok_values = [v for v, d in zip(values, diverged) if not d]
    print(f"{file_prefix}: {len(full)} full-budget trials ({int(sum(diverged))} diverged), "
          f"{len(trials) - len(full)} below 1 epoch", file=sys.stderr)
    sources = [t[0] for t in full]
    ok_sources = [g for g, d in zip(sources, diverged) if not d]
    accuracy = KernelModel(ok_points, ok_values, ok_sources)
    accuracy_bandwidths = fit_bandwidths(accuracy, "accuracy")
    divergence = KernelModel(points, diverged, sources)
    divergence_bandwidths = fit_bandwidths(divergence, "divergence")
    noise_sd, pairs, nugget = training_noise(ok_points, ok_values)
    print(f"  training noise sd {noise_sd:.4f} (nugget sd {nugget:.4f} from {pairs} close pairs)", file=sys.stderr)
    ratios = budget_ratios(trials, chance)
    print(f"  budget ratios {ratios}", file=sys.stderr)

    def expected(raw):
        x = unit_cube(raw)
        p = divergence.predict(x, divergence_bandwidths)
        return (1 - p) * accuracy.predict(x, accuracy_bandwidths) + p * chance

    # The best noiseless value: over the trials' configs and seeded uniform random configs.
    rng = random.Random(20261201)
    candidates = [t[1] for t in full]
    for _ in range(4000):
        candidates.append((rng.randint(2, 7), rng.randint(2, 7), rng.randint(124, 1024),
                           float(f"{rng.uniform(0.5, 0.9):.6g}"), rng.randint(16, 32),
                           float(f"{math.exp(rng.uniform(math.log(1e-4), math.log(0.1))):.6g}")))
    best = max(candidates, key=expected)
    print(f"  best expected {expected(best):.5f} at {best}; best real {max(values)}", file=sys.stderr)
    return dict(full=full, diverged=diverged, chance=chance, chance_values=chance_values,
                accuracy_bandwidths=accuracy_bandwidths, divergence_bandwidths=divergence_bandwidths,
                noise_sd=noise_sd, pairs=pairs, ratios=ratios, best=best, best_expected=expected(best))


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
    parser.add_argument("--check", action="store_true", help="compare with the header instead of writing it")
    parser.add_argument("--output", type=pathlib.Path, default=TARGET, help="where to write the header (default: %(default)s)")
    args = parser.parse_args()
    text = render([fit(prefix) for prefix, _ in DATASETS])
    if args.check:
        if not args.output.is_file() or args.output.read_text() != text:
            sys.exit(f"fit_lenet_surrogate: {args.output} is stale; run python3 tools/fit_lenet_surrogate.py")
        return
    args.output.write_text(text)
    print(f"wrote {args.output} ({len(text) // 1024} KiB)", file=sys.stderr)


if __name__ == "__main__":
    main()
