#!/usr/bin/env bash
# Test dependencies of the Kafka mock tests (runtime/tests/mock_kafka.rs): kcat, a librdkafka
# client, produces and consumes through the mock. Idempotent; never fails the caller.
set -u
if command -v kcat >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "tests/deps/kafka.sh: no apt-get here; kcat not installed (its tests will skip)"
    exit 0
fi
timeout 300 apt-get update -qq || echo "tests/deps/kafka.sh: apt-get update failed"
if ! DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq kcat >/dev/null; then
    echo "tests/deps/kafka.sh: installing kcat failed; its tests will skip"
fi
exit 0
