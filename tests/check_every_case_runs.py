#!/usr/bin/env python3
"""Checks that ctest runs every Catch2 case of every test program, each exactly once.

    check_every_case_runs.py --ctest CTEST --build BUILD_DIR PREFIX=PROGRAM...

catch_discover_tests registers one ctest per case, named PREFIX + the case's name, whose command runs
PROGRAM with the name as a test spec. A name that the spec parser splits or misreads (';' once cut
names in two) selects no case, and Catch2 then passes having run nothing. For each PROGRAM this script
asks ctest for the commands it would run (ctest --show-only=json-v1) and asks PROGRAM which cases each
command's spec selects (--list-test-names-only): each registered test must select exactly one case, run
with --warn NoTests, and together they must select every case the program lists, once. Exit 1 with the
differences otherwise.
"""
import argparse
import collections
import json
import os
import subprocess
import sys


def listed_names(program, spec=None):
    command = [program] + ([spec] if spec is not None else []) + ["--list-test-names-only"]
    completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if completed.returncode < 0:
        raise SystemExit(f"check_every_case_runs: {' '.join(command)} was killed by signal {-completed.returncode}")
    return [line.rstrip("\r") for line in completed.stdout.decode("utf-8", errors="replace").splitlines() if line.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ctest", required=True)
    parser.add_argument("--build", required=True)
    parser.add_argument("programs", nargs="+", metavar="PREFIX=PROGRAM")
    args = parser.parse_args()

    shown = subprocess.run([args.ctest, "--test-dir", args.build, "--show-only=json-v1"],
                           stdout=subprocess.PIPE, check=True)
    registered = json.loads(shown.stdout)["tests"]

    problems = []
    total_cases = 0
    for entry in args.programs:
        prefix, _, program = entry.partition("=")
        name = os.path.basename(program)
        cases = listed_names(program)
        if not cases:
            problems.append(f"{name}: lists no test case at all")
        total_cases += len(cases)
        selected = collections.Counter()
        mine = [test for test in registered
                if test.get("command") and os.path.realpath(test["command"][0]) == os.path.realpath(program)]
        for test in mine:
            command = test["command"]
            if len(command) < 2:
                problems.append(f"{test['name']}: runs {name} without a test spec (all cases in one test)")
                continue
            if "--warn" not in command or "NoTests" not in command:
                problems.append(f"{test['name']}: runs without --warn NoTests, so selecting no case would pass")
            matches = listed_names(program, command[1])
            if len(matches) != 1:
                problems.append(f"{test['name']}: its spec {command[1]!r} selects {len(matches)} cases"
                                + (f" ({'; '.join(matches)})" if matches else ", so it runs nothing"))
            selected.update(matches)
        for case, count in sorted(collections.Counter(cases).items()):
            if selected[case] == 0:
                problems.append(f"{name}: case {case!r} is never run by ctest")
            elif selected[case] > 1:
                problems.append(f"{name}: case {case!r} is run by {selected[case]} ctests")
        print(f"{name}: {len(cases)} cases listed, {len(mine)} ctests registered (prefix {prefix!r}), "
              f"{sum(1 for case in set(cases) if selected[case] == 1)} cases run exactly once")

    if problems:
        print(f"check_every_case_runs: {len(problems)} problem(s):")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print(f"check_every_case_runs: all {total_cases} cases of {len(args.programs)} programs run exactly once under ctest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
