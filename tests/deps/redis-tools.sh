#!/usr/bin/env bash
# redis-cli (the Redis mock's real-client tests), redis-benchmark and redis-server
# (bench/mocks/redis.sh compares the mock with a real server). Idempotent; exits 0 even
# when an install fails, saying why.
set -u

have() { command -v "$1" >/dev/null 2>&1; }

if have redis-cli && have redis-benchmark && have redis-server; then
    exit 0
fi
if ! have apt-get; then
    echo "redis-tools.sh: no apt-get here; install redis-tools and redis-server by hand" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
timeout 300 apt-get update -qq || echo "redis-tools.sh: apt-get update failed" >&2
# redis-server only for the benchmark's baseline; its package does not start a service in
# a container without systemd.
if ! timeout 600 apt-get install -y -qq --no-install-recommends redis-tools redis-server >/dev/null; then
    echo "redis-tools.sh: could not install redis-tools/redis-server; the redis-cli tests will skip" >&2
fi
exit 0
