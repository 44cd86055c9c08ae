#!/usr/bin/env bash
# MCP loop_round (issue 21) with the official MCP TypeScript SDK client
# (mcp_loop_round_client.mjs): an agent submits changes as rounds of a real research loop (a git
# repo, a stdlib training with a small known seed noise, baseline measured by `loop run`) and
# gets the gate's verdicts; the loop's branch and log must match what the tool returned.
source "$(dirname "$0")/lib.sh"
command -v node > /dev/null || { echo "skip: node is not installed"; exit 77; }
[ -d "$INLOOP_SRC/ui/node_modules/@modelcontextprotocol/sdk" ] || fail "run ./setup.sh: ui/node_modules lacks @modelcontextprotocol/sdk"

REPO="$WORK/repo"
mkdir -p "$REPO" "$WORK/noloop" && cd "$REPO"
git init -q -b main
git config user.name tester && git config user.email tester@example.com
cp "$INLOOP_SRC/tests/loop/parallel_train.py" train.py
echo "a = 5" > a.txt
echo "b = 5" > b.txt
git add -A && git commit -qm "stdlib training"
unset INLOOP_STORE
inloop loop init --metric loss:min --budget 30s --seeds 2 --max-seeds 2 -- "$PY" train.py '{seed}' > /dev/null
BASE=$(git rev-parse HEAD)
# The agent's idea on a branch of its own (a worse b), made from the loop's branch.
git checkout -q -b agent-idea && echo "b = 7" > b.txt && git commit -qam "agent idea" && git checkout -q inloop/loop-default
inloop loop run --agent true --until 0s > /dev/null 2> "$WORK/baseline.err" || fail "baseline: $(tail -3 "$WORK/baseline.err")"
assert_eq "$(inloop loop log --json | json '[r["verdict"] for r in d]')" "['baseline']" "baseline measured"
(cd "$WORK/noloop" && git init -q -b main)

REPO="$REPO" NOLOOP="$WORK/noloop" LOCK="$(git rev-parse --absolute-git-dir)/inloop-loop/lock" \
  INLOOP_BIN="$INLOOP_BIN" INLOOP_SRC="$INLOOP_SRC" timeout 300 node "$INLOOP_SRC/tests/e2e/mcp_loop_round_client.mjs" \
  || fail "the MCP SDK client failed"

inloop loop log --json > "$WORK/log.json"
assert_eq "$(json '[(r["proposer"], r["verdict"]) for r in d]' < "$WORK/log.json")" \
  "[('baseline', 'baseline'), ('submitted', 'kept'), ('submitted', 'discarded'), ('submitted', 'rejected')]" \
  "the loop's log has the submitted rounds"
assert_eq "$(git rev-list --count "$BASE"..HEAD)" "1" "one commit: the kept diff"
assert_eq "$(cat a.txt b.txt | tr '\n' ' ')" "a = 1 b = 5 " "the kept change is in the tree, the discarded one not"
[ -z "$(git status --porcelain)" ] || fail "tree dirty: $(git status --porcelain)"
assert_eq "$(git worktree list | wc -l)" "1" "no worktree left"
# The kept round had one seed; before the branch's round a slot re-ran the champion for its noise.
assert_eq "$(inloop loop status --json | json 'sorted(s["seed"] for s in d["champion"]["samples"])')" "[0, 1]" \
  "the champion's noise was topped up before the next round"
pass "MCP loop_round: kept, discarded, rejected; refusals; log and branch match"
