#!/usr/bin/env bash
# inloop on a real one-node Slurm cluster (slurmctld + slurmd + munge on loopback, started here
# and torn down on exit): `inloop submit --slurm` jobs whose training (1) dies of a GPU fault once:
# the node goes into the ledger and the job is requeued and continues the same run from its
# checkpoint; (2) gets SIGUSR1 from Slurm: it saves a checkpoint, inloop requeues the job, and
# the run continues from that checkpoint. Skipped (77) without root or Slurm.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../e2e/lib.sh"
source "$HERE/cluster.sh"
slurm_available || { echo "skip: needs root, slurm-wlm and munge"; exit 77; }

CL=$(mktemp -d /tmp/inloop-slurm-XXXXXX)
JOBS=()
teardown() {
  if ((${#JOBS[@]})); then
    scancel "${JOBS[@]}" 2>/dev/null || true
    wait_for 100 bash -c "[ -z \"\$(squeue -h 2>/dev/null)\" ]" || true
  fi
  slurm_stop "$CL"
  [ -n "${INLOOP_KEEP_WORK:-}" ] && echo "kept $CL" || rm -rf "$CL"
  cleanup
}
trap teardown EXIT
slurm_start "$CL" || fail "the test cluster did not start"
pass "cluster up (node $SLURM_NODE)"

STORE=$WORK/store
cp "$INLOOP_SRC/tests/slurm/train_job.py" "$WORK/job.py"
# submit TAG ARGS...: submits, keeps the --json answer in submit.TAG.json, prints the job id.
submit() {
  local tag=$1 id
  shift
  inloop submit --slurm --store "$STORE" --signal-seconds 30 --json "$@" > "submit.$tag.json" ||
    fail "submit $tag"
  id=$(json 'd["job_id"]' < "submit.$tag.json")
  JOBS+=("$id")
  echo "$id"
}
crash_job=$(submit crashy --name crashy -- /usr/bin/python3 "$WORK/job.py" "$WORK/ck crash" 12 crash)
usr1_job=$(submit usr1 --name 'usr1 job' -- /usr/bin/python3 "$WORK/job.py" "$WORK/ck usr1" 12 usr1)
usr1_out=$(json 'd["output"]' < "submit.usr1.json")
[ -f "$(json 'd["script"]' < submit.crashy.json)" ] || fail "the script is kept in the store"

# Slurm asks the batch shell (inloop) to checkpoint, as --signal=B:USR1 does before a time limit.
wait_for 600 grep -q "waiting for USR1" "$usr1_out" 2>/dev/null ||
  fail "the usr1 job did not reach step 7: $(cat "$usr1_out" 2>&1 | tail -5)"
scancel --signal=USR1 --batch "$usr1_job" || fail "scancel --signal=USR1"

gone() { [ -z "$(squeue -h -j "$1" 2>/dev/null)" ]; }
wait_for 900 gone "$crash_job" || fail "crash job still queued: $(squeue 2>&1)"
wait_for 900 gone "$usr1_job" || fail "usr1 job still queued: $(squeue 2>&1)"

# One look at each run: attempts, the Slurm events, where attempt 2 started and where it ended.
summary() {
  inloop show "$1" --json > "$1.show.json"
  inloop events "$1" --json > "$1.ev.json"
  python3 - "$1.show.json" "$1.ev.json" <<'PY'
import json, sys
show, ev = (json.load(open(p)) for p in sys.argv[1:3])
print(show["status"], [(a["number"], a["reason"], a["crash_class"]) for a in show["attempts"]])
for e in ev:
    d = e["data"]
    if e["kind"] == "node_fault":
        print("node_fault", d["node"], d["job_id"], d["class"])
    elif e["kind"] == "scheduler_signal":
        print("scheduler_signal", d["signal"], d["job_id"])
    elif e["kind"] == "job_requeued":
        print("job_requeued", d["why"], d["ok"], d["exclude"])
    elif e["kind"] == "attempt_start" and d["attempt"] == 2:
        print("attempt 2 from", d["resume_step"], d["start_step"], d["checkpoint"]["path"])
    elif e["kind"] == "attempt_exit":
        print("attempt", d["attempt"], "exit", d["exit_code"], "last step", d.get("last_step"))
PY
}

# 1. The GPU fault: node in the ledger, job requeued, attempt 2 resumed at the step-5 checkpoint.
assert_eq "$(summary crashy)" "finished [(1, 'start', 'gpu_fault'), (2, 'requeue', '')]
attempt 1 exit 1 last step 7
node_fault $SLURM_NODE $crash_job gpu_fault
job_requeued node_fault True []
attempt 2 from 5 6 $WORK/ck crash/ckpt-5.json
attempt 2 exit 0 last step 12" "crash job: one run, requeued at the fault (1 < 2 faults: no exclusion), resumed at 5, done"
crash_out=$(json 'd["output"]' < submit.crashy.json)
assert_contains "$(cat "$crash_out")" "attempt 2 resume_from=$WORK/ck crash/ckpt-5.json start=5" \
  "crash job: the script resumed"
assert_contains "$(cat "$crash_out")" "job $crash_job requeued: run" "crash job: inloop said it requeued"
pass "GPU fault: ledger, requeue, resume from the checkpoint"

# 2. SIGUSR1: forwarded, checkpoint at step 7, requeue, attempt 2 from step 7.
assert_eq "$(summary 'usr1 job')" "finished [(1, 'start', ''), (2, 'requeue', '')]
scheduler_signal SIGUSR1 $usr1_job
attempt 1 exit 0 last step 7
job_requeued signal True []
attempt 2 from 7 8 $WORK/ck usr1/ckpt-7.json
attempt 2 exit 0 last step 12" "usr1 job: signal, checkpoint, requeue, resumed at 7, done"
assert_contains "$(cat "$usr1_out")" "USR1 received: saving" "usr1 job: the training saw the signal"
pass "SIGUSR1: checkpoint, requeue, resume"

# 3. The ledger across runs, and submit excluding a node once it has enough faults.
assert_eq "$(inloop nodes --store "$STORE" --json | json '[(n["node"], n["faults"], n["classes"]) for n in d]')" \
  "[('$SLURM_NODE', 1, {'gpu_fault': 1})]" "nodes: the ledger"
assert_contains "$(inloop submit --slurm --store "$STORE" --exclude-after 1 --dry-run -- true)" \
  "#SBATCH --exclude=$SLURM_NODE" "submit excludes a lemon node"
if inloop submit --slurm --store "$STORE" --dry-run -- true | grep -q -- "#SBATCH --exclude"; then
  fail "a node below the threshold is excluded"
fi
pass "lemon-node ledger"
