#!/usr/bin/env bash
# `ospecc run --jobs N` against `--jobs 1`, side by side in one run:
#   1. the example's spec (README's first command: 3 tests, the 13-cell fault matrix and the
#      OSpec probes, each test a lifecycle of real PostgreSQL, Redis and users-api) at jobs 1, 2;
#   2. a generated 200-cell mock-only matrix (bench/jobs/gen_matrix.py: 20 scenarios x 10
#      faults, 50 ms of proxy latency per request, plus the 20 plain scenarios) at jobs 1, 2, 4.
# Prints a Markdown table (median of RUNS rounds, default 3). `--no-build` reuses the binary
# (OSPECC_BIN, default target/release/ospecc).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${OSPECC_BIN:-target/release/ospecc}"
runs="${RUNS:-3}"
if [ "${1:-}" != "--no-build" ]; then
  timeout 3600 cargo build --release --quiet -p ospecc
  timeout 3600 cargo build --quiet -p users-api
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
python3 bench/jobs/gen_matrix.py 20 10 50 >"$scratch/matrix.star"
echo "| Plan | Results | --jobs | Wall time (median of $runs) | vs --jobs 1 | Same report |"
echo "|---|---|---|---|---|---|"
if command -v redis-server >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  python3 bench/jobs/measure.py "$bin" "example (users-api)" examples/users-api/users.ospec.yml "$runs" 1 2
else
  echo "| example (users-api) | SKIP: PostgreSQL or redis-server missing (bash tests/services.sh) | | | | |"
fi
python3 bench/jobs/measure.py "$bin" "200-cell mock-only matrix" "$scratch/matrix.star" "$runs" 1 2 4
