#!/usr/bin/env bash
# The Python SDK reaches the supervisor on its own pipe: its points carry the SDK's steps and
# keys, the user's own prints that look like metrics do not collide with them, params and
# checkpoints are recorded; outside inloop the SDK is a no-op.
source "$(dirname "$0")/lib.sh"

cat > sdk_train.py <<PY
import sys
sys.path.insert(0, "$INLOOP_SRC/python")
import inloop
inloop.params(lr=0.001, model="tiny")
for step in range(0, 50, 10):
    inloop.log(step, {"train/loss": 2.0 - step / 100, "lr": 0.001})
    print("loss: 99")      # a print that repeats a metric for people: not parsed once the SDK speaks
inloop.log(60, {"train/loss": float("nan")})
inloop.checkpoint(60, "/tmp/ckpt-60.pt")
PY
inloop run --name sdk --policy observe -- python3 sdk_train.py > out.txt 2> err.txt || fail "sdk run failed: $(cat err.txt)"
inloop show sdk --json > show.json
assert_eq "$(json 'd["params"]["model"]' < show.json)" tiny "sdk params"
assert_eq "$(json 'd["params"]["lr"]' < show.json)" 0.001 "sdk param number"
inloop metrics sdk train/loss --format json > m.json
assert_eq "$(json '[p[0] for p in d["points"]]' < m.json)" "[0, 10, 20, 30, 40, 60]" "sdk steps"
assert_eq "$(json 'd["points"][-1][2]' < m.json)" NaN "sdk NaN"
assert_eq "$(json '[p[2] for p in d["points"]][:2]' < m.json)" "[2, 1.9]" "sdk values"
inloop events sdk --json > ev.json
assert_eq "$(json '[e["data"]["path"] for e in d if e["kind"]=="checkpoint"]' < ev.json)" "['/tmp/ckpt-60.pt']" "checkpoint event"
assert_eq "$(json '[s["key"] for s in d["series"]]' < show.json)" "['train/loss', 'lr']" "prints not parsed once the SDK speaks"
pass "sdk under inloop"

# With [parse] lines_with_sdk = true the printed lines are parsed too.
printf '[parse]\nlines_with_sdk = true\n' > both.toml
inloop run --name both --policy observe --config both.toml -- python3 sdk_train.py > /dev/null 2>&1 || fail "both run failed"
assert_eq "$(inloop show both --json | json 'sorted(s["key"] for s in d["series"])')" "['loss', 'lr', 'train/loss']" "lines_with_sdk"

# Outside inloop: a no-op that prints nothing extra.
out=$(python3 sdk_train.py)
assert_eq "$(sort -u <<<"$out")" "loss: 99" "sdk no-op outside inloop"
pass "sdk outside inloop"
