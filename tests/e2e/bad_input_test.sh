#!/usr/bin/env bash
# Bad input gets a clear answer and loses nothing: huge lines, invalid UTF-8, binary noise,
# carriage-return redraws, interleaved partial lines, early stdout close, steps going backwards,
# duplicate keys, a command that does not exist, an unwritable store.
source "$(dirname "$0")/lib.sh"

cat > noisy.py <<'PY'
import os, sys
w = sys.stdout.buffer.write
w(b'{"step": 1, "loss": 3.0}\n')
w(b"x" * (2 * 1024 * 1024) + b' loss=9\n')            # a 2 MiB line: kept truncated
w(b'{"step": 2, "loss": 2.5}\n')
w(b'\xff\xfe invalid utf8 \xc3\x28 loss: 7\n')           # invalid UTF-8
w(bytes(range(256)) * 4 + b"\n")                        # binary noise
for i in range(3, 6):                                   # carriage-return progress redraws
    w(("Epoch 0:  %d%%|#  | %d/100 [00:01<00:10, 11.7it/s, loss=%.2f, v_num=0]\r" % (i, i, 3 - i * 0.1)).encode())
w(b"\n")
sys.stdout.flush()
e = sys.stderr.buffer
e.write(b'{"step": 6, "gra'); e.flush()                  # partial line on stderr ...
w(b'{"step": 6, "loss": 2.0}\n'); sys.stdout.flush()     # ... interleaved with stdout
e.write(b'd_norm": 1.5}\n'); e.flush()
w(b'{"step": 7, "loss": 1.0, "loss": 1.1}\n')           # duplicate keys: last wins
w(b'{"step": 3, "loss": 2.9}\n')                         # steps go backwards: new segment
sys.stdout.flush()
os.close(1)                                              # closes stdout early, keeps running
e.write(b'{"step": 4, "loss": 2.8}\n'); e.flush()
PY
inloop run --name noisy -- python3 noisy.py > out.txt 2> err.txt || fail "noisy run failed: $(tail -3 err.txt)"
size=$(stat -c %s out.txt)
[ "$size" -gt 2000000 ] || fail "huge line not teed unchanged ($size bytes)"
inloop show noisy --json > show.json
assert_eq "$(json 'd["attempts"][0]["truncated_lines"]' < show.json)" 1 "truncated line counted"
assert_eq "$(json 'sorted(s["key"] for s in d["series"])' < show.json)" "['epoch', 'grad_norm', 'it_per_s', 'loss']" "series keys"
inloop metrics noisy loss --format json > m.json
assert_eq "$(json 'len(d["segments"])' < m.json)" 2 "backwards step made a segment"
assert_eq "$(json '[p[0] for p in d["points"]][:3]' < m.json)" "[1, 2, 3]" "effective steps"
assert_eq "$(json '[p for p in d["points"] if p[0]==4][0][2]' < m.json)" 2.8 "point after stdout closed"
inloop metrics noisy grad_norm --format json > g.json
assert_eq "$(json 'd["points"][0][:1] + d["points"][0][2:]' < g.json)" "[6, 1.5]" "interleaved partial lines"
pass "noisy input"

# Duplicate keys: last value wins; the abandoned segment keeps its points.
inloop metrics noisy loss --format json --segment 0 > seg0.json
assert_eq "$(json '[p[2] for p in d["points"] if p[0]==7]' < seg0.json)" "[1.1]" "duplicate key, last wins"
assert_eq "$(json 'd["points"][-1][0]' < seg0.json)" 7 "old segment kept"
pass "duplicates"

# A command that does not exist: exit 127 with a clear message.
set +e
inloop run --name missing -- ./no-such-program --lr 1 > /dev/null 2> err.txt; code=$?
set -e
assert_eq "$code" 127 "missing command exit code"
assert_contains "$(cat err.txt)" "cannot run './no-such-program'" "clear message"
assert_eq "$(inloop show missing --json | json 'd["status"]')" failed "missing recorded as failed"
pass "missing command"

# An unwritable store: the training still runs and is teed; inloop exits non-zero after.
mkdir ro && chmod 555 ro
STORE_BAD=ro/store
# root ignores permissions: use a path nobody can create instead.
[ "$(id -u)" -ne 0 ] || STORE_BAD=/proc/inloop-cannot-write
set +e
out=$(inloop run --store "$STORE_BAD" --name ro -- bash -c 'echo "step=1 loss=2"; echo done' 2> err.txt); code=$?
set -e
assert_contains "$out" "done" "training ran and was teed"
[ "$code" -ne 0 ] || fail "unwritable store must exit non-zero"
assert_contains "$(cat err.txt)" "STORE FAILURE" "loud report"
pass "unwritable store (exit $code)"
