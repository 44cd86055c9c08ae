#!/usr/bin/env bash
# Throughput findings on a shared machine, through `inloop run`: a training script logs tokens/s
# and ms/step with the jitter of a CPU box shared with a hog (seeded, printed, not measured: the
# counts cannot depend on this machine's load). A clean run gets no remedy and at most two
# throughput findings; a real slowdown (3x longer steps from step 300 to 449) is found once, on one
# series, with the other named as related and the episode's length on its closing update; the
# report leads with one line and shows the episode as one row. Then a real CPU hog beside a real
# busy-looping script: no remedy (the count of findings is printed, not asserted: it is timing).
source "$(dirname "$0")/lib.sh"

cat > train.py <<'PY'
import os, random, sys
rng = random.Random(int(os.environ.get("SEED", "1")))
slow = os.environ.get("SLOW") == "1"
burst = 0
for step in range(1, 701):
    t = 40 * (1 + 0.06 * rng.gauss(0, 1))
    if burst == 0 and rng.random() < 0.12:
        burst = 1 + int(rng.random() * 4)
    if burst > 0:
        burst -= 1
        t *= 1.1 + 0.5 * rng.random()
    elif rng.random() < 0.15:
        t *= 1.1 + 0.5 * rng.random()
    if slow and 300 <= step < 450:
        t *= 3
    t = max(t, 1.0)
    loss = 2.0 + 1.5 * 0.995 ** step + 0.01 * rng.gauss(0, 1)
    print("step=%d loss=%.5f tokens_per_s=%.1f step_time_ms=%.3f" % (step, loss, 2048 / (t / 1000), t),
          flush=True)
PY

new_findings() { json "len([e for e in d if e['kind']=='$2' and not e['data'].get('update')])" < "$1.events.json"; }
actions() { json "len([e for e in d if e['kind'].startswith('action_')])" < "$1.events.json"; }

for seed in 2 3 4; do
  SEED=$seed inloop run --name "clean$seed" -- python3 train.py > "clean$seed.out" 2> "clean$seed.err" \
    || fail "clean$seed: $(tail -5 "clean$seed.err")"
  inloop events "clean$seed" --json > "clean$seed.events.json"
  n=$(new_findings "clean$seed" throughput_regression)
  [ "$n" -le 2 ] || fail "clean$seed: $n throughput findings (at most 2 expected)"
  assert_eq "$(actions "clean$seed")" 0 "clean$seed: no remedy"
  pass "clean run $seed under (replayed) contention: $n throughput findings, no remedy"
done

SEED=11 SLOW=1 inloop run --name slow -- python3 train.py > slow.out 2> slow.err \
  || fail "slow: $(tail -5 slow.err)"
inloop events slow --json > slow.events.json
assert_eq "$(new_findings slow throughput_regression)" 1 "slow: one throughput finding"
assert_eq "$(actions slow)" 0 "slow: no remedy"
onset=$(json "[e['step_lo'] for e in d if e['kind']=='throughput_regression' and not e['data'].get('update')][0]" < slow.events.json)
[ "$onset" -ge 300 ] && [ "$onset" -le 312 ] || fail "slow: onset $onset not in 300..312"
ends=$(json "[e for e in d if e['kind']=='throughput_regression' and e['data'].get('update')]" < slow.events.json)
assert_eq "$(json "len([e for e in d if e['kind']=='throughput_regression' and e['data'].get('update')])" < slow.events.json)" 1 "slow: one closing update"
assert_contains "$ends" "'related': [" "slow: the other series is named"
end_hi=$(json "[e['step_hi'] for e in d if e['kind']=='throughput_regression' and e['data'].get('update')][0]" < slow.events.json)
[ "$end_hi" -ge 440 ] && [ "$end_hi" -le 460 ] || fail "slow: episode end $end_hi not in 440..460"
pass "slowdown at 300-449: one finding at $onset, ended at $end_hi, related series listed"

inloop report slow > slow.md
head -c 4000 slow.md | grep -q '^\*\*Run finished after .*a throughput slowdown at steps' \
  || fail "slow: the report does not lead with the slowdown: $(head -8 slow.md)"
assert_contains "$(cat slow.md)" "## Findings" "slow: findings section"
inloop report slow --json > slow.json
assert_eq "$(json '[(g["kind"], g["count"]) for g in d["finding_groups"]]' < slow.json)" "[('throughput_regression', 1)]" "slow: one group"
assert_eq "$(json 'len(d["throughput"]["regressions"])' < slow.json)" 1 "slow: one regression in the report"
pass "report: leads with the slowdown, one row"

# A real hog beside a real busy-looping script: whatever the timing, no remedy.
cat > busy.py <<'PY'
import time
x = 0
for step in range(1, 201):  # ~15 ms of work a step: real steps are not shorter than a time slice
    t0 = time.perf_counter()
    for i in range(300000):
        x += i * i
    dt = max(time.perf_counter() - t0, 1e-6)
    print("step=%d loss=%.5f tokens_per_s=%.1f step_time_ms=%.4f" % (step, 2.0 + 1.0 / step, 2048 / dt, dt * 1000), flush=True)
PY
python3 -c "import time
end = time.time() + 120
while time.time() < end: pass" &
hog=$!
trap 'kill $hog 2>/dev/null || true; cleanup' EXIT
inloop run --name hog -- python3 busy.py > hog.out 2> hog.err || fail "hog: $(tail -5 hog.err)"
kill $hog 2>/dev/null || true
wait $hog 2>/dev/null || true
inloop events hog --json > hog.events.json
assert_eq "$(actions hog)" 0 "hog: no remedy"
pass "real CPU hog: no remedy ($(new_findings hog throughput_regression) throughput findings)"
