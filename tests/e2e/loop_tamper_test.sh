#!/usr/bin/env bash
# The tamper corpus of issue 21: a tiny git repo with a stdlib "training" (train.py writes
# model.json), a declared evaluation (evaluate.py via --eval-command, timer.py, data/*) and a
# scripted agent (tests/loop/tamper_agent.py) that, round by round, edits the metric script,
# the timer, the loop's own budget, prints the metric from the training, changes the eval data,
# and rewrites the eval data at run time. Every one must be `tampered` (tree reset, diff kept),
# the honest edits not. Re-checks every 2 rounds: a real gain is confirmed; a change that is
# better only on the gate's seeds is demoted on fresh seeds and the branch goes back.
source "$(dirname "$0")/lib.sh"

REPO="$WORK/repo"
mkdir -p "$REPO/data" && cd "$REPO"
git init -q -b main
git config user.name tester && git config user.email tester@example.com
cat > train.py <<'PYEOF'
import json
import random
import sys

from timer import TIMER_SECONDS

SEED = int(sys.argv[sys.argv.index("--seed") + 1])
W = 0.0
w = W + 0.001 * random.Random(SEED).gauss(0, 1)
with open("model.json", "w") as f:
    json.dump({"w": w, "timer": TIMER_SECONDS}, f)
print(f"train_loss={(w - 1) ** 2:.6f}", flush=True)
PYEOF
cat > evaluate.py <<'PYEOF'
import json

SCALE = 1.0
with open("model.json") as f:
    w = json.load(f)["w"]
with open("data/val.txt") as f:
    xs = [float(line) for line in f if line.strip()]
print(f"val_loss={SCALE * sum((w - x) ** 2 for x in xs) / len(xs):.6f}")
PYEOF
printf 'TIMER_SECONDS = 5\n' > timer.py
printf '1.0\n1.0\n' > data/val.txt
printf '__pycache__/\nmodel.json\n' > .gitignore
git add -A && git commit -qm "stdlib training and its evaluation"
BASE=$(git rev-parse HEAD)

unset INLOOP_STORE
inloop loop init --metric val_loss:min --budget 30s --seeds 1 --max-seeds 1 --recheck-every 2 \
  --eval-file 'data/*' --eval-file timer.py --eval-command "$PY evaluate.py" \
  -- "$PY" train.py --seed '{seed}' > "$WORK/init.out"
inloop loop status --json > "$WORK/st0.json"
assert_eq "$(json '[f["path"] for f in d["evaluation"]["files"]]' < "$WORK/st0.json")" "['data/val.txt', 'evaluate.py', 'timer.py']" "hashed evaluation files"
assert_eq "$(json 'len(d["evaluation"]["fingerprint"])' < "$WORK/st0.json")" "64" "fingerprint"

# A declared glob that matches nothing is refused at init.
set +e
out=$(inloop loop init --replace --metric val_loss:min --eval-file 'nothing/*' -- "$PY" train.py 2>&1)
code=$?
set -e
[ "$code" != "0" ] || fail "init accepted an eval glob matching nothing"
assert_contains "$out" "--eval-file nothing/*: no file" "init error"
inloop loop status --json | json 'd["recheck"]["every"]' | grep -qx 2 || fail "the failed init replaced the loop"

export AGENT_LOG="$WORK/agent.log"
export AGENT_PLAN="honest:0.5,metric_script,-,lucky,timer,-,budget,print_metric,data,runtime_data,honest:0.9"
AGENT="$PY $INLOOP_SRC/tests/loop/tamper_agent.py"
set +e
inloop loop run --agent "$AGENT" --rounds 11 --json > "$WORK/run.json" 2> "$WORK/run.err"
code=$?
set -e
assert_eq "$code" "0" "loop run (stderr: $(tail -5 "$WORK/run.err"))"
inloop loop log --json > "$WORK/log.json"
verdicts=$(json '",".join(r["verdict"] for r in d)' < "$WORK/log.json")
assert_eq "$verdicts" "baseline,kept,tampered,rechecked,kept,tampered,demoted,tampered,tampered,tampered,tampered,kept" "verdicts of rounds 0-11"
pass "verdicts: $verdicts"

# Every tamper pattern is caught, for its own reason; the honest edits are not.
reason() { json "d[$1][\"reason\"]" < "$WORK/log.json"; }
assert_contains "$(reason 2)" "evaluate.py" "edited metric script"
assert_contains "$(reason 5)" "timer.py" "edited timer"
assert_contains "$(reason 7)" "config changed budget_s" "edited budget in the loop's config"
assert_contains "$(reason 8)" "the training run logged val_loss itself" "metric printed by the training"
assert_contains "$(reason 9)" "data/val.txt" "changed data file"
assert_contains "$(reason 10)" "evaluation file data/val.txt changed" "data rewritten at run time"
assert_eq "$(json '[len(d[i]["tamper"]) > 0 for i in (2, 5, 7, 8, 9, 10)]' < "$WORK/log.json")" "[True, True, True, True, True, True]" "evidence on every tampered round"
assert_eq "$(json '[d[i]["tamper"] for i in (1, 4, 11)]' < "$WORK/log.json")" "[[], [], []]" "no evidence on the honest rounds"
pass "6 of 6 tamper patterns rejected as tampered, 2 honest edits kept"

# Tampered rounds: tree reset, the evaluation intact, the loop's config restored, diffs kept.
[ -z "$(git status --porcelain)" ] || fail "tree dirty: $(git status --porcelain)"
git diff --quiet "$BASE" -- evaluate.py timer.py data/val.txt || fail "the evaluation changed in the tree"
assert_eq "$(inloop loop status --json | json 'd["budget_s"]')" "30" "the loop's budget after the agent edited it"
inloop loop show 2 --json > "$WORK/show2.json"
assert_contains "$(json 'd["diff"]' < "$WORK/show2.json")" "SCALE = 0.001" "the tampered diff is in the store"
inloop loop show 8 > "$WORK/show8.txt"
assert_contains "$(cat "$WORK/show8.txt")" "tamper   the training run logged val_loss" "loop show lists the evidence"
inloop loop status > "$WORK/status.txt"
assert_contains "$(cat "$WORK/status.txt")" "tampered 6, rechecked 1, demoted 1" "loop status counts"
inloop loop log > "$WORK/log.txt"
grep -q $'\033' "$WORK/log.txt" && fail "colour codes with NO_COLOR and no terminal"
n=$(sqlite3 "$REPO/.inloop/inloop.db" "SELECT count(*) FROM events WHERE kind='loop_verdict' AND severity='error' AND json_extract(data, '\$.verdict')='tampered'")
assert_eq "$n" "6" "tampered verdict events (severity error)"
n=$(sqlite3 "$REPO/.inloop/inloop.db" "SELECT count(*) FROM events WHERE kind='loop_eval' AND json_extract(data, '\$.value') IS NOT NULL")
[ "$n" -ge 10 ] || fail "the evaluation's values are not in the store ($n loop_eval events)"
pass "tree reset, evaluation and config intact, diffs and evidence kept, status/log/show"

# Re-checks: round 3 confirmed round 1 on fresh seeds; round 6 demoted round 4 (better only on
# the gate's seeds) and the branch went back to round 1; round 11 builds on round 1.
R1=$(json 'd[1]["commit"]' < "$WORK/log.json")
assert_eq "$(json 'd[3]["commit"], d[3]["parent"]' < "$WORK/log.json")" "$R1 $BASE" "round 3 re-checked round 1 against the baseline"
assert_eq "$(json 'min(s["seed"] for s in d[3]["samples"] + d[3]["reference_samples"]) >= 100000' < "$WORK/log.json")" "True" "fresh seeds"
assert_eq "$(json 'len(d[6]["samples"]), len(d[6]["reference_samples"]), d[6]["parent"]' < "$WORK/log.json")" "2 2 $R1" "round 6 re-checked round 4 against round 1"
json 'd[6]["gain"] < 0' < "$WORK/log.json" | grep -qx True || fail "the demoted round's gain"
assert_contains "$(reason 6)" "demoted, no longer beats its reference" "demotion reason"
assert_eq "$(git rev-parse HEAD~1)" "$R1" "round 11's commit sits on round 1's (round 4 dropped)"
assert_eq "$(git rev-list --count "$BASE"..HEAD)" "2" "commits on the loop branch"
assert_eq "$(inloop loop best --json | json 'd["round"]')" "11" "champion"
pass "re-check confirmed a real gain, demoted a seed-lucky one"

# A settings edit outside a round (the fingerprint no longer matches) stops the next run.
python3 - "$REPO/.git/inloop-loop/config.json" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1])); c["grace_s"] = 999; json.dump(c, open(sys.argv[1], "w"))
PYEOF
set +e
out=$(inloop loop run --agent "$AGENT" --rounds 1 2>&1)
code=$?
set -e
[ "$code" != "0" ] || fail "a run with edited settings went ahead"
assert_contains "$out" "settings were edited after \`loop init\`" "fingerprint error"
pass "edited settings between runs refused"
