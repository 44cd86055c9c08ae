#!/usr/bin/env bash
# inloop import end to end: a tree holding every supported format (TensorBoard's own event file,
# HF checkpoints, Lightning CSVLogger output, wide and long CSV, JSONL, an MLflow file store, a
# training log, and files to skip), read into runs; the same import again is a no-op; a damaged
# event file keeps every readable record and names the byte offset; --strict turns problems into
# exit 5; a missing path is exit 3.
source "$(dirname "$0")/lib.sh"

FIX="$INLOOP_SRC/../shared/fixtures/tfevents/tensorboard-writer"
mkdir -p data/tb/run1 data/hf/out/checkpoint-10 data/hf/out/checkpoint-20 \
  data/pl/lightning_logs/version_0 data/mlruns/0/abc123/metrics/train data/mlruns/0/abc123/params \
  data/mlruns/0/abc123/tags data/misc
have_fixture=0
if [ -d "$FIX" ]; then cp "$FIX"/events.out.tfevents.* data/tb/run1/; have_fixture=1; fi

cat > data/hf/out/checkpoint-10/trainer_state.json <<'J'
{"global_step": 10, "max_steps": 20, "log_history": [{"epoch": 0.5, "learning_rate": 0.001, "loss": 2.5, "step": 5}, {"epoch": 1.0, "learning_rate": 0.0009, "loss": 2.1, "step": 10}]}
J
cat > data/hf/out/checkpoint-20/trainer_state.json <<'J'
{"global_step": 20, "max_steps": 20, "train_batch_size": 8, "log_history": [{"epoch": 0.5, "learning_rate": 0.001, "loss": 2.5, "step": 5}, {"epoch": 1.0, "learning_rate": 0.0009, "loss": 2.1, "step": 10}, {"epoch": 1.0, "eval_loss": 2.2, "eval_accuracy": 0.41, "step": 10}, {"epoch": 1.5, "learning_rate": 0.0008, "loss": 1.9, "step": 15}, {"epoch": 2.0, "learning_rate": 0.0007, "loss": 1.7, "step": 20}]}
J
printf 'epoch,step,train_loss,val_loss,val_acc\n0,0,3.0,,\n0,1,2.8,,\n0,1,,2.9,0.2\n1,2,2.5,,\n1,3,2.3,,\n1,3,,2.4,0.35\n' \
  > data/pl/lightning_logs/version_0/metrics.csv
printf 'lr: 0.01\nmodel:\n  layers: 4\n  width: 256\n' > data/pl/lightning_logs/version_0/hparams.yaml
printf 'step,loss,lr\n0,4.0,0.1\n10,3.5,0.1\n20,3.1,0.05\n' > data/misc/wide.csv
printf 'run,key,step,value,timestamp\nalpha,loss,0,1.0,1700000000\nbeta,loss,0,2.0,1700000000\nalpha,loss,1,0.9,1700000010\nbeta,loss,1,1.8,1700000010\n' > data/misc/long.csv
printf '{"step": 1, "loss": 2.0, "time": 1700000000.5}\nnot json at all\n{"step": 2, "loss": 1.5, "acc": 0.3}\n' > data/misc/metrics.jsonl
printf 'iter 1: loss 3.2000, time 10.0ms\niter 2: loss 3.1000, time 10.0ms\nhello world\n' > data/misc/train.log
printf 'artifact_uri: file:///tmp\nrun_id: abc123\nrun_name: quiet-fox\nstart_time: 1700000000000\nstatus: 3\n' > data/mlruns/0/abc123/meta.yaml
printf '1700000000000 2.5 0\n1700000001000 2.25 1\n' > data/mlruns/0/abc123/metrics/train/loss
printf '0.003' > data/mlruns/0/abc123/params/lr
printf 'tuned' > data/mlruns/0/abc123/tags/mlflow.runName
printf 'demo' > data/mlruns/0/abc123/tags/team
head -c 3000 /dev/urandom > data/misc/blob.bin
# A run that logged params and tags but no metric (git keeps no empty metrics/ folder).
mkdir -p data/mlruns/0/def456/params data/mlruns/0/def456/tags
printf 'run_id: def456\nrun_name: params-only\nstart_time: 1700000000000\nend_time: 1700000050000\nstatus: 4\nuser_id: bob\n' > data/mlruns/0/def456/meta.yaml
printf '0.1' > data/mlruns/0/def456/params/lr
printf 'params-only' > data/mlruns/0/def456/tags/mlflow.runName

out=$(inloop import --json --tag imported data)
echo "$out" | json 'len(d["runs"])' >/dev/null || fail "import --json is not JSON: $out"
fmts=$(echo "$out" | json '" ".join(sorted(r["format"] for r in d["runs"]))')
want="csv csv csv jsonl lightning log mlflow mlflow trainer_state"
[ $have_fixture = 1 ] && want="csv csv csv jsonl lightning log mlflow mlflow tfevents trainer_state"
assert_eq "$fmts" "$want" "one run per input, of each format"
assert_eq "$(echo "$out" | json 'd["skipped"].get("trainer_state:superseded_checkpoint", 0)')" 1 \
  "the older HF checkpoint's trainer_state is a prefix of the newer one, not a run"
assert_eq "$(echo "$out" | json 'sum(1 for r in d["runs"] if r["status"] == "imported")')" \
  "$(echo "$out" | json 'len(d["runs"])')" "first import imports everything"
assert_contains "$(echo "$out" | json '[i["line"] for i in d["issues"] if i["path"].endswith("metrics.jsonl")]')" "2" \
  "the bad JSONL line is reported with its line number"
# The report, per directory: what became a run, what was skipped and why.
assert_eq "$(echo "$out" | json '[(k["path"], k["reason"]) for d2 in d["directories"] for k in d2["skipped"]]')" \
  "[('data/hf/out/checkpoint-10/trainer_state.json', 'superseded'), ('data/misc/blob.bin', 'unrecognized')]" \
  "skipped paths with their reasons (hparams.yaml is read with its run)"
assert_eq "$(echo "$out" | json '[r["name"] for d2 in d["directories"] if d2["dir"] == "data/mlruns/0" for r in d2["runs"]]')" \
  "['tuned', 'params-only']" "both MLflow runs under their experiment's folder"
assert_eq "$(echo "$out" | json 'd["totals"]["skipped_paths"]')" 2 "totals"
pass "a tree of every format imports"

inloop metrics alpha loss --format json > alpha.json
assert_eq "$(json '[float(p[2]) for p in d["points"]]' < alpha.json)" "[1.0, 0.9]" "long CSV run alpha"
assert_eq "$(inloop metrics tuned train/loss --format json | json '[(p[0], p[2]) for p in d["points"]]')" \
  "[(0, 2.5), (1, 2.25)]" "MLflow metric in a nested folder"
show=$(inloop show tuned --json)
assert_eq "$(echo "$show" | json 'd["params"]["lr"]')" "0.003" "MLflow param"
assert_contains "$(echo "$show" | json 'd["tags"]')" "imported" "--tag lands on the run"
assert_contains "$(echo "$show" | json 'd["tags"]')" "team=demo" "MLflow tags kept"
hf=$(echo "$out" | json '[r["name"] for r in d["runs"] if r["format"] == "trainer_state"][0]')
assert_eq "$(inloop metrics "$hf" loss --format json | json '[p[0] for p in d["points"]]')" \
  "[5, 10, 15, 20]" "HF log_history from the newest checkpoint"
po=$(inloop show params-only --json)
assert_eq "$(echo "$po" | json 'd["params"]["lr"]')" "0.1" "a run with params and no metrics is a run"
assert_contains "$(echo "$po" | json 'd["tags"]')" "user=bob" "meta.yaml's user is a tag"
assert_eq "$(echo "$po" | json 'd["status"]')" "failed" "meta.yaml's status (4: FAILED)"
pass "imported values read back"

if [ $have_fixture = 1 ]; then
  tb=$(echo "$out" | json '[r["id"] for r in d["runs"] if r["format"] == "tfevents"][0]')
  inloop metrics "$tb" train/loss --format json > loss.json
  "$PY" - "$FIX/expected.json" loss.json <<'P' || fail "tfevents train/loss differs from TensorBoard's own reading"
import json, sys
exp = json.load(open(sys.argv[1]))["train/loss"]
got = [(p[0], p[2]) for p in json.load(open(sys.argv[2]))["points"]]
assert len(got) == len(exp), (len(got), len(exp))
for (s, v), (es, ev) in zip(got, exp):
    assert s == es and abs(v - ev) <= 1e-6 * max(1, abs(ev)), (s, v, es, ev)
P
  pass "TensorBoard's fixture reads back as TensorBoard reads it"
fi

runs_before=$(inloop runs --json | json 'len(d)')
text=$(inloop import data/misc)
assert_contains "$text" "data/misc/" "the text report names each directory"
assert_contains "$text" "skipped   1 file of no format inloop reads: blob.bin" "and what it skipped"
again=$(inloop import --json data)
assert_eq "$(echo "$again" | json 'all(r["status"] == "already_imported" for r in d["runs"])')" True \
  "second import of the same bytes"
assert_eq "$(inloop runs --json | json 'len(d)')" "$runs_before" "no run was copied"
pass "import is idempotent"

if [ $have_fixture = 1 ]; then
  mkdir -p bad/runx
  f=$(ls "$FIX"/events.out.tfevents.* | head -1)
  cp "$f" bad/runx/
  bf=$(ls bad/runx/*)
  size=$(stat -c %s "$bf")
  # Flip one byte in the middle of the file (inside some record's data) and cut the tail short.
  "$PY" - "$bf" <<'P'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xFF
open(p, "wb").write(bytes(b[:-7]))
P
  bad=$(inloop import --json bad) || fail "a damaged file is still imported (exit $?)"
  assert_contains "$(echo "$bad" | json '[i["message"] for i in d["issues"]]')" "CRC" "bad CRC reported"
  assert_eq "$(echo "$bad" | json 'all("offset" in i for i in d["issues"])')" True "issues carry byte offsets"
  assert_eq "$(echo "$bad" | json 'len(d["issues"]) >= 2')" True "the CRC error and the truncated tail"
  good=$(echo "$out" | json '[r["points"] for r in d["runs"] if r["format"] == "tfevents"][0]')
  kept=$(echo "$bad" | json 'd["runs"][0]["points"]')
  # An event carries up to three scalars (loss, lr, accuracy): two lost records lose at most six.
  [ "$kept" -ge $((good - 6)) ] && [ "$kept" -lt "$good" ] || fail "kept $kept of $good points"
  set +e; inloop import --strict bad > /dev/null 2>&1; code=$?; set -e
  assert_eq "$code" 0 "--strict on bytes already imported has nothing new to complain about"
  cp -r bad bad2 && printf 'x' >> bad2/runx/$(basename "$bf")
  set +e; inloop import --strict bad2 > /dev/null 2>&1; code=$?; set -e
  assert_eq "$code" 5 "--strict exits 5 when a record was bad"
  pass "damaged event file: readable records kept, offsets reported"
fi

set +e; inloop import nowhere/at/all 2> err.txt; code=$?; set -e
assert_eq "$code" 3 "missing path"
assert_contains "$(cat err.txt)" "nowhere/at/all" "the error names the path"
set +e; inloop import data/misc/blob.bin 2> err.txt; code=$?; set -e
assert_eq "$code" 4 "a file of no known format named explicitly"
pass "errors"
