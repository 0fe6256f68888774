#!/usr/bin/env python3
"""Fallback timing loop for machines without hyperfine; writes hyperfine-compatible JSON.

Usage: timeit.py [--warmup N] [--runs N] [--export-json F] [--name NAME ...] -- CMD [CMD ...]
Each CMD is a shell command line run through `sh -c` (output discarded). Wall time per run
via time.perf_counter; no shell-startup correction (hyperfine does one).
"""
import argparse
import json
import statistics
import subprocess
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--export-json")
    ap.add_argument("--name", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("cmds", nargs="+")
    a = ap.parse_args()
    results = []
    for i, cmd in enumerate(a.cmds):
        name = a.name[i] if i < len(a.name) else cmd
        times, codes = [], []
        for k in range(a.warmup + a.runs):
            t0 = time.perf_counter()
            p = subprocess.run(["sh", "-c", cmd], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=a.timeout)
            dt = time.perf_counter() - t0
            if k >= a.warmup:
                times.append(dt)
                codes.append(p.returncode)
        mean = statistics.mean(times)
        sd = statistics.stdev(times) if len(times) > 1 else 0.0
        print(f"{name}: {mean * 1000:.1f} ms ± {sd * 1000:.1f} ms  (min {min(times) * 1000:.1f} ms, "
              f"{len(times)} runs)")
        results.append({"command": name, "mean": mean, "stddev": sd, "median": statistics.median(times),
                        "min": min(times), "max": max(times), "times": times, "exit_codes": codes})
    if a.export_json:
        with open(a.export_json, "w") as f:
            json.dump({"results": results}, f, indent=2)


if __name__ == "__main__":
    main()
