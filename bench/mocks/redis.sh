#!/usr/bin/env bash
# The Redis mock against a real redis-server, both on loopback: GET/SET latency (p50/p99 in
# ms, redis-benchmark with 1 client, i.e. per round trip, and with 50 clients), and the mock's
# start-up time (serve() called -> listening, and -> the first PING answered; 50 starts).
# Needs redis-benchmark and redis-server (bash tests/deps/redis-tools.sh installs them).
# Usage: bench/mocks/redis.sh [REQUESTS]   (default 100000; OSPECC_BENCH_PROFILE=debug measures
# the debug build instead of the release build)
set -euo pipefail
cd "$(dirname "$0")/../.."
requests=${1:-100000}
mock_port=21050
real_port=21051
profile=()
[ "${OSPECC_BENCH_PROFILE:-release}" = release ] && profile=(--release)
for tool in redis-benchmark redis-server redis-cli; do
  command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool is not installed (bash tests/deps/redis-tools.sh)"; exit 0; }
done
work=$(mktemp -d)
pids=()
cleanup() {
  touch "$work/stop"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cargo build "${profile[@]}" -q -p ospecc-runtime --example redis_mock_bench
OSPECC_BENCH_PORT=$mock_port OSPECC_BENCH_STOP="$work/stop" \
  cargo run "${profile[@]}" -q -p ospecc-runtime --example redis_mock_bench >"$work/mock.log" 2>&1 &
pids+=($!)
redis-server --port "$real_port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)

ready() { # port: answers PING within 60 s
  for _ in $(seq 600); do
    [ "$(redis-cli -h 127.0.0.1 -p "$1" PING 2>/dev/null)" = PONG ] && return 0
    sleep 0.1
  done
  echo "nothing answers on port $1" >&2
  return 1
}
ready "$mock_port"
ready "$real_port"

grep -o 'startup_us.*' "$work/mock.log" | sed 's/^/mock /'
printf '%-13s %-4s %8s %10s %10s %10s\n' server test clients 'req/s' 'p50 ms' 'p99 ms'
for clients in 1 50; do
  for server in mock:$mock_port redis-server:$real_port; do
    name=${server%%:*}
    port=${server##*:}
    redis-benchmark -h 127.0.0.1 -p "$port" -t set,get -n "$requests" -c "$clients" -r 10000 --csv 2>/dev/null |
      tr -d '"' | awk -F, -v name="$name" -v clients="$clients" \
        'NR > 1 { printf "%-13s %-4s %8s %10s %10s %10s\n", name, $1, clients, $2, $5, $7 }'
  done
done
