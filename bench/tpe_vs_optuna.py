#!/usr/bin/python3
"""mahpo's TPE beside Optuna's TPESampler, the reference it follows. Two anchors: Optuna 3.1.0 (Debian's
python3-optuna, seen by /usr/bin/python3 only; the default), whose independent TPE mahpo's
Tpe<S, tpe::Optuna3> reproduces, and a newer Optuna (>= 4) from a source tree named by --optuna-source,
whose TPESampler(seed=seed), the multivariate TPE with constant_liar=True, mahpo's default Tpe<S> reproduces. Every table's heading names
the anchor: "Optuna <version> (Debian package)" or "Optuna <version> (source, commit <12 hex>)".
Five parts, any of them by name:

  pieces    (3.1 only) the same histories (30 and 80 prior draws per problem, their values) given to
            both; the split into below and above, the weights, the kernels' centres and bandwidths
            (after the clip; the prior is the last kernel) and the log densities of l and g at 200
            points, compared number by number, per kind of coordinate (real, log-scale real, integer)
  proposals (3.1 only) the first proposal after one such history, 1000 seeds each side: two-sample
            Kolmogorov-Smirnov per coordinate (what the candidates and the score make of the pieces)
  runs      Branin, Hartmann-6 and the LeNet quadratic, seeds F..F+SEEDS-1 each side, trials asked and
            told one at a time: median best after 25/50/100/200 trials and its standard error
            (bootstrap) for every mahpo searcher that `tpe_vs_optuna runs` prints and for Optuna's
            samplers (3.1: as shipped and with 3.5's logpdf; >= 4: TPESampler(seed=seed), the
            multivariate default, and multivariate=False, the independent TPE); each mahpo searcher
            against each Optuna sampler (difference in standard errors, Mann-Whitney's p); the
            distance of the median best to the optimum; and over the 9 cells of 3 problems x
            50/100/200 trials, each searcher's distance over Optuna's default's: geometric mean and
            largest ratio
  stream    mahpo's TPE drawing Optuna's random numbers (`tpe_vs_optuna trace`, with `--anchor 5`
            for Optuna >= 4) beside Optuna's TPESampler(seed=seed), seeds 0..SEEDS-1, 200 trials:
            the trials compared one by one (how many seeds agree on every trial, the first trial
            that differs), and the median best of both
  cost      Optuna's ask+tell after 200 and 1000 told trials (--finished) on bench_searchers' stand-in
            space, median of 40, and every bench_searchers benchmark ask_tell<Tpe...<PaperStandIn>>
            at the same sizes (median of 3 repetitions): the ratio

  /usr/bin/python3 bench/tpe_vs_optuna.py [--build build] [--seeds 30] [part...]
  /usr/bin/python3 bench/tpe_vs_optuna.py --optuna-source /work/optuna5 runs stream cost
  /usr/bin/python3 bench/tpe_vs_optuna.py --optuna-source /work/optuna5 --first-seed 100 \\
      --cache runs.csv runs
  /usr/bin/python3 bench/tpe_vs_optuna.py --optuna-source /work/optuna5 --optuna-only \\
      --cache runs.csv runs cost

All parts by default (for Optuna >= 4: runs, stream, cost). --first-seed F moves runs' seeds (held-out
seeds: e.g. --first-seed 100; stream always starts at 0). --optuna-only runs Optuna's side of runs and
cost alone (no build needed): its medians, distances and timings. --cache FILE keeps Optuna's runs
(CSV: version, commit, problem, sampler, seed, trials, best) and reads them back instead of running
them again. --optuna-commit SHA names the source tree's commit (default: HEAD of the mirror
/work/.mirror/optuna+optuna/repo when it exists and --optuna-source is given, else unknown).
--finished N... takes the told trials of cost (default 200 1000; name the parts before it).

In runs the random streams differ between the two, so single cells differ by noise: the comparison
is of distributions; stream gives mahpo Optuna's draws and compares trial by trial. Prints Markdown;
problems are copies of include/mahpo/problems/synthetic.hpp, checked against mahpo's values at the
pieces' queries.
"""

import argparse
import csv
import json
import math
import os
import pathlib
import subprocess
import sys
import time
import warnings

import numpy as np

optuna = None  # imported by load_optuna, from --optuna-source when given

CHECKPOINTS = (25, 50, 100, 200)
SUMMARY_CHECKPOINTS = (50, 100, 200)
OPTUNA_MIRROR = "/work/.mirror/optuna+optuna/repo"


def load_optuna(source):
    """Imports Optuna (from `source` first on sys.path when given) into the module's `optuna`."""
    global optuna
    if source:
        sys.path.insert(0, str(pathlib.Path(source).resolve()))
    try:
        import optuna as imported
    except ImportError as error:
        sys.exit(f"tpe_vs_optuna: can't import Optuna ({error}): apt-get install python3-optuna and run this with "
                 "/usr/bin/python3, or name a source tree with --optuna-source")
    optuna = imported
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)


def optuna_major():
    return int(optuna.__version__.split(".")[0])


class Anchor:
    """Which Optuna the tables compare with: its version, the commit of a source tree, a heading's words."""

    def __init__(self, source, commit):
        self.version = optuna.__version__
        if commit is None:
            commit = "unknown"
            if source and os.path.exists(OPTUNA_MIRROR):
                done = subprocess.run(["git", f"--git-dir={OPTUNA_MIRROR}", "rev-parse", "HEAD"],
                                      capture_output=True, text=True)
                if done.returncode == 0:
                    commit = done.stdout.strip()
        self.commit = commit
        self.modern = optuna_major() >= 4
        origin = f"source, commit {commit[:12]}" if source else "Debian package"
        self.label = f"Optuna {self.version} ({origin})"


def require_31(part):
    if optuna_major() >= 4:
        sys.exit(f"tpe_vs_optuna: '{part}' compares mahpo with Optuna 3.1's internals (its Parzen estimators and "
                 f"first proposals), not with Optuna {optuna.__version__}: run it without --optuna-source")


# Optuna 3.1 to 3.4 score a real parameter's kernels without their 1 / sigma: _truncnorm.logpdf
# standardizes x but does not subtract log(scale) (fixed in 3.5, commit 206e719 "Fix logpdf for
# scaled truncnorm"). `fixed(True)` puts 3.5's logpdf in place, to compare with both.
_shipped_logpdf = None


def fixed(on):
    global _shipped_logpdf
    from optuna.samplers._tpe import _truncnorm
    if _shipped_logpdf is None:
        _shipped_logpdf = _truncnorm.logpdf

    def logpdf_with_scale(x, a, b, loc=0, scale=1):
        return _shipped_logpdf(x, a, b, loc, scale) - np.log(scale)

    _truncnorm.logpdf = logpdf_with_scale if on else _shipped_logpdf


# --- The problems: (name, kind, low, high) per free coordinate in mahpo's unit-cube order. -------------

def branin(x1, x2):
    b, c, t = 5.1 / (4.0 * math.pi ** 2), 5.0 / math.pi, 1.0 / (8.0 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6.0) ** 2 + 10.0 * (1.0 - t) * math.cos(x1) + 10.0


HARTMANN_ALPHA = (1.0, 1.2, 3.0, 3.2)
HARTMANN_A = ((10, 3, 17, 3.5, 1.7, 8), (0.05, 10, 17, 0.1, 8, 14), (3, 3.5, 1.7, 10, 17, 8),
              (17, 8, 0.05, 10, 0.1, 14))
HARTMANN_P = ((0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886), (0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991),
              (0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650), (0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381))


def hartmann6(*x):
    total = 0.0
    for i in range(4):
        total -= HARTMANN_ALPHA[i] * math.exp(-sum(HARTMANN_A[i][j] * (x[j] - HARTMANN_P[i][j]) ** 2 for j in range(6)))
    return total


QUADRATIC_WEIGHTS = (0.3, 0.3, 0.2, 0.2, 0.1, 0.8)


class Problem:
    def __init__(self, name, params, function, direction):
        self.name, self.params, self.function, self.direction = name, params, function, direction
        self.sign = 1.0 if direction == "minimize" else -1.0

    def distribution(self, k):
        _, kind, low, high = self.params[k]
        if kind == "int":
            return optuna.distributions.IntDistribution(low, high)
        return optuna.distributions.FloatDistribution(low, high, log=kind == "log")

    def bounds(self, k):
        """Optuna's Parzen bounds of coordinate k (its internal scale): mahpo's unit cube maps onto them."""
        _, kind, low, high = self.params[k]
        if kind == "int":
            return low - 0.5, high + 0.5
        if kind == "log":
            return math.log(low), math.log(high)
        return low, high

    def encode(self, k, value):  # a value -> mahpo's unit coordinate
        _, kind, low, high = self.params[k]
        if kind == "int":
            return (value - low + 0.5) / (high - low + 1)
        if kind == "log":
            return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
        return (value - low) / (high - low)

    def decode(self, k, u):  # mahpo's Int::decode / Real::decode
        _, kind, low, high = self.params[k]
        u = min(max(u, 0.0), 1.0)
        if kind == "int":
            return min(max(low + math.floor(u * (high - low + 1)), low), high)
        if u in (0.0, 1.0):
            return low if u == 0.0 else high
        if kind == "log":
            return min(max(math.exp(math.log(low) + u * (math.log(high) - math.log(low))), low), high)
        return min(max(low + u * (high - low), low), high)

    def value(self, values):
        return self.function(*values)

    def suggest(self, trial):
        values = []
        for name, kind, low, high in self.params:
            if kind == "int":
                values.append(trial.suggest_int(name, low, high))
            else:
                values.append(trial.suggest_float(name, low, high, log=kind == "log"))
        return values


def make_quadratic():
    problem = None

    def quadratic(*values):
        best = (5, 3, 600, 0.6, 24, 0.003)
        distance = sum(w * (problem.encode(k, v) - problem.encode(k, b)) ** 2
                       for k, (w, v, b) in enumerate(zip(QUADRATIC_WEIGHTS, values, best)))
        return 0.99 - distance

    problem = Problem("quadratic", [("conv1.conv_size", "int", 2, 7), ("conv2.conv_size", "int", 2, 7),
                                    ("fc1.hidden_size", "int", 124, 1024), ("fc1.dropout_rate", "real", 0.5, 0.9),
                                    ("training.batch_size", "int", 16, 32),
                                    ("training.learning_rate", "log", 1e-4, 0.1)], quadratic, "maximize")
    return problem


PROBLEMS = {
    "branin": Problem("branin", [("x1", "real", -5.0, 10.0), ("x2", "real", 0.0, 15.0)], branin, "minimize"),
    "hartmann6": Problem("hartmann6", [(f"x{i}", "real", 0.0, 1.0) for i in range(1, 7)], hartmann6, "minimize"),
    "quadratic": make_quadratic(),
}


# The best values (Hartmann-6's to the digits of its usual citation; the quadratic's at its best config).
OPTIMA = {"branin": 0.397887357729739, "hartmann6": -3.32236801141551, "quadratic": 0.99}


def mahpo(build, *args, stdin=None):
    binary = f"{build}/bench/tpe_vs_optuna"
    if not os.path.exists(binary):
        sys.exit(f"tpe_vs_optuna: {binary} is not built (or use --optuna-only for Optuna's side alone)")
    done = subprocess.run([binary, *args], input=stdin, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"tpe_vs_optuna: mahpo's side failed: {done.stderr.strip()}")
    return done.stdout


# --- pieces -----------------------------------------------------------------------------------------

def history(problem, n, seed):
    """n prior draws (configs, their unit points, their values) from a seeded generator."""
    rng = np.random.RandomState(seed)
    configs = [[problem.decode(k, rng.uniform()) for k in range(len(problem.params))] for _ in range(n)]
    points = [[problem.encode(k, v) for k, v in enumerate(config)] for config in configs]
    return configs, points, [problem.value(config) for config in configs]


class stable_argsort:
    """Within the block, numpy's argsort keeps equal values in their order (Optuna's bandwidth rule
    sorts with numpy's default, unstable quicksort: which of an integer's repeated values gets which
    gap is an accident of the sort). mahpo's default TPE keeps them in age order, as this block makes
    Optuna do; with optuna_stream mahpo follows numpy's unstable order, so in the "stream" part the
    quadratic agrees as Optuna ships and this stable variant is expected to part from it."""

    def __enter__(self):
        self.original = np.argsort
        np.argsort = lambda a, *args, **kwargs: self.original(a, kind="stable")

    def __exit__(self, *exc):
        np.argsort = self.original


def optuna_fit(problem, configs, values):
    from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator, _ParzenEstimatorParameters
    from optuna.samplers._tpe.sampler import _split_observation_pairs, default_gamma, default_weights
    n = len(values)
    scores = [(-float("inf"), [problem.sign * v]) for v in values]
    below, above = _split_observation_pairs(scores, default_gamma(n), None)
    parameters = _ParzenEstimatorParameters(consider_prior=True, prior_weight=1.0, consider_magic_clip=True,
                                            consider_endpoints=False, weights=default_weights, multivariate=False)
    fits = []
    for k, (name, _, _, _) in enumerate(problem.params):
        column = np.asarray([c[k] for c in configs], dtype=float)
        space = {name: problem.distribution(k)}
        fits.append((_ParzenEstimator({name: column[below]}, space, parameters),
                     _ParzenEstimator({name: column[above]}, space, parameters)))
    return below, above, fits


def pieces(build, anchor):
    require_31("pieces")
    print(f"\n## The pieces, the same histories given to both: {anchor.label}\n")
    print("Largest absolute difference over every kernel (centres and bandwidths in the unit cube, weights; "
          "bandwidths also per value as multisets, which ignores the order among an integer's repeated values) "
          "and over 200 query points (log l, log g: a density in the unit cube, a linear integer's cell mass), "
          "per kind of coordinate; log densities of mahpo's default (kernel_height unscaled) against Optuna 3.1 "
          "as shipped, and of kernel_height density against Optuna 3.1 with 3.5's logpdf; the last column with "
          "Optuna's bandwidth sort made stable (an integer's repeated values in age order, as mahpo's):\n")
    print("| problem | history | below / above | kind | centres | bandwidths | as multisets | weights "
          "| log l, log g: unscaled vs 3.1 | density vs 3.5's logpdf | unscaled vs 3.1, ties in age order |")
    print("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for problem in PROBLEMS.values():
        for n in (30, 80):
            configs, points, values = history(problem, n, seed=n)
            rng = np.random.RandomState(1000 + n)
            queries = rng.uniform(size=(200, len(problem.params))).tolist()
            fit = {"points": points, "values": values, "queries": queries}
            ours = json.loads(mahpo(build, "fit", problem.name, stdin=json.dumps(fit)))
            ours_density = json.loads(mahpo(build, "fit", problem.name, stdin=json.dumps({**fit, "kernel_height": "density"})))
            query_values = [[problem.decode(k, u) for k, u in enumerate(q)] for q in queries]
            copy = [problem.value(v) for v in query_values]
            if max(abs(a - b) for a, b in zip(copy, ours["values"])) > 1e-9:
                sys.exit(f"tpe_vs_optuna: the script's {problem.name} differs from mahpo's")
            below, above, fits = optuna_fit(problem, configs, values)
            with stable_argsort():
                _, _, stable_fits = optuna_fit(problem, configs, values)
            differences = {}
            for k, (name, kind, _, _) in enumerate(problem.params):
                low, high = problem.bounds(k)
                width = high - low
                row = differences.setdefault(kind, [0.0] * 7)
                for g, group in enumerate(("below", "above")):
                    theirs, mine = fits[k][g], ours[group][k]
                    mus, sigmas = (theirs._mus[name] - low) / width, theirs._sigmas[name] / width
                    row[0] = max(row[0], np.max(np.abs(mus - mine["mu"])))
                    row[1] = max(row[1], np.max(np.abs(sigmas - mine["sigma"])))
                    for mu in set(mus.tolist()):
                        same = np.abs(mus - mu) < 1e-12
                        mine_same = np.abs(np.asarray(mine["mu"]) - mu) < 1e-12
                        row[2] = max(row[2], np.max(np.abs(np.sort(sigmas[same])
                                                           - np.sort(np.asarray(mine["sigma"])[mine_same]))))
                    row[3] = max(row[3], np.max(np.abs(theirs._weights - mine["weight"])))
                    external = np.asarray([v[k] for v in query_values])
                    for column, on, mine_fit in ((4, False, ours), (5, True, ours_density)):
                        fixed(on)
                        log = theirs.log_pdf({name: external})
                        if kind != "int" and on:
                            log = log + math.log(width)  # Optuna's density on its scale -> the unit cube's
                        # (3.1's unscaled kernels are standard normal densities of z: free of the scale)
                        mine_log = np.asarray([q[k] for q in mine_fit["log_l" if g == 0 else "log_g"]])
                        row[column] = max(row[column], np.max(np.abs(log - mine_log)))
                        if not on:
                            stable = stable_fits[k][g].log_pdf({name: external})
                            row[6] = max(row[6], np.max(np.abs(stable - mine_log)))
                    fixed(False)
            for kind, row in differences.items():
                print(f"| {problem.name} | {n} | {len(below)} / {len(above)} | {kind} | "
                      + " | ".join(f"{d:.1e}" for d in row) + " |")


# --- proposals -------------------------------------------------------------------------------------

def ks_statistic(a, b):
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    return float(np.max(np.abs(np.searchsorted(a, grid, side="right") / len(a)
                               - np.searchsorted(b, grid, side="right") / len(b))))


def ks_p(d, n, m):
    """Asymptotic two-sample Kolmogorov-Smirnov p-value."""
    lam = (math.sqrt(n * m / (n + m)) + 0.12 + 0.11 / math.sqrt(n * m / (n + m))) * d
    if lam < 0.2:
        return 1.0  # the series converges too slowly there; the p-value is 1 to many digits
    return max(0.0, min(1.0, 2.0 * sum((-1) ** (j - 1) * math.exp(-2.0 * j * j * lam * lam) for j in range(1, 101))))


def proposals(build, anchor, seeds=1000):
    require_31("proposals")
    print(f"\n## The first proposal after the same history, {seeds} seeds each side: {anchor.label}\n")
    print("Two-sample Kolmogorov-Smirnov statistic D per coordinate (p: the chance of a D this large when both "
          "draw from one distribution; for integers D is conservative):\n")
    print("| problem | history | coordinate | kind | D | p |")
    print("|---|---:|---|---|---:|---:|")
    for problem in PROBLEMS.values():
        n = 30
        configs, points, values = history(problem, n, seed=n)
        ours = np.asarray(json.loads(mahpo(build, "propose", problem.name, str(seeds),
                                           stdin=json.dumps({"points": points, "values": values}))))
        distributions = {name: problem.distribution(k) for k, (name, _, _, _) in enumerate(problem.params)}
        theirs = []
        for seed in range(seeds):
            study = optuna.create_study(direction=problem.direction, sampler=optuna.samplers.TPESampler(seed=seed))
            for config, value in zip(configs, values):
                params = {name: config[k] for k, (name, _, _, _) in enumerate(problem.params)}
                study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, value=value))
            trial = study.ask()
            theirs.append([problem.encode(k, v) for k, v in enumerate(problem.suggest(trial))])
        theirs = np.asarray(theirs)
        for k, (name, kind, _, _) in enumerate(problem.params):
            d = ks_statistic(ours[:, k], theirs[:, k])
            print(f"| {problem.name} | {n} | {name} | {kind} | {d:.3f} | {ks_p(d, seeds, seeds):.2f} |")


# --- runs --------------------------------------------------------------------------------------------

class Sampler:
    """One of Optuna's samplers in runs: its column's label, how to make it for a seed, and whether
    3.5's logpdf is put in place while it runs (3.1 only)."""

    def __init__(self, label, make, with_fix=False):
        self.label, self.make, self.with_fix = label, make, with_fix


def optuna_samplers(anchor, with_fix):
    """The first is Optuna's default, the one the summary divides by."""
    tpe, v = optuna.samplers.TPESampler, anchor.version
    if anchor.modern:
        return [Sampler(f"Optuna {v} default (multivariate)", lambda seed: tpe(seed=seed)),
                Sampler(f"Optuna {v} independent", lambda seed: tpe(seed=seed, multivariate=False))]
    samplers = [Sampler(f"Optuna {v}", lambda seed: tpe(seed=seed))]
    if with_fix:
        samplers.append(Sampler(f"Optuna {v} + 3.5's logpdf", lambda seed: tpe(seed=seed), with_fix=True))
    return samplers


def optuna_run(problem, sampler, seed):
    """The best value after each checkpoint of one study, trials asked and told one at a time."""
    if sampler.with_fix:
        fixed(True)
    try:
        study = optuna.create_study(direction=problem.direction, sampler=sampler.make(seed))
        best, top = {}, None
        for t in range(1, CHECKPOINTS[-1] + 1):
            trial = study.ask()
            value = problem.value(problem.suggest(trial))
            study.tell(trial, value)
            if top is None or problem.sign * value < problem.sign * top:
                top = value
            if t in CHECKPOINTS:
                best[t] = top
        return best
    finally:
        if sampler.with_fix:
            fixed(False)


class Cache:
    """Optuna's runs kept in a CSV (one row per anchor, problem, sampler, seed and checkpoint), appended
    to as they finish; a run with every checkpoint there is read back instead of run again."""

    FIELDS = ("version", "commit", "problem", "sampler", "seed", "trials", "best")

    def __init__(self, path):
        self.path, self.rows = path, {}
        if path and os.path.exists(path):
            with open(path, newline="") as file:
                for row in csv.DictReader(file):
                    key = (row["version"], row["commit"], row["problem"], row["sampler"], int(row["seed"]))
                    self.rows.setdefault(key, {})[int(row["trials"])] = float(row["best"])

    def get(self, anchor, problem, sampler, seed):
        best = self.rows.get((anchor.version, anchor.commit, problem.name, sampler.label, seed))
        return best if best is not None and all(c in best for c in CHECKPOINTS) else None

    def put(self, anchor, problem, sampler, seed, best):
        self.rows[(anchor.version, anchor.commit, problem.name, sampler.label, seed)] = best
        if not self.path:
            return
        new = not os.path.exists(self.path) or os.path.getsize(self.path) == 0
        with open(self.path, "a", newline="") as file:
            writer = csv.writer(file)
            if new:
                writer.writerow(self.FIELDS)
            for c in CHECKPOINTS:
                writer.writerow([anchor.version, anchor.commit, problem.name, sampler.label, seed, c, repr(best[c])])


def optuna_side(anchor, samplers, problem, seeds, cache):
    """{label: {checkpoint: [best per seed]}} and a line on what it took."""
    columns, took, ran, cached = {}, 0.0, 0, 0
    for sampler in samplers:
        column = columns[sampler.label] = {c: [] for c in CHECKPOINTS}
        for seed in seeds:
            best = cache.get(anchor, problem, sampler, seed)
            if best is None:
                start = time.perf_counter()
                best = optuna_run(problem, sampler, seed)
                took += time.perf_counter() - start
                ran += 1
                cache.put(anchor, problem, sampler, seed, best)
            else:
                cached += 1
            for c in CHECKPOINTS:
                column[c].append(best[c])
    return columns, f"Optuna's {ran} studies took {took:.0f} s, {cached} read from the cache"


def mahpo_side(build, seeds):
    """{problem: {searcher: {checkpoint: [best per seed]}}}, searchers in the order first printed."""
    args = ["runs", str(len(seeds)), *PROBLEMS]
    if seeds[0] != 0:
        args += ["--first-seed", str(seeds[0])]
    found = {}
    for line in mahpo(build, *args).splitlines():
        fields = line.split(",")
        if len(fields) != 5:
            continue
        problem, searcher, seed, trials, best = fields
        try:
            seed, trials, best = int(seed), int(trials), float(best)
        except ValueError:
            continue  # a heading
        found.setdefault(problem, {}).setdefault(searcher, {}).setdefault(trials, {})[seed] = best
    ours = {}
    for problem in PROBLEMS:
        for searcher, by_trials in found.get(problem, {}).items():
            for c in CHECKPOINTS:
                if sorted(by_trials.get(c, {})) != list(seeds):
                    sys.exit(f"tpe_vs_optuna: mahpo's runs gave {problem}, {searcher} after {c} trials for seeds "
                             f"{sorted(by_trials.get(c, {}))}, not {seeds[0]}-{seeds[-1]}")
            ours.setdefault(problem, {})[searcher] = {c: [by_trials[c][s] for s in seeds] for c in CHECKPOINTS}
        if "tpe" not in ours.get(problem, {}):
            sys.exit(f"tpe_vs_optuna: mahpo's runs printed no searcher 'tpe' for {problem}")
    return ours


def median_se(values, rng, resamples=4000):
    values = np.asarray(values)
    medians = np.median(values[rng.randint(0, len(values), size=(resamples, len(values)))], axis=1)
    return float(np.median(values)), float(np.std(medians))


def mann_whitney_p(a, b):
    """Two-sided Mann-Whitney U test, normal approximation with the tie correction."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n, m = len(a), len(b)
    both = np.concatenate([a, b])
    order = np.argsort(both, kind="stable")
    ranks = np.empty(n + m)
    sorted_values = both[order]
    start = 0
    while start < n + m:  # average ranks over ties
        end = start
        while end + 1 < n + m and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start:end + 1]] = 0.5 * (start + end) + 1.0
        start = end + 1
    u = ranks[:n].sum() - n * (n + 1) / 2.0
    _, counts = np.unique(both, return_counts=True)
    variance = n * m / 12.0 * ((n + m + 1) - np.sum(counts ** 3 - counts) / ((n + m) * (n + m - 1)))
    if variance <= 0:
        return 1.0
    z = (abs(u - n * m / 2.0) - 0.5) / math.sqrt(variance)
    return min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2.0)))


def ratio(mine, reference):
    if reference == 0.0:
        return 1.0 if mine == 0.0 else math.inf
    return mine / reference


def runs(build, anchor, seeds, first_seed, with_fix, cache, optuna_only):
    seed_list = list(range(first_seed, first_seed + seeds))
    samplers = optuna_samplers(anchor, with_fix and not anchor.modern)
    ours = {} if optuna_only else mahpo_side(build, seed_list)
    print(f"\n## Median best over seeds {seed_list[0]}-{seed_list[-1]}, trials asked and told one at a time: "
          f"{anchor.label}\n")
    print("Median [bootstrap standard error] per searcher; distance: |median - optimum|."
          + ("" if optuna_only else " mahpo against Optuna: the difference of the medians in standard errors of "
             "the difference, signed so that a negative number means mahpo is ahead; p: Mann-Whitney, two-sided "
             "(normal approximation); the verdict is against the first Optuna column.")
          + (" 3.5's logpdf: Optuna 3.1 with its real parameters' kernels scored with their 1 / sigma, as "
             "mahpo's." if any(s.with_fix for s in samplers) else "") + "\n")
    rng = np.random.RandomState(12345)
    distances = {}  # (label, problem, checkpoint) -> |median - optimum|
    labels = [s.label for s in samplers]
    for problem in PROBLEMS.values():
        columns, took = optuna_side(anchor, samplers, problem, seed_list, cache)
        mine = ours.get(problem.name, {})
        columns.update({f"mahpo {name}": best for name, best in mine.items()})
        stats = {(label, c): median_se(column[c], rng) for label, column in columns.items() for c in CHECKPOINTS}
        optimum = OPTIMA[problem.name]
        better = "lower" if problem.direction == "minimize" else "higher"
        print(f"\n### {problem.name}: {anchor.label} ({better} is better, optimum {optimum:.6f}; {took})\n")
        print("| trials | " + " | ".join(columns) + " |")
        print("|---:|" + "---:|" * len(columns))
        for c in CHECKPOINTS:
            print(f"| {c} | " + " | ".join(f"{stats[(label, c)][0]:.4f} [{stats[(label, c)][1]:.4f}]"
                                           for label in columns) + " |")
        if mine:
            print(f"\nmahpo against Optuna, {problem.name}: {anchor.label}\n")
            print("| trials | mahpo searcher | " + " | ".join(f"diff vs {label} | p" for label in labels)
                  + " | verdict |")
            print("|---:|---|" + "---:|---:|" * len(labels) + "---|")
            for c in CHECKPOINTS:
                for name, best in mine.items():
                    mm, mse = stats[(f"mahpo {name}", c)]
                    cells, verdict = [], None
                    for label in labels:
                        om, ose = stats[(label, c)]
                        se = math.hypot(ose, mse)
                        diff = problem.sign * (mm - om) / se if se > 0 else 0.0
                        cells += [f"{diff:+.2f}", f"{mann_whitney_p(best[c], columns[label][c]):.2f}"]
                        if verdict is None:
                            verdict = "ahead or equal" if diff <= 0 else ("within 1 SE" if diff <= 1 else "behind")
                    print(f"| {c} | {name} | " + " | ".join(cells) + f" | {verdict} |")
        print(f"\nDistance of the median best to the optimum, {problem.name}: {anchor.label}\n")
        print("| trials | " + " | ".join(columns) + " |")
        print("|---:|" + "---:|" * len(columns))
        for c in CHECKPOINTS:
            for label in columns:
                distances[(label, problem.name, c)] = abs(stats[(label, c)][0] - optimum)
            print(f"| {c} | " + " | ".join(f"{distances[(label, problem.name, c)]:.2e}" for label in columns) + " |")
        sys.stdout.flush()
    default = labels[0]
    shared = [name for name in next(iter(ours.values()), {}) if all(name in mine for mine in ours.values())]
    others = [f"mahpo {name}" for name in shared] + labels[1:]
    cells = [(problem, c) for problem in PROBLEMS for c in SUMMARY_CHECKPOINTS]
    print(f"\n## Distance to the optimum over {default}'s, {len(cells)} cells ({len(PROBLEMS)} problems x "
          f"{'/'.join(map(str, SUMMARY_CHECKPOINTS))} trials), seeds {seed_list[0]}-{seed_list[-1]}: "
          f"{anchor.label}\n")
    print("Per cell, a searcher's |median best - optimum| over Optuna's default's (below 1: closer than Optuna); "
          "their geometric mean over the cells and the largest, with its cell.\n")
    print("| searcher | geometric mean | largest | its cell |")
    print("|---|---:|---:|---|")
    for label in others:
        ratios = [ratio(distances[(label, p, c)], distances[(default, p, c)]) for p, c in cells]
        with np.errstate(divide="ignore"):
            mean = float(np.exp(np.mean(np.log(ratios))))
        worst = int(np.argmax(ratios))
        print(f"| {label} | {mean:.3f} | {ratios[worst]:.3f} | {cells[worst][0]}, {cells[worst][1]} trials |")


# --- stream -----------------------------------------------------------------------------------------

def mahpo_trace(build, anchor, problem, seeds, trials):
    """{seed: [[value, param...] per trial]} from `tpe_vs_optuna trace`."""
    args = ["trace", problem.name, str(seeds), str(trials)] + (["--anchor", "5"] if anchor.modern else [])
    ours = {}
    for line in mahpo(build, *args).splitlines():
        fields = line.split(",")
        try:
            seed = int(fields[0])
        except ValueError:
            continue  # a heading
        ours.setdefault(seed, []).append([float(f) for f in fields[2:]])
    for seed in range(seeds):
        if len(ours.get(seed, [])) != trials:
            sys.exit(f"tpe_vs_optuna: mahpo's trace of {problem.name} gave {len(ours.get(seed, []))} trials for "
                     f"seed {seed}, not {trials}")
    return ours


def stream(build, anchor, seeds, trials=CHECKPOINTS[-1]):
    print(f"\n## Drawing Optuna's random numbers: trial for trial, seeds 0-{seeds - 1}, {trials} trials: "
          f"{anchor.label}\n")
    if anchor.modern:
        print("mahpo's Tpe drawing Optuna's random numbers as `tpe_vs_optuna trace ... --anchor 5` sets it up, "
              f"beside TPESampler(seed=seed) of {anchor.label} (its default: the multivariate TPE). A trial "
              "agrees when every parameter's value agrees to 1e-9 of its range; largest differences over all "
              "trials of agreeing seeds.\n")
    else:
        print("mahpo's Tpe with `TpeOptions::optuna_stream` (numpy's RandomState(seed) streams, Optuna's order of "
              f"draws, its inverse-CDF truncated normals) beside TPESampler(seed=seed) of {anchor.label} as shipped. "
              "A trial agrees when every parameter's value agrees to 1e-9 of its range; largest differences over "
              "all trials of agreeing seeds.\n")
    print("| problem | seeds agreeing on every trial | first differing trial (other seeds) | largest parameter "
          "difference (share of range) | largest value difference | Optuna's runs |")
    print("|---|---:|---|---:|---:|---:|")
    medians = []
    rng = np.random.RandomState(12345)
    cases = [(problem, False) for problem in PROBLEMS.values()]
    if not anchor.modern:
        # The quadratic also with Optuna's sorts made stable: its integers' repeated values then carry
        # their bandwidths in age order, as mahpo's (the one piece known to differ, "pieces" above).
        cases.append((PROBLEMS["quadratic"], True))
    for problem, stable in cases:
        label = problem.name + (", Optuna's sorts stable" if stable else "")
        ours = mahpo_trace(build, anchor, problem, seeds, trials)
        start = time.perf_counter()
        agreeing, first_differing, largest_param, largest_value = 0, [], 0.0, 0.0
        best = {"mahpo": {c: [] for c in CHECKPOINTS}, "optuna": {c: [] for c in CHECKPOINTS}}
        spans = [high - low for _, _, low, high in problem.params]
        for seed in range(seeds):
            study = optuna.create_study(direction=problem.direction, sampler=optuna.samplers.TPESampler(seed=seed))
            differing, top = None, {"mahpo": None, "optuna": None}
            for t in range(trials):
                trial = study.ask()
                if stable:
                    with stable_argsort():
                        values = problem.suggest(trial)
                else:
                    values = problem.suggest(trial)
                value = problem.value(values)
                study.tell(trial, value)
                mine = ours[seed][t]
                gaps = [abs(a - b) / span for a, b, span in zip(mine[1:], values, spans)]
                if differing is None and max(gaps) > 1e-9:
                    differing = t
                if differing is None:
                    largest_param = max(largest_param, max(gaps))
                    largest_value = max(largest_value, abs(mine[0] - value))
                for side, v in (("mahpo", mine[0]), ("optuna", value)):
                    if top[side] is None or problem.sign * v < problem.sign * top[side]:
                        top[side] = v
                    if t + 1 in best[side]:
                        best[side][t + 1].append(top[side])
            if differing is None:
                agreeing += 1
            else:
                first_differing.append(differing)
        took = time.perf_counter() - start
        others = ", ".join(str(t) for t in sorted(first_differing)) or "none"
        print(f"| {label} | {agreeing} of {seeds} | {others} | {largest_param:.1e} | {largest_value:.1e} | "
              f"{took:.0f} s |")
        medians.append((problem, label, best))
    print(f"\nMedian best [bootstrap standard error] of both; diff: mahpo minus Optuna in standard errors of the "
          f"difference (negative: mahpo ahead): {anchor.label}\n")
    print(f"| problem | trials | mahpo Tpe, Optuna's draws | Optuna {anchor.version} | diff |")
    print("|---|---:|---:|---:|---:|")
    for problem, label, best in medians:
        for c in CHECKPOINTS:
            if c > trials:
                continue
            mm, mse = median_se(best["mahpo"][c], rng)
            om, ose = median_se(best["optuna"][c], rng)
            se = math.hypot(mse, ose)
            diff = problem.sign * (mm - om) / se if se > 0 else 0.0
            print(f"| {label} | {c} | {mm:.4f} [{mse:.4f}] | {om:.4f} [{ose:.4f}] | {diff:+.2f} |")


# --- cost --------------------------------------------------------------------------------------------

STAND_IN = Problem("stand-in", [("conv_size", "int", 2, 7), ("hidden_size", "int", 124, 1024),
                                ("dropout_rate", "real", 0.5, 0.9), ("batch_size", "int", 16, 32),
                                ("learning_rate", "log", 1e-4, 0.1)], None, "maximize")


def stand_in_score(values):  # bench_searchers' score at a full budget
    return 0.99 - sum(0.2 * (STAND_IN.encode(k, v) - 0.4) ** 2 * (k + 1) for k, v in enumerate(values))


def optuna_cost(finished, timed):
    """Median µs of one ask + tell of TPESampler(seed=1), its defaults, after `finished` told trials."""
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=1))
    for _ in range(finished):
        trial = study.ask()
        study.tell(trial, stand_in_score(STAND_IN.suggest(trial)))
    times = []
    for _ in range(timed):  # the history grows by `timed` (20 % of 200), as bench_searchers' resets allow 10 %
        start = time.perf_counter()
        trial = study.ask()
        study.tell(trial, stand_in_score(STAND_IN.suggest(trial)))
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e6


MICROSECONDS = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}


def mahpo_cost(build, sizes):
    """{told trials: [(benchmark's run_name, median µs)]} of bench_searchers' TPE benchmarks at `sizes`."""
    binary = f"{build}/bench/bench_searchers"
    if not os.path.exists(binary):
        sys.exit(f"tpe_vs_optuna: {binary} is not built (or use --optuna-only for Optuna's side alone)")
    pattern = "^ask_tell<Tpe[A-Za-z0-9]*<PaperStandIn>>/(" + "|".join(map(str, sizes)) + ")$"
    done = subprocess.run([binary, f"--benchmark_filter={pattern}", "--benchmark_repetitions=3",
                           "--benchmark_report_aggregates_only=true", "--benchmark_format=json"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"tpe_vs_optuna: bench_searchers failed: {done.stderr.strip()}")
    found = {}
    for b in json.loads(done.stdout)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            size = int(b["run_name"].rsplit("/", 1)[1])
            found.setdefault(size, []).append((b["run_name"], b["real_time"] * MICROSECONDS[b.get("time_unit", "ns")]))
    return found


def cost(build, anchor, sizes, optuna_only, timed=40):
    theirs = {}
    for finished in sizes:
        start = time.perf_counter()
        theirs[finished] = (optuna_cost(finished, timed), time.perf_counter() - start)
    ours = {} if optuna_only else mahpo_cost(build, sizes)
    print(f"\n## Cost of one ask + tell after told trials (bench_searchers' stand-in space): {anchor.label}\n")
    print(f"Optuna: TPESampler(seed=1) with its defaults, median of {timed} ask + tell pairs after the told trials"
          + ("." if optuna_only else "; mahpo: bench_searchers' ask_tell<Tpe...<PaperStandIn>> benchmarks, "
             "median of 3 repetitions.") + "\n")
    if optuna_only:
        print("| told trials | Optuna ask + tell | the study took |")
        print("|---:|---:|---:|")
        for finished in sizes:
            print(f"| {finished} | {theirs[finished][0]:,.0f} µs | {theirs[finished][1]:.0f} s |")
        return
    print("| told trials | Optuna ask + tell | mahpo benchmark | its cost | ratio |")
    print("|---:|---:|---|---:|---:|")
    for finished in sizes:
        optuna_us = theirs[finished][0]
        for run_name, ours_us in ours.get(finished, [("none ran", None)]):
            if ours_us is None:
                print(f"| {finished} | {optuna_us:,.0f} µs | none ran | — | — |")
            else:
                print(f"| {finished} | {optuna_us:,.0f} µs | `{run_name}` | {ours_us:,.1f} µs | "
                      f"{optuna_us / ours_us:,.0f} x |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build", help="mahpo's build folder (default: build)")
    parser.add_argument("--seeds", type=int, default=30,
                        help="seeds per searcher and problem in runs and stream (default 30)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="runs: the first seed, so seeds F..F+SEEDS-1 (default 0; held-out seeds: e.g. 100)")
    parser.add_argument("--shipped-only", action="store_true",
                        help="runs with Optuna 3.1: as shipped only (not also with 3.5's logpdf)")
    parser.add_argument("--optuna-source", metavar="DIR",
                        help="an Optuna source tree (the folder holding optuna/), first on sys.path (default: the "
                             "installed Optuna, Debian's 3.1)")
    parser.add_argument("--optuna-commit", metavar="SHA",
                        help="the source tree's git commit, for the headings and the cache (default: HEAD of "
                             f"{OPTUNA_MIRROR} when it exists and --optuna-source is given, else unknown)")
    parser.add_argument("--optuna-only", action="store_true",
                        help="runs and cost: Optuna's side alone (no mahpo build needed)")
    parser.add_argument("--cache", metavar="FILE", help="runs: a CSV of Optuna's runs, read back and added to")
    parser.add_argument("--finished", type=int, nargs="+", default=[200, 1000],
                        help="cost: told trials before the timed ask + tell pairs (default 200 1000; name the parts "
                             "before it)")
    parser.add_argument("parts", nargs="*", help="pieces, proposals, runs, stream, cost (default: all that the "
                                                 "anchor allows; pieces and proposals need Optuna 3.1)")
    args = parser.parse_args()
    known = ["pieces", "proposals", "runs", "stream", "cost"]
    if any(part not in known for part in args.parts):
        parser.error(f"unknown part in {args.parts}: choose from {known}")
    load_optuna(args.optuna_source)
    anchor = Anchor(args.optuna_source, args.optuna_commit)
    parts = args.parts or (["runs", "stream", "cost"] if anchor.modern else known)
    if args.optuna_only and any(part not in ("runs", "cost") for part in parts):
        parser.error("--optuna-only applies to runs and cost only")
    cache = Cache(args.cache)
    print(f"# mahpo's TPE beside Optuna's TPESampler: {anchor.label}")
    for part in parts:
        {"pieces": lambda: pieces(args.build, anchor), "proposals": lambda: proposals(args.build, anchor),
         "runs": lambda: runs(args.build, anchor, args.seeds, args.first_seed, not args.shipped_only, cache,
                              args.optuna_only),
         "stream": lambda: stream(args.build, anchor, args.seeds),
         "cost": lambda: cost(args.build, anchor, args.finished, args.optuna_only)}[part]()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
