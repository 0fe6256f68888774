#!/usr/bin/env bash
# Runs the users-api example's Redis server in the foreground (users.star's `cache`): on
# 127.0.0.1:$REDIS_PORT (default 16380), nothing persisted. It execs, so a signal to the process
# group the supervisor started reaches redis-server itself.
set -euo pipefail
command -v redis-server >/dev/null 2>&1 \
  || { echo "redis.sh: redis-server not found (install the redis-server package)" >&2; exit 1; }
exec redis-server --port "${REDIS_PORT:-16380}" --bind 127.0.0.1 --save '' --appendonly no \
  --daemonize no --protected-mode yes --logfile ''
