#!/usr/bin/env bash
# Multi-rank jobs under one supervisor, with REAL torch.distributed (gloo on CPU, torchrun): every
# rank reports through the SDK (the workers do not inherit the pipe: they find the ranks' FIFO).
# (a) Rank 1 of 2 spends 40 ms more per step in its own work: a `straggler` finding names rank 1
# and its host (timeline, show, report), per-rank step times are stored as rank/<r>/step_time, the main series is rank 0's
# alone (SDK and printed lines: torchrun's "[default1]:" labels keep the other ranks' prints
# out), and `inloop show` lists the straggler. (b) Rank 1 of 2 turns its loss NaN at step 12: the
# finding says rank 1, and the whole job is rolled back to rank 0's checkpoint and finishes.
source "$(dirname "$0")/lib.sh"

cp "$INLOOP_SRC/tests/e2e/ranks_train.py" train.py
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# torchrun N ARGS...: the launcher's argv (--tee 1: every worker's stdout, labelled
# "[defaultR]:"; --redirects 1 as well, since torch 1.13 on Python 3.11 fails on the default "0").
torchrun() {
  echo "$PY" -m torch.distributed.run --nproc_per_node "$1" --master_addr 127.0.0.1 \
    --master_port "$(free_port)" --monitor_interval 0.2 --redirects 1 --tee 1 train.py "${@:2}"
}

# (a) the straggler.
# shellcheck disable=SC2046
inloop run --name strag -- $(torchrun 2 straggle 30) > a.out 2> a.err ||
  fail "straggler run failed: $(tail -20 a.err)"
inloop events strag --json > a.events.json
assert_eq "$(json '[(e["data"]["rank"], e["data"]["host"], e["data"]["series"]) for e in d if e["kind"] == "straggler" and not e["data"]["update"]]' < a.events.json)" \
  "[(1, '$(hostname)', 'rank/1/step_time')]" "one straggler finding, on rank 1 and its host"
assert_contains "$(json '[e["message"] for e in d if e["kind"] == "straggler"][0]' < a.events.json)" \
  "rank 1 ($(hostname)) is a straggler" "the finding's message"
inloop show strag --json > a.show.json
assert_eq "$(json 'sorted(s["key"] for s in d["series"])' < a.show.json)" \
  "['rank/0/step_time', 'rank/1/step_time', 'shard', 'train/loss']" \
  "rank 0's series, the ranks' step times"
assert_eq "$(json '[(s["points"], s["last_step"]) for s in d["series"] if s["key"] in ("train/loss", "shard")]' < a.show.json)" \
  "[(30, 30), (30, 30)]" "one point per step in the main series (rank 0's only)"
assert_eq "$(json 'd["params"]["inloop.world_size"]' < a.show.json)" 2 "the world size"
assert_eq "$(inloop metrics strag shard --format json | json 'sorted(set(float(p[2]) for p in d["points"]))')" \
  "[0.0]" "printed lines of rank 1 stay out of the main series"
assert_contains "$(inloop show strag)" "straggler  rank 1 ($(hostname))" "inloop show lists the straggler"
inloop report strag > a.report.md
assert_contains "$(cat a.report.md)" "The detectors reported 1 finding (1 straggler)" "the report's findings"
assert_contains "$(cat a.report.md)" "every rank waits for it at each collective" "the report's recommendation"
pass "straggler"

# (b) a NaN on rank 1 rolls the whole job back.
printf '[remedy]\nbackoff_initial_seconds = 0\n' > inloop.toml
# shellcheck disable=SC2046
inloop run --name nan -- $(torchrun 2 nan 20) > b.out 2> b.err ||
  fail "NaN run failed: $(tail -20 b.err)"
inloop events nan --json > b.events.json
assert_eq "$(json '[(e["data"]["rank"], e["data"]["series"], e["step_lo"]) for e in d if e["kind"] == "nonfinite"][:1]' < b.events.json)" \
  "[(1, 'rank/1/train/loss', 12)]" "the first finding is rank 1's NaN at step 12"
assert_eq "$(json '[e["data"]["action"] for e in d if e["kind"] == "action_applied"]' < b.events.json)" \
  "['rollback_skip']" "rolled back"
inloop show nan --json > b.show.json
assert_eq "$(json '(d["status"], [a["reason"] for a in d["attempts"]])' < b.show.json)" \
  "('finished', ['start', 'rollback_skip'])" "the job finished in a second attempt"
assert_contains "$(cat b.out)" "rank 1 resumed from step 10" "every rank resumed from rank 0's checkpoint"
pass "NaN on rank 1"
