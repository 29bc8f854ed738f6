#!/usr/bin/env python3
"""Runs the randomized tests (Catch2 tag [seeded]) on many disjoint batches of seeds and reports the
share of batches on which each claim holds.

    python3 tools/seed_sweep.py --build build --batches 1-60 --output tests/seed_sweep/after.csv
    python3 tools/seed_sweep.py --summary tests/seed_sweep/after.csv     # the table only

A randomized test takes its seeds through tests/seeds.hpp's seed(k): CI runs batch 0 (seed(k) == k);
batch b > 0 runs the same claim on seeds k + b * 1,000,003, which no other batch and no default was
tuned on. Each (program, batch) run appends its test cases' results to the CSV, so an interrupted
sweep resumes where it stopped. The summary lists every [seeded] case with its pass rate on batches 1-30
and on the batches above (batch 0 left out: those are the seeds the tests were written on), as
docs/testing.md shows it. --filter narrows the run to cases whose names contain a text (repeatable).
"""
import argparse
import collections
import concurrent.futures
import csv
import os
import pathlib
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree

PROGRAMS = {"unit": "tests/mahpo_tests", "search": "tests/mahpo_search_tests", "rl": "tests/mahpo_rl_tests"}
FIELDS = ["program", "batch", "test", "passed", "seconds"]


def parse_batches(text):
    batches = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        batches.extend(range(int(low), int(high or low) + 1))
    return batches


def listed(program, spec):
    out = subprocess.run([program, spec, "--list-test-names-only"], stdout=subprocess.PIPE, check=False)
    return [line for line in out.stdout.decode().splitlines() if line.strip()]


def run_batch(program, batch, names):
    """Runs the named cases of one program on one batch; returns {name: (passed, seconds)}."""
    env = dict(os.environ, MAHPO_TEST_SEED_BATCH=str(batch))
    env.setdefault("OPENBLAS_NUM_THREADS", "1")  # runs side by side: one thread each
    spec = ",".join(name.replace("\\", "\\\\").replace(",", "\\,").replace("[", "\\[").replace("]", "\\]")
                    for name in names)
    started = time.monotonic()
    out = subprocess.run([program, spec, "--reporter", "xml", "--durations", "yes"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env, check=False)
    results = {}
    try:
        root = ElementTree.fromstring(out.stdout)
        for case in root.iter("TestCase"):
            overall = case.find("OverallResult")
            passed = overall is not None and overall.get("success") == "true"
            seconds = float(overall.get("durationInSeconds", "nan")) if overall is not None else float("nan")
            results[case.get("name")] = (passed, seconds)
    except ElementTree.ParseError:
        pass  # a crash cut the report: the cases without a result count as failed below
    for name in names:
        results.setdefault(name, (False, time.monotonic() - started))
    return results


def read_rows(path):
    if not path.exists():
        return []
    with path.open() as file:
        return list(csv.DictReader(file))


def summary(rows, split=30):
    """A Markdown table: each case's passes on batches 1..split (the batches the restated claims were
    checked on) and above split (fresh ones), least reliable first. Batch 0, CI's, is left out."""
    tally = collections.defaultdict(lambda: [0, 0, 0, 0])
    for row in rows:
        batch = int(row["batch"])
        if batch == 0:
            continue
        entry = tally[(row["program"], row["test"])]
        part = 0 if batch <= split else 2
        entry[part] += row["passed"] == "1"
        entry[part + 1] += 1

    def rate(passed, count):
        return f"{passed} / {count} ({passed / count:.0%})" if count else "-"

    lines = [f"| program | test | batches 1-{split} | batches above {split} | all |", "|---|---|---|---|---|"]
    order = sorted(tally.items(), key=lambda item: ((item[1][0] + item[1][2]) / max(item[1][1] + item[1][3], 1), item[0]))
    for (program, test), (a_pass, a_count, b_pass, b_count) in order:
        lines.append(f"| {program} | {test} | {rate(a_pass, a_count)} | {rate(b_pass, b_count)} | "
                     f"{rate(a_pass + b_pass, a_count + b_count)} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--batches", default="1-30", help="e.g. 1-30 or 0,31-40")
    parser.add_argument("--programs", default="unit,search,rl")
    parser.add_argument("--filter", action="append", default=[], help="only cases whose names contain this")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--output", default="tests/seed_sweep/after.csv")
    parser.add_argument("--summary", help="print the table of this CSV and exit")
    parser.add_argument("--split", type=int, default=30, help="the table's two columns part after this batch")
    args = parser.parse_args()
    if args.summary:
        print(summary(read_rows(pathlib.Path(args.summary)), args.split))
        return 0

    output = pathlib.Path(args.output)
    done = {(row["program"], int(row["batch"]), row["test"]) for row in read_rows(output)}
    work = []
    for key in args.programs.split(","):
        program = str(pathlib.Path(args.build) / PROGRAMS[key])
        names = [name for name in listed(program, "[seeded]") if not args.filter or any(f in name for f in args.filter)]
        for batch in parse_batches(args.batches):
            todo = [name for name in names if (key, batch, name) not in done]
            if todo:
                work.append((key, program, batch, todo))
    if not work:
        print("seed_sweep: nothing left to run")
    new_file = not output.exists()
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("a", newline="") as file, concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        writer = csv.DictWriter(file, FIELDS)
        if new_file:
            writer.writeheader()
        futures = {pool.submit(run_batch, program, batch, names): (key, batch) for key, program, batch, names in work}
        for finished, future in enumerate(concurrent.futures.as_completed(futures), 1):
            key, batch = futures[future]
            results = future.result()
            failed = [name for name, (passed, _) in results.items() if not passed]
            for name, (passed, seconds) in sorted(results.items()):
                writer.writerow({"program": key, "batch": batch, "test": name, "passed": int(passed),
                                 "seconds": f"{seconds:.3f}"})
            file.flush()
            print(f"[{finished}/{len(work)}] {key} batch {batch}: {len(results) - len(failed)}/{len(results)} passed"
                  + (f"; failed: {'; '.join(failed)}" if failed else ""), flush=True)
    print(summary(read_rows(output), args.split))
    return 0


if __name__ == "__main__":
    sys.exit(main())
