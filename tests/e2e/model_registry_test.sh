#!/usr/bin/env bash
# inloop model: two supervised stdlib-Python runs (each logs a loss, saves and announces a
# checkpoint through the SDK and writes per-example eval outputs) registered as versions of one
# model; the first becomes champion; a version without eval outputs is refused with one line per
# failed condition (exit 62); a version whose eval outputs show a real paired gain is promoted
# and retires the champion; an override with a reason is recorded with who and when; then
# `inloop deploy --model` serves the champion's artifact and shadows a newer candidate.
source "$(dirname "$0")/lib.sh"
SERVER="$INLOOP_SRC/examples/model_server/server.py"

cat > train.py <<'PY'
import json, sys
import inloop
name, lr, extra = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
inloop.params(lr=lr)
for step in range(1, 21):
    inloop.log(step, {"train/loss": 1.0 / (1 + lr * step)})
ckpt = f"ckpt-{name}-20.json"
with open(ckpt, "w") as f:
    json.dump({"lr": lr}, f)
inloop.checkpoint(20, ckpt)
# Per-example eval outputs on a held set of 200: right on even ids, and with extra=1 also on
# every id = 1 mod 4 (a real paired gain of +0.25, all of it in the "de" slice).
with open(f"eval-{name}.jsonl", "w") as f:
    for i in range(200):
        ok = i % 2 == 0 or (extra and i % 4 == 1)
        f.write(json.dumps({"id": f"q{i}", "correct": ok, "slice": {"lang": "en" if i % 2 == 0 else "de"}}) + "\n")
PY
inloop run --name base -- "$PY" train.py base 0.1 0 > run1.log 2>&1 || fail "run base: $(cat run1.log)"
inloop run --name tuned -- "$PY" train.py tuned 0.2 1 > run2.log 2>&1 || fail "run tuned: $(cat run2.log)"
pass "two supervised runs"

inloop model register base --name clf --eval eval-base.jsonl --json > v1.json
assert_eq "$(json 'd["version"], d["stage"], d["audit"]' < v1.json)" "1 candidate passed" "v1"
assert_eq "$(json 'd["artifact"]' < v1.json)" "$WORK/ckpt-base-20.json" "v1 artifact: the announced checkpoint"
assert_eq "$(json 'd["artifact_step"], d["params"]["lr"], round(d["metrics"]["train/loss"], 4)' < v1.json)" \
  "20 0.1 0.3333" "v1 step, params, final metrics"
out=$(inloop model promote clf 1) || fail "first promotion: $out"
assert_contains "$out" "clf v1 is the champion" "first champion"
pass "register and promote the first champion"

inloop model register tuned --name clf > reg2.txt || fail "register v2"
assert_contains "$(cat reg2.txt)" "registered clf v2 (candidate)" "v2 registered"
set +e
inloop model promote clf 2 > out.txt 2> err.txt; code=$?
set -e
assert_eq "$code" 62 "a promotion without evidence is refused"
assert_contains "$(cat err.txt)" "promotion of clf v2 refused by the gate:" "refusal header"
assert_contains "$(cat err.txt)" "  eval: clf v2 has no eval outputs" "eval line"
assert_contains "$(cat err.txt)" "  improvement: no eval outputs to compare with the champion's" "improvement line"
assert_contains "$(cat err.txt)" "--override" "the way out is named"
assert_eq "$(inloop model show clf 2 --json | json 'd["version"]["stage"]')" candidate "v2 stays candidate"
pass "a promotion without evidence is refused, one line per condition"

inloop model register tuned --name clf --eval eval-tuned.jsonl > /dev/null || fail "register v3"
out=$(inloop model promote clf 3) || fail "promotion with evidence: $out"
assert_contains "$out" "clf v3 is the champion; v1 retired" "v3 promoted"
assert_contains "$out" "clf v3 vs v1 on 200 examples: +0.2500" "the gate's numbers"
inloop model show clf --json > show.json
assert_eq "$(json 'd["champion"], [v["stage"] for v in d["versions"]]' < show.json)" \
  "3 ['retired', 'candidate', 'champion']" "stages after the promotion"
assert_eq "$(json '[(c["version"], c["to"]) for c in d["changes"]]' < show.json)" \
  "[(1, 'champion'), (1, 'retired'), (3, 'champion')]" "stage changes"
assert_eq "$(json 'd["changes"][2]["gate"]["passed"], d["changes"][2]["gate"]["diff"]["ci_low"] > 0' < show.json)" \
  "True True" "the gate's numbers recorded"
pass "a real paired gain promotes and retires the champion"

out=$(inloop model promote clf 2 --override "rollback drill") || fail "override: $out"
assert_contains "$out" "gate overridden by cli:" "override said"
inloop model show clf 2 --json > v2.json
assert_eq "$(json 'd["version"]["stage"], d["changes"][-1]["override"], d["changes"][-1]["reason"]' < v2.json)" \
  "champion True rollback drill" "override recorded"
assert_contains "$(json 'd["changes"][-1]["by"]' < v2.json)" "cli:" "who"
assert_eq "$(json 'd["changes"][-1]["at"] > 0, d["changes"][-1]["gate"]["passed"]' < v2.json)" "True False" "when, and the failed gate"
list=$(inloop model list)
assert_contains "$list" "clf" "list"
assert_eq "$(inloop model list --json | json 'len(d)')" 3 "three versions listed"
pass "an override is recorded with who, when and why"

# Deploy: the champion is v2 (tuned's checkpoint); v3 is retired, so a newer candidate is needed
# for a shadow: v4 from base.
inloop model register base --name clf > /dev/null || fail "register v4"
set +e
inloop deploy --model clf -- "$PY" "$SERVER" --port '{port}' > /dev/null 2> err.txt; code=$?
set -e
assert_eq "$code" 4 "deploy --model needs {artifact} in the command"
assert_contains "$(cat err.txt)" "{artifact}" "what to do"
"$INLOOP_BIN" deploy --model clf --port 0 --port-file port \
  -- "$PY" "$SERVER" --port '{port}' --version '{artifact}' > deploy.log 2>&1 &
DEPLOY=$!
trap 'kill $DEPLOY 2>/dev/null || true; wait $DEPLOY 2>/dev/null || true; cleanup' EXIT
wait_for 300 test -s port || fail "deploy did not write its port: $(cat deploy.log)"
P=$(cat port)
ready() {
  inloop deploy status --port "$P" --json 2>/dev/null |
    json '[p["ready"] for p in d["pools"]] == [1, 1]' | grep -qx True
}
wait_for 600 ready || fail "replicas not ready: $(cat deploy.log)"
inloop deploy status --port "$P" --json > status.json
assert_eq "$(json '[(p["role"], p["version"]) for p in d["pools"]]' < status.json)" \
  "[('current', 'clf:v2'), ('candidate', 'clf:v4')]" "champion serves, candidate shadows"
assert_eq "$(json 'd["shadow_fraction"] == 1' < status.json)" True "shadow of every request"
answer=$(curl -s -X POST "http://127.0.0.1:$P/v1/completions" -d '{"prompt":"hi","temperature":1}')
assert_eq "$(json 'd["model"]' <<<"$answer")" "$WORK/ckpt-tuned-20.json" "the champion's artifact answers"
pass "deploy --model serves the champion and shadows the newer candidate"
