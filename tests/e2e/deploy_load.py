#!/usr/bin/env python3
"""Load generator for the deploy end-to-end tests: Python threads on loopback, keep-alive
connections, phases of fixed concurrency. Every request's outcome goes to a JSON file:
{"start": wall time of the first request, "requests": [[t, status, model, error], ...]}.

  deploy_load.py PORT OUT.json PHASES [--temperature T] [--delay S]
PHASES is "concurrency:seconds,..." e.g. "1:3,10:8,1:6".
"""
import http.client
import json
import sys
import threading
import time


def main():
    port, out, phases = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    temperature, delay = 1.0, None
    args = sys.argv[4:]
    while args:
        if args[0] == "--temperature":
            temperature = float(args[1])
        elif args[0] == "--delay":
            delay = float(args[1])
        args = args[2:]
    plan = [(int(c), float(s)) for c, s in (p.split(":") for p in phases.split(","))]
    results, lock = [], threading.Lock()
    start = time.time()
    seq = [0]

    def client(stop_at):
        conn = None
        while time.time() < stop_at:
            with lock:
                seq[0] += 1
                n = seq[0]
            body = {"prompt": f"request {n} of the load test", "temperature": temperature}
            if delay is not None:
                body["delay"] = delay
            t = time.time() - start
            status, model, error = 0, "", ""
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("POST", "/v1/completions", json.dumps(body),
                             {"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                status = resp.status
                if status == 200:
                    model = json.loads(data).get("model", "")
                else:
                    error = data.decode(errors="replace")[:200]
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except Exception as e:  # a failed request is a result, not a crash of the test
                error = f"{type(e).__name__}: {e}"
                if conn is not None:
                    conn.close()
                conn = None
            with lock:
                results.append([round(t, 3), status, model, error])
        if conn is not None:
            conn.close()

    phase_start = time.time()
    for concurrency, seconds in plan:
        stop_at = phase_start + seconds
        threads = [threading.Thread(target=client, args=(stop_at,)) for _ in range(concurrency)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        phase_start = stop_at
    with open(out, "w") as f:
        json.dump({"start": start, "requests": results}, f)


if __name__ == "__main__":
    main()
