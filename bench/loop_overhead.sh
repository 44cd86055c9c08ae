#!/usr/bin/env bash
# Loop overhead per round, excluding the training and the agent (issue 8 target: < 1 s): runs
# `inloop loop run --search` for N rounds over a command that only prints its metric, and
# subtracts the same command's own run time (measured bare, N times). What remains is the
# round's machinery: TPE, params file, git (stage, diff, commit or reset), the journal, the
# supervisor starting and recording the run in the store, the metric query and the verdict event.
# Also prints `inloop run` of the same command alone, the supervisor's share.
# Usage: bench/loop_overhead.sh [ROUNDS]   (INLOOP_BIN defaults to ./build/inloop)
set -euo pipefail
N=${1:-30}
BIN=$(realpath "${INLOOP_BIN:-./build/inloop}")
WORK=$(mktemp -d /tmp/inloop-loop-bench-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" && git init -q -b main && git config user.name b && git config user.email b@b
cat > space.toml <<'TOML'
[search]
params_file = "params.txt"
[params.x]
low = -1.0
high = 1.0
TOML
echo > params.txt
git add -A && git commit -qm bench
CMD=(sh -c 'echo "{\"step\": 1, \"objective\": $INLOOP_PARAM_X}"')
export INLOOP_STORE="$WORK/store" NO_COLOR=1 INLOOP_PARAM_X=0.5
now() { date +%s.%N; }
t0=$(now); for ((i = 0; i < N; i++)); do "${CMD[@]}" > /dev/null; done; t1=$(now)
bare=$(python3 -c "print(($t1 - $t0) / $N)")
t0=$(now); for ((i = 0; i < N; i++)); do "$BIN" run -- "${CMD[@]}" > /dev/null 2>&1; done; t1=$(now)
run=$(python3 -c "print(($t1 - $t0) / $N)")
"$BIN" loop init --metric objective:min --budget 60s --seeds 1 --max-seeds 1 --recheck-every 0 -- "${CMD[@]}" > /dev/null
t0=$(now); "$BIN" loop run --search space.toml --rounds "$N" > /dev/null 2>&1; t1=$(now)
kept=$("$BIN" loop log --json | python3 -c "import json,sys; d=json.load(sys.stdin); print(sum(r['verdict']=='kept' for r in d))")
rounds=$((N + 1))  # the baseline run too
python3 - "$bare" "$run" "$t0" "$t1" "$rounds" "$kept" <<'PY'
import sys
bare, run, t0, t1, rounds, kept = map(float, sys.argv[1:])
per_round = (t1 - t0) / rounds
print(f"command alone:              {bare * 1000:7.1f} ms")
print(f"inloop run of it:           {run * 1000:7.1f} ms  (supervisor + store: {(run - bare) * 1000:.1f} ms)")
print(f"loop round (wall):          {per_round * 1000:7.1f} ms over {int(rounds)} rounds ({int(kept)} kept = commits)")
print(f"loop overhead per round:    {(per_round - bare) * 1000:7.1f} ms  (target < 1000 ms)")
PY
