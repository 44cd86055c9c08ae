#!/usr/bin/env bash
# The PostgreSQL store against a real server: starts Debian's postgresql-15 in a temporary
# directory (initdb, pg_ctl on a free loopback port and a Unix socket there), runs the store's
# unit tests on it (the */Postgres instances: INLOOP_TEST_PG_URL), then end to end over the
# built binary with --store postgresql://...: a supervised stdlib-Python run with a NaN and a
# rollback, read back by runs/show/metrics/events/logs/report, and by `inloop serve` (runs,
# one run, series, logs, ingest). The server is stopped and its directory removed on any exit.
# Exit 77 (skipped) when postgresql-15 is not installed (setup.sh installs it).
source "$(dirname "$0")/../e2e/lib.sh"
INLOOP_TESTS=${INLOOP_TESTS:-$(dirname "$INLOOP_BIN")/inloop_tests}
PGBIN=/usr/lib/postgresql/15/bin
[ -x "$PGBIN/initdb" ] || { echo "SKIP: postgresql-15 is not installed (setup.sh installs it)"; exit 77; }

# initdb and postgres refuse root: as root run them as the postgres user.
PGROOT=$(mktemp -d /tmp/inloop-pg-XXXXXX)
if [ "$(id -u)" = 0 ]; then
  PGUSER=postgres
  chown postgres "$PGROOT"
  as_pg() { runuser -u postgres -- "$@"; }
else
  PGUSER=$(id -un)
  as_pg() { "$@"; }
fi
serve_pid=""
teardown() {
  [ -n "$serve_pid" ] && { kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; }
  as_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" -m immediate stop > /dev/null 2>&1 || true
  rm -rf "$PGROOT"
  cleanup
}
trap teardown EXIT

as_pg "$PGBIN/initdb" -D "$PGROOT/data" -A trust -U "$PGUSER" --no-sync > "$PGROOT/initdb.log" 2>&1 \
  || fail "initdb: $(tail -5 "$PGROOT/initdb.log")"
started=0
for try in 1 2 3; do
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  if as_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/server.log" -w -t 60 \
      -o "-p $PORT -k $PGROOT -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
      start > /dev/null 2>&1; then
    started=1
    break
  fi
done
[ "$started" = 1 ] || fail "postgres did not start: $(tail -5 "$PGROOT/server.log")"
SERVER="postgresql://$PGUSER@127.0.0.1:$PORT"
pass "postgres 15 on 127.0.0.1:$PORT"

# ---- the store's unit tests on PostgreSQL
INLOOP_TEST_PG_URL=$SERVER "$INLOOP_TESTS" --gtest_brief=1 \
  --gtest_filter='*/Postgres:PgStoreTest.*' > unit.out 2>&1 || fail "store unit tests on PostgreSQL: $(tail -30 unit.out)"
ran=$(grep -o '\[  PASSED  \] [0-9]* test' unit.out | grep -o '[0-9]*')
[ "${ran:-0}" -ge 20 ] || fail "too few store tests ran on PostgreSQL: $(tail -5 unit.out)"
grep -q "INLOOP_TEST_PG_URL is unset" unit.out && fail "store tests skipped on PostgreSQL"
pass "store unit tests on PostgreSQL ($ran)"

# ---- end to end: a supervised run into postgresql://
"$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$PGUSER" inloop_e2e || fail "createdb"
export INLOOP_STORE="$SERVER/inloop_e2e"
cat > train.py <<'PY'
import argparse, os, time
p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=60)
p.add_argument("--resume")
p.add_argument("--skip-from", type=int, default=0)
p.add_argument("--skip-to", type=int, default=0)
a = p.parse_args()
start = int(open(a.resume).read()) if a.resume else 0
if a.resume:
    print("resumed from %s at step %d" % (a.resume, start), flush=True)
os.makedirs("ckpt", exist_ok=True)
for step in range(start + 1, a.steps + 1):
    data = step + (a.skip_to - a.skip_from if a.skip_from <= step else 0)
    loss = 2.0 + 1.0 / step + 0.001 * (step % 3)
    if data == 40:
        loss = float("nan")  # the batch at data index 40 is poisoned
    print("step=%d loss=%s" % (step, loss), flush=True)
    if step % 10 == 0:
        with open("ckpt/step-%d.pt.tmp" % step, "w") as f:
            f.write(str(step))
        os.replace("ckpt/step-%d.pt.tmp" % step, "ckpt/step-%d.pt" % step)
    time.sleep(0.2 if 30 < step <= 40 else 0.03)
PY
cat > inloop.toml <<'TOML'
[remedy]
checkpoint_glob = "ckpt/step-*.pt"
checkpoint_settle_seconds = 0.5
checkpoint_args = ["--resume", "{checkpoint}"]
skip_args = ["--skip-from", "{skip_from}", "--skip-to", "{skip_to}"]
TOML
inloop run --name pgrun -- python3 train.py > run.out 2> run.err || fail "run into PostgreSQL: $(tail -5 run.err)"
assert_contains "$(cat run.err run.out)" "store postgresql://$PGUSER@127.0.0.1:$PORT/inloop_e2e" "the run names its store"
[ -d .inloop ] && fail "a local store was made beside the PostgreSQL one"
inloop show pgrun --json > show.json || fail "show"
assert_eq "$(json 'd["status"]' < show.json)" finished "status"
assert_eq "$(json 'len(d["attempts"])' < show.json)" 2 "two attempts (the rollback)"
inloop events pgrun --json > ev.json || fail "events"
assert_eq "$(json "[e['step_lo'] for e in d if e['kind']=='nonfinite']" < ev.json)" "[40]" "NaN at step 40"
inloop metrics pgrun loss --format json > m.json || fail "metrics"
assert_eq "$(json 'd["points"][-1][0]' < m.json)" 60 "the series ends at step 60"
assert_eq "$(json 'len([p for p in d["points"] if p[0] == 40])' < m.json)" 1 "one point at step 40 in the effective series"
inloop runs --json > runs.json || fail "runs"
assert_eq "$(json '[r["name"] for r in d]' < runs.json)" "['pgrun']" "runs lists the run"
inloop logs pgrun > logs.txt || fail "logs"
assert_contains "$(cat logs.txt)" "resumed from $WORK/ckpt/step-30.pt at step 30" "the second attempt's stdout"
assert_contains "$(cat logs.txt)" "step=60 loss=" "the log's last line"
inloop logs pgrun --attempt 1 > logs1.txt || fail "logs --attempt 1"
assert_contains "$(cat logs1.txt)" "step=40 loss=nan" "the first attempt's NaN line"
inloop report pgrun > report.md || fail "report"
assert_contains "$(cat report.md)" "pgrun" "the report names the run"
pass "run, show, events, metrics, runs, logs, report over PostgreSQL"

# ---- serve over the same store
"$INLOOP_BIN" serve --port 0 --no-token > serve.out 2> serve.err &
serve_pid=$!
wait_for 300 grep -q "^inloop serve: http://" serve.out || fail "no URL printed: $(cat serve.err)"
URL=$(grep -o 'http://[^ ?]*' serve.out)
jcurl() { curl -sf -H 'Content-Type: application/json' "$@"; }
jcurl "${URL}api/v1/runs?name=pg*" > api_runs.json || fail "GET runs"
assert_eq "$(json '(d["total"], d["runs"][0]["name"], d["runs"][0]["status"])' < api_runs.json)" "(1, 'pgrun', 'finished')" "API runs"
jcurl "${URL}api/v1/runs/pgrun" > api_run.json || fail "GET run"
assert_eq "$(json '[(s["key"], s["last_step"], s["nonfinite"]) for s in d["series"] if s["key"] == "loss"]' < api_run.json)" \
  "[('loss', 60, 1)]" "API run series summary"
jcurl "${URL}api/v1/runs/pgrun/series?key=loss&width=1000" > api_series.json || fail "GET series"
assert_eq "$(json '[p[0] for p in d["points"]]' < api_series.json)" "$(json '[p[0] for p in d["points"]]' < m.json)" "API series = metrics"
jcurl "${URL}api/v1/runs/pgrun/logs?tail=1" > api_logs.json || fail "GET logs"
assert_eq "$(json '(d["attempt"], d["compressed"], d["lines"][0][:8])' < api_logs.json)" "(2, True, 'step=60 ')" "API logs tail"
created=$(jcurl -X POST "${URL}api/v1/runs" -d '{"name":"remote","params":{"lr":0.02},"tags":["far"]}') || fail "POST run"
rid=$(json 'd["id"]' <<<"$created")
assert_eq "$(jcurl -X POST "${URL}api/v1/runs/$rid/points" -d '{"points":[{"key":"loss","step":1,"value":3.5,"wall_time":1700000000},{"key":"loss","step":2,"value":"NaN","wall_time":1700000001}]}')" \
  '{"accepted":2}' "ingest points"
jcurl -X POST "${URL}api/v1/runs/$rid/finish" -d '{"status":"finished","exit_code":0}' > /dev/null || fail "finish"
assert_eq "$(inloop metrics remote loss --format json | json '[p[0] for p in d["points"]]')" "[1, 2]" "ingested points read by the CLI"
assert_eq "$(jcurl "${URL}api/v1/runs?tag=far" | json '[r["name"] for r in d["runs"]]')" "['remote']" "tag filter"
pass "serve over PostgreSQL: runs, run, series, logs, ingest"
