#!/usr/bin/env bash
# `inloop demo` trains the bundled PyTorch example (a short run here) under supervision: the run
# finishes, train/loss and val/loss are recorded and fall, checkpoints are announced.
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
p = [x[2] for x in json.load(open(sys.argv[1]))["points"]]
assert len(p) >= 5 and sum(p[-3:]) / 3 < sum(p[:3]) / 3, p
PY
n=$(inloop events demo --json | json 'len([e for e in d if e["kind"]=="checkpoint"])')
[ "$n" -ge 2 ] || fail "expected checkpoint events, got $n"
pass "demo"
