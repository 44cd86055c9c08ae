#!/usr/bin/env bash
# `inloop demo` trains the bundled PyTorch example (a short run here) under supervision: the run
# finishes, train/loss and val/loss are recorded and fall, checkpoints are announced, and the NaN
# the demo injects (at 55% of the steps) is rolled back and skipped.
source "$(dirname "$0")/lib.sh"
"$PY" -c "import torch" 2>/dev/null || { echo "SKIP: torch not importable by $PY"; exit 0; }

inloop demo -- --steps 60 --eval-every 20 --ckpt-every 20 --log-every 5 > out.txt 2> err.txt \
  || fail "demo failed: $(tail -5 err.txt)"
assert_contains "$(cat err.txt)" "where to look next" "demo prints next steps"
inloop show demo --json > show.json
assert_eq "$(json 'd["status"]' < show.json)" finished "demo status"
assert_contains "$(json '[s["key"] for s in d["series"]]' < show.json)" "train/loss" "train/loss recorded"
assert_contains "$(json '[s["key"] for s in d["series"]]' < show.json)" "val/loss" "val/loss recorded"
inloop metrics demo train/loss --format json > m.json
python3 - m.json <<'PY' || fail "train/loss did not fall"
import json, sys
import math
p = [x[2] for x in json.load(open(sys.argv[1]))["points"] if isinstance(x[2], float) and math.isfinite(x[2])]
assert len(p) >= 5 and sum(p[-3:]) / 3 < sum(p[:3]) / 3, p
PY
n=$(inloop events demo --json | json 'len([e for e in d if e["kind"]=="checkpoint"])')
[ "$n" -ge 2 ] || fail "expected checkpoint events, got $n"
ev=$(inloop events demo --json)
assert_eq "$(json "[e['data']['action'] for e in d if e['kind']=='action_applied']" <<<"$ev")" "['rollback_skip']" "demo remedy"
assert_eq "$(json "[e['step_lo'] for e in d if e['kind']=='nonfinite' and e['data']['series']=='train/loss']" <<<"$ev")" "[35]" "demo NaN at 55% of 60 steps (step 33), first logged at 35"
assert_contains "$(cat err.txt)" "roll back" "demo says what it will show"
inloop demo --clean -- --steps 20 --eval-every 10 --ckpt-every 10 --log-every 5 > /dev/null 2> err2.txt \
  || fail "demo --clean failed: $(tail -5 err2.txt)"
assert_eq "$(inloop runs --json | json 'd[0]["attempts"]')" 1 "demo --clean: one attempt"
pass "demo"
