#!/usr/bin/env bash
# A rank on another host, as far as the network goes: rank 1 of ranks_tcp_job.py runs in a
# network namespace of its own (its own interfaces, routes and loopback; 127.0.0.1 there is not
# this host), joined to this one by a veth pair, so its SDK reaches the supervisor only over that
# link, at the address `[run] ranks_listen` names. The NaN it reports is a finding on its rank and
# host, the job is rolled back and finishes; a stranger on the link with a wrong secret is refused.
# Needs root and iproute2 (skipped, 77, without them: CI runs as root).
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for a network namespace"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: iproute2 is not installed"; exit 77; }

NS=inloop-rk-$$
HOST_IF=ilh$$ NS_IF=iln$$
# A /30 in 10.200-249.x.y picked from the pid, so that two runs of this test never collide.
NET=10.$((200 + $$ % 50)).$(($$ / 50 % 256)).$(($$ % 64 * 4))
HOST_IP=${NET%.*}.$((${NET##*.} + 1)) NS_IP=${NET%.*}.$((${NET##*.} + 2))
netns_cleanup() {
  ip link del "$HOST_IF" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  cleanup
}
trap netns_cleanup EXIT
link_up() {
  ip netns add "$NS" &&
    ip link add "$HOST_IF" type veth peer name "$NS_IF" &&
    ip link set "$NS_IF" netns "$NS" &&
    ip addr add "$HOST_IP/30" dev "$HOST_IF" &&
    ip link set "$HOST_IF" up &&
    ip netns exec "$NS" ip addr add "$NS_IP/30" dev "$NS_IF" &&
    ip netns exec "$NS" ip link set "$NS_IF" up &&
    ip netns exec "$NS" ip link set lo up
}
link_up 2>link.err || { echo "SKIP: cannot make a namespace and a veth link here: $(head -1 link.err)"; exit 77; }
ip netns exec "$NS" "$PY" -c "
import socket, sys
s = socket.socket()
s.settimeout(1)
sys.exit(0 if s.connect_ex(('127.0.0.1', 1)) != 0 else 1)" || fail "the namespace's loopback should not be this host's"

cp "$INLOOP_SRC/tests/e2e/ranks_tcp_job.py" job.py
printf '[run]\nranks_listen = "%s"\n[remedy]\nbackoff_initial_seconds = 0\n' "$HOST_IP" > inloop.toml
INLOOP_TEST_NETNS=$NS inloop run --name netns -- "$PY" job.py launch 20 > out 2> err ||
  fail "the job failed: $(tail -20 err)"
assert_contains "$(cat err)" "ranks report over TCP to $HOST_IP:" "it says where it listens"
assert_contains "$(cat out)" "stranger: refused" "the stranger's connection was closed"
assert_contains "$(cat err)" "refused a connection to the ranks' socket from $HOST_IP" \
  "a one-line warning about the stranger"
inloop events netns --json > events.json
assert_eq "$(json '[(e["data"]["rank"], e["data"]["host"], e["step_lo"]) for e in d if e["kind"] == "nonfinite"][:1]' < events.json)" \
  "[(1, 'node-remote-1', 12)]" "the first finding is rank 1's NaN at step 12, on its host"
inloop show netns --json > show.json
assert_eq "$(json '(d["status"], [a["reason"] for a in d["attempts"]])' < show.json)" \
  "('finished', ['start', 'rollback_skip'])" "rolled back, then finished"
assert_eq "$(json '[s["last_step"] for s in d["series"] if s["key"] == "rank/1/step_time"]' < show.json)" \
  "[20]" "rank 1's step times came over the link"
assert_contains "$(cat out)" "rank 1 resumed from step 10" "rank 1 resumed from rank 0's checkpoint"
pass "a rank in another network namespace reports over the link to the address ranks_listen names"
