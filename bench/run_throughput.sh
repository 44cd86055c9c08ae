#!/usr/bin/env bash
# End-to-end benchmarks of `inloop run`, each against a baseline measured in the same run:
#  1. parse + store: `inloop run -- cat FILE` over 1,000,000 JSONL lines with three metrics each,
#     against plain `cat FILE > /dev/null`; prints lines/s (target >= 1,000,000 lines/s).
#  2. supervisor overhead: a child writing 200,000 short lines as fast as it can, timed with and
#     without `inloop run` (target: no slowdown: its pipe is always drained).
# Usage: bench/run_throughput.sh [BUILD_DIR]
set -euo pipefail
BUILD=${1:-build}
BIN=$(cd "$BUILD" && pwd)/inloop
W=$(mktemp -d /tmp/inloop-bench-XXXXXX)
trap 'rm -rf "$W"' EXIT
N=${LINES:-1000000}

python3 - "$W/metrics.jsonl" "$N" <<'PY'
import math, random, sys
random.seed(1)
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        loss = 2.5 * (1 + i) ** -0.3 + 0.8 + random.gauss(0, 0.02)
        f.write('{"step": %d, "loss": %.5g, "lr": %.4g, "grad_norm": %.4g}\n'
                % (i, loss, 3e-4 * min(1, i / 2000), abs(random.gauss(1, 0.2))))
PY
bytes=$(stat -c %s "$W/metrics.jsonl")
now() { date +%s.%N; }
best() { python3 -c "import sys; print(min(float(x) for x in sys.argv[1:]))" "$@"; }

base=(); run=()
for rep in 1 2 3; do
  t0=$(now); cat "$W/metrics.jsonl" > /dev/null; t1=$(now)
  base+=("$(python3 -c "print($t1 - $t0)")")
  rm -rf "$W/store"
  t0=$(now); "$BIN" run --store "$W/store" --name bench -- cat "$W/metrics.jsonl" > /dev/null 2>&1; t1=$(now)
  run+=("$(python3 -c "print($t1 - $t0)")")
done
tb=$(best "${base[@]}"); tr=$(best "${run[@]}")
points=$("$BIN" show --store "$W/store" bench --json | python3 -c "import json,sys; print(sum(s['points'] for s in json.load(sys.stdin)['series']))")
store_bytes=$(du -sb "$W/store/series" | cut -f1)
python3 - "$N" "$tb" "$tr" "$bytes" "$points" "$store_bytes" <<'PY'
import sys
n, tb, tr, b, pts, sb = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
print(f"parse+store: {n} lines ({b/1e6:.1f} MB, {pts} points) in {tr:.3f}s = {n/tr:,.0f} lines/s "
      f"({b/tr/1e6:.0f} MB/s); plain cat {tb:.3f}s; inloop/cat time ratio {tr/tb:.1f}x; "
      f"target 1,000,000 lines/s: {'MET' if n/tr >= 1e6 else 'MISSED'}; "
      f"chunk bytes/point {sb/pts:.2f}")
PY

# Supervisor overhead: the child's own run time with and without inloop.
cat > "$W/spew.py" <<'PY'
import sys, time
t0 = time.perf_counter()
w = sys.stdout.write
for i in range(200000):
    w("it %d ok\n" % i)
sys.stdout.flush()
print("child_seconds %.4f" % (time.perf_counter() - t0), file=sys.stderr)
PY
plain=(); sup=()
for rep in 1 2 3; do
  # Baseline: the same child, unbuffered as inloop runs Python, writing into a pipe drained by cat.
  plain+=("$( { PYTHONUNBUFFERED=1 python3 "$W/spew.py" | cat > /dev/null; } 2>&1 | awk '/child_seconds/{print $2}')")
  sup+=("$("$BIN" run --store "$W/store2" --name spew -- python3 "$W/spew.py" 2>&1 >/dev/null | awk '/^child_seconds/{print $2}')")
done
python3 - "$(best "${plain[@]}")" "$(best "${sup[@]}")" <<'PY'
import sys
p, s = float(sys.argv[1]), float(sys.argv[2])
print(f"supervisor overhead: child writing 200,000 lines took {p:.3f}s alone, {s:.3f}s under "
      f"inloop run (ratio {s/p:.2f}; child rate {200000/s:,.0f} lines/s under inloop)")
PY
