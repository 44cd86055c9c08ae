#!/usr/bin/env bash
# evaldiff end to end: two JSONL eval files (pass/fail with slices and clusters; a scored set),
# with ids missing on either side, a bad line and a duplicate id. Every number in the --json
# report is recomputed here independently with numpy (CR1 SEs, McNemar from math.comb, t p-values
# by numerical integration of the t density, numpy's own percentile bootstrap and sign flips).
source "$(dirname "$0")/lib.sh"

# ---- data ----
$PY - <<'PY'
import json, random
rng = random.Random(5)
langs = ["en", "de", "fr"]
old, new = [], []
for i in range(300):
    c = i // 5                                   # 60 clusters of 5 (e.g. one source document)
    base = 0.35 + 0.5 * ((c * 37) % 11) / 10     # cluster difficulty
    o = rng.random() < base
    n = o if rng.random() < 0.8 else rng.random() < base + 0.25   # new model is better
    lang = langs[i % 3]
    rec_o = {"id": i, "correct": o, "output": f"answer {i} is {'right' if o else 'wrong'} here",
             "slice": {"lang": lang}, "cluster": f"doc{c}", "split": "a" if i < 150 else "b"}
    rec_n = {"id": str(i), "correct": int(n), "output": f"answer {i} is {'right' if n else 'wrong'} now",
             "slice": {"lang": lang}, "cluster": f"doc{c}", "split": "a" if i < 150 else "b"}
    if i not in (10, 11, 12): old.append(rec_o)   # 10, 11, 12: only in NEW
    if i not in (20, 21): new.append(rec_n)       # 20, 21: only in OLD
with open("old.jsonl", "w") as f:
    for r in old: f.write(json.dumps(r) + "\n")
with open("new.jsonl", "w") as f:
    for k, r in enumerate(new):
        f.write(json.dumps(r) + "\n")
        if k == 3: f.write('{"id": "broken", "correct": \n')            # line 5: not JSON
        if k == 6: f.write(json.dumps(dict(r, correct=0)) + "\n")      # line 9: duplicate id
# Scored set: a small, not significant change (CI must contain 0), no clusters.
so, sn = [], []
for i in range(40):
    s = rng.uniform(0.2, 0.9)
    so.append({"id": f"s{i}", "score": round(s, 4), "topic": "t%d" % (i % 2)})
    sn.append({"id": f"s{i}", "score": round(min(1, max(0, s + rng.gauss(0.005, 0.08))), 4),
               "topic": "t%d" % (i % 2)})
with open("sold.jsonl", "w") as f:
    for r in so: f.write(json.dumps(r) + "\n")
with open("snew.jsonl", "w") as f:
    for r in sn: f.write(json.dumps(r) + "\n")
PY

inloop evaldiff old.jsonl new.jsonl --json --seed 3 --slice-key split > pf.json 2> pf.err ||
  fail "evaldiff pass/fail failed: $(cat pf.err)"
inloop evaldiff sold.jsonl snew.jsonl --json --slice-key topic > sc.json 2> sc.err ||
  fail "evaldiff scored failed: $(cat sc.err)"

# ---- independent checks ----
$PY - <<'PY' || fail "evaldiff numbers disagree with numpy (see above)"
import json, math, sys
import numpy as np

errors = []
def check(cond, what):
    if not cond: errors.append(what)
def close(got, want, tol, what):
    if not (isinstance(got, (int, float)) and abs(got - want) <= tol):
        errors.append(f"{what}: got {got}, want {want} (tol {tol})")

def load(path):
    recs, seen = {}, set()
    for line in open(path):
        try: r = json.loads(line)
        except ValueError: continue
        k = str(r["id"])
        if k in seen: continue
        seen.add(k); recs[k] = r
    return recs

def score(r): return float(r["score"]) if "score" in r else float(r["correct"])

def cr1(x, cl):
    e = x - x.mean(); labels = sorted(set(cl)); G = len(labels)
    s = np.array([e[np.array(cl) == g].sum() for g in labels])
    return math.sqrt(G / (G - 1) * (s ** 2).sum()) / len(x)

def t_two_sided(t, df):
    # 2 * integral of the t density from |t| to ~infinity (Simpson, 400001 points)
    x = np.linspace(abs(t), abs(t) + 400.0, 400001)
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    f = c * (1 + x * x / df) ** (-(df + 1) / 2)
    h = x[1] - x[0]
    return 2 * h / 3 * (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum())

def boot(d, B, cl=None, seed=0):
    g = np.random.default_rng(seed)
    if cl is None:
        idx = g.integers(0, len(d), size=(B, len(d)))
        m = d[idx].mean(axis=1)
    else:
        labels = sorted(set(cl)); cl = np.array(cl)
        sums = np.array([d[cl == c].sum() for c in labels]); cnt = np.array([(cl == c).sum() for c in labels])
        idx = g.integers(0, len(labels), size=(B, len(labels)))
        m = sums[idx].sum(axis=1) / cnt[idx].sum(axis=1)
    return np.percentile(m, 2.5), np.percentile(m, 97.5)

def signflip(d, B, cl=None, seed=0):
    units = d if cl is None else np.array([d[np.array(cl) == c].sum() for c in sorted(set(cl))])
    g = np.random.default_rng(seed)
    s = (g.choice([-1.0, 1.0], size=(B, len(units))) * units).sum(axis=1)
    k = (np.abs(s) >= abs(units.sum()) - 1e-9).sum()
    return (k + 1) / (B + 1)

# ---------- pass/fail, clustered ----------
r = json.load(open("pf.json"))
old, new = load("old.jsonl"), load("new.jsonl")
ids = [k for k in new if k in old]
check(r["n"] == len(ids) == 295, f"n {r['n']} vs {len(ids)}")
check(sorted(r["only_old"]) == ["20", "21"], f"only_old {r['only_old']}")
check(sorted(r["only_new"]) == ["10", "11", "12"], f"only_new {r['only_new']}")
check(r["n_only_old"] == 2 and r["n_only_new"] == 3, "only counts")
iss = sorted((i["file"], i["line"]) for i in r["issues"])
check(iss == [("new.jsonl", 5), ("new.jsonl", 9)], f"issues {iss}")
xo = np.array([score(old[k]) for k in ids]); xn = np.array([score(new[k]) for k in ids])
cl = [new[k]["cluster"] for k in ids]
d = xn - xo
close(r["old"]["mean"], xo.mean(), 1e-12, "old mean")
close(r["new"]["mean"], xn.mean(), 1e-12, "new mean")
close(r["old"]["se"], cr1(xo, cl), 1e-12, "old clustered se")
close(r["new"]["se"], cr1(xn, cl), 1e-12, "new clustered se")
close(r["diff"]["mean"], d.mean(), 1e-12, "diff mean")
close(r["diff"]["se"], cr1(d, cl), 1e-12, "diff clustered se")
check(r["diff"]["test"] == "mcnemar", f"test {r['diff']['test']}")
b, c = int((d < 0).sum()), int((d > 0).sum())
check(r["discordant"] == {"old_only_correct": b, "new_only_correct": c}, f"discordant {r['discordant']} vs {b},{c}")
n_, k_ = b + c, min(b, c)
p_exact = min(1.0, 2 * sum(math.comb(n_, i) for i in range(k_ + 1)) / 2 ** n_)
close(r["diff"]["p_value"], p_exact, 1e-12 * max(p_exact, 1e-300) + 1e-300, "McNemar exact p")
check(p_exact < 0.05, f"fixture should show a real improvement, p={p_exact}")
lo, hi = boot(d, 20000, cl)
close(r["diff"]["ci_low"], lo, 0.008, "cluster bootstrap ci_low vs numpy")
close(r["diff"]["ci_high"], hi, 0.008, "cluster bootstrap ci_high vs numpy")
check(r["diff"]["ci_low"] > 0 and lo > 0, f"CI should exclude 0: {r['diff']['ci_low']}, numpy {lo}")
close(r["diff"]["permutation_p"], signflip(d, 20000, cl), 0.01, "cluster sign-flip p")
close(r["mde"], 2.801585218112968 * cr1(d, cl), 1e-9, "MDE from clustered SE")
check(r["regressed"] == sorted([k for k in ids if new[k] and score(new[k]) < score(old[k])]), "regressed ids")
check(r["improved"] == sorted([k for k in ids if score(new[k]) > score(old[k])]), "improved ids")
ex = {e["id"]: e for e in r["examples"]}
check(set(ex) == set(r["regressed"]) | set(r["improved"]), "examples cover the changes")
e0 = ex[r["improved"][0]]
check("".join(s["text"] for s in e0["diff"]["segments"] if s["op"] != "insert") == e0["old_output"], "diff rebuilds old")
check("".join(s["text"] for s in e0["diff"]["segments"] if s["op"] != "delete") == e0["new_output"], "diff rebuilds new")
check({"op": "insert", "text": "right"} in e0["diff"]["segments"] and {"op": "delete", "text": "wrong"} in e0["diff"]["segments"], f"word diff {e0['diff']}")
for dim, key in (("lang", lambda k: new[k]["slice"]["lang"]), ("split", lambda k: new[k]["split"])):
    check(sorted(r["slices"].get(dim, {})) == sorted({key(k) for k in ids}), f"slice values of {dim}")
    for v, s in r["slices"].get(dim, {}).items():
        sel = [i for i, k in enumerate(ids) if key(k) == v]
        ds = d[sel]; scl = [cl[i] for i in sel]
        check(s["n"] == len(sel), f"{dim}={v} n")
        close(s["old"]["mean"], xo[sel].mean(), 1e-12, f"{dim}={v} old mean")
        close(s["diff"]["mean"], ds.mean(), 1e-12, f"{dim}={v} diff")
        close(s["diff"]["se"], cr1(ds, scl), 1e-12, f"{dim}={v} clustered se")
        bb, cc = int((ds < 0).sum()), int((ds > 0).sum())
        pe = min(1.0, 2 * sum(math.comb(bb + cc, i) for i in range(min(bb, cc) + 1)) / 2 ** (bb + cc))
        close(s["diff"]["p_value"], pe, 1e-12, f"{dim}={v} McNemar p")

# ---------- scored, unclustered ----------
r = json.load(open("sc.json"))
old, new = load("sold.jsonl"), load("snew.jsonl")
ids = list(new)
xo = np.array([score(old[k]) for k in ids]); xn = np.array([score(new[k]) for k in ids]); d = xn - xo
check(r["n"] == 40, "scored n")
check(r["diff"]["test"] == "paired_t", f"scored test {r['diff']['test']}")
check(r["only_old"] == [] and r["only_new"] == [], "scored: no mismatches")
close(r["old"]["se"], xo.std(ddof=1) / math.sqrt(40), 1e-12, "scored old se")
se = d.std(ddof=1) / math.sqrt(40); t = d.mean() / se
close(r["diff"]["se"], se, 1e-12, "scored diff se")
close(r["diff"]["paired_t"]["t"], t, 1e-9, "paired t")
close(r["diff"]["p_value"], t_two_sided(t, 39), 1e-8, "paired t p (numerical integration)")
lo, hi = boot(d, 20000)
close(r["diff"]["ci_low"], lo, 0.003, "bootstrap ci_low vs numpy")
close(r["diff"]["ci_high"], hi, 0.003, "bootstrap ci_high vs numpy")
check(r["diff"]["ci_low"] < 0 < r["diff"]["ci_high"] and lo < 0 < hi, f"CI should contain 0: [{r['diff']['ci_low']}, {r['diff']['ci_high']}]")
close(r["diff"]["permutation_p"], signflip(d, 20000), 0.02, "sign-flip p")
close(r["mde"], 2.801585218112968 * se, 1e-9, "MDE")
ch = {k: score(new[k]) - score(old[k]) for k in ids}
check(r["regressed"] == sorted([k for k in ids if ch[k] < 0], key=lambda k: (-abs(ch[k]), k)), "regressed by impact")
check(r["improved"] == sorted([k for k in ids if ch[k] > 0], key=lambda k: (-abs(ch[k]), k)), "improved by impact")
check(sorted(r["slices"]["topic"]) == ["t0", "t1"], "topic slices")

for e in errors: print("FAIL:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
pass "pass/fail and scored reports match numpy"

# Warnings name the mismatches and the bad lines on stderr; stdout stays JSON.
assert_contains "$(cat pf.err)" "2 id(s) only in old.jsonl" "only-old warning"
assert_contains "$(cat pf.err)" "3 id(s) only in new.jsonl" "only-new warning"
assert_contains "$(cat pf.err)" "new.jsonl:5" "bad line named"

# Same seed, same report; another seed moves the bootstrap.
inloop evaldiff old.jsonl new.jsonl --json --seed 3 --slice-key split 2>/dev/null > pf2.json
cmp -s pf.json pf2.json || fail "same seed gave a different report"
inloop evaldiff old.jsonl new.jsonl --json --seed 4 --slice-key split 2>/dev/null > pf3.json
[ "$(json 'd["diff"]["bootstrap_se"]' < pf.json)" != "$(json 'd["diff"]["bootstrap_se"]' < pf3.json)" ] ||
  fail "the seed does not reach the bootstrap"

# Text for people.
out=$(inloop evaldiff sold.jsonl snew.jsonl --top 2 --slice-key topic)
assert_contains "$out" "paired t" "text names the test"
assert_contains "$out" "MDE" "text shows the MDE"
assert_contains "$out" "topic=t0" "text shows slices"
pass "text report"

# Exit codes: nothing matched 4, missing file 3, bad usage 2.
echo '{"id": "zzz", "score": 1}' > other.jsonl
set +e
inloop evaldiff old.jsonl other.jsonl > /dev/null 2> none.err; rc=$?
inloop evaldiff old.jsonl missing.jsonl > /dev/null 2> miss.err; rc_missing=$?
inloop evaldiff old.jsonl > /dev/null 2>&1; rc_usage=$?
set -e
assert_eq "$rc" 4 "nothing matched exits 4"
assert_contains "$(cat none.err)" "no id of old.jsonl" "nothing-matched message"
assert_eq "$rc_missing" 3 "missing file exits 3"
assert_contains "$(cat miss.err)" "missing.jsonl: no such file" "missing-file message"
assert_eq "$rc_usage" 2 "missing argument exits 2"
pass "exit codes"
