#!/usr/bin/env bash
# inloop compare end to end on imported runs: a pair on step, tokens and time axes (checked
# against the same quantities computed here in Python), seed groups with a Welch test (the
# p-value from a numerical integral of Student's t density, done here), and the errors.
source "$(dirname "$0")/lib.sh"

# Two runs: B learns faster per step but consumes twice the tokens per step.
"$PY" - <<'P'
import math
for name, rate, tps in (("ra", 1.0, 1000), ("rb", 1.6, 2000)):
    with open(f"{name}.csv", "w") as f:
        f.write("step,loss,tokens,time\n")
        for s in range(0, 401, 4):
            f.write(f"{s},{2 + 3 * math.exp(-rate * s / 150):.6f},{s * tps},{1700000000 + s * (0.5 if name == 'ra' else 0.8)}\n")
for g, shift in (("a", 0.0), ("b", -0.05)):
    for k in range(4):
        with open(f"{g}-seed-{k}.csv", "w") as f:
            f.write("step,val_loss\n")
            for s in range(0, 201, 10):
                noise = 0.02 * math.sin(7 * k + s)
                f.write(f"{s},{1 + 2 * math.exp(-s / 60) + shift + noise + 0.01 * k:.6f}\n")
P
for f in ra rb a-seed-0 a-seed-1 a-seed-2 a-seed-3 b-seed-0 b-seed-1 b-seed-2 b-seed-3; do
  inloop import --name "$f" "$f.csv" > /dev/null
done

inloop compare ra rb --json > pair.json
"$PY" - pair.json <<'P' || fail "pair comparison differs from the reference"
import json, math, sys
d = json.load(open(sys.argv[1]))
a = lambda s: 2 + 3 * math.exp(-1.0 * s / 150)
b = lambda s: 2 + 3 * math.exp(-1.6 * s / 150)
steps = list(range(0, 401, 4))
diffs = [round(b(s), 6) - round(a(s), 6) for s in steps]
assert d["key"] == "loss" and d["goal"] == "min" and d["align"] == "step", d["key"]
assert d["matched"]["n"] == len(steps)
assert abs(d["matched"]["mean_diff"] - sum(diffs) / len(diffs)) < 1e-9
area = sum((diffs[i] + diffs[i - 1]) / 2 * 4 for i in range(1, len(steps)))
assert abs(d["area"]["signed"] - area) < 1e-6, (d["area"], area)
tail = [s for s in steps if s >= 400 - 0.05 * 400]
fin = sum(round(b(s), 6) for s in tail) / len(tail) - sum(round(a(s), 6) for s in tail) / len(tail)
assert abs(d["final"]["diff"] - fin) < 1e-9, (d["final"], fin)
assert d["lead"]["leader"] == "b" and d["final"]["p_value"] is None
assert "no seed variance" in d["final"]["why_no_test"]
P
pass "pair on steps"

inloop compare ra rb --align tokens --json > tok.json
"$PY" - tok.json <<'P' || fail "token alignment"
import json, sys
d = json.load(open(sys.argv[1]))
# B runs to 800k tokens, A to 400k: the common range is A's.
assert d["range"] == [0, 400000], d["range"]
assert d["align"] == "tokens"
# At equal tokens B has taken half the steps of A: at 400k tokens A is at step 400, B at 200.
import math
a_end = 2 + 3 * math.exp(-400 / 150); b_end = 2 + 3 * math.exp(-1.6 * 200 / 150)
assert abs(d["grid"]["b_mean"][-1] - d["grid"]["a_mean"][-1] - (b_end - a_end)) < 1e-5
P
inloop compare ra rb --align time --json > time.json
assert_eq "$(json 'd["range"]' < time.json)" "[0, 200]" "time alignment: elapsed seconds, common range"
pass "tokens and time axes"

inloop compare --a 'a-seed-*' --b 'b-seed-*' --json > groups.json
"$PY" - groups.json <<'P' || fail "group comparison differs from the reference"
import json, math, sys
d = json.load(open(sys.argv[1]))
assert len(d["a"]["runs"]) == 4 and len(d["b"]["runs"]) == 4
assert d["key"] == "val_loss"
def final(shift, k):  # the mean over the last 5% of [0, 200]: steps 190 and 200
    vals = [round(1 + 2 * math.exp(-s / 60) + shift + 0.02 * math.sin(7 * k + s) + 0.01 * k, 6) for s in (190, 200)]
    return sum(vals) / 2
fa = [final(0.0, k) for k in range(4)]; fb = [final(-0.05, k) for k in range(4)]
ma, mb = sum(fa) / 4, sum(fb) / 4
va = sum((x - ma) ** 2 for x in fa) / 3; vb = sum((x - mb) ** 2 for x in fb) / 3
se = math.sqrt(va / 4 + vb / 4)
df = se ** 4 / ((va / 4) ** 2 / 3 + (vb / 4) ** 2 / 3)
t = (mb - ma) / se
def pdf(x):
    return math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2)) * (1 + x * x / df) ** (-(df + 1) / 2)
n, hi = 200000, 400.0
lo = abs(t); h = (hi - lo) / n
s = pdf(lo) + pdf(hi) + sum((4 if i % 2 else 2) * pdf(lo + i * h) for i in range(1, n))
p = 2 * s * h / 3
assert abs(d["final"]["diff"] - (mb - ma)) < 1e-9, (d["final"]["diff"], mb - ma)
assert d["final"]["test"] == "welch_t"
assert abs(d["final"]["p_value"] - p) < 1e-4 * max(p, 1e-3), (d["final"]["p_value"], p)
assert d["final"]["ci_low"] < mb - ma < d["final"]["ci_high"]
assert all(lo <= m <= hi for lo, m, hi in zip(d["grid"]["a_lo"], d["grid"]["a_mean"], d["grid"]["a_hi"]))
P
text=$(inloop compare --a 'a-seed-*' --b 'b-seed-*')
assert_contains "$text" "Welch p =" "text summary names the test"
pass "seed groups: bands and Welch test"

set +e
inloop compare ra 2> err.txt; c1=$?
inloop compare ra nosuchrun 2> err2.txt; c2=$?
inloop compare ra ra 2> /dev/null; c3=$?
inloop compare a-seed-0 a-seed-1 --align tokens 2> err4.txt; c4=$?
set -e
assert_eq "$c1" 2 "one run is a usage error"
assert_eq "$c2" 3 "unknown run"
assert_contains "$(cat err2.txt)" "nosuchrun" "the error names the run"
assert_eq "$c3" 4 "a run against itself"
assert_eq "$c4" 4 "tokens axis without a token counter"
assert_contains "$(cat err4.txt)" "--tokens-per-step" "the error says what to do"
pass "errors"
