#!/usr/bin/env bash
# Many hosts, one server: `inloop run --server` streams a supervised stdlib-python run to a real
# `inloop serve` and the server ends with exactly the local points (every segment, compared point
# by point), events, stdout log and status: (a) with the server up throughout; (b+c) with the server down
# when the run starts, coming up mid-run, then SIGKILLed mid-ingest and restarted on the same port
# and store while the run goes on — no duplicate, no gap; (d) `inloop sync` of an offline store
# with two runs (one rewinds: two segments), then again: nothing sent. Workloads wait on gate
# files, not on time, so the test is the same on a slow machine.
source "$(dirname "$0")/lib.sh"

export INLOOP_TOKEN=e2e-sync-token-4711  # serve's token and the clients'
export INLOOP_SYNC_MAX_BACKOFF=1         # reconnect within a second of the server's return
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
SERVER="$WORK/server"

cat > work.py <<'PY'
# Phases FROM:TO[:GATE]: print step=FROM..TO, then wait for the file GATE (at most 120 s).
import os, sys, time
for phase in sys.argv[1:]:
    parts = phase.split(":")
    for s in range(int(parts[0]), int(parts[1]) + 1):
        print("step=%d loss=%.6f acc=%.4f" % (s, 1.0 / s + 0.001 * (s % 7), s / (s + 10.0)),
              flush=True)
        time.sleep(0.001)
    if len(parts) > 2:
        deadline = time.time() + 120
        while not os.path.exists(parts[2]) and time.time() < deadline:
            time.sleep(0.05)
PY

serve_pid=""
run_pid=""
start_server() {
  : > serve.out
  "$INLOOP_BIN" serve --store "$SERVER" --port "$PORT" > serve.out 2>> serve.err &
  serve_pid=$!
  wait_for 600 grep -q "^inloop serve: http://" serve.out || fail "serve did not start: $(cat serve.err)"
}
stop_all() {
  for p in $serve_pid $run_pid; do kill "$p" 2>/dev/null || true; done
  for p in $serve_pid $run_pid; do wait "$p" 2>/dev/null || true; done
}
trap 'stop_all; cleanup' EXIT

# Points (all segments) and events of run NAME in store DIR, as comparable JSON lines. With a
# third argument, the events leave out the server's own record of its crash (run_interrupted).
cat > dump.py <<'PY'
import json, subprocess, sys
inloop, store, name, skip = sys.argv[1:5]
def get(*args):
    return json.loads(subprocess.run([inloop, *args, "--store", store], check=True,
                                     capture_output=True, text=True).stdout)
for key in ("loss", "acc"):
    d = get("metrics", name, key, "--format", "json")
    print(json.dumps({"points": d["points"], "segments": [(g["segment"], g["points"]) for g in d["segments"]]}))
print(json.dumps([{k: v for k, v in e.items() if k != "id"} for e in get("events", name, "--json")
                  if e["kind"] != skip]))
d = get("logs", name, "--json", "--count", "100000")  # the last attempt's stdout, line by line
print(json.dumps([d[k] for k in ("attempt", "total_lines", "raw_bytes", "lines")]))
d = get("show", name, "--json")
print(json.dumps([d[k] for k in ("name", "status", "command", "exit_code", "cwd", "host")]))
PY
dump() { "$PY" dump.py "$INLOOP_BIN" "$1" "$2" "${3:-none}"; }
server_points() {  # points of NAME's loss on the server (0 when it has none yet)
  { inloop metrics --store "$SERVER" "$1" loss --format json | json 'd["total_points"]'; } \
    2>/dev/null || echo 0
}
server_has() { [ "$(server_points "$1")" -ge "$2" ]; }  # NAME has at least N points of loss
same_run() {
  local name=$1
  dump "$INLOOP_STORE" "$name" > "local-$name.txt"
  dump "$SERVER" "$name" ${2:-} > "server-$name.txt"
  cmp -s "local-$name.txt" "server-$name.txt" ||
    fail "$name differs on the server: $(diff "local-$name.txt" "server-$name.txt" | head -c 1500)"
}

# ---- (a) the server up throughout
start_server
inloop run --name live-a --server "$URL" -- "$PY" work.py 1:300 > a.out 2> a.err ||
  fail "run live-a: $(tail -5 a.err)"
assert_contains "$(cat a.err)" "run uploaded to $URL" "live-a reports its upload"
same_run live-a
[ "$(server_points live-a)" = 300 ] || fail "live-a: the server holds $(server_points live-a) points"
pass "a supervised run streams to the server: same points, events and status"

# A run continued with --continue-run (a requeued job) goes on in the same server run.
inloop run --name cont --continue-run job-7 --server "$URL" -- "$PY" work.py 1:50 > c1.out 2> c1.err ||
  fail "cont 1: $(tail -3 c1.err)"
inloop run --continue-run job-7 --server "$URL" -- "$PY" work.py 51:80 > c2.out 2> c2.err ||
  fail "cont 2: $(tail -3 c2.err)"
assert_contains "$(cat c2.err)" "run uploaded to $URL" "the continued run reports its upload"
same_run cont
assert_eq "$(inloop show --store "$SERVER" cont --json | json 'len(d["attempts"])')" 2 \
  "the server's run has both attempts"
pass "a continued run goes on in the same server run"

# ---- (b+c) the server down when the run starts, up mid-run, SIGKILLed mid-ingest, back
kill -9 "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=""
"$INLOOP_BIN" run --name live-b --server "$URL" --drain 120 -- \
  "$PY" work.py 1:2000:gate1 2001:4000:gate2 4001:4500 > b.out 2> b.err &
run_pid=$!
wait_for 600 grep -q "^step=2000" b.out || fail "live-b did not start: $(tail -5 b.err)"
wait_for 600 grep -q "unreachable" b.err || fail "live-b did not notice the server is down"
start_server  # (c) comes up later: the client catches up from the local store
wait_for 600 server_has live-b 2000 || fail "live-b did not catch up: $(server_points live-b)"
touch gate1
wait_for 600 server_has live-b 2001 || fail "live-b: no points after the gate"
kill -9 "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=""  # (b) mid-ingest
wait_for 600 grep -q "^step=4000" b.out || fail "live-b stopped while the server was down"
start_server
touch gate2
wait "$run_pid" || fail "run live-b: $(tail -5 b.err)"
run_pid=""
assert_contains "$(cat b.err)" "is back; catching up" "live-b says the server is back"
assert_contains "$(cat b.err)" "run uploaded to $URL" "live-b finished its upload"
# The server's crash is on its record of the run (one run_interrupted event of its own); the rest
# is the origin's, exactly.
same_run live-b run_interrupted
crashes=$(inloop events --store "$SERVER" live-b --json | json 'sum(e["kind"] == "run_interrupted" for e in d)')
assert_eq "$crashes" 1 "the server recorded its own crash once"
[ "$(server_points live-b)" = 4500 ] || fail "live-b: the server holds $(server_points live-b)"
pass "a server down at the start and killed mid-ingest: caught up, no duplicate, no gap"

# ---- (d) inloop sync of an offline store: two runs, one with a rewind (two segments)
OFF="$WORK/offline"
inloop run --store "$OFF" --name off-1 -- "$PY" work.py 1:500 > /dev/null 2>&1 || fail "off-1"
inloop run --store "$OFF" --name off-2 -- "$PY" work.py 1:400 250:600 > /dev/null 2>&1 ||
  fail "off-2"
segs=$(inloop metrics --store "$OFF" off-2 loss --format json | json 'len(d["segments"])')
assert_eq "$segs" 2 "off-2 rewound: two segments"
# A named token: scope ingest may sync, scope read may not (403, exit 71).
ingest_token=$(inloop token create hosts --scope ingest --store "$SERVER" 2>/dev/null)
read_token=$(inloop token create viewer --scope read --store "$SERVER" 2>/dev/null)
out=$(inloop sync --store "$OFF" --token "$read_token" "$URL" 2>&1) && fail "a read token synced"
assert_contains "$out" "the server answered 403" "a read token is refused"
INLOOP_TOKEN=$ingest_token inloop sync --store "$OFF" --jobs 2 --json "$URL" > sync1.json \
  2> sync1.err || fail "sync: $(cat sync1.err)"
assert_eq "$(json 'sorted(r["state"] for r in d["runs"])' < sync1.json)" "['complete', 'complete']" \
  "both runs complete on the server"
assert_eq "$(json 'd["points_sent"]' < sync1.json)" $((2 * 500 + 2 * 751)) "every point sent once"
dump "$OFF" off-2 > local-off-2.txt
dump "$SERVER" off-2 > server-off-2.txt
cmp -s local-off-2.txt server-off-2.txt ||
  fail "off-2 differs: $(diff local-off-2.txt server-off-2.txt | head -c 1500)"
inloop sync --store "$OFF" --json "$URL" > sync2.json 2> sync2.err || fail "sync again: $(cat sync2.err)"
assert_eq "$(json 'd["points_sent"], d["events_sent"]' < sync2.json)" "0 0" "nothing sent again"
assert_eq "$(json 'len(d["runs"])' < sync2.json)" 2 "both runs checked"
out=$(inloop sync --store "$OFF" --token wrong-token "$URL" 2>&1) && fail "a wrong token was accepted"
assert_contains "$out" "refused" "a wrong token is refused"
pass "inloop sync uploads an offline store once, segments included; again sends nothing"
