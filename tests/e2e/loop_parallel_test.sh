#!/usr/bin/env bash
# inloop loop run --parallel 2 end to end (stdlib python, tiny runs): two rounds at once in their
# own worktrees, each run given one of CUDA_VISIBLE_DEVICES' devices; the first to pass is kept,
# the other passed against the old champion so it is rebased onto the new one and measured again
# (kept too: the changes touch different files); two rounds changing the same line end kept and
# `conflict`. kill -9 of inloop with both slots busy leaves worktrees that the next `loop run`
# (sequential) records as interrupted and removes; Ctrl-C undoes both slots and exits 53. The
# pace shows in `loop status`.
source "$(dirname "$0")/lib.sh"

REPO="$WORK/repo"
mkdir -p "$REPO" && cd "$REPO"
git init -q -b main
git config user.name tester && git config user.email tester@example.com
cp "$INLOOP_SRC/tests/loop/parallel_train.py" train.py
echo "a = 5" > a.txt
echo "b = 5" > b.txt
printf '__pycache__/\n' > .gitignore
git add -A && git commit -qm "stdlib training"
BASE=$(git rev-parse HEAD)
export AGENT_LOG="$WORK/agent.log" DEVLOG="$WORK/devices.log"
AGENT="$PY $INLOOP_SRC/tests/loop/parallel_agent.py"
unset INLOOP_STORE
inloop loop init --metric loss:min --budget 30s --seeds 1 --max-seeds 1 -- "$PY" train.py '{seed}' > /dev/null

# Rounds 1-2 at once: both kept, one of them after a rebase onto the other.
CUDA_VISIBLE_DEVICES=3,5 inloop loop run --agent "$AGENT" --parallel 2 --rounds 2 --json \
  > "$WORK/run1.json" 2> "$WORK/run1.err" || fail "parallel run: $(tail -5 "$WORK/run1.err")"
inloop loop log --json > "$WORK/log1.json"
assert_eq "$(json 'sorted((r["round"], r["verdict"]) for r in d)' < "$WORK/log1.json")" \
  "[(0, 'baseline'), (1, 'kept'), (2, 'kept')]" "verdicts of rounds 0-2"
assert_eq "$(json 'sum("rebased onto" in r["reason"] for r in d)' < "$WORK/log1.json")" "1" \
  "exactly one round was rebased and measured again"
assert_eq "$(json 'float([r["metric"] for r in d if "rebased onto" in r["reason"]][0])' < "$WORK/log1.json")" "2.0" \
  "the rebased round was measured with both changes"
assert_eq "$(git rev-list --count "$BASE"..HEAD)" "2" "two commits on the loop's branch"
assert_eq "$(cat a.txt b.txt | tr '\n' ' ')" "a = 1 b = 1 " "both changes are in the tree"
[ -z "$(git status --porcelain)" ] || fail "tree dirty: $(git status --porcelain)"
assert_eq "$(git worktree list | wc -l)" "1" "the slots' worktrees were removed"
assert_eq "$(json 'sorted(r["device"] for r in d if r["round"] > 0)' < "$WORK/log1.json")" "['3', '5']" \
  "each slot's rounds got one device"
grep -q '^0 3,5$' "$DEVLOG" || fail "the baseline did not see CUDA_VISIBLE_DEVICES untouched: $(cat "$DEVLOG")"
grep -Eq '^[12] 3$' "$DEVLOG" && grep -Eq '^[12] 5$' "$DEVLOG" || fail "slot devices: $(cat "$DEVLOG")"
inloop loop status --json > "$WORK/st1.json"
assert_eq "$(json 'd["throughput"]["experiments"], d["throughput"]["kept"]' < "$WORK/st1.json")" "2 2" "pace counts"
json 'd["throughput"]["gpu_hours_per_kept"] > 0 and d["throughput"]["experiments_per_hour"] > 0' < "$WORK/st1.json" | grep -q True \
  || fail "pace numbers: $(json 'd["throughput"]' < "$WORK/st1.json")"
inloop loop status | grep -q "^pace .*experiment(s)" || fail "loop status has no pace line"
pass "rounds 1-2 in parallel: kept, rebased, kept; devices one per slot; pace in status"

# Rounds 3-4 change the same line: one is kept, the other conflicts on its rebase.
inloop loop run --agent "$AGENT" --parallel 2 --rounds 2 > /dev/null 2> "$WORK/run2.err" \
  || fail "parallel run 2: $(tail -5 "$WORK/run2.err")"
inloop loop log --json > "$WORK/log2.json"
assert_eq "$(json 'sorted(r["verdict"] for r in d if r["round"] in (3, 4))' < "$WORK/log2.json")" \
  "['conflict', 'kept']" "verdicts of rounds 3-4"
assert_contains "$(json '[r["reason"] for r in d if r["verdict"] == "conflict"][0]' < "$WORK/log2.json")" \
  "conflicts with the new champion" "the conflict's reason"
assert_eq "$(git rev-list --count "$BASE"..HEAD)" "3" "one more commit"
[ -z "$(git status --porcelain)" ] || fail "tree dirty after the conflict: $(git status --porcelain)"
assert_eq "$(inloop loop status --json | json 'd["rounds"]["conflict"], d["rounds"]["kept"]')" "1 3" "status counts"
inloop loop status | grep -q "conflict 1, stale 0" || fail "loop status text lacks the conflict count"
pass "rounds 3-4: kept and conflict"

# kill -9 with both slots busy: the next (sequential) run records both as interrupted and
# removes the worktrees.
HEAD0=$(git rev-parse HEAD)
"$INLOOP_BIN" loop run --agent "$AGENT" --parallel 2 --rounds 2 > /dev/null 2> "$WORK/run3.err" &
LOOP_PID=$!
wait_for 600 test -e "$AGENT_LOG.edited-5" -a -e "$AGENT_LOG.edited-6" || fail "the agents of rounds 5-6 did not edit"
kill -9 "$LOOP_PID"
wait "$LOOP_PID" 2>/dev/null || true
[ "$(git worktree list | wc -l)" -gt 1 ] || fail "expected the killed slots' worktrees"
inloop loop run --agent "$AGENT" --until 0s > /dev/null 2> "$WORK/run4.err" || fail "recovery: $(tail -5 "$WORK/run4.err")"
inloop loop log --json > "$WORK/log3.json"
assert_eq "$(json 'sorted((r["round"], r["verdict"]) for r in d if r["round"] in (5, 6))' < "$WORK/log3.json")" \
  "[(5, 'interrupted'), (6, 'interrupted')]" "rounds 5-6 after kill -9"
assert_eq "$(git worktree list | wc -l)" "1" "no worktree left after recovery"
[ -z "$(ls -A "$(git rev-parse --git-dir)/inloop-loop/slots" 2>/dev/null)" ] || fail "slot files left: $(ls "$(git rev-parse --git-dir)/inloop-loop/slots")"
assert_eq "$(git rev-parse HEAD)" "$HEAD0" "no commit from the killed rounds"
[ -z "$(git status --porcelain)" ] || fail "tree dirty after recovery"
pass "kill -9 mid-round: both slots recorded as interrupted, worktrees removed"

# Ctrl-C with both slots busy: both undone, exit 53.
"$INLOOP_BIN" loop run --agent "$AGENT" --parallel 2 --rounds 2 > /dev/null 2> "$WORK/run5.err" &
LOOP_PID=$!
wait_for 600 test -e "$AGENT_LOG.edited-7" -a -e "$AGENT_LOG.edited-8" || fail "the agents of rounds 7-8 did not edit"
kill -INT "$LOOP_PID"
set +e
wait "$LOOP_PID"
code=$?
set -e
assert_eq "$code" "53" "exit code after SIGINT (stderr: $(tail -3 "$WORK/run5.err"))"
inloop loop log --json > "$WORK/log4.json"
assert_eq "$(json 'sorted((r["round"], r["verdict"]) for r in d if r["round"] in (7, 8))' < "$WORK/log4.json")" \
  "[(7, 'interrupted'), (8, 'interrupted')]" "rounds 7-8 after SIGINT"
assert_eq "$(git worktree list | wc -l)" "1" "no worktree left after SIGINT"
[ -z "$(git status --porcelain)" ] || fail "tree dirty after SIGINT"
pass "SIGINT with both slots busy: undone, exit 53"

# --approve asks one round at a time: refused with --parallel.
set +e
out=$(inloop loop run --agent "$AGENT" --parallel 2 --approve 2>&1)
code=$?
set -e
assert_eq "$code" "2" "--approve with --parallel"
assert_contains "$out" "drop --parallel" "--approve with --parallel message"
pass "--approve with --parallel is refused"
