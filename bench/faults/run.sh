#!/usr/bin/env bash
# Wall time of the example service's 13-cell fault matrix (seed Pattern 1: 3 scenarios x 5 faults
# - 2 exclusions), each cell a full lifecycle of real PostgreSQL, Redis and users-api with its
# faults applied (seccomp on the API and the database, the PostgreSQL proxy). Release build of
# ospecc; three runs; per-cell times from the JSON report.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet -p ospecc
cargo build --quiet -p users-api
command -v redis-server >/dev/null 2>&1 || { echo "SKIP: redis-server is not installed (bash tests/services.sh)"; exit 0; }
for run in 1 2 3; do
  target/release/ospecc run examples/users-api/users.star --format json 2>/dev/null > "/tmp/ospecc-matrix-$run.json" || true
done
python3 - <<'PY'
import json, statistics
runs = [json.load(open(f"/tmp/ospecc-matrix-{i}.json")) for i in (1, 2, 3)]
cells = lambda r: [x for x in r["results"] if x.get("matrix")]
walls = [sum(x["duration_ms"] for x in cells(r)) for r in runs]
outcomes = {x["outcome"] for r in runs for x in cells(r)}
print(f"matrix cells per run: {len(cells(runs[0]))}; outcomes seen: {sorted(outcomes)}")
print(f"13-cell matrix wall time: median {statistics.median(walls)/1000:.1f} s (runs: {', '.join(f'{w/1000:.1f}' for w in walls)})")
print(f"whole run (16 tests): median {statistics.median(r['duration_ms'] for r in runs)/1000:.1f} s")
print("| cell | median ms |\n|---|---|")
for x in cells(runs[0]):
    times = [next(y["duration_ms"] for y in cells(r) if y["name"] == x["name"]) for r in runs]
    print(f"| {x['name'].removeprefix('test_matrix_')} | {statistics.median(times):.0f} |")
PY
