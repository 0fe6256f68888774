#!/usr/bin/env bash
# Formatting throughput of `ospecc fmt --check` (release build), in MB/s of input:
#   - OSpec, 2,000 generated spec files (bench/gen_ospec.py, the check benchmark's data, 8.1 MB):
#     as generated (already formatted: what CI and pre-commit mostly see), and with
#     `yaml_indent_width = 4` (every line of every file re-indented, and its diff printed);
#   - OSpec, one file: the examples' specs repeated as one stream of documents (SIZE_MB);
#   - Starlark, one file: Faultbox's corpus specs (or the repository's topology files) repeated.
# Each case runs RUNS times (default 5); the best wall time is reported, with its CPU time
# (user + system), and the files cases also on one thread (RAYON_NUM_THREADS=1).
# Usage: bench/fmt/run.sh [SIZE_MB]; OSPECC_BIN picks a binary already built. FMT_BENCH=example
# builds and times the compiler crate's `fmt_bench` example instead of the whole binary: the
# same per-file work as `ospecc fmt --check` (compiler/examples/fmt_bench.rs), for a fraction
# of the release build (the binary also compiles the runtime and the language server).
set -euo pipefail
cd "$(dirname "$0")/../.."
size_mb="${1:-8}"
runs="${RUNS:-5}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bin="${OSPECC_BIN:-}"
if [ -z "$bin" ] && [ "${FMT_BENCH:-}" = example ]; then
  cargo build --release --quiet -p ospecc-compiler --example fmt_bench
  bin="${CARGO_TARGET_DIR:-target}/release/examples/fmt_bench"
elif [ -z "$bin" ]; then
  cargo build --release --quiet -p ospecc
  bin="${CARGO_TARGET_DIR:-target}/release/ospecc"
fi
echo "binary: $bin"
python3 bench/gen_ospec.py "$work/specs" --count 2000 --seed 20250101 > /dev/null
printf '[fmt]\nyaml_indent_width = 4\n' > "$work/indent4.toml"
# OSpec: the examples' specs as a sequence of documents.
: > "$work/stream.ospec.yml"
while [ "$(stat -c %s "$work/stream.ospec.yml")" -lt $((size_mb << 20)) ]; do
  for f in examples/microservices/platform.ospec.yml examples/shop/outcome.yaml examples/users-api/users.ospec.yml; do
    printf -- '---\n' >> "$work/stream.ospec.yml"; cat "$f" >> "$work/stream.ospec.yml"
  done
done
# Starlark: the corpus specs (or the repository's topology files) concatenated. The corpus is
# beside the clone (`../shared`); FAULTBOX_CORPUS names it from elsewhere (a git worktree).
corpus="${FAULTBOX_CORPUS:-../shared/data/faultbox-corpus/corpus}"
sources=$(ls "$corpus"/*.star 2>/dev/null || ls examples/users-api/users.star bench/runtime/*.star)
echo "topology sources: $(echo $sources | wc -w) files ($(dirname "$(echo $sources | cut -d' ' -f1)"))"
: > "$work/big.star"
while [ "$(stat -c %s "$work/big.star")" -lt $(((size_mb / 4 + 1) << 20)) ]; do
  for f in $sources; do cat "$f" >> "$work/big.star"; printf '\n' >> "$work/big.star"; done
done
# measure NAME BYTES THREADS ARGS...: the best of $runs runs.
measure() {
  local name="$1" bytes="$2" threads="$3"
  shift 3
  python3 - "$name" "$bytes" "$threads" "$runs" "$@" <<'PY'
import os, resource, subprocess, sys, time
name, size, threads, runs, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5:]
env = dict(os.environ)
if threads != "all":
    env["RAYON_NUM_THREADS"] = threads
best = None
for _ in range(runs):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode not in (0, 1):
        sys.exit(f"{name}: exit {done.returncode}: {done.stderr.decode(errors='replace')[-2000:]}")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if best is None or wall < best[0]:
        best = (wall, cpu)
wall, cpu = best
print(f"{name:<44} {size / 1e6:5.1f} MB  wall {wall:6.3f} s = {size / 1e6 / wall:6.1f} MB/s"
      f"  cpu {cpu:6.3f} s = {size / 1e6 / cpu:6.1f} MB/s")
PY
}
spec_bytes=$(cat "$work"/specs/*.ospec.yml | wc -c)
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); best of $runs runs"
for threads in all 1; do
  measure "2,000 spec files, formatted (threads: $threads)" "$spec_bytes" "$threads" \
    "$bin" fmt --check --no-config "$work/specs"
  measure "2,000 spec files, re-indented (threads: $threads)" "$spec_bytes" "$threads" \
    "$bin" fmt --check --config "$work/indent4.toml" "$work/specs"
done
measure "one OSpec stream of documents" "$(stat -c %s "$work/stream.ospec.yml")" all \
  "$bin" fmt --check --no-config "$work/stream.ospec.yml"
measure "one topology file" "$(stat -c %s "$work/big.star")" all \
  "$bin" fmt --check --no-config "$work/big.star"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
