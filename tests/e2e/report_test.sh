#!/usr/bin/env bash
# `inloop report` on real supervised runs: the same command twice, once clean and once with a
# poisoned batch (SPIKE=1 in the environment, so the argv and hence the command stay equal) that
# makes a loss spike at step 70; the policy rolls back to the step-60 checkpoint and skips the
# data window. The report of the second run must list the finding in its timeline, say within how
# many steps the loss was back under its pre-spike level (the number is recomputed here in Python
# from the stored points and the action's time), pick the clean run as its baseline, and come out
# as Markdown, self-contained HTML and JSON. An unknown run exits 3. With torch, a real PyTorch run
# (examples/charlm) hits an injected CUDA out-of-memory error at step 100, the policy halves the
# micro-batch, and the report recommends the micro-batch that worked.
source "$(dirname "$0")/lib.sh"

cat > train.py <<'PY'
import argparse, math, os, time
p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=120)
p.add_argument("--resume")
p.add_argument("--skip-from", type=int, default=0)
p.add_argument("--skip-to", type=int, default=0)
a = p.parse_args()
start = 0
if a.resume:
    start = int(open(a.resume).read())
os.makedirs("ckpt", exist_ok=True)
spike = os.environ.get("SPIKE") == "1"
for step in range(start + 1, a.steps + 1):
    data = step + (a.skip_to - a.skip_from if a.skip_from and a.skip_from <= step else 0)
    lr = 1e-3 * min(1.0, step / 20) * (0.5 + 0.5 * math.cos(math.pi * max(0, step - 20) / a.steps))
    # The model's progress follows the step; a resumed optimizer costs a short bump.
    loss = 2.0 + 1.5 * math.exp(-step / 40.0) + 0.01 * math.sin(data)
    if start:
        loss += 0.3 * math.exp(-(step - start) / 6.0)
    if spike and data == 70:
        loss *= 10  # a poisoned batch
    tok = 5000 if 95 <= step < 110 else 12000
    print("step=%d loss=%.5f lr=%.6g tokens_per_s=%d" % (step, loss, lr, tok), flush=True)
    if step % 10 == 0:
        tmp = "ckpt/step-%d.pt.tmp" % step
        with open(tmp, "w") as f:
            f.write(str(step))
        os.replace(tmp, "ckpt/step-%d.pt" % step)
    # Time for the step-60 file to be found and to settle (1 s scans, 0.5 s settle) before step 70.
    time.sleep(0.2 if 60 < step <= 70 else 0.02)
PY

# spike_patience = 0: the poisoned batch's x10 is back on the next step, which the default patience
# (3 logged points) would let go as a healed spike; this test is about the report of a rollback.
cat > inloop.toml <<'TOML'
[remedy]
spike_patience = 0
checkpoint_glob = "ckpt/step-*.pt"
checkpoint_settle_seconds = 0.5
checkpoint_args = ["--resume", "{checkpoint}"]
skip_args = ["--skip-from", "{skip_from}", "--skip-to", "{skip_to}"]
TOML

inloop run --name clean -- python3 train.py > clean.out 2> clean.err || fail "clean run: $(tail -5 clean.err)"
rm -rf ckpt
SPIKE=1 inloop run --name spiky -- python3 train.py > spiky.out 2> spiky.err || fail "spiky run: $(tail -5 spiky.err)"
inloop events spiky --json > ev.json
assert_eq "$(json "sorted({e['step_lo'] for e in d if e['kind']=='loss_spike' and not e['data'].get('update')})" < ev.json)" "[70]" "spike at step 70"
assert_eq "$(json "[e['data']['action'] for e in d if e['kind']=='action_applied']" < ev.json)" "['rollback_skip']" "rollback_skip applied"
pass "a clean run and a run with a spike and a rollback_skip"

# The recovery, recomputed from what the store holds: the level before the spike is the median of
# the last 20 points under step 70 logged before the action; the first point logged after the
# action at or under it gives N = its step - the restarted attempt's first step + 1.
inloop pending --all --json --run spiky > actions.json
for seg in 0 1 2; do inloop metrics spiky loss --segment $seg --format json > seg$seg.json 2>/dev/null || true; done
expected=$(python3 - <<'PY'
import json, os
act = json.load(open("actions.json"))[0]
pts = []
for seg in (0, 1, 2):
    if os.path.getsize("seg%d.json" % seg) > 0:
        pts += json.load(open("seg%d.json" % seg))["points"]
t = act["created_at"]
onset = 70
before = sorted((p for p in pts if p[0] < onset and p[1] <= t), key=lambda p: p[1])[-20:]
vals = sorted(p[2] for p in before)
n = len(vals)
pre = vals[n // 2] if n % 2 else (vals[n // 2 - 1] + vals[n // 2]) / 2
start = act["data"]["start_step"]
after = sorted((p for p in pts if p[1] > t), key=lambda p: p[1])
rec = next(p for p in after if p[2] <= pre)
print(rec[0] - start + 1, "%.4g" % pre, start)
PY
)
read -r steps pre start <<<"$expected"
[ -n "$steps" ] || fail "could not recompute the recovery"

inloop report spiky > report.md
assert_contains "$(cat report.md)" "# Run report: spiky" "markdown heading"
assert_contains "$(cat report.md)" "## Timeline" "timeline section"
assert_contains "$(cat report.md)" "loss spike on loss at step 70" "the finding is in the timeline"
assert_contains "$(cat report.md)" "| rollback\\_skip | loss\\_spike | 70 | applied |" "the remedies table"
assert_contains "$(cat report.md)" "back under the pre-loss\\_spike level $pre" "the pre-spike level"
assert_contains "$(cat report.md)" "within $steps step" "the recovery steps"
assert_contains "$(cat report.md)" "attempt 2 began at step $start" "where attempt 2 began"
assert_contains "$(cat report.md)" "Against baseline clean" "the clean run is the baseline"
assert_contains "$(cat report.md)" "## Comparison with the baseline" "comparison section"
assert_contains "$(cat report.md)" "finished after" "the paragraph says how the run ended"
# It leads with one line: what happened, what inloop did, what it cost; the rollback that worked
# is not said to have seen the spike come back (what the stopped attempt logged does not count).
head -c 3000 report.md | grep -q '^\*\*Run finished after .*loss spike.*inloop rolled back to step 60 and skipped data 61-70.*cost [0-9]* steps\? run again' \
  || fail "the report does not lead with the headline: $(head -6 report.md)"
grep -q "came back at step" report.md && fail "a rollback that worked is said to have seen the spike come back"
assert_contains "$(cat report.md)" "## Findings" "findings section"
pass "markdown: finding, remedy back under $pre within $steps steps, baseline"

inloop report spiky --format html -o report.html 2> html.err
assert_contains "$(cat html.err)" "wrote report.html" "html written"
html=$(cat report.html)
assert_contains "$html" "<!doctype html>" "html doctype"
assert_contains "$html" "<svg" "inline svg chart"
assert_contains "$html" "within $steps step" "html remedy outcome"
grep -qE "https?://" report.html && fail "the html references the network"
grep -qE "<script|<link| src=" report.html && fail "the html loads something"
pass "html: self-contained, with charts"

inloop report spiky --json > report.json
assert_eq "$(json 'd["remedies"][0]["outcome"]["steps_to_recover"]' < report.json)" "$steps" "json steps_to_recover"
assert_eq "$(json 'd["baseline"]["name"]' < report.json)" "clean" "json baseline"
assert_eq "$(json 'd["baseline"]["how"]' < report.json)" "auto" "json baseline picked automatically"
assert_eq "$(json '[t["kind"] for t in d["timeline"]].count("loss_spike")' < report.json)" "1" "json timeline"
assert_eq "$(json 'd["metric"]["key"]' < report.json)" "loss" "json primary metric"
assert_eq "$(json 'd["throughput"]["key"]' < report.json)" "tokens_per_s" "json throughput key"
assert_contains "$(json 'd["headline"]' < report.json)" "inloop rolled back to step 60" "json headline"
assert_eq "$(json '[g["kind"] for g in d["finding_groups"]].count("loss_spike")' < report.json)" "1" "json finding groups"
assert_eq "$(json 'd["remedies"][0]["outcome"].get("recurred_step")' < report.json)" "None" "json: no recurrence"
pass "json: outcome, baseline, timeline"

# Goodput, in `show` (text and --json) and the report: one fault; its lost steps recomputed from
# the attempts (attempt 1's last logged step - attempt 2's first step + 1); ETTR in (0, 1).
inloop show spiky --json > show.json
lost=$(json "[e['data']['last_step'] for e in d if e['kind']=='attempt_exit' and e['data']['attempt']==1][0] - [e['data']['start_step'] for e in d if e['kind']=='attempt_start' and e['data']['attempt']==2][0] + 1" < ev.json)
assert_eq "$(json 'len(d["goodput"]["faults"])' < show.json)" 1 "show: one fault"
assert_eq "$(json 'd["goodput"]["faults"][0]["lost_steps"]' < show.json)" "$lost" "show: lost steps"
assert_eq "$(json 'd["goodput"]["lost_steps"] == d["goodput"]["faults"][0]["lost_steps"]' < show.json)" True "show: total"
assert_eq "$(json '0 < d["goodput"]["ettr"] < 1' < show.json)" True "show: ETTR in (0, 1)"
assert_eq "$(json 'd["goodput"]["faults"][0]["mttr"] >= d["goodput"]["faults"][0]["time_to_detect"] >= 0' < show.json)" True "show: MTTR >= time to detect >= 0"
assert_eq "$(json 'd["goodput"]["faults"][0]["lost_steps"]' < report.json)" "$lost" "report json: lost steps"
assert_contains "$(inloop show spiky)" "goodput  ETTR" "show: goodput line"
assert_contains "$(cat report.md)" "## Goodput" "report: goodput section"
pass "goodput: 1 fault, $lost steps lost, ETTR $(json 'round(d["goodput"]["ettr"], 3)' < show.json)"

inloop report spiky --no-baseline > nobase.md
grep -q "Against baseline" nobase.md && fail "--no-baseline still compared"
inloop report clean --baseline spiky > vs.md
assert_contains "$(cat vs.md)" "Against baseline spiky" "an explicit baseline"

set +e
inloop report nosuchrun > /dev/null 2> unknown.err
code=$?
inloop report spiky --key nosuchkey > /dev/null 2> nokey.err
code2=$?
set -e
assert_eq "$code" 3 "unknown run exit code"
assert_contains "$(cat unknown.err)" "nosuchrun" "unknown run message"
assert_eq "$code2" 3 "unknown key exit code"
pass "errors: unknown run and key exit 3"

# A real out-of-memory crash in a PyTorch run: shrink_batch 32 -> 16, and the recommendation says so.
if "$PY" -c "import torch" 2>/dev/null; then
  mkdir oom && cd oom  # away from the inloop.toml above: the SDK announces the checkpoints
  inloop run --name oom -- "$PY" "$INLOOP_SRC/examples/charlm/train.py" --steps 120 --ckpt-every 40 \
    --log-every 2 --eval-every 60 --eval-batches 2 --threads 1 --seed 7 --out ck-oom \
    --n-embd 64 --seq-len 32 --inject oom@100 > oom.out 2> oom.err || fail "oom run: $(tail -5 oom.err)"
  inloop report oom --json > oom.json
  assert_eq "$(json '[a["crash_class"] for a in d["attempts"]]' < oom.json)" "['cuda_oom', '']" "oom: crash classes"
  assert_eq "$(json '[(r["action"], r["micro_batch"]) for r in d["remedies"]]' < oom.json)" "[('shrink_batch', 16)]" "oom: the remedy"
  assert_eq "$(json '[x["rule"] for x in d["recommendations"]].count("oom_same_param")' < oom.json)" 1 "oom: the rule fired"
  inloop report oom > oom.md
  assert_contains "$(cat oom.md)" "ran with micro\\_batch = 32; attempt 2 with micro\\_batch = 16 reached step 120 without one" "oom: the recommendation"
  pass "oom: every OOM at micro_batch 32, attempt 2 at 16 finished: start with 16"
else
  echo "SKIP: torch not importable by $PY (the out-of-memory part)"
fi
