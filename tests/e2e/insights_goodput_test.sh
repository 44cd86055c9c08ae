#!/usr/bin/env bash
# Goodput across runs in `inloop insights`: a clean run and one rolled back for a NaN (SDK
# checkpoints every 50 steps, the bad batch at 120 -> back to 100). Only the restarted run is
# costed: one nonfinite fault, lost steps, an ETTR below 1, in the text and in --json.
source "$(dirname "$0")/lib.sh"
W="$INLOOP_SRC/bench/doctor/workload.py"
inloop run --name clean -- "$PY" "$W" --steps 150 --step-seconds 0.002 --out ck-clean > /dev/null 2>&1 \
  || fail "the clean run failed"
inloop run --name nan -- "$PY" "$W" --steps 150 --step-seconds 0.002 --inject nan@120 --out ck-nan \
  > /dev/null 2>&1 || fail "the NaN run did not end well"
inloop insights --json > ins.json
assert_eq "$(json 'd["goodput"]["restarted_runs"]' < ins.json)" 1 "restarted runs"
assert_eq "$(json 'd["goodput"]["faults_by_trigger"]' < ins.json)" "{'nonfinite': 1}" "faults by trigger"
assert_eq "$(json 'd["goodput"]["worst_run"]' < ins.json)" nan "worst run"
assert_eq "$(json '0 < d["goodput"]["mean_ettr"] < 1 and d["goodput"]["lost_steps"] > 0' < ins.json)" True "ETTR and lost steps"
out=$(inloop insights)
assert_contains "$out" "Goodput across runs" "text section"
assert_contains "$out" "1 of 2 runs restarted (1 fault: 1 nonfinite)" "text summary"
pass "goodput across runs"
