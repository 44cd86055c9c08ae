#!/usr/bin/env bash
# 20 seconds of the load test (bench/load/load_test.py runs it for 10 minutes): 100 supervised
# runs writing to one store, then 100 HTTP ingest clients posting to one `inloop serve`, while 50 SSE clients
# follow every live run. Every point printed or answered 2xx must be stored exactly once, and
# every SSE client must see each run's points in step order without a gap. Latency and RSS are
# printed, not asserted. Runs alone (RUN_SERIAL) and only in the main job (label load).
source "$(dirname "$0")/lib.sh"
out=$("$PY" "$INLOOP_SRC/bench/load/load_test.py" "$INLOOP_BIN" --runs 100 --sse 50 --seconds 20 \
  --points-per-s 10 2>&1) || fail "load test: $out"
echo "$out"
assert_contains "$out" "load: failures 0" "summary"
pass "load (20 s)"
