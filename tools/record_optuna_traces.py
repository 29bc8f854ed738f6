#!/usr/bin/python3
"""Records whole studies of Optuna's TPESampler(seed=seed), with its defaults, for mahpo's trace tests:
tests/search/test_tpe_optuna_traces.cpp checks that mahpo's Tpe with TpeOptions::optuna_stream asks
the same trials.

Two anchors, told apart by the files' names:
  Optuna 3.1.0   Debian's python3-optuna (apt-get install python3-optuna), seen by /usr/bin/python3
                 only; the independent TPE. Writes <problem>.csv.
  Optuna >= 4    a source tree put first on sys.path by --optuna-source; its TPESampler defaults to
                 the multivariate TPE for one objective, with constant_liar=True. Writes
                 optuna5_<problem>.csv. The files in the repository come from 5.0.0.dev, git commit
                 1d8ce7bb6f3c7274a7a31a0a007991995085baa7 (2026-08-21).

  /usr/bin/python3 tools/record_optuna_traces.py
  /usr/bin/python3 tools/record_optuna_traces.py --optuna-source /work/optuna5
  (options: [--out tests/data/optuna_traces] [--seeds 0 1 2] [--trials 200])

Each study asks and tells one trial at a time; its objective suggests the problem's parameters in
mahpo's order (Branin: x1, x2, minimized; Hartmann-6: x1..x6 in [0, 1], minimized; the LeNet
quadratic, problems::LeNetQuadratic: paper_lenet's six parameters, maximized). One CSV per problem,
rows seed,trial,value,<parameters>: floats as repr (17 significant digits at most, the double
exactly), integers as integers.
"""

import argparse
import math
import pathlib
import sys
import warnings


def branin(x1, x2):  # problems::Branin::evaluate
    b, c, t = 5.1 / (4.0 * math.pi ** 2), 5.0 / math.pi, 1.0 / (8.0 * math.pi)
    inner = x2 - b * x1 * x1 + c * x1 - 6.0
    return inner * inner + 10.0 * (1.0 - t) * math.cos(x1) + 10.0


# problems::Hartmann6: its weights alpha, matrix A and centres P.
HARTMANN_ALPHA = (1.0, 1.2, 3.0, 3.2)
HARTMANN_A = ((10, 3, 17, 3.5, 1.7, 8), (0.05, 10, 17, 0.1, 8, 14), (3, 3.5, 1.7, 10, 17, 8),
              (17, 8, 0.05, 10, 0.1, 14))
HARTMANN_P = ((0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886), (0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991),
              (0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650), (0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381))


def hartmann6(*x):  # problems::Hartmann6::evaluate
    total = 0.0
    for i in range(4):
        total -= HARTMANN_ALPHA[i] * math.exp(-sum(HARTMANN_A[i][j] * (x[j] - HARTMANN_P[i][j]) ** 2 for j in range(6)))
    return total


# problems::LeNetQuadratic: paper_lenet's space (name, kind, low, high), its best config and weights.
QUADRATIC_PARAMS = (("conv1.conv_size", "int", 2, 7), ("conv2.conv_size", "int", 2, 7),
                    ("fc1.hidden_size", "int", 124, 1024), ("fc1.dropout_rate", "real", 0.5, 0.9),
                    ("training.batch_size", "int", 16, 32), ("training.learning_rate", "log", 1e-4, 0.1))
QUADRATIC_BEST = (5, 3, 600, 0.6, 24, 0.003)
QUADRATIC_WEIGHTS = (0.3, 0.3, 0.2, 0.2, 0.1, 0.8)


def unit(param, value):  # mahpo's to_unit_cube of one coordinate
    _, kind, low, high = param
    if kind == "int":
        return (value - low + 0.5) / (high - low + 1)
    if kind == "log":
        return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
    return (value - low) / (high - low)


def quadratic(*values):  # problems::LeNetQuadratic::evaluate at a full budget
    distance = sum(w * (unit(p, v) - unit(p, b)) ** 2
                   for p, w, v, b in zip(QUADRATIC_PARAMS, QUADRATIC_WEIGHTS, values, QUADRATIC_BEST))
    return 0.99 - distance


PROBLEMS = {
    "branin": ((("x1", "real", -5.0, 10.0), ("x2", "real", 0.0, 15.0)), branin, "minimize"),
    "hartmann6": (tuple((f"x{i}", "real", 0.0, 1.0) for i in range(1, 7)), hartmann6, "minimize"),
    "lenet_quadratic": (QUADRATIC_PARAMS, quadratic, "maximize"),
}


def suggest(trial, params):
    values = []
    for name, kind, low, high in params:
        if kind == "int":
            values.append(trial.suggest_int(name, low, high))
        else:
            values.append(trial.suggest_float(name, low, high, log=kind == "log"))
    return values


def record(optuna, name, seeds, trials):
    params, function, direction = PROBLEMS[name]
    lines = ["seed,trial,value," + ",".join(p[0] for p in params)]
    for seed in seeds:
        study = optuna.create_study(direction=direction, sampler=optuna.samplers.TPESampler(seed=seed))
        for t in range(trials):
            trial = study.ask()
            values = suggest(trial, params)
            value = function(*values)
            study.tell(trial, value)
            lines.append(",".join([str(seed), str(t), repr(value)] + [repr(v) for v in values]))
    return "\n".join(lines) + "\n"


def import_optuna(source):
    """Optuna from `source` when given (first on sys.path), else the installed one."""
    if source:
        sys.path.insert(0, str(pathlib.Path(source).resolve()))
    try:
        import numpy
        import optuna
    except ImportError as error:
        sys.exit(f"record_optuna_traces: can't import Optuna ({error}): apt-get install python3-optuna and run "
                 "this with /usr/bin/python3, or name a source tree with --optuna-source")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    return optuna, numpy


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(pathlib.Path(__file__).resolve().parent.parent / "tests/data/optuna_traces"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--optuna-source", metavar="DIR",
                        help="an Optuna source tree (the folder holding optuna/), imported instead of the "
                             "installed one")
    args = parser.parse_args()
    optuna, numpy = import_optuna(args.optuna_source)
    major = int(optuna.__version__.split(".")[0])
    if major < 4 and optuna.__version__ != "3.1.0":
        sys.exit(f"record_optuna_traces: the anchors are Optuna 3.1.0 and Optuna >= 4, this is {optuna.__version__}")
    prefix = "optuna5_" if major >= 4 else ""
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in PROBLEMS:
        path = out / f"{prefix}{name}.csv"
        path.write_text(record(optuna, name, args.seeds, args.trials))
        print(f"{path}: seeds {args.seeds}, {args.trials} trials each (Optuna {optuna.__version__} from "
              f"{pathlib.Path(optuna.__file__).parent.parent}, numpy {numpy.__version__})")


if __name__ == "__main__":
    main()
