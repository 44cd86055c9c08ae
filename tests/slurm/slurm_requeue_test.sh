#!/usr/bin/env bash
# The supervisor's Slurm paths without a cluster (so they also run under the sanitizers): a job's
# environment (SLURM_JOB_ID, SLURMD_NODENAME) and a stand-in scontrol on PATH that records its
# arguments. A GPU fault requeues with the node excluded (exit 10); SIGUSR1 is forwarded, the
# training saves, the job is requeued; `--continue-run` with the same key then continues the run
# from the checkpoint; outside a job SIGUSR1 is only forwarded.
source "$(dirname "$0")/../e2e/lib.sh"

cp "$INLOOP_SRC/tests/slurm/train_job.py" job.py
printf '[remedy]\nbackoff_initial_seconds = 1\n' > inloop.toml  # the in-place resume of part 4
mkdir bin
cat > bin/scontrol <<'SH'
#!/bin/sh
printf '%s\n' "$*" >> "$SCONTROL_LOG"
SH
chmod +x bin/scontrol
export SCONTROL_LOG=$WORK/scontrol.log
: > "$SCONTROL_LOG"
export PATH=$WORK/bin:$PATH

# 1. A GPU fault inside job 77 on nodeA: ledger, exclusion (threshold 1), requeue, exit 10.
set +e
SLURM_JOB_ID=77 SLURMD_NODENAME=nodeA inloop run --continue-run key-77 --exclude-after 1 \
  --name gpu -- /usr/bin/python3 job.py ck1 12 crash > out1.txt 2> err1.txt
code=$?
set -e
assert_eq "$code" 10 "requeued: exit code 10"
assert_eq "$(cat "$SCONTROL_LOG")" $'update JobId=77 ExcNodeList=nodeA\nrequeue 77' "scontrol calls"
assert_contains "$(cat err1.txt)" "job 77 requeued excluding nodeA" "inloop says so"
assert_eq "$(inloop show gpu --json | json '(d["status"], [(a["reason"], a["crash_class"]) for a in d["attempts"]])')" \
  "('interrupted', [('start', 'gpu_fault')])" "run interrupted after attempt 1"
assert_eq "$(inloop nodes --json | json '[(n["node"], n["faults"]) for n in d]')" "[('nodeA', 1)]" "ledger"
pass "GPU fault: node excluded, job requeued"

# The requeued job: the same key continues the run as attempt 2 from the step-5 checkpoint.
: > "$SCONTROL_LOG"
SLURM_JOB_ID=77 SLURMD_NODENAME=nodeB inloop run --continue-run key-77 --exclude-after 1 \
  --name gpu -- /usr/bin/python3 job.py ck1 12 crash > out2.txt 2> err2.txt ||
  fail "attempt 2 failed: $(tail -5 err2.txt)"
assert_contains "$(cat out2.txt)" "attempt 2 resume_from=$WORK/ck1/ckpt-5.json start=5" "resumed"
assert_contains "$(cat err2.txt)" "continues as attempt 2 (requeued job) from the checkpoint of step 5" "inloop says it continues"
inloop show gpu --json > show.json
assert_eq "$(json '(d["status"], [(a["number"], a["reason"]) for a in d["attempts"]])' < show.json)" \
  "('finished', [(1, 'start'), (2, 'requeue')])" "one run, two attempts"
assert_eq "$(inloop runs --json | json 'len(d)')" 1 "no second run"
inloop events gpu --json > ev.json
assert_eq "$(json "[(e['data']['resume_step'], e['data']['start_step']) for e in d if e['kind']=='attempt_start' and e['data']['attempt']==2]" < ev.json)" \
  "[(5, 6)]" "attempt 2 starts after the checkpoint"
assert_eq "$(inloop metrics gpu loss --format json | json 'd["points"][-1][0]')" 12 "trained to the end"
assert_eq "$(cat "$SCONTROL_LOG")" "" "no requeue when the job finishes"
pass "requeued job continues the run"

# 2. SIGUSR1 inside job 78: forwarded, the training saves at step 7, the job is requeued.
SLURM_JOB_ID=78 SLURMD_NODENAME=nodeB "$INLOOP_BIN" run --continue-run key-78 --name sig \
  -- /usr/bin/python3 job.py ck2 12 usr1 > out3.txt 2> err3.txt &
pid=$!
wait_for 600 grep -q "waiting for USR1" out3.txt || fail "the job did not reach step 7"
kill -USR1 "$pid"
set +e
wait "$pid"
code=$?
set -e
assert_eq "$code" 10 "requeued after SIGUSR1: exit code 10"
assert_contains "$(cat out3.txt)" "USR1 received: saving" "the training got SIGUSR1"
assert_eq "$(cat "$SCONTROL_LOG")" "requeue 78" "requeued, nothing excluded"
inloop events sig --json > ev2.json
assert_eq "$(json "[(e['kind'], e['data']['job_id']) for e in d if e['kind'] in ('scheduler_signal', 'job_requeued')]" < ev2.json)" \
  "[('scheduler_signal', '78'), ('job_requeued', '78')]" "signal and requeue on the timeline"
SLURM_JOB_ID=78 SLURMD_NODENAME=nodeB "$INLOOP_BIN" run --continue-run key-78 --name sig \
  -- /usr/bin/python3 job.py ck2 12 usr1 > out4.txt 2> err4.txt || fail "attempt 2 of sig failed"
assert_contains "$(cat out4.txt)" "attempt 2 resume_from=$WORK/ck2/ckpt-7.json start=7" "resumed at 7"
assert_eq "$(inloop show sig --json | json '(d["status"], len(d["attempts"]))')" "('finished', 2)" "sig finished"
pass "SIGUSR1: checkpoint, requeue, continue"

# 3. Outside a Slurm job SIGUSR1 is forwarded and nothing is requeued.
: > "$SCONTROL_LOG"
env -u SLURM_JOB_ID "$INLOOP_BIN" run --name plain -- /usr/bin/python3 job.py ck3 12 usr1 > out5.txt 2> err5.txt &
pid=$!
wait_for 600 grep -q "waiting for USR1" out5.txt || fail "plain did not reach step 7"
kill -USR1 "$pid"
set +e
wait "$pid"
code=$?
set -e
assert_eq "$code" 0 "outside Slurm: the training's own exit code"
assert_contains "$(cat out5.txt)" "USR1 received: saving" "forwarded outside Slurm too"
assert_eq "$(cat "$SCONTROL_LOG")" "" "no scontrol outside a job"
pass "SIGUSR1 outside Slurm"

# 4. Inside a job but without --continue-run (inloop run under srun/salloc): the fault goes into
# the ledger, nothing is requeued, and the local remedy resumes from the checkpoint in place.
SLURM_JOB_ID=79 SLURMD_NODENAME=nodeA inloop run --name local -- /usr/bin/python3 job.py ck4 12 crash \
  > out6.txt 2> err6.txt || fail "local: $(tail -5 err6.txt)"
assert_eq "$(cat "$SCONTROL_LOG")" "" "no scontrol without --continue-run"
assert_eq "$(inloop show local --json | json '(d["status"], [a["reason"] for a in d["attempts"]])')" \
  "('finished', ['start', 'resume'])" "resumed in place"
assert_eq "$(inloop nodes --json | json '[(n["node"], n["faults"], n["runs"]) for n in d]')" \
  "[('nodeA', 2, 2)]" "the fault is in the ledger all the same"
pass "no requeue without --continue-run"

# 5. inloop submit with a stand-in sbatch: the script is kept (0600) in the store, sbatch gets it
# with --parsable and the output path, and the job id comes back; flag mistakes exit 2.
cat > bin/sbatch <<'SH'
#!/bin/sh
printf '%s\n' "$@" > "$WORK/sbatch.args"
echo "4242;lab"
SH
chmod +x bin/sbatch
export WORK
inloop submit --slurm --name 'my job' --json -- /usr/bin/python3 job.py "a b" > submit.json
assert_eq "$(json 'd["job_id"]' < submit.json)" 4242 "submit: the job id"
script=$(json 'd["script"]' < submit.json)
assert_eq "$(dirname "$script")" "$INLOOP_STORE/slurm" "submit: the script is kept in the store"
assert_eq "$(stat -c %a "$script")" 600 "submit: the script is private"
assert_eq "$(cat sbatch.args)" $'--parsable\n--output='"$INLOOP_STORE"$'/slurm/slurm-%j.out\n'"$script" "submit: sbatch argv"
assert_contains "$(cat "$script")" "--name 'my job' --exclude-after 2 -- /usr/bin/python3 job.py 'a b'" "submit: the run line"
assert_contains "$(cat "$script")" "#SBATCH --exclude=nodeA" "submit: the lemon node (2 faults) is excluded"
set +e
inloop submit -- true 2> e1.txt; c1=$?
inloop submit --slurm --partition 'a b' -- true 2> e2.txt; c2=$?
set -e
assert_eq "$c1 $c2" "2 2" "submit: flag mistakes exit 2"
assert_contains "$(cat e2.txt)" "--partition 'a b' cannot go into an #SBATCH line" "submit: says which flag"
pass "submit"

# 6. `inloop submit --server URL --token T` without --store: the ledger is the server's (GET
# /api/v1/nodes); a refused token stops the submission, a server that is down only warns.
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$INLOOP_BIN" serve --store "$INLOOP_STORE" --port "$PORT" --token submit-token-5 > serve.out 2> serve.err &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null; cleanup' EXIT
wait_for 600 grep -q "^inloop serve: http://" serve.out || fail "serve did not start: $(cat serve.err)"
env -u INLOOP_STORE "$INLOOP_BIN" submit --slurm --server "http://127.0.0.1:$PORT" \
  --token submit-token-5 --dry-run -- true > server.sbatch
assert_contains "$(cat server.sbatch)" "#SBATCH --exclude=nodeA" "submit --server: the server's lemon node is excluded"
set +e
env -u INLOOP_STORE "$INLOOP_BIN" submit --slurm --server "http://127.0.0.1:$PORT" --token wrong \
  --dry-run -- true > /dev/null 2> e3.txt; c3=$?
set -e
[ "$c3" != 0 ] || fail "submit --server with a refused token went on"
assert_contains "$(cat e3.txt)" "answered HTTP 401 instead of the lemon-node ledger" "submit --server: says the token was refused"
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
trap cleanup EXIT
env -u INLOOP_STORE "$INLOOP_BIN" submit --slurm --server "http://127.0.0.1:$PORT" --token submit-token-5 \
  --dry-run -- true > down.sbatch 2> e4.txt
assert_contains "$(cat e4.txt)" "submitting without excluding lemon nodes" "submit --server: a server that is down only warns"
grep -q "#SBATCH --exclude" down.sbatch && fail "submit --server: exclusions out of nowhere"
pass "submit --server reads the server's ledger"
