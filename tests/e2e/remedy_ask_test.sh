#!/usr/bin/env bash
# --policy ask against a real PyTorch run: the proposed remedy waits as `pending` (the run keeps
# its single attempt meanwhile) until `inloop approve` applies it or `inloop deny` refuses it.
# Then the escalation ladder: a NaN that recurs at the same step whatever is done (the example's
# --faults-persist) is rolled back, then retried with a cut learning rate, then stopped: exit 9,
# status failed, and the reason on the timeline. Never a restart loop.
source "$(dirname "$0")/lib.sh"
"$PY" -c "import torch" 2>/dev/null || { echo "SKIP: torch not importable by $PY"; exit 0; }

# spike_patience = 0: the deny case's spike@90 (seed 3) heals within the default patience by a
# hair (0.1% under the band on the next logged step); this test is about ask/approve/deny.
printf '[remedy]\nspike_patience = 0\n' > inloop.toml

train() {
  echo "$PY" "$INLOOP_SRC/examples/charlm/train.py" --steps 120 --ckpt-every 40 --log-every 2 \
    --eval-every 60 --eval-batches 4 --threads 1 --seed 3 --n-embd 64 --seq-len 32 "$@"
}
pending_count() { inloop pending --json 2>/dev/null | json 'len(d)' 2>/dev/null || true; }
has_pending() { [ "$(pending_count)" == 1 ]; }
events() { inloop events "$1" --json; }
# ask_run NAME TRAIN-ARGS...: starts an ask-mode run in the background (its pid in $pid) and
# waits for its proposal. --sleep-per-step keeps the process alive a while after the fault, as a
# real run would be.
ask_run() {
  local name=$1; shift
  inloop run --name "$name" --policy ask -- $(train "$@" --sleep-per-step 0.15) > "$name.out" 2> "$name.err" &
  pid=$!
  wait_for 900 has_pending || fail "$name: no pending action after the fault: $(tail -5 "$name.err")"
}
# finish_run NAME: waits for the background run; it must exit 0 and end `finished`.
finish_run() {
  local code
  set +e; wait "$pid"; code=$?; set -e
  assert_eq "$code" 0 "$1 run exit code ($(tail -3 "$1.err"))"
  inloop show "$1" --json > "$1.show.json"
  assert_eq "$(json 'd["status"]' < "$1.show.json")" finished "$1 run status"
}

# ---- approve: the NaN at step 90 waits for a human; approving rolls back to step 80.
ask_run approved --out ck-a --inject nan@90
inloop pending --json > p.json
assert_eq "$(json 'd[0]["action"]' < p.json)" rollback_skip "proposed action"
assert_eq "$(json 'd[0]["trigger"]' < p.json)" nonfinite "trigger"
assert_eq "$(json 'd[0]["step"]' < p.json)" 90 "step"
id=$(json 'd[0]["id"]' < p.json)
sleep 1  # it waits: nothing is applied without a decision
assert_eq "$(events approved | json '[e["kind"] for e in d].count("attempt_start")')" 1 "still one attempt while pending"
assert_eq "$(pending_count)" 1 "still pending"
assert_contains "$(cat approved.err)" "inloop approve $id" "the proposal says how to decide"
inloop approve "$id" --reason "looked at the batch" > /dev/null
finish_run approved
assert_eq "$(json 'len(d["attempts"])' < approved.show.json)" 2 "approved run: two attempts"
events approved > a.events.json
assert_contains "$(json '[e["kind"] for e in d]' < a.events.json)" "action_approved" "approval on the timeline"
assert_eq "$(json "[e['data']['start_step'] for e in d if e['kind']=='action_applied']" < a.events.json)" "[81]" "applied: attempt 2 from step 81"
assert_eq "$(inloop pending --all --json | json '[(a["id"], a["state"]) for a in d]')" "[($id, 'applied')]" "action applied"
pass "ask: pending until approved, then rollback_skip applied"

# ---- deny: the spike is recorded, the process is left alone and finishes on its own.
ask_run denied --out ck-d --inject spike@90
id=$(inloop pending --json | json 'd[0]["id"]')
assert_eq "$(inloop pending --json | json 'd[0]["trigger"]')" loss_spike "spike proposal"
inloop deny "$id" --reason "noise" > /dev/null
finish_run denied
assert_eq "$(json 'len(d["attempts"])' < denied.show.json)" 1 "denied run: one attempt"
assert_eq "$(inloop pending --all --run denied --json | json '[a["state"] for a in d]')" "['denied']" "action denied"
assert_contains "$(events denied | json '[e["kind"] for e in d]')" "action_denied" "denial on the timeline"
assert_eq "$(events denied | json '[e for e in d if e["kind"]=="action_applied"]')" "[]" "nothing applied"
pass "ask: deny leaves the run alone"

# ---- the ladder: rollback_skip, then lr_cut, then stop.
set +e
inloop run --name ladder -- $(train --out ck-l --inject nan@90 --faults-persist) > ladder.out 2> ladder.err
code=$?
set -e
assert_eq "$code" 9 "a policy stop exits 9 ($(tail -3 ladder.err))"
inloop show ladder --json > l.json
assert_eq "$(json 'd["status"]' < l.json)" failed "ladder status"
assert_eq "$(json 'len(d["attempts"])' < l.json)" 3 "ladder: three attempts"
events ladder > l.events.json
assert_eq "$(json "[e['data']['action'] for e in d if e['kind']=='action_applied']" < l.events.json)" "['rollback_skip', 'lr_cut', 'stop']" "the ladder"
assert_eq "$(json "[e['data']['lr_scale'] for e in d if e['kind']=='attempt_start' and e['data']['attempt']==3]" < l.events.json)" "[0.5]" "attempt 3 at half the lr"
assert_contains "$(cat ladder.out)" "steps 81..120, lr 3.00e-03 x 0.5" "the script was told to cut its lr"
assert_contains "$(cat ladder.err)" "the same failure recurs at the same step after every remedy" "stop reason printed"
pass "ladder: rollback_skip -> lr_cut -> stop (exit 9)"
