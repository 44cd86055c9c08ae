#!/usr/bin/env bash
# Remedies for a script that knows nothing of inloop: metrics from printed lines, checkpoints found
# by [remedy] checkpoint_glob (step in the name, size settled), and the restart told what to do by
# templated arguments only. A NaN from the data of step 40 -> restart with --resume <step-30 file>
# --skip-from 31 --skip-to 41; the script skips and finishes. A native crash (SIGSEGV) and a hang
# at step 45 -> resume from the step-40 file. A full disk and a setup error stop at once. (The
# sanitizer job runs these supervisor paths here; remedy_faults_test takes them with PyTorch.)
source "$(dirname "$0")/lib.sh"

cat > train.py <<'PY'
import argparse, math, os, signal, sys, time
p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=60)
p.add_argument("--resume")
p.add_argument("--skip-from", type=int, default=0)
p.add_argument("--skip-to", type=int, default=0)
a = p.parse_args()
start = 0
if a.resume:
    start = int(open(a.resume).read())
    print("resumed from %s at step %d, skip [%d, %d)" % (a.resume, start, a.skip_from, a.skip_to), flush=True)
os.makedirs("ckpt", exist_ok=True)
for step in range(start + 1, a.steps + 1):
    data = step + (a.skip_to - a.skip_from if a.skip_from <= step else 0)
    loss = 2.0 + 1.0 / step + 0.001 * (step % 3)
    fault = os.environ.get("FAULT", "")  # crash / hang at step 45 of the first attempt
    if data == 40 and not fault:
        loss = float("nan")  # the batch at data index 40 is poisoned
    if step == 45 and not a.resume:
        if fault == "crash":
            os.kill(os.getpid(), signal.SIGSEGV)
        elif fault == "hang":
            time.sleep(3600)
    print("step=%d loss=%s" % (step, loss), flush=True)
    if step % 10 == 0:
        tmp = "ckpt/step-%d.pt.tmp" % step
        with open(tmp, "w") as f:
            f.write(str(step))
        os.replace(tmp, "ckpt/step-%d.pt" % step)
    # Time for the step-30 (step-40) file to be found and to settle (1 s scans, 0.5 s settle)
    # before the NaN (the crash or hang).
    time.sleep(0.2 if 30 < step <= 40 or (fault and 40 < step <= 45) else 0.03)
PY

cat > inloop.toml <<'TOML'
[remedy]
checkpoint_glob = "ckpt/step-*.pt"
checkpoint_settle_seconds = 0.5
checkpoint_args = ["--resume", "{checkpoint}"]
skip_args = ["--skip-from", "{skip_from}", "--skip-to", "{skip_to}"]
TOML

inloop run --name generic -- python3 train.py > out.txt 2> err.txt || fail "generic run failed: $(tail -5 err.txt)"
inloop show generic --json > show.json
assert_eq "$(json 'd["status"]' < show.json)" finished "status"
assert_eq "$(json 'len(d["attempts"])' < show.json)" 2 "two attempts"
inloop events generic --json > ev.json
assert_eq "$(json "[e['step_lo'] for e in d if e['kind']=='nonfinite']" < ev.json)" "[40]" "NaN at step 40"
assert_eq "$(json "[e['data']['argv'][-4:] for e in d if e['kind']=='attempt_start' and e['data']['attempt']==2]" < ev.json)" \
  "[['--skip-from', '31', '--skip-to', '41']]" "templated skip arguments"
assert_eq "$(json "[e['data']['argv'][-6:-4] for e in d if e['kind']=='attempt_start' and e['data']['attempt']==2]" < ev.json)" \
  "[['--resume', '$WORK/ckpt/step-30.pt']]" "checkpoint argument"
assert_contains "$(cat out.txt)" "resumed from $WORK/ckpt/step-30.pt at step 30, skip [31, 41)" "the script resumed and skipped"
assert_eq "$(inloop metrics generic loss --format json | json 'd["points"][-1][0]')" 60 "finished at step 60"
pass "glob checkpoint + templated arguments"

# A native crash and a hang, each at step 45 of the first attempt: resume from the step-40 file.
cat >> inloop.toml <<'TOML'
backoff_initial_seconds = 1
[detect]
hang_floor_seconds = 3
TOML
for fault in crash hang; do
  rm -rf ckpt
  FAULT=$fault inloop run --name "$fault" -- python3 train.py > "$fault.out" 2> "$fault.err" \
    || fail "$fault run failed: $(tail -5 "$fault.err")"
  inloop show "$fault" --json > "$fault.show.json"
  assert_eq "$(json 'd["status"]' < "$fault.show.json")" finished "$fault: status"
  assert_eq "$(json 'len(d["attempts"])' < "$fault.show.json")" 2 "$fault: two attempts"
  inloop events "$fault" --json > "$fault.ev.json"
  trigger=$([ "$fault" == crash ] && echo segfault || echo hang)
  assert_eq "$(json "[(e['data']['action'], e['data']['trigger']) for e in d if e['kind']=='action_applied']" < "$fault.ev.json")" \
    "[('resume', '$trigger')]" "$fault: the action"
  assert_eq "$(json "[e['data']['argv'][-2:] for e in d if e['kind']=='attempt_start' and e['data']['attempt']==2]" < "$fault.ev.json")" \
    "[['--resume', '$WORK/ckpt/step-40.pt']]" "$fault: resumed from the step-40 file"
  assert_eq "$(inloop metrics "$fault" loss --format json | json 'd["points"][-1][0]')" 60 "$fault: finished at step 60"
  pass "$fault at step 45 -> resume from step 40, finished"
done

# A full disk is not something a restart fixes: stop at once. The process ended on its own, so
# its exit code is passed through (9 is for a live process the policy had to end).
cat > full.py <<'PY'
import sys
print("step=1 loss=2.0", flush=True)
print("OSError: [Errno 28] No space left on device: '/ckpt/step-2.pt'", file=sys.stderr)
sys.exit(1)
PY
set +e; inloop run --name full -- python3 full.py > /dev/null 2> err.txt; code=$?; set -e
assert_eq "$code" 1 "disk full: the command's exit code"
assert_eq "$(inloop show full --json | json 'len(d["attempts"])')" 1 "disk full: no restart"
assert_contains "$(cat err.txt)" "a restart cannot fix this" "disk full: the reason"
pass "fatal crash stops without a restart"

# An unexplained exit before any step is a setup error: no restart loop.
set +e; inloop run --name typo -- python3 -c 'import sys; sys.exit(2)' > /dev/null 2> err.txt; code=$?; set -e
assert_eq "$code" 2 "setup error: the command's exit code"
assert_eq "$(inloop show typo --json | json 'len(d["attempts"])')" 1 "setup error: no restart"
assert_contains "$(cat err.txt)" "setup error" "setup error: the reason"
pass "setup error stops without a restart"
