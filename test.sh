#!/usr/bin/env bash
# The same set-up as demo.sh, then the whole suite (unit tests and end-to-end tests) through CTest.
# Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
cd "${INLOOP_BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)" --timeout 900 "$@"
