#!/usr/bin/env bash
# Signals: the first SIGINT/SIGTERM is forwarded to the child's group, a second one or the end of
# the grace period kills it, and no process of the run is left behind, daemons included.
source "$(dirname "$0")/lib.sh"

alive() { kill -0 "$1" 2>/dev/null; }
# Processes of this test's marker still running (excluding zombies).
leftovers() { pgrep -f "$1" || true; }

# 1. A child that saves and exits on SIGINT: first Ctrl-C is enough; exit 130 and status stopped.
cat > graceful.sh <<'SH'
#!/usr/bin/env bash
trap 'echo "saving checkpoint"; exit 130' INT
echo "step 1 | loss 2.0 | lr 1e-3"
while true; do sleep 0.05; done
SH
chmod +x graceful.sh
"$INLOOP_BIN" run --name graceful -- ./graceful.sh > out1.txt 2> err1.txt &
pid=$!
wait_for 50 grep -q "step 1" out1.txt || fail "child did not start"
kill -INT $pid
set +e; wait $pid; code=$?; set -e
assert_eq "$code" 130 "exit code after forwarded SIGINT"
assert_contains "$(cat out1.txt)" "saving checkpoint" "child saw the signal"
assert_eq "$(inloop runs --json | json 'd[0]["status"]')" stopped "status stopped"
pass "first SIGINT forwarded"

# 2. A child that ignores SIGTERM: second signal kills the group at once.
marker="inloop-e2e-stubborn-$$"
cat > stubborn.sh <<SH
#!/usr/bin/env bash
trap '' TERM INT
echo started
exec -a $marker sleep 1000
SH
chmod +x stubborn.sh
"$INLOOP_BIN" run --name stubborn --grace 60 -- ./stubborn.sh > out2.txt 2> err2.txt &
pid=$!
wait_for 50 grep -q started out2.txt || fail "stubborn did not start"
sleep 0.2
kill -TERM $pid
sleep 0.3
alive $pid || fail "inloop should wait for the grace period"
kill -TERM $pid
set +e; wait $pid; code=$?; set -e
assert_eq "$code" 137 "killed by SIGKILL -> 137"
[ -z "$(leftovers $marker)" ] || fail "stubborn child left behind"
pass "second signal kills"

# 3. Grace period running out kills the group.
"$INLOOP_BIN" run --name grace --grace 0.5 -- ./stubborn.sh > out3.txt 2> err3.txt &
pid=$!
wait_for 50 grep -q started out3.txt || fail "not started"
start=$(date +%s.%N)
kill -INT $pid
set +e; wait $pid; code=$?; set -e
elapsed=$(python3 -c "print($(date +%s.%N) - $start)")
assert_eq "$code" 137 "grace expiry -> SIGKILL"
python3 -c "import sys; sys.exit(0 if $elapsed < 10 else 1)" || fail "grace took ${elapsed}s"
[ -z "$(leftovers $marker)" ] || fail "left behind after grace"
pass "grace period"

# 4. A child that forks a daemon (setsid, holding our pipes) and exits: nothing is left behind.
dmarker="inloop-e2e-daemon-$$"
cat > daemon.sh <<SH
#!/usr/bin/env bash
setsid bash -c "exec -a $dmarker sleep 1000" &
( exec -a ${dmarker}-2 sleep 1000 ) &
echo "step=1 loss=0.5"
exit 0
SH
chmod +x daemon.sh
timeout 30 "$INLOOP_BIN" run --name daemon -- ./daemon.sh > out4.txt 2> err4.txt || fail "daemon run failed: $(cat err4.txt)"
sleep 0.2
[ -z "$(leftovers $dmarker)" ] || fail "daemon left behind: $(leftovers $dmarker)"
assert_eq "$(inloop show daemon --json | json 'd["series"][0]["last"]')" 0.5 "metric before exit kept"
pass "daemons ended"

