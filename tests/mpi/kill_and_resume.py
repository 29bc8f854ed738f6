#!/usr/bin/env python3
"""Kills one rank of an MPI study with SIGKILL mid-study, then resumes the job from its journal.

Checks: the first job fails (MPI ends it); the resumed job completes every trial; every trial that
had finished before the kill is replayed with its config and value, never evaluated again; the only
evaluations of the second job are the trials that were running at the kill and the new ones.

  kill_and_resume.py --program mpi_study --victim 1 --work DIR --mpirun mpirun --oversubscribe -np
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

TRIALS = 40
KILL_AFTER = 12  # finished trials before the kill


def fail(message):
    print(f"kill_and_resume: FAILED: {message}")
    sys.exit(1)


def journal_events(path):
    """The journal's ask and tell records (a line cut short by the kill is left out)."""
    asks, tells = {}, {}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("event") == "ask":
                asks[record["id"]] = record["config"]
            elif record.get("event") == "tell":
                tells[record["id"]] = record
    return asks, tells


def count_tells(path):
    try:
        with open(path, encoding="utf-8") as lines:
            return sum('"event":"tell"' in line for line in lines)
    except FileNotFoundError:
        return 0


def evaluations(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--program", required=True)
    parser.add_argument("--victim", type=int, required=True, help="the rank to kill (0 coordinates)")
    parser.add_argument("--work", required=True)
    parser.add_argument("--ranks", type=int, default=3)
    parser.add_argument("--mpirun", nargs=argparse.REMAINDER, required=True,
                        help="the mpirun command, ending with its flag for the number of ranks")
    args = parser.parse_args()

    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    journal = os.path.join(args.work, "study.jsonl")
    command = args.mpirun + [str(args.ranks), args.program, "--searcher", "tpe", "--seed", "7",
                             "--trials", str(TRIALS), "--sleep", "0.1", "--journal", journal,
                             "--pid-dir", args.work]

    # The first job: killed once KILL_AFTER trials have finished.
    first_log = os.path.join(args.work, "first.out")
    with open(first_log, "w") as out:
        job = subprocess.Popen(command + ["--evaluations", os.path.join(args.work, "first.evaluations")],
                               stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while count_tells(journal) < KILL_AFTER:
            if job.poll() is not None:
                fail(f"the first job ended (exit {job.returncode}) before {KILL_AFTER} trials finished; "
                     f"see {first_log}")
            if time.monotonic() > deadline:
                job.kill()
                fail("the first job did not finish enough trials within 120 s")
            time.sleep(0.02)
        with open(os.path.join(args.work, f"rank-{args.victim}.pid")) as pid_file:
            victim_pid = int(pid_file.read())
        os.kill(victim_pid, signal.SIGKILL)
        try:
            code = job.wait(timeout=120)
        except subprocess.TimeoutExpired:
            job.kill()
            fail("mpirun did not end the job within 120 s of the kill")
    if code == 0:
        fail("the killed job exited 0")
    asks, tells = journal_events(journal)
    running = sorted(set(asks) - set(tells))
    if len(tells) < KILL_AFTER or len(asks) >= TRIALS:
        fail(f"the kill did not land mid-study: {len(asks)} asked, {len(tells)} told")

    # The same job again, resumed.
    second_evaluations = os.path.join(args.work, "second.evaluations")
    trials_out = os.path.join(args.work, "trials.jsonl")
    second = subprocess.run(command + ["--resume", "--evaluations", second_evaluations, "--trials-out", trials_out],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=240)
    print(second.stdout)
    if second.returncode != 0:
        fail(f"the resumed job exited {second.returncode}")
    with open(trials_out, encoding="utf-8") as lines:
        trials = {record["id"]: record for record in map(json.loads, lines)}
    if sorted(trials) != list(range(TRIALS)) or not all(t["finished"] for t in trials.values()):
        fail(f"the resumed study has {len(trials)} trials, not {TRIALS} finished ones")
    for id, told in tells.items():  # no finished trial lost
        trial = trials[id]
        if not trial["replayed"] or trial["config"] != asks[id] or trial["value"] != told["value"]:
            fail(f"trial {id}, finished before the kill, came back as {trial}")
    evaluated = evaluations(second_evaluations)
    finished_configs = [asks[id] for id in tells]
    if any(config in finished_configs for config in evaluated):
        fail("the resumed job evaluated a trial that had finished before the kill")
    if len(evaluated) != TRIALS - len(tells):
        fail(f"the resumed job evaluated {len(evaluated)} trials, expected {TRIALS} - {len(tells)} finished")
    if not all(asks[id] in evaluated for id in running):
        fail("a trial that was running at the kill was not evaluated again")
    if f"{len(tells)} replayed, {len(running)} rerun" not in second.stdout:
        fail(f"the report does not say {len(tells)} replayed, {len(running)} rerun")
    print(f"kill and resume hold: rank {args.victim} killed after {len(tells)} finished trials with "
          f"{len(running)} running (the first job exited {code}); the resumed job replayed {len(tells)}, "
          f"evaluated the {len(running)} again and {TRIALS - len(asks)} new ones")


if __name__ == "__main__":
    main()
