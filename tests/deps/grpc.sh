#!/usr/bin/env bash
# gRPC test clients: grpcio (the Python client the gRPC mock tests call it with) and
# grpcio-tools (protoc as `python3 -m grpc_tools.protoc`, which writes the descriptor sets).
# Idempotent; every install is bounded; exits 0 even when an install fails (the tests skip).
set -u

if python3 -c 'import grpc, grpc_tools.protoc, google.protobuf' 2>/dev/null; then
    echo "grpc deps: grpcio and grpcio-tools present"
    exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "grpc deps: no python3; the grpcio tests will skip"
    exit 0
fi
if ! timeout 600 python3 -m pip install -q grpcio grpcio-tools protobuf; then
    echo "grpc deps: pip could not install grpcio grpcio-tools protobuf; the grpcio tests will skip"
fi
exit 0
