#!/usr/bin/env python3
"""A small stand-in model server for `inloop deploy` (Python stdlib only, no model weights).

Endpoints:
  GET  /health           200 "ok" (503 while the file named by --unhealthy-file exists)
  POST /v1/completions   {"prompt": str, "temperature": num, "stream": bool, "delay": sec,
                          "crash": bool, "hang": bool} -> a deterministic answer from the prompt
                          and the model version: {"model", "choices": [{"text"}], "score"}.
                          With "stream": true the answer comes as server-sent events, one word
                          per chunk, with --stream-gap seconds between chunks.
Knobs (flags or environment): --port / PORT, --version / MODEL_VERSION, --delay / MODEL_DELAY
(seconds per request), --crash-after / CRASH_AFTER (exit after N completions), a request's
"crash" (exit at once, no answer) and "hang" (never answer) fields.
It never runs anything it receives; answers depend only on the prompt and the version.
"""
import argparse
import hashlib
import json
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    p.add_argument("--version", default=os.environ.get("MODEL_VERSION", "v1"))
    p.add_argument("--delay", type=float, default=float(os.environ.get("MODEL_DELAY", "0")))
    p.add_argument("--stream-gap", type=float, default=0.05)
    p.add_argument("--crash-after", type=int, default=int(os.environ.get("CRASH_AFTER", "0")))
    p.add_argument("--unhealthy-file", default=os.environ.get("UNHEALTHY_FILE", ""))
    return p.parse_args()


ARGS = parse_args()
COUNT_LOCK = threading.Lock()
COMPLETIONS = 0


def answer_for(prompt, version, temperature):
    digest = hashlib.sha256(f"{version}\0{prompt}".encode()).hexdigest()
    words = prompt.split()
    text = " ".join(reversed(words)) + f" [{version}:{digest[:8]}]"
    if temperature > 0:
        text += f" ~{random.random():.6f}"
    # A per-example quality score, deterministic for (version, prompt), for `deploy compare`.
    score = int(digest[8:12], 16) / 65535.0
    return text, score


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def log_message(self, fmt, *args):  # quiet: the proxy counts requests
        pass

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Model-Version", ARGS.version)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            if ARGS.unhealthy_file and os.path.exists(ARGS.unhealthy_file):
                self.send_json(503, {"status": "unhealthy"})
            else:
                self.send_json(200, {"status": "ok", "version": ARGS.version})
            return
        self.send_json(404, {"error": "not found"})

    def do_POST(self):
        global COMPLETIONS
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length) if length else b""
        if self.path != "/v1/completions":
            self.send_json(404, {"error": "not found"})
            return
        try:
            req = json.loads(raw or b"{}")
        except ValueError:
            self.send_json(400, {"error": "body is not JSON"})
            return
        if req.get("crash"):
            os._exit(3)
        if req.get("hang"):
            time.sleep(3600)
        with COUNT_LOCK:
            COMPLETIONS += 1
            n = COMPLETIONS
        delay = float(req.get("delay", ARGS.delay))
        if delay > 0:
            time.sleep(delay)
        prompt = str(req.get("prompt", ""))
        text, score = answer_for(prompt, ARGS.version, float(req.get("temperature", 1.0)))
        if req.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("X-Model-Version", ARGS.version)
            self.end_headers()
            for word in text.split(" "):
                data = f"data: {json.dumps({'text': word})}\n\n".encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
                time.sleep(ARGS.stream_gap)
            end = b"data: [DONE]\n\n"
            self.wfile.write(f"{len(end):x}\r\n".encode() + end + b"\r\n0\r\n\r\n")
            self.wfile.flush()
        else:
            self.send_json(200, {"model": ARGS.version, "choices": [{"text": text}], "score": score})
        if ARGS.crash_after and n >= ARGS.crash_after:
            sys.stdout.flush()
            os._exit(4)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


if __name__ == "__main__":
    srv = Server(("127.0.0.1", ARGS.port), Handler)
    print(f"model server {ARGS.version} on 127.0.0.1:{ARGS.port}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
