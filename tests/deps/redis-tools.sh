#!/usr/bin/env bash
# redis-cli (the Redis mock's real-client tests), redis-benchmark and redis-server
# (bench/mocks/redis.sh compares the mock with a real server), and nc from netcat-openbsd (the
# tcp mock's real-client test). Idempotent; exits 0 even when an install fails, saying why.
set -u

have() { command -v "$1" >/dev/null 2>&1; }

missing=()
have redis-cli && have redis-benchmark || missing+=(redis-tools)
have redis-server || missing+=(redis-server)
have nc || missing+=(netcat-openbsd)
[ ${#missing[@]} -eq 0 ] && exit 0
if ! have apt-get; then
    echo "redis-tools.sh: no apt-get here; install ${missing[*]} by hand" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
timeout 300 apt-get update -qq || echo "redis-tools.sh: apt-get update failed" >&2
# redis-server is only the benchmark's baseline; its package starts no service in a container
# without systemd.
if ! timeout 600 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "redis-tools.sh: could not install ${missing[*]}; the tests needing them will skip" >&2
fi
exit 0
