#!/usr/bin/env bash
# A 20-test mock-only spec over five protocol mocks (HTTP, Redis, Kafka, MongoDB through the
# @faultbox/mocks constructors, and a gRPC mock served alongside), run whole by the release binary: the wall time of
# `ospecc run` (plan lowering, 20 lifecycles each serving every mock, the steps, teardown),
# the median of 5 runs, and each mock's start-up (service_started → service_ready) from the
# JSONL traces. Usage: bench/mocks/suite.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
# OSPECC_BIN=path measures that binary instead of building the release one.
if [ -n "${OSPECC_BIN:-}" ]; then
  bin=$OSPECC_BIN
else
  cargo build --release --quiet -p ospecc
  bin="${CARGO_TARGET_DIR:-target}/release/ospecc"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
spec="$work/suite.star"
cat > "$spec" <<'STAR'
load("@faultbox/mocks/redis.star", "redis")
load("@faultbox/mocks/kafka.star", "kafka")
load("@faultbox/mocks/mongodb.star", "mongo")
load("@faultbox/mocks/http.star", "http")

api = mock_service("api", interface("main", "http", 21701),
    routes = {"GET /ping": json_response(status = 200, body = {"ok": True})})
cache = redis.server(name = "cache", interface = interface("main", "redis", 21702), state = {"k": "v"})
bus = kafka.broker(name = "bus", interface = interface("main", "kafka", 21703), topics = {"orders": []})
db = mongo.server(name = "db", interface = interface("main", "mongodb", 21704),
    collections = {"users": [{"_id": "1", "name": "alice"}]})
flags = mock_service("flags", interface("main", "grpc", 21705),
    routes = {"/flags.v1.Flags/Get": grpc_response(body = {"enabled": True})})
STAR
for i in $(seq 1 5); do
  cat >> "$spec" <<STAR
def test_http_$i():
    assert_eq(api.main.get(path = "/ping").status, 200)

def test_redis_$i():
    assert_eq(cache.main.get(key = "k").data["value"], "v")

def test_kafka_$i():
    assert_true(bus.main.publish(topic = "orders", data = "o-$i").ok)

def test_mongo_$i():
    assert_eq(db.main.find(collection = "users", filter = {}).status, 0)
STAR
done
walls=()
for run in 1 2 3 4 5; do
  start=$(date +%s%N)
  "$bin" run "$spec" --out "$work/traces" >/dev/null 2>&1 || { echo "the suite failed"; "$bin" run "$spec"; exit 1; }
  walls+=($(( ($(date +%s%N) - start) / 1000000 )))
done
median=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n 3p)
echo "20-test mock-only spec (5 protocol mocks per lifecycle): ${median} ms wall, median of 5 (${walls[*]})"
python3 - "$work/traces" <<'PY'
import json, pathlib, statistics, sys
ready = {}
for trace in pathlib.Path(sys.argv[1]).glob("*.jsonl"):
    for line in trace.read_text().splitlines():
        event = json.loads(line)
        if event["type"] == "service_ready" and "ms" in event["fields"]:
            ready.setdefault(event["service"], []).append(event["fields"]["ms"])
for service, ms in sorted(ready.items()):
    ms.sort()
    print(f"mock {service}: ready in p50 {statistics.median(ms):.3f} ms, max {ms[-1]:.3f} ms over {len(ms)} starts")
PY
