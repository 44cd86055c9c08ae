#!/usr/bin/env python3
"""kill -9 trials (issue 16, crash safety; anchor: SQLite's crash tests, Prometheus WAL replay).

Two harnesses, each run for N trials with the kill at a random moment:

run    `inloop run -- python3 workload.py` while the workload prints JSON metric lines as fast as
       it can in bursts. The workload records, unbuffered, the monotonic time at which it printed
       each line. After SIGKILL of inloop the harness checks:
         - the training does not outlive inloop (the attempt's guard ends its process group),
         - the store opens clean and the run reads `interrupted`,
         - the stored points are a gap-free prefix 0..n-1 of what was printed, with exact values,
         - every line printed more than BOUND seconds before the kill is stored (inloop flushes
           to its WAL on every poll, at most 200 ms after reading a line; BOUND adds the time a
           loaded machine may take to read the pipe).
serve  `inloop serve` under HTTP ingest by a client posting batches; after SIGKILL of the server,
       every point of every batch answered 2xx is in the store, exact (a fresh `inloop metrics`
       reads the store after WAL recovery).

Usage: kill9_trials.py INLOOP_BIN [--run-trials N] [--serve-trials N] [--seed S] [--bound S]
Prints one line per failed check and a summary; exits 1 when any check failed.
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

WORKLOAD = r'''
import os, sys, time
side = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
os.write(side, b"pid %d\n" % os.getpid())
i = 0
while True:
    burst = 1 + (i * 7919) % 2000
    for _ in range(burst):
        sys.stdout.write('{"step": %d, "loss": %r}\n' % (i, 1.0 / (1 + i)))
        sys.stdout.flush()
        os.write(side, b"%d %.6f\n" % (i, time.monotonic()))
        i += 1
    time.sleep(0.002)
'''


def sh(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie of our own is dead for this purpose.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def run_trial(inloop, rng, bound, root):
    d = tempfile.mkdtemp(prefix="k9run-", dir=root)
    store, side, script = f"{d}/store", f"{d}/printed.log", f"{d}/workload.py"
    with open(script, "w") as f:
        f.write(WORKLOAD)
    proc = subprocess.Popen([inloop, "run", "--store", store, "--name", "k9", "--grace", "5", "--",
                             sys.executable, script, side],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The kill lands while the workload prints: wait for its first line (a loaded machine may
    # take seconds to start Python), then a random moment after it.
    start_deadline = time.monotonic() + 60
    while time.monotonic() < start_deadline and proc.poll() is None:
        try:
            if os.path.getsize(side) > 20:
                break
        except OSError:
            pass
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, 2.0))
    t_kill = time.monotonic()
    proc.kill()
    proc.wait()
    problems = []
    workload_pid = None
    printed = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            lines = open(side).read().splitlines()[:1]
        except OSError:
            lines = []
        if lines and lines[0].startswith("pid "):
            workload_pid = int(lines[0].split()[1])
        if workload_pid is None or not alive(workload_pid):
            break
        time.sleep(0.05)
    if workload_pid is not None and alive(workload_pid):
        problems.append("the training outlived inloop by 60 s")
        os.kill(workload_pid, signal.SIGKILL)
    try:
        side_lines = open(side).read().splitlines()[1:]
    except OSError:
        side_lines = []
    for line in side_lines:
        parts = line.split()
        if len(parts) == 2:
            printed[int(parts[0])] = float(parts[1])
    show = sh([inloop, "show", "k9", "--store", store, "--json"])
    if show.returncode != 0 and not printed:
        return problems, 0, 0, d  # killed before the run began: nothing to check
    if show.returncode != 0:
        problems.append(f"show failed: {show.stderr.strip()}")
        return problems, 0, len(printed), d
    status = json.loads(show.stdout)["status"]
    if status != "interrupted":
        problems.append(f"status {status}, expected interrupted")
    m = sh([inloop, "metrics", "k9", "loss", "--store", store, "--format", "json"])
    points = json.loads(m.stdout)["points"] if m.returncode == 0 else []
    for idx, p in enumerate(points):
        if p[0] != idx:
            problems.append(f"gap: point {idx} has step {p[0]}")
            break
        if p[-1] != 1.0 / (1 + idx):
            problems.append(f"value at step {idx}: {p[-1]!r}")
            break
    stored = len(points)
    must = [s for s, t in printed.items() if t < t_kill - bound]
    missing = [s for s in must if s >= stored]
    if missing:
        problems.append(f"{len(missing)} lines printed > {bound}s before the kill are missing "
                        f"(first step {min(missing)}, {stored} stored)")
    return problems, stored, len(printed), d


def post(url, token, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json",
                                          "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def start_serve(inloop, store, token):
    p = subprocess.Popen([inloop, "serve", "--store", store, "--port", "0", "--token", token],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    if "http://" not in line:
        p.kill()
        raise RuntimeError(f"serve did not start: {line!r}")
    base = line.split("http://", 1)[1].split()[0].split("/", 1)[0]
    threading.Thread(target=p.stdout.read, daemon=True).start()
    return p, f"http://{base}"


def serve_trial(inloop, rng, root):
    d = tempfile.mkdtemp(prefix="k9serve-", dir=root)
    store, token = f"{d}/store", "k9-trial-token"
    proc, base = start_serve(inloop, store, token)
    run_id = post(f"{base}/api/v1/runs", token, {"name": "k9serve"})["id"]
    acked = []  # (step, value) of batches answered 2xx
    stop = threading.Event()

    def client():
        step = 0
        while not stop.is_set():
            n = rng.randint(1, 500)
            batch = [{"key": "loss", "step": step + k, "wall_time": 1.0, "value": (step + k) * 0.5}
                     for k in range(n)]
            try:
                r = post(f"{base}/api/v1/runs/{run_id}/points", token, {"points": batch})
            except (urllib.error.URLError, ConnectionError, OSError, ValueError):
                return
            if r.get("accepted") == n:
                acked.extend((b["step"], b["value"]) for b in batch)
            step += n

    t = threading.Thread(target=client)
    t.start()
    time.sleep(rng.uniform(0.3, 1.5))
    proc.kill()
    proc.wait()
    stop.set()
    t.join()
    problems = []
    m = sh([inloop, "metrics", run_id, "loss", "--store", store, "--format", "json"])
    if m.returncode != 0:
        return [f"metrics failed after the kill: {m.stderr.strip()}"], len(acked), d
    stored = {p[0]: p[-1] for p in json.loads(m.stdout)["points"]}
    lost = [s for s, v in acked if stored.get(s) != v]
    if lost:
        problems.append(f"{len(lost)} acknowledged points lost or changed (first step {lost[0]})")
    return problems, len(acked), d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inloop")
    ap.add_argument("--run-trials", type=int, default=100)
    ap.add_argument("--serve-trials", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bound", type=float, default=1.0)
    ap.add_argument("--keep", action="store_true", help="keep the trial directories")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    root = tempfile.mkdtemp(prefix="inloop-kill9-")
    failures = 0
    stored_total = printed_total = acked_total = 0
    try:
        for i in range(a.run_trials):
            problems, stored, printed, d = run_trial(a.inloop, rng, a.bound, root)
            stored_total += stored
            printed_total += printed
            for p in problems:
                print(f"run trial {i}: {p} ({d})")
            failures += bool(problems)
            if not problems and not a.keep:
                shutil.rmtree(d, ignore_errors=True)
        for i in range(a.serve_trials):
            problems, acked, d = serve_trial(a.inloop, rng, root)
            acked_total += acked
            for p in problems:
                print(f"serve trial {i}: {p} ({d})")
            failures += bool(problems)
            if not problems and not a.keep:
                shutil.rmtree(d, ignore_errors=True)
    finally:
        if not failures and not a.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"kill9: run trials {a.run_trials} (points stored {stored_total} of {printed_total} "
          f"printed), serve trials {a.serve_trials} ({acked_total} acknowledged points), "
          f"failed trials {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
