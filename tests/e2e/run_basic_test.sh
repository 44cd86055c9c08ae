#!/usr/bin/env bash
# inloop run: tee unchanged, exit code passthrough, params, logs per attempt, read verbs' JSON.
# The first run is observed only (--policy observe), so its NaN is recorded and not remedied.
source "$(dirname "$0")/lib.sh"

cat > train.sh <<'SH'
#!/usr/bin/env bash
echo "Loading 3 shards"
for i in 1 2 3 4 5; do
  echo "{\"step\": $((i*10)), \"loss\": 2.$((9-i)), \"lr\": 3e-4}"
done
echo "step=60 loss=1.5"
echo "warning: something" >&2
echo '{"step": 70, "loss": NaN}'
exit 3
SH
chmod +x train.sh
set +e
out=$(inloop run --name basic --policy observe -- ./train.sh --lr 3e-4 --batch-size=64 -n 5 2>stderr.txt)
code=$?
set -e
assert_eq "$code" 3 "exit code passthrough"
assert_eq "$(head -1 <<<"$out")" "Loading 3 shards" "stdout teed unchanged"
assert_contains "$(cat stderr.txt)" "warning: something" "stderr teed"
assert_contains "$(cat stderr.txt)" "inloop: run basic" "run id and name on stderr"
pass "tee and exit code"

inloop runs --json > runs.json
assert_eq "$(json 'd[0]["name"]' < runs.json)" basic "runs name"
assert_eq "$(json 'd[0]["status"]' < runs.json)" failed "runs status"
assert_eq "$(json 'd[0]["attempts"]' < runs.json)" 1 "attempts"
assert_eq "$(json 'd[0]["command"][0]' < runs.json)" ./train.sh "command"
for k in id started_at ended_at; do json "d[0]['$k']" < runs.json > /dev/null || fail "runs lacks $k"; done

inloop show basic --json > show.json
assert_eq "$(json 'd["exit_code"]' < show.json)" 3 "show exit_code"
assert_eq "$(json 'd["params"]["lr"]' < show.json)" 3e-4 "param --lr"
assert_eq "$(json 'd["params"]["batch-size"]' < show.json)" 64 "param --batch-size="
assert_eq "$(json 'd["params"]["n"]' < show.json)" 5 "param -n"
assert_eq "$(json '[s["key"] for s in d["series"]]' < show.json)" "['loss', 'lr']" "series keys"
assert_eq "$(json '[s for s in d["series"] if s["key"]=="loss"][0]["points"]' < show.json)" 7 "loss points"
assert_eq "$(json '[s for s in d["series"] if s["key"]=="loss"][0]["nonfinite"]' < show.json)" 1 "nonfinite"
assert_eq "$(json '[s for s in d["series"] if s["key"]=="loss"][0]["last_step"]' < show.json)" 70 "last_step"
log=$(json 'd["attempts"][0]["stdout_log"]' < show.json)
[[ -s "$log" ]] || fail "show names no stdout log file ($log)"
pass "show"

# Attempt logs are compressed (zstd frames) and read back through the store.
assert_eq "$(inloop logs basic --from 1 --count 1)" "Loading 3 shards" "stdout saved per attempt"
assert_eq "$(inloop logs basic --tail 1)" '{"step": 70, "loss": NaN}' "logs --tail"
assert_eq "$(inloop logs basic --stderr)" "warning: something" "stderr saved per attempt"
assert_eq "$(inloop logs basic --json | json '(d["total_lines"], d["compressed"], d["attempt"])')" "(8, True, 1)" "logs --json"
if command -v zstd > /dev/null; then
  assert_eq "$(zstd -dc "$log" | head -1)" "Loading 3 shards" "the log is a zstd stream"
fi
set +e
inloop logs basic --attempt 9 2> err.txt
code=$?
set -e
assert_eq "$code" 3 "logs of a missing attempt: not found"
assert_contains "$(cat err.txt)" "has no attempt 9" "missing attempt named"
pass "logs"

inloop metrics basic loss --format json > m.json
assert_eq "$(json 'd["points"][0][0]' < m.json)" 10 "first step"
assert_eq "$(json 'd["points"][-1][2]' < m.json)" NaN "NaN as string"
csv=$(inloop metrics basic loss --format csv)
assert_eq "$(head -1 <<<"$csv")" "step,wall_time,value" "csv header"
assert_eq "$(sed -n 2p <<<"$csv" | cut -d, -f1,3)" "10,2.8" "csv row"
pass "metrics"

inloop events basic --json > ev.json
assert_contains "$(json '[e["kind"] for e in d]' < ev.json)" attempt_exit "events"
# Detection runs on the live stream: the NaN loss is a finding at its own step.
assert_eq "$(json '[(e["step_lo"], e["data"]["series"]) for e in d if e["kind"]=="nonfinite"]' < ev.json)" "[(70, 'loss')]" "nonfinite finding"
# Observe mode records what the policy would have done, and does nothing. With no checkpoint a
# NaN loss is not restarted from the beginning: the policy would stop the run (issue 15).
assert_contains "$(json '[e["message"] for e in d if e["kind"]=="action_proposed"]' < ev.json)" "observe mode, not taken: stop: nonfinite loss at step 70: there is no good checkpoint" "observed proposal"
assert_eq "$(inloop pending --all --json | json '{a["state"] for a in d}')" "{'observed'}" "observed actions only"
pass "events"

# A crash is classified from the stderr tail, with the exception type kept.
cat > crash.py <<'PY'
print('{"step": 1, "loss": 2.0}')
raise RuntimeError("expected scalar type Float but found Half")
PY
set +e; inloop run --name crash -- python3 crash.py > /dev/null 2>&1; code=$?; set -e
assert_eq "$code" 1 "python crash exit code"
assert_eq "$(inloop show crash --json | json 'd["attempts"][0]["crash_class"]')" python_exception "crash class"
assert_eq "$(inloop events crash --json | json '[e["data"]["exception_type"] for e in d if e["kind"]=="crash"]')" "['RuntimeError']" "exception type"

# Errors: unknown run -> exit 3, one line.
set +e
err=$(inloop show nosuchrun 2>&1); code=$?
set -e
assert_eq "$code" 3 "not found exit code"
assert_eq "$(wc -l <<<"$err")" 1 "one-line error"
# Success passes 0 through.
inloop run --name ok -- true 2>/dev/null || fail "true should exit 0"
pass "errors"
