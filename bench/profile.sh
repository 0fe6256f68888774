#!/usr/bin/env bash
# Where does `ospecc check --profile core` spend its time on the bulk set?
#
#   bench/profile.sh [--no-build] [--callgrind]
#
# 1. perf stat (5 runs): wall, task-clock (CPU time over all threads), CPUs used, page faults.
# 2. perf record (cpu-clock sampling; this VM exposes no hardware counters): flat self-time by symbol.
# 3. --callgrind: valgrind callgrind on the same run (instruction counts, deterministic on a noisy
#    machine; ~30-60x slower): inclusive cost per function, i.e. per pipeline phase.
# Output goes to target/bench/profile/ and the top entries are printed.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD=1 CALLGRIND=0
for a in "$@"; do
  case "$a" in
    --no-build) BUILD=0 ;;
    --callgrind) CALLGRIND=1 ;;
    *) echo "usage: bench/profile.sh [--no-build] [--callgrind]" >&2; exit 2 ;;
  esac
done
OSPECC="${OSPECC:-$ROOT/target/release/ospecc}"
OUT="$ROOT/target/bench/profile"
mkdir -p "$OUT"
[ "$BUILD" = 1 ] && { timeout 1800 cargo build --release --quiet || exit 1; }
command -v perf >/dev/null || { echo "perf not installed (apt-get install linux-perf)"; exit 1; }

DATA="$(mktemp -d "${TMPDIR:-/tmp}/ospecc-prof.XXXXXX")"
trap 'rm -rf "$DATA"' EXIT
python3 bench/gen_ospec.py "$DATA/bulk" --count "${BULK_COUNT:-2000}" --seed 20250101
CMD=("$OSPECC" check --profile core "$DATA/bulk")
"${CMD[@]}" >/dev/null 2>&1   # warm the page cache

echo "== perf stat (5 runs)"
timeout 300 perf stat -r 5 -e task-clock,context-switches,cpu-migrations,page-faults \
  -- "${CMD[@]}" 2>&1 >/dev/null | tee "$OUT/perf-stat.txt" | grep -v '^$'

echo "== perf record: flat self time, top 30 symbols"
timeout 300 perf record -q -F 4999 -g -o "$OUT/perf.data" -- "${CMD[@]}" >/dev/null 2>&1
perf report -i "$OUT/perf.data" --stdio --no-children --sort dso,symbol -g none 2>/dev/null \
  | grep -v '^#' | grep -v '^$' | head -30 | tee "$OUT/perf-top.txt"
echo "== perf record: by shared object"
perf report -i "$OUT/perf.data" --stdio --no-children --sort dso -g none 2>/dev/null \
  | grep -v '^#' | grep -v '^$' | head -8

if [ "$CALLGRIND" = 1 ]; then
  command -v valgrind >/dev/null || { echo "valgrind not installed"; exit 1; }
  echo "== callgrind: inclusive instruction counts, top 40"
  timeout 900 valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" \
    "${CMD[@]}" >/dev/null 2>"$OUT/callgrind.log"
  callgrind_annotate --inclusive=yes "$OUT/callgrind.out" 2>/dev/null \
    | sed -n '/^-----.*$/,$p' | grep -v '^-' | grep -v '^$' | head -45 | cut -c1-200 | tee "$OUT/callgrind-inclusive.txt"
  echo "== callgrind: self instruction counts, top 25"
  callgrind_annotate "$OUT/callgrind.out" 2>/dev/null \
    | sed -n '/^-----.*$/,$p' | grep -v '^-' | grep -v '^$' | head -28 | cut -c1-200 | tee "$OUT/callgrind-self.txt"
fi
