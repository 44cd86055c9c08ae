#!/usr/bin/env bash
# Per-key precedence of SDK values over printed ones (ingest/source_precedence.h). A stdlib script
# that calls the SDK only for inloop.checkpoint(...) and prints its loss: every printed metric
# stays recorded after the SDK connects, so a poisoned batch's NaN on the printed loss is seen and
# the run rolls back to the checkpoint it announced through the SDK. (Before, the first SDK
# message switched line parsing off for the whole process, and this run "finished" with the last
# loss printed before its first checkpoint.) Then a script whose SDK stops logging its loss while
# it keeps printing it: the printed values are recorded again and a metric_source event says so.
source "$(dirname "$0")/lib.sh"

cat > train.py <<PY
import os, sys, time
sys.path.insert(0, "$INLOOP_SRC/python")
import inloop
# The script's own resume and skip handling, from the environment (no SDK remedies()).
resume = os.environ.get("INLOOP_RESUME_FROM")
windows = [tuple(int(x) for x in w.split(":")) for w in os.environ.get("INLOOP_SKIP", "").split(",") if w]
start = int(open(resume).read()) if resume else 0
if resume:
    print("resumed from %s at step %d, skip %s" % (resume, start, windows), flush=True)
def data_index(k):
    for s, t in reversed(windows):
        if k >= s:
            k += t - s
    return k
os.makedirs("ckpt", exist_ok=True)
poisoned = False
for step in range(start + 1, 61):
    poisoned = poisoned or data_index(step) == 45  # the batch at data index 45 ruins the weights
    loss = float("nan") if poisoned else 2.0 + 1.0 / step + 0.001 * (step % 3)
    print("step %d | loss %.4f | lr 0.001" % (step, loss), flush=True)
    if step % 10 == 0:
        path = os.path.abspath("ckpt/step-%d.txt" % step)
        with open(path, "w") as f:
            f.write(str(step))
        inloop.checkpoint(path, step)
    time.sleep(0.02)
PY

inloop run --name ckonly -- python3 train.py > out.txt 2> err.txt || fail "run failed: $(tail -5 err.txt)"
inloop show ckonly --json > show.json
assert_eq "$(json 'd["status"]' < show.json)" finished "status"
assert_eq "$(json 'len(d["attempts"])' < show.json)" 2 "two attempts"
assert_eq "$(json 'sorted(s["key"] for s in d["series"])' < show.json)" "['loss', 'lr']" "printed series after the SDK connected"
inloop events ckonly --json > ev.json
assert_eq "$(json "[e['step_lo'] for e in d if e['kind']=='nonfinite' and not e['data'].get('update')]" < ev.json)" "[45]" "the printed NaN is seen"
assert_eq "$(json "[(e['data']['action'], e['data']['checkpoint']['source'], e['data']['resume_step']) for e in d if e['kind']=='action_applied']" < ev.json)" \
  "[('rollback_skip', 'sdk', 40)]" "rolled back to the SDK checkpoint"
assert_contains "$(cat out.txt)" "resumed from $WORK/ckpt/step-40.txt at step 40, skip [(41, 46)]" "the script resumed and skipped"
inloop metrics ckonly loss --format json > m.json
assert_eq "$(json 'd["points"][-1][0]' < m.json)" 60 "the loss is recorded to the end"
assert_eq "$(json 'all(p[2] == p[2] for p in d["points"] if p[0] > 45)' < m.json)" True "finite after the rollback"
pass "SDK checkpoints only: the printed NaN is seen and rolled back to the SDK checkpoint"

# The SDK logs train/loss for 20 steps, then stops while the script keeps printing the loss.
cat > quiet.py <<PY
import sys, time
sys.path.insert(0, "$INLOOP_SRC/python")
import inloop
for step in range(1, 41):
    loss = 2.0 + 1.0 / step
    if step <= 20:
        inloop.log(step, {"train/loss": loss})
    print("step %d | loss %.4f | tok_s 1000" % (step, loss), flush=True)
    time.sleep(0.01)
PY
inloop run --name quiet -- python3 quiet.py > /dev/null 2> qerr.txt || fail "quiet run failed: $(tail -5 qerr.txt)"
inloop show quiet --json > qshow.json
assert_eq "$(json 'sorted(s["key"] for s in d["series"])' < qshow.json)" "['loss', 'tok_s', 'train/loss']" "series"
inloop events quiet --json > qev.json
assert_eq "$(json "[(e['data']['source'], e['data']['sdk_key'], e['data']['printed_key']) for e in d if e['kind']=='metric_source']" < qev.json)" \
  "[('printed', 'train/loss', 'loss')]" "metric_source event"
inloop metrics quiet loss --format json > qm.json
assert_eq "$(json 'd["points"][-1][0]' < qm.json)" 40 "the printed loss is recorded to the end"
python3 -c "import json,sys; p=json.load(open('qm.json'))['points']; sys.exit(not (p[0][0] > 20 and p[0][0] <= 40))" \
  || fail "the printed loss is recorded only once the SDK went quiet: $(head -c 300 qm.json)"
assert_eq "$(inloop metrics quiet train/loss --format json | json 'd["points"][-1][0]')" 20 "SDK series"
pass "the SDK goes quiet on the loss: the printed loss is recorded again, with a metric_source event"
