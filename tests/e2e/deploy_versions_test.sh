#!/usr/bin/env bash
# deploy: a candidate version in shadow mode gets a copy of the traffic and both answers are
# recorded; `deploy compare` runs the eval-diff statistics over them; a promotion mid-load
# switches versions without dropping a request; then canary routing on a fresh deploy.
source "$(dirname "$0")/lib.sh"
SERVER="$INLOOP_SRC/examples/model_server/server.py"
LOAD="$INLOOP_SRC/tests/e2e/deploy_load.py"

"$INLOOP_BIN" deploy --port 0 --port-file port --min 2 --max 2 --shadow 1 \
  --version-label v1 --candidate-label v2 \
  -- "$PY" "$SERVER" --port '{port}' --version v1 --delay 0.05 \
  -- "$PY" "$SERVER" --port '{port}' --version v2 --delay 0.05 >deploy.log 2>&1 &
DEPLOY=$!
trap 'kill $DEPLOY 2>/dev/null || true; wait $DEPLOY 2>/dev/null || true; cleanup' EXIT
wait_for 100 test -s port || fail "deploy did not write its port: $(cat deploy.log)"
P=$(cat port)
ready() {
  inloop deploy status --port "$P" --json 2>/dev/null |
    json '[p["ready"] for p in d["pools"]] == [2, 1]' | grep -qx True
}
wait_for 150 ready || fail "replicas not ready: $(cat deploy.log)"

for i in $(seq 1 30); do
  out=$(curl -s -X POST "http://127.0.0.1:$P/v1/completions" -d "{\"prompt\":\"shadow $i\",\"temperature\":1}")
  assert_eq "$(json 'd["model"]' <<<"$out")" v1 "shadow mode answers with the current version"
done
PAIRS="$INLOOP_STORE/deploy/deploy/pairs.jsonl"
wait_for 50 bash -c "[ \$(wc -l <'$PAIRS') -ge 30 ]" || fail "pairs not recorded: $(wc -l <"$PAIRS")"
python3 - "$PAIRS" <<'PY' || fail "bad pairs"
import json, sys
pairs = [json.loads(l) for l in open(sys.argv[1])]
assert len(pairs) == 30, len(pairs)
for p in pairs:
    assert p["current"]["status"] == 200 and p["candidate"]["status"] == 200, p
    cur, cand = json.loads(p["current"]["body"]), json.loads(p["candidate"]["body"])
    assert cur["model"] == "v1" and cand["model"] == "v2", p
    assert json.loads(p["request"])["prompt"].startswith("shadow "), p
    assert p["current"]["latency_ms"] > 0 and p["candidate"]["latency_ms"] > 0, p
print("30 pairs with both answers")
PY
pass "shadow records both answers"

inloop deploy compare --json >cmp.json
assert_eq "$(json 'd["pairs"]' <cmp.json)" 30 "compare pairs"
assert_eq "$(json 'd["eval_diff"]["n"]' <cmp.json)" 30 "eval diff n"
assert_eq "$(json 'd["identical_answers"] == 0' <cmp.json)" True "v1 and v2 answer differently"
inloop deploy compare >cmp.txt
assert_contains "$(cat cmp.txt)" "30 pairs" "compare text"
assert_contains "$(cat cmp.txt)" "95% CI" "compare text"
pass "deploy compare runs the eval-diff statistics over the pairs"

# Promotion mid-load: 6 clients for 6 s, promote after 2 s.
"$PY" "$LOAD" "$P" load.json "6:6" --delay 0.2 &
LOADER=$!
sleep 2
inloop deploy promote --port "$P" >promote.txt || fail "promote failed"
assert_contains "$(cat promote.txt)" "version v2 serves now" "promote output"
wait $LOADER
python3 - load.json <<'PY' || fail "see above"
import json, sys
reqs = json.load(open(sys.argv[1]))["requests"]
bad = [r for r in reqs if r[1] != 200]
print(f"{len(reqs)} requests, {len(bad)} failed")
assert not bad, bad[:5]
models = [r[2] for r in sorted(reqs)]
assert models[0] == "v1" and models[-1] == "v2", (models[:3], models[-3:])
late = [r for r in reqs if r[0] > 3.5]
assert late and all(r[2] == "v2" for r in late), "requests after the promotion still answered by v1"
PY
inloop deploy status --port "$P" --json >status.json
assert_eq "$(json 'd["pools"][0]["version"]' <status.json)" v2 "serving version"
wait_for 100 bash -c "grep -c '\"kind\":\"replica_stopped\"' '$INLOOP_STORE/deploy/deploy/events.jsonl' | grep -qx 2" ||
  fail "old replicas not drained and stopped"
pass "promotion mid-load drops no request; old replicas drain and stop"

kill -TERM $DEPLOY
wait $DEPLOY || fail "deploy did not stop cleanly"

# Canary: 50% of requests answered by the candidate.
rm -f port
"$INLOOP_BIN" deploy --name canary --port 0 --port-file port --min 1 --max 1 --canary 50 \
  -- "$PY" "$SERVER" --port '{port}' --version v1 \
  -- "$PY" "$SERVER" --port '{port}' --version v2 >deploy2.log 2>&1 &
DEPLOY=$!
wait_for 100 test -s port || fail "canary deploy did not start: $(cat deploy2.log)"
P=$(cat port)
ready2() {
  inloop deploy status --port "$P" --json 2>/dev/null |
    json '[p["ready"] for p in d["pools"]] == [1, 1]' | grep -qx True
}
wait_for 150 ready2 || fail "canary replicas not ready"
v2=0
for i in $(seq 1 60); do
  m=$(curl -s -X POST "http://127.0.0.1:$P/v1/completions" -d "{\"prompt\":\"c $i\"}" | json 'd["model"]')
  [ "$m" == v2 ] && v2=$((v2 + 1))
done
[ "$v2" -ge 12 ] && [ "$v2" -le 48 ] || fail "canary answered $v2 of 60 (expected about 30)"
inloop deploy rollback --port "$P" >/dev/null || fail "rollback failed"
for i in $(seq 1 10); do
  m=$(curl -s -X POST "http://127.0.0.1:$P/v1/completions" -d "{\"prompt\":\"r $i\"}" | json 'd["model"]')
  assert_eq "$m" v1 "after rollback"
done
pass "canary routes about half to the candidate ($v2/60); rollback returns all to v1"
