#!/usr/bin/env bash
# MLflow's clients log into `inloop serve` unchanged (MLFLOW_TRACKING_URI + a token): the npm
# package `mlflow` (a Node.js MLflow REST client written elsewhere, from ui/node_modules) and the
# request sequence of MLflow's Python client replayed over fetch (tests/e2e/mlflow_client.mjs).
# Then inloop's own verbs and the dashboard's API must see those runs: status, params, tags,
# every metric point (the step that went back in its own segment), and `inloop report`.
source "$(dirname "$0")/lib.sh"
NODE=${INLOOP_NODE:-node}
[ -d "$INLOOP_SRC/ui/node_modules/mlflow" ] || fail "ui/node_modules/mlflow missing: run ./setup.sh (npm ci in ui/)"

INGEST_TOKEN=$(inloop token create mlflow-ci --scope ingest 2> /dev/null)
READ_TOKEN=$(inloop token create mlflow-watch --scope read 2> /dev/null)
"$INLOOP_BIN" serve --port 0 > serve.out 2> serve.err &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true; wait $serve_pid 2>/dev/null || true; cleanup' EXIT
wait_for 600 grep -q "^inloop serve: http://" serve.out || fail "no URL printed: $(cat serve.err)"
URL=$(grep -o 'http://[^ ?/]*' serve.out | head -1)
TOKEN=$(grep -o '?token=[0-9a-f]*' serve.out | cut -d= -f2)
assert_contains "$(cat serve.err)" "MLFLOW_TRACKING_URI=$URL and MLFLOW_TRACKING_TOKEN=" "serve says how MLflow clients connect"

MLFLOW_TRACKING_URI=$URL MLFLOW_TRACKING_TOKEN=$INGEST_TOKEN READ_TOKEN=$READ_TOKEN \
  timeout 120 "$NODE" "$INLOOP_SRC/tests/e2e/mlflow_client.mjs" > client.out 2> client.err ||
  fail "MLflow clients: $(tail -c 3000 client.err)"
IDS=$(tail -1 client.out)
NPM_RUN=$(json 'd["npm_run"]' <<<"$IDS")
PY_RUN=$(json 'd["py_run"]' <<<"$IDS")
pass "the npm mlflow client and the Python client's requests logged runs $NPM_RUN and $PY_RUN"

# ---- inloop's own verbs see them
inloop runs --json > runs.json
assert_eq "$(json '[(r["name"], r["status"]) for r in d if r["id"] in ("'"$NPM_RUN"'", "'"$PY_RUN"'")]' < runs.json | tr -d ' ')" \
  "[('py-run','finished'),('npm-run','finished')]" "inloop runs: names and statuses"
inloop show "$PY_RUN" --json > show.json
assert_eq "$(json 'sorted(d["params"].items())' < show.json | tr -d ' ')" \
  "[('epochs','5'),('lr','0.01')]" "inloop show: params from MLflow"
assert_contains "$(json 'd["tags"]' < show.json)" "model=mlp" "inloop show: tags as KEY=VALUE"
inloop metrics "$PY_RUN" val/task_1 --format json > m.json
assert_eq "$(json 'len(d["points"])' < m.json)" 250 "inloop metrics: every point of a batched series"
inloop metrics "$NPM_RUN" loss --format json > loss.json
assert_eq "$(json '[(s["points"], s["first_step"], s["last_step"]) for s in d["segments"]]' < loss.json | tr -d ' ')" \
  "[(20,0,19),(1,5,5)]" "inloop metrics: the step that went back opened a segment, nothing overwritten"
inloop report "$PY_RUN" > report.md || fail "inloop report of an MLflow run"
assert_contains "$(cat report.md)" "py-run" "inloop report names the run"
pass "inloop runs/show/metrics/report see the MLflow runs"

# ---- the dashboard's API sees them
curl -sf -H "Authorization: Bearer $TOKEN" "$URL/api/v1/runs/$PY_RUN" > api_run.json || fail "GET /api/v1/runs/ID"
assert_eq "$(json '(d["run"]["status"], d["run"]["params"]["lr"])' < api_run.json)" "('finished', '0.01')" "dashboard API: status and params"
curl -sf -H "Authorization: Bearer $TOKEN" "$URL/api/v1/runs/$NPM_RUN/series?key=acc" > series.json ||
  fail "GET /api/v1/runs/ID/series"
assert_eq "$(json '(d["key"], d["total_points"])' < series.json)" "('acc', 500)" "dashboard API: the batched series"
pass "the dashboard API serves the MLflow runs"
