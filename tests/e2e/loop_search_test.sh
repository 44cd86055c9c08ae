#!/usr/bin/env bash
# inloop loop run --search: the built-in TPE finds the known optimum of a synthetic objective
# (tests/loop/objective.py, minimum 0 at x=0.3, lr=10^-2.5) within 40 rounds; kept rounds are
# commits of the tracked params file; SIGINT during a training run undoes the round (exit 53);
# a run over the time budget is stopped and a baseline that never logs the metric exits 55.
source "$(dirname "$0")/lib.sh"

REPO="$WORK/repo"
mkdir -p "$REPO" && cd "$REPO"
git init -q -b main
git config user.name tester && git config user.email tester@example.com
cp "$INLOOP_SRC/tests/loop/objective.py" .
echo '{}' > params.json
cat > space.toml <<'TOML'
[search]
seed = 3
random_starts = 8
params_file = "params.json"
[params.x]
type = "float"
low = -2.0
high = 2.0
[params.lr]
type = "float"
low = 1e-5
high = 1e-1
log = true
TOML
git add -A && git commit -qm "objective"
BASE=$(git rev-parse HEAD)
export INLOOP_STORE="$WORK/store"   # outside the repo this time
export SLOW_MARKER="$WORK/slow"

inloop loop init --metric objective:min --budget 30s --seeds 1 --max-seeds 1 --recheck-every 0 \
  --register-as bowl -- python3 objective.py --lr '{lr}' > /dev/null
start=$(date +%s.%N)
inloop loop run --search space.toml --rounds 40 > "$WORK/run.txt" 2> "$WORK/run.err" || fail "loop run: $(tail -5 "$WORK/run.err")"
end=$(date +%s.%N)
inloop loop log --json > "$WORK/log.json"
assert_eq "$(json 'len(d)' < "$WORK/log.json")" "41" "baseline + 40 rounds"
best=$(inloop loop best --json)
val=$(json 'd["metric"]' <<<"$best")
python3 -c "import sys; v=float('$val'); sys.exit(0 if v < 0.05 else 1)" || fail "search did not reach the optimum: best $val"
# The best is the minimum over every round, and the champion is the last kept round.
assert_eq "$(json 'min(r["metric"] for r in d if r["metric"] is not None) == float("'"$val"'")' < "$WORK/log.json")" "True" "best is the minimum"
kept=$(json 'sum(r["verdict"]=="kept" for r in d)' < "$WORK/log.json")
assert_eq "$(git rev-list --count "$BASE"..HEAD)" "$kept" "one commit per kept round"
# Kept rounds strictly improve (one seed each: no noise, margin 0).
assert_eq "$(json '[r["metric"] for r in d if r["verdict"] in ("baseline","kept")] == sorted([r["metric"] for r in d if r["verdict"] in ("baseline","kept")], reverse=True)' < "$WORK/log.json")" "True" "kept metrics decrease"
# The tracked params file at HEAD holds the champion's values.
assert_eq "$(json '{k: round(float(v), 6) for k, v in d.items()}' < params.json)" "$(json '{k: round(float(v), 6) for k, v in d["params"].items()}' <<<"$best")" "params.json at HEAD"
git log -1 --format=%B | grep -q "inloop-params: lr=" || fail "the commit message carries the params"
[ -z "$(git status --porcelain)" ] || fail "tree dirty: $(git status --porcelain)"
# --register-as: every kept round's run is a candidate version of the model, in round order.
assert_eq "$(inloop model list --json | json '[(v["name"], v["run_id"], v["stage"]) for v in d]')" \
  "$(json '[("bowl", r["run_id"], "candidate") for r in d if r["verdict"] == "kept"]' < "$WORK/log.json")" \
  "kept rounds are registered as candidates"
per_round=$(python3 -c "print(f'{($end - $start) / 41:.2f}')")
pass "search reached $val in 40 rounds ($kept kept), ${per_round}s per round with the objective"

# The dashboard's loop view reads the same rounds from the store (GET /api/v1/loops...); a
# loopback server without a token (--no-token) keeps this read-only check short.
"$INLOOP_BIN" serve --no-token --port 0 > "$WORK/serve.out" 2> "$WORK/serve.err" &
SERVE=$!
wait_for 300 grep -q "^inloop serve: http://" "$WORK/serve.out" || fail "serve did not start: $(cat "$WORK/serve.err")"
URL=$(grep -o 'http://[^ ]*' "$WORK/serve.out" | head -1)
URL=${URL%/}
python3 - "$URL" "$WORK/log.json" "$(git rev-parse HEAD)" <<'PY' || { kill "$SERVE"; fail "loop view API"; }
import json, sys, urllib.request
url, log_path, head = sys.argv[1], sys.argv[2], sys.argv[3]
log = json.load(open(log_path))
loops = json.load(urllib.request.urlopen(url + "/api/v1/loops"))["loops"]
assert [l["name"] for l in loops] == ["default"], loops
l = loops[0]
assert l["metric_key"] == "objective" and l["goal"] == "min", l
assert l["rounds"] == len(log) == 41, (l["rounds"], len(log))
assert l["kept"] == sum(r["verdict"] == "kept" for r in log), l
assert l["champion"]["commit"] == head, (l["champion"], head)
v = json.load(urllib.request.urlopen(url + "/api/v1/loops/default"))
got = [(r["round"], r["verdict"], r["metric"], r["commit"]) for r in v["rounds"]]
want = [(r["round"], r["verdict"], r["metric"], r["commit"]) for r in log]
assert got == want, (got[:3], want[:3])
assert v["lineage"] == [r["round"] for r in log if r["verdict"] in ("baseline", "kept")], v["lineage"]
try:
    urllib.request.urlopen(url + "/api/v1/loops/nope")
    raise SystemExit("unknown loop answered 200")
except urllib.error.HTTPError as e:
    assert e.code == 404, e.code
PY
kill "$SERVE"; wait "$SERVE" 2>/dev/null || true
pass "the loop view API matches loop log (41 rounds, lineage, champion commit)"

# SIGINT while the command runs: the supervisor stops it, the loop undoes the round.
touch "$SLOW_MARKER.arm"
"$INLOOP_BIN" loop run --search space.toml --rounds 1 > /dev/null 2> "$WORK/int.err" &
PID=$!
wait_for 300 test -e "$SLOW_MARKER" || fail "the slow run did not start"
rm -f "$SLOW_MARKER.arm"
kill -INT "$PID"
set +e
wait "$PID"
code=$?
set -e
assert_eq "$code" "53" "exit after SIGINT during the run (stderr: $(tail -3 "$WORK/int.err"))"
[ -z "$(git status --porcelain)" ] || fail "tree dirty after SIGINT: $(git status --porcelain)"
assert_eq "$(inloop loop log --json | json 'd[-1]["verdict"]')" "interrupted" "the round is recorded interrupted"
pass "SIGINT during a run: undone, exit 53"

# The time budget: a command that never finishes is stopped; nothing logged -> exit 55.
inloop loop init --replace --name slow --metric objective:min --budget 1s --grace 1 --seeds 1 --recheck-every 0 -- \
  python3 -c 'import time; time.sleep(60)' > /dev/null
t0=$(date +%s)
set +e
inloop loop run --search space.toml --rounds 1 > /dev/null 2> "$WORK/slow.err"
code=$?
set -e
t1=$(date +%s)
assert_eq "$code" "55" "a baseline that never logs the metric"
assert_contains "$(cat "$WORK/slow.err")" "over the time budget of 1s" "budget stop reported"
[ $((t1 - t0)) -lt 20 ] || fail "the budget did not stop the run ($((t1 - t0))s)"
pass "budget: stopped after 1s, baseline failed with exit 55"

# --approve on a terminal (a pty from script(1)): "n" to the first round that passes the gate
# discards it, "y" to the next commits it.
if command -v script > /dev/null; then
  cd "$REPO" && git checkout -q main
  inloop loop init --replace --name approve --metric objective:min --budget 30s --seeds 1 --recheck-every 0 \
    --max-seeds 1 -- python3 objective.py --lr '{lr}' > /dev/null
  (printf 'n\n'; for i in $(seq 40); do printf 'y\n'; done) |
    timeout 120 script -qec "$INLOOP_BIN loop run --search space.toml --rounds 30 --approve" /dev/null > "$WORK/approve.out" 2>&1 ||
    fail "loop run --approve on a pty: $(tail -5 "$WORK/approve.out")"
  inloop loop log --json > "$WORK/alog.json"
  passed=$(json '[(r["verdict"], "declined" in r["reason"]) for r in d[1:] if r["gain"] is not None and r["gain"] > 0]' < "$WORK/alog.json")
  assert_contains "$passed" "[('discarded', True), ('kept', False)" "the first passing round declined, the second kept"
  grep -aq "commit it to the loop's branch" "$WORK/approve.out" || fail "no approval question was asked"
  assert_eq "$(git rev-list --count main..HEAD)" "$(json 'sum(r["verdict"]=="kept" for r in d)' < "$WORK/alog.json")" "commits = approved keeps"
  pass "--approve: declined round discarded, approved round committed"
fi
