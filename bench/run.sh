#!/usr/bin/env bash
# Side-by-side benchmark: `ospecc check --profile core` vs ajv-cli and check-jsonschema
# running the official OSpec v1.0 schema. See bench/README.md.
#
#   bench/run.sh                 full run (build, install peers, generate, time, summarise)
#   bench/run.sh --quick         fewer runs (smoke test of the harness, numbers are rough)
#   bench/run.sh --no-build      use the existing target/release/ospecc
#   bench/run.sh --no-cjs-bulk   skip check-jsonschema on the bulk set (~40 s a run)
#
# Environment: PEERS_DIR (default target/bench-peers), RESULTS_DIR (default target/bench/results),
# OSPEC_SCHEMA (default ../shared/data/ospec-official/ospec-v1.0.schema.json),
# BULK_COUNT (default 2000), CJS_BULK_RUNS (default 3), KEEP_DATA=1 keeps the generated files,
# OSPECC (binary to time), BENCH_NO_HYPERFINE=1 (use the bench/timeit.py loop).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

QUICK=0 BUILD=1 CJS_BULK=1
for a in "$@"; do
  case "$a" in
    --quick) QUICK=1 ;;
    --no-build) BUILD=0 ;;
    --no-cjs-bulk) CJS_BULK=0 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done

PEERS_DIR="${PEERS_DIR:-$ROOT/target/bench-peers}"
RESULTS_DIR="${RESULTS_DIR:-$ROOT/target/bench/results}"
SCHEMA="${OSPEC_SCHEMA:-$ROOT/../shared/data/ospec-official/ospec-v1.0.schema.json}"
BULK_COUNT="${BULK_COUNT:-2000}"
CJS_BULK_RUNS="${CJS_BULK_RUNS:-3}"
OSPECC="${OSPECC:-$ROOT/target/release/ospecc}"
if [ "$QUICK" = 1 ]; then
  BULK_MIN_RUNS=3 PC_MIN_RUNS=5 CJS_BULK_RUNS=1 WARMUP=1
else
  BULK_MIN_RUNS=10 PC_MIN_RUNS=20 WARMUP=2
fi

say()  { printf '\n== %s\n' "$*"; }
info() { printf '   %s\n' "$*"; }
warn() { printf '   !! %s\n' "$*"; }

mkdir -p "$PEERS_DIR" "$RESULTS_DIR"
rm -f "$RESULTS_DIR"/*.json "$RESULTS_DIR"/*.txt "$RESULTS_DIR"/*.md

# ---------------------------------------------------------------- machine
say "machine"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x $(nproc)"
  echo "memory: $(free -h | awk '/^Mem:/{print $2}')"
  echo "kernel: $(uname -r)"
  echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
} | tee "$RESULTS_DIR/machine.txt" | sed 's/^/   /'

if [ ! -f "$SCHEMA" ]; then
  warn "official schema not found at $SCHEMA: the peers cannot run (ospecc is still timed)"
fi

# ---------------------------------------------------------------- data
say "generating documents"
DATA="$(mktemp -d "${TMPDIR:-/tmp}/ospecc-bench.XXXXXX")"
cleanup() { [ "${KEEP_DATA:-0}" = 1 ] && echo "data kept in $DATA" || rm -rf "$DATA"; }
trap cleanup EXIT
BULK="$DATA/bulk" PC="$DATA/precommit"
python3 bench/gen_ospec.py "$BULK" --count "$BULK_COUNT" --seed 20250101 | sed 's/^/   /'
# The pre-commit set: 5 valid documents (a typical staged change), disjoint ids.
python3 bench/gen_ospec.py "$PC" --count 5 --seed 7 --start 9000 --error-rate 0 | sed 's/^/   /'
PC_FILES=$(ls "$PC"/*.ospec.yml | tr '\n' ' ')
EXPECTED_INVALID=$(awk -F'\t' '$2=="invalid"' "$BULK/MANIFEST.tsv" | wc -l)
info "bulk: $EXPECTED_INVALID of $BULK_COUNT documents carry an injected schema error"

# ---------------------------------------------------------------- peers
say "peers (installed into $PEERS_DIR)"
AJV="$PEERS_DIR/npm/node_modules/.bin/ajv"
CJS="$PEERS_DIR/venv/bin/check-jsonschema"
HAVE_AJV=0 HAVE_CJS=0
if [ ! -x "$AJV" ] || [ ! -d "$PEERS_DIR/npm/node_modules/ajv-formats" ]; then
  if command -v npm >/dev/null 2>&1; then
    info "npm install ajv-cli@5 ajv-formats@3 ..."
    timeout 300 npm install --silent --no-audit --no-fund --prefix "$PEERS_DIR/npm" \
      ajv-cli@5 ajv-formats@3 >"$PEERS_DIR/npm-install.log" 2>&1 \
      || warn "PEER UNAVAILABLE: ajv-cli: npm install failed (see $PEERS_DIR/npm-install.log)"
  else
    warn "PEER UNAVAILABLE: ajv-cli: npm is not installed"
  fi
fi
if [ -x "$AJV" ] && [ -f "$SCHEMA" ]; then
  HAVE_AJV=1
  info "ajv-cli $(node -p "require('$PEERS_DIR/npm/node_modules/ajv-cli/package.json').version") \
(ajv $(node -p "require('$PEERS_DIR/npm/node_modules/ajv/package.json').version"), \
ajv-formats $(node -p "require('$PEERS_DIR/npm/node_modules/ajv-formats/package.json').version"), node $(node --version))"
fi
if [ ! -x "$CJS" ]; then
  info "pip install check-jsonschema (venv) ..."
  { timeout 60 python3 -m venv "$PEERS_DIR/venv" \
      && timeout 300 "$PEERS_DIR/venv/bin/pip" install -q check-jsonschema; } \
    >"$PEERS_DIR/pip-install.log" 2>&1 \
    || warn "PEER UNAVAILABLE: check-jsonschema: venv/pip install failed (see $PEERS_DIR/pip-install.log)"
fi
if [ -x "$CJS" ] && [ -f "$SCHEMA" ]; then
  HAVE_CJS=1
  info "$("$CJS" --version) (python $("$PEERS_DIR/venv/bin/python" -c 'import platform;print(platform.python_version())'))"
fi

# ---------------------------------------------------------------- ospecc
say "ospecc"
HAVE_OSPECC=0
if [ "$BUILD" = 1 ]; then
  info "cargo build --release ..."
  if ! timeout 1800 cargo build --release --quiet 2>"$RESULTS_DIR/build.log"; then
    warn "cargo build --release failed (tail of $RESULTS_DIR/build.log):"
    tail -5 "$RESULTS_DIR/build.log" | sed 's/^/      /'
  fi
fi
if [ -x "$OSPECC" ] && timeout 10 "$OSPECC" check --help >/dev/null 2>&1; then
  HAVE_OSPECC=1
  info "$("$OSPECC" --version 2>/dev/null || echo ospecc) at $OSPECC"
else
  warn "ospecc UNAVAILABLE: $OSPECC missing or has no 'check' command"
fi

# ---------------------------------------------------------------- commands
OSPECC_BULK="$OSPECC check --profile core $BULK"
OSPECC_BULK_EXT="$OSPECC check $BULK"
OSPECC_BULK_1T="RAYON_NUM_THREADS=1 $OSPECC_BULK"   # one core, like the peers
AJV_FLAGS="validate --spec=draft7 -c ajv-formats --all-errors --strict=false -s $SCHEMA"
AJV_BULK="$AJV $AJV_FLAGS -d '$BULK/*.ospec.yml'"     # quoted: ajv-cli expands the glob itself
CJS_BULK_CMD="$CJS --schemafile $SCHEMA $BULK/*.ospec.yml"   # shell expands the glob
OSPECC_PC="$OSPECC check --profile core $PC_FILES"
AJV_PC="$AJV $AJV_FLAGS $(for f in $PC_FILES; do printf -- '-d %s ' "$f"; done)"
CJS_PC="$CJS --schemafile $SCHEMA $PC_FILES"

# ---------------------------------------------------------------- sanity
# One bounded run of each command: it must finish, exit 0 (all valid) or 1 (findings), and
# find the injected errors. A tool that fails here is left out of the timing.
say "sanity run (verdicts; each command bounded by a timeout)"
sanity() { # name timeout expect_exit cmd...
  local name=$1 limit=$2 expect=$3; shift 3
  local out="$RESULTS_DIR/sanity-$name.txt" t0 t1 rc
  t0=$(date +%s.%N)
  timeout "$limit" bash -c "$*" >"$out" 2>&1; rc=$?
  t1=$(date +%s.%N)
  local secs; secs=$(python3 -c "print(f'{$t1-$t0:.2f}')")
  if [ "$rc" = 124 ]; then warn "$name: TIMEOUT after ${limit}s: left out"; return 1; fi
  if [ "$rc" != "$expect" ]; then
    warn "$name: exit $rc (expected $expect) in ${secs}s: left out; output: $out"
    head -3 "$out" | sed 's/^/      /'; return 1
  fi
  local v; v=$(python3 bench/verdicts.py "$name" "$out" "$BULK/MANIFEST.tsv" 2>/dev/null)
  info "$name: exit $rc in ${secs}s${v:+; $v}"
  [ -n "$v" ] && echo "- $name: exit $rc, $v" >>"$RESULTS_DIR/verdicts.txt"
  return 0
}
OK_OSPECC_BULK=0 OK_OSPECC_EXT=0 OK_AJV_BULK=0 OK_CJS_BULK=0 OK_OSPECC_PC=0 OK_AJV_PC=0 OK_CJS_PC=0
if [ "$HAVE_OSPECC" = 1 ]; then
  sanity ospecc-bulk 120 1 "$OSPECC_BULK" && OK_OSPECC_BULK=1
  sanity ospecc-ext-bulk 120 1 "$OSPECC_BULK_EXT" && OK_OSPECC_EXT=1
  sanity ospecc-json-bulk 120 1 "$OSPECC check --profile core --format json $BULK" || true
  sanity ospecc-precommit 60 0 "$OSPECC_PC" && OK_OSPECC_PC=1
fi
if [ "$HAVE_AJV" = 1 ]; then
  sanity ajv-bulk 300 1 "$AJV_BULK" && OK_AJV_BULK=1
  sanity ajv-precommit 60 0 "$AJV_PC" && OK_AJV_PC=1
fi
if [ "$HAVE_CJS" = 1 ]; then
  if [ "$CJS_BULK" = 1 ]; then sanity check-jsonschema-bulk 600 1 "$CJS_BULK_CMD" && OK_CJS_BULK=1
  else info "check-jsonschema bulk: skipped (--no-cjs-bulk)"; fi
  sanity check-jsonschema-precommit 60 0 "$CJS_PC" && OK_CJS_PC=1
fi

# ---------------------------------------------------------------- timing
HF=""
if [ "${BENCH_NO_HYPERFINE:-0}" = 1 ]; then :
elif command -v hyperfine >/dev/null 2>&1; then HF=hyperfine
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  info "hyperfine missing: apt-get install -y hyperfine ..."
  timeout 300 apt-get install -y -qq hyperfine >/dev/null 2>&1 && HF=hyperfine
fi
[ -n "$HF" ] || warn "hyperfine unavailable: falling back to bench/timeit.py (a plain timing loop)"

# time NAME MIN_RUNS SHELL(1|0) LIMIT name=cmd ...
time_set() {
  local set=$1 runs=$2 shell=$3 limit=$4; shift 4
  local args=() names=() n c
  for nc in "$@"; do n=${nc%%=*}; c=${nc#*=}; names+=("$n"); args+=("$c"); done
  [ ${#args[@]} -gt 0 ] || return 0
  local json="$RESULTS_DIR/$set.json"
  echo "loadavg before $set: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS_DIR/machine.txt"
  if [ -n "$HF" ]; then
    local hf=(hyperfine --style basic --ignore-failure --warmup "$WARMUP" --min-runs "$runs"
              --export-json "$json")
    [ "$shell" = 0 ] && hf+=(-N)
    for n in "${names[@]}"; do hf+=(--command-name "$n"); done
    timeout "$limit" "${hf[@]}" "${args[@]}" | sed 's/^/   /' \
      || warn "$set: hyperfine failed or hit the ${limit}s limit"
  else
    timeout "$limit" python3 bench/timeit.py --warmup "$WARMUP" --runs "$runs" --export-json "$json" \
      $(for n in "${names[@]}"; do printf -- '--name %s ' "$n"; done) -- "${args[@]}" | sed 's/^/   /' \
      || warn "$set: timing loop failed or hit the ${limit}s limit"
  fi
}

say "timing: bulk ($BULK_COUNT files), ospecc vs ajv-cli"
set_args=()
[ "$OK_OSPECC_BULK" = 1 ] && set_args+=("ospecc=$OSPECC_BULK")
[ "$OK_OSPECC_EXT" = 1 ] && set_args+=("ospecc-ext=$OSPECC_BULK_EXT")
[ "$OK_OSPECC_BULK" = 1 ] && set_args+=("ospecc-1-thread=$OSPECC_BULK_1T")
[ "$OK_AJV_BULK" = 1 ] && set_args+=("ajv-cli=$AJV_BULK")
time_set bulk "$BULK_MIN_RUNS" 1 900 "${set_args[@]}"

if [ "$OK_CJS_BULK" = 1 ]; then
  say "timing: bulk, check-jsonschema ($CJS_BULK_RUNS runs, ~40 s each)"
  WARMUP_SAVE=$WARMUP; WARMUP=0
  time_set bulk-cjs "$CJS_BULK_RUNS" 1 $((CJS_BULK_RUNS * 200 + 60)) "check-jsonschema=$CJS_BULK_CMD"
  WARMUP=$WARMUP_SAVE
fi

say "timing: pre-commit (5 files, cold process, no shell)"
set_args=()
[ "$OK_OSPECC_PC" = 1 ] && set_args+=("ospecc=$OSPECC_PC")
[ "$OK_AJV_PC" = 1 ] && set_args+=("ajv-cli=$AJV_PC")
[ "$OK_CJS_PC" = 1 ] && set_args+=("check-jsonschema=$CJS_PC")
time_set precommit "$PC_MIN_RUNS" 0 600 "${set_args[@]}"

# ---------------------------------------------------------------- summary
say "summary"
python3 bench/summarize.py "$RESULTS_DIR" "$BULK_COUNT" | tee "$RESULTS_DIR/summary.md"
