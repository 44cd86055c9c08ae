#!/usr/bin/env bash
# The quick subset of the doctor's scenario bench (bench/doctor/scenarios.py, 22 scenarios in
# the bench): a clean run, a spike that heals, NaN with SDK checkpoints, NaN from step-less HF
# dicts, NaN and a lasting spike with no checkpoint at all, and a crash. Each must get exactly
# the expected actions and exit code. No timing enters the expectations.
source "$(dirname "$0")/lib.sh"
out=$("$PY" "$INLOOP_SRC/bench/doctor/scenarios.py" "$INLOOP_BIN" --quick 2>&1) \
  || fail "doctor scenarios: $out"
echo "$out"
assert_contains "$out" "correct actions 7/7" "summary"
pass "doctor scenarios (quick)"
