#!/usr/bin/env bash
# inloop loop end to end with a scripted agent (tests/loop/scripted_agent.py) making real edits
# to a real tiny PyTorch training script in a temp git repo: a better learning rate (kept after
# the gate's extra seed), a worse one (discarded), broken code (failed and reset, the new file
# gone), a protected file (rejected before running). The branch history must match the
# verdicts; kill -9 of inloop while the agent has edited leaves a tree the next run cleans and
# resumes; Ctrl-C (SIGINT) undoes the round itself and exits 53.
source "$(dirname "$0")/lib.sh"

REPO="$WORK/repo"
mkdir -p "$REPO" && cd "$REPO"
git init -q -b main
git config user.name tester && git config user.email tester@example.com
cp "$INLOOP_SRC/tests/loop/tiny_train.py" "$INLOOP_SRC/tests/loop/evaluate.py" .
printf '# Program\nImprove val_loss by changing the learning rate in tiny_train.py.\n' > program.md
printf '__pycache__/\n*.ckpt\n' > .gitignore
git add -A && git commit -qm "tiny training script"
BASE=$(git rev-parse HEAD)
echo "an ignored file the loop must never touch" > keep.ckpt

export AGENT_LOG="$WORK/agent.log"
AGENT="$PY $INLOOP_SRC/tests/loop/scripted_agent.py {history}"
unset INLOOP_STORE
inloop loop init --metric val_loss:min --budget 60s --program program.md --protect evaluate.py --recheck-every 0 \
  --protect 'data/*' --max-diff-lines 40 --seeds 2 --max-seeds 2 -- "$PY" tiny_train.py --seed '{seed}' > "$WORK/init.out"
assert_eq "$(git rev-parse --abbrev-ref HEAD)" "inloop/loop-default" "the loop works on its own branch"
[ -z "$(git status --porcelain)" ] || fail "init left the tree dirty: $(git status --porcelain)"
grep -q '^/.inloop/$' .git/info/exclude || fail "the store inside the repo is not excluded from git"

# Rounds 1-4: good lr, bad lr, broken code, protected file.
set +e
inloop loop run --agent "$AGENT" --rounds 4 --json > "$WORK/run1.json" 2> "$WORK/run1.err"
code=$?
set -e
assert_eq "$code" "0" "loop run (stderr: $(tail -5 "$WORK/run1.err"))"
inloop loop log --json > "$WORK/log1.json"
verdicts=$(json '",".join(r["verdict"] for r in d)' < "$WORK/log1.json")
assert_eq "$verdicts" "baseline,kept,discarded,failed,rejected" "verdicts of rounds 0-4"
pass "verdicts: $verdicts"
assert_eq "$(json 'len(d[1]["samples"])' < "$WORK/log1.json")" "2" "the kept round needed a second seed (within the noise after one)"
assert_contains "$(json 'd[3]["reason"]' < "$WORK/log1.json")" "exit code 1" "the broken round failed on the run's exit"
assert_contains "$(json 'd[4]["reason"]' < "$WORK/log1.json")" "protected path evaluate.py" "the protected round's reason"
assert_eq "$(json 'd[4]["run_ids"]' < "$WORK/log1.json")" "[]" "a rejected round runs nothing"
[ -z "$(git status --porcelain)" ] || fail "tree dirty after rounds: $(git status --porcelain)"
[ ! -e notes.txt ] || fail "the broken round's new untracked file survived the reset"
[ -e keep.ckpt ] || fail "an ignored file was removed"
grep -q '^LR = 0.05$' tiny_train.py || fail "the kept learning rate is not in the tree"
git diff --quiet "$BASE" -- evaluate.py || fail "the protected file changed"
pass "tree clean, kept change present, untracked file of the failed round removed, ignored file kept"

# The branch history matches the verdicts: one commit, round 1's, carrying metric, gain, run id.
assert_eq "$(git rev-list --count "$BASE"..HEAD)" "1" "commits on the loop branch"
msg=$(git log -1 --format=%B)
RUN1=$(json 'd[1]["run_id"]' < "$WORK/log1.json")
assert_contains "$msg" "inloop-round: 1" "commit message round"
assert_contains "$msg" "inloop-run: $RUN1" "commit message run id"
assert_contains "$msg" "inloop-gain:" "commit message gain"
assert_eq "$(json 'd[1]["commit"]' < "$WORK/log1.json")" "$(git rev-parse HEAD)" "the log's commit for round 1"
assert_eq "$(json 'd[2]["parent"]' < "$WORK/log1.json")" "$(git rev-parse HEAD)" "round 2's parent champion"
assert_eq "$(json 'd[1]["parent"]' < "$WORK/log1.json")" "$BASE" "round 1's parent champion"
pass "git history matches the verdicts"

# The verdict is an event on the round's run; the discarded/failed diffs are in the store.
inloop events "$RUN1" --json > "$WORK/ev.json"
assert_eq "$(json '[e["data"]["verdict"] for e in d if e["kind"]=="loop_verdict"]' < "$WORK/ev.json")" "['kept']" "verdict event"
json '[e["data"] for e in d if e["kind"]=="loop_verdict"][0]["threshold"] > 0' < "$WORK/ev.json" | grep -q True || fail "the verdict event carries the threshold"
# The protected round ran nothing: its verdict is an event of the loop alone (no run).
n=$(sqlite3 "$REPO/.inloop/inloop.db" "SELECT count(*) FROM events WHERE kind='loop_verdict' AND run_id='' AND json_extract(data, '\$.verdict')='rejected' AND json_extract(data, '\$.round')=4")
assert_eq "$n" "1" "the rejected round's verdict event"
inloop loop show 3 --json > "$WORK/show3.json"
assert_contains "$(json 'd["diff"]' < "$WORK/show3.json")" "broken by the agent" "the failed round's diff is kept"
assert_contains "$(json 'd["diff"]' < "$WORK/show3.json")" "notes.txt" "the failed round's diff has its new file"
# The agent saw the history of the rounds before its own.
assert_eq "$(sed -n 4p "$AGENT_LOG" | json 'd["seen"]')" "[[0, 'baseline'], [1, 'kept'], [2, 'discarded'], [3, 'failed']]" "history handed to the agent in round 4"
pass "verdict event, stored diffs, agent history"

inloop loop status --json > "$WORK/st.json"
assert_eq "$(json 'd["champion"]["round"]' < "$WORK/st.json")" "1" "champion round"
assert_eq "$(json 'd["in_flight"]' < "$WORK/st.json")" "None" "nothing in flight"
inloop loop best --json > "$WORK/best.json"
assert_eq "$(json 'd["commit"]' < "$WORK/best.json")" "$(git rev-parse HEAD)" "best commit"

# kill -9 of inloop while the agent has edited the tree: dirty now, clean after resume.
export AGENT_PLAN="lr:0.05,lr:0.00001,break,protect,hang,lr:0.00002,hang"
"$INLOOP_BIN" loop run --agent "$AGENT" --rounds 1 > /dev/null 2> "$WORK/run2.err" &
LOOP_PID=$!
wait_for 300 test -e "$AGENT_LOG.edited-5" || fail "the agent of round 5 did not edit"
kill -9 "$LOOP_PID"
wait "$LOOP_PID" 2>/dev/null || true
[ -n "$(git status --porcelain)" ] || fail "expected the killed round's edits in the tree"
inloop loop status --json > "$WORK/st2.json"
assert_eq "$(json 'd["in_flight"]["round"]' < "$WORK/st2.json")" "5" "status shows round 5 in flight"
# The agent died with inloop (PDEATHSIG), so nothing edits the tree behind the resume.
inloop loop run --agent "$AGENT" --rounds 1 > /dev/null 2> "$WORK/run3.err" || fail "resume failed: $(tail -5 "$WORK/run3.err")"
inloop loop log --json > "$WORK/log2.json"
assert_eq "$(json '[(r["round"], r["verdict"]) for r in d[5:]]' < "$WORK/log2.json")" "[(5, 'interrupted'), (6, 'discarded')]" "resume: round 5 undone, round 6 ran"
[ -z "$(git status --porcelain)" ] || fail "tree dirty after resume: $(git status --porcelain)"
[ ! -e scratch.py ] || fail "round 5's new file survived"
pass "kill -9 mid-round: resumed and cleaned"

# Ctrl-C while the agent works: inloop undoes the round itself and exits 53.
"$INLOOP_BIN" loop run --agent "$AGENT" --rounds 1 > /dev/null 2> "$WORK/run4.err" &
LOOP_PID=$!
wait_for 300 test -e "$AGENT_LOG.edited-7" || fail "the agent of round 7 did not edit"
kill -INT "$LOOP_PID"
set +e
wait "$LOOP_PID"
code=$?
set -e
assert_eq "$code" "53" "exit code after SIGINT (stderr: $(tail -3 "$WORK/run4.err"))"
[ -z "$(git status --porcelain)" ] || fail "tree dirty after SIGINT: $(git status --porcelain)"
inloop loop log --json > "$WORK/log3.json"
assert_eq "$(json 'd[-1]["verdict"]' < "$WORK/log3.json")" "interrupted" "round 7 recorded as interrupted"
assert_eq "$(git rev-list --count "$BASE"..HEAD)" "1" "still one commit"
pass "SIGINT mid-round: undone, exit 53"

# Guard: --approve on a pipe without --yes refuses clearly.
set +e
out=$(inloop loop run --agent "$AGENT" --rounds 1 --approve < /dev/null 2>&1)
code=$?
set -e
assert_eq "$code" "54" "--approve without a TTY"
assert_contains "$out" "not a terminal" "--approve message"
# A dirty tree the loop did not make is refused (exit 51), not reset.
echo "user work" >> program.md
set +e
inloop loop run --agent "$AGENT" --rounds 1 > /dev/null 2> "$WORK/dirty.err"
code=$?
set -e
assert_eq "$code" "51" "a dirty tree is refused"
grep -q "user work" program.md || fail "the user's change was touched"
git checkout -q program.md
pass "guard rails: approval without TTY, dirty tree"

# A crash after the verdict was journaled but before the commit: the next run commits it.
N=$(inloop loop status --json | json 'd["next_round"]')
HEAD0=$(git rev-parse HEAD)
sed -i 's/^LR = .*/LR = 0.045/' tiny_train.py
python3 - "$N" "$HEAD0" "$(git rev-parse --git-dir)/inloop-loop/journal.json" <<'PY'
import json, sys
n, base, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rec = {"round": n, "verdict": "kept", "proposer": "agent", "reason": "passed the gate",
       "run_ids": ["run-x"], "samples": [{"seed": 0, "value": 0.001, "run_id": "run-x"}],
       "metric": 0.001, "gain": 0.001, "champion_metric": 0.002, "noise_sd": None,
       "threshold": 0.0005, "commit": "", "parent": base, "params": {}, "changed_files": ["tiny_train.py"],
       "diff_lines": 2, "diff_path": "", "started_at": 1, "ended_at": 0}
json.dump({"round": n, "phase": "decided", "base": base, "branch": "inloop/loop-default",
           "started_at": 1, "record": rec}, open(path, "w"))
PY
inloop loop run --agent "$AGENT" --until 0s > /dev/null 2> "$WORK/run5.err" || fail "recovery of a decided keep: $(tail -3 "$WORK/run5.err")"
[ -z "$(git status --porcelain)" ] || fail "tree dirty after finishing a decided keep"
assert_eq "$(git rev-parse HEAD^)" "$HEAD0" "the decided keep was committed on top of the champion"
git log -1 --format=%B | grep -q "inloop-round: $N" || fail "the recovered commit names round $N"
inloop loop log --json > "$WORK/log4.json"
assert_eq "$(json 'd[-1]["verdict"], d[-1]["commit"]' < "$WORK/log4.json")" "kept $(git rev-parse HEAD)" "the recovered round in the log"
assert_eq "$(inloop loop best --json | json 'd["round"]')" "$N" "the recovered keep is the champion"
pass "a keep decided before a crash is committed on resume"

# A diff over --max-diff-lines is rejected before anything runs.
export AGENT_PLAN="lr:0.05,lr:0.00001,break,protect,hang,lr:0.00002,hang,none,big"
inloop loop run --agent "$AGENT" --rounds 1 > /dev/null 2> "$WORK/run6.err" || fail "round 9: $(tail -3 "$WORK/run6.err")"
inloop loop log --json > "$WORK/log5.json"
assert_eq "$(json 'd[-1]["round"], d[-1]["verdict"], d[-1]["diff_lines"], d[-1]["run_ids"]' < "$WORK/log5.json")" "9 rejected 60 []" "round 9 over the diff limit"
assert_contains "$(json 'd[-1]["reason"]' < "$WORK/log5.json")" "over the limit of 40" "diff limit reason"
[ -z "$(git status --porcelain)" ] || fail "tree dirty after the rejected round"
pass "a diff over --max-diff-lines is rejected"

# The audit of the agent's diff: a change to the experiment's budget is rejected before it runs.
export AGENT_PLAN="lr:0.05,lr:0.00001,break,protect,hang,lr:0.00002,hang,none,big,budget"
inloop loop run --agent "$AGENT" --rounds 1 > /dev/null 2> "$WORK/run7.err" || fail "round 10: $(tail -3 "$WORK/run7.err")"
inloop loop log --json > "$WORK/log6.json"
assert_eq "$(json 'd[-1]["round"], d[-1]["verdict"], d[-1]["run_ids"]' < "$WORK/log6.json")" "10 rejected []" "round 10 rejected by the audit"
assert_contains "$(json 'd[-1]["reason"]' < "$WORK/log6.json")" "audit: the change adds a line with 'BUDGET'" "audit reason"
assert_contains "$(json 'd[-1]["audit"][0]' < "$WORK/log6.json")" "critical loop.budget_edit tiny_train.py:" "audit findings on the round"
[ -z "$(git status --porcelain)" ] || fail "tree dirty after the audit-rejected round"
pass "the loop's diff audit rejects a budget edit"
