#!/usr/bin/python3
"""Records whole studies of Optuna 3.1's TPESampler(seed=seed) for tests/search/test_tpe_optuna_traces.cpp,
which checks that mahpo's Tpe with TpeOptions::optuna_stream asks the same trials.

  /usr/bin/python3 tools/record_optuna_traces.py [--out tests/data/optuna_traces] [--seeds 0 1 2] [--trials 200]

Optuna is Debian's python3-optuna 3.1.0 (apt-get install python3-optuna), seen by /usr/bin/python3 only.
Each study asks and tells one trial at a time; its objective suggests the problem's parameters in
mahpo's order (Branin: x1, x2, minimized; the LeNet quadratic, problems::LeNetQuadratic: paper_lenet's
six parameters, maximized). One CSV per problem, rows seed,trial,value,<parameters>: floats as repr
(17 significant digits at most, the double exactly), integers as integers.
"""

import argparse
import math
import pathlib
import sys

try:
    import numpy as np
    import optuna
except ImportError:
    sys.exit("record_optuna_traces: Optuna is not installed: apt-get install python3-optuna, then run this "
             "with /usr/bin/python3")

optuna.logging.set_verbosity(optuna.logging.WARNING)


def branin(x1, x2):  # problems::Branin::evaluate
    b, c, t = 5.1 / (4.0 * math.pi ** 2), 5.0 / math.pi, 1.0 / (8.0 * math.pi)
    inner = x2 - b * x1 * x1 + c * x1 - 6.0
    return inner * inner + 10.0 * (1.0 - t) * math.cos(x1) + 10.0


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


def record(name, seeds, trials):
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(pathlib.Path(__file__).resolve().parent.parent / "tests/data/optuna_traces"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--trials", type=int, default=200)
    args = parser.parse_args()
    if optuna.__version__ != "3.1.0":
        sys.exit(f"record_optuna_traces: the traces are of Optuna 3.1.0, this is {optuna.__version__}")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in PROBLEMS:
        path = out / f"{name}.csv"
        path.write_text(record(name, args.seeds, args.trials))
        print(f"{path}: seeds {args.seeds}, {args.trials} trials each (Optuna {optuna.__version__}, "
              f"numpy {np.__version__})")


if __name__ == "__main__":
    main()
