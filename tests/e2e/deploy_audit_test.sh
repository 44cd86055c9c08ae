#!/usr/bin/env bash
# deploy audits what its commands name before any replica starts: weights that would run code
# when loaded refuse the deploy (exit 42, the file and the finding named); clean weights and
# --allow-unaudited go on to start replicas (here a server that never gets ready: exit 40, which
# proves the audit let it through).
source "$(dirname "$0")/lib.sh"
"$PY" - <<'PY'
import os, pickle
class Payload:
    def __reduce__(self):
        return (os.system, ("true",))
open("evil.pkl", "wb").write(pickle.dumps(Payload(), protocol=2))
open("good.pkl", "wb").write(pickle.dumps({"w": [1.0, 2.0], "step": 3}, protocol=4))
PY
run_deploy() {  # expected-rc what args...
  local want=$1 what=$2
  shift 2
  local rc=0
  inloop deploy --port 0 --startup-timeout 1.5 "$@" >out.txt 2>err.txt || rc=$?
  assert_eq "$rc" "$want" "$what (stderr: $(cat err.txt))"
}
run_deploy 42 "unsafe weights" -- ./no-such-server --weights evil.pkl --port '{port}'
assert_contains "$(cat err.txt)" "$WORK/evil.pkl fails the audit: the pickle calls" "file and finding named"
assert_contains "$(cat err.txt)" "deploy refused" "refusal said"
run_deploy 42 "unsafe weights in the candidate, as --flag=VALUE" \
  -- ./no-such-server --weights=good.pkl --port '{port}' -- ./no-such-server --weights=evil.pkl --port '{port}'
run_deploy 40 "clean weights pass" -- ./no-such-server --weights=good.pkl --port '{port}'
assert_contains "$(cat err.txt)" "1 file the commands name pass the audit" "pass said"
run_deploy 40 "--allow-unaudited" --allow-unaudited -- ./no-such-server --weights evil.pkl --port '{port}'
pass "deploy refuses weights that run code on load"
