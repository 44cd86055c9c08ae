#!/usr/bin/env bash
# The fuzz check of ./test.sh: builds the libFuzzer targets (fuzz/CMakeLists.txt, clang) into
# build-fuzz and runs each one a fixed number of inputs from its seed corpus (tests/fuzz/<name>/)
# with a fixed seed, so a run is the same every time and takes a few seconds per target.
#   fuzz/run_fuzz.sh [TARGET...]        (default: every target)
# Environment: INLOOP_FUZZ_RUNS (inputs per target, default per target below),
# INLOOP_FUZZ_BUILD_DIR (default build-fuzz). Exits 0 with a note when clang or libFuzzer is
# missing; non-zero when a target crashes, leaks, trips a sanitizer, or runs past its timeout,
# naming the target and the saved crash input. The corpus under tests/fuzz is only read: new
# inputs go to a scratch folder that is removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${INLOOP_FUZZ_BUILD_DIR:-build-fuzz}

if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz: skipped: clang++ is not installed (setup.sh installs clang and libclang-rt-14-dev)"
  exit 0
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' >"$probe/p.cc"
if ! clang++ -fsanitize=fuzzer,address,undefined "$probe/p.cc" -o "$probe/p" >/dev/null 2>&1; then
  echo "fuzz: skipped: clang++ cannot link -fsanitize=fuzzer (install libclang-rt-14-dev)"
  exit 0
fi

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  generator=()
  if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
  CC=clang CXX=clang++ cmake -S fuzz -B "$BUILD" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" -j"$(nproc)" >/dev/null

# Inputs per target: 1 to 4 s each on the 2-core VM (about 17 s in all, two at a time), a few
# times that while other builds share the cores;
# the file-based importers (a scratch file or folder per input) are the slow ones.
declare -A RUNS=(
  [audit_fuzz]=40000 [chunk_decode_fuzz]=100000 [chunk_roundtrip_fuzz]=20000 [csv_fuzz]=600
  [http_target_fuzz]=60000 [ingest_body_fuzz]=60000 [json_metrics_fuzz]=60000
  [line_parser_fuzz]=4000 [mlflow_fuzz]=300 [sdk_message_fuzz]=100000 [wandb_api_fuzz]=20000
  [text_import_fuzz]=300 [tfevents_fuzz]=2500 [tfrecord_fuzz]=150000
  [toml_config_fuzz]=1000 [trainer_state_fuzz]=1000 [wal_fuzz]=100000 [wandb_fuzz]=20000
  [yaml_fuzz]=20000
)
targets=("$@")
if ((${#targets[@]} == 0)); then mapfile -t targets <"$BUILD/fuzz_targets.txt"; fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p "$BUILD/crashes" "$BUILD/logs"

# One target: its report (an ok line, or what failed and where its input and log are) goes to
# $BUILD/logs/<target>.result; exits non-zero when it failed.
fuzz_one() {
  local t=$1 corpus=tests/fuzz/$1 result=$BUILD/logs/$1.result
  if [ ! -d "$corpus" ]; then echo "fuzz: $t: no seed corpus at $corpus" >"$result"; return 1; fi
  local runs=${INLOOP_FUZZ_RUNS:-${RUNS[$t]:-10000}}
  local scratch log=$BUILD/logs/$t.log start=$EPOCHREALTIME rc=0
  scratch=$(mktemp -d "$BUILD/scratch.XXXXXX")
  # libFuzzer writes new inputs to the first folder (the scratch one) and only reads the corpus.
  # -timeout: one input past 10 s is a hang; `timeout`: the whole run never passes 120 s.
  TMPDIR=$scratch timeout -k 5 120 "$BUILD/$t" -seed=1 -runs="$runs" -max_len=4096 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$BUILD/crashes/$t-" \
    "$scratch" "$corpus" >"$log" 2>&1 || rc=$?
  local secs stats cov
  secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  rm -rf "$scratch"
  stats=$(awk '/^stat::number_of_executed_units/ {print $2}' "$log")
  cov=$( (grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" || true) | tail -n 1)
  if [ "$rc" -ne 0 ]; then
    local crash what
    crash=$( (grep -oE "Test unit written to [^ ]+" "$log" || true) | tail -n 1 | sed 's/Test unit written to //')
    what=$(grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|fuzz contract violated' "$log" || true)
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then what="timed out after 120 s"; fi
    {
      echo "fuzz: FAILED $t (exit $rc): ${what:-see $log}"
      if [ -n "$crash" ]; then echo "fuzz:   crash input: $crash (reproduce: $BUILD/$t $crash)"; fi
      echo "fuzz:   log: $log"
      tail -n 30 "$log" | sed 's/^/    /'
    } >"$result"
    return 1
  fi
  printf 'fuzz: ok %-22s %6s inputs  %5s s  %s\n' "$t" "${stats:-?}" "$secs" "$cov" >"$result"
}

# Each target is one single-threaded process: as many at once as there are cores. Reports are
# printed in the targets' order once all have run.
jobs_max=$(nproc)
running=0
rm -f "$BUILD"/logs/*.result
for t in "${targets[@]}"; do
  [ -n "$t" ] || continue
  if ((running >= jobs_max)); then wait -n || true; running=$((running - 1)); fi
  fuzz_one "$t" &
  running=$((running + 1))
done
wait || true
failed=()
for t in "${targets[@]}"; do
  [ -n "$t" ] || continue
  result=$BUILD/logs/$t.result
  if [ -s "$result" ] && head -n 1 "$result" | grep -q '^fuzz: ok '; then
    cat "$result"
  else
    if [ -s "$result" ]; then cat "$result" >&2; else echo "fuzz: FAILED $t: no report" >&2; fi
    failed+=("$t")
  fi
  rm -f "$result"
done
if ((${#failed[@]})); then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
