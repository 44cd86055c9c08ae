#!/usr/bin/env bash
# W&B's clients log into `inloop serve` unchanged (WANDB_BASE_URL + an inloop token as
# WANDB_API_KEY): W&B's official JS/TS SDK (`@wandb/sdk`, from ui/node_modules) doing init with a
# config, log, finish; and the requests of W&B's Python client replayed over fetch
# (tests/e2e/wandb_client.mjs). Then inloop's own verbs must see those runs: names, statuses,
# config as params, summary, every history row as points at its _step, the console output.
source "$(dirname "$0")/lib.sh"
NODE=${INLOOP_NODE:-node}
[ -d "$INLOOP_SRC/ui/node_modules/@wandb/sdk" ] || fail "ui/node_modules/@wandb/sdk missing: run ./setup.sh (npm ci in ui/)"

INGEST_TOKEN=$(inloop token create wandb-ci --scope ingest 2> /dev/null)
READ_TOKEN=$(inloop token create wandb-watch --scope read 2> /dev/null)
"$INLOOP_BIN" serve --port 0 > serve.out 2> serve.err &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true; wait $serve_pid 2>/dev/null || true; cleanup' EXIT
wait_for 600 grep -q "^inloop serve: http://" serve.out || fail "no URL printed: $(cat serve.err)"
URL=$(grep -o 'http://[^ ?/]*' serve.out | head -1)
wait_for 100 grep -q "WANDB_BASE_URL" serve.err || true
assert_contains "$(cat serve.err)" "WANDB_BASE_URL=$URL and WANDB_API_KEY=" "serve says how W&B clients connect"

WANDB_BASE_URL=$URL WANDB_API_KEY=$INGEST_TOKEN READ_TOKEN=$READ_TOKEN STEPS=200 \
  timeout 120 "$NODE" "$INLOOP_SRC/tests/e2e/wandb_client.mjs" > client.out 2> client.err ||
  fail "W&B clients: $(tail -c 3000 client.err)"
IDS=$(tail -1 client.out)
JS_RUN=$(json 'd["js_run"]' <<<"$IDS")
PY_RUN=$(json 'd["py_run"]' <<<"$IDS")
pass "the @wandb/sdk client and the Python client's requests logged W&B runs $JS_RUN and $PY_RUN"

# ---- inloop's own verbs see them
inloop runs --json > runs.json
assert_eq "$(json 'sorted((r["name"], r["status"]) for r in d)' < runs.json | tr -d ' ')" \
  "[('js-sdk-run','finished'),('pyrun01','failed')]" "inloop runs: names and statuses"
JS_ID=$(json '[r["id"] for r in d if r["name"] == "js-sdk-run"][0]' < runs.json)
PY_ID=$(json '[r["id"] for r in d if r["name"] == "pyrun01"][0]' < runs.json)
assert_eq "$PY_ID" "$PY_RUN" "upsertBucket's bucket id is the inloop run id"

inloop show "$JS_ID" --json > js_show.json
assert_eq "$(json '(d["params"]["lr"], d["params"]["model.depth"], d["params"]["wandb/run_id"], d["params"]["wandb/project"])' < js_show.json)" \
  "('0.01', '4', '$JS_RUN', 'wb-e2e')" "inloop show: the JS SDK's config and the W&B run"
assert_eq "$(json 'd["params"]["summary/loss"]' < js_show.json)" "0.005" "inloop show: the summary"
inloop metrics "$JS_ID" loss --format json > js_loss.json
assert_eq "$(json '(d["total_points"], d["points"][0][0], d["points"][-1][0], d["points"][-1][2])' < js_loss.json | tr -d ' ')" \
  "(200,0,199,0.005)" "inloop metrics: every row the JS SDK logged, at its _step"

inloop show "$PY_ID" --json > py_show.json
assert_eq "$(json '(d["params"]["epochs"], d["params"]["optimizer.name"], d["params"]["wandb/job_type"], d["params"]["summary/best"])' < py_show.json)" \
  "('5', 'adam', 'train', 'epoch-4')" "inloop show: the Python client's config (value wrappers off), meta, summary"
assert_eq "$(json '"_wandb.cli_version" in d["params"] or "_wandb" in d["params"]' < py_show.json)" "False" "inloop show: _wandb is W&B's own, not a param"
assert_contains "$(json 'd["tags"]' < py_show.json)" "baseline" "inloop show: W&B tags"
inloop metrics "$PY_ID" val/loss --format json > py_loss.json
assert_eq "$(json '(d["total_points"], d["points"][10][0], int(d["points"][10][1]))' < py_loss.json | tr -d ' ')" \
  "(251,10,1700000010)" "inloop metrics: each row once despite the resend, wall time from _timestamp"
inloop logs "$PY_ID" > py_logs.txt || fail "inloop logs of a W&B run"
assert_contains "$(cat py_logs.txt)" "epoch 1" "inloop logs: the console output"
pass "inloop runs/show/metrics/logs see the W&B runs"
