#!/usr/bin/env bash
# kill -9 of inloop mid-run: acknowledged points survive, the run reads as interrupted, the
# training does not outlive inloop, and the store stays readable by another inloop process while
# a run writes it.
source "$(dirname "$0")/lib.sh"

cat > steady.py <<'PY'
import sys, time
for i in range(1000000):
    print('{"step": %d, "loss": %.5f}' % (i, 1.0 / (1 + i)), flush=True)
    if i >= 20000:
        time.sleep(0.01)
PY
"$INLOOP_BIN" run --name steady -- python3 steady.py > /dev/null 2> err.txt &
pid=$!
# A concurrent reader sees points while the run is live.
wait_for 100 bash -c "'$INLOOP_BIN' show steady --json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"series\"] and d[\"series\"][0][\"points\"] > 20000 else 1)' 2>/dev/null" \
  || fail "reader did not see live points"
assert_eq "$(inloop runs --json | json 'd[0]["status"]')" running "live status"
kill -9 $pid
wait $pid 2>/dev/null || true
# The attempt's guard ends the training's process group (SIGTERM) once inloop is gone.
wait_for 600 bash -c "! pgrep -f 'python3 [s]teady.py' >/dev/null" || {
  pkill -9 -f "python3 steady.py" || true
  fail "the training outlived inloop's kill -9"
}
n=$(inloop show steady --json | json '[s for s in d["series"] if s["key"]=="loss"][0]["points"]')
[ "$n" -gt 20000 ] || fail "points lost after kill -9: $n"
assert_eq "$(inloop show steady --json | json 'd["status"]')" interrupted "status after recovery"
# The recovered series is contiguous from step 0.
inloop metrics steady loss --format json > m.json
assert_eq "$(json 'all(p[0]==i for i,p in enumerate(d["points"]))' < m.json)" True "contiguous steps"
pass "kill -9 recovery ($n points)"
