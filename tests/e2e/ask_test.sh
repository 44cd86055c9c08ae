#!/usr/bin/env bash
# inloop ask end to end against a scripted chat-completions server (tests/assist/mock_llm.py):
# a streamed conversation with tool calls whose exact requests are checked (path, bearer key,
# model, strict tool schemas, tool results matching the store: M4 points computed here
# independently); a proposal that lands as a pending action and is never executed; malformed,
# truncated, error, rate-limited, stalled and garbage responses, bad tool calls and the bounds,
# each with its message and exit code; and no endpoint configured.
source "$(dirname "$0")/lib.sh"

MOCK="$INLOOP_SRC/tests/assist/mock_llm.py"
KEY="sk-test-not-a-real-key-4711"
MOCK_PID=""
stop_mock() { if [ -n "$MOCK_PID" ]; then kill "$MOCK_PID" 2>/dev/null || true; wait "$MOCK_PID" 2>/dev/null || true; MOCK_PID=""; fi; }
trap 'stop_mock; cleanup' EXIT
# start_mock NAME: serves scripts/NAME.json, logs to NAME.req.jsonl, sets PORT and INLOOP_LLM_URL.
start_mock() {
  stop_mock
  rm -f "$1.port" "$1.req.jsonl"
  python3 "$MOCK" --script "scripts/$1.json" --log "$1.req.jsonl" > "$1.port" &
  MOCK_PID=$!
  wait_for 100 test -s "$1.port" || fail "the mock server did not start"
  PORT=$(head -1 "$1.port")
  export INLOOP_LLM_URL="http://127.0.0.1:$PORT/v1"
}
export INLOOP_LLM_MODEL="mock-model" INLOOP_LLM_KEY="$KEY"

# Two runs from CSV: 500 steps of a decaying loss (and a constant lr), and a second one lower.
python3 - <<'PY'
import math
for name, off in (("base", 0.0), ("tuned", -0.2)):
    with open(name + ".csv", "w") as f:
        f.write("step,loss,lr\n")
        for s in range(500):
            f.write("%d,%r,%r\n" % (s, round(3 * math.exp(-s / 150) + 0.05 * math.sin(0.7 * s) + off + 1, 6), 0.001))
PY
inloop import --name base base.csv >/dev/null
inloop import --name tuned tuned.csv >/dev/null
BASE_ID=$(inloop show base --json | json 'd["id"]')

# The scenarios' scripts: chunks as OpenAI streams them.
mkdir -p scripts
python3 - <<'PY'
import json

def usage(p, c):
    return {"id": "u", "object": "chat.completion.chunk", "choices": [],
            "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}}

def chunk(delta, finish=None):
    return {"id": "c", "object": "chat.completion.chunk", "model": "mock-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

def text(t, pieces=4, u=(100, 20), **kw):
    n = max(1, len(t) // pieces)
    parts = [t[i:i + n] for i in range(0, len(t), n)]
    chunks = [chunk({"role": "assistant", "content": ""})] + [chunk({"content": p}) for p in parts]
    chunks += [chunk({}, "stop"), usage(*u)]
    return dict(sse=chunks, **kw)

def calls(cs, frag=5, u=(100, 20), **kw):
    """cs: [(id, name, args-dict-or-raw-string)]; arguments sent in fragments of `frag` chars."""
    chunks = [chunk({"role": "assistant", "content": None})]
    for i, (cid, name, args) in enumerate(cs):
        a = args if isinstance(args, str) else json.dumps(args)
        chunks.append(chunk({"tool_calls": [{"index": i, "id": cid, "type": "function",
                                             "function": {"name": name, "arguments": ""}}]}))
        for at in range(0, len(a), frag):
            chunks.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": a[at:at + frag]}}]}))
    chunks += [chunk({}, "tool_calls"), usage(*u)]
    return dict(sse=chunks, **kw)

ANSWER = "The base run's loss fell from about 4.0 to about 1.1 over 500 steps; tuned ends lower."
S = {}
S["conversation"] = [
    calls([("call_list", "list_runs", {"name_pattern": None, "status": None, "limit": 10})],
          piece=7, crlf=True, comments=True),
    calls([("call_series", "query_series", {"run": "base", "key": "loss", "from_step": None,
                                            "to_step": None, "max_points": 40})], frag=3, piece=13),
    text(ANSWER, pieces=9, piece=5),
]
S["propose"] = [
    calls([("c1", "show_run", {"run": None})]),
    {"json": {"id": "j", "object": "chat.completion", "choices": [{"index": 0, "finish_reason": "tool_calls",
              "message": {"role": "assistant", "content": None, "tool_calls": [
                  {"id": "c2", "type": "function", "function": {"name": "propose_action", "arguments": json.dumps(
                      {"run": "base", "action": "config_change", "reason": "the loss flattens after step 300",
                       "plan": {"checkpoint_step": None, "skip_from": None, "skip_to": None, "lr_scale": None,
                                "micro_batch": None, "params": [{"key": "lr", "value": "0.0005"}]}})}}]}}],
              "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}}},
    text("I proposed lowering lr to 0.0005 for the next run; approve it if you agree."),
]
S["malformed"] = [dict(sse=[chunk({"content": "Hel"}), '{"id": "c", "choices": [{"delta": {"content": "lo"}']),]
S["truncated"] = [dict(sse=[chunk({"content": "The loss is"}), chunk({"content": " going"})], done=False)]
S["cut"] = [dict(text("A complete answer that will be cut off in the middle.", pieces=3), cut=400)]
S["http500"] = [{"status": 500, "body": {"error": {"message": "model overloaded: try later", "type": "server_error"}}}]
S["retry"] = [{"status": 429, "headers": {"Retry-After": "0"}, "body": {"error": {"message": "slow down"}}},
              {"status": 503, "headers": {"Retry-After": "0"}, "body": "busy"},
              text("Answered after two retries.")]
S["ratelimited"] = [{"status": 429, "headers": {"Retry-After": "0"}, "body": {"error": {"message": "quota"}}}] * 4
S["badargs"] = [
    calls([("b1", "query_series", {"run": "base", "key": "loss", "max_points": "lots", "colour": "red"}),
           ("b2", "rm_rf", {"path": "/"}),
           ("b3", "events", '{"run": "base", ')]),
    text("Those calls failed; I cannot answer."),
]
S["loop"] = [calls([("l%d" % i, "list_runs", {"limit": 1})]) for i in range(5)]
S["budget"] = [calls([("t1", "list_runs", {})], u=(900, 200)), text("never reached")]
S["midstream_error"] = [dict(sse=[chunk({"content": "par"}), {"error": {"message": "CUDA out of memory on the server", "code": 500}}])]
S["garbage"] = [{"raw": "<html><body>502 Bad Gateway</body></html>", "content_type": "text/html"}]
S["stall"] = [{"stall": 8}]
S["key_echo"] = [{"status": 401, "body": {"error": {"message": "Incorrect API key provided: sk-test-not-a-real-key-4711."}}}]
S["completion_field"] = [
    {"status": 400, "body": {"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", "param": "max_tokens"}}},
    text("Fine with max_completion_tokens."),
]
S["plain_json"] = [{"json": {"choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "A plain JSON answer."}}]}}]
S["empty"] = [text("", pieces=1)]
S["length"] = [dict(sse=[chunk({"content": "An answer that goes on and"}), chunk({}, "length")])]
for k, v in S.items():
    with open("scripts/%s.json" % k, "w") as f:
        json.dump(v, f)
with open("answer.txt", "w") as f:
    f.write(ANSWER)
PY

# ---- (1) a streamed conversation with two tool calls ----
start_mock conversation
set +e
out=$(inloop ask "How did the loss of base go?" --run base 2>err.txt); rc=$?
set -e
assert_eq "$rc" 0 "conversation exit code ($(cat err.txt))"
assert_contains "$out" "$(cat answer.txt)" "the streamed answer is printed whole"
assert_eq "$(wc -l < conversation.req.jsonl)" 3 "three completions requested"
python3 - "$PORT" "$KEY" "$BASE_ID" <<'PY' || fail "the recorded requests"
import json, math, sys
port, key, base_id = sys.argv[1], sys.argv[2], sys.argv[3]
reqs = [json.loads(l) for l in open("conversation.req.jsonl")]
for r in reqs:
    assert r["method"] == "POST" and r["path"] == "/v1/chat/completions", r["path"]
    h = {k.lower(): v for k, v in r["headers"].items()}
    assert h["authorization"] == "Bearer " + key, h.get("authorization")
    assert h["content-type"] == "application/json"
    assert h["host"] == "127.0.0.1:" + port
    b = r["body"]
    assert b["model"] == "mock-model" and b["stream"] is True and b["tool_choice"] == "auto"
    assert b["stream_options"] == {"include_usage": True}
    assert b["max_tokens"] == 1024
    names = [t["function"]["name"] for t in b["tools"]]
    assert names == ["list_runs", "show_run", "query_series", "events", "compare", "report", "insights",
                     "propose_action"], names
    for t in b["tools"]:
        assert t["type"] == "function" and t["function"]["strict"] is True
        p = t["function"]["parameters"]
        def strict(s):
            if s["type"] == "object" or s["type"] == ["object", "null"]:
                assert s["additionalProperties"] is False
                assert s["required"] == list(s["properties"]), (s["required"], list(s["properties"]))
                for v in s["properties"].values():
                    strict(v)
            if "items" in s:
                strict(s["items"])
        strict(p)
    qs = b["tools"][2]["function"]["parameters"]
    assert qs["required"] == ["run", "key", "from_step", "to_step", "max_points"]
    assert qs["properties"]["key"]["type"] == "string"
    assert qs["properties"]["max_points"]["type"] == ["integer", "null"]
    pa = b["tools"][7]["function"]["parameters"]["properties"]["action"]
    assert pa["enum"] == ["resume", "rollback_skip", "lr_cut", "shrink_batch", "stop", "config_change"]
m = [r["body"]["messages"] for r in reqs]
assert [x["role"] for x in m[0]] == ["system", "user"]
assert m[0][1]["content"] == "How did the loss of base go?"
assert "base (" + base_id + ")" in m[0][0]["content"], "the run in focus is in the system prompt"
assert m[1][:2] == m[0]
a1 = m[1][2]
assert a1["role"] == "assistant" and a1["content"] is None
assert a1["tool_calls"] == [{"id": "call_list", "type": "function", "function": {"name": "list_runs",
    "arguments": json.dumps({"name_pattern": None, "status": None, "limit": 10})}}], a1
t1 = m[1][3]
assert t1["role"] == "tool" and t1["tool_call_id"] == "call_list"
runs = json.loads(t1["content"])
assert sorted(r["name"] for r in runs["runs"]) == ["base", "tuned"] and runs["matching"] == 2
assert m[2][:4] == m[1]
t2 = m[2][5]
assert t2["role"] == "tool" and t2["tool_call_id"] == "call_series"
res = json.loads(t2["content"])
# M4 over the CSV's own values, independently: 40 points -> 10 columns over steps 0..499.
vals = []
for line in open("base.csv").read().split("\n")[1:]:
    if line:
        s, v, _ = line.split(",")
        vals.append((int(s), float(v)))
lo, hi, width = 0, 499, 10
cols = {}
for i, (s, v) in enumerate(vals):
    cols.setdefault((s - lo) * width // (hi - lo + 1), []).append(i)
want = []
for c in sorted(cols):
    idx = cols[c]
    imin = min(idx, key=lambda i: (vals[i][1], i))
    imax = max(idx, key=lambda i: (vals[i][1], -i))
    for i in sorted({idx[0], idx[-1], imin, imax}):
        want.append([vals[i][0], vals[i][1]])
assert res["total_points"] == 500 and res["downsampled"] is True
assert res["points"] == want, (res["points"][:6], want[:6])
PY
pass "requests: path, bearer key, model, strict tool schemas, tool results matching the store"

inloop events base --json > events.json
python3 - "$PORT" <<'PY' || fail "the stored transcript"
import json, sys
d = [e for e in json.load(open("events.json")) if e["kind"] == "assistant_transcript"][-1]["data"]
assert d["question"] == "How did the loss of base go?" and d["model"] == "mock-model"
assert d["endpoint_host"] == "127.0.0.1:" + sys.argv[1]
assert [c["name"] for c in d["tool_calls"]] == ["list_runs", "query_series"]
assert all(c["ok"] for c in d["tool_calls"]) and d["stop"] == "answered"
assert d["usage"] == {"reported": True, "prompt_tokens": 300, "completion_tokens": 60, "total_tokens": 360}
assert [m["role"] for m in d["messages"]] == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant"]
assert d["answer"] == open("answer.txt").read()
PY
grep -rqa -- "$KEY" "$INLOOP_STORE" && fail "the key was written into the store"
grep -qF -- "$KEY" <<<"$out$(cat err.txt)" && fail "the key was printed"
pass "transcript stored on the run, without the key"

# ---- (2) a proposal: pending, visible, never executed ----
start_mock propose
unset INLOOP_LLM_KEY
set +e
js=$(inloop ask "Should base change anything?" --run base --json 2>err.txt); rc=$?
set -e
assert_eq "$rc" 0 "propose exit code ($(cat err.txt))"
grep -qi '"authorization"' propose.req.jsonl && fail "no key set, yet an Authorization header was sent"
aid=$(echo "$js" | json 'd["proposed_action_ids"][0]')
assert_eq "$(echo "$js" | json '[c["name"] for c in d["tool_calls"]]')" "['show_run', 'propose_action']" "tool calls in --json"
pend=$(inloop pending --json)
assert_eq "$(echo "$pend" | json "[(a['id'], a['action'], a['trigger'], a['state'], a['decided_by'], a['data']['plan']['params']['lr']) for a in d]")" \
  "[($aid, 'config_change', 'assistant', 'pending', '', '0.0005')]" "the proposal is one pending action"
assert_contains "$(inloop pending)" "config_change" "inloop pending lists it"
python3 - "$BASE_ID" <<'PY' || fail "show_run with run null uses the run in focus"
import json, sys
reqs = [json.loads(l) for l in open("propose.req.jsonl")]
show = json.loads(reqs[1]["body"]["messages"][3]["content"])
assert show["id"] == sys.argv[1]
assert {s["key"]: s["points"] for s in show["series"]} == {"loss": 500, "lr": 500}
prop = json.loads(reqs[2]["body"]["messages"][5]["content"])
assert prop["state"] == "pending" and "nothing was executed" in prop["note"]
PY
assert_contains "$(inloop events base)" "the assistant proposes config_change" "the proposal is on the timeline"
dec=$(inloop approve "$aid")
assert_contains "$dec" "not applied by the supervisor" "approving an assistant proposal says who carries it out"
assert_eq "$(inloop pending --all --json | json "[a['state'] for a in d if a['id'] == $aid][0]")" "approved" "approved, only recorded"
pass "propose_action: pending, listed, approved by a person, nothing executed"
export INLOOP_LLM_KEY="$KEY"

# ---- (3) failures: each a clear message and its exit code ----
# expect NAME CODE TEXT [ask args...]: runs ask against scripts/NAME.json.
expect() {
  local name=$1 code=$2 text=$3; shift 3
  start_mock "$name"
  set +e
  inloop ask "What happened?" "$@" > "$name.out" 2> "$name.err"; local rc=$?
  set -e
  assert_eq "$rc" "$code" "$name: exit code ($(cat "$name.err"))"
  assert_contains "$(cat "$name.err")" "$text" "$name: message"
  grep -qF -- "$KEY" "$name.out" "$name.err" && fail "$name: the key was printed"
  pass "$name -> exit $code"
}
expect malformed 25 "not a JSON object"
expect truncated 26 "ended before [DONE]"
assert_contains "$(cat truncated.out)" "The loss is going" "what arrived before the cut was shown"
expect cut 26 "ended before [DONE]"
expect http500 23 "HTTP 500: model overloaded: try later"
expect retry 0 "transcript"
assert_contains "$(cat retry.out)" "Answered after two retries." "the answer after 429 and 503"
assert_eq "$(wc -l < retry.req.jsonl)" 3 "429, 503, then 200"
expect ratelimited 24 "gave up after 3 retries"
assert_eq "$(wc -l < ratelimited.req.jsonl)" 4 "one try and three retries"
expect midstream_error 23 "CUDA out of memory on the server"
expect garbage 25 "neither server-sent events nor JSON"
expect stall 22 "timed out" --timeout 1
expect key_echo 23 "[INLOOP_LLM_KEY]"
expect completion_field 0 "transcript"
python3 - <<'PY' || fail "the retry with max_completion_tokens"
import json
r = [json.loads(l)["body"] for l in open("completion_field.req.jsonl")]
assert r[0]["max_tokens"] == 1024 and "max_completion_tokens" not in r[0]
assert r[1]["max_completion_tokens"] == 1024 and "max_tokens" not in r[1]
PY
expect plain_json 0 "transcript"
assert_contains "$(cat plain_json.out)" "A plain JSON answer." "a server that ignores stream=true"
expect empty 0 "the model's answer was empty"
expect length 0 "cut at the 64-token completion limit" --max-tokens 64

expect badargs 0 "3 tool calls"
python3 - <<'PY' || fail "invalid tool calls come back to the model as errors"
import json
r = [json.loads(l)["body"] for l in open("badargs.req.jsonl")]
tools = [m for m in r[1]["messages"] if m["role"] == "tool"]
assert [t["tool_call_id"] for t in tools] == ["b1", "b2", "b3"]
e = [json.loads(t["content"])["error"] for t in tools]
assert "unexpected argument 'colour'" in e[0] or "max_points: expected an integer" in e[0], e[0]
assert "unknown tool 'rm_rf'" in e[1], e[1]
assert "not valid JSON" in e[2], e[2]
PY
assert_contains "$(cat badargs.out)" "Those calls failed" "the model answered after the errors"

expect loop 27 "after 2 of the 2 allowed" --max-tool-calls 2
assert_eq "$(wc -l < loop.req.jsonl)" 3 "the third request's tool call is not executed"
assert_eq "$(inloop events base --json | json '[e["data"]["stop"] for e in d if e["kind"] == "assistant_transcript"][-1]' 2>/dev/null || echo none)" \
  "answered" "without --run the transcript is not on run base"
expect budget 27 "over its budget of 1000" --token-budget 1000
assert_eq "$(wc -l < budget.req.jsonl)" 1 "no request after the budget is spent"

stop_mock
export INLOOP_LLM_URL="http://127.0.0.1:$PORT/v1"  # nothing listens there now
set +e
inloop ask "anyone?" > refused.out 2> refused.err; rc=$?
set -e
assert_eq "$rc" 21 "connection refused: exit code ($(cat refused.err))"
assert_contains "$(cat refused.err)" "cannot reach the model endpoint at 127.0.0.1:$PORT" "connection refused: message"
pass "connection refused -> exit 21"

# A run that does not exist is found out before the model is asked.
set +e
inloop ask "anyone?" --run no-such-run > norun.out 2> norun.err; rc=$?
set -e
assert_eq "$rc" 3 "--run names no run: exit code ($(cat norun.err))"
pass "--run of a missing run -> exit 3"

# ---- (4) no endpoint configured ----
set +e
env -u INLOOP_LLM_URL "$INLOOP_BIN" ask "hello?" > none.out 2> none.err; rc=$?
set -e
assert_eq "$rc" 20 "no endpoint: exit code"
assert_contains "$(cat none.err)" "no model endpoint configured (INLOOP_LLM_URL is not set)" "no endpoint: message"
assert_contains "$(cat none.err)" "inloop report RUN" "no endpoint: points to report"
assert_contains "$(cat none.err)" "inloop insights" "no endpoint: points to insights"
set +e
INLOOP_LLM_URL="ftp://example.com/v1" "$INLOOP_BIN" ask "hello?" > ftp.out 2> ftp.err; rc=$?
set -e
assert_eq "$rc" 20 "a non-http URL: exit code ($(cat ftp.err))"
assert_contains "$(cat ftp.err)" "http:// or https://" "a non-http URL: message"
pass "no endpoint -> exit 20 with the way out"

# Store-wide transcripts (asked without --run) are kept with an empty run id.
n=$(sqlite3 "$INLOOP_STORE/inloop.db" "SELECT count(*) FROM events WHERE kind='assistant_transcript' AND run_id=''")
[ "$n" -ge 10 ] || fail "store-wide transcripts: $n"
pass "transcripts of questions without --run are store-wide events ($n)"
