#!/usr/bin/env python3
"""How long a study took to reach another study's best value: the yardstick of "a pruned search
reaches plain search's best in X % of its time".

    tools/time_to_best.py PLAIN.jsonl PRUNED.jsonl

Reads both journals (mahpo's JSON lines; gzipped ones too), takes the best value of PLAIN's complete
(ok) trials and PLAIN's wall time (its last event's elapsed seconds), and prints when PRUNED first
told an ok trial at least as good (its elapsed seconds), the share of PLAIN's time that is, and
both studies' trials, pruned trials and epochs trained."""
import gzip
import json
import sys


def events(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as lines:
        for line in lines:
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    return


def summary(path):
    header, tells, last = None, [], 0.0
    for record in events(path):
        if record.get("event") == "study":
            header = record
            continue
        last = max(last, record.get("elapsed", 0.0))
        if record.get("event") == "tell":
            tells.append(record)
    maximize = header["goal"] == "maximize"
    return tells, last, maximize


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    plain, plain_seconds, maximize = summary(sys.argv[1])
    pruned, pruned_seconds, _ = summary(sys.argv[2])
    better = (lambda a, b: a >= b) if maximize else (lambda a, b: a <= b)
    ok = [t for t in plain if t["status"] == "ok" and t["value"] is not None]
    target = (max if maximize else min)(t["value"] for t in ok)
    reached = next((t for t in pruned if t["status"] == "ok" and t["value"] is not None
                    and better(t["value"], target)), None)

    def epochs(tells):
        return sum(t.get("metrics", {}).get("epochs_trained", t.get("metrics", {}).get("epochs", 0.0)) for t in tells)

    def count(tells, status):
        return sum(t["status"] == status for t in tells)

    print(f"plain:  {len(plain)} trials ({count(plain, 'pruned')} pruned), {epochs(plain):.1f} epochs, "
          f"{plain_seconds:.1f} s; best {target:.4f}")
    print(f"pruned: {len(pruned)} trials ({count(pruned, 'pruned')} pruned), {epochs(pruned):.1f} epochs, "
          f"{pruned_seconds:.1f} s; best {max((t['value'] for t in pruned if t['status'] == 'ok'), default=0):.4f}")
    if reached is None:
        print(f"time to plain's best: not reached in {pruned_seconds:.1f} s "
              f"({100 * pruned_seconds / plain_seconds:.1f} % of plain's time)")
    else:
        print(f"time to plain's best: trial {reached['id']} at {reached['elapsed']:.1f} s = "
              f"{100 * reached['elapsed'] / plain_seconds:.1f} % of plain's time")


if __name__ == "__main__":
    main()
