#!/usr/bin/env python3
"""Many hosts, one server, and a server outage (issue 17 part 3): catch-up with no gap.

HOSTS supervised runs (`inloop run --server URL`, each with a local store of its own, as on
separate machines) print RATE metric lines a second (loss and acc: 2 points a line) for
BEFORE + OUTAGE + AFTER seconds. BEFORE seconds in, the `inloop serve` they report to gets
SIGKILL; OUTAGE seconds later it starts again on the same port and store. Measured:

  backlog     the points the local stores held that the server did not when it came back
  catch-up    seconds from the server's return until it held, for every run, at least the loss
              points the run's local store held at that return (polled every 0.25 s)
  no gap      after the runs end (and drain), every run's loss and acc series on the server are
              the local store's, point for point and segment by segment (no duplicate, no hole)

The server's store is an embedded one in a temp dir, or with --backend postgresql a database
of a PostgreSQL 15 this script starts (bench/pg/pg_bench.py's helper).
Usage: outage_bench.py INLOOP_BIN [--hosts 10] [--rate 200] [--before 15] [--outage 60]
                                  [--after 20] [--backend embedded|postgresql]
Exits 1 when a run's series differ between the host and the server.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time
import urllib.error, urllib.parse, urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pg"))
from pg_bench import Postgres, free_port, stop_gently  # noqa: E402

TOKEN = "outage-bench-token-5150"
WORKLOAD = r"""
import sys, time
rate, seconds = float(sys.argv[1]), float(sys.argv[2])
t0, s = time.monotonic(), 0
while True:
    due = int((time.monotonic() - t0) * rate)
    if s >= rate * seconds:
        break
    while s < min(due, rate * seconds):
        s += 1
        print("step=%d loss=%.6f acc=%.4f" % (s, 1.0 / s + 0.001 * (s % 7), s / (s + 10.0)))
    sys.stdout.flush()
    time.sleep(0.01)
"""


class Server:
    def __init__(self, binary, store, port, log):
        self.binary, self.store, self.port, self.log = binary, store, port, log
        self.base = f"http://127.0.0.1:{port}/"
        self.p = None

    def start(self):
        self.p = subprocess.Popen([self.binary, "serve", "--port", str(self.port), "--store",
                                   self.store], stdout=subprocess.PIPE,
                                  stderr=open(self.log, "a"), text=True,
                                  env=dict(os.environ, INLOOP_TOKEN=TOKEN))
        line = self.p.stdout.readline()
        if not line.startswith("inloop serve: http://"):
            raise SystemExit(f"serve did not start: {line!r} (see {self.log})")

    def kill9(self):
        self.p.kill()
        self.p.wait()

    def stop(self):
        if self.p and self.p.poll() is None:
            stop_gently(self.p)

    def get(self, path):
        r = urllib.request.Request(self.base + path, headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(r, timeout=60) as f:
            return json.loads(f.read())

    def loss_points(self, name):
        """Points of run NAME's loss on the server; 0 before the server has the run."""
        runs = self.get(f"api/v1/runs?name={urllib.parse.quote(name)}&limit=1")["runs"]
        if not runs:
            return 0
        d = self.get(f"api/v1/runs/{runs[0]['id']}")
        return sum(s["points"] for s in d["series"] if s["key"] == "loss")


def series_dump(binary, store, name):
    """Run NAME's loss and acc in STORE: every point and every segment, as JSON text."""
    out = []
    for key in ("loss", "acc"):
        d = json.loads(subprocess.run([binary, "metrics", name, key, "--format", "json", "--store",
                                       store], check=True, capture_output=True, text=True).stdout)
        out.append({"points": d["points"],
                    "segments": [(g["segment"], g["points"]) for g in d["segments"]]})
    return json.dumps(out)


def local_loss_points(binary, store, name):
    r = subprocess.run([binary, "metrics", name, "loss", "--format", "json", "--store", store],
                       capture_output=True, text=True)
    return json.loads(r.stdout)["total_points"] if r.returncode == 0 else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--hosts", type=int, default=10)
    ap.add_argument("--rate", type=float, default=200, help="metric lines a second per run")
    ap.add_argument("--before", type=float, default=15)
    ap.add_argument("--outage", type=float, default=60)
    ap.add_argument("--after", type=float, default=20)
    ap.add_argument("--backend", choices=["embedded", "postgresql"], default="embedded")
    a = ap.parse_args()
    binary = os.path.abspath(a.binary)
    work = tempfile.mkdtemp(prefix="inloop-outage-")
    pg = None
    if a.backend == "postgresql":
        pg = Postgres(tempfile.mkdtemp(prefix="inloop-outage-pg-"))
        store = pg.createdb("inloop_outage")
    else:
        store = f"{work}/server-store"
    server = Server(binary, store, free_port(), f"{work}/serve.log")
    runs = []
    try:
        with open(f"{work}/work.py", "w") as f:
            f.write(WORKLOAD)
        server.start()
        seconds = a.before + a.outage + a.after
        for i in range(a.hosts):
            name, local = f"host-{i:02d}", f"{work}/host-{i:02d}"
            p = subprocess.Popen(
                [binary, "run", "--name", name, "--store", local, "--server", server.base,
                 "--token", TOKEN, "--drain", "600", "--", sys.executable, f"{work}/work.py",
                 str(a.rate), str(seconds)],
                stdout=subprocess.DEVNULL, stderr=open(f"{work}/{name}.err", "w"))
            runs.append((name, local, p))
        time.sleep(a.before)
        before_kill = sum(server.loss_points(n) for n, _, _ in runs)
        server.kill9()
        time.sleep(a.outage)
        server.start()
        t_back = time.monotonic()
        local_at_back = {n: local_loss_points(binary, l, n) for n, l, _ in runs}
        server_at_back = {n: server.loss_points(n) for n, _, _ in runs}
        backlog = sum(local_at_back[n] - server_at_back[n] for n in local_at_back)
        catch_up = None
        while time.monotonic() - t_back < 600:
            if all(server.loss_points(n) >= local_at_back[n] for n in local_at_back):
                catch_up = time.monotonic() - t_back
                break
            time.sleep(0.25)
        codes = [p.wait() for _, _, p in runs]
        mismatched = [n for n, l, _ in runs
                      if series_dump(binary, l, n) != series_dump(binary, store, n)]
        total = sum(local_loss_points(binary, l, n) for n, l, _ in runs)
    finally:
        for _, _, p in runs:
            if p.poll() is None:
                p.kill()
        server.stop()
        if pg:
            pg.stop()
            shutil.rmtree(pg.root, ignore_errors=True)
    load = open("/proc/loadavg").read().split()[:3]
    print(f"{a.hosts} hosts x {a.rate:g} lines/s (2 points a line), server ({a.backend} store) "
          f"killed after {a.before:g} s, back after {a.outage:g} s; {os.cpu_count()} CPUs, "
          f"load average {' '.join(load)}")
    print("| measure | value |")
    print("|---|---|")
    print(f"| loss points on the server when it was killed | {before_kill:,} |")
    print(f"| backlog when it came back (loss points held by the hosts only) | {backlog:,} |")
    print(f"| catch-up: seconds until the server held every host's points of that moment | "
          f"{'not within 600 s' if catch_up is None else f'{catch_up:.1f}'} |")
    print(f"| loss points per run at the end (all runs) | {total:,} |")
    print(f"| runs whose loss/acc differ between host and server (gap or duplicate) | "
          f"{len(mismatched)} of {a.hosts} |")
    print(f"| `inloop run` exit codes | {sorted(set(codes))} |")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if mismatched or catch_up is None or any(codes) else 0)


if __name__ == "__main__":
    main()
