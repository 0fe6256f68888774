#!/usr/bin/env python3
"""Times `ospecc run SPEC --jobs N` for several N, side by side in one run (bench/jobs/run.sh).

Usage: measure.py BIN LABEL SPEC RUNS JOBS...

Runs in rounds (each round runs every N once, so a load change on the machine touches every N
alike) and prints one Markdown table row per N: the median wall time, its ratio to --jobs 1 (the
first N), and whether the report equals the first N's with times and event numbers left out
(and the numbers in messages: a latency probe says what it measured).
"""
import json
import re
import statistics
import subprocess
import sys
import time

VOLATILE = {"duration_ms", "ready_ms", "first_seq", "end_seq"}


def comparable(value):
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"[0-9]+(\.[0-9]+)?", "N", value)
    return value


def run(binary, spec, jobs):
    started = time.perf_counter()
    done = subprocess.run(
        [binary, "run", spec, "--jobs", str(jobs), "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=1800, check=False,
    )
    wall = time.perf_counter() - started
    report = json.loads(done.stdout)
    return wall, report


def main():
    binary, label, spec, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    jobs = [int(j) for j in sys.argv[5:]]
    times = {j: [] for j in jobs}
    reports = {}
    for _ in range(runs):
        for j in jobs:
            wall, report = run(binary, spec, j)
            times[j].append(wall)
            reports.setdefault(j, report)
    base = statistics.median(times[jobs[0]])
    reference = comparable(reports[jobs[0]])
    for j in jobs:
        median = statistics.median(times[j])
        summary = reports[j]["summary"]
        same = "yes" if comparable(reports[j]) == reference else "NO"
        print(
            f"| {label} | {summary['total']} ({summary['passed']} passed) | {j} | {median:.2f} s "
            f"| {median / base:.0%} | {same} |"
        )


if __name__ == "__main__":
    main()
