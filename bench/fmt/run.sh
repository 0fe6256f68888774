#!/usr/bin/env bash
# Formatting throughput of `ospecc fmt --check` (release build), in MB/s of input, on a
# generated OSpec file (bench/gen_ospec.py) and on Faultbox's corpus specs repeated into one
# large topology file. Usage: bench/fmt/run.sh [SIZE_MB]
set -euo pipefail
cd "$(dirname "$0")/../.."
size_mb="${1:-8}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# OSPECC_BIN picks a binary already built (e.g. a debug build); else a release build.
bin="${OSPECC_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin="${CARGO_TARGET_DIR:-target}/release/ospecc"
fi
# OSpec: repeat the examples' specs as a sequence of documents.
: > "$work/big.ospec.yml"
while [ "$(stat -c %s "$work/big.ospec.yml")" -lt $((size_mb << 20)) ]; do
  for f in examples/microservices/platform.ospec.yml examples/shop/outcome.yaml examples/users-api/users.ospec.yml; do
    printf -- '---\n' >> "$work/big.ospec.yml"; cat "$f" >> "$work/big.ospec.yml"
  done
done
# Starlark: the corpus specs (or the repository's topology files) concatenated.
corpus=../shared/data/faultbox-corpus/corpus
sources=$(ls "$corpus"/*.star 2>/dev/null || ls examples/users-api/users.star bench/runtime/*.star)
: > "$work/big.star"
while [ "$(stat -c %s "$work/big.star")" -lt $(((size_mb / 4 + 1) << 20)) ]; do
  for f in $sources; do cat "$f" >> "$work/big.star"; printf '\n' >> "$work/big.star"; done
done
measure() {
  local file="$1" bytes start end
  bytes=$(stat -c %s "$file")
  start=$(date +%s.%N)
  "$bin" fmt --check --no-config "$file" > /dev/null || true
  end=$(date +%s.%N)
  python3 -c "import sys; b,s,e=$bytes,$start,$end; print(f'{sys.argv[1]}: {b/1e6:.1f} MB in {e-s:.2f} s = {b/1e6/(e-s):.1f} MB/s')" "$(basename "$file")"
}
measure "$work/big.ospec.yml"
measure "$work/big.star"
