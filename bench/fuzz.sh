#!/usr/bin/env bash
# Fuzzing campaign (issue 16): runs every libFuzzer target (fuzz/) for SECONDS each (default
# 600), one after another (-jobs=1, one core), each from a scratch copy of its seed corpus
# (tests/fuzz/<name>/ is only read), and records per target the executions, exec/s, libFuzzer's
# final coverage (`cov:` edges, `ft:` features), the corpus it grew and the findings (crash,
# leak, timeout, OOM inputs; saved under $WORK/artifacts) in the table between the fuzz markers
# of bench/RESULTS.md.
# Usage: bench/fuzz.sh [SECONDS] [TARGET...]
#   INLOOP_FUZZ_PARALLEL=2 runs two targets at a time (a shared 2-core machine: at most 2).
#   INLOOP_FUZZ_KEEP=1 keeps the work folder (grown corpora, logs, artifacts).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${1:-600}
shift || true
BUILD=${INLOOP_FUZZ_BUILD_DIR:-build-fuzz}
PAR=${INLOOP_FUZZ_PARALLEL:-1}

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S fuzz -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" -j"$(nproc)" >/dev/null
targets=("$@")
if ((${#targets[@]} == 0)); then mapfile -t targets <"$BUILD/fuzz_targets.txt"; fi

WORK=$(mktemp -d /tmp/inloop-fuzz-XXXXXX)
if [ "${INLOOP_FUZZ_KEEP:-0}" != 1 ]; then trap 'rm -rf "$WORK"' EXIT; fi
echo "fuzz bench: ${#targets[@]} targets x ${SECONDS_PER} s, $PAR at a time; work in $WORK" >&2

export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

run_one() {
  local t=$1 dir=$WORK/$1
  mkdir -p "$dir/corpus" "$dir/artifacts" "$dir/tmp"
  cp tests/fuzz/"$t"/* "$dir/corpus/" 2>/dev/null || true
  local seeds
  seeds=$(find "$dir/corpus" -type f | wc -l)
  # -fork=1: a crash does not end the campaign; every finding is kept and counted.
  TMPDIR=$dir/tmp timeout -k 10 $((SECONDS_PER + 120)) "$BUILD/$t" -fork=1 -ignore_crashes=1 \
    -ignore_timeouts=1 -ignore_ooms=1 -max_total_time="$SECONDS_PER" -max_len=4096 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
    "$dir/corpus" >"$dir/log" 2>&1 || true
  local execs cov ft corpus findings first
  # Fork mode's status lines ("#N: cov: C ft: F corp: ...") can share a line with NEW_FUNC
  # output, so the last "#N: cov: C ft: F" anywhere is the final one.
  local last
  last=$( (grep -oE '#[0-9]+: cov: [0-9]+ ft: [0-9]+' "$dir/log" || true) | tail -n 1)
  execs=$(awk '/^stat::number_of_executed_units/ {print $2}' "$dir/log" | tail -n 1)
  [ -n "$execs" ] || execs=$(echo "$last" | sed -E 's/^#([0-9]+):.*/\1/')
  cov=$(echo "$last" | sed -nE 's/.*cov: ([0-9]+).*/\1/p')
  ft=$(echo "$last" | sed -nE 's/.*ft: ([0-9]+).*/\1/p')
  corpus=$(find "$dir/corpus" -type f | wc -l)
  findings=$(find "$dir/artifacts" -type f | wc -l)
  first=$( (grep -m1 -hoE 'ERROR: [A-Za-z]+: [a-z-]+( on [a-z-]+)?|runtime error: [^/]*|fuzz contract violated: [^(]*' "$dir/log" || true) | head -n 1)
  printf '| %s | %s | %s | %s | %s | %s -> %s | %s%s |\n' "$t" "$SECONDS_PER" "${execs:-?}" \
    "$(awk -v e="${execs:-0}" -v s="$SECONDS_PER" 'BEGIN { printf "%.0f", e / s }')" \
    "${cov:-?} / ${ft:-?}" "$seeds" "$corpus" "$findings" "${first:+ ($first)}" >"$dir/row"
  cat "$dir/row" >&2
}

running=0
for t in "${targets[@]}"; do
  [ -n "$t" ] || continue
  run_one "$t" &
  running=$((running + 1))
  if ((running >= PAR)); then wait -n; running=$((running - 1)); fi
done
wait

table=$WORK/table.md
{
  echo "<!-- fuzz:begin -->"
  echo "Measured $(date -u +%Y-%m-%d) by \`bench/fuzz.sh ${SECONDS_PER}\` ($PAR at a time on the shared"
  echo "2-core VM, clang 14, ASan + UBSan, -max_len=4096). cov/ft: libFuzzer's final edge and"
  echo "feature counts; findings: crash/leak/timeout/OOM inputs saved."
  echo
  echo "| target | seconds | executions | exec/s | cov / ft | corpus (seeds -> grown) | findings |"
  echo "|---|---|---|---|---|---|---|"
  for t in "${targets[@]}"; do [ -f "$WORK/$t/row" ] && cat "$WORK/$t/row"; done
  echo "<!-- fuzz:end -->"
} >"$table"
cat "$table"

results=bench/RESULTS.md
if grep -q '<!-- fuzz:begin -->' "$results"; then
  awk -v tf="$table" '
    /<!-- fuzz:begin -->/ { while ((getline l < tf) > 0) print l; skip = 1; next }
    /<!-- fuzz:end -->/ { skip = 0; next }
    !skip { print }' "$results" >"$WORK/results.md"
  cp "$WORK/results.md" "$results"
else
  { echo; echo "## Fuzzing (issue 16)"; echo; cat "$table"; } >>"$results"
fi
echo "fuzz bench: table written to $results" >&2
