#!/usr/bin/env bash
# deploy: a 10x load spike triggers panic scale-up within 10 s; a replica killed mid-load is
# restarted; the load falling back scales down after a stable window; no request fails.
source "$(dirname "$0")/lib.sh"
SERVER="$INLOOP_SRC/examples/model_server/server.py"
LOAD="$INLOOP_SRC/tests/e2e/deploy_load.py"

MODEL_DELAY=0.1 "$INLOOP_BIN" deploy --port 0 --port-file port --min 1 --max 4 --target 2 \
  --stable-window 4 --panic-window 1 --health-interval 0.5 \
  -- "$PY" "$SERVER" --port '{port}' >deploy.log 2>&1 &
DEPLOY=$!
trap 'kill $DEPLOY 2>/dev/null || true; wait $DEPLOY 2>/dev/null || true; cleanup' EXIT
wait_for 100 test -s port || fail "deploy did not write its port: $(cat deploy.log)"
P=$(cat port)
ready() { inloop deploy status --port "$P" --json 2>/dev/null | json 'd["pools"][0]["ready"]' | grep -qx 1; }
wait_for 150 ready || fail "no replica ready: $(cat deploy.log)"

# 3 s at 1 client, 9 s at 10 clients (the spike), 10 s at 1 client.
"$PY" "$LOAD" "$P" load.json "1:3,10:9,1:10" &
LOADER=$!
sleep 7  # 4 s into the spike: kill a ready replica of the current pool
inloop deploy status --port "$P" --json >mid.json
VICTIM=$(json '[r["pid"] for r in d["pools"][0]["replicas"] if r["state"] == "ready"][-1]' <mid.json)
kill -9 -- "-$VICTIM" 2>/dev/null || kill -9 "$VICTIM"
wait $LOADER
inloop deploy status --port "$P" --json >status.json

python3 - load.json "$INLOOP_STORE/deploy/deploy/events.jsonl" <<'PY' || fail "see above"
import json, sys
load = json.load(open(sys.argv[1]))
events = [json.loads(l) for l in open(sys.argv[2])]
reqs = load["requests"]
bad = [r for r in reqs if r[1] != 200]
print(f"{len(reqs)} requests, {len(bad)} failed")
assert len(reqs) > 300, "load generator sent too few requests"
assert not bad, f"failed requests: {bad[:5]}"
spike = load["start"] + 3.0
ups = [e for e in events if e["kind"] == "scale_up" and e["data"]["panic"] and e["time"] >= spike - 0.5]
assert ups, "no panic scale-up"
lag = ups[0]["time"] - spike
print(f"panic scale-up {lag:.2f}s after the spike: {ups[0]['message']}")
assert lag < 10, f"panic scale-up took {lag:.2f}s"
d = ups[0]["data"]
assert d["panic_avg"] >= 2 * d["capacity"], d
restarts = [e for e in events if e["kind"] == "replica_restart"]
assert restarts, "the killed replica was not restarted"
print("restart:", restarts[0]["message"])
downs = [e for e in events if e["kind"] == "scale_down"]
assert downs, "no scale-down after the load fell"
for e in downs:
    assert e["data"]["to"] == e["data"]["from"] - 1, e
print("scale-down:", downs[0]["message"])
PY
assert_eq "$(json 'd["retries"] > 0' <status.json)" "True" "the crash was absorbed by retries"
metrics=$(curl -s "http://127.0.0.1:$P/metrics")
assert_contains "$metrics" 'inloop_scaling_events_total{direction="panic_up"}' "metrics"
assert_contains "$metrics" 'inloop_replica_restarts_total 1' "metrics"
pass "spike: panic scale-up, crash absorbed, scale-down, no failed request"

PIDS=$(json '" ".join(str(r["pid"]) for p in d["pools"] for r in p["replicas"] if r["pid"] > 0)' <status.json)
[ -n "$PIDS" ] || fail "no replica pids in status"
kill -TERM $DEPLOY
wait $DEPLOY || fail "deploy did not stop cleanly on SIGTERM"
for pid in $PIDS; do
  if kill -0 "$pid" 2>/dev/null; then fail "replica $pid left behind"; fi
done
pass "SIGTERM drains and stops every replica"
