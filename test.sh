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
# Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
# One test more than there are cores: the end-to-end tests spend part of their time waiting on
# the processes they drive (measured on 2 cores: 19% idle at -j3 against about a third at -j2;
# the main tests 335 s -> 266 s, the sanitizer job's 341 s -> 295 s; -j4 gained nothing more).
JOBS=$(( $(nproc) + 1 ))
(cd "${INLOOP_BUILD_DIR:-build}" && ctest --output-on-failure -j"$JOBS" --timeout 900 "$@")

if [ "${INLOOP_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== sanitizer job (ASan + UBSan) =="
  INLOOP_BUILD_DIR=build-asan INLOOP_BUILD_TYPE=Debug \
    INLOOP_CMAKE_ARGS="-DINLOOP_SANITIZE=ON -DINLOOP_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS_DEBUG=-g1" ./setup.sh
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export INLOOP_DASHBOARD_PERF=0
  (cd build-asan && ctest --output-on-failure -j"$JOBS" --timeout 900 -LE "python|torch|load|slurm|slow" "$@")
fi

if [ "${INLOOP_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzz check (libFuzzer, fixed seed and runs) =="
  fuzz/run_fuzz.sh
fi
