#!/usr/bin/env python3
"""The study report end to end: journals written by search_lenet with fixed seeds (two TPE studies
and a random one on Branin, a Hyperband and a PBT study on the LeNet quadratic: their trials continue
others', so the best trial's schedule is drawn), mahpo-report over them, then
the folder checked: the expected files, PNG signatures, the page's tables; then the page opened by
headless Chromium: every picture loaded (the page marks <body data-images="ok">) and a screenshot
of the expected size that is not blank. Exit 77 (ctest: skipped) only when chromium is missing, after
the other checks.

  check_report.py --search-lenet build/examples/search_lenet --report build/apps/mahpo-report --work DIR
"""
import argparse
import os
import shutil
import struct
import subprocess
import sys
import zlib

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def png_size_and_colors(path):
    """Width, height and the number of distinct pixel values of an 8-bit RGB(A) PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    channels = {2: 3, 6: 4}.get(color)
    if depth != 8 or channels is None:
        return width, height, None
    raw, stride, rows, previous = zlib.decompress(idat), width * channels, [], bytearray(width * channels)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b, c = previous[x], previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        previous = line
    colors = {row[x:x + channels] for row in rows[::8] for x in range(0, stride, channels * 8)}
    return width, height, len(colors)


def run(command, **kwargs):
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)
    if result.returncode != 0:
        print(result.stdout)
        sys.exit(f"check_report: {' '.join(command)} exited {result.returncode}")
    return result.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--search-lenet", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)

    journals = []
    for searcher, problem, seed, extra in [("tpe", "branin", 0, []), ("tpe", "branin", 1, []),
                                           ("random", "branin", 0, [])]:
        journal = os.path.join(args.work, f"{searcher}-seed{seed}.jsonl")
        run([args.search_lenet, "--searcher", searcher, "--problem", problem, "--trials", "40", "--seed", str(seed),
             "--journal", journal] + extra)
        journals.append(journal)
    fidelity = os.path.join(args.work, "hyperband.jsonl")
    run([args.search_lenet, "--searcher", "hyperband", "--problem", "lenet_quadratic", "--trials", "60", "--seed", "2",
         "--journal", fidelity])
    population = os.path.join(args.work, "pbt.jsonl")
    run([args.search_lenet, "--searcher", "pbt", "--problem", "lenet_quadratic", "--trials", "40", "--seed", "3",
         "--journal", population])

    # Branin: 3 studies in 2 colours; the quadratic (multi-fidelity, paper_lenet's space) on its own.
    out = os.path.join(args.work, "report")
    printed = run([args.report, *journals, "--output", out, "--title", "Branin: TPE against random search"])
    check("mahpo-report: 3 studies" in printed, f"mahpo-report printed: {printed}")
    out_fidelity = os.path.join(args.work, "report-fidelity")
    run([args.report, fidelity, "--output", out_fidelity])
    out_pbt = os.path.join(args.work, "report-pbt")
    run([args.report, population, "--output", out_pbt])

    expected = ["index.html", "history.png", "history_time.png", "parallel-0.png", "parallel-1.png", "slice-0.png",
                "slice-1.png", "importance.png", "plots.gp"]
    for name in expected:
        check(os.path.exists(os.path.join(out, name)), f"report/{name} is missing")
    check(not os.path.exists(os.path.join(out, "fidelity.png")), "report/fidelity.png drawn for single-budget studies")
    for name in ["fidelity.png", "slice-5.png", "importance.png", "schedule-0.png"]:
        check(os.path.exists(os.path.join(out_fidelity, name)), f"report-fidelity/{name} is missing")
    # Trials that continued others' (Hyperband's promotions, PBT): the best trial's schedule, drawn and listed.
    check(os.path.exists(os.path.join(out_pbt, "schedule-0.png")), "report-pbt/schedule-0.png is missing")
    with open(os.path.join(out_pbt, "index.html"), encoding="utf-8") as f:
        pbt_page = f.read()
    check("Schedule of the best trial" in pbt_page and pbt_page.count(" to ") >= 2,
          "report-pbt/index.html: no schedule table of the best trial's lineage")
    check(not os.path.exists(os.path.join(out, "schedule-0.png")), "report/schedule-0.png drawn for studies that continue nothing")
    for folder in (out, out_fidelity, out_pbt):
        for name in os.listdir(folder):
            if name.endswith(".png"):
                info = png_size_and_colors(os.path.join(folder, name))
                check(info is not None, f"{name}: not a PNG")
    with open(os.path.join(out, "index.html"), encoding="utf-8") as f:
        page = f.read()
    check("<title>Branin: TPE against random search</title>" in page, "index.html: no title")
    check(page.count("<img ") == len([n for n in expected if n.endswith(".png")]), "index.html: not every plot shown")
    check(page.count("<h3>") == 3, "index.html: not one best-trials table per study")
    check("PED-ANOVA" in page, "index.html: no importances")

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if failures:
        print("\n".join(f"FAIL {message}" for message in failures))
        return 1
    if chromium is None:
        print("check_report: files check out; chromium is not installed (scripts/setup.sh installs it): the page "
              "was not opened")
        return 77
    url = "file://" + os.path.abspath(os.path.join(out, "index.html"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=5000",
             "--user-data-dir=" + os.path.join(args.work, "chromium-profile")]
    dom = run([chromium, *flags, "--dump-dom", url], timeout=120)
    check('data-images="ok"' in dom, "chromium: the page did not load every picture "
                                     f"({dom[dom.find('data-images'):][:80] if 'data-images' in dom else 'no mark'})")
    shot = os.path.join(args.work, "screenshot.png")
    run([chromium, *flags, "--window-size=1280,2400", f"--screenshot={shot}", url], timeout=120)
    info = png_size_and_colors(shot) if os.path.exists(shot) else None
    if check(info is not None, "chromium: no screenshot"):
        width, height, colors = info
        check((width, height) == (1280, 2400), f"screenshot: {width} x {height}, expected 1280 x 2400")
        check(colors is None or colors > 50, f"screenshot: {colors} colours: a blank page?")
    if failures:
        print("\n".join(f"FAIL {message}" for message in failures))
        return 1
    print(f"report checks out: {len(expected)} files, every picture loaded in chromium, screenshot {info[0]} x "
          f"{info[1]} with {info[2]} colours sampled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
