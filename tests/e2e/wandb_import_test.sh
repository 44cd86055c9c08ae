#!/usr/bin/env bash
# inloop import of W&B run directories end to end: a project's wandb/ folder holding the six real
# run directories of ../shared/fixtures/wandb (clients 0.8.31 to 0.22.3) plus the latest-run and
# debug.log links the client makes becomes six runs, no more; `inloop metrics` and `inloop show`
# give what the independent reader (expected.json) saw; importing again copies nothing; a single
# .wandb file imports on its own; a damaged copy keeps its readable records and names offsets.
source "$(dirname "$0")/lib.sh"

FIX="$INLOOP_SRC/../shared/fixtures/wandb"
if [ ! -f "$FIX/expected.json" ]; then
  echo "skipped: no W&B fixtures at $FIX"
  exit 0
fi

mkdir -p proj/wandb
for d in "$FIX"/*/run-*; do cp -r "$d" proj/wandb/; done
ln -s "$(ls -d proj/wandb/run-2022* | tail -1 | xargs basename)" proj/wandb/latest-run
ln -s latest-run/logs/debug.log proj/wandb/debug.log

out=$(inloop import --json proj)
echo "$out" | json 'len(d["runs"])' >/dev/null || fail "import --json is not JSON: $out"
assert_eq "$(echo "$out" | json 'sorted(r["format"] for r in d["runs"])')" \
  "['wandb', 'wandb', 'wandb', 'wandb', 'wandb', 'wandb']" \
  "six W&B runs; latest-run, output.log and debug logs are no runs of their own"
assert_eq "$(echo "$out" | json 'd["issues"]')" "[]" "the fixtures are clean"
assert_eq "$(echo "$out" | json 'd["skipped"].get("wandb:dict:histogram", 0)')" 182 \
  "histograms counted, not imported (expected.json's non_numeric_keys)"
pass "a wandb/ folder imports as one run per run directory"

# Every series of every run as `inloop metrics` reads it back, against expected.json.
echo "$out" > import.json
check_metrics() { "$PY" - "$FIX/expected.json" import.json "$INLOOP_BIN"; }
check_metrics <<'P' || fail "metrics differ from the independent reader"
import json, math, subprocess, sys
exp = json.load(open(sys.argv[1]))
runs = json.load(open(sys.argv[2]))["runs"]
by_source = {}
for r in runs:
    for slug in exp:
        if slug.split("/")[1] in r["source"]:
            by_source[slug] = r
assert len(by_source) == 6, sorted(by_source)
def num(v):
    return float(v) if not isinstance(v, str) else float(v.replace("Infinity", "inf"))
def same(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))
checked = 0
for slug, e in exp.items():
    run = by_source[slug]
    for key, s in e["series"].items():
        if s.get("internal"):
            continue
        cmd = [sys.argv[3], "metrics", run["id"], key, "--format", "json"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        got = json.loads(out)["points"]
        assert len(got) == s["count"], (slug, key, len(got), s["count"])
        for p, (step, v) in ((got[0], s["first"]), (got[-1], s["last"])):
            assert p[0] == step and same(float(p[2]), num(v)), (slug, key, p, step, v)
        checked += 1
assert checked == 31, checked
P
pass "every series reads back as the independent reader saw it"

kre=$(echo "$out" | json '[r["id"] for r in d["runs"] if "28b1fgqy" in r["source"]][0]')
assert_eq "$(echo "$out" | json '[r["name"] for r in d["runs"] if "28b1fgqy" in r["source"]][0]')" \
  "roberta_large_typed_entity_marker_tokens" "the display name names the run"
show=$(inloop show "$kre" --json)
assert_eq "$(echo "$show" | json 'd["params"]["wandb/run_id"]')" "28b1fgqy" "run id"
assert_eq "$(echo "$show" | json 'd["params"]["wandb/project"]')" "Entity_Marker" "project"
assert_eq "$(echo "$show" | json 'd["params"]["wandb/exit_code"]')" "255" "exit code"
assert_eq "$(echo "$show" | json 'd["status"]')" "failed" "a run that exited 255 failed"
assert_eq "$(echo "$show" | json 'd["params"]["summary/val_klue_re_auprc"]')" "NaN" \
  "a NaN summary value"
pino=$(echo "$out" | json '[r["id"] for r in d["runs"] if "2y1a2utr" in r["source"]][0]')
show=$(inloop show "$pino" --json)
assert_eq "$(echo "$show" | json 'd["params"]["data.name"]')" "Darcy" "nested config flattened"
assert_eq "$(echo "$show" | json 'd["params"]["summary/train loss"]')" "0.1089606124162674" \
  "summary value"
assert_eq "$(echo "$show" | json 'abs(d["started_at"] - 1664783363.812632) < 1e-3')" True \
  "start time from the run record"
assert_eq "$(echo "$show" | json 'd["tags"]')" "['default']" "the run record's tags"
assert_eq "$(echo "$show" | json 'd["status"]')" "finished" "exit code 0"
old=$(echo "$out" | json '[r["id"] for r in d["runs"] if "ecyvcbah" in r["source"]][0]')
show=$(inloop show "$old" --json)
assert_eq "$(echo "$show" | json 'd["params"]["lr_ac"]')" "0.4979" "config.yaml of the old layout"
assert_eq "$(echo "$show" | json 'd["params"]["wandb/project"]')" \
  "pytorch-ac-mountaincarcont-bayesopt5" "project from wandb-metadata.json"
pass "names, params, summary and start times"

again=$(inloop import --json proj)
assert_eq "$(echo "$again" | json 'all(r["status"] == "already_imported" for r in d["runs"])')" True \
  "second import of the same directories"
assert_eq "$(echo "$again" | json 'len(d["runs"])')" 6 "still six"
one=$(inloop import --json proj/wandb/latest-run/*.wandb)
assert_eq "$(echo "$one" | json '[r["status"] for r in d["runs"]]')" "['already_imported']" \
  "the .wandb file named through latest-run is the run already imported"
pass "import is idempotent, latest-run adds nothing"

# A damaged copy: one byte flipped in block 2, the file cut inside a chunk.
mkdir -p bad && cp -r "$FIX"/geom3d/run-* bad/
f=$(ls bad/run-*/*.wandb)
"$PY" - "$f" <<'P'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
b[2 * 32768 + 1000] ^= 0x10
open(p, "wb").write(bytes(b[: len(b) - 5]))
P
bad=$(inloop import --json "$f") || fail "a damaged .wandb file is still imported (exit $?)"
assert_eq "$(echo "$bad" | json 'len(d["runs"])')" 1 "one run from the damaged file"
msgs=$(echo "$bad" | json '[i["message"] for i in d["issues"]]')
assert_contains "$msgs" "damaged chunk: checksum mismatch" "the damaged chunk is named"
assert_contains "$msgs" "file ends inside" "the cut is named"
assert_eq "$(echo "$bad" | json 'all(i["offset"] >= 2 * 32768 for i in d["issues"])')" True \
  "issues carry byte offsets at or after the damage"
pts=$(echo "$bad" | json 'd["runs"][0]["points"]')
good=$(echo "$out" | json '[r["points"] for r in d["runs"] if "r0fs3zz6" in r["source"]][0]')
[ "$pts" -lt "$good" ] && [ "$pts" -gt $((good * 8 / 10)) ] || fail "kept $pts of $good points"
pass "damaged file: readable records kept, offsets reported"
