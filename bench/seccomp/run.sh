#!/usr/bin/env bash
# What a seccomp filter costs a service (runtime-mechanisms.md §2.4, measured with ospecc's own
# runtime): a child doing 100,000 one-byte writes to /dev/null, timed inside the child, with no
# filter, with a filter that does not notify `write`, with `write` notified and no rule
# (CONTINUE), and with a `write` rule for another path (fd resolved, then CONTINUE).
# Median of RUNS runs per setup; ratios are against no filter.
#
#   bench/seccomp/run.sh             release build, 5 runs per setup
#   RUNS=9 CALLS=200000 bench/seccomp/run.sh
#   bench/seccomp/run.sh --no-build  reuse target/release/examples/seccomp_bench
#
# Needs Linux 5.19+ (seccomp user notification with WAIT_KILLABLE_RECV); the bench says what
# is missing otherwise. Results are also written to target/bench/seccomp.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
RUNS="${RUNS:-5}"
CALLS="${CALLS:-100000}"
BUILD=1
for a in "$@"; do
  case "$a" in
    --no-build) BUILD=0 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done

if [ "$BUILD" = 1 ]; then
  timeout 1800 cargo build --release -p ospecc-runtime --example seccomp_bench
fi
BIN="$ROOT/target/release/examples/seccomp_bench"
[ -x "$BIN" ] || { echo "missing $BIN (run without --no-build)" >&2; exit 1; }
mkdir -p target/bench
uname -srm | sed 's/^/machine: /' | tee target/bench/seccomp.txt
echo "cpus: $(nproc)" | tee -a target/bench/seccomp.txt
timeout 600 "$BIN" --runs "$RUNS" --calls "$CALLS" | tee -a target/bench/seccomp.txt
