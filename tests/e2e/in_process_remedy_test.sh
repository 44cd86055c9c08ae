#!/usr/bin/env bash
# In-process remedies (RemedyConfig::in_process): a stdlib script that polls
# inloop.remedy_request() every step is asked to roll back in place when its loss turns NaN: it
# loads the checkpoint, moves its data past the poisoned batch and acknowledges, and the run
# finishes in ONE attempt (no restart), with the abandoned steps kept as a segment, the action
# applied in process, and the outcome judged. Then a script that announces it polls but never
# applies anything: after [remedy] in_process_timeout_seconds inloop falls back to the restart.
source "$(dirname "$0")/lib.sh"

cat > train.py <<PY
import json, os, sys, time
sys.path.insert(0, "$INLOOP_SRC/python")
import inloop
APPLY = os.environ.get("APPLY", "1") == "1"
r = inloop.remedies()
windows = list(r["skip_windows"])
step = 0
if r["resume_from"]:
    step = json.load(open(r["resume_from"]))["step"]
    print("restarted from step %d" % step, flush=True)
os.makedirs("ckpt", exist_ok=True)
pid = os.getpid()
while step < 60:
    req = inloop.remedy_request()
    if req and APPLY:
        step = json.load(open(req["resume_from"]))["step"]
        windows = list(req["skip_windows"])
        print("in place: back to step %d, skip %s (pid %d)" % (step, windows, pid), flush=True)
        inloop.remedy_applied(req)
        continue
    step += 1
    bad = inloop.data_index(step, windows) == 45   # the batch at data index 45 is poisoned
    loss = float("nan") if bad else 2.0 + 1.0 / step
    inloop.log(step, {"train/loss": loss})
    if step % 10 == 0 and not bad:
        path = os.path.abspath("ckpt/step-%d.json" % step)
        json.dump({"step": step}, open(path, "w"))
        inloop.checkpoint(path, step)
    time.sleep(0.02 if APPLY or step < 40 else 0.15)
print("done pid %d" % pid, flush=True)
PY

inloop run --name inplace -- python3 train.py > out.txt 2> err.txt || fail "run failed: $(tail -5 err.txt)"
inloop show inplace --json > show.json
assert_eq "$(json 'd["status"]' < show.json)" finished "status"
assert_eq "$(json 'len(d["attempts"])' < show.json)" 1 "one attempt: no restart"
assert_contains "$(cat out.txt)" "in place: back to step 40, skip [(41, 46)]" "the script applied the rollback itself"
inloop events inplace --json > ev.json
assert_eq "$(json "[(e['data']['action'], e['data']['resume_step'], e['data'].get('in_process')) for e in d if e['kind']=='action_applied']" < ev.json)" \
  "[('rollback_skip', 40, True)]" "applied in process"
assert_eq "$(json "[e['data']['result'] for e in d if e['kind']=='action_outcome']" < ev.json)" "['passed']" "outcome judged"
assert_eq "$(json "len([e for e in d if e['kind']=='in_process_requested'])" < ev.json)" 1 "one request"
assert_eq "$(json "len([e for e in d if e['kind']=='signal_sent'])" < ev.json)" 0 "no signal sent"
inloop metrics inplace train/loss --format json > m.json
assert_eq "$(json 'd["points"][-1][0]' < m.json)" 60 "trained to the end"
assert_eq "$(json 'all(p[2] == p[2] for p in d["points"])' < m.json)" True "the shown series is the surviving one: finite"
inloop report inplace --json > report.json
assert_eq "$(json '[(r["action"], r.get("in_process"), r["next_attempt"]) for r in d["remedies"]]' < report.json)" \
  "[('rollback_skip', True, 0)]" "the report knows it was in process"
assert_eq "$(json '[(f["trigger"], f["lost_steps"]) for f in d["goodput"]["faults"]]' < report.json)" "[('nonfinite', 5)]" "goodput counts the in-process fault"
assert_contains "$(inloop report inplace)" "rolled back to step 40 in process (no restart) and skipped data 41-45" "report headline"
pass "a NaN is rolled back in place: one attempt, the checkpoint loaded by the process, outcome passed"

# Announces that it polls, never applies: the fallback restarts it after the timeout.
cat > inloop.toml <<TOML
[remedy]
in_process_timeout_seconds = 1
TOML
APPLY=0 inloop run --name noapply -- python3 train.py > out2.txt 2> err2.txt || fail "run failed: $(tail -5 err2.txt)"
inloop show noapply --json > show2.json
assert_eq "$(json 'd["status"]' < show2.json)" finished "status"
assert_eq "$(json 'len(d["attempts"])' < show2.json)" 2 "restarted after the timeout"
assert_contains "$(cat out2.txt)" "restarted from step 40" "the restart resumed from the checkpoint"
inloop events noapply --json > ev2.json
assert_eq "$(json "[e['kind'] for e in d if e['kind'] in ('in_process_requested','in_process_timeout','signal_sent','action_applied')]" < ev2.json)" \
  "['in_process_requested', 'in_process_timeout', 'signal_sent', 'action_applied']" "request, timeout, restart"
assert_eq "$(json "[e['data'].get('in_process', False) for e in d if e['kind']=='action_applied']" < ev2.json)" "[False]" "applied by the restart"
pass "a process that does not apply the request in time is restarted instead"
