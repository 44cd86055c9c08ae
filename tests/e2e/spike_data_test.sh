#!/usr/bin/env bash
# From a loss spike back to the data (docs/data.md, "Data behind a spike"): the datapipe example's
# generator plants its block of repeated boilerplate (records 301-500 of 800); a trainer reads the
# corpus in order, 20 records a batch, and tells inloop which records each batch read
# (inloop.batch); its loss jumps once ten bad batches in a row have hit it (data index 25), the
# doctor rolls back to step 20 and skips data indices 21-25. The report's "Data behind the spike"
# names those records (lines 401-500, near duplicates of each other), `inloop data quarantine
# --from-run` puts them on the quarantine list and the next `inloop data run` drops them.
source "$(dirname "$0")/lib.sh"

cat > inloop.toml <<TOML
[[data.step]]
name = "generate"
command = ["$PY", "$INLOOP_SRC/examples/datapipe/gen_corpus.py", "{outputs}", "600"]
outputs = ["out/corpus.jsonl"]
env = ["DATAPIPE_INJECT"]
[[data.step.validate]]
schema = { id = "integer", source = "string", text = "string" }

[detect]
spike_min_points = 8
[remedy]
spike_patience = 0
TOML

cat > train.py <<PY
import json, os, sys, time
sys.path.insert(0, "$INLOOP_SRC/python")
import inloop
r = inloop.remedies()
recs = [json.loads(l) for l in open("out/corpus.jsonl")]
inloop.dataset("corpus", "out/corpus.jsonl")
B, start, damage = 20, 1, 0
if r["resume_from"]:
    ck = json.load(open(r["resume_from"]))
    start, damage = ck["step"] + 1, ck["damage"]
    print("resumed at step %d, skip %s" % (ck["step"], r["skip_windows"]), flush=True)
os.makedirs("ckpt", exist_ok=True)
for step in range(start, 36):
    index = inloop.data_index(step, r["skip_windows"])
    ids = [((index - 1) * B + k) % len(recs) for k in range(B)]
    inloop.batch(index, ids)
    bad = 2 * sum(recs[i]["source"] == "scrape" for i in ids) >= B
    damage = damage + 1 if bad else 0
    inloop.log(step, {"train/loss": 2.0 + 0.01 * (step % 3) + (6.0 if damage >= 10 else 0.0)})
    if step % 10 == 0:
        p = os.path.abspath("ckpt/step-%d.json" % step)
        with open(p + ".tmp", "w") as f:
            json.dump({"step": step, "damage": damage}, f)
        os.replace(p + ".tmp", p)
        inloop.checkpoint(p, step)
    time.sleep(0.02)
PY

DATAPIPE_INJECT=1 inloop data run > gen.txt 2>&1 || fail "the generate step failed: $(cat gen.txt)"
assert_eq "$(grep -c scrape out/corpus.jsonl)" 200 "the planted records"
inloop run --name spiky -- "$PY" train.py > train.out 2> train.err || fail "the run failed: $(tail -5 train.err)"
inloop events spiky --all --json > ev.json
assert_eq "$(json "[e['data']['skip_windows'] for e in d if e['kind']=='attempt_start' and e['data']['attempt']==2]" < ev.json)" \
  "[[[21, 26]]]" "the doctor skipped data indices 21-25"
assert_eq "$(json "sorted({b[0] for e in d if e['kind']=='data_batches' for b in e['data']['batches']}) == list(range(1, 41))" < ev.json)" \
  True "data indices 1-25 (attempt 1) and 26-40 (attempt 2) are in the data index"
pass "a data-caused spike, rolled back and skipped"

inloop report spiky --no-baseline --json > rep.json
assert_eq "$(json '[(s["window_lines"], s["window_batches"], s["window_records"]) for s in d["spike_data"]]' < rep.json)" \
  "[('401-500', 5, 100)]" "the skipped window's records"
assert_eq "$(json '[m["name"] for m in d["spike_data"][0]["measures"] if m["stands_out"]][:2]' < rep.json)" \
  "['near_duplicates', 'duplicates']" "what stands out"
assert_eq "$(json 'd["spike_data"][0]["flagged_lines"]' < rep.json)" "401-500" "the flagged records"
md=$(inloop report spiky --no-baseline)
assert_contains "$md" "## Data behind the spike" "markdown section"
assert_contains "$md" "Skipped data indices 21-25 read 100 records of corpus" "markdown headline"
assert_contains "$md" "near duplicates of another of them" "markdown: the finding in words"
assert_contains "$md" "Flagged (100): lines 401-500" "markdown: the records"
assert_contains "$(inloop report spiky --no-baseline --format html)" "<h2>Data behind the spike</h2>" "html section"
pass "the report names the injected records"

inloop data quarantine --from-run spiky > q.txt || fail "quarantine --from-run failed"
assert_contains "$(cat q.txt)" "100 records of out/corpus.jsonl quarantined" "quarantined"
DATAPIPE_INJECT=1 inloop data run > gen2.txt 2>&1 || fail "the rebuild failed: $(cat gen2.txt)"
assert_eq "$(grep -c scrape out/corpus.jsonl)" 100 "the next version drops the window's records"
# The corpus changed: the run's record numbers no longer name the same records.
assert_contains "$(inloop report spiky --no-baseline)" "the dataset changed since the run read it" "a changed dataset"
set +e
err=$(inloop data quarantine --from-run spiky --all 2>&1)
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "quarantine --from-run on a changed dataset succeeded"
assert_contains "$err" "no longer name the same records" "no quarantine by stale record numbers"
set +e
err=$(inloop data quarantine --from-run spiky out/corpus.jsonl 2>&1)
set -e
assert_contains "$err" "give OUTPUT --lines A-B, or --from-run RUN" "one source of lines"
pass "quarantine --from-run"
