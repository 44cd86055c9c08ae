#!/usr/bin/env bash
# A short run of the kill -9 harness (bench/crash/kill9_trials.py runs 100 + 100 trials):
# 10 kills of `inloop run` during ingest and 3 of `inloop serve` under HTTP ingest. Each trial
# checks that the training does not outlive inloop, the run reads interrupted, the stored points
# are a gap-free exact prefix, and no point answered 2xx by the server is lost. The bound on
# "printed long enough before the kill" is generous here (5 s) because the suite shares a loaded
# machine; the bench uses 1 s.
source "$(dirname "$0")/lib.sh"
out=$("$PY" "$INLOOP_SRC/bench/crash/kill9_trials.py" "$INLOOP_BIN" --run-trials 10 \
  --serve-trials 3 --bound 5 --seed "${INLOOP_KILL9_SEED:-7}" 2>&1) || fail "kill -9 trials: $out"
echo "$out"
assert_contains "$out" "failed trials 0" "summary"
pass "kill -9 trials"
