#!/usr/bin/env python3
"""Prints the tests ctest skipped, with each one's reason, from ctest's JUnit report.

    summarize_skips.py build/ctest-junit.xml

scripts/test.sh calls it after ctest, so a skipped test (exit 77: no GPU, no MPI, no gnuplot, ...) is
counted and explained at the end of the run, never silently green. The reason is the last line of
the test's output that says why (it holds 'skip'), else its last line.
"""
import sys
import xml.etree.ElementTree as ElementTree


def reason(output):
    lines = [line.strip() for line in (output or "").splitlines() if line.strip()]
    said = [line for line in lines if "skip" in line.lower()]
    return (said or lines or ["(no output)"])[-1]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = ElementTree.parse(sys.argv[1]).getroot()
    cases = list(root.iter("testcase"))
    skipped = [case for case in cases if case.find("skipped") is not None or case.get("status") in ("notrun", "skipped")]
    if not skipped:
        print(f"test.sh: {len(cases)} tests, none skipped")
        return
    print(f"test.sh: {len(skipped)} of {len(cases)} tests skipped:")
    for case in skipped:
        print(f"  {case.get('name')}: {reason(case.findtext('system-out'))}")


if __name__ == "__main__":
    main()
