#!/usr/bin/env bash
# The latency the protocol fault proxies add in pass-through mode: HTTP, TCP, Redis and
# PostgreSQL, N sequential requests on one connection, direct vs through the proxy, p50/p99.
# Redis and PostgreSQL rows need the servers (`bash tests/services.sh` installs them).
# Usage: bench/proxy/run.sh [N]   (default 2000)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo run --release --quiet -p ospecc-runtime --example proxy_bench -- "${1:-2000}"
