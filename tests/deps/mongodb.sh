#!/usr/bin/env bash
# MongoDB test client: pymongo (PyPI), which runtime/tests/mock_mongodb.rs runs a script with
# against the MongoDB mock. Idempotent; the install is bounded; exits 0 even when it fails
# (that test then skips, saying why).
set -u

if python3 -c 'import pymongo' 2>/dev/null; then
    echo "mongodb deps: pymongo present"
    exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "mongodb deps: no python3; the pymongo test will skip"
    exit 0
fi
if ! timeout 300 python3 -m pip install -q pymongo; then
    echo "mongodb deps: pip could not install pymongo; the pymongo test will skip"
fi
exit 0
