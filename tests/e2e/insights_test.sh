#!/usr/bin/env bash
# inloop insights end to end: a store filled by `inloop import` of generated MLflow runs (a sweep
# of lr / wd / seed and a token-scaling series) plus two live `inloop run`s, one on course to beat
# the best finished run and one that cannot. Checks the text and --json output: lr ranks first,
# Spearman values and the scaling fit against a stdlib-only Python reference, the live runs'
# extrapolation and flag, the one-line reasons of omitted sections, and the exit codes of errors.
source "$(dirname "$0")/lib.sh"
REF="$INLOOP_SRC/tests/insights/reference.py"

python3 - <<'PY'
import json, math, os, random
rng = random.Random(42)
truth = {"sweep": [], "scale": []}

def run(name, params, curve):
    rid = "%032x" % rng.getrandbits(128)
    d = os.path.join("data", "mlruns", "0", rid)
    os.makedirs(os.path.join(d, "metrics", "val"))
    os.makedirs(os.path.join(d, "params"))
    os.makedirs(os.path.join(d, "tags"))
    with open(os.path.join(d, "meta.yaml"), "w") as f:
        f.write("run_id: %s\nrun_name: %s\nstart_time: 1700000000000\nstatus: 3\n" % (rid, name))
    for k, v in params.items():
        with open(os.path.join(d, "params", k), "w") as f:
            f.write(v)
    with open(os.path.join(d, "tags", "mlflow.runName"), "w") as f:
        f.write(name)
    with open(os.path.join(d, "metrics", "val", "loss"), "w") as f:
        for step, v in curve:
            f.write("%d %r %d\n" % (1700000000000 + step * 1000, v, step))
    return curve[-1][1]

for i in range(30):
    log_lr = rng.uniform(-4, -2)
    wd = rng.uniform(0, 0.1)
    final = 2 + 0.5 * (log_lr + 3.3) ** 2 + 2 * wd + rng.gauss(0, 0.03)
    params = {"lr": "%.6g" % 10 ** log_lr, "wd": "%.6g" % wd, "seed": str(i)}
    curve = [(s, final + (1000 - s) / 1000) for s in range(10, 1001, 10)]
    f = run("sweep-%d" % i, params, curve)
    truth["sweep"].append({"lr": float(params["lr"]), "wd": float(params["wd"]), "seed": i, "final": f})
for i in range(7):
    tokens = 1e9 * 10 ** (i * 0.5)
    final = 1.7 + 80 * tokens ** -0.2 + rng.gauss(0, 0.005)
    curve = [(s, final + (1000 - s) / 2000) for s in range(100, 1001, 100)]
    f = run("scale-%d" % i, {"tokens": "%.17g" % tokens}, curve)
    truth["scale"].append({"tokens": tokens, "final": f})
json.dump(truth, open("truth.json", "w"))
PY

inloop import data > import.txt 2>&1 || fail "import failed: $(cat import.txt)"
assert_eq "$(inloop runs --json | json 'len(d)')" 37 "37 imported runs"

# Two live runs: val/loss = c + (step/10)^-0.5 to step 400 of max_steps 2000, then they wait.
cat > live.py <<'PY'
import json, random, sys, time
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
c = float(args["--c"])
rng = random.Random(int(args["--seed"]))
for step in range(10, 401, 10):
    print(json.dumps({"step": step, "val/loss": c + (step / 10) ** -0.5 + rng.gauss(0, 0.003)}), flush=True)
print("waiting", flush=True)
time.sleep(120)
PY
"$INLOOP_BIN" run --name live-good --policy observe -- python3 live.py --max_steps 2000 --c 1.2 --seed 1 > good.out 2> good.err &
good_pid=$!
"$INLOOP_BIN" run --name live-bad --policy observe -- python3 live.py --max_steps 2000 --c 6 --seed 2 > bad.out 2> bad.err &
bad_pid=$!
# SIGTERM, not SIGINT: background jobs of a non-interactive shell ignore SIGINT, and so would the
# training process inloop forwards it to.
stop_live() { kill -TERM $good_pid $bad_pid 2>/dev/null || true; wait $good_pid $bad_pid 2>/dev/null || true; }
trap 'stop_live; cleanup' EXIT
points() { inloop show "$1" --json 2>/dev/null | json '[s["points"] for s in d["series"] if s["key"] == "val/loss"][0]' 2>/dev/null; }
wait_for 300 bash -c "grep -q waiting good.out && grep -q waiting bad.out" || fail "live runs did not start: $(cat good.err bad.err)"
has40() { [ "$(points "$1")" = 40 ]; }
wait_for 100 has40 live-good || fail "live-good points not in the store: $(points live-good)"
wait_for 100 has40 live-bad || fail "live-bad points not in the store: $(points live-bad)"
pass "store: 37 imported runs and 2 live ones"

# ---- importance over the sweep ----
inloop insights --runs 'sweep-*' --json > sweep.json || fail "insights --runs sweep-* failed"
assert_eq "$(json 'd["key"], d["key_chosen"], d["goal"]' < sweep.json)" "val/loss True min" "default key"
assert_eq "$(json 'd["importance"]["ok"], d["importance"]["n"], len(d["importance"]["run_ids"])' < sweep.json)" \
  "True 30 30" "importance over the 30 sweep runs"
assert_eq "$(json 'd["importance"]["params"][0]["key"]' < sweep.json)" lr "lr ranks first"
assert_eq "$(json '[p for p in d["importance"]["params"] if p["key"]=="seed"][0]["lo"] <= 0 <= [p for p in d["importance"]["params"] if p["key"]=="seed"][0]["hi"]' < sweep.json)" \
  True "the seed's interval covers 0"
assert_eq "$(json 'd["importance"]["params"][0]["lo"] > [p for p in d["importance"]["params"] if p["key"]=="seed"][0]["hi"]' < sweep.json)" \
  True "lr's interval is above the seed's"
assert_eq "$(json 'd["extrapolation"]["ok"], d["scaling"]["ok"]' < sweep.json)" "False False" "no live run, no scale in the sweep"
assert_contains "$(json 'd["scaling"]["reason"]' < sweep.json)" "compute or tokens" "scaling reason"
# Spearman of each param with the final value, against the reference on the generated truth.
for p in lr wd seed; do
  want=$(python3 -c "import json; t=json.load(open('truth.json'))['sweep']; print(json.dumps({'x':[r['$p'] for r in t],'y':[r['final'] for r in t]}))" | python3 "$REF" spearman)
  got=$(json "' '.join(repr(v) for p in d['importance']['params'] if p['key']=='$p' for v in (p['spearman']['rho'], p['spearman']['p_value']))" < sweep.json)
  python3 - "$want" "$got" "$p" <<'PY' || fail "spearman of $p differs from the reference"
import sys
w = [float(v) for v in sys.argv[1].split()]
g = [float(v) for v in sys.argv[2].split()]
assert abs(w[0] - g[0]) < 1e-9, (sys.argv[3], w, g)
assert abs(w[1] - g[1]) < 1e-6 * max(w[1], 1e-3), (sys.argv[3], w, g)
PY
done
pass "importance: lr first, seed covers 0, Spearman matches the reference"

# ---- scaling over the token series ----
inloop insights --runs 'scale-*' --at 1e13 --json > scale.json || fail "insights --runs scale-* failed"
assert_eq "$(json 'd["scaling"]["ok"], d["scaling"]["x_key"], d["scaling"]["n"]' < scale.json)" "True tokens 7" "scaling fit"
assert_contains "$(json 'd["importance"]["reason"]' < scale.json)" "needs >= 10 finished runs" "importance reason"
want=$(python3 -c "import json; t=json.load(open('truth.json'))['scale']; print(json.dumps({'x':[r['tokens'] for r in t],'y':[r['final'] for r in t],'at':1e13}))" | python3 "$REF" fit pow)
got=$(json '" ".join(repr(v) for v in [d["scaling"]["a"]["value"], d["scaling"]["b"]["value"], d["scaling"]["c"]["value"], d["scaling"]["b"]["se"], d["scaling"]["prediction"]["value"], d["scaling"]["b"]["lo"], d["scaling"]["b"]["hi"]])' < scale.json)
python3 - "$want" "$got" <<'PY' || fail "scaling fit differs from the reference: want $want got $got"
import sys
w = [float(v) for v in sys.argv[1].split()]
a, b, c, se_b, pred, lo, hi = [float(v) for v in sys.argv[2].split()]
assert abs(a - w[0]) < 1e-3 * abs(w[0]), ("a", a, w[0])
assert abs(b - w[1]) < 1e-4 * w[1], ("b", b, w[1])
assert abs(c - w[2]) < 1e-4 * abs(w[2]), ("c", c, w[2])
assert abs(se_b - w[4]) < 1e-3 * w[4], ("se_b", se_b, w[4])
assert abs(pred - w[7]) < 1e-6, ("prediction", pred, w[7])
assert lo <= 0.2 <= hi, ("the generating exponent 0.2 is outside", lo, hi)
PY
pass "scaling: a, b, c and the prediction at 1e13 match the reference; b's interval covers 0.2"

# ---- every run: the live ones are extrapolated ----
inloop insights --json > all.json || fail "insights failed"
assert_eq "$(json 'd["runs"]["matched"], d["runs"]["running"]' < all.json)" "39 2" "all runs"
assert_eq "$(json 'sorted((r["name"], r["ok"], r["horizon"], r["horizon_source"], r["cannot_beat_best"]) for r in d["extrapolation"]["runs"])' < all.json)" \
  "[('live-bad', True, 2000, 'param max_steps', True), ('live-good', True, 2000, 'param max_steps', False)]" "live runs"
best=$(python3 -c "import json; t=json.load(open('truth.json')); print(min(r['final'] for r in t['sweep'] + t['scale']))")
assert_eq "$(json 'd["best"]["value"]' < all.json)" "$best" "best final value"
assert_eq "$(json 'all(abs(r["predicted"] - (c + 200 ** -0.5)) < 0.05 for r in d["extrapolation"]["runs"] for c in [1.2 if r["name"] == "live-good" else 6])' < all.json)" \
  True "predictions near the generating curves at step 2000"
text=$(inloop insights)
assert_contains "$text" "Hyper-parameter importance" "text: importance"
assert_contains "$text" "live-bad at step 400" "text: live run"
assert_contains "$text" "cannot beat the best finished run" "text: flag"
assert_contains "$text" "Scaling fit" "text: scaling"
if grep -q $'\x1b\[' <<<"$text"; then fail "colour with NO_COLOR set"; fi
pass "insights text and JSON over every run"

# ---- errors ----
set +e
inloop insights --runs 'nomatch-*' > /dev/null 2> err.txt; rc=$?
set -e
assert_eq "$rc" 3 "no matching run"
assert_contains "$(cat err.txt)" "no run matches --runs 'nomatch-*'" "message"
set +e
inloop insights --key accuracy > /dev/null 2> err.txt; rc1=$?
inloop insights --horizon -5 > /dev/null 2>&1; rc2=$?
inloop insights --goal sideways > /dev/null 2>&1; rc3=$?
inloop insights --store "$WORK/none" > /dev/null 2>&1; rc4=$?
set -e
assert_eq "$rc1 $rc2 $rc3 $rc4" "3 4 2 3" "exit codes: missing key, bad horizon, bad goal, no store"
pass "errors"
