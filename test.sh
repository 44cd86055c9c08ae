#!/usr/bin/env bash
# The same set-up as demo.sh, then the whole suite through CTest: unit tests (GoogleTest), the
# Python SDK tests, and end-to-end tests that drive the built binary against real processes.
# Then the sanitizer job: the unit tests and the end-to-end tests again, built with
# AddressSanitizer and UndefinedBehaviorSanitizer (skip with INLOOP_SKIP_SANITIZE=1). Not repeated
# there: the Python SDK's own tests (no C++), the tests whose time is PyTorch (label torch; their
# supervisor paths run there with stdlib workloads), two tests whose time is Python workloads over
# paths other sanitized tests take (label slow), the load test (label load: 100 supervised runs
# and 50 SSE clients, main job only), the Slurm cluster (label slurm: its time is the daemons'),
# and the dashboard test's first-paint measurement (a timing, meaningless under the sanitizers).
# Last, the fuzz check: every libFuzzer target (fuzz/, a small clang build of its own in
# build-fuzz) runs a fixed number of inputs with a fixed seed from its corpus under tests/fuzz
# (fuzz/run_fuzz.sh; a few seconds each; skip with INLOOP_SKIP_FUZZ=1).
#
# The sanitizer build runs while the main tests run, and the fuzz build while the sanitizer tests
# run, each at the lowest CPU priority (nice 19): the tests spend much of their time waiting on
# the processes they drive, and a niced build takes only the CPU they leave idle, so the tests
# run as they would alone and the next build is mostly done when they end.
# Exits non-zero when any test fails or a build fails.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
JOBS=$(nproc)

background=()
stop_background() {
  for pid in "${background[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
}
trap stop_background EXIT
# Starts "$@" niced, in a process group of its own (job control, set -m) so that it can be
# stopped whole, with its output in $log; sets $started to its pid. Not setsid: a new session is
# a new scheduling autogroup on Linux, which shares the CPU equally with this one whatever its
# nice value (measured: the main tests took 2-10x as long beside a setsid build).
start_niced() {
  local log=$1; shift
  set -m
  nice -n 19 "$@" >"$log" 2>&1 &
  started=$!
  set +m
  background+=("$started")
}
# Waits for the build started as $1 and shows its end; the whole log and exit 1 when it failed.
finish_build() {
  local pid=$1 log=$2 what=$3
  if ! wait "$pid"; then
    echo "test.sh: the $what failed:" >&2
    cat "$log" >&2
    exit 1
  fi
  tail -n 3 "$log"
}

SANITIZE=$([ "${INLOOP_SKIP_SANITIZE:-0}" != 1 ] && echo 1 || echo 0)
FUZZ=$([ "${INLOOP_SKIP_FUZZ:-0}" != 1 ] && echo 1 || echo 0)
mkdir -p build
if [ "$SANITIZE" = 1 ]; then
  start_niced build/sanitizer-build.log env INLOOP_BUILD_DIR=build-asan INLOOP_BUILD_TYPE=Debug \
    INLOOP_CMAKE_ARGS="-DINLOOP_SANITIZE=ON -DINLOOP_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS_DEBUG=-g1" \
    ./setup.sh
  asan_build=$started
fi

(cd "${INLOOP_BUILD_DIR:-build}" && ctest --output-on-failure -j"$JOBS" --timeout 900 "$@")

if [ "$SANITIZE" = 1 ]; then
  echo "== sanitizer job (ASan + UBSan) =="
  finish_build "$asan_build" build/sanitizer-build.log "sanitizer build"
  if [ "$FUZZ" = 1 ]; then
    start_niced build/fuzz-build.log env INLOOP_FUZZ_BUILD_ONLY=1 fuzz/run_fuzz.sh
    fuzz_build=$started
  fi
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export INLOOP_DASHBOARD_PERF=0
  (cd build-asan && ctest --output-on-failure -j"$JOBS" --timeout 900 -LE "python|torch|load|slurm|slow" "$@")
fi

if [ "$FUZZ" = 1 ]; then
  echo "== fuzz check (libFuzzer, fixed seed and runs) =="
  if [ -n "${fuzz_build:-}" ]; then finish_build "$fuzz_build" build/fuzz-build.log "fuzz build"; fi
  fuzz/run_fuzz.sh
fi
