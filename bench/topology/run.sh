#!/usr/bin/env bash
# Topology benchmark: `ospecc check` on 500 generated topology files (~100 lines each), and
# the latency of checking one file. Goal (the topology issue): <= 1 ms per file and <= 0.5 s
# wall for all 500 on 2 cores, release binary. Results in docs/performance.md (§ Topology files).
#
#   bench/topology/run.sh              build, generate, time, print a summary
#   bench/topology/run.sh --no-build   use the existing target/release/ospecc
#   bench/topology/run.sh --quick      fewer runs (harness smoke test)
#
# Environment: COUNT (default 500), RESULTS_DIR (default target/bench/topology), OSPECC (binary),
# KEEP_DATA=1 keeps the generated files, BENCH_NO_HYPERFINE=1 uses bench/timeit.py instead.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

BUILD=1 RUNS=20 WARMUP=3
for a in "$@"; do
  case "$a" in
    --no-build) BUILD=0 ;;
    --quick) RUNS=5 WARMUP=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done

COUNT="${COUNT:-500}"
RESULTS_DIR="${RESULTS_DIR:-$ROOT/target/bench/topology}"
OSPECC="${OSPECC:-$ROOT/target/release/ospecc}"
mkdir -p "$RESULTS_DIR"

echo "== machine"
echo "   cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x $(nproc)"
echo "   loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   git: $(git rev-parse --short HEAD 2>/dev/null || echo '?')"

if [ "$BUILD" = 1 ]; then
  echo "== building the release binary"
  cargo build --release --quiet || exit 2
fi
[ -x "$OSPECC" ] || { echo "no binary at $OSPECC" >&2; exit 2; }

DATA="$(mktemp -d "${TMPDIR:-/tmp}/ospecc-topology-bench.XXXXXX")"
cleanup() { [ "${KEEP_DATA:-0}" = 1 ] && echo "data kept in $DATA" || rm -rf "$DATA"; }
trap cleanup EXIT
echo "== generating"
python3 bench/topology/gen_topology.py "$DATA/bulk" --count "$COUNT" | sed 's/^/   /'
ONE="$DATA/bulk/topology-0000.star"

# The generated files are meant to check clean: say so when they do not (a checker change, or
# a generator that drifted), since timing findings is timing a different workload.
echo "== findings in the generated set (expected: none)"
"$OSPECC" check --no-config --format json "$DATA/bulk" > "$RESULTS_DIR/findings.json"
python3 - "$RESULTS_DIR/findings.json" <<'PY'
import collections, json, sys
doc = json.load(open(sys.argv[1]))
counts = collections.Counter((d["code"], d["severity"]) for f in doc["files"] for d in f["diagnostics"])
bad = {k: v for k, v in counts.items() if k[1] in ("error", "warning")}
print(f"   {doc['summary']}")
for (code, severity), n in sorted(bad.items()):
    print(f"   !! {n} x {code} ({severity})")
PY

BULK_CMD="$OSPECC check --no-config --format json $DATA/bulk > /dev/null"
ONE_CMD="$OSPECC check --no-config --format json $ONE > /dev/null"
echo "== timing ($RUNS runs after $WARMUP warm-up)"
if command -v hyperfine >/dev/null && [ "${BENCH_NO_HYPERFINE:-0}" != 1 ]; then
  hyperfine --ignore-failure --warmup "$WARMUP" --runs "$RUNS" --style basic \
    --export-json "$RESULTS_DIR/timings.json" \
    -n "bulk ($COUNT files)" "$BULK_CMD" -n "one file" "$ONE_CMD" | sed 's/^/   /'
else
  python3 bench/timeit.py --warmup "$WARMUP" --runs "$RUNS" --export-json "$RESULTS_DIR/timings.json" \
    --name "bulk ($COUNT files)" --name "one file" -- "$BULK_CMD" "$ONE_CMD" | sed 's/^/   /'
fi

echo "== summary"
python3 - "$RESULTS_DIR/timings.json" "$COUNT" <<'PY' | tee "$RESULTS_DIR/summary.txt"
import json, statistics, sys
results = json.load(open(sys.argv[1]))["results"]
count = int(sys.argv[2])
bulk, one = results[0], results[1]
median = statistics.median(bulk["times"])
print(f"   bulk: min {bulk['min'] * 1000:.1f} ms, median {median * 1000:.1f} ms for {count} files"
      f" ({median / count * 1000:.3f} ms per file)")
print(f"   one file: min {one['min'] * 1000:.1f} ms, median {statistics.median(one['times']) * 1000:.1f} ms")
print(f"   goal (<= 0.5 s wall, <= 1 ms per file): {'met' if median <= 0.5 and median / count <= 0.001 else 'MISSED'}")
PY
