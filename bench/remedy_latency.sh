#!/usr/bin/env bash
# Time from a bad line reaching inloop to the signal reaching the child (issue 3 target: < 50 ms).
# A Python child prints 200 ordinary metric lines, then "step=201 loss=nan" stamped with
# CLOCK_MONOTONIC just before the write, and records when SIGTERM arrives. Under `inloop run
# --policy auto` the NaN is detected, the policy picks its action (stop since issue 15: there is no
# checkpoint to roll back to) and the group is signalled before anything is written to the store. Baseline, same run: a minimal Python supervisor that
# reads the same pipe and sends SIGTERM on the first line containing "nan" (no parsing, no store,
# no policy). Prints median / max over N rounds of both and their ratio.
# Usage: bench/remedy_latency.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
BUILD=${1:-build}
ROUNDS=${2:-15}
BIN=$(cd "$BUILD" && pwd)/inloop
WORK=$(mktemp -d /tmp/inloop-latency-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

cat > child.py <<'PY'
import os, signal, sys, time
out = sys.argv[1]
if os.environ.get("INLOOP_RESUME_FROM") is not None or os.environ.get("INLOOP_SKIP"):
    sys.exit(0)  # the restarted attempt: nothing to measure
def on_term(signum, frame):
    got = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    with open(out, "w") as f:
        f.write("%d %d\n" % (sent, got))
    os._exit(0)
signal.signal(signal.SIGTERM, on_term)
for step in range(1, 201):
    print("step=%d loss=%.4f lr=3e-4" % (step, 2.0 + 1.0 / step), flush=True)
time.sleep(0.2)  # let the supervisor drain and settle, as between real steps
sent = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
sys.stdout.write("step=201 loss=nan lr=3e-4\n")
sys.stdout.flush()
time.sleep(10)
sys.exit(3)  # no signal came
PY

cat > baseline.py <<'PY'
import os, signal, subprocess, sys
p = subprocess.Popen([sys.executable, "child.py", sys.argv[1]], stdout=subprocess.PIPE)
for line in p.stdout:
    if b"nan" in line:
        os.kill(p.pid, signal.SIGTERM)
        break
p.wait()
PY

PY=/usr/bin/python3
cat > inloop.toml <<'TOML'
[remedy]
backoff_initial_seconds = 0
TOML
lat() { python3 -c "import sys; a, b = map(int, open(sys.argv[1]).read().split()); print((b - a) / 1e6)" "$1"; }
inl=(); base=()
for ((i = 0; i < ROUNDS; i++)); do
  rm -f r.txt
  INLOOP_STORE="$WORK/store" "$BIN" run --name "lat$i" --policy auto -- "$PY" child.py r.txt > /dev/null 2>&1 || true
  [ -s r.txt ] || { echo "round $i: the child never got SIGTERM" >&2; exit 1; }
  inl+=("$(lat r.txt)")
  rm -f r.txt
  "$PY" baseline.py r.txt > /dev/null 2>&1 || true
  [ -s r.txt ] || { echo "round $i: baseline child never got SIGTERM" >&2; exit 1; }
  base+=("$(lat r.txt)")
done
python3 - "${inl[*]}" "${base[*]}" <<'PY'
import statistics, sys
inl = [float(x) for x in sys.argv[1].split()]
base = [float(x) for x in sys.argv[2].split()]
mi, mb = statistics.median(inl), statistics.median(base)
print("bad line -> SIGTERM at the child, %d rounds" % len(inl))
print("  inloop run --policy auto : median %.2f ms, max %.2f ms  (target < 50 ms)" % (mi, max(inl)))
print("  bare pipe + kill (python): median %.2f ms, max %.2f ms" % (mb, max(base)))
print("  ratio inloop / baseline  : %.2fx (median)" % (mi / mb if mb > 0 else float("inf")))
sys.exit(0 if max(inl) < 50 else 1)
PY
