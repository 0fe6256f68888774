#!/usr/bin/env bash
# Language-server benchmark: `ospecc lsp` and yaml-language-server driven by the same stdio
# client (bench/lsp/harness.py). See bench/lsp/RESULTS.md.
#
#   bench/lsp/run.sh              # build, install the peer if missing, generate, measure, print the table
#   bench/lsp/run.sh --no-build   # reuse target/release/ospecc
#   bench/lsp/run.sh --quick      # N=50 after 5 warm-ups, 1 workspace run (a smoke test)
#   bench/lsp/run.sh --no-peer    # ospecc only
#
# Only the topology edit, after run.sh has generated OUT once:
#   python3 bench/lsp/harness.py single --server ospecc --cmd "target/release/ospecc lsp" \
#       --data bench/lsp/out --files star --edits-only
#
# Everything it writes goes to bench/lsp/out/ (ignored by git): the inputs, the schema,
# results/*.json, results/table.md. Every step has a timeout; the servers are stopped (killed if
# need be) by the harness.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${OUT:-$here/out}"
build=1 peer=1 n=200 warmup=20 runs=3
for arg in "$@"; do
    case "$arg" in
        --no-build) build=0 ;;
        --no-peer) peer=0 ;;
        --quick) n=50 warmup=5 runs=1 ;;
        *) echo "unknown option: $arg" >&2; exit 2 ;;
    esac
done

cd "$repo"
if [ "$build" = 1 ]; then
    echo "== cargo build --release --bin ospecc" >&2
    timeout 1800 cargo build --release --bin ospecc >&2
fi
ospecc="$repo/target/release/ospecc"
[ -x "$ospecc" ] || { echo "no $ospecc (build it, or drop --no-build)" >&2; exit 1; }

yamlls="$here/node_modules/yaml-language-server/bin/yaml-language-server"
if [ "$peer" = 1 ] && [ ! -f "$yamlls" ]; then
    echo "== npm ci (yaml-language-server, pinned in bench/lsp/package-lock.json)" >&2
    if ! (cd "$here" && timeout 600 npm ci --no-audit --no-fund >&2); then
        echo "PEER UNAVAILABLE: npm ci failed; measuring ospecc only" >&2
        peer=0
    fi
fi

echo "== generating inputs into $out" >&2
mkdir -p "$out/results"
rm -f "$out"/results/*.json
timeout 300 python3 "$here/generate.py" "$out" >&2
timeout 60 "$ospecc" schema export --profile ext -o "$out/ospec-ext.schema.json"
# The inputs must be valid, else the numbers would time error paths.
timeout 120 "$ospecc" check "$out/single/big.ospec.yml" "$out/single/big.star" >/dev/null \
    || { echo "the generated big files do not check clean" >&2; exit 1; }

echo "== ospecc lsp: single files" >&2
timeout 1200 python3 "$here/harness.py" single --server ospecc --cmd "$ospecc lsp" --data "$out" \
    --n "$n" --warmup "$warmup" --json "$out/results/ospecc.json"

if [ "$peer" = 1 ]; then
    echo "== yaml-language-server $(node -p "require('$here/node_modules/yaml-language-server/package.json').version") on node $(node --version): big.ospec.yml" >&2
    timeout 2400 python3 "$here/harness.py" single --server yamlls --cmd "node $yamlls --stdio" \
        --schema "$out/ospec-ext.schema.json" --data "$out" --n "$n" --warmup "$warmup" \
        --json "$out/results/yamlls.json" \
        || echo "PEER FAILED: yaml-language-server left out" >&2
fi

echo "== ospecc lsp: workspace" >&2
timeout 1200 python3 "$here/harness.py" workspace --cmd "$ospecc lsp" --data "$out" --runs "$runs" \
    --json "$out/results/workspace.json"

{
    echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GB RAM; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); ospecc $(git -C "$repo" rev-parse --short HEAD)."
    echo
    python3 "$here/harness.py" table --results "$out/results"
} | tee "$out/results/table.md"
