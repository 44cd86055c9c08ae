#!/usr/bin/env bash
# Disk full and a read-only store while training (issue 16): the training goes on with its whole
# output, inloop says so loudly and exits 8, what was stored before is intact, the stored points
# are an exact prefix, the run does not read `running` forever, and the store stays readable.
# Needs root and a tmpfs mount (the store lives on a 2 MiB tmpfs); skips where it cannot mount.
# Assertions name inloop's own words only, never the OS's or SQLite's error text (which of the
# two hits the full disk first varies from machine to machine).
source "$(dirname "$0")/lib.sh"
small="$WORK/small"
mkdir -p "$small"
if ! mount -t tmpfs -o size=2m tmpfs "$small" 2>/dev/null; then
  pass "skipped: cannot mount a tmpfs here (needs root)"
  exit 0
fi
trap 'umount -l "$small" 2>/dev/null || true; cleanup' EXIT
store="$small/store"

cat > steps.py <<'PY'
import sys
n = int(sys.argv[1])
for i in range(n):
    print('{"step": %d, "loss": %r, "acc": %r}' % (i, 1.0 / (1 + i), i * 1e-6), flush=(i % 100 == 0))
print("TRAINING DONE", flush=True)
PY
"$INLOOP_BIN" run --store "$store" --name before -- "$PY" steps.py 1000 > /dev/null 2>&1 \
  || fail "the small run before the disk filled up failed"

set +e
"$INLOOP_BIN" run --store "$store" --name full -- "$PY" steps.py 200000 > out.txt 2> err.txt
rc=$?
set -e
assert_eq "$rc" 8 "exit code of a run whose store filled up"
assert_eq "$(grep -c '"step"' out.txt)" 200000 "the training's output, all of it"
assert_contains "$(tail -1 out.txt)" "TRAINING DONE" "the training ran to its end"
assert_contains "$(cat err.txt)" "STORE FAILURE" "said loudly"
assert_contains "$(cat err.txt)" "NOT fully recorded" "said again in the summary"

# The store opens; the earlier run is intact; the full run is not left `running`.
inloop runs --store "$store" --json > runs.json 2> runs.err || fail "store unreadable: $(cat runs.err)"
assert_eq "$(json '{r["name"]: r["status"] for r in d}["before"]' < runs.json)" finished "earlier run"
assert_eq "$(json '{r["name"]: r["status"] for r in d}["full"]' < runs.json)" finished "full run status"
inloop metrics before loss --store "$store" --format json > before.json
assert_eq "$(json 'len(d["points"]) == 1000 and all(p[0] == i and p[-1] == 1.0 / (1 + i) for i, p in enumerate(d["points"]))' < before.json)" True "earlier run's points"
inloop events full --store "$store" > events.txt
assert_contains "$(cat events.txt)" "store_failed" "the failure is on the run's timeline"
# What was stored of the full run is an exact, gap-free prefix.
if inloop metrics full loss --store "$store" --format json > full.json 2>/dev/null; then
  assert_eq "$(json 'all(p[0] == i and p[-1] == 1.0 / (1 + i) for i, p in enumerate(d["points"]))' < full.json)" True "stored prefix"
fi

# Read-only: readable as it is; a new run says where the problem is and still runs the training.
mount -o remount,ro "$small"
inloop runs --store "$store" > ro-runs.txt 2>&1 || fail "read-only store unreadable: $(cat ro-runs.txt)"
assert_contains "$(cat ro-runs.txt)" "before" "read-only listing"
set +e
"$INLOOP_BIN" run --store "$store" --name ro -- "$PY" steps.py 10 > ro-out.txt 2> ro-err.txt
rc=$?
set -e
assert_eq "$rc" 8 "exit code on a read-only store"
assert_contains "$(cat ro-out.txt)" "TRAINING DONE" "training ran on a read-only store"
assert_contains "$(cat ro-err.txt)" "read-only file system" "names the cause"
pass "disk full and read-only store"
