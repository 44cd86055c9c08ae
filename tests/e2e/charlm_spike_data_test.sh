#!/usr/bin/env bash
# The datapipe example's bad-data variant end to end with the real charlm (examples/datapipe/
# spike.toml; label torch): the pipeline plants 20 scraped records carrying one base64 blob
# (lines 151-170) that its near-duplicate check only warns about; charlm reads the corpus in order
# (--data-order sequential) and its loss really jumps when it reaches them; the doctor rolls back
# and skips the window; `inloop report` names the planted lines; `inloop data quarantine
# --from-run` drops them and charlm trained on the rebuilt corpus has no spike. Also: `inloop
# events` hides the data index (data_batches) unless asked for.
source "$(dirname "$0")/lib.sh"

cp "$INLOOP_SRC"/examples/datapipe/{gen_corpus.py,tokenize_corpus.py,spike.toml} .
sed -i "s|\"/usr/bin/python3\"|\"$PY\"|" spike.toml
charlm() {  # charlm NAME: a ~80-step CPU run on the pipeline's output, under the supervisor
  inloop run --config spike.toml --name "$1" -- "$PY" "$INLOOP_SRC/examples/charlm/train.py" \
    --data out-spike/train.txt --records out-spike/corpus.jsonl --record-index out-spike/train.idx \
    --data-order sequential --steps 80 --log-every 1 --ckpt-every 10 --eval-every 1000 \
    --eval-batches 1 --n-layer 1 --n-embd 64 --batch-size 16 --seq-len 32 --threads 1 \
    --out "ck-$1" > "$1.out" 2> "$1.err" || fail "charlm $1 failed: $(tail -5 "$1.err")"
}

inloop data run --config spike.toml > gen.txt 2>&1 || fail "the pipeline failed: $(cat gen.txt)"
assert_contains "$(cat gen.txt)" "generate warning: near_duplicates out-spike/corpus.jsonl.text: 19 records" "the check warns"
assert_eq "$(sed -n '151p;170p' out-spike/corpus.jsonl | grep -c '"source": "scrape"')" 2 "the planted block"
assert_eq "$(grep -c '"source": "scrape"' out-spike/corpus.jsonl)" 20 "20 planted records"

charlm spiky
inloop events spiky --json > ev.json
spike=$(json "[e['step_lo'] for e in d if e['kind']=='loss_spike']" < ev.json)
[ "$spike" != "[]" ] || fail "no loss_spike finding: $(grep '^step' spiky.out | tr '\n' ' ' | head -c 3000)"
assert_eq "$(json "[e['data']['reason'] for e in d if e['kind']=='attempt_start' and e['data']['attempt']==2]" < ev.json)" \
  "['rollback_skip']" "the doctor rolled back and skipped"
assert_eq "$(json "any(e['kind']=='data_batches' for e in d)" < ev.json)" False "events hides the data index"
assert_contains "$(inloop events spiky)" "data_batches events hidden; --kind data_batches or --all to show)" "the count line"
assert_eq "$(inloop events spiky --kind data_batches --json | json "len(d) > 0 and all(e['kind']=='data_batches' for e in d)")" \
  True "--kind data_batches"
pass "charlm's loss spiked at step $spike; rolled back and skipped"

inloop report spiky --no-baseline --json > rep.json
assert_eq "$(json '[s["flagged_lines"] for s in d["spike_data"]]' < rep.json)" "['151-170']" "the report names the planted lines"
assert_eq "$(json '[m["name"] for m in d["spike_data"][0]["measures"] if m["stands_out"]][:1]' < rep.json)" \
  "['near_duplicates']" "what stands out"
assert_contains "$(inloop report spiky --no-baseline)" "Flagged (20): lines 151-170" "markdown: the records"
pass "the report traces the spike to lines 151-170"

inloop data quarantine --config spike.toml --from-run spiky > q.txt || fail "quarantine --from-run failed"
assert_contains "$(cat q.txt)" "20 records of out-spike/corpus.jsonl quarantined" "quarantined"
inloop data run --config spike.toml > gen2.txt 2>&1 || fail "the rebuild failed: $(cat gen2.txt)"
assert_eq "$(grep -c '"source": "scrape"' out-spike/corpus.jsonl || true)" 0 "the rebuilt corpus drops them"
charlm clean
inloop events clean --json > clean.json
assert_eq "$(json "[e['kind'] for e in d if e['kind'] in ('loss_spike', 'attempt_start')]" < clean.json)" \
  "['attempt_start']" "the rebuilt data trains without a spike"
pass "quarantined, rebuilt, no spike"
