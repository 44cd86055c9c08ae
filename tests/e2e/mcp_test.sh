#!/usr/bin/env bash
# inloop mcp over its stdio JSON-RPC protocol, driven by a Python client: initialize (version
# negotiation), notifications/initialized (no reply), ping, tools/list, tools/call on runs from
# a real supervised run, evaldiff on two files in the served directory (and a path outside it
# refused), loop_status of a real loop; then malformed lines, an unknown method and a bad tool,
# each answered without ending the server, which exits 0 when stdin closes.
source "$(dirname "$0")/lib.sh"

inloop run --name mcp-run -- python3 -c '
import json
for s in range(1, 41):
    print(json.dumps({"step": s, "train/loss": 2.0 / s}))
' > /dev/null 2>&1
python3 - <<'PY'
import json
with open("old.jsonl", "w") as o, open("new.jsonl", "w") as n:
    for i in range(60):
        o.write(json.dumps({"id": f"q{i}", "correct": i % 3 == 0}) + "\n")
        n.write(json.dumps({"id": f"q{i}", "correct": i % 3 != 2}) + "\n")
PY
# A loop in a repo next to the eval files, so loop_status has something to show.
git init -q -b main . && git config user.name t && git config user.email t@t
printf 'store/\n' > .gitignore
git add -A && git commit -qm files
inloop loop init --metric train/loss:min --budget 30s --seeds 1 -- true > /dev/null

python3 - "$INLOOP_BIN" <<'PY'
import json, subprocess, sys
p = subprocess.Popen([sys.argv[1], "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     text=True, bufsize=1)
def send(obj_or_text):
    line = obj_or_text if isinstance(obj_or_text, str) else json.dumps(obj_or_text)
    p.stdin.write(line + "\n")
    p.stdin.flush()
def recv():
    line = p.stdout.readline()
    assert line, "the server closed its output"
    return json.loads(line)
def call(i, name, args):
    send({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": name, "arguments": args}})
    r = recv()
    assert r["id"] == i, r
    return r["result"]

send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
      "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "0"}}})
r = recv()
assert r["result"]["protocolVersion"] == "2025-06-18", r
assert r["result"]["serverInfo"]["name"] == "inloop"
assert "tools" in r["result"]["capabilities"]
send({"jsonrpc": "2.0", "method": "notifications/initialized"})
send({"jsonrpc": "2.0", "id": 2, "method": "ping"})
assert recv() == {"jsonrpc": "2.0", "id": 2, "result": {}}  # no reply came for the notification
send({"jsonrpc": "2.0", "id": 3, "method": "tools/list"})
tools = {t["name"]: t for t in recv()["result"]["tools"]}
for name in ("list_runs", "show_run", "query_series", "events", "compare", "report", "insights", "evaldiff", "loop_status"):
    assert name in tools, name
    assert tools[name]["inputSchema"]["type"] == "object"
for name in ("start_run", "run_status", "wait_run", "stop_run", "propose_action"):
    assert tools[name]["inputSchema"]["additionalProperties"] is False, name
print("ok: initialize, ping, tools/list:", ", ".join(sorted(tools)))

res = call(4, "list_runs", {})
assert not res["isError"], res
runs = json.loads(res["content"][0]["text"])
text = json.dumps(runs)
assert "mcp-run" in text, text
res = call(5, "query_series", {"run": "mcp-run", "key": "train/loss"})
assert not res["isError"], res
pts = json.loads(res["content"][0]["text"])
assert "points" in pts and len(pts["points"]) == 40, pts
assert abs(pts["points"][-1][-1] - 0.05) < 1e-12, pts["points"][-1]
res = call(6, "evaldiff", {"old_path": "old.jsonl", "new_path": "new.jsonl"})
assert not res["isError"], res
ev = json.loads(res["content"][0]["text"])
assert ev["n"] == 60 and abs(ev["old"]["mean"] - 1/3) < 1e-9 and abs(ev["new"]["mean"] - 2/3) < 1e-9, ev
assert ev["n_improved"] == 20 and ev["n_regressed"] == 0 and ev["diff"]["test"] == "mcnemar", ev
res = call(7, "evaldiff", {"old_path": "../../etc/passwd", "new_path": "new.jsonl"})
assert res["isError"], res
res = call(8, "loop_status", {})
assert not res["isError"], res
st = json.loads(res["content"][0]["text"])
assert st["metric"] == "train/loss" and st["branch"] == "inloop/loop-default" and st["champion"] is None, st
res = call(9, "show_run", {"run": "no-such-run"})
assert res["isError"] and "no-such-run" in res["content"][0]["text"], res
print("ok: tools/call list_runs, query_series (40 points), evaldiff, loop_status, errors as isError")

send("{this is not json")
r = recv(); assert r["error"]["code"] == -32700 and r["id"] is None, r
send({"jsonrpc": "2.0", "id": 10, "method": "resources/list"})
r = recv(); assert r["error"]["code"] == -32601 and r["id"] == 10, r
send({"jsonrpc": "2.0", "id": 11, "method": "tools/call", "params": {"name": "rm_rf"}})
r = recv(); assert r["error"]["code"] == -32602, r
send('[{"jsonrpc": "2.0", "id": 12, "method": "ping"}]')
r = recv(); assert r["error"]["code"] == -32600, r
send({"jsonrpc": "2.0", "id": 13, "method": "tools/call", "params": {"name": "query_series", "arguments": {"run": 5}}})
r = recv(); assert r["result"]["isError"] and "run" in r["result"]["content"][0]["text"], r
send({"jsonrpc": "2.0", "id": 14, "method": "ping"})
assert recv()["id"] == 14  # still serving
p.stdin.close()
assert p.wait(timeout=10) == 0
print("ok: malformed JSON, unknown method, unknown tool, batch, bad arguments; exit 0 on EOF")
PY
