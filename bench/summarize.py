#!/usr/bin/env python3
"""Summarise the timing JSON files of bench/run.sh: table, ratios, goals (Markdown on stdout).

Usage: summarize.py RESULTS_DIR [BULK_COUNT]
Reads bulk.json, bulk-cjs.json and precommit.json (hyperfine --export-json format).
Ratios use the mean wall time: peer mean / ospecc mean.
"""
import json
import os
import sys

GOALS = {
    # scenario: (ospecc max wall seconds or None, {peer: minimum speed-up})
    "bulk": (0.2, {"ajv-cli": 4.0}),
    "precommit": (None, {"ajv-cli": 20.0, "check-jsonschema": 20.0}),
}
TITLES = {"bulk": "Bulk: 2,000 files (~8 MB)", "precommit": "Pre-commit: 5 files, cold process"}


def load(d, name):
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return []
    with open(p) as f:
        return json.load(f).get("results", [])


def fmt(sec):
    return f"{sec * 1000:.1f} ms" if sec < 1 else f"{sec:.2f} s"


def cpu(r):
    # hyperfine's mean user and system time: less sensitive to a busy machine than wall time
    if r.get("user") is None or r.get("system") is None:
        return "–"
    return fmt(r["user"] + r["system"])


def main():
    d = sys.argv[1]
    if len(sys.argv) > 2:
        TITLES["bulk"] = f"Bulk: {int(sys.argv[2]):,} files"
    scen = {"bulk": load(d, "bulk.json") + load(d, "bulk-cjs.json"), "precommit": load(d, "precommit.json")}
    machine = os.path.join(d, "machine.txt")
    if os.path.exists(machine):
        print("```\n" + open(machine).read().strip() + "\n```\n")
    verdicts = []
    for key, rows in scen.items():
        print(f"### {TITLES[key]}\n")
        if not rows:
            print("_no measurements (tools unavailable or failed; see the log above)_\n")
            continue
        by = {r["command"]: r for r in rows}
        base = by.get("ospecc")
        print("| tool | mean ± σ | min | max | CPU (user+sys) | runs | vs ospecc |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            ratio = ""
            if base and r is not base:
                ratio = f"{r['mean'] / base['mean']:.1f}×"
            elif r is base:
                ratio = "1.0×"
            print(f"| {r['command']} | {fmt(r['mean'])} ± {fmt(r['stddev'] or 0)} | {fmt(r['min'])} | "
                  f"{fmt(r['max'])} | {cpu(r)} | {len(r.get('times', []))} | {ratio} |")
        print()
        limit, peers = GOALS[key]
        if not base:
            verdicts.append(f"- {key}: ospecc not measured: goals n/a")
            continue
        if limit is not None:
            ok = base["mean"] <= limit
            verdicts.append(f"- {key}: ospecc mean {fmt(base['mean'])} ≤ {fmt(limit)} "
                            f"(min {fmt(base['min'])}): {'PASS' if ok else 'FAIL'}")
        for peer, want in peers.items():
            if peer not in by:
                verdicts.append(f"- {key}: ≥ {want:g}× faster than {peer}: n/a ({peer} not measured)")
                continue
            got = by[peer]["mean"] / base["mean"]
            got_min = by[peer]["min"] / base["min"]
            verdicts.append(f"- {key}: ≥ {want:g}× faster than {peer}: {got:.1f}× on means "
                            f"({got_min:.1f}× on minimums) {'PASS' if got >= want else 'FAIL'}")
    vfile = os.path.join(d, "verdicts.txt")
    if os.path.exists(vfile):
        text = open(vfile).read().strip()
        print("### Verdicts on the bulk set (sanity run)\n")
        print(text + "\n")
        if "missed" in text or "extra" in text:
            print("**Warning: a tool's verdicts differ from the injected errors; its time may not be "
                  "comparable.**\n")
    print("### Goals\n")
    print("\n".join(verdicts) if verdicts else "_nothing measured_")


if __name__ == "__main__":
    main()
