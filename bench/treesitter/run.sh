#!/usr/bin/env bash
# Generates the language-server benchmark's big files and times tree-sitter against the
# editor's hand-written syntax paths on them (bench/treesitter/src/main.rs says what).
# Usage: bench/treesitter/run.sh [ROUNDS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
timeout 120 python3 "$here/../lsp/generate.py" "$out" --workspace-files 0 >/dev/null
cd "$here"
timeout 3600 cargo build --release --locked -q
"${CARGO_TARGET_DIR:-$here/target}/release/ospecc-bench-treesitter" \
    "$out/single/big.ospec.yml" "$out/single/big.star" "${1:-200}"
