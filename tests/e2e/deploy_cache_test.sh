#!/usr/bin/env bash
# deploy: the response cache serves deterministic requests, a deliberately corrupted entry is
# detected (checksum), evicted and never served; the proxy's limits (413, 504), streaming
# pass-through, metrics and admin access rules.
source "$(dirname "$0")/lib.sh"
SERVER="$INLOOP_SRC/examples/model_server/server.py"

INLOOP_DEPLOY_TEST_HOOKS=1 "$INLOOP_BIN" deploy --port 0 --port-file port --min 2 --max 2 \
  --max-body 4096 --upstream-timeout 1.5 \
  -- "$PY" "$SERVER" --port '{port}' --stream-gap 0.3 >deploy.log 2>&1 &
DEPLOY=$!
trap 'kill $DEPLOY 2>/dev/null || true; wait $DEPLOY 2>/dev/null || true; cleanup' EXIT
wait_for 100 test -s port || fail "deploy did not write its port: $(cat deploy.log)"
P=$(cat port)
URL="http://127.0.0.1:$P/v1/completions"
ready() { inloop deploy status --port "$P" --json 2>/dev/null | json 'd["pools"][0]["ready"]' | grep -qx 2; }
wait_for 150 ready || fail "replicas not ready: $(cat deploy.log)"

post() { curl -s -D headers.txt -o body.txt -w '%{http_code}' -X POST "$URL" -H 'Content-Type: application/json' "$@"; }
# Same request, keys in another order and other spacing: one cache entry.
assert_eq "$(post -d '{"prompt":"the cache test","temperature":0}')" 200 "first request"
FRESH=$(cat body.txt)
grep -qi '^X-Inloop-Cache: hit' headers.txt && fail "first request cannot be a hit"
assert_eq "$(post -d '{ "temperature": 0.0, "prompt": "the cache test" }')" 200 "second request"
grep -qi '^X-Inloop-Cache: hit' headers.txt || fail "canonically equal request was not a cache hit"
assert_eq "$(cat body.txt)" "$FRESH" "cached body"
# temperature > 0 is not cached; the explicit header is.
post -d '{"prompt":"sampled","temperature":0.8}' >/dev/null
post -d '{"prompt":"sampled","temperature":0.8}' >/dev/null
grep -qi '^X-Inloop-Cache: hit' headers.txt && fail "a sampled request was served from the cache"
post -H 'X-Inloop-Cache: 1' -d '{"prompt":"by header","temperature":0.8}' >/dev/null
BYHEADER=$(cat body.txt)
post -H 'X-Inloop-Cache: 1' -d '{"prompt":"by header","temperature":0.8}' >/dev/null
grep -qi '^X-Inloop-Cache: hit' headers.txt || fail "X-Inloop-Cache: 1 was not cached"
assert_eq "$(cat body.txt)" "$BYHEADER" "header-cached body"
pass "deterministic requests are cached under a canonical key"

# Corrupt every entry through the test-only hook, then ask again: never the damaged bytes.
DAMAGED=$(curl -s -X POST "http://127.0.0.1:$P/admin/test/corrupt-cache" | json 'd["damaged"]')
[ "$DAMAGED" -ge 2 ] || fail "test hook damaged $DAMAGED entries"
assert_eq "$(post -d '{"prompt":"the cache test","temperature":0}')" 200 "after corruption"
grep -qi '^X-Inloop-Cache: hit' headers.txt && fail "a corrupt entry was served"
assert_eq "$(cat body.txt)" "$FRESH" "fresh answer after corruption"
assert_eq "$(post -d '{"prompt":"the cache test","temperature":0}')" 200 "re-cached"
grep -qi '^X-Inloop-Cache: hit' headers.txt || fail "the fresh answer was not cached again"
assert_eq "$(cat body.txt)" "$FRESH" "re-cached body"
metrics=$(curl -s "http://127.0.0.1:$P/metrics")
assert_contains "$metrics" 'inloop_cache_evictions_total{cause="corrupt"} 1' "corrupt eviction counted"
assert_contains "$metrics" '# TYPE inloop_request_duration_seconds histogram' "histogram"
assert_contains "$metrics" 'inloop_replicas{pool="current",version="current",state="ready"} 2' "replicas gauge"
pass "a corrupted entry is detected, counted, evicted and answered fresh"

# Limits: a body over --max-body is 413; a hung replica is 504 after --upstream-timeout.
head -c 5000 /dev/zero | tr '\0' 'x' >big.txt
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL" --data-binary @big.txt)" 413 "body limit"
assert_eq "$(post -d '{"prompt":"x","hang":true}')" 504 "hung replica"
assert_contains "$(cat body.txt)" "no answer from replica" "504 body"
pass "413 for big bodies, 504 for a hung replica"

# Streaming: chunks reach the client as the replica writes them (0.3 s apart), not at the end.
"$PY" - "$P" <<'PY' || fail "streaming was buffered"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
b = b'{"prompt":"one two three four","stream":true,"temperature":1}'
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(b) + b)
s.settimeout(10)
t0, seen, data = time.time(), [], b""
while b"[DONE]" not in data or not data.endswith(b"0\r\n\r\n"):
    d = s.recv(65536)
    if not d:
        break
    data += d
    if b"data: {" in d:
        seen.append(time.time() - t0)
assert len(seen) >= 4, data
assert seen[0] < 0.25 and seen[-1] - seen[0] > 0.6, seen  # first word early, the rest spread
assert data.count(b"data: ") == 7 and data.endswith(b"0\r\n\r\n"), data
print("chunks at", [round(x, 2) for x in seen])
PY
pass "streamed answers pass through as they arrive"

# Admin is localhost-only without a token; unknown admin paths are 404.
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$P/admin/nope")" 404 "admin 404"
set +e
inloop deploy rollback --port "$P" 2>err.txt
rc=$?
set -e
assert_eq "$rc" 42 "rollback without a candidate"
assert_contains "$(cat err.txt)" "no candidate" "rollback message"
pass "admin answers"
