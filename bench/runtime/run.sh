#!/usr/bin/env bash
# Runtime overhead per test: plan load → services ready → test → teardown, for a mock-only
# plan (20 scenarios against an in-process mock) and for the example service's three fault-free
# tests (each starting real PostgreSQL, Redis and users-api). Release build; the median of 5 runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet -p ospecc
cargo build --quiet -p users-api
bin=target/release/ospecc
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() { # spec [test-name-prefix]: the summed time of the tests whose names start with it
  for _ in 1 2 3 4 5; do
    "$bin" run "$1" --format json 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(sum(x["duration_ms"] for x in r["results"] if x["name"].startswith(sys.argv[1]) and not x.get("matrix")))' "${2:-test_}"
  done | median
}
mock=$(measure bench/runtime/mock-only.star)
echo "mock-only plan: 20 tests in ${mock} ms (median of 5) = $(python3 -c "print(round($mock/20, 1))") ms per test"
if command -v redis-server >/dev/null 2>&1; then
  example=$(measure examples/users-api/users.star)
  echo "example service: 3 tests in ${example} ms (median of 5) = $(python3 -c "print(round($example/3, 1))") ms per test"
else
  echo "example service: SKIP (redis-server is not installed; bash tests/services.sh)"
fi
