#!/usr/bin/env python3
"""Load test (issue 16): many supervised runs writing to one store and to one `inloop serve`
over HTTP ingest, while dashboard clients follow everything live over SSE.

Phase 1: RUNS concurrent `inloop run` processes (a stdlib workload printing POINTS_PER_S JSON
         lines each) write to the store `inloop serve` reads.
Phase 2: RUNS HTTP ingest clients post batches to the same `inloop serve`.
All the while SSE_CLIENTS clients read /api/v1/stream (every live run) and a probe times
GET /api/v1/runs and one series query every 100 ms.

Checked: every point printed (phase 1) or answered 2xx (phase 2) is in the store exactly once
(counted per run from the API), and each SSE client received every point of every run it saw
start, in step order with no gap. Reported: peak RSS of serve and of the largest `inloop run`,
p50/p99 API latency.

Usage: load_test.py INLOOP_BIN [--runs 100] [--sse 50] [--seconds 600] [--points-per-s 20]
Exits 1 when a point is missing or duplicated anywhere.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

WORKLOAD = r'''
import sys, time
n, rate = int(sys.argv[1]), float(sys.argv[2])
t0 = time.monotonic()
for i in range(n):
    print('{"step": %d, "loss": %r}' % (i, 1.0 / (1 + i)), flush=True)
    delay = t0 + (i + 1) / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
'''


class Api:
    def __init__(self, base, token):
        self.base, self.token = base, token

    def req(self, path, body=None, timeout=60):
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        r = urllib.request.Request(self.base + path, data=data, headers=headers,
                                   method="POST" if body is not None else "GET")
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            return json.loads(resp.read())


def rss_kb(pid, field="VmHWM"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class SseClient(threading.Thread):
    """Follows /api/v1/stream (every live run); per (run, key) checks steps 0, 1, 2, ..."""

    def __init__(self, api):
        super().__init__(daemon=True)
        self.api, self.stop = api, threading.Event()
        self.next_step, self.errors, self.points = {}, [], 0

    def run(self):
        r = urllib.request.Request(self.api.base + "/api/v1/stream",
                                   headers={"Authorization": f"Bearer {self.api.token}"})
        try:
            resp = urllib.request.urlopen(r, timeout=3600)
        except OSError as e:
            self.errors.append(f"connect: {e}")
            return
        event, data = None, []
        while not self.stop.is_set():
            line = resp.readline()
            if not line:
                if not self.stop.is_set():
                    self.errors.append("the stream ended early")
                return
            line = line.decode().rstrip("\n")
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif line == "":
                if event == "points" and data:
                    self.on_points(json.loads("\n".join(data)))
                event, data = None, []

    def on_points(self, m):
        k = (m["run"], m["key"], m.get("segment", 0))
        for p in m["points"]:
            if k in self.next_step and p[0] != self.next_step[k]:
                self.errors.append(f"{k}: step {p[0]} where {self.next_step[k]} was due")
            self.next_step[k] = p[0] + 1
            self.points += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inloop")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--sse", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--points-per-s", type=float, default=20)
    a = ap.parse_args()
    inloop = os.path.abspath(a.inloop)
    d = tempfile.mkdtemp(prefix="inloop-load-")
    store, token = f"{d}/store", "load-test-token"
    with open(f"{d}/workload.py", "w") as f:
        f.write(WORKLOAD)
    serve = subprocess.Popen([inloop, "serve", "--store", store, "--port", "0", "--token", token],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = serve.stdout.readline()
    base = "http://" + line.split("http://", 1)[1].split()[0].split("/", 1)[0]
    threading.Thread(target=serve.stdout.read, daemon=True).start()
    api = Api(base, token)
    sse = [SseClient(api) for _ in range(a.sse)]
    for c in sse:
        c.start()
    lat, stop_probe = [], threading.Event()

    def probe():
        while not stop_probe.is_set():
            t = time.monotonic()
            try:
                runs = api.req("/api/v1/runs?limit=50")
                if runs.get("runs"):
                    rid = runs["runs"][0]["id"]
                    api.req(f"/api/v1/runs/{rid}/series?key=loss&width=800")
                lat.append(time.monotonic() - t)
            except OSError:
                pass
            time.sleep(0.1)

    threading.Thread(target=probe, daemon=True).start()
    phase_s = a.seconds / 2
    n_points = int(phase_s * a.points_per_s)
    failures = []

    # Phase 1: supervised runs.
    t0 = time.monotonic()
    procs = [subprocess.Popen([inloop, "run", "--store", store, "--name", f"load-{i}", "--",
                               "/usr/bin/python3", f"{d}/workload.py", str(n_points),
                               str(a.points_per_s)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for i in range(a.runs)]
    run_rss = 0
    while any(p.poll() is None for p in procs):
        run_rss = max([run_rss] + [rss_kb(p.pid, "VmRSS") for p in procs if p.poll() is None])
        time.sleep(0.5)
    codes = [p.returncode for p in procs]
    if any(codes):
        failures.append(f"{sum(1 for c in codes if c)} runs exited non-zero: {sorted(set(codes))}")
    phase1_s = time.monotonic() - t0

    # Phase 2: HTTP ingest clients.
    t0 = time.monotonic()
    acked, posted = {}, {}

    def client(i):
        rid = api.req("/api/v1/runs", {"name": f"http-{i}"}, timeout=120)["id"]
        acked[rid] = posted[rid] = 0
        step, deadline = 0, time.monotonic() + phase_s
        while time.monotonic() < deadline:
            n = max(1, int(a.points_per_s))
            pts = [{"key": "loss", "step": step + k, "value": 1.0 / (1 + step + k)} for k in range(n)]
            posted[rid] += n
            try:
                if api.req(f"/api/v1/runs/{rid}/points", {"points": pts}, timeout=120)["accepted"] == n:
                    acked[rid] += n
            except OSError as e:
                failures.append(f"ingest {rid}: {e}")
                return
            step += n
            time.sleep(1.0)
        api.req(f"/api/v1/runs/{rid}/finish", {"status": "finished"}, timeout=120)

    clients = [threading.Thread(target=client, args=(i,)) for i in range(a.runs)]
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    phase2_s = time.monotonic() - t0
    time.sleep(2)  # let the SSE clients drain

    # Count every point, per run, from the API.
    runs = api.req(f"/api/v1/runs?limit={4 * a.runs}")["runs"]
    stored = {}
    for r in runs:
        series = api.req(f"/api/v1/runs/{r['id']}")
        for s in series.get("series", []):
            if s["key"] == "loss":
                stored[r["name"], r["id"]] = s["points"]
    for (name, rid), n in stored.items():
        if name.startswith("load-"):
            if n != n_points:
                failures.append(f"{name}: {n} points stored, {n_points} printed")
        elif rid in acked and not acked[rid] <= n <= posted[rid]:
            # A batch whose answer never came may or may not be stored; one answered 2xx must be.
            failures.append(f"{name}: {n} points stored, {acked[rid]} acknowledged of {posted[rid]} posted")
    if len([k for k in stored if k[0].startswith("load-")]) != a.runs:
        failures.append("not every supervised run is in the store")
    stop_probe.set()
    serve_rss = rss_kb(serve.pid)
    for c in sse:
        c.stop.set()
    serve.send_signal(signal.SIGTERM)
    serve.wait(timeout=60)
    sse_errors = [e for c in sse for e in c.errors if "ended early" not in e]
    failures += sse_errors[:5]
    sse_points = [c.points for c in sse]
    lat.sort()
    p = lambda q: 1000 * lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")
    print(f"load: {a.runs} supervised runs x {n_points} points in {phase1_s:.0f} s, {a.runs} HTTP "
          f"ingest clients ({sum(acked.values())} points acknowledged) in {phase2_s:.0f} s, "
          f"{a.sse} SSE clients (min {min(sse_points) if sse_points else 0} / max "
          f"{max(sse_points) if sse_points else 0} points each, {len(sse_errors)} order errors)")
    print(f"load: peak RSS serve {serve_rss / 1024:.0f} MiB, largest inloop run "
          f"{run_rss / 1024:.0f} MiB; API latency p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms "
          f"({len(lat)} probes)")
    for f_ in failures[:20]:
        print("FAIL", f_)
    print(f"load: failures {len(failures)}")
    if not failures:
        shutil.rmtree(d, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
