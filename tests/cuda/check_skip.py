#!/usr/bin/env python3
"""The GPU tests must never pass silently: where no CUDA device is visible they must say so and exit
77 (ctest's "skipped"); where one is, they must run every test case and pass. Runs the GPU test
program and checks whichever applies.

usage: check_skip.py path/to/mahpo_cuda_tests
"""
import re
import subprocess
import sys


def main():
    run = subprocess.run([sys.argv[1]], capture_output=True, text=True, timeout=3600)
    out = run.stdout + run.stderr
    found = re.search(r"CUDA devices visible: (\d+)", out)
    if not found:
        print(f"FAIL: the GPU tests did not say how many CUDA devices they see (exit {run.returncode}):\n{out}")
        return 1
    devices = int(found.group(1))
    if devices == 0:
        if run.returncode != 77 or "skipped: no CUDA device is visible" not in out:
            print(f"FAIL: no CUDA device, yet the GPU tests exited {run.returncode} without saying they skipped:\n{out}")
            return 1
        print("the GPU tests skip here, as they must: no CUDA device is visible (exit 77, with the message)")
        return 0
    passed = re.search(r"All tests passed \((\d+) assertions? in (\d+) test cases?\)", out)
    if run.returncode != 0 or not passed:
        print(f"FAIL: {devices} CUDA device(s), but the GPU tests exited {run.returncode}:\n{out}")
        return 1
    for line in out.splitlines():  # the tests' measurements (WARN lines), e.g. the one-epoch accuracies
        if "one epoch:" in line or line.startswith("device 0:"):
            print(line.strip())
    print(f"the GPU tests ran on {devices} device(s): {passed.group(2)} test cases, {passed.group(1)} assertions passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
