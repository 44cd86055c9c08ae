#!/usr/bin/env bash
# inloop pending / approve / deny: the empty store, unknown ids and their exit codes, then a
# pending action written straight into the catalog (as the supervisor's AddAction would, table
# in docs/store_format.md) approved and denied from the command line: one decision only, an
# event on the run's timeline, JSON output.
source "$(dirname "$0")/lib.sh"

inloop run --name tiny -- bash -c 'echo "step=1 loss=2"' > /dev/null 2>&1 || fail "tiny run failed"
run_id=$(inloop runs --json | json 'd[0]["id"]')

# Nothing pending.
out=$(inloop pending)
assert_eq "$out" "no pending actions" "empty pending"
assert_eq "$(inloop pending --json | json 'd')" "[]" "empty pending json"
assert_eq "$(inloop pending --all)" "no actions" "empty --all"
assert_contains "$(inloop pending --run tiny)" "no pending actions for run tiny" "empty for a run"
pass "pending on an empty store"

# Unknown ids, unknown runs, bad arguments: distinct exit codes, one line on stderr.
for verb in approve deny; do
  set +e
  inloop "$verb" 99 > out.txt 2> err.txt; code=$?
  set -e
  assert_eq "$code" 3 "$verb unknown id exit code"
  assert_contains "$(cat err.txt)" "no action 99 (inloop pending lists them)" "$verb unknown id message"
  assert_eq "$(wc -l < err.txt)" 1 "$verb: one line on stderr"
  [ ! -s out.txt ] || fail "$verb unknown id printed on stdout: $(cat out.txt)"
done
set +e
inloop pending --run no-such-run > /dev/null 2> err.txt; code=$?
inloop approve seven > /dev/null 2>&1; code2=$?
inloop approve > /dev/null 2>&1; code3=$?
set -e
assert_eq "$code" 3 "pending --run unknown run"
assert_eq "$code2" 2 "non-numeric id is a usage error"
assert_eq "$code3" 2 "missing id is a usage error"
pass "unknown ids and runs"

# Two pending actions, as a supervisor in ask mode leaves them.
python3 - "$INLOOP_STORE/inloop.db" "$run_id" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
now = time.time()
rows = [
    ("rollback_skip", "loss_spike", 1200, "loss 9.1 at step 1200, 6x its running median",
     '{"checkpoint": "ckpt/step-1000.pt", "skip": [1190, 1210]}'),
    ("lr_cut", "grad_explosion", None, "grad norm 1e4", '{"lr_scale": 0.5}'),
]
for action, trigger, step, reason, data in rows:
    db.execute("INSERT INTO actions(run_id, created_at, action, trigger, step, reason, state, "
               "decided_by, decided_at, note, data) VALUES(?,?,?,?,?,?,'pending','',0,'',?)",
               (sys.argv[2], now - 7200, action, trigger, step, reason, data))
db.commit()
PY
out=$(inloop pending)
assert_contains "$(head -1 <<<"$out")" "ID" "header"
for col in RUN ACTION TRIGGER STEP AGE REASON; do assert_contains "$(head -1 <<<"$out")" "$col" "column $col"; done
assert_contains "$out" "tiny ($run_id)" "run name and id"
assert_contains "$out" "rollback_skip" "action"
assert_contains "$out" "loss_spike" "trigger"
assert_contains "$out" "1200" "step"
assert_contains "$out" "2h00m" "age"
inloop pending --json > p.json
assert_eq "$(json 'len(d)' < p.json)" 2 "two pending"
assert_eq "$(json '[a["id"] for a in d]' < p.json)" "[1, 2]" "oldest first"
assert_eq "$(json 'd[0]["data"]["skip"]' < p.json)" "[1190, 1210]" "data is a nested object"
assert_eq "$(json 'd[1]["step"]' < p.json)" None "unknown step is null"
assert_eq "$(json 'd[0]["run_name"]' < p.json)" tiny "run name"
for k in id run_id created_at action trigger step reason state decided_by decided_at note data; do
  json "d[0]['$k']" < p.json > /dev/null || fail "pending --json lacks $k"
done
pass "pending lists them"

out=$(USER=alice inloop approve 1 --reason "checkpoint looks fine")
assert_eq "$out" "approved action 1 (rollback_skip for run tiny): the supervisor applies it within a second" "approve line"
set +e
inloop deny 1 > /dev/null 2> err.txt; code=$?
set -e
assert_eq "$code" 4 "deciding twice exit code"
assert_contains "$(cat err.txt)" "action 1 is already approved" "already decided message"
assert_eq "$(wc -l < err.txt)" 1 "already decided: one line on stderr"
USER=bob inloop deny 2 --json > d.json
assert_eq "$(json 'd["state"]' < d.json)" denied "deny --json state"
assert_eq "$(json 'd["decided_by"].startswith("cli:bob@")' < d.json)" True "decided_by"
assert_eq "$(json 'd["data"]["lr_scale"]' < d.json)" 0.5 "deny --json data"
assert_eq "$(inloop pending)" "no pending actions" "nothing left pending"
inloop pending --all --json > all.json
assert_eq "$(json '[a["state"] for a in d]' < all.json)" "['approved', 'denied']" "--all states"
assert_eq "$(json 'd[0]["note"]' < all.json)" "checkpoint looks fine" "note kept"
assert_contains "$(inloop pending --all)" "STATE" "--all shows the state"
pass "approve and deny"

inloop events tiny --json > ev.json
assert_eq "$(json '[e["kind"] for e in d if e["kind"].startswith("action_")]' < ev.json)" "['action_approved', 'action_denied']" "decision events"
assert_eq "$(json '[e for e in d if e["kind"]=="action_approved"][0]["data"]["action_id"]' < ev.json)" 1 "event data action_id"
assert_eq "$(json '[e for e in d if e["kind"]=="action_approved"][0]["data"]["note"]' < ev.json)" "checkpoint looks fine" "event data note"
assert_eq "$(json '[e for e in d if e["kind"]=="action_denied"][0]["severity"]' < ev.json)" warning "deny severity"
assert_contains "$(json '[e for e in d if e["kind"]=="action_approved"][0]["message"]' < ev.json)" "alice@" "event names the user"
pass "decisions on the run's timeline"
