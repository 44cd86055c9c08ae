#!/usr/bin/env bash
# Data pipelines (docs/data.md): a 3-step pipeline runs as supervised runs and validates its
# outputs; a second run skips every step; a failing error check stops the steps that depend on
# it and the next run resumes there; lineage names the steps, hashes and the runs that read the
# output (by naming it in their command, and through inloop.dataset()).
source "$(dirname "$0")/lib.sh"

cat > gen.py <<'PY'
import json, sys
n = int(open("n.txt").read())
with open(sys.argv[1], "w") as f:
    for i in range(n):
        f.write(json.dumps({"id": i, "text": "record %d says %s" % (i, "x" * (i % 7))}) + "\n")
PY
cat > upper.py <<'PY'
import sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as g:
    for line in f:
        g.write(line.upper())
PY
cat > count.py <<'PY'
import sys
with open(sys.argv[2], "w") as g:
    g.write("%d\n" % sum(1 for _ in open(sys.argv[1])))
PY
cat > inloop.toml <<'TOML'
[[data.step]]
name = "gen"
command = ["python3", "gen.py", "{outputs}"]
inputs = ["n.txt"]
outputs = ["out/raw.jsonl"]
[[data.step.validate]]
schema = { id = "integer", text = "string" }
rows = { min = 10 }
duplicates = { field = "text" }

[[data.step]]
name = "upper"
command = ["python3", "upper.py", "{inputs}", "{outputs}"]
inputs = ["out/raw.jsonl"]
outputs = ["out/upper.jsonl"]

[[data.step]]
name = "count"
command = ["python3", "count.py", "{inputs[0]}", "{outputs[0]}"]
inputs = ["out/upper.jsonl"]
outputs = ["out/count.txt"]
TOML
echo 50 > n.txt

inloop data run --json > run1.json 2> run1.err || fail "first data run failed: $(cat run1.err)"
assert_eq "$(json '[s["state"] for s in d["steps"]]' < run1.json)" "['ran', 'ran', 'ran']" "first run builds all"
assert_eq "$(cat out/count.txt)" 50 "the pipeline's product"
gen_run=$(json 'd["steps"][0]["run_id"]' < run1.json)
[ -n "$gen_run" ] || fail "the gen step has no run"
inloop events "$gen_run" --json > ev.json
assert_eq "$(json 'sorted(set(e["data"]["check"] for e in d if e["kind"]=="data_check"))' < ev.json)" \
  "['duplicates', 'parse', 'rows', 'schema']" "check results are events on the step's run"
assert_eq "$(json '[e["data"]["value"] for e in d if e["kind"]=="data_check" and e["data"]["check"]=="rows"]' < ev.json)" \
  "[50]" "the rows check's number"
inloop report "$gen_run" --no-baseline --json > rep.json
assert_eq "$(json '[c["check"] for c in d["data_checks"] if not c["passed"]]' < rep.json)" "[]" "report's data checks"
assert_contains "$(inloop report "$gen_run" --no-baseline)" "## Data checks" "report section"
pass "3-step pipeline ran under supervision"

inloop data run --json > run2.json 2>/dev/null || fail "second data run failed"
assert_eq "$(json '[s["state"] for s in d["steps"]]' < run2.json)" "['up_to_date', 'up_to_date', 'up_to_date']" "second run skips all"
inloop data status --check > status.txt || fail "status --check after a full build"
assert_contains "$(cat status.txt)" "count            up to date" "status"
pass "no-op rerun"

# Too few rows: gen fails its error check, upper and count are blocked, their outputs kept.
echo 5 > n.txt
set +e
inloop data run > run3.txt 2> run3.err
rc=$?
set -e
assert_eq "$rc" 61 "a failing error check fails the pipeline"
assert_contains "$(cat run3.err)" "data: gen              invalid" "gen invalid"
assert_contains "$(cat run3.err)" "data: upper            blocked (step 'gen' did not succeed)" "dependents stop"
assert_contains "$(cat run3.txt)" "ERROR: rows out/raw.jsonl: 5 rows" "the failed check is shown"
assert_eq "$(cat out/count.txt)" 50 "earlier outputs are left intact"
inloop data status --json > st.json || true
assert_eq "$(json '[s["reason"] for s in d["steps"]][:2]' < st.json)" \
  "['the last run failed validation', \"step 'gen' it depends on is stale\"]" "status says why"
echo 20 > n.txt
inloop data run --json > run4.json 2>/dev/null || fail "the resumed run failed"
assert_eq "$(json '[s["state"] for s in d["steps"]]' < run4.json)" "['ran', 'ran', 'ran']" "resumes from the failed step"
assert_eq "$(cat out/count.txt)" 20 "rebuilt product"
inloop events "$(json 'd["steps"][0]["run_id"]' < run4.json)" --json > ev4.json
assert_eq "$(json '[e["data"]["path"] for e in d if e["kind"]=="data_read"]' < ev4.json)" "[]" "a step does not read its own output"
inloop events "$(json 'd["steps"][1]["run_id"]' < run4.json)" --json > ev5.json
assert_eq "$(json '[e["data"]["step"] for e in d if e["kind"]=="data_read"]' < ev5.json)" "['gen']" "a step's run reads its input's version"
pass "error check stops dependents, resume"

# Runs that read the output: named in the command, and through the SDK.
cat > train.py <<PY
import sys
sys.path.insert(0, "$INLOOP_SRC/python")
import inloop
inloop.dataset("upper", "out/upper.jsonl")
print(sum(1 for _ in open(sys.argv[1])))
PY
inloop run --name trainer --policy observe -- python3 train.py out/upper.jsonl > /dev/null 2>&1 || fail "consumer run failed"
inloop data lineage out/upper.jsonl --json > lin.json || fail "lineage failed"
assert_eq "$(json '[s["step"] for s in d["chain"]]' < lin.json)" "['upper', 'gen']" "the chain of steps"
assert_eq "$(json 'd["source_files"]' < lin.json)" "['n.txt']" "sources"
assert_eq "$(json 'd["consuming_steps"]' < lin.json)" "['count']" "steps that read it"
assert_eq "$(json '[(c["run_name"], c["current"]) for c in d["consumers"]]' < lin.json)" "[('trainer', True)]" "the consuming run, linked"
assert_eq "$(json 'd["chain"][1]["inputs"][0]["sha256"] == __import__("hashlib").sha256(b"20\n").hexdigest()' < lin.json)" True "input hashes"
inloop events trainer --json > tev.json
assert_eq "$(json 'sorted(e["data"]["source"] for e in d if e["kind"]=="data_read")' < tev.json)" "['command', 'sdk']" "both links recorded"
out=$(inloop data lineage out/upper.jsonl)
assert_contains "$out" "<- step upper (ok, run" "lineage text"
assert_contains "$out" "trainer" "lineage text names the run"
pass "lineage and consuming runs"

# Independent steps in parallel (--jobs 2), joined by a third.
mkdir -p par
printf 'a\n' > par/a.in
printf 'b\n' > par/b.in
printf '[[data.step]]\nname = "pa"\ncommand = ["cp", "{inputs}", "{outputs}"]\ninputs = ["par/a.in"]\noutputs = ["par/a.out"]\n[[data.step]]\nname = "pb"\ncommand = ["cp", "{inputs}", "{outputs}"]\ninputs = ["par/b.in"]\noutputs = ["par/b.out"]\n[[data.step]]\nname = "pj"\ncommand = ["python3", "-c", "import sys; open(sys.argv[3], \\"w\\").write(open(sys.argv[1]).read() + open(sys.argv[2]).read())", "{inputs}", "{outputs}"]\ninputs = ["par/a.out", "par/b.out"]\noutputs = ["par/j.out"]\n' > par.toml
inloop data run --config par.toml --jobs 2 --json > par.json 2>/dev/null || fail "parallel run failed"
assert_eq "$(json '[s["state"] for s in d["steps"]]' < par.json)" "['ran', 'ran', 'ran']" "parallel steps"
assert_eq "$(tr -d '\n' < par/j.out)" "ab" "the joined output"
pass "independent steps in parallel"

# A Slurm job's body by hand (the cluster itself: tests/slurm/slurm_data_test.sh): exec-step
# assesses, builds and records one step, and with SLURM_JOB_ID its job's entry.
printf 'c\n' > par/a.in
inloop data exec-step --config par.toml pa 2> ex.err || fail "exec-step: $(cat ex.err)"
assert_contains "$(cat ex.err)" "data: pa               done" "exec-step built the step"
assert_eq "$(cat par/a.out)" "c" "its output"
SLURM_JOB_ID=4242 inloop data exec-step --config par.toml pa 2> ex2.err || fail "exec-step again: $(cat ex2.err)"
assert_contains "$(cat ex2.err)" "data: pa               up to date" "an up-to-date step is not run again"
assert_eq "$(json '[(s["step"], s["job_id"], s["state"]) for s in d["steps"]]' < .inloop/data/slurm_jobs.json)" \
  "[('pa', '4242', 'up_to_date')]" "the job's record"
assert_eq "$(inloop data status --config par.toml --json | json '[(s["name"], s["up_to_date"], s["job_state"]) for s in d["steps"]]')" \
  "[('pa', True, 'up_to_date'), ('pb', True, ''), ('pj', False, '')]" "the manifest has the step; its dependent is stale"
set +e
err=$(inloop data exec-step --config par.toml nope 2>&1)
set -e
assert_contains "$err" "no data step is named 'nope'" "an unknown step"
set +e
err=$(inloop data run --config par.toml --wait 2>&1)
set -e
assert_contains "$err" "--wait, --partition, --time and --script-dir are for Slurm" "Slurm flags without --slurm"
pass "exec-step by hand"

# Pipeline errors are one clear line.
printf '[[data.step]]\nname = "a"\ncommand = ["true", "{inputs}"]\ninputs = ["b.txt"]\noutputs = ["a.txt"]\n[[data.step]]\nname = "b"\ncommand = ["true"]\ninputs = ["a.txt"]\noutputs = ["b.txt"]\n' > cyc.toml
set +e
err=$(inloop data run --config cyc.toml 2>&1)
set -e
assert_contains "$err" "the data steps form a cycle through a, b" "cycle error"
printf '[[data.step]]\nname = "a"\ncommand = ["true"]\ninputs = ["nowhere.txt"]\noutputs = ["a.txt"]\n' > miss.toml
set +e
err=$(inloop data run --config miss.toml 2>&1)
set -e
assert_contains "$err" "reads 'nowhere.txt', which does not exist and which no step produces" "missing producer"
pass "pipeline errors"
