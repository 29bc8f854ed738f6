#!/usr/bin/env python3
"""Bring study clocks from different machines to one machine's seconds (paper_tables --time-scale).

A study's search time is wall clock on the machine that ran it, and the project's sessions get
different machines. Two sessions are compared on the same trainings: a calibration run trains the
same configs (same searcher and seed, e.g. random search's first 60 trials, whose configs do not
depend on results) on the new machine, and the ratio of the summed training seconds of the matched
trials (same id, same config, same budget, both ok) says how much slower one machine trained than
the other. Sessions linked through such pairs get a factor each: the reference session's seconds per
second of theirs. Writes paper_tables' `study,scale` CSV to stdout (with `*` = the factor of
--finals' session, for the final trainings), and how each factor was found to stderr.

  tools/time_scale.py --sessions sessions.csv --pairs calibration.csv --reference A --finals D > time_scale.csv

sessions.csv:     study,session                                   (study: the journal's stem, mnist-tpe-seed0)
calibration.csv:  session,trials,reference_session,reference_trials   (trial CSVs, paths relative to this file)
"""
import argparse
import csv
import math
import os
import sys

CONFIG_PREFIXES = ("conv1.", "conv2.", "fc1.", "training.")


def read_trials(path):
    with open(path, newline="") as f:
        return {row["id"]: row for row in csv.DictReader(f)}


def matched_ratio(reference, other):
    """Summed training seconds of `reference` over `other`'s, on the trials both trained alike."""
    columns = [c for c in next(iter(reference.values())) if c.startswith(CONFIG_PREFIXES)]
    columns += ["budget_epochs", "budget_iterations"]
    reference_seconds = other_seconds = 0.0
    matched = differing = 0
    for trial_id, row in other.items():
        ref = reference.get(trial_id)
        if ref is None:
            continue
        if any(ref.get(c) != row.get(c) for c in columns):
            differing += 1
            continue
        if ref["status"] != "ok" or row["status"] != "ok":
            continue
        reference_seconds += float(ref["training_seconds"])
        other_seconds += float(row["training_seconds"])
        matched += 1
    if matched < 20:
        raise SystemExit(f"time_scale: only {matched} matched trials ({differing} differ in config): too few")
    return reference_seconds / other_seconds, matched, differing


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", required=True)
    parser.add_argument("--pairs", required=True)
    parser.add_argument("--reference", required=True, help="the session whose seconds the tables use")
    parser.add_argument("--finals", required=True, help="the session that trains the final configs")
    args = parser.parse_args()

    base = os.path.dirname(os.path.abspath(args.pairs))
    # Each calibration says log(seconds on a per second on b) = log r. The sessions' log factors are
    # the least-squares fit of all of them, the reference's fixed at 0: on a chain of pairs that is
    # the product along it, several calibrations of one pair (e.g. at a session's start and end)
    # give their geometric mean, and where pairs close a loop (two ways from one session to
    # another) each way counts, instead of whichever the search happened to take first.
    edges = []
    with open(args.pairs, newline="") as f:
        for pair in csv.DictReader(f):
            r, matched, differing = matched_ratio(read_trials(os.path.join(base, pair["reference_trials"])),
                                                  read_trials(os.path.join(base, pair["trials"])))
            print(f"{pair['reference_session']} / {pair['session']}: {r:.4f} over {matched} matched trials "
                  f"({differing} differ) of {pair['trials']}", file=sys.stderr)
            edges.append((pair["reference_session"], pair["session"], math.log(r)))

    # The sessions linked to the reference, then Gauss-Seidel sweeps of the normal equations: each
    # session's log factor is the mean of what its calibrations say it is, given its neighbours'.
    linked = {args.reference}
    grown = True
    while grown:
        grown = False
        for a, b, _ in edges:
            if (a in linked) != (b in linked):
                linked |= {a, b}
                grown = True
    log_scale = {session: 0.0 for session in linked}
    for _ in range(10000):
        change = 0.0
        for session in sorted(linked - {args.reference}):
            says = [log_scale[a] + lr for a, b, lr in edges if b == session and a in linked]
            says += [log_scale[b] - lr for a, b, lr in edges if a == session and b in linked]
            value = sum(says) / len(says)
            change = max(change, abs(value - log_scale[session]))
            log_scale[session] = value
        if change < 1e-12:
            break
    else:  # a connected graph converges in a few dozen sweeps
        print(f"time_scale: warning: the fit did not converge (last change {change:.2e} in a log factor)",
              file=sys.stderr)
    scale = {session: math.exp(value) for session, value in log_scale.items()}
    for a, b, lr in edges:
        if a in linked:
            print(f"  fitted {a} / {b}: {scale[b] / scale[a]:.4f} (this calibration {math.exp(lr):.4f})",
                  file=sys.stderr)
    for session, factor in sorted(scale.items()):
        print(f"session {session}: x {factor:.4f}", file=sys.stderr)

    with open(args.sessions, newline="") as f:
        studies = list(csv.DictReader(f))
    missing = sorted({s["session"] for s in studies if s["session"] not in scale} |
                     ({args.finals} - scale.keys()))
    if missing:
        raise SystemExit(f"time_scale: no calibration links {', '.join(missing)} to {args.reference}")
    print("study,scale")
    print(f"*,{scale[args.finals]:.4f}")
    for s in studies:
        print(f"{s['study']},{scale[s['session']]:.4f}")


if __name__ == "__main__":
    main()
