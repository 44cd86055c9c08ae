#!/usr/bin/env bash
# deploy: flag and config errors, the start-up timeout (exit 40), a client with no deploy to talk
# to (exit 41), and the [deploy] table of a config file.
source "$(dirname "$0")/lib.sh"
SERVER="$INLOOP_SRC/examples/model_server/server.py"

expect_rc() {  # expected-code message command...
  local want=$1 what=$2
  shift 2
  set +e
  "$@" >out.txt 2>err.txt
  local rc=$?
  set -e
  assert_eq "$rc" "$want" "$what (stderr: $(cat err.txt))"
}

expect_rc 2 "no command" inloop deploy --port 0
assert_contains "$(cat err.txt)" "give the server command after --" "no command message"
expect_rc 2 "--min 0" inloop deploy --min 0 -- true
expect_rc 2 "--shadow without a candidate" inloop deploy --shadow 0.5 -- true
assert_contains "$(cat err.txt)" "candidate command" "shadow message"
expect_rc 2 "public bind without a token" inloop deploy --bind 0.0.0.0 -- true
assert_contains "$(cat err.txt)" "needs a token" "bind message"
pass "bad flags exit 2 with one line saying what to do"

printf '[deploy]\nmni = 1\n' >bad.toml
expect_rc 4 "unknown config key" inloop deploy --config bad.toml -- true
assert_contains "$(cat err.txt)" "mni" "unknown key named"
printf '[deploy]\nmin = 1\nmax = 1\nport = 0\nstartup_timeout_s = 1.5\ncommand = ["%s/no-such-server", "--port", "{port}"]\n' "$WORK" >never.toml
expect_rc 40 "no replica ever ready" inloop deploy --config never.toml
assert_contains "$(cat err.txt)" "no replica of" "start-up timeout message"
pass "config [deploy] table is read; a server that never gets ready exits 40"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
expect_rc 41 "status with no deploy" inloop deploy status --port "$PORT"
assert_contains "$(cat err.txt)" "no deploy answers" "unreachable message"
pass "clients exit 41 when no deploy answers"

# A config file supplies the command and the version label; a flag overrides its port.
printf '[deploy]\nversion = "from-config"\ncommand = ["%s", "%s", "--port", "{port}"]\n' "$PY" "$SERVER" >good.toml
"$INLOOP_BIN" deploy --config good.toml --port 0 --port-file port >deploy.log 2>&1 &
DEPLOY=$!
trap 'kill $DEPLOY 2>/dev/null || true; wait $DEPLOY 2>/dev/null || true; cleanup' EXIT
wait_for 100 test -s port || fail "deploy did not start: $(cat deploy.log)"
P=$(cat port)
wait_for 150 bash -c "'$INLOOP_BIN' deploy status --port $P --json | grep -q '\"ready\":1'" || fail "not ready"
inloop deploy status --port "$P" >status.txt
assert_contains "$(cat status.txt)" "current version from-config: 1 ready" "status text"
assert_contains "$(cat status.txt)" "replica_ready" "status events"
pass "config-driven deploy serves; status prints replicas and events"

# kill -9 of the deploy itself leaves no replica behind (they die with their parent).
PIDS=$(inloop deploy status --port "$P" --json | json '" ".join(str(r["pid"]) for r in d["pools"][0]["replicas"])')
kill -9 "$DEPLOY"
wait "$DEPLOY" 2>/dev/null || true
alive() { for pid in $PIDS; do ps -o stat= -p "$pid" | grep -qv Z && return 0; done; return 1; }
gone=0
for _ in $(seq 50); do
  if ! alive; then gone=1; break; fi
  sleep 0.1
done
[ "$gone" == 1 ] || fail "replicas $PIDS outlived a killed deploy"
pass "replicas die with a SIGKILLed deploy"
