#!/usr/bin/env bash
# `inloop audit` on a corpus built here (tests/audit/make_corpus.py): checkpoints written by
# PyTorch (pickle protocols 2-5, the zip and the legacy format) and numpy pass with no finding;
# every malicious pattern (os.system in protocols 0-5, eval/exec/getattr, STACK_GLOBAL through the
# memo or from computed names, INST/OBJ, extension codes, unknown globals, a zip with a second
# data.pkl, nested and unopened archives, object .npy, damaged safetensors) fails with its rule.
# Text, --json and SARIF, and the exit codes.
source "$(dirname "$0")/lib.sh"

"$PY" "$INLOOP_SRC/tests/audit/make_corpus.py" corpus || fail "building the corpus failed"
ls corpus/benign/torch-zip-p5.pt corpus/benign/torch-legacy.pt >/dev/null || fail "torch checkpoints missing"

inloop audit corpus/benign --json > benign.json || fail "benign corpus failed the audit: $(cat benign.json)"
assert_eq "$(json 'd["verdict"]' < benign.json)" pass "benign verdict"
assert_eq "$(json 'd["findings"]' < benign.json)" 0 "no finding on benign files"
assert_eq "$(json 'len(d["files"])' < benign.json)" 17 "every benign file scanned"
assert_eq "$(json 'sorted({f["format"] for f in d["files"]})' < benign.json)" \
  "['npy', 'pickle', 'safetensors', 'torch-legacy', 'torch-zip']" "formats recognised"
assert_eq "$(json '[f["pickles"] for f in d["files"] if f["format"]=="torch-legacy"]' < benign.json)" "[5]" "legacy torch: five pickles"
assert_eq "$(json 'min(f["globals"] for f in d["files"] if f["format"]=="torch-zip")' < benign.json)" 3 "torch globals seen and allowed"

rc=0
inloop audit corpus/malicious --json > bad.json || rc=$?
assert_eq "$rc" 60 "malicious corpus exit code"
"$PY" - bad.json <<'PY' || fail "malicious verdicts differ"
import json, sys
d = json.load(open(sys.argv[1]))
got = {f["file"].split("/")[-1]: (f["verdict"], sorted({x["rule"] for x in f["findings"]}))
       for f in d["files"]}
want = {
    "eval.pkl": ["pickle.global.dangerous"], "exec.pkl": ["pickle.global.dangerous"],
    "getattr.pkl": ["pickle.global.dangerous"], "inst.pkl": ["pickle.global.dangerous"],
    "obj.pkl": ["pickle.global.dangerous"], "subprocess.pkl": ["pickle.global.dangerous"],
    "stack-global-memo.pkl": ["pickle.global.dangerous"],
    "stack-global-dynamic.pkl": ["pickle.global.unresolved"],
    "unknown-global.pkl": ["pickle.global.unknown"], "ext1.pkl": ["pickle.ext"],
    "proto9.pkl": ["pickle.protocol"], "object.npy": ["pickle.global.dangerous"],
    "truncated.pkl": ["pickle.global.dangerous", "pickle.truncated"],
    "zip-two-data-pkl.pt": ["archive.multiple_pickles", "pickle.global.dangerous"],
    "zip-evil-data-pkl.pt": ["pickle.global.dangerous"],
    "zip-deflated-evil.zip": ["pickle.global.dangerous"],
    "zip-in-zip.pt": ["archive.nested"], "wrapped.7z": ["archive.unsupported"],
    "wrapped.pt.gz": ["archive.unsupported"], "wrapped.tar": ["archive.unsupported"],
    "bad-offsets.safetensors": ["safetensors.tensor"],
}
for p in range(6):
    want["os-system-p%d.pkl" % p] = ["pickle.global.dangerous"]
for name, rules in want.items():
    assert got.get(name) == ("fail", rules), (name, got.get(name), rules)
# Unreferenced bytes in a safetensors file are medium: reported, not failing at the default.
assert got["hidden-bytes.safetensors"] == ("pass", ["safetensors.unreferenced"]), got["hidden-bytes.safetensors"]
assert len(got) == len(want) + 1, sorted(set(got) - set(want))
PY
pass "benign pass, every malicious pattern fails with its rule"

# Text output names the global and the fix; --allow trusts a user's class, never os.system.
rc=0; out=$(inloop audit corpus/malicious/unknown-global.pkl) || rc=$?
assert_eq "$rc" 60 "unknown global fails"
assert_contains "$out" "mypkg.models.MyConfig, which is not on the allowlist" "text names the global"
assert_contains "$out" "--allow mypkg.models.MyConfig" "text says how to trust it"
inloop audit --allow mypkg.models.MyConfig corpus/malicious/unknown-global.pkl > /dev/null || fail "--allow did not trust the class"
rc=0; inloop audit --allow 'os.*' --allow 'posix.*' corpus/malicious/os-system-p2.pkl > /dev/null || rc=$?
assert_eq "$rc" 60 "--allow never trusts code-running globals"
# --fail-on: the medium safetensors finding fails at medium.
rc=0; inloop audit --fail-on medium corpus/malicious/hidden-bytes.safetensors > /dev/null || rc=$?
assert_eq "$rc" 60 "--fail-on medium"
rc=0; inloop audit --fail-on severe corpus > /dev/null 2> err.txt || rc=$?
assert_eq "$rc" 2 "bad --fail-on is a usage error"
rc=0; inloop audit no/such/file 2> err.txt || rc=$?
assert_eq "$rc" 3 "missing path"
assert_contains "$(cat err.txt)" "no/such/file: no such file or directory" "missing path named"

# SARIF 2.1.0 for CI systems: one result per finding, rules listed, file locations.
rc=0; inloop audit corpus/malicious --sarif out.sarif > /dev/null || rc=$?
assert_eq "$rc" 60 "sarif run exit code"
"$PY" - out.sarif bad.json <<'PY' || fail "SARIF output wrong"
import json, sys
s = json.load(open(sys.argv[1]))
d = json.load(open(sys.argv[2]))
assert s["version"] == "2.1.0"
run = s["runs"][0]
assert run["tool"]["driver"]["name"] == "inloop audit"
assert len(run["results"]) == d["findings"], (len(run["results"]), d["findings"])
ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
assert {r["ruleId"] for r in run["results"]} == ids
assert all(r["level"] in ("error", "warning", "note") for r in run["results"])
assert all(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith("corpus/")
           for r in run["results"])
PY
pass "text, --allow, --fail-on, SARIF, exit codes"

# Code and configs: the project's own examples pass their audit (the example loads checkpoints
# with weights_only=True); a training script with the usual dangers and a config holding a key fail.
inloop audit "$INLOOP_SRC/examples" --json > ex.json || fail "the examples fail their own audit: $(cat ex.json)"
assert_eq "$(json 'sorted(f["file"].split("examples/")[-1] for f in d["files"] if f["format"]=="python")' < ex.json)" \
  "$(cd "$INLOOP_SRC/examples" && find . -name '*.py' -not -path '*/node_modules/*' | sed 's|^\./||' | sort | "$PY" -c 'import sys; print(sorted(l.strip() for l in sys.stdin))')" \
  "every example source audited"
mkdir -p proj/conf proj/node_modules/dep
cat > proj/train.py <<'PY'
import pickle, subprocess, torch
from transformers import AutoModel
model = AutoModel.from_pretrained("org/model", trust_remote_code=True)
state = torch.load(args.ckpt)
safe = torch.load(args.ckpt, weights_only=True)
data = pickle.load(open(args.data, "rb"))
subprocess.run("tar xf " + args.data, shell=True)
model.eval()
PY
printf 'wandb:\n  api_key: "9fK2mQ7xL0pZ4rT8vB1nC6hJ3sD5wE1a"\nlr: 0.001\n' > proj/conf/run.yaml
echo 'torch.load(x)' > proj/node_modules/dep/vendored.py
rc=0; inloop audit proj --json > proj.json || rc=$?
assert_eq "$rc" 60 "vulnerable project fails"
"$PY" - proj.json <<'PY' || fail "code findings differ"
import json, sys
d = json.load(open(sys.argv[1]))
files = {f["file"].split("proj/")[-1]: f for f in d["files"]}
assert sorted(files) == ["conf/run.yaml", "train.py"], sorted(files)  # node_modules skipped
rules = {(x["rule"], x["line"]) for x in files["train.py"]["findings"]}
for want in [("code.trust_remote_code", 3), ("code.torch_load_unsafe", 4)]:
    assert want in rules, (want, rules)
assert ("code.torch_load_unsafe", 5) not in rules, rules
assert any(r in {"bandit.B301", "code.pickle_load"} and l == 6 for r, l in rules), rules
assert any(r in {"bandit.B602", "code.shell_true"} and l == 7 for r, l in rules), rules
assert not any(l == 8 for r, l in rules), rules  # model.eval() is not eval
cfg = files["conf/run.yaml"]["findings"]
assert [(x["rule"], x["line"]) for x in cfg] == [("secret.assigned", 2)], cfg
assert "9fK2mQ7xL0pZ4rT8" not in json.dumps(cfg), "the secret is printed"
PY
pass "code and config audit"

# inloop run --audit / [audit] policy: the files the command names are audited before it starts.
rc=0; inloop run --audit --name refused -- "$PY" -c 'print("loss: 1")' corpus/malicious/eval.pkl > run.out 2> run.err || rc=$?
assert_eq "$rc" 60 "run --audit refuses"
assert_contains "$(cat run.err)" "run refused: 1 audit finding" "refusal said"
printf '[audit]\npolicy = "warn"\n' > warn.toml
inloop run --config warn.toml --name warned -- "$PY" -c 'print("loss: 1")' corpus/malicious/eval.pkl > run.out 2> run.err || fail "warn policy did not run: $(cat run.err)"
assert_contains "$(cat run.err)" "policy warn: running anyway" "warn said"
inloop runs --json | "$PY" -c 'import json,sys; assert not [r for r in json.load(sys.stdin) if r["name"]=="refused"]' || fail "a refused run was recorded"
inloop run --audit --name clean -- "$PY" -c 'print("loss: 1")' corpus/benign/torch-zip-p4.pt > run.out 2> run.err || fail "a clean file was refused: $(cat run.err)"
printf '[audit]\npolicy = "sometimes"\n' > bad.toml
rc=0; inloop run --config bad.toml -- true 2> run.err || rc=$?
assert_eq "$rc" 4 "bad [audit] policy"
assert_contains "$(cat run.err)" "audit.policy must be" "bad policy named"
pass "run --audit and [audit] policy"

# The warned run's findings are on its timeline and in its report.
inloop events warned --json | "$PY" -c '
import json, sys
ev = [e for e in json.load(sys.stdin) if e["kind"] == "audit_finding"]
assert ev and all(e["data"]["context"] == "command" and e["data"]["policy"] == "warn" for e in ev), ev
assert any(e["data"]["file"].endswith("eval.pkl") for e in ev), ev' || fail "pre-run findings on the timeline"
assert_contains "$(inloop report warned)" "## Audit" "report section"

# A checkpoint that fails the scan is never loaded by a rollback under [audit] policy = "block":
# the NaN at step 45 goes back to the checkpoint of step 30, not to the malicious one of step 40.
cp corpus/malicious/eval.pkl evil.pkl
"$PY" -c 'import pickle; pickle.dump({"step": 30, "w": [0.5, 1.5]}, open("good.pkl", "wb"), protocol=4)'
cat > ckrun.py <<PY
import os, shutil, sys, time
sys.path.insert(0, "$INLOOP_SRC/python")
import inloop
r = inloop.remedies()
start = int(os.path.basename(r["resume_from"]).split("-")[1].split(".")[0]) if r["resume_from"] else 0
if r["resume_from"]:
    print("resumed from %s" % os.path.basename(r["resume_from"]), flush=True)
os.makedirs("ck", exist_ok=True)
for step in range(start + 1, 51):
    bad = step == 45 and not r["resume_from"]
    inloop.log(step, {"train/loss": float("nan") if bad else 2.0 + 1.0 / step})
    if step in (30, 40) and not r["resume_from"]:
        path = os.path.abspath("ck/ck-%d.pkl" % step)
        shutil.copy("good.pkl" if step == 30 else "evil.pkl", path)
        inloop.checkpoint(path, step)
    time.sleep(0.01)
PY
printf '[audit]\npolicy = "block"\n' > block.toml
inloop run --config block.toml --name ckaudit -- "$PY" ckrun.py > ck.out 2> ck.err || fail "run failed: $(tail -5 ck.err)"
assert_contains "$(cat ck.out)" "resumed from ck-30.pkl" "rolled back past the malicious checkpoint"
inloop events ckaudit --json | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
a = [e for e in d if e["kind"] == "audit_finding"]
assert len(a) >= 1 and all(e["data"]["context"] == "checkpoint" and e["data"]["blocked"] for e in a), a
assert all(e["data"]["file"].endswith("ck-40.pkl") and e["step_lo"] == 40 for e in a), a
applied = [e["data"]["resume_step"] for e in d if e["kind"] == "action_applied"]
assert applied == [30], applied' || fail "checkpoint audit events"
assert_contains "$(inloop report ckaudit)" "not loaded" "report says the checkpoint was not loaded"
pass "a checkpoint failing the audit is not loaded on rollback; findings on the timeline and in the report"
