#!/usr/bin/python3
"""mahpo's TPE beside Optuna's TPESampler, the reference it follows (Optuna is an optional peer:
Debian's python3-optuna, seen by /usr/bin/python3 only). Five parts, any of them by name:

  pieces    the same histories (30 and 80 prior draws per problem, their values) given to both; the
            split into below and above, the weights, the kernels' centres and bandwidths (after the
            clip; the prior is the last kernel) and the log densities of l and g at 200 points,
            compared number by number, per kind of coordinate (real, log-scale real, integer)
  proposals the first proposal after one such history, 1000 seeds each side: two-sample
            Kolmogorov-Smirnov per coordinate (what the candidates and the score make of the pieces)
  runs      Branin, Hartmann-6 and the LeNet quadratic, 30 seeds each side, trials asked and told
            one at a time: median best after 25/50/100/200 trials, its standard error (bootstrap),
            the difference in standard errors, Mann-Whitney's p; mahpo's BOHB beside them
  stream    mahpo's TPE drawing Optuna's random numbers (TpeOptions::optuna_stream) beside Optuna,
            seeds 0-29, 200 trials: the trials compared one by one (how many seeds agree on every
            trial, the first trial that differs), and the median best of both
  cost      Optuna's ask+tell after 200 told trials on bench_searchers' stand-in space, and mahpo's
            TPE there from bench_searchers in the same run: the ratio

  /usr/bin/python3 bench/tpe_vs_optuna.py [--build build] [--seeds 30] [part...]   (all by default)

In runs the random streams differ between the two, so single cells differ by noise: the comparison
is of distributions; stream gives mahpo Optuna's draws and compares trial by trial. Prints Markdown; problems are copies of include/mahpo/problems/synthetic.hpp, checked
against mahpo's values at the pieces' queries.
"""

import argparse
import json
import math
import subprocess
import sys
import time

import numpy as np

try:
    import optuna
    from optuna.distributions import FloatDistribution, IntDistribution
    from optuna.samplers._tpe import _truncnorm
    from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator, _ParzenEstimatorParameters
    from optuna.samplers._tpe.sampler import _split_observation_pairs, default_gamma, default_weights
except ImportError:
    sys.exit("tpe_vs_optuna: Optuna is not installed: apt-get install python3-optuna, then run this with /usr/bin/python3")

optuna.logging.set_verbosity(optuna.logging.WARNING)

CHECKPOINTS = (25, 50, 100, 200)

# Optuna 3.1 to 3.4 score a real parameter's kernels without their 1 / sigma: _truncnorm.logpdf
# standardizes x but does not subtract log(scale) (fixed in 3.5, commit 206e719 "Fix logpdf for
# scaled truncnorm"). `fixed(True)` puts 3.5's logpdf in place, to compare with both.
_shipped_logpdf = _truncnorm.logpdf


def _logpdf_with_scale(x, a, b, loc=0, scale=1):
    return _shipped_logpdf(x, a, b, loc, scale) - np.log(scale)


def fixed(on):
    _truncnorm.logpdf = _logpdf_with_scale if on else _shipped_logpdf


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
            return IntDistribution(low, high)
        return FloatDistribution(low, high, log=kind == "log")

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


def mahpo(build, *args, stdin=None):
    done = subprocess.run([f"{build}/bench/tpe_vs_optuna", *args], input=stdin, capture_output=True, text=True)
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


def pieces(build):
    print("\n## The pieces, the same histories given to both\n")
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


def proposals(build, seeds=1000):
    print(f"\n## The first proposal after the same history, {seeds} seeds each side\n")
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

def optuna_runs(problem, seeds):
    best = {c: [] for c in CHECKPOINTS}
    for seed in range(seeds):
        study = optuna.create_study(direction=problem.direction, sampler=optuna.samplers.TPESampler(seed=seed))
        top = None
        for t in range(1, CHECKPOINTS[-1] + 1):
            trial = study.ask()
            value = problem.value(problem.suggest(trial))
            study.tell(trial, value)
            if top is None or problem.sign * value < problem.sign * top:
                top = value
            if t in best:
                best[t].append(top)
    return best


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


def runs(build, seeds, with_fix=True):
    ours = {}
    for line in mahpo(build, "runs", str(seeds), *PROBLEMS).splitlines():
        problem, searcher, seed, trials, best = line.split(",")
        ours.setdefault((problem, searcher, int(trials)), []).append(float(best))
    print(f"\n## Median best over seeds 0-{seeds - 1}, trials asked and told one at a time\n")
    print("Median [bootstrap standard error]; diff: mahpo's TPE minus Optuna's in standard errors of the "
          "difference, signed so that a negative number means mahpo is ahead; p: Mann-Whitney, two-sided "
          "(normal approximation). Optuna 3.1 as shipped, and with 3.5's logpdf (its real parameters' kernels "
          "with their 1 / sigma, as mahpo's).\n")
    rng = np.random.RandomState(12345)
    for problem in PROBLEMS.values():
        references = []
        for on in (False, True) if with_fix else (False,):
            fixed(on)
            start = time.perf_counter()
            references.append((optuna_runs(problem, seeds), time.perf_counter() - start))
        fixed(False)
        better = "lower" if problem.direction == "minimize" else "higher"
        took = " and ".join(f"{r[1]:.0f} s" for r in references)
        print(f"\n### {problem.name} ({better} is better; Optuna's {seeds} runs took {took})\n")
        fix_head = " Optuna 3.1 + 3.5's logpdf | diff | p |" if with_fix else ""
        print(f"| trials | mahpo Tpe | Optuna 3.1 | diff | p | verdict |{fix_head} mahpo Bohb |")
        print("|---:|---:|---:|---:|---:|---|" + ("---:|---:|---:|" if with_fix else "") + "---:|")
        for c in CHECKPOINTS:
            mine = ours[(problem.name, "tpe", c)]
            mm, mse = median_se(mine, rng)
            cells = [f"{mm:.4f} [{mse:.4f}]"]
            for r, (theirs, _) in enumerate(references):
                om, ose = median_se(theirs[c], rng)
                se = math.hypot(ose, mse)
                diff = problem.sign * (mm - om) / se if se > 0 else 0.0
                cells += [f"{om:.4f} [{ose:.4f}]", f"{diff:+.2f}", f"{mann_whitney_p(mine, theirs[c]):.2f}"]
                if r == 0:
                    cells.append("ahead or equal" if diff <= 0 else ("within 1 SE" if diff <= 1 else "behind"))
            bm, bse = median_se(ours[(problem.name, "bohb", c)], rng)
            cells.append(f"{bm:.4f} [{bse:.4f}]")
            print(f"| {c} | " + " | ".join(cells) + " |")
        sys.stdout.flush()


# --- stream -----------------------------------------------------------------------------------------

def stream(build, seeds, trials=CHECKPOINTS[-1]):
    print(f"\n## Drawing Optuna's random numbers: trial for trial, seeds 0-{seeds - 1}, {trials} trials\n")
    print("mahpo's Tpe with `TpeOptions::optuna_stream` (numpy's RandomState(seed) streams, Optuna's order of "
          "draws, its inverse-CDF truncated normals) beside Optuna 3.1's TPESampler(seed=seed) as shipped. A "
          "trial agrees when every parameter's value agrees to 1e-9 of its range; largest differences over all "
          "trials of agreeing seeds.\n")
    print("| problem | seeds agreeing on every trial | first differing trial (other seeds) | largest parameter "
          "difference (share of range) | largest value difference | Optuna's runs |")
    print("|---|---:|---|---:|---:|---:|")
    medians = []
    rng = np.random.RandomState(12345)
    # The quadratic also with Optuna's sorts made stable: its integers' repeated values then carry
    # their bandwidths in age order, as mahpo's (the one piece known to differ, "pieces" above).
    cases = [(problem, False) for problem in PROBLEMS.values()] + [(PROBLEMS["quadratic"], True)]
    for problem, stable in cases:
        label = problem.name + (", Optuna's sorts stable" if stable else "")
        ours = {}
        for line in mahpo(build, "trace", problem.name, str(seeds), str(trials)).splitlines():
            fields = line.split(",")
            ours.setdefault(int(fields[0]), []).append([float(f) for f in fields[2:]])
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
    print("\nMedian best [bootstrap standard error] of both; diff: mahpo minus Optuna in standard errors of the "
          "difference (negative: mahpo ahead).\n")
    print("| problem | trials | mahpo Tpe, Optuna's draws | Optuna 3.1 | diff |")
    print("|---|---:|---:|---:|---:|")
    for problem, label, best in medians:
        for c in CHECKPOINTS:
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


def cost(build, finished=200, timed=40):
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=1))
    for _ in range(finished):
        trial = study.ask()
        study.tell(trial, stand_in_score(STAND_IN.suggest(trial)))
    times = []
    for _ in range(timed):  # the history grows by `timed` (20 %), as bench_searchers' resets allow 10 %
        start = time.perf_counter()
        trial = study.ask()
        study.tell(trial, stand_in_score(STAND_IN.suggest(trial)))
        times.append(time.perf_counter() - start)
    theirs = float(np.median(times)) * 1e6
    done = subprocess.run([f"{build}/bench/bench_searchers",
                           "--benchmark_filter=^ask_tell<Tpe(OptunaStream)?<PaperStandIn>>/200$",
                           "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true",
                           "--benchmark_format=json"], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"tpe_vs_optuna: bench_searchers failed: {done.stderr.strip()}")
    medians = {b["run_name"]: b["real_time"] for b in json.loads(done.stdout)["benchmarks"]
               if b.get("aggregate_name") == "median"}
    names = {"ask_tell<Tpe<PaperStandIn>>/200": "mahpo Tpe",
             "ask_tell<TpeOptunaStream<PaperStandIn>>/200": "mahpo Tpe, optuna_stream"}
    if set(medians) != set(names):
        sys.exit(f"tpe_vs_optuna: bench_searchers ran {sorted(medians)}, not the TPE benchmarks at 200 trials (renamed?)")
    print(f"\n## Cost of one ask + tell after {finished} told trials (bench_searchers' stand-in space)\n")
    print("| Optuna TPE (median of %d) | searcher (bench_searchers, median of 3) | its cost | ratio |" % timed)
    print("|---:|---|---:|---:|")
    for run, label in names.items():
        ours = medians[run]
        print(f"| {theirs:,.0f} µs | {label} | {ours:.1f} µs | {theirs / ours:,.0f} x |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build", help="mahpo's build folder (default: build)")
    parser.add_argument("--seeds", type=int, default=30, help="seeds per searcher and problem in runs (default 30)")
    parser.add_argument("--shipped-only", action="store_true",
                        help="runs: Optuna 3.1 as shipped only (not also with 3.5's logpdf)")
    parser.add_argument("parts", nargs="*", help="pieces, proposals, runs, stream, cost (default: all)")
    args = parser.parse_args()
    known = ["pieces", "proposals", "runs", "stream", "cost"]
    parts = args.parts or known
    if any(part not in known for part in parts):
        parser.error(f"unknown part in {parts}: choose from {known}")
    print(f"# mahpo's TPE beside Optuna {optuna.__version__}'s TPESampler")
    for part in parts:
        {"pieces": lambda: pieces(args.build), "proposals": lambda: proposals(args.build),
         "runs": lambda: runs(args.build, args.seeds, not args.shipped_only),
         "stream": lambda: stream(args.build, args.seeds), "cost": lambda: cost(args.build)}[part]()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
