#!/usr/bin/env bash
# Ranks on other hosts report over TCP (docs/sdk_protocol.md "Ranks"), without torch: a two-rank
# job (ranks_tcp_job.py) whose rank 1 plays a rank on another node (no FIFO path, and
# INLOOP_RANKS_HOST names another host), so its SDK must connect to INLOOP_RANKS_ADDR with the
# run's secret. Its NaN at step 12 is a finding on rank 1 and its host, and the whole job is rolled
# back to rank 0's checkpoint and finishes, exactly as with the FIFO (ranks_test.sh); its step
# times are stored. A stranger that connects with a wrong secret first (and claims a NaN of rank 1
# at step 3) is refused with a one-line warning and changes nothing.
source "$(dirname "$0")/lib.sh"

cp "$INLOOP_SRC/tests/e2e/ranks_tcp_job.py" job.py
printf '[remedy]\nbackoff_initial_seconds = 0\n' > inloop.toml
inloop run --name tcp -- "$PY" job.py launch 20 > out 2> err || fail "the job failed: $(tail -20 err)"
assert_contains "$(cat out)" "stranger: refused" "the stranger's connection was closed"
assert_contains "$(cat err)" \
  "refused a connection to the ranks' socket from 127.0.0.1: it did not present this run's INLOOP_RANKS_TOKEN" \
  "a one-line warning about the stranger"
inloop events tcp --json > events.json
assert_eq "$(json '[(e["data"]["rank"], e["data"]["host"], e["data"]["series"], e["step_lo"]) for e in d if e["kind"] == "nonfinite"][:1]' < events.json)" \
  "[(1, 'node-remote-1', 'rank/1/train/loss', 12)]" "the first finding is rank 1's NaN at step 12, on its host"
assert_eq "$(json '[e["data"]["action"] for e in d if e["kind"] == "action_applied"]' < events.json)" \
  "['rollback_skip']" "rolled back"
inloop show tcp --json > show.json
assert_eq "$(json '(d["status"], [a["reason"] for a in d["attempts"]])' < show.json)" \
  "('finished', ['start', 'rollback_skip'])" "the job finished in a second attempt"
assert_eq "$(json 'd["params"]["inloop.world_size"]' < show.json)" 2 "the world size"
assert_eq "$(json '[s["last_step"] for s in d["series"] if s["key"] == "rank/1/step_time"]' < show.json)" \
  "[20]" "rank 1's step times came over TCP"
assert_contains "$(cat out)" "rank 1 resumed from step 10" "rank 1 resumed from rank 0's checkpoint"
pass "a rank on another host reports over TCP; a wrong secret is refused"
