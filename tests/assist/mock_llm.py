#!/usr/bin/env python3
"""A scripted stand-in for an OpenAI-compatible chat-completions server, for inloop's tests.

    python3 mock_llm.py --script SCRIPT.json --log REQUESTS.jsonl

Binds 127.0.0.1 on a free port and prints the port on the first line of stdout. Every request
(method, path, headers, body parsed as JSON when it is JSON) is appended to the log as one JSON
line, and answered with the next entry of the script, a JSON list; once the list is spent every
request gets HTTP 500. An entry is an object:

  {"sse": [CHUNK, ...]}    200 text/event-stream; each CHUNK is an object (sent as JSON) or a
                           string (sent verbatim as the data, e.g. "[DONE]" or broken JSON);
                           "done": false leaves out the final "data: [DONE]";
                           "crlf": true ends lines with CRLF; "comments": true adds ": ping"
                           comment lines; "piece": N sends the body N bytes at a time;
                           "cut": N sends only the first N bytes of the body, then closes.
  {"json": OBJECT}         200 application/json (a server that ignores stream=true).
  {"status": S, "body": B} an error status; B an object (sent as JSON) or a string.
  {"raw": TEXT}            200 with TEXT as the body; "content_type" sets the type.
  {"stall": SECONDS}       200 text/event-stream headers, then nothing for SECONDS.
Any entry may add "headers": {NAME: VALUE}. Responses are HTTP/1.0: the body ends when the
connection closes, so a cut is seen as the server stopping mid-stream.
Stdlib only.
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    with open(args.script) as f:
        script = json.load(f)
    lock = threading.Lock()
    state = {"next": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *a):
            pass

        def do_GET(self):
            self.handle_request()

        def do_POST(self):
            self.handle_request()

        def handle_request(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
            with lock:
                i = state["next"]
                state["next"] += 1
                with open(args.log, "a") as f:
                    f.write(json.dumps({"n": i, "method": self.command, "path": self.path,
                                        "headers": dict(self.headers.items()), "body": body}) + "\n")
            entry = script[i] if i < len(script) else {
                "status": 500, "body": {"error": {"message": "mock: the script has no entry %d" % i}}}
            try:
                self.respond(entry)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def head(self, status, ctype, entry):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            for k, v in entry.get("headers", {}).items():
                self.send_header(k, v)
            self.end_headers()

        def send_body(self, data, entry):
            if "cut" in entry:
                data = data[:entry["cut"]]
            piece = entry.get("piece") or len(data) or 1
            for at in range(0, len(data), piece):
                self.wfile.write(data[at:at + piece])
                self.wfile.flush()
                if piece < len(data):
                    time.sleep(0.002)

        def respond(self, e):
            if "sse" in e:
                nl = "\r\n" if e.get("crlf") else "\n"
                out = []
                if e.get("comments"):
                    out.append(": ping" + nl + nl)
                for c in e["sse"]:
                    data = c if isinstance(c, str) else json.dumps(c)
                    out.append("data: " + data + nl + nl)
                    if e.get("comments"):
                        out.append(": keep-alive" + nl)
                if e.get("done", True):
                    out.append("data: [DONE]" + nl + nl)
                self.head(200, "text/event-stream", e)
                self.send_body("".join(out).encode(), e)
            elif "json" in e:
                self.head(200, "application/json", e)
                self.send_body(json.dumps(e["json"]).encode(), e)
            elif "stall" in e:
                self.head(200, "text/event-stream", e)
                self.wfile.flush()
                time.sleep(e["stall"])
            elif "raw" in e:
                self.head(e.get("status", 200), e.get("content_type", "text/plain"), e)
                self.send_body(e["raw"].encode(), e)
            else:
                b = e.get("body", "")
                data = (b if isinstance(b, str) else json.dumps(b)).encode()
                self.head(e.get("status", 500),
                          "text/plain" if isinstance(b, str) else "application/json", e)
                self.send_body(data, e)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
