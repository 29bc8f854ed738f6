#!/usr/bin/env python3
"""Runs a test program and passes only when it exits 0 *and* its output matches --expect.

    expect_output.py --expect REGEX [--skip-if REGEX] [--exit-code N] -- PROGRAM [ARGS...]

ctest's PASS_REGULAR_EXPRESSION alone ignores the exit code once the regex is set, so a program
that printed the expected line and then crashed would pass; every test with an expected output goes
through here instead (cmake/mahpo_testing.cmake, mahpo_add_output_test). The regex is searched as
ctest does (anywhere in stdout and stderr together, '.' matching newlines too).

A test of a refusal names the exit code it expects (--exit-code 1): any other code fails it.

Exit codes: 0 pass; 1 the program exited with another code than expected (0 unless --exit-code says
otherwise) or its output did not match; 77 skip, when the
program itself exits 77 or its output matches --skip-if (the matching line is printed as the reason).
"""
import argparse
import re
import subprocess
import sys

SKIP = 77


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expect", required=True, help="regex the output must contain")
    parser.add_argument("--skip-if", help="regex: when the output contains it, the test is skipped (exit 77)")
    parser.add_argument("--exit-code", type=int, default=0, help="the exit code the program must end with (default 0)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- PROGRAM [ARGS...]")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no program to run after --")

    completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = completed.stdout.decode("utf-8", errors="replace")
    sys.stdout.write(output)
    sys.stdout.flush()
    name = command[0].rsplit("/", 1)[-1]

    if args.skip_if:
        reason = re.search(args.skip_if, output, re.DOTALL)
        if reason:
            print(f"expect_output: skipped: {name} said {reason.group(0)!r}")
            return SKIP
    if completed.returncode == SKIP and args.exit_code != SKIP:
        print(f"expect_output: skipped: {name} exited {SKIP}")
        return SKIP
    if completed.returncode != args.exit_code:
        print(f"expect_output: FAILED: {name} exited {completed.returncode}, expected {args.exit_code}"
              + (" (killed by a signal)" if completed.returncode < 0 else ""))
        return 1
    if not re.search(args.expect, output, re.DOTALL):
        print(f"expect_output: FAILED: {name} exited {completed.returncode}, but its output lacks {args.expect!r}")
        return 1
    print(f"expect_output: passed: {name} exited {completed.returncode} and printed what was expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
