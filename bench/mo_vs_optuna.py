#!/usr/bin/python3
"""Optuna's side of mahpo's multi-objective benchmark.

Runs Optuna's default NSGAIISampler and TPESampler (only the seed is set) on
the ZDT1, ZDT2, ZDT3 (30 variables, 2 objectives) and DTLZ2 (12 variables,
3 objectives) test problems, all objectives minimized, every variable
suggested as suggest_float("x<i>", 0, 1) in order x1..xN.  Each
(problem, sampler, seed) run has --trials trials; its trials are appended to
a CSV file with the columns

    version, commit, problem, sampler, seed, trial, f1, f2, f3, seconds

(f3 is empty for two-objective problems; seconds is the wall time of the
whole run, repeated on each of its rows).  Rows are written when a run ends,
and runs already present in the output file are skipped, so an interrupted
benchmark resumes where it stopped.

Usage:
    # Debian's optuna (python3-optuna):
    /usr/bin/python3 bench/mo_vs_optuna.py --out optuna31.csv
    # Optuna from a source tree (the directory holding the optuna package):
    /usr/bin/python3 bench/mo_vs_optuna.py --optuna-source /work/optuna_new \\
        --optuna-commit <git sha> --out optuna_new.csv
    # Objective values at x = 0.25... and x = 0.75... (to compare with C++):
    /usr/bin/python3 bench/mo_vs_optuna.py --check

Options: --seeds N (30), --first-seed F (100, held-out seeds), --trials T
(200), --samplers nsga2,tpe, --problems zdt1,zdt2,zdt3,dtlz2.
"""

import argparse
import csv
import io
import math
import os
import subprocess
import sys
import time


# ---------------------------------------------------------------- problems

def zdt_g(x):
    n = len(x)
    return 1.0 + 9.0 * sum(x[1:]) / (n - 1)


def zdt1(x):
    f1 = x[0]
    g = zdt_g(x)
    return [f1, g * (1.0 - math.sqrt(f1 / g))]


def zdt2(x):
    f1 = x[0]
    g = zdt_g(x)
    return [f1, g * (1.0 - (f1 / g) ** 2)]


def zdt3(x):
    f1 = x[0]
    g = zdt_g(x)
    r = f1 / g
    return [f1, g * (1.0 - math.sqrt(r) - r * math.sin(10.0 * math.pi * f1))]


def dtlz2(x):
    g = sum((xi - 0.5) ** 2 for xi in x[2:])
    a = x[0] * math.pi / 2.0
    b = x[1] * math.pi / 2.0
    return [
        (1.0 + g) * math.cos(a) * math.cos(b),
        (1.0 + g) * math.cos(a) * math.sin(b),
        (1.0 + g) * math.sin(a),
    ]


# name -> (number of variables, number of objectives, function)
PROBLEMS = {
    "zdt1": (30, 2, zdt1),
    "zdt2": (30, 2, zdt2),
    "zdt3": (30, 2, zdt3),
    "dtlz2": (12, 3, dtlz2),
}

SAMPLERS = ("nsga2", "tpe")

COLUMNS = ["version", "commit", "problem", "sampler", "seed", "trial",
           "f1", "f2", "f3", "seconds"]


def check():
    for name, (n, m, fn) in PROBLEMS.items():
        for v in (0.25, 0.75):
            vals = fn([v] * n)
            print("%-5s n=%2d M=%d x=all %.2f -> %s" % (
                name, n, m, v, " ".join("%.17g" % f for f in vals)))


# ---------------------------------------------------------------- running

def parse_list(text, allowed, what):
    items = [s.strip().lower() for s in text.split(",") if s.strip()]
    for s in items:
        if s not in allowed:
            sys.exit("unknown %s %r (choose from %s)" % (what, s, ",".join(allowed)))
    return items


def guess_commit(source):
    if not source:
        return "debian"
    try:
        out = subprocess.run(["git", "-C", source, "rev-parse", "HEAD"],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def done_runs(path, trials):
    """(problem, sampler, seed) runs already in the file with all their rows.

    A run cut off while its rows were being written (fewer than `trials`
    rows, or a last line without its newline) is removed from the file, so
    that it is run again."""
    done = set()
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return done
    with open(path, newline="") as f:
        text = f.read()
    lines = text.splitlines(keepends=True)
    cut = bool(lines) and not lines[-1].endswith("\n")
    if cut:
        lines.pop()
    counts = {}
    for row in csv.DictReader(lines):
        key = (row["problem"], row["sampler"], int(row["seed"]))
        counts[key] = counts.get(key, 0) + 1
    done = {k for k, n in counts.items() if n >= trials}
    partial = sorted(set(counts) - done)
    if cut or partial:
        kept = lines[:1] + [line for line, row in zip(lines[1:], csv.DictReader(lines))
                            if (row["problem"], row["sampler"], int(row["seed"])) in done]
        tmp = path + ".tmp"
        with open(tmp, "w", newline="") as f:
            f.writelines(kept)
        os.replace(tmp, path)
        print("removed unfinished runs from %s: %s" % (path, partial or "a cut last line"),
              file=sys.stderr, flush=True)
    return done


def make_sampler(optuna, name, seed):
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def one_run(optuna, problem, sampler_name, seed, trials):
    n, m, fn = PROBLEMS[problem]
    names = ["x%d" % (i + 1) for i in range(n)]

    def objective(trial):
        x = [trial.suggest_float(v, 0.0, 1.0) for v in names]
        return fn(x)

    study = optuna.create_study(directions=["minimize"] * m,
                                sampler=make_sampler(optuna, sampler_name, seed))
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    seconds = time.perf_counter() - t0
    rows = []
    for t in sorted(study.trials, key=lambda t: t.number):
        vals = list(t.values) if t.values is not None else []
        vals += [None] * (3 - len(vals))
        rows.append((t.number, vals, seconds))
    return rows, seconds


def fmt(v):
    return "" if v is None else repr(float(v))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--optuna-source", metavar="DIR",
                    help="directory holding the optuna package (else Debian's)")
    ap.add_argument("--optuna-commit", "--commit", dest="commit", metavar="SHA",
                    help="commit recorded in the CSV (default: 'debian', or "
                    "git rev-parse of --optuna-source, else 'unknown')")
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--samplers", default="nsga2,tpe")
    ap.add_argument("--problems", default="zdt1,zdt2,zdt3,dtlz2")
    ap.add_argument("--out", metavar="FILE.csv")
    ap.add_argument("--check", action="store_true",
                    help="print the problems at x = all 0.25 and all 0.75, then exit")
    args = ap.parse_args()

    if args.check:
        check()
        return
    if not args.out:
        ap.error("--out is required")

    samplers = parse_list(args.samplers, SAMPLERS, "sampler")
    problems = parse_list(args.problems, tuple(PROBLEMS), "problem")

    if args.optuna_source:
        sys.path.insert(0, os.path.abspath(args.optuna_source))
    import optuna  # noqa: E402  (imported after choosing the source)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    version = optuna.__version__
    commit = args.commit or guess_commit(args.optuna_source)
    print("optuna %s (%s) from %s" % (version, commit, optuna.__file__),
          file=sys.stderr, flush=True)

    done = done_runs(args.out, args.trials)
    new_file = not os.path.exists(args.out) or os.path.getsize(args.out) == 0
    with open(args.out, "a", newline="") as f:
        w = csv.writer(f)
        if new_file:
            w.writerow(COLUMNS)
            f.flush()
        # All runs of one sampler before the next one.
        for sampler_name in samplers:
            for problem in problems:
                for seed in range(args.first_seed, args.first_seed + args.seeds):
                    key = (problem, sampler_name, seed)
                    if key in done:
                        continue
                    rows, seconds = one_run(optuna, problem, sampler_name,
                                            seed, args.trials)
                    buf = io.StringIO()
                    bw = csv.writer(buf)
                    for number, vals, secs in rows:
                        bw.writerow([version, commit, problem, sampler_name, seed,
                                     number, fmt(vals[0]), fmt(vals[1]),
                                     fmt(vals[2]), "%.3f" % secs])
                    f.write(buf.getvalue())  # one run, one write
                    f.flush()
                    os.fsync(f.fileno())
                    print("%s %s %s seed=%d trials=%d %.2fs" % (
                        version, problem, sampler_name, seed, len(rows), seconds),
                        file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
