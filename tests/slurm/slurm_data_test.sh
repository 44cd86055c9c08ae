#!/usr/bin/env bash
# `inloop data run --slurm` on a real one-node Slurm cluster (cluster.sh; started here, torn down
# on exit): a pipeline of two independent steps and one that joins them (its output validated)
# runs as three Slurm jobs, the join after both (afterok), each job recording its own step (runs,
# check events, manifest); a rerun submits nothing; while a step runs, `data status` shows its job
# and the queued dependent, a rerun does not submit them again and a local run refuses; a failing step's job cancels
# its dependent, earlier outputs stay, and the next run resumes at it. Skipped (77) without root
# or Slurm. Shares the slurm RESOURCE_LOCK with slurm_cluster_test: one cluster at a time.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../e2e/lib.sh"
source "$HERE/cluster.sh"
slurm_available || { echo "skip: needs root, slurm-wlm and munge"; exit 77; }

CL=$(mktemp -d /tmp/inloop-slurm-XXXXXX)
teardown() {
  local ids
  ids=$(squeue --me -h -o %i 2>/dev/null | tr '\n' ' ')
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086
    scancel $ids 2>/dev/null || true
    wait_for 100 bash -c "[ -z \"\$(squeue --me -h 2>/dev/null)\" ]" || true
  fi
  slurm_stop "$CL"
  [ -n "${INLOOP_KEEP_WORK:-}" ] && echo "kept $CL" || rm -rf "$CL"
  cleanup
}
trap teardown EXIT
slurm_start "$CL" || fail "the test cluster did not start"
pass "cluster up (node $SLURM_NODE)"

# gen.py N_FILE OUT: N records; "fail" in N_FILE fails; with a file "hold" present it waits (at
# most 120 s) for a file "go" first, so a test can look at a running job.
cat > gen.py <<'PY'
import json, os, sys, time
n = open(sys.argv[1]).read().strip()
if n == "fail":
    print("gen: told to fail", file=sys.stderr)
    sys.exit(3)
if os.path.exists("hold"):
    open("held." + os.path.basename(sys.argv[2]), "w").close()
    for _ in range(1200):
        if os.path.exists("go"):
            break
        time.sleep(0.1)
with open(sys.argv[2], "w") as f:
    for i in range(int(n)):
        f.write(json.dumps({"id": i, "text": "%s record %d" % (sys.argv[2], i)}) + "\n")
PY
cat > join.py <<'PY'
import sys
with open(sys.argv[3], "w") as out:
    for p in sys.argv[1:3]:
        out.write(open(p).read())
PY
cat > inloop.toml <<'TOML'
[data]
executor = "slurm"

[[data.step]]
name = "a"
command = ["/usr/bin/python3", "gen.py", "{inputs}", "{outputs}"]
inputs = ["na.txt"]
outputs = ["out/a.jsonl"]

[[data.step]]
name = "b"
command = ["/usr/bin/python3", "gen.py", "{inputs}", "{outputs}"]
inputs = ["nb.txt"]
outputs = ["out/b.jsonl"]

[[data.step]]
name = "join"
command = ["/usr/bin/python3", "join.py", "{inputs}", "{outputs}"]
inputs = ["out/a.jsonl", "out/b.jsonl"]
outputs = ["out/all.jsonl"]
[[data.step.validate]]
schema = { id = "integer", text = "string" }
rows = { min = 10 }
duplicates = { field = "text" }
TOML
echo 8 > na.txt
echo 6 > nb.txt
states() { json '[(s["name"], s["state"]) for s in d["steps"]]'; }
job_of() { json "[s['job_id'] for s in d['steps'] if s['name'] == '$1'][0]"; }

# 1. Everything out of date: three jobs, the join after both; each job records its step.
timeout 120 "$INLOOP_BIN" data run --wait --json > run1.json 2> run1.err || fail "first run: $(cat run1.err)"
assert_eq "$(states < run1.json)" "[('a', 'ran'), ('b', 'ran'), ('join', 'ran')]" "first run: all built by their jobs"
assert_contains "$(cat run1.err)" "data: join             submitted (job $(job_of join < run1.json), after $(job_of a < run1.json),$(job_of b < run1.json)" \
  "the join waits for both jobs"
assert_eq "$(wc -l < out/all.jsonl)" 14 "the joined output"
join_run=$(json '[s["run_id"] for s in d["steps"] if s["name"] == "join"][0]' < run1.json)
[ -n "$join_run" ] || fail "the join step's job recorded no run"
assert_eq "$(inloop show "$join_run" --json | json 'd["name"]')" "data.join" "the step's run"
inloop events "$join_run" --json > ev.json
assert_eq "$(json 'sorted(set(e["data"]["check"] for e in d if e["kind"]=="data_check"))' < ev.json)" \
  "['duplicates', 'parse', 'rows', 'schema']" "the job validated the output: check events on its run"
assert_eq "$(json '[e["data"]["value"] for e in d if e["kind"]=="data_check" and e["data"]["check"]=="rows"]' < ev.json)" \
  "[14]" "the rows check's number"
inloop data status --check --json > st1.json || fail "status --check after the Slurm build: $(cat st1.json)"
assert_eq "$(json '[(s["name"], s["job_state"], s["run_id"] != "") for s in d["steps"]]' < st1.json)" \
  "[('a', 'ran', True), ('b', 'ran', True), ('join', 'ran', True)]" "the manifest and job records"
pass "3 steps built as Slurm jobs, the join after both, validated and recorded by the jobs"

# 2. A no-op rerun submits nothing.
inloop data run --json > run2.json 2> run2.err || fail "no-op rerun: $(cat run2.err)"
assert_eq "$(states < run2.json)" "[('a', 'up_to_date'), ('b', 'up_to_date'), ('join', 'up_to_date')]" "no-op rerun"
assert_eq "$(json '[s["job_id"] for s in d["steps"]]' < run2.json)" "['', '', '']" "no job submitted"
assert_eq "$(squeue --me -h | wc -l)" 0 "the queue stays empty"
pass "no-op rerun submits nothing"

# 3. While b runs: status shows its job and the queued join; a rerun submits neither again.
all_before=$(sha256sum < out/all.jsonl)
touch hold
echo 7 > nb.txt
inloop data run --json > run3.json 2> run3.err || fail "run 3: $(cat run3.err)"
assert_eq "$(states < run3.json)" "[('a', 'up_to_date'), ('b', 'submitted'), ('join', 'submitted')]" "b and join submitted"
b_job=$(job_of b < run3.json)
join_job=$(job_of join < run3.json)
wait_for 600 test -e held.b.jsonl || fail "b's job did not start: $(squeue 2>&1)"
inloop data status --json > st3.json || true
assert_eq "$(json '[(s["name"], s["job_id"], s["job_state"]) for s in d["steps"]]' < st3.json)" \
  "[('a', '$(json 'd["steps"][0]["job_id"]' < st1.json)', 'ran'), ('b', '$b_job', 'running'), ('join', '$join_job', 'queued')]" \
  "status: b running, join queued, with their job ids"
assert_contains "$(inloop data status)" "[Slurm job $join_job queued]" "status text names the queued job"
inloop data run --json > run3b.json 2>/dev/null || fail "rerun while in flight"
assert_eq "$(states < run3b.json)" "[('a', 'up_to_date'), ('b', 'in_flight'), ('join', 'in_flight')]" "in-flight steps are not submitted again"
set +e
err=$(inloop data run --local 2>&1)
rc=$?
set -e
assert_eq "$rc" 4 "a local run while jobs build the steps is refused"
assert_contains "$err" "data step 'b' is being built by Slurm job $b_job (RUNNING)" "and says which job"
touch go
gone() { [ -z "$(squeue --me -h 2>/dev/null)" ]; }
wait_for 900 gone || fail "jobs still queued: $(squeue 2>&1)"
rm -f hold go
inloop data status --check > /dev/null || fail "status after the jobs of run 3: $(inloop data status)"
assert_eq "$(wc -l < out/all.jsonl)" 15 "the join saw b's new version"
pass "status shows running and queued steps with their jobs; in-flight steps are not resubmitted"

# 4. b fails: its job cancels the join's; the earlier output stays; the rerun resumes at b.
all_before=$(sha256sum < out/all.jsonl)
echo fail > nb.txt
set +e
timeout 120 "$INLOOP_BIN" data run --wait --json > run4.json 2> run4.err
rc=$?
set -e
assert_eq "$rc" 61 "a failed step fails the pipeline"
assert_eq "$(states < run4.json)" "[('a', 'up_to_date'), ('b', 'failed'), ('join', 'blocked')]" "b failed, join cancelled"
assert_contains "$(json '[s["reason"] for s in d["steps"] if s["name"] == "b"][0]' < run4.json)" "the command exited with 3" "why b failed"
assert_eq "$(sha256sum < out/all.jsonl)" "$all_before" "the earlier joined output is intact"
assert_eq "$(inloop data status --json | json '[(s["name"], s["job_state"]) for s in d["steps"]]')" \
  "[('a', 'ran'), ('b', 'failed'), ('join', 'blocked')]" "status: the failed and the cancelled job"
echo 9 > nb.txt
timeout 120 "$INLOOP_BIN" data run --wait --json > run5.json 2> run5.err || fail "resume: $(cat run5.err)"
assert_eq "$(states < run5.json)" "[('a', 'up_to_date'), ('b', 'ran'), ('join', 'ran')]" "the rerun resumes at b"
assert_eq "$(wc -l < out/all.jsonl)" 17 "the joined output rebuilt"
inloop data status --check > /dev/null || fail "status after the resume"
pass "a failed step stops its dependent; the rerun resumes from it"
