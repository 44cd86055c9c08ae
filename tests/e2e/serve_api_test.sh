#!/usr/bin/env bash
# inloop serve against a store filled by real `inloop run` runs: every endpoint of
# docs/http_api.md over real HTTP — runs filters/sort/pages, one run, events, series M4 checked
# against `inloop metrics --max-points`, aligned series, params/keys, an ask-mode remedy approved
# over HTTP after which the run resumes, SSE of a live run with no point dropped (compared with
# the stored series after it ends), ingest round trip, 400s/404s/405s/413, path traversal on the
# static files, 401s with a token, a refused non-local bind, and /metrics. Every request carries
# the token the server drew (printed in its URL) and every POST `Content-Type: application/json`;
# the header rules (foreign Host, foreign Origin, text/plain: 403/415), named tokens with scopes
# (a read token cannot approve; the approval names its approver) and --no-token over real HTTP.
source "$(dirname "$0")/lib.sh"

# ---- a few finished runs with params, as `inloop run` records them
cat > tiny.py <<'PY'
import argparse, math, sys, time
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--steps", type=int, default=300)
p.add_argument("--sleep", type=float, default=0)
a = p.parse_args()
for step in range(1, a.steps + 1):
    loss = 2.0 * math.exp(-a.lr * step / 50) + 0.01 * (step % 7)
    if step == 150:
        loss += 5  # a spike M4 must keep
    print("step=%d loss=%.6f acc=%.4f" % (step, loss, 1 - loss / 10), flush=True)
    if a.sleep:
        time.sleep(a.sleep)
PY
for lr in 0.1 0.3 1.0; do
  inloop run --policy observe --name "lr-$lr" -- python3 tiny.py --lr "$lr" > /dev/null 2>&1 || fail "run lr-$lr"
done
inloop run --policy observe --name other -- python3 tiny.py --lr 2 --steps 40 > /dev/null 2>&1 || fail "run other"

# ---- the ask-mode run of remedy_generic_test: a NaN at step 40 proposes rollback_skip
cat > train.py <<'PY'
import argparse, os, time
p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=60)
p.add_argument("--resume")
p.add_argument("--skip-from", type=int, default=0)
p.add_argument("--skip-to", type=int, default=0)
a = p.parse_args()
start = int(open(a.resume).read()) if a.resume else 0
os.makedirs("ckpt", exist_ok=True)
for step in range(start + 1, a.steps + 1):
    if step == 41 and not a.resume:
        # The NaN's remedy waits for a human, and an ask-mode proposal expires when the process
        # ends first: stay alive until the test has decided (its "decided" file; at most 120 s),
        # instead of racing the API checks against a timer (they are slow under the sanitizers).
        for _ in range(1200):
            if os.path.exists("decided"):
                break
            time.sleep(0.1)
    data = step + (a.skip_to - a.skip_from if a.skip_from <= step else 0)
    loss = 2.0 + 1.0 / step + 0.001 * (step % 3)
    if data == 40:
        loss = float("nan")
    print("step=%d loss=%s" % (step, loss), flush=True)
    if step % 10 == 0:
        with open("ckpt/step-%d.pt.tmp" % step, "w") as f:
            f.write(str(step))
        os.replace("ckpt/step-%d.pt.tmp" % step, "ckpt/step-%d.pt" % step)
    time.sleep(0.2 if 30 < step <= 40 else 0.03)
PY
cat > inloop.toml <<'TOML'
[remedy]
checkpoint_glob = "ckpt/step-*.pt"
checkpoint_settle_seconds = 0.5
checkpoint_args = ["--resume", "{checkpoint}"]
skip_args = ["--skip-from", "{skip_from}", "--skip-to", "{skip_to}"]
TOML
"$INLOOP_BIN" run --name asked --policy ask -- python3 train.py > asked.out 2> asked.err &
asked_pid=$!

# ---- the server, on a free port. Background processes start the binary itself (not the `inloop`
# shell function), so that $! is the server and the EXIT trap really ends it.
"$INLOOP_BIN" serve --port 0 > serve.out 2> serve.err &
serve_pid=$!
servers=("$serve_pid" "$asked_pid")
stop_servers() {
  for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${servers[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap 'stop_servers; cleanup' EXIT
wait_for 300 grep -q "^inloop serve: http://" serve.out || fail "no URL printed: $(cat serve.err)"
URL=$(grep -o 'http://[^ ?]*' serve.out)
TOKEN=$(grep -o '?token=[0-9a-f]*' serve.out | cut -d= -f2)
assert_contains "$URL" "http://127.0.0.1:" "binds 127.0.0.1 by default"
assert_eq "${#TOKEN}" 64 "a random token by default, printed in the URL"
export TOKEN
# curl as an API client: the token, and JSON bodies declared as JSON.
acurl() { curl -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
pass "serve prints $URL?token=..."

# ---- named tokens: one that may only read, one that may approve (the approval names it)
READ_TOKEN=$(inloop token create watcher --scope read 2> token.err)
assert_contains "$(cat token.err)" "shown once" "token create says the secret is shown once"
APPROVE_TOKEN=$(inloop token create reviewer --scope approve 2> /dev/null)
INGEST_TOKEN=$(inloop token create ci --scope ingest 2> /dev/null)
export READ_TOKEN APPROVE_TOKEN INGEST_TOKEN
assert_eq "$(inloop token list --json | json '[(t["name"], t["scope"]) for t in d]')" "[('ci', 'ingest'), ('reviewer', 'approve'), ('watcher', 'read')]" "token list"
grep -rqF "$READ_TOKEN" "$INLOOP_STORE" && fail "a token's secret is in the store"
set +e
inloop token create watcher --scope read > /dev/null 2> dup.err; code=$?
inloop token create bad --scope admin > /dev/null 2>&1; code2=$?
inloop token revoke nobody > /dev/null 2>&1; code3=$?
set -e
assert_eq "$code" 4 "a token name taken twice"
assert_contains "$(cat dup.err)" "already exists" "duplicate token message"
assert_eq "$code2" 2 "an unknown scope is a usage error"
assert_eq "$code3" 3 "revoking an unknown token"
pass "token create/list: secrets shown once, never stored"

# ---- the whole read API, the approval and the checks that need Python's HTTP client
cat > check.py <<'PY'
import http.client, json, math, os, subprocess, sys, time, urllib.parse, urllib.request

URL = sys.argv[1].rstrip("/")
BIN = os.environ["INLOOP_BIN"]
HOST = urllib.parse.urlparse(URL)

def req(method, path, body=None, headers=None, token=None):
    c = http.client.HTTPConnection(HOST.hostname, HOST.port, timeout=60)
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    h = {"Authorization": "Bearer " + (token or os.environ["TOKEN"])}
    if method != "GET":
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    out = r.status, r.getheader("Content-Type"), r.read()
    c.close()
    return out

def get(path, status=200):
    code, ctype, body = req("GET", path)
    assert code == status, (path, code, body[:300])
    assert ctype.startswith("application/json"), (path, ctype)
    return json.loads(body)

def err(method, path, status, starts=None, body=None):
    code, _, raw = req(method, path, body)
    assert code == status, (method, path, code, raw[:300])
    msg = json.loads(raw)["error"]
    if starts:
        assert msg.startswith(starts), (path, msg)
    return msg

def value(v):
    return float(v) if not isinstance(v, str) else float(v.replace("Infinity", "inf"))

# runs: filters, sort, pagination, last values
d = get("/api/v1/runs?last=loss,acc")
names = [r["name"] for r in d["runs"]]
assert d["total"] == 5 and set(names) == {"asked", "other", "lr-0.1", "lr-0.3", "lr-1.0"}, names
created = [r["created_at"] for r in d["runs"]]
assert created == sorted(created, reverse=True), "newest first by default"
lr = get("/api/v1/runs?name=lr-*&sort=param.lr&order=asc&last=loss")
assert [r["name"] for r in lr["runs"]] == ["lr-0.1", "lr-0.3", "lr-1.0"], lr
assert lr["total"] == 3
for r in lr["runs"]:
    assert r["status"] == "finished" and r["params"]["lr"] == r["name"][3:], r
    assert r["last"]["loss"] is not None and r["duration_s"] >= 0 and r["attempts"] == 1
page = get("/api/v1/runs?name=lr-*&sort=last.loss&order=desc&limit=1&offset=1&last=loss")
assert page["total"] == 3 and len(page["runs"]) == 1
by_last = sorted(lr["runs"], key=lambda r: -r["last"]["loss"])
assert page["runs"][0]["name"] == by_last[1]["name"], (page, by_last)
assert get("/api/v1/runs?status=finished&param.lr=0.3")["runs"][0]["name"] == "lr-0.3"
assert get("/api/v1/runs?status=failed,stopped&name=lr-*")["total"] == 0
by_name = get("/api/v1/runs?sort=name&order=asc&name=lr-*")
assert [r["name"] for r in by_name["runs"]] == ["lr-0.1", "lr-0.3", "lr-1.0"]
print("ok: runs filter/sort/page")

# one run, events, params, keys
one = get("/api/v1/runs/lr-0.3")
assert one["run"]["name"] == "lr-0.3" and one["params"]["lr"] == "0.3"
keys = {s["key"]: s for s in one["series"]}
assert keys["loss"]["points"] == 300 and keys["loss"]["last_step"] == 300, keys
assert one["attempts"][0]["number"] == 1 and isinstance(one["events"], list)
ev = get("/api/v1/runs/lr-0.3/events")["events"]
kinds = [e["kind"] for e in ev]
assert "attempt_start" in kinds, kinds
assert all(set(e) >= {"id", "time", "kind", "step", "attempt", "message", "data"} for e in ev)
assert "lr" in get("/api/v1/params")["keys"]
run_id = one["run"]["id"]
assert get("/api/v1/keys?runs=" + run_id)["keys"] == ["acc", "loss"]
print("ok: run, events, params, keys")

# series M4 against `inloop metrics --max-points` (the same effective curve, the same M4)
for width, rng in [(10, ""), (25, "&from=100&to=200"), (1000, "")]:
    s = get("/api/v1/runs/lr-0.3/series?key=loss&width=%d%s" % (width, rng))
    args = [BIN, "metrics", "lr-0.3", "loss", "--max-points", str(4 * width), "--format", "json"]
    if rng:
        args += ["--from", "100", "--to", "200"]
    cli = json.loads(subprocess.check_output(args))
    assert [p[0] for p in s["points"]] == [p[0] for p in cli["points"]], (width, s["points"][:5], cli["points"][:5])
    assert [value(p[2]) for p in s["points"]] == [value(p[2]) for p in cli["points"]]
    assert s["downsampled"] == (s["total_points"] > 4 * width), (width, s["downsampled"])
s = get("/api/v1/runs/lr-0.3/series?key=loss&width=10")
assert any(p[0] == 150 for p in s["points"]), "the spike at step 150 survives M4"
assert len(s["points"]) <= 40 and s["total_points"] == 300
print("ok: series M4 == inloop metrics --max-points")

# aligned series of several runs
al = get("/api/v1/series?runs=lr-0.1,lr-1.0,other&key=loss&x=step&from=10&to=100&width=1000")
assert [c["name"] for c in al["series"]] == ["lr-0.1", "lr-1.0", "other"]
assert [p[0] for p in al["series"][0]["points"]] == list(range(10, 101))
assert [p[0] for p in al["series"][2]["points"]] == list(range(10, 41))
rel = get("/api/v1/series?runs=lr-0.1,other&key=loss&x=relative&width=1000")
for c in rel["series"]:
    xs = [p[0] for p in c["points"]]
    assert xs[0] == 0 and xs == sorted(xs) and len(xs) == c["total_points"], c["name"]
t = get("/api/v1/series?runs=lr-0.1&key=loss&x=time&width=1000")["series"][0]["points"]
assert t[0][0] > 1.6e9
empty = get("/api/v1/series?runs=lr-0.1&key=no/such/key")
assert empty["series"][0]["points"] == []
print("ok: aligned series (step, relative, time)")

# bad parameters: 400 naming the parameter; 404s; 405
for path, starts in [
        ("/api/v1/runs/lr-0.3/series?key=loss&width=abc", "width:"),
        ("/api/v1/runs/lr-0.3/series?key=loss&width=0", "width:"),
        ("/api/v1/runs/lr-0.3/series?key=loss&width=10001", "width:"),
        ("/api/v1/runs/lr-0.3/series?width=10", "key:"),
        ("/api/v1/runs/lr-0.3/series?key=loss&from=x", "from:"),
        ("/api/v1/series?runs=lr-0.1&key=loss&x=tokens", "x:"),
        ("/api/v1/series?key=loss", "runs:"),
        ("/api/v1/runs?sort=colour", "sort:"),
        ("/api/v1/runs?limit=-1", "limit:"),
        ("/api/v1/runs?status=sleeping", "status:"),
        ("/api/v1/actions?state=maybe", "state:")]:
    err("GET", path, 400, starts)
err("GET", "/api/v1/runs/no-such-run", 404, "no run")
err("GET", "/api/v1/runs/lr-0.3/series?key=nope", 404)
err("GET", "/api/v1/series?runs=lr-0.1,ghost&key=loss", 404)
err("GET", "/api/v1/nothing/here", 404)
err("DELETE", "/api/v1/runs", 405)
err("POST", "/api/v1/params", 405, body=b"{}")
print("ok: 400s name the parameter; 404s; 405s")

# static files: the embedded table only; traversal refused
code, ctype, body = req("GET", "/")
assert code == 200 and ctype.startswith("text/html") and b"<" in body, (code, ctype)
for path in ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd",
             "/static/..%5c..%5cetc/passwd", "//etc/passwd", "/a/./b", "/x%00.html", "/%zz"]:
    code, _, body = req("GET", path)
    assert code in (400, 404), (path, code)
    assert b"root:" not in body
for path in ["/etc/passwd", "/CMakeLists.txt", "/index.html.bak"]:
    assert req("GET", path)[0] == 404, path
print("ok: static files from the embedded table; traversal 400/404")

# approve over HTTP: the ask-mode run resumes
deadline = time.time() + 60
pending = []
while time.time() < deadline and not pending:
    pending = get("/api/v1/actions?state=pending&run=asked")["actions"]
    time.sleep(0.2)
assert pending, "no pending action for the ask-mode run"
a = pending[0]
assert a["kind"] == "rollback_skip" and a["state"] == "pending" and a["trigger"] == "nonfinite", a
approve = "/api/v1/actions/%d/approve" % a["id"]
# Forged from a web page: a foreign Host (DNS rebinding), a foreign Origin, text/plain, a form.
for headers, status in [({"Host": "evil.example:%d" % HOST.port}, 403),
                        ({"Origin": "http://evil.example"}, 403),
                        ({"Origin": "null"}, 403),
                        ({"Origin": "http://127.0.0.1:1"}, 403),
                        ({"Sec-Fetch-Site": "cross-site"}, 403),
                        ({"Content-Type": "text/plain"}, 415),
                        ({"Content-Type": "application/x-www-form-urlencoded"}, 415)]:
    code, _, raw = req("POST", approve, {"note": "forged"}, headers)
    assert code == status, (headers, code, raw)
    assert json.loads(raw)["error"], raw
# A read-only token cannot decide; no token at all is a 401.
code, _, raw = req("POST", approve, {"note": "read"}, token=os.environ["READ_TOKEN"])
assert code == 403 and "scope read" in json.loads(raw)["error"], (code, raw)
code, _, raw = req("POST", approve, {}, token=os.environ["INGEST_TOKEN"])
assert code == 403, (code, raw)
code, _, raw = req("POST", approve, {}, token="inl_" + "0" * 64)
assert code == 401, (code, raw)
assert get("/api/v1/actions?state=pending&run=asked")["actions"][0]["id"] == a["id"], "still pending"
print("ok: forged and under-scoped decisions refused, the action still pending")
code, _, raw = req("POST", approve, {"note": "from the API test"}, token=os.environ["APPROVE_TOKEN"])
assert code == 200, raw
after = json.loads(raw)
assert after["state"] == "approved" and after["note"] == "from the API test" and after["decided_by"] == "http:reviewer", after
err("POST", "/api/v1/actions/%d/deny" % a["id"], 409, "action")
err("POST", "/api/v1/actions/99999/approve", 404)
err("POST", "/api/v1/actions/x/approve", 400, "action id:")
print("ok: approved action", a["id"])
PY
INLOOP_BIN="$INLOOP_BIN" python3 check.py "$URL" || fail "API checks failed"
touch decided  # the ask-mode run may go on (a resumed attempt does not wait)
assert_contains "$(inloop events asked --json | json '[e["message"] for e in d if e["kind"] == "action_approved"]')" "by http:reviewer" "the timeline names the approver"

set +e; wait "$asked_pid"; code=$?; set -e
assert_eq "$code" 0 "asked run exit code ($(tail -3 asked.err))"
inloop show asked --json > asked.json
assert_eq "$(json 'len(d["attempts"])' < asked.json)" 2 "approved over HTTP: the run resumed (two attempts)"
assert_eq "$(json 'd["status"]' < asked.json)" finished "resumed run finished"
assert_contains "$(inloop events asked --json | json '[e["kind"] for e in d]')" "action_applied" "applied after approval"
pass "approve over HTTP -> the supervisor resumed the run"

# ---- SSE of a live run: every point, none dropped, none twice
"$INLOOP_BIN" run --policy observe --name live -- python3 tiny.py --lr 0.5 --steps 400 --sleep 0.01 > /dev/null 2>&1 &
live_pid=$!
servers+=("$live_pid")
wait_for 300 bash -c "curl -s -H 'Authorization: Bearer $TOKEN' '${URL}api/v1/runs?name=live' | grep -q '\"status\":\"running\"'" || fail "live run not seen"
live_id=$(acurl -s "${URL}api/v1/runs?name=live" | json 'd["runs"][0]["id"]')
cat > sse.py <<'PY'
import json, os, sys, urllib.request
url, run, out = sys.argv[1], sys.argv[2], sys.argv[3]
events, cur = [], {}
stream = urllib.request.Request(url + "api/v1/stream?run=" + run,
                                headers={"Authorization": "Bearer " + os.environ["TOKEN"]})
with urllib.request.urlopen(stream, timeout=60) as r:
    assert r.headers["Content-Type"].startswith("text/event-stream")
    for raw in r:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            cur["event"] = line[7:]
        elif line.startswith("data: "):
            cur["data"] = json.loads(line[6:])
        elif line == "" and cur:
            events.append(cur)
            if cur.get("event") == "status" and cur["data"]["status"] != "running":
                break
            cur = {}
json.dump(events, open(out, "w"))
PY
python3 sse.py "$URL" "$live_id" sse.json &
sse_pid=$!
servers+=("$sse_pid")
# A second client of the same run: the pollers stay one per run.
python3 sse.py "$URL" "$live_id" sse2.json &
sse2_pid=$!
servers+=("$sse2_pid")
wait "$live_pid" || fail "live run failed"
wait "$sse_pid" || fail "SSE client failed"
wait "$sse2_pid" || fail "second SSE client failed"
inloop metrics live loss --format json > live.json
for f in sse.json sse2.json; do
  python3 - "$f" live.json <<'PY' || fail "SSE points differ from the stored series ($f)"
import json, sys
events = json.load(open(sys.argv[1]))
stored = json.load(open(sys.argv[2]))["points"]
assert events[0]["event"] == "ready", events[0]
pos = events[0]["data"]["runs"][0]["series"].get("loss", {"points": 0, "last_step": 0})
got = [p for e in events if e["event"] == "points" and e["data"]["key"] == "loss" for p in e["data"]["points"]]
want = [p for p in stored if p[0] > pos["last_step"]] if pos["points"] else stored
assert [p[0] for p in got] == [p[0] for p in want], (len(got), len(want), got[:3], want[:3])
assert [p[2] for p in got] == [p[2] for p in want]
assert len(want) > 50, "the stream started too late to show anything live: %d points" % len(want)
assert events[-1]["event"] == "status" and events[-1]["data"]["status"] == "finished"
print("ok: %d live points streamed, none dropped" % len(got))
PY
done
pass "SSE: live points of a running run, none dropped (two clients)"

# ---- ingest round trip
# Forged ingest (a form's text/plain, a foreign Origin) creates nothing; an ingest token may.
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/plain' -X POST "${URL}api/v1/runs" -d '{"name":"forged"}')" 415 "ingest as text/plain"
assert_eq "$(acurl -s -o /dev/null -w '%{http_code}' -H 'Origin: http://localhost:1' -X POST "${URL}api/v1/runs" -d '{"name":"forged"}')" 403 "ingest from a foreign origin"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $READ_TOKEN" -H 'Content-Type: application/json' -X POST "${URL}api/v1/runs" -d '{"name":"forged"}')" 403 "ingest with a read token"
assert_eq "$(acurl -s "${URL}api/v1/runs?name=forged" | json 'd["total"]')" 0 "no forged run"
created=$(curl -sf -H "Authorization: Bearer $INGEST_TOKEN" -H 'Content-Type: application/json' -X POST "${URL}api/v1/runs" -d '{"name":"remote","command":["train.py"],"params":{"lr":0.02},"tags":["far-away"]}')
rid=$(json 'd["id"]' <<<"$created")
assert_eq "$(acurl -sf -X POST "${URL}api/v1/runs/$rid/points" -d '{"points":[{"key":"loss","step":1,"value":3.5,"wall_time":1700000000},{"key":"loss","step":2,"value":"NaN","wall_time":1700000001}]}')" '{"accepted":2}' "ingest points"
assert_eq "$(acurl -s -o /dev/null -w '%{http_code}' -X POST "${URL}api/v1/runs/$rid/points" -d '{"points":[{"key":"loss","step":"two","value":1}]}')" 400 "bad point"
big=$(python3 -c 'print("{\"points\":[" + ",".join(["{\"key\":\"k\",\"step\":1,\"value\":1}"] * 1300000) + "]}")')
assert_eq "$(acurl -s -o /dev/null -w '%{http_code}' -X POST "${URL}api/v1/runs/$rid/points" --data-binary @- <<<"$big")" 413 "body over 32 MiB"
code=$(python3 - "$URL" <<'PY'
import http.client, os, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
c.request("GET", "/api/v1/series?key=loss&runs=" + ",".join(["r" * 30] * 10000),
          headers={"Authorization": "Bearer " + os.environ["TOKEN"]})
print(c.getresponse().status)
PY
)
assert_eq "$code" 431 "request head over 256 KiB"
acurl -sf -X POST "${URL}api/v1/runs/$rid/finish" -d '{"status":"finished","exit_code":0}' > /dev/null
assert_eq "$(inloop metrics "$rid" loss --format json | json '[(p[0], p[2]) for p in d["points"]]')" "[(1, 3.5), (2, 'NaN')]" "ingested points read back by the CLI"
assert_eq "$(acurl -s "${URL}api/v1/runs?tag=far-away" | json '[r["name"] for r in d["runs"]]')" "['remote']" "tag filter on the ingested run"
assert_eq "$(acurl -s -o /dev/null -w '%{http_code}' -X POST "${URL}api/v1/runs/$rid/points" -d '{"points":[]}')" 409 "points after finish"
pass "ingest: create, points (durable, read back), 400, 413, 431, finish, 409"

# ---- /metrics parses as Prometheus text
acurl -sf "${URL}metrics" > metrics.txt
python3 - metrics.txt <<'PY' || fail "/metrics does not parse"
import re, sys
seen = {}
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if not line or line.startswith("#"):
        assert not line or re.match(r"# (HELP|TYPE) [a-z_]+ .+", line), line
        continue
    m = re.match(r'^([a-z_]+)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? ([0-9.e+-]+)$', line)
    assert m, line
    seen[m.group(1)] = seen.get(m.group(1), 0) + float(m.group(4))
assert seen["inloop_http_requests_total"] > 50, seen
assert seen["inloop_points_ingested_total"] == 2, seen
assert seen["inloop_sse_clients_total"] >= 2, seen
assert seen["inloop_http_request_duration_seconds_count"] > 50
# The newest runs' goodput (summed over runs here: some run has a positive ETTR).
assert seen.get("inloop_run_ettr", 0) > 0, seen
assert "inloop_run_lost_steps" in seen and "inloop_run_faults" in seen, seen
print("ok: metrics", {k: seen[k] for k in ("inloop_http_requests_total", "inloop_sse_polls_total")})
PY
assert_contains "$(cat metrics.txt)" 'route="/api/v1/runs/{id}/series",code="200"' "per-route counter"
pass "/metrics"

# ---- token: 401 without it, accepted as Bearer or ?token=; a non-local bind needs one
set +e
inloop serve --bind 0.0.0.0 --port 0 > nobind.out 2> nobind.err; code=$?
set -e
assert_eq "$code" 30 "non-local bind without a token exit code"
assert_contains "$(cat nobind.err)" "needs a token" "refusal names the fix"
[ ! -s nobind.out ] || fail "refused server printed a URL"
INLOOP_TOKEN=s3cret "$INLOOP_BIN" serve --port 0 > tok.out 2> tok.err &
servers+=("$!")
wait_for 300 grep -q "^inloop serve: http://" tok.out || fail "token server did not start"
TURL=$(grep -o 'http://[^ ?]*' tok.out)
assert_contains "$(cat tok.out)" "?token=s3cret" "the printed URL carries the token"
for path in api/v1/runs api/v1/health metrics "" api/v1/stream; do
  assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "${TURL}$path")" 401 "no token: /$path"
  assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "${TURL}$path")" 401 "wrong token: /$path"
done
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cret' "${TURL}api/v1/runs")" 200 "Bearer token"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "${TURL}api/v1/runs?token=s3cret")" 200 "?token="
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X POST "${TURL}api/v1/runs" -d '{}')" 401 "ingest needs the token"
# The page's first ?token= request sets an HttpOnly, SameSite=Strict cookie for this port.
tport=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlparse(sys.argv[1]).port)' "$TURL")
curl -s -o /dev/null -D headers.txt "${TURL}?token=s3cret"
assert_contains "$(cat headers.txt)" "Set-Cookie: inloop_token_$tport=s3cret; Path=/; HttpOnly; SameSite=Strict" "the cookie"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -b "inloop_token_$tport=s3cret" "${TURL}api/v1/runs")" 200 "the cookie is accepted"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -b "inloop_token_$tport=s3cret" -H 'Content-Type: application/json' -H 'Origin: http://localhost:1' -X POST "${TURL}api/v1/runs" -d '{}')" 403 "the cookie does not make a foreign origin's POST pass"
# Revoked: refused at the next request.
inloop token revoke watcher > /dev/null
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $READ_TOKEN" "${TURL}api/v1/runs")" 401 "a revoked token"
pass "token: 401s, Bearer, ?token= and its cookie accepted, revoked refused; non-local bind refused (30)"

# ---- --no-token: loopback only, says what it gives up; the header rules stay on
set +e
inloop serve --no-token --bind 0.0.0.0 --port 0 > /dev/null 2> nt.err; code=$?
INLOOP_TOKEN=x inloop serve --no-token --port 0 > /dev/null 2>&1; code2=$?
inloop serve --port 0 --allow-host 'http://x' > /dev/null 2> ah.err; code3=$?
set -e
assert_eq "$code" 30 "--no-token beyond loopback"
assert_contains "$(cat nt.err)" "loopback" "--no-token refusal names loopback"
assert_eq "$code2" 2 "--no-token with a token"
assert_eq "$code3" 2 "a malformed --allow-host"
assert_contains "$(cat ah.err)" "--allow-host" "--allow-host message"
"$INLOOP_BIN" serve --no-token --port 0 --allow-host inloop.example > nt.out 2> nt.err &
servers+=("$!")
wait_for 300 grep -q "^inloop serve: http://" nt.out || fail "--no-token server did not start: $(cat nt.err)"
NURL=$(grep -o 'http://[^ ]*' nt.out)
wait_for 300 grep -q "approve or deny" nt.err || fail "--no-token does not say what it gives up: $(cat nt.err)"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "${NURL}api/v1/runs")" 200 "--no-token: no token needed"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' "${NURL}api/v1/runs")" 403 "--no-token: a foreign Host still refused"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: inloop.example' "${NURL}api/v1/runs")" 200 "--allow-host"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "${NURL}api/v1/runs" -d '{}')" 415 "--no-token: a form-encoded POST still refused"
pass "--no-token: loopback only, warned, header rules on; --allow-host"

# ---- addresses that cannot be served: not this machine's (31), a port in use (32)
port=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlparse(sys.argv[1]).port)' "$URL")
set +e
inloop serve --bind 192.0.2.1 --token t --port 0 > /dev/null 2> addr.err; code=$?
inloop serve --port "$port" > /dev/null 2> busy.err; code2=$?
set -e
assert_eq "$code" 31 "a bind address of another machine"
assert_contains "$(cat addr.err)" "--bind 192.0.2.1: not an address of this machine" "address message"
assert_eq "$code2" 32 "a port in use"
assert_contains "$(cat busy.err)" "cannot listen on 127.0.0.1:$port" "port message"
assert_eq "$(wc -l < busy.err)" 1 "one line on stderr"
pass "exit 31 for a foreign address, 32 for a busy port"
