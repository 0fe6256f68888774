#!/usr/bin/env bash
# curl (the OpenAPI HTTP mock's independent-client test, runtime/tests/mock_openapi.rs).
# Idempotent; exits 0 even when the install fails, saying why.
set -u

command -v curl >/dev/null 2>&1 && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "curl.sh: no apt-get here; install curl by hand" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
timeout 300 apt-get update -qq || echo "curl.sh: apt-get update failed" >&2
if ! timeout 600 apt-get install -y -qq --no-install-recommends curl >/dev/null; then
    echo "curl.sh: could not install curl; the test needing it will skip" >&2
fi
exit 0
